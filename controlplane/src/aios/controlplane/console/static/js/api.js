// The REST client: a fetch wrapper that attaches the access token, refreshes it invisibly
// (one refresh at a time, as refresh tokens rotate), and turns error bodies
// ({status, message, field?, node?}) into ApiError.

const KEY = "aios.session";
let session = JSON.parse(sessionStorage.getItem(KEY) || "null");
let refreshing = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.field = body ? body.field || null : null;
    this.node = body ? body.node || null : null;
  }
}

export function onSessionChange(fn) { listeners.add(fn); }

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  for (const fn of listeners) fn(session);
}

function fromPair(pair) {
  const now = Date.now();
  return {
    access: pair.access_token,
    refresh: pair.refresh_token,
    expiresAt: now + (pair.expires_in || 3600) * 1000,
  };
}

export function signedIn() { return session !== null; }

export async function signIn(email, password) {
  const pair = await send("POST", "/api/v1/auth/login", { email, password }, { anonymous: true });
  save(fromPair(pair));
}

export async function register(body) {
  await send("POST", "/api/v1/auth/register", body, { anonymous: true });
  await signIn(body.email, body.password);
}

export async function signOut() {
  const current = session;
  save(null);
  if (current) {
    try {
      await send("POST", "/api/v1/auth/logout", { refresh_token: current.refresh }, { anonymous: true });
    } catch (_) { /* the session is gone here either way */ }
  }
}

async function refresh() {
  if (!session) throw new ApiError(401, { message: "signed out" });
  if (!refreshing) {
    const token = session.refresh;
    refreshing = send("POST", "/api/v1/auth/refresh", { refresh_token: token }, { anonymous: true })
      .then((pair) => save(fromPair(pair)))
      .catch((err) => { save(null); throw err; })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** A valid access token, refreshed first when it expires within 30 s. */
export async function accessToken() {
  if (!session) throw new ApiError(401, { message: "signed out" });
  if (session.expiresAt - Date.now() < 30_000) await refresh();
  return session.access;
}

async function send(method, path, body, { anonymous = false, blob = false, retried = false } = {}) {
  const headers = { Accept: blob ? "*/*" : "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!anonymous) headers.Authorization = `Bearer ${await accessToken()}`;
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && !anonymous && !retried) {
    await refresh();
    return send(method, path, body, { anonymous, blob, retried: true });
  }
  if (!response.ok) {
    let parsed = null;
    try { parsed = await response.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, parsed);
  }
  if (response.status === 204) return null;
  return blob ? response.blob() : response.json();
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

export const api = {
  get: (path, params) => send("GET", path + query(params)),
  post: (path, body) => send("POST", path, body ?? {}),
  patch: (path, body) => send("PATCH", path, body),
  put: (path, body) => send("PUT", path, body),
  del: (path) => send("DELETE", path),
  blob: (path) => send("GET", path, undefined, { blob: true }),
};
