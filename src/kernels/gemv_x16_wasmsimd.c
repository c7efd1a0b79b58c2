/* gemv_x16_wasmsimd.c - decoding on quantized weights (Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) with 16-bit
 * activations and i32x4.dot_i16x8_s (matvec_decode's decode_x16 = 1; kernels.h). */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* ---- decoding with 16-bit activations and i32x4.dot_i16x8_s ----
 * For one row the exact kernels are compute bound (~55 ops per block of 32 and row on Q8_0, more
 * on the K-quants, which decode their 6-bit scales too). Here x is rounded once per call to 16
 * bits per block of 32 exactly as gemm_x16.c's X panel rounds it (xq = round(x / sx),
 * sx = amax/qmax, |error| <= sx/2 per element, far below the weights' own quantization error),
 * and each block and row costs ~20 ops: y += (d * sx) * sum(q * xq), the integer sum exact
 * (i16x8.load8x8_s widens the weights as they load, four rows' sums share one convert). Every
 * output element follows gemm_x16.c's formula, so a decoded row equals the prefilled one. */

/* x rounded to 16 bits for one KC chunk (gemm_x16.c's X panel values, x16_quant_block): */
#define SP_DECODE_KC SP_FW_KC /* gemm_x16.c's: the same sums per row */
typedef struct {
    int16_t q[SP_DECODE_KC] __attribute__((aligned(16))); /* the values; for the K-quants each 16 stored split,
                                                             the 8 at even positions then the 8 at odd ones,
                                                             the order in which their kernels take the weights'
                                                             bytes apart (below) */
    float sx[SP_DECODE_KC / SP_QK], sum[SP_DECODE_KC / SP_QK]; /* per block of 32: the scale, the sum of x */
    int32_t sum16[SP_DECODE_KC / 16];                          /* Q6_K: 32 * the sum of q per 16 values */
} x16_row;

/* xr from x (len a multiple of 32), rounded for weights of type `type` (sp_x16_qmax). Returns 0
 * where the panel does: x holds inf/nan or a block's sum overflows (the caller then takes the exact
 * path, which propagates them). */
static int quantize_x16(x16_row *xr, const float *x, int32_t len, uint32_t type) {
    const float qmax = (float)sp_x16_qmax(type);
    const int split = type == SP_DTYPE_Q4_K || type == SP_DTYPE_Q5_K || type == SP_DTYPE_Q6_K;
    for (int32_t b = 0; b < len / SP_QK; b++) {
        v128_t q[4];
        if (!x16_quant_block(q, xr->sx + b, xr->sum + b, x + (size_t)b * SP_QK, qmax)) return 0;
        int16_t *xb = xr->q + (size_t)b * SP_QK;
        for (int32_t i = 0; i < 4; i += 2) {
            wasm_v128_store(xb + 8 * i, split ? wasm_i16x8_shuffle(q[i], q[i + 1], 0, 2, 4, 6, 8, 10, 12, 14) : q[i]);
            wasm_v128_store(xb + 8 * i + 8, split ? wasm_i16x8_shuffle(q[i], q[i + 1], 1, 3, 5, 7, 9, 11, 13, 15) : q[i + 1]);
        }
    }
    if (type == SP_DTYPE_Q6_K)
        for (int32_t g = 0; g < len / 16; g++) {
            int32_t t = 0;
            for (int32_t i = 0; i < 16; i++) t += xr->q[16 * g + i];
            xr->sum16[g] = 32 * t;
        }
    return 1;
}

/* y[b] (b < nr) (first ? = : +=) sum over nb blocks of (d_b * sx_b) * s_b, where
 * s_b = sum(q * xq) over the block, exact in i32. Each row's four i32 lane sums are
 * transposed into one lane per row (integer adds: exact, so the lane a row sits in does not
 * matter), then one convert, mul and add serve the four rows. */
#define DOT32(p, x0, x1, x2, x3)                                                                        \
    wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8((p)), x0),                   \
                                  wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8((p) + 8), x1)),              \
                   wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8((p) + 16), x2),              \
                                  wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8((p) + 24), x3)))
#define DOT32_I8(lo, hi, x0, x1, x2, x3)                                                                \
    wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(lo), x0),            \
                                  wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(lo), x1)),          \
                   wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(hi), x2),            \
                                  wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(hi), x3)))

/* (sum of a's lanes, of b's, of c's, of d's), exact in i32, in two steps: isum2x4 pairs a and b
 * (lanes a0+a2, b0+b2, a1+a3, b1+b3), isum_pairs joins two such pairs. */
static inline v128_t isum2x4(v128_t a, v128_t b) {
    return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
}
static inline v128_t isum_pairs(v128_t ab, v128_t cd) {
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}
static inline v128_t isum4x4(v128_t a, v128_t b, v128_t c, v128_t d) { return isum_pairs(isum2x4(a, b), isum2x4(c, d)); }

/* TurboFan places the loads of a basic block ahead of its arithmetic, so a long unrolled body keeps
 * all its loaded vectors live at once and spills them. A load cannot move above a store, so a
 * store of a value the work so far produced (to a volatile on the C stack: kept, one instruction)
 * closes a group: the loads after it wait until then. */
#define SCHED_BARRIER(sink, v) (*(sink) = (v))

/* The f16 scales of four rows' blocks -> f32 for the decode kernels, by the fast conversion
 * (F16_HI above; the driver runs these kernels only on matrices with f16_finite). Testing each
 * scale for inf / nan here instead cost 2.5% of the decode rate (stories110M Q8_0, 1 thread). */
static inline v128_t block_scales_x16(const uint8_t *b0, const uint8_t *b1, const uint8_t *b2, const uint8_t *b3, const x16_consts *c) {
    v128_t h = wasm_v128_load16_lane(b0, c->zero, 1);
    h = wasm_v128_load16_lane(b1, h, 3);
    h = wasm_v128_load16_lane(b2, h, 5);
    h = wasm_v128_load16_lane(b3, h, 7);
    return F16_HI(h, c);
}

