// Live progress for import jobs: poll /api/v1/imports/{id}/ for rows still queued or running.
import { ACTIVE } from "./jobs.js";

const POLL_MS = 1000;

function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.split("=")[1]);
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

export async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...options,
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken(), ...(options.headers ?? {}) },
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function render(row, job) {
  const set = (field, value) => {
    const el = row.querySelector(`[data-field="${field}"]`);
    if (el) el.textContent = value;
  };
  for (const field of ["status", "done", "total", "imported", "duplicates", "rejected", "cross_dataset_duplicates", "error"]) {
    set(field, job[field] ?? "");
  }
  const bar = row.querySelector('[data-field="progress"]');
  if (bar) {
    bar.max = Math.max(job.total, 1);
    bar.value = job.done;
  }
  if (String(job.imported) !== row.dataset.imported || !ACTIVE.has(job.status)) {
    row.dataset.imported = String(job.imported);
    refreshCount(job.dataset);
  }
  const rejects = row.querySelector('[data-field="rejects"]');
  if (rejects && job.status !== "queued") rejects.hidden = false;
  row.dataset.status = job.status;
}

// The dataset's image count on this page (list row or detail header) follows its imports.
async function refreshCount(datasetId) {
  const targets = document.querySelectorAll(`[data-dataset-count="${datasetId}"]`);
  if (!targets.length) return;
  try {
    const dataset = await api(`/api/v1/datasets/${datasetId}/`);
    for (const el of targets) el.textContent = dataset.image_count;
  } catch {
    // the next poll tries again
  }
}

async function poll(row) {
  const id = row.dataset.importId;
  try {
    const job = await api(`/api/v1/imports/${id}/`);
    render(row, job);
    if (ACTIVE.has(job.status)) setTimeout(() => poll(row), POLL_MS);
  } catch (error) {
    row.querySelector('[data-field="error"]').textContent = String(error);
    setTimeout(() => poll(row), POLL_MS * 5);
  }
}

for (const row of document.querySelectorAll("tr[data-import-id]")) {
  if (ACTIVE.has(row.dataset.status)) {
    row.dataset.imported = "";
    poll(row);
  }
}
