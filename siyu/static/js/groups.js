// 粉丝群: beside each QR code's "选择图片" button, the name of the picture chosen (the file input itself is hidden,
// as the browser would label it in its own language).
(function () {
  document.querySelectorAll("input[type=file][data-file-name]").forEach(function (input) {
    var shown = document.getElementById(input.getAttribute("data-file-name"));
    if (!shown) return;
    input.addEventListener("change", function () {
      shown.textContent = input.files.length ? input.files[0].name : "未选择图片";
    });
  });
})();
