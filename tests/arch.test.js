// arch.test.js - every architecture besides plain llama against its float64 reference written from
// transformers' modeling code (tests/lib/ref-<arch>.js), on tiny models written both as GGUF and as an
// HF folder (tests/lib/tiny-arch.js):
//   - logits at the prefill and at every KV-cache decoding step, and the greedy ids, for every weight
//     format: HF F32/F16/BF16, GGUF F32/F16/BF16/Q8_0/Q4_0/Q5_0/Q5_1/Q4_K/Q5_K/Q6_K and the Q4_K_M mix,
//     and the Q4_K_M / Q5_K_M mixes with llama.cpp's Q5_0 / Q5_1 / Q8_0 fallback for rows not a multiple of 256;
//   - the gradient of prompt and prefix tuning against float64 central finite differences;
//   - the same model as GGUF and as HF: the same logits and the same tuned trajectory (adapters saved
//     in PEFT layout, so a prefix adapter moves between the two copies).
// The worst errors are printed (t.diagnostic) for the report.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { loadEngine } from '../web/engine.js';
import { makeTinyArch } from './lib/tiny-arch.js';
import * as refQwen2 from './lib/ref-qwen2.js';
import * as refQwen3 from './lib/ref-qwen3.js';
import * as refGemma3 from './lib/ref-gemma3.js';
import * as refGpt2 from './lib/ref-gpt2.js';
import { refForward as refLlama } from './lib/ref-llama.js';
import { readSafetensors, tensorF32, writeSafetensors, encodeSt } from './lib/safetensors.js';

let engine;
test.before(async () => { engine = await loadEngine({ threads: 1 }); });
test.after(() => engine?.dispose());

const llamaRef = {
  refEmbed: (w, c, id) => w['model.embed_tokens.weight'].subarray(id * c.dim, (id + 1) * c.dim),
  refForward: (w, c, rows, prefix) => refLlama(w, { ...c, head_dim_explicit: c.head_dim }, rows, 'hf', prefix),
};
const REF = { qwen2: refQwen2, qwen3: refQwen3, gemma3: refGemma3, gpt2: refGpt2, llama: llamaRef, mistral: llamaRef };

/* Runs fn with the engine's exact table (no 16-bit activations), then restores the default. */
function withExact(fn) {
  engine.setExact(true);
  try { return fn(); } finally { engine.setExact(false); }
}

const argmax = (a) => a.reduce((bi, v, i) => (v > a[bi] ? i : bi), 0);

/* Greedy-decode n tokens, comparing the logits at every step (the first is the prefill) and the ids. */
function compare(model, ref, weights, c, tol, label) {
  const prompt = [1, 5, 9, 33, 70];
  const n = 8;
  const g = model.startGeneration(prompt, { maxTokens: n, temperature: 0, stopAtEos: false });
  const seq = prompt.slice();
  let worst = 0;
  try {
    for (let step = 0; step < n; step++) {
      const t = g.next();
      assert.ok(t, `${label}: generation ended early`);
      const got = g.logits();
      const want = ref.refForward(weights, c, seq.map((id) => ref.refEmbed(weights, c, id))).at(-1);
      let scale = 0;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < want.length; i++) {
        const err = Math.abs(got[i] - want[i]) / Math.max(1, scale);
        worst = Math.max(worst, err);
        if (err > tol) assert.fail(`${label}: step ${step}, logit ${i}: engine ${got[i]} vs reference ${want[i]} (relative ${err.toExponential(2)} > ${tol})`);
      }
      const best = argmax(want);
      const margin = want[best] - Math.max(...want.filter((_, i) => i !== best));
      if (margin > 4 * tol * Math.max(1, scale)) assert.equal(t.id, best, `${label}: step ${step}: greedy id ${t.id}, the reference's argmax ${best}`);
      seq.push(t.id);
    }
  } finally {
    g.free();
  }
  return worst;
}

const load = (tiny, format) => (format === 'gguf' ? engine.loadGguf(tiny.gguf) : engine.loadHf(tiny.hf.configJson, tiny.hf.safetensors, tiny.hf.tokenizerJson));

const CASES = [
  ['qwen2', {}], ['qwen2', { tied: false, n_kv_heads: 1 }],
  ['qwen3', {}], ['qwen3', { tied: false, head_dim: 8, n_kv_heads: 4 }],
  ['gemma3', {}], ['gemma3', { final_logit_softcapping: 3.0, layer_types: ['sliding_attention', 'full_attention'], tied: false }],
  ['gemma3', { n_layers: 6, sliding_window: 3 }],
  ['llama', { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 }, rope_theta: 500000 }],
  ['llama', { rope_scaling: { rope_type: 'linear', factor: 4 }, head_dim: 16 }], ['llama', { tied: false, n_kv_heads: 4 }],
  ['mistral', { sliding_window: 3 }],
  ['gpt2', {}], ['gpt2', { hidden_dim: 96, n_layers: 3 }],
];

