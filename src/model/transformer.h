/* transformer.h - the Llama forward pass and its backward pass (activations only).
 *
 * One full-sequence forward serves training (B sequences of T rows, all positions at once),
 * prefill (B = 1) and decoding (B = 1, T = 1, with a KV cache). Row t of a sequence sits at
 * position n_past + t and attends to the n_past "past" rows (a trainable prefix, or the KV
 * cache) and to rows 0..t of its own sequence.
 *
 * The backward pass is the exact reverse of sp_forward with every weight frozen: it produces
 * the gradient with respect to the input embeddings (prompt tuning) and to the past K/V rows
 * (prefix tuning). Layer pairs: sp_layer_forward / sp_layer_backward. Backward ACCUMULATES.
 * sp_layer_backward uses the layer's stored attention probabilities as scratch (they hold
 * d(score) afterwards); nothing reads them after the layer's backward.
 *
 * Threads: all of it runs on the engine's pool and gives bitwise the same results for any
 * thread count (each output element is computed by one task with a fixed formula). */
#ifndef SP_TRANSFORMER_H
#define SP_TRANSFORMER_H

#include "model.h"

#include <math.h>

/* What a config needs beyond llama's buffers. */
static inline int sp_cfg_qk_norm(const sp_config *c) { return c->arch == SP_ARCH_QWEN3 || c->arch == SP_ARCH_GEMMA3; }
static inline int sp_cfg_post_norms(const sp_config *c) { return c->arch == SP_ARCH_GEMMA3; }
static inline float sp_attn_scale(const sp_config *c) { return c->attn_scale > 0.0f ? c->attn_scale : 1.0f / sqrtf((float)c->head_dim); }
static inline int sp_cfg_local_rope(const sp_config *c) { return c->sliding_window > 0 && c->rope_local_theta > 0.0f; }

/* What the rows attend to before themselves. */
typedef struct {
    const float *k;       /* layer l: k + l*layer_stride, (n_past, kv_dim) */
    const float *v;       /* same layout as k */
    int64_t layer_stride; /* floats between layers */
    int32_t n_past;
    float *cache_k;       /* decoding: where this call's rows are written (same layout as k, rows n_past..), or NULL */
    float *cache_v;
} sp_past;

/* Activations of one forward call. Layer-internal buffers hold n_slots layers: n_layers when
 * everything is kept for the backward, 1 for inference or for training with recompute (the
 * backward re-runs each layer's forward from x[l] just before differentiating it). */
