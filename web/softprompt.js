// softprompt.js - the public JS API (the same file runs in the browser and in Node).
//
//   const sp = await Softprompt.create({ threads: 2 });
//   const model = await sp.loadModel(urlOrFileOrBytesOrPath, { onProgress, signal });
//   const { text } = await model.generate('Once upon a time', { maxTokens: 60, temperature: 0 });
//   const job = model.tune({ data, virtualTokens: 20, steps: 100 }); const { adapter } = await job.done;
//
// The engine (web/engine.js around the wasm build) never runs on the caller's thread in the
// browser: it lives in a module Web Worker (web/worker.js). Under Node it runs in worker_threads
// by default, or in this thread with {worker: false}. Both speak the same protocol
//   request {id, op, args} -> reply {id, result} | {id, error: {code, message}} | {id, progress}
//   control {op: 'cancel' | 'pause' | 'resume' | 'stop', target: id}
// A worker that dies rejects every pending call with SoftpromptError code SP_ERR_WORKER.
// Types: web/softprompt.d.ts.

import { SoftpromptError, ErrorCodes, isAbort } from './errors.js';
import { IS_NODE, nodeModule, threadsAvailable, toU8, isBytes } from './env.js';
import { GENERATE_OPTIONS, BENCH_OPTIONS, TUNE_OPTIONS, checkOptionNames } from './worker/schema.js';
import { modelCache } from './cache.js';

export { SoftpromptError, ErrorCodes, isAbort, threadsAvailable, modelCache };

function err(code, message) {
  return new SoftpromptError(code, message);
}

// ---------------------------------------------------------------- transports

/** A transport: post(msg, transfer), onMessage(fn), onFatal(fn), terminate(), ref(), unref(). */

/** The engine's Web Worker: the app's own Worker, one started from the app's URL, or ours. The
 *  last is a literal new Worker(new URL('./worker.js', import.meta.url)) so bundlers emit it. */
function startBrowserWorker(worker) {
  if (worker && typeof worker === 'object' && !(worker instanceof URL)) {
    if (typeof worker.postMessage !== 'function' || typeof worker.terminate !== 'function') {
      throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'worker must be a Worker, a worker script URL, or left out');
    }
    return worker;
  }
  if (typeof Worker === 'undefined') throw err(ErrorCodes.SP_ERR_UNSUPPORTED, 'this environment has no Web Worker');
  const where = worker === undefined || worker === true ? 'softprompt/worker.js' : String(worker);
  try {
    if (worker === undefined || worker === true) {
      return new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'softprompt' });
    }
    return new Worker(worker, { type: 'module', name: 'softprompt' });
  } catch (e) {
    throw err(ErrorCodes.SP_ERR_WORKER, `cannot start the engine worker ${where}: ${e?.message ?? e}`);
  }
}

function browserWorkerTransport(worker) {
  const where = worker instanceof URL || typeof worker === 'string' ? String(worker) : '';
  const w = startBrowserWorker(worker);
  const t = {
    post: (msg, transfer) => w.postMessage(msg, transfer || []),
    onMessage: null,
    onFatal: null,
    terminate: () => w.terminate(),
    ref() {},
    unref() {},
  };
  w.onmessage = (e) => t.onMessage && t.onMessage(e.data);
  w.onmessageerror = () => t.onFatal && t.onFatal(err(ErrorCodes.SP_ERR_WORKER, 'engine worker sent a message that could not be read'));
  w.onerror = (e) => {
    e.preventDefault?.();
    const at = e.filename ? ` (${e.filename}:${e.lineno})` : where ? ` (${where})` : '';
    t.onFatal && t.onFatal(err(ErrorCodes.SP_ERR_WORKER, `engine worker crashed: ${e.message || 'error while loading the worker script (a 404, a MIME type or a CSP refusal)'}${at}`));
  };
  // an app-made Worker may have said {ready} before we listened: ask again
  if (w === worker) w.postMessage({ hello: true });
  return t;
}

async function nodeWorkerTransport(workerUrl) {
  const { Worker } = nodeModule('node:worker_threads');
  let worker;
  try {
    worker = new Worker(workerUrl, { workerData: { softprompt: true }, stdout: false, stderr: false });
  } catch (e) {
    throw err(ErrorCodes.SP_ERR_WORKER, `cannot start the engine worker: ${e?.message ?? e}`);
  }
  let exited = false;
  const t = {
    post: (msg, transfer) => worker.postMessage(msg, transfer || []),
    onMessage: null,
    onFatal: null,
    terminate: () => { if (!exited) worker.terminate(); },
    ref: () => worker.ref(),
    unref: () => worker.unref(),
  };
  worker.on('message', (m) => t.onMessage && t.onMessage(m));
  worker.on('messageerror', () => t.onFatal && t.onFatal(err(ErrorCodes.SP_ERR_WORKER, 'engine worker sent a message that could not be read')));
  worker.on('error', (e) => t.onFatal && t.onFatal(err(ErrorCodes.SP_ERR_WORKER, `engine worker crashed: ${e?.message ?? e}`)));
  worker.on('exit', (code) => {
    exited = true;
    t.onFatal && t.onFatal(err(ErrorCodes.SP_ERR_WORKER, `engine worker exited (code ${code})`));
  });
  return t;
}

