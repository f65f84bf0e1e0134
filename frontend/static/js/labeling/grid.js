// Grid mode: a page of thumbnails labeled with the keyboard. The next page is fetched and its
// thumbnails decoded while the annotator works, so submitting shows it in one paint.
import { flash, labelForKey, loadConfig, preload, setupDialogs, setupProgress, setupQueue } from "./ui.js";
import { ItemSource, ReviewSource } from "./source.js";

const config = loadConfig();
const gridEl = document.getElementById("grid");
const pageLabel = document.getElementById("page-label");
const pageHint = document.getElementById("page-hint");
const doneEl = document.getElementById("done");
const pageSizeEl = document.getElementById("page-size");
const tileSizeEl = document.getElementById("tile-size");
const legendEl = document.getElementById("suggestion-legend");
const zoomEl = document.getElementById("zoom");
const dialogs = setupDialogs();
const refreshProgress = setupProgress(config);
const queue = setupQueue(config, {
  onRejected: (entries, message) => flash(`${entries.length} label(s) not saved: ${message}`, "error"),
});
const reviewing = Boolean(config.review);
const source = reviewing ? new ReviewSource(config, queue) : new ItemSource(config, queue);

const prefs = JSON.parse(localStorage.getItem("domainsieve:grid") || "{}");
let pageSize = Number(new URLSearchParams(location.search).get("n")) || prefs.pageSize || 25;
let tileSize = prefs.tileSize ?? 0; // 0: fit the page into the window
pageSizeEl.value = String(pageSize);
if (!pageSizeEl.value) pageSizeEl.value = "25";
tileSizeEl.value = String(tileSize);

const pages = [];
let cur = -1;
let focus = 0;
window.__gridTimings = []; // ms from the submitting key to the next page painted (bench, tests)
window.__gridState = () => ({ cur, focus, pages: pages.map((p) => p.items.map((i) => ({ item: i.item, label: i.label }))) });

function makePage(items) {
  // In review mode items carry their stored label: the page counts as submitted, so each change saves.
  return {
    items: items.map((i) => ({ ...i, label: i.label ?? null, saved: i.label ?? null, img: preload(i.thumb) })),
    submitted: reviewing, undo: [], shownAt: 0, spent: 0,
  };
}

// Pages fetched ahead, in order. Takes run one after another so that each sees what the one
// before it got (the server hands our own leases back first).
const ahead = [];
let chain = Promise.resolve();
const PREFETCH_PAGES = 2;
window.__prefetchMs = []; // ms from asking for a page to all its thumbnails decoded

function fetchPage({ waiting = false } = {}) {
  const started = performance.now();
  const size = pageSize;
  chain = chain.then(() => (waiting ? source.takeWaiting(size) : source.take(size))).then(async (items) => {
    const page = makePage(items);
    await Promise.all(page.items.map((i) => i.img.ready));
    window.__prefetchMs.push(performance.now() - started);
    return page;
  }).catch((error) => { flash(`could not fetch the next page: ${error.message}`, "error"); return null; });
  return chain;
}

// Pages ahead that fit under the campaign's lease cap (with the page on screen): a small campaign
// gets none, so one annotator never holds most of it.
function aheadPages() {
  return Math.max(0, Math.min(PREFETCH_PAGES, Math.floor(source.cap / pageSize) - 1));
}

function prefetch() {
  while (ahead.length < aheadPages() && !source.exhausted) ahead.push(fetchPage());
}

// The next page to show, at the page size chosen now: a page fetched before a size change is
// cut (the rest waits as the following page) or topped up.
async function nextPage() {
  let next = ahead.length ? await ahead.shift() : await fetchPage({ waiting: true });
  while (next === null) { // the fetch failed (network, server): keep trying, the labels are queued
    await new Promise((resolve) => setTimeout(resolve, 2000));
    next = await fetchPage({ waiting: true });
  }
  if (!next.items.length && !source.exhausted) next = await fetchPage({ waiting: true }) ?? next;
  if (next.items.length > pageSize) {
    const rest = { ...makePage([]), items: next.items.slice(pageSize) };
    next.items = next.items.slice(0, pageSize);
    ahead.unshift(Promise.resolve(rest));
  } else if (next.items.length && next.items.length < pageSize && !source.exhausted) {
    const more = await source.takeWaiting(pageSize - next.items.length).catch(() => []);
    const extra = makePage(more);
    await Promise.all(extra.items.map((i) => i.img.ready));
    next.items.push(...extra.items);
  }
  return next;
}