typedef struct {
    int32_t B, T;       /* capacity: sequences, rows per sequence */
    int32_t S;          /* capacity of attended positions per row: n_past + T */
    int32_t n_slots;    /* layers of internal activations kept: n_layers or 1 */
    int32_t keep_att;   /* store attention probabilities (needed by the backward) */
    int32_t x_slots; /* n_layers + 1; 2 for pure inference (one slot, no keep_att): layer l reads x[l % 2] */
    int32_t decode_streams; /* one-row inference: matvec_decode's streams (a speed choice, same results) */
    float *x;      /* (x_slots, B, T, dim) residual stream entering each layer; [n_layers] = last; [0] = the input */
    float *rstd1;  /* (n_slots, B, T) attention RMSNorm 1/rms */
    float *q;      /* (n_slots, B, T, q_dim) after RoPE */
    float *k;      /* (n_slots, B, T, kv_dim) after RoPE */
    float *v;      /* (n_slots, B, T, kv_dim) */
    float *att;    /* (n_slots, B, n_heads, T, S) softmax probabilities, or NULL */
    float *ao;     /* (n_slots, B, T, q_dim) attention output before wo */
    float *xmid;   /* (n_slots, B, T, dim) stream after the attention residual */
    float *rstd2;  /* (n_slots, B, T) feed-forward RMSNorm 1/rms */
    float *gate;   /* (n_slots, B, T, hidden) gate pre-activation */
    float *up;     /* (n_slots, B, T, hidden) */
    float *rstdf;  /* (B, T) final norm 1/rms */
    float *xf;     /* (B, T, dim) final normed stream (input of the LM head); the same buffer as xn:
                    * valid until the next layer forward (a recomputing backward overwrites it) */
    float *xn;     /* (B, T, dim) scratch: normed input of the current block */
    float *hb;     /* (B, T, hidden) scratch: silu(gate)*up; NULL for pure inference (x_slots 2: into gate) */
    float *scores; /* (SP_ATTN_SLOTS, 4, S) scratch: 4 query rows' scores per attention task without keep_att */
    float *rope;   /* (T, head_dim/2, 2) cos, sin of positions rope_pos0 .. rope_pos0+rope_n-1 */
    int32_t rope_pos0, rope_n; /* what rope holds (rope_n = 0: nothing yet) */
    float *rope_local; /* the same for sliding-window layers' own base (Gemma 3), or NULL */
    int32_t rope_local_pos0, rope_local_n;
    /* q/k norm models (Qwen 3, Gemma 3): q and k before their per-head RMSNorm, and its 1/rms */
    float *qr;     /* (n_slots, B, T, q_dim) or NULL */
    float *kr;     /* (n_slots, B, T, kv_dim) */
    float *rstdq;  /* (n_slots, B, T, n_heads) */
    float *rstdk;  /* (n_slots, B, T, n_kv_heads) */
    /* post-norm models (Gemma 3): each block's output before its norm, and its 1/rms */
    float *ao2;    /* (n_slots, B, T, dim) attention output (after Wo) or NULL */
    float *rstd3;  /* (n_slots, B, T) */
    float *fo2;    /* (n_slots, B, T, dim) feed-forward output (after Wd) */
    float *rstd4;  /* (n_slots, B, T) */
    /* LayerNorm models (GPT-2): the means that go with rstd1, rstd2, rstdf */
    float *mean1, *mean2; /* (n_slots, B, T) or NULL */
    float *meanf;  /* (B, T) */
    float *xpanel; /* scratch of sp_matmul_panel_bytes(B*T, max(dim, q_dim, hidden)) bytes: the input of
                    * the current products rounded to 16 bits for integer dot products (sp_matmul_group) */
    int32_t n_threads;
} sp_acts;

/* Attention tasks that may run at once without keep_att (each owns 4 rows of scores scratch). */
#define SP_ATTN_SLOTS 8

/* Gradient buffers of one backward call. */
typedef struct {
    float *dx;     /* (B, T, dim) gradient of the loss w.r.t. the stream, flowing down; ends as d(x0) */
    float *dxn;    /* (B, T, dim) */
    float *dq;     /* (B, T, q_dim) */
    float *dk;     /* (B, T, kv_dim) */
    float *dv;     /* (B, T, kv_dim) */
    float *dao;    /* (B, T, q_dim) */
    float *dgate;  /* (B, T, hidden); d(hb) and d(up) use the acts' hb (backward.c) */
    float *datt;   /* (SP_ATTN_SLOTS, 4, S) scratch per attention task: d(probabilities) of 4 rows */
    float *dpast;  /* (2, B, n_past, kv_dim) per-sequence d(past K), d(past V) of one layer, summed in b order */
    float *dqr;    /* (B, T, q_dim) d(q before its norm), q/k norm models only, else NULL */
    float *dkr;    /* (B, T, kv_dim) */
} sp_grads;

/* Bytes of an sp_acts / sp_grads for (B, T, n_past); 0 on overflow. */
size_t sp_acts_bytes(const sp_config *c, int32_t B, int32_t T, int32_t n_past, int32_t n_slots, int32_t keep_att);
size_t sp_grads_bytes(const sp_config *c, int32_t B, int32_t T, int32_t n_past);
/* Carve the buffers out of an arena; NULL members on failure (returns SP_ERR_NOMEM). */
sp_status sp_acts_alloc(sp_acts *a, sp_arena *ar, const sp_config *c, int32_t B, int32_t T, int32_t n_past,
                        int32_t n_slots, int32_t keep_att, int32_t n_threads, sp_error *err);
sp_status sp_grads_alloc(sp_grads *g, sp_arena *ar, const sp_config *c, int32_t B, int32_t T, int32_t n_past, sp_error *err);

