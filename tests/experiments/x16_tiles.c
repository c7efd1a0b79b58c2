/* x16_tiles.c - what bounds the integer forward tile (gemm_x16_wasmsimd.c) under V8: a chain probe of
 * i32x4.dot_i16x8_s + i32x4.add against the f32 mul+add chains, then tiles side by side on packed
 * panels (4 rows of X x R rows of W, nb blocks of 32), one thread, process CPU time, best of the
 * repeats:
 *
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 --profiling-funcs -sALLOW_MEMORY_GROWTH=1 -Isrc \
 *       tests/experiments/x16_tiles.c src/common.c src/tensor.c src/kernels/[a-z]*.c -o /tmp/x16_tiles.js
 *   node --no-experimental-fetch --no-liftoff /tmp/x16_tiles.js 32 32 64 5     # nb, X groups, W tiles of 8, repeats
 *   node --no-experimental-fetch --no-liftoff --print-wasm-code /tmp/x16_tiles.js 1 1 1 1   # x64 code
 *
 *   4x4     the former tile: 4 rows of W a panel, two column pairs a step (13 instructions per 4 dots)
 *   4x8     the engine's, sp_gemm_x16_4x8_wasmsimd: 8 rows of W, one column pair a step
 *   4x8/2   the same with two column pairs a step, 4x8/16 with all sixteen (V8 issues the loads of a
 *           step first: more than 15 live vectors, spills)
 */
#include <stdio.h>
#include <stdlib.h>
#include <emscripten.h>
#include "kernels/wasmsimd.h"

EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });

#define CH12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
/* 12 chains a = a*m + c (f32) and a = dot(a, m) + c (i16 pairs -> i32) */
NOINLINE static v128_t f32_chains(long n, v128_t m, v128_t c) {
#define D(i) v128_t a##i = wasm_f32x4_splat(0.01f * i);
    CH12(D)
#undef D
    for (long i = 0; i < n; i++) {
#define S(i) a##i = wasm_f32x4_add(wasm_f32x4_mul(a##i, m), c);
        CH12(S)
#undef S
    }
#define R(i) a0 = wasm_f32x4_add(a0, a##i);
    CH12(R)
#undef R
    return a0;
}
NOINLINE static v128_t dot_chains(long n, v128_t m, v128_t c) {
#define D(i) v128_t a##i = wasm_i32x4_splat(i);
    CH12(D)
#undef D
    for (long i = 0; i < n; i++) {
#define S(i) a##i = wasm_i32x4_add(wasm_i32x4_dot_i16x8(a##i, m), c);
        CH12(S)
#undef S
    }
#define R(i) a0 = wasm_i32x4_add(a0, a##i);
    CH12(R)
#undef R
    return a0;
}

/* column pair o of a 4-row W panel (wq [nb][16][4][2]) against the four rows of X */
#define STEP4(o)                                                                                   \
    do {                                                                                           \
        const v128_t w_ = wasm_v128_load(pw + (o) * 8);                                            \
        a0 = wasm_i32x4_add(a0, wasm_i32x4_dot_i16x8(w_, wasm_v128_load32_splat(px + (o) * 4)));     \
        a1 = wasm_i32x4_add(a1, wasm_i32x4_dot_i16x8(w_, wasm_v128_load32_splat(px + (o) * 4 + 1))); \
        a2 = wasm_i32x4_add(a2, wasm_i32x4_dot_i16x8(w_, wasm_v128_load32_splat(px + (o) * 4 + 2))); \
        a3 = wasm_i32x4_add(a3, wasm_i32x4_dot_i16x8(w_, wasm_v128_load32_splat(px + (o) * 4 + 3))); \
    } while (0)
