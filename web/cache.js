// cache.js - the browser's model cache: downloaded model files kept on the device, keyed by URL and
// validated by the server's ETag / Last-Modified (a HEAD request; offline, the copy is used as is).
// Two stores: the Cache API (default) and the Origin Private File System ('opfs', for files of
// several GB). Both run in a page and in the engine's worker; they share the origin's storage, so
// sp.cache in the page sees what the worker stored.
//
//   entry: {url, size, etag, lastModified, storedAt, store}
//   const c = new ModelCache('cache' | 'opfs');  c.list(), c.has(url), c.delete(url), c.clear()
//   c.get(url) -> {entry, blob()} | null;  c.writer(url, meta) -> {write(u8), close(), abort()}

import { ErrorCodes, fail } from './errors.js';

const CACHE_NAME = 'softprompt-models';
const OPFS_DIR = 'softprompt-models';
const H = 'x-softprompt-'; // metadata headers on the Cache API's stored responses

export const CACHE_STORES = ['cache', 'opfs'];

/** Can this context cache (the Cache API, or OPFS)? */
export function cacheAvailable(store = 'cache') {
  if (store === 'opfs') return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';
  return typeof caches !== 'undefined';
}

function entryOf(url, h, store) {
  const n = (k) => (h.get(k) == null ? null : Number(h.get(k)));
  return {
    url,
    size: n(`${H}size`) ?? n('content-length'),
    etag: h.get(`${H}etag`) || null,
    lastModified: h.get(`${H}last-modified`) || null,
    storedAt: n(`${H}stored-at`),
    store,
  };
}

/** The validators of a response: what must match for a cached copy to be current. */
export function validators(headers) {
  return { etag: headers.get('etag') || null, lastModified: headers.get('last-modified') || null };
}

/** True when a cached entry is the file the server has now (same ETag, else same Last-Modified). */
export function isCurrent(entry, v) {
  if (entry.etag && v.etag) return entry.etag === v.etag;
  if (entry.lastModified && v.lastModified) return entry.lastModified === v.lastModified;
  return false; // nothing to compare: download again
}

/** URLs are keys as the fetch made them: absolute. */
function abs(url) {
  try {
    return new URL(String(url), globalThis.location?.href).href;
  } catch {
    return String(url);
  }
}

