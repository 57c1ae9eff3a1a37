// One job: arguments, options, timings and state history, progress, attempts,
// error and traceback; retry, promote (run a delayed one now) and remove.

import { del, enc, get, post } from "./api.js";
import { fill, h, jsonBlock, table } from "./dom.js";
import { ago, count, duration, priorityName, toMs, when } from "./format.js";
import { actionButton, link, stateBadge } from "./ui.js";

const LIVE = new Set(["waiting", "delayed", "active", "failed"]);

function span(from, to) {
  const a = toMs(from);
  const b = toMs(to);
  return a === null || b === null ? "–" : duration(b - a);
}

function progressBlock(progress) {
  if (progress === null || progress === undefined || progress === "") return h("span", { class: "muted" }, "none reported");
  const value = typeof progress === "number" ? progress : Number(progress);
  if (!Number.isNaN(value) && String(progress).trim() !== "") {
    const pct = Math.max(0, Math.min(100, value));
    return h("div", { class: "bar" }, h("progress", { max: 100, value: pct }), h("span", null, `${pct}%`));
  }
  let parsed = progress;
  try { parsed = JSON.parse(progress); } catch { /* plain text */ }
  return typeof parsed === "string" ? h("span", null, parsed) : jsonBlock(parsed);
}

function history(items) {
  if (!Array.isArray(items) || !items.length) return null;
  const simple = items.every((x) => x && typeof x === "object" && "state" in x);
  if (!simple) return [h("h2", null, "History"), jsonBlock(items)];
  const rows = items.map((x) => {
    const rest = Object.fromEntries(Object.entries(x).filter(([k]) => !["state", "at", "ts", "time"].includes(k)));
    return [stateBadge(x.state), when(x.at ?? x.ts ?? x.time), Object.keys(rest).length ? JSON.stringify(rest) : ""];
  });
  return [h("h2", null, "State history"), table(["state", "at", "details"], rows)];
}

/** The job's log (current_job().log): time, attempt, text; lines are text, never markup. */
function logBlock(lines, dropped) {
  const items = Array.isArray(lines) ? lines : [];
  const rows = items.map((line) => h("tr", null,
    h("td", { class: "mono" }, when(line.at)),
    h("td", { class: "num" }, line.attempt ?? "–"),
    h("td", null, h("span", { class: "log-text" }, String(line.text ?? "")))));
  return [
    h("h2", null, "Log"),
    dropped ? h("p", { class: "muted" }, `${count(dropped)} older lines were let go (the record keeps the newest 32 KiB).`) : null,
    table(["at", ["attempt", "num"], "line"], rows, { empty: "The job logged nothing.", cls: "job-log" }),
  ];
}

function fact(name, value) {
  return [h("dt", null, name), h("dd", null, value === null || value === undefined || value === "" ? "–" : value)];
}

function actions(job, refresh) {
  const id = enc(job.jobId);
  const buttons = [
    ["failed", "dead"].includes(job.state)
      ? actionButton("Retry", { name: "retry", after: refresh, run: async () => { await post(`/api/jobs/${id}/retry`); return `Job ${job.jobId} queued again`; } })
      : null,
    ["delayed", "failed"].includes(job.state)
      ? actionButton("Promote", { name: "promote", after: refresh, run: async () => { await post(`/api/jobs/${id}/promote`); return `Job ${job.jobId} runs now`; } })
      : null,
    job.state !== "active"
      ? actionButton("Remove", {
          name: "remove", danger: true,
          confirm: ["Remove this job?", `Job ${job.jobId} (${job.actor}) is deleted${job.state === "waiting" || job.state === "delayed" ? " and will never run" : ""}.`],
          run: async () => { await del(`/api/jobs/${id}`); return `Job ${job.jobId} removed`; },
          after: () => { window.location.hash = `#/queue/${enc(job.queue)}/${job.state}`; },
        })
      : null,
  ].filter(Boolean);
  return buttons.length ? h("div", { class: "actions" }, buttons) : null;
}

export function jobView({ id }) {
  const el = h("section", { class: "view job-view" });
  let state = "waiting";
  async function refresh() {
    const job = await get(`/api/jobs/${enc(id)}`);
    state = job.state;
    fill(el,
      h("p", { class: "crumbs" }, link("#/", "Overview"), " / ",
        link(`#/queue/${enc(job.queue)}/${job.state}`, job.queue), " / ", h("span", { class: "mono" }, job.jobId)),
      h("h1", null, h("span", { class: "mono" }, job.actor), " ", stateBadge(job.state)),
      actions(job, refresh),
      h("dl", { class: "facts" },
        fact("job id", h("code", null, job.jobId)),
        fact("queue", link(`#/queue/${enc(job.queue)}/waiting`, job.queue)),
        fact("priority", priorityName(job.priority)),
        fact("attempts", `${count(job.attempts)} of ${count(job.maxAttempts)}`),
        fact("owner", job.owner),
        fact("enqueued", job.enqueuedAt ? `${when(job.enqueuedAt)} (${ago(job.enqueuedAt)})` : null),
        fact("started", job.startedAt ? when(job.startedAt) : null),
        fact("finished", job.finishedAt ? when(job.finishedAt) : null),
        fact("due", job.dueAt ? `${when(job.dueAt)} (${ago(job.dueAt)})` : null),
        fact("waited", span(job.enqueuedAt, job.startedAt)),
        fact("ran", span(job.startedAt, job.finishedAt)),
        fact("failures", job.failures ? count(job.failures) : null),
        fact("first failed", job.firstFailedAt ? when(job.firstFailedAt) : null),
        fact("last failed", job.lastFailedAt ? when(job.lastFailedAt) : null),
        fact("dead because", job.reason),
        job.handbacks ? fact("handed back", count(job.handbacks)) : null,
        job.reclaims ? fact("reclaimed", count(job.reclaims)) : null,
        job.postpones ? fact("postponed", count(job.postpones)) : null,
        job.requestedBy ? fact("requested by", job.requestedBy) : null),
      h("h2", null, "Progress"), h("div", { class: "progress-block" }, progressBlock(job.progress)),
      h("h2", null, "Arguments"),
      h("div", { class: "two" },
        h("div", null, h("h3", null, "args"), jsonBlock(job.args ?? [], "code args")),
        h("div", null, h("h3", null, "kwargs"), jsonBlock(job.kwargs ?? {}, "code kwargs"))),
      h("h2", null, "Options"), jsonBlock(job.options ?? {}, "code options"),
      job.error || job.traceback
        ? [h("h2", null, "Error"),
           h("p", { class: "error-line" }, h("strong", null, job.excType || "error"), job.error ? [": ", job.error] : null),
           job.traceback ? h("pre", { class: "code traceback" }, job.traceback) : null]
        : null,
      history(job.history),
      logBlock(job.logs, job.logsDropped));
  }
  return { name: "job", el, refresh, interval: () => (LIVE.has(state) ? 2000 : 15000) };
}
