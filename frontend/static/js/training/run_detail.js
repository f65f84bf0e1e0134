// Live training run page: while the run is active, refresh its progress and log tail; while
// zero-shot evaluations are queued, refresh the results table (top-1/top-5 in percent, as on
// every page) as each test set finishes. Reloads when the run's status changes.
import { ACTIVE } from "../jobs.js";

const POLL_MS = 3000;
const progress = document.getElementById("run-progress");
const logBox = document.getElementById("run-log");
const statusBadge = document.getElementById("run-status");
const evalSection = document.getElementById("eval-section");
const evalPending = document.getElementById("eval-pending");
const evalBody = document.querySelector("#eval-results tbody");

async function getJson(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

const percent = (value) => (value === null || value === undefined ? "–" : (100 * value).toFixed(2));

function renderResults(results) {
  const rows = results.map((r) => {
    const tr = document.createElement("tr");
    for (const value of [r.epoch ?? "", r.test_set, r.domain, r.clean ? "clean" : "standard", percent(r.top1),
                         percent(r.top5), r.n, r.n_classes]) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.appendChild(td);
    }
    return tr;
  });
  evalBody.replaceChildren(...rows);
}

async function refresh() {
  const runId = progress.dataset.run;
  const data = await getJson(`/api/v1/training-runs/${runId}/log/`);
  for (const field of ["epoch", "step", "loss"]) {
    const el = progress.querySelector(`[data-field="${field}"]`);
    if (el && data[field] !== null) el.textContent = data[field];
  }
  const atBottom = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
  logBox.textContent = data.log;
  if (atBottom) logBox.scrollTop = logBox.scrollHeight;
  if (statusBadge.textContent !== data.status) {
    // Status changed (finished): reload so actions and checkpoints match.
    window.location.reload();
    return false;
  }
  const evaluating = data.evaluations_pending > 0;
  if (evaluating || progress.dataset.evaluating !== "0") {
    const results = [];
    let next = `/api/v1/eval-results/?training_run=${runId}`;
    while (next) {
      const page = await getJson(next);
      results.push(...(page.results ?? page));
      next = page.next ?? null;
    }
    renderResults(results);
    evalSection.hidden = false;
    evalPending.hidden = !evaluating;
    evalPending.querySelector('[data-field="evaluations_pending"]').textContent = data.evaluations_pending;
    progress.dataset.evaluating = String(data.evaluations_pending);
  }
  return ACTIVE.has(data.status) || evaluating;
}

const watching = progress && (progress.dataset.active === "1" || progress.dataset.evaluating !== "0");
if (watching) {
  const tick = async () => {
    let again = true;
    try { again = await refresh(); } catch { again = true; }
    if (again) setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}
if (logBox) logBox.scrollTop = logBox.scrollHeight;
