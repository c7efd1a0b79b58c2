/* kdec_tiles.c - what bounds K-quant decoding (gemv_x16_wasmsimd.c) under V8: the engine's
 * kernels against variants on the same weights, one thread, process CPU time, best of the repeats,
 * G weights/s over rows x cols (the driver's loop: x rounded per KC chunk, then 4-row tiles):
 *
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 --profiling-funcs -sALLOW_MEMORY_GROWTH=1 -Isrc \
 *       tests/experiments/kdec_tiles.c src/common.c src/tensor.c $(ls src/kernels/[a-z]*.c | grep -v gemv_x16) \
 *       -o /tmp/kdec_tiles.js
 *   node --no-experimental-fetch /tmp/kdec_tiles.js 768 2048 5       # rows, cols, repeats
 *   node --no-experimental-fetch --print-wasm-code /tmp/kdec_tiles.js 8 256 1 > /tmp/kdec.asm   # x64 code
 *
 *   engine    the kernels as gemv_x16_wasmsimd.c has them (Q4_K, Q5_K, Q6_K; Q8_0: the driver)
 *   pairs     the Q4_K kernel with its sub-blocks a loop over pairs (even then odd) instead of unrolled
 *   pairs_nobar, nobar   the same two without SCHED_BARRIER's groups of loads
 *   floor     Q4_K codes + dot products + adds into one accumulator per row, unrolled and grouped
 *             as the engine (no transposes, scales or f32 work): the per-row part alone, a bound
 *             on the kernel
 *   scales    floor plus the superblock scale unpack (k4_scales_4x): what the unpack costs
 * Variants are defined here; the exact ones are checked bit for bit against the engine's result. */
#include <stdio.h>
#include <stdlib.h>
#include <emscripten.h>
#include "../../src/kernels/gemv_x16_wasmsimd.c"

EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });

typedef void (*kfn)(float *, int, int32_t, const x16_row *, const uint8_t *const *, int32_t);

/* floor, and with scales = 1 the scale unpack too: the engine's loads, codes, dot products and
 * groups of loads (SCHED_BARRIER), the dot products added into one accumulator per row */
static inline void q4k_floor_impl(float *y, const x16_row *x, const uint8_t *const *p, int32_t nb, int scales) {
    v128_t m4 = wasm_i8x16_splat(15), b16 = wasm_i8x16_splat(16), ml = wasm_i16x8_splat(15), zero = wasm_i32x4_splat(0);
    OPAQUE(m4); OPAQUE(b16); OPAQUE(ml); OPAQUE(zero);
    volatile v128_t sink;
    const size_t bs = sizeof(sp_block_q4_k);
    v128_t a0 = zero, a1 = zero, a2 = zero, a3 = zero, f = zero;
    for (int32_t s = 0; s < nb / 8; s++) {
        const uint8_t *blk[4] = {p[0] + s * bs, p[1] + s * bs, p[2] + s * bs, p[3] + s * bs};
        if (scales) {
            float d[4] __attribute__((aligned(16))), mv[8][4] __attribute__((aligned(16)));
            int32_t sc[8][4] __attribute__((aligned(16)));
            k4_scales_4x(d, sc, mv, blk);
            f = wasm_f32x4_add(f, wasm_f32x4_add(wasm_v128_load(d), wasm_v128_load(mv[s & 7])));
            a0 = wasm_i32x4_add(a0, wasm_v128_load(sc[s & 7]));
        }
#pragma clang loop unroll(full)
        for (int32_t j = 0; j < 8; j++) {
            const int16_t *xb = x->q + (size_t)(8 * s + j) * SP_QK;
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
            const size_t o = offsetof(sp_block_q4_k, qs) + 32 * (size_t)(j / 2);
            a0 = wasm_i32x4_add(a0, k4_dot(blk[0] + o, NULL, j, x0, x1, x2, x3, m4, b16, ml));
            a1 = wasm_i32x4_add(a1, k4_dot(blk[1] + o, NULL, j, x0, x1, x2, x3, m4, b16, ml));
            SCHED_BARRIER(&sink, a1);
            a2 = wasm_i32x4_add(a2, k4_dot(blk[2] + o, NULL, j, x0, x1, x2, x3, m4, b16, ml));
            a3 = wasm_i32x4_add(a3, k4_dot(blk[3] + o, NULL, j, x0, x1, x2, x3, m4, b16, ml));
            SCHED_BARRIER(&sink, a3);
        }
    }
    wasm_v128_store(y, wasm_f32x4_add(f, wasm_f32x4_convert_i32x4(isum4x4(a0, a1, a2, a3))));
}
NOINLINE static void q4k_floor(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p, int32_t nb) {
    (void)first; (void)nr;
    q4k_floor_impl(y, x, p, nb, 0);
}
NOINLINE static void q4k_scales(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p, int32_t nb) {
    (void)first; (void)nr;
    q4k_floor_impl(y, x, p, nb, 1);
}