NOINLINE static void gemv_q8_0_1x4_wasmsimd_x16(float *y, int first, int32_t nr, const int16_t *xq, const float *sx,
                                    const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t nb) {
    const x16_consts xc = x16_consts_make();
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int32_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * sizeof(sp_block_q8_0);
        const int16_t *xb = xq + (size_t)b * SP_QK;
        const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
        const v128_t s = isum4x4(DOT32(p0 + o + 2, x0, x1, x2, x3), DOT32(p1 + o + 2, x0, x1, x2, x3),
                                 DOT32(p2 + o + 2, x0, x1, x2, x3), DOT32(p3 + o + 2, x0, x1, x2, x3));
        const v128_t d4 = wasm_f32x4_mul(block_scales_x16(p0 + o, p1 + o, p2 + o, p3 + o, &xc), wasm_v128_load32_splat(sx + b));
        MA(acc, wasm_f32x4_convert_i32x4(s), d4);
    }
    store_rows(y, first, nr, acc);
}

/* Eight rows (p + i*rb, i < 8) at once: one set of x loads and one sx per block serve two
 * 4-row tiles, ~15% fewer instructions per weight byte than gemv_q8_0_1x4_wasmsimd_x16. Each row follows
 * gemv_q8_0_1x4_wasmsimd_x16's formula exactly (bitwise equal). */
NOINLINE static void gemv_q8_0_2x4_wasmsimd_x16(float *y, int first, const int16_t *xq, const float *sx, const uint8_t *p, size_t rb, int32_t nb) {
    const x16_consts xc = x16_consts_make();
    const uint8_t *p0 = p, *p1 = p0 + rb, *p2 = p1 + rb, *p3 = p2 + rb, *p4 = p3 + rb, *p5 = p4 + rb, *p6 = p5 + rb, *p7 = p6 + rb;
    volatile v128_t sink;
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0;
    for (int32_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * sizeof(sp_block_q8_0);
        const int16_t *xb = xq + (size_t)b * SP_QK;
        const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
        const v128_t sxb = wasm_v128_load32_splat(sx + b);
        const v128_t a01 = isum2x4(DOT32(p0 + o + 2, x0, x1, x2, x3), DOT32(p1 + o + 2, x0, x1, x2, x3));
        SCHED_BARRIER(&sink, a01);
        const v128_t s0 = isum_pairs(a01, isum2x4(DOT32(p2 + o + 2, x0, x1, x2, x3), DOT32(p3 + o + 2, x0, x1, x2, x3)));
        MA(acc0, wasm_f32x4_convert_i32x4(s0), wasm_f32x4_mul(block_scales_x16(p0 + o, p1 + o, p2 + o, p3 + o, &xc), sxb));
        SCHED_BARRIER(&sink, acc0);
        const v128_t a45 = isum2x4(DOT32(p4 + o + 2, x0, x1, x2, x3), DOT32(p5 + o + 2, x0, x1, x2, x3));
        SCHED_BARRIER(&sink, a45);
        const v128_t s1 = isum_pairs(a45, isum2x4(DOT32(p6 + o + 2, x0, x1, x2, x3), DOT32(p7 + o + 2, x0, x1, x2, x3)));
        MA(acc1, wasm_f32x4_convert_i32x4(s1), wasm_f32x4_mul(block_scales_x16(p4 + o, p5 + o, p6 + o, p7 + o, &xc), sxb));
        SCHED_BARRIER(&sink, acc1);
    }
    store_rows(y, first, 4, acc0);
    store_rows(y + 4, first, 4, acc1);
}

/* One Q4_0 block's sum against x0..x3, with the constants Q4_SETUP declares */
#define Q4_SETUP v128_t m4 = wasm_i8x16_splat(15), b8 = wasm_i8x16_splat(8); OPAQUE(m4); OPAQUE(b8)
#define DOT32_Q4(p) DOT32_I8(wasm_i8x16_sub(wasm_v128_and(wasm_v128_load(p), m4), b8), \
                             wasm_i8x16_sub(wasm_u8x16_shr(wasm_v128_load(p), 4), b8), x0, x1, x2, x3)

/* The Q4_0 variant of gemv_q8_0_1x4_wasmsimd_x16: the same tile, one kernel per weight type; the
 * block's dot product is DOT32_Q4 (nibbles - 8) instead of DOT32. */
NOINLINE static void gemv_q4_0_1x4_wasmsimd_x16(float *y, int first, int32_t nr, const int16_t *xq, const float *sx,
                                    const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t nb) {
    Q4_SETUP;
    const x16_consts xc = x16_consts_make();
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int32_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * sizeof(sp_block_q4_0);
        const int16_t *xb = xq + (size_t)b * SP_QK;
        const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
        const v128_t s = isum4x4(DOT32_Q4(p0 + o + 2), DOT32_Q4(p1 + o + 2), DOT32_Q4(p2 + o + 2), DOT32_Q4(p3 + o + 2));
        const v128_t d4 = wasm_f32x4_mul(block_scales_x16(p0 + o, p1 + o, p2 + o, p3 + o, &xc), wasm_v128_load32_splat(sx + b));
        MA(acc, wasm_f32x4_convert_i32x4(s), d4);
    }
    store_rows(y, first, nr, acc);
}

/* Sixteen rows from sixteen streams (p[i], i < 16): y[i*ys] (first ? = : +=) the row's sum, each
 * row by gemv_q8_0_1x4_wasmsimd_x16's formula (gemv_q4_0_1x4_wasmsimd_x16's for Q4_0): the same bits. */
