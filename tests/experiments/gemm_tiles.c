/* gemm_tiles.c - what bounds the f32 GEMM tile under V8, and what an int16 x int8 tile does: the tiles
 * side by side on one matrix (Y[120, R] = X[120, K] . W[R, K]^T, one thread), each against the f32x4
 * mul+add probe, timed by process CPU time (best of several rounds: the machine is shared).
 *
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 --profiling-funcs -sALLOW_MEMORY_GROWTH=1 -Isrc \
 *       tests/experiments/gemm_tiles.c src/kernels/probe.c src/kernels/gemm_wasmsimd.c src/kernels/pool.c \
 *       src/common.c -o /tmp/gemm_tiles.js
 *   node --no-experimental-fetch --no-liftoff /tmp/gemm_tiles.js 768 288 5     # R K rounds
 *   node --no-experimental-fetch --no-liftoff --print-wasm-code /tmp/gemm_tiles.js 96 32 1   # x64 code
 *
 * (--no-liftoff: every function optimised from its first call, so a tile is never timed in V8's
 * baseline tier. Node 20's V8 prints the TurboFan code of each function by name.)
 *
 *   dot3x3   the former tile (sp_gemm_f32_3x3_wasmsimd until issue 17): 3 rows of X x 3 rows of W
 *   dotw2x4  the engine's tile, sp_gemm_f32_2x4_wasmsimd: 2 rows of X x 4 rows of W packed
 *            [k/4][4][4] (sp_gemm_pack_f32_4_wasmsimd): the same formula per element
 *   dotp2x4  as dotw2x4 with X packed [i/2][k/4][2][4] too (one pointer per operand)
 *   pack3x3  3 x 3 over packed X and W: 9 accumulators, 6 loads per 18 mul+add
 *   held2x4  dotw2x4's loop with the two X vectors loaded once per row pair, not per step: 4 loads per
 *            16 mul+add instead of 6 (not a product: it measures what the X loads cost)
 *   int16    Q8_0 weights x activations rounded to 16 bits per block of 32, i32x4.dot_i16x8_s, 1 x 4
 * "model" is mul+add / (mul+add + vector loads) per step: the fraction of the probe if every vector
 * load took the issue slot of an FP operation (the probe has no loads). */
