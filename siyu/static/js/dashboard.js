(function () {
  var el = document.getElementById("joined-chart");
  if (!el || !window.echarts) return;
  var chart = echarts.init(el);
  chart.setOption({
    grid: { left: 36, right: 12, top: 16, bottom: 28 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: JSON.parse(el.dataset.days) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ name: "新增会员", type: "bar", itemStyle: { color: "#e8336d" }, data: JSON.parse(el.dataset.values) }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
