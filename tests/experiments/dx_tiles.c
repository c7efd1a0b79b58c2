/* dx_tiles.c - register tiles for the backward product dX += dY·W (outer-product form, each dx
 * element summed over the rows of W in row order: the kernels.h contract), side by side on one
 * L2-resident problem, each against the f32x4 mul+add probe, timed by process CPU time.
 *
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 --profiling-funcs -sALLOW_MEMORY_GROWTH=1 -Isrc \
 *       tests/experiments/dx_tiles.c $(find src -name '*.c' -not -path 'src/api*') -o /tmp/dx_tiles.js
 *   node --no-experimental-fetch --no-liftoff /tmp/dx_tiles.js 768 288 3     # R K repeats
 *   node --no-experimental-fetch --no-liftoff --print-wasm-code /tmp/dx_tiles.js 128 32 1   # x64 code
 *
 *   ptr4x8   4 rows of dY read through 4 pointers (dy_a + r: pointer + index per splat), the W
 *            tile [RB][32] read 8 columns at a time (stride 32)
 *   pk4x8    dY packed per 4 rows as [RB][4] (splats at constant offsets from one pointer)
 *   pk6x8    dY packed [RB][6], 12 accumulators
 *   pk4x8u   pk4x8 with the row loop unrolled twice
 *   pk6x8p   pk6x8 with the W tile packed [32/8][RB][8] too (one pointer, stride 8)
 * Every variant gives the same bits (checked).
 *
 * Measured (AMD EPYC family 25 = Zen 3, Node 20, 768 x 288, n = 120, three runs, fraction of the
 * probe): ptr4x8 0.54-0.59, pk4x8 0.42-0.57, pk4x8u 0.32-0.42, pk5x8 0.31-0.34, pk6x8 0.37-0.40,
 * pk3x12 0.30-0.33. The x64 code says why: TurboFan keeps 15 xmm registers and issues a block's
 * loads ahead of its arithmetic, so every tile with more live values than ptr4x8's (8
 * accumulators, 2 W vectors, the splats) spills: pk6x8 keeps 4 accumulators on the stack, pk3x12
 * one (a store-to-load chain every row), the unrolled pk4x8u loads both rows' W and splats first.
 * ptr4x8 issues ~30 instructions per 16 mul/add (6 loads, 16 FP, the index moves, the stack
 * check and the loop), as many per FP operation as the forward's 2 x 4 dot tile: both sit at
 * 0.55-0.65 of the probe. Packing dY (pk4x8) removes the lea per splat but not the rest.
 *
 * Later variants: ptr2x16 (2 rows x 16 columns: half the broadcasts), sp4x8 / sp2x16 (dY
 * pre-splatted into vectors: no broadcast), and the n* / nn* variants with the row loop nested in
 * a loop over column tiles (and rows of dY), which V8 unrolls twice (its unroll budget grows with
 * the nesting depth). nptr2x16 is the engine's sp_gemm_dx_f32_2x16_wasmsimd. Best of the rounds
 * (loaded machine, same runs as the README): ptr4x8 0.61-0.62, sp4x8 0.56, sp2x16 0.57, nptr4x8
 * 0.63-0.64, nptr2x16 0.67-0.69, nn2x16 0.63-0.69: the nesting, not the broadcasts, is the gain. */
#include <wasm_simd128.h>
#include "kernels/probe.h"
#include "kernels/wasmsimd.h"
#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });

#define RB 128

NOINLINE static void ptr4x8(float *dx0, float *dx1, float *dx2, float *dx3, const float *dy0, const float *dy1, const float *dy2,
                            const float *dy3, const float *wt, int32_t ldw, int32_t nrows) {
    v128_t c00 = wasm_v128_load(dx0), c01 = wasm_v128_load(dx0 + 4), c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
    v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
    for (int32_t r = 0; r < nrows; r++, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), a;
        a = wasm_v128_load32_splat(dy0 + r); MA(c00, a, b0); MA(c01, a, b1);
        a = wasm_v128_load32_splat(dy1 + r); MA(c10, a, b0); MA(c11, a, b1);
        a = wasm_v128_load32_splat(dy2 + r); MA(c20, a, b0); MA(c21, a, b1);
        a = wasm_v128_load32_splat(dy3 + r); MA(c30, a, b0); MA(c31, a, b1);
    }
    wasm_v128_store(dx0, c00); wasm_v128_store(dx0 + 4, c01); wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
    wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
}

