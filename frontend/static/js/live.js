// Live status of a job page (classifier run, apply job, clean job, ...): while the job is active,
// polls its JSON endpoint and fills the elements marked data-live="path.in.json"; once the job
// has ended, reloads the page so its tables (metrics, summaries, actions) match the final state
// (or, with data-live-reload="0", just stops).
// An active job is one whose status is in jobs.js's ACTIVE.
//   <section data-live-url="/api/v1/classifier-runs/5/" data-live-status="running">
//     <b data-live="status"></b> <span data-live="progress" data-format="percent"></span>
//     <progress data-live="progress.shards.succeeded" data-live-max="shards_total"></progress>
import { ACTIVE } from "./jobs.js";

const POLL_MS = 2000;

function pick(data, path) {
  return path.split(".").reduce((value, key) => (value == null ? value : value[key]), data);
}

function show(value, format) {
  if (value === null || value === undefined || value === "") return "–";
  if (format === "percent") return `${Math.round(100 * value)}%`;
  return String(value);
}

async function fetchJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function fill(root, data) {
  for (const el of root.querySelectorAll("[data-live]")) {
    const value = pick(data, el.dataset.live);
    if (el.tagName === "PROGRESS") {
      if (el.dataset.liveMax) el.max = Math.max(Number(pick(data, el.dataset.liveMax)) || 0, 1);
      el.value = Number(value) || 0;
    } else {
      el.textContent = show(value, el.dataset.format);
    }
  }
}

function watch(root) {
  if (!ACTIVE.has(root.dataset.liveStatus)) return;
  const tick = async () => {
    try {
      const data = await fetchJson(root.dataset.liveUrl);
      fill(root, data);
      root.dataset.liveStatus = data.status;
      if (!ACTIVE.has(data.status)) {
        // Rows of a list page that holds a form (data-live-reload="0") only stop: a reload would
        // throw away what the user is typing.
        if (root.dataset.liveReload !== "0") window.location.reload();
        return;
      }
      setTimeout(tick, POLL_MS);
    } catch (error) {
      root.dataset.liveError = String(error);
      setTimeout(tick, POLL_MS * 3);
    }
  };
  setTimeout(tick, POLL_MS);
}

for (const root of document.querySelectorAll("[data-live-url]")) watch(root);
