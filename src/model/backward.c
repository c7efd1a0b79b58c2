/* backward.c - reverse of forward.c with every weight frozen: gradients flow to the
 * activations only (the input embeddings, hence the soft prompt, and the past K/V rows,
 * hence the prefix). No weight gradient is computed and no memory is kept for one.
 * Each step quotes the forward line it inverts. Backward functions ACCUMULATE into d*.
 *
 * Threads: as in forward.c (matrix products, rows); attention over (sequence, key/value head)
 * units, each the only writer of its rows of dq, dk, dv and of its sequence's slice of the
 * past gradient (summed over sequences in a fixed order afterwards). Bitwise identical for
 * any thread count. */
#include "transformer.h"
#include "par.h"

#include <math.h>
#include <string.h>

#define SLOT(a, l) ((a)->n_slots == 1 ? 0 : (l))

/* Key rows per atv call in the causal part: rows before the block's first key are skipped. */
#define KEY_BLOCK 16

/* Attention backward, one unit per (sequence b, key/value head): its group of query heads. */
typedef struct {
    const sp_config *c;
    const sp_kernels *ak;
    const float *q, *k, *v;   /* this layer's (B, T, q_dim / kv_dim) */
    const float *pk, *pv;     /* past rows (n_past, kv_dim), or NULL */
    float *att;               /* (B, H, T, S): probabilities in, d(score) out */
    const float *dao;         /* (B, T, q_dim) */
    float *dq, *dk, *dv;      /* (B, T, q_dim / kv_dim), overwritten */
    float *dpk, *dpv;         /* (B, n_past, kv_dim) per-sequence past gradients, or NULL */
    float *datt;              /* (B * n_kv_heads, 4, S) scratch */
    int32_t B, T, n_past;
    float scale;              /* of the scores */
} attn_bwd_ctx;

static void attn_backward_task(void *vctx, int32_t unit, int32_t n_tasks) {
    const attn_bwd_ctx *c = (const attn_bwd_ctx *)vctx;
    const sp_config *cfg = c->c;
    const sp_kernels *ak = c->ak;
    const int32_t H = cfg->n_heads, hd = cfg->head_dim, kvd = cfg->kv_dim, qd = cfg->q_dim;
    const int32_t T = c->T, np = c->n_past, S = np + T, group = H / cfg->n_kv_heads;
    const int32_t b = unit / cfg->n_kv_heads, kvh = unit % cfg->n_kv_heads;
    const float scale = c->scale;
    float *dp = c->datt + (size_t)unit * 4 * S; /* (4, S) d loss / d p of 4 rows */
    const size_t kvo = (size_t)b * T * kvd + (size_t)kvh * hd;
    const float *k = c->k + kvo, *v = c->v + kvo;
    float *dk = c->dk + kvo, *dv = c->dv + kvo;
    const float *pk = np ? c->pk + (size_t)kvh * hd : NULL, *pv = np ? c->pv + (size_t)kvh * hd : NULL;
    float *dpk = c->dpk ? c->dpk + (size_t)b * np * kvd + (size_t)kvh * hd : NULL;
    float *dpv = c->dpv ? c->dpv + (size_t)b * np * kvd + (size_t)kvh * hd : NULL;
    for (int32_t t = 0; t < T; t++) { /* this unit's rows of dq, dk, dv start at zero */
        float *dqt = c->dq + ((size_t)b * T + t) * qd + (size_t)kvh * group * hd, *dkt = dk + (size_t)t * kvd, *dvt = dv + (size_t)t * kvd;
        for (int32_t e = 0; e < group * hd; e++) dqt[e] = 0.0f;
        for (int32_t e = 0; e < hd; e++) dkt[e] = dvt[e] = 0.0f;
    }
    for (int32_t h = kvh * group; h < (kvh + 1) * group; h++) {
        float *P = c->att + ((size_t)b * H + h) * T * S; /* (T, S), zero past each row's causal limit */
        const size_t qo = (size_t)b * T * qd + (size_t)h * hd;
        const float *q = c->q + qo, *dout = c->dao + qo;
        float *dq = c->dq + qo;
        /* forward: out_t = sum_s p[t,s] v_s  ->  dv_s += sum_t p[t,s] dout_t (row t sees own key j iff j <= t) */
        if (dpv) ak->atv(dpv, kvd, P, S, np, dout, qd, T, hd);
        for (int32_t j0 = 0; j0 < T; j0 += KEY_BLOCK) {
            const int32_t nz = T - j0 < KEY_BLOCK ? T - j0 : KEY_BLOCK;
            ak->atv(dv + (size_t)j0 * kvd, kvd, P + (size_t)j0 * S + np + j0, S, nz, dout + (size_t)j0 * qd, qd, T - j0, hd);
        }
        /* forward: p = softmax(score)  ->  dscore[s] = p[s] * (dp[s] - sum_j p[j] dp[j]), dp[s] = dout . v_s
         * (scale folded in: P now holds scale * dscore) */
        for (int32_t t0 = 0; t0 < T; t0 += 4) {
            const int32_t nt = T - t0 < 4 ? T - t0 : 4;
            if (np) ak->qk(dp, S, dout + (size_t)t0 * qd, qd, nt, pv, kvd, np, hd, 1.0f);
            ak->qk(dp + np, S, dout + (size_t)t0 * qd, qd, nt, v, kvd, t0 + nt, hd, 1.0f);
            for (int32_t i = 0; i < nt; i++) ak->softmax_backward(P + (size_t)(t0 + i) * S, dp + (size_t)i * S, np + t0 + i + 1, scale);
        }
        /* forward: score[t,s] = scale * q_t . k_s  ->  dq_t += sum_s dscore k_s ; dk_s += sum_t dscore q_t */
        for (int32_t t0 = 0; t0 < T; t0 += 4) {
            const int32_t nt = T - t0 < 4 ? T - t0 : 4;
            if (np) ak->av(dq + (size_t)t0 * qd, qd, P + (size_t)t0 * S, S, nt, pk, kvd, np, hd);
            ak->av(dq + (size_t)t0 * qd, qd, P + (size_t)t0 * S + np, S, nt, k, kvd, t0 + nt, hd);
        }
        if (dpk) ak->atv(dpk, kvd, P, S, np, q, qd, T, hd);
        for (int32_t j0 = 0; j0 < T; j0 += KEY_BLOCK) {
            const int32_t nz = T - j0 < KEY_BLOCK ? T - j0 : KEY_BLOCK;
            ak->atv(dk + (size_t)j0 * kvd, kvd, P + (size_t)j0 * S + np + j0, S, nz, q + (size_t)j0 * qd, qd, T - j0, hd);
        }
    }
    (void)n_tasks;
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
                       att, g->dao, g->dq, g->dk, g->dv, dpk, dpv, g->datt, B, T, np, sp_attn_scale(c)};
    const int32_t units = B * c->n_kv_heads;
    const double work = 4.0 * B * c->n_heads * (double)T * (np + (T + 1) / 2.0) * c->head_dim;
    sp_pool_run(units > 1 && work >= SP_PAR_MIN_MACS ? pool : NULL, attn_backward_task, &ac, units);
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
