/* forward.c - the Llama forward pass over B sequences of T rows (training, prefill, decoding).
 *
 *   x0 = embed(ids) (with virtual tokens prepended for prompt tuning)
 *   per layer:  xn = rmsnorm(x) ; q,k,v = xn·Wqᵀ, xn·Wkᵀ, xn·Wvᵀ ; rope(q), rope(k)
 *               ao = softmax(q·kᵀ/√hd over [past ; causal rows]) · v ; xmid = x + ao·Woᵀ
 *               xn = rmsnorm(xmid) ; x' = xmid + (silu(xn·Wgᵀ) * xn·Wuᵀ)·Wdᵀ
 *   xf = rmsnorm(x_L) ; logits = xf·Woutᵀ (only at the rows that need them)
 */
#include "transformer.h"

#include <math.h>
#include <string.h>

#define SLOT(a, l) ((a)->n_slots == 1 ? 0 : (l))

/* ---------------------------------------------------------------------------------------------- */
/* buffers                                                                                        */

static int acc(size_t *total, size_t a, size_t b, size_t c) {
    size_t x, y;
    if (!sp_mul_size(a, b, &x) || !sp_mul_size(x, c, &y) || !sp_mul_size(y, sizeof(float), &y)) return 0;
    y = (y + 15) & ~(size_t)15;
    return sp_add_size(*total, y, total);
}

size_t sp_acts_bytes(const sp_config *c, int32_t B, int32_t T, int32_t n_past, int32_t n_slots, int32_t keep_att, int32_t n_threads) {
    size_t rows = (size_t)B * (size_t)T, S = (size_t)n_past + (size_t)T, t = 0;
    size_t L = (size_t)n_slots;
    int ok = acc(&t, (size_t)c->n_layers + 1, rows, (size_t)c->dim) && acc(&t, L, rows, 1) && acc(&t, L, rows, (size_t)c->q_dim) &&
             acc(&t, L, rows, (size_t)c->kv_dim) && acc(&t, L, rows, (size_t)c->kv_dim) && acc(&t, L, rows, (size_t)c->q_dim) &&
             acc(&t, L, rows, (size_t)c->dim) && acc(&t, L, rows, 1) && acc(&t, L, rows, (size_t)c->hidden_dim) &&
             acc(&t, L, rows, (size_t)c->hidden_dim) && acc(&t, rows, 1, 1) && acc(&t, rows, (size_t)c->dim, 1) &&
             acc(&t, rows, (size_t)c->dim, 1) && acc(&t, rows, (size_t)c->hidden_dim, 1) &&
             acc(&t, (size_t)B * (size_t)c->n_heads, S, 1);
    if (ok && keep_att) ok = acc(&t, L * (size_t)B * (size_t)c->n_heads, (size_t)T, S);
    return ok ? t : 0;
}

size_t sp_grads_bytes(const sp_config *c, int32_t B, int32_t T, int32_t n_past) {
    size_t rows = (size_t)B * (size_t)T, S = (size_t)n_past + (size_t)T, t = 0;
    int ok = acc(&t, rows, (size_t)c->dim, 2) && acc(&t, rows, (size_t)c->q_dim, 2) && acc(&t, rows, (size_t)c->kv_dim, 2) &&
             acc(&t, rows, (size_t)c->hidden_dim, 3) && acc(&t, (size_t)c->n_kv_heads, S, 1);
    return ok ? t : 0;
}

static float *take(sp_arena *ar, size_t a, size_t b, size_t c, int *fail) {
    size_t n;
    if (!sp_mul_size(a, b, &n) || !sp_mul_size(n, c, &n) || n > SIZE_MAX / 4) { *fail = 1; return NULL; }
    float *p = (float *)sp_arena_alloc(ar, n * sizeof(float) + 4);
    if (!p) *fail = 1;
    return p;
}