function columns() {
  return Math.max(1, Math.ceil(Math.sqrt(pageSize)));
}

let fitted = { key: "", size: 0 };
let tileEls = [];

function fittedTile() {
  if (tileSize) return tileSize;
  const key = `${window.innerWidth}x${window.innerHeight}x${pageSize}`;
  if (fitted.key === key) return fitted.size; // no forced layout on a page turn
  fitted = { key, size: measureTile() };
  return fitted.size;
}

function measureTile() {
  const cols = columns();
  const rows = Math.ceil(pageSize / cols);
  const top = gridEl.getBoundingClientRect().top + window.scrollY;
  const height = window.innerHeight - top - 70; // the key legend at the bottom
  const width = gridEl.parentElement.clientWidth;
  return Math.max(80, Math.min(320, Math.floor(Math.min((height - 8 * rows) / rows, (width - 8 * cols) / cols))));
}

function render() {
  const page = pages[cur];
  gridEl.style.setProperty("--tile", `${fittedTile()}px`);
  gridEl.style.gridTemplateColumns = `repeat(${columns()}, var(--tile))`;
  const tiles = [];
  let group = 0;
  page.items.forEach((item, index) => {
    if (index > 0 && item.group !== page.items[index - 1].group) group += 1;
    const tile = document.createElement("div");
    tile.className = "tile";
    tile.setAttribute("role", "gridcell");
    tile.id = `tile-${index}`;
    tile.dataset.index = String(index);
    tile.dataset.item = String(item.item);
    if (item.group !== undefined) tile.classList.add(group % 2 ? "band-b" : "band-a");
    const tag = document.createElement("span");
    tag.className = "tag";
    item.img.alt = ""; // the tile's aria-label names the image and its label
    tile.append(item.img, tag);
    if (item.suggestion) {
      const hint = document.createElement("span");
      hint.className = "suggestion";
      hint.style.background = config.colour[item.suggestion] ?? "#868e96";
      hint.title = `classifier suggests ${item.suggestion}`;
      tile.append(hint);
    }
    tiles.push(tile);
  });
  // Rows for assistive technology (role=row, laid out by the grid's CSS through display:contents).
  const rows = [];
  for (let start = 0; start < tiles.length; start += columns()) {
    const row = document.createElement("div");
    row.setAttribute("role", "row");
    row.className = "grid-row";
    row.append(...tiles.slice(start, start + columns()));
    rows.push(row);
  }
  tileEls = tiles;
  gridEl.replaceChildren(...rows);
  page.items.forEach((_, i) => paintTile(i));
  paintFocus();
  if (page.items.some((i) => i.suggestion)) legendEl.hidden = false;
  pageLabel.textContent = reviewing ? `Reviewing my labels · page ${cur + 1}`
    : `Page ${cur + 1}${page.submitted ? " · submitted (editable)" : ""}`;
  if (reviewing && page.items.length) { // a reload reopens this page
    const url = new URL(location.href);
    url.searchParams.set("offset", String(page.items[0].offset));
    history.replaceState(null, "", url);
  }
  updateHint();
}

function paintTile(index) {
  const item = pages[cur].items[index];
  const tile = tileEls[index];
  tile.setAttribute("aria-label", `image ${index + 1}: ${item.label ?? "no label yet"}` +
    (item.suggestion ? `, suggestion ${item.suggestion}` : ""));
  tile.dataset.label = item.label ?? "";
  tile.style.setProperty("--c", item.label ? config.colour[item.label] : "transparent");
  tile.classList.toggle("unset", !item.label);
  tile.querySelector(".tag").textContent = item.label ?? "";
}

