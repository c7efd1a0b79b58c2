/* step_phases.c - where a training step's time goes: the bench's training step (sp_tune_step,
 * prompt tuning of 20 virtual tokens + 108 text tokens per row, batch 4) on a preset's random
 * model, one thread, with every kernel of the table wrapped in a process-CPU-time counter. Each
 * kernel's time and FLOPs are summed per phase (layer products forward / dX, LM head forward /
 * softmax / dX, attention, row kernels); "other" is the step minus the kernels (memcpy, memset,
 * LayerNorm, gathers, the driver loops). Build from the repo root and run:
 *
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 -Isrc $(find src -name '*.c' -not -path 'src/api*') \
 *       tests/experiments/step_phases.c -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -o /tmp/step_phases.js
 *   node --no-experimental-fetch /tmp/step_phases.js smollm2-135m F32 [steps] [exact|all]
 *
 * The counter costs a JS call (process.cpuUsage, 1-5 us) per kernel call, so by default only the
 * products and the head's softmax are timed (a few hundred calls a step) and attention, norms and
 * the rest fall into "other"; "all" times the row kernels too (attention calls them per 4 rows
 * and head: ~700k calls a step on smollm2-135m, whose counter then costs seconds). */
#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "kernels/probe.h"
#include "model/presets.h"
#include "model/transformer.h"
#include "train/tuner.h"

EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });

enum { P_MM, P_MM_HEAD, P_DX, P_DX_HEAD, P_ATTN, P_HEAD_SOFTMAX, P_ROWS, P_OTHER_K, N_P };
static const char *P_NAME[N_P] = {"layer products fwd", "LM head fwd", "layer products dX", "LM head dX",
                                  "attention (qk/av/atv/softmax)", "LM head softmax (max/exp/scale)", "norms/act/rope", "other kernels"};
static double p_ms[N_P], p_flops[N_P];
static long p_calls[N_P];
static sp_kernels base, wrap;
static int32_t vocab;

static int all_kernels; /* 0: the row kernels run untimed (their calls are many and short) */

#define TIMED(p, flops, call)                                          \
    do {                                                               \
        const int p_ = (p);                                            \
        if (!all_kernels && (p_ == P_ATTN || p_ == P_ROWS)) {          \
            call;                                                      \
            break;                                                     \
        }                                                              \
        double t0_ = cpu_ms();                                         \
        call;                                                          \
        p_ms[p_] += cpu_ms() - t0_;                                    \
        p_flops[p_] += (flops);                                        \
        p_calls[p_]++;                                                 \
    } while (0)

static void w_matmul(float *y, const float *x, const sp_mat *w, int32_t n, int32_t r0, int32_t r1) {
    TIMED(w->rows == vocab ? P_MM_HEAD : P_MM, 2.0 * n * (r1 - r0) * w->cols, base.matmul(y, x, w, n, r0, r1));
}
static void w_matmul_dx(float *dx, const float *dy, const sp_mat *w, int32_t n, int32_t c0, int32_t c1) {
    TIMED(w->rows == vocab ? P_DX_HEAD : P_DX, 2.0 * n * w->rows * (c1 - c0), base.matmul_dx(dx, dy, w, n, c0, c1));
}
static void w_qk(float *d, int64_t ldd, const float *y, int64_t ldy, int32_t ny, const float *x, int64_t ldx, int32_t nx, int32_t hd,
                 float scale) {
    TIMED(P_ATTN, 2.0 * ny * nx * hd, base.qk(d, ldd, y, ldy, ny, x, ldx, nx, hd, scale));
}
static void w_av(float *o, int64_t ldo, const float *a, int64_t lda, int32_t no, const float *x, int64_t ldx, int32_t nx, int32_t hd) {
    TIMED(P_ATTN, 2.0 * no * nx * hd, base.av(o, ldo, a, lda, no, x, ldx, nx, hd));
}
static void w_atv(float *z, int64_t ldz, const float *a, int64_t lda, int32_t nz, const float *y, int64_t ldy, int32_t ny, int32_t hd) {
    TIMED(P_ATTN, 2.0 * nz * ny * hd, base.atv(z, ldz, a, lda, nz, y, ldy, ny, hd));
}
static float w_max(const float *x, int32_t n) {
    float r;
    TIMED(n == vocab ? P_HEAD_SOFTMAX : P_ATTN, 0, r = base.max(x, n));
    return r;
}
static double w_exp_sum(float *x, int32_t n, float mx) {
    double r;
    TIMED(n == vocab ? P_HEAD_SOFTMAX : P_ATTN, 0, r = base.exp_sum(x, n, mx));
    return r;
}
static void w_scale(float *x, int32_t n, float a) { TIMED(n == vocab ? P_HEAD_SOFTMAX : P_ATTN, 0, base.scale(x, n, a)); }
static void w_softmax_backward(float *p, const float *dp, int32_t n, float scale) {
    TIMED(P_ATTN, 0, base.softmax_backward(p, dp, n, scale));
}
static void w_swiglu(float *h, const float *g, const float *u, int32_t n) { TIMED(P_ROWS, 0, base.swiglu(h, g, u, n)); }
static void w_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n) {
    TIMED(P_ROWS, 0, base.swiglu_backward(dg, du, dh, g, u, n));
}
static void w_geglu(float *h, const float *g, const float *u, int32_t n) { TIMED(P_ROWS, 0, base.geglu(h, g, u, n)); }
static void w_geglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n) {
    TIMED(P_ROWS, 0, base.geglu_backward(dg, du, dh, g, u, n));
}
static void w_rmsnorm(float *out, float *rstd, const float *x, const float *w, int32_t n, int32_t dim, float eps) {
    TIMED(P_ROWS, 0, base.rmsnorm(out, rstd, x, w, n, dim, eps));
}
static void w_rmsnorm_backward(float *dx, const float *dout, const float *x, const float *w, const float *rstd, int32_t n, int32_t dim) {
    TIMED(P_ROWS, 0, base.rmsnorm_backward(dx, dout, x, w, rstd, n, dim));
}
static void w_rope(float *x, const float *tab, int32_t n, int32_t nh, int32_t hd, int32_t adj, float sign) {
    TIMED(P_ROWS, 0, base.rope(x, tab, n, nh, hd, adj, sign));
}
static void w_mat_row(float *out, const sp_mat *w, int32_t r) { TIMED(P_OTHER_K, 0, base.mat_row(out, w, r)); }

