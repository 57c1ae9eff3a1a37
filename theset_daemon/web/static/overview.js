// Overview: every queue (counts by state, waiting per priority, paused, limits,
// oldest waiting age, throughput) and every daemon, with a warning when work waits
// and no daemon is alive to run it.

import { get } from "./api.js";
import { fill, h, sparkline, table } from "./dom.js";
import { ago, count, duration, PRIORITIES, STATES } from "./format.js";
import { quotaSection } from "./quotas.js";
import { badge, link } from "./ui.js";

const SHORT = { CRITICAL: "crit", HIGH: "high", NORMAL: "norm", LOW: "low", BACKGROUND: "bg" };

function rate(value) {
  if (value === null || value === undefined || value === "") return "none";
  return typeof value === "number" ? `${value}/s` : String(value);
}

function warnings(queues, daemons) {
  const alive = daemons.filter((d) => d.alive);
  const notes = [];
  const waiting = queues.filter((q) => (q.counts.waiting || 0) + (q.counts.delayed || 0) > 0);
  if (!alive.length && waiting.length) {
    const jobs = waiting.reduce((n, q) => n + (q.counts.waiting || 0) + (q.counts.delayed || 0), 0);
    notes.push(h("div", { class: "notice bad", role: "alert", dataset: { warning: "no-daemon" } },
      h("strong", null, "No daemon is alive. "),
      `${count(jobs)} job(s) wait in ${waiting.map((q) => q.name).join(", ")} and nothing will run them.`));
  }
  if (alive.length) {
    for (const q of queues.filter((q) => q.unserved)) {
      notes.push(h("div", { class: "notice bad", role: "alert", dataset: { warning: "unserved", queue: q.name } },
        h("strong", null, `${q.name} has no daemon serving it. `),
        `${count((q.counts.waiting || 0) + (q.counts.delayed || 0))} job(s) wait; start a daemon whose THESET_QUEUES includes it.`));
    }
  }
  for (const q of queues.filter((q) => q.paused && q.counts.waiting > 0)) {
    notes.push(h("div", { class: "notice warn", dataset: { warning: "paused" } },
      h("strong", null, `${q.name} is paused `), `with ${count(q.counts.waiting)} job(s) waiting.`));
  }
  return notes;
}

function pair(name, value, key) {
  return h("div", { dataset: key ? { meta: key } : null }, h("dt", null, name), h("dd", null, value));
}

function queueCard(q, anyAlive) {
  const counts = q.counts || {};
  const byPriority = q.waitingByPriority || {};
  const perMin = q.throughputPerMin || [];
  const lastMin = perMin.length ? perMin[perMin.length - 1] : 0;
  const stranded = (!anyAlive || q.unserved) && !q.paused && counts.waiting > 0;
  return h("article", { class: `card queue${q.paused ? " paused" : ""}`, dataset: { queue: q.name } },
    h("header", null,
      link(`#/queue/${encodeURIComponent(q.name)}/waiting`, q.name, "qname"),
      q.paused ? badge("paused", "warn") : null,
      stranded ? badge("no daemon", "bad") : null),
    h("div", { class: "counts" }, STATES.map((state) =>
      h("a", { class: `count ${state}${counts[state] ? "" : " zero"}`, href: `#/queue/${encodeURIComponent(q.name)}/${state}`,
               dataset: { state }, title: `${state}: ${counts[state] || 0}` },
        h("span", { class: "n", dataset: { count: state } }, count(counts[state] || 0)),
        h("span", { class: "label" }, state)))),
    h("div", { class: "prio", title: "waiting by priority" }, PRIORITIES.map((p) =>
      h("span", { class: `p${byPriority[p] ? "" : " zero"}`, title: `${p}: ${byPriority[p] || 0} waiting`, dataset: { priority: p } },
        h("span", { class: "label" }, SHORT[p]), " ", count(byPriority[p] || 0)))),
    h("dl", { class: "meta" },
      pair("concurrency", count(q.concurrency)),
      pair("served by", (q.servedBy || []).map((d) => `${d.hostId} (${d.concurrency})`).join(", ") || "none", "served-by"),
      pair("rate limit", rate(q.rateLimit)),
      pair("priority", q.defaultPriority || "–"),
      pair("oldest waiting", q.oldestWaitingAgeS === null || q.oldestWaitingAgeS === undefined
        ? "–" : duration(q.oldestWaitingAgeS * 1000), "oldest")),
    h("div", { class: "throughput" },
      sparkline(perMin, { label: `${q.name}: jobs finished per minute, last ${perMin.length} minutes` }),
      h("span", { class: "muted" }, `${count(lastMin)}/min`)));
}

function daemonTable(daemons) {
  const rows = daemons.map((d) => {
    const jobs = (d.activeJobs || []).slice(0, 6).map((j) => {
      const id = typeof j === "string" ? j : j.jobId;
      const label = typeof j === "string" ? j : `${j.actor || ""} ${j.jobId}`.trim();
      return link(`#/job/${encodeURIComponent(id)}`, label, "job-chip");
    });
    const more = (d.activeJobs || []).length > 6 ? h("span", { class: "muted" }, ` +${d.activeJobs.length - 6}`) : null;
    return h("tr", { dataset: { host: d.hostId } },
      h("td", null, h("code", null, d.hostId)),
      h("td", null, d.alive ? badge("alive", "ok") : badge("gone", "bad")),
      h("td", { class: "num" }, count(d.active)),
      h("td", null, ago(d.lastHeartbeat)),
      h("td", { class: "jobs" }, jobs.length ? [jobs, more] : h("span", { class: "muted" }, "idle")));
  });
  return table(["host", "state", ["active", "num"], "last heartbeat", "running jobs"], rows, { empty: "No daemon has reported in." });
}

export function overview() {
  const el = h("section", { class: "view overview" });
  async function refresh() {
    const [data, quotas] = await Promise.all([get("/api/admin/queues"), get("/api/admin/quotas").catch(() => null)]);
    const queues = data.queues || [];
    const daemons = data.daemons || [];
    const anyAlive = daemons.some((d) => d.alive);
    const total = (state) => queues.reduce((n, q) => n + ((q.counts || {})[state] || 0), 0);
    const perMin = queues.reduce((n, q) => n + ((q.throughputPerMin || []).slice(-1)[0] || 0), 0);
    fill(el,
      h("h1", null, "Overview"),
      warnings(queues, daemons),
      h("div", { class: "totals" },
        ["waiting", "delayed", "active", "failed", "dead"].map((s) =>
          h("div", { class: `total ${s}${total(s) ? "" : " zero"}` }, h("span", { class: "n" }, count(total(s))), h("span", { class: "label" }, s))),
        h("div", { class: "total" }, h("span", { class: "n" }, count(perMin)), h("span", { class: "label" }, "done/min"))),
      quotaSection(quotas),
      h("h2", null, `Daemons (${daemons.filter((d) => d.alive).length} alive)`),
      daemonTable(daemons),
      h("h2", null, "Queues"),
      h("div", { class: "cards" }, queues.map((q) => queueCard(q, anyAlive))));
  }
  return { name: "overview", el, refresh, interval: () => 3000 };
}
