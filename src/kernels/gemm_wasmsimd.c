/* gemm_wasmsimd.c - Y = X·Wᵀ over f32 tiles of W, n >= 2 rows of X: "dot form" register tiles,
 * 3 rows of X x 3 rows of W (9 f32x4 accumulators over k). Per output element: lane sums over k
 * in steps of 4, hsum4x4's fixed horizontal sum, then the k % 4 tail in order (the gemv kernels'
 * formula, so a row alone and the same row in a batch agree bit for bit). */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* y[0..3) (first ? = : +=) lanes 0..2 of s */
static inline void store3(float *y, int first, v128_t s) {
    if (!first) s = wasm_f32x4_add(wasm_v128_load32_lane(y + 2, wasm_v128_load64_zero(y), 2), s);
    wasm_v128_store64_lane(y, s, 0);
    wasm_v128_store32_lane(y + 2, s, 2);
}

/* Generic epilogue: y[a*ldy + b] (a < ni, b < nr) (first ? = : +=) s[a*3+b] + the k4..len tail. */
static void gemm_store_slow(float *y, int32_t ldy, int first, int32_t ni, int32_t nr, const float *s,
                          const float *const *xs, const float *const *ws, int32_t k4, int32_t len) {
    for (int32_t a = 0; a < ni; a++) {
        for (int32_t b = 0; b < nr; b++) {
            float v = s[a * 3 + b];
            for (int32_t k = k4; k < len; k++) v += xs[a][k] * ws[b][k];
            float *yp = y + (size_t)a * ldy + b;
            *yp = first ? v : *yp + v;
        }
    }
}

/* A panel: y[i, 0..nr) (first ? = : +=) dot(x_i, w_b) over len values for all n rows of x,
 * in 3 x 3 register tiles (9 f32x4 accumulators). Rows past n are clamped. */
NOINLINE void sp_gemm_f32_3x3_wasmsimd(float *y, int32_t ldy, int first, int32_t n, int32_t nr, const float *x, int32_t ldx,
                                  const float *w0, const float *w1, const float *w2, int32_t len) {
    const int32_t k4 = len & ~3;
    for (int32_t i = 0; i < n; i += 3) {
        const int32_t ni = imin(3, n - i);
        const float *x0 = x + (size_t)i * ldx, *x1 = x + (size_t)(i + imin(1, ni - 1)) * ldx,
                    *x2 = x + (size_t)(i + imin(2, ni - 1)) * ldx;
        v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
               c20 = c00, c21 = c00, c22 = c00;
        for (int32_t k = 0; k < k4; k += 4) {
            v128_t b0 = wasm_v128_load(w0 + k), b1 = wasm_v128_load(w1 + k), b2 = wasm_v128_load(w2 + k), a;
            a = wasm_v128_load(x0 + k); MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2);
            a = wasm_v128_load(x1 + k); MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2);
            a = wasm_v128_load(x2 + k); MA(c20, a, b0); MA(c21, a, b1); MA(c22, a, b2);
        }
        v128_t s0 = hsum4x4(c00, c01, c02, c02), s1 = hsum4x4(c10, c11, c12, c12), s2 = hsum4x4(c20, c21, c22, c22);
        float *yi = y + (size_t)i * ldy;
        if (ni == 3 && nr == 3 && k4 == len) {
            store3(yi, first, s0);
            store3(yi + ldy, first, s1);
            store3(yi + 2 * (size_t)ldy, first, s2);
        } else {
            float s[9];
            wasm_v128_store(s, s0); /* lanes 0..2 used; s[3] overwritten next */
            wasm_v128_store64_lane(s + 3, s1, 0); wasm_v128_store32_lane(s + 5, s1, 2);
            wasm_v128_store64_lane(s + 6, s2, 0); wasm_v128_store32_lane(s + 8, s2, 2);
            const float *xs[3] = {x0, x1, x2}, *ws[3] = {w0, w1, w2};
            gemm_store_slow(yi, ldy, first, ni, nr, s, xs, ws, k4, len);
        }
    }
}

#endif /* __wasm_simd128__ */
