// Times, ages and numbers as the operator reads them.

/** Milliseconds since the epoch from ms, seconds or an ISO string; null when absent. */
export function toMs(value) {
  if (value === null || value === undefined || value === "") return null;
  const num = typeof value === "number" ? value : /^\d+(\.\d+)?$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isNaN(num)) return num < 1e11 ? num * 1000 : num;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

/** "4 s", "3 min", "2 h 5 min", "3 d" */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  const s = Math.max(0, ms) / 1000;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${m % 60} min`;
  return `${Math.floor(hrs / 24)} d`;
}

/** How long ago (or "in …" for the future). */
export function ago(value) {
  const ms = toMs(value);
  if (ms === null) return "–";
  const delta = Date.now() - ms;
  return delta >= 0 ? `${duration(delta)} ago` : `in ${duration(-delta)}`;
}

/** Local date and time, to the second. */
export function when(value) {
  const ms = toMs(value);
  if (ms === null) return "–";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function count(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en");
}

export const PRIORITIES = ["CRITICAL", "HIGH", "NORMAL", "LOW", "BACKGROUND"];

/** A priority as its name (the API may send the name or 0-4). */
export function priorityName(p) {
  if (typeof p === "number") return PRIORITIES[p] ?? String(p);
  return p === null || p === undefined ? "–" : String(p);
}

export const STATES = ["waiting", "delayed", "active", "completed", "failed", "dead"];
