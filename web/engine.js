// engine.js - the wasm engine (wasm/softprompt*.js + .wasm) wrapped into JS classes.
//
// Runs wherever the engine lives: a module Web Worker (web/worker.js), a Node worker_threads
// worker, or the Node main thread ({worker:false}). It wraps the C ABI of src/api/softprompt.h:
//   Engine  - sp_engine (thread pool, kernels), memory helpers, model loading
//   Model   - sp_model: info, tokenize, detokenize, token pieces, generation (a step loop),
//             evaluation, tuners, adapters
//   Adapter - sp_adapter (PEFT prompt / prefix), Tuner - sp_tuner (one optimiser step per call)
// Every C error becomes a thrown SoftpromptError(code name, C message). Every sp_malloc is
// freed. Heap views are re-taken after every call, because memory may grow (and with threads
// another thread may grow it).
//
// Loading the Emscripten glue (MODULARIZE, EXPORT_NAME createSoftprompt, not ES6):
//  - Node: createRequire (wasm/package.json marks wasm/ CommonJS) and our own instantiateWasm
//    with bytes read by fs (Node 20's fetch cannot load file paths, REFERENCE.md section 4).
//  - Browser worker: the glue as an ES module (wasm/softprompt[-mt].mjs, written at build time by
//    scripts/wasm-esm.js), imported statically, so nothing is evaluated from text and a strict
//    CSP (script-src 'self' 'wasm-unsafe-eval') holds. The wasm, the classic glue and the pthread
//    worker script are named by literal new URL('../wasm/...', import.meta.url) expressions, which
//    bundlers (Vite, webpack) follow and emit; {wasmBase} points elsewhere instead. locateFile and
//    mainScriptUrlOrBlob point the pthread workers at wasm/softprompt-mt.worker.js and the
//    classic glue (they load it with importScripts).
// The threaded build is used when SharedArrayBuffer works (Node, or a cross-origin-isolated
// page) and more than one thread is asked for; its pool is sized at instantiation
// (Module.spThreads, see emscripten.cmake) to the thread count, so the C pool never has to
// wait for a worker to start.

import { SoftpromptError, ErrorCodes, C_STATUS_NAMES, fail, withPlace } from './errors.js';
import { IS_NODE, nodeModule, whyNoThreads, threadsAvailable } from './env.js';
import createSoftpromptST from '../wasm/softprompt.mjs';
import createSoftpromptMT from '../wasm/softprompt-mt.mjs';

export { whyNoThreads, threadsAvailable };

export const ABI_VERSION = 6;
/** wasm32 linear memory ends at 4 GiB (emscripten.cmake: MAXIMUM_MEMORY=4GB). */
const MAX_THREADS = 16;