/** Node, {worker: false}: the same protocol over a MessageChannel inside this thread. */
async function inlineTransport() {
  // Node only: a specifier bundlers do not follow, so a browser bundle does not hold the engine twice
  const workerModule = './worker.js';
  const { serve } = await import(/* @vite-ignore */ /* webpackIgnore: true */ workerModule);
  const { port1, port2 } = new MessageChannel();
  const server = serve({
    post: (msg, transfer) => port2.postMessage(msg, transfer || []),
    listen: (fn) => { port2.onmessage = (e) => fn(e.data); },
    close: () => port2.close(),
  });
  let closed = false;
  const t = {
    post: (msg, transfer) => port1.postMessage(msg, transfer || []),
    onMessage: null,
    onFatal: null,
    terminate: () => {
      if (closed) return;
      closed = true;
      server.shutdown();
      port1.close();
      port2.close();
    },
    ref: () => { port1.ref?.(); port2.ref?.(); },
    unref: () => { port1.unref?.(); port2.unref?.(); },
  };
  port1.onmessage = (e) => t.onMessage && t.onMessage(e.data);
  server.onFatal = (e) => t.onFatal && t.onFatal(e);
  return t;
}

// ---------------------------------------------------------------- RPC client

class Client {
  constructor(transport) {
    this.t = transport;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, onProgress}
    this.dead = null; // SoftpromptError once the worker is gone
    this.onDeath = null;
    this.readyWaiters = [];
    this.ready = false;
    transport.onMessage = (m) => this._onMessage(m);
    transport.onFatal = (e) => this._die(e);
    transport.unref();
  }

  waitReady() {
    if (this.ready) return Promise.resolve();
    if (this.dead) return Promise.reject(this.dead);
    this.t.ref();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject })).finally(() => {
      if (this.pending.size === 0) this.t.unref();
    });
  }

  _onMessage(m) {
    if (!m || typeof m !== 'object') return;
    if (m.ready) {
      this.ready = true;
      for (const w of this.readyWaiters.splice(0)) w.resolve();
      return;
    }
    if (m.fatal) {
      this._die(SoftpromptError.from(m.fatal));
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    if ('progress' in m) {
      if (p.onProgress) {
        try { p.onProgress(m.progress); } catch (e) { queueMicrotask(() => { throw e; }); }
      }
      return;
    }
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.t.unref();
    if (m.error) {
      const e = SoftpromptError.from(m.error);
      if (m.error.partial) e.partial = m.error.partial;
      p.reject(e);
    } else {
      p.resolve(m.result);
    }
  }

  _die(e) {
    if (this.dead) return;
    this.dead = e instanceof SoftpromptError && e.code === ErrorCodes.SP_ERR_WORKER ? e : err(ErrorCodes.SP_ERR_WORKER, e?.message ?? String(e));
    for (const w of this.readyWaiters.splice(0)) w.reject(this.dead);
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(this.dead);
    try { this.t.terminate(); } catch { /* already gone */ }
    this.t.unref();
    if (this.onDeath) {
      try { this.onDeath(this.dead); } catch (x) { queueMicrotask(() => { throw x; }); }
    }
  }

  /** Start a call; returns {id, promise}. */
  start(op, args, { onProgress, transfer } = {}) {
    if (this.dead) {
      return { id: 0, promise: Promise.reject(this.dead) };
    }
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
    });
    if (this.pending.size === 1) this.t.ref();
    try {
      this.t.post({ id, op, args }, transfer);
    } catch (e) {
      this.pending.delete(id);
      if (this.pending.size === 0) this.t.unref();
      const code = e?.name === 'DataCloneError' ? ErrorCodes.SP_ERR_INVALID_ARG : ErrorCodes.SP_ERR_WORKER;
      return { id, promise: Promise.reject(err(code, `cannot send '${op}' to the engine worker: ${e?.message ?? e}`)) };
    }
    return { id, promise };
  }

  call(op, args, opts) {
    return this.start(op, args, opts).promise;
  }

  /** Fire-and-forget control message (cancel, pause, resume, stop). */
  control(op, target) {
    if (this.dead || !target) return;
    try { this.t.post({ op, target }); } catch { /* dying */ }
  }

  terminate() {
    this._die(err(ErrorCodes.SP_ERR_WORKER, 'engine terminated'));
  }
}

// ---------------------------------------------------------------- helpers

function isBlob(x) {
  return typeof Blob !== 'undefined' && x instanceof Blob;
}