#define FW_16S_X16(name, BS, SETUP, ROWDOT)                                                                   \
    NOINLINE static void name(float *y, int32_t ys, int first, const int16_t *xq, const float *sx,      \
                              const uint8_t *const *p, int32_t nb) {                                    \
        const x16_consts xc = x16_consts_make();                                                        \
        SETUP;                                                                                          \
        volatile v128_t sink;                                                                           \
        v128_t acc[4] = {xc.zero, xc.zero, xc.zero, xc.zero};                                           \
        for (int32_t b = 0; b < nb; b++) {                                                              \
            const size_t o = (size_t)b * (BS);                                                          \
            const int16_t *xb = xq + (size_t)b * SP_QK;                                                 \
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), \
                         x3 = wasm_v128_load(xb + 24);                                                  \
            const v128_t sxb = wasm_v128_load32_splat(sx + b);                                          \
            _Pragma("unroll") for (int g = 0; g < 4; g++) {                                             \
                const uint8_t *q0 = p[4 * g] + o, *q1 = p[4 * g + 1] + o, *q2 = p[4 * g + 2] + o, *q3 = p[4 * g + 3] + o; \
                const v128_t ab = isum2x4(ROWDOT(q0 + 2), ROWDOT(q1 + 2));                              \
                SCHED_BARRIER(&sink, ab);                                                               \
                const v128_t s = isum_pairs(ab, isum2x4(ROWDOT(q2 + 2), ROWDOT(q3 + 2)));               \
                MA(acc[g], wasm_f32x4_convert_i32x4(s), wasm_f32x4_mul(block_scales_x16(q0, q1, q2, q3, &xc), sxb)); \
                SCHED_BARRIER(&sink, acc[g]);                                                           \
            }                                                                                           \
        }                                                                                               \
        float t[16];                                                                                    \
        for (int g = 0; g < 4; g++) wasm_v128_store(t + 4 * g, acc[g]);                                 \
        for (int32_t i = 0; i < 16; i++) y[(size_t)i * ys] = first ? t[i] : y[(size_t)i * ys] + t[i];  \
    }
#define ROWDOT_Q8(q) DOT32((q), x0, x1, x2, x3)
#define ROWDOT_Q4(q) DOT32_Q4(q)
FW_16S_X16(gemv_q8_0_16s_wasmsimd_x16, sizeof(sp_block_q8_0), (void)0, ROWDOT_Q8)
FW_16S_X16(gemv_q4_0_16s_wasmsimd_x16, sizeof(sp_block_q4_0), Q4_SETUP, ROWDOT_Q4)
#undef ROWDOT_Q8
#undef ROWDOT_Q4
#undef Q4_SETUP
typedef void (*fwx16_fn)(float *, int, int32_t, const int16_t *, const float *, const uint8_t *, const uint8_t *,
                         const uint8_t *, const uint8_t *, int32_t);
KERNEL_PTR(fwx16_fn, gemv_q8_0_1x4_wasmsimd_x16);
KERNEL_PTR(fwx16_fn, gemv_q4_0_1x4_wasmsimd_x16);
typedef void (*fwx16w_fn)(float *, int, const int16_t *, const float *, const uint8_t *, size_t, int32_t);
KERNEL_PTR(fwx16w_fn, gemv_q8_0_2x4_wasmsimd_x16);
typedef void (*fwx16s_fn)(float *, int32_t, int, const int16_t *, const float *, const uint8_t *const *, int32_t);
KERNEL_PTR(fwx16s_fn, gemv_q8_0_16s_wasmsimd_x16);
KERNEL_PTR(fwx16s_fn, gemv_q4_0_16s_wasmsimd_x16);

/* ---- the K-quants: four rows, one block of 32 at a time, gemm_x16.c's per-element formula ----
 * The weights enter the integer dot products as their raw codes (Q4_K / Q5_K q, Q6_K q - 32); the
 * sub-block scales are applied to the rows' integer sums (i32 products, exact: gemm_x16.c bounds
 * sc * sum(q * xq) below 2^31), so isum is the same integer as the panel's sum(sc*q * xq). The
 * scales of four rows are unpacked once per superblock into tables of one i32 lane per row: Q6_K's
 * int8 (transpose_bytes_4x8), Q4_K / Q5_K's 6-bit ones (k4_scales_4x; unpacked into registers,
 * V8 spilled the extra constants in the hot loop). */

/* Bytes i of the four vectors u0..u3 as one vector of four i32 per i: t[0] holds i = 0..3 (byte
 * 4i + row), t[1] i = 4..7, from bytes 0..7 (hi = 0) or 8..15 (hi = 1) of each. */
