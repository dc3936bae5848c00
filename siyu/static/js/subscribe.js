/* The official account's subscribe buttons on H5 pages ([data-oa-subscribe], see h5/_oa_subscribe.html): wx.config
   with this page's signature, then each <wx-open-subscribe> tag WeChat shows; her answer is reported once per tap
   (the tap's own id goes along, so a repeated report records nothing new). */
(function () {
  "use strict";
  var state = "idle";

  function tapId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID().replace(/-/g, ""); }
    var s = "";
    while (s.length < 32) { s += Math.random().toString(36).slice(2); }
    return s.slice(0, 32);
  }

  // subscribeDetails: a JSON string {templateId: "{\"status\":\"accept\"}"}; plain statuses are taken too.
  function answers(detail) {
    var raw = detail && detail.subscribeDetails, out = {};
    try { raw = typeof raw === "string" ? JSON.parse(raw) : (raw || {}); } catch (e) { raw = {}; }
    Object.keys(raw).forEach(function (id) {
      var value = raw[id];
      if (typeof value === "string") {
        try { value = JSON.parse(value); } catch (e) { value = { status: value }; }
      }
      out[id] = String((value && value.status) || "");
    });
    return out;
  }

  function each(root, selector, f) { Array.prototype.forEach.call(root.querySelectorAll(selector), f); }

  function hint(text) {
    each(document, "[data-oa-hint]", function (el) { el.textContent = text; el.hidden = !text; });
  }

  function reveal() {
    each(document, "[data-oa-subscribe] wx-open-subscribe", function (tag) { tag.style.display = "block"; });
    hint("");
  }

  function report(box, body, tries) {
    return fetch(box.getAttribute("data-consents"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (b) { return { ok: r.ok, body: b }; });
    }).catch(function () {
      return tries > 0 ? report(box, body, tries - 1) : { ok: false, body: { message: "网络不太好，请再点一次" } };
    });
  }

  function bind(box) {
    if (box.getAttribute("data-bound")) { return; }
    box.setAttribute("data-bound", "1");
    var done = box.querySelector("[data-oa-done]");
    each(box, "wx-open-subscribe", function (tag) {
      tag.addEventListener("success", function (e) {
        var body = { results: answers(e.detail), tap: tapId() };  // the same tap id if the report is sent again
        report(box, body, 1).then(function (answer) {
          done.textContent = answer.body.message || "";
          var left = (answer.body.remaining || {});
          each(box, "[data-oa-row]", function (row) {
            var n = left[row.getAttribute("data-oa-row")];
            if (answer.ok && n !== undefined) {
              row.querySelector("[data-oa-left]").textContent = n ? "还能收到 " + n + " 条" : "还没有订阅";
            }
          });
        });
      });
      tag.addEventListener("error", function () { done.textContent = "没能打开订阅，请再点一次"; });
    });
    if (state === "ready") { reveal(); }
    if (state !== "idle") { return; }
    if (!window.wx) { return; }
    state = "configuring";
    wx.ready(function () { state = "ready"; reveal(); });
    wx.error(function () { state = "failed"; hint("暂时不能订阅，请稍后再试"); });
    var page = location.href.split("#")[0];
    fetch(box.getAttribute("data-config") + "?url=" + encodeURIComponent(page), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r); })
      .then(function (c) {
        wx.config({
          debug: false, appId: c.app_id, timestamp: c.timestamp, nonceStr: c.nonce_str, signature: c.signature,
          jsApiList: [], openTagList: ["wx-open-subscribe"]
        });
      })
      .catch(function () { state = "failed"; hint("暂时不能订阅，请稍后再试"); });
  }

  function scan() { each(document, "[data-oa-subscribe]", bind); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", scan); } else { scan(); }
  document.addEventListener("htmx:afterSwap", scan);
})();
