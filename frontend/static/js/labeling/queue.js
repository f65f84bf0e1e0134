// The save queue: labels wait here until the server acknowledged them. Never lose work:
// the queue lives in localStorage too, a failed submit retries with exponential backoff, and
// closing the tab while labels are unsaved asks first.
import { api, HttpError, sendKeepalive } from "./api.js";

const MAX_BATCH = 200;

export class SaveQueue {
  constructor({ url, storageKey, onChange, onRejected }) {
    this.url = url;
    this.storageKey = storageKey;
    this.onChange = onChange ?? (() => {});
    this.onRejected = onRejected ?? (() => {});
    this.pending = new Map(); // item id -> {item, label, seconds}
    this.inflight = false;
    this.delay = 0;
    this.timer = null;
    this.lastError = "";
    this.acked = new Set(); // items the server has stored for us
    try {
      for (const entry of JSON.parse(localStorage.getItem(storageKey) || "[]")) this.pending.set(entry.item, entry);
    } catch { /* a broken entry is not worth failing the page for */ }
    window.addEventListener("beforeunload", (event) => {
      if (this.pending.size || this.hasDrafts?.()) { event.preventDefault(); event.returnValue = ""; }
    });
    window.addEventListener("online", () => this.flush());
    // Closing the tab or leaving the page: what is still queued goes out in a keepalive request,
    // which the browser finishes after the page is gone (the copy in localStorage stays until a
    // later page sees it acknowledged; resending is harmless, the endpoint is idempotent).
    window.addEventListener("pagehide", () => {
      if (!this.pending.size) return;
      const batch = [...this.pending.values()].slice(0, MAX_BATCH).map((e) => ({ ...e, seconds: Math.round(e.seconds * 100) / 100 }));
      try { sendKeepalive(this.url, batch); } catch { /* the localStorage copy remains */ }
    });
    if (this.pending.size) this.schedule(0);
  }

  get size() { return this.pending.size; }

  // Resolves once every queued label is stored (or after maxMs, whichever comes first).
  async drained(maxMs = 30000) {
    const until = performance.now() + maxMs;
    while ((this.pending.size || this.inflight) && performance.now() < until) {
      this.schedule(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  persist() {
    try { localStorage.setItem(this.storageKey, JSON.stringify([...this.pending.values()])); } catch { /* quota */ }
    this.onChange(this);
  }

  add(entries) {
    for (const e of entries) {
      const prev = this.pending.get(e.item);
      // Time spent adds up when the same item is labeled twice before the save lands.
      this.pending.set(e.item, { item: e.item, label: e.label, seconds: (prev?.seconds ?? 0) + (e.seconds ?? 0) });
    }
    this.persist();
    this.schedule(0);
  }

  schedule(ms) {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.flush(); }, ms);
  }

  async flush() {
    if (this.inflight || !this.pending.size) return;
    this.inflight = true;
    const batch = [...this.pending.values()].slice(0, MAX_BATCH).map((e) => ({ ...e, seconds: Math.round(e.seconds * 100) / 100 }));
    try {
      await api("POST", this.url, batch);
      for (const sent of batch) {
        const now = this.pending.get(sent.item);
        if (now && now.label === sent.label) this.pending.delete(sent.item);
        this.acked.add(sent.item);
      }
      this.delay = 0;
      this.lastError = "";
    } catch (error) {
      if (error instanceof HttpError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429) {
        // The server refused the batch as a whole; drop only the entries it named and retry the rest.
        const bad = new Set((error.body?.errors ?? []).map((e) => e.item));
        const named = batch.filter((e) => bad.has(e.item));
        const dropped = named.length ? named : batch;
        for (const e of dropped) this.pending.delete(e.item);
        this.onRejected(dropped, error.message);
        this.delay = 0;
      } else {
        this.delay = Math.min(this.delay ? this.delay * 2 : 1000, 30000);
        this.lastError = error instanceof HttpError ? `server error ${error.status}` : "offline";
      }
    } finally {
      this.inflight = false;
      this.persist();
    }
    if (this.pending.size) this.schedule(this.delay);
  }
}

export function describeQueue(queue) {
  if (!queue.size) return "all saved";
  const retry = queue.delay ? ` · retrying in ${Math.round(queue.delay / 1000)}s (${queue.lastError})` : "";
  return `${queue.size} unsaved${retry}`;
}