for (const [arch, opts] of CASES) {
  const label = `${arch} ${JSON.stringify(opts)}`;
  const ggufOk = arch !== 'mistral'; // llama.cpp's llama files carry no sliding window
  test(`arch: ${label}: HF folder F32, F16 and BF16 match the reference`, (t) => {
    for (const hfType of ['F32', 'F16', 'BF16']) {
      const tiny = makeTinyArch(arch, { seed: 3, hfType, ...opts });
      const m = load(tiny, 'hf');
      try { t.diagnostic(`HF ${hfType}: worst ${compare(m, REF[arch], tiny.weightsHf, tiny.config, 1e-5, `${label} HF ${hfType}`).toExponential(2)}`); } finally { m.free(); }
    }
  });
  if (!ggufOk) continue;
  test(`arch: ${label}: GGUF F32/F16/BF16/Q8_0/Q4_0/Q5_0/Q5_1 match the reference`, (t) => {
    for (const type of ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q5_0', 'Q5_1']) {
      const tiny = makeTinyArch(arch, { seed: 4, type, ...opts });
      const m = load(tiny, 'gguf');
      // quantized matrices: the reference runs on the values the bytes decode to; the exact table
      // must match it as an F32 file does, the default one within its 16-bit activations (see the
      // K-quant tests below for the bound)
      const run = (tol, how) => compare(m, REF[arch], tiny.weightsGguf, tiny.configGguf, tol, `${label} GGUF ${type} ${how}`).toExponential(2);
      try {
        if (type.startsWith('Q')) t.diagnostic(`GGUF ${type}: worst ${withExact(() => run(1e-5, 'exact'))} exact, ${run(1e-3, 'default')} default`);
        else t.diagnostic(`GGUF ${type}: worst ${run(1e-5, 'default')}`);
      } finally { m.free(); }
    }
  });
}

/* ---- gradients against float64 finite differences (as tests/grad-double.test.js for llama) ---- */

const TEXTS = ['Once upon a time there was a cat.', 'The dog ran to the park and sat.', 'A bird sang'];
const N = 3;