static inline void transpose_bytes_4x8(v128_t *t, v128_t u0, v128_t u1, v128_t u2, v128_t u3, int hi) {
    const v128_t p01 = hi ? wasm_i8x16_shuffle(u0, u1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
                          : wasm_i8x16_shuffle(u0, u1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const v128_t p23 = hi ? wasm_i8x16_shuffle(u2, u3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
                          : wasm_i8x16_shuffle(u2, u3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    t[0] = wasm_i16x8_shuffle(p01, p23, 0, 8, 1, 9, 2, 10, 3, 11);
    t[1] = wasm_i16x8_shuffle(p01, p23, 4, 12, 5, 13, 6, 14, 7, 15);
}
/* Byte lane group i (0..3) of t, four signed bytes -> i32x4 */
#define I8_GROUP(t, i) ((i) < 2 ? ((i) ? wasm_i32x4_extend_high_i16x8(wasm_i16x8_extend_low_i8x16(t)) : wasm_i32x4_extend_low_i16x8(wasm_i16x8_extend_low_i8x16(t))) \
                                : ((i) == 3 ? wasm_i32x4_extend_high_i16x8(wasm_i16x8_extend_high_i8x16(t)) : wasm_i32x4_extend_low_i16x8(wasm_i16x8_extend_high_i8x16(t))))

/* Q4_K / Q5_K: d (f32) of the superblocks blk[0..4), their sub-block scales sc[j] (i32, one lane per
 * superblock) and min terms mv[j] = dmin * m_j (f32). The 6-bit scales of the four superblocks are
 * unpacked side by side, 32 bits of each in a lane (scales bytes 0..3, 4..7, 8..11 as sp_k4_scale_min
 * reads them): out of line, so that the masks do not take registers in the dot-product loop. */
NOINLINE static void k4_scales_4x(float *d, int32_t sc[8][4], float mv[8][4], const uint8_t *const *blk) {
    /* d and dmin: the halves of lane c, by F16_HI unless one is inf or nan (then exactly, one by one) */
    v128_t h = wasm_v128_load32_zero(blk[0]), dminv;
    h = wasm_v128_load32_lane(blk[1], h, 1);
    h = wasm_v128_load32_lane(blk[2], h, 2);
    h = wasm_v128_load32_lane(blk[3], h, 3);
    const v128_t e = wasm_i16x8_splat(0x7C00);
    if (wasm_v128_any_true(wasm_i16x8_eq(wasm_v128_and(h, e), e))) {
        float dmin[4] __attribute__((aligned(16)));
        for (int32_t c = 0; c < 4; c++) {
            uint16_t u;
            memcpy(&u, blk[c], 2);
            d[c] = sp_half_to_f32(u);
            memcpy(&u, blk[c] + 2, 2);
            dmin[c] = sp_half_to_f32(u);
        }
        dminv = wasm_v128_load(dmin);
    } else {
        const x16_consts xc = x16_consts_make();
        wasm_v128_store(d, F16_HI(wasm_i32x4_shl(h, 16), &xc));
        dminv = F16_HI(wasm_v128_and(h, wasm_i32x4_splat((int32_t)0xFFFF0000)), &xc);
    }
    const v128_t v0 = wasm_v128_load(blk[0] + 4), v1 = wasm_v128_load(blk[1] + 4), v2 = wasm_v128_load(blk[2] + 4),
                 v3 = wasm_v128_load(blk[3] + 4);
    const v128_t t0 = wasm_i32x4_shuffle(v0, v1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(v2, v3, 0, 4, 1, 5);
    const v128_t t2 = wasm_i32x4_shuffle(v0, v1, 2, 6, 3, 7), t3 = wasm_i32x4_shuffle(v2, v3, 2, 6, 3, 7);
    const v128_t u0 = wasm_i64x2_shuffle(t0, t1, 0, 2), u1 = wasm_i64x2_shuffle(t0, t1, 1, 3), u2 = wasm_i64x2_shuffle(t2, t3, 0, 2);
    const v128_t m63 = wasm_i32x4_splat(0x3f3f3f3f), m15 = wasm_i32x4_splat(0x0f0f0f0f), m48 = wasm_i32x4_splat(0x30303030),
                 m255 = wasm_i32x4_splat(255);
    /* bytes j of: the scales of sub-blocks 0..3, 4..7, the mins of 0..3, 4..7 */
    const v128_t q[4] = {wasm_v128_and(u0, m63), wasm_v128_or(wasm_v128_and(u2, m15), wasm_v128_and(wasm_u32x4_shr(u0, 2), m48)),
                         wasm_v128_and(u1, m63),
                         wasm_v128_or(wasm_v128_and(wasm_u32x4_shr(u2, 4), m15), wasm_v128_and(wasm_u32x4_shr(u1, 2), m48))};
#pragma clang loop unroll(full) /* constant shift amounts */
    for (int32_t j = 0; j < 8; j++) {
        const int32_t sh = 8 * (j % 4);
        wasm_v128_store(sc[j], wasm_v128_and(wasm_u32x4_shr(q[j / 4], sh), m255));
        wasm_v128_store(mv[j], wasm_f32x4_mul(dminv, wasm_f32x4_convert_i32x4(wasm_v128_and(wasm_u32x4_shr(q[2 + j / 4], sh), m255))));
    }
}

/* The 32 codes of sub-block j (a constant) of a Q4_K / Q5_K superblock, from its 32 bytes at qs
 * (and Q5_K's 32 bytes of fifth bits at qh; Q4_K: qh = NULL), dotted with the block's x split as
 * quantize_x16 stores it (x0, x1: the even and odd values of 0..15; x2, x3: of 16..31): four i32
 * lanes whose sum is sum(q * xq). A 16-bit lane of the bytes holds two values' nibbles, the low
 * ones for even j, the high ones for odd j. Q4_K takes each code out of the lane by itself (lane &
 * 15, (lane >> 8) & 15; odd j: (lane >> 4) & 15, lane >> 12; ml = i16 splat(15)); Q5_K first ors the
 * two nibbles (m4 = i8 splat(15)) with their fifth bits moved to bit 4 of each byte (b16 = i8
 * splat(16)), then splits the lane into its low byte (ml = i16 splat(255)) and its high byte.
 * Constant shifts only (V8 spends 4 instructions on a shift by a variable). */
static inline v128_t k4_dot(const uint8_t *qs, const uint8_t *qh, int32_t j, v128_t x0, v128_t x1, v128_t x2, v128_t x3, v128_t m4,
                            v128_t b16, v128_t ml) {
    v128_t c[4];
    for (int32_t h = 0; h < 2; h++) {
        const v128_t v = wasm_v128_load(qs + 16 * h);
        if (!qh) {
            c[2 * h] = wasm_v128_and(j & 1 ? wasm_u16x8_shr(v, 4) : v, ml);
            c[2 * h + 1] = j & 1 ? wasm_u16x8_shr(v, 12) : wasm_v128_and(wasm_u16x8_shr(v, 8), ml);
            continue;
        }
        const v128_t hb = wasm_v128_load(qh + 16 * h), nib = wasm_v128_and(j & 1 ? wasm_u16x8_shr(v, 4) : v, m4);
        const v128_t bit = wasm_v128_and(j < 4 ? wasm_i16x8_shl(hb, 4 - j) : j > 4 ? wasm_u16x8_shr(hb, j - 4) : hb, b16);
        const v128_t cv = wasm_v128_or(nib, bit);
        c[2 * h] = wasm_v128_and(cv, ml);
        c[2 * h + 1] = wasm_u16x8_shr(cv, 8);
    }
    return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(c[0], x0), wasm_i32x4_dot_i16x8(c[1], x1)),
                          wasm_i32x4_add(wasm_i32x4_dot_i16x8(c[2], x2), wasm_i32x4_dot_i16x8(c[3], x3)));
}

/* Q4_K / Q5_K: per sub-block, y[0..nr) gets f + (f32)(sc * isum) * (d * sx), then minus (dmin * m)
 * * sum(x): the panel's formula, one lane per row. The 8 sub-blocks of a superblock are unrolled
 * (constant shifts and offsets), each in three groups of loads closed by SCHED_BARRIER: rows 0 and
 * 1, rows 2 and 3, the f32 step (without the barriers TurboFan loaded a whole superblock first and
 * spilled; as a loop over sub-blocks it ran at half this rate: tests/experiments/kdec_tiles.c). */
__attribute__((always_inline)) /* into each kernel, q5 a constant there */
static inline void gemv_k4_1x4(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p, int32_t nb, int q5) {
    v128_t m4 = wasm_i8x16_splat(15), b16 = wasm_i8x16_splat(16), ml = wasm_i16x8_splat(q5 ? 255 : 15);
    OPAQUE(m4); OPAQUE(b16); OPAQUE(ml);
    volatile v128_t sink;
    const size_t bs = q5 ? sizeof(sp_block_q5_k) : sizeof(sp_block_q4_k);
    const size_t qs = q5 ? offsetof(sp_block_q5_k, qs) : offsetof(sp_block_q4_k, qs);
    v128_t f = wasm_f32x4_splat(0.0f);
    for (int32_t s = 0; s < nb / 8; s++) {
        const uint8_t *blk[4] = {p[0] + s * bs, p[1] + s * bs, p[2] + s * bs, p[3] + s * bs};
        float d[4] __attribute__((aligned(16))), mv[8][4] __attribute__((aligned(16)));
        int32_t sc[8][4] __attribute__((aligned(16)));
        k4_scales_4x(d, sc, mv, blk);
        const v128_t dv = wasm_v128_load(d);
        const int16_t *xs = x->q + (size_t)s * 8 * SP_QK;
        const float *sxs = x->sx + 8 * s, *sums = x->sum + 8 * s;
#pragma clang loop unroll(full)
        for (int32_t j = 0; j < 8; j++) {
            const int16_t *xb = xs + j * SP_QK;
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
            const size_t o = qs + 32 * (size_t)(j / 2);
#define K4_ROW(c) k4_dot(blk[c] + o, q5 ? blk[c] + offsetof(sp_block_q5_k, qh) : NULL, j, x0, x1, x2, x3, m4, b16, ml)
            const v128_t ab = isum2x4(K4_ROW(0), K4_ROW(1));
            SCHED_BARRIER(&sink, ab);
            const v128_t cd = isum2x4(K4_ROW(2), K4_ROW(3));
            SCHED_BARRIER(&sink, cd);
#undef K4_ROW
            const v128_t is = wasm_i32x4_mul(isum_pairs(ab, cd), wasm_v128_load(sc[j]));
            f = wasm_f32x4_add(f, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(is), wasm_f32x4_mul(dv, wasm_v128_load32_splat(sxs + j))));
            f = wasm_f32x4_sub(f, wasm_f32x4_mul(wasm_v128_load(mv[j]), wasm_v128_load32_splat(sums + j)));
            SCHED_BARRIER(&sink, f);
        }
    }
    store_rows(y, first, nr, f);
}

/* A kernel of the fwx16k_fn signature: impl with its type flag fixed */
#define FWX16K_KERNEL(name, impl, flag)                                                                 \
    NOINLINE static void name(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p, int32_t nb) { \
        impl(y, first, nr, x, p, nb, flag);                                                             \
    }
FWX16K_KERNEL(gemv_q4_k_1x4_wasmsimd_x16, gemv_k4_1x4, 0)
FWX16K_KERNEL(gemv_q5_k_1x4_wasmsimd_x16, gemv_k4_1x4, 1)

/* The 16 codes of quarter k (a constant) of a Q6_K half (0..63, unsigned), from the 16 bytes at ql
 * (4 low bits: the low nibbles for k < 2) and at qh (2 high bits: bits 2k, 2k+1), dotted with those
 * values of x split as quantize_x16 stores them (xe: the even ones, xo: the odd ones). The bits are
 * moved into place by constant shifts of 16-bit lanes (what crosses a byte is masked off by m4 = i8
 * splat(15), m48 = i8 splat(48)); a lane's two codes are then its low byte (mff = i16 splat(255))
 * and its high byte: four i32 lanes whose sum is sum(q * xq). */
static inline v128_t q6_k_dot16(const uint8_t *ql, const uint8_t *qh, int32_t k, v128_t xe, v128_t xo, v128_t m4, v128_t m48,
                                v128_t mff) {
    const v128_t l = wasm_v128_load(ql), h = wasm_v128_load(qh);
    const v128_t lo = wasm_v128_and(k < 2 ? l : wasm_u16x8_shr(l, 4), m4);
    const v128_t hi = wasm_v128_and(k < 2 ? wasm_i16x8_shl(h, 4 - 2 * k) : k == 2 ? h : wasm_u16x8_shr(h, 2), m48);
    const v128_t c = wasm_v128_or(lo, hi);
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_and(c, mff), xe), wasm_i32x4_dot_i16x8(wasm_u16x8_shr(c, 8), xo));
}

