(function () {
  if (!window.echarts) return;
  var charts = [];
  var funnel = document.getElementById("referral-funnel");
  if (funnel) {
    var names = JSON.parse(funnel.dataset.names), values = JSON.parse(funnel.dataset.values);
    var chart = echarts.init(funnel);
    chart.setOption({
      tooltip: { trigger: "item", formatter: "{b}：{c} 人" },
      color: ["#e8336d", "#f06d95", "#f7a8c0"],
      series: [{
        type: "funnel", sort: "none", left: 10, right: 10, top: 10, bottom: 10, minSize: "20%",
        label: { show: true, position: "inside", formatter: "{b} {c}" },
        data: names.map(function (name, i) { return { name: name, value: values[i] }; })
      }]
    });
    charts.push(chart);
  }
  var days = document.getElementById("referral-days");
  if (days) {
    var chart2 = echarts.init(days);
    chart2.setOption({
      grid: { left: 36, right: 12, top: 30, bottom: 28 },
      tooltip: { trigger: "axis" },
      legend: { data: ["受邀注册", "已得奖"], top: 0 },
      xAxis: { type: "category", data: JSON.parse(days.dataset.days).map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "受邀注册", type: "bar", itemStyle: { color: "#e8336d" }, data: JSON.parse(days.dataset.joined) },
        { name: "已得奖", type: "bar", itemStyle: { color: "#3c9d6b" }, data: JSON.parse(days.dataset.paid) }
      ]
    });
    charts.push(chart2);
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
