/* test_optim.c - optimisers vs a naive double-precision re-implementation written here from
 * the PyTorch formulas; schedules at chosen points; clipping; state save/load; determinism. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "train/optim.h"

#define N 37
#define PI 3.14159265358979323846

/* ---- the naive reference (double) ---- */
typedef struct { double m[N], v[N]; int t; } ref_state;

static double ref_lr(const sp_optim_config *c, int s) {
    double lr = c->lr;
    if (s < c->warmup) return lr * (s + 1) / (double)c->warmup;
    if (c->schedule == SP_SCHED_CONSTANT || c->total_steps <= 0) return lr;
    double span = c->total_steps - c->warmup;
    if (span < 1) span = 1;
    double p = (s - c->warmup) / span;
    if (p > 1) p = 1;
    if (c->schedule == SP_SCHED_LINEAR) return lr * (1 - p);
    return lr * 0.5 * (1 + cos(PI * p));
}

static void ref_step(ref_state *r, const sp_optim_config *c, double *p, const double *g_in) {
    double g[N];
    double norm = 0;
    for (int i = 0; i < N; i++) norm += g_in[i] * g_in[i];
    norm = sqrt(norm);
    double scale = (c->clip > 0 && norm > c->clip) ? c->clip / (norm + 1e-6) : 1.0;
    for (int i = 0; i < N; i++) g[i] = g_in[i] * scale;
    double lr = ref_lr(c, r->t);
    r->t++;
    for (int i = 0; i < N; i++) {
        if (c->kind == SP_OPTIM_SGD) {
            double gi = g[i] + c->weight_decay * p[i];
            if (c->momentum > 0) {
                r->m[i] = r->t == 1 ? gi : c->momentum * r->m[i] + gi;
                gi = r->m[i];
            }
            p[i] -= lr * gi;
        } else {
            double gi = g[i];
            if (c->kind == SP_OPTIM_ADAMW) p[i] *= 1 - lr * c->weight_decay;
            else gi += c->weight_decay * p[i];
            r->m[i] = c->beta1 * r->m[i] + (1 - c->beta1) * gi;
            r->v[i] = c->beta2 * r->v[i] + (1 - c->beta2) * gi * gi;
            double mh = r->m[i] / (1 - pow(c->beta1, r->t));
            double vh = r->v[i] / (1 - pow(c->beta2, r->t));
            p[i] -= lr * mh / (sqrt(vh) + c->eps);
        }
    }
}

/* deterministic pseudo-random gradients that depend on the parameters (like a real loss) */
static void make_grad(double *g, const double *p, int step, double gscale) {
    for (int i = 0; i < N; i++) g[i] = gscale * (sin(0.7 * i + 1.3 * step) + 0.5 * p[i] - 0.1 * (i % 5));
}

static double run_compare(const sp_optim_config *c, int steps, double gscale) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_optim o;
    sp_error err;
    sp_error_clear(&err);
    CHECK(sp_optim_init(&o, c, N, &a, &err) == SP_OK);
    ref_state r;
    memset(&r, 0, sizeof(r));
    float pf[N], gf[N];
    double pd[N], gd[N];
    for (int i = 0; i < N; i++) pd[i] = pf[i] = (float)(0.1 * (i - 18) / 7.0);
    double maxrel = 0;
    for (int s = 0; s < steps; s++) {
        make_grad(gd, pd, s, gscale);
        for (int i = 0; i < N; i++) gf[i] = (float)gd[i];
        sp_optim_stats st;
        CHECK(sp_optim_step(&o, pf, gf, &st, &err) == SP_OK);
        CHECK_NEAR(st.lr, ref_lr(c, s), 1e-6 * c->lr + 1e-12);
        ref_step(&r, c, pd, gd);
        for (int i = 0; i < N; i++) {
            double d = fabs(pf[i] - pd[i]) / (fabs(pd[i]) + 1e-3);
            if (d > maxrel) maxrel = d;
        }
    }
    CHECK(o.t == steps);
    sp_arena_free(&a);
    return maxrel;
}

static void test_against_reference(void) {
    const int kinds[3] = {SP_OPTIM_ADAM, SP_OPTIM_ADAMW, SP_OPTIM_SGD};
    const int scheds[3] = {SP_SCHED_CONSTANT, SP_SCHED_LINEAR, SP_SCHED_COSINE};
    for (int k = 0; k < 3; k++) {
        for (int s = 0; s < 3; s++) {
            for (int variant = 0; variant < 3; variant++) {
                sp_optim_config c;
                sp_optim_config_default(&c, kinds[k]);
                c.lr = kinds[k] == SP_OPTIM_SGD ? 0.05f : 0.01f;
                c.schedule = scheds[s];
                c.total_steps = 12;
                if (variant == 1) { c.warmup = 3; c.weight_decay = 0.05f; c.momentum = kinds[k] == SP_OPTIM_SGD ? 0.9f : 0.0f; }
                if (variant == 2) { c.clip = 0.5f; c.beta1 = 0.8f; c.beta2 = 0.99f; c.eps = 1e-6f; }
                double rel = run_compare(&c, 12, variant == 2 ? 3.0 : 1.0);
                CHECK_MSG(rel < 2e-4, "kind %d sched %d variant %d: max rel diff %g", kinds[k], scheds[s], variant, rel);
            }
        }
    }
}

