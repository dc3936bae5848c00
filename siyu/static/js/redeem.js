// The redeem form posts through htmx: a refusal (403/404/409/422) is a fragment to show in place, not an error;
// the button says what is happening while the request runs.
(function () {
  var form = document.getElementById("redeem-form");
  if (!form) return;
  var button = function () { return document.getElementById("redeem-submit"); };
  form.addEventListener("htmx:beforeSwap", function (event) {
    if ([403, 404, 409, 422].indexOf(event.detail.xhr.status) >= 0) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  form.addEventListener("htmx:beforeRequest", function () {
    var b = button();
    if (b) b.textContent = "正在兑换…";
  });
  form.addEventListener("htmx:afterRequest", function () {
    var b = button();
    if (b) b.textContent = b.dataset.label;
  });
})();
