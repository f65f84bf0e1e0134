// Live status of the training runs table: while a run is queued, launching or running, polls the
// API and updates its status, epoch, loss and checkpoints.
import { ACTIVE } from "../jobs.js";

const POLL_MS = 5000;
const rows = [...document.querySelectorAll("#runs tr[data-run]")];

async function refresh() {
  const response = await fetch("/api/v1/training-runs/", { credentials: "same-origin",
                                                           headers: { Accept: "application/json" } });
  if (!response.ok) return true;
  const { results } = await response.json();
  const byId = new Map(results.map((run) => [String(run.id), run]));
  let active = false;
  for (const row of rows) {
    const run = byId.get(row.dataset.run);
    if (!run) continue;
    const badge = row.querySelector('[data-field="status"]');
    badge.textContent = run.status;
    badge.className = `badge status-${run.status}`;
    row.querySelector('[data-field="epoch"]').textContent = run.epoch ?? "";
    row.querySelector('[data-field="loss"]').textContent = run.loss === null ? "" : run.loss.toFixed(4);
    row.querySelector('[data-field="checkpoints"]').textContent = run.checkpoints.length;
    row.dataset.status = run.status;
    active ||= ACTIVE.has(run.status);
  }
  return active;
}

if (rows.some((row) => ACTIVE.has(row.dataset.status))) {
  const tick = async () => {
    let again = true;
    try { again = await refresh(); } catch { again = true; }
    if (again) setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}
