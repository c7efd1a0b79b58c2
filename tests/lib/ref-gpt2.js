// ref-gpt2.js - GPT-2 (GPT2LMHeadModel) in float64, written from transformers' modeling_gpt2.py:
//   x = inputs_embeds + wpe[position]        (inputs_embeds = wte[id]; virtual tokens get positions too)
//   per layer: a = ln_1(x); q|k|v = a·c_attn + b (Conv1D: weight [in, out]); x += c_proj(attn(q, k, v)) + b
//              x += mlp.c_proj(gelu_new(ln_2(x)·c_fc + b)) + b
//   logits = ln_f(x)·wteᵀ (tied head)
// LayerNorm with bias; attention scores / sqrt(head_dim); no RoPE. Weights by HF names (values).
import { attend, startCaches } from './ref-llama.js';

const P = (l, n) => `h.${l}.${n}`;

/** y = x·W + b with W stored [in, out] (Conv1D). */
function conv1d(W, b, x, nin, nout) {
  const y = new Float64Array(nout);
  for (let o = 0; o < nout; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < nin; i++) s += x[i] * W[i * nout + o];
    y[o] = s;
  }
  return y;
}

function layerNorm(x, w, b, eps) {
  let mu = 0;
  for (const v of x) mu += v;
  mu /= x.length;
  let ss = 0;
  for (const v of x) ss += (v - mu) * (v - mu);
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => (v - mu) * r * w[i] + b[i]);
}

const geluNew = (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

export function refEmbed(w, c, id) {
  return w['wte.weight'].subarray(id * c.dim, (id + 1) * c.dim);
}

/** Logits after every input row; prefix as in ref-qwen2.js (rows then sit at positions n_prefix..). */
export function refForward(w, c, rows, prefix = null) {
  const { dim, n_layers: L, n_heads: H, hidden_dim: F, vocab_size: V } = c;
  const hd = dim / H;
  const { keys, vals, pos0 } = startCaches(L, prefix);
  const wte = w['wte.weight'], wpe = w['wpe.weight'];
  return rows.map((row, t) => {
    const pos = pos0 + t;
    let x = Float64Array.from(row, (v, i) => v + wpe[pos * dim + i]);
    for (let l = 0; l < L; l++) {
      const a = layerNorm(x, w[P(l, 'ln_1.weight')], w[P(l, 'ln_1.bias')], c.norm_eps);
      const qkv = conv1d(w[P(l, 'attn.c_attn.weight')], w[P(l, 'attn.c_attn.bias')], a, dim, 3 * dim);
      keys[l].push(qkv.slice(dim, 2 * dim));
      vals[l].push(qkv.slice(2 * dim));
      const att = attend(qkv.subarray(0, dim), keys[l], vals[l], H, H, hd, 1 / Math.sqrt(hd));
      const o = conv1d(w[P(l, 'attn.c_proj.weight')], w[P(l, 'attn.c_proj.bias')], att, dim, dim);
      x = x.map((v, i) => v + o[i]);
      const m = layerNorm(x, w[P(l, 'ln_2.weight')], w[P(l, 'ln_2.bias')], c.norm_eps);
      const h = conv1d(w[P(l, 'mlp.c_fc.weight')], w[P(l, 'mlp.c_fc.bias')], m, dim, F).map(geluNew);
      const d = conv1d(w[P(l, 'mlp.c_proj.weight')], w[P(l, 'mlp.c_proj.bias')], h, F, dim);
      x = x.map((v, i) => v + d[i]);
    }
    const xf = layerNorm(x, w['ln_f.weight'], w['ln_f.bias'], c.norm_eps);
    const logits = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let i = 0; i < dim; i++) s += wte[v * dim + i] * xf[i];
      logits[v] = s;
    }
    return logits;
  });
}