NOINLINE static void pk4x8(float *dx, int32_t ldx, const float *dyp, const float *wt, int32_t ldw, int32_t nrows) {
    float *dx1 = dx + ldx, *dx2 = dx1 + ldx, *dx3 = dx2 + ldx;
    v128_t c00 = wasm_v128_load(dx), c01 = wasm_v128_load(dx + 4), c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
    v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
    for (const float *end = dyp + (size_t)nrows * 4; dyp < end; dyp += 4, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), a;
        a = wasm_v128_load32_splat(dyp); MA(c00, a, b0); MA(c01, a, b1);
        a = wasm_v128_load32_splat(dyp + 1); MA(c10, a, b0); MA(c11, a, b1);
        a = wasm_v128_load32_splat(dyp + 2); MA(c20, a, b0); MA(c21, a, b1);
        a = wasm_v128_load32_splat(dyp + 3); MA(c30, a, b0); MA(c31, a, b1);
    }
    wasm_v128_store(dx, c00); wasm_v128_store(dx + 4, c01); wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
    wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
}

NOINLINE static void pk4x8u(float *dx, int32_t ldx, const float *dyp, const float *wt, int32_t ldw, int32_t nrows) {
    float *dx1 = dx + ldx, *dx2 = dx1 + ldx, *dx3 = dx2 + ldx;
    v128_t c00 = wasm_v128_load(dx), c01 = wasm_v128_load(dx + 4), c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
    v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
    for (const float *end = dyp + (size_t)nrows * 4; dyp < end; dyp += 8, wt += 2 * ldw) { /* nrows even */
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), a;
        a = wasm_v128_load32_splat(dyp); MA(c00, a, b0); MA(c01, a, b1);
        a = wasm_v128_load32_splat(dyp + 1); MA(c10, a, b0); MA(c11, a, b1);
        a = wasm_v128_load32_splat(dyp + 2); MA(c20, a, b0); MA(c21, a, b1);
        a = wasm_v128_load32_splat(dyp + 3); MA(c30, a, b0); MA(c31, a, b1);
        b0 = wasm_v128_load(wt + ldw); b1 = wasm_v128_load(wt + ldw + 4);
        a = wasm_v128_load32_splat(dyp + 4); MA(c00, a, b0); MA(c01, a, b1);
        a = wasm_v128_load32_splat(dyp + 5); MA(c10, a, b0); MA(c11, a, b1);
        a = wasm_v128_load32_splat(dyp + 6); MA(c20, a, b0); MA(c21, a, b1);
        a = wasm_v128_load32_splat(dyp + 7); MA(c30, a, b0); MA(c31, a, b1);
    }
    wasm_v128_store(dx, c00); wasm_v128_store(dx + 4, c01); wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
    wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
}

