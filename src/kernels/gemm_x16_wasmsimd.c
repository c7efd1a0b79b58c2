/* gemm_x16_wasmsimd.c - the 4 x 8 tile of the integer forward product and its packing routines
 * (gemm_x16.c has the layouts and the formula), wasm SIMD128: bitwise equal to the reference
 * (sp_gemm_x16_4x8_scalar, sp_pack_w_x16_scalar, sp_pack_x_x16_scalar).
 *
 * Outer-product form with i32x4.dot_i16x8_s: one W vector holds a column pair of four rows of W,
 * dotted with the broadcast pair of one row of X it gives that row's four partial sums, so the
 * i32 accumulators need no horizontal sum at the end of a block: a convert, two muls and an add
 * per four outputs. One column pair a step: two W vectors (rows 0..3, 4..7), four broadcasts, 8
 * dots and 8 adds, 22 instructions for 8 dots against the 4 x 4 tile's 13 for 4. Live in the
 * loop: 8 i32 accumulators, 2 W vectors, a broadcast and a product (12 of V8's 15 xmm registers);
 * the f32 sums wait in memory between blocks. V8 issues a loop body's loads ahead of its
 * arithmetic, so a body of two or more column pairs holds more than 15 vectors and spills
 * (tests/c/bench_kernels.c, one thread: the 4 x 8 tile 52-56 GFLOP-equivalent/s against the 4 x 4
 * tile's 43-45; two pairs a step 38-49, sixteen 28). */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

static inline void gemm_x16_4x8(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq, const float *xs,
                                const int16_t *wq, const float *ws, int32_t nb, int mins) {
    v128_t f[8]; /* row r of X: f[2r] rows 0..3 of W, f[2r+1] rows 4..7 */
    for (int32_t i = 0; i < 8; i++) f[i] = wasm_f32x4_splat(0.0f);
    for (int32_t b = 0; b < nb; b++) {
        const int32_t *px = xq + (size_t)b * 64;
        const int16_t *pw = wq + (size_t)b * 256, *const pend = pw + 256;
        v128_t a00 = wasm_i32x4_splat(0), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
#pragma clang loop unroll(disable)
        for (; pw < pend; pw += 16, px += 4) {
            const v128_t w0 = wasm_v128_load(pw), w1 = wasm_v128_load(pw + 8);
            v128_t bx = wasm_v128_load32_splat(px);
            a00 = wasm_i32x4_add(a00, wasm_i32x4_dot_i16x8(w0, bx));
            a10 = wasm_i32x4_add(a10, wasm_i32x4_dot_i16x8(w1, bx));
            bx = wasm_v128_load32_splat(px + 1);
            a01 = wasm_i32x4_add(a01, wasm_i32x4_dot_i16x8(w0, bx));
            a11 = wasm_i32x4_add(a11, wasm_i32x4_dot_i16x8(w1, bx));
            bx = wasm_v128_load32_splat(px + 2);
            a02 = wasm_i32x4_add(a02, wasm_i32x4_dot_i16x8(w0, bx));
            a12 = wasm_i32x4_add(a12, wasm_i32x4_dot_i16x8(w1, bx));
            bx = wasm_v128_load32_splat(px + 3);
            a03 = wasm_i32x4_add(a03, wasm_i32x4_dot_i16x8(w0, bx));
            a13 = wasm_i32x4_add(a13, wasm_i32x4_dot_i16x8(w1, bx));
        }
        const float *sb = xs + (size_t)b * 8;
        const v128_t d0 = wasm_v128_load(ws + (size_t)b * 16), d1 = wasm_v128_load(ws + (size_t)b * 16 + 4);
        const v128_t a[8] = {a00, a10, a01, a11, a02, a12, a03, a13};
        for (int32_t r = 0; r < 4; r++) {
            const v128_t s = wasm_v128_load32_splat(sb + r);
            MA(f[2 * r], wasm_f32x4_convert_i32x4(a[2 * r]), wasm_f32x4_mul(d0, s));
            MA(f[2 * r + 1], wasm_f32x4_convert_i32x4(a[2 * r + 1]), wasm_f32x4_mul(d1, s));
        }
        if (mins) {
            const v128_t m0 = wasm_v128_load(ws + (size_t)b * 16 + 8), m1 = wasm_v128_load(ws + (size_t)b * 16 + 12);
            for (int32_t r = 0; r < 4; r++) {
                const v128_t s = wasm_v128_load32_splat(sb + 4 + r);
                f[2 * r] = wasm_f32x4_sub(f[2 * r], wasm_f32x4_mul(m0, s));
                f[2 * r + 1] = wasm_f32x4_sub(f[2 * r + 1], wasm_f32x4_mul(m1, s));
            }
        }
    }
    for (int32_t r = 0; r < mr; r++) {
        store_rows(y + (size_t)r * ldy, first, imin(nr, 4), f[2 * r]);
        if (nr > 4) store_rows(y + (size_t)r * ldy + 4, first, nr - 4, f[2 * r + 1]);
    }
}