async function defaultThreads() {
  if (IS_NODE) {
    const os = nodeModule('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  return globalThis.navigator?.hardwareConcurrency || 2;
}

/** The WebAssembly.Memory in an imports or exports object (names are minified). */
function findMemory(obj, depth = 0) {
  if (!obj || typeof obj !== 'object' || depth > 2) return null;
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (v instanceof WebAssembly.Memory) return v;
    if (v && typeof v === 'object' && !(v instanceof WebAssembly.Table)) {
      const m = findMemory(v, depth + 1);
      if (m) return m;
    }
  }
  return null;
}

function compileErrorToSp(e) {
  const msg = String(e?.message ?? e);
  if (e instanceof WebAssembly.CompileError || /simd|v128/i.test(msg)) {
    return new SoftpromptError(ErrorCodes.SP_ERR_UNSUPPORTED, `cannot compile the engine (this runtime needs WebAssembly SIMD): ${msg}`);
  }
  if (e instanceof SoftpromptError) return e;
  return new SoftpromptError(ErrorCodes.SP_ERR_INTERNAL, `cannot start the engine: ${msg}`);
}

/** The browser's URLs of the wasm, the classic glue and the pthread worker script: from wasmBase
 *  when given, else literal new URL() expressions a bundler rewrites to the files it emits. */
function browserUrls(threaded, wasmBase) {
  if (wasmBase) {
    const base = new URL(wasmBase, globalThis.location?.href);
    const name = threaded ? 'softprompt-mt' : 'softprompt';
    return {
      wasm: new URL(`${name}.wasm`, base).href,
      glue: new URL(`${name}.js`, base).href,
      pthreadWorker: new URL('softprompt-mt.worker.js', base).href,
    };
  }
  if (!threaded) return { wasm: new URL('../wasm/softprompt.wasm', import.meta.url).href, glue: '', pthreadWorker: '' };
  return {
    wasm: new URL('../wasm/softprompt-mt.wasm', import.meta.url).href,
    glue: new URL('../wasm/softprompt-mt.js', import.meta.url).href,
    // ?no-inline: Vite inlines assets under 4 KiB as data: URLs, and a Worker cannot start from
    // one under worker-src 'self' (other bundlers and servers ignore the query)
    pthreadWorker: new URL('../wasm/softprompt-mt.worker.js?no-inline', import.meta.url).href,
  };
}

/** Instantiate the Emscripten module. Returns {M, memory, threaded, threads}. */
async function instantiate({ threaded, threads, wasmBase }) {
  const name = threaded ? 'softprompt-mt' : 'softprompt';
  let factory;
  let getWasm; // async (imports) -> {instance, module}
  let locate;
  let mainScript;
  if (IS_NODE) {
    const { createRequire } = nodeModule('node:module');
    const fs = nodeModule('node:fs');
    const url = nodeModule('node:url');
    const here = import.meta.url; // (not a literal new URL(): bundlers must not take wasm/ for an asset)
    const base = wasmBase ? new URL(wasmBase, url.pathToFileURL(process.cwd() + '/')) : new URL('../wasm/', here);
    const dir = url.fileURLToPath(base);
    const jsPath = url.fileURLToPath(new URL(`${name}.js`, base));
    const wasmPath = url.fileURLToPath(new URL(`${name}.wasm`, base));
    if (!fs.existsSync(jsPath) || !fs.existsSync(wasmPath)) {
      fail(ErrorCodes.SP_ERR_IO, `the wasm build is missing (${jsPath}); run: npm run build`);
    }
    const require = createRequire(import.meta.url);
    factory = require(jsPath);
    if (typeof factory !== 'function') {
      fail(ErrorCodes.SP_ERR_INTERNAL, `${jsPath} did not export createSoftprompt (is wasm/package.json {"type":"commonjs"} there?)`);
    }
    const bytes = fs.readFileSync(wasmPath);
    getWasm = (imports) => WebAssembly.instantiate(bytes, imports);
    locate = (p) => dir.replace(/\/?$/, '/') + p;
    mainScript = jsPath;
  } else {
    factory = threaded ? createSoftpromptMT : createSoftpromptST;
    const urls = browserUrls(threaded, wasmBase);
    getWasm = async (imports) => {
      let res;
      try {
        res = await fetch(urls.wasm);
      } catch (e) {
        fail(ErrorCodes.SP_ERR_NETWORK, `cannot fetch ${urls.wasm}: ${e?.message ?? e}`);
      }
      if (!res.ok) fail(ErrorCodes.SP_ERR_NETWORK, `HTTP ${res.status} for ${urls.wasm}`);
      if (typeof WebAssembly.instantiateStreaming === 'function' && /application\/wasm/.test(res.headers.get('content-type') || '')) {
        return await WebAssembly.instantiateStreaming(res, imports);
      }
      return await WebAssembly.instantiate(await res.arrayBuffer(), imports);
    };
    locate = (p) => (p.endsWith('.worker.js') ? urls.pthreadWorker : p.endsWith('.wasm') ? urls.wasm : new URL(p, urls.wasm).href);
    mainScript = urls.glue;
  }

  let memory = null;
  let rejectInit;
  const failed = new Promise((_, reject) => { rejectInit = reject; });
  let aborted = null;
  const moduleArg = {
    spThreads: threads,
    locateFile: locate,
    mainScriptUrlOrBlob: mainScript,
    print: (s) => console.log(s),
    printErr: (s) => {
      console.error(s);
      // a pthread worker that cannot start (a 404, a CSP refusal) would otherwise hang the start
      if (/^worker sent an error!/.test(String(s))) {
        rejectInit(new SoftpromptError(ErrorCodes.SP_ERR_WORKER, `a thread of the engine failed to start: ${s}`));
      }
    },
    onAbort: (what) => {
      aborted = String(what);
      rejectInit(new SoftpromptError(ErrorCodes.SP_ERR_INTERNAL, `engine aborted: ${what}`));
    },
    instantiateWasm(imports, receiveInstance) {
      memory = findMemory(imports);
      getWasm(imports).then(({ instance, module }) => {
        memory = memory || findMemory(instance.exports);
        receiveInstance(instance, module);
      }, (e) => rejectInit(compileErrorToSp(e)));
      return {};
    },
  };
  let M;
  try {
    M = await Promise.race([factory(moduleArg), failed]);
  } catch (e) {
    throw compileErrorToSp(e);
  }
  // MODULARIZE's promise resolves to the module, whose own `then` would confuse awaiting code.
  delete M.then;
  return { M, memory: memory || findMemory(M.asm), abortedRef: () => aborted };
}

/**
 * Instantiate the engine.
 * @param {{threads?: number, wasmBase?: string}} [options]
 * @returns {Promise<Engine>}
 */
export async function loadEngine(options = {}) {
  let threads = options.threads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 64)) {
    fail(ErrorCodes.SP_ERR_INVALID_ARG, `threads must be an integer in 1..64 (got ${threads})`);
  }
  let singleThreadReason;
  if (threads === undefined) threads = Math.max(1, Math.min(MAX_THREADS, await defaultThreads()));
  let threaded = threads > 1;
  if (threaded) {
    const why = whyNoThreads();
    if (why) {
      threaded = false;
      singleThreadReason = why;
    }
  }
  if (!threaded) threads = 1;
  const inst = await instantiate({ threaded, threads, wasmBase: options.wasmBase });
  const eng = new Engine(inst.M, inst.memory, threaded, inst.abortedRef);
  eng._create(threads);
  if (options.exact !== undefined) eng.setExact(options.exact);
  if (singleThreadReason) eng.singleThreadReason = singleThreadReason;
  if (IS_NODE) eng._unrefThreads();
  return eng;
}

