// context.js - the state one engine worker serves from, and what every operation module uses:
// the engine, the model and adapter handles, running jobs (so a free waits for them and a
// cancel reaches them), replies, and the checkpoint between steps of long work.

import { SoftpromptError, ErrorCodes, fail } from '../errors.js';
import { tick, now } from '../env.js';

/** The state of one server speaking on channel {post(msg, transfer), listen(fn), close()}. */
export function createContext(channel) {
  const ctx = {
    engine: null, // Engine (web/engine.js) after 'init'
    models: new Map(), // handle -> {model, name, adapters:Set<handle>, jobs:Set<job>}
    adapters: new Map(), // handle -> {adapter, modelHandle, jobs:Set<job>}
    jobs: new Map(), // request id -> job
    nextHandle: 1,
    dead: false,
    onFatal: null,
    lastLoaded: 0,

    post(msg, transfer) {
      if (ctx.dead && !msg.fatal) return;
      try {
        channel.post(msg, transfer);
      } catch (e) {
        // An unclonable result is a bug: report it instead of hanging the caller.
        if (msg.id !== undefined && !msg.error) {
          channel.post({ id: msg.id, error: { code: ErrorCodes.SP_ERR_INTERNAL, message: `cannot send the result: ${e?.message ?? e}` } });
        }
      }
    },

    progress(id, progress, transfer) {
      ctx.post({ id, progress }, transfer);
    },

    getEngine() {
      if (!ctx.engine) fail(ErrorCodes.SP_ERR_STATE, "the engine is not initialised (send 'init' first)");
      return ctx.engine;
    },

    getModel(h) {
      const m = ctx.models.get(h);
      if (!m) fail(ErrorCodes.SP_ERR_STATE, `no model ${h} (it was freed or never loaded)`);
      return m;
    },

    /** The adapter for handle h (null for none); with modelHandle, it must belong to that model. */
    getAdapter(h, modelHandle) {
      if (!h) return null;
      const a = ctx.adapters.get(h);
      if (!a) fail(ErrorCodes.SP_ERR_STATE, `no adapter ${h} (it was freed)`);
      if (modelHandle !== undefined && a.modelHandle !== modelHandle) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'the adapter belongs to another model');
      return a;
    },

    addModel(model, name) {
      const h = ctx.nextHandle++;
      ctx.models.set(h, { model, name, adapters: new Set(), jobs: new Set() });
      return h;
    },

    /** Register an Adapter of a model: -> {adapter: handle, info} (what the client adopts). */
    addAdapter(modelHandle, adapter) {
      const h = ctx.nextHandle++;
      ctx.adapters.set(h, { adapter, modelHandle, jobs: new Set() });
      ctx.getModel(modelHandle).adapters.add(h);
      return { adapter: h, info: adapter.info };
    },

    freeAdapterNow(h) {
      const a = ctx.adapters.get(h);
      if (!a) return;
      for (const job of a.jobs) job.cancelled = true;
      ctx.adapters.delete(h);
      ctx.models.get(a.modelHandle)?.adapters.delete(h);
      if (a.jobs.size === 0) a.adapter.free();
      else a.pendingFree = true; // the last job frees it
    },

    freeModelNow(h) {
      const m = ctx.models.get(h);
      if (!m) return;
      for (const ah of [...m.adapters]) ctx.freeAdapterNow(ah);
      for (const job of m.jobs) job.cancelled = true;
      ctx.models.delete(h);
      if (m.jobs.size === 0) m.model.free();
      else m.pendingFree = true;
    },

    /** Register the job of request id, using model m (or none) and adapters, so frees wait for it
     *  and cancel it. */
    beginJob(id, m = null, adapters = []) {
      const job = { id, cancelled: false, paused: false, stopped: false, wake: null, controller: null, onState: null, m, adapters };
      ctx.jobs.set(id, job);
      if (m) m.jobs.add(job);
      for (const a of adapters) if (a) a.jobs.add(job);
      return job;
    },

    endJob(job) {
      ctx.jobs.delete(job.id);
      if (job.m) {
        job.m.jobs.delete(job);
        if (job.m.pendingFree && job.m.jobs.size === 0) job.m.model.free();
      }
      for (const a of job.adapters) {
        if (!a) continue;
        a.jobs.delete(job);
        if (a.pendingFree && a.jobs.size === 0) a.adapter.free();
      }
    },

    /** Between steps: yield, honour pause, throw SP_ERR_ABORTED on cancel. */
    async checkpoint(job, what) {
      await tick();
      while (job.paused && !job.cancelled && !job.stopped) {
        await new Promise((r) => { job.wake = r; });
        job.wake = null;
      }
      if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, `${what} aborted`);
    },

    /** A control message {op, target}. */
    control(msg) {
      const job = ctx.jobs.get(msg.target);
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
    },

    /** Progress reporter with a shared total across files, throttled to one message per 30 ms. */
    progressReporter(id, total) {
      let last = 0;
      const r = {
        total,
        loaded: 0,
        report(status, file, force = false) {
          const t = now();
          if (!force && t - last < 30) return;
          last = t;
          ctx.progress(id, { status, file, loaded: r.loaded, total: r.total });
        },
      };
      return r;
    },

    /** Stop: cancel everything, then free the models and the engine once running jobs have unwound. */
    shutdown() {
      if (ctx.dead) return;
      ctx.dead = true;
      for (const job of ctx.jobs.values()) {
        job.cancelled = true;
        job.controller?.abort();
        if (job.wake) job.wake();
      }
      const finish = async () => {
        for (let i = 0; i < 1000 && ctx.jobs.size > 0; i++) await tick();
        try {
          for (const h of [...ctx.models.keys()]) ctx.freeModelNow(h);
          if (ctx.jobs.size === 0 && ctx.engine) ctx.engine.dispose();
        } catch { /* the engine may be broken */ }
        ctx.engine = null;
        try { channel.close(); } catch { /* closed */ }
      };
      finish();
    },

    /** The engine crashed (a wasm trap or abort): tell the client once, then close. */
    die(e) {
      const fatal = { code: ErrorCodes.SP_ERR_WORKER, message: `engine crashed: ${e?.message ?? e}` };
      ctx.post({ fatal });
      ctx.dead = true;
      if (ctx.onFatal) ctx.onFatal(new SoftpromptError(fatal.code, fatal.message));
      setTimeout(() => {
        try { channel.close(); } catch { /* closed */ }
      }, 0);
    },
  };
  return ctx;
}
