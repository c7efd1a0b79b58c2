// tiny-arch.js - one tiny random model of an architecture (qwen2, qwen3, gemma3, gpt2, llama with the
// Llama 3 / Mistral extras) written both as a GGUF file (llama.cpp's tensor names and keys) and as a
// Hugging Face folder (transformers' config.json field names + model.safetensors), the same weights.
//
//   makeTinyArch(arch, opts) -> { gguf, hf: {configJson, safetensors, tokenizerJson},
//                                  config,              // for the references (tests/lib/ref-<arch>.js)
//                                  weightsGguf, weightsHf } // HF names, the values each file represents
//
// opts (defaults): dim=32, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=dim/n_heads (qwen3/gemma3:
// 16, so q_dim != dim), hidden_dim=64, ctx_len=64, type='F32' (GGUF: F32|F16|BF16|Q8_0|Q4_0|Q5_0|Q5_1|
// Q4_K|Q5_K|Q6_K, or the mixes Q4_K_M|Q5_K_M as llama.cpp writes them (mixType: rows not a multiple of
// 256 fall back to Q5_0 / Q5_1 / Q8_0); the plain K-quants need dim, q_dim and hidden_dim multiples of 256; the HF copy is F32 unless hfType is F16|BF16; hfFrom='gguf' writes the HF
// matrices as F32 holding exactly the values the GGUF file's bytes decode to), tied=true, seed=1,
// shards=1 (HF files split in that many safetensors with model.safetensors.index.json), for bad-input
// tests omit=[] (tensor names, GGUF or HF, left out of the file using them) and ggufKv=(kv) => kv (edits
// the GGUF key/value list), and per architecture: rope_theta, rope_scaling (llama), sliding_window
// (mistral: every layer; gemma3: its sliding layers), layer_types (gemma3;
// default: llama.cpp's pattern, 5 sliding to 1 global), final_logit_softcapping (gemma3).
// The tokenizer is tiny-model.js's SPM vocabulary in both files; opts.vocab_size (default: that
// vocabulary's size) sizes the embedding for a real tokenizer.json the caller puts in the HF folder.
// GGUF differences: llama Q/K rows are permuted to adjacent RoPE pairs (qwen2/qwen3/gemma3 are not);
// gemma3 norms are stored as w + 1 (HF stores w of x * (1 + w)).
import { writeGGUF } from './gguf-writer.js';
import { encodeTensor, f16ToF32, f32ToF16, f32ToBf16, bf16ToF32 } from './quant.js';
import { writeSafetensors, encodeSt } from './safetensors.js';
import { makeVocab, makeTokenizerJson, rng, permuteQK, unpermuteQK } from './tiny-model.js';
import { invFreq } from './ref-llama.js';

const ARCHS = {
  llama: { gguf: 'llama', model_type: 'llama', cls: 'LlamaForCausalLM', permute: true },
  mistral: { gguf: 'llama', model_type: 'mistral', cls: 'MistralForCausalLM', permute: true },
  qwen2: { gguf: 'qwen2', model_type: 'qwen2', cls: 'Qwen2ForCausalLM', biases: true },
  qwen3: { gguf: 'qwen3', model_type: 'qwen3', cls: 'Qwen3ForCausalLM', qkNorm: true, explicitHead: true },
  gemma3: { gguf: 'gemma3', model_type: 'gemma3_text', cls: 'Gemma3ForCausalLM', qkNorm: true, explicitHead: true, gemma: true },
  gpt2: { gguf: 'gpt2', model_type: 'gpt2', cls: 'GPT2LMHeadModel', gpt2: true },
};

/* GPT-2: HF names without the "transformer." prefix (as the hub's model.safetensors); 'conv' weights are
 * stored [in, out] by HF and [out, in] (torch order) in GGUF; c_attn is q|k|v fused. */