NOINLINE static void pk6x8(float *dx, int32_t ldx, const float *dyp, const float *wt, int32_t ldw, int32_t nrows) {
    float *dx1 = dx + ldx, *dx2 = dx1 + ldx, *dx3 = dx2 + ldx, *dx4 = dx3 + ldx, *dx5 = dx4 + ldx;
    v128_t c00 = wasm_v128_load(dx), c01 = wasm_v128_load(dx + 4), c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
    v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
    v128_t c40 = wasm_v128_load(dx4), c41 = wasm_v128_load(dx4 + 4), c50 = wasm_v128_load(dx5), c51 = wasm_v128_load(dx5 + 4);
    for (const float *end = dyp + (size_t)nrows * 6; dyp < end; dyp += 6, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), a;
        a = wasm_v128_load32_splat(dyp); MA(c00, a, b0); MA(c01, a, b1);
        a = wasm_v128_load32_splat(dyp + 1); MA(c10, a, b0); MA(c11, a, b1);
        a = wasm_v128_load32_splat(dyp + 2); MA(c20, a, b0); MA(c21, a, b1);
        a = wasm_v128_load32_splat(dyp + 3); MA(c30, a, b0); MA(c31, a, b1);
        a = wasm_v128_load32_splat(dyp + 4); MA(c40, a, b0); MA(c41, a, b1);
        a = wasm_v128_load32_splat(dyp + 5); MA(c50, a, b0); MA(c51, a, b1);
    }
    wasm_v128_store(dx, c00); wasm_v128_store(dx + 4, c01); wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
    wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
    wasm_v128_store(dx4, c40); wasm_v128_store(dx4 + 4, c41); wasm_v128_store(dx5, c50); wasm_v128_store(dx5 + 4, c51);
}

/* 5 rows x 8: 10 accumulators */
NOINLINE static void pk5x8(float *dx, int32_t ldx, const float *dyp, const float *wt, int32_t ldw, int32_t nrows) {
    float *dx1 = dx + ldx, *dx2 = dx1 + ldx, *dx3 = dx2 + ldx, *dx4 = dx3 + ldx;
    v128_t c00 = wasm_v128_load(dx), c01 = wasm_v128_load(dx + 4), c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
    v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
    v128_t c40 = wasm_v128_load(dx4), c41 = wasm_v128_load(dx4 + 4);
    for (const float *end = dyp + (size_t)nrows * 5; dyp < end; dyp += 5, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), a;
        a = wasm_v128_load32_splat(dyp); MA(c00, a, b0); MA(c01, a, b1);
        a = wasm_v128_load32_splat(dyp + 1); MA(c10, a, b0); MA(c11, a, b1);
        a = wasm_v128_load32_splat(dyp + 2); MA(c20, a, b0); MA(c21, a, b1);
        a = wasm_v128_load32_splat(dyp + 3); MA(c30, a, b0); MA(c31, a, b1);
        a = wasm_v128_load32_splat(dyp + 4); MA(c40, a, b0); MA(c41, a, b1);
    }
    wasm_v128_store(dx, c00); wasm_v128_store(dx + 4, c01); wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
    wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
    wasm_v128_store(dx4, c40); wasm_v128_store(dx4 + 4, c41);
}

/* 3 rows x 12: 9 accumulators, 3 W vectors */
NOINLINE static void pk3x12(float *dx, int32_t ldx, const float *dyp, const float *wt, int32_t ldw, int32_t nrows) {
    float *dx1 = dx + ldx, *dx2 = dx1 + ldx;
    v128_t c00 = wasm_v128_load(dx), c01 = wasm_v128_load(dx + 4), c02 = wasm_v128_load(dx + 8);
    v128_t c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4), c12 = wasm_v128_load(dx1 + 8);
    v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c22 = wasm_v128_load(dx2 + 8);
    for (const float *end = dyp + (size_t)nrows * 3; dyp < end; dyp += 3, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), b2 = wasm_v128_load(wt + 8), a;
        a = wasm_v128_load32_splat(dyp); MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2);
        a = wasm_v128_load32_splat(dyp + 1); MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2);
        a = wasm_v128_load32_splat(dyp + 2); MA(c20, a, b0); MA(c21, a, b1); MA(c22, a, b2);
    }
    wasm_v128_store(dx, c00); wasm_v128_store(dx + 4, c01); wasm_v128_store(dx + 8, c02);
    wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11); wasm_v128_store(dx1 + 8, c12);
    wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx2 + 8, c22);
}


