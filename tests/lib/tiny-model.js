// tiny-model.js - deterministic tiny Llama models for tests, as GGUF or as a Hugging Face folder.
//
//   makeTinyLlama(opts) -> { gguf: Uint8Array, weights, config }
//   makeTinyHF(opts)    -> { configJson, safetensors, tokenizerJson, files: {'config.json', 'model.safetensors',
//                            'tokenizer.json'}, weights, config }
//   makeVocab()         -> { tokens, scores, types, merges }   the small SPM vocab both use
//   permuteQK(w, n_head, rows, cols) / unpermuteQK(...)        llama.cpp's HF -> GGUF Q/K row permutation
//   rng(seed)                                                  the PRNG (splitmix32 + Box-Muller)
//
// Options (defaults): dim=32, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=48 (64 for Q8_0/Q4_0/Q5_0/Q5_1),
// ctx_len=64, type='F32' ('F32'|'F16'|'BF16'|'Q8_0'|'Q4_0'|'Q5_0'|'Q5_1', the K-quants with dims multiples
// of 256; makeTinyHF: 'F32'|'F16'|'BF16'), tied=true, seed=1, norm_eps=1e-5, rope_theta=10000.
// For Q8_0/Q4_0/Q5_0/Q5_1 every matrix row (ggml dims[0] = input features: dim for token_embd, attn_*, ffn_gate,
// ffn_up, output; hidden_dim for ffn_down) must be a multiple of 32: dim and hidden_dim must be
// multiples of 32 (an Error is thrown otherwise), hence hidden_dim defaults to 64 there. Norms stay F32.
//
// weights: the f32 values the file actually represents (after quantize/dequantize), in torch layout
// ([out, in] row-major == ggml dims [in, out]), keyed by GGUF names:
//   weights['token_embd.weight'] (vocab*dim), weights['blk.0.attn_q.weight'] (dim*dim), ...,
//   weights['output.weight'] (the embedding itself when tied), weights['output_norm.weight'].
// GGUF Q/K rows use llama.cpp's layout (RoPE on adjacent pairs). makeTinyHF with the same options
// and seed holds the SAME model in HF layout (Q/K rows un-permuted, rotate-half RoPE), so both
// loaders must give the same logits; makeTinyHF's weights are keyed by HF names.

import { writeGGUF } from './gguf-writer.js';
import { encodeTensor } from './quant.js';
import { writeSafetensors, encodeSt } from './safetensors.js';
import { f16ToF32, f32ToF16, f32ToBf16, bf16ToF32 } from './quant.js';

/** splitmix32 uniform in [0,1) and standard normals (Box-Muller); same seed, same numbers. */
export function rng(seed = 1) {
  let s = (seed >>> 0) ^ 0x9e3779b9;
  const u32 = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const uniform = () => (u32() + 0.5) / 4294967296;
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return { u32, uniform, normal };
}

const SPACE = '\u2581'; // ▁
const WORDS = [
  'Once', 'upon', 'a', 'time', 'there', 'was', 'little', 'girl', 'named', 'Lily', 'She', 'loved', 'to',
  'play', 'outside', 'in', 'the', 'park', 'One', 'day', 'saw', 'big', 'red', 'ball', 'wanted', 'with',
  'it', 'but', 'too', 'high', 'and', 'he', 'said', 'Hello', 'happy', 'dog', 'cat', 'Tom', 'friend',
];
const EXTRA_CHARS = ['.', ',', '!', '?', '"', "'"];

/**
 * The tiny SPM vocab: 0 <unk> (type 2), 1 <s>, 2 </s> (type 3), 3..258 byte tokens <0x00>..<0xFF>
 * (type 6), then single characters (incl. ▁) and "▁word" prefixes (type 1). Merged pieces are listed
 * shortest first with score -rank, so every piece is the merge of a listed piece and one character,
 * and SPM (by score) and HF BPE (by merge rank) tokenize identically.
 */