sp_status sp_acts_alloc(sp_acts *a, sp_arena *ar, const sp_config *c, int32_t B, int32_t T, int32_t n_past,
                        int32_t n_slots, int32_t keep_att, int32_t n_threads, sp_error *err) {
    memset(a, 0, sizeof(*a));
    size_t rows = (size_t)B * (size_t)T, S = (size_t)n_past + (size_t)T, L = (size_t)n_slots;
    int fail = 0;
    a->B = B; a->T = T; a->S = (int32_t)S; a->n_slots = n_slots; a->keep_att = keep_att; a->n_threads = n_threads;
    a->x = take(ar, (size_t)c->n_layers + 1, rows, (size_t)c->dim, &fail);
    a->rstd1 = take(ar, L, rows, 1, &fail);
    a->q = take(ar, L, rows, (size_t)c->q_dim, &fail);
    a->k = take(ar, L, rows, (size_t)c->kv_dim, &fail);
    a->v = take(ar, L, rows, (size_t)c->kv_dim, &fail);
    a->ao = take(ar, L, rows, (size_t)c->q_dim, &fail);
    a->xmid = take(ar, L, rows, (size_t)c->dim, &fail);
    a->rstd2 = take(ar, L, rows, 1, &fail);
    a->gate = take(ar, L, rows, (size_t)c->hidden_dim, &fail);
    a->up = take(ar, L, rows, (size_t)c->hidden_dim, &fail);
    a->rstdf = take(ar, rows, 1, 1, &fail);
    a->xf = take(ar, rows, (size_t)c->dim, 1, &fail);
    a->xn = take(ar, rows, (size_t)c->dim, 1, &fail);
    a->hb = take(ar, rows, (size_t)c->hidden_dim, 1, &fail);
    a->scores = take(ar, (size_t)B * (size_t)c->n_heads, S, 1, &fail);
    if (keep_att) a->att = take(ar, L * (size_t)B * (size_t)c->n_heads, (size_t)T, S, &fail);
    if (fail)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory for activations (batch %d x %d rows, %zu bytes)", B, T,
                            sp_acts_bytes(c, B, T, n_past, n_slots, keep_att, n_threads));
    return SP_OK;
}

sp_status sp_grads_alloc(sp_grads *g, sp_arena *ar, const sp_config *c, int32_t B, int32_t T, int32_t n_past, sp_error *err) {
    memset(g, 0, sizeof(*g));
    size_t rows = (size_t)B * (size_t)T, S = (size_t)n_past + (size_t)T;
    int fail = 0;
    g->dx = take(ar, rows, (size_t)c->dim, 1, &fail);
    g->dxn = take(ar, rows, (size_t)c->dim, 1, &fail);
    g->dq = take(ar, rows, (size_t)c->q_dim, 1, &fail);
    g->dao = take(ar, rows, (size_t)c->q_dim, 1, &fail);
    g->dk = take(ar, rows, (size_t)c->kv_dim, 1, &fail);
    g->dv = take(ar, rows, (size_t)c->kv_dim, 1, &fail);
    g->dh = take(ar, rows, (size_t)c->hidden_dim, 1, &fail);
    g->dgate = take(ar, rows, (size_t)c->hidden_dim, 1, &fail);
    g->dup = take(ar, rows, (size_t)c->hidden_dim, 1, &fail);
    g->datt = take(ar, (size_t)c->n_kv_heads, S, 1, &fail);
    if (fail) return sp_error_set(err, SP_ERR_NOMEM, "out of memory for gradients (%zu bytes)", sp_grads_bytes(c, B, T, n_past));
    return SP_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* pieces                                                                                         */

void sp_embed(const sp_model *m, float *x_out, const int32_t *ids, int32_t n) {
    for (int32_t i = 0; i < n; i++) m->eng->k->mat_row(x_out + (size_t)i * m->cfg.dim, &m->tok_embd, ids[i]);
}

void sp_rope(const sp_config *c, float *x, int32_t n, int32_t n_heads, int32_t pos0, int32_t sign) {
    const int32_t hd = c->head_dim, half = hd / 2;
    for (int32_t r = 0; r < n; r++) {
        const float pos = (float)(pos0 + r);
        float *row = x + (size_t)r * n_heads * hd;
        for (int32_t i = 0; i < half; i++) {
            /* freq_i = theta^(-2i/hd), computed as llama2.c does */
            float freq = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)hd);
            float val = pos * freq;
            float fc = cosf(val), fs = sinf(val) * (float)sign;
            int32_t i0 = c->rope_style == SP_ROPE_ADJACENT ? 2 * i : i;
            int32_t i1 = c->rope_style == SP_ROPE_ADJACENT ? 2 * i + 1 : i + half;
            for (int32_t h = 0; h < n_heads; h++) {
                float *v = row + (size_t)h * hd;
                float a = v[i0], b = v[i1];
                v[i0] = a * fc - b * fs;
                v[i1] = a * fs + b * fc;
            }
        }
    }
}