const enc = new TextEncoder();

export class Engine {
  /** @private use loadEngine */
  constructor(M, memory, threaded, abortedRef) {
    this.M = M;
    this.memory = memory; // WebAssembly.Memory, or null (then M.HEAPU8 is used)
    this.threaded = threaded;
    this._abortedRef = abortedRef;
    this._u8 = null;
    this.ptr = 0;
    this.err = 0;
    this.threads = 1;
    this.isa = 'scalar';
    this.singleThreadReason = undefined;
    this.freed = false;
    const v = M._sp_abi_version ? M._sp_abi_version() : -1;
    if (v !== ABI_VERSION) fail(ErrorCodes.SP_ERR_UNSUPPORTED, `wasm engine ABI version ${v}, this JS needs ${ABI_VERSION}: rebuild (npm run build)`);
    this.err = M._sp_error_new() >>> 0;
    if (!this.err) fail(ErrorCodes.SP_ERR_NOMEM, 'out of memory creating the error object');
  }

  _create(threads) {
    const p = this.M._sp_engine_create(threads, this.err) >>> 0;
    if (!p) this.throwError();
    this.ptr = p;
    this.threads = this.M._sp_engine_threads(p);
    this.isa = this.cstr(this.M._sp_engine_isa(p));
  }

  /** Node: the pthread workers must not keep the process alive. */
  _unrefThreads() {
    const P = this.M.PThread;
    if (!P) return;
    const all = [...(P.unusedWorkers || []), ...(P.runningWorkers || [])];
    for (const t of Object.values(P.pthreads || {})) if (t && t.worker) all.push(t.worker);
    for (const w of all) if (w && typeof w.unref === 'function') w.unref();
  }

  /** exact: true makes every matrix product exact f32 (no 16-bit activations on quantized weights). */
  setExact(exact) {
    if (typeof exact !== 'boolean') fail(ErrorCodes.SP_ERR_INVALID_ARG, `exact must be true or false (got ${exact})`);
    if (this.M._sp_engine_set_exact(this.ptr, exact ? 1 : 0, this.err) !== 0) this.throwError();
  }

  get aborted() {
    return this._abortedRef() !== null;
  }

  info() {
    return { threads: this.threads, threaded: this.threaded, isa: this.isa, exact: this.M._sp_engine_exact(this.ptr) === 1, abiVersion: ABI_VERSION,
      singleThreadReason: this.singleThreadReason };
  }

  // ---- memory helpers

  /** Current Uint8Array view of the whole heap. */
  heap() {
    if (this.memory) {
      const buf = this.memory.buffer;
      if (!this._u8 || this._u8.buffer !== buf || this._u8.byteLength !== buf.byteLength) this._u8 = new Uint8Array(buf);
      return this._u8;
    }
    return this.M.HEAPU8;
  }

  heapBytes() {
    return this.heap().byteLength;
  }

  /** Bytes malloc has handed out and not taken back (sp_heap_used); null on an older build. */
  heapUsed() {
    return this.M._sp_heap_used ? this.M._sp_heap_used() >>> 0 : null;
  }

  /** Bytes that can still be allocated: the 4 GB wasm32 ceiling minus the heap, plus what malloc
   *  holds free inside it (a bound: the browser may refuse to grow that far, and free space can be
   *  fragmented). */
  heapRoom() {
    return this.M._sp_heap_room();
  }

  /** Refuse, before allocating, `bytes` more than heapRoom(): SP_ERR_TOO_LARGE naming the sizes. */
  checkRoom(bytes, what) {
    const room = this.heapRoom();
    if (bytes > room) {
      fail(ErrorCodes.SP_ERR_TOO_LARGE, `${what} needs ${bytes} bytes, but wasm memory has room for ${room} more `
        + `(4 GB at most, ${this.heapBytes() - (this.M._sp_heap_unused ? this.M._sp_heap_unused() >>> 0 : 0)} bytes in use)`);
    }
  }

