// Provider quotas on the overview: each provider's daily budget (used by kind of work,
// left, the reserve kept for imports, reset), what the queued work is expected to cost,
// and a warning when queued recurring work will not fit before the reset.

import { h, svg } from "./dom.js";
import { ago, count, when } from "./format.js";
import { badge } from "./ui.js";

function pair(name, value, key) {
  return h("div", { dataset: key ? { meta: key } : null }, h("dt", null, name), h("dd", null, value));
}

function bar(q) {
  if (!q.limit) return h("div", { class: "muted" }, `${count(q.used)} calls this window (no published quota)`);
  // SVG widths, not style attributes: the page's CSP allows no inline styles
  const pct = (n) => Math.min(100, (100 * n) / q.limit);
  const person = pct(q.byKind.person);
  const recurring = pct(q.byKind.recurring + q.other);
  const reserve = Math.ceil(q.limit * q.reserve);
  return svg("svg", { class: "quota-bar", viewBox: "0 0 100 6", preserveAspectRatio: "none", role: "img",
                      "aria-label": `${q.used} of ${q.limit} calls used; ${reserve} kept for imports` },
    svg("rect", { class: "free", x: 0, y: 0, width: 100, height: 6 }),
    svg("rect", { class: "person", x: 0, y: 0, width: person, height: 6 }),
    svg("rect", { class: "recurring", x: person, y: 0, width: Math.min(recurring, 100 - person), height: 6 }),
    svg("rect", { class: "reserve", x: pct(q.limit - reserve), y: 0, width: 0.6, height: 6 }));
}

function card(q) {
  const f = q.forecast;
  return h("article", { class: `card quota${f.warning ? " paused" : ""}`, dataset: { provider: q.provider } },
    h("header", null, h("strong", null, q.provider),
      q.holdUntil ? badge("quota spent", "bad") : null,
      f.recurringFits === false ? badge("recurring won't fit", "warn") : null),
    bar(q),
    h("dl", { class: "meta" },
      pair("used", q.limit ? `${count(q.used)} / ${count(q.limit)}` : count(q.used), "used"),
      pair("left", q.remaining === null ? "no limit" : count(q.remaining), "remaining"),
      pair("for recurring", q.recurringRemaining === null ? "–" : count(q.recurringRemaining), "recurring-left"),
      pair("imports", count(q.byKind.person)),
      pair("recurring", count(q.byKind.recurring)),
      q.other ? pair("other clients", count(q.other)) : null,
      pair("held", `${count(q.held.person)} / ${count(q.held.recurring)}`, "held"),
      pair("reset", q.resetAt ? `${when(q.resetAt)} (${ago(q.resetAt)})` : "at the next call", "reset"),
      pair("queued cost", `${count(f.expected.person)} imports · ${count(f.expected.recurring)} recurring`, "queued"),
      f.nextWindow.recurring || f.nextWindow.person
        ? pair("next window", `${count(f.nextWindow.person + f.nextWindow.recurring)} calls held`, "next") : null));
}

/** The "Provider quotas" section, with warnings above the cards. */
export function quotaSection(data) {
  const providers = (data && data.providers) || [];
  if (!providers.length) return null;
  const warnings = providers.filter((q) => q.forecast.warning).map((q) =>
    h("div", { class: "notice warn", dataset: { warning: "quota" } }, h("strong", null, `${q.provider}: `), q.forecast.warning));
  const spent = providers.filter((q) => q.holdUntil).map((q) =>
    h("div", { class: "notice bad", dataset: { warning: "quota-spent" } },
      h("strong", null, `${q.provider} refused for quota: `), `every call waits until ${when(q.holdUntil)}.`));
  return [h("h2", null, "Provider quotas"), spent, warnings, h("div", { class: "cards" }, providers.map(card))];
}