function normalRng(seed) {
  let s = seed >>> 0;
  const u = () => { s = (s * 1664525 + 1013904223) >>> 0; return (s + 0.5) / 4294967296; };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/* Mean cross-entropy over every token after the first (softprompt's convention), P in PEFT layout:
 * virtual tokens are inputs_embeds (never scaled), real tokens go through the embedding (Gemma scales). */
function refLoss(ref, w, c, method, P, seqs) {
  const dim = c.dim, kvd = c.n_kv_heads * c.head_dim, W = c.n_layers * 2 * kvd;
  let sum = 0, n = 0;
  for (const ids of seqs) {
    const tok = ids.map((id) => ref.refEmbed(w, c, id));
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
    const logits = ref.refForward(w, c, rows, prefix);
    for (let j = 1; j < ids.length; j++) {
      const lg = logits[off + j - 1];
      const m = Math.max(...lg);
      let z = 0;
      for (const v of lg) z += Math.exp(v - m);
      sum += Math.log(z) + m - lg[ids[j]];
      n++;
    }
  }
  return sum / n;
}

const JSONL = TEXTS.map((t) => JSON.stringify({ text: t })).join('\n') + '\n';

/* An adapter of the engine's own config with parameters P0 written by us. */
function adapterWith(model, method, P0fn) {
  const t0 = model.createTuner({ method, virtual_tokens: N, seed: 1, steps: 1, eval_split: 0 }, JSONL);
  const a0 = t0.adapter();
  const config0 = a0.saveConfig();
  const shape = readSafetensors(a0.saveSafetensors()).tensors.get('prompt_embeddings').shape;
  a0.free();
  t0.free();
  const P0 = P0fn(shape);
  return { P0, config0, shape, bytes: writeSafetensors([['prompt_embeddings', { dtype: 'F32', shape, raw: encodeSt('F32', P0) }]]) };
}

/* P after `steps` steps of the tuner from the adapter (bytes, config). */
function tuned(model, bytes, config, opts, steps) {
  const start = model.loadAdapter(bytes, config);
  const tuner = model.createTuner({ batch_size: TEXTS.length, shuffle: false, eval_split: 0, max_length: 64, steps, ...opts }, JSONL, start);
  for (let i = 0; i < steps; i++) assert.equal(tuner.step(), true);
  const a1 = tuner.adapter();
  const P1 = tensorF32(readSafetensors(a1.saveSafetensors()).tensors.get('prompt_embeddings'));
  a1.free();
  tuner.free();
  start.free();
  return P1;
}

function checkGrad(model, ref, w, c, method, label) {
  const normal = normalRng(11);
  const { P0, config0, bytes } = adapterWith(model, method, (shape) => new Float32Array(shape[0] * shape[1]).map(() => normal() * (method === 'prompt' ? 0.5 : 0.8)));
  const P1 = tuned(model, bytes, config0, { optimizer: 'sgd', lr: 1 }, 1); // P1 = P0 - grad
  const grad = Float64Array.from(P0, (p, i) => p - P1[i]);
  const gnorm = Math.sqrt(grad.reduce((s, g) => s + g * g, 0));
  assert.ok(gnorm > 1e-3, `${label}: gradient too small to test (${gnorm})`);
  const seqs = TEXTS.map((t) => model.tokenize(t, true));
  const P = Float64Array.from(P0);
  const loss = (Q) => refLoss(ref, w, c, method, Q, seqs);
  const h = 1e-4;
  let worst = 0;
  const dirs = [grad.map((g) => g / gnorm)];
  for (let d = 0; d < 2; d++) {
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

const GRAD_CASES = [
  ['qwen2', {}, 'gguf'], ['qwen3', {}, 'hf'], ['gemma3', { layer_types: ['sliding_attention', 'full_attention'], final_logit_softcapping: 3.0 }, 'hf'],
  ['gemma3', {}, 'gguf'], ['llama', { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } }, 'hf'],
  ['mistral', { sliding_window: 3 }, 'hf'], ['gpt2', {}, 'hf'], ['gpt2', {}, 'gguf'],
];
for (const [arch, opts, format] of GRAD_CASES) {
  test(`arch: ${arch} ${format} ${JSON.stringify(opts)}: prompt and prefix gradients match float64 finite differences`, (t) => {
    const tiny = makeTinyArch(arch, { seed: 23, ...opts });
    const m = load(tiny, format);
    const w = format === 'gguf' ? tiny.weightsGguf : tiny.weightsHf;
    const cfg = format === 'gguf' ? tiny.configGguf : tiny.config;
    try {
      for (const method of ['prompt', 'prefix']) t.diagnostic(`${method}: worst ${checkGrad(m, REF[arch], w, cfg, method, `${arch} ${format} ${method}`).toExponential(2)}`);
    } finally { m.free(); }
  });
}

for (const arch of ['qwen2', 'qwen3', 'gemma3', 'gpt2', 'llama']) {
  test(`arch: ${arch}: GGUF F16/BF16/Q8_0/Q4_0/Q5_0/Q5_1 prompt and prefix gradients match float64 finite differences (exact table)`, (t) => {
    for (const type of ['F16', 'BF16', 'Q8_0', 'Q4_0', 'Q5_0', 'Q5_1']) {
      const tiny = makeTinyArch(arch, { seed: 24, type, tied: arch === 'gpt2' || arch === 'qwen2' });
      const m = load(tiny, 'gguf');
      try {
        const worst = withExact(() => ['prompt', 'prefix'].map((method) => checkGrad(m, REF[arch], tiny.weightsGguf, tiny.configGguf, method, `${arch} GGUF ${type} ${method}`)));
        t.diagnostic(`GGUF ${type}: prompt worst ${worst[0].toExponential(2)}, prefix ${worst[1].toExponential(2)}`);
      } finally { m.free(); }
    }
  });
}

/* ---- K-quants (Q4_K, Q5_K, Q6_K and the Q4_K_M mix llama.cpp writes), dims multiples of 256 ----
 * The reference runs on the values the file's bytes decode to (tests/lib/quant.js, bit-exact with
 * ggml's dequantize_row_q*_K), so the engine's exact table (f32 weights times f32 activations, as
 * for F32 files) must agree with it as closely as an F32 file does: the same 1e-5. The default
 * wasmsimd table also rounds each activation block of 32 to 16 bits (src/kernels/kernels.h:
 * |error| <= max|x_block| / (2*qmax) per element, about 1e-5 of a product's scale). A logit sits
 * behind 2 layers x 7 products and the LM head, about 15 such errors adding up: ~1.5e-4 of the
 * logits' scale, the size of the measured worst (2.1e-4); the bound 1e-3 leaves a factor of 5
 * for the norms and softmax amplifying them (the same bound as the Q8_0 and Q4_0 cases above). */
const K_SHAPE = { dim: 256, n_heads: 4, n_kv_heads: 2, head_dim: 64, hidden_dim: 512 };
const K_TYPES = ['Q4_K', 'Q5_K', 'Q6_K', 'Q4_K_M'];
const K_CASES = [
  ['qwen2', {}], ['qwen3', { tied: false }], ['gemma3', { layer_types: ['sliding_attention', 'full_attention'], final_logit_softcapping: 3.0 }],
  ['llama', {}], ['llama', { tied: false, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } }],
  ['gpt2', {}],
];

for (const [arch, opts] of K_CASES) {
  const label = `${arch} ${JSON.stringify(opts)}`;
  test(`arch: ${label}: GGUF ${K_TYPES.join('/')} match the reference (exact and default products), prompt and prefix gradients too`, (t) => {
    for (const type of K_TYPES) {
      const tiny = makeTinyArch(arch, { seed: 6, type, ...K_SHAPE, ...opts });
      const stored = new Set(Object.values(tiny.ggufTypes).filter((x) => x !== 'F32'));
      if (type === 'Q4_K_M') assert.deepEqual([...stored].sort(), ['Q4_K', 'Q6_K'], `${label}: a Q4_K_M file mixes Q4_K and Q6_K`);
      else assert.deepEqual([...stored], [type]);
      const m = load(tiny, 'gguf');
      const ref = REF[arch], w = tiny.weightsGguf, c = tiny.configGguf;
      try {
        const exact = withExact(() => compare(m, ref, w, c, 1e-5, `${label} GGUF ${type} exact`));
        const fast = compare(m, ref, w, c, 1e-3, `${label} GGUF ${type} default`);
        const grads = withExact(() => ['prompt', 'prefix'].map((method) => checkGrad(m, ref, w, c, method, `${label} GGUF ${type} ${method}`)));
        t.diagnostic(`GGUF ${type}: logits worst ${exact.toExponential(2)} exact, ${fast.toExponential(2)} default; gradients prompt ${grads[0].toExponential(2)}, prefix ${grads[1].toExponential(2)}`);
      } finally { m.free(); }
    }
  });
}

/* ---- the Q4_K_M / Q5_K_M files of SmolLM2, Qwen2.5-0.5B and Gemma-3-270M: rows not a multiple of 256 ----
 * Their hidden sizes (576, 960, 896, 640) are not multiples of 256, so llama.cpp falls back for
 * those rows (tests/lib/tiny-arch.js, mixType): Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0. Here
 * dim 64 with an ffn width of 256: every matrix read along dim (attn_q/k/v/output, ffn_gate/up, the
 * embedding and the head) falls back, ffn_down keeps its K-quant (Q6_K in the layer use_more_bits
 * picks). The same bounds as the K-quant tests above. */
const FB_SHAPE = { dim: 64, n_heads: 4, n_kv_heads: 2, hidden_dim: 256 };
const FB_MIXES = { Q4_K_M: ['Q4_K', 'Q5_0', 'Q6_K', 'Q8_0'], Q5_K_M: ['Q5_1', 'Q5_K', 'Q6_K', 'Q8_0'] };
for (const [arch, opts] of [['qwen2', {}], ['qwen3', { tied: false }], ['gemma3', { layer_types: ['sliding_attention', 'full_attention'] }], ['llama', {}], ['gpt2', {}]]) {
  const label = `${arch} ${JSON.stringify(opts)}`;
  test(`arch: ${label}: GGUF Q4_K_M / Q5_K_M with llama.cpp's Q5_0 / Q5_1 / Q8_0 fallback rows match the reference (prefill, decode, greedy ids)`, (t) => {
    for (const [mix, want] of Object.entries(FB_MIXES)) {
      const tiny = makeTinyArch(arch, { seed: 7, type: mix, ...FB_SHAPE, ...opts });
      const stored = new Set(Object.values(tiny.ggufTypes).filter((x) => x !== 'F32'));
      assert.deepEqual([...stored].sort(), want, `${label}: the types of a ${mix} file with 64-wide rows`);
      const m = load(tiny, 'gguf');
      const ref = REF[arch], w = tiny.weightsGguf, c = tiny.configGguf;
      try {
        const named = m.info.weight_types.split(', ').map((x) => x.split(' ')[0]).filter((x) => x !== 'F32');
        assert.deepEqual(named.sort(), want, `${label}: info.weight_types ${m.info.weight_types}`);
        const exact = withExact(() => compare(m, ref, w, c, 1e-5, `${label} GGUF ${mix} exact`));
        const fast = compare(m, ref, w, c, 1e-3, `${label} GGUF ${mix} default`);
        t.diagnostic(`GGUF ${mix} (${[...stored].sort().join(', ')}): logits worst ${exact.toExponential(2)} exact, ${fast.toExponential(2)} default`);
      } finally { m.free(); }
    }
  });
}

/* ---- one model as GGUF and as HF ---- */

for (const arch of ['qwen2', 'qwen3', 'gemma3', 'gpt2', 'llama']) {
  test(`arch: ${arch}: the same model as GGUF and as HF gives the same logits and the same tuned trajectory`, (t) => {
    const tiny = makeTinyArch(arch, { seed: 31, n_layers: arch === 'gemma3' ? 6 : 2 });
    const mg = load(tiny, 'gguf'), mh = load(tiny, 'hf');
    try {
      const prompt = [1, 5, 9, 33, 70, 12, 40];
      const gen = (m) => {
        const g = m.startGeneration(prompt, { maxTokens: 1, temperature: 0, stopAtEos: false });
        g.next();
        const l = Float32Array.from(g.logits());
        g.free();
        return l;
      };
      const lg = gen(mg), lh = gen(mh);
      let d = 0;
      for (let i = 0; i < lg.length; i++) d = Math.max(d, Math.abs(lg[i] - lh[i]));
      assert.ok(d < 1e-4, `${arch}: GGUF and HF logits differ by ${d}`);
      for (const method of ['prompt', 'prefix']) {
        const normal = normalRng(5);
        const { config0, bytes } = adapterWith(mh, method, (shape) => new Float32Array(shape[0] * shape[1]).map(() => normal() * 0.5));
        const opts = { optimizer: 'adamw', lr: 0.05 };
        const Pg = tuned(mg, bytes, config0, opts, 4), Ph = tuned(mh, bytes, config0, opts, 4); // the HF-made adapter loads into both
        let e = 0, s = 0;
        for (let i = 0; i < Pg.length; i++) { e = Math.max(e, Math.abs(Pg[i] - Ph[i])); s = Math.max(s, Math.abs(Ph[i])); }
        assert.ok(e < 1e-4 * Math.max(1, s), `${arch} ${method}: after 4 AdamW steps the GGUF and HF adapters differ by ${e}`);
        t.diagnostic(`${method}: logits ${d.toExponential(2)}, adapters after 4 steps ${e.toExponential(2)}`);
      }
    } finally { mg.free(); mh.free(); }
  });
}

/* ---- one model as GGUF F16/Q8_0/Q4_K and as HF ----
 * (a) The HF copy holds exactly the values the GGUF file's bytes decode to (tiny-arch hfFrom 'gguf'),
 *     so the two are one model: on the exact table (f32 weights times f32 activations for every
 *     format) only the order of float operations can differ (llama: RoPE on permuted rows; the other
 *     architectures come out bit-identical). Logits at the prefill and every decode step, and the
 *     loss at every step of 4 AdamW steps of prompt and prefix tuning, agree to FLOAT_TOL = 1e-5 of
 *     their scale; the parameters after every step to TRAJ_TOL = 1e-4 of theirs (AdamW divides each
 *     component's step by its own gradient's size, so a rounding difference on a component with a
 *     small gradient grows: llama measured 1.6e-5). An adapter trained on the GGUF copy and saved
 *     (PEFT layout; llama's prefix keys converted back from llama.cpp's permuted Q/K order, the
 *     others stored as they are) gives the HF copy the logits it gives the GGUF copy and continues
 *     on it with the same steps
 *     (checked by hand: the same adapter with its keys permuted as llama.cpp permutes K, a missing
 *     or a needless conversion, moves the logits by 4e-2 (llama) and 2e-2 (qwen2) of their scale).
 * (b) The HF copy holds the original float weights. Per logit i, by the triangle inequality
 *       |gguf_i - hf_i| <= |gguf_i - refQ_i| + |refQ_i - refW_i| + |refW_i - hf_i|
 *                       <= |refQ_i - refW_i| + 2 * REF_TOL * S,
 *     where refW and refQ are the float64 reference on the original and on the dequantized weights
 *     (refQ - refW is the quantization error of the weights carried through the model) and REF_TOL
 *     * S bounds the exact table against the float64 reference (the 1e-5 of the tests above, S =
 *     max(1, max|refW|)). The bound is the quantization's own effect logit by logit, so a GGUF copy
 *     that is not the HF model quantized fails it. Checked by hand on every architecture and type
 *     here: with blk.0/blk.1 ffn_down swapped in the GGUF file the worst logit exceeds the bound by
 *     0.47 to 1.1 of S, with llama's Q/K rows left in HF order (not permuted) by 0.31 to 0.35 of S,
 *     against a slack of 2 * REF_TOL = 2e-5 of S. */
const FLOAT_TOL = 1e-5;
const TRAJ_TOL = 1e-4;
const REF_TOL = 1e-5;
const SAME_TYPES = ['F16', 'Q8_0', 'Q4_K'];
const SAME_CASES = [['llama', { tied: false }], ['qwen2', {}], ['qwen3', {}], ['gemma3', { n_layers: 6 }], ['gpt2', {}]];
const SAME_PROMPT = [1, 5, 9, 33, 70, 12, 40];

/* Greedy-decode n tokens: the ids and the logits at every step (the first is the prefill). */
function decodeLogits(model, prompt, n, adapter = null) {
  const g = model.startGeneration(prompt, { maxTokens: n, temperature: 0, stopAtEos: false }, adapter);
  const ids = [], logits = [];
  try {
    for (let i = 0; i < n; i++) {
      const t = g.next();
      assert.ok(t, 'generation ended early');
      ids.push(t.id);
      logits.push(Float32Array.from(g.logits()));
    }
  } finally { g.free(); }
  return { ids, logits };
}

/* max |a - b| over max(1, max |b|) */
function relDiff(a, b) {
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); }
  return d / Math.max(1, s);
}

