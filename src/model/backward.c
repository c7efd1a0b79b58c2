/* backward.c - reverse of forward.c with every weight frozen: gradients flow to the
 * activations only (the input embeddings, hence the soft prompt, and the past K/V rows,
 * hence the prefix). No weight gradient is computed and no memory is kept for one.
 * Each step quotes the forward line it inverts. Backward functions ACCUMULATE into d*.
 *
 * Threads: as in forward.c (matrix products, rows); attention in three passes over units that
 * are each the only writer of their rows of dq, dk, dv or of their sequence's slice of the past
 * gradient (summed over sequences in a fixed order afterwards). Bitwise identical for any
 * thread count. */
#include "transformer.h"
#include "par.h"

#include <math.h>
#include <string.h>

#define SLOT(a, l) ((a)->n_slots == 1 ? 0 : (l))

/* Key rows per atv call in the causal part, and per unit of the dv / dk passes. */
#define KEY_BLOCK 16

/* Attention backward in three passes over the pool, each split into units that are the only
 * writers of their output rows (a model with one or two key/value heads still has work for
 * every thread at batch 1):
 *   DV  units (sequence, kv head, key block; the past's rows first): dv_s += sum_t p[t,s] dout_t
 *       over the group's query heads, head after head
 *   DQ  units (sequence, head, 4-row query tile): dp = dout·v, P <- scale * d(score), then
 *       dq_t += sum_s dscore[t,s] k_s
 *   DK  units as DV: dk_s += sum_t dscore[t,s] q_t
 * Each element gets the same kernel calls in the same order whatever the split. */
typedef enum { ATT_DV, ATT_DQ, ATT_DK } att_pass;

typedef struct {
    const sp_config *c;
    const sp_kernels *ak;
    const float *q, *k, *v;   /* this layer's (B, T, q_dim / kv_dim) */
    const float *pk, *pv;     /* past rows (n_past, kv_dim), or NULL */
    float *att;               /* (B, H, T, S): probabilities in, d(score) out (after the DQ pass) */
    const float *dao;         /* (B, T, q_dim) */
    float *dq, *dk, *dv;      /* (B, T, q_dim / kv_dim), overwritten */
    float *dpk, *dpv;         /* (B, n_past, kv_dim) per-sequence past gradients, or NULL */
    float *datt;              /* (SP_ATTN_SLOTS, 4, S) scratch of the DQ pass */
    int32_t B, T, n_past;
    int32_t kv_units;         /* units of a DV / DK pass per (sequence, kv head): the key blocks (+1 with a past) */
    int32_t n_units;          /* of the current pass */
    att_pass pass;
    float scale;              /* of the scores */
} attn_bwd_ctx;

/* DV / DK unit: key block j (or the past rows, j == -1) of sequence b, kv head kvh */
static void attn_bwd_keys(const attn_bwd_ctx *c, int32_t unit) {
    const sp_config *cfg = c->c;
    const sp_kernels *ak = c->ak;
    const int32_t H = cfg->n_heads, hd = cfg->head_dim, kvd = cfg->kv_dim, qd = cfg->q_dim;
    const int32_t T = c->T, np = c->n_past, S = np + T, group = H / cfg->n_kv_heads;
    const int32_t bk = unit / c->kv_units, b = bk / cfg->n_kv_heads, kvh = bk % cfg->n_kv_heads;
    const int32_t j = unit % c->kv_units - (np ? 1 : 0);
    const int dv = c->pass == ATT_DV;
    const size_t kvo = (size_t)b * T * kvd + (size_t)kvh * hd;
    float *past = dv ? c->dpv : c->dpk;
    float *z = j < 0 ? (past ? past + (size_t)b * np * kvd + (size_t)kvh * hd : NULL) : (dv ? c->dv : c->dk) + kvo + (size_t)j * KEY_BLOCK * kvd;
    if (!z) return;
    const int32_t j0 = j * KEY_BLOCK, nz = j < 0 ? np : (T - j0 < KEY_BLOCK ? T - j0 : KEY_BLOCK);
    if (j >= 0)
        for (int32_t t = 0; t < nz; t++) memset(z + (size_t)t * kvd, 0, sizeof(float) * (size_t)hd);
    for (int32_t h = kvh * group; h < (kvh + 1) * group; h++) {
        const float *P = c->att + ((size_t)b * H + h) * T * S; /* (T, S), zero past each row's causal limit */
        const size_t qo = (size_t)b * T * qd + (size_t)h * hd;
        const float *y = dv ? c->dao + qo : c->q + qo; /* dout (dv) or q (dk) rows */
        /* forward: out_t = sum_s p[t,s] v_s  ->  dv_s += sum_t p[t,s] dout_t (row t sees own key j iff j <= t);
         * forward: score[t,s] = scale * q_t . k_s  ->  dk_s += sum_t dscore q_t */
        if (j < 0) ak->atv(z, kvd, P, S, np, y, qd, T, hd);
        else ak->atv(z, kvd, P + (size_t)j0 * S + np + j0, S, nz, y + (size_t)j0 * qd, qd, T - j0, hd);
    }
}