async function sha256Hex(s) {
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const cacheApi = {
  async get(url) {
    const c = await caches.open(CACHE_NAME);
    const r = await c.match(url);
    if (!r) return null;
    return { entry: entryOf(url, r.headers, 'cache'), response: r };
  },
  async list() {
    const c = await caches.open(CACHE_NAME);
    const out = [];
    for (const req of await c.keys()) {
      const r = await c.match(req);
      if (r) out.push(entryOf(req.url, r.headers, 'cache'));
    }
    return out;
  },
  async delete(url) {
    return (await caches.open(CACHE_NAME)).delete(url);
  },
  async clear() {
    const n = (await cacheApi.list()).length;
    await caches.delete(CACHE_NAME);
    return n;
  },
  /** A stream the bytes go into as they arrive; stored when closed whole. */
  async writer(url, meta) {
    const c = await caches.open(CACHE_NAME);
    let ctl;
    const body = new ReadableStream({ start(x) { ctl = x; } });
    const headers = {
      'content-type': 'application/octet-stream', [`${H}size`]: String(meta.size), [`${H}stored-at`]: String(Date.now()),
    };
    if (meta.etag) headers[`${H}etag`] = meta.etag;
    if (meta.lastModified) headers[`${H}last-modified`] = meta.lastModified;
    const put = c.put(url, new Response(body, { headers }));
    put.catch(() => {}); // a full disk or an aborted write: the model still loads
    return {
      write(u8) { ctl.enqueue(u8.slice()); },
      async close() {
        ctl.close();
        await put;
      },
      abort() {
        try { ctl.error(new Error('download not finished')); } catch { /* closed */ }
      },
    };
  },
};

const opfs = {
  async dir() {
    const root = await navigator.storage.getDirectory();
    return await root.getDirectoryHandle(OPFS_DIR, { create: true });
  },
  async meta(d, name) {
    try {
      const f = await (await d.getFileHandle(`${name}.json`)).getFile();
      return JSON.parse(await f.text());
    } catch {
      return null;
    }
  },
  async get(url) {
    const d = await opfs.dir();
    const name = await sha256Hex(url);
    const entry = await opfs.meta(d, name);
    if (!entry) return null;
    try {
      const file = await (await d.getFileHandle(name)).getFile();
      if (file.size !== entry.size) return null; // torn: treated as absent
      return { entry, blob: file };
    } catch {
      return null;
    }
  },
  async list() {
    const d = await opfs.dir();
    const out = [];
    for await (const [n] of d.entries()) {
      if (!n.endsWith('.json')) continue;
      const m = await opfs.meta(d, n.slice(0, -5));
      if (m) out.push(m);
    }
    return out;
  },
  async delete(url) {
    const d = await opfs.dir();
    const name = await sha256Hex(url);
    let had = false;
    for (const n of [`${name}.json`, name]) {
      try {
        await d.removeEntry(n);
        had = true;
      } catch { /* absent */ }
    }
    return had;
  },
  async clear() {
    const n = (await opfs.list()).length;
    const root = await navigator.storage.getDirectory();
    try { await root.removeEntry(OPFS_DIR, { recursive: true }); } catch { /* absent */ }
    return n;
  },
  async writer(url, meta) {
    const d = await opfs.dir();
    const name = await sha256Hex(url);
    try { await d.removeEntry(`${name}.json`); } catch { /* absent */ }
    const w = await (await d.getFileHandle(name, { create: true })).createWritable();
    let chain = Promise.resolve();
    return {
      write(u8) { const c = u8.slice(); chain = chain.then(() => w.write(c)); },
      async close() {
        await chain;
        await w.close();
        const entry = { url, size: meta.size, etag: meta.etag ?? null, lastModified: meta.lastModified ?? null, storedAt: Date.now(), store: 'opfs' };
        const mw = await (await d.getFileHandle(`${name}.json`, { create: true })).createWritable();
        await mw.write(JSON.stringify(entry));
        await mw.close();
      },
      abort() {
        chain.then(() => w.abort?.()).catch(() => {});
      },
    };
  },
};

/** The cache of one store ('cache': the Cache API, 'opfs': the Origin Private File System). */
export class ModelCache {
  constructor(store = 'cache') {
    if (!CACHE_STORES.includes(store)) fail(ErrorCodes.SP_ERR_INVALID_ARG, `cache store must be 'cache' or 'opfs' (got ${String(store)})`);
    this.store = store;
    this._s = store === 'opfs' ? opfs : cacheApi;
  }

  _check() {
    if (!cacheAvailable(this.store)) {
      fail(ErrorCodes.SP_ERR_UNSUPPORTED, this.store === 'opfs' ? 'this context has no Origin Private File System' : 'this context has no Cache API (it needs a secure context: https or localhost)');
    }
  }

  /** Every cached file: [{url, size, etag, lastModified, storedAt, store}]. */
  async list() { this._check(); return await this._s.list(); }
  /** Is url cached? */
  async has(url) { this._check(); return (await this._s.get(abs(url))) !== null; }
  /** Forget url; true when it was cached. */
  async delete(url) { this._check(); return await this._s.delete(abs(url)); }
  /** Forget everything; -> how many files were cached. */
  async clear() { this._check(); return await this._s.clear(); }
  /** {entry, response | blob} or null. */
  async get(url) { this._check(); return await this._s.get(abs(url)); }
  async writer(url, meta) { this._check(); return await this._s.writer(abs(url), meta); }
}

/** The model cache across both stores, as sp.cache shows it: list() every cached file, has(url) in
 *  either store, delete(url) and clear() from both. Outside a browser: SP_ERR_UNSUPPORTED. */
export const modelCache = {
  _stores() {
    const s = CACHE_STORES.filter((k) => cacheAvailable(k)).map((k) => new ModelCache(k));
    if (s.length === 0) fail(ErrorCodes.SP_ERR_UNSUPPORTED, 'the model cache needs a browser (the Cache API or OPFS); under Node models are read from disk');
    return s;
  },
  async list() {
    const out = [];
    for (const s of modelCache._stores()) out.push(...await s.list());
    return out;
  },
  async has(url) {
    for (const s of modelCache._stores()) if (await s.has(url)) return true;
    return false;
  },
  async delete(url) {
    let had = false;
    for (const s of modelCache._stores()) if (await s.delete(url)) had = true;
    return had;
  },
  async clear() {
    let n = 0;
    for (const s of modelCache._stores()) n += await s.clear();
    return n;
  },
};
