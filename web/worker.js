// worker.js - the engine's message loop: a module Web Worker in the browser, a worker_threads
// worker under Node, or (Node, {worker:false}) a MessageChannel in the caller's thread.
//
// Protocol (web/softprompt.js is the client):
//   -> {id, op, args}                        a request
//   <- {id, result} | {id, error: {code, message}} | {id, progress}
//   -> {op: 'cancel'|'pause'|'resume'|'stop', target: id}   control of a running request
//   <- {ready: true}                         once, when listening
//   <- {fatal: {code, message}}              the engine crashed (wasm trap/abort); the worker is done
// Ops: init, memory, loadModel, modelInfo, freeModel, tokenize, detokenize, generate,
//      loadAdapter, saveAdapter, freeAdapter, nearest, evaluate, tune, dataPreview, bench.
// Long work (download, generation, tuning) runs in steps and yields to the event loop between
// them, so control messages arrive: cancel stops it (SP_ERR_ABORTED) and the model stays usable.

import { loadEngine } from './engine.js';
import { parseData, labelSet } from './data.js';
import { SoftpromptError, ErrorCodes } from './errors.js';

const IS_NODE = typeof process === 'object' && process !== null && typeof process.versions?.node === 'string'
  && typeof window === 'undefined';

function fail(code, message) {
  throw new SoftpromptError(code, message);
}

const now = () => (globalThis.performance ? performance.now() : Date.now());

/** Yield to the event loop (a macrotask), so queued control messages are handled. */
const tick = (() => {
  if (typeof setImmediate === 'function') return () => new Promise((r) => setImmediate(r));
  const ch = new MessageChannel();
  const q = [];
  ch.port1.onmessage = () => {
    const r = q.shift();
    if (r) r();
  };
  return () => new Promise((r) => {
    q.push(r);
    ch.port2.postMessage(0);
  });
})();