/* DQ unit: rows t0 .. t0+3 of sequence b, head h; dp is (4, S) scratch */
static void attn_bwd_queries(const attn_bwd_ctx *c, int32_t unit, float *dp) {
    const sp_config *cfg = c->c;
    const sp_kernels *ak = c->ak;
    const int32_t H = cfg->n_heads, hd = cfg->head_dim, kvd = cfg->kv_dim, qd = cfg->q_dim;
    const int32_t T = c->T, np = c->n_past, S = np + T, group = H / cfg->n_kv_heads, n_tiles = (T + 3) / 4;
    const int32_t bh = unit / n_tiles, b = bh / H, h = bh % H, kvh = h / group, t0 = unit % n_tiles * 4, nt = T - t0 < 4 ? T - t0 : 4;
    const size_t kvo = (size_t)b * T * kvd + (size_t)kvh * hd, qo = ((size_t)b * T + t0) * qd + (size_t)h * hd;
    float *P = c->att + (((size_t)b * H + h) * T + t0) * S;
    const float *dout = c->dao + qo;
    float *dq = c->dq + qo;
    /* forward: p = softmax(score)  ->  dscore[s] = p[s] * (dp[s] - sum_j p[j] dp[j]), dp[s] = dout . v_s
     * (scale folded in: P now holds scale * dscore) */
    if (np) ak->qk(dp, S, dout, qd, nt, c->pv + (size_t)kvh * hd, kvd, np, hd, 1.0f);
    ak->qk(dp + np, S, dout, qd, nt, c->v + kvo, kvd, t0 + nt, hd, 1.0f);
    for (int32_t i = 0; i < nt; i++) ak->softmax_backward(P + (size_t)i * S, dp + (size_t)i * S, np + t0 + i + 1, c->scale);
    /* forward: score[t,s] = scale * q_t . k_s  ->  dq_t = sum_s dscore k_s */
    for (int32_t i = 0; i < nt; i++) memset(dq + (size_t)i * qd, 0, sizeof(float) * (size_t)hd);
    if (np) ak->av(dq, qd, P, S, nt, c->pk + (size_t)kvh * hd, kvd, np, hd);
    ak->av(dq, qd, P + np, S, nt, c->k + kvo, kvd, t0 + nt, hd);
}

/* Task i of n runs units i, i+n, i+2n, ... of the current pass (the DQ pass: with scratch slot i). */
static void attn_backward_task(void *vctx, int32_t task, int32_t n_tasks) {
    const attn_bwd_ctx *c = (const attn_bwd_ctx *)vctx;
    for (int32_t u = task; u < c->n_units; u += n_tasks) {
        if (c->pass == ATT_DQ) attn_bwd_queries(c, u, c->datt + (size_t)task * 4 * (c->n_past + c->T));
        else attn_bwd_keys(c, u);
    }
}

