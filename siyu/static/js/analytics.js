(function () {
  if (!window.echarts) return;
  var pink = "#e8336d", grey = "#adb5bd";
  var charts = [];
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return null;
    var c = echarts.init(el);
    c.setOption(option(el));
    charts.push(c);
    return c;
  }
  function pct(v) { return v == null ? null : Math.round(v * 1000) / 10; }
  chart("joined-line", function (el) {
    return {
      grid: { left: 40, right: 12, top: 16, bottom: 28 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: JSON.parse(el.dataset.labels) },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: "新增会员", type: "line", areaStyle: { opacity: 0.15 }, itemStyle: { color: pink },
                 data: JSON.parse(el.dataset.values) }]
    };
  });
  chart("claim-funnel", function (el) {
    var orders = Number(el.dataset.orders), claimed = Number(el.dataset.claimed);
    return {
      tooltip: { trigger: "item", formatter: "{b}：{c}" },
      series: [{ type: "funnel", left: "10%", width: "80%", sort: "descending", minSize: "20%",
                 label: { position: "inside", color: "#fff", formatter: "{b}\n{c}" },
                 data: [{ name: "已付款订单", value: orders, itemStyle: { color: grey } },
                        { name: "会员领取", value: claimed, itemStyle: { color: pink } }] }]
    };
  });
  chart("rate-bars", function (el) {
    return {
      grid: { left: 48, right: 12, top: 28, bottom: 28 },
      legend: { data: ["本期", "上期"], top: 0 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v + "%"; } },
      xAxis: { type: "category", data: JSON.parse(el.dataset.platforms) },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" }, max: 100 },
      series: [{ name: "本期", type: "bar", itemStyle: { color: pink }, data: JSON.parse(el.dataset.now).map(pct) },
               { name: "上期", type: "bar", itemStyle: { color: grey }, data: JSON.parse(el.dataset.before).map(pct) }]
    };
  });
  chart("contribution-chart", function (el) {
    var d = JSON.parse(el.dataset.chart);
    function bar(name, data, color) {
      return { name: name, type: "bar", stack: "gmv", itemStyle: { color: color }, data: data };
    }
    return {
      grid: { left: 64, right: 48, top: 36, bottom: 28 },
      legend: { top: 0 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v; } },
      xAxis: { type: "category", data: d.labels },
      yAxis: [{ type: "value", name: "元" }, { type: "value", name: "会员占比", min: 0, max: 100,
                axisLabel: { formatter: "{value}%" }, splitLine: { show: false } }],
      series: [bar("预约直播的会员", d.reserved, pink), bar("其他会员", d.members, "#f59ab8"),
               bar("非会员", d.unknown, grey),
               { name: "会员成交占比", type: "line", yAxisIndex: 1, connectNulls: false, itemStyle: { color: "#1f77b4" },
                 tooltip: { valueFormatter: function (v) { return v == null ? "—" : v + "%"; } }, data: d.share }]
    };
  });
  var heat = document.getElementById("rfm-heat");
  if (heat) {
    var cells = JSON.parse(heat.dataset.cells);
    var top = Math.max.apply(null, cells.map(function (c) { return c[2]; }).concat([1]));
    var c = echarts.init(heat);
    c.setOption({
      grid: { left: 72, right: 16, top: 12, bottom: 96 },
      tooltip: { formatter: function (p) { return "R " + (p.value[1] + 1) + " 分 · F " + (p.value[0] + 1) + " 分<br>" + p.value[2] + " 位会员"; } },
      xAxis: { type: "category", name: "订单数得分（F）", nameLocation: "middle", nameGap: 28, data: ["1", "2", "3", "4", "5"] },
      yAxis: { type: "category", name: "最近一单得分（R）", nameLocation: "middle", nameGap: 36, data: ["1", "2", "3", "4", "5"] },
      visualMap: { min: 0, max: top, orient: "horizontal", left: "center", bottom: 0, calculable: true,
                   inRange: { color: ["#fff5f8", pink] } },
      series: [{ type: "heatmap", data: cells, label: { show: true } }]
    });
    charts.push(c);
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