function isTrap(e) {
  return (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError)
    || (e && typeof e.message === 'string' && /^(abort|Aborted)\(/.test(e.message));
}

function toU8(x) {
  if (x instanceof Uint8Array) return x;
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  return new Uint8Array(x);
}

/**
 * Serve the protocol on a channel {post(msg, transfer), listen(fn), close()}.
 * Returns {shutdown(), onFatal} (onFatal is set by inline users).
 */
export function serve(channel) {
  const S = {
    engine: null,
    models: new Map(), // handle -> {model, name, adapters:Set<handle>, jobs:Set<job>}
    adapters: new Map(), // handle -> {adapter, modelHandle, jobs:Set<job>}
    jobs: new Map(), // request id -> job
    nextHandle: 1,
    dead: false,
  };
  const server = { onFatal: null, shutdown };

  function post(msg, transfer) {
    if (S.dead && !msg.fatal) return;
    try {
      channel.post(msg, transfer);
    } catch (e) {
      // An unclonable result is a bug: report it instead of hanging the caller.
      if (msg.id !== undefined && !msg.error) {
        channel.post({ id: msg.id, error: { code: ErrorCodes.SP_ERR_INTERNAL, message: `cannot send the result: ${e?.message ?? e}` } });
      }
    }
  }

  /** Stop: cancel everything, then free the models and the engine once running jobs have unwound. */
  function shutdown() {
    if (S.dead) return;
    S.dead = true;
    for (const job of S.jobs.values()) {
      job.cancelled = true;
      job.controller?.abort();
      if (job.wake) job.wake();
    }
    const finish = async () => {
      for (let i = 0; i < 1000 && S.jobs.size > 0; i++) await tick();
      try {
        for (const h of [...S.models.keys()]) freeModelNow(h);
        if (S.jobs.size === 0 && S.engine) S.engine.dispose();
      } catch { /* the engine may be broken */ }
      S.engine = null;
      try { channel.close(); } catch { /* closed */ }
    };
    finish();
  }

  function die(e) {
    const fatal = { code: ErrorCodes.SP_ERR_WORKER, message: `engine crashed: ${e?.message ?? e}` };
    post({ fatal });
    S.dead = true;
    if (server.onFatal) server.onFatal(new SoftpromptError(fatal.code, fatal.message));
    setTimeout(() => {
      try { channel.close(); } catch { /* closed */ }
    }, 0);
  }

  // ---- handles

  function engine() {
    if (!S.engine) fail(ErrorCodes.SP_ERR_STATE, "the engine is not initialised (send 'init' first)");
    return S.engine;
  }

  function getModel(h) {
    const m = S.models.get(h);
    if (!m) fail(ErrorCodes.SP_ERR_STATE, `no model ${h} (it was freed or never loaded)`);
    return m;
  }

  function getAdapter(h, modelHandle) {
    if (!h) return null;
    const a = S.adapters.get(h);
    if (!a) fail(ErrorCodes.SP_ERR_STATE, `no adapter ${h} (it was freed)`);
    if (modelHandle !== undefined && a.modelHandle !== modelHandle) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'the adapter belongs to another model');
    return a;
  }

  function addAdapter(modelHandle, adapter) {
    const h = S.nextHandle++;
    S.adapters.set(h, { adapter, modelHandle, jobs: new Set() });
    getModel(modelHandle).adapters.add(h);
    return { adapter: h, info: adapter.info };
  }

  function freeAdapterNow(h) {
    const a = S.adapters.get(h);
    if (!a) return;
    for (const job of a.jobs) job.cancelled = true;
    S.adapters.delete(h);
    S.models.get(a.modelHandle)?.adapters.delete(h);
    if (a.jobs.size === 0) a.adapter.free();
    else a.pendingFree = true; // the last job frees it
  }

  function freeModelNow(h) {
    const m = S.models.get(h);
    if (!m) return;
    for (const ah of [...m.adapters]) freeAdapterNow(ah);
    for (const job of m.jobs) job.cancelled = true;
    S.models.delete(h);
    if (m.jobs.size === 0) m.model.free();
    else m.pendingFree = true;
  }

  /** Register a job using a model (and adapters) so frees wait for it and cancel it. */
  function beginJob(id, m, adapters = []) {
    const job = { id, cancelled: false, paused: false, stopped: false, wake: null, m, adapters };
    S.jobs.set(id, job);
    m.jobs.add(job);
    for (const a of adapters) if (a) a.jobs.add(job);
    return job;
  }

  function endJob(job) {
    S.jobs.delete(job.id);
    job.m.jobs.delete(job);
    for (const a of job.adapters) {
      if (!a) continue;
      a.jobs.delete(job);
      if (a.pendingFree && a.jobs.size === 0) a.adapter.free();
    }
    if (job.m.pendingFree && job.m.jobs.size === 0) job.m.model.free();
  }

  /** Between steps: yield, honour pause, throw on cancel. */
  async function checkpoint(job, what) {
    await tick();
    while (job.paused && !job.cancelled && !job.stopped) {
      await new Promise((r) => { job.wake = r; });
      job.wake = null;
    }
    if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, `${what} aborted`);
  }

  function control(msg) {
    const job = S.jobs.get(msg.target);
    if (!job) return;
    if (msg.op === 'cancel' || msg.op === 'abort') {
      job.cancelled = true;
      job.controller?.abort();
    } else if (msg.op === 'pause') {
      job.paused = true;
      job.onState?.('paused');
    } else if (msg.op === 'resume') {
      job.paused = false;
      job.onState?.('running');
    } else if (msg.op === 'stop') {
      job.stopped = true;
    }
    if (job.wake) job.wake();
  }

  // ---- reading model sources into the heap

  /** Progress reporter with a shared total across files, throttled. */
  function progressReporter(id, total) {
    let last = 0;
    const r = {
      total,
      loaded: 0,
      report(status, file, force = false) {
        const t = now();
        if (!force && t - last < 30) return;
        last = t;
        post({ id, progress: { status, file, loaded: r.loaded, total: r.total } });
      },
    };
    return r;
  }

  async function openPart(part, job, fetchOptions) {
    // -> {size (or -1 when unknown), name, kind, read: async (sink) => void} where sink(chunk)
    if (part.kind === 'text') {
      const b = new TextEncoder().encode(part.text);
      return { size: b.byteLength, name: part.name, status: 'read', chunks: async function* () { yield b; } };
    }
    if (part.kind === 'bytes') {
      const b = toU8(part.bytes);
      return { size: b.byteLength, name: part.name, status: 'read', chunks: async function* () { yield b; } };
    }
    if (part.kind === 'blob') {
      const blob = part.blob;
      return {
        size: blob.size,
        name: part.name,
        status: 'read',
        chunks: async function* () {
          const step = 8 << 20;
          for (let off = 0; off < blob.size; off += step) {
            yield new Uint8Array(await blob.slice(off, Math.min(blob.size, off + step)).arrayBuffer());
          }
        },
      };
    }
    if (part.kind === 'path') {
      if (!IS_NODE) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'file paths can be loaded only under Node');
      const fs = await import('node:fs');
      let st;
      try {
        st = fs.statSync(part.path);
      } catch (e) {
        fail(ErrorCodes.SP_ERR_IO, `cannot read ${part.path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
      }
      if (!st.isFile()) fail(ErrorCodes.SP_ERR_IO, `cannot read ${part.path}: not a file`);
      return {
        size: st.size,
        name: part.path,
        status: 'read',
        path: part.path,
        chunks: async function* () {
          const fd = fs.openSync(part.path, 'r');
          try {
            const step = 8 << 20;
            const buf = new Uint8Array(Math.min(step, Math.max(1, st.size)));
            for (let off = 0; off < st.size;) {
              const n = fs.readSync(fd, buf, 0, Math.min(step, st.size - off), off);
              if (n <= 0) fail(ErrorCodes.SP_ERR_IO, `cannot read ${part.path}: file shrank while reading`);
              off += n;
              yield buf.subarray(0, n);
            }
          } finally {
            fs.closeSync(fd);
          }
        },
      };
    }
    if (part.kind === 'url') return await openUrl(part, job, fetchOptions);
    fail(ErrorCodes.SP_ERR_INVALID_ARG, `unknown model source kind '${part.kind}'`);
  }

  async function openUrl(part, job, fetchOptions = {}) {
    const url = part.url;
    job.controller = job.controller || new AbortController();
    let cache = null;
    let res = null;
    let status = 'download';
    if (part.cache && typeof caches !== 'undefined') {
      try {
        cache = await caches.open('softprompt-models');
        const hit = await cache.match(url);
        if (hit) {
          res = hit;
          status = 'read';
          cache = null;
        }
      } catch {
        cache = null;
      }
    }
    if (!res) {
      try {
        res = await fetch(url, { ...fetchOptions, signal: job.controller.signal });
      } catch (e) {
        if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
        fail(ErrorCodes.SP_ERR_NETWORK, `cannot download ${url}: ${e?.message ?? e}`);
      }
      if (!res.ok) fail(ErrorCodes.SP_ERR_NETWORK, `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''} for ${url}`);
      if (cache && res.body && typeof res.body.tee === 'function') {
        const [a, b] = res.body.tee();
        const headers = new Headers(res.headers);
        cache.put(url, new Response(b, { headers })).catch(() => { /* quota: keep it in memory only */ });
        res = new Response(a, { headers: res.headers, status: res.status });
      }
    }
    const len = Number(res.headers.get('content-length'));
    const encoded = (res.headers.get('content-encoding') || 'identity') !== 'identity';
    const size = Number.isFinite(len) && len >= 0 && !encoded && res.headers.has('content-length') ? len : -1;
    return {
      size,
      name: url,
      status,
      chunks: async function* () {
        if (!res.body) {
          yield new Uint8Array(await res.arrayBuffer());
          return;
        }
        const reader = res.body.getReader();
        try {
          for (;;) {
            let r;
            try {
              r = await reader.read();
            } catch (e) {
              if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
              fail(ErrorCodes.SP_ERR_NETWORK, `download of ${url} failed: ${e?.message ?? e}`);
            }
            if (r.done) return;
            yield r.value;
          }
        } finally {
          reader.releaseLock?.();
        }
      },
    };
  }

  /** Read a part fully into the heap: {p, size}. p is sp_malloc'd; the caller owns it. */
  async function readIntoHeap(opened, job, prog) {
    const e = engine();
    let p = 0;
    let cap = 0;
    let size = 0;
    const spill = []; // when the size is unknown (or wrong): chunks in JS
    let spilled = opened.size < 0;
    if (!spilled) {
      e.checkRoom(opened.size, baseName(opened.name));
      p = e.malloc(opened.size);
      cap = opened.size;
    }
    try {
      for await (const chunk of opened.chunks()) {
        if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
        if (!spilled && size + chunk.byteLength > cap) {
          // More bytes than announced: keep what we have in JS and go on there.
          spill.push(e.read(p, size));
          e.free(p);
          p = 0;
          spilled = true;
        }
        if (spilled) {
          e.checkRoom(size + chunk.byteLength, baseName(opened.name)); // no size given: stop as soon as it cannot fit
          spill.push(chunk.slice());
        } else e.write(p, chunk, size);
        size += chunk.byteLength;
        prog.loaded += chunk.byteLength;
        prog.report(opened.status, opened.name);
        await tick();
      }
      if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
      prog.report(opened.status, opened.name, true); // the last chunk, always
      if (spilled) {
        p = e.malloc(size);
        let off = 0;
        for (const c of spill) {
          e.write(p, c, off);
          off += c.byteLength;
        }
      } else if (size !== cap) {
        fail(ErrorCodes.SP_ERR_NETWORK, `${opened.name}: got ${size} bytes, expected ${cap}`);
      }
      return { p, size };
    } catch (err) {
      e.free(p);
      throw err;
    }
  }

  async function readAsText(opened, job, prog) {
    const chunks = [];
    let n = 0;
    for await (const c of opened.chunks()) {
      if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
      engine().checkRoom(n + c.byteLength, baseName(opened.name));
      chunks.push(c.slice());
      n += c.byteLength;
      prog.loaded += c.byteLength;
      prog.report(opened.status, opened.name);
    }
    prog.report(opened.status, opened.name, true);
    const all = new Uint8Array(n);
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.byteLength;
    }
    return new TextDecoder().decode(all);
  }

  /** Run a loader; its errors name the file (or folder / URL) they are about. */
  function withFile(fn, name) {
    try {
      return fn();
    } catch (err) {
      if (err instanceof SoftpromptError && name && !err.message.includes(name)) {
        throw new SoftpromptError(err.code, `${err.message}: ${name}`);
      }
      throw err;
    }
  }

  function baseName(name) {
    return String(name ?? '').split(/[\\/]/).pop() || 'the model file';
  }

  function hfName(files) {
    const p = files['model.safetensors'];
    const n = p?.path ?? p?.url ?? '';
    return n ? n.replace(/[\\/]?model\.safetensors$/, '') : '';
  }

  async function opLoadModel(id, args) {
    const e = engine();
    let { source } = args;
    const job = { id, cancelled: false, controller: null };
    S.jobs.set(id, job);
    try {
      if (source.kind === 'path' && IS_NODE) {
        const fs = await import('node:fs');
        let st = null;
        try {
          st = fs.statSync(source.path);
        } catch (err) {
          fail(ErrorCodes.SP_ERR_IO, `cannot read ${source.path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
        }
        if (st.isDirectory()) {
          const { join } = await import('node:path');
          const files = {};
          for (const n of ['config.json', 'model.safetensors', 'tokenizer.json']) {
            const f = join(source.path, n);
            if (!fs.existsSync(f)) {
              fail(ErrorCodes.SP_ERR_IO, `${source.path} is a folder but has no ${n} (a model is a .gguf file or a Hugging Face folder with config.json, model.safetensors, tokenizer.json)`);
            }
            files[n] = { kind: 'path', path: f, name: f };
          }
          source = { kind: 'hf', files, name: source.path };
        }
      }
      if (args.cache) {
        for (const part of source.kind === 'hf' ? Object.values(source.files) : [source]) part.cache = true;
      }
      let model;
      let name = '';
      if (source.kind === 'hf') {
        const f = source.files;
        const opened = {};
        // open all three first so the total is known up front
        await Promise.all(['config.json', 'model.safetensors', 'tokenizer.json'].map(async (n) => {
          opened[n] = await openPart(f[n], job, args.fetchOptions);
        }));
        const sizes = Object.values(opened).map((o) => o.size);
        // refused before anything is read or allocated when the files cannot fit
        e.checkRoom(sizes.reduce((a, b) => a + Math.max(0, b), 0), `the model folder (${sizes.join(' + ')} bytes of files)`);
        const prog = progressReporter(id, sizes.every((s) => s >= 0) ? sizes.reduce((a, b) => a + b, 0) : 0);
        const config = await readAsText(opened['config.json'], job, prog);
        const tok = await readAsText(opened['tokenizer.json'], job, prog);
        const st = await readIntoHeap(opened['model.safetensors'], job, prog);
        prog.report('load', undefined, true);
        S.lastLoaded = prog.loaded;
        model = withFile(() => e.loadHfAt(config, st.p, st.size, tok), source.name ?? hfName(f));
        try {
          const c = JSON.parse(config);
          name = c._name_or_path || '';
        } catch { /* the C side checked it */ }
      } else {
        const opened = await openPart(source, job, args.fetchOptions);
        const prog = progressReporter(id, Math.max(0, opened.size));
        const buf = await readIntoHeap(opened, job, prog);
        prog.report('load', opened.name, true);
        S.lastLoaded = prog.loaded;
        await tick();
        if (job.cancelled) {
          e.free(buf.p);
          fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
        }
        model = withFile(() => e.loadGgufAt(buf.p, buf.size), opened.name);
      }
      const h = S.nextHandle++;
      if (!name) name = model.info.name || '';
      S.models.set(h, { model, name, adapters: new Set(), jobs: new Set() });
      post({ id, progress: { status: 'done', loaded: S.lastLoaded ?? 0, total: S.lastLoaded ?? 0 } });
      return { model: h, info: model.info };
    } finally {
      job.controller?.abort(); // a download not read to its end (an error) stops here
      S.jobs.delete(id);
    }
  }

  // ---- data

  /** Data for the C side: text in any format passes through (the C parser reports problems with
   *  the user's line numbers); an array of examples becomes JSONL. -> {data, format} */
  function prepareData(data, format) {
    if (typeof data === 'string') {
      if (data.trim() === '') fail(ErrorCodes.SP_ERR_DATA, 'the data has no examples');
      return { data, format: format || 'auto' };
    }
    if (!Array.isArray(data)) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'data must be text (JSONL, CSV, plain) or an array of examples');
    const parsed = parseData(data);
    if (parsed.errors.length) {
      const e0 = parsed.errors[0];
      fail(ErrorCodes.SP_ERR_DATA, `example ${e0.line}: ${e0.message}`);
    }
    if (parsed.examples.length === 0) fail(ErrorCodes.SP_ERR_DATA, 'the data has no examples');
    return { data: parsed.jsonl, format: 'jsonl' };
  }

  async function opDataPreview(id, args) {
    const { data, format, limit = 20, maxLength = 256 } = args;
    let parsed;
    try {
      parsed = parseData(data, { format: format || 'auto' });
    } catch (err) {
      fail(ErrorCodes.SP_ERR_INVALID_ARG, err.message);
    }
    const out = {
      format: parsed.format,
      kind: parsed.kind,
      count: parsed.examples.length,
      examples: parsed.examples.slice(0, Math.max(0, limit)),
      errors: parsed.errors,
    };
    const labels = labelSet(parsed.examples);
    if (labels) out.labels = labels;
    if (args.model) {
      const m = getModel(args.model);
      // The engine's own parser has the last word (it is what tune/evaluate will read).
      if (typeof data === 'string' && out.errors.length === 0) {
        const c = m.model.dataPreview(data, format || 'auto', 0);
        if (c.error) {
          const mm = /^line (\d+)[,:]\s*(.*)$/.exec(c.error.message);
          out.errors.push(mm ? { line: Number(mm[1]), message: mm[2] } : { line: 1, message: c.error.message });
        } else if (c.result) {
          out.count = c.result.examples ?? out.count;
          if (Array.isArray(c.result.labels)) out.labels = c.result.labels;
        }
      }
      const per = [];
      let total = 0;
      let min = Infinity;
      let max = 0;
      let truncated = 0;
      for (let i = 0; i < parsed.examples.length; i++) {
        const ex = parsed.examples[i];
        const n = 'text' in ex
          ? m.model.tokenize(ex.text, true).length
          : m.model.tokenize(ex.input, true).length + m.model.tokenize(ex.output, false).length + 1;
        per.push(n);
        total += n;
        if (n < min) min = n;
        if (n > max) max = n;
        if (n > maxLength) truncated++;
        if (i % 256 === 255) await tick();
      }
      out.tokens = { total, min: per.length ? min : 0, max, mean: per.length ? total / per.length : 0, truncated, perExample: per };
    }
    return out;
  }

  // ---- option types (the C side checks the ranges; a string where a number belongs would
  // otherwise read as "not given" there)

  function checkTypes(args, numbers, booleans, what) {
    for (const k of numbers) {
      const v = args[k];
      if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isFinite(v))) {
        fail(ErrorCodes.SP_ERR_INVALID_ARG, `${what}: option ${k} must be a finite number (got ${JSON.stringify(v) ?? String(v)})`);
      }
    }
    for (const k of booleans) {
      const v = args[k];
      if (v !== undefined && v !== null && typeof v !== 'boolean') {
        fail(ErrorCodes.SP_ERR_INVALID_ARG, `${what}: option ${k} must be true or false (got ${JSON.stringify(v) ?? String(v)})`);
      }
    }
  }

  function wholeAtLeast0(args, k, what) {
    const v = args[k];
    if (v !== undefined && v !== null && !(Number.isInteger(v) && v >= 0)) {
      fail(ErrorCodes.SP_ERR_INVALID_ARG, `${what}: option ${k} must be a whole number >= 0 (got ${JSON.stringify(v) ?? String(v)})`);
    }
  }

  // ---- generation

  async function opGenerate(id, args) {
    checkTypes(args, ['maxTokens', 'temperature', 'topK', 'topP', 'seed'], ['stopAtEos', 'addBos'], 'generate');
    const m = getModel(args.model);
    const a = getAdapter(args.adapter, args.model);
    const job = beginJob(id, m, [a]);
    let gen = null;
    try {
      let ids;
      if (Array.isArray(args.ids)) ids = args.ids;
      else if (typeof args.prompt === 'string') ids = m.model.tokenize(args.prompt, args.addBos !== false);
      else fail(ErrorCodes.SP_ERR_INVALID_ARG, 'generate needs a prompt (text) or ids');
      const maxTokens = args.maxTokens ?? 128;
      const t0 = now();
      gen = m.model.startGeneration(ids, {
        maxTokens, temperature: args.temperature, topK: args.topK, topP: args.topP, seed: args.seed, stopAtEos: args.stopAtEos,
      }, a ? a.adapter : null);
      const tokens = [];
      let text = '';
      let prefillMs = 0;
      for (;;) {
        const tok = gen.next();
        if (tokens.length === 0) prefillMs = now() - t0;
        if (!tok) break;
        tokens.push(tok.id);
        text += tok.text;
        post({ id, progress: { id: tok.id, text: tok.text, index: tokens.length - 1 } });
        await checkpoint(job, 'generation');
      }
      const tail = gen.flush();
      if (tail) {
        text += tail;
        post({ id, progress: { id: -1, text: tail, index: tokens.length } });
      }
      return {
        text, tokens, promptTokens: ids, finishReason: tokens.length >= maxTokens ? 'length' : 'eos',
        prefillMs, totalMs: now() - t0,
      };
    } finally {
      if (gen) gen.free();
      endJob(job);
    }
  }

  // ---- tuning

  const TUNE_OPTS = {
    method: 'method', virtualTokens: 'virtual_tokens', init: 'init', initText: 'init_text', optimizer: 'optimizer',
    lr: 'lr', weightDecay: 'weight_decay', schedule: 'schedule', warmup: 'warmup', clip: 'clip', steps: 'steps',
    epochs: 'epochs', batchSize: 'batch_size', maxLength: 'max_length', seed: 'seed', shuffle: 'shuffle',
    evalSplit: 'eval_split', evalEvery: 'eval_every', patience: 'patience', memoryMb: 'memory_mb',
  };

  async function opTune(id, args) {
    checkTypes(args, ['virtualTokens', 'lr', 'weightDecay', 'warmup', 'clip', 'steps', 'epochs', 'batchSize', 'maxLength', 'seed',
      'evalSplit', 'evalEvery', 'patience', 'checkpointEvery', 'memoryMb'], ['shuffle'], 'tune');
    wholeAtLeast0(args, 'evalEvery', 'tune');
    wholeAtLeast0(args, 'checkpointEvery', 'tune');
    const m = getModel(args.model);
    const init = getAdapter(args.initAdapter, args.model);
    const { data, format } = prepareData(args.data, args.format);
    const opts = { format };
    for (const [k, c] of Object.entries(TUNE_OPTS)) if (args[k] !== undefined) opts[c] = args[k];
    // the activation budget (C default 1 GiB) never above what wasm memory can still hold, so a
    // run that cannot fit is refused by sp_tuner_create with the sizes, before it allocates
    const roomMb = Math.max(1, Math.floor(engine().heapRoom() / (1 << 20)));
    if ((opts.memory_mb ?? 1024) > roomMb) opts.memory_mb = roomMb;
    if (init) delete opts.init;
    if (opts.init !== undefined && !['random', 'vocab', 'text'].includes(opts.init)) {
      fail(ErrorCodes.SP_ERR_INVALID_ARG, `init must be random, vocab, text or an adapter (got ${opts.init})`);
    }
    const job = beginJob(id, m, [init]);
    job.onState = (state) => post({ id, progress: { type: 'state', state } });
    let tuner = null;
    try {
      tuner = m.model.createTuner(opts, data, init ? init.adapter : null);
      const first = tuner.report(); // {"step":0,"total_steps","train_examples","eval_examples"}
      const canEval = typeof first.eval_examples === 'number' ? first.eval_examples > 0 : (args.evalSplit ?? 0.1) > 0;
      if (args.resumeFrom) tuner.resume(toU8(args.resumeFrom));
      let memory;
      try {
        memory = tuner.memory();
      } catch { memory = undefined; }
      const evalEvery = args.evalEvery ?? 0;
      const checkpointEvery = args.checkpointEvery ?? 0;
      const steps = [];
      const evals = [];
      let computeMs = 0;
      let tokensSeen = 0;
      let reason = 'finished';
      let lastEpoch = null;
      let lastEvalStep = -1;
      let stoppedEarly = false;
      const t0 = now();
      const doEval = (step) => {
        if (!canEval || step === lastEvalStep) return undefined;
        lastEvalStep = step;
        const r = tuner.eval();
        const ev = { step, evalLoss: r.eval_loss, perplexity: r.perplexity };
        if (r.accuracy !== undefined) ev.accuracy = r.accuracy;
        evals.push(ev);
        if (r.stopped_early) stoppedEarly = true;
        post({ id, progress: { type: 'eval', ...ev } });
        return r;
      };
      for (;;) {
        await checkpoint(job, 'tuning');
        if (job.stopped) {
          reason = 'stopped';
          break;
        }
        const ts = now();
        let took;
        try {
          took = tuner.step();
        } catch (err) {
          if (err instanceof SoftpromptError && err.code === ErrorCodes.SP_ERR_NUMERIC) {
            err.partial = partialResult(m, tuner, args.model, { steps, evals }, memory);
          }
          throw err;
        }
        computeMs += now() - ts;
        if (!took) {
          if (stoppedEarly) reason = 'early-stop';
          break;
        }
        const rep = tuner.report();
        tokensSeen += rep.tokens ?? 0;
        const s = {
          step: rep.step, epoch: rep.epoch, loss: rep.loss, lr: rep.lr,
          tokensPerSecond: computeMs > 0 ? tokensSeen / (computeMs / 1000) : 0,
          elapsedMs: now() - t0, totalSteps: rep.total_steps, tokens: rep.tokens ?? 0,
        };
        steps.push(s);
        post({ id, progress: { type: 'step', ...s } });
        if (evalEvery > 0 && rep.step % evalEvery === 0) doEval(rep.step);
        else if (evalEvery === 0 && lastEpoch !== null && rep.epoch !== lastEpoch) doEval(rep.step);
        lastEpoch = rep.epoch;
        if (checkpointEvery > 0 && rep.step % checkpointEvery === 0) {
          const bytes = tuner.checkpoint();
          post({ id, progress: { type: 'checkpoint', step: rep.step, bytes } }, [bytes.buffer]);
        }
      }
      const lastStep = steps.length ? steps[steps.length - 1].step : 0;
      // the last step's eval when the run finished; a Stop returns at once (a final evaluation of a
      // large held-out set took minutes)
      if (lastStep > 0 && reason === 'finished') doEval(lastStep);
      const cur = addAdapter(args.model, tuner.adapter(false));
      const best = evals.length ? addAdapter(args.model, tuner.adapter(true)) : cur;
      return { adapter: cur, best, history: { steps, evals }, reason, memory };
    } finally {
      if (tuner) tuner.free();
      endJob(job);
    }
  }

  function partialResult(m, tuner, modelHandle, history, memory) {
    try {
      const cur = addAdapter(modelHandle, tuner.adapter(false));
      return { adapter: cur, best: cur, history, reason: 'stopped', memory };
    } catch {
      return undefined;
    }
  }

  async function opEvaluate(id, args) {
    checkTypes(args, ['maxLength', 'batchSize'], [], 'evaluate');
    const m = getModel(args.model);
    const a = getAdapter(args.adapter, args.model);
    const { data, format } = prepareData(args.data, args.format);
    const job = beginJob(id, m, [a]);
    try {
      await checkpoint(job, 'evaluation');
      return m.model.evaluate(data, { format, maxLength: args.maxLength, batchSize: args.batchSize }, a ? a.adapter : null);
    } finally {
      endJob(job);
    }
  }

  // ---- bench (sp_bench_json: probes, GEMM on the model's shapes, prefill, decode, training)

  const snakeToCamel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

  async function opBench(id, args) {
    const e = engine();
    if (!e.M._sp_bench_json) fail(ErrorCodes.SP_ERR_UNSUPPORTED, 'this wasm build has no benchmark (sp_bench_json): rebuild');
    const m = args.model ? getModel(args.model) : null;
    const job = m ? beginJob(id, m, []) : { id, cancelled: false };
    if (!m) S.jobs.set(id, job);
    try {
      await checkpoint(job, 'bench');
      const opts = e.optsJson({
        model: m ? undefined : (args.preset ?? 'stories15M'), type: m ? undefined : (args.type ?? 'F32'),
        prompt_tokens: args.promptTokens, decode_tokens: args.decodeTokens, train_batch: args.trainBatch,
        train_tokens: args.trainTokens, seconds: args.seconds, probes: args.probes, repeats: args.repeats,
      });
      const raw = e.withString(opts, (op) => e.takeJson(e.M._sp_bench_json(e.ptr, m ? m.model.ptr : 0, op, e.err)));
      const out = {};
      for (const [k, v] of Object.entries(raw)) out[snakeToCamel(k)] = v;
      for (const k of ['peakGflops', 'gemmGflops', 'trainTokS', 'trainGflops']) if (!(k in out)) out[k] = null;
      out.raw = raw;
      return out;
    } finally {
      if (m) endJob(job);
      else S.jobs.delete(id);
    }
  }

  // ---- dispatch

  const ops = {
    async init(id, args) {
      if (S.engine) fail(ErrorCodes.SP_ERR_STATE, 'the engine is already initialised');
      S.engine = await loadEngine({ threads: args.threads, wasmBase: args.wasmBase });
      return S.engine.info();
    },
    memory() {
      const e = engine();
      return { heapBytes: e.heapBytes(), heapUsed: e.heapUsed(), heapRoom: e.heapRoom(), models: S.models.size, adapters: S.adapters.size };
    },
    loadModel: opLoadModel,
    modelInfo(id, args) {
      return getModel(args.model).model.info;
    },
    freeModel(id, args) {
      freeModelNow(args.model);
      return true;
    },
    tokenize(id, args) {
      if (typeof args.text !== 'string') fail(ErrorCodes.SP_ERR_INVALID_ARG, 'tokenize: text must be a string');
      return getModel(args.model).model.tokenize(args.text, args.addBos !== false);
    },
    detokenize(id, args) {
      if (!Array.isArray(args.ids)) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'detokenize: ids must be an array');
      return getModel(args.model).model.detokenize(args.ids);
    },
    generate: opGenerate,
    loadAdapter(id, args) {
      const m = getModel(args.model);
      if (typeof args.config !== 'string') fail(ErrorCodes.SP_ERR_INVALID_ARG, 'loadAdapter: config must be adapter_config.json text');
      if (!args.safetensors) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'loadAdapter: safetensors bytes are required');
      return addAdapter(args.model, m.model.loadAdapter(toU8(args.safetensors), args.config));
    },
    saveAdapter(id, args) {
      const a = getAdapter(args.adapter);
      const name = args.baseModelName ?? S.models.get(a.modelHandle)?.name ?? '';
      const safetensors = a.adapter.saveSafetensors();
      const config = a.adapter.saveConfig(name);
      return { result: { config, safetensors }, transfer: [safetensors.buffer] };
    },
    freeAdapter(id, args) {
      freeAdapterNow(args.adapter);
      return true;
    },
    nearest(id, args) {
      const k = args.k ?? 5;
      if (!Number.isInteger(k) || k < 1) fail(ErrorCodes.SP_ERR_INVALID_ARG, `k must be a positive integer (got ${k})`);
      return getAdapter(args.adapter).adapter.nearest(k);
    },
    evaluate: opEvaluate,
    tune: opTune,
    dataPreview: opDataPreview,
    bench: opBench,
  };

  async function handle(msg) {
    const { id, op, args } = msg;
    const fn = ops[op];
    try {
      if (!fn) fail(ErrorCodes.SP_ERR_INVALID_ARG, `unknown op '${op}'`);
      if (S.dead) fail(ErrorCodes.SP_ERR_WORKER, 'the engine is shut down');
      const r = await fn(id, args || {});
      if (r && typeof r === 'object' && 'transfer' in r && 'result' in r) post({ id, result: r.result }, r.transfer);
      else post({ id, result: r });
    } catch (e) {
      if (isTrap(e) || S.engine?.aborted) {
        post({ id, error: { code: ErrorCodes.SP_ERR_WORKER, message: `engine crashed: ${e?.message ?? e}` } });
        die(e);
        return;
      }
      const se = e instanceof SoftpromptError ? e : new SoftpromptError(ErrorCodes.SP_ERR_INTERNAL, `${op}: ${e?.message ?? e}`);
      const error = { code: se.code, message: se.message };
      const transfer = [];
      if (e && e.partial) error.partial = e.partial;
      post({ id, error }, transfer);
    }
  }

  channel.listen((msg) => {
    if (!msg || typeof msg !== 'object') return;
    if (msg.target !== undefined && msg.id === undefined) {
      control(msg);
      return;
    }
    handle(msg);
  });
  post({ ready: true });
  return server;
}

// ---- start when loaded as a worker

async function autostart() {
  if (IS_NODE) {
    const wt = await import('node:worker_threads');
    if (wt.isMainThread || !wt.parentPort || !wt.workerData || !wt.workerData.softprompt) return;
    const port = wt.parentPort;
    serve({
      post: (m, t) => port.postMessage(m, t || []),
      listen: (fn) => port.on('message', fn),
      close: () => process.exit(1),
    });
    return;
  }
  if (typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined' && self instanceof WorkerGlobalScope
    && typeof self.postMessage === 'function') {
    serve({
      post: (m, t) => self.postMessage(m, t || []),
      listen: (fn) => { self.onmessage = (e) => fn(e.data); },
      close: () => self.close(),
    });
  }
}

autostart();