/* 2 rows x 16 columns: 8 accumulators, 4 W vectors, 2 splats per row of W (half of 4x8's) */
NOINLINE static void ptr2x16(float *dx0, float *dx1, const float *dy0, const float *dy1, const float *wt, int32_t ldw, int32_t nrows) {
    v128_t c00 = wasm_v128_load(dx0), c01 = wasm_v128_load(dx0 + 4), c02 = wasm_v128_load(dx0 + 8), c03 = wasm_v128_load(dx0 + 12);
    v128_t c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4), c12 = wasm_v128_load(dx1 + 8), c13 = wasm_v128_load(dx1 + 12);
    for (int32_t r = 0; r < nrows; r++, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), b2 = wasm_v128_load(wt + 8), b3 = wasm_v128_load(wt + 12), a;
        a = wasm_v128_load32_splat(dy0 + r); MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2); MA(c03, a, b3);
        a = wasm_v128_load32_splat(dy1 + r); MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2); MA(c13, a, b3);
    }
    wasm_v128_store(dx0, c00); wasm_v128_store(dx0 + 4, c01); wasm_v128_store(dx0 + 8, c02); wasm_v128_store(dx0 + 12, c03);
    wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11); wasm_v128_store(dx1 + 8, c12); wasm_v128_store(dx1 + 12, c13);
}

/* 4 x 8 over dY pre-splatted [RB][4] vectors: plain vector loads, no broadcast */
NOINLINE static void sp4x8(float *dx, int32_t ldx, const v128_t *dys, const float *wt, int32_t ldw, int32_t nrows) {
    float *dx1 = dx + ldx, *dx2 = dx1 + ldx, *dx3 = dx2 + ldx;
    v128_t c00 = wasm_v128_load(dx), c01 = wasm_v128_load(dx + 4), c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
    v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
    for (const v128_t *end = dys + (size_t)nrows * 4; dys < end; dys += 4, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), a;
        a = dys[0]; MA(c00, a, b0); MA(c01, a, b1);
        a = dys[1]; MA(c10, a, b0); MA(c11, a, b1);
        a = dys[2]; MA(c20, a, b0); MA(c21, a, b1);
        a = dys[3]; MA(c30, a, b0); MA(c31, a, b1);
    }
    wasm_v128_store(dx, c00); wasm_v128_store(dx + 4, c01); wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
    wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
}

/* 2 x 16 over dY pre-splatted [RB][2] */
NOINLINE static void sp2x16(float *dx, int32_t ldx, const v128_t *dys, const float *wt, int32_t ldw, int32_t nrows) {
    float *dx1 = dx + ldx;
    v128_t c00 = wasm_v128_load(dx), c01 = wasm_v128_load(dx + 4), c02 = wasm_v128_load(dx + 8), c03 = wasm_v128_load(dx + 12);
    v128_t c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4), c12 = wasm_v128_load(dx1 + 8), c13 = wasm_v128_load(dx1 + 12);
    for (const v128_t *end = dys + (size_t)nrows * 2; dys < end; dys += 2, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), b2 = wasm_v128_load(wt + 8), b3 = wasm_v128_load(wt + 12), a;
        a = dys[0]; MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2); MA(c03, a, b3);
        a = dys[1]; MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2); MA(c13, a, b3);
    }
    wasm_v128_store(dx, c00); wasm_v128_store(dx + 4, c01); wasm_v128_store(dx + 8, c02); wasm_v128_store(dx + 12, c03);
    wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11); wasm_v128_store(dx1 + 8, c12); wasm_v128_store(dx1 + 12, c13);
}

/* ptr4x8 with the row loop nested in a loop over nt tiles of 8 columns (ldw apart): at depth 1
 * V8 unrolls the row loop (its budget doubles with the depth) */
