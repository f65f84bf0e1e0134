// Draws one SVG precision-recall chart per class from the page's #pr-data JSON:
// {runName: {className: {precision: [], recall: [], thresholds: [], operating_point?: {precision, recall}}}}.
// Axes in percent, like every figure on these pages; each run keeps one colour in every chart
// (its position in #pr-data), so a run missing a class does not shift the others' colours.
// An operating point (the run's threshold at its target precision) is drawn as a ring.
const SVG = "http://www.w3.org/2000/svg";
export const COLOURS = ["#1c7ed6", "#d9480f", "#2e9e44", "#7048e8", "#c2255c", "#0b7285", "#5c940d", "#862e9c"];
const W = 340, H = 260, LEFT = 48, BOTTOM = 40, TOP = 8, RIGHT = 8;

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

export function colourOf(index) {
  return COLOURS[index % COLOURS.length];
}

function chart(className, series) {
  const figure = document.createElement("figure");
  figure.dataset.class = className;
  const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `PR curve ${className}` });
  const x = (r) => LEFT + r * (W - LEFT - RIGHT), y = (p) => H - BOTTOM - p * (H - BOTTOM - TOP);
  el("rect", { x: LEFT, y: TOP, width: W - LEFT - RIGHT, height: H - BOTTOM - TOP, fill: "none", stroke: "#999" }, svg);
  el("line", { x1: LEFT, x2: W - RIGHT, y1: y(0.98), y2: y(0.98), stroke: "#bbb", "stroke-dasharray": "4 3" }, svg);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    el("text", { x: x(t), y: H - BOTTOM + 14, "font-size": 10, "text-anchor": "middle" }, svg).textContent = 100 * t;
    el("text", { x: LEFT - 4, y: y(t) + 3, "font-size": 10, "text-anchor": "end" }, svg).textContent = 100 * t;
  }
  el("text", { x: (LEFT + W - RIGHT) / 2, y: H - 6, "font-size": 11, "text-anchor": "middle", class: "axis-x" }, svg)
    .textContent = "recall (%)";
  el("text", { x: 12, y: (TOP + H - BOTTOM) / 2, "font-size": 11, "text-anchor": "middle", class: "axis-y",
               transform: `rotate(-90 12 ${(TOP + H - BOTTOM) / 2})` }, svg).textContent = "precision (%)";
  const legend = document.createElement("ul");
  for (const { name, curve, colour } of series) {
    const points = curve.recall.map((r, j) => `${x(r).toFixed(1)},${y(curve.precision[j]).toFixed(1)}`).join(" ");
    el("polyline", { points, fill: "none", stroke: colour, "stroke-width": 2, "data-run": name }, svg);
    const op = curve.operating_point;
    if (op && op.precision != null && op.recall != null) {
      const ring = el("circle", { cx: x(op.recall), cy: y(op.precision), r: 5, fill: "none",
                                  stroke: colour, "stroke-width": 2, class: "operating-point" }, svg);
      el("title", {}, ring).textContent = `${name}: precision ${(100 * op.precision).toFixed(1)}%, recall ${(100 * op.recall).toFixed(1)}%`;
    }
    const item = document.createElement("li");
    item.style.color = colour;
    item.dataset.run = name;
    item.textContent = name;
    legend.appendChild(item);
  }
  const caption = document.createElement("figcaption");
  caption.textContent = `${className} (dashed: 98% precision; rings: operating points)`;
  figure.append(caption, svg, legend);
  return figure;
}

const data = JSON.parse(document.getElementById("pr-data")?.textContent || "{}");
const byClass = {};
Object.entries(data).forEach(([run, curves], index) => {
  for (const [cls, curve] of Object.entries(curves || {})) {
    if (curve.recall?.length) (byClass[cls] ||= []).push({ name: run, curve, colour: colourOf(index) });
  }
});
const host = document.getElementById("pr-curves");
if (host) {
  for (const [cls, series] of Object.entries(byClass)) host.appendChild(chart(cls, series));
  if (!Object.keys(byClass).length) host.textContent = "No curves yet.";
}