/** signal -> throw if already aborted; returns a detach function. */
function watchSignal(signal, onAbort) {
  if (!signal) return () => {};
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  const fn = () => onAbort();
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

/** The AbortError (SP_ERR_ABORTED) of a call stopped by a signal or abort(); cause: the reason. */
function abortedError(what, reason) {
  const e = err(ErrorCodes.SP_ERR_ABORTED, `${what} aborted`);
  if (reason !== undefined) e.cause = reason;
  return e;
}

/** Await a call a signal can cancel: an abort's error keeps signal.reason as its cause. */
async function cancellable(promise, signal, cancel) {
  const detach = watchSignal(signal, cancel);
  try {
    return await promise;
  } catch (e) {
    const se = SoftpromptError.from(e);
    if (se.code === ErrorCodes.SP_ERR_ABORTED && signal?.aborted && se.cause === undefined) se.cause = signal.reason;
    throw se;
  } finally {
    detach();
  }
}

function looksLikeUrl(s) {
  return /^(https?|blob|data|file):/i.test(s);
}

const HF_NAMES = ['config.json', 'model.safetensors', 'tokenizer.json'];

function baseName(name) {
  return String(name).split(/[\\/]/).pop();
}

/** A source part (one file) as the worker takes it. */
function describePart(x, name) {
  if (typeof x === 'string') return { kind: 'text', text: x, name };
  if (isBlob(x)) return { kind: 'blob', blob: x, name: x.name || name };
  if (isBytes(x)) return { kind: 'bytes', bytes: toU8(x), name };
  if (x instanceof URL) return { kind: 'url', url: x.href, name };
  if (x && typeof x === 'object' && (x.url || x.path)) {
    return x.url ? { kind: 'url', url: String(x.url), name } : { kind: 'path', path: String(x.path), name };
  }
  throw err(ErrorCodes.SP_ERR_INVALID_ARG, `model file '${name}': expected a Blob, bytes or text`);
}

function hfFromList(list) {
  const files = {};
  for (const f of Array.from(list)) {
    if (!isBlob(f)) throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'a list of model files must hold File objects');
    files[baseName(f.webkitRelativePath || f.name)] = f;
  }
  const ggufs = Object.keys(files).filter((n) => n.toLowerCase().endsWith('.gguf'));
  if (ggufs.length === 1 && !files['model.safetensors'] && !files['model.safetensors.index.json']) return { kind: 'blob', blob: files[ggufs[0]], name: ggufs[0] };
  return hfFromFiles(files);
}

function hfFromFiles(files) {
  if (!files || typeof files !== 'object') throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'files must be an object of name -> file');
  if (Array.isArray(files) || (typeof FileList !== 'undefined' && files instanceof FileList)) return hfFromList(files);
  // model.safetensors, or model.safetensors.index.json and the shards it names (passed on by name)
  const sharded = files['model.safetensors'] == null && files['model.safetensors.index.json'] != null;
  const missing = HF_NAMES.filter((n) => files[n] == null && !(sharded && n === 'model.safetensors'));
  if (missing.length) {
    throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'a Hugging Face model folder needs config.json, model.safetensors (or model.safetensors.index.json '
      + `and its shards) and tokenizer.json; missing: ${missing.join(', ')}`);
  }
  const parts = {};
  for (const n of HF_NAMES) if (files[n] != null) parts[n] = describePart(files[n], n);
  if (sharded) {
    for (const [n, x] of Object.entries(files)) {
      if (n === 'model.safetensors.index.json' || /\.safetensors$/.test(n)) parts[n] = describePart(x, n);
    }
  }
  return { kind: 'hf', files: parts };
}

function resolveUrl(u) {
  const base = globalThis.location?.href ?? globalThis.document?.baseURI;
  try {
    return base ? new URL(u, base).href : new URL(u).href;
  } catch {
    throw err(ErrorCodes.SP_ERR_INVALID_ARG, `not a valid URL: ${u}`);
  }
}

async function describeSource(source, options) {
  if (source instanceof URL) source = source.href;
  if (typeof source === 'string') {
    if (source === '') throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'empty model source');
    if (IS_NODE && (!looksLikeUrl(source) || /^file:/i.test(source))) {
      const { fileURLToPath } = nodeModule('node:url');
      const { resolve } = nodeModule('node:path');
      const p = /^file:/i.test(source) ? fileURLToPath(source) : resolve(source);
      return { kind: 'path', path: p, name: p };
    }
    const url = resolveUrl(source);
    if (url.endsWith('/')) {
      const files = {};
      for (const n of HF_NAMES) files[n] = { kind: 'url', url: url + n, name: n };
      return { kind: 'hf', files, repo: hubRepoOf(url) };
    }
    return { kind: 'url', url, name: url, repo: hubRepoOf(url) };
  }
  if (isBlob(source)) return { kind: 'blob', blob: source, name: source.name || 'model.gguf' };
  if (isBytes(source)) return { kind: 'bytes', bytes: toU8(source), name: 'model.gguf' };
  if (Array.isArray(source) || (typeof FileList !== 'undefined' && source instanceof FileList)) return hfFromList(source);
  if (source && typeof source === 'object') {
    if (typeof source.hf === 'string') return hubSource(source);
    if (source.files) return hfFromFiles(source.files);
    if (source.url) {
      const url = resolveUrl(String(source.url instanceof URL ? source.url.href : source.url));
      if (source.hf || url.endsWith('/')) {
        const base = url.endsWith('/') ? url : url + '/';
        const files = {};
        for (const n of HF_NAMES) files[n] = { kind: 'url', url: base + n, name: n };
        return { kind: 'hf', files, repo: hubRepoOf(base) };
      }
      return { kind: 'url', url, name: url, repo: hubRepoOf(url) };
    }
  }
  throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'model source must be a URL, a path (Node), a File/Blob, bytes, {files} or a list of Files');
}

export const HF_ENDPOINT = 'https://huggingface.co';

/**
 * The Hugging Face URL of a file of a hub repo: {endpoint}/{repo}/resolve/{revision}/{file}, as
 * huggingface_hub builds it (the revision is one path segment, 'refs/pr/1' -> 'refs%2Fpr%2F1').
 */
