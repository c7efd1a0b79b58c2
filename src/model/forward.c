/* forward.c - the transformer forward pass over B sequences of T rows (training, prefill, decoding).
 *
 *   x0 = embed(ids) (with virtual tokens prepended for prompt tuning)
 *   per layer:  xn = rmsnorm(x) ; q,k,v = xn·Wqᵀ, xn·Wkᵀ, xn·Wvᵀ ; rope(q), rope(k)
 *               ao = softmax(q·kᵀ/√hd over [past ; causal rows]) · v ; xmid = x + ao·Woᵀ
 *               xn = rmsnorm(xmid) ; x' = xmid + (silu(xn·Wgᵀ) * xn·Wuᵀ)·Wdᵀ
 *   xf = rmsnorm(x_L) ; logits = xf·Woutᵀ (only at the rows that need them)
 *
 * The other architectures differ per step, each guarded by its config or an optional tensor:
 * LayerNorm with bias (GPT-2); q/k/v/o and MLP biases (Qwen 2, GPT-2); per-head q/k RMSNorm
 * before RoPE (Qwen 3, Gemma 3); norms of each block's output before its residual (Gemma 3);
 * GELU-tanh gate (Gemma 3) or a plain GELU MLP (GPT-2); scaled and learned positions; RoPE
 * scaling and a sliding window with its own RoPE base; an attention scale; logit soft-capping.
 *
 * Threads: the matrix products split over the pool (kernels/dispatch.c); attention splits over
 * (sequence, head, 4-row tile) units; row-wise steps (norms, residuals, SwiGLU, the LM head's
 * softmax) over rows (par.h). Every output element is computed by one fixed formula whatever
 * the split, so results are bitwise identical for any thread count.
 */
#include "transformer.h"
#include "par.h"

#include <math.h>
#include <string.h>

#define SLOT(a, l) ((a)->n_slots == 1 ? 0 : (l))
#define XSLOT(a, l) ((a)->x_slots == 2 ? (l) % 2 : (l))

/* ---------------------------------------------------------------------------------------------- */
/* buffers                                                                                        */

/* The buffers of sp_acts and sp_grads, each as (pointer, a x b x c floats): one table per struct,
 * the llm.c way. The *_bytes functions sum a table, the *_alloc functions slice the arena by it.
 * An entry marked `optional` with no floats is left NULL; every other one gets an allocation. */
typedef struct {
    float **p;
    size_t a, b, c;
    int optional;
} buf_spec;

#define SP_ACTS_BUFS 29 /* entries of acts_table (a new buffer: one entry there, one more here) */
#define SP_GRADS_BUFS 11 /* of grads_table */

static int32_t acts_table(buf_spec *t, sp_acts *a, const sp_config *c, int32_t B, int32_t T, int32_t n_past, int32_t n_slots,
                          int32_t keep_att) {
    const size_t rows = (size_t)B * (size_t)T, S = (size_t)n_past + (size_t)T, L = (size_t)n_slots;
    const size_t xs = n_slots == 1 && !keep_att ? 2 : (size_t)c->n_layers + 1;
    int32_t n = 0;
    t[n++] = (buf_spec){.p = &a->x, .a = xs, .b = rows, .c = (size_t)c->dim};
    t[n++] = (buf_spec){.p = &a->rstd1, .a = L, .b = rows, .c = 1};
    t[n++] = (buf_spec){.p = &a->q, .a = L, .b = rows, .c = (size_t)c->q_dim};
    t[n++] = (buf_spec){.p = &a->k, .a = L, .b = rows, .c = (size_t)c->kv_dim};
    t[n++] = (buf_spec){.p = &a->v, .a = L, .b = rows, .c = (size_t)c->kv_dim};
    t[n++] = (buf_spec){.p = &a->ao, .a = L, .b = rows, .c = (size_t)c->q_dim};
    t[n++] = (buf_spec){.p = &a->xmid, .a = L, .b = rows, .c = (size_t)c->dim};
    t[n++] = (buf_spec){.p = &a->rstd2, .a = L, .b = rows, .c = 1};
    t[n++] = (buf_spec){.p = &a->gate, .a = L, .b = rows, .c = (size_t)c->hidden_dim};
    t[n++] = (buf_spec){.p = &a->up, .a = L, .b = rows, .c = (size_t)c->hidden_dim};
    t[n++] = (buf_spec){.p = &a->rstdf, .a = rows, .b = 1, .c = 1};
    t[n++] = (buf_spec){.p = &a->xn, .a = rows, .b = (size_t)c->dim, .c = 1};
    /* pure inference (two x slots): SwiGLU writes into gate, no hb */
    /* only pure inference goes without hb: a 1-layer model in training also has xs == 2 */
    t[n++] = (buf_spec){.p = &a->hb, .a = n_slots == 1 && !keep_att ? 0 : rows, .b = (size_t)c->hidden_dim, .c = 1, .optional = 1};
    t[n++] = (buf_spec){.p = &a->scores, .a = (size_t)SP_ATTN_SLOTS * 4, .b = S, .c = 1};
    t[n++] = (buf_spec){.p = &a->rope, .a = (size_t)T, .b = (size_t)c->head_dim, .c = 1};
    t[n++] = (buf_spec){.p = &a->att, .a = keep_att ? L * (size_t)B * (size_t)c->n_heads : 0, .b = (size_t)T, .c = S, .optional = 1};
    /* per-architecture extras (0 floats and NULL when the model has no such step) */
    const size_t lr = sp_cfg_local_rope(c) ? (size_t)T : 0, qk = sp_cfg_qk_norm(c) ? L : 0, post = sp_cfg_post_norms(c) ? L : 0;
    const size_t ln = c->norm == SP_NORM_LAYER ? L : 0, lnf = c->norm == SP_NORM_LAYER ? rows : 0;
    t[n++] = (buf_spec){.p = &a->rope_local, .a = lr, .b = (size_t)c->head_dim, .c = 1, .optional = 1};
    t[n++] = (buf_spec){.p = &a->qr, .a = qk, .b = rows, .c = (size_t)c->q_dim, .optional = 1};
    t[n++] = (buf_spec){.p = &a->kr, .a = qk, .b = rows, .c = (size_t)c->kv_dim, .optional = 1};
    t[n++] = (buf_spec){.p = &a->rstdq, .a = qk, .b = rows, .c = (size_t)c->n_heads, .optional = 1};
    t[n++] = (buf_spec){.p = &a->rstdk, .a = qk, .b = rows, .c = (size_t)c->n_kv_heads, .optional = 1};
    t[n++] = (buf_spec){.p = &a->ao2, .a = post, .b = rows, .c = (size_t)c->dim, .optional = 1};
    t[n++] = (buf_spec){.p = &a->rstd3, .a = post, .b = rows, .c = 1, .optional = 1};
    t[n++] = (buf_spec){.p = &a->fo2, .a = post, .b = rows, .c = (size_t)c->dim, .optional = 1};
    t[n++] = (buf_spec){.p = &a->rstd4, .a = post, .b = rows, .c = 1, .optional = 1};
    t[n++] = (buf_spec){.p = &a->mean1, .a = ln, .b = rows, .c = 1, .optional = 1};
    t[n++] = (buf_spec){.p = &a->mean2, .a = ln, .b = rows, .c = 1, .optional = 1};
    t[n++] = (buf_spec){.p = &a->meanf, .a = lnf, .b = 1, .c = 1, .optional = 1};
    /* the widest input of a product: dim (q, k, v, gate, up), q_dim (o) or hidden (down) */
    int32_t in_max = c->dim > c->q_dim ? c->dim : c->q_dim;
    if (c->hidden_dim > in_max) in_max = c->hidden_dim;
    t[n++] = (buf_spec){.p = &a->xpanel, .a = (sp_matmul_panel_bytes((int32_t)rows, in_max) + 3) / 4, .b = 1, .c = 1, .optional = 1};
    return n;
}

