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

export const ops = {
  logits,
  tokenize(ctx, id, args) {
    return ctx.getModel(args.model).model.tokenize(args.text, args.addBos !== false);
  },
  detokenize(ctx, id, args) {
    return ctx.getModel(args.model).model.detokenize(args.ids);
  },
  generate,
};
