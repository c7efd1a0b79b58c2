// ref-qwen2.js - Qwen2 / Qwen2.5 in float64, written from transformers' modeling_qwen2.py:
// the Llama decoder (pre-RMSNorm, SwiGLU, GQA) with biases on q_proj, k_proj and v_proj (o_proj has
// none), rotate-half RoPE with rope_theta. Weights by HF names (dequantized values).
//   x = embed[id]; per layer: h = x + o_proj(attn(rope(q_proj(n1(x))), rope(k_proj(n1(x))), v_proj(n1(x))))
//                              x = h + down(silu(gate(n2(h))) * up(n2(h)))
//   logits = lm_head(norm(x))
import { matvec, rmsnorm, rope, attend, startCaches } from './ref-llama.js';

const P = (l, n) => `model.layers.${l}.${n}`;

/** Real tokens: embedding rows. */
export function refEmbed(w, c, id) {
  return w['model.embed_tokens.weight'].subarray(id * c.dim, (id + 1) * c.dim);
}

/**
 * Logits after every input row (rows: embeddings, virtual tokens included). prefix (optional): per
 * layer {k, v} arrays of n_prefix kv rows, attended first, no RoPE; rows then sit at positions n_prefix..
 */
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
      const bias = (y, name) => y.map((v, i) => v + w[P(l, name)][i]);
      const q = bias(matvec(w[P(l, 'self_attn.q_proj.weight')], n1, qd, dim), 'self_attn.q_proj.bias');
      const k = bias(matvec(w[P(l, 'self_attn.k_proj.weight')], n1, kvd, dim), 'self_attn.k_proj.bias');
      const v = bias(matvec(w[P(l, 'self_attn.v_proj.weight')], n1, kvd, dim), 'self_attn.v_proj.bias');
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
