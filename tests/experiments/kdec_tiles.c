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
 *   engine   the kernels as gemv_x16_wasmsimd.c has them
 *   floor    codes + dot products + adds only (no transposes, scales or f32 work): the per-row part
 *   scales   floor plus the superblock scale unpack (k4_scales_4x): what the unpack costs
 * Variants under test are defined here and checked bit for bit against the engine's result. */
#include <stdio.h>
#include <stdlib.h>
#include <emscripten.h>
#include "../../src/kernels/gemv_x16_wasmsimd.c"

EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });

typedef void (*kfn)(float *, int, int32_t, const int16_t *, const float *, const float *, const uint8_t *const *, int32_t);

/* ---- floor: Q4_K codes (natural x order, as the engine) + dots + adds into one i32 accumulator per row ---- */
NOINLINE static void q4k_floor(float *y, int first, int32_t nr, const int16_t *xq, const float *sx, const float *sum,
                               const uint8_t *const *p, int32_t nb) {
    (void)sx; (void)sum; (void)first; (void)nr;
    v128_t m4 = wasm_i8x16_splat(15), b16 = wasm_i8x16_splat(16), zero = wasm_i32x4_splat(0);
    OPAQUE(m4); OPAQUE(b16); OPAQUE(zero);
    const size_t bs = sizeof(sp_block_q4_k), qs_off = offsetof(sp_block_q4_k, qs);
    v128_t a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    for (int32_t s = 0; s < nb / 8; s++) {
        const uint8_t *blk[4] = {p[0] + s * bs, p[1] + s * bs, p[2] + s * bs, p[3] + s * bs};
#pragma clang loop unroll(full)
        for (int32_t j = 0; j < 8; j++) {
            const int16_t *xb = xq + (size_t)(8 * s + j) * SP_QK;
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
            const size_t o = qs_off + 32 * (size_t)(j / 2);
            a0 = wasm_i32x4_add(a0, k5_dot(blk[0] + o, NULL, j, x0, x1, x2, x3, m4, b16, zero));
            a1 = wasm_i32x4_add(a1, k5_dot(blk[1] + o, NULL, j, x0, x1, x2, x3, m4, b16, zero));
            a2 = wasm_i32x4_add(a2, k5_dot(blk[2] + o, NULL, j, x0, x1, x2, x3, m4, b16, zero));
            a3 = wasm_i32x4_add(a3, k5_dot(blk[3] + o, NULL, j, x0, x1, x2, x3, m4, b16, zero));
        }
    }
    wasm_v128_store(y, wasm_f32x4_convert_i32x4(isum4x4(a0, a1, a2, a3)));
}

/* ---- floor16: the engine's Q4_K codes (16-bit lanes, x split) + dots + adds ---- */
NOINLINE static void q4k_floor16(float *y, int first, int32_t nr, const int16_t *xq, const float *sx, const float *sum,
                                 const uint8_t *const *p, int32_t nb) {
    (void)sx; (void)sum; (void)first; (void)nr;
    v128_t m = wasm_i16x8_splat(15), zero = wasm_i32x4_splat(0);
    OPAQUE(m); OPAQUE(zero);
    const size_t bs = sizeof(sp_block_q4_k), qs_off = offsetof(sp_block_q4_k, qs);
    v128_t a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    for (int32_t s = 0; s < nb / 8; s++) {
        const uint8_t *blk[4] = {p[0] + s * bs, p[1] + s * bs, p[2] + s * bs, p[3] + s * bs};
#pragma clang loop unroll(full)
        for (int32_t j = 0; j < 8; j++) {
            const int16_t *xb = xq + (size_t)(8 * s + j) * SP_QK;
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
            const size_t o = qs_off + 32 * (size_t)(j / 2);
            a0 = wasm_i32x4_add(a0, k4_dot(blk[0] + o, j, x0, x1, x2, x3, m));
            a1 = wasm_i32x4_add(a1, k4_dot(blk[1] + o, j, x0, x1, x2, x3, m));
            a2 = wasm_i32x4_add(a2, k4_dot(blk[2] + o, j, x0, x1, x2, x3, m));
            a3 = wasm_i32x4_add(a3, k4_dot(blk[3] + o, j, x0, x1, x2, x3, m));
        }
    }
    wasm_v128_store(y, wasm_f32x4_convert_i32x4(isum4x4(a0, a1, a2, a3)));
}