NOINLINE static void nptr4x8(float *dx0, float *dx1, float *dx2, float *dx3, const float *dy0, const float *dy1, const float *dy2,
                             const float *dy3, const float *wt, int32_t ldw, int32_t nrows, int32_t nt) {
    for (int32_t t = 0; t < nt; t++, dx0 += 8, dx1 += 8, dx2 += 8, dx3 += 8) {
        const float *w = wt + 8 * t;
        v128_t c00 = wasm_v128_load(dx0), c01 = wasm_v128_load(dx0 + 4), c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
        v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
        for (int32_t r = 0; r < nrows; r++, w += ldw) {
            v128_t b0 = wasm_v128_load(w), b1 = wasm_v128_load(w + 4), a;
            a = wasm_v128_load32_splat(dy0 + r); MA(c00, a, b0); MA(c01, a, b1);
            a = wasm_v128_load32_splat(dy1 + r); MA(c10, a, b0); MA(c11, a, b1);
            a = wasm_v128_load32_splat(dy2 + r); MA(c20, a, b0); MA(c21, a, b1);
            a = wasm_v128_load32_splat(dy3 + r); MA(c30, a, b0); MA(c31, a, b1);
        }
        wasm_v128_store(dx0, c00); wasm_v128_store(dx0 + 4, c01); wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
        wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
    }
}

/* pk4x8 (dY packed [RB][4]) nested the same way */
NOINLINE static void npk4x8(float *dx, int32_t ldx, const float *dyp, const float *wt, int32_t ldw, int32_t nrows, int32_t nt) {
    for (int32_t t = 0; t < nt; t++, dx += 8) {
        float *dx1 = dx + ldx, *dx2 = dx1 + ldx, *dx3 = dx2 + ldx;
        const float *w = wt + 8 * t, *y = dyp;
        v128_t c00 = wasm_v128_load(dx), c01 = wasm_v128_load(dx + 4), c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
        v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
        for (const float *end = y + (size_t)nrows * 4; y < end; y += 4, w += ldw) {
            v128_t b0 = wasm_v128_load(w), b1 = wasm_v128_load(w + 4), a;
            a = wasm_v128_load32_splat(y); MA(c00, a, b0); MA(c01, a, b1);
            a = wasm_v128_load32_splat(y + 1); MA(c10, a, b0); MA(c11, a, b1);
            a = wasm_v128_load32_splat(y + 2); MA(c20, a, b0); MA(c21, a, b1);
            a = wasm_v128_load32_splat(y + 3); MA(c30, a, b0); MA(c31, a, b1);
        }
        wasm_v128_store(dx, c00); wasm_v128_store(dx + 4, c01); wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
        wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
    }
}


/* 2 x 16 nested twice: over ni pairs of rows of dY (ldy apart) and nt tiles of 16 columns (depth 2) */
NOINLINE static void nn2x16(float *dx, int32_t ldx, const float *dy, int32_t ldy, const float *wt, int32_t ldw, int32_t nrows, int32_t nt, int32_t ni) {
    for (int32_t i = 0; i < ni; i++, dx += 2 * ldx, dy += 2 * ldy) {
        float *dx0 = dx, *dx1 = dx + ldx;
        const float *dy0 = dy, *dy1 = dy + ldy;
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
}

/* 4 x 8 nested twice the same way */
NOINLINE static void nn4x8(float *dx, int32_t ldx, const float *dy, int32_t ldy, const float *wt, int32_t ldw, int32_t nrows, int32_t nt, int32_t ni) {
    for (int32_t i = 0; i < ni; i++, dx += 4 * ldx, dy += 4 * ldy) {
        float *dx0 = dx, *dx1 = dx + ldx, *dx2 = dx1 + ldx, *dx3 = dx2 + ldx;
        const float *dy0 = dy, *dy1 = dy + ldy, *dy2 = dy1 + ldy, *dy3 = dy2 + ldy;
        for (int32_t t = 0; t < nt; t++, dx0 += 8, dx1 += 8, dx2 += 8, dx3 += 8) {
            const float *w = wt + 8 * t;
            v128_t c00 = wasm_v128_load(dx0), c01 = wasm_v128_load(dx0 + 4), c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
            v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4), c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
            for (int32_t r = 0; r < nrows; r++, w += ldw) {
                v128_t b0 = wasm_v128_load(w), b1 = wasm_v128_load(w + 4), a;
                a = wasm_v128_load32_splat(dy0 + r); MA(c00, a, b0); MA(c01, a, b1);
                a = wasm_v128_load32_splat(dy1 + r); MA(c10, a, b0); MA(c11, a, b1);
                a = wasm_v128_load32_splat(dy2 + r); MA(c20, a, b0); MA(c21, a, b1);
                a = wasm_v128_load32_splat(dy3 + r); MA(c30, a, b0); MA(c31, a, b1);
            }
            wasm_v128_store(dx0, c00); wasm_v128_store(dx0 + 4, c01); wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
            wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21); wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
        }
    }
}

