// Draws the agreement page's charts as SVG from the #charts-data JSON (labeling/selectors/consensus.py:
// campaign_charts): confusion heatmaps, accuracy with intervals, agreement over time. Each chart's
// rows are also served as CSV by the link beside it. No library, no build step.
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#1c7ed6", "#d9480f", "#2e9e44", "#7048e8", "#e8590c", "#0b7285", "#c2255c", "#5c940d", "#862e9c", "#495057"];

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, x, y, value, attrs = {}) {
  const node = el("text", { x, y, "font-size": 11, ...attrs }, parent);
  node.textContent = value;
  return node;
}

function svg(width, height, label) {
  return el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
}

function groupBy(rows, key) {
  const out = new Map();
  for (const row of rows) {
    if (!out.has(row[key])) out.set(row[key], []);
    out.get(row[key]).push(row);
  }
  return out;
}

// One K x K grid per annotator: rows = true class, columns = given label, shade = rate.
function heatmaps(chart, host) {
  const classes = chart.classes;
  const cell = 34, left = 78, top = 34;
  for (const [annotator, rows] of groupBy(chart.rows, 0)) {
    const size = classes.length * cell;
    const drawing = svg(left + size + 10, top + size + 30, `confusion of ${annotator}`);
    drawing.classList.add("heatmap");
    text(drawing, left + size / 2, 12, annotator, { "text-anchor": "middle", "font-weight": "bold" });
    text(drawing, left + size / 2, top + size + 26, "given label", { "text-anchor": "middle" });
    text(drawing, 10, top + size / 2, "true class", { transform: `rotate(-90 10 ${top + size / 2})`, "text-anchor": "middle" });
    classes.forEach((name, i) => {
      text(drawing, left + i * cell + cell / 2, top - 4, name.slice(0, 5), { "text-anchor": "middle", "font-size": 9 });
      text(drawing, left - 4, top + i * cell + cell / 2 + 3, name.slice(0, 9), { "text-anchor": "end", "font-size": 9 });
    });
    for (const [, t, g, rate, low, high] of rows) {
      const i = classes.indexOf(t), j = classes.indexOf(g);
      const shade = rate === null ? "#eee" : `rgba(24, 100, 171, ${0.08 + 0.92 * rate})`;
      const rect = el("rect", { x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1, fill: shade }, drawing);
      el("title", {}, rect).textContent = rate === null ? `${t} → ${g}: no items`
        : `${t} → ${g}: ${rate.toFixed(3)} (95% ${low?.toFixed(3)}–${high?.toFixed(3)})`;
      if (rate !== null) {
        text(drawing, left + j * cell + cell / 2, top + i * cell + cell / 2 + 4, rate.toFixed(2),
          { "text-anchor": "middle", "font-size": 10, fill: rate > 0.55 ? "#fff" : "#1d2329" });
      }
    }
    host.appendChild(drawing);
  }
}

// Dot and whisker per annotator and reference (vs gold, vs consensus); x axis is accuracy 0..1.
function intervals(chart, host) {
  const byAnnotator = groupBy(chart.rows, 0);
  const kinds = [...new Set(chart.rows.map((r) => r[1]))];
  const left = 110, right = 16, band = 14 * Math.max(kinds.length, 1) + 8, top = 10;
  const width = 460, height = top + band * byAnnotator.size + 40;
  const drawing = svg(width, height, "annotator accuracy with intervals");
  const x = (v) => left + v * (width - left - right);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    el("line", { x1: x(t), x2: x(t), y1: top, y2: height - 30, stroke: "#e3e6ea" }, drawing);
    text(drawing, x(t), height - 18, t, { "text-anchor": "middle", "font-size": 10 });
  }
  text(drawing, (left + width) / 2, height - 4, "accuracy (dot) and 95% interval", { "text-anchor": "middle" });
  let index = 0;
  for (const [annotator, rows] of byAnnotator) {
    const y0 = top + index * band;
    text(drawing, left - 6, y0 + band / 2 + 3, annotator, { "text-anchor": "end" });
    for (const [, against, accuracy, low, high, n] of rows) {
      const k = kinds.indexOf(against), y = y0 + 8 + k * 14, colour = COLOURS[k % COLOURS.length];
      el("line", { x1: x(low), x2: x(high), y1: y, y2: y, stroke: colour, "stroke-width": 2 }, drawing);
      const dot = el("circle", { cx: x(accuracy), cy: y, r: 4, fill: colour }, drawing);
      el("title", {}, dot).textContent = `${annotator} ${against}: ${accuracy.toFixed(3)} (95% ${low.toFixed(3)}–${high.toFixed(3)}, n=${n})`;
    }
    index += 1;
  }
  host.appendChild(drawing);
  host.appendChild(legend(kinds));
}

// One line per annotator: share of their labels that agree with the final label, per day.
function lines(chart, host) {
  const days = [...new Set(chart.rows.map((r) => r[1]))].sort();
  const width = 520, height = 260, left = 44, right = 12, top = 10, bottom = 44;
  const drawing = svg(width, height, "agreement over time per annotator");
  const x = (d) => left + (days.length > 1 ? days.indexOf(d) / (days.length - 1) : 0.5) * (width - left - right);
  const y = (v) => height - bottom - v * (height - top - bottom);
  el("rect", { x: left, y: top, width: width - left - right, height: height - top - bottom, fill: "none", stroke: "#999" }, drawing);
  for (const t of [0, 0.5, 1]) text(drawing, left - 4, y(t) + 3, t, { "text-anchor": "end", "font-size": 10 });
  const step = Math.max(1, Math.ceil(days.length / 6));
  days.forEach((d, i) => { if (i % step === 0) text(drawing, x(d), height - bottom + 14, d.slice(5), { "text-anchor": "middle", "font-size": 10 }); });
  text(drawing, (left + width) / 2, height - 6, "day", { "text-anchor": "middle" });
  text(drawing, 12, (top + height - bottom) / 2, "agreement", { transform: `rotate(-90 12 ${(top + height - bottom) / 2})`, "text-anchor": "middle" });
  const names = [];
  for (const [annotator, rows] of groupBy(chart.rows, 0)) {
    const colour = COLOURS[names.length % COLOURS.length];
    names.push(annotator);
    const points = rows.map((r) => `${x(r[1]).toFixed(1)},${y(r[2]).toFixed(1)}`).join(" ");
    el("polyline", { points, fill: "none", stroke: colour, "stroke-width": 2 }, drawing);
    for (const [, day, agreement, n] of rows) {
      const dot = el("circle", { cx: x(day), cy: y(agreement), r: 3, fill: colour }, drawing);
      el("title", {}, dot).textContent = `${annotator} ${day}: ${agreement.toFixed(3)} of ${n}`;
    }
  }
  host.appendChild(drawing);
  host.appendChild(legend(names));
}

function legend(names) {
  const list = document.createElement("ul");
  list.className = "legend";
  names.forEach((name, i) => {
    const item = document.createElement("li");
    item.style.color = COLOURS[i % COLOURS.length];
    item.textContent = name;
    list.appendChild(item);
  });
  return list;
}

const DRAW = { heatmaps, intervals, lines };
const data = JSON.parse(document.getElementById("charts-data")?.textContent || "{}");
for (const figure of document.querySelectorAll("figure[data-chart]")) {
  const chart = data[figure.dataset.chart];
  const host = figure.querySelector(".chart-body");
  if (chart && chart.rows.length && DRAW[chart.kind]) DRAW[chart.kind](chart, host);
}