/* floor plus the scale unpack */
NOINLINE static void q4k_scales(float *y, int first, int32_t nr, const int16_t *xq, const float *sx, const float *sum,
                                const uint8_t *const *p, int32_t nb) {
    v128_t m = wasm_i16x8_splat(15), zero = wasm_i32x4_splat(0);
    OPAQUE(m); OPAQUE(zero);
    (void)sx; (void)sum; (void)first; (void)nr;
    const size_t bs = sizeof(sp_block_q4_k), qs_off = offsetof(sp_block_q4_k, qs);
    v128_t a0 = zero, a1 = zero, a2 = zero, a3 = zero, f = zero;
    for (int32_t s = 0; s < nb / 8; s++) {
        const uint8_t *blk[4] = {p[0] + s * bs, p[1] + s * bs, p[2] + s * bs, p[3] + s * bs};
        float d[4] __attribute__((aligned(16))), mv[8][4] __attribute__((aligned(16)));
        int32_t sc[8][4] __attribute__((aligned(16)));
        k4_scales_4x(d, sc, mv, blk);
        f = wasm_f32x4_add(f, wasm_f32x4_add(wasm_v128_load(d), wasm_v128_load(mv[s & 7])));
        a0 = wasm_i32x4_add(a0, wasm_v128_load(sc[s & 7]));
#pragma clang loop unroll(full)
        for (int32_t j = 0; j < 8; j++) {
            const int16_t *xb = xq + (size_t)(8 * s + j) * SP_QK;
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
            const size_t o = qs_off + 32 * (size_t)(j / 2);
            a0 = wasm_i32x4_add(a0, k4_dot(blk[0] + o, j, x0, x1, x2, x3, m));
            a1 = wasm_i32x4_add(a1, k4_dot(blk[1] + o, j, x0, x1, x2, x3, m));
            a2 = wasm_i32x4_add(a2, k4_dot(blk[2] + o, j, x0, x1, x2, x3, m));
            a3 = wasm_i32x4_add(a3, k4_dot(blk[3] + o, j, x0, x1, x2, x3, m));
        }
    }
    wasm_v128_store(y, wasm_f32x4_add(f, wasm_f32x4_convert_i32x4(isum4x4(a0, a1, a2, a3))));
}

/* ---- Q6_K: unsigned codes (0..63) split with & 0xFF and >> 8; the 32 * (sum of x over the 16 values) taken off
 * per 4 rows after the transpose (x32 = that, per 16 values, as i32) */
static inline v128_t q6_dot16u(const uint8_t *ql, const uint8_t *qh, int32_t k, v128_t xe, v128_t xo, v128_t m4, v128_t m48,
                               v128_t mff) {
    const v128_t l = wasm_v128_load(ql), h = wasm_v128_load(qh);
    const v128_t lo = wasm_v128_and(k >= 2 ? wasm_u16x8_shr(l, 4) : l, m4);
    v128_t hs;
    switch (k) {
    case 0: hs = wasm_i16x8_shl(h, 4); break;
    case 1: hs = wasm_i16x8_shl(h, 2); break;
    case 2: hs = h; break;
    default: hs = wasm_u16x8_shr(h, 2); break;
    }
    const v128_t c = wasm_v128_or(lo, wasm_v128_and(hs, m48));
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_and(c, mff), xe), wasm_i32x4_dot_i16x8(wasm_u16x8_shr(c, 8), xo));
}

NOINLINE static void q6k_u16(float *y, int first, int32_t nr, const int16_t *xq, const float *sx, const float *sum,
                             const uint8_t *const *p, int32_t nb) {
    const int32_t *x32 = (const int32_t *)sum;
    v128_t m4 = wasm_i8x16_splat(15), m48 = wasm_i8x16_splat(48), mff = wasm_i16x8_splat(255);
    OPAQUE(m4); OPAQUE(m48); OPAQUE(mff);
    const size_t bs = sizeof(sp_block_q6_k);
    v128_t f = wasm_f32x4_splat(0.0f);
    for (int32_t s = 0; s < nb / 8; s++) {
        const uint8_t *blk[4] = {p[0] + s * bs, p[1] + s * bs, p[2] + s * bs, p[3] + s * bs};
        uint16_t h[4];
        for (int32_t c = 0; c < 4; c++) memcpy(h + c, blk[c] + offsetof(sp_block_q6_k, d), 2);
        const v128_t dv = wasm_f32x4_make(sp_half_to_f32(h[0]), sp_half_to_f32(h[1]), sp_half_to_f32(h[2]), sp_half_to_f32(h[3]));
        v128_t sc[4];
        {
            const size_t o = offsetof(sp_block_q6_k, scales);
            const v128_t u0 = wasm_v128_load(blk[0] + o), u1 = wasm_v128_load(blk[1] + o), u2 = wasm_v128_load(blk[2] + o), u3 = wasm_v128_load(blk[3] + o);
            transpose_bytes_4x8(sc, u0, u1, u2, u3, 0);
            transpose_bytes_4x8(sc + 2, u0, u1, u2, u3, 1);
        }
#pragma clang loop unroll(full)
        for (int32_t j = 0; j < 8; j++) {
            const int32_t b = 8 * s + j, half = j >> 2, k = j & 3;
            const int16_t *xb = xq + (size_t)b * SP_QK;
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
            const size_t ol = offsetof(sp_block_q6_k, ql) + 64 * (size_t)half + 32 * (size_t)(k & 1);
            const size_t oh = offsetof(sp_block_q6_k, qh) + 32 * (size_t)half;
            v128_t a[4], c16[4];
            for (int32_t c = 0; c < 4; c++) {
                a[c] = q6_dot16u(blk[c] + ol, blk[c] + oh, k, x0, x1, m4, m48, mff);
                c16[c] = q6_dot16u(blk[c] + ol + 16, blk[c] + oh + 16, k, x2, x3, m4, m48, mff);
            }
            const int32_t g = 8 * half + 2 * k;
            const v128_t sa = wasm_i32x4_sub(isum4x4(a[0], a[1], a[2], a[3]), wasm_v128_load32_splat(x32 + 2 * b));
            const v128_t sb = wasm_i32x4_sub(isum4x4(c16[0], c16[1], c16[2], c16[3]), wasm_v128_load32_splat(x32 + 2 * b + 1));
            const v128_t is = wasm_i32x4_add(wasm_i32x4_mul(sa, I8_GROUP(sc[g / 4], g % 4)), wasm_i32x4_mul(sb, I8_GROUP(sc[(g + 1) / 4], (g + 1) % 4)));
            f = wasm_f32x4_add(f, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(is), wasm_f32x4_mul(dv, wasm_v128_load32_splat(sx + b))));
        }
    }
    store_rows(y, first, nr, f);
}

