// Schedules: each recurring job with its cron, last and next run, last outcome, and "run now".

import { enc, get, post } from "./api.js";
import { fill, h, table } from "./dom.js";
import { ago, when } from "./format.js";
import { actionButton, badge, link } from "./ui.js";

const OUTCOME = { ok: "ok", success: "ok", completed: "ok", enqueued: "info", failed: "bad", error: "bad", dead: "bad" };

export function schedulesView() {
  const el = h("section", { class: "view schedules-view" });
  const launched = new Map(); // schedule name -> job id from "run now"

  async function refresh() {
    const data = await get("/api/admin/schedules");
    const rows = (data.schedules || []).map((s) => {
      const run = actionButton("Run now", {
        name: "run-now", after: refresh,
        run: async () => {
          const r = await post(`/api/admin/schedules/${enc(s.name)}/run`);
          launched.set(s.name, r.jobId);
          return `${s.name}: enqueued job ${r.jobId}`;
        },
      });
      const job = launched.get(s.name) || s.lastJobId;
      return h("tr", { dataset: { schedule: s.name } },
        h("td", null, h("strong", null, s.name), h("div", { class: "muted small" }, `${s.actor} → ${s.queue}`)),
        h("td", null, h("code", null, s.cron), s.timezone ? h("div", { class: "muted small" }, s.timezone) : null),
        h("td", { title: when(s.lastRunAt) }, s.lastRunAt ? ago(s.lastRunAt) : "never"),
        h("td", null, s.lastOutcome ? badge(s.lastOutcome, OUTCOME[s.lastOutcome] || "") : "–"),
        h("td", { title: when(s.nextRunAt) }, s.nextRunAt ? `${when(s.nextRunAt)} (${ago(s.nextRunAt)})` : "–"),
        h("td", null, run, job ? h("div", { class: "small" }, link(`#/job/${enc(job)}`, "last job")) : null));
    });
    fill(el, h("h1", null, "Schedules"),
      table(["schedule", "cron", "last run", "outcome", "next run", ""], rows, { empty: "No schedules are loaded." }));
  }
  return { name: "schedules", el, refresh, interval: () => 15000 };
}
