// Single mode: one large image at a time; a label key stores it and shows the next one.
import { flash, labelForKey, loadConfig, preload, setupDialogs, setupProgress, setupQueue } from "./ui.js";
import { ItemSource } from "./source.js";

const AHEAD = 4; // images decoded ahead of the one on screen
const BATCH = 10;

const config = loadConfig();
const imgEl = document.getElementById("single-img");
const figure = document.getElementById("figure");
const caption = document.getElementById("single-caption");
const doneEl = document.getElementById("done");
const stage = document.getElementById("stage");
const dialogs = setupDialogs();
const refreshProgress = setupProgress(config);
const queue = setupQueue(config, {
  onRejected: (entries, message) => flash(`${entries.length} label(s) not saved: ${message}`, "error"),
});
const source = new ItemSource(config, queue);

const items = [];
let cur = 0;
let fetching = null;
window.__singleState = () => ({ cur, items: items.map((i) => ({ item: i.item, label: i.label })) });

function topUp() {
  if (fetching || source.exhausted || items.length - cur > AHEAD + 2) return fetching;
  fetching = source.take(BATCH).then((fresh) => {
    for (const i of fresh) items.push({ ...i, label: null, img: null });
    preloadAhead();
  }).catch((error) => flash(`could not fetch more images: ${error.message}`, "error"))
    .finally(() => { fetching = null; });
  return fetching;
}

function preloadAhead() {
  for (let i = cur; i < Math.min(items.length, cur + AHEAD + 1); i += 1) {
    if (!items[i].img) items[i].img = preload(items[i].file);
  }
}

function show() {
  const item = items[cur];
  if (!item) {
    stage.hidden = true;
    doneEl.hidden = false;
    return;
  }
  stage.hidden = false;
  doneEl.hidden = true;
  if (!item.img) item.img = preload(item.file);
  imgEl.src = item.img.src;
  item.shownAt = performance.now();
  figure.style.setProperty("--c", item.label ? config.colour[item.label] : "transparent");
  figure.classList.toggle("labeled", Boolean(item.label));
  caption.textContent = `${cur + 1} of ${items.length}${source.exhausted ? "" : "+"}` +
    (item.label ? ` · labeled ${item.label} (press a key to change)` : "") +
    (item.suggestion ? ` · suggestion: ${item.suggestion}` : "");
  for (const b of document.querySelectorAll(".label-button")) b.classList.toggle("active", b.dataset.label === item.label);
  preloadAhead();
  topUp();
}

async function label(name) {
  const item = items[cur];
  if (!item) return;
  if (item.label !== name) {
    queue.add([{ item: item.item, label: name, seconds: (performance.now() - item.shownAt) / 1000 }]);
    item.label = name;
    refreshProgress();
  }
  cur += 1;
  if (cur >= items.length) await topUp();
  // Held back by the campaign's lease cap, not dry: wait for our saves to land and ask again.
  if (cur >= items.length && !source.exhausted) {
    const fresh = await source.takeWaiting(BATCH);
    for (const i of fresh) items.push({ ...i, label: null, img: null });
  }
  show();
}

function back() {
  if (cur === 0) { flash("this is the first image"); return; }
  cur -= 1;
  show();
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest?.("input, select, textarea")) return;
  const key = event.key;
  const zoomed = document.getElementById("zoom").open;
  const zoomLabel = zoomed && !(event.ctrlKey || event.metaKey || event.altKey) ? labelForKey(event, config.labels) : null;
  if (zoomLabel) { // zoomed in: label, then show the next image zoomed
    event.preventDefault();
    label(zoomLabel).then(() => { if (items[cur]) document.getElementById("zoom-img").src = items[cur].file; });
    return;
  }
  if (dialogs.anyOpen()) {
    if (key === "h" || key === "H" || key === "z" || key === "Z") { event.preventDefault(); dialogs.closeAll(); }
    return;
  }
  if (key === "h" || key === "H") { event.preventDefault(); dialogs.toggleGuidelines(); return; }
  const name = event.ctrlKey || event.metaKey || event.altKey ? null : labelForKey(event, config.labels);
  if (name) { event.preventDefault(); label(name); return; }
  if (key === "Backspace" || key === "ArrowLeft") { event.preventDefault(); back(); }
  else if (key === "ArrowRight" && items[cur]?.label && cur + 1 < items.length) { event.preventDefault(); cur += 1; show(); }
  else if (key === "z" || key === "Z") { event.preventDefault(); dialogs.toggleZoom(items[cur]?.file); }
});

for (const button of document.querySelectorAll(".label-button")) {
  button.addEventListener("click", () => { label(button.dataset.label); button.blur(); });
}

async function start() {
  if (config.status !== "active") {
    stage.hidden = true;
    doneEl.hidden = false;
    doneEl.querySelector("h2").textContent = `This campaign is ${config.status}: it takes no new labels now`;
    return;
  }
  await topUp();
  show();
  document.body.dataset.ready = "1";
}

start();