static void test_defaults_and_parse(void) {
    sp_optim_config c;
    sp_optim_config_default(&c, SP_OPTIM_ADAMW);
    CHECK(c.beta1 == 0.9f && c.beta2 == 0.999f && c.eps == 1e-8f && c.weight_decay == 0.01f);
    CHECK(c.schedule == SP_SCHED_CONSTANT && c.warmup == 0 && c.clip == 0.0f);
    sp_optim_config_default(&c, SP_OPTIM_ADAM);
    CHECK(c.weight_decay == 0.0f);
    sp_optim_config_default(&c, SP_OPTIM_SGD);
    CHECK(c.momentum == 0.0f && c.weight_decay == 0.0f);
    int32_t k;
    sp_error err;
    CHECK(sp_optim_kind_parse("adamw", &k, &err) == SP_OK && k == SP_OPTIM_ADAMW);
    CHECK(sp_optim_kind_parse("sgd", &k, &err) == SP_OK && k == SP_OPTIM_SGD);
    CHECK(sp_optim_kind_parse("lion", &k, &err) == SP_ERR_INVALID_ARG && strstr(err.msg, "lion"));
    CHECK(sp_sched_kind_parse("cosine", &k, &err) == SP_OK && k == SP_SCHED_COSINE);
    CHECK(sp_sched_kind_parse("step", &k, &err) == SP_ERR_INVALID_ARG);
    sp_optim_config_default(&c, SP_OPTIM_ADAM);
    c.lr = -1;
    CHECK(sp_optim_config_check(&c, &err) == SP_ERR_INVALID_ARG && strstr(err.msg, "lr"));
    c.lr = NAN;
    CHECK(sp_optim_config_check(&c, &err) == SP_ERR_INVALID_ARG);
    sp_optim_config_default(&c, SP_OPTIM_ADAM);
    c.beta2 = 1.0f;
    CHECK(sp_optim_config_check(&c, &err) == SP_ERR_INVALID_ARG && strstr(err.msg, "beta2"));
    sp_optim_config_default(&c, SP_OPTIM_ADAM);
    c.warmup = -2;
    CHECK(sp_optim_config_check(&c, &err) == SP_ERR_INVALID_ARG && strstr(err.msg, "warmup"));
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_optim o;
    sp_optim_config_default(&c, SP_OPTIM_ADAM);
    CHECK(sp_optim_init(&o, &c, 0, &a, &err) == SP_ERR_INVALID_ARG);
    sp_arena_free(&a);
}

static void test_schedule_points(void) {
    sp_optim_config c;
    sp_optim_config_default(&c, SP_OPTIM_ADAM);
    c.lr = 1.0f;
    CHECK(sp_optim_lr(&c, 0) == 1.0f && sp_optim_lr(&c, 1000) == 1.0f); /* constant, no warmup */
    c.warmup = 4;
    CHECK_NEAR(sp_optim_lr(&c, 0), 0.25, 1e-7);
    CHECK_NEAR(sp_optim_lr(&c, 3), 1.0, 1e-7);
    CHECK_NEAR(sp_optim_lr(&c, 50), 1.0, 1e-7);
    c.schedule = SP_SCHED_LINEAR;
    c.total_steps = 14; /* decay over 10 steps after warmup */
    CHECK_NEAR(sp_optim_lr(&c, 4), 1.0, 1e-7);
    CHECK_NEAR(sp_optim_lr(&c, 9), 0.5, 1e-7);
    CHECK_NEAR(sp_optim_lr(&c, 13), 0.1, 1e-7);
    CHECK_NEAR(sp_optim_lr(&c, 14), 0.0, 1e-7);
    CHECK_NEAR(sp_optim_lr(&c, 99), 0.0, 1e-7);
    c.schedule = SP_SCHED_COSINE;
    CHECK_NEAR(sp_optim_lr(&c, 4), 1.0, 1e-7);
    CHECK_NEAR(sp_optim_lr(&c, 9), 0.5, 1e-6);
    CHECK_NEAR(sp_optim_lr(&c, 14), 0.0, 1e-7);
    c.total_steps = 0; /* unknown total: no decay */
    CHECK_NEAR(sp_optim_lr(&c, 9), 1.0, 1e-7);
}

