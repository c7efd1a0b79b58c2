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

static ALWAYS_INLINE void gemm_x16_4x8(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq,
                                        const float *xs, const int16_t *wq, const float *ws, int32_t nb, int mins) {
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

/* Sixteen columns (eight pairs) of four rows of W as signed bytes r0..r3 -> the eight W vectors
 * at wp, wp + 16, .., wp + 112 (a half of the 8-row panel), each times f (the four rows' 16-bit
 * factors, two lanes a row) where scaled. The column pairs are interleaved while still bytes (two
 * rounds of unpacks: 8 shuffles), so that widening each half of a result gives one W vector. */
static inline void store_pairs_i8(int16_t *wp, v128_t r0, v128_t r1, v128_t r2, v128_t r3, int scaled, v128_t f) {
    const v128_t t0 = wasm_i16x8_shuffle(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11), t1 = wasm_i16x8_shuffle(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15);
    const v128_t t2 = wasm_i16x8_shuffle(r2, r3, 0, 8, 1, 9, 2, 10, 3, 11), t3 = wasm_i16x8_shuffle(r2, r3, 4, 12, 5, 13, 6, 14, 7, 15);
    const v128_t u[4] = {wasm_i32x4_shuffle(t0, t2, 0, 4, 1, 5), wasm_i32x4_shuffle(t0, t2, 2, 6, 3, 7),
                         wasm_i32x4_shuffle(t1, t3, 0, 4, 1, 5), wasm_i32x4_shuffle(t1, t3, 2, 6, 3, 7)};
    for (int32_t i = 0; i < 4; i++) { /* u[i]: pairs 2i, 2i+1 of rows 0..3 */
        v128_t lo = SP_EXT(u[i], 0), hi = SP_EXT(u[i], 1);
        if (scaled) {
            lo = wasm_i16x8_mul(lo, f);
            hi = wasm_i16x8_mul(hi, f);
        }
        wasm_v128_store(wp + 32 * i, lo);
        wasm_v128_store(wp + 32 * i + 16, hi);
    }
}

/* Each of four rows' 16-bit factor in two lanes */
static inline v128_t row_factors(int32_t f0, int32_t f1, int32_t f2, int32_t f3) {
    return wasm_i32x4_make((int32_t)((uint32_t)(uint16_t)f0 * 0x10001u), (int32_t)((uint32_t)(uint16_t)f1 * 0x10001u),
                           (int32_t)((uint32_t)(uint16_t)f2 * 0x10001u), (int32_t)((uint32_t)(uint16_t)f3 * 0x10001u));
}

/* The f16 at byte offset `at` of four blocks, as f32 (sp_half_to_f32's values) */
static inline v128_t halves4(const uint8_t *const *blk, size_t at, const f16_consts *c) {
    uint16_t h[4];
    for (int32_t i = 0; i < 4; i++) memcpy(h + i, blk[i] + at, 2);
    return f16x4_to_f32x4(wasm_i32x4_make(h[0], h[1], h[2], h[3]), c);
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

typedef struct { v128_t m4, b8, m3, b32, zero, b16, bits; f16_consts h; } pack_consts;

/* Block s of the four rows rows[0..4) (type: a constant where this is inlined) -> a half of the
 * 8-row panel: W vectors at wb (16 i16 from one column pair to the next), scales at scale[0..4),
 * mins at min[0..4). */
static ALWAYS_INLINE void pack_block4(int16_t *wb, float *scale, float *min, const uint8_t *const *rows, uint32_t type,
                                       int32_t s, const pack_consts *k) {
    const int32_t j = s % 8;
    const uint8_t *blk[4];
    v128_t lo[4], hi[4]; /* columns 0..15 and 16..31 of each row (i8) */
    switch (type) {
    case SP_DTYPE_Q8_0:
    case SP_DTYPE_Q4_0: {
        const int q8 = type == SP_DTYPE_Q8_0;
        for (int32_t c = 0; c < 4; c++) {
            blk[c] = rows[c] + (size_t)s * (q8 ? sizeof(sp_block_q8_0) : sizeof(sp_block_q4_0));
            if (q8) {
                lo[c] = wasm_v128_load(blk[c] + 2);
                hi[c] = wasm_v128_load(blk[c] + 18);
            } else {
                const v128_t v = wasm_v128_load(blk[c] + 2);
                lo[c] = wasm_i8x16_sub(wasm_v128_and(v, k->m4), k->b8);
                hi[c] = wasm_i8x16_sub(wasm_u8x16_shr(v, 4), k->b8);
            }
        }
        wasm_v128_store(scale, halves4(blk, 0, &k->h));
        wasm_v128_store(min, k->zero);
        store_pairs_i8(wb, lo[0], lo[1], lo[2], lo[3], 0, k->zero);
        store_pairs_i8(wb + 128, hi[0], hi[1], hi[2], hi[3], 0, k->zero);
        return;
    }
    case SP_DTYPE_Q4_K:
    case SP_DTYPE_Q5_K: {
        const int q5 = type == SP_DTYPE_Q5_K;
        int32_t sc[4], m[4];
        for (int32_t c = 0; c < 4; c++) {
            blk[c] = rows[c] + (size_t)(s / 8) * (q5 ? sizeof(sp_block_q5_k) : sizeof(sp_block_q4_k));
            const uint8_t *qs = blk[c] + (q5 ? offsetof(sp_block_q5_k, qs) : offsetof(sp_block_q4_k, qs)) + 32 * (j / 2);
            sp_k4_scale_min(j, blk[c] + 4, sc + c, m + c);
            k4_codes(lo + c, hi + c, qs, q5 ? blk[c] + offsetof(sp_block_q5_k, qh) : NULL, j, k->m4, k->b16, k->zero);
        }
        wasm_v128_store(scale, halves4(blk, 0, &k->h));
        wasm_v128_store(min, wasm_f32x4_mul(halves4(blk, 2, &k->h), wasm_f32x4_convert_i32x4(wasm_i32x4_make(m[0], m[1], m[2], m[3]))));
        const v128_t f = row_factors(sc[0], sc[1], sc[2], sc[3]);
        store_pairs_i8(wb, lo[0], lo[1], lo[2], lo[3], 1, f);
        store_pairs_i8(wb + 128, hi[0], hi[1], hi[2], hi[3], 1, f);
        return;
    }
    case SP_DTYPE_Q5_0:
    case SP_DTYPE_Q5_1: {
        const int q51 = type == SP_DTYPE_Q5_1;
        for (int32_t c = 0; c < 4; c++) {
            blk[c] = rows[c] + (size_t)s * (q51 ? sizeof(sp_block_q5_1) : sizeof(sp_block_q5_0));
            const uint8_t *qh = blk[c] + (q51 ? offsetof(sp_block_q5_1, qh) : offsetof(sp_block_q5_0, qh));
            v128_t hb0, hb1;
            q5_high_bits(&hb0, &hb1, qh, k->bits, k->b16);
            const v128_t v = wasm_v128_load(qh + 4);
            lo[c] = wasm_v128_or(wasm_v128_and(v, k->m4), hb0);
            hi[c] = wasm_v128_or(wasm_u8x16_shr(v, 4), hb1);
            if (!q51) {
                lo[c] = wasm_i8x16_sub(lo[c], k->b16);
                hi[c] = wasm_i8x16_sub(hi[c], k->b16);
            }
        }
        wasm_v128_store(scale, halves4(blk, 0, &k->h));
        /* x = d*q + m: the min term subtracts -m */
        wasm_v128_store(min, q51 ? wasm_f32x4_neg(halves4(blk, 2, &k->h)) : k->zero);
        store_pairs_i8(wb, lo[0], lo[1], lo[2], lo[3], 0, k->zero);
        store_pairs_i8(wb + 128, hi[0], hi[1], hi[2], hi[3], 0, k->zero);
        return;
    }
    case SP_DTYPE_Q6_K: {
        const int32_t half = j >> 2, q = j & 3;
        int32_t f0[4], f1[4];
        for (int32_t c = 0; c < 4; c++) {
            blk[c] = rows[c] + (size_t)(s / 8) * sizeof(sp_block_q6_k);
            const int8_t *scs = (const int8_t *)(blk[c] + offsetof(sp_block_q6_k, scales)) + 8 * half + 2 * q;
            const uint8_t *ql = blk[c] + offsetof(sp_block_q6_k, ql) + 64 * half + 32 * (q & 1);
            const uint8_t *qh = blk[c] + offsetof(sp_block_q6_k, qh) + 32 * half;
            lo[c] = q6_k_codes16(ql, qh, q, k->m4, k->m3, k->b32);
            hi[c] = q6_k_codes16(ql + 16, qh + 16, q, k->m4, k->m3, k->b32);
            f0[c] = scs[0];
            f1[c] = scs[1];
        }
        wasm_v128_store(scale, halves4(blk, offsetof(sp_block_q6_k, d), &k->h));
        wasm_v128_store(min, k->zero);
        store_pairs_i8(wb, lo[0], lo[1], lo[2], lo[3], 1, row_factors(f0[0], f0[1], f0[2], f0[3]));
        store_pairs_i8(wb + 128, hi[0], hi[1], hi[2], hi[3], 1, row_factors(f1[0], f1[1], f1[2], f1[3]));
        return;
    }
    default:
        return;
    }
}

/* The panel of one weight type (a constant where this is inlined): both halves of every block */
static ALWAYS_INLINE void pack_w_type(int16_t *wq, float *ws, const uint8_t *const *rows, uint32_t type, int32_t s0,
                                       int32_t nb) {
    pack_consts k = {wasm_i8x16_splat(15), wasm_i8x16_splat(8), wasm_i8x16_splat(3), wasm_i8x16_splat(32), wasm_i32x4_splat(0),
                     wasm_i8x16_splat(16), Q5_BITS_MAKE(), f16_consts_make()};
    OPAQUE(k.m4); OPAQUE(k.b8); OPAQUE(k.m3); OPAQUE(k.b32); OPAQUE(k.zero); OPAQUE(k.b16); OPAQUE(k.bits);
    for (int32_t b = 0; b < nb; b++) {
        int16_t *wb = wq + (size_t)b * 256;
        float *sb = ws + (size_t)b * 16;
        pack_block4(wb, sb, sb + 8, rows, type, s0 + b, &k);
        pack_block4(wb + 8, sb + 4, sb + 12, rows + 4, type, s0 + b, &k);
    }
}

/* sp_pack_w_x16_scalar's panel, the same bits: one loop per type */
void sp_pack_w_x16_wasmsimd(int16_t *wq, float *ws, const uint8_t *const *rows, uint32_t type, int32_t k0, int32_t nb) {
    const int32_t s0 = k0 / SP_QK;
    switch (type) {
    case SP_DTYPE_Q8_0: pack_w_type(wq, ws, rows, SP_DTYPE_Q8_0, s0, nb); return;
    case SP_DTYPE_Q4_0: pack_w_type(wq, ws, rows, SP_DTYPE_Q4_0, s0, nb); return;
    case SP_DTYPE_Q5_0: pack_w_type(wq, ws, rows, SP_DTYPE_Q5_0, s0, nb); return;
    case SP_DTYPE_Q5_1: pack_w_type(wq, ws, rows, SP_DTYPE_Q5_1, s0, nb); return;
    case SP_DTYPE_Q4_K: pack_w_type(wq, ws, rows, SP_DTYPE_Q4_K, s0, nb); return;
    case SP_DTYPE_Q5_K: pack_w_type(wq, ws, rows, SP_DTYPE_Q5_K, s0, nb); return;
    case SP_DTYPE_Q6_K: pack_w_type(wq, ws, rows, SP_DTYPE_Q6_K, s0, nb); return;
    default: sp_pack_w_x16_scalar(wq, ws, rows, type, k0, nb); return; /* a type without a SIMD unpack here */
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