/* One pass over the pool: a task per unit (DV, DK: units differ in size; the pool hands them
 * out as threads come free) or one per scratch slot (DQ) */
static void attn_backward_pass(sp_pool *pool, attn_bwd_ctx *ac, att_pass pass, double work) {
    const sp_config *c = ac->c;
    ac->pass = pass;
    ac->n_units = pass == ATT_DQ ? ac->B * c->n_heads * ((ac->T + 3) / 4) : ac->B * c->n_kv_heads * ac->kv_units;
    int32_t n_tasks = pass == ATT_DQ && ac->n_units > SP_ATTN_SLOTS ? SP_ATTN_SLOTS : ac->n_units;
    if (sp_pool_threads(pool) <= 1 || work < SP_PAR_MIN_MACS) n_tasks = 1;
    sp_pool_run(n_tasks > 1 ? pool : NULL, attn_backward_task, ac, n_tasks);
}

/* ---- row-wise steps ---- */

typedef struct {
    const sp_model *m;
    float *dx;                   /* norm backward: accumulated (rows, cols) */
    const float *dout, *x, *w, *rstd, *mean;
    float *dg, *du;              /* gated activation backward (du may be dh) */
    const float *dh, *g, *u;
    float *zero;                 /* buffers to clear: zero[i] (rows, zcols[i]) */
    float *zero2;
    int32_t zcols, zcols2, cols;
    int32_t layer;               /* LayerNorm (mean given), else RMSNorm */
} brows_ctx;

/* forward: out = (x - mean) * rstd * w + b  ->  with xh = (x - mean) * rstd, gw = dout * w:
 * dx += rstd * (gw - mean(gw) - xh * mean(gw * xh)) */
static void layernorm_backward_(float *dx, const float *dout, const float *x, const float *w, const float *mean, const float *rstd,
                                int32_t n, int32_t dim) {
    for (int32_t r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * dim, *d = dout + (size_t)r * dim;
        float *o = dx + (size_t)r * dim;
        double sg = 0.0, sgx = 0.0;
        for (int32_t j = 0; j < dim; j++) {
            const double xh = (double)(xr[j] - mean[r]) * rstd[r], gw = (double)d[j] * w[j];
            sg += gw;
            sgx += gw * xh;
        }
        sg /= dim;
        sgx /= dim;
        for (int32_t j = 0; j < dim; j++) {
            const double xh = (double)(xr[j] - mean[r]) * rstd[r], gw = (double)d[j] * w[j];
            o[j] += (float)(rstd[r] * (gw - sg - xh * sgx));
        }
    }
}

static void rmsnorm_back_rows(void *vc, int32_t r0, int32_t r1) {
    const brows_ctx *c = (const brows_ctx *)vc;
    const int32_t cols = c->cols;
    const size_t o = (size_t)r0 * cols;
    if (c->mean) layernorm_backward_(c->dx + o, c->dout + o, c->x + o, c->w, c->mean + r0, c->rstd + r0, r1 - r0, cols);
    else c->m->eng->k->rmsnorm_backward(c->dx + o, c->dout + o, c->x + o, c->w, c->rstd + r0, r1 - r0, cols);
    if (c->zero) memset(c->zero + (size_t)r0 * c->zcols, 0, sizeof(float) * (size_t)(r1 - r0) * c->zcols);
    if (c->zero2) memset(c->zero2 + (size_t)r0 * c->zcols2, 0, sizeof(float) * (size_t)(r1 - r0) * c->zcols2);
}

