/* attention_wasmsimd.c - wasm SIMD128 row kernels of attention.h, same signatures and the same
 * operations as attention_scalar.c (bit for bit).
 *
 *   qk  : "dot form" tiles of 4 rows of Y x 2 rows of X (8 f32x4 accumulators), or 1 x 4 for a
 *         single row (decoding); lane sums reduced with the fixed (l0+l2)+(l1+l3) order.
 *   av  : "outer product" tiles of 4 rows of O x 8 floats of head_dim, a_ij splatted (1 x 16 for
 *         a single row).
 *   atv : tiles of 4 rows of Z x 8 floats, the 4 a values of one row of A loaded together.
 *   rmsnorm : double sums in two f64x2 (lanes 0-1 and 2-3); rope : 2 adjacent or 4 split pairs a step.
 * Leftover rows are clamped (duplicate work, only valid rows stored). No FMA: mul then add. */
#ifdef __wasm_simd128__
#include <float.h>
#include <math.h>
#include <string.h>
#include <wasm_simd128.h>
#include "attention.h"

/* Kernels stay out of line (called many times, so V8 tiers them up; see wasmsimd.c). */
#define NOINLINE __attribute__((noinline))

#define MA(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))
#define SPLAT(v, i) wasm_i32x4_shuffle(v, v, i, i, i, i)

static inline int32_t imin(int32_t a, int32_t b) { return a < b ? a : b; }

/* lane k of the result = (v0+v2)+(v1+v3) of argument k */
static inline v128_t hsum4x4(v128_t a, v128_t b, v128_t c, v128_t d) {
    v128_t ab = wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    v128_t cd = wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_f32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/* ---- exp: the polynomial of sp_attn_expf, lane by lane ---- */

typedef struct { v128_t hi, lo, log2e, c1, c2, p0, p1, p2, p3, p4, p5, one, magic, bias, inf, zero; } exp_consts;

/* Built once per kernel call, outside the loops (V8 does not hoist v128 constants). */
static inline exp_consts exp_consts_make(void) {
    exp_consts c = {wasm_f32x4_splat(88.0f), wasm_f32x4_splat(-87.0f), wasm_f32x4_splat(1.44269504088896341f),
                    wasm_f32x4_splat(0.693359375f), wasm_f32x4_splat(-2.12194440e-4f), wasm_f32x4_splat(1.9875691500e-4f),
                    wasm_f32x4_splat(1.3981999507e-3f), wasm_f32x4_splat(8.3334519073e-3f), wasm_f32x4_splat(4.1665795894e-2f),
                    wasm_f32x4_splat(1.6666665459e-1f), wasm_f32x4_splat(5.0000001201e-1f), wasm_f32x4_splat(1.0f),
                    wasm_f32x4_splat(12582912.0f), wasm_i32x4_splat(0x4B400000 - 127), wasm_f32x4_splat(INFINITY),
                    wasm_f32x4_splat(0.0f)};
    return c;
}

static inline v128_t exp4(v128_t x, const exp_consts *c) {
    const v128_t over = wasm_f32x4_gt(x, c->hi), under = wasm_f32x4_lt(x, c->lo);
    x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, c->lo), c->hi); /* pseudo-min/max: one instruction each, NaN stays NaN */
    const v128_t t = wasm_f32x4_add(wasm_f32x4_mul(x, c->log2e), c->magic); /* n in the low mantissa bits */
    const v128_t fx = wasm_f32x4_sub(t, c->magic);
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, c->c1));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(fx, c->c2));
    v128_t y = c->p0;
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p1);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p2);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p3);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p4);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p5);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, wasm_f32x4_mul(r, r)), r);
    y = wasm_f32x4_add(y, c->one);
    const v128_t p2 = wasm_i32x4_shl(wasm_i32x4_sub(t, c->bias), 23); /* 2^n = (n + 127) << 23 */
    y = wasm_f32x4_mul(y, p2);
    y = wasm_v128_bitselect(c->inf, y, over);
    return wasm_v128_bitselect(c->zero, y, under);
}

/* ---- qk ---- */

