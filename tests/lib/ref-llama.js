// ref-llama.js - a naive Llama forward pass in float64, written from the equations and nothing
// else, to check the engine on tiny generated models (tests/reference.test.js).
//
//   x = embed[id]; per layer: h = x + Wo·attn(rope(Wq·n1(x)), rope(Wk·n1(x)), Wv·n1(x))
//                              x = h + Wd·(silu(Wg·n2(h)) * Wu·n2(h))
//   logits = Wout·norm(x)
// n(x) = x / sqrt(mean(x^2) + eps) * w. RoPE pairs (2i, 2i+1) for GGUF files ("adjacent") or
// (i, i + head_dim/2) for Hugging Face weights ("half"), angle pos * theta^(-2i/head_dim).
// Causal attention with grouped-query heads: query head h reads key/value head h / (H / KVH).

const GGUF_NAMES = {
  embed: 'token_embd.weight', out: 'output.weight', outNorm: 'output_norm.weight',
  layer: (l, k) => `blk.${l}.${{ n1: 'attn_norm', q: 'attn_q', k: 'attn_k', v: 'attn_v', o: 'attn_output', n2: 'ffn_norm', g: 'ffn_gate', u: 'ffn_up', d: 'ffn_down' }[k]}.weight`,
};
const HF_NAMES = {
  embed: 'model.embed_tokens.weight', out: 'lm_head.weight', outNorm: 'model.norm.weight',
  layer: (l, k) => `model.layers.${l}.${{ n1: 'input_layernorm', q: 'self_attn.q_proj', k: 'self_attn.k_proj', v: 'self_attn.v_proj', o: 'self_attn.o_proj', n2: 'post_attention_layernorm', g: 'mlp.gate_proj', u: 'mlp.up_proj', d: 'mlp.down_proj' }[k]}.weight`,
};

export function matvec(W, x, rows, cols) {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += W[r * cols + c] * x[c];
    y[r] = s;
  }
  return y;
}

export function rmsnorm(x, w, eps) {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
}

/**
 * The inverse frequency of pair i (HF modeling_rope_utils): theta^(-2i/hd), then rope_scaling
 * {rope_type: 'linear', factor} divides all of them, {rope_type: 'llama3', factor, low_freq_factor,
 * high_freq_factor, original_max_position_embeddings} divides the low frequencies and blends the band
 * between (_compute_llama3_parameters).
 */
export function invFreq(i, hd, theta, scaling = null) {
  const f = Math.pow(theta, -(2 * i) / hd);
  if (!scaling) return f;
  const type = scaling.rope_type ?? scaling.type;
  if (type === 'linear') return f / scaling.factor;
  if (type !== 'llama3') throw new Error(`rope_scaling ${type}`);
  const { factor, low_freq_factor: lo, high_freq_factor: hi, original_max_position_embeddings: old } = scaling;
  const wavelen = (2 * Math.PI) / f;
  if (wavelen < old / hi) return f;
  if (wavelen > old / lo) return f / factor;
  const smooth = (old / wavelen - lo) / (hi - lo);
  return (1 - smooth) * (f / factor) + smooth * f;
}

export function rope(vec, nHeads, hd, pos, theta, style, scaling = null) {
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < hd / 2; i++) {
      const a = pos * invFreq(i, hd, theta, scaling);
      const [i0, i1] = style === 'adjacent' ? [2 * i, 2 * i + 1] : [i, i + hd / 2];
      const x0 = vec[h * hd + i0], x1 = vec[h * hd + i1];
      vec[h * hd + i0] = x0 * Math.cos(a) - x1 * Math.sin(a);
      vec[h * hd + i1] = x0 * Math.sin(a) + x1 * Math.cos(a);
    }
  }
}

/**
 * Logits after every position of ids.
 * @param {Object<string, Float32Array>} w weights by name (dequantized values)
 * @param {{dim,n_layers,n_heads,n_kv_heads,hidden_dim,vocab_size,norm_eps,rope_theta,tied}} c
 * @param {number[]} ids
 * @param {'gguf'|'hf'} layout  names and RoPE style of the weights
 * @returns {Float64Array[]} logits[t] (vocab_size)
 */
export function refLogits(w, c, ids, layout = 'gguf') {
  const embed = w[(layout === 'hf' ? HF_NAMES : GGUF_NAMES).embed];
  return refForward(w, c, ids.map((id) => embed.subarray(id * c.dim, (id + 1) * c.dim)), layout);
}

/**
 * The forward over input rows (embeddings), as prompt and prefix tuning use it.
 * rows[t] (dim) sits at position pos0 + t. prefix (optional): per layer {k, v}, each an array of
 * n_prefix vectors (kv_dim) attended before the rows, used as given (no RoPE); pos0 is then n_prefix.
 * @returns {Float64Array[]} logits after every row
 */
