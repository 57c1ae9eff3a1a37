// Job search: by queue, state, actor, a substring of the arguments or the error, and enqueue time.
// The filters live in the hash (#/jobs?q=…&state=…), so a search is a link; results come newest
// first within each queue and state, a page at a time ("More" follows the API's cursor).

import { enc, get, query } from "./api.js";
import { fill, h, table } from "./dom.js";
import { ago, count, priorityName, STATES, when } from "./format.js";
import { link, stateBadge } from "./ui.js";

const PAGE = 50;
const FILTERS = ["queue", "state", "actor", "q", "since", "until"];

/** A datetime-local input's value for ms since the epoch (local time), or "". */
function inputTime(ms) {
  if (!ms) return "";
  const d = new Date(Number(ms));
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function row(job) {
  return h("tr", { dataset: { job: job.jobId } },
    h("td", null, link(`#/job/${enc(job.jobId)}`, job.jobId, "mono")),
    h("td", null, link(`#/queue/${enc(job.queue)}/${job.state}`, job.queue)),
    h("td", null, job.actor),
    h("td", null, stateBadge(job.state)),
    h("td", null, priorityName(job.priority)),
    h("td", { class: "num" }, count(job.attempts)),
    h("td", { title: when(job.enqueuedAt) }, ago(job.enqueuedAt)),
    h("td", { class: "err" }, job.error ? String(job.error).slice(0, 160) : ""));
}

export function jobsView(params = {}) {
  const el = h("section", { class: "view jobs-view" });
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params[k] || ""]));
  const limit = Math.max(1, Math.min(200, Number(params.limit) || PAGE));
  const found = [];
  let next = null;
  let names = [];
  let started = false;

  function form() {
    const field = (label, input) => h("label", { class: "field" }, h("span", null, label), input);
    const select = (name, options, all) => h("select", { name, "aria-label": name },
      h("option", { value: "" }, all), options.map((o) => h("option", { value: o, selected: o === filters[name] ? true : null }, o)));
    const text = (name, placeholder) => h("input", { type: "search", name, value: filters[name], placeholder, maxlength: 200 });
    const time = (name) => h("input", { type: "datetime-local", name, value: inputTime(filters[name]) });
    const box = h("form", { class: "search toolbar", role: "search" },
      field("queue", select("queue", names, "any queue")),
      field("state", select("state", STATES, "any state")),
      field("actor", text("actor", "actor name")),
      field("text", text("q", "in arguments or error")),
      field("enqueued after", time("since")),
      field("enqueued before", time("until")),
      h("button", { type: "submit", class: "primary", dataset: { action: "search" } }, "Search"));
    box.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(box);
      const wanted = {};
      for (const key of FILTERS) {
        const value = String(data.get(key) || "").trim();
        if (!value) continue;
        wanted[key] = key === "since" || key === "until" ? String(new Date(value).getTime()) : value;
      }
      if (params.limit) wanted.limit = params.limit;
      window.location.hash = `#/jobs${query(wanted)}`;
    });
    return box;
  }

  function render() {
    const status = next
      ? `${count(found.length)} found so far; more may match`
      : `${count(found.length)} found (searched to the end)`;
    fill(el,
      h("h1", null, "Jobs"),
      form(),
      h("p", { class: "muted", dataset: { role: "search-status" } }, status),
      table(["job", "queue", "actor", "state", "priority", ["attempts", "num"], "enqueued", "error"],
        found.map(row), { empty: "No job matches.", cls: "jobs search-results" }),
      next ? h("div", { class: "pager" },
        h("button", { type: "button", dataset: { action: "more" }, onclick: more }, "More")) : null);
  }

  async function load(cursor) {
    const page = await get(`/api/jobs${query({ ...filters, limit, cursor })}`);
    found.push(...(page.jobs || []));
    next = page.nextCursor || null;
    render();
  }

  async function more() {
    if (next) await load(next);
  }

  async function refresh() {
    if (started) return; // results stay put while the operator reads them; Search starts over
    started = true;
    const overview = await get("/api/admin/queues");
    names = (overview.queues || []).map((q) => q.name);
    await load(null);
  }
  return { name: "jobs", el, refresh, interval: () => 60000 };
}
