// Small fetch helpers for the labeling pages: same-origin session auth, CSRF header, JSON.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class HttpError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) throw new HttpError(response.status, data);
  return data;
}

// A POST the browser completes even after the page is gone (pagehide); no answer is read.
export function sendKeepalive(url, body) {
  fetch(url, {
    method: "POST", keepalive: true, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
    body: JSON.stringify(body),
  });
}

export const campaignUrls = (id) => ({
  next: (n) => `/api/v1/campaigns/${id}/next/?n=${n}`,
  annotations: `/api/v1/campaigns/${id}/annotations/`,
  progress: `/api/v1/campaigns/${id}/progress/`,
});