  malloc(size) {
    if (!Number.isSafeInteger(size) || size < 0) fail(ErrorCodes.SP_ERR_INVALID_ARG, `bad allocation size ${size}`);
    if (size > 0xffff0000) fail(ErrorCodes.SP_ERR_TOO_LARGE, `${size} bytes do not fit in wasm memory (4 GB at most)`);
    const p = this.M._sp_malloc(Math.max(1, size)) >>> 0;
    if (!p) fail(ErrorCodes.SP_ERR_TOO_LARGE, `out of wasm memory allocating ${size} bytes (heap is ${this.heapBytes()} bytes)`);
    return p;
  }

  free(p) {
    if (p) this.M._sp_free(p);
  }

  /** Copy bytes into the heap at p + offset. */
  write(p, bytes, offset = 0) {
    this.heap().set(bytes, p + offset);
  }

  /** A copy (not a view) of heap bytes. */
  read(p, n) {
    return this.heap().slice(p, p + n);
  }

  u32(p) {
    const h = this.heap();
    return (h[p] | (h[p + 1] << 8) | (h[p + 2] << 16) | (h[p + 3] << 24)) >>> 0;
  }

  bytes(u8) {
    const p = this.malloc(u8.byteLength);
    this.write(p, u8);
    return p;
  }

  /** NUL-terminated UTF-8 copy of a string: {p, len} (len without the NUL). */
  string(s) {
    const s2 = String(s);
    const cap = s2.length * 3 + 1;
    const p = this.malloc(cap);
    let written;
    try {
      written = enc.encodeInto(s2, this.heap().subarray(p, p + cap - 1)).written;
    } catch {
      // encodeInto on shared memory is not allowed everywhere: encode, then copy.
      const b = enc.encode(s2);
      this.write(p, b);
      written = b.byteLength;
    }
    this.heap()[p + written] = 0;
    return { p, len: written };
  }

  cstr(p) {
    p >>>= 0;
    if (!p) return '';
    const h = this.heap();
    let e = p;
    while (h[e] !== 0) e++;
    return new TextDecoder().decode(h.slice(p, e));
  }

  int32s(ids) {
    const n = ids.length;
    const p = this.malloc(n * 4);
    const h = this.heap();
    for (let i = 0; i < n; i++) {
      const v = ids[i] | 0;
      const o = p + i * 4;
      h[o] = v & 255;
      h[o + 1] = (v >> 8) & 255;
      h[o + 2] = (v >> 16) & 255;
      h[o + 3] = (v >>> 24) & 255;
    }
    return p;
  }

  readInt32s(p, n) {
    const out = new Array(n);
    const dv = new DataView(this.heap().buffer, p, n * 4);
    for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
    return out;
  }

  readFloat32s(p, n) {
    const out = new Float32Array(n);
    const dv = new DataView(this.heap().buffer, p, n * 4);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }

  // ---- errors

  /** The last C error as a SoftpromptError. */
  lastError() {
    const code = this.M._sp_error_code(this.err);
    let name = this.M._sp_error_code_name ? this.cstr(this.M._sp_error_code_name(code)) : '';
    if (!name || !name.startsWith('SP_ERR_')) name = C_STATUS_NAMES[code] && code > 0 ? C_STATUS_NAMES[code] : ErrorCodes.SP_ERR_INTERNAL;
    const msg = this.cstr(this.M._sp_error_message(this.err)) || name;
    return withPlace(new SoftpromptError(name, msg), this.M._sp_error_line(this.err), this.cstr(this.M._sp_error_field(this.err)));
  }

  throwError() {
    throw this.lastError();
  }

