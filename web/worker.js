// worker.js - the engine's message loop: a module Web Worker in the browser, a worker_threads
// worker under Node, or (Node, {worker:false}) a MessageChannel in the caller's thread.
//
// A small dispatcher: the protocol is declared once in worker/schema.js (types in worker.d.ts),
// every request is validated against it, and the operations live one module per group:
//   worker/load.js      init, memory, loadModel, modelInfo, freeModel (worker/sources.js reads files)
//   worker/generate.js  tokenize, detokenize, generate
//   worker/tune.js      tune, evaluate
//   worker/data.js      dataPreview
//   worker/adapters.js  loadAdapter, saveAdapter, freeAdapter, nearest
//   worker/bench.js     bench
// Long work (download, generation, tuning) runs in steps and yields to the event loop between
// them, so control messages arrive: cancel stops it (SP_ERR_ABORTED) and the model stays usable.
// An operation is fn(ctx, id, args) -> result, or {result, transfer} to move buffers.

import { SoftpromptError, ErrorCodes } from './errors.js';
import { IS_NODE, nodeModule } from './env.js';
import { OPS, CONTROL_OPS, validateRequest, isBlobValue } from './worker/schema.js';
import { createContext } from './worker/context.js';
import { ops as loadOps } from './worker/load.js';
import { ops as generateOps } from './worker/generate.js';
import { ops as tuneOps } from './worker/tune.js';
import { ops as dataOps } from './worker/data.js';
import { ops as adapterOps } from './worker/adapters.js';
import { ops as benchOps } from './worker/bench.js';

const HANDLERS = { ...loadOps, ...generateOps, ...tuneOps, ...dataOps, ...adapterOps, ...benchOps };
for (const op of Object.keys(OPS)) if (typeof HANDLERS[op] !== 'function') throw new Error(`worker: op '${op}' has no handler`);
for (const op of Object.keys(HANDLERS)) if (!OPS[op]) throw new Error(`worker: op '${op}' is not declared in worker/schema.js`);

function isTrap(e) {
  return (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError)
    || (e && typeof e.message === 'string' && /^(abort|Aborted)\(/.test(e.message));
}

/**
 * Serve the protocol on a channel {post(msg, transfer), listen(fn), close()}.
 * Returns {shutdown(), onFatal} (onFatal is set by inline users).
 */
export function serve(channel) {
  const ctx = createContext(channel);
  const server = {
    shutdown: () => ctx.shutdown(),
    set onFatal(fn) { ctx.onFatal = fn; },
    get onFatal() { return ctx.onFatal; },
  };

  async function handle(msg) {
    const { id, op } = msg;
    const args = msg.args ?? {};
    try {
      validateRequest(op, args);
      if (ctx.dead) throw new SoftpromptError(ErrorCodes.SP_ERR_WORKER, 'the engine is shut down');
      if (isBlobValue(args.data)) args.data = await args.data.text(); // a data file, decoded here and not on the page's thread
      const r = await HANDLERS[op](ctx, id, args);
      if (r && typeof r === 'object' && 'transfer' in r && 'result' in r) ctx.post({ id, result: r.result }, r.transfer);
      else ctx.post({ id, result: r });
    } catch (e) {
      if (isTrap(e) || ctx.engine?.aborted) {
        ctx.post({ id, error: { code: ErrorCodes.SP_ERR_WORKER, message: `engine crashed: ${e?.message ?? e}` } });
        ctx.die(e);
        return;
      }
      const se = e instanceof SoftpromptError ? e : new SoftpromptError(ErrorCodes.SP_ERR_INTERNAL, `${op}: ${e?.message ?? e}`);
      const error = se.toJSON(); // {code, message[, line, field]}
      if (e && e.partial) error.partial = e.partial;
      ctx.post({ id, error });
    }
  }

  channel.listen((msg) => {
    if (!msg || typeof msg !== 'object') return;
    if (msg.hello === true) {
      ctx.post({ ready: true }); // a client that attached late (an app-made Worker) asks again
      return;
    }
    if (msg.target !== undefined && msg.id === undefined) {
      if (CONTROL_OPS.includes(msg.op)) ctx.control(msg);
      return;
    }
    handle(msg);
  });
  ctx.post({ ready: true });
  return server;
}

// ---- start when loaded as a worker

function autostart() {
  if (IS_NODE) {
    const wt = nodeModule('node:worker_threads');
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
