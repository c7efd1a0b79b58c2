// bench.js - the benchmark operation (sp_bench_json: probes, GEMM on the model's shapes, prefill,
// decode, training) on a loaded model or a random-weight preset.

import { ErrorCodes, fail } from '../errors.js';

const snakeToCamel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

async function bench(ctx, id, args) {
  const e = ctx.getEngine();
  if (!e.M._sp_bench_json) fail(ErrorCodes.SP_ERR_UNSUPPORTED, 'this wasm build has no benchmark (sp_bench_json): rebuild');
  const m = args.model ? ctx.getModel(args.model) : null;
  const job = ctx.beginJob(id, m);
  try {
    await ctx.checkpoint(job, 'bench');
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
    ctx.endJob(job);
  }
}

export const ops = { bench };