#include <wasm_simd128.h>
#include "kernels/probe.h"
#include "kernels/wasmsimd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <emscripten.h>
EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });
NOINLINE static void dot33(float *y, int ldy, int n, const float *x, int ldx, const float *w0, const float *w1, const float *w2, int len) {
    for (int i = 0; i < n; i += 3) {
        const float *x0 = x + (size_t)i * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx;
        v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00, c21 = c00, c22 = c00;
        for (int k = 0; k < len; k += 4) {
            v128_t b0 = wasm_v128_load(w0 + k), b1 = wasm_v128_load(w1 + k), b2 = wasm_v128_load(w2 + k), a;
            a = wasm_v128_load(x0 + k); MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2);
            a = wasm_v128_load(x1 + k); MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2);
            a = wasm_v128_load(x2 + k); MA(c20, a, b0); MA(c21, a, b1); MA(c22, a, b2);
        }
        float *yi = y + (size_t)i * ldy; /* 3 lanes each, as store3 */
        v128_t s0 = hsum4x4(c00, c01, c02, c02), s1 = hsum4x4(c10, c11, c12, c12), s2 = hsum4x4(c20, c21, c22, c22);
        wasm_v128_store64_lane(yi, s0, 0); wasm_v128_store32_lane(yi + 2, s0, 2);
        wasm_v128_store64_lane(yi + ldy, s1, 0); wasm_v128_store32_lane(yi + ldy + 2, s1, 2);
        wasm_v128_store64_lane(yi + 2 * ldy, s2, 0); wasm_v128_store32_lane(yi + 2 * ldy + 2, s2, 2);
    }
}
/* packed 2x4: xp = [n/2][len/4][2][4], wp = [len/4][4][4] */
NOINLINE static void dotp24(float *y, int ldy, int n, const float *xp, const float *wp, int len) {
    for (int i = 0; i < n; i += 2) {
        const float *px = xp + (size_t)i * len, *pw = wp, *end = wp + (size_t)len * 4;
        v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        for (; pw < end; pw += 16, px += 8) {
            v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12), a;
            a = wasm_v128_load(px); MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2); MA(c03, a, b3);
            a = wasm_v128_load(px + 4); MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2); MA(c13, a, b3);
        }
        float *yi = y + (size_t)i * ldy;
        wasm_v128_store(yi, hsum4x4(c00, c01, c02, c03));
        wasm_v128_store(yi + ldy, hsum4x4(c10, c11, c12, c13));
    }
}
/* packed 3x3: xp = [n/3][len/4][3][4], wp = [len/4][3][4] */
NOINLINE static void pack33(float *y, int ldy, int n, const float *xp, const float *wp, int len) {
    for (int i = 0; i < n; i += 3) {
        const float *px = xp + (size_t)i * len, *pw = wp, *end = wp + (size_t)len * 3;
        v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00, c21 = c00, c22 = c00;
        for (; pw < end; pw += 12, px += 12) {
            v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), a;
            a = wasm_v128_load(px); MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2);
            a = wasm_v128_load(px + 4); MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2);
            a = wasm_v128_load(px + 8); MA(c20, a, b0); MA(c21, a, b1); MA(c22, a, b2);
        }
        float *yi = y + (size_t)i * ldy; /* 3 lanes each */
        v128_t s0 = hsum4x4(c00, c01, c02, c02), s1 = hsum4x4(c10, c11, c12, c12), s2 = hsum4x4(c20, c21, c22, c22);
        wasm_v128_store64_lane(yi, s0, 0); wasm_v128_store32_lane(yi + 2, s0, 2);
        wasm_v128_store64_lane(yi + ldy, s1, 0); wasm_v128_store32_lane(yi + ldy + 2, s1, 2);
        wasm_v128_store64_lane(yi + 2 * ldy, s2, 0); wasm_v128_store32_lane(yi + 2 * ldy + 2, s2, 2);
    }
}
/* dotw2x4's loop with x held: the same mul+add work, 4 loads per step */
NOINLINE static void held24(float *y, int ldy, int n, const float *x, int ldx, const float *wp, int len) {
    const float *end = wp + (size_t)len * 4;
    for (int i = 0; i < n; i += 2) {
        const v128_t a0 = wasm_v128_load(x + (size_t)i * ldx), a1 = wasm_v128_load(x + (size_t)(i + 1) * ldx);
        v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        for (const float *pw = wp; pw < end; pw += 16) {
            const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            MA(c00, a0, b0); MA(c01, a0, b1); MA(c02, a0, b2); MA(c03, a0, b3);
            MA(c10, a1, b0); MA(c11, a1, b1); MA(c12, a1, b2); MA(c13, a1, b3);
        }
        float *yi = y + (size_t)i * ldy;
        wasm_v128_store(yi, hsum4x4(c00, c01, c02, c03));
        wasm_v128_store(yi + ldy, hsum4x4(c10, c11, c12, c13));
    }
}
static inline v128_t isum4x4(v128_t a, v128_t b, v128_t c, v128_t d) {
    v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}
/* int: W packed per block of 32 as [nb][4 rows][32 int8] + scales [nb][4] f32; x as int16 [n][K] + sx [n][nb].
 * 1 x 4 tile: y[i, r..r+4] = sum_b (d_b * sx_ib) * sum(q * xq) */
#define DOT32(p, x0, x1, x2, x3)                                                                        \
    wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8((p)), x0),                   \
                                  wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8((p) + 8), x1)),              \
                   wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8((p) + 16), x2),              \
                                  wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8((p) + 24), x3)))
NOINLINE static void i16_1x4(float *y, int ldy, int n, const int16_t *xq, const float *sx, int nb, const int8_t *wq, const float *wd) {
    for (int i = 0; i < n; i++) {
        const int16_t *xb = xq + (size_t)i * nb * 32;
        const float *sxi = sx + (size_t)i * nb;
        v128_t acc = wasm_f32x4_splat(0.0f);
        const int8_t *p = wq;
        const float *d = wd;
        for (int b = 0; b < nb; b++, xb += 32, p += 128, d += 4) {
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
            const v128_t s = isum4x4(DOT32(p, x0, x1, x2, x3), DOT32(p + 32, x0, x1, x2, x3), DOT32(p + 64, x0, x1, x2, x3), DOT32(p + 96, x0, x1, x2, x3));
            MA(acc, wasm_f32x4_convert_i32x4(s), wasm_f32x4_mul(wasm_v128_load(d), wasm_v128_load32_splat(sxi + b)));
        }
        wasm_v128_store(y + (size_t)i * ldy, acc);
    }
}

