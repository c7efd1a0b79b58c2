/* gemm_x16_wasmsimd.c - the 4 x 4 tile of the integer forward product (gemm_x16.c has the
 * layouts and the formula), wasm SIMD128: bitwise equal to sp_gemm_x16_4x4_scalar.
 *
 * Outer-product form with i32x4.dot_i16x8_s: one W vector holds a column pair of the four rows
 * of W, dotted with the broadcast pair of one row of X it gives that row's four partial sums, so
 * the four i32 accumulators need no horizontal sum at the end of a block: a convert, two muls
 * and an add per row of X. Live vectors: 4 i32 + 4 f32 accumulators, the W vector, a broadcast
 * and a product (13 <= 15, V8's xmm registers, no spill). */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* one column pair: the W vector at pw against the four rows' pairs at px (constant offsets) */
#define X16_STEP(o)                                                                                \
    do {                                                                                           \
        const v128_t w_ = wasm_v128_load(pw + (o) * 8);                                            \
        a0 = wasm_i32x4_add(a0, wasm_i32x4_dot_i16x8(w_, wasm_v128_load32_splat(px + (o) * 4)));     \
        a1 = wasm_i32x4_add(a1, wasm_i32x4_dot_i16x8(w_, wasm_v128_load32_splat(px + (o) * 4 + 1))); \
        a2 = wasm_i32x4_add(a2, wasm_i32x4_dot_i16x8(w_, wasm_v128_load32_splat(px + (o) * 4 + 2))); \
        a3 = wasm_i32x4_add(a3, wasm_i32x4_dot_i16x8(w_, wasm_v128_load32_splat(px + (o) * 4 + 3))); \
    } while (0)

static inline void gemm_x16_4x4(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq, const float *xs,
                                const int16_t *wq, const float *ws, int32_t nb, int mins) {
    v128_t f0 = wasm_f32x4_splat(0.0f), f1 = f0, f2 = f0, f3 = f0;
    for (int32_t b = 0; b < nb; b++) {
        const int32_t *px = xq + (size_t)b * 64;
        const int16_t *pw = wq + (size_t)b * 128, *const pend = pw + 128;
        v128_t a0 = wasm_i32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
        /* two column pairs a step: a longer body lets V8 hoist more loads than registers hold */
#pragma clang loop unroll(disable)
        for (; pw < pend; pw += 16, px += 8) {
            X16_STEP(0);
            X16_STEP(1);
        }
        const float *sb = xs + (size_t)b * 8;
        const v128_t d = wasm_v128_load(ws + (size_t)b * 8);
        f0 = wasm_f32x4_add(f0, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(a0), wasm_f32x4_mul(d, wasm_v128_load32_splat(sb))));
        f1 = wasm_f32x4_add(f1, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(a1), wasm_f32x4_mul(d, wasm_v128_load32_splat(sb + 1))));
        f2 = wasm_f32x4_add(f2, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(a2), wasm_f32x4_mul(d, wasm_v128_load32_splat(sb + 2))));
        f3 = wasm_f32x4_add(f3, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(a3), wasm_f32x4_mul(d, wasm_v128_load32_splat(sb + 3))));
        if (mins) {
            const v128_t m = wasm_v128_load(ws + (size_t)b * 8 + 4);
            f0 = wasm_f32x4_sub(f0, wasm_f32x4_mul(m, wasm_v128_load32_splat(sb + 4)));
            f1 = wasm_f32x4_sub(f1, wasm_f32x4_mul(m, wasm_v128_load32_splat(sb + 5)));
            f2 = wasm_f32x4_sub(f2, wasm_f32x4_mul(m, wasm_v128_load32_splat(sb + 6)));
            f3 = wasm_f32x4_sub(f3, wasm_f32x4_mul(m, wasm_v128_load32_splat(sb + 7)));
        }
    }
    const v128_t f[4] = {f0, f1, f2, f3};
    for (int32_t r = 0; r < mr; r++) store_rows(y + (size_t)r * ldy, first, nr, f[r]);
}

