/* matmul_dx_wasmsimd.c - the backward product dX += dY·W: "outer product" tiles, 2 rows of dY x
 * 16 columns (8 accumulators), over W dequantized (or copied, F32) in tiles of 128 rows x 32
 * columns. Each dx element is dx + dy[0]*w[0] + dy[1]*w[1] + ... in row order: the scalar formula.
 *
 * Why 2 x 16 with the row loop inside a loop over column tiles (README, "What bounds the f32
 * GEMM"): TurboFan keeps 15 xmm registers and loads a step's vectors ahead of its arithmetic, so
 * a tile holds at most 8 accumulators + 6 loaded vectors + a product; 2 x 16 and 4 x 8 both load
 * 6 vectors per 16 mul/add, but 2 x 16 broadcasts 2 values of dY instead of 4. V8 unrolls a loop
 * only within a size budget that grows with its nesting depth: the row loop nested one level
 * deep is unrolled twice, which halves the loop's own instructions (counter, compare, stack
 * check) per mul/add; alone in its function it is not unrolled. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* dx_a[16t + 0..16) += sum_r dy_a[r] * wt[r*ldw + 16t + 0..16) for a < 2, t < nt, r < nrows, in
 * row order. Aliased (clamped) rows load and store identical values. */
NOINLINE void sp_gemm_dx_f32_2x16_wasmsimd(float *dx0, float *dx1, const float *dy0, const float *dy1, const float *wt, int32_t ldw,
                                           int32_t nrows, int32_t nt) {
    for (int32_t t = 0; t < nt; t++, dx0 += 16, dx1 += 16) {
        const float *w = wt + 16 * t;
        v128_t c00 = wasm_v128_load(dx0), c01 = wasm_v128_load(dx0 + 4), c02 = wasm_v128_load(dx0 + 8), c03 = wasm_v128_load(dx0 + 12);
        v128_t c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4), c12 = wasm_v128_load(dx1 + 8), c13 = wasm_v128_load(dx1 + 12);
        for (int32_t r = 0; r < nrows; r++, w += ldw) {
            v128_t b0 = wasm_v128_load(w), b1 = wasm_v128_load(w + 4), b2 = wasm_v128_load(w + 8), b3 = wasm_v128_load(w + 12), a;
            a = wasm_v128_load32_splat(dy0 + r); MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2); MA(c03, a, b3);
            a = wasm_v128_load32_splat(dy1 + r); MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2); MA(c13, a, b3);
        }
        wasm_v128_store(dx0, c00); wasm_v128_store(dx0 + 4, c01); wasm_v128_store(dx0 + 8, c02); wasm_v128_store(dx0 + 12, c03);
        wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11); wasm_v128_store(dx1 + 8, c12); wasm_v128_store(dx1 + 12, c13);
    }
}

typedef void (*bw216_fn)(float *, float *, const float *, const float *, const float *, int32_t, int32_t, int32_t);
KERNEL_PTR(bw216_fn, sp_gemm_dx_f32_2x16_wasmsimd);

/* W is dequantized (copied, F32) SP_BW_RB rows x SP_BW_SW columns at a time, each row's span in
 * memory order, into SP_BW_SW / 32 tiles of (RB, 32): a W far larger than the cache (an LM head
 * under a few rows of dY) then streams in long runs instead of 32-column pieces of 128 rows. */
#define SP_BW_SW 128

void sp_matmul_dx_wasmsimd(float *dx, const float *dy, const sp_mat *w, int32_t n, int32_t col0, int32_t col1) {
    const int32_t K = w->cols, R = w->rows;
    float wbuf[SP_BW_SW / SP_QK][SP_BW_RB * SP_QK] __attribute__((aligned(16))); /* [SW/32] x (RB, 32), 64 KB */
    /* rows of W outside, columns inside: the dy block (n, RB) stays in cache for all columns */
    for (int32_t r0 = 0; r0 < R; r0 += SP_BW_RB) {
        const int32_t rl = imin(SP_BW_RB, R - r0);
        for (int32_t s0 = col0; s0 < col1; s0 += SP_BW_SW) {
            const int32_t sw = imin(SP_BW_SW, col1 - s0);
            for (int32_t r = 0; r < rl; r++)
                for (int32_t c = 0; c < sw; c += SP_QK)
                    sp_dequant_span_wasmsimd(wbuf[c / SP_QK] + r * SP_QK, sp_mat_row_ptr(w, r0 + r), w->type, s0 + c, imin(SP_QK, sw - c));
            for (int32_t c = 0; c < sw; c += SP_QK) {
                const float *wt = wbuf[c / SP_QK];
                const int32_t c0 = s0 + c, cw = imin(SP_QK, sw - c), c16 = cw & ~15;
                for (int32_t i = 0; i < n; i += 2) {
                    const int32_t ni = imin(2, n - i);
                    float *dx0 = dx + (size_t)i * K + c0, *dx1 = dx + (size_t)(i + ni - 1) * K + c0;
                    const float *dy0 = dy + (size_t)i * R + r0, *dy1 = dy + (size_t)(i + ni - 1) * R + r0;
                    if (c16) sp_gemm_dx_f32_2x16_wasmsimd_p(dx0, dx1, dy0, dy1, wt, SP_QK, rl, c16 / 16);
                    for (int32_t a = 0; a < ni; a++) { /* columns past the last multiple of 16 */
                        float *dxa = a ? dx1 : dx0;
                        const float *dya = a ? dy1 : dy0;
                        for (int32_t j = c16; j < cw; j++) {
                            float acc = dxa[j];
                            for (int32_t r = 0; r < rl; r++) acc += dya[r] * wt[(size_t)r * SP_QK + j];
                            dxa[j] = acc;
                        }
                    }
                }
            }
        }
    }
}

#endif /* __wasm_simd128__ */
