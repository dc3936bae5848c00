(function () {
  if (!window.echarts) return;
  var colors = ["#e8336d", "#1f77b4", "#aaaaaa"];
  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var chart = echarts.init(el);
    chart.setOption(option(JSON.parse(el.dataset.chart)));
    window.addEventListener("resize", function () { chart.resize(); });
  }
  draw("live-split-chart", function (d) {
    return {
      animation: false,
      legend: { top: 0 },
      tooltip: { trigger: "axis" },
      grid: { left: 48, right: 56, top: 36, bottom: 28 },
      xAxis: { type: "category", data: d.labels },
      yAxis: [{ type: "value", name: "订单", minInterval: 1 }, { type: "value", name: "元" }],
      series: [
        { name: "订单数", type: "bar", data: d.orders, itemStyle: { color: "#1f77b4" } },
        { name: "成交额（元）", type: "bar", yAxisIndex: 1, data: d.gmv, itemStyle: { color: "#e8336d" } }
      ]
    };
  });
  draw("live-reservations-chart", function (d) {
    return {
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 12, top: 20, bottom: 28 },
      xAxis: { type: "category", data: d.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: "预约人数", type: "line", data: d.counts, areaStyle: { opacity: 0.15 }, itemStyle: { color: "#e8336d" } }]
    };
  });
  draw("live-month-chart", function (d) {
    return {
      animation: false,
      color: colors,
      legend: { top: 0 },
      tooltip: { trigger: "axis" },
      grid: { left: 56, right: 12, top: 36, bottom: 28 },
      xAxis: { type: "category", data: d.labels },
      yAxis: { type: "value", name: d.unit },
      series: d.series.map(function (s) { return { name: s.name, type: "bar", stack: "gmv", data: s.data }; })
    };
  });
})();