function gpt2List(c) {
  const t = [['wte.weight', 'token_embd.weight', [c.vocab_size, c.dim], 'embed'], ['wpe.weight', 'position_embd.weight', [c.ctx_len, c.dim], 'pos']];
  for (let l = 0; l < c.n_layers; l++) {
    const h = (n) => `h.${l}.${n}`, g = (n) => `blk.${l}.${n}`;
    t.push([h('ln_1.weight'), g('attn_norm.weight'), [c.dim], 'norm'], [h('ln_1.bias'), g('attn_norm.bias'), [c.dim], 'bias']);
    t.push([h('attn.c_attn.weight'), g('attn_qkv.weight'), [c.dim, 3 * c.dim], 'conv'], [h('attn.c_attn.bias'), g('attn_qkv.bias'), [3 * c.dim], 'bias']);
    t.push([h('attn.c_proj.weight'), g('attn_output.weight'), [c.dim, c.dim], 'conv'], [h('attn.c_proj.bias'), g('attn_output.bias'), [c.dim], 'bias']);
    t.push([h('ln_2.weight'), g('ffn_norm.weight'), [c.dim], 'norm'], [h('ln_2.bias'), g('ffn_norm.bias'), [c.dim], 'bias']);
    t.push([h('mlp.c_fc.weight'), g('ffn_up.weight'), [c.dim, c.hidden_dim], 'conv'], [h('mlp.c_fc.bias'), g('ffn_up.bias'), [c.hidden_dim], 'bias']);
    t.push([h('mlp.c_proj.weight'), g('ffn_down.weight'), [c.hidden_dim, c.dim], 'conv'], [h('mlp.c_proj.bias'), g('ffn_down.bias'), [c.dim], 'bias']);
  }
  t.push(['ln_f.weight', 'output_norm.weight', [c.dim], 'norm'], ['ln_f.bias', 'output_norm.bias', [c.dim], 'bias']);
  return t;
}

function transpose(x, rows, cols) {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = x[r * cols + k];
  return out;
}
export const TINY_ARCHS = Object.keys(ARCHS);

/** The tensors of an architecture: [HF name, GGUF name, torch shape, kind ('mat'|'norm'|'bias')]. */
function tensorList(a, c) {
  const t = [['model.embed_tokens.weight', 'token_embd.weight', [c.vocab_size, c.dim], 'embed']];
  if (!c.tied) t.push(['lm_head.weight', 'output.weight', [c.vocab_size, c.dim], 'mat']);
  t.push(['model.norm.weight', 'output_norm.weight', [c.dim], 'norm']);
  for (let l = 0; l < c.n_layers; l++) {
    const h = (n) => `model.layers.${l}.${n}`, g = (n) => `blk.${l}.${n}`;
    t.push([h('input_layernorm.weight'), g('attn_norm.weight'), [c.dim], 'norm']);
    t.push([h('self_attn.q_proj.weight'), g('attn_q.weight'), [c.q_dim, c.dim], 'mat']);
    t.push([h('self_attn.k_proj.weight'), g('attn_k.weight'), [c.kv_dim, c.dim], 'mat']);
    t.push([h('self_attn.v_proj.weight'), g('attn_v.weight'), [c.kv_dim, c.dim], 'mat']);
    if (a.biases) {
      t.push([h('self_attn.q_proj.bias'), g('attn_q.bias'), [c.q_dim], 'bias']);
      t.push([h('self_attn.k_proj.bias'), g('attn_k.bias'), [c.kv_dim], 'bias']);
      t.push([h('self_attn.v_proj.bias'), g('attn_v.bias'), [c.kv_dim], 'bias']);
    }
    if (a.qkNorm) {
      t.push([h('self_attn.q_norm.weight'), g('attn_q_norm.weight'), [c.head_dim], 'norm']);
      t.push([h('self_attn.k_norm.weight'), g('attn_k_norm.weight'), [c.head_dim], 'norm']);
    }
    t.push([h('self_attn.o_proj.weight'), g('attn_output.weight'), [c.dim, c.q_dim], 'mat']);
    if (a.gemma) {
      t.push([h('post_attention_layernorm.weight'), g('post_attention_norm.weight'), [c.dim], 'norm']);
      t.push([h('pre_feedforward_layernorm.weight'), g('ffn_norm.weight'), [c.dim], 'norm']);
      t.push([h('post_feedforward_layernorm.weight'), g('post_ffw_norm.weight'), [c.dim], 'norm']);
    } else {
      t.push([h('post_attention_layernorm.weight'), g('ffn_norm.weight'), [c.dim], 'norm']);
    }
    t.push([h('mlp.gate_proj.weight'), g('ffn_gate.weight'), [c.hidden_dim, c.dim], 'mat']);
    t.push([h('mlp.up_proj.weight'), g('ffn_up.weight'), [c.hidden_dim, c.dim], 'mat']);
    t.push([h('mlp.down_proj.weight'), g('ffn_down.weight'), [c.dim, c.hidden_dim], 'mat']);
  }
  return t;
}