KERNEL_PTR(kfn, q4k_floor);
KERNEL_PTR(kfn, q4k_floor16);
KERNEL_PTR(kfn, q4k_scales);
KERNEL_PTR(kfn, q6k_u16);


typedef struct {
    const char *name;
    kfn fn;
    int permuted; /* x permuted per block (permute_x16); 2: and 32 * the sums of x per 16 values for sum */
    int exact;    /* must equal the engine bit for bit */
} variant;

/* xq as quantize_x16 stores it for Q4_K / Q6_K (split) -> xp (split when permuted, else natural) */
static void permute_x16(int16_t *xp, const int16_t *xq, int32_t len, uint32_t t) {
    (void)t;
    memcpy(xp, xq, 2 * (size_t)len);
}

/* the driver's K-quant loop with kernel v: rows by 4, x rounded per KC chunk */
static void run(const variant *v, float *y, const float *x, const sp_mat *w) {
    int16_t xq[SP_DECODE_KC] __attribute__((aligned(16))), xp[SP_DECODE_KC] __attribute__((aligned(16)));
    float sx[SP_DECODE_KC / SP_QK], sum[SP_DECODE_KC / SP_QK];
    const size_t bs = sp_dtype_row_bytes(w->type, SP_QK_K);
    for (int32_t k0 = 0; k0 < w->cols; k0 += SP_DECODE_KC) {
        const int32_t len = imin(SP_DECODE_KC, w->cols - k0), nb = len / SP_QK;
        quantize_x16(xq, sx, sum, x + k0, len, w->type);
        if (v->permuted) permute_x16(xp, xq, len, w->type);
        int32_t x32[SP_DECODE_KC / 16];
        for (int32_t g = 0; g < len / 16; g++) {
            int32_t t = 0;
            for (int32_t i = 0; i < 16; i++) t += xq[16 * g + i];
            x32[g] = 32 * t;
        }
        const size_t ko = (size_t)(k0 / SP_QK_K) * bs;
        for (int32_t r = 0; r < w->rows; r += 4) {
            const uint8_t *qp[4];
            for (int32_t c = 0; c < 4; c++) qp[c] = sp_mat_row_ptr(w, r + c) + ko;
            v->fn(y + r, k0 == 0, 4, v->permuted ? xp : xq, sx, v->permuted == 2 ? (const float *)x32 : sum, qp, nb);
        }
    }
}

int main(int argc, char **argv) {
    const int32_t rows = argc > 1 ? atoi(argv[1]) : 768, cols = argc > 2 ? atoi(argv[2]) : 2048;
    const int reps = argc > 3 ? atoi(argv[3]) : 5;
    const uint32_t types[2] = {SP_DTYPE_Q4_K, SP_DTYPE_Q6_K};
    for (int ti = 0; ti < 2; ti++) {
        const uint32_t t = types[ti];
        const size_t rb = sp_dtype_row_bytes(t, cols);
        uint8_t *wd = malloc(rb * (size_t)rows);
        float *x = malloc(4 * (size_t)cols), *y0 = malloc(4 * (size_t)rows), *y1 = malloc(4 * (size_t)rows);
        sp_rng rng;
        sp_rng_seed(&rng, 1);
        for (int32_t r = 0; r < rows; r++) sp_random_row_kquant(t, wd + (size_t)r * rb, cols, &rng, 0.05f);
        for (int32_t c = 0; c < cols; c++) x[c] = sp_rng_normal(&rng);
        sp_mat w = {t, rows, cols, rb, wd, 0};
        const variant q4[] = {{"engine", gemv_q4_k_1x4_wasmsimd_x16_p, 1, 1}, {"floor", q4k_floor_p, 0, 0},
                              {"floor16", q4k_floor16_p, 1, 0}, {"scales", q4k_scales_p, 1, 0}};
        const variant q6[] = {{"engine", gemv_q6_k_1x4_wasmsimd_x16_p, 0, 1}, {"u16", q6k_u16_p, 2, 1}};
        const variant *vs = ti == 0 ? q4 : q6;
        const int nv = ti == 0 ? (int)(sizeof q4 / sizeof q4[0]) : (int)(sizeof q6 / sizeof q6[0]);
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
