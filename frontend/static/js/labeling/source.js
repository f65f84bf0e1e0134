// Where items come from: POST next/?n= leases them. The server hands the caller's own live
// leases back first (so a reload shows the same page); we ask for enough extra to skip the
// ones already on screen or waiting in the save queue. The server cuts every answer to the
// campaign's lease cap (a quarter of its label slots), so a short answer is "dry" only when the
// ask fitted under the cap; otherwise it is "blocked" until our saves land.
import { api } from "./api.js";

export class ItemSource {
  constructor(config, queue) {
    this.config = config;
    this.queue = queue;
    this.seen = new Set();
    this.exhausted = false;
    this.blocked = false;
    this.cap = config.leaseCap ?? Infinity;
  }

  held() {
    return [...this.seen].filter((id) => !this.queue.acked.has(id)).length;
  }

  async take(n) {
    const ask = Math.min(200, n + this.held());
    const data = await api("POST", this.config.urls.next(ask));
    if (data.lease_cap) this.cap = data.lease_cap;
    const fresh = data.items.filter((i) => !this.seen.has(i.item)).slice(0, n);
    for (const i of fresh) this.seen.add(i.item);
    this.blocked = fresh.length < n && ask > this.cap;
    if (!fresh.length && !this.blocked) this.exhausted = true;
    return fresh;
  }

  // Take n items; where the lease cap cut the answer short, wait for our own saves to land (they
  // free the cap) and ask for the rest.
  async takeWaiting(n, tries = 4) {
    const got = await this.take(n);
    for (let i = 0; got.length < n && this.blocked && i < tries; i += 1) {
      await this.queue.drained();
      got.push(...await this.take(n - got.length));
    }
    return got;
  }
}

// Review mode: pages of the caller's own labels (filtered by label and day), oldest first. Items
// come with their stored label; the grid shows them as submitted pages, so each change saves.
export class ReviewSource {
  constructor(config, queue) {
    this.config = config;
    this.queue = queue;
    this.offset = config.review.offset ?? 0;
    this.exhausted = false;
    this.blocked = false;
    this.cap = Infinity;
  }

  async take(n) {
    const offset = this.offset; // reserved before the request: two takes in flight never overlap
    this.offset += n;
    const params = new URLSearchParams({ campaign: this.config.campaign, limit: n, offset });
    if (this.config.review.label) params.set("label", this.config.review.label);
    if (this.config.review.day) params.set("day", this.config.review.day);
    const data = await api("GET", `/api/v1/me/annotations/?${params}`);
    const items = data.results.map((r, i) => ({ ...r, offset: offset + i }));
    if (items.length < n) this.exhausted = true;
    return items;
  }

  takeWaiting(n) { return this.take(n); }
}