typedef void (*pk_fn)(float *, int32_t, const float *, const float *, int32_t, int32_t);
typedef void (*ptr_fn)(float *, float *, float *, float *, const float *, const float *, const float *, const float *, const float *, int32_t,
                       int32_t);
static ptr_fn const volatile ptr4x8_p = ptr4x8;
typedef void (*p2_fn)(float *, float *, const float *, const float *, const float *, int32_t, int32_t);
typedef void (*sp_fn)(float *, int32_t, const v128_t *, const float *, int32_t, int32_t);
static p2_fn const volatile ptr2x16_p = ptr2x16;
static sp_fn const volatile sp4x8_p = sp4x8, sp2x16_p = sp2x16;
typedef void (*np4_fn)(float *, float *, float *, float *, const float *, const float *, const float *, const float *, const float *, int32_t, int32_t, int32_t);
typedef void (*npk_fn)(float *, int32_t, const float *, const float *, int32_t, int32_t, int32_t);
typedef void (*np2_fn)(float *, float *, const float *, const float *, const float *, int32_t, int32_t, int32_t);
static np4_fn const volatile nptr4x8_p = nptr4x8;
static npk_fn const volatile npk4x8_p = npk4x8;
static np2_fn const volatile nptr2x16_p = sp_gemm_dx_f32_2x16_wasmsimd; /* the engine's tile */
typedef void (*nn_fn)(float *, int32_t, const float *, int32_t, const float *, int32_t, int32_t, int32_t, int32_t);
static nn_fn const volatile nn2x16_p = nn2x16, nn4x8_p = nn4x8;
static pk_fn const volatile pk4x8_p = pk4x8, pk4x8u_p = pk4x8u, pk6x8_p = pk6x8, pk5x8_p = pk5x8, pk3x12_p = pk3x12;

static int n_rows = 120; /* multiple of 3, 4, 5, 6 */
static int R, K;
static float *dy, *w, *dx;

/* the engine's driver shape: W tile [RB][32] copied per (r0, c0), dY as 4 pointers */
static void run_ptr(void) {
    float wbuf[RB * 32] __attribute__((aligned(16)));
    for (int r0 = 0; r0 < R; r0 += RB)
        for (int c0 = 0; c0 < K; c0 += 32) {
            for (int r = 0; r < RB; r++) memcpy(wbuf + r * 32, w + (size_t)(r0 + r) * K + c0, 128);
            for (int i = 0; i < n_rows; i += 4) {
                float *d = dx + (size_t)i * K + c0;
                const float *y = dy + (size_t)i * R + r0;
                for (int j = 0; j < 32; j += 8) ptr4x8_p(d + j, d + K + j, d + 2 * K + j, d + 3 * K + j, y, y + R, y + 2 * R, y + 3 * R, wbuf + j, 32, RB);
            }
        }
}

