/* test_grad.c - gradient checks of the backward pass against central finite differences.
 *
 * Tiny random Llama models (GQA, both RoPE styles, F32 and Q8_0 weights). The loss is the mean
 * cross-entropy over target rows, accumulated in double; activations are f32, so differences
 * use a step of 1e-2 along random unit directions (and single coordinates); the difference
 * quotient is formed in double. Checked: d loss / d(soft prompt) for prompt
 * tuning, d loss / d(prefix K,V) for prefix tuning, and that the recompute path (one layer
 * slot) gives bitwise the same gradient as keeping every layer. */
#include "check.h"
#include "model/transformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sp_model m;
    sp_engine eng;
    float *store[64];
    int n_store;
} tiny;

static float *tiny_alloc(tiny *t, size_t n) {
    float *p = (float *)calloc(n, sizeof(float));
    t->store[t->n_store++] = p;
    return p;
}

static void quant_q8_0(const float *x, sp_block_q8_0 *out, int32_t n) {
    for (int32_t b = 0; b < n / SP_QK; b++) {
        float amax = 0.0f;
        for (int j = 0; j < SP_QK; j++) amax = fmaxf(amax, fabsf(x[b * SP_QK + j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        out[b].d = sp_f32_to_f16(d);
        for (int j = 0; j < SP_QK; j++) out[b].qs[j] = (int8_t)roundf(x[b * SP_QK + j] * id);
    }
}

static void make_mat(tiny *t, sp_mat *w, int32_t rows, int32_t cols, uint32_t type, sp_rng *rng, float scale) {
    float *f = tiny_alloc(t, (size_t)rows * cols);
    for (size_t i = 0; i < (size_t)rows * cols; i++) f[i] = sp_rng_normal(rng) * scale;
    w->rows = rows;
    w->cols = cols;
    w->type = type;
    if (type == SP_DTYPE_Q8_0) {
        sp_block_q8_0 *q = (sp_block_q8_0 *)tiny_alloc(t, (size_t)rows * cols / SP_QK * sizeof(sp_block_q8_0) / 4 + 1);
        for (int32_t r = 0; r < rows; r++) quant_q8_0(f + (size_t)r * cols, q + (size_t)r * cols / SP_QK, cols);
        w->row_bytes = (size_t)cols / SP_QK * sizeof(sp_block_q8_0);
        w->data = q;
    } else {
        w->row_bytes = (size_t)cols * 4;
        w->data = f;
    }
}

static void tiny_init(tiny *t, uint32_t type, int32_t rope_style, uint64_t seed) {
    memset(t, 0, sizeof(*t));
    sp_rng rng;
    sp_rng_seed(&rng, seed);
    sp_config *c = &t->m.cfg;
    c->dim = 32; c->n_layers = 2; c->n_heads = 4; c->n_kv_heads = 2; c->head_dim = 8;
    c->q_dim = 32; c->kv_dim = 16; c->hidden_dim = 64; c->vocab_size = 48; c->ctx_len = 64;
    c->norm_eps = 1e-5f; c->rope_theta = 10000.0f; c->rope_style = rope_style; c->tied = 1;
    /* finite differences need the exact products: the default table rounds the activations of
     * quantized products to 16 bits, a step function at that scale (kernels.h) */
    t->eng.k = sp_kernels_exact(sp_kernels_get(SP_ISA_BEST));
    t->eng.pool = NULL;
    t->m.eng = &t->eng;
    make_mat(t, &t->m.tok_embd, c->vocab_size, c->dim, type, &rng, 1.0f);
    t->m.output = t->m.tok_embd;
    float *on = tiny_alloc(t, (size_t)c->dim);
    for (int i = 0; i < c->dim; i++) on[i] = 1.0f + 0.1f * sp_rng_normal(&rng);
    t->m.out_norm = on;
    t->m.layers = (sp_layer *)tiny_alloc(t, sizeof(sp_layer) * (size_t)c->n_layers / 4 + 8);
    for (int32_t l = 0; l < c->n_layers; l++) {
        sp_layer *L = &t->m.layers[l];
        float *n1 = tiny_alloc(t, (size_t)c->dim), *n2 = tiny_alloc(t, (size_t)c->dim);
        for (int i = 0; i < c->dim; i++) { n1[i] = 1.0f + 0.1f * sp_rng_normal(&rng); n2[i] = 1.0f + 0.1f * sp_rng_normal(&rng); }
        L->attn_norm = n1;
        L->ffn_norm = n2;
        make_mat(t, &L->wq, c->q_dim, c->dim, type, &rng, 0.3f);
        make_mat(t, &L->wk, c->kv_dim, c->dim, type, &rng, 0.3f);
        make_mat(t, &L->wv, c->kv_dim, c->dim, type, &rng, 0.3f);
        make_mat(t, &L->wo, c->dim, c->q_dim, type, &rng, 0.3f);
        make_mat(t, &L->w_gate, c->hidden_dim, c->dim, type, &rng, 0.3f);
        make_mat(t, &L->w_up, c->hidden_dim, c->dim, type, &rng, 0.3f);
        make_mat(t, &L->w_down, c->dim, c->hidden_dim, type, &rng, 0.3f);
    }
}

static void tiny_free(tiny *t) {
    for (int i = 0; i < t->n_store; i++) free(t->store[i]);
}

/* the problem: B sequences of Tt tokens, N virtual rows (prompt) or N past rows (prefix) */
enum { B = 2, TT = 6, NV = 3 };
static int32_t ids[B][TT];
static uint8_t tgt[B][TT];

typedef struct {
    tiny *t;
    int prefix;
    int slots;
    sp_arena ar;
    sp_acts a;
    sp_grads g;
    float *scratch;
    int32_t rows[B * TT], tg[B * TT], n;
} problem;

static void problem_init(problem *p, tiny *t, int prefix, int slots) {
    const sp_config *c = &t->m.cfg;
    p->t = t;
    p->prefix = prefix;
    p->slots = slots;
    sp_arena_init(&p->ar, 1 << 20);
    int32_t T = prefix ? TT : TT + NV, np = prefix ? NV : 0;
    sp_error err;
    CHECK(sp_acts_alloc(&p->a, &p->ar, c, B, T, np, slots, 1, 1, &err) == SP_OK);
    CHECK(sp_grads_alloc(&p->g, &p->ar, c, B, T, np, &err) == SP_OK);
    p->scratch = (float *)sp_arena_alloc(&p->ar, sizeof(float) * 4 * (c->vocab_size + 2 * c->dim));
    p->n = 0;
    int32_t off = prefix ? 0 : NV;
    for (int b = 0; b < B; b++)
        for (int j = 1; j < TT; j++)
            if (tgt[b][j]) { p->rows[p->n] = b * T + off + j - 1; p->tg[p->n] = ids[b][j]; p->n++; }
}

/* mean loss; with grad != NULL also d loss / d params into grad */
static double problem_loss(problem *p, const float *params, float *grad) {
    const sp_model *m = &p->t->m;
    const sp_config *c = &m->cfg;
    int32_t T = p->prefix ? TT : TT + NV;
    float *x0 = p->a.x;
    for (int b = 0; b < B; b++) {
        float *xb = x0 + (size_t)b * T * c->dim;
        if (!p->prefix) memcpy(xb, params, sizeof(float) * NV * c->dim);
        sp_embed(m, xb + (size_t)(p->prefix ? 0 : NV) * c->dim, ids[b], TT);
    }
    sp_past past = {params, params + NV * c->kv_dim, 2 * NV * c->kv_dim, NV, NULL, NULL};
    sp_forward(m, &p->a, x0, B, T, p->prefix ? &past : NULL);
    float *dxf = NULL;
    if (grad) { dxf = p->g.dx; memset(dxf, 0, sizeof(float) * B * T * c->dim); }
    double loss = sp_lm_head_loss(m, p->a.xf, p->rows, p->tg, p->n, dxf, 1.0f / p->n, p->scratch, 4);
    if (grad) {
        int64_t np = p->prefix ? (int64_t)c->n_layers * 2 * NV * c->kv_dim : (int64_t)NV * c->dim;
        memset(grad, 0, sizeof(float) * np);
        sp_backward(m, &p->a, &p->g, B, T, p->prefix ? &past : NULL, p->prefix ? grad : NULL, p->prefix ? grad + NV * c->kv_dim : NULL);
        if (!p->prefix)
            for (int b = 0; b < B; b++)
                for (int64_t i = 0; i < np; i++) grad[i] += p->g.dx[(size_t)b * T * c->dim + i];
    }
    return loss / p->n;
}

/* f32 activations put about 1e-4 of noise on a difference quotient with h = 1e-2, so the
 * tolerance is absolute 5e-4 plus 1% relative; a wrong or missing term errs by the order of the
 * gradient itself (0.01 .. 0.5 here). */
static int grad_close(double fd, double bp) { return fabs(fd - bp) <= 5e-4 + 1e-2 * fabs(bp); }

static void run_case(uint32_t type, int rope_style, int prefix, uint64_t seed) {
    tiny t;
    tiny_init(&t, type, rope_style, seed);
    const sp_config *c = &t.m.cfg;
    sp_rng rng;
    sp_rng_seed(&rng, seed + 7);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < TT; j++) { ids[b][j] = (int32_t)sp_rng_below(&rng, (uint32_t)c->vocab_size); tgt[b][j] = j >= 2 || b == 0; }
    tgt[0][0] = tgt[1][0] = 0;
    int64_t np = prefix ? (int64_t)c->n_layers * 2 * NV * c->kv_dim : (int64_t)NV * c->dim;
    float *params = (float *)malloc(sizeof(float) * np), *grad = (float *)malloc(sizeof(float) * np);
    float *grad2 = (float *)malloc(sizeof(float) * np), *work = (float *)malloc(sizeof(float) * np);
    double *u = (double *)malloc(sizeof(double) * np);
    for (int64_t i = 0; i < np; i++) params[i] = sp_rng_normal(&rng) * (prefix ? 0.5f : 1.0f);

    problem p;
    problem_init(&p, &t, prefix, c->n_layers);
    double l0 = problem_loss(&p, params, grad);
    CHECK(isfinite(l0));

    /* recompute path must match bitwise */
    problem pr;
    problem_init(&pr, &t, prefix, 1);
    double l1 = problem_loss(&pr, params, grad2);
    CHECK(l0 == l1);
    CHECK(memcmp(grad, grad2, sizeof(float) * np) == 0);

    const double h = 1e-2;
    int bad = 0;
    for (int dir = 0; dir < 6; dir++) {
        double norm = 0.0, gu = 0.0;
        for (int64_t i = 0; i < np; i++) { u[i] = sp_rng_normal(&rng); norm += u[i] * u[i]; }
        norm = sqrt(norm);
        for (int64_t i = 0; i < np; i++) { u[i] /= norm; gu += u[i] * grad[i]; }
        for (int64_t i = 0; i < np; i++) work[i] = (float)(params[i] + h * u[i]);
        double lp = problem_loss(&p, work, NULL);
        for (int64_t i = 0; i < np; i++) work[i] = (float)(params[i] - h * u[i]);
        double lm = problem_loss(&p, work, NULL);
        double fd = (lp - lm) / (2 * h);
        if (getenv("SP_GRAD_VERBOSE")) fprintf(stderr, "  dir %d: fd %.6g vs backprop %.6g\n", dir, fd, gu);
        if (!grad_close(fd, gu)) { bad++; fprintf(stderr, "  dir %d: fd %.6g vs backprop %.6g\n", dir, fd, gu); }
    }
    for (int k = 0; k < 8; k++) { /* single coordinates */
        int64_t i = (int64_t)sp_rng_below(&rng, (uint32_t)np);
        memcpy(work, params, sizeof(float) * np);
        work[i] = params[i] + (float)h;
        double lp = problem_loss(&p, work, NULL);
        work[i] = params[i] - (float)h;
        double lm = problem_loss(&p, work, NULL);
        double fd = (lp - lm) / (2 * h);
        if (!grad_close(fd, grad[i])) { bad++; fprintf(stderr, "  coord %lld: fd %.6g vs backprop %.6g\n", (long long)i, fd, grad[i]); }
    }
    CHECK_MSG(bad == 0, "type %s rope %d %s: %d gradient mismatches", sp_dtype_name(type), rope_style, prefix ? "prefix" : "prompt", bad);
    sp_arena_free(&p.ar);
    sp_arena_free(&pr.ar);
    free(params); free(grad); free(grad2); free(work); free(u);
    tiny_free(&t);
}

int main(void) {
    const uint32_t types[2] = {SP_DTYPE_F32, SP_DTYPE_Q8_0};
    for (int ti = 0; ti < 2; ti++)
        for (int rope = 0; rope < 2; rope++)
            for (int prefix = 0; prefix < 2; prefix++) run_case(types[ti], rope, prefix, 1234 + ti * 10 + rope * 2 + prefix);
    CHECK_DONE();
}