typedef void (*dot_fn)(float *, int, int, const float *, int, const float *, const float *, const float *, int);
typedef void (*dotp_fn)(float *, int, int, const float *, const float *, int);
typedef void (*ifn)(float *, int, int, const int16_t *, const float *, int, const int8_t *, const float *);
typedef void (*held_fn)(float *, int, int, const float *, int, const float *, int);
static dot_fn const volatile dot33_p = dot33;
static dotp_fn const volatile dotp24_p = dotp24, pack33_p = pack33;
static held_fn const volatile held24_p = held24;
static ifn const volatile i16_p = i16_1x4;

static size_t differ(const float *a, const float *b, size_t n) {
    size_t bad = 0;
    for (size_t q = 0; q < n; q++) bad += memcmp(a + q, b + q, 4) != 0;
    return bad;
}

int main(int argc, char **argv) {
    const int n = 120; /* divisible by 2 and 3 */
    const int R = argc > 1 ? atoi(argv[1]) : 768, K = argc > 2 ? atoi(argv[2]) : 288, reps = argc > 3 ? atoi(argv[3]) : 3;
    if (R % 12 || K % 32) { fprintf(stderr, "R must be a multiple of 12, K of 32\n"); return 1; }
    const int nb = K / 32;
    float *x = aligned_alloc(16, (size_t)n * K * 4), *w = aligned_alloc(16, (size_t)R * K * 4);
    float *y = aligned_alloc(16, (size_t)n * R * 4), *y2 = aligned_alloc(16, (size_t)n * R * 4);
    float *wp = aligned_alloc(16, (size_t)R * K * 4), *xp = aligned_alloc(16, (size_t)n * K * 4);
    float *sx = aligned_alloc(16, (size_t)n * nb * 4), *wd = aligned_alloc(16, (size_t)R * nb * 4);
    int16_t *xq = aligned_alloc(16, (size_t)n * K * 2);
    int8_t *wq = aligned_alloc(16, (size_t)R * K);
    srand(1);
    for (size_t i = 0; i < (size_t)n * K; i++) x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    /* W holds Q8_0 values d * q, so the f32 and the int16 tiles multiply the same weights */
    for (int r = 0; r < R; r++)
        for (int b = 0; b < nb; b++) {
            float d = 0.001f * (1 + rand() % 7);
            for (int j = 0; j < 32; j++) {
                int q = rand() % 255 - 127;
                w[(size_t)r * K + b * 32 + j] = d * q;
                wq[((size_t)(r / 4) * nb + b) * 128 + (r % 4) * 32 + j] = (int8_t)q;
            }
            wd[((size_t)(r / 4) * nb + b) * 4 + r % 4] = d;
        }
    for (int r = 0; r < R; r += 4) {
        const float *rows4[4] = {w + (size_t)r * K, w + (size_t)(r + 1) * K, w + (size_t)(r + 2) * K, w + (size_t)(r + 3) * K};
        sp_gemm_pack_f32_4_wasmsimd(wp + (size_t)r * K, rows4, K);
    }
    for (int i = 0; i < n; i += 2)
        for (int k = 0; k < K; k += 4)
            for (int a = 0; a < 2; a++) memcpy(xp + (size_t)i * K + (size_t)k * 2 + a * 4, x + (size_t)(i + a) * K + k, 16);
    for (int i = 0; i < n; i++)
        for (int b = 0; b < nb; b++) {
            float m = 0;
            for (int j = 0; j < 32; j++) { float v = x[(size_t)i * K + b * 32 + j]; m = v < 0 ? (-v > m ? -v : m) : (v > m ? v : m); }
            float d = m / 32767.0f;
            sx[(size_t)i * nb + b] = d;
            for (int j = 0; j < 32; j++) { float v = x[(size_t)i * K + b * 32 + j] / d; xq[(size_t)i * K + b * 32 + j] = (int16_t)(v < 0 ? v - 0.5f : v + 0.5f); }
        }
    float *wp3 = aligned_alloc(16, (size_t)R * K * 4), *xp3 = aligned_alloc(16, (size_t)n * K * 4);
    for (int r = 0; r < R; r += 3)
        for (int k = 0; k < K; k += 4)
            for (int b = 0; b < 3; b++) memcpy(wp3 + (size_t)r * K + (size_t)k * 3 + b * 4, w + (size_t)(r + b) * K + k, 16);
    for (int i = 0; i < n; i += 3)
        for (int k = 0; k < K; k += 4)
            for (int a = 0; a < 3; a++) memcpy(xp3 + (size_t)i * K + (size_t)k * 3 + a * 4, x + (size_t)(i + a) * K + k, 16);
    const float **wrows = malloc(sizeof(float *) * (size_t)R);
    for (int r = 0; r < R; r++) wrows[r] = w + (size_t)r * K;
    const double flops = 2.0 * n * R * K;
    /* best GFLOP/s over the rounds, each the best of 10 calls by process CPU time */
#define TIME(call, out) do { double bt_ = 1e30; for (int r_ = 0; r_ < 10; r_++) { double t0_ = cpu_ms(); call; double dt_ = cpu_ms() - t0_; \
        if (dt_ > 0 && dt_ < bt_) bt_ = dt_; } const double g_ = flops / bt_ * 1e-6; if (g_ > out) out = g_; } while (0)
    double peak = 0, g33 = 0, gw = 0, gp = 0, g3 = 0, gh = 0, gi = 0, err = 0, mag = 0;
    size_t dw = 0, dp = 0, d3 = 0;
    for (int rep = 0; rep < reps; rep++) {
        const double pk = sp_probe_peak_gflops(0.3);
        if (pk > peak) peak = pk;
        TIME(for (int rr = 0; rr < R; rr += 3) dot33_p(y + rr, R, n, x, K, w + (size_t)rr * K, w + (size_t)(rr + 1) * K, w + (size_t)(rr + 2) * K, K), g33);
        TIME(for (int rr = 0; rr < R; rr += 4) sp_gemm_f32_2x4_wasmsimd(y2 + rr, R, 1, n, 4, x, K, wp + (size_t)rr * K, wrows + rr, K), gw);
        dw += differ(y, y2, (size_t)n * R);
        TIME(for (int rr = 0; rr < R; rr += 4) dotp24_p(y2 + rr, R, n, xp, wp + (size_t)rr * K, K), gp);
        dp += differ(y, y2, (size_t)n * R);
        TIME(for (int rr = 0; rr < R; rr += 3) pack33_p(y2 + rr, R, n, xp3, wp3 + (size_t)rr * K, K), g3);
        d3 += differ(y, y2, (size_t)n * R);
        TIME(for (int rr = 0; rr < R; rr += 4) held24_p(y2 + rr, R, n, x, K, wp + (size_t)rr * K, K), gh);
        TIME(for (int rr = 0; rr < R; rr += 4) i16_p(y2 + rr, R, n, xq, sx, nb, wq + (size_t)rr * K, wd + (size_t)rr * nb), gi);
        for (size_t q = 0; q < (size_t)n * R; q++) {
            double e = y[q] - y2[q], m = y[q];
            if (e < 0) e = -e;
            if (m < 0) m = -m;
            if (e > err) err = e;
            if (m > mag) mag = m;
        }
    }
    printf("probe %.1f GF/s (best of %d rounds); of the probe (model): dot3x3 %.2f (0.75), dotw2x4 %.2f (0.73), dotp2x4 %.2f (0.73), "
           "pack3x3 %.2f (0.75), held2x4 %.2f (0.80); values differing from dot3x3: dotw2x4 %zu, dotp2x4 %zu, pack3x3 %zu; "
           "int16 1x4 x%.2f of dotw2x4 (max |error| %.2g, max |y| %.2g)\n",
           peak, reps, g33 / peak, gw / peak, gp / peak, g3 / peak, gh / peak, dw, dp, d3, gi / gw, err, mag);
    return 0;
}