NOINLINE static void tile4x4(float *y, int32_t ldy, const int32_t *xq, const float *xs, const int16_t *wq, const float *ws, int32_t nb) {
    v128_t f[4] = {wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f), wasm_f32x4_splat(0.0f)};
    for (int32_t b = 0; b < nb; b++) {
        const int32_t *px = xq + (size_t)b * 64;
        const int16_t *pw = wq + (size_t)b * 128, *const pend = pw + 128;
        v128_t a0 = wasm_i32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
#pragma clang loop unroll(disable)
        for (; pw < pend; pw += 16, px += 8) {
            STEP4(0);
            STEP4(1);
        }
        const v128_t d = wasm_v128_load(ws + (size_t)b * 8), a[4] = {a0, a1, a2, a3};
        for (int r = 0; r < 4; r++) MA(f[r], wasm_f32x4_convert_i32x4(a[r]), wasm_f32x4_mul(d, wasm_v128_load32_splat(xs + b * 8 + r)));
    }
    for (int r = 0; r < 4; r++) wasm_v128_store(y + (size_t)r * ldy, f[r]);
}

/* column pair o of an 8-row W panel (wq [nb][16][2][4][2]) against the four rows of X */
#define STEP8(o)                                                                                   \
    do {                                                                                           \
        const v128_t w0 = wasm_v128_load(pw + (o) * 16), w1 = wasm_v128_load(pw + (o) * 16 + 8);   \
        for (int r_ = 0; r_ < 4; r_++) {                                                           \
            const v128_t bx = wasm_v128_load32_splat(px + (o) * 4 + r_);                           \
            a[r_] = wasm_i32x4_add(a[r_], wasm_i32x4_dot_i16x8(w0, bx));                           \
            a[4 + r_] = wasm_i32x4_add(a[4 + r_], wasm_i32x4_dot_i16x8(w1, bx));                   \
        }                                                                                          \
    } while (0)
#define TILE4X8(name, PAIRS)                                                                                               \
    NOINLINE static void name(float *y, int32_t ldy, const int32_t *xq, const float *xs, const int16_t *wq, const float *ws, \
                              int32_t nb) {                                                                                \
        v128_t f[8];                                                                                                       \
        for (int i = 0; i < 8; i++) f[i] = wasm_f32x4_splat(0.0f);                                                         \
        for (int32_t b = 0; b < nb; b++) {                                                                                 \
            const int32_t *px = xq + (size_t)b * 64;                                                                       \
            const int16_t *pw = wq + (size_t)b * 256, *const pend = pw + 256;                                              \
            v128_t a[8];                                                                                                   \
            for (int i = 0; i < 8; i++) a[i] = wasm_i32x4_splat(0);                                                        \
            _Pragma("clang loop unroll(disable)") for (; pw < pend; pw += 16 * (PAIRS), px += 4 * (PAIRS)) {              \
                _Pragma("unroll") for (int o = 0; o < (PAIRS); o++) STEP8(o);                                              \
            }                                                                                                              \
            const v128_t d0 = wasm_v128_load(ws + (size_t)b * 16), d1 = wasm_v128_load(ws + (size_t)b * 16 + 4);          \
            for (int r = 0; r < 4; r++) {                                                                                  \
                const v128_t s = wasm_v128_load32_splat(xs + b * 8 + r);                                                   \
                MA(f[2 * r], wasm_f32x4_convert_i32x4(a[r]), wasm_f32x4_mul(d0, s));                                       \
                MA(f[2 * r + 1], wasm_f32x4_convert_i32x4(a[4 + r]), wasm_f32x4_mul(d1, s));                               \
            }                                                                                                              \
        }                                                                                                                  \
        for (int r = 0; r < 4; r++) {                                                                                      \
            wasm_v128_store(y + (size_t)r * ldy, f[2 * r]);                                                                \
            wasm_v128_store(y + (size_t)r * ldy + 4, f[2 * r + 1]);                                                        \
        }                                                                                                                  \
    }
TILE4X8(tile4x8_2, 2)
TILE4X8(tile4x8_16, 16)
typedef void (*tile_fn)(float *, int32_t, const int32_t *, const float *, const int16_t *, const float *, int32_t);
typedef v128_t (*chain_fn)(long, v128_t, v128_t);
KERNEL_PTR(tile_fn, tile4x4);
KERNEL_PTR(tile_fn, tile4x8_2);
KERNEL_PTR(tile_fn, tile4x8_16);
KERNEL_PTR(chain_fn, f32_chains);
KERNEL_PTR(chain_fn, dot_chains);