/* The two instances (the min term folded away where there is none), called through pointers so
 * that they stay out of line (KERNEL_PTR). */
NOINLINE static void gemm_x16_4x8_nomin(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq,
                                        const float *xs, const int16_t *wq, const float *ws, int32_t nb) {
    gemm_x16_4x8(y, ldy, first, mr, nr, xq, xs, wq, ws, nb, 0);
}
NOINLINE static void gemm_x16_4x8_min(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq,
                                      const float *xs, const int16_t *wq, const float *ws, int32_t nb) {
    gemm_x16_4x8(y, ldy, first, mr, nr, xq, xs, wq, ws, nb, 1);
}
typedef void (*x16_tile_fn)(float *, int32_t, int, int32_t, int32_t, const int32_t *, const float *, const int16_t *,
                            const float *, int32_t);
KERNEL_PTR(x16_tile_fn, gemm_x16_4x8_nomin);
KERNEL_PTR(x16_tile_fn, gemm_x16_4x8_min);

void sp_gemm_x16_4x8_wasmsimd(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq, const float *xs,
                              const int16_t *wq, const float *ws, int32_t nb, int mins) {
    (mins ? gemm_x16_4x8_min_p : gemm_x16_4x8_nomin_p)(y, ldy, first, mr, nr, xq, xs, wq, ws, nb);
}

/* Four vectors of 8 i16 (one per row, four column pairs each) -> four vectors of one column pair
 * each (a 4 x 4 transpose of i32 lanes), stored at wp, wp + ld, wp + 2 ld, wp + 3 ld. */
static inline void store_pairs_4x4(int16_t *wp, int32_t ld, v128_t r0, v128_t r1, v128_t r2, v128_t r3) {
    const v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);
    const v128_t t2 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
    wasm_v128_store(wp, wasm_i64x2_shuffle(t0, t1, 0, 2));
    wasm_v128_store(wp + ld, wasm_i64x2_shuffle(t0, t1, 1, 3));
    wasm_v128_store(wp + 2 * ld, wasm_i64x2_shuffle(t2, t3, 0, 2));
    wasm_v128_store(wp + 3 * ld, wasm_i64x2_shuffle(t2, t3, 1, 3));
}

#define SP_EXT(v, half) ((half) ? wasm_i16x8_extend_high_i8x16(v) : wasm_i16x8_extend_low_i8x16(v))

/* One block of four rows of W, each as 32 signed bytes lo[c] (columns 0..15) and hi[c] (16..31),
 * widened to i16 -> the W vectors of those rows at wb (a half of the 8-row panel: 16 i16 from one
 * column pair to the next). */