export function makeVocab() {
  const tokens = ['<unk>', '<s>', '</s>'];
  const scores = [0, 0, 0];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    scores.push(0);
    types.push(6);
  }
  const chars = new Set([SPACE, ...EXTRA_CHARS]);
  for (const w of WORDS) for (const c of w) chars.add(c);
  const charList = [...chars].sort();
  charList.forEach((c, i) => { tokens.push(c); scores.push(-1000 - i); types.push(1); });
  const pieces = new Set();
  for (const w of WORDS) {
    const p = SPACE + w;
    for (let l = 2; l <= [...p].length; l++) pieces.add([...p].slice(0, l).join(''));
  }
  const merged = [...pieces].sort((a, b) => [...a].length - [...b].length || (a < b ? -1 : a > b ? 1 : 0));
  const merges = [];
  merged.forEach((p, rank) => {
    tokens.push(p);
    scores.push(-rank);
    types.push(1);
    const cs = [...p];
    merges.push([cs.slice(0, -1).join(''), cs[cs.length - 1]]);
  });
  return { tokens, scores, types, merges };
}

/** HF -> GGUF row permutation of a Q or K weight ([rows, cols], rows = n_head * head_dim). */
export function permuteQK(w, nHead, rows, cols) {
  const hd = rows / nHead;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < hd / 2; i++)
      for (let j = 0; j < 2; j++) {
        const src = h * hd + j * (hd / 2) + i; // HF row: half j, index i
        const dst = h * hd + 2 * i + j;       // GGUF row: pair i, element j
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

/** GGUF -> HF (inverse of permuteQK). */
export function unpermuteQK(w, nHead, rows, cols) {
  const hd = rows / nHead;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < hd / 2; i++)
      for (let j = 0; j < 2; j++) {
        const src = h * hd + 2 * i + j;
        const dst = h * hd + j * (hd / 2) + i;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

function resolveConfig(opts, allowedTypes) {
  const type = (opts.type || 'F32').toUpperCase();
  if (!allowedTypes.includes(type)) throw new Error(`tiny model: type ${type} not one of ${allowedTypes.join(', ')}`);
  const quant = ['Q8_0', 'Q4_0', 'Q5_0', 'Q5_1'].includes(type);
  const c = {
    dim: 32, n_layers: 2, n_heads: 4, n_kv_heads: 2, hidden_dim: quant ? 64 : 48, ctx_len: 64,
    tied: true, seed: 1, norm_eps: 1e-5, rope_theta: 10000, ...opts, type,
  };
  if (c.dim % c.n_heads) throw new Error(`tiny model: dim ${c.dim} not divisible by n_heads ${c.n_heads}`);
  if (c.n_heads % c.n_kv_heads) throw new Error(`tiny model: n_heads ${c.n_heads} not divisible by n_kv_heads ${c.n_kv_heads}`);
  c.head_dim = c.dim / c.n_heads;
  if (c.head_dim % 2) throw new Error('tiny model: head_dim must be even');
  c.kv_dim = c.head_dim * c.n_kv_heads;
  if (quant && (c.dim % 32 || c.hidden_dim % 32)) throw new Error(`tiny model: ${type} needs dim and hidden_dim multiples of 32 (got ${c.dim}, ${c.hidden_dim})`);
  const v = makeVocab();
  c.vocab_size = v.tokens.length;
  c.tokens = v.tokens;
  c.scores = v.scores;
  c.token_types = v.types;
  c.merges = v.merges;
  c.bos_id = 1;
  c.eos_id = 2;
  c.unk_id = 0;
  return c;
}

/** Raw f32 weights (before any encoding), GGUF names, GGUF Q/K layout. Deterministic in c.seed. */
function generateWeights(c) {
  const r = rng(c.seed);
  const mat = (rows, cols, std) => { const a = new Float32Array(rows * cols); for (let i = 0; i < a.length; i++) a[i] = r.normal() * std; return a; };
  const norm = (n) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = 1 + 0.1 * r.normal(); return a; };
  const w = {};
  w['token_embd.weight'] = mat(c.vocab_size, c.dim, 0.5);
  for (let l = 0; l < c.n_layers; l++) {
    const p = `blk.${l}.`;
    w[p + 'attn_norm.weight'] = norm(c.dim);
    w[p + 'attn_q.weight'] = mat(c.dim, c.dim, 1 / Math.sqrt(c.dim));
    w[p + 'attn_k.weight'] = mat(c.kv_dim, c.dim, 1 / Math.sqrt(c.dim));
    w[p + 'attn_v.weight'] = mat(c.kv_dim, c.dim, 1 / Math.sqrt(c.dim));
    w[p + 'attn_output.weight'] = mat(c.dim, c.dim, 1 / Math.sqrt(c.dim));
    w[p + 'ffn_norm.weight'] = norm(c.dim);
    w[p + 'ffn_gate.weight'] = mat(c.hidden_dim, c.dim, 1 / Math.sqrt(c.dim));
    w[p + 'ffn_up.weight'] = mat(c.hidden_dim, c.dim, 1 / Math.sqrt(c.dim));
    w[p + 'ffn_down.weight'] = mat(c.dim, c.hidden_dim, 1 / Math.sqrt(c.hidden_dim));
  }
  w['output_norm.weight'] = norm(c.dim);
  if (!c.tied) w['output.weight'] = mat(c.vocab_size, c.dim, 1 / Math.sqrt(c.dim));
  return w;
}

/** torch [rows, cols] of each GGUF tensor */
function shapeOf(c, name) {
  if (name.endsWith('norm.weight')) return [c.dim];
  if (name === 'token_embd.weight' || name === 'output.weight') return [c.vocab_size, c.dim];
  if (/attn_[kv]\.weight$/.test(name)) return [c.kv_dim, c.dim];
  if (/attn_(q|output)\.weight$/.test(name)) return [c.dim, c.dim];
  if (/ffn_(gate|up)\.weight$/.test(name)) return [c.hidden_dim, c.dim];
  if (/ffn_down\.weight$/.test(name)) return [c.dim, c.hidden_dim];
  throw new Error(`unknown tensor ${name}`);
}

const FILE_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7, Q5_0: 8, Q5_1: 9, Q4_K: 14, Q5_K: 16, Q6_K: 18, BF16: 32 }; // llama_ftype (Q4_K: MOSTLY_Q4_K_S)

