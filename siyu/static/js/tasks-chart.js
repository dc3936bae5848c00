(function () {
  var el = document.getElementById("tasks-chart");
  if (!el || !window.echarts) return;
  var series = JSON.parse(el.dataset.series);
  if (!series.length) { el.style.height = "0"; return; }
  var chart = echarts.init(el);
  chart.setOption({
    animation: false,
    color: ["#e8336d", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"],
    grid: { left: 36, right: 12, top: 36, bottom: 28 },
    legend: { top: 0 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: JSON.parse(el.dataset.days) },
    yAxis: { type: "value", minInterval: 1 },
    series: series.map(function (s) { return { name: s.name, type: "bar", stack: "all", data: s.data }; })
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
