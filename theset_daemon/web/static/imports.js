// Imports: running and recent artist imports, each running one with a live progress
// bar fed by its signed SSE stream (the same one the web app follows).

import { firstItems, samePath } from "./api.js";
import { fill, h, labelCells } from "./dom.js";
import { ago, toMs, when } from "./format.js";
import { badge } from "./ui.js";

const COLUMNS = ["attraction", "status", "progress", "started", "updated"];
const FINAL = new Set(["completed", "failed"]);
// Imports per page of the list ("Older imports" adds a page).
const PAGE = 30;
const STATUS_KIND = { completed: "ok", failed: "bad", running: "run", pending: "info", queued: "info" };

const PHASE_MARK = { done: "\u2713", failed: "\u2717", pending: "\u2026", enqueued: "\u2026" };

/** "artist ✓ · catalog 40% · shows …": each phase's state ({state, progress} per phase name). */
function phaseLine(phases) {
  return Object.entries(phases)
    .map(([name, p]) => `${name} ${PHASE_MARK[p.state] || `${Number(p.progress) || 0}%`}`)
    .join(" \u00b7 ");
}

/** An import error ({code, message}) as one line of text. */
function errorLine(error) {
  return error ? `${error.code}: ${error.message}` : "";
}

/** One import's row, updated in place by list refreshes and by its event stream. */
class ImportRow {
  constructor(item) {
    this.id = item.importId;
    this.source = null;
    this.bar = h("progress", { max: 100, value: 0 });
    this.pct = h("span", { class: "pct" });
    this.status = h("span");
    this.stage = h("div", { class: "muted small phases" });
    this.message = h("div", { class: "muted small msg" });
    this.created = h("td", { title: when(item.createdAt) });
    this.updated = h("td");
    this.createdAt = item.createdAt;
    this.updatedAt = null;
    this.live = h("span", { class: "live-dot", title: "live", hidden: true });
    this.el = h("tr", { dataset: { import: this.id } },
      h("td", null, h("strong", null, item.tmAttractionId), h("div", { class: "muted small mono" }, this.id)),
      h("td", null, this.status, " ", this.live),
      h("td", { class: "progress-cell" }, h("div", { class: "bar" }, this.bar, this.pct), this.stage, this.message),
      this.created,
      this.updated);
    labelCells([this.el], COLUMNS);
    this.update(item);
  }

  update(data) {
    const progress = Math.max(Number(this.bar.value) || 0, Math.min(100, Number(data.progress) || 0));
    this.bar.value = progress;
    this.bar.setAttribute("aria-label", `${this.id}: ${progress}%`);
    this.pct.textContent = `${progress}%`;
    if (data.status) {
      this.statusValue = data.status;
      fill(this.status, badge(data.status, STATUS_KIND[data.status] || ""));
    }
    if (data.phases) this.stage.textContent = phaseLine(data.phases);
    if (data.message !== undefined || data.error) this.message.textContent = errorLine(data.error) || data.message || "";
    const at = toMs(data.updatedAt);
    if (at) this.updatedAt = Math.max(this.updatedAt || 0, at);
    this.tick();
  }

  /** Re-render the relative times ("3 s ago"). */
  tick() {
    this.created.textContent = ago(this.createdAt);
    this.updated.textContent = ago(this.updatedAt);
    this.updated.title = when(this.updatedAt);
  }

  /** Follow the import's stream while it runs (once; a list refresh brings a fresh URL if it ends). */
  follow(eventsUrl) {
    if (this.source || !eventsUrl || FINAL.has(this.statusValue)) return;
    const source = new EventSource(samePath(eventsUrl));
    this.source = source;
    this.live.hidden = false;
    const onData = (event) => {
      try { this.update(JSON.parse(event.data)); } catch { /* a malformed event changes nothing */ }
    };
    source.addEventListener("snapshot", onData);
    source.addEventListener("progress", onData);
    source.addEventListener("done", (event) => { onData(event); this.close(); });
    source.addEventListener("error", () => { if (source.readyState === EventSource.CLOSED) this.close(); });
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
    this.live.hidden = true;
  }
}

export function importsView() {
  const el = h("section", { class: "view imports-view" });
  const rows = new Map();
  const body = h("tbody");
  const empty = h("p", { class: "muted" }, "No imports yet.");
  let shown = PAGE;
  const more = h("button", { type: "button", hidden: true, dataset: { action: "more" },
                             onclick: () => { shown += PAGE; refresh(); } }, "Older imports");
  fill(el, h("h1", null, "Imports"),
    h("p", { class: "muted" }, "Running imports update live from their event streams."),
    h("div", { class: "table-wrap" }, h("table", { class: "imports" },
      h("thead", null, h("tr", null, COLUMNS.map((x) => h("th", null, x)))),
      body)),
    empty, h("div", { class: "pager" }, more));

  async function refresh() {
    const data = await firstItems("/api/admin/imports", {}, "imports", shown);
    const items = data.items;
    more.hidden = !data.more;
    const order = [];
    for (const item of items) {
      let row = rows.get(item.importId);
      if (!row) { row = new ImportRow(item); rows.set(item.importId, row); }
      else if (!row.source) row.update(item);
      else row.tick();
      row.follow(item.eventsUrl);
      order.push(row.el);
    }
    for (const [id, row] of rows) if (!items.some((x) => x.importId === id)) { row.close(); rows.delete(id); }
    body.replaceChildren(...order);
    empty.hidden = items.length > 0;
  }
  function stop() { for (const row of rows.values()) row.close(); }
  return { name: "imports", el, refresh, stop, interval: () => 5000 };
}
