/* test_grad_real.c - gradient checks on the REAL models of ../shared (issue 3 acceptance).
 *
 * Models: stories260K.gguf (F32, GQA 8/4 heads, adjacent RoPE), TinyStories-656K-Q8_0.gguf
 * (Q8_0 matrices, GQA 8/4, llama.cpp-permuted Q/K) and the TinyStories-656K HF folder
 * (F32, rotate-half RoPE). Real text (two TinyStories sentences, one scored on every token, one
 * only on its second half, as an input/output pair would be) and realistic parameters: prompt
 * rows are embeddings of random vocabulary tokens plus noise, prefix K/V rows are the keys and
 * values the model itself computes for a real piece of text.
 *
 * 1. transformer.h directly: d mean-loss / d(prompt) and d / d(prefix K,V) by backprop against
 *    central finite differences along random unit directions: over all parameters, over one
 *    virtual token, over each layer's K block and each layer's V block separately (so every
 *    layer's attention backward is exercised on its own), and along the gradient itself.
 *    The forward is f32: the loss (summed in double) carries about 1e-6 relative noise, so the
 *    step is h = 3e-2 and the difference quotient (formed in double) is good to a few 1e-5;
 *    a wrong or missing backward term errs by the order of the derivative itself. Tolerance:
 *    |fd - bp| <= 2e-5 + 2% |bp|. The recompute path (one layer slot) must give bitwise the
 *    same gradient as keeping every layer. (The HF folder: prompt tuning only, for its
 *    rotate-half RoPE; prefix K/V never go through RoPE.)
 * 2. Through the C ABI: one SGD step (lr 1, momentum 0, no clipping) of a tuner over the whole
 *    dataset moves the adapter by exactly minus the gradient; that gradient must match central
 *    differences of sp_eval_json's loss on the same data. This checks the tuner's wiring
 *    (virtual rows before BOS, target rows, the prefix layout, the batch sum and the 1/n scale)
 *    against the evaluation path, for prompt and prefix tuning. */
#include "check.h"
#include "shared.h"
#include "shared_model.h"
#include "api/softprompt.h"
#include "model/transformer.h"
#include "train/adapter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, TT = 14, NV = 4, MAXP = 16384 };

static const char *TEXT0 = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friend Tim.";
static const char *TEXT1 = "One day, a big brown dog came to the garden. The dog was very happy and wanted to play with the red ball. Max laughed.";
static const char *PREFIX_TEXT = "Tom and Sue went to the shop.";

typedef struct {
    const sp_model *m;
    int prefix, slots;
    int32_t ids[B][TT];
    uint8_t tgt[B][TT];
    sp_arena ar;
    sp_acts a;
    sp_grads g;
    float *scratch;
    int32_t rows[B * TT], tg[B * TT], n;
} problem;

static int32_t T_rows(const problem *p) { return p->prefix ? TT : TT + NV; }
static int64_t n_params(const problem *p) {
    const sp_config *c = &p->m->cfg;
    return p->prefix ? (int64_t)c->n_layers * 2 * NV * c->kv_dim : (int64_t)NV * c->dim;
}

static void problem_init(problem *p, const sp_model *m, int prefix, int slots) {
    sp_error err;
    memset(p, 0, sizeof(*p));
    p->m = m;
    p->prefix = prefix;
    p->slots = slots;
    const char *texts[B] = {TEXT0, TEXT1};
    for (int b = 0; b < B; b++) {
        int32_t buf[128];
        int32_t n = sp_tokenize((sp_model *)m, texts[b], (int32_t)strlen(texts[b]), 1, buf, 128, &err);
        CHECK_MSG(n >= TT, "the test text has %d tokens, needs %d", n, TT);
        for (int j = 0; j < TT; j++) {
            p->ids[b][j] = n >= TT ? buf[j] : 0;
            p->tgt[b][j] = j >= 1 && (b == 0 || j >= TT / 2); /* row 1: only the "output" half */
        }
    }
    const sp_config *c = &m->cfg;
    sp_arena_init(&p->ar, 1 << 20);
    const int32_t T = T_rows(p), np = prefix ? NV : 0;
    CHECK(sp_acts_alloc(&p->a, &p->ar, c, B, T, np, slots, 1, 1, &err) == SP_OK);
    CHECK(sp_grads_alloc(&p->g, &p->ar, c, B, T, np, &err) == SP_OK);
    p->scratch = (float *)sp_arena_alloc(&p->ar, sizeof(float) * 8 * ((size_t)c->vocab_size + 2 * (size_t)c->dim));
    const int32_t off = prefix ? 0 : NV;
    for (int b = 0; b < B; b++)
        for (int j = 1; j < TT; j++)
            if (p->tgt[b][j]) { p->rows[p->n] = b * T + off + j - 1; p->tg[p->n] = p->ids[b][j]; p->n++; }
}