/* d[r*ldd + j] (r < ni) for keys j, j+1 (nj = 1 or 2) from a 4 x 2 tile */
NOINLINE static void qk_4x2(float *dd, int64_t ldd, int32_t ni, const float *y0, const float *y1, const float *y2,
                            const float *y3, const float *x0, const float *x1, int32_t nj, int32_t hd, float scale) {
    v128_t a00 = wasm_f32x4_splat(0.0f), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    const int32_t d4 = hd & ~3;
    for (int32_t d = 0; d < d4; d += 4) {
        const v128_t b0 = wasm_v128_load(x0 + d), b1 = wasm_v128_load(x1 + d);
        v128_t a = wasm_v128_load(y0 + d); MA(a00, a, b0); MA(a01, a, b1);
        a = wasm_v128_load(y1 + d); MA(a10, a, b0); MA(a11, a, b1);
        a = wasm_v128_load(y2 + d); MA(a20, a, b0); MA(a21, a, b1);
        a = wasm_v128_load(y3 + d); MA(a30, a, b0); MA(a31, a, b1);
    }
    float s0[4], s1[4];
    wasm_v128_store(s0, hsum4x4(a00, a10, a20, a30)); /* key 0, rows 0..3 */
    wasm_v128_store(s1, hsum4x4(a01, a11, a21, a31)); /* key 1 */
    const float *ys[4] = {y0, y1, y2, y3};
    for (int32_t r = 0; r < ni; r++) {
        float v0 = s0[r], v1 = s1[r];
        for (int32_t d = d4; d < hd; d++) { v0 += ys[r][d] * x0[d]; v1 += ys[r][d] * x1[d]; }
        dd[r * ldd] = v0 * scale;
        if (nj > 1) dd[r * ldd + 1] = v1 * scale;
    }
}

/* d[j] (j < nj <= 4) for one row y and keys x0..x3 */
NOINLINE static void qk_1x4(float *dd, const float *y, const float *x0, const float *x1, const float *x2, const float *x3,
                            int32_t nj, int32_t hd, float scale) {
    v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0;
    const int32_t d4 = hd & ~3;
    for (int32_t d = 0; d < d4; d += 4) {
        const v128_t a = wasm_v128_load(y + d);
        MA(c0, a, wasm_v128_load(x0 + d));
        MA(c1, a, wasm_v128_load(x1 + d));
        MA(c2, a, wasm_v128_load(x2 + d));
        MA(c3, a, wasm_v128_load(x3 + d));
    }
    const v128_t s = hsum4x4(c0, c1, c2, c3);
    if (nj == 4 && d4 == hd) {
        wasm_v128_store(dd, wasm_f32x4_mul(s, wasm_f32x4_splat(scale)));
        return;
    }
    float t[4];
    wasm_v128_store(t, s);
    const float *xs[4] = {x0, x1, x2, x3};
    for (int32_t j = 0; j < nj; j++) {
        float v = t[j];
        for (int32_t d = d4; d < hd; d++) v += y[d] * xs[j][d];
        dd[j] = v * scale;
    }
}

static void qk_wasmsimd(float *dd, int64_t ldd, const float *y, int64_t ldy, int32_t ny, const float *x, int64_t ldx, int32_t nx,
                        int32_t hd, float scale) {
    if (nx <= 0) return;
    for (int32_t i = 0; i < ny; i += 4) {
        const int32_t ni = imin(4, ny - i);
        const float *y0 = y + i * ldy;
        if (ni == 1) {
            for (int32_t j = 0; j < nx; j += 4) {
                const int32_t nj = imin(4, nx - j);
                qk_1x4(dd + i * ldd + j, y0, x + j * ldx, x + (j + imin(1, nj - 1)) * ldx, x + (j + imin(2, nj - 1)) * ldx,
                       x + (j + imin(3, nj - 1)) * ldx, nj, hd, scale);
            }
            continue;
        }
        const float *y1 = y0 + imin(1, ni - 1) * ldy, *y2 = y0 + imin(2, ni - 1) * ldy, *y3 = y0 + imin(3, ni - 1) * ldy;
        for (int32_t j = 0; j < nx; j += 2) {
            const int32_t nj = imin(2, nx - j);
            qk_4x2(dd + i * ldd + j, ldd, ni, y0, y1, y2, y3, x + j * ldx, x + (j + nj - 1) * ldx, nj, hd, scale);
        }
    }
}

