// SPDX-License-Identifier: Apache-2.0
// api.js: the HTTP API of mod_genflow as the page uses it (docs/api.md).
//
// Every call goes through request(), which turns a non-2xx answer into an
// ApiError carrying the HTTP status, the error code and message of the
// body ({"error":{"code","message"}}) and the Retry-After header.

/** Where the API is: <meta name="genflow-api">, resolved against the page. */
export function apiBase() {
  const meta = document.querySelector('meta[name="genflow-api"]');
  const raw = (meta && meta.content.trim()) || '/api';
  const url = new URL(raw, document.baseURI);
  return url.href.replace(/\/+$/, '');
}

/** Where the API documentation is: <meta name="genflow-docs">, else {api}/docs/. */
export function docsUrl() {
  const meta = document.querySelector('meta[name="genflow-docs"]');
  const raw = meta && meta.content.trim();
  return raw ? new URL(raw, document.baseURI).href : apiBase() + '/docs/';
}

/** An absolute URL for a path the API answered (imageUrl, base, …). */
export function resolve(path) {
  return new URL(path, apiBase() + '/').href;
}

export function sameOrigin(url) {
  return new URL(url, document.baseURI).origin === window.location.origin;
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter, url) {
    super(message || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;      // 0: no answer at all (network)
    this.code = code || null;  // e.g. INSUFFICIENT_CREDITS
    this.retryAfter = retryAfter; // seconds or null
    this.url = url;
  }
}

function retryAfterSeconds(headers) {
  const v = headers.get('Retry-After');
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return parseInt(v, 10);
  const when = Date.parse(v);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

/**
 * request(url, {method, json, body, headers}) → {status, data, headers}.
 * Throws ApiError for non-2xx answers and network failures.
 */
export async function request(url, opts = {}) {
  const headers = new Headers(opts.headers || {});
  let body = opts.body;
  if (opts.json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(opts.json);
  }
  headers.set('Accept', 'application/json');
  let res;
  try {
    res = await fetch(url, {
      method: opts.method || 'GET',
      headers,
      body,
      credentials: 'include',
      cache: 'no-store',
      signal: opts.signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached.', null, url);
  }
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (res.status !== 204 && res.status !== 304 && type.includes('json')) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(res.status, err.code, err.message, retryAfterSeconds(res.headers), url);
  }
  return { status: res.status, data, headers: res.headers };
}

/** An Idempotency-Key for one click (docs/api.md): a retried request never creates twice. */
export function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === 'function') {
    return window.crypto.randomUUID();
  }
  const b = new Uint8Array(16);
  window.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export const api = {
  quota: () => request(apiBase() + '/quota').then((r) => r.data),
  types: () => request(apiBase() + '/types').then((r) => r.data),
  presets: (url) => request(resolve(url)).then((r) => r.data),
  history: (base, limit, before) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before) q.set('before', before);
    return request(resolve(base) + '/history?' + q).then((r) => r.data);
  },
  status: (base, id) => request(`${resolve(base)}/status/${encodeURIComponent(id)}`).then((r) => r.data),
  // 200 + status object when terminal at once, else 202 {generationId,status,pollUrl}.
  generate: (base, fields) => request(resolve(base) + '/generate', {
    method: 'POST', json: fields, headers: { Prefer: 'wait=0', 'Idempotency-Key': newKey() },
  }).then((r) => r.data),
  cancel: (base, id) => request(`${resolve(base)}/cancel/${encodeURIComponent(id)}`, {
    method: 'POST',
  }).then((r) => r.data),
  retry: (base, id) => request(`${resolve(base)}/retry/${encodeURIComponent(id)}`, {
    method: 'POST', headers: { Prefer: 'wait=0', 'Idempotency-Key': newKey() },
  }).then((r) => r.data),
  // The raw bytes of the file; the type is the file's own (png, jpeg, webp).
  upload: (file) => request(apiBase() + '/uploads', {
    method: 'POST', body: file, headers: { 'Content-Type': file.type || 'application/octet-stream' },
  }).then((r) => r.data),
};