/* Q6_K: per block of 32 (quarter k of half h), y[0..nr) gets f + (f32)isum * (d * sx), one lane per
 * row, isum = sc_a * (S_a - 32 X_a) + sc_b * (S_b - 32 X_b) over values 0..15 (a) and 16..31 (b)
 * (S: the unsigned codes' sums, X: x's, x16_row.sum16): the panel's sum of sc * (q - 32) * xq. The
 * int8 scales are unpacked per superblock into a table of one i32 lane per row; the 8 blocks are
 * unrolled as in gemv_k4_1x4, each in five groups of loads (SCHED_BARRIER): values 0..15 of rows 0
 * and 1, of rows 2 and 3, values 16..31 likewise, the scales and the f32 step. */
NOINLINE static void gemv_q6_k_1x4_wasmsimd_x16(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p,
                                                int32_t nb) {
    v128_t m4 = wasm_i8x16_splat(15), m48 = wasm_i8x16_splat(48), mff = wasm_i16x8_splat(255), big = wasm_f32x4_splat(65536.0f);
    OPAQUE(m4); OPAQUE(m48); OPAQUE(mff); OPAQUE(big);
    const x16_consts xc = x16_consts_make();
    volatile v128_t sink;
    const size_t bs = sizeof(sp_block_q6_k);
    v128_t f = wasm_f32x4_splat(0.0f);
    for (int32_t s = 0; s < nb / 8; s++) {
        const uint8_t *blk[4] = {p[0] + s * bs, p[1] + s * bs, p[2] + s * bs, p[3] + s * bs};
        const size_t od = offsetof(sp_block_q6_k, d);
        v128_t dv = block_scales_x16(blk[0] + od, blk[1] + od, blk[2] + od, blk[3] + od, &xc);
        if (wasm_v128_any_true(wasm_f32x4_ge(wasm_f32x4_abs(dv), big))) { /* an inf or nan d (F16_HI: >= 2^16): exactly */
            uint16_t h[4];
            for (int32_t c = 0; c < 4; c++) memcpy(h + c, blk[c] + od, 2);
            dv = wasm_f32x4_make(sp_half_to_f32(h[0]), sp_half_to_f32(h[1]), sp_half_to_f32(h[2]), sp_half_to_f32(h[3]));
        }
        int32_t sc[16][4] __attribute__((aligned(16))); /* the scales of the 16-value groups, one lane per row */
        {
            const size_t o = offsetof(sp_block_q6_k, scales);
            const v128_t u0 = wasm_v128_load(blk[0] + o), u1 = wasm_v128_load(blk[1] + o), u2 = wasm_v128_load(blk[2] + o), u3 = wasm_v128_load(blk[3] + o);
            v128_t t[4];
            transpose_bytes_4x8(t, u0, u1, u2, u3, 0);
            transpose_bytes_4x8(t + 2, u0, u1, u2, u3, 1);
#pragma clang loop unroll(full)
            for (int32_t g = 0; g < 16; g++) wasm_v128_store(sc[g], I8_GROUP(t[g / 4], g % 4));
        }
        const int16_t *xs = x->q + (size_t)s * 8 * SP_QK;
        const int32_t *sum16 = x->sum16 + 16 * s;
        const float *sxs = x->sx + 8 * s;
#pragma clang loop unroll(full)
        for (int32_t j = 0; j < 8; j++) {
            const int32_t half = j >> 2, k = j & 3;
            const int16_t *xb = xs + j * SP_QK;
            const size_t ol = offsetof(sp_block_q6_k, ql) + 64 * (size_t)half + 32 * (size_t)(k & 1);
            const size_t oh = offsetof(sp_block_q6_k, qh) + 32 * (size_t)half;
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8);
#define Q6_A(c) q6_k_dot16(blk[c] + ol, blk[c] + oh, k, x0, x1, m4, m48, mff)
#define Q6_B(c) q6_k_dot16(blk[c] + ol + 16, blk[c] + oh + 16, k, x2, x3, m4, m48, mff)
            const v128_t a01 = isum2x4(Q6_A(0), Q6_A(1));
            SCHED_BARRIER(&sink, a01);
            const v128_t a23 = isum2x4(Q6_A(2), Q6_A(3));
            SCHED_BARRIER(&sink, a23);
            const v128_t x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
            const v128_t b01 = isum2x4(Q6_B(0), Q6_B(1));
            SCHED_BARRIER(&sink, b01);
            const v128_t b23 = isum2x4(Q6_B(2), Q6_B(3));
            SCHED_BARRIER(&sink, b23);
#undef Q6_A
#undef Q6_B
            const int32_t g = 8 * half + 2 * k; /* the groups of values 0..15 and 16..31 */
            const v128_t sa = wasm_i32x4_sub(isum_pairs(a01, a23), wasm_v128_load32_splat(sum16 + 2 * j));
            const v128_t sb = wasm_i32x4_sub(isum_pairs(b01, b23), wasm_v128_load32_splat(sum16 + 2 * j + 1));
            const v128_t is = wasm_i32x4_add(wasm_i32x4_mul(sa, wasm_v128_load(sc[g])), wasm_i32x4_mul(sb, wasm_v128_load(sc[g + 1])));
            f = wasm_f32x4_add(f, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(is), wasm_f32x4_mul(dv, wasm_v128_load32_splat(sxs + j))));
            SCHED_BARRIER(&sink, f);
        }
    }
    store_rows(y, first, nr, f);
}