/* the engine's Q4_K kernel with the sub-blocks a loop over pairs (pairs = 1: the parity constant
 * within the pair) or unrolled, with or without the groups of loads (bar) */
__attribute__((always_inline)) static inline void q4k_var(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p,
                                                          int32_t nb, int pairs, int bar) {
    v128_t m4 = wasm_i8x16_splat(15), b16 = wasm_i8x16_splat(16), ml = wasm_i16x8_splat(15);
    OPAQUE(m4); OPAQUE(b16); OPAQUE(ml);
    volatile v128_t sink;
    const size_t bs = sizeof(sp_block_q4_k), qs = offsetof(sp_block_q4_k, qs);
    v128_t f = wasm_f32x4_splat(0.0f);
    for (int32_t s = 0; s < nb / 8; s++) {
        const uint8_t *blk[4] = {p[0] + s * bs, p[1] + s * bs, p[2] + s * bs, p[3] + s * bs};
        float d[4] __attribute__((aligned(16))), mv[8][4] __attribute__((aligned(16)));
        int32_t sc[8][4] __attribute__((aligned(16)));
        k4_scales_4x(d, sc, mv, blk);
        const v128_t dv = wasm_v128_load(d);
        const int16_t *xs = x->q + (size_t)s * 8 * SP_QK;
        const float *sxs = x->sx + 8 * s, *sums = x->sum + 8 * s;
#define BODY(j, par)                                                                                              \
    do {                                                                                                          \
        const int16_t *xb = xs + (j) * SP_QK;                                                                     \
        const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24); \
        const size_t o = qs + 32 * (size_t)((j) / 2);                                                             \
        const v128_t ab = isum2x4(k4_dot(blk[0] + o, NULL, par, x0, x1, x2, x3, m4, b16, ml), k4_dot(blk[1] + o, NULL, par, x0, x1, x2, x3, m4, b16, ml)); \
        if (bar) SCHED_BARRIER(&sink, ab);                                                                        \
        const v128_t cd = isum2x4(k4_dot(blk[2] + o, NULL, par, x0, x1, x2, x3, m4, b16, ml), k4_dot(blk[3] + o, NULL, par, x0, x1, x2, x3, m4, b16, ml)); \
        if (bar) SCHED_BARRIER(&sink, cd);                                                                        \
        const v128_t is = wasm_i32x4_mul(isum_pairs(ab, cd), wasm_v128_load(sc[j]));                              \
        f = wasm_f32x4_add(f, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(is), wasm_f32x4_mul(dv, wasm_v128_load32_splat(sxs + (j))))); \
        f = wasm_f32x4_sub(f, wasm_f32x4_mul(wasm_v128_load(mv[j]), wasm_v128_load32_splat(sums + (j))));        \
        if (bar) SCHED_BARRIER(&sink, f);                                                                         \
    } while (0)
        if (pairs) {
#pragma clang loop unroll(disable)
            for (int32_t i = 0; i < 4; i++) {
                BODY(2 * i, 0);
                BODY(2 * i + 1, 1);
            }
        } else {
#pragma clang loop unroll(full)
            for (int32_t j = 0; j < 8; j++) BODY(j, j & 1);
        }
#undef BODY
    }
    store_rows(y, first, nr, f);
}
NOINLINE static void q4k_pairs(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p, int32_t nb) {
    q4k_var(y, first, nr, x, p, nb, 1, 1);
}
NOINLINE static void q4k_pairs_nobar(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p, int32_t nb) {
    q4k_var(y, first, nr, x, p, nb, 1, 0);
}
NOINLINE static void q4k_nobar(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p, int32_t nb) {
    q4k_var(y, first, nr, x, p, nb, 0, 0);
}
KERNEL_PTR(kfn, q4k_pairs);
KERNEL_PTR(kfn, q4k_pairs_nobar);
KERNEL_PTR(kfn, q4k_nobar);
KERNEL_PTR(kfn, q4k_floor);
KERNEL_PTR(kfn, q4k_scales);

typedef struct {
    const char *name;
    kfn fn;
    int exact; /* must equal the engine bit for bit */
} variant;

/* the driver's K-quant loop with kernel v: rows by 4, x rounded per KC chunk (v->fn NULL: the
 * driver itself, with streams) */
