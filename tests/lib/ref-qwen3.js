// ref-qwen3.js - Qwen3 in float64, written from transformers' modeling_qwen3.py: the Llama decoder
// with an explicit head_dim, no biases, and Qwen3RMSNorm over each head's q and k (q_norm, k_norm,
// weight [head_dim]) BEFORE the rotate-half RoPE:
//   q = rope(q_norm(q_proj(n1(x)).view(heads, head_dim))), k alike, v = v_proj(n1(x))
// Weights by HF names (dequantized values).
import { matvec, rmsnorm, rope, attend, startCaches } from './ref-llama.js';

const P = (l, n) => `model.layers.${l}.${n}`;

export function refEmbed(w, c, id) {
  return w['model.embed_tokens.weight'].subarray(id * c.dim, (id + 1) * c.dim);
}

/** RMSNorm of every head_dim slice of y with the weight wn (head_dim). */
export function headNorm(y, nHeads, hd, wn, eps) {
  const out = new Float64Array(y.length);
  for (let h = 0; h < nHeads; h++) out.set(rmsnorm(y.subarray(h * hd, (h + 1) * hd), wn, eps), h * hd);
  return out;
}

/** Logits after every input row; prefix as in ref-qwen2.js. */
export function refForward(w, c, rows, prefix = null) {
  const { dim, n_layers: L, n_heads: H, n_kv_heads: KVH, hidden_dim: F, vocab_size: V } = c;
  const hd = c.head_dim, qd = H * hd, kvd = KVH * hd;
  const out = w['lm_head.weight'] || w['model.embed_tokens.weight'];
  const { keys, vals, pos0 } = startCaches(L, prefix);
  return rows.map((row, t) => {
    const pos = pos0 + t;
    let x = Float64Array.from(row);
    for (let l = 0; l < L; l++) {
      const n1 = rmsnorm(x, w[P(l, 'input_layernorm.weight')], c.norm_eps);
      const q = headNorm(matvec(w[P(l, 'self_attn.q_proj.weight')], n1, qd, dim), H, hd, w[P(l, 'self_attn.q_norm.weight')], c.norm_eps);
      const k = headNorm(matvec(w[P(l, 'self_attn.k_proj.weight')], n1, kvd, dim), KVH, hd, w[P(l, 'self_attn.k_norm.weight')], c.norm_eps);
      const v = matvec(w[P(l, 'self_attn.v_proj.weight')], n1, kvd, dim);
      rope(q, H, hd, pos, c.rope_theta, 'half');
      rope(k, KVH, hd, pos, c.rope_theta, 'half');
      keys[l].push(k);
      vals[l].push(v);
      const att = attend(q, keys[l], vals[l], H, KVH, hd, 1 / Math.sqrt(hd));
      const o = matvec(w[P(l, 'self_attn.o_proj.weight')], att, dim, qd);
      const h = x.map((x0, i) => x0 + o[i]);
      const n2 = rmsnorm(h, w[P(l, 'post_attention_layernorm.weight')], c.norm_eps);
      const g = matvec(w[P(l, 'mlp.gate_proj.weight')], n2, F, dim);
      const u = matvec(w[P(l, 'mlp.up_proj.weight')], n2, F, dim);
      const d = matvec(w[P(l, 'mlp.down_proj.weight')], g.map((gi, i) => (gi / (1 + Math.exp(-gi))) * u[i]), dim, F);
      x = h.map((h0, i) => h0 + d[i]);
    }
    return matvec(out, rmsnorm(x, w['model.norm.weight'], c.norm_eps), V, dim);
  });
}