export function hfUrl(repo, file, { revision = 'main', endpoint = HF_ENDPOINT } = {}) {
  if (typeof repo !== 'string' || !/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(repo) || repo.includes('..')) {
    throw err(ErrorCodes.SP_ERR_INVALID_ARG, `hf must be a Hugging Face repo id 'owner/name' (got ${JSON.stringify(repo)})`);
  }
  if (typeof file !== 'string' || file === '' || file.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw err(ErrorCodes.SP_ERR_INVALID_ARG, `file must be a path inside the repo, like 'model.Q8_0.gguf' (got ${JSON.stringify(file)})`);
  }
  if (typeof revision !== 'string' || revision === '') throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'revision must be a branch, tag or commit');
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${String(endpoint).replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** The model repo id ('owner/name') of a Hugging Face file or folder URL
 *  (https://huggingface.co/owner/name/resolve/main/...), else undefined. */
function hubRepoOf(url) {
  const m = /^https?:\/\/(?:huggingface\.co|hf\.co)\/([A-Za-z0-9][\w.-]*)\/([\w.-]+)\/(?:resolve|blob|raw|tree)\//.exec(url);
  return m && !['datasets', 'spaces', 'api'].includes(m[1]) && m[2] !== '..' ? `${m[1]}/${m[2]}` : undefined;
}

/** {hf: 'owner/repo', file?, revision?, endpoint?}: a .gguf file of the repo, or (no file) its HF
 *  folder (config.json, model.safetensors, tokenizer.json). The repo id names the base model. */
function hubSource(source) {
  const o = { revision: source.revision ?? 'main', endpoint: source.endpoint ?? HF_ENDPOINT };
  if (source.file !== undefined) {
    const url = hfUrl(source.hf, source.file, o);
    return { kind: 'url', url, name: url, repo: source.hf };
  }
  const files = {};
  for (const n of HF_NAMES) files[n] = { kind: 'url', url: hfUrl(source.hf, n, o), name: n };
  return { kind: 'hf', files, repo: source.hf };
}

async function readText(x, what) {
  if (typeof x === 'string') return x;
  if (isBlob(x)) return await x.text();
  if (isBytes(x)) return new TextDecoder().decode(toU8(x));
  if (x && typeof x === 'object') return JSON.stringify(x);
  throw err(ErrorCodes.SP_ERR_INVALID_ARG, `${what}: expected text, bytes, a Blob or an object`);
}

async function readBytes(x, what) {
  if (isBlob(x)) return new Uint8Array(await x.arrayBuffer());
  if (isBytes(x)) return toU8(x);
  throw err(ErrorCodes.SP_ERR_INVALID_ARG, `${what}: expected bytes or a Blob`);
}

/** Data for tune/evaluate/dataPreview: text (any format) or examples, sent as text or examples. In
 *  a browser a Blob (a File) goes to the worker as it is and is read there: decoding a 20 MB file
 *  on the page's thread blocked it for seconds. */
async function dataArg(data, what) {
  if (typeof data === 'string') return data;
  if (Array.isArray(data)) return data;
  if (isBlob(data) && !IS_NODE) return data;
  if (isBlob(data) || isBytes(data)) return await readText(data, what);
  throw err(ErrorCodes.SP_ERR_INVALID_ARG, `${what}: data must be text (JSONL, CSV or plain), bytes, a Blob or an array of examples`);
}

// ---------------------------------------------------------------- Softprompt

export class Softprompt {
  /** @private use Softprompt.create */
  constructor(client, info) {
    this._client = client;
    this.info = info;
    this.onerror = null;
    this._models = new Set();
    client.onDeath = (e) => {
      if (typeof this.onerror === 'function') this.onerror(e);
    };
  }

  /** A tokenizer (and chat template) without model weights: see web/chat.js loadTokenizer. */
  static async loadTokenizer(source) {
    const { loadTokenizer } = await import('./chat.js'); // loads @huggingface/jinja only when asked
    return await loadTokenizer(source);
  }

  static async create(options = {}) {
    const { threads, worker } = options;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 64)) {
      throw err(ErrorCodes.SP_ERR_INVALID_ARG, `threads must be an integer in 1..64 (got ${threads})`);
    }
    let transport;
    let mode = 'worker';
    if (IS_NODE) {
      if (worker === false) {
        transport = await inlineTransport();
        mode = 'inline';
      } else {
        const here = import.meta.url; // (not a literal new URL(): a browser bundle has its own worker)
        transport = await nodeWorkerTransport(worker === undefined || worker === true ? new URL('./worker.js', here) : worker);
      }
    } else {
      if (worker === false) {
        throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'in the browser the engine always runs in a Web Worker (worker: false is for Node)');
      }
      transport = browserWorkerTransport(worker);
    }
    const client = new Client(transport);
    try {
      await client.waitReady();
      const wasmBase = options.wasmBase !== undefined ? String(options.wasmBase instanceof URL ? options.wasmBase.href : options.wasmBase) : undefined;
      const info = await client.call('init', {
        threads, exact: options.exact, wasmBase: wasmBase && !IS_NODE ? resolveUrl(wasmBase) : wasmBase, jinjaUrl: IS_NODE ? undefined : pageJinjaUrl(),
      });
      info.mode = mode;
      return new Softprompt(client, info);
    } catch (e) {
      client.terminate();
      throw SoftpromptError.from(e);
    }
  }

  get terminated() {
    return this._client.dead !== null;
  }

  /** The browser's model cache (both stores): list(), has(url), delete(url), clear(). */
  get cache() {
    return modelCache;
  }

  async loadModel(source, options = {}) {
    checkOptionNames('loadModel', options, ['onProgress', 'signal', 'baseModel', 'name', 'fetchOptions', 'cache', 'transfer']);
    const { onProgress, signal, fetchOptions } = options;
    const baseModel = options.baseModel ?? options.name;
    if (baseModel !== undefined && typeof baseModel !== 'string') {
      throw err(ErrorCodes.SP_ERR_INVALID_ARG, `loadModel: baseModel must be a string such as 'owner/name' (got ${typeof baseModel})`);
    }
    if (signal?.aborted) throw abortedError('model load', signal.reason);
    const desc = await describeSource(source, options);
    // transfer: true hands the caller's bytes to the worker instead of copying them
    const transfer = options.transfer && desc.kind === 'bytes' && desc.bytes.buffer instanceof ArrayBuffer ? [desc.bytes.buffer] : undefined;
    const { repo, ...sourceArg } = desc;
    const { id, promise } = this._client.start('loadModel', {
      source: sourceArg, fetchOptions: plainFetchOptions(fetchOptions), cache: cacheStore(options.cache), name: baseModel, repo,
    }, {
      onProgress: onProgress ? (p) => onProgress(p) : undefined,
      transfer,
    });
    const res = await cancellable(promise, signal, () => this._client.control('cancel', id));
    const model = new Model(this, res.model, res.info, res.name ?? '', res.tokenizer);
    this._models.add(model);
    await checkChatTemplate(model);
    return model;
  }

  async memory() {
    return await this._client.call('memory', {});
  }

  /** What the engine's data parser reads in data, without a model (no token counts): format, kind,
   *  count, the first `limit` examples, labels, warnings, and problems with their line and field. */
  async dataPreview(data, options = {}) {
    checkOptionNames('dataPreview', options, ['format', 'limit', 'maxLength']);
    const payload = await dataArg(data, 'dataPreview');
    return await this._client.call('dataPreview', { data: payload, format: options.format, limit: options.limit, maxLength: options.maxLength });
  }

  /** Benchmark a random-weight model of a real shape (no download): {model: 'stories15M', type: 'Q8_0'}. */
  async bench(options = {}) {
    checkOptionNames('bench', options, [...BENCH_OPTIONS, 'model', 'type']);
    const { model, ...rest } = options;
    return await this._client.call('bench', { ...rest, preset: model ?? 'stories15M', model: 0 });
  }

  terminate() {
    this._client.terminate();
  }
}