typedef void (*fwx16k_fn)(float *, int, int32_t, const x16_row *, const uint8_t *const *, int32_t);
KERNEL_PTR(fwx16k_fn, gemv_q4_k_1x4_wasmsimd_x16);
KERNEL_PTR(fwx16k_fn, gemv_q5_k_1x4_wasmsimd_x16);
KERNEL_PTR(fwx16k_fn, gemv_q6_k_1x4_wasmsimd_x16);

/* ---- Q5_0 / Q5_1: four rows, one block of 32 at a time, gemm_x16.c's per-element formula ----
 * The 5-bit codes (Q5_0: minus 16) enter the integer dot products; d (and Q5_1's m) by the fast
 * f16 conversion (the driver runs these kernels only on matrices with f16_finite); Q5_1's min
 * term is the panel's: minus (-m) times the block's sum of x. */

/* The 32 codes of the Q5_0 / Q5_1 block whose qh is at qh (qs follows), minus 16 if centre,
 * dotted with x0..x3: four i32 lanes whose sum is sum(q * xq). Each byte's fifth bit becomes a
 * mask (the qh byte spread over 8 lanes, tested against bits = 1, 2, .., 128); Q5_1's q is the
 * nibble | (mask & 16), Q5_0's q - 16 the nibble | (0xF0 & ~mask), nibble - 16 as i8 where the bit
 * is clear (f0 = splat(0xF0), b16 = splat(16)). */