/* ---- av: o_i += sum_j a_ij x_j ---- */

/* 4 rows x 8 columns [c, c+8) */
NOINLINE static void av_4x8(float *o0, float *o1, float *o2, float *o3, int32_t ni, const float *a0, const float *a1,
                            const float *a2, const float *a3, const float *x, int64_t ldx, int32_t nx) {
    v128_t c00 = wasm_v128_load(o0), c01 = wasm_v128_load(o0 + 4), c10 = wasm_v128_load(o1), c11 = wasm_v128_load(o1 + 4),
           c20 = wasm_v128_load(o2), c21 = wasm_v128_load(o2 + 4), c30 = wasm_v128_load(o3), c31 = wasm_v128_load(o3 + 4);
    for (int32_t j = 0; j < nx; j++) {
        const float *xj = x + j * ldx;
        const v128_t b0 = wasm_v128_load(xj), b1 = wasm_v128_load(xj + 4);
        v128_t s = wasm_f32x4_splat(a0[j]); MA(c00, s, b0); MA(c01, s, b1);
        s = wasm_f32x4_splat(a1[j]); MA(c10, s, b0); MA(c11, s, b1);
        s = wasm_f32x4_splat(a2[j]); MA(c20, s, b0); MA(c21, s, b1);
        s = wasm_f32x4_splat(a3[j]); MA(c30, s, b0); MA(c31, s, b1);
    }
    wasm_v128_store(o0, c00); wasm_v128_store(o0 + 4, c01);
    if (ni > 1) { wasm_v128_store(o1, c10); wasm_v128_store(o1 + 4, c11); }
    if (ni > 2) { wasm_v128_store(o2, c20); wasm_v128_store(o2 + 4, c21); }
    if (ni > 3) { wasm_v128_store(o3, c30); wasm_v128_store(o3 + 4, c31); }
}

/* one row x 16 columns */
NOINLINE static void av_1x16(float *o, const float *a, const float *x, int64_t ldx, int32_t nx) {
    v128_t c0 = wasm_v128_load(o), c1 = wasm_v128_load(o + 4), c2 = wasm_v128_load(o + 8), c3 = wasm_v128_load(o + 12);
    for (int32_t j = 0; j < nx; j++) {
        const float *xj = x + j * ldx;
        const v128_t s = wasm_f32x4_splat(a[j]);
        MA(c0, s, wasm_v128_load(xj));
        MA(c1, s, wasm_v128_load(xj + 4));
        MA(c2, s, wasm_v128_load(xj + 8));
        MA(c3, s, wasm_v128_load(xj + 12));
    }
    wasm_v128_store(o, c0); wasm_v128_store(o + 4, c1); wasm_v128_store(o + 8, c2); wasm_v128_store(o + 12, c3);
}

/* one row x 4 columns */
static void av_1x4(float *o, const float *a, const float *x, int64_t ldx, int32_t nx) {
    v128_t c = wasm_v128_load(o);
    for (int32_t j = 0; j < nx; j++) MA(c, wasm_f32x4_splat(a[j]), wasm_v128_load(x + j * ldx));
    wasm_v128_store(o, c);
}

static void av_wasmsimd(float *o, int64_t ldo, const float *a, int64_t lda, int32_t no, const float *x, int64_t ldx, int32_t nx,
                        int32_t hd) {
    if (nx <= 0) return;
    const int32_t d8 = hd & ~7, d4 = hd & ~3;
    for (int32_t i = 0; i < no; i += 4) {
        const int32_t ni = imin(4, no - i);
        const int64_t r1 = imin(1, ni - 1), r2 = imin(2, ni - 1), r3 = imin(3, ni - 1);
        float *oi = o + i * ldo;
        const float *ai = a + i * lda;
        int32_t d = 0;
        if (ni == 1) {
            for (; d + 16 <= hd; d += 16) av_1x16(oi + d, ai, x + d, ldx, nx);
        } else {
            for (; d < d8; d += 8)
                av_4x8(oi + d, oi + r1 * ldo + d, oi + r2 * ldo + d, oi + r3 * ldo + d, ni, ai, ai + r1 * lda, ai + r2 * lda,
                       ai + r3 * lda, x + d, ldx, nx);
        }
        for (; d < d4; d += 4)
            for (int32_t r = 0; r < ni; r++) av_1x4(oi + r * ldo + d, ai + r * lda, x + d, ldx, nx);
        for (; d < hd; d++)
            for (int32_t r = 0; r < ni; r++) {
                float acc = oi[r * ldo + d];
                for (int32_t j = 0; j < nx; j++) acc += ai[r * lda + j] * x[j * ldx + d];
                oi[r * ldo + d] = acc;
            }
    }
}