/* The same decoding on two models: ids equal, logits within FLOAT_TOL at every step; the worst. */
function sameDecoding(ma, mb, label, adA = null, adB = null) {
  const a = decodeLogits(ma, SAME_PROMPT, 4, adA), b = decodeLogits(mb, SAME_PROMPT, 4, adB);
  assert.deepEqual(a.ids, b.ids, `${label}: greedy ids`);
  let worst = 0;
  a.logits.forEach((l, step) => {
    const e = relDiff(l, b.logits[step]);
    worst = Math.max(worst, e);
    assert.ok(e < FLOAT_TOL, `${label}: step ${step}: logits differ by ${e.toExponential(2)} of their scale (> ${FLOAT_TOL})`);
  });
  return worst;
}

/* `steps` steps from the adapter (bytes, config): the loss and the PEFT-layout parameters after each. */
function trajectory(model, bytes, config, steps) {
  const start = model.loadAdapter(bytes, config);
  const tuner = model.createTuner({ optimizer: 'adamw', lr: 0.05, batch_size: TEXTS.length, shuffle: false, eval_split: 0, max_length: 64, steps }, JSONL, start);
  const out = [];
  try {
    for (let i = 0; i < steps; i++) {
      assert.equal(tuner.step(), true);
      const a = tuner.adapter();
      out.push({ loss: tuner.report().loss, P: tensorF32(readSafetensors(a.saveSafetensors()).tensors.get('prompt_embeddings')), bytes: a.saveSafetensors(), config: a.saveConfig() });
      a.free();
    }
  } finally { tuner.free(); start.free(); }
  return out;
}