/* dY packed per group of mr rows for the whole R block [n/mr][RB][mr]; W tile [RB][cols] (ldw = cols) */
static void run_pk(pk_fn f, int mr, int nr) {
    static float dyp[128 * RB] __attribute__((aligned(16)));
    float wbuf[RB * 48] __attribute__((aligned(16)));
    const int cw = 96 % nr == 0 && K % 96 == 0 ? 96 : 32; /* columns per W tile: a multiple of nr */
    const int cols = nr == 12 ? 48 : 32;
    (void)cw;
    for (int r0 = 0; r0 < R; r0 += RB) {
        for (int i = 0; i < n_rows; i += mr)
            for (int r = 0; r < RB; r++)
                for (int a = 0; a < mr; a++) dyp[(size_t)i * RB + r * mr + a] = dy[(size_t)(i + a) * R + r0 + r];
        for (int c0 = 0; c0 < K; c0 += cols) {
            const int cc = K - c0 < cols ? K - c0 : cols;
            for (int r = 0; r < RB; r++) memcpy(wbuf + r * cols, w + (size_t)(r0 + r) * K + c0, 4 * cc);
            for (int i = 0; i < n_rows; i += mr)
                for (int j = 0; j + nr <= cc; j += nr) f(dx + (size_t)i * K + c0 + j, K, dyp + (size_t)i * RB, wbuf + j, cols, RB);
        }
    }
}


static void run_ptr2(void) {
    float wbuf[RB * 32] __attribute__((aligned(16)));
    for (int r0 = 0; r0 < R; r0 += RB)
        for (int c0 = 0; c0 < K; c0 += 32) {
            for (int r = 0; r < RB; r++) memcpy(wbuf + r * 32, w + (size_t)(r0 + r) * K + c0, 128);
            for (int i = 0; i < n_rows; i += 2) {
                float *d = dx + (size_t)i * K + c0;
                const float *y = dy + (size_t)i * R + r0;
                for (int j = 0; j < 32; j += 16) ptr2x16_p(d + j, d + K + j, y, y + R, wbuf + j, 32, RB);
            }
        }
}

/* dY pre-splatted per group of mr rows for the R block [n/mr][RB][mr] vectors; W tile [RB][32] */
static void run_sp(sp_fn f, int mr, int nr) {
    static v128_t dys[128 * RB];
    float wbuf[RB * 32] __attribute__((aligned(16)));
    for (int r0 = 0; r0 < R; r0 += RB) {
        for (int i = 0; i < n_rows; i += mr)
            for (int r = 0; r < RB; r++)
                for (int a = 0; a < mr; a++) dys[(size_t)i * RB + r * mr + a] = wasm_f32x4_splat(dy[(size_t)(i + a) * R + r0 + r]);
        for (int c0 = 0; c0 < K; c0 += 32) {
            for (int r = 0; r < RB; r++) memcpy(wbuf + r * 32, w + (size_t)(r0 + r) * K + c0, 128);
            for (int i = 0; i < n_rows; i += mr)
                for (int j = 0; j < 32; j += nr) f(dx + (size_t)i * K + c0 + j, K, dys + (size_t)i * RB, wbuf + j, 32, RB);
        }
    }
}

static void run_nptr(int mr) {
    float wbuf[RB * 32] __attribute__((aligned(16)));
    for (int r0 = 0; r0 < R; r0 += RB)
        for (int c0 = 0; c0 < K; c0 += 32) {
            for (int r = 0; r < RB; r++) memcpy(wbuf + r * 32, w + (size_t)(r0 + r) * K + c0, 128);
            for (int i = 0; i < n_rows; i += mr) {
                float *d = dx + (size_t)i * K + c0;
                const float *y = dy + (size_t)i * R + r0;
                if (mr == 4) nptr4x8_p(d, d + K, d + 2 * K, d + 3 * K, y, y + R, y + 2 * R, y + 3 * R, wbuf, 32, RB, 4);
                else nptr2x16_p(d, d + K, y, y + R, wbuf, 32, RB, 2);
            }
        }
}

static void run_npk(void) {
    static float dyp[128 * RB] __attribute__((aligned(16)));
    float wbuf[RB * 32] __attribute__((aligned(16)));
    for (int r0 = 0; r0 < R; r0 += RB) {
        for (int i = 0; i < n_rows; i += 4)
            for (int r = 0; r < RB; r++)
                for (int a = 0; a < 4; a++) dyp[(size_t)i * RB + r * 4 + a] = dy[(size_t)(i + a) * R + r0 + r];
        for (int c0 = 0; c0 < K; c0 += 32) {
            for (int r = 0; r < RB; r++) memcpy(wbuf + r * 32, w + (size_t)(r0 + r) * K + c0, 128);
            for (int i = 0; i < n_rows; i += 4) npk4x8_p(dx + (size_t)i * K + c0, K, dyp + (size_t)i * RB, wbuf, 32, RB, 4);
        }
    }
}

