#!/usr/bin/env node
// make-corpus.js - seed corpora for the libFuzzer harnesses, written into <out>/<target>/
// (default build/fuzz/corpus). Seeds: tiny models from tests/lib (every tensor type, v2/v3,
// custom alignment, nested arrays), hand-made edge cases, and COPIES of the real shared files
// (copied into build/ at run time only; never committed). Usage: node tests/fuzz/make-corpus.js [out]
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeGGUF } from '../lib/gguf-writer.js';
import { writeSafetensors } from '../lib/safetensors.js';
import { makeTinyLlama, makeTinyHF, makeTokenizerJson, rng } from '../lib/tiny-model.js';
import { makeTinyArch } from '../lib/tiny-arch.js';
import { repoRoot, sharedDir, hasShared } from '../lib/paths.js';

const out = resolve(process.argv[2] || join(repoRoot(), 'build', 'fuzz', 'corpus'));
const counts = {};
function put(target, name, bytes) {
  const dir = join(out, target);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes));
  counts[target] = (counts[target] || 0) + 1;
}

// ---- GGUF ----
// K-quant tensors alone (one and two super-blocks a row; 256-value rows)
for (const type of ['Q4_K', 'Q5_K', 'Q6_K']) {
  const v = Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i) * 0.1);
  put('gguf', `tensors-${type}.gguf`, writeGGUF({ kv: [['general.architecture', 'string', 'llama']],
    tensors: [{ name: 'a', dims: [256, 2], type, data: v.subarray(0, 512) }, { name: 'b', dims: [512, 1], type, data: v.subarray(512) }] }));
}
for (const type of ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q5_0', 'Q5_1']) {
  // small dims keep the seeds small (fuzzing is faster on small inputs)
  const m = makeTinyLlama({ type, dim: 32, n_layers: 1, n_heads: 2, n_kv_heads: 1, hidden_dim: 32, tied: type !== 'F16' });
  put('gguf', `tiny-${type}.gguf`, m.gguf);
}
const data = Float32Array.from({ length: 64 }, (_, i) => i - 32);
put('gguf', 'all-kv-types-v2.gguf', writeGGUF({
  version: 2, alignment: 64,
  kv: [
    ['u8', 'uint8', 1], ['i8', 'int8', -1], ['u16', 'uint16', 2], ['i16', 'int16', -2], ['u32', 'uint32', 3], ['i32', 'int32', -3],
    ['f32', 'float32', 0.5], ['b', 'bool', true], ['s', 'string', 'str'], ['u64', 'uint64', 4n], ['i64', 'int64', -4n], ['f64', 'float64', 0.25],
    ['general.alignment', 'uint32', 64],
    ['as', 'array', { type: 'string', values: ['a', 'bc'] }],
    ['an', 'array', { type: 'array', values: [{ type: 'uint8', values: [1] }, { type: 'array', values: [{ type: 'string', values: ['z'] }] }] }],
  ],
  tensors: [
    { name: 'a', dims: [32, 2], type: 'Q8_0', data }, { name: 'b', dims: [64], type: 'Q4_0', data },
    { name: 'c', dims: [2, 2, 2, 8], type: 'F16', data }, { name: 'k', dims: [256], type: 12, raw: new Uint8Array(144) },
  ],
}));
put('gguf', 'empty.gguf', writeGGUF({}));
put('gguf', 'one-tensor.gguf', writeGGUF({ tensors: [{ name: 't', dims: [1], type: 'F32', data: [1] }] }));

