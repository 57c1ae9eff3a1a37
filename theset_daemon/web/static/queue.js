// One queue: its settings and actions, tabs by state, and a page of its jobs (newest first).

import { enc, get, post, query } from "./api.js";
import { fill, h, table } from "./dom.js";
import { ago, count, duration, priorityName, STATES } from "./format.js";
import { actionButton, badge, link } from "./ui.js";

const PAGE = 20;

function actions(q, refresh) {
  const act = (action) => async () => {
    const r = await post(`/api/admin/queues/${enc(q.name)}/${action}`);
    return `${q.name}: ${action} — ${count(r && r.affected)} affected`;
  };
  const buttons = [
    q.paused
      ? actionButton("Resume", { run: act("resume"), after: refresh, name: "resume" })
      : actionButton("Pause", { run: act("pause"), after: refresh, name: "pause" }),
    actionButton("Retry all failed", {
      run: act("retry-failed"), after: refresh, name: "retry-failed",
      confirm: ["Retry all failed jobs?", `Every dead letter of ${q.name} goes back to waiting, its attempts reset.`],
    }),
    actionButton("Clean", {
      run: act("clean"), after: refresh, name: "clean", danger: true,
      confirm: ["Clean old records?", `Completed job records and failure entries of ${q.name} past their retention are deleted.`],
    }),
    actionButton("Purge", {
      run: act("purge"), after: refresh, name: "purge", danger: true,
      confirm: ["Purge the queue?", `Every waiting and delayed job of ${q.name} is deleted and will never run.`],
    }),
  ].filter(Boolean);
  return buttons.length ? h("div", { class: "actions" }, buttons) : null;
}

function jobRow(job, state) {
  const finished = ["completed", "failed", "dead"].includes(state);
  return h("tr", { dataset: { job: job.jobId } },
    h("td", null, link(`#/job/${enc(job.jobId)}`, job.jobId, "mono")),
    h("td", null, job.actor),
    h("td", null, priorityName(job.priority)),
    h("td", { class: "num" }, count(job.attempts)),
    h("td", null, ago(finished && job.finishedAt ? job.finishedAt : job.enqueuedAt)),
    h("td", { class: "err" }, job.error ? String(job.error).slice(0, 160) : ""));
}

export function queueView({ name, state = "waiting" }) {
  const el = h("section", { class: "view queue-view" });
  const cursors = [""]; // cursors[i] = the cursor of page i
  let page = 0;
  let next = null;

  async function refresh() {
    const [overview, jobs] = await Promise.all([
      get("/api/admin/queues"),
      get(`/api/jobs${query({ queue: name, state, limit: PAGE, cursor: cursors[page] })}`),
    ]);
    const q = (overview.queues || []).find((x) => x.name === name);
    if (!q) {
      fill(el, h("div", { class: "notice bad" }, `No queue named ${name}.`));
      return;
    }
    next = jobs.nextCursor || null;
    const counts = q.counts || {};
    const move = (delta) => () => {
      if (delta > 0 && next) { cursors[page + 1] = next; page += 1; }
      if (delta < 0 && page > 0) page -= 1;
      refresh();
    };
    fill(el,
      h("p", { class: "crumbs" }, link("#/", "Overview"), " / ", name),
      h("h1", null, name, " ", q.paused ? badge("paused", "warn") : badge("running", "ok")),
      h("p", { class: "muted" },
        `concurrency ${q.concurrency} · rate limit ${q.rateLimit ?? "none"}${typeof q.rateLimit === "number" ? "/s" : ""}`,
        ` · default priority ${q.defaultPriority} · oldest waiting `,
        q.oldestWaitingAgeS === null || q.oldestWaitingAgeS === undefined ? "–" : duration(q.oldestWaitingAgeS * 1000)),
      actions(q, refresh),
      h("nav", { class: "tabs", "aria-label": "job states" }, STATES.map((s) =>
        h("a", { href: `#/queue/${enc(name)}/${s}`, class: s === state ? "tab on" : "tab", dataset: { tab: s } },
          s, " ", h("span", { class: "n" }, count(counts[s] || 0))))),
      table(["job", "actor", "priority", ["attempts", "num"], ["completed", "failed", "dead"].includes(state) ? "finished" : "enqueued", "error"],
        (jobs.jobs || []).map((j) => jobRow(j, state)), { empty: `No ${state} jobs.`, cls: "jobs" }),
      h("div", { class: "pager" },
        h("button", { type: "button", disabled: page === 0, onclick: move(-1) }, "← Newer"),
        h("span", { class: "muted" }, `page ${page + 1}`),
        h("button", { type: "button", disabled: !next, onclick: move(1) }, "Older →")));
  }
  return { name: "queue", el, refresh, interval: () => 5000 };
}