/* The two instances (the min term folded away where there is none), called through pointers so
 * that they stay out of line (KERNEL_PTR). */
NOINLINE static void gemm_x16_4x4_nomin(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq,
                                        const float *xs, const int16_t *wq, const float *ws, int32_t nb) {
    gemm_x16_4x4(y, ldy, first, mr, nr, xq, xs, wq, ws, nb, 0);
}
NOINLINE static void gemm_x16_4x4_min(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq,
                                      const float *xs, const int16_t *wq, const float *ws, int32_t nb) {
    gemm_x16_4x4(y, ldy, first, mr, nr, xq, xs, wq, ws, nb, 1);
}
typedef void (*x16_tile_fn)(float *, int32_t, int, int32_t, int32_t, const int32_t *, const float *, const int16_t *,
                            const float *, int32_t);
KERNEL_PTR(x16_tile_fn, gemm_x16_4x4_nomin);
KERNEL_PTR(x16_tile_fn, gemm_x16_4x4_min);

void sp_gemm_x16_4x4_wasmsimd(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq, const float *xs,
                              const int16_t *wq, const float *ws, int32_t nb, int mins) {
    (mins ? gemm_x16_4x4_min_p : gemm_x16_4x4_nomin_p)(y, ldy, first, mr, nr, xq, xs, wq, ws, nb);
}

/* Four vectors of 8 i16 (one per row of W, four column pairs each) -> the panel's four vectors
 * of one column pair each (a 4 x 4 transpose of i32 lanes), stored at wp, wp+8, wp+16, wp+24. */
static inline void store_pairs_4x4(int16_t *wp, v128_t r0, v128_t r1, v128_t r2, v128_t r3) {
    const v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);
    const v128_t t2 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
    wasm_v128_store(wp, wasm_i64x2_shuffle(t0, t1, 0, 2));
    wasm_v128_store(wp + 8, wasm_i64x2_shuffle(t0, t1, 1, 3));
    wasm_v128_store(wp + 16, wasm_i64x2_shuffle(t2, t3, 0, 2));
    wasm_v128_store(wp + 24, wasm_i64x2_shuffle(t2, t3, 1, 3));
}

#define SP_EXT(v, half) ((half) ? wasm_i16x8_extend_high_i8x16(v) : wasm_i16x8_extend_low_i8x16(v))

/* One block of four rows, each as 32 signed bytes lo[c] (columns 0..15), hi[c] (16..31), times
 * the rows' 16-bit factors flo[c] (columns 0..15) and fhi[c] (16..31) -> the panel block wb. */