/* mean loss over the targets; with grad != NULL also d loss / d params (overwritten) */
static double problem_loss(problem *p, const float *params, float *grad) {
    const sp_model *m = p->m;
    const sp_config *c = &m->cfg;
    const int32_t T = T_rows(p);
    float *x0 = p->a.x;
    for (int b = 0; b < B; b++) {
        float *xb = x0 + (size_t)b * T * c->dim;
        if (!p->prefix) memcpy(xb, params, sizeof(float) * NV * c->dim);
        sp_embed(m, xb + (size_t)(p->prefix ? 0 : NV) * c->dim, p->ids[b], TT);
    }
    sp_past past = {params, params + (size_t)NV * c->kv_dim, 2 * (int64_t)NV * c->kv_dim, NV, NULL, NULL};
    sp_forward(m, &p->a, x0, B, T, p->prefix ? &past : NULL);
    float *dxf = NULL;
    if (grad) { dxf = p->g.dx; memset(dxf, 0, sizeof(float) * (size_t)B * T * c->dim); }
    double loss = sp_lm_head_loss(m, p->a.xf, p->rows, p->tg, p->n, dxf, 1.0f / (float)p->n, p->scratch, 8);
    if (grad) {
        const int64_t np = n_params(p);
        memset(grad, 0, sizeof(float) * (size_t)np);
        sp_backward(m, &p->a, &p->g, B, T, p->prefix ? &past : NULL, p->prefix ? grad : NULL,
                    p->prefix ? grad + (size_t)NV * c->kv_dim : NULL);
        if (!p->prefix)
            for (int b = 0; b < B; b++)
                for (int64_t i = 0; i < np; i++) grad[i] += p->g.dx[(size_t)b * T * c->dim + i];
    }
    return loss / p->n;
}

/* Measured on these models with h = 3e-2: |fd - bp| <= 5e-5 and mostly < 1% (noise of the f32 forward
 * ~1e-6 / h, curvature ~h^2); smaller steps are noisier, larger ones bend (a prompt row is
 * only ~0.1-1 in norm). A bug errs by the order of the derivative itself. */
#define FD_STEP 3e-2
static int grad_close(double fd, double bp) { return fabs(fd - bp) <= 2e-5 + 2e-2 * fabs(bp); }

/* Central difference of problem_loss along u (unit norm, zero outside the chosen block). */
static double fd_along(problem *p, const float *params, const double *u, float *work, int64_t np, double h) {
    for (int64_t i = 0; i < np; i++) work[i] = (float)(params[i] + h * u[i]);
    double lp = problem_loss(p, work, NULL);
    for (int64_t i = 0; i < np; i++) work[i] = (float)(params[i] - h * u[i]);
    double lm = problem_loss(p, work, NULL);
    return (lp - lm) / (2.0 * h);
}

/* u = random unit vector supported on [lo, lo+len) (stride/period for the prefix blocks) */
static void random_dir(double *u, int64_t np, int64_t lo, int64_t len, sp_rng *rng) {
    double norm = 0.0;
    for (int64_t i = 0; i < np; i++) u[i] = 0.0;
    for (int64_t i = lo; i < lo + len; i++) { u[i] = sp_rng_normal(rng); norm += u[i] * u[i]; }
    norm = sqrt(norm);
    for (int64_t i = lo; i < lo + len; i++) u[i] /= norm;
}

static double dotd(const double *u, const float *g, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += u[i] * g[i];
    return s;
}

