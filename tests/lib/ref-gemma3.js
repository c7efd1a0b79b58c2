// ref-gemma3.js - Gemma 3 text (Gemma3ForCausalLM) in float64, written from transformers'
// modeling_gemma3.py:
//   Gemma3RMSNorm(x) = x / sqrt(mean(x^2) + eps) * (1 + w)          (every norm, q_norm/k_norm too)
//   embeddings: embed[id] * sqrt(hidden) (Gemma3TextScaledWordEmbedding; inputs_embeds are NOT scaled)
//   per layer: h = x + post_attention_layernorm(o_proj(attn(...)))    [input_layernorm before attention]
//              x = h + post_feedforward_layernorm(down(gelu_tanh(gate(m)) * up(m))), m = pre_feedforward_layernorm(h)
//   attention: q = rope(q_norm(q_proj)), k = rope(k_norm(k_proj)), scores * query_pre_attn_scalar^-0.5;
//              sliding layers (layer_types) see keys with key > query - sliding_window and use
//              rope_local_base_freq; full layers use rope_theta
//   logits = lm_head(norm(x)), then final_logit_softcapping: cap * tanh(logits / cap) when set
// Weights by HF names (dequantized values, norms as HF stores them: w of (1 + w)).
import { matvec, rope, attend, startCaches } from './ref-llama.js';

const P = (l, n) => `model.layers.${l}.${n}`;

function norm(x, w, eps) {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * (1 + w[i]));
}

function headNorm(y, nHeads, hd, wn, eps) {
  const out = new Float64Array(y.length);
  for (let h = 0; h < nHeads; h++) out.set(norm(y.subarray(h * hd, (h + 1) * hd), wn, eps), h * hd);
  return out;
}

const geluTanh = (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

/** Real tokens: embedding rows times sqrt(hidden_size) - embed_tokens(ids), the module PEFT calls
 *  word_embeddings, so also the rows of a TEXT / SAMPLE_VOCAB prompt-tuning init. */
export function refEmbed(w, c, id) {
  const s = Math.sqrt(c.dim);
  return Float64Array.from(w['model.embed_tokens.weight'].subarray(id * c.dim, (id + 1) * c.dim), (v) => v * s);
}

/** Logits after every input row; prefix as in ref-qwen2.js (positions n_prefix.., windows over them too). */
export function refForward(w, c, rows, prefix = null) {
  const { dim, n_layers: L, n_heads: H, n_kv_heads: KVH, hidden_dim: F, vocab_size: V } = c;
  const hd = c.head_dim, qd = H * hd, kvd = KVH * hd;
  const out = w['lm_head.weight'] || w['model.embed_tokens.weight'];
  const scale = Math.pow(c.query_pre_attn_scalar, -0.5);
  const { keys, vals, pos0 } = startCaches(L, prefix);
  return rows.map((row, t) => {
    const pos = pos0 + t;
    let x = Float64Array.from(row);
    for (let l = 0; l < L; l++) {
      const sliding = c.layer_types[l] === 'sliding_attention';
      const theta = sliding ? c.rope_local_base_freq : c.rope_theta;
      const n1 = norm(x, w[P(l, 'input_layernorm.weight')], c.norm_eps);
      const q = headNorm(matvec(w[P(l, 'self_attn.q_proj.weight')], n1, qd, dim), H, hd, w[P(l, 'self_attn.q_norm.weight')], c.norm_eps);
      const k = headNorm(matvec(w[P(l, 'self_attn.k_proj.weight')], n1, kvd, dim), KVH, hd, w[P(l, 'self_attn.k_norm.weight')], c.norm_eps);
      const v = matvec(w[P(l, 'self_attn.v_proj.weight')], n1, kvd, dim);
      rope(q, H, hd, pos, theta, 'half');
      rope(k, KVH, hd, pos, theta, 'half');
      keys[l].push(k);
      vals[l].push(v);
      const lo = sliding ? Math.max(0, keys[l].length - c.sliding_window) : 0;
      const att = attend(q, keys[l], vals[l], H, KVH, hd, scale, lo);
      const o = norm(matvec(w[P(l, 'self_attn.o_proj.weight')], att, dim, qd), w[P(l, 'post_attention_layernorm.weight')], c.norm_eps);
      const h = x.map((x0, i) => x0 + o[i]);
      const m = norm(h, w[P(l, 'pre_feedforward_layernorm.weight')], c.norm_eps);
      const g = matvec(w[P(l, 'mlp.gate_proj.weight')], m, F, dim);
      const u = matvec(w[P(l, 'mlp.up_proj.weight')], m, F, dim);
      const d = norm(matvec(w[P(l, 'mlp.down_proj.weight')], g.map((gi, i) => geluTanh(gi) * u[i]), dim, F),
        w[P(l, 'post_feedforward_layernorm.weight')], c.norm_eps);
      x = h.map((h0, i) => h0 + d[i]);
    }
    const logits = matvec(out, norm(x, w['model.norm.weight'], c.norm_eps), V, dim);
    const cap = c.final_logit_softcapping;
    return cap ? logits.map((z) => cap * Math.tanh(z / cap)) : logits;
  });
}
