(function () {
  var zone = document.getElementById("drop-zone");
  var input = document.getElementById("file");
  var name = document.getElementById("file-name");
  var form = document.getElementById("import-form");
  if (!zone || !input) return;
  function show() { name.textContent = input.files.length ? input.files[0].name : ""; }
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files.length) { input.files = event.dataTransfer.files; show(); }
  });
  var progress = document.getElementById("upload-progress");
  var bar = progress && progress.querySelector(".progress-bar");
  form.addEventListener("htmx:xhr:progress", function (event) {
    if (!event.detail.lengthComputable) return;
    progress.classList.remove("d-none");
    var percent = Math.round(event.detail.loaded / event.detail.total * 100);
    bar.style.width = percent + "%";
    bar.textContent = "上传 " + percent + "%";
  });
  form.addEventListener("htmx:afterRequest", function () { progress.classList.add("d-none"); });
})();