// ---- safetensors ----
for (const type of ['F32', 'F16', 'BF16']) {
  const hf = makeTinyHF({ type, dim: 16, n_layers: 1, n_heads: 2, n_kv_heads: 1, hidden_dim: 16, tied: type === 'F32' });
  put('safetensors', `tiny-${type}.safetensors`, hf.safetensors);
  put('json', `tiny-config-${type}.json`, hf.configJson);
  if (type === 'F32') put('json', 'tiny-tokenizer.json', hf.tokenizerJson);
}
put('safetensors', 'prompt.safetensors', writeSafetensors({ prompt_embeddings: { dtype: 'F32', shape: [4, 8], data: new Float32Array(32) } }));
put('safetensors', 'mixed.safetensors', writeSafetensors([
  ['x', { dtype: 'F32', shape: [], data: [1] }], ['y', { dtype: 'I64', shape: [1], raw: new Uint8Array(8) }],
  ['z', { dtype: 'F16', shape: [0, 3], data: [] }],
], { format: 'pt', note: 'é\u2581' }));
put('safetensors', 'empty.safetensors', writeSafetensors({}, null));

// ---- JSON ----
put('json', 'scalars.json', '[null,true,false,0,-0,1.5e-3,-12E+2,"",{},[]]');
put('json', 'escapes.json', '{"a\\"b":"\\u00e9\\ud83d\\ude00\\n\\t\\/\\\\","\\u0000":1}');
put('json', 'nested.json', '['.repeat(64) + ']'.repeat(64));
put('json', 'peft.json', JSON.stringify({ peft_type: 'PROMPT_TUNING', task_type: 'CAUSAL_LM', num_virtual_tokens: 8, token_dim: 64, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Classify:', base_model_name_or_path: null, inference_mode: true }));
put('json', 'jsonl-line.json', '{"prompt": "Once upon a time", "completion": " there was"}');

// ---- model (the loaders through the C ABI; fuzz_model.h: "GGUF..." or config \0 tokenizer \0 safetensors) ----
const hfInput = (configJson, tokenizerJson, st) => Buffer.concat([Buffer.from(configJson), Buffer.from([0]), Buffer.from(tokenizerJson), Buffer.from([0]), Buffer.from(st)]);
// micro models: an 8-token vocabulary, dim 8, one layer, so that most mutations hit the structure
const MICRO = { tokens: ['<unk>', '<s>', '</s>', '\u2581', 'a', 'b', '\u2581a', 'ab'], types: [2, 3, 3, 1, 1, 1, 1, 1], merges: [['\u2581', 'a'], ['a', 'b']] };
function microWeights(dim, hidden, vocab, nKv, headDim, seed) {
  const r = rng(seed);
  const m = (n, s = 0.5) => Float32Array.from({ length: n }, () => r.normal() * s);
  const ones = (n) => Float32Array.from({ length: n }, () => 1 + 0.1 * r.normal());
  return {
    embd: m(vocab * dim), q: m(dim * dim), k: m(nKv * headDim * dim), v: m(nKv * headDim * dim), o: m(dim * dim),
    gate: m(hidden * dim), up: m(hidden * dim), down: m(dim * hidden), n1: ones(dim), n2: ones(dim), nf: ones(dim), out: m(vocab * dim),
  };
}
function microGGUF({ type = 'F32', dim = 8, hidden = 8, heads = 2, kvHeads = 1, ctx = 16, tied = true, seed = 3 } = {}) {
  const V = MICRO.tokens.length;
  const hd = dim / heads;
  const w = microWeights(dim, hidden, V, kvHeads, hd, seed);
  const t = (name, dims, data, ty = type) => ({ name, dims, type: ty, data });
  const tensors = [
    t('token_embd.weight', [dim, V], w.embd), t('output_norm.weight', [dim], w.nf, 'F32'),
    t('blk.0.attn_norm.weight', [dim], w.n1, 'F32'), t('blk.0.ffn_norm.weight', [dim], w.n2, 'F32'),
    t('blk.0.attn_q.weight', [dim, dim], w.q), t('blk.0.attn_k.weight', [dim, kvHeads * hd], w.k),
    t('blk.0.attn_v.weight', [dim, kvHeads * hd], w.v), t('blk.0.attn_output.weight', [dim, dim], w.o),
    t('blk.0.ffn_gate.weight', [dim, hidden], w.gate), t('blk.0.ffn_up.weight', [dim, hidden], w.up),
    t('blk.0.ffn_down.weight', [hidden, dim], w.down),
  ];
  if (!tied) tensors.push(t('output.weight', [dim, V], w.out));
  return writeGGUF({
    version: 3,
    kv: [
      ['general.architecture', 'string', 'llama'], ['general.name', 'string', 'micro'],
      ['llama.context_length', 'uint32', ctx], ['llama.embedding_length', 'uint32', dim], ['llama.block_count', 'uint32', 1],
      ['llama.feed_forward_length', 'uint32', hidden], ['llama.attention.head_count', 'uint32', heads],
      ['llama.attention.head_count_kv', 'uint32', kvHeads], ['llama.attention.layer_norm_rms_epsilon', 'float32', 1e-5],
      ['llama.rope.freq_base', 'float32', 10000], ['tokenizer.ggml.model', 'string', 'llama'],
      ['tokenizer.ggml.tokens', 'array', { type: 'string', values: MICRO.tokens }],
      ['tokenizer.ggml.scores', 'array', { type: 'float32', values: MICRO.tokens.map((_, i) => -i) }],
      ['tokenizer.ggml.token_type', 'array', { type: 'int32', values: MICRO.types }],
      ['tokenizer.ggml.bos_token_id', 'uint32', 1], ['tokenizer.ggml.eos_token_id', 'uint32', 2],
    ],
    tensors,
  });
}
function microHF({ type = 'F32', dim = 8, hidden = 8, heads = 2, kvHeads = 1, ctx = 16, tied = true, seed = 3 } = {}) {
  const V = MICRO.tokens.length;
  const hd = dim / heads;
  const w = microWeights(dim, hidden, V, kvHeads, hd, seed);
  const e = (shape, data) => ({ dtype: type, shape, data });
  const L = 'model.layers.0.';
  const entries = [
    ['model.embed_tokens.weight', e([V, dim], w.embd)], ['model.norm.weight', e([dim], w.nf)],
    [L + 'input_layernorm.weight', e([dim], w.n1)], [L + 'post_attention_layernorm.weight', e([dim], w.n2)],
    [L + 'self_attn.q_proj.weight', e([dim, dim], w.q)], [L + 'self_attn.k_proj.weight', e([kvHeads * hd, dim], w.k)],
    [L + 'self_attn.v_proj.weight', e([kvHeads * hd, dim], w.v)], [L + 'self_attn.o_proj.weight', e([dim, dim], w.o)],
    [L + 'mlp.gate_proj.weight', e([hidden, dim], w.gate)], [L + 'mlp.up_proj.weight', e([hidden, dim], w.up)],
    [L + 'mlp.down_proj.weight', e([dim, hidden], w.down)],
  ];
  if (!tied) entries.push(['lm_head.weight', e([V, dim], w.out)]);
  const config = JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: dim, intermediate_size: hidden,
    num_attention_heads: heads, num_key_value_heads: kvHeads, num_hidden_layers: 1, vocab_size: V, max_position_embeddings: ctx,
    rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: tied, bos_token_id: 1, eos_token_id: 2,
  });
  const tok = makeTokenizerJson({ tokens: MICRO.tokens, merges: MICRO.merges });
  return hfInput(config, tok, writeSafetensors(entries));
}
for (const type of ['F32', 'F16', 'BF16']) {
  put('model', `micro-${type}.gguf`, microGGUF({ type }));
  put('model', `micro-${type}-untied.hf`, microHF({ type, tied: false }));
  put('model', `micro-${type}.hf`, microHF({ type }));
}
put('model', 'micro-F32-untied-mha.gguf', microGGUF({ tied: false, kvHeads: 2 }));
put('model', 'micro-ctx4.gguf', microGGUF({ ctx: 4 }));
put('model', 'micro-dim32-Q8_0.gguf', microGGUF({ type: 'Q8_0', dim: 32, hidden: 32, heads: 4, kvHeads: 2 }));
put('model', 'micro-dim32-Q4_0.gguf', microGGUF({ type: 'Q4_0', dim: 32, hidden: 32, heads: 4, kvHeads: 4 }));
// K-quants: rows of 256 values (super-blocks), so dim = hidden = 256
for (const type of ['Q4_K', 'Q5_K', 'Q6_K']) put('model', `micro-dim256-${type}.gguf`, microGGUF({ type, dim: 256, hidden: 256, heads: 4, kvHeads: 1 }));
// the tiny models of the tests (a ~450-token vocabulary with byte fallback)
put('model', 'tiny-F16.gguf', makeTinyLlama({ type: 'F16', dim: 8, n_layers: 1, n_heads: 2, n_kv_heads: 1, hidden_dim: 8, ctx_len: 16 }).gguf);
{
  const hf = makeTinyHF({ type: 'BF16', dim: 8, n_layers: 1, n_heads: 2, n_kv_heads: 1, hidden_dim: 8, ctx_len: 16, tied: true, tied_name: 'lm_head.weight' });
  put('model', 'tiny-BF16.hf', hfInput(hf.configJson, hf.tokenizerJson, hf.safetensors));
}
// one tiny model of every other architecture, both formats (tests/lib/tiny-arch.js)
for (const [arch, opts] of [['qwen2', {}], ['qwen3', { head_dim: 8 }], ['gemma3', { final_logit_softcapping: 3 }], ['gpt2', {}],
  ['llama', { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } }],
  ['mistral', { sliding_window: 3 }]]) {
  const t = makeTinyArch(arch, { dim: 16, n_layers: 1, n_heads: 2, n_kv_heads: 1, hidden_dim: 16, ctx_len: 16, type: 'F16', ...opts });
  put('model', `tiny-${arch}.gguf`, t.gguf);
  put('model', `tiny-${arch}.hf`, hfInput(t.hf.configJson, t.hf.tokenizerJson, t.hf.safetensors));
}
// ... and as a Q4_K_M file (Q4_K and Q6_K super-blocks, as llama.cpp mixes them): rows of 256 values;
// about 330 KB each, within the model harness's max_len (scripts/fuzz.sh)
for (const arch of ['qwen2', 'qwen3', 'gemma3', 'gpt2', 'llama']) {
  const t = makeTinyArch(arch, { dim: 256, n_layers: 1, n_heads: 4, n_kv_heads: 1, head_dim: 64, hidden_dim: 256, ctx_len: 16, type: 'Q4_K_M' });
  put('model', `tiny-${arch}-Q4_K_M.gguf`, t.gguf);
}

