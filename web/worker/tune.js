// tune.js - worker operations: a tuning run (one optimiser step per event-loop turn, with
// progress, evals, checkpoints, pause/resume/stop/cancel) and evaluation.

import { SoftpromptError, ErrorCodes, fail } from '../errors.js';
import { now, toU8 } from '../env.js';
import { TUNE_C_NAMES } from './schema.js';
import { prepareData } from './data.js';

const EVAL_PART_MS = 200; // the length of one part of an evaluation: progress and Stop between parts

async function tune(ctx, id, args) {
  const m = ctx.getModel(args.model);
  const init = ctx.getAdapter(args.initAdapter, args.model);
  // the job exists while the data is read, so a pause, resume or cancel sent meanwhile is kept
  // (and acknowledged) and a free of the model waits for it
  const job = ctx.beginJob(id, m, [init]);
  job.onState = (state) => ctx.progress(id, { type: 'state', state });
  let tuner = null;
  try {
    const { data, format } = await prepareData(ctx, m, args.data, args.format);
    const opts = { format };
    for (const [k, c] of Object.entries(TUNE_C_NAMES)) if (args[k] !== undefined) opts[c] = args[k];
    // the activation budget (C default 1 GiB) never above what wasm memory can still hold, so a
    // run that cannot fit is refused by sp_tuner_create with the sizes, before it allocates
    const roomMb = Math.max(1, Math.floor(ctx.getEngine().heapRoom() / (1 << 20)));
    if ((opts.memory_mb ?? 1024) > roomMb) opts.memory_mb = roomMb;
    if (init) delete opts.init;
    if (opts.init !== undefined && !['random', 'vocab', 'text'].includes(opts.init)) {
      fail(ErrorCodes.SP_ERR_INVALID_ARG, `init must be random, vocab, text or an adapter (got ${opts.init})`);
    }
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
    // An evaluation runs in parts of about EVAL_PART_MS, with an 'evaluating' progress message
    // after each ({step, done, total}); a stop between parts abandons it (returns undefined).
    let evalPart = 8; // examples per part, adapted to the measured speed
    const doEval = async (step) => {
      if (!canEval || step === lastEvalStep) return undefined;
      lastEvalStep = step;
      for (;;) {
        const ts = now();
        const p = tuner.evaluateSome(evalPart);
        const ms = now() - ts;
        if (!p.more) break;
        ctx.progress(id, { type: 'evaluating', step, done: p.done, total: p.total, ms });
        evalPart = Math.max(1, Math.min(4096, Math.round(evalPart * (EVAL_PART_MS / Math.max(1, ms)))));
        await ctx.checkpoint(job, 'tuning');
        if (job.stopped) return undefined;
      }
      const r = tuner.evaluate();
      const ev = { step, evalLoss: r.eval_loss, perplexity: r.perplexity };
      if (r.accuracy !== undefined) ev.accuracy = r.accuracy;
      evals.push(ev);
      if (r.stopped_early) stoppedEarly = true;
      ctx.progress(id, { type: 'eval', ...ev });
      return r;
    };
    for (;;) {
      await ctx.checkpoint(job, 'tuning');
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
          err.partial = partialResult(ctx, tuner, args.model, { steps, evals }, memory);
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
      ctx.progress(id, { type: 'step', ...s });
      if (evalEvery > 0 && rep.step % evalEvery === 0) await doEval(rep.step);
      else if (evalEvery === 0 && lastEpoch !== null && rep.epoch !== lastEpoch) await doEval(rep.step);
      lastEpoch = rep.epoch;
      if (checkpointEvery > 0 && rep.step % checkpointEvery === 0) {
        const bytes = tuner.checkpoint();
        ctx.progress(id, { type: 'checkpoint', step: rep.step, bytes }, [bytes.buffer]);
      }
    }
    const lastStep = steps.length ? steps[steps.length - 1].step : 0;
    // the last step's eval when the run finished; a Stop returns at once (a final evaluation of a
    // large held-out set took minutes)
    if (lastStep > 0 && reason === 'finished') await doEval(lastStep);
    if (job.stopped && reason === 'finished') reason = 'stopped'; // Stop during the last evaluation
    const cur = ctx.addAdapter(args.model, tuner.adapter(false));
    const best = evals.length ? ctx.addAdapter(args.model, tuner.adapter(true)) : cur;
    return { adapter: cur, best, history: { steps, evals }, reason, memory };
  } finally {
    if (tuner) tuner.free();
    ctx.endJob(job);
  }
}

function partialResult(ctx, tuner, modelHandle, history, memory) {
  try {
    const cur = ctx.addAdapter(modelHandle, tuner.adapter(false));
    return { adapter: cur, best: cur, history, reason: 'stopped', memory };
  } catch {
    return undefined;
  }
}

async function evaluate(ctx, id, args) {
  const m = ctx.getModel(args.model);
  const a = ctx.getAdapter(args.adapter, args.model);
  const { data, format } = await prepareData(ctx, m, args.data, args.format);
  const job = ctx.beginJob(id, m, [a]);
  try {
    await ctx.checkpoint(job, 'evaluation');
    return m.model.evaluate(data, { format, maxLength: args.maxLength, batchSize: args.batchSize }, a ? a.adapter : null);
  } finally {
    ctx.endJob(job);
  }
}

export const ops = { tune, evaluate };
