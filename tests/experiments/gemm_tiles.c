/* gemm_tiles.c - what bounds the f32 GEMM tile under V8: 2 x 4 tiles that differ only in their loop
 * overhead (pointers, counters, steps per iteration) or in their loads per step, against the f32x4
 * mul+add probe and against probes with extra integer instructions or extra loads, one thread,
 * process CPU time, best of the rounds (the machine is shared).
 *
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 --profiling-funcs -sALLOW_MEMORY_GROWTH=1 -Isrc \
 *       tests/experiments/gemm_tiles.c src/kernels/probe.c src/kernels/gemm_wasmsimd.c src/kernels/pool.c \
 *       src/common.c -o /tmp/gemm_tiles.js
 *   node --no-experimental-fetch --no-liftoff /tmp/gemm_tiles.js 0 1024 2 5     # loop mode: 0 K - rounds [xoff gap]
 *   node --no-experimental-fetch --no-liftoff /tmp/gemm_tiles.js 1536 576 128 5 # R K n rounds
 *   node --no-experimental-fetch --no-liftoff --print-wasm-code /tmp/gemm_tiles.js 0 64 2 0   # x64 code
 *
 * Loop mode (R = 0): one 4-row W panel and one pair of X rows (L1-resident), every tile called on
 * them over and over: the loop's own bound, no cache misses. Shape mode: Y[n, R] = X[n, K] . W[R, K]^T.
 *
 *   eng     the engine's tile, sp_gemm_f32_2x4_wasmsimd (W packed [k/4][4][4]; 3 pointers: W, 2 rows of X)
 *   pk      X packed too, [pair][k/4][2][4]: 2 pointers
 *   one     W and X interleaved per step, [k/4][6][4]: 1 pointer (loop mode only; not a product)
 *   cd      pk with a count-down step counter and base + offset addressing
 *   u2      pk with two k-steps per wasm iteration (the loads of both steps come first)
 *   heldx   pk's loop with the 2 X vectors held: 4 loads per 16 mul+add (not a product)
 *   heldw   the 4 W vectors held: 2 loads per 16 mul+add (not a product)
 *   one2    one's buffer through two pointers (W and X), as pk
 *   gap     W and X in one buffer with a runtime stride (argv[6]: floats between W and X of a step)
 *   pk64    pk with X padded to W's stride (both pointers += 64 bytes)
 *   pkq     pk with the loop bound on the X pointer
 *   engl    eng's k-loop alone in a leaf function called per pair of rows
 *   engB, pkB, oneB   eng, pk, one with the X loads first and the mul+adds in W-major order
 * Probes: peak = sp_probe_peak_gflops (12 chains a = a*m + c); +int = the same with 12 or 24 integer adds
 * (4 independent chains) per 24 FP ops; ghz = a chain of dependent integer adds (1 cycle each) -> the
 * clock, hence FP ops per cycle. */
#include <wasm_simd128.h>
#include "kernels/probe.h"
#include "kernels/wasmsimd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <emscripten.h>
EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });

#define ACC_DECL v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00
#define STEP(a0, a1, b0, b1, b2, b3)                                                   \
    do {                                                                               \
        MA(c00, a0, b0); MA(c01, a0, b1); MA(c02, a0, b2); MA(c03, a0, b3);           \
        MA(c10, a1, b0); MA(c11, a1, b1); MA(c12, a1, b2); MA(c13, a1, b3);           \
    } while (0)
#define STORE2(yi, ldy)                                          \
    do {                                                         \
        wasm_v128_store(yi, hsum4x4(c00, c01, c02, c03));        \
        wasm_v128_store((yi) + (ldy), hsum4x4(c10, c11, c12, c13)); \
    } while (0)

