// storage.js - what the page keeps in the browser, and nothing leaves it.
//
// Saved prompts live in IndexedDB (database "softprompt-studio", store "prompts"):
//   { id, name, baseModel: {name, source, vocab, dim, layers}, createdAt (ms), finalLoss,
//     evalLoss, method, numVirtualTokens, settings, losses: [[step, loss]], evalLosses,
//     config: string (adapter_config.json), weights: ArrayBuffer (adapter_model.safetensors) }
//
// An interrupted tuning run lives in the store "runs" under the key "current" (one at a time):
//   { id: 'current', baseModel, settings, options (the tune options, without the data),
//     step, totalSteps, checkpoint: ArrayBuffer (sp_tuner_checkpoint: prompt, optimiser state, step,
//     data order), losses: [[step, loss]] and evalLosses up to that step, savedAt (ms),
//     dataId: the key of the record 'run-data' ({id, dataId, data: {text, format}}), written once per run }
// It is written every few steps while training and deleted when the run ends; after a page reload
// the page offers to resume from it. The data box's text lives in the same store under the key
// "draft" ({text, format, name}), so a reload keeps it.
//
// Downloaded models live in the Cache API (cache "softprompt-models", keyed by URL), so the next
// visit reads them from disk. When the browser refuses to store (QuotaExceededError, or no Cache
// API at all) the bytes are kept in memory for this visit only and the caller is told so.

const DB_NAME = 'softprompt-studio';
const DB_VERSION = 2;
const STORE = 'prompts';
const RUNS = 'runs';
const MODEL_CACHE = 'softprompt-models';

let dbPromise = null;

function openDb() {
  if (dbPromise) return dbPromise;
  dbPromise = new Promise((resolve, reject) => {
    if (!('indexedDB' in globalThis)) { reject(new Error('IndexedDB is not available in this browser')); return; }
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) {
        const s = db.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
        s.createIndex('createdAt', 'createdAt');
      }
      if (!db.objectStoreNames.contains(RUNS)) db.createObjectStore(RUNS, { keyPath: 'id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('could not open IndexedDB'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of this page; close it and reload'));
  });
  dbPromise.catch(() => { dbPromise = null; });
  return dbPromise;
}

function tx(mode, fn, storeName = STORE) {
  return openDb().then((db) => new Promise((resolve, reject) => {
    const t = db.transaction(storeName, mode);
    const store = t.objectStore(storeName);
    let result;
    const req = fn(store);
    if (req) req.onsuccess = () => { result = req.result; };
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error ?? new Error('IndexedDB transaction failed'));
    t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted'));
  }));
}

/** Save a prompt record; returns its id. */
export function savePrompt(record) {
  const rec = { ...record, createdAt: record.createdAt ?? Date.now() };
  if (rec.id === undefined) delete rec.id;
  return tx('readwrite', (s) => s.put(rec));
}

/** All saved prompts without their weights, newest first. */
export async function listPrompts() {
  const all = (await tx('readonly', (s) => s.getAll())) ?? [];
  return all
    .map(({ weights, ...meta }) => ({ ...meta, bytes: weights ? weights.byteLength : 0 }))
    .sort((a, b) => b.createdAt - a.createdAt);
}

export function getPrompt(id) { return tx('readonly', (s) => s.get(id)); }
export function deletePrompt(id) { return tx('readwrite', (s) => s.delete(id)); }

// ---- the interrupted run (resume after a reload) ---------------------------------------------

/** Keep the run's latest checkpoint (replaces the previous one). */
export function saveRun(record) {
  return tx('readwrite', (s) => s.put({ ...record, id: 'current', savedAt: Date.now() }), RUNS);
}

/** The interrupted run, or null. */
export async function getRun() {
  return (await tx('readonly', (s) => s.get('current'), RUNS)) ?? null;
}

export function clearRun() {
  return tx('readwrite', (s) => { s.delete('run-data'); return s.delete('current'); }, RUNS);
}

/** The data of the run being checkpointed, written once when the run starts (a checkpoint record
 *  refers to it by `dataId` instead of carrying megabytes of text on every write). */
export function saveRunData(dataId, data) {
  return tx('readwrite', (s) => s.put({ id: 'run-data', dataId, data }), RUNS);
}