export function refForward(w, c, rows, layout = 'gguf', prefix = null) {
  const N = layout === 'hf' ? HF_NAMES : GGUF_NAMES;
  const out = w[N.out] || w[N.embed];
  return refHidden(w, c, rows, layout, prefix).map((h) => matvec(out, h, c.vocab_size, c.dim));
}

/**
 * The same forward up to the LM head: the final hidden state of every row (after the final norm).
 * @returns {Float64Array[]} hidden[t] (dim)
 */
export function refHidden(w, c, rows, layout = 'gguf', prefix = null) {
  const N = layout === 'hf' ? HF_NAMES : GGUF_NAMES;
  const style = layout === 'hf' ? 'half' : 'adjacent';
  const { dim, n_layers: L, n_heads: H, n_kv_heads: KVH, hidden_dim: F } = c;
  const hd = c.head_dim_explicit ?? dim / H, qd = H * hd, kvd = KVH * hd, group = H / KVH;
  const keys = Array.from({ length: L }, (_, l) => (prefix ? prefix[l].k.map((k) => Float64Array.from(k)) : []));
  const vals = Array.from({ length: L }, (_, l) => (prefix ? prefix[l].v.map((v) => Float64Array.from(v)) : []));
  const pos0 = prefix ? prefix[0].k.length : 0;
  const result = [];
  rows.forEach((row, t) => {
    const pos = pos0 + t;
    let x = Float64Array.from(row);
    for (let l = 0; l < L; l++) {
      const n1 = rmsnorm(x, w[N.layer(l, 'n1')], c.norm_eps);
      const q = matvec(w[N.layer(l, 'q')], n1, qd, dim);
      const k = matvec(w[N.layer(l, 'k')], n1, kvd, dim);
      const v = matvec(w[N.layer(l, 'v')], n1, kvd, dim);
      rope(q, H, hd, pos, c.rope_theta, style, c.rope_scaling);
      rope(k, KVH, hd, pos, c.rope_theta, style, c.rope_scaling);
      keys[l].push(k);
      vals[l].push(v);
      const att = new Float64Array(qd);
      const lo = c.sliding_window ? Math.max(0, keys[l].length - c.sliding_window) : 0; // mistral: key > query - window
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / group);
        const scores = keys[l].map((kk, j) => {
          if (j < lo) return -Infinity;
          let s = 0;
          for (let i = 0; i < hd; i++) s += q[h * hd + i] * kk[kh * hd + i];
          return s / Math.sqrt(hd);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        vals[l].forEach((vv, s) => {
          for (let i = 0; i < hd; i++) att[h * hd + i] += (e[s] / z) * vv[kh * hd + i];
        });
      }
      const o = matvec(w[N.layer(l, 'o')], att, dim, qd);
      const hmid = x.map((v0, i) => v0 + o[i]);
      const n2 = rmsnorm(hmid, w[N.layer(l, 'n2')], c.norm_eps);
      const g = matvec(w[N.layer(l, 'g')], n2, F, dim);
      const u = matvec(w[N.layer(l, 'u')], n2, F, dim);
      const act = g.map((gi, i) => (gi / (1 + Math.exp(-gi))) * u[i]);
      const d = matvec(w[N.layer(l, 'd')], act, dim, F);
      x = hmid.map((v0, i) => v0 + d[i]);
    }
    result.push(rmsnorm(x, w[N.outNorm], c.norm_eps));
  });
  return result;
}

/**
 * Causal attention of one query row q (H heads of hd) over keys/vals (arrays of kv rows, KVH heads),
 * grouped-query: head h reads key/value head floor(h / (H / KVH)); keys before index lo are masked
 * (a sliding window). Scores times scale. Returns the H*hd output.
 */
export function attend(q, keys, vals, H, KVH, hd, scale, lo = 0) {
  const out = new Float64Array(H * hd);
  const group = H / KVH;
  for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / group);
    const scores = keys.map((kk, s) => {
      if (s < lo) return -Infinity;
      let d = 0;
      for (let i = 0; i < hd; i++) d += q[h * hd + i] * kk[kh * hd + i];
      return d * scale;
    });
    const m = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - m));
    const z = e.reduce((a, b) => a + b, 0);
    vals.forEach((vv, s) => {
      for (let i = 0; i < hd; i++) out[h * hd + i] += (e[s] / z) * vv[kh * hd + i];
    });
  }
  return out;
}

/** The prefix (PEFT layout per layer {k, v}) as the attention caches it starts from: copies. */
export function startCaches(L, prefix) {
  return {
    keys: Array.from({ length: L }, (_, l) => (prefix ? prefix[l].k.map((k) => Float64Array.from(k)) : [])),
    vals: Array.from({ length: L }, (_, l) => (prefix ? prefix[l].v.map((v) => Float64Array.from(v)) : [])),
    pos0: prefix ? prefix[0].k.length : 0,
  };
}
