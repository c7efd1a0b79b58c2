// grad-double.test.js - the engine's backward pass against central finite differences computed
// entirely in double precision: the loss is evaluated by the naive float64 Llama of
// tests/lib/ref-llama.js (same dequantized weights), so the difference quotient carries no f32
// noise. The engine's gradient is read through the public tuner: one SGD step with lr = 1 from a
// known adapter moves it by exactly minus the gradient of the mean loss over the batch's targets.
// Tiny models: GQA, F32 and Q8_0 GGUF (adjacent RoPE) for prompt tuning, an HF folder
// (rotate-half RoPE) for prompt and prefix tuning.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { loadEngine } from '../web/engine.js';
import { makeTinyLlama, makeTinyHF } from './lib/tiny-model.js';
import { refForward } from './lib/ref-llama.js';
import { readSafetensors, tensorF32, writeSafetensors, encodeSt } from './lib/safetensors.js';

// The exact engine: the default one rounds the activations of products with quantized weights to
// 16 bits (integer dot products), which the float64 reference does not; the backward to check is
// the same code either way.
let engine;
test.before(async () => { engine = await loadEngine({ threads: 1, exact: true }); });
test.after(() => engine?.dispose());

const TEXTS = ['Once upon a time there was a cat.', 'The dog ran to the park and sat.', 'A bird sang'];
const N = 3; // virtual tokens

function rng(seed) {
  let s = seed >>> 0;
  const u = () => { s = (s * 1664525 + 1013904223) >>> 0; return (s + 0.5) / 4294967296; };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/* Mean cross-entropy over the targets (every token after BOS), in float64. P in PEFT layout. */
function refLoss(weights, c, layout, method, P, seqs) {
  const dim = c.dim, kvd = c.n_kv_heads * (c.dim / c.n_heads), W = c.n_layers * 2 * kvd;
  const embed = weights[layout === 'hf' ? 'model.embed_tokens.weight' : 'token_embd.weight'];
  let sum = 0, n = 0;
  for (const ids of seqs) {
    const tok = ids.map((id) => embed.subarray(id * dim, (id + 1) * dim));
    let rows = tok, prefix = null, off = 0;
    if (method === 'prompt') {
      rows = Array.from({ length: N }, (_, i) => P.subarray(i * dim, (i + 1) * dim)).concat(tok);
      off = N;
    } else {
      prefix = Array.from({ length: c.n_layers }, (_, l) => ({
        k: Array.from({ length: N }, (_, i) => P.subarray(i * W + l * 2 * kvd, i * W + l * 2 * kvd + kvd)),
        v: Array.from({ length: N }, (_, i) => P.subarray(i * W + l * 2 * kvd + kvd, i * W + (l + 1) * 2 * kvd)),
      }));
    }
    const logits = refForward(weights, c, rows, layout, prefix);
    for (let j = 1; j < ids.length; j++) {
      const lg = logits[off + j - 1];
      let m = -Infinity;
      for (const v of lg) m = Math.max(m, v);
      let z = 0;
      for (const v of lg) z += Math.exp(v - m);
      sum += Math.log(z) + m - lg[ids[j]];
      n++;
    }
  }
  return sum / n;
}

function check(model, weights, config, layout, method, label) {
  const jsonl = TEXTS.map((t) => JSON.stringify({ text: t })).join('\n') + '\n';
  const seqs = TEXTS.map((t) => model.tokenize(t, true));
  // a known starting adapter: the engine's own config, parameters of a useful scale written by us
  const t0 = model.createTuner({ method, virtual_tokens: N, seed: 1, steps: 1, eval_split: 0 }, jsonl);
  const a0 = t0.adapter();
  const config0 = a0.saveConfig();
  const shape = readSafetensors(a0.saveSafetensors()).tensors.get('prompt_embeddings').shape;
  a0.free();
  t0.free();
  const normal = rng(11);
  const P0 = new Float32Array(shape[0] * shape[1]).map(() => normal() * (method === 'prompt' ? 0.5 : 0.8));
  const start = model.loadAdapter(writeSafetensors([['prompt_embeddings', { dtype: 'F32', shape, raw: encodeSt('F32', P0) }]]), config0);
  // one SGD step, lr 1, the whole data in one batch: P1 = P0 - grad
  const tuner = model.createTuner({ optimizer: 'sgd', lr: 1, steps: 1, batch_size: TEXTS.length, shuffle: false, eval_split: 0, max_length: 64 }, jsonl, start);
  assert.equal(tuner.step(), true);
  const a1 = tuner.adapter();
  const P1 = tensorF32(readSafetensors(a1.saveSafetensors()).tensors.get('prompt_embeddings'));
  a1.free();
  tuner.free();
  start.free();
  const grad = Float64Array.from(P0, (p, i) => p - P1[i]);
  const gnorm = Math.sqrt(grad.reduce((s, g) => s + g * g, 0));
  assert.ok(gnorm > 1e-3, `${label}: gradient too small to test (${gnorm})`);

  const P = Float64Array.from(P0);
  const loss = (Q) => refLoss(weights, config, layout, method, Q, seqs);
  const h = 1e-4;
  let worst = 0;
  const dirs = [grad.map((g) => g / gnorm)];
  for (let d = 0; d < 3; d++) {
    const u = Float64Array.from(P, () => normal());
    const un = Math.sqrt(u.reduce((s, x) => s + x * x, 0));
    dirs.push(u.map((x) => x / un));
  }
  for (const u of dirs) {
    const fd = (loss(P.map((p, i) => p + h * u[i])) - loss(P.map((p, i) => p - h * u[i]))) / (2 * h);
    const bp = u.reduce((s, x, i) => s + x * grad[i], 0);
    const err = Math.abs(fd - bp) / gnorm;
    worst = Math.max(worst, err);
    assert.ok(err < 1e-5, `${label}: directional derivative ${bp} (backprop) vs ${fd} (float64 finite differences), error ${err.toExponential(2)} of |grad|`);
  }
  return worst;
}

test('gradient in double precision: prompt tuning, GGUF F32 (GQA, adjacent RoPE)', () => {
  const { gguf, weights, config } = makeTinyLlama({ seed: 21, type: 'F32' });
  const m = engine.loadGguf(gguf);
  try { check(m, weights, config, 'gguf', 'prompt', 'GGUF F32 prompt'); } finally { m.free(); }
});

test('gradient in double precision: prompt tuning, GGUF Q8_0', () => {
  const { gguf, weights, config } = makeTinyLlama({ seed: 22, type: 'Q8_0' });
  const m = engine.loadGguf(gguf);
  try { check(m, weights, config, 'gguf', 'prompt', 'GGUF Q8_0 prompt'); } finally { m.free(); }
});

test('gradient in double precision: prompt and prefix tuning, HF folder (rotate-half RoPE)', () => {
  const { configJson, safetensors, tokenizerJson, weights, config } = makeTinyHF({ seed: 23, type: 'F32' });
  const m = engine.loadHf(configJson, safetensors, tokenizerJson);
  try {
    check(m, weights, config, 'hf', 'prompt', 'HF prompt');
    check(m, weights, config, 'hf', 'prefix', 'HF prefix');
  } finally { m.free(); }
});