  /** A JSON object for the options argument: drops undefined, checks numbers. */
  optsJson(obj) {
    const out = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined || v === null) continue;
      if (typeof v === 'number' && !Number.isFinite(v)) fail(ErrorCodes.SP_ERR_INVALID_ARG, `option ${k} must be a finite number (got ${v})`);
      out[k] = v;
    }
    return JSON.stringify(out);
  }

  /** Call fn(p, len) with a temporary C string; frees it. */
  withString(s, fn) {
    const { p, len } = this.string(s);
    try {
      return fn(p, len);
    } finally {
      this.free(p);
    }
  }

  /** Token ids of text from a C encoder call(tp, len, ids, cap, err) that returns how many ids the
   *  text has (< 0: err holds the error); a larger buffer is tried when they did not fit. */
  idsOf(text, call) {
    return this.withString(text, (tp, len) => {
      let cap = len + 8;
      for (;;) {
        const ids = this.malloc(cap * 4);
        try {
          const n = call(tp, len, ids, cap, this.err);
          if (n < 0) this.throwError();
          if (n <= cap) return this.readInt32s(ids, n);
          cap = n;
        } finally {
          this.free(ids);
        }
      }
    });
  }

  /** Bytes of ids from a C decoder call(idp, n, out, cap, err) that returns how many bytes the text
   *  has (< 0: err holds the error); a larger buffer is tried when they did not fit. */
  bytesOf(ids, call) {
    const idp = this.int32s(ids);
    try {
      let cap = ids.length * 8 + 16;
      for (;;) {
        const out = this.malloc(cap);
        try {
          const n = call(idp, ids.length, out, cap, this.err);
          if (n < 0) this.throwError();
          if (n <= cap) return this.read(out, n);
          cap = n;
        } finally {
          this.free(out);
        }
      }
    } finally {
      this.free(idp);
    }
  }

  /** Call fn(sizePtr) -> pointer to malloc'd bytes (size written at sizePtr); copy them out and free them. */
  takeBytes(fn) {
    const sz = this.malloc(8);
    try {
      const p = fn(sz) >>> 0;
      if (!p) this.throwError();
      const out = this.read(p, this.u32(sz));
      this.free(p);
      return out;
    } finally {
      this.free(sz);
    }
  }

  /** malloc'd char* JSON result -> parsed object (frees it). 0 -> throws the C error. */
  takeJson(p) {
    p >>>= 0;
    if (!p) this.throwError();
    try {
      return JSON.parse(this.cstr(p));
    } finally {
      this.free(p);
    }
  }

  // ---- data (src/train/data.c parses; web/worker/data.js renders conversations)

  /** sp_data_preview_json: {format, kind, count, examples, labels, tokens, warnings, errors}; malformed
   *  data comes back in errors ([{code, line, field, message}]). modelPtr 0: no token counts. */
  dataPreview(text, { format, limit, maxLength, ids } = {}, modelPtr = 0) {
    const json = this.optsJson({ format, limit, max_length: maxLength, ids });
    return this.withString(text, (dp, dlen) => this.withString(json, (op) =>
      this.takeJson(this.M._sp_data_preview_json(modelPtr, dp, dlen, op, this.err))));
  }

  /** sp_data_conversations_json: {format, conversations: [{line, messages, train_from}]}; malformed
   *  data throws SP_ERR_DATA with line and field. */
  dataConversations(text, format = 'auto') {
    return this.withString(text, (dp, dlen) => this.withString(format || 'auto', (fp) =>
      this.takeJson(this.M._sp_data_conversations_json(dp, dlen, fp, this.err))));
  }

  // ---- models

  /** sp_model_plan_gguf on the first bytes of a GGUF file of fileSize bytes: {complete: true,
   *  weight_bytes, kv_bytes, ...}, or {complete: false, header_bytes} (call again with that many).
   *  Throws SP_ERR_TOO_LARGE naming the sizes when weights + K/V cache cannot fit. */
  planGguf(head, fileSize, name = '') {
    const hp = this.bytes(head);
    try {
      return this.withString(name, (np) => this.takeJson(this.M._sp_model_plan_gguf(hp, head.byteLength, fileSize, np, this.err)));
    } finally {
      this.free(hp);
    }
  }

  /** sp_model_plan_hf: config.json text, the first bytes of each safetensors file and their sizes,
   *  otherBytes (tokenizer.json and the rest the loader keeps). As planGguf. */
  planHf(configText, heads, fileSizes, otherBytes, name = '') {
    const n = heads.length;
    const ptrs = [];
    let table = 0;
    try {
      for (const h of heads) ptrs.push(this.bytes(h));
      table = this.malloc(16 * n); // pointers, lengths (wasm32: 4 bytes each), then sizes (doubles)
      const dv = new DataView(this.heap().buffer, table, 16 * n);
      heads.forEach((h, i) => {
        dv.setUint32(4 * i, ptrs[i], true);
        dv.setUint32(4 * (n + i), h.byteLength, true);
        dv.setFloat64(8 * n + 8 * i, fileSizes[i], true);
      });
      return this.withString(configText, (cp, clen) => this.withString(name, (np) =>
        this.takeJson(this.M._sp_model_plan_hf(cp, clen, table, table + 4 * n, table + 8 * n, n, otherBytes, np, this.err))));
    } finally {
      for (const q of ptrs) this.free(q);
      this.free(table);
    }
  }

  /** Load a GGUF from bytes already in the heap at p (sp_malloc'd). The model owns p, even on failure. */
  loadGgufAt(p, size) {
    const m = this.M._sp_model_load_gguf(this.ptr, p, size, this.err) >>> 0;
    if (!m) this.throwError();
    return new Model(this, m);
  }

  loadGguf(bytes) {
    const p = this.bytes(bytes);
    return this.loadGgufAt(p, bytes.byteLength);
  }

  /** sp_model_preset: the random-weight model of a bench preset ('smollm2-135m') in a weight type
   *  ('Q8_0'), the one the benchmark measures. */
  presetModel(preset, type) {
    const m = this.withString(preset, (pp) => this.withString(type, (tp) => this.M._sp_model_preset(this.ptr, pp, tp, this.err) >>> 0));
    if (!m) this.throwError();
    return new Model(this, m);
  }

  /** Load an HF folder whose safetensors files are already in the heap: parts [{p, size}] (the
   *  one model.safetensors, or the shards model.safetensors.index.json names, in any order). The
   *  model owns every part from the call on, even on failure. */
  loadHfAt(configText, parts, tokenizerText) {
    const n = parts.length;
    let table = 0, cfg = null, tok = null;
    try {
      table = this.malloc(8 * n); // pointers, then sizes (wasm32: 4 bytes each)
      const dv = new DataView(this.heap().buffer, table, 8 * n);
      parts.forEach((q, i) => { dv.setUint32(4 * i, q.p, true); dv.setUint32(4 * (n + i), q.size, true); });
      cfg = this.string(configText);
      tok = this.string(tokenizerText);
    } catch (e) {
      for (const q of parts) this.free(q.p);
      this.free(table);
      if (cfg) this.free(cfg.p);
      throw e;
    }
    try {
      const m = this.M._sp_model_load_hf_shards(this.ptr, cfg.p, cfg.len, table, table + 4 * n, n, tok.p, tok.len, this.err) >>> 0;
      if (!m) this.throwError();
      return new Model(this, m);
    } finally {
      this.free(table);
      this.free(cfg.p);
      this.free(tok.p);
    }
  }

  /** safetensors: the bytes of model.safetensors, or an array of the shards that
   *  model.safetensors.index.json names (any order). */
  loadHf(configText, safetensors, tokenizerText) {
    const list = Array.isArray(safetensors) ? safetensors : [safetensors];
    const parts = [];
    try {
      for (const u8 of list) parts.push({ p: this.bytes(u8), size: u8.byteLength });
    } catch (e) {
      for (const q of parts) this.free(q.p);
      throw e;
    }
    return this.loadHfAt(configText, parts, tokenizerText);
  }

  /** Free the engine (models must be freed first). */
  dispose() {
    if (this.freed) return;
    this.freed = true;
    if (this.ptr) this.M._sp_engine_free(this.ptr);
    if (this.err) this.M._sp_error_delete(this.err);
    this.ptr = 0;
    this.err = 0;
    try {
      this.M.PThread?.terminateAllThreads();
    } catch { /* best effort */ }
  }
}

