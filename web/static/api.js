// api.js: the few calls the view makes to the gateway API, each with the
// admin token as a bearer token. The token lives in sessionStorage: it is
// gone when the tab closes.
const KEY = 'hoop.admin-token';

export const token = {
  get: () => sessionStorage.getItem(KEY) || '',
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** Thrown when the API answers 401: the view goes back to sign-in. */
export class Unauthorized extends Error {
  constructor() { super('the admin token was rejected'); }
}

export function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${token.get()}`, ...extra };
}

async function request(path) {
  const resp = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
  if (resp.status === 401) throw new Unauthorized();
  if (!resp.ok) throw new Error(`${path}: ${resp.status} ${resp.statusText}`);
  return resp;
}

/** GETs path and parses JSON. */
export async function getJSON(path) {
  return (await request(path)).json();
}

/** GETs path as bytes with the response headers. */
export async function getBytes(path) {
  const resp = await request(path);
  return { bytes: await resp.arrayBuffer(), headers: resp.headers };
}

/** Thrown for an API error answer; status is the HTTP status. */
export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** POSTs body as JSON to path and parses the JSON answer. */
export async function postJSON(path, body) {
  const resp = await fetch(path, {
    method: 'POST', cache: 'no-store', body: JSON.stringify(body),
    headers: authHeaders({ 'Content-Type': 'application/json' }),
  });
  if (resp.status === 401) throw new Unauthorized();
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new APIError(resp.status, data.error || `${path}: ${resp.status} ${resp.statusText}`);
  return data;
}