static void engine4x8(float *y, int32_t ldy, const int32_t *xq, const float *xs, const int16_t *wq, const float *ws, int32_t nb) {
    sp_gemm_x16_4x8_wasmsimd(y, ldy, 1, 4, 8, xq, xs, wq, ws, nb, 0);
}

int main(int argc, char **argv) {
    const int nb = argc > 1 ? atoi(argv[1]) : 32, groups = argc > 2 ? atoi(argv[2]) : 32, wt = argc > 3 ? atoi(argv[3]) : 64,
              reps = argc > 4 ? atoi(argv[4]) : 5;
    int32_t *xq = aligned_alloc(16, (size_t)groups * nb * 64 * 4);
    float *xs = aligned_alloc(16, (size_t)groups * nb * 8 * 4), *ws = aligned_alloc(16, (size_t)wt * nb * 16 * 4);
    int16_t *wq = aligned_alloc(16, (size_t)wt * nb * 256 * 2);
    float *y = aligned_alloc(16, (size_t)groups * 4 * wt * 8 * 4);
    for (size_t i = 0; i < (size_t)groups * nb * 64; i++) xq[i] = rand();
    for (size_t i = 0; i < (size_t)groups * nb * 8; i++) xs[i] = 1e-3f * (float)(rand() % 100);
    for (size_t i = 0; i < (size_t)wt * nb * 256; i++) wq[i] = (int16_t)(rand() % 255 - 127);
    for (size_t i = 0; i < (size_t)wt * nb * 16; i++) ws[i] = 1e-3f * (float)(rand() % 100);
    const int32_t ldy = wt * 8;
    const double dots = (double)wt * 8 * groups * 4 * nb * 32 / 8; /* i32x4.dot_i16x8_s per pass, 8 multiply-adds each */
    v128_t m = wasm_i16x8_make(1, 2, 3, 4, 5, 6, 7, 8), c = wasm_i16x8_make(3, 1, 4, 1, 5, 9, 2, 6);
    v128_t fm = wasm_f32x4_splat(0.9999f), fc = wasm_f32x4_splat(0.0001f);
    OPAQUE(m); OPAQUE(c); OPAQUE(fm); OPAQUE(fc);
    const long n = 20000000;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = cpu_ms();
        v128_t r0 = f32_chains_p(n, fm, fc);
        double t1 = cpu_ms();
        v128_t r1 = dot_chains_p(n, m, c);
        double t2 = cpu_ms();
        OPAQUE(r0); OPAQUE(r1);
        printf("chains: f32 mul+add %.2f G mul/s, dot+add %.2f G dot/s; tiles, G dot/s (GFLOP-equivalent/s):", 12.0 * n / (t1 - t0) / 1e6,
               12.0 * n / (t2 - t1) / 1e6);
        static const char *names[4] = {"4x4", "4x8", "4x8/2", "4x8/16"};
        for (int v = 0; v < 4; v++) {
            double s = cpu_ms();
            for (int t = 0; t < wt; t++)
                for (int g = 0; g < groups; g++) {
                    const int32_t *gx = xq + (size_t)g * nb * 64;
                    const float *gs = xs + (size_t)g * nb * 8;
                    float *gy = y + (size_t)g * 4 * ldy + 8 * t;
                    if (v == 0) { /* two 4-row panels of the same size as one 8-row panel */
                        tile4x4_p(gy, ldy, gx, gs, wq + (size_t)t * nb * 256, ws + (size_t)t * nb * 16, nb);
                        tile4x4_p(gy + 4, ldy, gx, gs, wq + (size_t)t * nb * 256 + (size_t)nb * 128, ws + (size_t)t * nb * 16 + (size_t)nb * 8, nb);
                    } else {
                        (v == 1 ? engine4x8 : v == 2 ? tile4x8_2_p : tile4x8_16_p)(gy, ldy, gx, gs, wq + (size_t)t * nb * 256, ws + (size_t)t * nb * 16, nb);
                    }
                }
            const double dt = cpu_ms() - s;
            printf(" %s %.2f (%.1f)", names[v], dots / dt / 1e6, 16.0 * dots / dt / 1e6);
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
