/* attention_wasmsimd.c - the three products of attention over one head (kernels.h), wasm SIMD128,
 * the same operations as attention_scalar.c (bit for bit).
 *   qk  : "dot form" tiles of 4 rows of Y x 2 rows of X (8 f32x4 accumulators), or 1 x 4 for a
 *         single row (decoding); lane sums reduced with the fixed (l0+l2)+(l1+l3) order.
 *   av  : "outer product" tiles of 4 rows of O x 8 floats of head_dim, a_ij splatted (1 x 16 for
 *         a single row).
 *   atv : tiles of 4 rows of Z x 8 floats, the 4 a values of one row of A loaded together.
 * Leftover rows are clamped (duplicate work, only valid rows stored). No FMA: mul then add. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* ---- qk ---- */

/* d[r*ldd + j] (r < ni) for keys j, j+1 (nj = 1 or 2) from a 4 x 2 tile */
NOINLINE static void qk_f32_4x2_wasmsimd(float *dd, int64_t ldd, int32_t ni, const float *y0, const float *y1, const float *y2,
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
NOINLINE static void qk_f32_1x4_wasmsimd(float *dd, const float *y, const float *x0, const float *x1, const float *x2, const float *x3,
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

void sp_qk_f32_wasmsimd(float *dd, int64_t ldd, const float *y, int64_t ldy, int32_t ny, const float *x, int64_t ldx, int32_t nx,
                        int32_t hd, float scale) {
    if (nx <= 0) return;
    for (int32_t i = 0; i < ny; i += 4) {
        const int32_t ni = imin(4, ny - i);
        const float *y0 = y + i * ldy;
        if (ni == 1) {
            for (int32_t j = 0; j < nx; j += 4) {
                const int32_t nj = imin(4, nx - j);
                qk_f32_1x4_wasmsimd(dd + i * ldd + j, y0, x + j * ldx, x + (j + imin(1, nj - 1)) * ldx, x + (j + imin(2, nj - 1)) * ldx,
                       x + (j + imin(3, nj - 1)) * ldx, nj, hd, scale);
            }
            continue;
        }
        const float *y1 = y0 + imin(1, ni - 1) * ldy, *y2 = y0 + imin(2, ni - 1) * ldy, *y3 = y0 + imin(3, ni - 1) * ldy;
        for (int32_t j = 0; j < nx; j += 2) {
            const int32_t nj = imin(2, nx - j);
            qk_f32_4x2_wasmsimd(dd + i * ldd + j, ldd, ni, y0, y1, y2, y3, x + j * ldx, x + (j + nj - 1) * ldx, nj, hd, scale);
        }
    }
}

/* ---- av: o_i += sum_j a_ij x_j ---- */

/* 4 rows x 8 columns [c, c+8) */
NOINLINE static void av_f32_4x8_wasmsimd(float *o0, float *o1, float *o2, float *o3, int32_t ni, const float *a0, const float *a1,
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
NOINLINE static void av_f32_1x16_wasmsimd(float *o, const float *a, const float *x, int64_t ldx, int32_t nx) {
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
static void av_f32_1x4_wasmsimd(float *o, const float *a, const float *x, int64_t ldx, int32_t nx) {
    v128_t c = wasm_v128_load(o);
    for (int32_t j = 0; j < nx; j++) MA(c, wasm_f32x4_splat(a[j]), wasm_v128_load(x + j * ldx));
    wasm_v128_store(o, c);
}

void sp_av_f32_wasmsimd(float *o, int64_t ldo, const float *a, int64_t lda, int32_t no, const float *x, int64_t ldx, int32_t nx,
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
            for (; d + 16 <= hd; d += 16) av_f32_1x16_wasmsimd(oi + d, ai, x + d, ldx, nx);
        } else {
            for (; d < d8; d += 8)
                av_f32_4x8_wasmsimd(oi + d, oi + r1 * ldo + d, oi + r2 * ldo + d, oi + r3 * ldo + d, ni, ai, ai + r1 * lda, ai + r2 * lda,
                       ai + r3 * lda, x + d, ldx, nx);
        }
        for (; d < d4; d += 4)
            for (int32_t r = 0; r < ni; r++) av_f32_1x4_wasmsimd(oi + r * ldo + d, ai + r * lda, x + d, ldx, nx);
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
NOINLINE static void atv_f32_4x8_wasmsimd(float *z0, float *z1, float *z2, float *z3, int32_t nj, const float *aj, int64_t lda,
                             const float *y, int64_t ldy, int32_t ny) {
    v128_t c00 = wasm_v128_load(z0), c01 = wasm_v128_load(z0 + 4), c10 = wasm_v128_load(z1), c11 = wasm_v128_load(z1 + 4),
           c20 = wasm_v128_load(z2), c21 = wasm_v128_load(z2 + 4), c30 = wasm_v128_load(z3), c31 = wasm_v128_load(z3 + 4);
    for (int32_t i = 0; i < ny; i++) {
        const float *yi = y + i * ldy;
        const v128_t b0 = wasm_v128_load(yi), b1 = wasm_v128_load(yi + 4), av = wasm_v128_load(aj + i * lda);
        v128_t s = LANE_SPLAT(av, 0); MA(c00, s, b0); MA(c01, s, b1);
        s = LANE_SPLAT(av, 1); MA(c10, s, b0); MA(c11, s, b1);
        s = LANE_SPLAT(av, 2); MA(c20, s, b0); MA(c21, s, b1);
        s = LANE_SPLAT(av, 3); MA(c30, s, b0); MA(c31, s, b1);
    }
    wasm_v128_store(z0, c00); wasm_v128_store(z0 + 4, c01);
    if (nj > 1) { wasm_v128_store(z1, c10); wasm_v128_store(z1 + 4, c11); }
    if (nj > 2) { wasm_v128_store(z2, c20); wasm_v128_store(z2 + 4, c21); }
    if (nj > 3) { wasm_v128_store(z3, c30); wasm_v128_store(z3 + 4, c31); }
}

/* one key, columns [c, c+4) */
static void atv_f32_1x4_wasmsimd(float *z, const float *aj, int64_t lda, const float *y, int64_t ldy, int32_t ny) {
    v128_t c = wasm_v128_load(z);
    for (int32_t i = 0; i < ny; i++) MA(c, wasm_f32x4_splat(aj[i * lda]), wasm_v128_load(y + i * ldy));
    wasm_v128_store(z, c);
}

void sp_atv_f32_wasmsimd(float *z, int64_t ldz, const float *a, int64_t lda, int32_t nz, const float *y, int64_t ldy, int32_t ny,
                         int32_t hd) {
    if (ny <= 0) return;
    const int32_t d8 = hd & ~7, d4 = hd & ~3;
    int32_t j = 0;
    for (; j + 4 <= nz; j += 4) { /* full tiles only: the 4 a values of a row are one load */
        float *zj = z + j * ldz;
        int32_t d = 0;
        for (; d < d8; d += 8) atv_f32_4x8_wasmsimd(zj + d, zj + ldz + d, zj + 2 * ldz + d, zj + 3 * ldz + d, 4, a + j, lda, y + d, ldy, ny);
        for (; d < d4; d += 4)
            for (int32_t k = 0; k < 4; k++) atv_f32_1x4_wasmsimd(zj + k * ldz + d, a + j + k, lda, y + d, ldy, ny);
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
        for (; d < d4; d += 4) atv_f32_1x4_wasmsimd(zj + d, a + j, lda, y + d, ldy, ny);
        for (; d < hd; d++) {
            float acc = zj[d];
            for (int32_t i = 0; i < ny; i++) acc += a[i * lda + j] * y[i * ldy + d];
            zj[d] = acc;
        }
    }
}

#endif /* __wasm_simd128__ */