export class Model {
  /** @private */
  constructor(engine, ptr) {
    this.e = engine;
    this.ptr = ptr;
    this.freed = false;
    this._piece = 0;
    this._pieceCap = 0;
    this.info = JSON.parse(engine.cstr(engine.M._sp_model_info_json(ptr)));
  }

  _live() {
    if (this.freed) fail(ErrorCodes.SP_ERR_STATE, 'the model was freed');
  }

  /** @returns {number[]} token ids */
  tokenize(text, addBos = true) {
    this._live();
    const M = this.e.M;
    return this.e.idsOf(text, (tp, len, ids, cap, err) => M._sp_tokenize(this.ptr, tp, len, addBos ? 1 : 0, ids, cap, err));
  }

  /** Bytes of the text for ids. */
  detokenizeBytes(ids) {
    this._live();
    const M = this.e.M;
    return this.e.bytesOf(ids, (idp, n, out, cap, err) => M._sp_detokenize(this.ptr, idp, n, out, cap, err));
  }

  detokenize(ids) {
    return new TextDecoder().decode(this.detokenizeBytes(ids));
  }

  /** Bytes of token id as it follows prev (-1 at the start). */
  tokenPiece(prev, id) {
    this._live();
    const e = this.e;
    if (!this._piece) {
      this._pieceCap = 256;
      this._piece = e.malloc(this._pieceCap);
    }
    for (;;) {
      const n = e.M._sp_token_piece(this.ptr, prev, id, this._piece, this._pieceCap);
      if (n < 0) fail(ErrorCodes.SP_ERR_INVALID_ARG, `token id ${id} is not in the vocabulary (0..${this.info.vocab_size - 1})`);
      if (n <= this._pieceCap) return e.read(this._piece, n);
      e.free(this._piece);
      this._piece = 0;
      this._pieceCap = n;
      this._piece = e.malloc(n);
    }
  }