/* llama.cpp's choice per tensor for the Q4_K_M / Q5_K_M mixes (src/llama-quant.cpp,
 * llama_tensor_get_type): output.weight, or token_embd.weight when there is no output.weight, is
 * Q6_K; attn_v (gpt2: the fused attn_qkv) and ffn_down are Q6_K in the layers use_more_bits picks
 * (the first and last eighth, and every third between); position_embd stays F32 ("do not quantize
 * positional embeddings"); every other matrix is the mix's base type. Then its fallback for rows
 * (ne0, the GGUF row length) that are not a multiple of 256: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K ->
 * Q8_0, or F16 when ne0 is not a multiple of 32 either (what SmolLM2, Qwen2.5-0.5B and Gemma-3-270M
 * files hold for their 576 / 960 / 896 / 640-wide rows). */
const MIX_BASE = { Q4_K_M: 'Q4_K', Q5_K_M: 'Q5_K' };
const K_FALLBACK = { Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' };
const useMoreBits = (i, n) => i < Math.floor(n / 8) || i >= Math.floor((7 * n) / 8) || (i - Math.floor(n / 8)) % 3 === 2;
function mixType(mix, gname, c, hasOutput, ne0) {
  let t = MIX_BASE[mix];
  if (gname === 'output.weight' || (gname === 'token_embd.weight' && !hasOutput)) t = 'Q6_K';
  if (gname === 'position_embd.weight') return 'F32';
  const m = /^blk\.(\d+)\.(attn_v|attn_qkv|ffn_down)\.weight$/.exec(gname);
  if (m && useMoreBits(Number(m[1]), c.n_layers)) t = 'Q6_K';
  if (ne0 % 256) t = ne0 % 32 ? 'F16' : K_FALLBACK[t];
  return t;
}

function roundTrip(dtype, x) {
  if (dtype === 'F32') return Float32Array.from(x);
  return Float32Array.from(x, (v) => (dtype === 'F16' ? f16ToF32(f32ToF16(v)) : bf16ToF32(f32ToBf16(v))));
}

export function makeTinyArch(arch, opts = {}) {
  const a = ARCHS[arch];
  if (!a) throw new Error(`tiny-arch: unknown architecture ${arch}`);
  const type = (opts.type || 'F32').toUpperCase();
  const hfType = (opts.hfType || 'F32').toUpperCase();
  const hfFromGguf = opts.hfFrom === 'gguf';
  if (hfFromGguf && hfType !== 'F32') throw new Error('tiny-arch: hfFrom gguf writes the decoded values as F32');
  const v = makeVocab();
  const c = {
    arch, dim: 32, n_layers: 2, n_heads: 4, n_kv_heads: 2, hidden_dim: 64, ctx_len: 64, tied: true, seed: 1,
    norm_eps: a.gemma ? 1e-6 : 1e-5, rope_theta: arch === 'qwen2' || arch === 'qwen3' || a.gemma ? 1e6 : 10000, ...opts, type,
  };
  c.head_dim = opts.head_dim ?? (a.explicitHead ? 16 : c.dim / c.n_heads);
  c.q_dim = c.n_heads * c.head_dim;
  c.kv_dim = c.n_kv_heads * c.head_dim;
  c.vocab_size = opts.vocab_size ?? v.tokens.length; // larger: for a real tokenizer.json written beside the weights
  if (a.gemma) {
    c.rope_local_base_freq = opts.rope_local_base_freq ?? 10000;
    c.sliding_window = opts.sliding_window ?? 4;
    c.layer_types = opts.layer_types ?? Array.from({ length: c.n_layers }, (_, l) => ((l + 1) % 6 ? 'sliding_attention' : 'full_attention'));
    c.query_pre_attn_scalar = opts.query_pre_attn_scalar ?? c.head_dim;
    c.final_logit_softcapping = opts.final_logit_softcapping ?? null;
  }
  const r = rng(c.seed);
  if (a.gpt2) { c.tied = true; c.head_dim = c.dim / c.n_heads; c.q_dim = c.kv_dim = c.dim; c.n_kv_heads = c.n_heads; }
  const list = a.gpt2 ? gpt2List(c) : tensorList(a, c);
  const raw = {};
  for (const [name, , shape, kind] of list) {
    const n = shape.reduce((x, y) => x * y, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      if (kind === 'embed') x[i] = (a.gemma ? 1 / Math.sqrt(c.dim) : 0.5) * z; // gemma: times sqrt(dim) at the input, unit scale as in the real models
      else if (kind === 'pos') x[i] = 0.2 * z;
      else if (kind === 'mat') x[i] = z / Math.sqrt(shape[1]);
      else if (kind === 'conv') x[i] = z / Math.sqrt(shape[0]);
      else if (kind === 'bias') x[i] = 0.2 * z;
      else x[i] = a.gemma ? 0.1 * z : 1 + 0.1 * z; // gemma: w of (1 + w)
    }
    raw[name] = x;
  }

  // ---- GGUF tensors (the same raw weights); the file is written below
  const weightsGguf = {};
  const ggufTypes = {}; // GGUF name -> the type it is stored in
  const tensors = [];
  for (const [name, gname, shape, kind] of list) {
    let x = raw[name];
    const isQ = /q_proj\.weight$/.test(name), isK = /k_proj\.weight$/.test(name);
    if (a.permute && (isQ || isK)) x = permuteQK(x, isQ ? c.n_heads : c.n_kv_heads, shape[0], shape[1]);
    if (kind === 'norm' && a.gemma) x = Float32Array.from(x, (w) => w + 1);
    if (kind === 'conv') x = transpose(x, shape[0], shape[1]); // GGUF: torch [out, in]
    let ttype = kind === 'mat' || kind === 'embed' || kind === 'conv' || kind === 'pos' ? type : 'F32';
    const dims = (kind === 'conv' ? [shape[1], shape[0]] : shape).slice().reverse(); // ggml order: dims[0] = ne0, the row length
    if (MIX_BASE[type] && ttype !== 'F32') ttype = mixType(type, gname, c, list.some(([, g]) => g === 'output.weight'), dims[0]);
    ggufTypes[gname] = ttype;
    const { values } = encodeTensor(ttype, x);
    let back = Float32Array.from(values);
    if (kind === 'conv') back = transpose(back, shape[1], shape[0]);
    if (a.permute && (isQ || isK)) back = unpermuteQK(back, isQ ? c.n_heads : c.n_kv_heads, shape[0], shape[1]);
    weightsGguf[name] = kind === 'norm' && a.gemma ? Float64Array.from(back, (w) => w - 1) : back;
    tensors.push({ name: gname, dims, type: ttype, data: x });
  }
  // ---- Hugging Face folder (opts.hfFrom 'gguf': the matrices hold the values the GGUF file's bytes decode to)
  const weightsHf = {};
  const entries = [];
  for (const [name, , shape, kind] of list) {
    const stored = kind === 'mat' || kind === 'embed' || kind === 'conv' || kind === 'pos';
    const dtype = stored ? hfType : 'F32';
    const x = stored && hfFromGguf ? weightsGguf[name] : raw[name];
    weightsHf[name] = roundTrip(dtype, x);
    if (!(opts.omit || []).includes(name)) entries.push([name, { dtype, shape, raw: encodeSt(dtype, x) }]);
  }
  const hfFiles = {};
  const shards = opts.shards || 1;
  if (shards === 1) {
    hfFiles['model.safetensors'] = writeSafetensors(entries, { format: 'pt' });
  } else {
    const weightMap = {};
    for (let s = 0; s < shards; s++) {
      const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const part = entries.filter((_, i) => i % shards === s);
      for (const [name] of part) weightMap[name] = file;
      hfFiles[file] = writeSafetensors(part, { format: 'pt' });
    }
    hfFiles['model.safetensors.index.json'] = JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2);
  }
  const cfg = {
    architectures: [a.cls], model_type: a.model_type, bos_token_id: 1, eos_token_id: 2,
    hidden_size: c.dim, intermediate_size: c.hidden_dim, num_hidden_layers: c.n_layers, num_attention_heads: c.n_heads,
    num_key_value_heads: c.n_kv_heads, max_position_embeddings: c.ctx_len, rms_norm_eps: c.norm_eps, rope_theta: c.rope_theta,
    tie_word_embeddings: !!c.tied, torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[hfType], vocab_size: c.vocab_size,
    attention_dropout: 0.0, use_cache: true,
  };
  if (a.gpt2) {
    for (const k of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'max_position_embeddings',
      'rms_norm_eps', 'rope_theta', 'tie_word_embeddings']) delete cfg[k];
    Object.assign(cfg, {
      activation_function: 'gelu_new', n_embd: c.dim, n_layer: c.n_layers, n_head: c.n_heads, n_inner: c.hidden_dim === 4 * c.dim ? null : c.hidden_dim,
      n_positions: c.ctx_len, n_ctx: c.ctx_len, layer_norm_epsilon: c.norm_eps, scale_attn_weights: true, resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1,
    });
  } else if (a.gemma) {
    Object.assign(cfg, {
      hidden_activation: 'gelu_pytorch_tanh', head_dim: c.head_dim, query_pre_attn_scalar: c.query_pre_attn_scalar,
      sliding_window: c.sliding_window, layer_types: c.layer_types, rope_local_base_freq: c.rope_local_base_freq,
      final_logit_softcapping: c.final_logit_softcapping, attn_logit_softcapping: null, rope_scaling: null, attention_bias: false,
    });
  } else {
    Object.assign(cfg, { hidden_act: 'silu', rope_scaling: c.rope_scaling ?? null });
    if (a.explicitHead || opts.head_dim) cfg.head_dim = c.head_dim;
    if (arch === 'qwen2' || arch === 'qwen3') Object.assign(cfg, { use_sliding_window: false, sliding_window: 4096, max_window_layers: c.n_layers });
    if (arch === 'qwen3') cfg.attention_bias = false;
    if (arch === 'llama') Object.assign(cfg, { attention_bias: false, mlp_bias: false, pretraining_tp: 1 });
    if (arch === 'mistral') cfg.sliding_window = c.sliding_window ?? null;
  }
  const configJson = JSON.stringify(cfg, null, 2);
  const tokenizerJson = makeTokenizerJson({ tokens: v.tokens, merges: v.merges });

  const scaling = c.rope_scaling && (c.rope_scaling.rope_type ?? c.rope_scaling.type);
  if (scaling === 'llama3') { // llama.cpp's converter: the divisors of each frequency, as rope_freqs.weight
    const ff = Float32Array.from({ length: c.head_dim / 2 }, (_, i) => invFreq(i, c.head_dim, c.rope_theta) / invFreq(i, c.head_dim, c.rope_theta, c.rope_scaling));
    tensors.push({ name: 'rope_freqs.weight', dims: [c.head_dim / 2], type: 'F32', data: ff });
  }
  const p = a.gguf;
  const kv = [
    ['general.architecture', 'string', p],
    ['general.name', 'string', `tiny-${arch}-${type}-seed${c.seed}`],
    [`${p}.context_length`, 'uint32', c.ctx_len],
    [`${p}.embedding_length`, 'uint32', c.dim],
    [`${p}.block_count`, 'uint32', c.n_layers],
    [`${p}.feed_forward_length`, 'uint32', c.hidden_dim],
    [`${p}.attention.head_count`, 'uint32', c.n_heads],
    [`${p}.attention.head_count_kv`, 'uint32', c.n_kv_heads],
  ];
  if (a.gpt2) kv.push([`${p}.attention.layer_norm_epsilon`, 'float32', c.norm_eps]);
  else {
    kv.push([`${p}.attention.layer_norm_rms_epsilon`, 'float32', c.norm_eps], [`${p}.rope.freq_base`, 'float32', c.rope_theta],
      [`${p}.rope.dimension_count`, 'uint32', c.head_dim]);
  }
  if (a.explicitHead || opts.head_dim) kv.push([`${p}.attention.key_length`, 'uint32', c.head_dim], [`${p}.attention.value_length`, 'uint32', c.head_dim]);
  if (a.gemma) {
    kv.push([`${p}.attention.sliding_window`, 'uint32', c.sliding_window]);
    if (c.final_logit_softcapping) kv.push([`${p}.final_logit_softcapping`, 'float32', c.final_logit_softcapping]);
  }
  if (scaling === 'linear') {
    kv.push([`${p}.rope.scaling.type`, 'string', 'linear'], [`${p}.rope.scaling.factor`, 'float32', c.rope_scaling.factor]);
  }
  kv.push(
    ['tokenizer.ggml.model', 'string', 'llama'],
    ['tokenizer.ggml.tokens', 'array', { type: 'string', values: v.tokens }],
    ['tokenizer.ggml.scores', 'array', { type: 'float32', values: v.scores }],
    ['tokenizer.ggml.token_type', 'array', { type: 'int32', values: v.types }],
    ['tokenizer.ggml.bos_token_id', 'uint32', 1],
    ['tokenizer.ggml.eos_token_id', 'uint32', 2],
    ['tokenizer.ggml.unknown_token_id', 'uint32', 0],
    ['tokenizer.ggml.add_bos_token', 'bool', true],
  );
  const omit = new Set(opts.omit || []);
  const gguf = writeGGUF({ version: 3, kv: opts.ggufKv ? opts.ggufKv(kv) : kv, tensors: tensors.filter((x) => !omit.has(x.name)), alignment: 32 });
  if (c.tied && !a.gpt2) {
    weightsGguf['lm_head.weight'] = weightsGguf['model.embed_tokens.weight'];
    weightsHf['lm_head.weight'] = weightsHf['model.embed_tokens.weight'];
  }
  return {
    gguf, hf: { configJson, tokenizerJson, files: { 'config.json': configJson, 'tokenizer.json': tokenizerJson, ...hfFiles }, safetensors: hfFiles['model.safetensors'] },
    config: c, weightsGguf, weightsHf, ggufTypes,
    // the GGUF copy's own traits where GGUF cannot say what config.json says (gemma3: llama.cpp's fixed
    // pattern of 5 sliding layers to 1 global)
    configGguf: a.gemma ? { ...c, layer_types: Array.from({ length: c.n_layers }, (_, l) => ((l + 1) % 6 ? 'sliding_attention' : 'full_attention')) } : c,
  };
}