static inline void store_block_i8(int16_t *wb, const v128_t *lo, const v128_t *hi) {
    store_pairs_4x4(wb, 16, SP_EXT(lo[0], 0), SP_EXT(lo[1], 0), SP_EXT(lo[2], 0), SP_EXT(lo[3], 0));
    store_pairs_4x4(wb + 64, 16, SP_EXT(lo[0], 1), SP_EXT(lo[1], 1), SP_EXT(lo[2], 1), SP_EXT(lo[3], 1));
    store_pairs_4x4(wb + 128, 16, SP_EXT(hi[0], 0), SP_EXT(hi[1], 0), SP_EXT(hi[2], 0), SP_EXT(hi[3], 0));
    store_pairs_4x4(wb + 192, 16, SP_EXT(hi[0], 1), SP_EXT(hi[1], 1), SP_EXT(hi[2], 1), SP_EXT(hi[3], 1));
}
/* the same with each row's values times its 16-bit factors flo[c] (columns 0..15), fhi[c] (16..31) */
static inline void store_block_i8_scaled(int16_t *wb, const v128_t *lo, const v128_t *hi, const v128_t *flo, const v128_t *fhi) {
#define SP_MULX(v, half, f) wasm_i16x8_mul(SP_EXT(v, half), f)
    store_pairs_4x4(wb, 16, SP_MULX(lo[0], 0, flo[0]), SP_MULX(lo[1], 0, flo[1]), SP_MULX(lo[2], 0, flo[2]), SP_MULX(lo[3], 0, flo[3]));
    store_pairs_4x4(wb + 64, 16, SP_MULX(lo[0], 1, flo[0]), SP_MULX(lo[1], 1, flo[1]), SP_MULX(lo[2], 1, flo[2]), SP_MULX(lo[3], 1, flo[3]));
    store_pairs_4x4(wb + 128, 16, SP_MULX(hi[0], 0, fhi[0]), SP_MULX(hi[1], 0, fhi[1]), SP_MULX(hi[2], 0, fhi[2]), SP_MULX(hi[3], 0, fhi[3]));
    store_pairs_4x4(wb + 192, 16, SP_MULX(hi[0], 1, fhi[0]), SP_MULX(hi[1], 1, fhi[1]), SP_MULX(hi[2], 1, fhi[2]), SP_MULX(hi[3], 1, fhi[3]));
#undef SP_MULX
}

/* The 16 Q6_K codes minus 32 at ql (low 4 bits, the high nibble for quarters k >= 2) and qh (bits
 * 2k, 2k+1): constant shifts per quarter (clang 14 scalarizes vector shifts by a variable). */
static inline v128_t q6_k_codes16(const uint8_t *ql, const uint8_t *qh, int32_t k, v128_t m4, v128_t m3, v128_t b32) {
    const v128_t l = wasm_v128_load(ql), h = wasm_v128_load(qh);
    const v128_t lo = k >= 2 ? wasm_v128_and(wasm_u16x8_shr(l, 4), m4) : wasm_v128_and(l, m4);
    v128_t hb;
    switch (k) {
    case 0: hb = h; break;
    case 1: hb = wasm_u16x8_shr(h, 2); break;
    case 2: hb = wasm_u16x8_shr(h, 4); break;
    default: hb = wasm_u16x8_shr(h, 6); break;
    }
    return wasm_i8x16_sub(wasm_v128_or(lo, wasm_i16x8_shl(wasm_v128_and(hb, m3), 4)), b32);
}

/* Block s of the four rows rows[0..4) -> a half of the 8-row panel: W vectors at wb (16 i16 from
 * one column pair to the next), scales at scale[0..4), mins at min[0..4). Returns 0 for a type
 * without a SIMD unpack here. */