  /**
   * Start a generation (a step loop: call next() until it returns null).
   * @param {number[]} ids prompt ids
   * @param {{maxTokens?, temperature?, topK?, topP?, seed?, stopAtEos?}} opts
   * @param {Adapter|null} adapter
   */
  startGeneration(ids, opts = {}, adapter = null) {
    this._live();
    if (adapter) adapter._live();
    const e = this.e;
    if (!ids.length) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'the prompt has no tokens');
    const json = e.optsJson({
      max_tokens: opts.maxTokens, temperature: opts.temperature, top_k: opts.topK, top_p: opts.topP,
      seed: opts.seed, stop_at_eos: opts.stopAtEos,
    });
    const idp = e.int32s(ids);
    try {
      return e.withString(json, (op) => {
        const g = e.M._sp_gen_create(this.ptr, adapter ? adapter.ptr : 0, idp, ids.length, op, e.err) >>> 0;
        if (!g) e.throwError();
        return new Generation(this, g, ids[ids.length - 1]);
      });
    } finally {
      e.free(idp);
    }
  }

  /**
   * The final hidden states of the prompt ids (after the final norm, before the LM head), with the
   * adapter's virtual tokens in front: a Float32Array (ids.length * dim), row-major.
   */
  hiddenStates(ids, adapter = null) {
    this._live();
    if (adapter) adapter._live();
    const e = this.e;
    if (!ids.length) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'the prompt has no tokens');
    const n = ids.length * this.info.dim;
    const idp = e.int32s(ids);
    const out = e.malloc(n * 4);
    try {
      const got = e.M._sp_hidden_states(this.ptr, adapter ? adapter.ptr : 0, idp, ids.length, out, n, e.err);
      if (got < 0) e.throwError();
      return e.readFloat32s(out, got);
    } finally {
      e.free(out);
      e.free(idp);
    }
  }

  /** Evaluate JSONL data: {loss, perplexity, tokens, examples[, accuracy, labels]}. */
  evaluate(jsonl, opts = {}, adapter = null) {
    this._live();
    if (adapter) adapter._live();
    const e = this.e;
    const json = e.optsJson({ format: opts.format, max_length: opts.maxLength, batch_size: opts.batchSize });
    return e.withString(jsonl, (dp, dlen) => e.withString(json, (op) =>
      e.takeJson(e.M._sp_eval_json(this.ptr, adapter ? adapter.ptr : 0, dp, dlen, op, e.err))));
  }

  /** The engine's data parser (src/train/data.c) on text: counts, examples, labels, token counts with
   *  this model's tokenizer, and problems with their line and field (sp_data_preview_json). */
  dataPreview(text, opts = {}) {
    this._live();
    return this.e.dataPreview(text, opts, this.ptr);
  }

  /** Create a tuner. opts are the C option names (snake_case). */
  createTuner(opts, jsonl, initAdapter = null) {
    this._live();
    if (initAdapter) initAdapter._live();
    const e = this.e;
    const json = e.optsJson(opts);
    return e.withString(jsonl, (dp, dlen) => e.withString(json, (op) => {
      const t = e.M._sp_tuner_create(this.ptr, op, dp, dlen, initAdapter ? initAdapter.ptr : 0, e.err) >>> 0;
      if (!t) e.throwError();
      return new Tuner(this, t);
    }));
  }

  /** Load a PEFT adapter from adapter_model.safetensors bytes and adapter_config.json text. */
  loadAdapter(safetensors, configText) {
    this._live();
    const e = this.e;
    const sp = e.bytes(safetensors);
    try {
      return e.withString(configText, (cp, clen) => {
        const a = e.M._sp_adapter_load(this.ptr, sp, safetensors.byteLength, cp, clen, e.err) >>> 0;
        if (!a) e.throwError();
        return new Adapter(this, a);
      });
    } finally {
      e.free(sp);
    }
  }

  /** sp_model_gguf_json: a model without a tokenizer (a preset) as a GGUF file, handed to
   *  write(bytes) chunk by chunk in file order (views into the heap, valid during the call). */
  writeGguf(write) {
    this._live();
    const e = this.e;
    const { header, pieces } = e.takeJson(e.M._sp_model_gguf_json(this.ptr, e.err));
    try {
      write(e.heap().subarray(header[0], header[0] + header[1]));
      const zeros = new Uint8Array(32);
      for (const [p, n, pad] of pieces) {
        write(e.heap().subarray(p, p + n));
        if (pad) write(zeros.subarray(0, pad));
      }
    } finally {
      e.free(header[0]);
    }
  }

  free() {
    if (this.freed) return;
    this.freed = true;
    if (this._piece) this.e.free(this._piece);
    this._piece = 0;
    this.e.M._sp_model_free(this.ptr);
    this.ptr = 0;
  }
}

/** One generation: next() -> {id, text} per token, or null when finished. */
export class Generation {
  constructor(model, ptr, lastPromptId) {
    this.model = model;
    this.ptr = ptr;
    this.prev = lastPromptId;
    this.decoder = new TextDecoder('utf-8');
    this.count = 0;
    this.finished = false;
  }

  next() {
    if (this.finished) return null;
    this.model._live();
    const e = this.model.e;
    const r = e.M._sp_gen_next(this.ptr, e.err);
    if (r < 0) e.throwError();
    if (r === 0) {
      this.finished = true;
      return null;
    }
    const id = e.M._sp_gen_token(this.ptr);
    const bytes = this.model.tokenPiece(this.prev, id);
    this.prev = id;
    this.count++;
    return { id, text: this.decoder.decode(bytes, { stream: true }) };
  }