/** loadModel's cache option -> the worker's store: downloads are cached by default in a browser
 *  (the Cache API; 'opfs' for large files), never under Node (files are on disk already). */
function cacheStore(c) {
  if (c === undefined) return IS_NODE ? 'none' : 'cache';
  if (c === false || c === 'none') return 'none';
  if (c === true || c === 'cache') return 'cache';
  if (c === 'opfs') return 'opfs';
  throw err(ErrorCodes.SP_ERR_INVALID_ARG, `cache must be true, false, 'cache' or 'opfs' (got ${JSON.stringify(c)})`);
}

function plainFetchOptions(o) {
  if (!o) return undefined;
  const out = {};
  for (const k of ['method', 'headers', 'credentials', 'mode', 'cache', 'redirect', 'referrerPolicy', 'integrity']) {
    if (o[k] === undefined) continue;
    out[k] = k === 'headers' && typeof Headers !== 'undefined' && o[k] instanceof Headers ? Object.fromEntries(o[k].entries()) : o[k];
  }
  return out;
}

// ---------------------------------------------------------------- Model

/** A model's chat template must parse and render a plain conversation with the model's special
 * tokens: refused at load (SP_ERR_TOKENIZER naming the problem), the model freed. Where
 * @huggingface/jinja cannot be imported at all (an unbundled page without an import map) no template
 * can be used, so none is checked: applyChatTemplate, generate({messages}) and conversation data
 * then fail with SP_ERR_UNSUPPORTED saying how to provide it. */
async function checkChatTemplate(model) {
  if (!model._tokInfo?.chat_template) return;
  const chat = await import('./chat.js');
  if (!(await chat.jinjaAvailable())) return;
  try {
    model._chatTemplate = await chat.compileChatTemplate(model._tokInfo.chat_template, model._tokInfo.specials ?? {});
  } catch (e) {
    await model.free().catch(() => {});
    throw e;
  }
}

/** The page's URL for @huggingface/jinja from its import map, for the worker (a module worker does
 *  not see the page's import map); undefined outside a page or without one. */
function pageJinjaUrl() {
  const doc = globalThis.document;
  if (!doc?.querySelectorAll) return undefined;
  for (const s of doc.querySelectorAll('script[type="importmap"]')) {
    try {
      const u = JSON.parse(s.textContent ?? '')?.imports?.['@huggingface/jinja'];
      if (typeof u === 'string') return new URL(u, doc.baseURI).href;
    } catch {
      // a broken import map is the page's problem, and the browser reports it
    }
  }
  return undefined;
}

export class Model {
  /** @private */
  constructor(sp, id, info, name, tokenizerInfo = null) {
    this.engine = sp;
    this._id = id;
    this.info = info;
    this._tokInfo = tokenizerInfo;
    this._tokenizer = null;
    this._name = name;
    this._freed = false;
    this._adapters = new Set();
  }

  get freed() {
    return this._freed;
  }

  _call(op, args, opts) {
    if (this._freed) return Promise.reject(err(ErrorCodes.SP_ERR_STATE, 'the model was freed'));
    return this.engine._client.call(op, { model: this._id, ...args }, opts);
  }