/**
 * A tiny Llama GGUF (v3) with an embedded SPM tokenizer.
 * @returns {{gguf: Uint8Array, weights: Object<string, Float32Array>, config: Object}}
 */
export function makeTinyLlama(opts = {}) {
  const c = resolveConfig(opts, ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q5_0', 'Q5_1', 'Q4_K', 'Q5_K', 'Q6_K']);
  const raw = generateWeights(c);
  const weights = {};
  const tensors = [];
  for (const [name, data] of Object.entries(raw)) {
    const shape = shapeOf(c, name);
    const type = shape.length === 1 ? 'F32' : c.type;
    const { values } = encodeTensor(type, data);
    weights[name] = values;
    tensors.push({ name, dims: shape.slice().reverse(), type, data });
  }
  if (c.tied) weights['output.weight'] = weights['token_embd.weight'];
  const kv = [
    ['general.architecture', 'string', 'llama'],
    ['general.name', 'string', `tiny-llama-${c.type}-seed${c.seed}`],
    ['general.file_type', 'uint32', FILE_TYPE[c.type]],
    ['llama.context_length', 'uint32', c.ctx_len],
    ['llama.embedding_length', 'uint32', c.dim],
    ['llama.block_count', 'uint32', c.n_layers],
    ['llama.feed_forward_length', 'uint32', c.hidden_dim],
    ['llama.attention.head_count', 'uint32', c.n_heads],
    ['llama.attention.head_count_kv', 'uint32', c.n_kv_heads],
    ['llama.attention.layer_norm_rms_epsilon', 'float32', c.norm_eps],
    ['llama.rope.freq_base', 'float32', c.rope_theta],
    ['llama.rope.dimension_count', 'uint32', c.head_dim],
    ['llama.vocab_size', 'uint32', c.vocab_size],
    ['tokenizer.ggml.model', 'string', 'llama'],
    ['tokenizer.ggml.tokens', 'array', { type: 'string', values: c.tokens }],
    ['tokenizer.ggml.scores', 'array', { type: 'float32', values: c.scores }],
    ['tokenizer.ggml.token_type', 'array', { type: 'int32', values: c.token_types }],
    ['tokenizer.ggml.bos_token_id', 'uint32', c.bos_id],
    ['tokenizer.ggml.eos_token_id', 'uint32', c.eos_id],
    ['tokenizer.ggml.unknown_token_id', 'uint32', c.unk_id],
    ['tokenizer.ggml.add_bos_token', 'bool', true],
    ['tokenizer.ggml.add_eos_token', 'bool', false],
    ...(opts.kv ?? []), // extra metadata entries [key, type, value]
  ];
  if (opts.chatTemplate) kv.push(['tokenizer.chat_template', 'string', opts.chatTemplate]);
  const gguf = writeGGUF({ version: 3, kv, tensors, alignment: 32 });
  return { gguf, weights, config: publicConfig(c) };
}

function publicConfig(c) {
  const { merges, ...rest } = c;
  return { ...rest, merges: merges.map((m) => m.slice()) };
}

const HF_NAME = {
  attn_norm: 'input_layernorm', attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj', ffn_norm: 'post_attention_layernorm', ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj',
};

export function ggufToHfName(name) {
  if (name === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (name === 'output_norm.weight') return 'model.norm.weight';
  if (name === 'output.weight') return 'lm_head.weight';
  const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(name);
  if (!m || !HF_NAME[m[2]]) throw new Error(`no HF name for ${name}`);
  return `model.layers.${m[1]}.${HF_NAME[m[2]]}.weight`;
}

function roundTrip(dtype, x) {
  if (dtype === 'F32') return Float32Array.from(x);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = dtype === 'F16' ? f16ToF32(f32ToF16(x[i])) : bf16ToF32(f32ToBf16(x[i]));
  return out;
}

/** tokenizer.json of the tiny vocab: BPE, byte_fallback, SPM-style normalizer/decoder, <s> prepended. */
export function makeTokenizerJson(c) {
  const vocab = {};
  c.tokens.forEach((t, i) => { vocab[t] = i; });
  const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tj = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPACE }, { type: 'Replace', pattern: { String: ' ' }, content: SPACE }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab,
      merges: c.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  return JSON.stringify(tj, null, 1);
}

/**
 * The same tiny model (same opts/seed as makeTinyLlama, before quantization) as a Hugging Face
 * LlamaForCausalLM folder: config.json, model.safetensors (dtype F32|F16|BF16), tokenizer.json.
 * opts.tied_name: when tied, which tensor is stored: 'model.embed_tokens.weight' (default) or
 * 'lm_head.weight' (as in the real TinyStories-656K file, with __metadata__ naming the other).
 */
export function makeTinyHF(opts = {}) {
  const c = resolveConfig(opts, ['F32', 'F16', 'BF16']);
  const raw = generateWeights(c);
  const tiedName = opts.tied_name || 'model.embed_tokens.weight';
  const weights = {};
  const entries = [];
  const metadata = { format: 'pt' };
  for (const [gname, data] of Object.entries(raw)) {
    const shape = shapeOf(c, gname);
    let x = data;
    if (/attn_q\.weight$/.test(gname)) x = unpermuteQK(data, c.n_heads, shape[0], shape[1]);
    if (/attn_k\.weight$/.test(gname)) x = unpermuteQK(data, c.n_kv_heads, shape[0], shape[1]);
    let hname = ggufToHfName(gname);
    const values = roundTrip(c.type, x);
    weights[hname] = values;
    if (gname === 'token_embd.weight' && c.tied) {
      weights['lm_head.weight'] = values;
      if (tiedName === 'lm_head.weight') { hname = 'lm_head.weight'; metadata['model.embed_tokens.weight'] = 'lm_head.weight'; }
    }
    entries.push([hname, { dtype: c.type, shape, raw: encodeSt(c.type, x) }]);
  }
  const safetensors = writeSafetensors(entries, metadata);
  const torchDtype = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[c.type];
  const configJson = JSON.stringify({
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: c.bos_id,
    eos_token_id: c.eos_id,
    hidden_act: 'silu',
    hidden_size: c.dim,
    initializer_range: 0.02,
    intermediate_size: c.hidden_dim,
    max_position_embeddings: c.ctx_len,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: c.n_heads,
    num_hidden_layers: c.n_layers,
    num_key_value_heads: c.n_kv_heads,
    pretraining_tp: 1,
    rms_norm_eps: c.norm_eps,
    rope_scaling: null,
    rope_theta: c.rope_theta,
    tie_word_embeddings: !!c.tied,
    torch_dtype: torchDtype,
    use_cache: true,
    vocab_size: c.vocab_size,
  }, null, 2);
  const tokenizerJson = makeTokenizerJson(c);
  return {
    configJson, safetensors, tokenizerJson,
    files: { 'config.json': configJson, 'model.safetensors': safetensors, 'tokenizer.json': tokenizerJson },
    weights, config: publicConfig(c),
  };
}