static void grad_case(const sp_model *m, const char *name, int prefix, uint64_t seed) {
    const sp_config *c = &m->cfg;
    sp_error err;
    sp_rng rng;
    sp_rng_seed(&rng, seed);
    problem p, pr;
    problem_init(&p, m, prefix, c->n_layers);
    problem_init(&pr, m, prefix, 1);
    const int64_t np = n_params(&p);
    CHECK(np <= MAXP);
    float *params = (float *)calloc((size_t)np, sizeof(float)), *grad = (float *)calloc((size_t)np, sizeof(float));
    float *grad2 = (float *)calloc((size_t)np, sizeof(float)), *work = (float *)calloc((size_t)np, sizeof(float));
    double *u = (double *)calloc((size_t)np, sizeof(double));

    if (!prefix) { /* embeddings of random tokens, plus 20% noise so rows are not exact tokens */
        const float s = sp_model_embd_std(m);
        for (int32_t r = 0; r < NV; r++) {
            CHECK(sp_model_embd_row(m, (int32_t)sp_rng_below(&rng, (uint32_t)c->vocab_size), params + (size_t)r * c->dim, &err) == SP_OK);
            for (int32_t i = 0; i < c->dim; i++) params[(size_t)r * c->dim + i] += 0.2f * s * sp_rng_normal(&rng);
        }
    } else { /* the model's own keys and values for NV tokens of real text */
        int32_t ids[64];
        int32_t n = sp_tokenize((sp_model *)m, PREFIX_TEXT, (int32_t)strlen(PREFIX_TEXT), 1, ids, 64, &err);
        CHECK(n >= NV);
        sp_arena ar;
        sp_arena_init(&ar, 1 << 16);
        sp_acts a;
        CHECK(sp_acts_alloc(&a, &ar, c, 1, NV, 0, c->n_layers, 0, 1, &err) == SP_OK);
        sp_embed(m, a.x, ids, NV);
        sp_forward(m, &a, a.x, 1, NV, NULL);
        for (int32_t l = 0; l < c->n_layers; l++) {
            memcpy(params + (size_t)l * 2 * NV * c->kv_dim, a.k + (size_t)l * NV * c->kv_dim, sizeof(float) * NV * c->kv_dim);
            memcpy(params + ((size_t)l * 2 + 1) * NV * c->kv_dim, a.v + (size_t)l * NV * c->kv_dim, sizeof(float) * NV * c->kv_dim);
        }
        sp_arena_free(&ar);
    }

    const double l0 = problem_loss(&p, params, grad);
    const double l1 = problem_loss(&pr, params, grad2);
    CHECK_MSG(isfinite(l0) && l0 > 0.0, "%s: loss %g", name, l0);
    CHECK_MSG(l0 == l1 && memcmp(grad, grad2, sizeof(float) * (size_t)np) == 0, "%s %s: recompute path differs", name,
              prefix ? "prefix" : "prompt");

    const double h = FD_STEP;
    int bad = 0, checks = 0;
    double gnorm = 0.0;
    for (int64_t i = 0; i < np; i++) gnorm += (double)grad[i] * grad[i];
    gnorm = sqrt(gnorm);
    CHECK_MSG(gnorm > 1e-3, "%s: gradient norm %g is suspiciously small", name, gnorm);
    const int verbose = getenv("SP_GRAD_VERBOSE") != NULL;
#define ONE(label_fmt, ...)                                                                                             \
    do {                                                                                                                \
        double fd = fd_along(&p, params, u, work, np, h), bp = dotd(u, grad, np);                                        \
        checks++;                                                                                                       \
        int ok = grad_close(fd, bp);                                                                                    \
        if (!ok) bad++;                                                                                                 \
        if (!ok || verbose) {                                                                                           \
            fprintf(stderr, "  %s %s " label_fmt ": fd %.7g backprop %.7g%s\n", name, prefix ? "prefix" : "prompt",     \
                    __VA_ARGS__, fd, bp, ok ? "" : "  MISMATCH");                                                       \
        }                                                                                                               \
    } while (0)

    /* along the gradient: d = |g| */
    for (int64_t i = 0; i < np; i++) u[i] = grad[i] / gnorm;
    ONE("%s", "along the gradient");
    /* random directions over everything */
    for (int d = 0; d < 2; d++) {
        random_dir(u, np, 0, np, &rng);
        ONE("random direction %d", d);
    }
    if (!prefix) {
        for (int32_t r = 0; r < NV; r++) {
            random_dir(u, np, (int64_t)r * c->dim, c->dim, &rng);
            ONE("virtual token %d", r);
        }
    } else {
        const int64_t blk = (int64_t)NV * c->kv_dim;
        for (int32_t l = 0; l < c->n_layers; l++)
            for (int kv = 0; kv < 2; kv++) {
                random_dir(u, np, ((int64_t)l * 2 + kv) * blk, blk, &rng);
                ONE("layer %d %s", l, kv ? "V" : "K");
            }
    }
#undef ONE
    CHECK_MSG(bad == 0, "%s %s: %d of %d gradient checks failed", name, prefix ? "prefix" : "prompt", bad, checks);
    sp_arena_free(&p.ar);
    sp_arena_free(&pr.ar);
    free(params); free(grad); free(grad2); free(work); free(u);
}