/* Two trajectories step by step: losses and parameters within FLOAT_TOL; the worst. */
function sameTrajectory(ta, tb, label) {
  let worst = 0;
  ta.forEach((a, i) => {
    const b = tb[i];
    const el = Math.abs(a.loss - b.loss) / Math.max(1, Math.abs(b.loss)), ep = relDiff(a.P, b.P);
    worst = Math.max(worst, el, ep);
    assert.ok(el < FLOAT_TOL && ep < TRAJ_TOL, `${label}: step ${i + 1}: loss ${a.loss} vs ${b.loss} (relative ${el.toExponential(2)}, bound ${FLOAT_TOL}), parameters differ by ${ep.toExponential(2)} of their scale (bound ${TRAJ_TOL})`);
  });
  return worst;
}

for (const [arch, opts] of SAME_CASES) {
  test(`arch: ${arch}: GGUF ${SAME_TYPES.join('/')} and an HF copy of its decoded values: the same logits and tuned trajectories (exact table); an adapter trained on the GGUF copy continues on the HF copy`, (t) => {
    for (const type of SAME_TYPES) {
      const tiny = makeTinyArch(arch, { seed: 31, type, ...K_SHAPE, ...opts, hfFrom: 'gguf' });
      const mg = load(tiny, 'gguf'), mh = load(tiny, 'hf');
      const label = `${arch} GGUF ${type} / HF decoded`;
      try {
        withExact(() => {
          const logits = sameDecoding(mg, mh, label);
          const report = [`logits ${logits.toExponential(2)}`];
          for (const method of ['prompt', 'prefix']) {
            const normal = normalRng(5);
            const { config0, bytes } = adapterWith(mh, method, (shape) => new Float32Array(shape[0] * shape[1]).map(() => normal() * 0.5));
            const tg = trajectory(mg, bytes, config0, 4), th = trajectory(mh, bytes, config0, 4); // the HF-made adapter loads into both
            const tr = sameTrajectory(tg, th, `${label} ${method}`);
            // the GGUF copy's adapter on the HF copy: the same logits, and the run continues the same
            const fromG = tg.at(-1);
            const ag = mg.loadAdapter(fromG.bytes, fromG.config), ah = mh.loadAdapter(fromG.bytes, fromG.config);
            let withAd;
            try { withAd = sameDecoding(mg, mh, `${label} ${method} adapter from the GGUF copy`, ag, ah); } finally { ag.free(); ah.free(); }
            const cont = sameTrajectory(trajectory(mh, fromG.bytes, fromG.config, 3), trajectory(mg, fromG.bytes, fromG.config, 3), `${label} ${method} continued on HF`);
            report.push(`${method}: trajectory ${tr.toExponential(2)}, GGUF-trained adapter on HF: logits ${withAd.toExponential(2)}, continued ${cont.toExponential(2)}`);
          }
          t.diagnostic(`${type}: ${report.join('; ')}`);
        });
      } finally { mg.free(); mh.free(); }
    }
  });

  test(`arch: ${arch}: GGUF ${SAME_TYPES.join('/')} against the HF copy of the float weights: every logit within the quantization's own effect (float64 reference) + 2e-5`, (t) => {
    const ref = REF[arch];
    const lengths = [3, 5, 7];
    for (const type of SAME_TYPES) {
      const tiny = makeTinyArch(arch, { seed: 31, type, ...K_SHAPE, ...opts });
      const mg = load(tiny, 'gguf'), mh = load(tiny, 'hf');
      const c = tiny.config, cq = tiny.configGguf;
      let quant = 0, worst = 0, slack = Infinity, over = null;
      try {
        withExact(() => {
          for (const n of lengths) {
            const prompt = SAME_PROMPT.slice(0, n);
            const eg = decodeLogits(mg, prompt, 1).logits[0], eh = decodeLogits(mh, prompt, 1).logits[0];
            const refW = ref.refForward(tiny.weightsHf, c, prompt.map((id) => ref.refEmbed(tiny.weightsHf, c, id))).at(-1);
            const refQ = ref.refForward(tiny.weightsGguf, cq, prompt.map((id) => ref.refEmbed(tiny.weightsGguf, cq, id))).at(-1);
            const S = Math.max(1, ...refW.map(Math.abs));
            for (let i = 0; i < refW.length; i++) {
              const bound = Math.abs(refQ[i] - refW[i]) + 2 * REF_TOL * S, d = Math.abs(eg[i] - eh[i]);
              quant = Math.max(quant, Math.abs(refQ[i] - refW[i]) / S);
              worst = Math.max(worst, d / S);
              slack = Math.min(slack, (bound - d) / S);
              if (d > bound && (!over || d - bound > over.excess)) {
                over = { S, excess: d - bound, text: `${n} tokens, logit ${i}: GGUF ${eg[i]} vs HF ${eh[i]} differ by ${d.toExponential(3)}, the quantization's effect is ${Math.abs(refQ[i] - refW[i]).toExponential(3)} (+ ${(2 * REF_TOL * S).toExponential(2)})` };
              }
            }
          }
        });
        assert.equal(over, null, `${arch} GGUF ${type}: the GGUF copy is not the HF model quantized: worst at ${over?.text}`);
        // the quantization did change the logits (else the bound would only test float rounding)
        if (type !== 'F16') assert.ok(quant > 1e-3, `${arch} GGUF ${type}: the quantization moved no logit by 1e-3 (${quant})`);
        t.diagnostic(`${type}: GGUF vs HF logits ${worst.toExponential(2)} of their scale; the quantization's effect (reference) ${quant.toExponential(2)}; smallest slack under the bound ${slack.toExponential(2)}`);
      } finally { mg.free(); mh.free(); }
    }
  });
}