/* x_out[n, dim] = rows ids[n] of the token embedding (dequantized), times cfg.embd_scale when set
 * (Gemma 3 scales real tokens; virtual tokens, passed as inputs_embeds, are not). Ids in range. */
void sp_embed(const sp_model *m, float *x_out, const int32_t *ids, int32_t n);

/* Forward over B sequences of T rows. x0 (B, T, dim) is the embedded input (virtual tokens
 * included). Fills acts (x[0] = x0 ... xf). past may be NULL. */
void sp_forward(const sp_model *m, sp_acts *a, const float *x0, int32_t B, int32_t T, const sp_past *past);
/* One block: reads a->x[l], writes a->x[l+1] and the slot's activations. */
void sp_layer_forward(const sp_model *m, sp_acts *a, int32_t l, int32_t B, int32_t T, const sp_past *past);

/* LM head + cross-entropy at n selected rows of xf (row index b*T + t, target token id).
 * Returns the summed loss (natural log). If dxf is not NULL, accumulates
 * scale * d(loss)/d(xf) into dxf (B*T, dim). logits: scratch of chunk*(vocab + 2*dim) floats, chunk >= 1. */
double sp_lm_head_loss(const sp_model *m, const float *xf, const int32_t *rows, const int32_t *targets, int32_t n,
                       float *dxf, float scale, float *logits, int32_t chunk);
/* Rows of the LM head per product in the training step (the chunk of sp_lm_head_loss): 128, or
 * fewer so that a chunk's logits stay within 8M floats (32 MB), a multiple of 4 (the products'
 * row tiles): 52 rows for Qwen's 151936-entry vocabulary, 32 for Gemma's 262144. Never [B*T, V]. Any chunk gives the same results; the
 * weights are read twice per chunk, so larger chunks run the head faster (Gemma 3's head, batch
 * 4 x 128: 16 rows 21.0 s, 64 rows 15.3 s; tests/c/bench_model.c). */
int32_t sp_lm_head_chunk(const sp_config *c);
/* logits[vocab] for one row of xf, for generation: through the kernels' matvec_decode (on Q8_0 /
 * Q4_0 weights xf is rounded to 16 bits per block of 32, kernels.h; exact otherwise). A forward of
 * one row on inference acts (x_slots 2) uses it for every product too. */
void sp_lm_head_row(const sp_model *m, const float *xf_row, float *logits, int32_t streams);

/* Backward. On entry g->dx holds d(loss)/d(xf) (B, T, dim) as accumulated by sp_lm_head_loss;
 * on exit g->dx holds d(loss)/d(x0). dpast_k/dpast_v (same layout as past, may be NULL) accumulate
 * the gradient w.r.t. the past rows. With a->n_slots == 1 each layer's forward is recomputed. */
void sp_backward(const sp_model *m, sp_acts *a, sp_grads *g, int32_t B, int32_t T, const sp_past *past,
                 float *dpast_k, float *dpast_v);
void sp_layer_backward(const sp_model *m, sp_acts *a, sp_grads *g, int32_t l, int32_t B, int32_t T,
                       const sp_past *past, float *dpast_k, float *dpast_v);

/* RoPE: tab (n, head_dim/2, 2) = cos, sin for positions pos0 .. pos0+n-1 (local: the base of
 * sliding-window layers, unscaled; else rope_theta with the model's scaling); then q (B, T, q_dim)
 * and k (B, T, kv_dim) rotated with tab (T rows), sign = +1 forward, -1 the transpose (backward),
 * rows split over the pool. */
void sp_rope_table(const sp_model *m, int32_t local, float *tab, int32_t n, int32_t pos0);
/* The table of acts for layer l at positions pos0 .. pos0+T-1 (kept across layers and calls). */
const float *sp_acts_rope(const sp_model *m, sp_acts *a, int32_t l, int32_t T, int32_t pos0);
void sp_rope_rows(const sp_model *m, const float *tab, float *q, float *k, int32_t B, int32_t T, int32_t sign);

#endif