static void act_back_rows(void *vc, int32_t r0, int32_t r1) {
    const brows_ctx *c = (const brows_ctx *)vc;
    const size_t o = (size_t)r0 * c->cols, n = (size_t)(r1 - r0) * c->cols;
    const int32_t act = c->m->cfg.act;
    const sp_kernels *k = c->m->eng->k;
    if (act == SP_ACT_SILU_GATE) k->swiglu_backward(c->dg + o, c->du + o, c->dh + o, c->g + o, c->u + o, (int32_t)n);
    else if (act == SP_ACT_GELU_GATE) k->geglu_backward(c->dg + o, c->du + o, c->dh + o, c->g + o, c->u + o, (int32_t)n); /* h = gelu(g) * u */
    else k->geglu_backward(c->du + o, NULL, c->dh + o, c->u + o, NULL, (int32_t)n);                                   /* h = gelu(u) */
    if (c->zero) memset(c->zero + (size_t)r0 * c->zcols, 0, sizeof(float) * (size_t)(r1 - r0) * c->zcols);
}

static void zero_rows(void *vc, int32_t r0, int32_t r1) {
    const brows_ctx *c = (const brows_ctx *)vc;
    if (c->zero) memset(c->zero + (size_t)r0 * c->zcols, 0, sizeof(float) * (size_t)(r1 - r0) * c->zcols);
    if (c->zero2) memset(c->zero2 + (size_t)r0 * c->zcols2, 0, sizeof(float) * (size_t)(r1 - r0) * c->zcols2);
}

/* Through a post-norm (Gemma 3): forward out = rmsnorm(y) * w  ->  dy = rmsnorm'(dout) into a
 * cleared buffer. */
static void post_norm_back(const sp_model *m, float *dy, const float *dout, const float *y, const float *w, const float *rstd, int32_t R) {
    memset(dy, 0, sizeof(float) * (size_t)R * m->cfg.dim);
    brows_ctx n = {.m = m, .dx = dy, .dout = dout, .x = y, .w = w, .rstd = rstd, .cols = m->cfg.dim};
    sp_par_rows(m->eng->pool, R, 4.0 * m->cfg.dim, rmsnorm_back_rows, &n);
}