// ---- real files (copied into build/ only) ----
if (hasShared()) {
  const real = [
    ['gguf', 'models/stories260K/stories260K.gguf'],
    ['gguf', 'models/TinyStories-656K/TinyStories-656K-Q8_0.gguf'],
    ['safetensors', 'models/TinyStories-656K/model.safetensors'],
    ['json', 'models/TinyStories-656K/config.json'],
    ['json', 'models/TinyStories-656K/tokenizer.json'],
    ['json', 'models/TinyStories-656K/tokenizer_config.json'],
  ];
  for (const [target, rel] of real) {
    const p = join(sharedDir(), rel);
    if (!existsSync(p)) throw new Error(`make-corpus: shared file missing: ${p}`);
    const bytes = readFileSync(p);
    put(target, `real-${rel.split('/').pop()}`, bytes);
    if (target === 'safetensors') {
      // the header plus a little data, and the header alone as JSON: small seeds fuzz faster
      const hl = Number(bytes.readBigUInt64LE(0));
      put('safetensors', 'real-header-only.safetensors', bytes.subarray(0, 8 + hl));
      put('json', 'real-safetensors-header.json', bytes.subarray(8, 8 + hl));
    }
    if (target === 'gguf') put('gguf', `real-head-${rel.split('/').pop()}`, bytes.subarray(0, 16384)); // metadata only (truncated)
  }
}
console.log(`corpus in ${out}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
