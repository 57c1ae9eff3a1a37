// Dead letters: jobs that will not run again by themselves, with reason and time;
// retried one by one, by selection or by queue; purged.

import { api, enc, firstItems, get, post, query } from "./api.js";
import { fill, h, table } from "./dom.js";
import { ago, count, when } from "./format.js";
import { actionButton, link } from "./ui.js";

const LIMIT = 100;

export function deadView({ queue = "" }) {
  const el = h("section", { class: "view dead-view" });
  const selected = new Set();
  let names = [];
  let shown = LIMIT;

  async function refresh() {
    const [letters, overview] = await Promise.all([
      firstItems("/api/admin/dlq", { queue }, "deadLetters", shown),
      names.length ? null : get("/api/admin/queues"),
    ]);
    if (overview) names = (overview.queues || []).map((q) => q.name);
    const items = letters.items;
    const ids = new Set(items.map((x) => x.jobId));
    for (const id of [...selected]) if (!ids.has(id)) selected.delete(id);
    const scope = queue || "every queue";
    const retry = (body, what) => async () => {
      const r = await post("/api/admin/dlq/retry", body);
      selected.clear();
      return `${count(r && r.retried)} ${what} retried`;
    };
    const buttons = [
      actionButton("Retry selected", { name: "retry-selected", after: refresh, run: async () => {
        if (!selected.size) throw new Error("select dead letters first");
        return retry({ jobIds: [...selected] }, "selected job(s)")();
      } }),
      actionButton(queue ? `Retry all in ${queue}` : `Retry all ${items.length} listed`, {
        name: "retry-all", after: refresh,
        confirm: ["Retry dead letters?", queue ? `Every dead letter of ${queue} runs again.` : `The ${items.length} dead letters listed run again.`],
        run: queue ? retry({ queue }, "dead letter(s)") : retry({ jobIds: items.map((x) => x.jobId) }, "dead letter(s)"),
      }),
      actionButton("Purge", {
        name: "purge", danger: true, after: refresh,
        confirm: ["Purge dead letters?", `Every dead letter of ${scope} is deleted for good.`],
        run: async () => { const r = await api("DELETE", `/api/admin/dlq${query({ queue })}`); return `${count(r && r.purged)} dead letter(s) purged`; },
      }),
    ].filter(Boolean);

    const picker = h("select", { "aria-label": "queue", onchange: (e) => {
      window.location.hash = e.target.value ? `#/dead/${enc(e.target.value)}` : "#/dead";
    } }, h("option", { value: "" }, "all queues"), names.map((n) => h("option", { value: n, selected: n === queue ? true : null }, n)));
    picker.value = queue;

    const rows = items.map((x) => {
      const box = buttons.length
        ? h("input", { type: "checkbox", checked: selected.has(x.jobId), "aria-label": `select ${x.jobId}`,
                       onchange: (e) => (e.target.checked ? selected.add(x.jobId) : selected.delete(x.jobId)) })
        : null;
      const at = x.lastFailedAt || x.finishedAt;
      return h("tr", { dataset: { job: x.jobId } },
        buttons.length ? h("td", null, box) : null,
        h("td", null, link(`#/job/${enc(x.jobId)}`, x.jobId, "mono")),
        h("td", null, x.queue),
        h("td", null, x.actor),
        h("td", null, x.reason || "–"),
        h("td", { class: "err" }, String(x.error || x.excType || "").slice(0, 160)),
        h("td", { title: when(at) }, ago(at)));
    });
    const headers = [...(buttons.length ? [""] : []), "job", "queue", "actor", "reason", "error", "dead since"];
    fill(el,
      h("h1", null, "Dead letters"),
      h("div", { class: "toolbar" }, picker, buttons),
      table(headers, rows, { empty: `No dead letters in ${scope}.`, cls: "jobs" }),
      letters.more
        ? h("div", { class: "pager" }, h("span", { class: "muted" }, `Showing the newest ${count(items.length)}.`),
            h("button", { type: "button", dataset: { action: "more" }, onclick: () => { shown += LIMIT; refresh(); } }, "More"))
        : null);
  }
  return { name: "dead", el, refresh, interval: () => 10000 };
}
