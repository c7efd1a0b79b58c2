/* matmul_dx_wasmsimd.c - the backward product dX += dY·W: "outer product" tiles, 4 rows of dY x
 * 8 columns (8 accumulators), over W dequantized (or copied, F32) 128 rows x 32 columns at a
 * time. Each dx element is dx + dy[0]*w[0] + dy[1]*w[1] + ... in row order: the scalar formula. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* dx_a[0..8) += sum_r dy_a[r] * wt[r*ldw + 0..8) for a < 4, r < nrows, in row order.
 * Aliased (clamped) rows load and store identical values. */
NOINLINE void sp_gemm_dx_f32_4x8_wasmsimd(float *dx0, float *dx1, float *dx2, float *dx3,
                                 const float *dy0, const float *dy1, const float *dy2, const float *dy3,
                                 const float *wt, int32_t ldw, int32_t nrows) {
    v128_t c00 = wasm_v128_load(dx0), c01 = wasm_v128_load(dx0 + 4);
    v128_t c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
    v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4);
    v128_t c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
    for (int32_t r = 0; r < nrows; r++, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), a;
        a = wasm_v128_load32_splat(dy0 + r); MA(c00, a, b0); MA(c01, a, b1);
        a = wasm_v128_load32_splat(dy1 + r); MA(c10, a, b0); MA(c11, a, b1);
        a = wasm_v128_load32_splat(dy2 + r); MA(c20, a, b0); MA(c21, a, b1);
        a = wasm_v128_load32_splat(dy3 + r); MA(c30, a, b0); MA(c31, a, b1);
    }
    wasm_v128_store(dx0, c00); wasm_v128_store(dx0 + 4, c01);
    wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
    wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21);
    wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
}

typedef void (*bw48_fn)(float *, float *, float *, float *, const float *, const float *, const float *, const float *,
                        const float *, int32_t, int32_t);
KERNEL_PTR(bw48_fn, sp_gemm_dx_f32_4x8_wasmsimd);

void sp_matmul_dx_wasmsimd(float *dx, const float *dy, const sp_mat *w, int32_t n, int32_t col0, int32_t col1) {
    const int32_t K = w->cols, R = w->rows;
    float wbuf[SP_BW_RB * SP_QK] __attribute__((aligned(16))); /* (RB, 32) dequantized W tile */
    /* rows of W outside, columns inside: the dy block (n, RB) stays in cache for all columns */
    for (int32_t r0 = 0; r0 < R; r0 += SP_BW_RB) {
        const int32_t rl = imin(SP_BW_RB, R - r0);
        for (int32_t c0 = col0; c0 < col1; c0 += SP_QK) {
            const int32_t cw = imin(SP_QK, col1 - c0), c8 = cw & ~7;
            for (int32_t r = 0; r < rl; r++) sp_dequant_span_wasmsimd(wbuf + r * SP_QK, sp_mat_row_ptr(w, r0 + r), w->type, c0, cw);
            for (int32_t i = 0; i < n; i += 4) {
                const int32_t ni = imin(4, n - i);
                float *dxp[4];
                const float *dyp[4];
                for (int32_t a = 0; a < 4; a++) {
                    int32_t ii = i + imin(a, ni - 1);
                    dxp[a] = dx + (size_t)ii * K + c0;
                    dyp[a] = dy + (size_t)ii * R + r0;
                }
                for (int32_t j = 0; j < c8; j += 8)
                    sp_gemm_dx_f32_4x8_wasmsimd_p(dxp[0] + j, dxp[1] + j, dxp[2] + j, dxp[3] + j, dyp[0], dyp[1], dyp[2], dyp[3], wbuf + j, SP_QK, rl);
                for (int32_t a = 0; a < ni; a++) { /* columns past the last multiple of 8 */
                    for (int32_t j = c8; j < cw; j++) {
                        float acc = dxp[a][j];
                        for (int32_t r = 0; r < rl; r++) acc += dyp[a][r] * wbuf[(size_t)r * SP_QK + j];
                        dxp[a][j] = acc;
                    }
                }
            }
        }
    }
}

#endif /* __wasm_simd128__ */