static inline void store_block_i8(int16_t *wb, const v128_t *lo, const v128_t *hi, const v128_t *flo, const v128_t *fhi) {
#define SP_MULX(v, half, f) wasm_i16x8_mul(SP_EXT(v, half), f)
    store_pairs_4x4(wb, SP_MULX(lo[0], 0, flo[0]), SP_MULX(lo[1], 0, flo[1]), SP_MULX(lo[2], 0, flo[2]), SP_MULX(lo[3], 0, flo[3]));
    store_pairs_4x4(wb + 32, SP_MULX(lo[0], 1, flo[0]), SP_MULX(lo[1], 1, flo[1]), SP_MULX(lo[2], 1, flo[2]), SP_MULX(lo[3], 1, flo[3]));
    store_pairs_4x4(wb + 64, SP_MULX(hi[0], 0, fhi[0]), SP_MULX(hi[1], 0, fhi[1]), SP_MULX(hi[2], 0, fhi[2]), SP_MULX(hi[3], 0, fhi[3]));
    store_pairs_4x4(wb + 96, SP_MULX(hi[0], 1, fhi[0]), SP_MULX(hi[1], 1, fhi[1]), SP_MULX(hi[2], 1, fhi[2]), SP_MULX(hi[3], 1, fhi[3]));
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

/* sp_pack_w_x16_scalar's panel, the same bits */
void sp_pack_w_x16_wasmsimd(int16_t *wq, float *ws, const uint8_t *const *rows, uint32_t type, int32_t k0, int32_t nb) {
    v128_t m4 = wasm_i8x16_splat(15), b8 = wasm_i8x16_splat(8), m3 = wasm_i8x16_splat(3), b32 = wasm_i8x16_splat(32),
           zero = wasm_i32x4_splat(0), b16 = wasm_i8x16_splat(16);
    OPAQUE(m4); OPAQUE(b8); OPAQUE(m3); OPAQUE(b32); OPAQUE(zero); OPAQUE(b16);
    for (int32_t b = 0; b < nb; b++) {
        const int32_t s = k0 / SP_QK + b, j = s % 8;
        v128_t lo[4], hi[4], flo[4], fhi[4]; /* columns 0..15 and 16..31 of each row (i8), their factors */
        int16_t *wb = wq + (size_t)b * 128;
        uint16_t h;
        switch (type) {
        case SP_DTYPE_Q8_0:
        case SP_DTYPE_Q4_0: {
            const int q8 = type == SP_DTYPE_Q8_0;
            for (int32_t c = 0; c < 4; c++) {
                const uint8_t *blk = rows[c] + (size_t)s * (q8 ? sizeof(sp_block_q8_0) : sizeof(sp_block_q4_0));
                memcpy(&h, blk, 2);
                ws[b * 8 + c] = sp_half_to_f32(h);
                ws[b * 8 + 4 + c] = 0.0f;
                if (q8) {
                    lo[c] = wasm_v128_load(blk + 2);
                    hi[c] = wasm_v128_load(blk + 18);
                } else {
                    const v128_t v = wasm_v128_load(blk + 2);
                    lo[c] = wasm_i8x16_sub(wasm_v128_and(v, m4), b8);
                    hi[c] = wasm_i8x16_sub(wasm_u8x16_shr(v, 4), b8);
                }
            }
            store_pairs_4x4(wb, SP_EXT(lo[0], 0), SP_EXT(lo[1], 0), SP_EXT(lo[2], 0), SP_EXT(lo[3], 0));
            store_pairs_4x4(wb + 32, SP_EXT(lo[0], 1), SP_EXT(lo[1], 1), SP_EXT(lo[2], 1), SP_EXT(lo[3], 1));
            store_pairs_4x4(wb + 64, SP_EXT(hi[0], 0), SP_EXT(hi[1], 0), SP_EXT(hi[2], 0), SP_EXT(hi[3], 0));
            store_pairs_4x4(wb + 96, SP_EXT(hi[0], 1), SP_EXT(hi[1], 1), SP_EXT(hi[2], 1), SP_EXT(hi[3], 1));
            continue;
        }
        case SP_DTYPE_Q4_K:
        case SP_DTYPE_Q5_K: {
            const int q5 = type == SP_DTYPE_Q5_K;
            const v128_t bit = wasm_i8x16_splat((int8_t)(1u << j));
            for (int32_t c = 0; c < 4; c++) {
                const uint8_t *blk = rows[c] + (size_t)(s / 8) * (q5 ? sizeof(sp_block_q5_k) : sizeof(sp_block_q4_k));
                const uint8_t *qs = blk + (q5 ? offsetof(sp_block_q5_k, qs) : offsetof(sp_block_q4_k, qs)) + 32 * (j / 2);
                int32_t sc, m;
                uint16_t dmin;
                sp_k4_scale_min(j, blk + 4, &sc, &m);
                memcpy(&h, blk, 2);
                memcpy(&dmin, blk + 2, 2);
                ws[b * 8 + c] = sp_half_to_f32(h);
                ws[b * 8 + 4 + c] = sp_half_to_f32(dmin) * (float)m;
                v128_t l = wasm_v128_load(qs), u = wasm_v128_load(qs + 16);
                if (j & 1) {
                    l = wasm_u16x8_shr(l, 4);
                    u = wasm_u16x8_shr(u, 4);
                }
                l = wasm_v128_and(l, m4);
                u = wasm_v128_and(u, m4);
                if (q5) { /* bit j of each qh byte -> 16 */
                    const uint8_t *qh = blk + offsetof(sp_block_q5_k, qh);
                    l = wasm_v128_or(l, wasm_v128_and(wasm_i8x16_ne(wasm_v128_and(wasm_v128_load(qh), bit), zero), b16));
                    u = wasm_v128_or(u, wasm_v128_and(wasm_i8x16_ne(wasm_v128_and(wasm_v128_load(qh + 16), bit), zero), b16));
                }
                lo[c] = l;
                hi[c] = u;
                flo[c] = fhi[c] = wasm_i16x8_splat((int16_t)sc);
            }
            break;
        }
        case SP_DTYPE_Q5_0:
        case SP_DTYPE_Q5_1: {
            const int q51 = type == SP_DTYPE_Q5_1;
            const v128_t bits = Q5_BITS_MAKE(), one = wasm_i16x8_splat(1);
            for (int32_t c = 0; c < 4; c++) {
                const uint8_t *blk = rows[c] + (size_t)s * (q51 ? sizeof(sp_block_q5_1) : sizeof(sp_block_q5_0));
                const uint8_t *qh = blk + (q51 ? offsetof(sp_block_q5_1, qh) : offsetof(sp_block_q5_0, qh));
                memcpy(&h, blk, 2);
                ws[b * 8 + c] = sp_half_to_f32(h);
                ws[b * 8 + 4 + c] = 0.0f;
                if (q51) { /* x = d*q + m: the min term subtracts -m */
                    memcpy(&h, blk + 2, 2);
                    ws[b * 8 + 4 + c] = -sp_half_to_f32(h);
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
                flo[c] = fhi[c] = one;
            }
            break;
        }
        case SP_DTYPE_Q6_K: {
            const int32_t half = j >> 2, k = j & 3;
            for (int32_t c = 0; c < 4; c++) {
                const uint8_t *blk = rows[c] + (size_t)(s / 8) * sizeof(sp_block_q6_k);
                const int8_t *scs = (const int8_t *)(blk + offsetof(sp_block_q6_k, scales)) + 8 * half + 2 * k;
                memcpy(&h, blk + offsetof(sp_block_q6_k, d), 2);
                ws[b * 8 + c] = sp_half_to_f32(h);
                ws[b * 8 + 4 + c] = 0.0f;
                const uint8_t *ql = blk + offsetof(sp_block_q6_k, ql) + 64 * half + 32 * (k & 1);
                const uint8_t *qh = blk + offsetof(sp_block_q6_k, qh) + 32 * half;
                lo[c] = q6_k_codes16(ql, qh, k, m4, m3, b32);
                hi[c] = q6_k_codes16(ql + 16, qh + 16, k, m4, m3, b32);
                flo[c] = wasm_i16x8_splat(scs[0]);
                fhi[c] = wasm_i16x8_splat(scs[1]);
            }
            break;
        }
        default:
            sp_pack_w_x16_scalar(wb, ws + b * 8, rows, type, k0 + b * SP_QK, 1);
            continue;
        }
        store_block_i8(wb, lo, hi, flo, fhi);
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
        for (int32_t i = 0; i < 4; i++) store_pairs_4x4((int16_t *)(xq + (size_t)b * 64 + 16 * i), q[0][i], q[1][i], q[2][i], q[3][i]);
    }
    return 1;
}
#undef SP_EXT

const sp_x16_ops sp_x16_ops_wasmsimd = {sp_gemm_x16_4x4_wasmsimd, sp_pack_w_x16_wasmsimd, sp_pack_x_x16_wasmsimd};

void sp_matmul_x16_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1) {
    if (!sp_matmul_x16(y, x, w, n, row0, row1, &sp_x16_ops_wasmsimd)) sp_matmul_wasmsimd(y, x, w, n, row0, row1);
}

#endif /* __wasm_simd128__ */