/* ---- atv: z_j += sum_i a_ij y_i ---- */

/* keys j..j+3 (a row of A read as 4 floats at aj), columns [c, c+8) */
NOINLINE static void atv_4x8(float *z0, float *z1, float *z2, float *z3, int32_t nj, const float *aj, int64_t lda,
                             const float *y, int64_t ldy, int32_t ny) {
    v128_t c00 = wasm_v128_load(z0), c01 = wasm_v128_load(z0 + 4), c10 = wasm_v128_load(z1), c11 = wasm_v128_load(z1 + 4),
           c20 = wasm_v128_load(z2), c21 = wasm_v128_load(z2 + 4), c30 = wasm_v128_load(z3), c31 = wasm_v128_load(z3 + 4);
    for (int32_t i = 0; i < ny; i++) {
        const float *yi = y + i * ldy;
        const v128_t b0 = wasm_v128_load(yi), b1 = wasm_v128_load(yi + 4), av = wasm_v128_load(aj + i * lda);
        v128_t s = SPLAT(av, 0); MA(c00, s, b0); MA(c01, s, b1);
        s = SPLAT(av, 1); MA(c10, s, b0); MA(c11, s, b1);
        s = SPLAT(av, 2); MA(c20, s, b0); MA(c21, s, b1);
        s = SPLAT(av, 3); MA(c30, s, b0); MA(c31, s, b1);
    }
    wasm_v128_store(z0, c00); wasm_v128_store(z0 + 4, c01);
    if (nj > 1) { wasm_v128_store(z1, c10); wasm_v128_store(z1 + 4, c11); }
    if (nj > 2) { wasm_v128_store(z2, c20); wasm_v128_store(z2 + 4, c21); }
    if (nj > 3) { wasm_v128_store(z3, c30); wasm_v128_store(z3 + 4, c31); }
}

/* one key, columns [c, c+4) */
static void atv_1x4(float *z, const float *aj, int64_t lda, const float *y, int64_t ldy, int32_t ny) {
    v128_t c = wasm_v128_load(z);
    for (int32_t i = 0; i < ny; i++) MA(c, wasm_f32x4_splat(aj[i * lda]), wasm_v128_load(y + i * ldy));
    wasm_v128_store(z, c);
}

static void atv_wasmsimd(float *z, int64_t ldz, const float *a, int64_t lda, int32_t nz, const float *y, int64_t ldy, int32_t ny,
                         int32_t hd) {
    if (ny <= 0) return;
    const int32_t d8 = hd & ~7, d4 = hd & ~3;
    int32_t j = 0;
    for (; j + 4 <= nz; j += 4) { /* full tiles only: the 4 a values of a row are one load */
        float *zj = z + j * ldz;
        int32_t d = 0;
        for (; d < d8; d += 8) atv_4x8(zj + d, zj + ldz + d, zj + 2 * ldz + d, zj + 3 * ldz + d, 4, a + j, lda, y + d, ldy, ny);
        for (; d < d4; d += 4)
            for (int32_t k = 0; k < 4; k++) atv_1x4(zj + k * ldz + d, a + j + k, lda, y + d, ldy, ny);
        for (; d < hd; d++)
            for (int32_t k = 0; k < 4; k++) {
                float acc = zj[k * ldz + d];
                for (int32_t i = 0; i < ny; i++) acc += a[i * lda + j + k] * y[i * ldy + d];
                zj[k * ldz + d] = acc;
            }
    }
    for (; j < nz; j++) {
        float *zj = z + j * ldz;
        int32_t d = 0;
        for (; d < d4; d += 4) atv_1x4(zj + d, a + j, lda, y + d, ldy, ny);
        for (; d < hd; d++) {
            float acc = zj[d];
            for (int32_t i = 0; i < ny; i++) acc += a[i * lda + j] * y[i * ldy + d];
            zj[d] = acc;
        }
    }
}

