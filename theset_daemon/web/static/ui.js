// Shared pieces of the page: toasts, the confirmation dialog, action buttons, badges.

import { ApiError, session } from "./api.js";
import { h } from "./dom.js";

/** A short message in the corner; errors stay longer. */
export function toast(text, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: `toast ${kind}` }, text);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

export function errorText(err) {
  if (err instanceof ApiError) return `${err.status} ${err.code}: ${err.message}`;
  return String(err && err.message ? err.message : err);
}

/** Ask before a destructive action; resolves true when confirmed. */
export function confirmAction(title, text, okLabel = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/**
 * A button that runs an action (an API call), or null in read-only mode: the
 * buttons are not drawn, and the server refuses the calls anyway.
 *
 * options: run (async, returns a message or nothing), confirm ([title, text]),
 * danger, after (called after success, e.g. refresh), name (data-action for tests).
 */
export function actionButton(label, { run, confirm, danger = false, after, name }) {
  if (session.readOnly) return null;
  const button = h("button", { type: "button", class: danger ? "danger" : "", dataset: { action: name || label } }, label);
  button.addEventListener("click", async () => {
    if (confirm && !(await confirmAction(confirm[0], confirm[1], label))) return;
    button.disabled = true;
    try {
      const message = await run();
      toast(message || `${label}: done`, "ok");
      if (after) await after();
    } catch (err) {
      toast(`${label} failed — ${errorText(err)}`, "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

const STATE_KIND = { waiting: "info", delayed: "muted", active: "run", completed: "ok", failed: "warn", dead: "bad" };

export function stateBadge(state) {
  return badge(state || "?", STATE_KIND[state] || "");
}

/** A link inside the page. */
export function link(hash, text, cls) {
  return h("a", { href: hash, class: cls }, text);
}

/** An error box in place of a view's content. */
export function failure(err) {
  return h("div", { class: "notice bad" }, `Could not load: ${errorText(err)}`);
}
