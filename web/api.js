// The console's only way to the server: /api/v1 with a bearer token, the same
// API and the same authorisation as any integrator.
//
// Tokens live in sessionStorage (gone when the tab closes). A 401 is retried
// once after rotating the refresh token; if that fails the session ends.

import { language } from './i18n.js';

const BASE = '/api/v1';
const ACCESS = 'clearway.access_token';
const REFRESH = 'clearway.refresh_token';

/** An answer that was not 2xx: the RFC 9457 problem and its field errors. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    /** @type {{field: string, code: string, message: string}[]} */
    this.fieldErrors = Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(ACCESS);
  },
  get refreshToken() {
    return sessionStorage.getItem(REFRESH);
  },
  store(tokens) {
    sessionStorage.setItem(ACCESS, tokens.access_token);
    sessionStorage.setItem(REFRESH, tokens.refresh_token);
  },
  clear() {
    sessionStorage.removeItem(ACCESS);
    sessionStorage.removeItem(REFRESH);
  },
};

let refreshing = null;

/** Rotates the refresh token once, however many requests ask at the same time. */
async function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const token = session.refreshToken;
      if (!token) return false;
      const res = await fetch(`${BASE}/auth/refresh`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (!res.ok) return false;
      session.store(await res.json());
      return true;
    })().finally(() => {
      setTimeout(() => {
        refreshing = null;
      }, 0);
    });
  }
  return refreshing;
}

async function readBody(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}

/**
 * Calls the API. `opts.body` is sent as JSON; `opts.headers` adds headers;
 * `opts.text` asks for another media type (`opts.accept`) and answers the
 * body as text (a problem is still read as JSON).
 * Resolves to `{ status, body, headers }`; rejects with ApiError.
 */
export async function call(method, path, opts = {}) {
  const send = () => {
    // Problems come back in the console's language (`title`, `detail`).
    const headers = { Accept: opts.accept || 'application/json', 'Accept-Language': language(), ...(opts.headers || {}) };
    if (session.token && !opts.anonymous) headers.Authorization = `Bearer ${session.token}`; // i18n-ok
    const init = { method, headers };
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    return fetch(BASE + path, init);
  };
  let res = await send();
  if (res.status === 401 && !opts.anonymous && session.refreshToken) {
    if (await refresh()) {
      res = await send();
    }
  }
  const body = opts.text && res.ok ? await res.text() : await readBody(res);
  if (res.status === 401 && !opts.anonymous) {
    session.clear();
    window.dispatchEvent(new CustomEvent('clearway:signed-out', { detail: { expired: true } }));
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return { status: res.status, body, headers: res.headers };
}

export const get = async (path) => (await call('GET', path)).body;
export const post = async (path, body = {}, headers) => (await call('POST', path, { body, headers })).body;
export const patch = async (path, body, headers) => call('PATCH', path, { body, headers });
/** A non-JSON resource (e.g. an SVG image) as text, with the bearer token an <img> could not send. */
export const getText = async (path, accept) => (await call('GET', path, { text: true, accept })).body;

/** A query string from an object, skipping empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Every item of a paginated list (following `next_cursor`), up to `max` pages. */
export async function all(path, params = {}, max = 20) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < max; page += 1) {
    const body = await get(path + qs({ ...params, limit: 200, cursor }));
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}

export async function login(email, password) {
  const { body } = await call('POST', '/auth/login', { body: { email, password }, anonymous: true });
  session.store(body);
  return body;
}

export async function logout() {
  const token = session.refreshToken;
  try {
    if (token) await call('POST', '/auth/logout', { body: { refresh_token: token } });
  } catch {
    // Signing out locally is what matters.
  }
  session.clear();
}

export async function register(body) {
  return (await call('POST', '/auth/register', { body, anonymous: true })).body;
}

/** A random Idempotency-Key for one intended booking. */
export function idempotencyKey() {
  if (crypto.randomUUID) return `console-${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