static inline int pack_block4(int16_t *wb, float *scale, float *min, const uint8_t *const *rows, uint32_t type, int32_t s,
                              v128_t m4, v128_t b8, v128_t m3, v128_t b32, v128_t zero, v128_t b16) {
    const int32_t j = s % 8;
    v128_t lo[4], hi[4], flo[4], fhi[4]; /* columns 0..15 and 16..31 of each row (i8), their factors */
    uint16_t h;
    switch (type) {
    case SP_DTYPE_Q8_0:
    case SP_DTYPE_Q4_0: {
        const int q8 = type == SP_DTYPE_Q8_0;
        for (int32_t c = 0; c < 4; c++) {
            const uint8_t *blk = rows[c] + (size_t)s * (q8 ? sizeof(sp_block_q8_0) : sizeof(sp_block_q4_0));
            memcpy(&h, blk, 2);
            scale[c] = sp_half_to_f32(h);
            min[c] = 0.0f;
            if (q8) {
                lo[c] = wasm_v128_load(blk + 2);
                hi[c] = wasm_v128_load(blk + 18);
            } else {
                const v128_t v = wasm_v128_load(blk + 2);
                lo[c] = wasm_i8x16_sub(wasm_v128_and(v, m4), b8);
                hi[c] = wasm_i8x16_sub(wasm_u8x16_shr(v, 4), b8);
            }
        }
        store_block_i8(wb, lo, hi);
        return 1;
    }
    case SP_DTYPE_Q4_K:
    case SP_DTYPE_Q5_K: {
        const int q5 = type == SP_DTYPE_Q5_K;
        for (int32_t c = 0; c < 4; c++) {
            const uint8_t *blk = rows[c] + (size_t)(s / 8) * (q5 ? sizeof(sp_block_q5_k) : sizeof(sp_block_q4_k));
            const uint8_t *qs = blk + (q5 ? offsetof(sp_block_q5_k, qs) : offsetof(sp_block_q4_k, qs)) + 32 * (j / 2);
            int32_t sc, m;
            uint16_t dmin;
            sp_k4_scale_min(j, blk + 4, &sc, &m);
            memcpy(&h, blk, 2);
            memcpy(&dmin, blk + 2, 2);
            scale[c] = sp_half_to_f32(h);
            min[c] = sp_half_to_f32(dmin) * (float)m;
            k4_codes(lo + c, hi + c, qs, q5 ? blk + offsetof(sp_block_q5_k, qh) : NULL, j, m4, b16, zero);
            flo[c] = fhi[c] = wasm_i16x8_splat((int16_t)sc);
        }
        store_block_i8_scaled(wb, lo, hi, flo, fhi);
        return 1;
    }
    case SP_DTYPE_Q5_0:
    case SP_DTYPE_Q5_1: {
        const int q51 = type == SP_DTYPE_Q5_1;
        const v128_t bits = Q5_BITS_MAKE();
        for (int32_t c = 0; c < 4; c++) {
            const uint8_t *blk = rows[c] + (size_t)s * (q51 ? sizeof(sp_block_q5_1) : sizeof(sp_block_q5_0));
            const uint8_t *qh = blk + (q51 ? offsetof(sp_block_q5_1, qh) : offsetof(sp_block_q5_0, qh));
            memcpy(&h, blk, 2);
            scale[c] = sp_half_to_f32(h);
            min[c] = 0.0f;
            if (q51) { /* x = d*q + m: the min term subtracts -m */
                memcpy(&h, blk + 2, 2);
                min[c] = -sp_half_to_f32(h);
            }
            v128_t hb0, hb1;
            q5_high_bits(&hb0, &hb1, qh, bits, b16);
            const v128_t v = wasm_v128_load(qh + 4);
            lo[c] = wasm_v128_or(wasm_v128_and(v, m4), hb0);
            hi[c] = wasm_v128_or(wasm_u8x16_shr(v, 4), hb1);
            if (!q51) {
                lo[c] = wasm_i8x16_sub(lo[c], b16);
                hi[c] = wasm_i8x16_sub(hi[c], b16);
            }
        }
        store_block_i8(wb, lo, hi);
        return 1;
    }
    case SP_DTYPE_Q6_K: {
        const int32_t half = j >> 2, k = j & 3;
        for (int32_t c = 0; c < 4; c++) {
            const uint8_t *blk = rows[c] + (size_t)(s / 8) * sizeof(sp_block_q6_k);
            const int8_t *scs = (const int8_t *)(blk + offsetof(sp_block_q6_k, scales)) + 8 * half + 2 * k;
            memcpy(&h, blk + offsetof(sp_block_q6_k, d), 2);
            scale[c] = sp_half_to_f32(h);
            min[c] = 0.0f;
            const uint8_t *ql = blk + offsetof(sp_block_q6_k, ql) + 64 * half + 32 * (k & 1);
            const uint8_t *qh = blk + offsetof(sp_block_q6_k, qh) + 32 * half;
            lo[c] = q6_k_codes16(ql, qh, k, m4, m3, b32);
            hi[c] = q6_k_codes16(ql + 16, qh + 16, k, m4, m3, b32);
            flo[c] = wasm_i16x8_splat(scs[0]);
            fhi[c] = wasm_i16x8_splat(scs[1]);
        }
        store_block_i8_scaled(wb, lo, hi, flo, fhi);
        return 1;
    }
    default:
        return 0;
    }
}

