// generate.js - worker operations: tokenize, detokenize, and generation streamed token by token
// (one progress message per token; a cancel between tokens stops it).

import { ErrorCodes, fail } from '../errors.js';
import { now } from '../env.js';

/** A sampling seed when none is given: random, a whole number below 2^53 (exact in JSON and in
 *  the C side's double), so two calls at temperature > 0 differ; the result reports it. */
function randomSeed() {
  const w = new Uint32Array(2);
  globalThis.crypto.getRandomValues(w);
  return (w[0] & 0x1fffff) * 2 ** 32 + w[1];
}

async function generate(ctx, id, args) {
  const m = ctx.getModel(args.model);
  const a = ctx.getAdapter(args.adapter, args.model);
  const job = ctx.beginJob(id, m, [a]);
  let gen = null;
  try {
    let ids;
    if (Array.isArray(args.ids)) ids = args.ids;
    else if (typeof args.prompt === 'string') ids = m.model.tokenize(args.prompt, args.addBos !== false);
    else fail(ErrorCodes.SP_ERR_INVALID_ARG, 'generate needs a prompt (text) or ids');
    const maxTokens = args.maxTokens ?? 128;
    const seed = args.seed ?? randomSeed();
    const t0 = now();
    gen = m.model.startGeneration(ids, {
      maxTokens, temperature: args.temperature, topK: args.topK, topP: args.topP, seed, stopAtEos: args.stopAtEos,
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
      ctx.progress(id, { id: tok.id, text: tok.text, index: tokens.length - 1 });
      await ctx.checkpoint(job, 'generation');
    }
    const tail = gen.flush();
    if (tail) {
      text += tail;
      ctx.progress(id, { id: -1, text: tail, index: tokens.length });
    }
    return {
      text, tokens, promptTokens: ids, finishReason: tokens.length >= maxTokens ? 'length' : 'eos',
      seed, prefillMs, totalMs: now() - t0,
    };
  } finally {
    if (gen) gen.free();
    ctx.endJob(job);
  }
}

/** Next-token logits after ids (the last position): the prefill of a one-token greedy generation. */
async function logits(ctx, id, args) {
  const m = ctx.getModel(args.model);
  const a = ctx.getAdapter(args.adapter, args.model);
  const job = ctx.beginJob(id, m, [a]);
  let gen = null;
  try {
    gen = m.model.startGeneration(args.ids, { maxTokens: 1, temperature: 0, stopAtEos: false }, a ? a.adapter : null);
    gen.next();
    const out = gen.logits();
    return { result: out, transfer: [out.buffer] };
  } finally {
    if (gen) gen.free();
    ctx.endJob(job);
  }
}

/** How embed pools the token rows: their mean, the first ('cls') or the last row, or all rows. */
export const POOLINGS = ['mean', 'cls', 'last', 'none'];

/** The final hidden states of ids (after the final norm, before the LM head), pooled, then
 *  scaled to unit L2 norm per vector with normalize. */
async function embed(ctx, id, args) {
  const m = ctx.getModel(args.model);
  const a = ctx.getAdapter(args.adapter, args.model);
  const pooling = args.pooling ?? 'mean';
  if (!POOLINGS.includes(pooling)) fail(ErrorCodes.SP_ERR_INVALID_ARG, `embed: pooling must be one of ${POOLINGS.join(', ')} (got ${pooling})`);
  const job = ctx.beginJob(id, m, [a]);
  try {
    const rows = m.model.hiddenStates(args.ids, a ? a.adapter : null);
    const dim = m.model.info.dim, n = args.ids.length;
    let out;
    if (pooling === 'none') out = rows;
    else if (pooling === 'cls') out = rows.slice(0, dim);
    else if (pooling === 'last') out = rows.slice((n - 1) * dim);
    else {
      const sum = new Float64Array(dim);
      for (let t = 0; t < n; t++) for (let i = 0; i < dim; i++) sum[i] += rows[t * dim + i];
      out = Float32Array.from(sum, (v) => v / n);
    }
    if (args.normalize !== false) {
      for (let r = 0; r < out.length; r += dim) {
        let ss = 0;
        for (let i = r; i < r + dim; i++) ss += out[i] * out[i];
        const k = ss > 0 ? 1 / Math.sqrt(ss) : 0;
        for (let i = r; i < r + dim; i++) out[i] *= k;
      }
    }
    return { result: out, transfer: [out.buffer] };
  } finally {
    ctx.endJob(job);
  }
}

export const ops = {
  logits,
  embed,
  tokenize(ctx, id, args) {
    return ctx.getModel(args.model).model.tokenize(args.text, args.addBos !== false);
  },
  detokenize(ctx, id, args) {
    return ctx.getModel(args.model).model.detokenize(args.ids);
  },
  generate,
};