  /** Text of bytes still held by the streaming decoder (an incomplete UTF-8 sequence at the end). */
  flush() {
    return this.decoder.decode();
  }

  /** Logits [vocab] behind the last token (a copy). */
  logits() {
    const e = this.model.e;
    const p = e.M._sp_gen_logits(this.ptr) >>> 0;
    if (!p) fail(ErrorCodes.SP_ERR_STATE, 'no logits yet (call next() first)');
    return e.readFloat32s(p, this.model.info.vocab_size);
  }

  free() {
    if (!this.ptr) return;
    if (!this.model.freed) this.model.e.M._sp_gen_free(this.ptr);
    this.ptr = 0;
  }
}

export class Adapter {
  constructor(model, ptr) {
    this.model = model;
    this.ptr = ptr;
    this.freed = false;
    this.info = JSON.parse(model.e.cstr(model.e.M._sp_adapter_info_json(ptr)));
  }

  _live() {
    if (this.freed) fail(ErrorCodes.SP_ERR_STATE, 'the adapter was freed');
    this.model._live();
  }

  /** adapter_model.safetensors bytes. */
  saveSafetensors() {
    this._live();
    const e = this.model.e;
    return e.takeBytes((sz) => e.M._sp_adapter_save_safetensors(this.ptr, sz, e.err));
  }

  /** adapter_config.json text. */
  saveConfig(baseModelName = '') {
    this._live();
    const e = this.model.e;
    return e.withString(baseModelName, (np) => {
      const p = e.M._sp_adapter_save_config(this.ptr, np, e.err) >>> 0;
      if (!p) e.throwError();
      try {
        return e.cstr(p);
      } finally {
        e.free(p);
      }
    });
  }

  nearest(k = 5) {
    this._live();
    const e = this.model.e;
    return e.takeJson(e.M._sp_adapter_nearest_json(this.ptr, k, e.err));
  }

  free() {
    if (this.freed) return;
    this.freed = true;
    if (!this.model.freed) this.model.e.M._sp_adapter_free(this.ptr);
    this.ptr = 0;
  }
}

export class Tuner {
  constructor(model, ptr) {
    this.model = model;
    this.ptr = ptr;
    this.freed = false;
  }

  _live() {
    if (this.freed) fail(ErrorCodes.SP_ERR_STATE, 'the tuner was freed');
    this.model._live();
  }

  /** One optimiser step: true if a step was taken, false when the run is finished. */
  step() {
    this._live();
    const e = this.model.e;
    const r = e.M._sp_tuner_step(this.ptr, e.err);
    if (r < 0) e.throwError();
    return r > 0;
  }

  report() {
    this._live();
    return JSON.parse(this.model.e.cstr(this.model.e.M._sp_tuner_report_json(this.ptr)) || '{}');
  }

  evaluate() {
    this._live();
    const e = this.model.e;
    const p = e.M._sp_tuner_eval_json(this.ptr, e.err) >>> 0;
    if (!p) e.throwError();
    return JSON.parse(e.cstr(p));
  }

  /** Evaluate up to about maxExamples more of the held-out split: {more, done, total} (work
   *  units); when more is false, evaluate() reports the result without more work. */
  evaluateSome(maxExamples) {
    this._live();
    const e = this.model.e;
    const prog = e.malloc(8);
    try {
      const r = e.M._sp_tuner_eval_some(this.ptr, maxExamples, prog, e.err);
      if (r < 0) e.throwError();
      return { more: r > 0, done: e.u32(prog), total: e.u32(prog + 4) };
    } finally {
      e.free(prog);
    }
  }

  /** The current prompt (best=false) or the best by eval loss, as a new Adapter. */
  adapter(best = false) {
    this._live();
    const e = this.model.e;
    const a = e.M._sp_tuner_adapter(this.ptr, best ? 1 : 0, e.err) >>> 0;
    if (!a) e.throwError();
    return new Adapter(this.model, a);
  }

  checkpoint() {
    this._live();
    const e = this.model.e;
    return e.takeBytes((sz) => e.M._sp_tuner_checkpoint(this.ptr, sz, e.err));
  }

  resume(bytes) {
    this._live();
    const e = this.model.e;
    const p = e.bytes(bytes);
    try {
      if (e.M._sp_tuner_resume(this.ptr, p, bytes.byteLength, e.err) < 0) e.throwError();
    } finally {
      e.free(p);
    }
  }

  memory() {
    this._live();
    return JSON.parse(this.model.e.cstr(this.model.e.M._sp_tuner_memory_json(this.ptr)) || '{}');
  }

  free() {
    if (this.freed) return;
    this.freed = true;
    if (!this.model.freed) this.model.e.M._sp_tuner_free(this.ptr);
    this.ptr = 0;
  }
}