static void test_clip_and_nan(void) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_optim_config c;
    sp_optim_config_default(&c, SP_OPTIM_SGD);
    c.lr = 1.0f;
    c.clip = 1.0f;
    sp_optim o;
    sp_error err;
    CHECK(sp_optim_init(&o, &c, 2, &a, &err) == SP_OK);
    float p[2] = {0, 0}, g[2] = {3, 4};
    sp_optim_stats st;
    CHECK(sp_optim_step(&o, p, g, &st, &err) == SP_OK);
    CHECK(st.clipped == 1);
    CHECK_NEAR(st.grad_norm, 5.0, 1e-6);
    CHECK_NEAR(p[0], -0.6, 1e-5);
    CHECK_NEAR(p[1], -0.8, 1e-5);
    float g2[2] = {0.3f, 0.4f}; /* under the threshold: untouched */
    CHECK(sp_optim_step(&o, p, g2, &st, &err) == SP_OK);
    CHECK(st.clipped == 0);
    CHECK_NEAR(p[0], -0.9, 1e-5);
    float g3[2] = {NAN, 1};
    float before0 = p[0];
    CHECK(sp_optim_step(&o, p, g3, &st, &err) == SP_ERR_NUMERIC);
    CHECK(p[0] == before0 && o.t == 2);
    float g4[2] = {INFINITY, 1};
    CHECK(sp_optim_step(&o, p, g4, &st, &err) == SP_ERR_NUMERIC);
    sp_arena_free(&a);
}

/* run k steps, save, load into a fresh optimizer, continue: identical to an uninterrupted run */
static void test_state_roundtrip(void) {
    const int kinds[3] = {SP_OPTIM_ADAM, SP_OPTIM_ADAMW, SP_OPTIM_SGD};
    for (int k = 0; k < 3; k++) {
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_optim_config c;
        sp_optim_config_default(&c, kinds[k]);
        c.lr = 0.02f;
        c.momentum = kinds[k] == SP_OPTIM_SGD ? 0.5f : 0.0f;
        c.schedule = SP_SCHED_COSINE;
        c.warmup = 2;
        c.total_steps = 10;
        sp_optim o1, o2, o3;
        sp_error err;
        CHECK(sp_optim_init(&o1, &c, N, &a, &err) == SP_OK);
        CHECK(sp_optim_init(&o2, &c, N, &a, &err) == SP_OK);
        float p1[N], p2[N], g[N];
        double pd[N], gd[N];
        for (int i = 0; i < N; i++) p1[i] = p2[i] = (float)(i * 0.01);
        for (int s = 0; s < 10; s++) {
            if (s == 5) {
                size_t sz = sp_optim_state_size(&o2);
                CHECK(sz == 32 + (size_t)(kinds[k] == SP_OPTIM_SGD ? 1 : 2) * N * 4);
                uint8_t *buf = (uint8_t *)malloc(sz);
                CHECK(sp_optim_state_save(&o2, buf, sz - 1, &err) == SP_ERR_INVALID_ARG);
                CHECK(sp_optim_state_save(&o2, buf, sz, &err) == SP_OK);
                CHECK(sp_optim_init(&o3, &c, N, &a, &err) == SP_OK);
                CHECK(sp_optim_state_load(&o3, buf, sz - 4, &err) == SP_ERR_FORMAT);
                buf[0] = 'X';
                CHECK(sp_optim_state_load(&o3, buf, sz, &err) == SP_ERR_FORMAT);
                buf[0] = 'S';
                CHECK(sp_optim_state_load(&o3, buf, sz, &err) == SP_OK);
                CHECK(o3.t == 5);
                sp_optim other;
                CHECK(sp_optim_init(&other, &c, N + 1, &a, &err) == SP_OK);
                CHECK(sp_optim_state_load(&other, buf, sz, &err) == SP_ERR_SHAPE);
                free(buf);
                o2 = o3;
            }
            for (int i = 0; i < N; i++) pd[i] = p1[i];
            make_grad(gd, pd, s, 1.0);
            for (int i = 0; i < N; i++) g[i] = (float)gd[i];
            CHECK(sp_optim_step(&o1, p1, g, NULL, &err) == SP_OK);
            for (int i = 0; i < N; i++) g[i] = (float)gd[i];
            CHECK(sp_optim_step(&o2, p2, g, NULL, &err) == SP_OK);
        }
        CHECK(memcmp(p1, p2, sizeof(p1)) == 0);
        sp_arena_free(&a);
    }
}

int main(void) {
    test_defaults_and_parse();
    test_schedule_points();
    test_against_reference();
    test_clip_and_nan();
    test_state_roundtrip();
    CHECK_DONE();
}