/* xp: pairs of X rows packed [k/4][2][4], pair i at xp + (i/2) * xs; wp: [k/4][4][4] */
NOINLINE static void pk24(float *y, int ldy, int n, const float *xp, int xs, const float *wp, int len) {
    const float *end = wp + (size_t)len * 4;
    for (int i = 0; i < n; i += 2) {
        const float *px = xp + (size_t)(i / 2) * xs;
        ACC_DECL;
        for (const float *pw = wp; pw < end; pw += 16, px += 8) {
            const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            const v128_t a0 = wasm_v128_load(px), a1 = wasm_v128_load(px + 4);
            STEP(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}
/* cb: [k/4][b0 b1 b2 b3 a0 a1], pair i at cb + (i/2) * cs */
NOINLINE static void one24(float *y, int ldy, int n, const float *cb, int cs, const float *unused, int len) {
    (void)unused;
    for (int i = 0; i < n; i += 2) {
        const float *p = cb + (size_t)(i / 2) * cs, *end = p + (size_t)len * 6;
        ACC_DECL;
        for (; p < end; p += 24) {
            const v128_t b0 = wasm_v128_load(p), b1 = wasm_v128_load(p + 4), b2 = wasm_v128_load(p + 8), b3 = wasm_v128_load(p + 12);
            const v128_t a0 = wasm_v128_load(p + 16), a1 = wasm_v128_load(p + 20);
            STEP(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}
NOINLINE static void cd24(float *y, int ldy, int n, const float *xp, int xs, const float *wp, int len) {
    for (int i = 0; i < n; i += 2) {
        const float *px = xp + (size_t)(i / 2) * xs, *pw = wp;
        ACC_DECL;
        for (int s = len / 4; s != 0; s--) {
            const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            const v128_t a0 = wasm_v128_load(px), a1 = wasm_v128_load(px + 4);
            STEP(a0, a1, b0, b1, b2, b3);
            pw += 16;
            px += 8;
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}
NOINLINE static void u2_24(float *y, int ldy, int n, const float *xp, int xs, const float *wp, int len) {
    const float *end = wp + (size_t)len * 4;
    for (int i = 0; i < n; i += 2) {
        const float *px = xp + (size_t)(i / 2) * xs;
        ACC_DECL;
        for (const float *pw = wp; pw < end; pw += 32, px += 16) { /* len % 8 == 0 */
            v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            v128_t a0 = wasm_v128_load(px), a1 = wasm_v128_load(px + 4);
            STEP(a0, a1, b0, b1, b2, b3);
            b0 = wasm_v128_load(pw + 16), b1 = wasm_v128_load(pw + 20), b2 = wasm_v128_load(pw + 24), b3 = wasm_v128_load(pw + 28);
            a0 = wasm_v128_load(px + 8), a1 = wasm_v128_load(px + 12);
            STEP(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}
NOINLINE static void heldx24(float *y, int ldy, int n, const float *xp, int xs, const float *wp, int len) {
    const float *end = wp + (size_t)len * 4;
    for (int i = 0; i < n; i += 2) {
        const float *px = xp + (size_t)(i / 2) * xs;
        const v128_t a0 = wasm_v128_load(px), a1 = wasm_v128_load(px + 4);
        ACC_DECL;
        for (const float *pw = wp; pw < end; pw += 16) {
            const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            STEP(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}
NOINLINE static void heldw24(float *y, int ldy, int n, const float *xp, int xs, const float *wp, int len) {
    const v128_t b0 = wasm_v128_load(wp), b1 = wasm_v128_load(wp + 4), b2 = wasm_v128_load(wp + 8), b3 = wasm_v128_load(wp + 12);
    for (int i = 0; i < n; i += 2) {
        const float *px = xp + (size_t)(i / 2) * xs, *end = px + (size_t)len * 2;
        ACC_DECL;
        for (; px < end; px += 8) {
            const v128_t a0 = wasm_v128_load(px), a1 = wasm_v128_load(px + 4);
            STEP(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}

/* pk with the mul+adds in W-major order (c0j, c1j for each W vector j) */
#define STEPB(a0, a1, b0, b1, b2, b3)                                                  \
    do {                                                                               \
        MA(c00, a0, b0); MA(c10, a1, b0); MA(c01, a0, b1); MA(c11, a1, b1);           \
        MA(c02, a0, b2); MA(c12, a1, b2); MA(c03, a0, b3); MA(c13, a1, b3);           \
    } while (0)
NOINLINE static void pkb24(float *y, int ldy, int n, const float *xp, int xs, const float *wp, int len) {
    const float *end = wp + (size_t)len * 4;
    for (int i = 0; i < n; i += 2) {
        const float *px = xp + (size_t)(i / 2) * xs;
        ACC_DECL;
        for (const float *pw = wp; pw < end; pw += 16, px += 8) {
            const v128_t a0 = wasm_v128_load(px), a1 = wasm_v128_load(px + 4);
            const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            STEPB(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}
/* the engine's tile (rows of X in place) in W-major order */
NOINLINE static void engb24(float *y, int ldy, int n, const float *x, int ldx, const float *wp, int len) {
    const float *end = wp + (size_t)len * 4;
    for (int i = 0; i < n; i += 2) {
        const float *a0p = x + (size_t)i * ldx, *a1p = a0p + ldx;
        ACC_DECL;
        for (const float *pw = wp; pw < end; pw += 16, a0p += 4, a1p += 4) {
            const v128_t a0 = wasm_v128_load(a0p), a1 = wasm_v128_load(a1p);
            const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            STEPB(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}
/* one24 in W-major order */
NOINLINE static void oneb24(float *y, int ldy, int n, const float *cb, int cs, const float *unused, int len) {
    (void)unused;
    for (int i = 0; i < n; i += 2) {
        const float *p = cb + (size_t)(i / 2) * cs, *end = p + (size_t)len * 6;
        ACC_DECL;
        for (; p < end; p += 24) {
            const v128_t a0 = wasm_v128_load(p + 16), a1 = wasm_v128_load(p + 20);
            const v128_t b0 = wasm_v128_load(p), b1 = wasm_v128_load(p + 4), b2 = wasm_v128_load(p + 8), b3 = wasm_v128_load(p + 12);
            STEPB(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}

/* one24's interleaved buffer read through two pointers (W at p, X at q = p + 16 floats) */
NOINLINE static void one2_24(float *y, int ldy, int n, const float *cb, int cs, const float *unused, int len) {
    (void)unused;
    for (int i = 0; i < n; i += 2) {
        const float *p = cb + (size_t)(i / 2) * cs, *end = p + (size_t)len * 6, *q = p + 16;
        OPAQUE(q);
        ACC_DECL;
        for (; p < end; p += 24, q += 24) {
            const v128_t b0 = wasm_v128_load(p), b1 = wasm_v128_load(p + 4), b2 = wasm_v128_load(p + 8), b3 = wasm_v128_load(p + 12);
            const v128_t a0 = wasm_v128_load(q), a1 = wasm_v128_load(q + 4);
            STEP(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}

/* W and X in one buffer with per-step stride st floats, X at q = W + d floats (two pointers) */
NOINLINE static void gap24(float *y, int ldy, int n, const float *cb, int st, const float *dq, int len) {
    for (int i = 0; i < n; i += 2) {
        const float *p = cb, *end = p + (size_t)(len / 4) * st, *q = dq;
        ACC_DECL;
        for (; p < end; p += st, q += st) {
            const v128_t b0 = wasm_v128_load(p), b1 = wasm_v128_load(p + 4), b2 = wasm_v128_load(p + 8), b3 = wasm_v128_load(p + 12);
            const v128_t a0 = wasm_v128_load(q), a1 = wasm_v128_load(q + 4);
            STEP(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}

/* pk with the X pairs padded to W's stride: xp64 = [pair][k/4][2][4] + 32 bytes, both pointers += 64 bytes */
NOINLINE static void pk64_24(float *y, int ldy, int n, const float *xp, int xs, const float *wp, int len) {
    const float *end = wp + (size_t)len * 4;
    for (int i = 0; i < n; i += 2) {
        const float *px = xp + (size_t)(i / 2) * xs;
        ACC_DECL;
        for (const float *pw = wp; pw < end; pw += 16, px += 16) {
            const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            const v128_t a0 = wasm_v128_load(px), a1 = wasm_v128_load(px + 4);
            STEP(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}
/* pk with the loop bound on the X pointer */
NOINLINE static void pkq24(float *y, int ldy, int n, const float *xp, int xs, const float *wp, int len) {
    for (int i = 0; i < n; i += 2) {
        const float *px = xp + (size_t)(i / 2) * xs, *end = px + (size_t)len * 2, *pw = wp;
        ACC_DECL;
        for (; px < end; pw += 16, px += 8) {
            const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            const v128_t a0 = wasm_v128_load(px), a1 = wasm_v128_load(px + 4);
            STEP(a0, a1, b0, b1, b2, b3);
        }
        STORE2(y + (size_t)i * ldy, ldy);
    }
}

/* the engine's k-loop alone in a leaf function (fewer live integer values: no stack-limit reload),
 * called per pair of rows: s[0..8) = the two rows' hsum'd sums */
NOINLINE static void leaf24(float *s, const float *a0p, const float *a1p, const float *wp, const float *end) {
    ACC_DECL;
    for (const float *pw = wp; pw < end; pw += 16, a0p += 4, a1p += 4) {
        const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
        const v128_t a0 = wasm_v128_load(a0p), a1 = wasm_v128_load(a1p);
        STEP(a0, a1, b0, b1, b2, b3);
    }
    STORE2(s, 4);
}
static void (*const volatile leaf_p)(float *, const float *, const float *, const float *, const float *) = leaf24;
NOINLINE static void engl24(float *y, int ldy, int n, const float *x, int ldx, const float *wp, int len) {
    const float *end = wp + (size_t)len * 4;
    float s[8] __attribute__((aligned(16)));
    for (int i = 0; i < n; i += 2) {
        const float *a0p = x + (size_t)i * ldx;
        leaf_p(s, a0p, a0p + ldx, wp, end);
        float *yi = y + (size_t)i * ldy;
        wasm_v128_store(yi, wasm_v128_load(s));
        wasm_v128_store(yi + ldy, wasm_v128_load(s + 4));
    }
}

/* ---- probes ---- */
#define CH12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
/* the probe's 12 chains plus 4 chains of R dependent integer adds each per iteration (4R adds) */
#define PROBE_INT(name, R)                                                                                            \
    NOINLINE static float name(long iters, v128_t m, v128_t c, int d) {                                               \
        CH12(PD)                                                                                                     \
        int r0 = d, r1 = d + 1, r2 = d + 2, r3 = d + 3;                                                              \
        for (long it = 0; it < iters; it++) {                                                                        \
            CH12(PS)                                                                                                 \
            for (int q = 0; q < R; q++) { r0 += d; OPAQUE(r0); r1 += d; OPAQUE(r1); r2 += d; OPAQUE(r2); r3 += d; OPAQUE(r3); } \
        }                                                                                                            \
        v128_t s = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(a0, a1), wasm_f32x4_add(a2, a3)),                    \
                                  wasm_f32x4_add(wasm_f32x4_add(a4, a5), wasm_f32x4_add(a6, a7)));                   \
        s = wasm_f32x4_add(s, wasm_f32x4_add(wasm_f32x4_add(a8, a9), wasm_f32x4_add(a10, a11)));                     \
        return wasm_f32x4_extract_lane(s, 0) + (float)(r0 + r1 + r2 + r3);                                           \
    }
#define PD(i) v128_t a##i = wasm_f32x4_splat(0.01f * i);
#define PS(i) a##i = wasm_f32x4_add(wasm_f32x4_mul(a##i, m), c);
PROBE_INT(probe_int3, 3)
PROBE_INT(probe_int6, 6)
/* 32 dependent integer adds per iteration */
NOINLINE static int chain_add(long iters, int d) {
    int r = d;
    for (long it = 0; it < iters; it++) {
#define A r += d; OPAQUE(r);
        A A A A A A A A A A A A A A A A A A A A A A A A A A A A A A A A
#undef A
    }
    return r;
}

typedef void (*tile_fn)(float *, int, int, const float *, int, const float *, int);
static tile_fn const volatile pkb_p = pkb24, engb_p = engb24, oneb_p = oneb24, one2_p = one2_24, gap_p = gap24, pk64_p = pk64_24, pkq_p = pkq24, engl_p = engl24, pk_p = pk24, one_p = one24, cd_p = cd24, u2_p = u2_24, heldx_p = heldx24, heldw_p = heldw24;
static float (*const volatile probe_int3_p)(long, v128_t, v128_t, int) = probe_int3, (*const volatile probe_int6_p)(long, v128_t, v128_t, int) = probe_int6;
static int (*const volatile chain_add_p)(long, int) = chain_add;
static void (*const volatile eng_p)(float *, int32_t, int, int32_t, int32_t, const float *, int32_t, const float *, const float *const *, int32_t) =
    sp_gemm_f32_2x4_wasmsimd;

static size_t differ(const float *a, const float *b, size_t n) {
    size_t bad = 0;
    for (size_t q = 0; q < n; q++) bad += memcmp(a + q, b + q, 4) != 0;
    return bad;
}

/* best rate (units per microsecond = G units/s) of `call` doing `work` units, 10 tries by process CPU time */
#define TIME(call, work, out)                                          \
    do {                                                               \
        for (int r_ = 0; r_ < 10; r_++) {                              \
            double t0_ = cpu_ms();                                     \
            call;                                                      \
            double dt_ = cpu_ms() - t0_;                               \
            if (dt_ > 0 && (work) / dt_ * 1e-6 > (out)) (out) = (work) / dt_ * 1e-6; \
        }                                                              \
    } while (0)

enum { V_ENG, V_PK, V_ONE, V_CD, V_U2, V_HX, V_HW, V_ENGB, V_PKB, V_ONEB, V_ONE2, V_GAP, V_PK64, V_PKQ, V_ENGL, NV };
static const char *NAMES[NV] = {"eng", "pk", "one", "cd", "u2", "heldx", "heldw", "engB", "pkB", "oneB", "one2", "gap", "pk64", "pkq", "engl"};

int main(int argc, char **argv) {
    const int R = argc > 1 ? atoi(argv[1]) : 0, K = argc > 2 ? atoi(argv[2]) : 1024, rounds = argc > 4 ? atoi(argv[4]) : 3;
    const int dry = rounds == 0, reps = dry ? 1 : rounds; /* rounds 0: each function once (for --print-wasm-code) */
    const int loop = R == 0;
    const int n = loop ? 2 : (argc > 3 ? atoi(argv[3]) : 128);
    const int rows = loop ? 4 : R;
    if (rows % 4 || K % 8 || n % 2) { fprintf(stderr, "R must be a multiple of 4, K of 8, n even\n"); return 1; }
    /* loop mode: the one panel and pair are reused `calls` times per timed call, ~2e7 flops */
    const int calls = loop && !dry ? (int)(2e7 / (2.0 * 2 * 4 * K)) + 1 : 1;
    float *x = aligned_alloc(16, (size_t)n * K * 4), *w = aligned_alloc(16, (size_t)rows * K * 4);
    float *y = aligned_alloc(16, (size_t)n * rows * 4), *y2 = aligned_alloc(16, (size_t)n * rows * 4);
    const int xoff = argc > 5 ? atoi(argv[5]) : 0; /* floats: moves the packed X against the packed W */
    float *wp = aligned_alloc(64, (size_t)rows * K * 4), *xp = (float *)aligned_alloc(64, ((size_t)n * K + (size_t)xoff + 15) / 16 * 64) + xoff;
    float *cb = aligned_alloc(16, (size_t)K * 6 * 4);
    srand(1);
    for (size_t i = 0; i < (size_t)n * K; i++) x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)rows * K; i++) w[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    const float **wrows = malloc(sizeof(float *) * (size_t)rows);
    for (int r = 0; r < rows; r++) wrows[r] = w + (size_t)r * K;
    for (int r = 0; r < rows; r += 4) sp_gemm_pack_f32_4_wasmsimd(wp + (size_t)r * K, wrows + r, K);
    for (int i = 0; i < n; i += 2)
        for (int k = 0; k < K; k += 4)
            for (int a = 0; a < 2; a++) memcpy(xp + (size_t)i * K + (size_t)k * 2 + a * 4, x + (size_t)(i + a) * K + k, 16);
    float *xp64 = aligned_alloc(64, (size_t)n * K * 8);
    for (int i = 0; i < n; i += 2)
        for (int k = 0; k < K; k += 4) memcpy(xp64 + (size_t)i * K * 2 + (size_t)k * 4, xp + (size_t)i * K + (size_t)k * 2, 32);
    const int gap = argc > 6 ? atoi(argv[6]) : 0, gst = 24 + gap; /* gap24: floats between W and X, stride */
    float *gb = aligned_alloc(64, ((size_t)(K / 4) * gst + 15) / 16 * 64);
    for (int k = 0; k < K; k += 4) {
        memcpy(gb + (size_t)(k / 4) * gst, wp + (size_t)k * 4, 64);
        memcpy(gb + (size_t)(k / 4) * gst + 16 + gap, xp + (size_t)k * 2, 32);
    }
    for (int k = 0; k < K; k += 4) {
        memcpy(cb + (size_t)k * 6, wp + (size_t)k * 4, 64);
        memcpy(cb + (size_t)k * 6 + 16, xp + (size_t)k * 2, 32);
    }
    const double flops = 2.0 * n * rows * K * calls;
    double g[NV] = {0}, peak = 0, pint = 0, pint6 = 0, ghz = 0;
    size_t bad[NV] = {0};
    volatile float sink = 0;
    const v128_t m = wasm_f32x4_splat(0.9999f), c = wasm_f32x4_splat(1e-4f);
    const long piters = dry ? 256 : 200000;
    for (int rep = 0; rep < reps; rep++) {
        const double pk = sp_probe_peak_gflops(dry ? 0.01 : 0.3);
        if (pk > peak) peak = pk;
        TIME(sink += probe_int3_p(piters, m, c, rep + 1), 24.0 * 4 * piters, pint);
        TIME(sink += probe_int6_p(piters, m, c, rep + 1), 24.0 * 4 * piters, pint6);
        TIME(sink += (float)chain_add_p(piters, rep + 1), 32.0 * piters, ghz); /* G adds/s = GHz */
        for (int v = 0; v < NV; v++) {
            if ((v == V_ONE || v == V_ONEB || v == V_ONE2 || v == V_GAP) && !loop) continue;
            const int xs = K * 2, ldx = K;
            float *out = v == V_ENG ? y : y2;
#define RUN(body) TIME(for (int q = 0; q < calls; q++) for (int rr = 0; rr < rows; rr += 4) { body; }, flops, g[v])
            switch (v) {
            case V_ENG: RUN(eng_p(out + rr, rows, 1, n, 4, x, ldx, wp + (size_t)rr * K, wrows + rr, K)); break;
            case V_PK: RUN(pk_p(out + rr, rows, n, xp, xs, wp + (size_t)rr * K, K)); break;
            case V_ONE: RUN(one_p(out + rr, rows, n, cb, 0, NULL, K)); break;
            case V_CD: RUN(cd_p(out + rr, rows, n, xp, xs, wp + (size_t)rr * K, K)); break;
            case V_U2: RUN(u2_p(out + rr, rows, n, xp, xs, wp + (size_t)rr * K, K)); break;
            case V_HX: RUN(heldx_p(out + rr, rows, n, xp, xs, wp + (size_t)rr * K, K)); break;
            case V_HW: RUN(heldw_p(out + rr, rows, n, xp, xs, wp + (size_t)rr * K, K)); break;
            case V_ENGB: RUN(engb_p(out + rr, rows, n, x, ldx, wp + (size_t)rr * K, K)); break;
            case V_PKB: RUN(pkb_p(out + rr, rows, n, xp, xs, wp + (size_t)rr * K, K)); break;
            case V_ONEB: RUN(oneb_p(out + rr, rows, n, cb, 0, NULL, K)); break;
            case V_ONE2: RUN(one2_p(out + rr, rows, n, cb, 0, NULL, K)); break;
            case V_PK64: RUN(pk64_p(out + rr, rows, n, xp64, K * 4, wp + (size_t)rr * K, K)); break;
            case V_PKQ: RUN(pkq_p(out + rr, rows, n, xp, xs, wp + (size_t)rr * K, K)); break;
            case V_ENGL: RUN(engl_p(out + rr, rows, n, x, ldx, wp + (size_t)rr * K, K)); break;
            case V_GAP: RUN(gap_p(out + rr, rows, n, gb, gst, gb + 16 + gap, K)); break;
            }
#undef RUN
            if (v != V_ENG && v != V_HX && v != V_HW) bad[v] += differ(y, y2, (size_t)n * rows);
        }
    }
    printf("%s K=%d n=%d R=%d: probe %.1f GF/s, clock %.2f GHz -> %.2f FP ops/cycle; probe with 12 / 24 integer adds per 24 FP ops %.2f / %.2f of the probe\n",
           loop ? "loop" : "shape", K, n, rows, peak, ghz, peak / 4 / ghz, pint / peak, pint6 / peak);
    printf("of the probe:");
    for (int v = 0; v < NV; v++)
        if (g[v] > 0) printf(" %s %.3f", NAMES[v], g[v] / peak);
    printf("\nvalues differing from eng:");
    for (int v = 1; v < NV; v++)
        if (g[v] > 0 && v != V_HX && v != V_HW) printf(" %s %zu", NAMES[v], bad[v]);
    printf("\n");
    (void)sink;
    return 0;
}