function paintFocus() {
  for (const el of gridEl.querySelectorAll(".tile.focused")) el.classList.remove("focused");
  tileEls[focus]?.classList.add("focused");
  tileEls[focus]?.scrollIntoView({ block: "nearest" });
  if (tileEls[focus]) gridEl.setAttribute("aria-activedescendant", tileEls[focus].id);
}

function updateHint() {
  const page = pages[cur];
  const unset = page.items.filter((i) => !i.label).length;
  if (page.submitted) pageHint.textContent = "changes here save as you make them";
  else pageHint.textContent = unset ? `${unset} unset · Shift+key fills them` : "all set · Enter submits";
}

// Labels set on pages not submitted yet: the pill counts them and leaving the page asks first.
function countDrafts() {
  let n = 0;
  for (const page of pages) {
    if (!page.submitted) n += page.items.filter((i) => i.label && i.label !== i.saved).length;
  }
  queue.setDrafts(n);
}

function setLabel(index, label, { record = true } = {}) {
  const page = pages[cur];
  const item = page.items[index];
  if (item.label === label) return;
  if (record) page.undo.push({ index, old: item.label });
  item.label = label;
  if (page.submitted && label) {
    // A page already submitted saves each change at once: no second Enter is needed, and no
    // exit (Single mode, a nav link, closing the tab) can drop it.
    const now = performance.now();
    const seconds = Math.min(60, (now - (page.lastEdit ?? page.shownAt)) / 1000);
    page.lastEdit = now;
    queue.add([{ item: item.item, label, seconds }]);
    item.saved = label;
  }
  paintTile(index);
  updateHint();
  countDrafts();
}

function cycle(index) {
  const item = pages[cur].items[index];
  const next = config.names[(config.names.indexOf(item.label) + 1) % config.names.length];
  setLabel(index, next);
}

function paintZoomLabel() {
  const item = pages[cur]?.items[focus];
  if (!zoomEl.open || !item) return;
  zoomEl.dataset.label = item.label ?? "";
  zoomEl.style.setProperty("--c", item.label ? config.colour[item.label] : "transparent");
}

function showZoomed() {
  const item = pages[cur].items[focus];
  document.getElementById("zoom-img").src = item.file;
  paintZoomLabel();
}

function moveFocus(delta) {
  const n = pages[cur].items.length;
  focus = Math.min(n - 1, Math.max(0, focus + delta));
  paintFocus();
}

async function showPage(index, t0) {
  cur = index;
  focus = 0;
  pages[cur].shownAt = performance.now();
  pages[cur].lastEdit = undefined;
  render();
  if (t0 !== undefined) {
    requestAnimationFrame(() => setTimeout(() => window.__gridTimings.push(performance.now() - t0), 0));
  }
  prefetch();
}

async function submit(t0) {
  const page = pages[cur];
  const unset = page.items.filter((i) => !i.label).length;
  if (unset) {
    flash(`${unset} tile(s) have no label yet: press Shift+1/2/3 to fill them`, "warn");
    return;
  }
  const elapsed = (performance.now() - page.shownAt) / 1000;
  const changed = page.items.filter((i) => i.label !== i.saved);
  if (changed.length) {
    const each = elapsed / changed.length;
    queue.add(changed.map((i) => ({ item: i.item, label: i.label, seconds: each })));
    for (const i of changed) i.saved = i.label;
  }
  page.submitted = true;
  page.undo = [];
  countDrafts();
  refreshProgress();
  if (cur < pages.length - 1) return showPage(cur + 1, t0);
  prefetch();
  const next = await nextPage();
  if (!next.items.length) {
    pageLabel.textContent = `Page ${cur + 1} · submitted`;
    gridEl.hidden = true;
    doneEl.hidden = false;
    return;
  }
  pages.push(next);
  showPage(pages.length - 1, t0);
}