/* ---- through the ABI ---------------------------------------------------------------------- */

static const char *ABI_DATA =
    "{\"text\":\"Lily and Ben went to the park. They saw a big red ball.\"}\n"
    "{\"input\":\"Tom had a small dog.\",\"output\":\"The dog liked to run.\"}\n"
    "{\"input\":\"Sue was sad.\",\"output\":\"Her mom gave her a hug.\"}\n";

static double eval_loss(sp_model *m, sp_adapter *ad) {
    sp_error err;
    char *js = sp_eval_json(m, ad, ABI_DATA, strlen(ABI_DATA), "{\"max_length\":64,\"batch_size\":3,\"accuracy\":false}", &err);
    CHECK_MSG(js != NULL, "sp_eval_json: %s", err.msg);
    if (!js) return NAN;
    const char *p = strstr(js, "\"loss\":");
    double v = p ? strtod(p + 7, NULL) : NAN;
    sp_free(js);
    return v;
}

static void abi_case(sp_model *m, const char *name, const char *method) {
    sp_error err;
    char opts[256];
    snprintf(opts, sizeof(opts),
             "{\"method\":\"%s\",\"virtual_tokens\":%d,\"optimizer\":\"sgd\",\"lr\":1,\"batch_size\":3,\"steps\":1,"
             "\"eval_split\":0,\"max_length\":64,\"seed\":5}", method, NV);
    sp_tuner *t = sp_tuner_create(m, opts, ABI_DATA, strlen(ABI_DATA), NULL, &err);
    CHECK_MSG(t != NULL, "%s: sp_tuner_create: %s", name, err.msg);
    if (!t) return;
    sp_adapter *a0 = sp_tuner_adapter(t, 0, &err);
    CHECK(sp_tuner_step(t, &err) == 1);
    sp_adapter *a1 = sp_tuner_adapter(t, 0, &err);
    CHECK(a0 && a1);
    if (!a0 || !a1) { sp_adapter_free(a0); sp_adapter_free(a1); sp_tuner_free(t); return; }
    const int64_t np = a0->n_params;
    float *g = (float *)malloc(sizeof(float) * (size_t)np), *p0 = (float *)malloc(sizeof(float) * (size_t)np);
    double *u = (double *)malloc(sizeof(double) * (size_t)np);
    memcpy(p0, a0->params, sizeof(float) * (size_t)np);
    double gn = 0.0;
    for (int64_t i = 0; i < np; i++) { g[i] = a0->params[i] - a1->params[i]; gn += (double)g[i] * g[i]; }
    gn = sqrt(gn);
    /* the loss the tuner reported for its step is the eval loss at p0 (the same mean over the same targets) */
    const char *rep = sp_tuner_report_json(t);
    const char *lp = strstr(rep, "\"loss\":");
    double step_loss = lp ? strtod(lp + 7, NULL) : NAN;
    double ev0 = eval_loss(m, a0);
    CHECK_MSG(fabs(step_loss - ev0) <= 1e-5 * fabs(ev0), "%s %s: step loss %.9g vs eval loss %.9g", name, method, step_loss, ev0);
    sp_rng rng;
    sp_rng_seed(&rng, 99);
    const double h = 1e-2; /* the random-init prompt bends faster than FD_STEP allows along the gradient */
    int bad = 0;
    for (int d = 0; d < 3; d++) {
        if (d == 0) for (int64_t i = 0; i < np; i++) u[i] = g[i] / gn;
        else random_dir(u, np, 0, np, &rng);
        for (int64_t i = 0; i < np; i++) a0->params[i] = (float)(p0[i] + h * u[i]);
        double lpl = eval_loss(m, a0);
        for (int64_t i = 0; i < np; i++) a0->params[i] = (float)(p0[i] - h * u[i]);
        double lmi = eval_loss(m, a0);
        double fd = (lpl - lmi) / (2 * h), bp = dotd(u, g, np);
        int ok = grad_close(fd, bp);
        if (!ok) bad++;
        if (!ok || getenv("SP_GRAD_VERBOSE"))
            fprintf(stderr, "  ABI %s %s dir %d: fd %.7g vs tuner step %.7g%s\n", name, method, d, fd, bp, ok ? "" : "  MISMATCH");
    }
    CHECK_MSG(bad == 0, "ABI %s %s: %d gradient mismatches", name, method, bad);
    free(g); free(p0); free(u);
    sp_adapter_free(a0);
    sp_adapter_free(a1);
    sp_tuner_free(t);
}