/* ---- PEFT prompt-tuning init: the rows are the word-embedding module's output ----
 * PEFT (src/peft/tuners/prompt_tuning/model.py) initialises TEXT and SAMPLE_VOCAB prompts with
 * word_embeddings(init_token_ids), the model's embedding module; for Gemma 3 that is
 * Gemma3TextScaledWordEmbedding, whose forward multiplies by sqrt(hidden_size). The prompt then goes
 * in as inputs_embeds, which Gemma3TextModel does not scale. So on every architecture a prompt
 * initialised from a text equals that text's tokens: same rows as the reference's refEmbed, same
 * logits as the tokens in front of the prompt. RANDOM rows have the spread of those rows. */
for (const arch of ['qwen2', 'qwen3', 'gemma3', 'gpt2', 'llama']) {
  test(`arch: ${arch}: a prompt initialised from a text equals the text's tokens (PEFT TEXT / SAMPLE_VOCAB / RANDOM init)`, (t) => {
    const tiny = makeTinyArch(arch, { seed: 61 });
    for (const format of ['gguf', 'hf']) {
      const m = load(tiny, format);
      const ref = REF[arch], w = format === 'gguf' ? tiny.weightsGguf : tiny.weightsHf, c = format === 'gguf' ? tiny.configGguf : tiny.config;
      const dim = c.dim;
      const initAdapter = (init, n, extra = {}) => {
        const tuner = m.createTuner({ method: 'prompt', virtual_tokens: n, init, seed: 9, steps: 1, eval_split: 0, ...extra }, JSONL);
        const ad = tuner.adapter();
        const P = tensorF32(readSafetensors(ad.saveSafetensors()).tensors.get('prompt_embeddings'));
        tuner.free();
        return { ad, P };
      };
      const rowErr = (P, i, want) => {
        let e = 0, s = 0;
        for (let j = 0; j < dim; j++) { e = Math.max(e, Math.abs(P[i * dim + j] - want[j])); s = Math.max(s, Math.abs(want[j])); }
        return e / s;
      };
      try {
        const text = 'Once upon a time';
        const ids = m.tokenize(text, true);
        const { ad, P } = initAdapter('text', ids.length, { init_text: text });
        try {
          for (let i = 0; i < ids.length; i++) {
            const e = rowErr(P, i, ref.refEmbed(w, c, ids[i]));
            assert.ok(e < 1e-6, `${arch} ${format}: TEXT row ${i} is not the embedding module's output for token ${ids[i]} (relative ${e})`);
          }
          const prompt = [5, 9, 33, 70];
          const last = (ids2, a) => {
            const g = m.startGeneration(ids2, { maxTokens: 1, temperature: 0, stopAtEos: false }, a);
            g.next();
            const l = Float32Array.from(g.logits());
            g.free();
            return l;
          };
          const withPrompt = last(prompt, ad), withText = last([...ids, ...prompt], null);
          let d = 0, s = 0;
          for (let i = 0; i < withText.length; i++) { d = Math.max(d, Math.abs(withPrompt[i] - withText[i])); s = Math.max(s, Math.abs(withText[i])); }
          assert.ok(d < 1e-5 * Math.max(1, s), `${arch} ${format}: the TEXT prompt's logits differ from the text's tokens' by ${d}`);
          t.diagnostic(`${format}: TEXT prompt vs its tokens: logits ${d.toExponential(2)}`);
        } finally { ad.free(); }
        const vocab = initAdapter('vocab', 6);
        vocab.ad.free();
        for (let i = 0; i < 6; i++) {
          let best = Infinity;
          for (let id = 0; id < c.vocab_size; id++) best = Math.min(best, rowErr(vocab.P, i, ref.refEmbed(w, c, id)));
          assert.ok(best < 1e-6, `${arch} ${format}: SAMPLE_VOCAB row ${i} is no token's embedding-module output (closest: relative ${best})`);
        }
        let s2 = 0, n = 0;
        for (let id = 0; id < c.vocab_size; id++) for (const v of ref.refEmbed(w, c, id)) { s2 += v * v; n++; }
        const embStd = Math.sqrt(s2 / n);
        const rnd = initAdapter('random', 16);
        rnd.ad.free();
        const rStd = Math.sqrt(rnd.P.reduce((a, v) => a + v * v, 0) / rnd.P.length);
        // 16 x dim draws: the sample std is within a few percent of s
        assert.ok(rStd > 0.85 * embStd && rStd < 1.15 * embStd, `${arch} ${format}: RANDOM rows have std ${rStd}, the embeddings ${embStd}`);
      } finally { m.free(); }
    }
  });
}

