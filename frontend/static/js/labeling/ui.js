// Pieces both labeling pages share: config, guidelines and zoom dialogs, progress, save status.
import { api, campaignUrls } from "./api.js";
import { SaveQueue, describeQueue } from "./queue.js";

export function loadConfig() {
  const config = JSON.parse(document.getElementById("labeling-config").textContent);
  config.urls = campaignUrls(config.campaign);
  config.colour = Object.fromEntries(config.labels.map((l) => [l.name, l.colour]));
  config.names = config.labels.map((l) => l.name);
  return config;
}

// Which label a key press means: the hotkey itself, or the digit under Shift (e.code keeps it).
export function labelForKey(event, labels) {
  for (const l of labels) {
    if (!l.key) continue;
    if (event.key === l.key || event.code === `Digit${l.key}` || event.code === `Numpad${l.key}` ||
        event.key.toLowerCase() === l.key.toLowerCase()) return l.name;
  }
  return null;
}

export function setupDialogs() {
  const guidelines = document.getElementById("guidelines");
  const zoom = document.getElementById("zoom");
  const zoomImg = document.getElementById("zoom-img");
  for (const dialog of [guidelines, zoom]) {
    dialog.addEventListener("click", (e) => { if (e.target === dialog || e.target.closest("[data-close]")) dialog.close(); });
  }
  document.getElementById("open-guidelines")?.addEventListener("click", () => guidelines.showModal());
  return {
    anyOpen: () => guidelines.open || zoom.open,
    toggleGuidelines: () => (guidelines.open ? guidelines.close() : guidelines.showModal()),
    toggleZoom: (src) => {
      if (zoom.open) { zoom.close(); return; }
      if (!src) return;
      zoomImg.src = src;
      zoom.showModal();
    },
    closeAll: () => { guidelines.open && guidelines.close(); zoom.open && zoom.close(); },
  };
}

// The save queue and the pill that tells its state. `drafts` counts labels the page holds that
// are in no queue yet (set on a page not submitted): the pill says "all saved" only when there
// are none of either, and leaving the page asks first while there are.
export function setupQueue(config, { onRejected } = {}) {
  const pill = document.getElementById("unsaved");
  let drafts = 0;
  const paint = (q) => {
    const parts = [];
    if (q.size) parts.push(describeQueue(q));
    if (drafts) parts.push(`${drafts} on this page not submitted · Enter saves`);
    pill.textContent = parts.length ? parts.join(" · ") : "all saved";
    pill.dataset.count = String(q.size + drafts);
    pill.dataset.drafts = String(drafts);
    pill.classList.toggle("warn", (q.size > 0 && q.delay > 0) || drafts > 0);
  };
  const queue = new SaveQueue({
    url: config.urls.annotations,
    storageKey: `domainsieve:pending:${config.user}:${config.campaign}`,
    onChange: paint,
    onRejected,
  });
  queue.setDrafts = (n) => { drafts = n; paint(queue); };
  queue.hasDrafts = () => drafts > 0;
  paint(queue);
  return queue;
}

export function setupProgress(config) {
  const el = document.getElementById("progress");
  let timer = null;
  const refresh = async () => {
    try {
      const p = await api("GET", config.urls.progress);
      el.textContent = `${p.me.done} / ${p.me.target} · ${Math.round(p.me.rate_per_hour)}/h`;
      el.title = `you labeled ${p.me.done}; the campaign has ${p.me.target} items, ${p.items_complete} complete`;
    } catch { /* progress is a nicety; the queue reports real trouble */ }
  };
  refresh();
  return () => { clearTimeout(timer); timer = setTimeout(refresh, 800); };
}

// Preload (and decode) an image so showing it later costs one paint.
export function preload(src) {
  const img = new Image();
  img.decoding = "async";
  img.src = src;
  img.ready = img.decode().catch(() => {});
  return img;
}

export function flash(message, kind = "info") {
  let box = document.getElementById("flash");
  if (!box) {
    box = document.createElement("div");
    box.id = "flash";
    document.body.append(box);
  }
  box.textContent = message;
  box.className = `flash ${kind}`;
  clearTimeout(box.timer);
  box.timer = setTimeout(() => { box.className = "flash hidden"; }, 3500);
}