static sp_model *load_hf(sp_engine *eng, const char *dir) {
    char p1[256], p2[256], p3[256];
    snprintf(p1, sizeof(p1), "%s/config.json", dir);
    snprintf(p2, sizeof(p2), "%s/model.safetensors", dir);
    snprintf(p3, sizeof(p3), "%s/tokenizer.json", dir);
    size_t nc = 0, ns = 0, nt = 0;
    uint8_t *cfg = shared_read(p1, &nc), *st = shared_read(p2, &ns), *tok = shared_read(p3, &nt);
    CHECK_MSG(cfg && st && tok, "missing files of %s", dir);
    sp_model *m = NULL;
    if (cfg && st && tok) {
        sp_error err;
        m = sp_model_load_hf(eng, (const char *)cfg, nc, st, ns, (const char *)tok, nt, &err);
        CHECK_MSG(m != NULL, "%s: %s", dir, err.msg);
    } else {
        free(st);
    }
    free(cfg);
    free(tok);
    return m;
}

int main(void) {
    sp_error err;
    sp_engine *eng = sp_engine_create(1, &err);
    CHECK(eng != NULL);
    if (!eng) CHECK_DONE();
    /* finite differences need the exact products (the engine's exact option; kernels.h) */
    CHECK(sp_engine_set_exact(eng, 1, &err) == 0 && sp_engine_exact(eng) == 1);

    sp_model *m = load_gguf(eng, "models/stories260K/stories260K.gguf");
    if (m) {
        CHECK(m->cfg.n_kv_heads < m->cfg.n_heads); /* GQA */
        grad_case(m, "stories260K F32", 0, 11);
        grad_case(m, "stories260K F32", 1, 12);
        abi_case(m, "stories260K", "prompt");
        abi_case(m, "stories260K", "prefix");
    }
    sp_model_free(m);

    m = load_gguf(eng, "models/TinyStories-656K/TinyStories-656K-Q8_0.gguf");
    if (m) {
        CHECK(m->cfg.n_kv_heads < m->cfg.n_heads && m->layers[0].wq.type == SP_DTYPE_Q8_0);
        grad_case(m, "656K Q8_0", 0, 21);
        grad_case(m, "656K Q8_0", 1, 22);
    }
    sp_model_free(m);

    m = load_hf(eng, "models/TinyStories-656K");
    if (m) {
        CHECK(m->cfg.rope_style == SP_ROPE_HALF);
        grad_case(m, "656K HF F32", 0, 31);
    }
    sp_model_free(m);

    sp_engine_free(eng);
    CHECK_DONE();
}
