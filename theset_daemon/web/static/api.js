// The admin API as the page uses it: JSON in and out, the session cookie, and the
// CSRF token on every action. A 401 anywhere means "sign in again".

export const session = { csrfToken: "", readOnly: true, signedIn: false };

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || "error";
    this.field = body && body.field;
  }
}

async function parse(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return { error: "not_json", message: text.slice(0, 200) };
  }
}

/** Send a request; resolve with the JSON body, reject with ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = session.csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await parse(response);
  if (response.status === 401 && !path.startsWith("/dashboard/login")) {
    session.signedIn = false;
    window.dispatchEvent(new CustomEvent("signed-out"));
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const del = (path) => api("DELETE", path);

/** Query string from an object, skipping empty values. */
export function query(params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") qs.set(k, v);
  const text = qs.toString();
  return text ? `?${text}` : "";
}

export const enc = encodeURIComponent;

/** Load the session (CSRF token, read-only) from the cookie; false when signed out. */
export async function loadSession() {
  try {
    const data = await get("/dashboard/session");
    Object.assign(session, { csrfToken: data.csrfToken, readOnly: !!data.readOnly, signedIn: true });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    session.signedIn = false;
  }
  return session.signedIn;
}

export async function signIn(token) {
  const data = await post("/dashboard/login", { token });
  Object.assign(session, { csrfToken: data.csrfToken, readOnly: !!data.readOnly, signedIn: true });
}

export async function signOut() {
  try {
    await post("/dashboard/logout");
  } finally {
    Object.assign(session, { csrfToken: "", signedIn: false });
  }
}

/** End every dashboard session, this one included ("sign out everywhere"); resolves with how many. */
export async function signOutEverywhere() {
  try {
    return (await post("/api/admin/sessions/revoke")).revoked;
  } finally {
    Object.assign(session, { csrfToken: "", signedIn: false });
  }
}

/**
 * The path (same origin) of a signed SSE URL: the page's Content-Security-Policy
 * allows connections to this origin only, and the daemon that served the page
 * serves every import's stream.
 */
export function samePath(url) {
  const parsed = new URL(url, window.location.href);
  return parsed.pathname + parsed.search;
}

/**
 * The first ``want`` items of a paged list (``GET path?…&cursor=``), following nextCursor;
 * resolves {items, more} where more says the list goes on.
 */
export async function firstItems(path, params, key, want) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < 50 && items.length < want; i += 1) {
    const page = await get(`${path}${query({ ...params, limit: Math.min(200, want - items.length), cursor })}`);
    items.push(...(page[key] || []));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return { items, more: !!cursor };
}
