// Where items come from: POST next/?n= leases them. The server hands the caller's own live
// leases back first (so a reload shows the same page); we ask for enough extra to skip the
// ones already on screen or waiting in the save queue.
import { api } from "./api.js";

export class ItemSource {
  constructor(config, queue) {
    this.config = config;
    this.queue = queue;
    this.seen = new Set();
    this.exhausted = false;
  }

  async take(n) {
    const held = [...this.seen].filter((id) => !this.queue.acked.has(id)).length;
    const data = await api("POST", this.config.urls.next(Math.min(200, n + held)));
    const fresh = data.items.filter((i) => !this.seen.has(i.item)).slice(0, n);
    for (const i of fresh) this.seen.add(i.item);
    if (!fresh.length) this.exhausted = true;
    return fresh;
  }
}
