// Refresh a running run's progress and log tail every few seconds from the API.
const progress = document.getElementById("run-progress");
const logBox = document.getElementById("run-log");
const statusBadge = document.getElementById("run-status");

async function refresh() {
  const response = await fetch(`/api/v1/training-runs/${progress.dataset.run}/log/`, {credentials: "same-origin"});
  if (!response.ok) return false;
  const data = await response.json();
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
  return ["queued", "launching", "running"].includes(data.status);
}

if (progress && progress.dataset.active === "1") {
  const tick = async () => { if (await refresh()) setTimeout(tick, 5000); };
  setTimeout(tick, 5000);
}
if (logBox) logBox.scrollTop = logBox.scrollHeight;