/* ---- rows ---- */

NOINLINE static float max_wasmsimd(const float *x, int32_t n) {
    /* pmax (a < b ? b : a) is one instruction; lanes as in the scalar loop, two chains for speed */
    v128_t m0 = wasm_f32x4_splat(-INFINITY), m1 = m0;
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        m0 = wasm_f32x4_pmax(m0, wasm_v128_load(x + i));
        m1 = wasm_f32x4_pmax(m1, wasm_v128_load(x + i + 4));
    }
    m0 = wasm_f32x4_pmax(m0, m1);
    for (; i + 4 <= n; i += 4) m0 = wasm_f32x4_pmax(m0, wasm_v128_load(x + i));
    const v128_t m = wasm_f32x4_pmax(m0, wasm_i32x4_shuffle(m0, m0, 2, 3, 0, 1));
    float r = wasm_f32x4_extract_lane(wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2)), 0);
    for (; i < n; i++) r = r < x[i] ? x[i] : r;
    return r;
}

#define SP_EXP_BLOCK 256

NOINLINE static double exp_sum_wasmsimd(float *x, int32_t n, float mx) {
    const exp_consts c = exp_consts_make();
    const v128_t vm = wasm_f32x4_splat(mx);
    double total = 0.0;
    for (int32_t b0 = 0; b0 < n; b0 += SP_EXP_BLOCK) {
        const int32_t b1 = n - b0 < SP_EXP_BLOCK ? n : b0 + SP_EXP_BLOCK;
        v128_t l = wasm_f32x4_splat(0.0f);
        int32_t i = b0;
        for (; i + 4 <= b1; i += 4) {
            const v128_t e = exp4(wasm_f32x4_sub(wasm_v128_load(x + i), vm), &c);
            wasm_v128_store(x + i, e);
            l = wasm_f32x4_add(l, e);
        }
        l = wasm_f32x4_add(l, wasm_i32x4_shuffle(l, l, 2, 3, 0, 1));
        float s = wasm_f32x4_extract_lane(wasm_f32x4_add(l, wasm_i32x4_shuffle(l, l, 1, 0, 3, 2)), 0);
        for (; i < b1; i++) {
            x[i] = sp_attn_expf(x[i] - mx);
            s += x[i];
        }
        total += (double)s;
    }
    return total;
}

static void scale_wasmsimd(float *x, int32_t n, float a) {
    const v128_t va = wasm_f32x4_splat(a);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_mul(wasm_v128_load(x + i), va));
    for (; i < n; i++) x[i] *= a;
}

static void softmax_backward_wasmsimd(float *p, const float *dp, int32_t n, float scale) {
    v128_t l = wasm_f32x4_splat(0.0f);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) MA(l, wasm_v128_load(p + i), wasm_v128_load(dp + i));
    l = wasm_f32x4_add(l, wasm_i32x4_shuffle(l, l, 2, 3, 0, 1));
    float s = wasm_f32x4_extract_lane(wasm_f32x4_add(l, wasm_i32x4_shuffle(l, l, 1, 0, 3, 2)), 0);
    for (; i < n; i++) s += p[i] * dp[i];
    const v128_t vs = wasm_f32x4_splat(s), vsc = wasm_f32x4_splat(scale);
    int32_t j = 0;
    for (; j + 4 <= n; j += 4)
        wasm_v128_store(p + j, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(p + j), wasm_f32x4_sub(wasm_v128_load(dp + j), vs)), vsc));
    for (; j < n; j++) p[j] = p[j] * (dp[j] - s) * scale;
}

NOINLINE static void swiglu_wasmsimd(float *h, const float *g, const float *u, int32_t n) {
    const exp_consts c = exp_consts_make();
    const v128_t lowest = wasm_f32x4_splat(-FLT_MAX);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const v128_t gv = wasm_v128_load(g + i);
        const v128_t e = exp4(wasm_f32x4_neg(gv), &c);
        const v128_t s = wasm_f32x4_div(wasm_f32x4_max(gv, lowest), wasm_f32x4_add(c.one, e));
        wasm_v128_store(h + i, wasm_f32x4_mul(s, wasm_v128_load(u + i)));
    }
    for (; i < n; i++) {
        const float gn = g[i] < -FLT_MAX ? -FLT_MAX : g[i];
        h[i] = gn / (1.0f + sp_attn_expf(-g[i])) * u[i];
    }
}