/** The interrupted run with its data joined back in, or null. */
export async function getRunWithData() {
  const rec = await getRun();
  if (!rec || rec.data || !rec.dataId) return rec;
  const d = await tx('readonly', (s) => s.get('run-data'), RUNS);
  return d && d.dataId === rec.dataId ? { ...rec, data: d.data } : null;
}

// ---- the data box (it survives a reload) ------------------------------------------------------

/** Keep what the data box holds: {text, format, name?} (name: the file it came from). */
export function saveDraft(draft) {
  return tx('readwrite', (s) => s.put({ ...draft, id: 'draft', savedAt: Date.now() }), RUNS);
}

export async function getDraft() {
  return (await tx('readonly', (s) => s.get('draft'), RUNS)) ?? null;
}

// ---- model cache ----------------------------------------------------------------------------

const memoryCache = new Map(); // url -> Blob, when the disk cache is unavailable or full

function isQuotaError(e) {
  return e && (e.name === 'QuotaExceededError' || e.code === 22 || /quota/i.test(String(e.message)));
}

/** A cached model as a Blob, or null. Reports where it came from. */
export async function cachedModel(url) {
  if (memoryCache.has(url)) return { blob: memoryCache.get(url), where: 'memory' };
  if (!('caches' in globalThis)) return null;
  try {
    const cache = await caches.open(MODEL_CACHE);
    const res = await cache.match(url);
    if (!res) return null;
    return { blob: await res.blob(), where: 'disk' };
  } catch {
    return null;
  }
}

/** Keep a downloaded model. Returns 'disk' or 'memory' (with the reason). */
export async function storeModel(url, blob, headers = {}) {
  if ('caches' in globalThis) {
    try {
      const cache = await caches.open(MODEL_CACHE);
      await cache.put(url, new Response(blob, { headers: { 'Content-Type': 'application/octet-stream', ...headers } }));
      return { where: 'disk' };
    } catch (e) {
      memoryCache.set(url, blob);
      return { where: 'memory', reason: isQuotaError(e) ? 'the browser has no room left for it (quota exceeded)' : `the cache refused it (${e.message})` };
    }
  }
  memoryCache.set(url, blob);
  return { where: 'memory', reason: 'this browser has no Cache API here' };
}

/** Drop one or all cached models. */
export async function forgetModels(url = null) {
  if (url) memoryCache.delete(url); else memoryCache.clear();
  if (!('caches' in globalThis)) return;
  if (url) { const c = await caches.open(MODEL_CACHE); await c.delete(url); } else await caches.delete(MODEL_CACHE);
}

/** URLs of the models cached on disk, with sizes. */
export async function listCachedModels() {
  if (!('caches' in globalThis)) return [];
  try {
    const cache = await caches.open(MODEL_CACHE);
    const keys = await cache.keys();
    const out = [];
    for (const req of keys) {
      const res = await cache.match(req);
      const len = Number(res?.headers.get('Content-Length')) || null;
      out.push({ url: req.url, bytes: len });
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * Fetch a model with progress, reading the cache first.
 * onProgress({loaded, total, phase: 'download'|'cache'}) ; returns {blob, from: 'disk'|'memory'|'network', stored}
 */
export async function fetchModel(url, { onProgress = () => {}, signal } = {}) {
  const hit = await cachedModel(url);
  if (hit) {
    onProgress({ loaded: hit.blob.size, total: hit.blob.size, phase: 'cache' });
    return { blob: hit.blob, from: hit.where, stored: null };
  }
  const res = await fetch(url, { signal });
  if (!res.ok) throw new Error(`could not download ${url}: HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('Content-Length')) || 0;
  const chunks = [];
  let loaded = 0;
  if (res.body && res.body.getReader) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      onProgress({ loaded, total, phase: 'download' });
    }
  } else {
    const buf = await res.arrayBuffer();
    chunks.push(new Uint8Array(buf));
    loaded = buf.byteLength;
    onProgress({ loaded, total: total || loaded, phase: 'download' });
  }
  // A Blob of the chunks: no big copy on the page's thread.
  const blob = new Blob(chunks, { type: 'application/octet-stream' });
  const stored = await storeModel(url, blob, { 'Content-Length': String(blob.size) });
  return { blob, from: 'network', stored };
}