static void run(const variant *v, float *y, const float *x, const sp_mat *w) {
    static x16_row xr;
    if (!v->fn) {
        sp_gemv_x16_wasmsimd(y, x, w, 0, w->rows, 1);
        return;
    }
    const size_t bs = sp_dtype_row_bytes(w->type, SP_QK_K);
    for (int32_t k0 = 0; k0 < w->cols; k0 += SP_DECODE_KC) {
        const int32_t len = imin(SP_DECODE_KC, w->cols - k0), nb = len / SP_QK;
        quantize_x16(&xr, x + k0, len, w->type);
        const size_t ko = (size_t)(k0 / SP_QK_K) * bs;
        for (int32_t r = 0; r < w->rows; r += 4) {
            const uint8_t *qp[4];
            for (int32_t c = 0; c < 4; c++) qp[c] = sp_mat_row_ptr(w, r + c) + ko;
            v->fn(y + r, k0 == 0, 4, &xr, qp, nb);
        }
    }
}

int main(int argc, char **argv) {
    const int32_t rows = argc > 1 ? atoi(argv[1]) : 768, cols = argc > 2 ? atoi(argv[2]) : 2048;
    const int reps = argc > 3 ? atoi(argv[3]) : 5;
    const uint32_t types[4] = {SP_DTYPE_Q4_K, SP_DTYPE_Q5_K, SP_DTYPE_Q6_K, SP_DTYPE_Q8_0};
    for (int ti = 0; ti < 4; ti++) {
        const uint32_t t = types[ti];
        const size_t rb = sp_dtype_row_bytes(t, cols);
        uint8_t *wd = malloc(rb * (size_t)rows);
        float *x = malloc(4 * (size_t)cols), *y0 = malloc(4 * (size_t)rows), *y1 = malloc(4 * (size_t)rows);
        sp_rng rng;
        sp_rng_seed(&rng, 1);
        for (int32_t r = 0; r < rows; r++) {
            if (sp_random_row_kquant(t, wd + (size_t)r * rb, cols, &rng, 0.05f)) continue;
            for (int32_t c = 0; c < cols; c++) x[c] = sp_rng_normal(&rng) * 0.05f;
            sp_quantize_row(t, wd + (size_t)r * rb, x, cols);
        }
        for (int32_t c = 0; c < cols; c++) x[c] = sp_rng_normal(&rng);
        sp_mat w = {t, rows, cols, rb, wd, 0};
        sp_mat_check_f16(&w);
        const variant q4[] = {{"engine", gemv_q4_k_1x4_wasmsimd_x16_p, 1}, {"pairs", q4k_pairs_p, 1}, {"pairs_nobar", q4k_pairs_nobar_p, 1},
                              {"nobar", q4k_nobar_p, 1}, {"floor", q4k_floor_p, 0},
                              {"scales", q4k_scales_p, 0}};
        const variant q5[] = {{"engine", gemv_q5_k_1x4_wasmsimd_x16_p, 1}};
        const variant q6[] = {{"engine", gemv_q6_k_1x4_wasmsimd_x16_p, 1}};
        const variant q8[] = {{"driver", NULL, 1}};
        const variant *vs = ti == 0 ? q4 : ti == 1 ? q5 : ti == 2 ? q6 : q8;
        const int nv = ti == 0 ? (int)(sizeof q4 / sizeof q4[0]) : 1;
        run(&vs[0], y0, x, &w);
        for (int v = 1; v < nv; v++) {
            if (!vs[v].exact) continue;
            run(&vs[v], y1, x, &w);
            if (memcmp(y0, y1, 4 * (size_t)rows)) printf("%s %s: NOT the engine's bits\n", sp_dtype_name(t), vs[v].name);
        }
        printf("%s %d x %d, G weights/s:", sp_dtype_name(t), rows, cols);
        double best[8];
        for (int v = 0; v < nv; v++) best[v] = 1e30;
        for (int rep = 0; rep < reps; rep++)
            for (int v = 0; v < nv; v++) {
                double t0 = cpu_ms();
                int n = 0;
                do {
                    run(&vs[v], y1, x, &w);
                    n++;
                } while (cpu_ms() - t0 < 20.0);
                const double dt = (cpu_ms() - t0) / n;
                if (dt < best[v]) best[v] = dt;
            }
        for (int v = 0; v < nv; v++) printf(" %s %.2f", vs[v].name, (double)rows * cols / best[v] / 1e6);
        printf("\n");
        free(wd); free(x); free(y0); free(y1);
    }
    return 0;
}