static int32_t grads_table(buf_spec *t, sp_grads *g, const sp_config *c, int32_t B, int32_t T, int32_t n_past) {
    const size_t rows = (size_t)B * (size_t)T, S = (size_t)n_past + (size_t)T;
    int32_t n = 0;
    t[n++] = (buf_spec){.p = &g->dx, .a = rows, .b = (size_t)c->dim, .c = 1};
    t[n++] = (buf_spec){.p = &g->dxn, .a = rows, .b = (size_t)c->dim, .c = 1};
    t[n++] = (buf_spec){.p = &g->dq, .a = rows, .b = (size_t)c->q_dim, .c = 1};
    t[n++] = (buf_spec){.p = &g->dao, .a = rows, .b = (size_t)c->q_dim, .c = 1};
    t[n++] = (buf_spec){.p = &g->dk, .a = rows, .b = (size_t)c->kv_dim, .c = 1};
    t[n++] = (buf_spec){.p = &g->dv, .a = rows, .b = (size_t)c->kv_dim, .c = 1};
    t[n++] = (buf_spec){.p = &g->dgate, .a = rows, .b = (size_t)c->hidden_dim, .c = 1};
    t[n++] = (buf_spec){.p = &g->datt, .a = (size_t)SP_ATTN_SLOTS * 4, .b = S, .c = 1};
    t[n++] = (buf_spec){.p = &g->dpast, .a = (size_t)2 * (size_t)B, .b = (size_t)n_past, .c = (size_t)c->kv_dim};
    const size_t qk = sp_cfg_qk_norm(c) ? rows : 0;
    t[n++] = (buf_spec){.p = &g->dqr, .a = qk, .b = (size_t)c->q_dim, .c = 1, .optional = 1};
    t[n++] = (buf_spec){.p = &g->dkr, .a = qk, .b = (size_t)c->kv_dim, .c = 1, .optional = 1};
    return n;
}

/* Floats of one entry, 0 on overflow (*ok cleared). */
static size_t spec_floats(const buf_spec *s, int *ok) {
    size_t n;
    if (!sp_mul_size(s->a, s->b, &n) || !sp_mul_size(n, s->c, &n) || n > SIZE_MAX / 4 - 64) { *ok = 0; return 0; }
    return n;
}

/* Bytes the arena hands out for a table: each allocation is 4 bytes over its floats, aligned to 16. */
static size_t table_bytes(const buf_spec *t, int32_t n) {
    size_t total = 0;
    int ok = 1;
    for (int32_t i = 0; i < n && ok; i++) {
        const size_t f = spec_floats(&t[i], &ok);
        if (t[i].optional && f == 0) continue;
        ok = ok && sp_add_size(total, ((f * sizeof(float) + 4 + 15) & ~(size_t)15), &total);
    }
    return ok ? total : 0;
}

/* Slices the arena by a table; 0 when an allocation failed. */
static int table_alloc(const buf_spec *t, int32_t n, sp_arena *ar) {
    int ok = 1;
    for (int32_t i = 0; i < n && ok; i++) {
        const size_t f = spec_floats(&t[i], &ok);
        if (!ok || (t[i].optional && f == 0)) continue;
        *t[i].p = (float *)sp_arena_alloc(ar, f * sizeof(float) + 4);
        ok = *t[i].p != NULL;
    }
    return ok;
}

size_t sp_acts_bytes(const sp_config *c, int32_t B, int32_t T, int32_t n_past, int32_t n_slots, int32_t keep_att) {
    sp_acts a;
    buf_spec t[SP_ACTS_BUFS];
    return table_bytes(t, acts_table(t, &a, c, B, T, n_past, n_slots, keep_att));
}

