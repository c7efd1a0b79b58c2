/* backward.c - reverse of forward.c with every weight frozen: gradients flow to the
 * activations only (the input embeddings, hence the soft prompt, and the past K/V rows,
 * hence the prefix). No weight gradient is computed and no memory is kept for one.
 * Each step quotes the forward line it inverts. Backward functions ACCUMULATE into d*. */
#include "transformer.h"

#include <math.h>
#include <string.h>

#define SLOT(a, l) ((a)->n_slots == 1 ? 0 : (l))

/* Attention backward, one task per key/value head (so GQA's shared K/V rows and the
 * batch-shared past rows are written by one task only: deterministic, no races). */
typedef struct {
    const sp_model *m;
    const float *q, *k, *v, *pk, *pv, *att, *dao;
    float *dq, *dk, *dv, *dpk, *dpv, *datt;
    int32_t B, T, n_past;
} attn_bwd_ctx;

static void attn_backward_task(void *vctx, int32_t kvh, int32_t n_tasks) {
    attn_bwd_ctx *c = (attn_bwd_ctx *)vctx;
    const sp_config *cfg = &c->m->cfg;
    const sp_kernels *k = c->m->eng->k;
    const int32_t H = cfg->n_heads, hd = cfg->head_dim, kvd = cfg->kv_dim, qd = cfg->q_dim;
    const int32_t T = c->T, np = c->n_past, S = np + T, group = H / cfg->n_kv_heads;
    const float scale = 1.0f / sqrtf((float)hd);
    float *dp = c->datt + (size_t)kvh * S; /* (S) d loss / d p */
    for (int32_t b = 0; b < c->B; b++) {
        for (int32_t h = kvh * group; h < (kvh + 1) * group; h++) {
            for (int32_t t = 0; t < T; t++) {
                const size_t row = (size_t)b * T + t;
                const float *p = c->att + (((size_t)b * H + h) * T + t) * S;
                const float *dout = c->dao + row * qd + (size_t)h * hd;
                const float *qrow = c->q + row * qd + (size_t)h * hd;
                float *dqrow = c->dq + row * qd + (size_t)h * hd;
                const int32_t n = np + t + 1;
                /* forward: out = sum_s p[s] * v[s]  ->  dp[s] = dout . v[s] ; dv[s] += p[s] * dout */
                float pdp = 0.0f;
                for (int32_t s = 0; s < n; s++) {
                    const float *vrow;
                    float *dvrow;
                    if (s < np) { vrow = c->pv + (size_t)s * kvd; dvrow = c->dpv ? c->dpv + (size_t)s * kvd : NULL; }
                    else { vrow = c->v + ((size_t)b * T + (s - np)) * kvd; dvrow = c->dv + ((size_t)b * T + (s - np)) * kvd; }
                    dp[s] = k->dot(dout, vrow + (size_t)kvh * hd, hd);
                    pdp += p[s] * dp[s];
                    if (dvrow) k->axpy(dvrow + (size_t)kvh * hd, p[s], dout, hd);
                }
                /* forward: p = softmax(score)  ->  dscore[s] = p[s] * (dp[s] - sum_j p[j] dp[j]) */
                /* forward: score[s] = scale * q . k[s]  ->  dq += scale*dscore[s]*k[s] ; dk[s] += scale*dscore[s]*q */
                for (int32_t s = 0; s < n; s++) {
                    const float ds = p[s] * (dp[s] - pdp) * scale;
                    if (ds == 0.0f) continue;
                    const float *krow;
                    float *dkrow;
                    if (s < np) { krow = c->pk + (size_t)s * kvd; dkrow = c->dpk ? c->dpk + (size_t)s * kvd : NULL; }
                    else { krow = c->k + ((size_t)b * T + (s - np)) * kvd; dkrow = c->dk + ((size_t)b * T + (s - np)) * kvd; }
                    k->axpy(dqrow, ds, krow + (size_t)kvh * hd, hd);
                    if (dkrow) k->axpy(dkrow + (size_t)kvh * hd, ds, qrow, hd);
                }
            }
        }
    }
    (void)n_tasks;
}

static float silu_grad(float g) {
    float sg = 1.0f / (1.0f + expf(-g));
    return sg * (1.0f + g * (1.0f - sg));
}