static void run_nn(int mr) {
    float wbuf[RB * 32] __attribute__((aligned(16)));
    for (int r0 = 0; r0 < R; r0 += RB)
        for (int c0 = 0; c0 < K; c0 += 32) {
            for (int r = 0; r < RB; r++) memcpy(wbuf + r * 32, w + (size_t)(r0 + r) * K + c0, 128);
            if (mr == 2) nn2x16_p(dx + c0, K, dy + r0, R, wbuf, 32, RB, 2, n_rows / 2);
            else nn4x8_p(dx + c0, K, dy + r0, R, wbuf, 32, RB, 4, n_rows / 4);
        }
}

int main(int argc, char **argv) {
    R = argc > 1 ? atoi(argv[1]) : 768;
    K = argc > 2 ? atoi(argv[2]) : 288;
    const int reps = argc > 3 ? atoi(argv[3]) : 3;
    if (R % RB || K % 96) { fprintf(stderr, "R: a multiple of %d, K of 96\n", RB); return 1; }
    dy = aligned_alloc(16, (size_t)n_rows * R * 4);
    w = aligned_alloc(16, (size_t)R * K * 4);
    dx = aligned_alloc(16, (size_t)n_rows * K * 4);
    float *ref = aligned_alloc(16, (size_t)n_rows * K * 4);
    srand(1);
    for (size_t i = 0; i < (size_t)n_rows * R; i++) dy[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)R * K; i++) w[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    const double flops = 2.0 * n_rows * R * K;
    const char *names[] = {"ptr4x8", "pk4x8", "pk4x8u", "pk5x8", "pk6x8", "pk3x12", "ptr2x16", "sp4x8", "sp2x16", "nptr4x8", "nptr2x16", "npk4x8", "nn2x16", "nn4x8"};
    double bestf[14] = {0};
    for (int rep = 0; rep < reps; rep++) {
        const double peak = sp_probe_peak_gflops(0.5);
        printf("rep %d: probe %.1f GF/s;", rep, peak);
        for (int v = 0; v < 14; v++) {
            double best = 1e30;
            for (int t = 0; t < 20; t++) {
                memset(dx, 0, (size_t)n_rows * K * 4);
                double t0 = cpu_ms();
                switch (v) {
                case 0: run_ptr(); break;
                case 1: run_pk(pk4x8_p, 4, 8); break;
                case 2: run_pk(pk4x8u_p, 4, 8); break;
                case 3: run_pk(pk5x8_p, 5, 8); break;
                case 4: run_pk(pk6x8_p, 6, 8); break;
                case 5: run_pk(pk3x12_p, 3, 12); break;
                case 6: run_ptr2(); break;
                case 7: run_sp(sp4x8_p, 4, 8); break;
                case 8: run_sp(sp2x16_p, 2, 16); break;
                case 9: run_nptr(4); break;
                case 10: run_nptr(2); break;
                case 11: run_npk(); break;
                case 12: run_nn(2); break;
                case 13: run_nn(4); break;
                }
                double dt = cpu_ms() - t0;
                if (dt < best) best = dt;
            }
            if (v == 0) memcpy(ref, dx, (size_t)n_rows * K * 4);
            const int same = memcmp(ref, dx, (size_t)n_rows * K * 4) == 0;
            printf(" %s %.2f%s", names[v], flops / best * 1e-6 / peak, same ? "" : " (DIFFERS)");
            if (flops / best * 1e-6 / peak > bestf[v]) bestf[v] = flops / best * 1e-6 / peak;
        }
        printf("\n");
    }
    printf("best of the rounds:");
    for (int v = 0; v < 14; v++) printf(" %s %.2f", names[v], bestf[v]);
    printf("\n");
    return 0;
}
