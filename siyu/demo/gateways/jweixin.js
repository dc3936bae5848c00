/* A stand-in for WeChat's JS-SDK (jweixin-1.6.0.js), served by the fake WeChat gateway of the demo and the tests.
   wx.config checks its fields and becomes ready; every <wx-open-subscribe> tag then shows its own template (the
   text/wxtag-template scripts inside it) and, when tapped, asks 「允许」/「取消」 the way WeChat's sheet does, then fires
   the tag's "success" event with detail.subscribeDetails: a JSON string {templateId: "{\"status\":\"accept\"}"}. */
(function () {
  "use strict";
  var state = "idle", onReady = [], onError = [];

  function valid(c) {
    return !!(c && c.appId && c.timestamp && c.nonceStr && c.signature &&
      (c.openTagList || []).indexOf("wx-open-subscribe") >= 0);
  }

  function sheet(tag) {
    var ids = (tag.getAttribute("template") || "").split(",").filter(Boolean);
    var labels = (tag.getAttribute("data-labels") || "").split(",");
    var shade = document.createElement("div");
    shade.setAttribute("data-fake-wechat-sheet", "");
    shade.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.45);z-index:2000;display:flex;align-items:flex-end";
    var panel = document.createElement("div");
    panel.style.cssText = "background:#fff;width:100%;border-radius:12px 12px 0 0;padding:20px 16px;font-size:15px";
    var title = document.createElement("div");
    title.style.cssText = "font-weight:600;margin-bottom:12px";
    title.textContent = "「" + (document.title || "公众号") + "」想给你发送以下通知";
    panel.appendChild(title);
    ids.forEach(function (id, i) {
      var row = document.createElement("div");
      row.style.cssText = "padding:8px 0;border-top:1px solid #eee";
      row.textContent = "☑ " + (labels[i] || "订阅通知") + "（一次）";
      panel.appendChild(row);
    });
    var buttons = document.createElement("div");
    buttons.style.cssText = "display:flex;gap:12px;margin-top:16px";
    function button(text, status, primary) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.style.cssText = "flex:1;min-height:44px;border:0;border-radius:8px;font-size:16px;" +
        (primary ? "background:#07c160;color:#fff" : "background:#f2f2f2;color:#333");
      b.addEventListener("click", function () {
        shade.remove();
        var details = {};
        ids.forEach(function (id) { details[id] = JSON.stringify({ status: status }); });
        tag.dispatchEvent(new CustomEvent("success", { detail: { subscribeDetails: JSON.stringify(details) } }));
      });
      return b;
    }
    buttons.appendChild(button("取消", "reject", false));
    buttons.appendChild(button("允许", "accept", true));
    panel.appendChild(buttons);
    shade.appendChild(panel);
    document.body.appendChild(shade);
  }

  function upgrade() {
    Array.prototype.forEach.call(document.querySelectorAll("wx-open-subscribe"), function (tag) {
      if (tag.shadowRoot) { return; }
      var html = Array.prototype.map.call(tag.querySelectorAll('script[type="text/wxtag-template"]'), function (s) {
        return s.textContent;
      }).join("");
      tag.attachShadow({ mode: "open" }).innerHTML = html;
      tag.style.display = "block";
      tag.addEventListener("click", function () { sheet(tag); });
    });
  }

  var wx = {
    config: function (c) {
      setTimeout(function () {
        if (valid(c)) {
          state = "ready";
          upgrade();
          new MutationObserver(upgrade).observe(document.body, { childList: true, subtree: true });
          onReady.splice(0).forEach(function (f) { f(); });
        } else {
          state = "error";
          onError.splice(0).forEach(function (f) { f({ errMsg: "config:invalid signature" }); });
        }
      }, 0);
    },
    ready: function (f) { if (state === "ready") { f(); } else { onReady.push(f); } },
    error: function (f) { if (state === "error") { f({ errMsg: "config:invalid signature" }); } else { onError.push(f); } }
  };
  window.wx = window.jWeixin = wx;
})();