NOINLINE static void swiglu_backward_wasmsimd(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n) {
    const exp_consts c = exp_consts_make();
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const v128_t gv = wasm_v128_load(g + i), dhv = wasm_v128_load(dh + i), uv = wasm_v128_load(u + i);
        const v128_t sg = wasm_f32x4_div(c.one, wasm_f32x4_add(c.one, exp4(wasm_f32x4_neg(gv), &c)));
        wasm_v128_store(du + i, wasm_f32x4_mul(dhv, wasm_f32x4_mul(gv, sg)));
        const v128_t ds = wasm_f32x4_mul(sg, wasm_f32x4_add(c.one, wasm_f32x4_mul(gv, wasm_f32x4_sub(c.one, sg))));
        wasm_v128_store(dg + i, wasm_f32x4_mul(wasm_f32x4_mul(dhv, uv), ds));
    }
    for (; i < n; i++) {
        const float sg = 1.0f / (1.0f + sp_attn_expf(-g[i]));
        const float gi = g[i], dhi = dh[i], ui = u[i];
        du[i] = dhi * (gi * sg);
        dg[i] = (dhi * ui) * (sg * (1.0f + gi * (1.0f - sg)));
    }
}

/* ---- RMSNorm: the double lane sums of attention_scalar.c's dot4d, lanes (0, 1) and (2, 3) ---- */

static inline v128_t promote_hi(v128_t v) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3)); }

/* sum of x[j]^2 */
static double sumsq_d(const float *x, int32_t n) {
    v128_t lo = wasm_f64x2_splat(0.0), hi = lo;
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const v128_t v = wasm_v128_load(x + j), a = wasm_f64x2_promote_low_f32x4(v), b = promote_hi(v);
        lo = wasm_f64x2_add(lo, wasm_f64x2_mul(a, a));
        hi = wasm_f64x2_add(hi, wasm_f64x2_mul(b, b));
    }
    const v128_t s2 = wasm_f64x2_add(lo, hi); /* (l0 + l2, l1 + l3) */
    double s = wasm_f64x2_extract_lane(s2, 0) + wasm_f64x2_extract_lane(s2, 1);
    for (; j < n; j++) s += (double)x[j] * x[j];
    return s;
}

/* sum of (a[j] * b[j]) * c[j] */
static double dot3_d(const float *a, const float *b, const float *c, int32_t n) {
    v128_t lo = wasm_f64x2_splat(0.0), hi = lo;
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const v128_t va = wasm_v128_load(a + j), vb = wasm_v128_load(b + j), vc = wasm_v128_load(c + j);
        lo = wasm_f64x2_add(lo, wasm_f64x2_mul(wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(va), wasm_f64x2_promote_low_f32x4(vb)),
                                               wasm_f64x2_promote_low_f32x4(vc)));
        hi = wasm_f64x2_add(hi, wasm_f64x2_mul(wasm_f64x2_mul(promote_hi(va), promote_hi(vb)), promote_hi(vc)));
    }
    const v128_t s2 = wasm_f64x2_add(lo, hi);
    double s = wasm_f64x2_extract_lane(s2, 0) + wasm_f64x2_extract_lane(s2, 1);
    for (; j < n; j++) s += (double)a[j] * b[j] * c[j];
    return s;
}

NOINLINE static void rmsnorm_wasmsimd(float *out, float *rstd, const float *x, const float *w, int32_t n, int32_t dim, float eps) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim;
        float *oi = out + (size_t)i * dim;
        const float r = (float)(1.0 / sqrt(sumsq_d(xi, dim) / (dim > 0 ? dim : 1) + (double)eps));
        const v128_t vr = wasm_f32x4_splat(r);
        int32_t j = 0;
        for (; j + 4 <= dim; j += 4)
            wasm_v128_store(oi + j, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(xi + j), vr), wasm_v128_load(w + j)));
        for (; j < dim; j++) oi[j] = xi[j] * r * w[j];
        if (rstd) rstd[i] = r;
    }
}

