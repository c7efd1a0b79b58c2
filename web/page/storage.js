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
// Downloaded models are not kept here: the library's model cache (sp.cache, web/cache.js) holds them.

const DB_NAME = 'softprompt-studio';
const DB_VERSION = 2;
const STORE = 'prompts';
const RUNS = 'runs';

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
