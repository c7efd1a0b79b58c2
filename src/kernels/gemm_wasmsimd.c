/* gemm_wasmsimd.c - Y = X·Wᵀ over f32 tiles of W, n >= 2 rows of X: "dot form" register tiles,
 * 2 rows of X x 4 rows of W (8 f32x4 accumulators over k), W packed so that one k-step of the
 * four rows is 64 contiguous bytes. Per output element: lane sums over k in steps of 4,
 * hsum4x4's fixed horizontal sum, then the k % 4 tail in order (the gemv kernels' formula, so a
 * row alone and the same row in a batch agree bit for bit).
 *
 * Why 2 x 4 over a packed panel (Node 20's V8 on x64; README, "What bounds the f32 GEMM"): TurboFan
 * keeps 15 xmm registers and places a block's loads ahead of its arithmetic, so a tile needs its
 * loaded vectors + accumulators + one product register. 2 x 4 takes exactly 15 (8 accumulators,
 * 6 loads per 16 mul+add, W at constant offsets from one pointer); 3 x 3, larger tiles and hand
 * unrolled steps spill every iteration. What then bounds the tile is the x64 instructions per FP
 * operation (loads, pointer increments, the stack check, compare-and-branch) at the 5-5.5
 * instructions per cycle V8's code sustains: about 0.75 of the mul+add probe with the data in L1.
 * Packing X as well (fewer increments) measured slower. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

void sp_gemm_pack_f32_4_wasmsimd(float *wp, const float *const *w, int32_t len) {
    const float *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3];
    const int32_t k4 = len & ~3;
    for (int32_t k = 0; k < k4; k += 4, wp += 16) {
        wasm_v128_store(wp, wasm_v128_load(w0 + k));
        wasm_v128_store(wp + 4, wasm_v128_load(w1 + k));
        wasm_v128_store(wp + 8, wasm_v128_load(w2 + k));
        wasm_v128_store(wp + 12, wasm_v128_load(w3 + k));
    }
}

NOINLINE void sp_gemm_f32_2x4_wasmsimd(float *y, int32_t ldy, int first, int32_t n, int32_t nr, const float *x, int32_t ldx,
                                       const float *wp, const float *const *w, int32_t len) {
    const int32_t k4 = len & ~3;
    const float *end = wp + (size_t)k4 * 4;
    for (int32_t i = 0; i < n; i += 2) {
        const int32_t ni = imin(2, n - i);
        const float *x0 = x + (size_t)i * ldx, *x1 = x + (size_t)(i + ni - 1) * ldx; /* clamped */
        v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        const float *a0 = x0, *a1 = x1;
        for (const float *pw = wp; pw < end; pw += 16, a0 += 4, a1 += 4) {
            const v128_t b0 = wasm_v128_load(pw), b1 = wasm_v128_load(pw + 4), b2 = wasm_v128_load(pw + 8), b3 = wasm_v128_load(pw + 12);
            v128_t a = wasm_v128_load(a0);
            MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2); MA(c03, a, b3);
            a = wasm_v128_load(a1);
            MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2); MA(c13, a, b3);
        }
        const v128_t s0 = hsum4x4(c00, c01, c02, c03), s1 = hsum4x4(c10, c11, c12, c13);
        float *yi = y + (size_t)i * ldy;
        if (ni == 2 && nr == 4 && k4 == len) {
            wasm_v128_store(yi, first ? s0 : wasm_f32x4_add(wasm_v128_load(yi), s0));
            wasm_v128_store(yi + ldy, first ? s1 : wasm_f32x4_add(wasm_v128_load(yi + ldy), s1));
            continue;
        }
        /* leftover rows or columns, or a k % 4 tail: the same sums, then the tail in order */
        float s[8];
        wasm_v128_store(s, s0);
        wasm_v128_store(s + 4, s1);
        const float *xs[2] = {x0, x1};
        for (int32_t a = 0; a < ni; a++)
            for (int32_t b = 0; b < nr; b++) {
                float v = s[a * 4 + b];
                for (int32_t k = k4; k < len; k++) v += xs[a][k] * w[b][k];
                float *yp = yi + (size_t)a * ldy + b;
                *yp = first ? v : *yp + v;
            }
    }
}

#endif /* __wasm_simd128__ */
