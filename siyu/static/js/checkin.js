(function () {
  if (!window.echarts) return;
  var charts = [];
  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var chart = echarts.init(el);
    chart.setOption(option(el.dataset));
    charts.push(chart);
  }
  var grid = { left: 40, right: 12, top: 32, bottom: 28 };
  draw("checkins-chart", function (d) {
    return {
      grid: grid, tooltip: { trigger: "axis" }, legend: { top: 0, right: 0, data: ["签到", "其中补签"] },
      xAxis: { type: "category", data: JSON.parse(d.days).map(function (s) { return s.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "签到", type: "bar", itemStyle: { color: "#e8336d" }, data: JSON.parse(d.checkins) },
        { name: "其中补签", type: "line", itemStyle: { color: "#6c757d" }, data: JSON.parse(d.makeups) }
      ]
    };
  });
  draw("streaks-chart", function (d) {
    return {
      grid: grid, tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: JSON.parse(d.buckets), axisLabel: { interval: 0 } },
      yAxis: { type: "value", minInterval: 1, name: "会员数" },
      series: [{ name: "会员数", type: "bar", itemStyle: { color: "#0d6efd" }, data: JSON.parse(d.members) }]
    };
  });
  draw("preview-chart", function (d) {
    var bonus = JSON.parse(d.bonus);
    return {
      grid: grid, tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: JSON.parse(d.streaks).map(function (n) { return "第" + n + "天"; }) },
      yAxis: { type: "value", minInterval: 1, name: "积分" },
      series: [{
        name: "当天积分", type: "bar",
        data: JSON.parse(d.points).map(function (v, i) { return { value: v, itemStyle: { color: bonus[i] ? "#f59f00" : "#e8336d" } }; })
      }]
    };
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