/* ---- it learns: prompt tuning lowers the held-out loss of tiny random Qwen3- and Gemma3-shaped models ---- */

const WORDS = ['Lily', 'saw', 'a', 'big', 'red', 'ball', 'the', 'dog', 'was', 'happy', 'Tom', 'cat', 'park', 'friend'];
function sentences(n, seed) {
  const normal = normalRng(seed);
  const pick = () => WORDS[Math.floor(Math.abs(normal()) * 1e6) % WORDS.length];
  return Array.from({ length: n }, () => JSON.stringify({ text: `Once upon a time ${pick()} ${pick()} ${pick()}. The end.` })).join('\n') + '\n';
}

for (const arch of ['qwen3', 'gemma3']) {
  test(`arch: it learns: prompt tuning lowers the held-out loss of a tiny random ${arch}-shaped model`, (t) => {
    const tiny = makeTinyArch(arch, { seed: 41, dim: 64, n_heads: 4, n_kv_heads: 2, hidden_dim: 128, n_layers: 2 });
    const m = load(tiny, 'gguf');
    try {
      const train = sentences(24, 1), held = sentences(8, 2);
      const evalLoss = (ad) => m.evaluate(held, { maxLength: 64, batchSize: 8 }, ad).loss;
      const none = evalLoss(null);
      const tuner = m.createTuner({ method: 'prompt', virtual_tokens: 8, lr: 0.3, batch_size: 4, steps: 24, max_length: 64, eval_split: 0, seed: 3 }, train);
      let first = NaN, last = NaN;
      for (let i = 0; i < 24; i++) {
        assert.equal(tuner.step(), true);
        last = tuner.report().loss;
        if (i === 0) first = last;
      }
      const ad = tuner.adapter();
      const got = evalLoss(ad);
      ad.free();
      tuner.free();
      t.diagnostic(`${arch}: held-out loss without a prompt ${none.toFixed(4)}, tuned ${got.toFixed(4)} (training ${first.toFixed(4)} -> ${last.toFixed(4)})`);
      assert.ok(Number.isFinite(none) && Number.isFinite(got));
      assert.ok(got < none - 1.0, `${arch}: tuned held-out loss ${got} is not clearly below ${none}`);
      assert.ok(last < first, `${arch}: the training loss did not fall (${first} -> ${last})`);
    } finally { m.free(); }
  });
}

/* ---- sharded HF checkpoints (model.safetensors.index.json) ---- */