size_t sp_grads_bytes(const sp_config *c, int32_t B, int32_t T, int32_t n_past) {
    sp_grads g;
    buf_spec t[SP_GRADS_BUFS];
    return table_bytes(t, grads_table(t, &g, c, B, T, n_past));
}

sp_status sp_acts_alloc(sp_acts *a, sp_arena *ar, const sp_config *c, int32_t B, int32_t T, int32_t n_past,
                        int32_t n_slots, int32_t keep_att, int32_t n_threads, sp_error *err) {
    memset(a, 0, sizeof(*a));
    a->B = B; a->T = T; a->S = n_past + T; a->n_slots = n_slots; a->keep_att = keep_att; a->n_threads = n_threads;
    a->x_slots = n_slots == 1 && !keep_att ? 2 : c->n_layers + 1;
    buf_spec t[SP_ACTS_BUFS];
    if (!table_alloc(t, acts_table(t, a, c, B, T, n_past, n_slots, keep_att), ar))
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory for activations (batch %d x %d rows, %zu bytes)", B, T,
                            sp_acts_bytes(c, B, T, n_past, n_slots, keep_att));
    a->xf = a->xn; /* the final norm's output outlives no layer: the LM head reads it before any other forward */
    return SP_OK;
}

sp_status sp_grads_alloc(sp_grads *g, sp_arena *ar, const sp_config *c, int32_t B, int32_t T, int32_t n_past, sp_error *err) {
    memset(g, 0, sizeof(*g));
    buf_spec t[SP_GRADS_BUFS];
    if (!table_alloc(t, grads_table(t, g, c, B, T, n_past), ar))
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory for gradients (%zu bytes)", sp_grads_bytes(c, B, T, n_past));
    return SP_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* pieces                                                                                         */

void sp_embed(const sp_model *m, float *x_out, const int32_t *ids, int32_t n) {
    const int32_t dim = m->cfg.dim;
    for (int32_t i = 0; i < n; i++) {
        float *x = x_out + (size_t)i * dim;
        m->eng->k->mat_row(x, &m->tok_embd, ids[i]);
        if (m->cfg.embd_scale > 0.0f)
            for (int32_t j = 0; j < dim; j++) x[j] *= m->cfg.embd_scale;
    }
}

/* The scaled frequency of pair i (HF modeling_rope_utils: linear divides every frequency by the
 * factor; llama3 keeps high frequencies, divides low ones, and blends the band between; a GGUF
 * file stores the llama3 result as divisors in rope_freqs.weight). */
static float rope_scale(const sp_model *m, int32_t i, float freq) {
    const sp_config *c = &m->cfg;
    if (m->rope_freqs) return freq / m->rope_freqs[i];
    if (c->rope_scaling == SP_ROPE_SCALE_LINEAR) return freq / c->rope_factor;
    if (c->rope_scaling == SP_ROPE_SCALE_LLAMA3) {
        const double pi = 3.14159265358979323846, wavelen = 2.0 * pi / freq;
        const double low_wavelen = c->rope_orig_ctx / c->rope_low_freq_factor, high_wavelen = c->rope_orig_ctx / c->rope_high_freq_factor;
        if (wavelen < high_wavelen) return freq;
        if (wavelen > low_wavelen) return (float)(freq / c->rope_factor);
        const double smooth = (c->rope_orig_ctx / wavelen - c->rope_low_freq_factor) / (c->rope_high_freq_factor - c->rope_low_freq_factor);
        return (float)((1.0 - smooth) * freq / c->rope_factor + smooth * freq);
    }
    return freq;
}

void sp_rope_table(const sp_model *m, int32_t local, float *tab, int32_t n, int32_t pos0) {
    const sp_config *c = &m->cfg;
    const int32_t hd = c->head_dim, half = hd / 2;
    const float theta = local ? c->rope_local_theta : c->rope_theta;
    for (int32_t r = 0; r < n; r++) {
        const float pos = (float)(pos0 + r);
        for (int32_t i = 0; i < half; i++) {
            /* freq_i = theta^(-2i/hd), computed as llama2.c does */
            float freq = 1.0f / powf(theta, (float)(2 * i) / (float)hd);
            if (!local) freq = rope_scale(m, i, freq);
            float val = pos * freq;
            tab[((size_t)r * half + i) * 2] = cosf(val);
            tab[((size_t)r * half + i) * 2 + 1] = sinf(val);
        }
    }
}

/* RoPE over the rows [r0, r1) of (B, T, ...) q and k: row r takes row r % T of the table */
typedef struct {
    const sp_config *c;
    const sp_kernels *ak;
    const float *tab;  /* (T, head_dim/2, 2) */
    float *q, *k;      /* (B, T, q_dim), (B, T, kv_dim) */
    int32_t T;
    float sign;
} rope_ctx;

static void rope_rows(void *vc, int32_t r0, int32_t r1) {
    const rope_ctx *r = (const rope_ctx *)vc;
    const sp_config *c = r->c;
    const int32_t adjacent = c->rope_style == SP_ROPE_ADJACENT;
    for (int32_t i = r0; i < r1;) {
        const int32_t t = i % r->T, cnt = r1 - i < r->T - t ? r1 - i : r->T - t; /* rows of one sequence */
        const float *tab = r->tab + (size_t)t * c->head_dim;
        r->ak->rope(r->q + (size_t)i * c->q_dim, tab, cnt, c->n_heads, c->head_dim, adjacent, r->sign);
        r->ak->rope(r->k + (size_t)i * c->kv_dim, tab, cnt, c->n_kv_heads, c->head_dim, adjacent, r->sign);
        i += cnt;
    }
}

void sp_rope_rows(const sp_model *m, const float *tab, float *q, float *k, int32_t B, int32_t T, int32_t sign) {
    const sp_config *c = &m->cfg;
    rope_ctx rc = {.c = c, .ak = m->eng->k, .tab = tab, .q = q, .k = k, .T = T, .sign = (float)sign};
    sp_par_rows(m->eng->pool, B * T, 3.0 * (c->q_dim + c->kv_dim), rope_rows, &rc);
}

const float *sp_acts_rope(const sp_model *m, sp_acts *a, int32_t l, int32_t T, int32_t pos0) {
    if (a->rope_local && m->layers[l].sliding) {
        if (a->rope_local_n != T || a->rope_local_pos0 != pos0) {
            sp_rope_table(m, 1, a->rope_local, T, pos0);
            a->rope_local_n = T;
            a->rope_local_pos0 = pos0;
        }
        return a->rope_local;
    }
    if (a->rope_n != T || a->rope_pos0 != pos0) {
        sp_rope_table(m, 0, a->rope, T, pos0);
        a->rope_n = T;
        a->rope_pos0 = pos0;
    }
    return a->rope;
}

/* ---- attention forward: units of (sequence b, head h, tile of 4 query rows) ---- */

typedef struct {
    const sp_config *c;
    const sp_kernels *ak;
    const float *q, *k, *v;  /* this layer's (B, T, q_dim / kv_dim), after RoPE */
    const float *pk, *pv;    /* this layer's past rows (n_past, kv_dim), or NULL */
    float *att;              /* this layer's (B, H, T, S) probabilities, or NULL */
    float *scratch;          /* (SP_ATTN_SLOTS, 4, S) when att is NULL */
    float *ao;               /* (B, T, q_dim) */
    int32_t B, T, n_past, n_tiles, n_units;
    float scale;             /* of the scores */
    int32_t window;          /* sliding window (key > query - window), 0: none */
} attn_ctx;

/* Rows t0 .. t0+nt-1 of sequence b, head h:
 *   p[t, s] = softmax_s(scale * q_t · k_s) over s <= n_past + t ; ao_t = sum_s p[t, s] v_s */
static void attn_forward_unit(const attn_ctx *c, int32_t unit, float *scratch) {
    const sp_config *cfg = c->c;
    const sp_kernels *ak = c->ak;
    const int32_t H = cfg->n_heads, hd = cfg->head_dim, kvd = cfg->kv_dim, qd = cfg->q_dim;
    const int32_t T = c->T, np = c->n_past, S = np + T;
    const int32_t tile = unit % c->n_tiles, bh = unit / c->n_tiles, b = bh / H, h = bh % H;
    const int32_t kvh = h / (H / cfg->n_kv_heads);
    const int32_t t0 = tile * 4, nt = T - t0 < 4 ? T - t0 : 4, n_keys = np + t0 + nt;
    const float scale = c->scale;
    const float *q = c->q + ((size_t)b * T + t0) * qd + (size_t)h * hd;
    const float *k = c->k + (size_t)b * T * kvd + (size_t)kvh * hd, *v = c->v + (size_t)b * T * kvd + (size_t)kvh * hd;
    float *p = c->att ? c->att + (((size_t)b * H + h) * T + t0) * S : scratch; /* (nt, S) */
    /* scores: the past rows, then this sequence's rows up to the tile's last row */
    if (np) ak->qk(p, S, q, qd, nt, c->pk + (size_t)kvh * hd, kvd, np, hd, scale);
    ak->qk(p + np, S, q, qd, nt, k, kvd, t0 + nt, hd, scale);
    for (int32_t i = 0; i < nt; i++) {
        float *pi = p + (size_t)i * S;
        const int32_t n = np + t0 + i + 1; /* causal: row t0+i sees keys 0 .. n-1 */
        const int32_t lo = c->window && n > c->window ? n - c->window : 0; /* and keys lo.. in a sliding window */
        if (lo) memset(pi, 0, sizeof(float) * (size_t)lo);
        const float mx = ak->max(pi + lo, n - lo);
        const double sum = ak->exp_sum(pi + lo, n - lo, mx);
        ak->scale(pi + lo, n - lo, (float)(1.0 / sum));
        const int32_t end = c->att ? S : n_keys; /* zeros past the causal limit (read by av) */
        if (end > n) memset(pi + n, 0, sizeof(float) * (size_t)(end - n));
    }
    float *out = c->ao + ((size_t)b * T + t0) * qd + (size_t)h * hd;
    for (int32_t i = 0; i < nt; i++) memset(out + (size_t)i * qd, 0, sizeof(float) * (size_t)hd);
    if (np) ak->av(out, qd, p, S, nt, c->pv + (size_t)kvh * hd, kvd, np, hd);
    ak->av(out, qd, p + np, S, nt, v, kvd, t0 + nt, hd);
}

/* Decoding (B = 1, T = 1): head after head, the K and V rows would each be read once per head,
 * hd floats at a time, kv_dim floats apart (a strided walk the hardware does not prefetch).
 * Here the heads of a task go through the past rows together, ATTN_DEC_ROWS rows at a time, so
 * each block of rows is read from memory once and then served from cache. The kernels and each
 * element's order of operations are those of attn_forward_unit (qk is per element; av adds its
 * terms to o in key order, block after block): the same bits. */
#define ATTN_DEC_ROWS 32

static void attn_decode_task(const attn_ctx *c, int32_t task, int32_t n_tasks) {
    const sp_config *cfg = c->c;
    const sp_kernels *ak = c->ak;
    const int32_t H = cfg->n_heads, hd = cfg->head_dim, kvd = cfg->kv_dim, group = H / cfg->n_kv_heads;
    const int32_t np = c->n_past, S = np + 1;
    const float scale = c->scale;
    for (int32_t j0 = 0; j0 < np; j0 += ATTN_DEC_ROWS) {
        const int32_t nj = np - j0 < ATTN_DEC_ROWS ? np - j0 : ATTN_DEC_ROWS;
        for (int32_t h = task; h < H; h += n_tasks)
            ak->qk(c->scratch + (size_t)h * S + j0, S, c->q + (size_t)h * hd, cfg->q_dim, 1,
                   c->pk + (size_t)j0 * kvd + (size_t)(h / group) * hd, kvd, nj, hd, scale);
    }
    for (int32_t h = task; h < H; h += n_tasks) {
        float *p = c->scratch + (size_t)h * S;
        ak->qk(p + np, S, c->q + (size_t)h * hd, cfg->q_dim, 1, c->k + (size_t)(h / group) * hd, kvd, 1, hd, scale);
        const float mx = ak->max(p, S);
        const double sum = ak->exp_sum(p, S, mx);
        ak->scale(p, S, (float)(1.0 / sum));
        memset(c->ao + (size_t)h * hd, 0, sizeof(float) * (size_t)hd);
    }
    for (int32_t j0 = 0; j0 < np; j0 += ATTN_DEC_ROWS) {
        const int32_t nj = np - j0 < ATTN_DEC_ROWS ? np - j0 : ATTN_DEC_ROWS;
        for (int32_t h = task; h < H; h += n_tasks)
            ak->av(c->ao + (size_t)h * hd, cfg->q_dim, c->scratch + (size_t)h * S + j0, S, 1,
                   c->pv + (size_t)j0 * kvd + (size_t)(h / group) * hd, kvd, nj, hd);
    }
    for (int32_t h = task; h < H; h += n_tasks)
        ak->av(c->ao + (size_t)h * hd, cfg->q_dim, c->scratch + (size_t)h * S + np, S, 1, c->v + (size_t)(h / group) * hd, kvd, 1, hd);
}

/* Task i of n runs units i, i+n, i+2n, ... (a mix of short and long causal rows each). */
static void attn_forward_task(void *vctx, int32_t task, int32_t n_tasks) {
    const attn_ctx *c = (const attn_ctx *)vctx;
    if (c->B == 1 && c->T == 1 && c->n_past > 0 && !c->att && c->c->n_heads <= SP_ATTN_SLOTS * 4 &&
        (!c->window || c->n_past < c->window)) {
        attn_decode_task(c, task, n_tasks); /* scratch: one S-long row per head */
        return;
    }
    float *scratch = c->scratch ? c->scratch + (size_t)task * 4 * (c->n_past + c->T) : NULL;
    for (int32_t u = task; u < c->n_units; u += n_tasks) attn_forward_unit(c, u, scratch);
}

/* Attention splits over the pool above this many multiply-adds. A pool run costs ~1-2 us
 * (measured); a decoded token of a small model (stories15M: 6 heads x 160 keys x 48) is
 * ~1e5 and reads its K/V rows from memory, so it is worth splitting too. */
#define ATTN_MIN_MACS (1 << 13)

static void attn_forward(const sp_model *m, sp_acts *a, const float *q, const float *k, const float *v, const sp_past *past,
                         int32_t l, float *att, float *ao, int32_t B, int32_t T) {
    const sp_config *c = &m->cfg;
    const int32_t np = past ? past->n_past : 0;
    attn_ctx ac = {c, m->eng->k, q, k, v,
                   np ? past->k + (size_t)l * past->layer_stride : NULL,
                   np ? past->v + (size_t)l * past->layer_stride : NULL,
                   att, att ? NULL : a->scores, ao, B, T, np, (T + 3) / 4, 0, sp_attn_scale(c),
                   m->layers[l].sliding ? c->sliding_window : 0};
    ac.n_units = B * c->n_heads * ac.n_tiles;
    /* multiply-adds: scores and weighted sum, over the average causal length */
    const double work = 2.0 * B * c->n_heads * (double)T * (np + (T + 1) / 2.0) * c->head_dim;
    int32_t n_tasks = ac.n_units < SP_ATTN_SLOTS ? ac.n_units : SP_ATTN_SLOTS;
    if (sp_pool_threads(m->eng->pool) <= 1 || work < ATTN_MIN_MACS) n_tasks = 1;
    sp_pool_run(n_tasks > 1 ? m->eng->pool : NULL, attn_forward_task, &ac, n_tasks);
}

/* ---- the products: x rounded once per input for the integer products (kernels.h) ---- */

/* y_i = x · W_iᵀ over n rows for the matrices of a group (q, k, v or gate, up): one pool run for
 * all of them, x rounded once into the acts' panel for the integer products (sp_matmul_group);
 * bitwise the same as one matrix at a time. decode (1, or 2 with streams): one row of
 * token-by-token generation, through the kernels' matvec_decode (on quantized weights it rounds
 * x to 16 bits per block for integer dot products: memory bound; kernels.h). Never used where
 * gradients are taken. */
static void matmul_group(const sp_model *m, sp_acts *a, const float *x, int32_t n, int32_t count, float *const *ys,
                         const sp_mat *const *ws, int decode) {
    sp_matmul_group(m->eng->pool, m->eng->k, ys, x, ws, count, n, decode, a->xpanel);
}

/* The same for one matrix */
static void mm(const sp_model *m, sp_acts *a, float *y, const float *x, const sp_mat *w, int32_t n, int decode) {
    matmul_group(m, a, x, n, 1, &y, &w, decode);
}

/* ---- row-wise steps ---- */

/* LayerNorm of n rows (GPT-2): out = (x - mean) * rstd * w + b; sums in double. out may be x. */
static void layernorm_rows_(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b, int32_t n,
                            int32_t dim, float eps) {
    for (int32_t r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * dim;
        float *o = out + (size_t)r * dim;
        double s = 0.0, ss = 0.0;
        for (int32_t j = 0; j < dim; j++) s += xr[j];
        const float mu = (float)(s / dim);
        for (int32_t j = 0; j < dim; j++) ss += (double)(xr[j] - mu) * (double)(xr[j] - mu);
        const float rs = (float)(1.0 / sqrt(ss / dim + (double)eps));
        if (mean) mean[r] = mu;
        if (rstd) rstd[r] = rs;
        for (int32_t j = 0; j < dim; j++) o[j] = (xr[j] - mu) * rs * w[j] + b[j];
    }
}

typedef struct {
    const sp_model *m;
    const float *x, *w, *b;  /* norm input rows, weight, LayerNorm bias */
    float *out, *rstd, *mean;
    const float *r;      /* residual added into x first (fused: xsum = x + r), or NULL */
    float *xsum;
    const float *g, *u;  /* gated activation inputs */
    int32_t cols;
} rows_ctx;

/* out = norm(x) over rows of cols (dim, or head_dim for q/k norms) */
static void norm_rows(const rows_ctx *c, const float *x, int32_t r0, int32_t r1) {
    const sp_config *cfg = &c->m->cfg;
    const size_t i0 = (size_t)r0 * c->cols;
    if (cfg->norm == SP_NORM_LAYER)
        layernorm_rows_(c->out + i0, c->mean ? c->mean + r0 : NULL, c->rstd ? c->rstd + r0 : NULL, x + i0, c->w, c->b, r1 - r0, c->cols,
                        cfg->norm_eps);
    else
        c->m->eng->k->rmsnorm(c->out + i0, c->rstd ? c->rstd + r0 : NULL, x + i0, c->w, r1 - r0, c->cols, cfg->norm_eps);
}

static void rmsnorm_rows(void *vc, int32_t r0, int32_t r1) {
    const rows_ctx *c = (const rows_ctx *)vc;
    norm_rows(c, c->x, r0, r1);
}

/* xsum = x + r ; out = norm(xsum) (or only the sum when w is NULL) */
static void residual_rows(void *vc, int32_t r0, int32_t r1) {
    const rows_ctx *c = (const rows_ctx *)vc;
    const size_t i0 = (size_t)r0 * c->cols, i1 = (size_t)r1 * c->cols;
    for (size_t i = i0; i < i1; i++) c->xsum[i] = c->x[i] + c->r[i];
    if (c->w) norm_rows(c, c->xsum, r0, r1);
}

/* out = act(g) * u (silu or gelu gate), or out = gelu(u) without a gate (g NULL) */
static void act_rows(void *vc, int32_t r0, int32_t r1) {
    const rows_ctx *c = (const rows_ctx *)vc;
    const size_t i0 = (size_t)r0 * c->cols, n = (size_t)(r1 - r0) * c->cols;
    const int32_t act = c->m->cfg.act;
    if (act == SP_ACT_SILU_GATE) c->m->eng->k->swiglu(c->out + i0, c->g + i0, c->u + i0, (int32_t)n);
    else if (act == SP_ACT_GELU_GATE) c->m->eng->k->geglu(c->out + i0, c->g + i0, c->u + i0, (int32_t)n);
    else c->m->eng->k->geglu(c->out + i0, c->u + i0, NULL, (int32_t)n);
}

/* y (rows, n) += bias (n) */
static void add_bias(float *y, const float *bias, size_t rows, int32_t n) {
    if (!bias) return;
    for (size_t r = 0; r < rows; r++)
        for (int32_t j = 0; j < n; j++) y[r * n + j] += bias[j];
}

/* Per-head RMSNorm of q and k (Qwen 3, Gemma 3): q = rmsnorm(qr) * q_norm per head of head_dim. */
static void qk_norm(const sp_model *m, const sp_layer *L, float *q, float *k, float *qr, float *kr, float *rstdq, float *rstdk, size_t rows) {
    const sp_config *c = &m->cfg;
    memcpy(qr, q, sizeof(float) * rows * c->q_dim);
    memcpy(kr, k, sizeof(float) * rows * c->kv_dim);
    rows_ctx rq = {.m = m, .x = qr, .w = L->q_norm, .out = q, .rstd = rstdq, .cols = c->head_dim};
    sp_par_rows(m->eng->pool, (int32_t)rows * c->n_heads, 4.0 * c->head_dim, rmsnorm_rows, &rq);
    rows_ctx rk = {.m = m, .x = kr, .w = L->k_norm, .out = k, .rstd = rstdk, .cols = c->head_dim};
    sp_par_rows(m->eng->pool, (int32_t)rows * c->n_kv_heads, 4.0 * c->head_dim, rmsnorm_rows, &rk);
}

void sp_layer_forward(const sp_model *m, sp_acts *a, int32_t l, int32_t B, int32_t T, const sp_past *past) {
    const sp_config *c = &m->cfg;
    const sp_layer *L = &m->layers[l];
    sp_pool *pool = m->eng->pool;
    const size_t rows = (size_t)B * T, s = (size_t)SLOT(a, l);
    const int32_t np = past ? past->n_past : 0, S = np + T;
    const int32_t dim = c->dim, hid = c->hidden_dim, R = (int32_t)rows;

    /* one row of generation (inference acts): the kernels' decoding product (2: with streams) */
    const int decode = rows == 1 && a->x_slots == 2 && !a->hb ? 1 + (a->decode_streams != 0) : 0;
    const float *x = a->x + (size_t)XSLOT(a, l) * rows * dim;
    float *xo = a->x + (size_t)XSLOT(a, l + 1) * rows * dim;
    float *rstd1 = a->rstd1 + s * rows, *rstd2 = a->rstd2 + s * rows;
    float *mean1 = a->mean1 ? a->mean1 + s * rows : NULL, *mean2 = a->mean2 ? a->mean2 + s * rows : NULL;
    float *q = a->q + s * rows * c->q_dim, *kk = a->k + s * rows * c->kv_dim, *v = a->v + s * rows * c->kv_dim;
    float *ao = a->ao + s * rows * c->q_dim, *xmid = a->xmid + s * rows * dim;
    float *gate = a->gate + s * rows * hid, *up = a->up + s * rows * hid;
    float *att = a->keep_att ? a->att + s * (size_t)B * c->n_heads * T * S : NULL;

    /* attention block */
    rows_ctx rc = {.m = m, .x = x, .w = L->attn_norm, .b = L->attn_norm_b, .out = a->xn, .rstd = rstd1, .mean = mean1, .cols = dim};
    sp_par_rows(pool, R, 4.0 * dim, rmsnorm_rows, &rc);
    {
        float *ys[3] = {q, kk, v};
        const sp_mat *ws[3] = {&L->wq, &L->wk, &L->wv};
        matmul_group(m, a, a->xn, R, 3, ys, ws, decode);
    }
    add_bias(q, L->bq, rows, c->q_dim);
    add_bias(kk, L->bk, rows, c->kv_dim);
    add_bias(v, L->bv, rows, c->kv_dim);
    if (L->q_norm) qk_norm(m, L, q, kk, a->qr + s * rows * c->q_dim, a->kr + s * rows * c->kv_dim, a->rstdq + s * rows * c->n_heads,
                           a->rstdk + s * rows * c->n_kv_heads, rows);
    if (!c->learned_pos) sp_rope_rows(m, sp_acts_rope(m, a, l, T, np), q, kk, B, T, +1);
    if (past && past->cache_k) { /* decoding: append this call's rows to the cache (B == 1) */
        memcpy(past->cache_k + (size_t)l * past->layer_stride + (size_t)np * c->kv_dim, kk, sizeof(float) * (size_t)T * c->kv_dim);
        memcpy(past->cache_v + (size_t)l * past->layer_stride + (size_t)np * c->kv_dim, v, sizeof(float) * (size_t)T * c->kv_dim);
    }
    attn_forward(m, a, q, kk, v, past, l, att, ao, B, T);
    mm(m, a, a->xn, ao, &L->wo, R, decode); /* xn reused as the block output */
    add_bias(a->xn, L->bo, rows, dim);
    if (L->post_attn_norm) { /* Gemma 3: the block output is normed before the residual */
        float *ao2 = a->ao2 + s * rows * dim;
        memcpy(ao2, a->xn, sizeof(float) * rows * dim);
        rows_ctx rp = {.m = m, .x = ao2, .w = L->post_attn_norm, .out = a->xn, .rstd = a->rstd3 + s * rows, .cols = dim};
        sp_par_rows(pool, R, 4.0 * dim, rmsnorm_rows, &rp);
    }

    /* feed-forward block: xmid = x + block output ; xn = norm(xmid) (row by row, so xn may be both) */
    rows_ctx r2 = {.m = m, .x = x, .w = L->ffn_norm, .b = L->ffn_norm_b, .out = a->xn, .rstd = rstd2, .mean = mean2, .r = a->xn, .xsum = xmid,
                   .cols = dim};
    sp_par_rows(pool, R, 5.0 * dim, residual_rows, &r2);
    if (c->act == SP_ACT_GELU) { /* no gate: up = xn·Wuᵀ + b */
        mm(m, a, up, a->xn, &L->w_up, R, decode);
    } else {
        float *ys[2] = {gate, up};
        const sp_mat *ws[2] = {&L->w_gate, &L->w_up};
        matmul_group(m, a, a->xn, R, 2, ys, ws, decode);
    }
    add_bias(up, L->b_up, rows, hid);
    float *hb = a->hb ? a->hb : gate; /* inference keeps no gate for a backward: in place */
    rows_ctx r3 = {.m = m, .out = hb, .g = gate, .u = up, .cols = hid};
    sp_par_rows(pool, R, 8.0 * hid, act_rows, &r3);
    mm(m, a, a->xn, hb, &L->w_down, R, decode);
    add_bias(a->xn, L->b_down, rows, dim);
    if (L->post_ffn_norm) {
        float *fo2 = a->fo2 + s * rows * dim;
        memcpy(fo2, a->xn, sizeof(float) * rows * dim);
        rows_ctx rp = {.m = m, .x = fo2, .w = L->post_ffn_norm, .out = a->xn, .rstd = a->rstd4 + s * rows, .cols = dim};
        sp_par_rows(pool, R, 4.0 * dim, rmsnorm_rows, &rp);
    }
    rows_ctx r4 = {.m = m, .x = xmid, .r = a->xn, .xsum = xo, .cols = dim};
    sp_par_rows(pool, R, 1.0 * dim, residual_rows, &r4);
}

void sp_forward(const sp_model *m, sp_acts *a, const float *x0, int32_t B, int32_t T, const sp_past *past) {
    const sp_config *c = &m->cfg;
    const size_t rows = (size_t)B * T;
    const int32_t np = past ? past->n_past : 0;
    if (x0 != a->x) memcpy(a->x, x0, sizeof(float) * rows * c->dim);
    if (c->learned_pos) /* GPT-2: row t sits at position n_past + t; virtual tokens included */
        for (size_t r = 0; r < rows; r++) {
            float *xr = a->x + r * c->dim;
            m->eng->k->mat_row(a->xn, &m->pos_embd, np + (int32_t)(r % (size_t)T));
            for (int32_t j = 0; j < c->dim; j++) xr[j] += a->xn[j];
        }
    else
        sp_acts_rope(m, a, 0, T, np);
    for (int32_t l = 0; l < c->n_layers; l++) sp_layer_forward(m, a, l, B, T, past);
    rows_ctx rc = {.m = m, .x = a->x + (size_t)XSLOT(a, c->n_layers) * rows * c->dim, .w = m->out_norm, .b = m->out_norm_b, .out = a->xf,
                   .rstd = a->rstdf, .mean = a->meanf, .cols = c->dim};
    sp_par_rows(m->eng->pool, (int32_t)rows, 4.0 * c->dim, rmsnorm_rows, &rc);
}

/* ---------------------------------------------------------------------------------------------- */
/* LM head                                                                                        */

int32_t sp_lm_head_chunk(const sp_config *c) {
    const int32_t V = c->vocab_size > 0 ? c->vocab_size : 1;
    const int32_t rows = (int32_t)(((int64_t)8 << 20) / V) & ~3; /* whole 4-row tiles of the products */
    return rows > 128 ? 128 : rows < 8 ? 8 : rows;
}

void sp_lm_head_row(const sp_model *m, const float *xf_row, float *logits, int32_t streams) {
    sp_matvec_decode(m->eng->pool, m->eng->k, logits, xf_row, &m->output, streams);
    const float cap = m->cfg.logit_softcap;
    if (cap > 0.0f)
        for (int32_t j = 0; j < m->cfg.vocab_size; j++) logits[j] = cap * tanhf(logits[j] / cap);
}

typedef struct {
    const sp_kernels *ak;
    float *logits;           /* (nc, V) in: logits; out: scale * d loss / d logits */
    const int32_t *targets;  /* (nc) */
    unsigned char *loss;     /* (nc) doubles (unaligned storage) */
    int32_t V, grad;
    float scale;
    float cap;               /* final logit soft-capping, 0: none */
} head_ctx;

/* The same with soft-capped logits c_j = cap * tanh(l_j / cap) (Gemma):
 * d loss / d l_j = (softmax_j(c) - [j == tgt]) * (1 - (c_j / cap)^2) */
static void head_rows_capped(const head_ctx *c, int32_t i) {
    float *lg = c->logits + (size_t)i * c->V;
    const int32_t tgt = c->targets[i];
    for (int32_t j = 0; j < c->V; j++) lg[j] = c->cap * tanhf(lg[j] / c->cap);
    const float mx = c->ak->max(lg, c->V);
    double sum = 0.0;
    for (int32_t j = 0; j < c->V; j++) sum += exp((double)(lg[j] - mx));
    const double loss = log(sum) + (double)mx - (double)lg[tgt];
    memcpy(c->loss + (size_t)i * sizeof(double), &loss, sizeof(double));
    if (!c->grad) return;
    for (int32_t j = 0; j < c->V; j++) {
        const float t = lg[j] / c->cap;
        const double p = exp((double)(lg[j] - mx)) / sum - (j == tgt ? 1.0 : 0.0);
        lg[j] = (float)(p * (1.0 - (double)t * t)) * c->scale;
    }
}

/* loss_i = log(sum_j exp(l_j - max)) + max - l_tgt ; d loss_i / d l_j = softmax_j - [j == tgt] */
static void head_rows(void *vc, int32_t r0, int32_t r1) {
    const head_ctx *c = (const head_ctx *)vc;
    for (int32_t i = r0; i < r1; i++) {
        if (c->cap > 0.0f) {
            head_rows_capped(c, i);
            continue;
        }
        float *lg = c->logits + (size_t)i * c->V;
        const int32_t tgt = c->targets[i];
        const float mx = c->ak->max(lg, c->V), lt = lg[tgt];
        const double sum = c->ak->exp_sum(lg, c->V, mx); /* lg = exp(l - max) */
        const double loss = log(sum) + (double)mx - (double)lt;
        memcpy(c->loss + (size_t)i * sizeof(double), &loss, sizeof(double));
        if (c->grad) {
            c->ak->scale(lg, c->V, (float)(1.0 / sum) * c->scale);
            lg[tgt] -= c->scale;
        }
    }
}

double sp_lm_head_loss(const sp_model *m, const float *xf, const int32_t *rows, const int32_t *targets, int32_t n,
                       float *dxf, float scale, float *scratch, int32_t chunk) {
    const int32_t V = m->cfg.vocab_size, dim = m->cfg.dim;
    float *logits = scratch;                          /* (chunk, V) */
    float *xg = scratch + (size_t)chunk * V;          /* (chunk, dim) gathered rows; then (chunk) losses */
    float *dxg = xg + (size_t)chunk * dim;            /* (chunk, dim) */
    double loss = 0.0;
    /* equal parts of whole 4-row tiles (the products' row tiles), <= chunk */
    const int32_t parts = (n + chunk - 1) / chunk, even = parts > 0 ? ((n + parts - 1) / parts + 3) & ~3 : chunk;
    const int32_t step = even < chunk ? even : chunk;
    for (int32_t i0 = 0; i0 < n; i0 += step) {
        const int32_t nc = n - i0 < step ? n - i0 : step;
        for (int32_t i = 0; i < nc; i++) memcpy(xg + (size_t)i * dim, xf + (size_t)rows[i0 + i] * dim, sizeof(float) * dim);
        sp_matmul(m->eng->pool, m->eng->k, logits, xg, &m->output, nc);
        /* xg is free now: it holds the per-row losses (dim >= 2 floats per row) */
        head_ctx hc = {.ak = m->eng->k, .logits = logits, .targets = targets + i0, .loss = (unsigned char *)xg, .V = V, .grad = dxf != NULL,
                       .scale = scale, .cap = m->cfg.logit_softcap};
        sp_par_rows(m->eng->pool, nc, 8.0 * V, head_rows, &hc);
        for (int32_t i = 0; i < nc; i++) { /* summed in row order: the same for any thread count */
            double li;
            memcpy(&li, hc.loss + (size_t)i * sizeof(double), sizeof(double));
            loss += li;
        }
        if (dxf) {
            memset(dxg, 0, sizeof(float) * (size_t)nc * dim);
            sp_matmul_dx(m->eng->pool, m->eng->k, dxg, logits, &m->output, nc);
            for (int32_t i = 0; i < nc; i++) {
                float *d = dxf + (size_t)rows[i0 + i] * dim;
                const float *s = dxg + (size_t)i * dim;
                for (int32_t j = 0; j < dim; j++) d[j] += s[j];
            }
        }
    }
    return loss;
}
