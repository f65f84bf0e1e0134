// Draws one SVG precision-recall chart per class from the page's #pr-data JSON:
// {runName: {className: {precision: [], recall: [], thresholds: [], operating_point?: {precision, recall}}}}.
// An operating point (the run's threshold at its target precision) is drawn as a ring.
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#1c7ed6", "#d9480f", "#2e9e44", "#7048e8", "#e8590c", "#0b7285", "#c2255c"];
const W = 320, H = 240, PAD = 36;

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function chart(className, series) {
  const figure = document.createElement("figure");
  const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `PR curve ${className}` });
  const x = (r) => PAD + r * (W - PAD - 8), y = (p) => H - PAD - p * (H - PAD - 8);
  el("rect", { x: PAD, y: 8, width: W - PAD - 8, height: H - PAD - 8, fill: "none", stroke: "#999" }, svg);
  el("line", { x1: PAD, x2: W - 8, y1: y(0.98), y2: y(0.98), stroke: "#bbb", "stroke-dasharray": "4 3" }, svg);
  for (const t of [0, 0.5, 1]) {
    el("text", { x: x(t), y: H - PAD + 14, "font-size": 10, "text-anchor": "middle" }, svg).textContent = t;
    el("text", { x: PAD - 4, y: y(t) + 3, "font-size": 10, "text-anchor": "end" }, svg).textContent = t;
  }
  el("text", { x: W / 2, y: H - 4, "font-size": 11, "text-anchor": "middle" }, svg).textContent = "recall";
  el("text", { x: 10, y: H / 2, "font-size": 11, "text-anchor": "middle", transform: `rotate(-90 10 ${H / 2})` }, svg)
    .textContent = "precision";
  const legend = document.createElement("ul");
  series.forEach(([name, curve], i) => {
    const points = curve.recall.map((r, j) => `${x(r).toFixed(1)},${y(curve.precision[j]).toFixed(1)}`).join(" ");
    el("polyline", { points, fill: "none", stroke: COLOURS[i % COLOURS.length], "stroke-width": 2 }, svg);
    const op = curve.operating_point;
    if (op && op.precision != null && op.recall != null) {
      const ring = el("circle", { cx: x(op.recall), cy: y(op.precision), r: 5, fill: "none",
                                  stroke: COLOURS[i % COLOURS.length], "stroke-width": 2, class: "operating-point" }, svg);
      el("title", {}, ring).textContent = `${name}: precision ${op.precision.toFixed(3)}, recall ${op.recall.toFixed(3)}`;
    }
    const item = document.createElement("li");
    item.style.color = COLOURS[i % COLOURS.length];
    item.textContent = name;
    legend.appendChild(item);
  });
  const caption = document.createElement("figcaption");
  caption.textContent = `${className} (dashed: 98% precision; rings: operating points)`;
  figure.append(caption, svg, legend);
  return figure;
}

const data = JSON.parse(document.getElementById("pr-data")?.textContent || "{}");
const byClass = {};
for (const [run, curves] of Object.entries(data)) {
  for (const [cls, curve] of Object.entries(curves || {})) {
    if (curve.recall?.length) (byClass[cls] ||= []).push([run, curve]);
  }
}
const host = document.getElementById("pr-curves");
for (const [cls, series] of Object.entries(byClass)) host.appendChild(chart(cls, series));
if (!Object.keys(byClass).length) host.textContent = "No curves yet.";