  async tokenize(text, options = {}) {
    if (typeof text !== 'string') throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'tokenize: text must be a string');
    return await this._call('tokenize', { text, addBos: options.addBos !== false });
  }

  async detokenize(ids) {
    return await this._call('detokenize', { ids: Array.from(ids ?? [], Number) });
  }

  generate(prompt, options = {}) {
    return new Generation(this, prompt, options);
  }

  /** The model's chat template (tokenizer_config.json or GGUF) rendered with @huggingface/jinja. */
  async applyChatTemplate(messages, options = {}) {
    const { renderForModel } = await import('./chat.js');
    return await renderForModel(this, messages, options);
  }

  /** tokenize / detokenize / applyChatTemplate / info / eogIds, the same as Softprompt.loadTokenizer gives. */
  get tokenizer() {
    const m = this;
    this._tokenizer ??= {
      info: this._tokInfo,
      eogIds: this._tokInfo?.eog_ids?.slice() ?? [],
      tokenize: (text, o = {}) => m.tokenize(text, { addBos: o.addSpecialTokens !== false }),
      detokenize: (ids) => m.detokenize(ids),
      applyChatTemplate: (messages, o) => m.applyChatTemplate(messages, o),
    };
    return this._tokenizer;
  }

  /** Next-token logits after the prompt (its last position): a Float32Array of vocab_size. */
  async logits(prompt, options = {}) {
    checkOptionNames('logits', options, ['adapter', 'addBos']);
    checkAdapter(this, options.adapter);
    const ids = typeof prompt === 'string' ? await this.tokenize(prompt, { addBos: options.addBos !== false }) : Array.from(prompt ?? [], Number);
    return await this._call('logits', { ids, adapter: options.adapter ? options.adapter._id : 0 });
  }

  /**
   * An embedding of the prompt (text, tokenized with BOS unless addBos: false, or ids): the model's
   * final hidden states (after the final norm, before the LM head) pooled ('mean' of the tokens,
   * the first token 'cls', the 'last', or 'none': every token's row, tokens * dim values), scaled
   * to unit length unless normalize: false. A Float32Array.
   */
  async embed(prompt, options = {}) {
    checkOptionNames('embed', options, ['adapter', 'addBos', 'pooling', 'normalize']);
    checkAdapter(this, options.adapter);
    const ids = typeof prompt === 'string' ? await this.tokenize(prompt, { addBos: options.addBos !== false }) : Array.from(prompt ?? [], Number);
    return await this._call('embed', {
      ids, adapter: options.adapter ? options.adapter._id : 0, pooling: options.pooling, normalize: options.normalize,
    });
  }

  async evaluate(data, options = {}) {
    const { adapter, signal, format, maxLength, batchSize } = options;
    if (signal?.aborted) throw abortedError('evaluation', signal.reason);
    checkAdapter(this, adapter);
    const payload = await dataArg(data, 'evaluate');
    const { id, promise } = this._startCall('evaluate', {
      data: payload, format, adapter: adapter ? adapter._id : 0, maxLength, batchSize,
    });
    return await cancellable(promise, signal, () => this.engine._client.control('cancel', id));
  }

  _startCall(op, args, opts) {
    if (this._freed) return { id: 0, promise: Promise.reject(err(ErrorCodes.SP_ERR_STATE, 'the model was freed')) };
    return this.engine._client.start(op, { model: this._id, ...args }, opts);
  }

  tune(options) {
    return new TuneJob(this, options ?? {});
  }

  async loadAdapter(source) {
    if (!source || typeof source !== 'object' || source.config == null || source.safetensors == null) {
      throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'loadAdapter needs {config, safetensors} (adapter_config.json and adapter_model.safetensors)');
    }
    const config = await readText(source.config, 'adapter config');
    const safetensors = await readBytes(source.safetensors, 'adapter safetensors');
    const res = await this._call('loadAdapter', { config, safetensors });
    return this._adopt(res);
  }

  /** @private wrap an adapter handle returned by the worker */
  _adopt(res) {
    const a = new Adapter(this, res.adapter, res.info);
    this._adapters.add(a);
    return a;
  }

  async dataPreview(data, options = {}) {
    checkOptionNames('dataPreview', options, ['format', 'limit', 'maxLength', 'ids']);
    const payload = await dataArg(data, 'dataPreview');
    return await this._call('dataPreview', { data: payload, format: options.format, limit: options.limit, maxLength: options.maxLength, ids: options.ids });
  }

  async bench(options = {}) {
    checkOptionNames('bench', options, BENCH_OPTIONS);
    return await this._call('bench', { ...options });
  }

  async free() {
    if (this._freed) return;
    this._freed = true;
    for (const a of this._adapters) a._freed = true;
    this._adapters.clear();
    this.engine._models.delete(this);
    if (this.engine._client.dead) return;
    await this.engine._client.call('freeModel', { model: this._id });
  }
}

function checkAdapter(model, adapter) {
  if (adapter == null) return;
  if (!(adapter instanceof Adapter)) throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'adapter must be an Adapter from model.loadAdapter or a tuning run');
  if (adapter.model !== model) throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'the adapter belongs to another model');
  if (adapter._freed) throw err(ErrorCodes.SP_ERR_STATE, 'the adapter was freed');
}

// ---------------------------------------------------------------- jobs