NOINLINE static void rmsnorm_backward_wasmsimd(float *dx, const float *dout, const float *x, const float *w, const float *rstd,
                                               int32_t n, int32_t dim) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim, *gi = dout + (size_t)i * dim;
        float *dxi = dx + (size_t)i * dim;
        const float r = rstd[i];
        const float c = (float)(dot3_d(gi, w, xi, dim) * r * r * r / (dim > 0 ? dim : 1));
        const v128_t vr = wasm_f32x4_splat(r), vc = wasm_f32x4_splat(c);
        int32_t j = 0;
        for (; j + 4 <= dim; j += 4) {
            const v128_t t = wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_mul(vr, wasm_v128_load(w + j)), wasm_v128_load(gi + j)),
                                            wasm_f32x4_mul(wasm_v128_load(xi + j), vc));
            wasm_v128_store(dxi + j, wasm_f32x4_add(wasm_v128_load(dxi + j), t));
        }
        for (; j < dim; j++) dxi[j] += r * w[j] * gi[j] - xi[j] * c;
    }
}

/* ---- RoPE: adjacent pairs as (a0 b0 a1 b1) against (c0 c0 c1 c1), (s0 s0 s1 s1); halves 4 pairs at once ---- */

NOINLINE static void rope_wasmsimd(float *x, const float *tab, int32_t n, int32_t n_heads, int32_t hd, int32_t adjacent,
                                   float sign) {
    const int32_t half = hd / 2;
    const v128_t sg = wasm_f32x4_splat(sign), alt = wasm_f32x4_make(-1.0f, 1.0f, -1.0f, 1.0f);
    for (int32_t r = 0; r < n; r++) {
        const float *cs = tab + (size_t)r * half * 2;
        for (int32_t h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)r * n_heads + h) * hd;
            int32_t i = 0;
            if (adjacent) {
                for (; i + 2 <= half; i += 2) { /* a' = a c + (-(b s)) ; b' = b c + a s */
                    const v128_t V = wasm_v128_load(v + 2 * i), CS = wasm_v128_load(cs + 2 * i);
                    const v128_t C = wasm_i32x4_shuffle(CS, CS, 0, 0, 2, 2), S = wasm_f32x4_mul(wasm_i32x4_shuffle(CS, CS, 1, 1, 3, 3), sg);
                    const v128_t Q = wasm_f32x4_mul(wasm_i32x4_shuffle(V, V, 1, 0, 3, 2), S);
                    wasm_v128_store(v + 2 * i, wasm_f32x4_add(wasm_f32x4_mul(V, C), wasm_f32x4_mul(Q, alt)));
                }
            } else {
                for (; i + 4 <= half; i += 4) {
                    const v128_t c0 = wasm_v128_load(cs + 2 * i), c1 = wasm_v128_load(cs + 2 * i + 4);
                    const v128_t C = wasm_i32x4_shuffle(c0, c1, 0, 2, 4, 6), S = wasm_f32x4_mul(wasm_i32x4_shuffle(c0, c1, 1, 3, 5, 7), sg);
                    const v128_t A = wasm_v128_load(v + i), B = wasm_v128_load(v + i + half);
                    wasm_v128_store(v + i, wasm_f32x4_sub(wasm_f32x4_mul(A, C), wasm_f32x4_mul(B, S)));
                    wasm_v128_store(v + i + half, wasm_f32x4_add(wasm_f32x4_mul(A, S), wasm_f32x4_mul(B, C)));
                }
            }
            sp_rope_pairs(v, cs, i, half, adjacent, sign);
        }
    }
}

const sp_attn_kernels sp_attn_kernels_wasmsimd = {
    .isa = "wasmsimd",
    .qk = qk_wasmsimd,
    .av = av_wasmsimd,
    .atv = atv_wasmsimd,
    .max = max_wasmsimd,
    .exp_sum = exp_sum_wasmsimd,
    .scale = scale_wasmsimd,
    .softmax_backward = softmax_backward_wasmsimd,
    .swiglu = swiglu_wasmsimd,
    .swiglu_backward = swiglu_backward_wasmsimd,
    .rmsnorm = rmsnorm_wasmsimd,
    .rmsnorm_backward = rmsnorm_backward_wasmsimd,
    .rope = rope_wasmsimd,
};

#endif