void sp_layer_backward(const sp_model *m, sp_acts *a, sp_grads *g, int32_t l, int32_t B, int32_t T,
                       const sp_past *past, float *dpast_k, float *dpast_v) {
    const sp_config *c = &m->cfg;
    const sp_layer *L = &m->layers[l];
    sp_pool *pool = m->eng->pool;
    const sp_kernels *k = m->eng->k;
    const size_t rows = (size_t)B * T, s = (size_t)SLOT(a, l);
    const int32_t np = past ? past->n_past : 0, S = np + T;
    const int32_t dim = c->dim, hid = c->hidden_dim, qd = c->q_dim, kvd = c->kv_dim;
    const int32_t R = (int32_t)rows;

    const float *x = a->x + (size_t)l * rows * dim;
    const float *rstd1 = a->rstd1 + s * rows, *rstd2 = a->rstd2 + s * rows;
    const float *mean1 = a->mean1 ? a->mean1 + s * rows : NULL, *mean2 = a->mean2 ? a->mean2 + s * rows : NULL;
    const float *q = a->q + s * rows * qd, *kk = a->k + s * rows * kvd, *v = a->v + s * rows * kvd;
    const float *xmid = a->xmid + s * rows * dim;
    const float *gate = a->gate + s * rows * hid, *up = a->up + s * rows * hid;
    float *att = a->att + s * (size_t)B * c->n_heads * T * S;

    /* forward: x' = xmid + [post_ffn_norm](hb·Wdᵀ + b)  ->  d(hb·Wdᵀ) = dx' (through the post-norm) */
    const float *dffn = g->dx;
    if (L->post_ffn_norm) {
        post_norm_back(m, g->dxn, g->dx, a->fo2 + s * rows * dim, L->post_ffn_norm, a->rstd4 + s * rows, R);
        dffn = g->dxn;
    }
    /* ->  dh = d(hb·Wdᵀ)·Wd. dh and then dup live in the acts' hb: the forward's scratch, free
     * once the layer's forward is done (a recomputed layer is differentiated right after it), and
     * read element by element before dup overwrites it (kernels.h allows du == dh). Large
     * vocabularies' training heap is tight: this saves two (B, T, hidden) buffers. */
    float *dh = a->hb, *dup = a->hb;
    brows_ctx z1 = {.m = m, .zero = dh, .zcols = hid};
    sp_par_rows(pool, R, (double)hid, zero_rows, &z1);
    sp_matmul_dx(pool, k, dh, dffn, &L->w_down, R);
    /* forward: hb = act(gate) * up (or gelu(up))  ->  dgate, dup (then clear dxn for the products) */
    brows_ctx sw = {.m = m, .dg = g->dgate, .du = dup, .dh = dh, .g = gate, .u = up, .cols = hid, .zero = g->dxn, .zcols = dim};
    sp_par_rows(pool, R, 10.0 * hid + dim, act_back_rows, &sw);
    /* forward: gate = xn·Wgᵀ, up = xn·Wuᵀ  ->  dxn = dgate·Wg + dup·Wu */
    if (c->act != SP_ACT_GELU) sp_matmul_dx(pool, k, g->dxn, g->dgate, &L->w_gate, R);
    sp_matmul_dx(pool, k, g->dxn, dup, &L->w_up, R);
    /* forward: xn = norm(xmid); the residual passes dx' through unchanged  ->  dx = d xmid
     * (then clear dao and, its rows read, dxn for the next products) */
    brows_ctx n2 = {.m = m, .dx = g->dx, .dout = g->dxn, .x = xmid, .w = L->ffn_norm, .rstd = rstd2, .mean = mean2, .zero = g->dao, .zcols = qd,
                    .zero2 = g->dxn, .zcols2 = dim, .cols = dim};
    sp_par_rows(pool, R, 4.0 * dim + qd, rmsnorm_back_rows, &n2);

    /* forward: xmid = x + [post_attn_norm](ao·Woᵀ + b)  ->  dao = d(ao·Woᵀ)·Wo */
    const float *dattn = g->dx;
    if (L->post_attn_norm) {
        post_norm_back(m, g->dxn, g->dx, a->ao2 + s * rows * dim, L->post_attn_norm, a->rstd3 + s * rows, R);
        dattn = g->dxn;
    }
    sp_matmul_dx(pool, k, g->dao, dattn, &L->wo, R);
    if (L->post_attn_norm) memset(g->dxn, 0, sizeof(float) * rows * dim);
    /* forward: ao = softmax(q·kᵀ·scale)·v */
    float *dpk = NULL, *dpv = NULL; /* per-sequence slices, summed into dpast below */
    if (np && (dpast_k || dpast_v)) {
        memset(g->dpast, 0, sizeof(float) * 2 * (size_t)B * np * kvd);
        if (dpast_k) dpk = g->dpast;
        if (dpast_v) dpv = g->dpast + (size_t)B * np * kvd;
    }
    attn_bwd_ctx ac = {c, k, q, kk, v,
                       np ? past->k + (size_t)l * past->layer_stride : NULL,
                       np ? past->v + (size_t)l * past->layer_stride : NULL,
                       att, g->dao, g->dq, g->dk, g->dv, dpk, dpv, g->datt, B, T, np, (T + KEY_BLOCK - 1) / KEY_BLOCK + (np ? 1 : 0), 0,
                       ATT_DV, sp_attn_scale(c)};
    /* multiply-adds of a pass: a quarter of the scores' and weighted sums' backward */
    const double work = B * c->n_heads * (double)T * (np + (T + 1) / 2.0) * c->head_dim;
    attn_backward_pass(pool, &ac, ATT_DV, work);
    attn_backward_pass(pool, &ac, ATT_DQ, 2.0 * work);
    attn_backward_pass(pool, &ac, ATT_DK, work);
    for (int32_t which = 0; which < 2; which++) { /* d past += sum over sequences, in b order */
        float *src = which ? dpv : dpk, *dst = which ? dpast_v : dpast_k;
        if (!src) continue;
        dst += (size_t)l * past->layer_stride;
        for (int32_t b = 0; b < B; b++) {
            const float *sb = src + (size_t)b * np * kvd;
            for (size_t i = 0; i < (size_t)np * kvd; i++) dst[i] += sb[i];
        }
    }
    /* forward: q, k = rope(q), rope(k)  ->  rotate the gradients back (positions np .. np+T-1) */
    if (!c->learned_pos) sp_rope_rows(m, sp_acts_rope(m, a, l, T, np), g->dq, g->dk, B, T, -1);
    float *dq = g->dq, *dk = g->dk;
    if (L->q_norm) { /* forward: q = rmsnorm(qr) * q_norm per head (k alike)  ->  d qr, d kr */
        memset(g->dqr, 0, sizeof(float) * rows * qd);
        memset(g->dkr, 0, sizeof(float) * rows * kvd);
        brows_ctx nq = {.m = m, .dx = g->dqr, .dout = g->dq, .x = a->qr + s * rows * qd, .w = L->q_norm, .rstd = a->rstdq + s * rows * c->n_heads,
                        .cols = c->head_dim};
        sp_par_rows(pool, R * c->n_heads, 4.0 * c->head_dim, rmsnorm_back_rows, &nq);
        brows_ctx nk = {.m = m, .dx = g->dkr, .dout = g->dk, .x = a->kr + s * rows * kvd, .w = L->k_norm, .rstd = a->rstdk + s * rows * c->n_kv_heads,
                        .cols = c->head_dim};
        sp_par_rows(pool, R * c->n_kv_heads, 4.0 * c->head_dim, rmsnorm_back_rows, &nk);
        dq = g->dqr;
        dk = g->dkr;
    }
    /* forward: q,k,v = xn·Wqᵀ + bq, xn·Wkᵀ + bk, xn·Wvᵀ + bv  ->  dxn = dq·Wq + dk·Wk + dv·Wv */
    sp_matmul_dx(pool, k, g->dxn, dq, &L->wq, R);
    sp_matmul_dx(pool, k, g->dxn, dk, &L->wk, R);
    sp_matmul_dx(pool, k, g->dxn, g->dv, &L->wv, R);
    /* forward: xn = norm(x); residual  ->  dx += norm'(dxn) */
    brows_ctx n1 = {.m = m, .dx = g->dx, .dout = g->dxn, .x = x, .w = L->attn_norm, .rstd = rstd1, .mean = mean1, .cols = dim};
    sp_par_rows(pool, R, 4.0 * dim, rmsnorm_back_rows, &n1);
}