/* sp_pack_w_x16_scalar's panel, the same bits */
void sp_pack_w_x16_wasmsimd(int16_t *wq, float *ws, const uint8_t *const *rows, uint32_t type, int32_t k0, int32_t nb) {
    v128_t m4 = wasm_i8x16_splat(15), b8 = wasm_i8x16_splat(8), m3 = wasm_i8x16_splat(3), b32 = wasm_i8x16_splat(32),
           zero = wasm_i32x4_splat(0), b16 = wasm_i8x16_splat(16);
    OPAQUE(m4); OPAQUE(b8); OPAQUE(m3); OPAQUE(b32); OPAQUE(zero); OPAQUE(b16);
    for (int32_t b = 0; b < nb; b++) {
        const int32_t s = k0 / SP_QK + b;
        int16_t *wb = wq + (size_t)b * 256;
        float *sb = ws + (size_t)b * 16;
        if (!pack_block4(wb, sb, sb + 8, rows, type, s, m4, b8, m3, b32, zero, b16)) {
            sp_pack_w_x16_scalar(wb, sb, rows, type, s * SP_QK, 1); /* a type without a SIMD unpack */
            continue;
        }
        pack_block4(wb + 8, sb + 4, sb + 12, rows + 4, type, s, m4, b8, m3, b32, zero, b16);
    }
}

/* sp_pack_x_x16_scalar's panel, the same bits: x16_quant_block per row, then a 4 x 4 transpose of
 * the column pairs */
int sp_pack_x_x16_wasmsimd(int32_t *xq, float *xs, const float *x, int32_t ldx, int32_t mr, int32_t nb, float qmax) {
    const v128_t zero = wasm_i32x4_splat(0);
    for (int32_t b = 0; b < nb; b++) {
        v128_t q[4][4];
        for (int32_t r = 0; r < 4; r++) {
            if (r < mr) {
                if (!x16_quant_block(q[r], xs + b * 8 + r, xs + b * 8 + 4 + r, x + (size_t)r * ldx + (size_t)b * SP_QK, qmax)) return 0;
            } else {
                q[r][0] = q[r][1] = q[r][2] = q[r][3] = zero;
                xs[b * 8 + r] = xs[b * 8 + 4 + r] = 0.0f;
            }
        }
        for (int32_t i = 0; i < 4; i++) store_pairs_4x4((int16_t *)(xq + (size_t)b * 64 + 16 * i), 8, q[0][i], q[1][i], q[2][i], q[3][i]);
    }
    return 1;
}
#undef SP_EXT

const sp_x16_ops sp_x16_ops_wasmsimd = {sp_gemm_x16_4x8_wasmsimd, sp_pack_w_x16_wasmsimd, sp_pack_x_x16_wasmsimd};

void sp_matmul_x16_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1) {
    if (!sp_matmul_x16(y, x, w, n, row0, row1, &sp_x16_ops_wasmsimd)) sp_matmul_wasmsimd(y, x, w, n, row0, row1);
}

#endif /* __wasm_simd128__ */