static inline v128_t q5_dot(const uint8_t *qh, v128_t x0, v128_t x1, v128_t x2, v128_t x3, v128_t m4, v128_t b16, v128_t f0,
                            v128_t bits, int centre) {
    const v128_t h = wasm_v128_load32_zero(qh), v = wasm_v128_load(qh + 4);
    const v128_t ml = wasm_i8x16_eq(wasm_v128_and(wasm_i8x16_shuffle(h, h, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), bits), bits);
    const v128_t mh = wasm_i8x16_eq(wasm_v128_and(wasm_i8x16_shuffle(h, h, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), bits), bits);
    const v128_t lo = wasm_v128_or(wasm_v128_and(v, m4), centre ? wasm_v128_andnot(f0, ml) : wasm_v128_and(ml, b16));
    const v128_t hi = wasm_v128_or(wasm_u8x16_shr(v, 4), centre ? wasm_v128_andnot(f0, mh) : wasm_v128_and(mh, b16));
    return DOT32_I8(lo, hi, x0, x1, x2, x3);
}

static inline void gemv_q5_1x4(float *y, int first, int32_t nr, const x16_row *x, const uint8_t *const *p, int32_t nb, int q51) {
    const int16_t *xq = x->q;
    const float *sx = x->sx, *sum = x->sum;
    v128_t m4 = wasm_i8x16_splat(15), b16 = wasm_i8x16_splat(16), f0 = wasm_i8x16_splat((int8_t)0xF0), bits = Q5_BITS_MAKE();
    OPAQUE(m4); OPAQUE(b16); OPAQUE(f0); OPAQUE(bits);
    const x16_consts xc = x16_consts_make();
    const size_t bs = q51 ? sizeof(sp_block_q5_1) : sizeof(sp_block_q5_0);
    const size_t oh = q51 ? offsetof(sp_block_q5_1, qh) : offsetof(sp_block_q5_0, qh);
    v128_t f = wasm_f32x4_splat(0.0f);
    for (int32_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * bs;
        const int16_t *xb = xq + (size_t)b * SP_QK;
        const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
#define Q5_ROW(c) q5_dot(p[c] + o + oh, x0, x1, x2, x3, m4, b16, f0, bits, !q51)
        const v128_t is = isum4x4(Q5_ROW(0), Q5_ROW(1), Q5_ROW(2), Q5_ROW(3));
#undef Q5_ROW
        const v128_t d4 = block_scales_x16(p[0] + o, p[1] + o, p[2] + o, p[3] + o, &xc);
        f = wasm_f32x4_add(f, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(is), wasm_f32x4_mul(d4, wasm_v128_load32_splat(sx + b))));
        if (q51) {
            const v128_t mneg = wasm_f32x4_neg(block_scales_x16(p[0] + o + 2, p[1] + o + 2, p[2] + o + 2, p[3] + o + 2, &xc));
            f = wasm_f32x4_sub(f, wasm_f32x4_mul(mneg, wasm_v128_load32_splat(sum + b)));
        }
    }
    store_rows(y, first, nr, f);
}

/* Q5_0 from sixteen streams: FW_16S_X16 with q5_dot (d at byte 0, then qh and qs), row by row the
 * formula of gemv_q5_0_1x4_wasmsimd_x16 (the same integer sums, the same scale products): the same bits. */
#define Q5_SETUP                                                                                      \
    v128_t m4 = wasm_i8x16_splat(15), b16 = wasm_i8x16_splat(16), f0 = wasm_i8x16_splat((int8_t)0xF0), \
           bits = Q5_BITS_MAKE();                                                                     \
    OPAQUE(m4); OPAQUE(b16); OPAQUE(f0); OPAQUE(bits)
#define ROWDOT_Q5_0(q) q5_dot((q), x0, x1, x2, x3, m4, b16, f0, bits, 1)
FW_16S_X16(gemv_q5_0_16s_wasmsimd_x16, sizeof(sp_block_q5_0), Q5_SETUP, ROWDOT_Q5_0)
#undef ROWDOT_Q5_0
#undef Q5_SETUP
#undef FW_16S_X16
KERNEL_PTR(fwx16s_fn, gemv_q5_0_16s_wasmsimd_x16);