int main(int argc, char **argv) {
    const char *preset = argc > 1 ? argv[1] : "smollm2-135m", *type = argc > 2 ? argv[2] : "F32";
    const int steps = argc > 3 ? atoi(argv[3]) : 2;
    const int exact = argc > 4 && strcmp(argv[4], "exact") == 0;
    all_kernels = argc > 4 && strcmp(argv[4], "all") == 0;
    const sp_preset *p = sp_preset_find(preset);
    uint32_t t = SP_DTYPE_UNKNOWN;
    for (uint32_t i = 0; i < 64 && t == SP_DTYPE_UNKNOWN; i++)
        if (sp_dtype_name(i) && strcmp(sp_dtype_name(i), type) == 0) t = i;
    if (!p || t == SP_DTYPE_UNKNOWN) { fprintf(stderr, "unknown preset or type\n"); return 2; }
    const sp_kernels *k = sp_kernels_get(SP_ISA_WASMSIMD);
    base = *(exact ? sp_kernels_exact(k) : k);
    wrap = base;
    wrap.matmul = w_matmul; wrap.matmul_dx = w_matmul_dx; wrap.mat_row = w_mat_row;
    wrap.qk = w_qk; wrap.av = w_av; wrap.atv = w_atv; wrap.max = w_max; wrap.exp_sum = w_exp_sum; wrap.scale = w_scale;
    wrap.softmax_backward = w_softmax_backward; wrap.swiglu = w_swiglu; wrap.swiglu_backward = w_swiglu_backward;
    wrap.geglu = w_geglu; wrap.geglu_backward = w_geglu_backward; wrap.rmsnorm = w_rmsnorm; wrap.rmsnorm_backward = w_rmsnorm_backward;
    wrap.rope = w_rope;
    sp_engine eng = {.pool = sp_pool_create(1), .k = &wrap};
    sp_error err;
    sp_model *m = sp_model_random(&eng, &p->cfg, t, 42, preset, &err);
    if (!m) { fprintf(stderr, "%s\n", err.msg); return 1; }
    vocab = m->cfg.vocab_size;
    const double peak = sp_probe_peak_gflops(0.5);
    const int32_t B = 4, T = 128, N = 20, Tt = T - N;
    sp_dataset ds;
    if (sp_dataset_random(&ds, B, Tt, vocab, 9, &err)) return 1;
    sp_tune_config tc = SP_TUNE_CONFIG_DEFAULT;
    tc.virtual_tokens = N;
    tc.steps = steps + 1;
    tc.batch_size = B;
    tc.eval_split = 0.0f;
    tc.shuffle = 0;
    tc.seed = 9;
    sp_tuner *tu = sp_tune_create(m, &tc, &ds, NULL, &err);
    if (!tu) { fprintf(stderr, "%s\n", err.msg); return 1; }
    if (sp_tune_step(tu, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; } /* warm-up: V8 tiers up */
    for (int s = 0; s < steps; s++) {
        memset(p_ms, 0, sizeof(p_ms));
        memset(p_flops, 0, sizeof(p_flops));
        memset(p_calls, 0, sizeof(p_calls));
        const double t0 = cpu_ms();
        if (sp_tune_step(tu, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
        const double total = cpu_ms() - t0;
        double kern = 0, fl = 0;
        sp_tune_stats st;
        sp_tune_stats_get(tu, &st);
        printf("%s %s%s: step %.0f ms CPU, probe %.1f GF/s, recompute %d\n", preset, type, exact ? " exact" : "", total, peak, st.recompute);
        for (int i = 0; i < N_P; i++) {
            kern += p_ms[i];
            fl += p_flops[i];
            if (!p_calls[i]) continue;
            printf("  %-34s %8.1f ms %5.1f%%  %7ld calls", P_NAME[i], p_ms[i], 100 * p_ms[i] / total, p_calls[i]);
            if (p_flops[i] > 0) printf("  %6.2f GFLOP  %5.1f GF/s  %.2f of probe", p_flops[i] / 1e9, p_flops[i] / p_ms[i] / 1e6, p_flops[i] / p_ms[i] / 1e6 / peak);
            printf("\n");
        }
        printf("  %-34s %8.1f ms %5.1f%%\n", all_kernels ? "other (not a kernel)" : "other (attention, norms, copies, ...)", total - kern,
               100 * (total - kern) / total);
        printf("  all counted FLOPs %.2f GFLOP: %.1f GF/s, %.2f of probe\n", fl / 1e9, fl / total / 1e6, fl / total / 1e6 / peak);
    }
    sp_tune_free(tu);
    return 0;
}