void sp_layer_backward(const sp_model *m, sp_acts *a, sp_grads *g, int32_t l, int32_t B, int32_t T,
                       const sp_past *past, float *dpast_k, float *dpast_v) {
    const sp_config *c = &m->cfg;
    const sp_layer *L = &m->layers[l];
    sp_pool *pool = m->eng->pool;
    const sp_kernels *k = m->eng->k;
    const size_t rows = (size_t)B * T, s = (size_t)SLOT(a, l);
    const int32_t np = past ? past->n_past : 0, S = np + T;
    const int32_t dim = c->dim, hid = c->hidden_dim;

    const float *x = a->x + (size_t)l * rows * dim;
    const float *rstd1 = a->rstd1 + s * rows, *rstd2 = a->rstd2 + s * rows;
    const float *q = a->q + s * rows * c->q_dim, *kk = a->k + s * rows * c->kv_dim, *v = a->v + s * rows * c->kv_dim;
    const float *xmid = a->xmid + s * rows * dim;
    const float *gate = a->gate + s * rows * hid, *up = a->up + s * rows * hid;
    const float *att = a->att + s * (size_t)B * c->n_heads * T * S;

    /* forward: x' = xmid + hb·Wdᵀ, hb = silu(gate)*up  ->  dh = dx'·Wd */
    memset(g->dh, 0, sizeof(float) * rows * hid);
    sp_matmul_dx(pool, k, g->dh, g->dx, &L->w_down, (int32_t)rows);
    for (size_t i = 0; i < rows * hid; i++) {
        g->dgate[i] = g->dh[i] * up[i] * silu_grad(gate[i]);
        g->dup[i] = g->dh[i] * sp_silu(gate[i]);
    }
    /* forward: gate = xn·Wgᵀ, up = xn·Wuᵀ  ->  dxn = dgate·Wg + dup·Wu */
    memset(g->dxn, 0, sizeof(float) * rows * dim);
    sp_matmul_dx(pool, k, g->dxn, g->dgate, &L->w_gate, (int32_t)rows);
    sp_matmul_dx(pool, k, g->dxn, g->dup, &L->w_up, (int32_t)rows);
    /* forward: xn = rmsnorm(xmid); the residual passes dx' through unchanged  ->  dx = d xmid */
    sp_rmsnorm_backward(g->dx, g->dxn, xmid, L->ffn_norm, rstd2, (int32_t)rows, dim);

    /* forward: xmid = x + ao·Woᵀ  ->  dao = dxmid·Wo */
    memset(g->dao, 0, sizeof(float) * rows * c->q_dim);
    sp_matmul_dx(pool, k, g->dao, g->dx, &L->wo, (int32_t)rows);
    /* forward: ao = softmax(q·kᵀ·scale)·v */
    memset(g->dq, 0, sizeof(float) * rows * c->q_dim);
    memset(g->dk, 0, sizeof(float) * rows * c->kv_dim);
    memset(g->dv, 0, sizeof(float) * rows * c->kv_dim);
    attn_bwd_ctx ac = {m, q, kk, v,
                       np ? past->k + (size_t)l * past->layer_stride : NULL,
                       np ? past->v + (size_t)l * past->layer_stride : NULL,
                       att, g->dao, g->dq, g->dk, g->dv,
                       np && dpast_k ? dpast_k + (size_t)l * past->layer_stride : NULL,
                       np && dpast_v ? dpast_v + (size_t)l * past->layer_stride : NULL,
                       g->datt, B, T, np};
    sp_pool_run(pool, attn_backward_task, &ac, c->n_kv_heads);
    /* forward: q, k = rope(q), rope(k)  ->  rotate the gradients back */
    for (int32_t b = 0; b < B; b++) {
        sp_rope(c, g->dq + (size_t)b * T * c->q_dim, T, c->n_heads, np, -1);
        sp_rope(c, g->dk + (size_t)b * T * c->kv_dim, T, c->n_kv_heads, np, -1);
    }
    /* forward: q,k,v = xn·Wqᵀ, xn·Wkᵀ, xn·Wvᵀ  ->  dxn = dq·Wq + dk·Wk + dv·Wv */
    memset(g->dxn, 0, sizeof(float) * rows * dim);
    sp_matmul_dx(pool, k, g->dxn, g->dq, &L->wq, (int32_t)rows);
    sp_matmul_dx(pool, k, g->dxn, g->dk, &L->wk, (int32_t)rows);
    sp_matmul_dx(pool, k, g->dxn, g->dv, &L->wv, (int32_t)rows);
    /* forward: xn = rmsnorm(x); residual  ->  dx += rmsnorm'(dxn) */
    sp_rmsnorm_backward(g->dx, g->dxn, x, L->attn_norm, rstd1, (int32_t)rows, dim);
}

void sp_backward(const sp_model *m, sp_acts *a, sp_grads *g, int32_t B, int32_t T, const sp_past *past,
                 float *dpast_k, float *dpast_v) {
    const sp_config *c = &m->cfg;
    const size_t rows = (size_t)B * T;
    /* forward: xf = rmsnorm(x_L)  ->  dx_L = rmsnorm'(dxf) */
    memcpy(g->dxn, g->dx, sizeof(float) * rows * c->dim);
    memset(g->dx, 0, sizeof(float) * rows * c->dim);
    sp_rmsnorm_backward(g->dx, g->dxn, a->x + (size_t)c->n_layers * rows * c->dim, m->out_norm, a->rstdf, (int32_t)rows, c->dim);
    for (int32_t l = c->n_layers - 1; l >= 0; l--) {
        /* recompute: the single slot holds the last layer after sp_forward; refill it for the others */
        if (a->n_slots == 1 && l != c->n_layers - 1) sp_layer_forward(m, a, l, B, T, past);
        sp_layer_backward(m, a, g, l, B, T, past, dpast_k, dpast_v);
    }
}
