(function () {
  if (!window.echarts) return;
  // Labels are fans' own words: drawn on the canvas (tooltips too), never put into the page as HTML.
  function bars(id, color, unit) {
    var el = document.getElementById(id);
    if (!el) return;
    var d = JSON.parse(el.dataset.chart);
    if (!d.labels.length) { el.style.height = "0"; return; }
    var chart = echarts.init(el);
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", renderMode: "richText", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 36, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1, name: unit },
      yAxis: { type: "category", data: d.labels, axisLabel: { width: 120, overflow: "truncate" } },
      series: [{ name: unit, type: "bar", data: d.counts, itemStyle: { color: color }, label: { show: true, position: "right" } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  bars("voice-wish-chart", "#e8336d", "人");
  bars("voice-demand-chart", "#1f77b4", "条");
  bars("voice-encore-chart", "#f0a020", "票");
})();