/* Attention forward, one task per (sequence b, query head h). */
typedef struct {
    const sp_model *m;
    sp_acts *a;
    const float *q, *k, *v;  /* this layer's (B, T, *) */
    const float *pk, *pv;    /* this layer's past rows (n_past, kv_dim), or NULL */
    float *att;              /* this layer's (B, H, T, S) or NULL */
    float *ao;
    int32_t B, T, n_past;
} attn_ctx;

static void attn_forward_task(void *vctx, int32_t task, int32_t n_tasks) {
    attn_ctx *c = (attn_ctx *)vctx;
    const sp_config *cfg = &c->m->cfg;
    const sp_kernels *k = c->m->eng->k;
    const int32_t H = cfg->n_heads, hd = cfg->head_dim, kvd = cfg->kv_dim, qd = cfg->q_dim;
    const int32_t T = c->T, np = c->n_past, S = np + T;
    const int32_t b = task / H, h = task % H, kvh = h / (H / cfg->n_kv_heads);
    const float scale = 1.0f / sqrtf((float)hd);
    for (int32_t t = 0; t < T; t++) {
        const float *qrow = c->q + ((size_t)b * T + t) * qd + (size_t)h * hd;
        float *p = c->att ? c->att + (((size_t)b * H + h) * T + t) * S : c->a->scores + (size_t)task * S;
        const int32_t n = np + t + 1;
        float mx = -INFINITY;
        for (int32_t s = 0; s < n; s++) {
            const float *krow = s < np ? c->pk + (size_t)s * kvd : c->k + ((size_t)b * T + (s - np)) * kvd;
            float sc = k->dot(qrow, krow + (size_t)kvh * hd, hd) * scale;
            p[s] = sc;
            if (sc > mx) mx = sc;
        }
        float sum = 0.0f;
        for (int32_t s = 0; s < n; s++) {
            p[s] = expf(p[s] - mx);
            sum += p[s];
        }
        const float inv = 1.0f / sum;
        for (int32_t s = 0; s < n; s++) p[s] *= inv;
        if (c->att)
            for (int32_t s = n; s < S; s++) p[s] = 0.0f;
        float *out = c->ao + ((size_t)b * T + t) * qd + (size_t)h * hd;
        memset(out, 0, sizeof(float) * (size_t)hd);
        for (int32_t s = 0; s < n; s++) {
            const float *vrow = s < np ? c->pv + (size_t)s * kvd : c->v + ((size_t)b * T + (s - np)) * kvd;
            k->axpy(out, p[s], vrow + (size_t)kvh * hd, hd);
        }
    }
    (void)n_tasks;
}

void sp_layer_forward(const sp_model *m, sp_acts *a, int32_t l, int32_t B, int32_t T, const sp_past *past) {
    const sp_config *c = &m->cfg;
    const sp_layer *L = &m->layers[l];
    sp_pool *pool = m->eng->pool;
    const sp_kernels *k = m->eng->k;
    const size_t rows = (size_t)B * T, s = (size_t)SLOT(a, l);
    const int32_t np = past ? past->n_past : 0, S = np + T;
    const int32_t dim = c->dim, hid = c->hidden_dim;

    const float *x = a->x + (size_t)l * rows * dim;
    float *xo = a->x + (size_t)(l + 1) * rows * dim;
    float *rstd1 = a->rstd1 + s * rows, *rstd2 = a->rstd2 + s * rows;
    float *q = a->q + s * rows * c->q_dim, *kk = a->k + s * rows * c->kv_dim, *v = a->v + s * rows * c->kv_dim;
    float *ao = a->ao + s * rows * c->q_dim, *xmid = a->xmid + s * rows * dim;
    float *gate = a->gate + s * rows * hid, *up = a->up + s * rows * hid;
    float *att = a->keep_att ? a->att + s * (size_t)B * c->n_heads * T * S : NULL;

    /* attention block */
    sp_rmsnorm_forward(a->xn, rstd1, x, L->attn_norm, (int32_t)rows, dim, c->norm_eps);
    sp_matmul(pool, k, q, a->xn, &L->wq, (int32_t)rows);
    sp_matmul(pool, k, kk, a->xn, &L->wk, (int32_t)rows);
    sp_matmul(pool, k, v, a->xn, &L->wv, (int32_t)rows);
    for (int32_t b = 0; b < B; b++) {
        sp_rope(c, q + (size_t)b * T * c->q_dim, T, c->n_heads, np, +1);
        sp_rope(c, kk + (size_t)b * T * c->kv_dim, T, c->n_kv_heads, np, +1);
    }
    if (past && past->cache_k) { /* decoding: append this call's rows to the cache (B == 1) */
        memcpy(past->cache_k + (size_t)l * past->layer_stride + (size_t)np * c->kv_dim, kk, sizeof(float) * (size_t)T * c->kv_dim);
        memcpy(past->cache_v + (size_t)l * past->layer_stride + (size_t)np * c->kv_dim, v, sizeof(float) * (size_t)T * c->kv_dim);
    }
    attn_ctx ac = {m, a, q, kk, v,
                   np ? past->k + (size_t)l * past->layer_stride : NULL,
                   np ? past->v + (size_t)l * past->layer_stride : NULL,
                   att, ao, B, T, np};
    sp_pool_run(pool, attn_forward_task, &ac, B * c->n_heads);
    sp_matmul(pool, k, a->xn, ao, &L->wo, (int32_t)rows); /* xn reused as the block output */
    for (size_t i = 0; i < rows * dim; i++) xmid[i] = x[i] + a->xn[i];

    /* feed-forward block */
    sp_rmsnorm_forward(a->xn, rstd2, xmid, L->ffn_norm, (int32_t)rows, dim, c->norm_eps);
    sp_matmul(pool, k, gate, a->xn, &L->w_gate, (int32_t)rows);
    sp_matmul(pool, k, up, a->xn, &L->w_up, (int32_t)rows);
    for (size_t i = 0; i < rows * hid; i++) a->hb[i] = sp_silu(gate[i]) * up[i];
    sp_matmul(pool, k, a->xn, a->hb, &L->w_down, (int32_t)rows);
    for (size_t i = 0; i < rows * dim; i++) xo[i] = xmid[i] + a->xn[i];
}