/**
 * What a generation and a tuning run share: `done` (a promise of the result), `state`
 * ('running' | 'paused' | 'done' | 'failed'), `abort(reason)` (the rejection is an AbortError,
 * SP_ERR_ABORTED, with `reason` as its cause), and events: on('progress' | 'state' | ..., fn).
 */
class Job {
  constructor(model, events) {
    this._model = model;
    this._listeners = {};
    for (const e of ['progress', 'state', ...events]) this._listeners[e] = new Set();
    this._state = 'running';
    this._id = 0;
    this._pendingControl = [];
    this._abortReason = undefined;
  }

  get state() {
    return this._state;
  }

  _setState(s) {
    if (this._state === s) return;
    this._state = s;
    this._emit('state', s);
  }

  _emit(event, value) {
    for (const fn of this._listeners[event] ?? []) {
      try { fn(value); } catch (e) { queueMicrotask(() => { throw e; }); }
    }
  }

  on(event, fn) {
    if (!this._listeners[event]) {
      throw err(ErrorCodes.SP_ERR_INVALID_ARG, `unknown event '${event}' (${Object.keys(this._listeners).join(', ')})`);
    }
    this._listeners[event].add(fn);
    return this;
  }

  off(event, fn) {
    this._listeners[event]?.delete(fn);
    return this;
  }

  _control(op) {
    if (this._state === 'done' || this._state === 'failed') return;
    if (this._id) this._model.engine._client.control(op, this._id);
    else this._pendingControl.push(op);
  }

  /** The request started: send the controls asked for before it had an id, follow the signal. */
  _started(id, signal) {
    this._id = id;
    for (const op of this._pendingControl.splice(0)) this._model.engine._client.control(op, id);
    return watchSignal(signal, () => this.abort(signal.reason));
  }

  /** Stop the job; `done` rejects with an AbortError (code SP_ERR_ABORTED) whose cause is reason. */
  abort(reason) {
    if (this._state === 'done' || this._state === 'failed') return;
    if (this._abortReason === undefined) this._abortReason = reason;
    this._control('cancel');
  }

  /** The error `done` rejects with: a SoftpromptError; an abort keeps the reason as its cause. */
  _failure(e) {
    this._setState('failed');
    const se = SoftpromptError.from(e);
    if (se.code === ErrorCodes.SP_ERR_ABORTED && this._abortReason !== undefined && se.cause === undefined) se.cause = this._abortReason;
    return se;
  }
}

// ---------------------------------------------------------------- Generation

/** A generation: a Job (done, abort, 'progress' per token), also awaitable itself and an async
 *  iterable of text pieces. */
class Generation extends Job {
  constructor(model, prompt, options) {
    super(model, []);
    this._pieces = [];
    this._waiters = [];
    this._finished = false;
    this._error = null;
    this.done = this._run(prompt, options);
    this.done.catch(() => {}); // the caller may only iterate; errors reach it there
  }