FWX16K_KERNEL(gemv_q5_0_1x4_wasmsimd_x16, gemv_q5_1x4, 0)
FWX16K_KERNEL(gemv_q5_1_1x4_wasmsimd_x16, gemv_q5_1x4, 1)
#undef FWX16K_KERNEL
KERNEL_PTR(fwx16k_fn, gemv_q5_0_1x4_wasmsimd_x16);
KERNEL_PTR(fwx16k_fn, gemv_q5_1_1x4_wasmsimd_x16);

/* Decoding with x rounded to 16 bits: rows [row0, row1) of y = W · x, KC = whole rows up to
 * SP_DECODE_KC. Q8_0 / Q4_0 / Q5_0 with streams = 1: the first SP_STREAMS_Q * C rows as SP_STREAMS_Q
 * chunks of C rows, row r of every chunk in one step (see "Streams"); the rows left over, or all
 * of them with streams = 0, in order, 8 (Q8_0) or 4 at a time. The K-quants and Q5_1 take the same
 * chunks through their 4-row kernels, four chunks at a time (Q4_K 32768 x 1024 from memory, one
 * thread: 3.1 GB/s in order, 4.2 in streams), the rows left over 4 at a time in order. Returns 0 for
 * another type, if x holds inf/nan, or (all but the K-quants) w's scales are not known to be finite (y may then be partly
 * written; the caller computes it again on the exact path). */
int sp_gemv_x16_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams) {
    const int q8 = w->type == SP_DTYPE_Q8_0, kq = w->type == SP_DTYPE_Q4_K || w->type == SP_DTYPE_Q5_K || w->type == SP_DTYPE_Q6_K;
    const int q5 = w->type == SP_DTYPE_Q5_0 || w->type == SP_DTYPE_Q5_1; /* 4 rows at a time, as kq (Q5_0: after the streams) */
    if (!(q8 || w->type == SP_DTYPE_Q4_0 || kq || q5) || (!kq && !w->f16_finite)) return 0;
    const int32_t K = w->cols;
    x16_row xr;
    const size_t bs = sp_dtype_row_bytes(w->type, kq ? SP_QK_K : SP_QK);
    const int32_t block = kq ? SP_QK_K : SP_QK;
    const fwx16_fn kern = q8 ? gemv_q8_0_1x4_wasmsimd_x16_p : gemv_q4_0_1x4_wasmsimd_x16_p;
    const fwx16s_fn skern = q8 ? gemv_q8_0_16s_wasmsimd_x16_p : w->type == SP_DTYPE_Q5_0 ? gemv_q5_0_16s_wasmsimd_x16_p : gemv_q4_0_16s_wasmsimd_x16_p;
    const fwx16k_fn kkern = w->type == SP_DTYPE_Q4_K ? gemv_q4_k_1x4_wasmsimd_x16_p
                            : w->type == SP_DTYPE_Q5_K ? gemv_q5_k_1x4_wasmsimd_x16_p
                            : w->type == SP_DTYPE_Q5_0 ? gemv_q5_0_1x4_wasmsimd_x16_p
                            : w->type == SP_DTYPE_Q5_1 ? gemv_q5_1_1x4_wasmsimd_x16_p : gemv_q6_k_1x4_wasmsimd_x16_p;
    const int four = kq || w->type == SP_DTYPE_Q5_1; /* streams through the 4-row kernels, four chunks at a time */
    const int32_t C = streams ? stream_rows(row1 - row0, w->row_bytes, SP_STREAMS_Q) : 0; /* rows per chunk */
    for (int32_t k0 = 0; k0 < K; k0 += SP_DECODE_KC) {
        const int32_t len = imin(SP_DECODE_KC, K - k0), nb = len / SP_QK;
        if (!quantize_x16(&xr, x + k0, len, w->type)) return 0;
        const size_t ko = (size_t)(k0 / block) * bs;
        for (int32_t r = 0; r < C; r++) {
            const uint8_t *qp[SP_STREAMS_Q];
            for (int32_t i = 0; i < SP_STREAMS_Q; i++) qp[i] = sp_mat_row_ptr(w, row0 + i * C + r) + ko;
            if (!four) {
                skern(y + row0 + r, C, k0 == 0, xr.q, xr.sx, qp, nb);
                continue;
            }
            for (int32_t g = 0; g < SP_STREAMS_Q; g += 4) { /* each row stored as the kernel stores it */
                float t[4];
                kkern(t, 1, 4, &xr, qp + g, nb);
                for (int32_t i = 0; i < 4; i++) {
                    float *yi = y + row0 + (size_t)(g + i) * C + r;
                    *yi = k0 == 0 ? t[i] : *yi + t[i];
                }
            }
        }
        if (kq || q5) {
            for (int32_t r = row0 + SP_STREAMS_Q * C; r < row1; r += 4) {
                const int32_t nr = imin(4, row1 - r);
                const uint8_t *qp[4];
                for (int32_t c = 0; c < 4; c++) qp[c] = sp_mat_row_ptr(w, r + imin(c, nr - 1)) + ko;
                kkern(y + r, k0 == 0, nr, &xr, qp, nb);
            }
            continue;
        }
        for (int32_t r = row0 + SP_STREAMS_Q * C; r < row1;) {
            const int32_t nr = imin(q8 && row1 - r >= 8 ? 8 : 4, row1 - r);
            if (nr == 8) {
                gemv_q8_0_2x4_wasmsimd_x16_p(y + r, k0 == 0, xr.q, xr.sx, sp_mat_row_ptr(w, r) + ko, w->row_bytes, nb);
            } else {
                const uint8_t *qp[4];
                for (int32_t b = 0; b < 4; b++) qp[b] = sp_mat_row_ptr(w, r + imin(b, nr - 1)) + ko;
                kern(y + r, k0 == 0, nr, xr.q, xr.sx, qp[0], qp[1], qp[2], qp[3], nb);
            }
            r += nr;
        }
    }
    return 1;
}

#endif /* __wasm_simd128__ */
