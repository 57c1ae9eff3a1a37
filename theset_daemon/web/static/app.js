// The page: sign-in, the hash router, and the refresh loop.
//
// Views refresh themselves on an interval while the tab is visible, never while it is
// hidden (an idle dashboard costs Redis nothing), and at once when it comes back.
// Running imports are followed over SSE instead of polled.

import { ApiError, loadSession, session, signIn, signOut, signOutEverywhere } from "./api.js";
import { deadView } from "./dead.js";
import { fill, h } from "./dom.js";
import { importsView } from "./imports.js";
import { jobView } from "./job.js";
import { jobsView } from "./jobs.js";
import { overview } from "./overview.js";
import { queueView } from "./queue.js";
import { schedulesView } from "./schedules.js";
import { confirmAction, errorText, failure, toast } from "./ui.js";

const main = document.getElementById("main");
const live = document.getElementById("live");
let current = null; // the mounted view
let timer = null;
let lastLoad = 0;

/** The view for a hash: #/, #/queue/<name>/<state>, #/job/<id>, #/jobs?filters, #/dead[/<queue>], #/schedules, #/imports */
function route(hash) {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map((p) => decodeURIComponent(p));
  switch (parts[0]) {
    case "jobs": return jobsView(Object.fromEntries(new URLSearchParams(search)));
    case "queue": return queueView({ name: parts[1], state: parts[2] || "waiting" });
    case "job": return jobView({ id: parts.slice(1).join("/") });
    case "dead": return deadView({ queue: parts[1] || "" });
    case "schedules": return schedulesView();
    case "imports": return importsView();
    default: return overview();
  }
}

async function load() {
  const view = current;
  if (!view || view.busy) return;
  view.busy = true;
  try {
    await view.refresh();
    if (view === current) { lastLoad = Date.now(); view.failed = false; }
  } catch (err) {
    if (view === current && !(err instanceof ApiError && err.status === 401)) {
      if (!view.failed) fill(view.el, failure(err));
      view.failed = true;
    }
  } finally {
    view.busy = false;
    showLive();
  }
}

function schedule() {
  clearTimeout(timer);
  if (!current || document.hidden) return;
  timer = setTimeout(async () => { await load(); schedule(); }, current.interval());
}

function showLive() {
  live.hidden = !current;
  if (document.hidden) live.textContent = "paused";
  else live.textContent = lastLoad ? `updated ${new Date(lastLoad).toLocaleTimeString()}` : "loading";
}

function mount() {
  if (!session.signedIn) return;
  if (current && current.stop) current.stop();
  current = route(window.location.hash);
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("on", a.dataset.nav === current.name || (a.dataset.nav === "overview" && current.name === "queue"));
  }
  fill(main, current.el);
  if (!current.el.firstChild) fill(current.el, h("p", { class: "muted" }, "Loading…"));
  lastLoad = 0;
  load().then(schedule);
}

function chrome(signedIn) {
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  document.getElementById("sign-out-everywhere").hidden = !signedIn;
  document.getElementById("readonly-badge").hidden = !(signedIn && session.readOnly);
  live.hidden = !signedIn;
}

function showLogin(message) {
  if (current && current.stop) current.stop();
  current = null;
  clearTimeout(timer);
  chrome(false);
  const input = h("input", { type: "password", name: "token", id: "token", autocomplete: "current-password", required: true,
                             placeholder: "THESET_ADMIN_TOKEN" });
  const status = h("p", { class: "login-error", role: "alert" }, message || "");
  const form = h("form", { class: "login card", method: "post", action: "/dashboard/login" },
    h("h1", null, "Sign in"),
    h("p", { class: "muted" }, "Use the daemon's admin token. The session lasts 8 hours in this browser."),
    h("label", { for: "token" }, "Admin token"), input, status,
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    try {
      await signIn(input.value);
      input.value = "";
      start();
    } catch (err) {
      status.textContent = err instanceof ApiError && err.status === 401 ? "That is not the admin token." : errorText(err);
    }
  });
  fill(main, form);
  input.focus();
}

function start() {
  chrome(true);
  mount();
}

window.addEventListener("hashchange", mount);
window.addEventListener("signed-out", () => {
  if (!document.querySelector("form.login")) showLogin("Your session ended; sign in again.");
});
document.addEventListener("visibilitychange", () => {
  showLive();
  if (document.hidden) clearTimeout(timer);
  else load().then(schedule);
});
document.getElementById("sign-out").addEventListener("click", async () => {
  try { await signOut(); } catch (err) { toast(errorText(err), "error"); }
  showLogin("Signed out.");
});
document.getElementById("sign-out-everywhere").addEventListener("click", async () => {
  if (!(await confirmAction("Sign out everywhere?", "Every dashboard session ends, on every daemon, this one too.",
                            "Sign out everywhere"))) return;
  let message = "Every session ended.";
  try { message = `${await signOutEverywhere()} session(s) ended.`; } catch (err) { toast(errorText(err), "error"); }
  showLogin(message);
});

loadSession()
  .then((signedIn) => (signedIn ? start() : showLogin()))
  .catch((err) => fill(main, failure(err)));