void sp_backward(const sp_model *m, sp_acts *a, sp_grads *g, int32_t B, int32_t T, const sp_past *past,
                 float *dpast_k, float *dpast_v) {
    const sp_config *c = &m->cfg;
    const size_t rows = (size_t)B * T;
    /* forward: xf = norm(x_L)  ->  dx_L = norm'(dxf) */
    memcpy(g->dxn, g->dx, sizeof(float) * rows * c->dim);
    memset(g->dx, 0, sizeof(float) * rows * c->dim);
    brows_ctx nf = {.m = m, .dx = g->dx, .dout = g->dxn, .x = a->x + (size_t)c->n_layers * rows * c->dim, .w = m->out_norm, .rstd = a->rstdf,
                    .mean = a->meanf, .cols = c->dim};
    sp_par_rows(m->eng->pool, (int32_t)rows, 4.0 * c->dim, rmsnorm_back_rows, &nf);
    for (int32_t l = c->n_layers - 1; l >= 0; l--) {
        /* recompute: the single slot holds the last layer after sp_forward; refill it for the others */
        if (a->n_slots == 1 && l != c->n_layers - 1) sp_layer_forward(m, a, l, B, T, past);
        sp_layer_backward(m, a, g, l, B, T, past, dpast_k, dpast_v);
    }
}