  async _run(prompt, options) {
    const { signal, onToken, adapter } = options;
    try {
      if (signal?.aborted) throw abortedError('generation', signal.reason);
      checkOptionNames('generate', options, [...GENERATE_OPTIONS, 'adapter', 'signal', 'onToken']);
      if (Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] === 'object' && prompt[0] !== null) {
        // messages: the chat template with the assistant's opening; it writes its own BOS
        prompt = await this._model.applyChatTemplate(prompt, { addGenerationPrompt: true });
        options = { ...options, addBos: false };
      }
      checkAdapter(this._model, adapter);
      const args = {
        maxTokens: options.maxTokens, temperature: options.temperature, topK: options.topK, topP: options.topP,
        seed: options.seed, stopAtEos: options.stopAtEos, addBos: options.addBos,
        adapter: adapter ? adapter._id : 0,
      };
      if (typeof prompt === 'string') args.prompt = prompt;
      else if (prompt != null && typeof prompt.length === 'number') args.ids = Array.from(prompt, Number);
      else throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'generate: prompt must be a string, an array of token ids or of messages');
      const { id, promise } = this._model._startCall('generate', args, {
        onProgress: (tok) => {
          if (onToken) {
            try { onToken(tok); } catch (e) { queueMicrotask(() => { throw e; }); }
          }
          this._emit('progress', tok);
          if (tok.text) this._push(tok.text);
        },
      });
      const detach = this._started(id, signal);
      try {
        const res = await promise;
        this._finish(null);
        this._setState('done');
        return res;
      } finally {
        detach();
      }
    } catch (e) {
      const se = this._failure(e);
      this._finish(se);
      throw se;
    }
  }

  _push(text) {
    const w = this._waiters.shift();
    if (w) w.resolve({ value: text, done: false });
    else this._pieces.push(text);
  }

  _finish(error) {
    this._finished = true;
    this._error = error;
    for (const w of this._waiters.splice(0)) {
      if (error) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  }

  then(onFulfilled, onRejected) {
    return this.done.then(onFulfilled, onRejected);
  }

  catch(onRejected) {
    return this.done.catch(onRejected);
  }

  finally(fn) {
    return this.done.finally(fn);
  }

  [Symbol.asyncIterator]() {
    return {
      next: () => {
        if (this._pieces.length) return Promise.resolve({ value: this._pieces.shift(), done: false });
        if (this._finished) {
          return this._error ? Promise.reject(this._error) : Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
      },
      return: () => {
        if (!this._finished) this.abort();
        this._pieces.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() { return this; },
    };
  }
}

// ---------------------------------------------------------------- tuning

const TUNE_KEYS = TUNE_OPTIONS;
const TUNE_OTHER_KEYS = ['data', 'init', 'resumeFrom', 'signal'];

/** A tuning run: a Job with 'progress' (per step), 'evaluating' (during an evaluation), 'eval',
 *  'checkpoint', 'state', 'paused' and 'resumed' events, and
 *  pause(), resume(), stop() (ends it keeping the prompt).
 *  'state' follows the calls at once; 'paused' / 'resumed' and the promises pause() and resume()
 *  return follow the worker's acknowledgements, which come in the order of the calls: after the
 *  one for a pause, no step runs or is reported until the next resume(). */
class TuneJob extends Job {
  constructor(model, options) {
    super(model, ['eval', 'evaluating', 'checkpoint', 'paused', 'resumed']);
    this._acks = { paused: [], running: [] }; // resolvers of pause() / resume(), oldest first
    this.done = this._run(options);
    this.done.catch(() => {});
  }

  /** A promise of the worker's acknowledgement `state` of the control just sent, or of the end
   *  state when the run is over or ends first. */
  _ack(state) {
    if (this._state === 'done' || this._state === 'failed') return Promise.resolve(this._state);
    return new Promise((resolve) => this._acks[state].push(resolve));
  }

  _setState(s) {
    super._setState(s);
    if (s !== 'done' && s !== 'failed') return;
    for (const list of Object.values(this._acks)) for (const resolve of list.splice(0)) resolve(s);
  }

  pause() {
    const acked = this._ack('paused');
    this._control('pause');
    if (this._state === 'running') this._setState('paused');
    return acked;
  }

  resume() {
    const acked = this._ack('running');
    this._control('resume');
    if (this._state === 'paused') this._setState('running');
    return acked;
  }

  stop() {
    this._control('stop');
  }

  async _run(options) {
    const model = this._model;
    const { signal } = options;
    try {
      if (signal?.aborted) throw abortedError('tuning', signal.reason);
      if (options.data == null) throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'tune: options.data is required');
      checkOptionNames('tune', options, [...TUNE_OTHER_KEYS, ...TUNE_KEYS]);
      const args = {};
      for (const k of TUNE_KEYS) if (options[k] !== undefined) args[k] = options[k];
      args.data = await dataArg(options.data, 'tune');
      if (options.init instanceof Adapter) {
        checkAdapter(model, options.init);
        args.initAdapter = options.init._id;
      } else if (options.init !== undefined) {
        args.init = options.init;
      }
      if (options.resumeFrom != null) args.resumeFrom = await readBytes(options.resumeFrom, 'resumeFrom');
      const { id, promise } = model._startCall('tune', args, {
        onProgress: (p) => {
          if (p.type === 'step') {
            const { type, ...step } = p;
            this._emit('progress', step);
          } else if (p.type === 'eval') {
            const { type, ...ev } = p;
            this._emit('eval', ev);
          } else if (p.type === 'evaluating') {
            const { type, ...ev } = p;
            this._emit('evaluating', ev);
          } else if (p.type === 'checkpoint') {
            this._emit('checkpoint', { step: p.step, bytes: p.bytes });
          } else if (p.type === 'state' && (p.state === 'paused' || p.state === 'running')) {
            // the worker's echo of a pause()/resume(): it acknowledges the oldest one waiting.
            // The job's state already follows the calls (a late echo must not undo a newer one).
            this._acks[p.state].shift()?.(p.state);
            this._emit(p.state === 'paused' ? 'paused' : 'resumed', undefined);
          }
        },
      });
      const detach = this._started(id, signal);
      let res;
      try {
        res = await promise;
      } finally {
        detach();
      }
      const adapter = model._adopt(res.adapter);
      const best = res.best && res.best.adapter !== res.adapter.adapter ? model._adopt(res.best) : adapter;
      this._setState('done');
      return { adapter, best, history: res.history, reason: res.reason, memory: res.memory };
    } catch (e) {
      const se = this._failure(e);
      if (e && e.partial) {
        // SP_ERR_NUMERIC: the run stopped, the last good prompt is kept
        const a = model._adopt(e.partial.adapter);
        se.result = { adapter: a, best: a, history: e.partial.history, reason: 'stopped', memory: e.partial.memory };
        delete se.partial;
      }
      throw se;
    }
  }
}

// ---------------------------------------------------------------- Adapter

export class Adapter {
  /** @private */
  constructor(model, id, info) {
    this.model = model;
    this._id = id;
    this.info = info;
    this._freed = false;
  }

  get freed() {
    return this._freed || this.model._freed;
  }

  _call(op, args) {
    if (this.freed) return Promise.reject(err(ErrorCodes.SP_ERR_STATE, 'the adapter was freed'));
    return this.model.engine._client.call(op, { adapter: this._id, ...args });
  }

  async save(options = {}) {
    return await this._call('saveAdapter', { baseModelName: options.baseModelName ?? this.model._name ?? '' });
  }

  async nearest(k = 5) {
    return await this._call('nearest', { k });
  }

  async free() {
    if (this.freed) return;
    this._freed = true;
    this.model._adapters.delete(this);
    if (this.model.engine._client.dead) return;
    await this.model.engine._client.call('freeAdapter', { adapter: this._id });
  }
}

export default Softprompt;