test('arch: a sharded HF checkpoint loads as the files model.safetensors.index.json names and equals the single file', () => {
  const one = makeTinyArch('qwen3', { seed: 51 });
  const three = makeTinyArch('qwen3', { seed: 51, shards: 3 });
  const index = JSON.parse(three.hf.files['model.safetensors.index.json']);
  const names = [...new Set(Object.values(index.weight_map))].reverse(); // any order
  assert.equal(names.length, 3);
  const m1 = load(one, 'hf');
  const m3 = engine.loadHf(three.hf.configJson, names.map((n) => three.hf.files[n]), three.hf.tokenizerJson);
  try {
    const logits = (m) => { const g = m.startGeneration([1, 5, 9], { maxTokens: 1, temperature: 0 }); g.next(); const l = Float32Array.from(g.logits()); g.free(); return l; };
    assert.deepEqual(logits(m3), logits(m1));
  } finally { m1.free(); m3.free(); }
  // a shard missing: the missing tensor is named; a shard twice: refused
  assert.throws(() => engine.loadHf(three.hf.configJson, names.slice(1).map((n) => three.hf.files[n]), three.hf.tokenizerJson),
    (e) => e.code === 'SP_ERR_SHAPE' && /tensor '.*' is missing/.test(e.message));
  assert.throws(() => engine.loadHf(three.hf.configJson, [...names, names[0]].map((n) => three.hf.files[n]), three.hf.tokenizerJson),
    (e) => e.code === 'SP_ERR_FORMAT' && /more than one shard/.test(e.message));
});

/* ---- bad input ---- */

test('arch: unknown architectures name themselves and list the supported ones; inconsistent heads get SP_ERR_SHAPE', () => {
  const tiny = makeTinyArch('qwen3', { seed: 52 });
  const cfg = JSON.parse(tiny.hf.configJson);
  assert.throws(() => engine.loadHf(JSON.stringify({ ...cfg, model_type: 'phi3', architectures: ['Phi3ForCausalLM'] }), tiny.hf.safetensors, tiny.hf.tokenizerJson),
    (e) => e.code === 'SP_ERR_UNSUPPORTED' && /'phi3'.*Phi3ForCausalLM.*supported: .*qwen3 \/ Qwen3ForCausalLM.*gpt2/.test(e.message));
  for (const [label, edit] of [['head_dim 12', { head_dim: 12 }], ['5 kv heads', { num_key_value_heads: 5 }], ['3 heads', { num_attention_heads: 3 }]]) {
    assert.throws(() => engine.loadHf(JSON.stringify({ ...cfg, ...edit }), tiny.hf.safetensors, tiny.hf.tokenizerJson), (e) => e.code === 'SP_ERR_SHAPE', label);
  }
  // a missing tensor is named (GGUF and HF)
  const q2 = makeTinyArch('qwen2', { seed: 53, head_dim: 16 }); // a qwen2 file called qwen3: no q_norm
  const cfg2 = JSON.parse(q2.hf.configJson);
  assert.throws(() => engine.loadHf(JSON.stringify({ ...cfg2, model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'] }), q2.hf.safetensors, q2.hf.tokenizerJson),
    (e) => e.code === 'SP_ERR_SHAPE' && /tensor 'model\.layers\.0\.self_attn\.q_norm\.weight' is missing/.test(e.message));
});

test('arch: every architecture names a missing tensor (GGUF and HF) and refuses inconsistent GGUF heads with SP_ERR_SHAPE', () => {
  const missing = {
    qwen2: ['blk.1.attn_k.bias', 'model.layers.1.self_attn.k_proj.bias'],
    qwen3: ['blk.1.attn_k_norm.weight', 'model.layers.1.self_attn.k_norm.weight'],
    gemma3: ['blk.0.post_ffw_norm.weight', 'model.layers.0.post_feedforward_layernorm.weight'],
    gpt2: ['blk.0.attn_qkv.bias', 'h.0.attn.c_attn.bias'],
    llama: ['blk.1.ffn_gate.weight', 'model.layers.1.mlp.gate_proj.weight'],
  };
  const esc = (s) => s.replace(/\./g, '\\.');
  for (const [arch, [g, h]] of Object.entries(missing)) {
    const tiny = makeTinyArch(arch, { seed: 54, omit: [g, h] });
    assert.throws(() => engine.loadGguf(tiny.gguf), (e) => e.code === 'SP_ERR_SHAPE' && new RegExp(`tensor '${esc(g)}' is missing`).test(e.message), `${arch} GGUF`);
    assert.throws(() => load(tiny, 'hf'), (e) => e.code === 'SP_ERR_SHAPE' && new RegExp(`tensor '${esc(h)}' is missing`).test(e.message), `${arch} HF`);
  }
  // GGUF heads that do not fit the tensors: 3 query heads (q is 64 rows), kv heads not dividing the
  // heads, a key_length other than the tensors' head size
  for (const arch of ['qwen2', 'qwen3', 'gemma3', 'gpt2', 'llama']) {
    const p = arch;
    const edits = [[`${p}.attention.head_count`, 3], [`${p}.attention.head_count_kv`, 3]];
    if (arch === 'qwen3' || arch === 'gemma3') edits.push([`${p}.attention.key_length`, 12]);
    for (const [key, value] of edits) {
      if (arch === 'gpt2' && key.endsWith('head_count_kv')) continue; // GPT-2 files carry the same count for both
      const tiny = makeTinyArch(arch, { seed: 55, ggufKv: (kv) => kv.map(([k, t, v]) => (k === key ? [k, t, value] : [k, t, v])) });
      assert.throws(() => engine.loadGguf(tiny.gguf), (e) => e.code === 'SP_ERR_SHAPE', `${arch} ${key} = ${value}`);
    }
  }
});
