// Live status of queued and running classifier runs: polls the API until none is active.
import { ACTIVE } from "../jobs.js";

const table = document.getElementById("runs");

async function refresh() {
  const response = await fetch("/api/v1/classifier-runs/", { credentials: "same-origin" });
  if (!response.ok) return false;
  const { results } = await response.json();
  let active = false;
  for (const run of results) {
    const row = table.querySelector(`tr[data-run="${run.id}"]`);
    if (!row) continue;
    row.querySelector(".status").textContent = run.status;
    row.querySelector(".progress").textContent = `${Math.round(run.progress * 100)}%`;
    active ||= ACTIVE.has(run.status);
  }
  return active;
}

async function loop() {
  if (await refresh()) setTimeout(loop, 3000);
}
if (table) loop();