void sp_forward(const sp_model *m, sp_acts *a, const float *x0, int32_t B, int32_t T, const sp_past *past) {
    const sp_config *c = &m->cfg;
    const size_t rows = (size_t)B * T;
    if (x0 != a->x) memcpy(a->x, x0, sizeof(float) * rows * c->dim);
    for (int32_t l = 0; l < c->n_layers; l++) sp_layer_forward(m, a, l, B, T, past);
    sp_rmsnorm_forward(a->xf, a->rstdf, a->x + (size_t)c->n_layers * rows * c->dim, m->out_norm, (int32_t)rows, c->dim, c->norm_eps);
}

/* ---------------------------------------------------------------------------------------------- */
/* LM head                                                                                        */

void sp_lm_head_row(const sp_model *m, const float *xf_row, float *logits) {
    sp_matmul(m->eng->pool, m->eng->k, logits, xf_row, &m->output, 1);
}

double sp_lm_head_loss(const sp_model *m, const float *xf, const int32_t *rows, const int32_t *targets, int32_t n,
                       float *dxf, float scale, float *scratch, int32_t chunk) {
    const int32_t V = m->cfg.vocab_size, dim = m->cfg.dim;
    float *logits = scratch;                          /* (chunk, V) */
    float *xg = scratch + (size_t)chunk * V;          /* (chunk, dim) gathered rows */
    float *dxg = xg + (size_t)chunk * dim;            /* (chunk, dim) */
    double loss = 0.0;
    for (int32_t i0 = 0; i0 < n; i0 += chunk) {
        const int32_t nc = n - i0 < chunk ? n - i0 : chunk;
        for (int32_t i = 0; i < nc; i++) memcpy(xg + (size_t)i * dim, xf + (size_t)rows[i0 + i] * dim, sizeof(float) * dim);
        sp_matmul(m->eng->pool, m->eng->k, logits, xg, &m->output, nc);
        for (int32_t i = 0; i < nc; i++) {
            float *lg = logits + (size_t)i * V;
            float mx = -INFINITY;
            for (int32_t j = 0; j < V; j++) mx = lg[j] > mx ? lg[j] : mx;
            double sum = 0.0;
            for (int32_t j = 0; j < V; j++) sum += exp((double)(lg[j] - mx));
            const int32_t tgt = targets[i0 + i];
            loss += log(sum) + (double)mx - (double)lg[tgt];
            if (dxf) { /* d loss / d logits = softmax - onehot */
                const float inv = (float)(1.0 / sum);
                for (int32_t j = 0; j < V; j++) lg[j] = expf(lg[j] - mx) * inv * scale;
                lg[tgt] -= scale;
            }
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