function previous() {
  if (cur > 0) showPage(cur - 1);
  else flash("this is the first page", "info");
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest?.("input, select, textarea")) return;
  const key = event.key;
  if (zoomEl.open && cur >= 0 && !gridEl.hidden) {
    // Zoomed in: a label key labels the image shown and moves on to the next tile, still zoomed.
    const label = event.ctrlKey || event.metaKey || event.altKey ? null : labelForKey(event, config.labels);
    if (label && !event.shiftKey) {
      event.preventDefault();
      setLabel(focus, label);
      if (focus < pages[cur].items.length - 1) moveFocus(1);
      showZoomed();
      return;
    }
  }
  if (dialogs.anyOpen()) {
    if (key === "Escape") return;
    if (key === "h" || key === "H" || key === "z" || key === "Z") { event.preventDefault(); dialogs.closeAll(); }
    return;
  }
  if (key === "h" || key === "H") { event.preventDefault(); dialogs.toggleGuidelines(); return; }
  if (cur < 0 || gridEl.hidden) return;
  const page = pages[cur];
  const label = event.ctrlKey || event.metaKey || event.altKey ? null : labelForKey(event, config.labels);
  if (label) {
    event.preventDefault();
    if (event.shiftKey) {
      page.items.forEach((item, i) => { if (!item.label) setLabel(i, label); });
    } else {
      setLabel(focus, label);
      if (focus < page.items.length - 1) moveFocus(1);
    }
    return;
  }
  const t0 = event.timeStamp; // when the key was pressed, input delay included
  switch (key) {
    case " ": event.preventDefault(); cycle(focus); break;
    case "ArrowLeft": event.preventDefault(); if (focus === 0) previous(); else moveFocus(-1); break;
    case "ArrowRight": event.preventDefault(); if (focus === page.items.length - 1) submit(t0); else moveFocus(1); break;
    case "ArrowUp": event.preventDefault(); moveFocus(-columns()); break;
    case "ArrowDown": event.preventDefault(); moveFocus(columns()); break;
    case "Enter": event.preventDefault(); submit(t0); break;
    case "Backspace": event.preventDefault(); previous(); break;
    case "u": case "U": {
      event.preventDefault();
      const last = page.undo.pop();
      if (last) { setLabel(last.index, last.old, { record: false }); focus = last.index; paintFocus(); }
      else flash("nothing to undo on this page");
      break;
    }
    case "z": case "Z": event.preventDefault(); dialogs.toggleZoom(page.items[focus]?.file); paintZoomLabel(); break;
    case "a": case "A": {
      event.preventDefault();
      if (event.shiftKey) {
        let n = 0;
        page.items.forEach((item, i) => { if (!item.label && item.suggestion) { setLabel(i, item.suggestion); n += 1; } });
        if (!n) flash("no unset tile has a suggestion");
      } else if (page.items[focus]?.suggestion) {
        setLabel(focus, page.items[focus].suggestion);
        if (focus < page.items.length - 1) moveFocus(1);
      } else flash("this tile has no suggestion");
      break;
    }
    default: break;
  }
});

gridEl.addEventListener("click", (event) => {
  const tile = event.target.closest(".tile");
  if (!tile) return;
  focus = Number(tile.dataset.index);
  paintFocus();
  cycle(focus);
});

pageSizeEl.addEventListener("change", () => {
  pageSize = Number(pageSizeEl.value);
  localStorage.setItem("domainsieve:grid", JSON.stringify({ pageSize, tileSize }));
  // The next page shown takes the new size (a page fetched before is cut or topped up).
  pageSizeEl.blur();
});
tileSizeEl.addEventListener("change", () => {
  tileSize = Number(tileSizeEl.value);
  localStorage.setItem("domainsieve:grid", JSON.stringify({ pageSize, tileSize }));
  render();
  tileSizeEl.blur();
});

async function start() {
  if (config.status !== "active") {
    gridEl.hidden = true;
    doneEl.hidden = false;
    doneEl.querySelector("h2").textContent = `This campaign is ${config.status}: it takes no new labels now`;
    return;
  }
  if (reviewing) doneEl.querySelector("h2").textContent = "No more of your labels match";
  const first = await fetchPage({ waiting: true });
  if (!first || !first.items.length) { gridEl.hidden = true; doneEl.hidden = false; return; }
  pages.push(first);
  showPage(0);
  document.body.dataset.ready = "1";
}

start();
