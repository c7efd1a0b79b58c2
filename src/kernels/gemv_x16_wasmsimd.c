/* gemv_x16_wasmsimd.c - decoding on Q8_0 / Q4_0 weights with 16-bit activations and
 * i32x4.dot_i16x8_s (matvec_decode's decode_x16 = 1; kernels.h). */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* ---- decoding on Q8_0 / Q4_0: 16-bit activations and i32x4.dot_i16x8_s ----
 * For one row the exact kernels above are compute bound (~55 ops per block and row). Here x
 * is rounded once per call to 16 bits per block of 32 (xq = round(x / sx), sx = amax/32767,
 * |error| <= amax/65534 per element, far below the weights' own quantization error), and
 * each block and row costs ~20 ops: y += (d * sx) * sum(q * xq), the integer sum exact
 * (i16x8.load8x8_s widens the weights as they load, four rows' sums share one convert). */
#define X16_MAX 32767.0f

/* xq[0..len) and sx[0..len/32) from x (len a multiple of 32). Returns 0 if x holds inf/nan
 * (the caller then takes the exact path, which propagates them). */
static int quantize_x16(int16_t *xq, float *sx, const float *x, int32_t len) {
    for (int32_t b = 0; b < len / SP_QK; b++) {
        const float *xb = x + (size_t)b * SP_QK;
        v128_t m = wasm_f32x4_abs(wasm_v128_load(xb));
        for (int32_t j = 4; j < SP_QK; j += 4) m = wasm_f32x4_max(m, wasm_f32x4_abs(wasm_v128_load(xb + j)));
        m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
        m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
        float amax = wasm_f32x4_extract_lane(m, 0);
        if (!(amax <= 3.0e38f)) return 0; /* inf or nan */
        float d = amax / X16_MAX, id = d > 0.0f ? X16_MAX / amax : 0.0f;
        sx[b] = d;
        const v128_t vid = wasm_f32x4_splat(id);
        for (int32_t j = 0; j < SP_QK; j += 8) {
            v128_t lo = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + j), vid)));
            v128_t hi = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + j + 4), vid)));
            wasm_v128_store(xq + (size_t)b * SP_QK + j, wasm_i16x8_narrow_i32x4(lo, hi));
        }
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

/* (sum of a's lanes, of b's, of c's, of d's), exact in i32 */
static inline v128_t isum4x4(v128_t a, v128_t b, v128_t c, v128_t d) {
    v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

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
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0;
    for (int32_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * sizeof(sp_block_q8_0);
        const int16_t *xb = xq + (size_t)b * SP_QK;
        const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), x3 = wasm_v128_load(xb + 24);
        const v128_t sxb = wasm_v128_load32_splat(sx + b);
        const v128_t s0 = isum4x4(DOT32(p0 + o + 2, x0, x1, x2, x3), DOT32(p1 + o + 2, x0, x1, x2, x3),
                                  DOT32(p2 + o + 2, x0, x1, x2, x3), DOT32(p3 + o + 2, x0, x1, x2, x3));
        MA(acc0, wasm_f32x4_convert_i32x4(s0), wasm_f32x4_mul(block_scales_x16(p0 + o, p1 + o, p2 + o, p3 + o, &xc), sxb));
        const v128_t s1 = isum4x4(DOT32(p4 + o + 2, x0, x1, x2, x3), DOT32(p5 + o + 2, x0, x1, x2, x3),
                                  DOT32(p6 + o + 2, x0, x1, x2, x3), DOT32(p7 + o + 2, x0, x1, x2, x3));
        MA(acc1, wasm_f32x4_convert_i32x4(s1), wasm_f32x4_mul(block_scales_x16(p4 + o, p5 + o, p6 + o, p7 + o, &xc), sxb));
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
        v128_t acc[4] = {xc.zero, xc.zero, xc.zero, xc.zero};                                           \
        for (int32_t b = 0; b < nb; b++) {                                                              \
            const size_t o = (size_t)b * (BS);                                                          \
            const int16_t *xb = xq + (size_t)b * SP_QK;                                                 \
            const v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 8), x2 = wasm_v128_load(xb + 16), \
                         x3 = wasm_v128_load(xb + 24);                                                  \
            const v128_t sxb = wasm_v128_load32_splat(sx + b);                                          \
            _Pragma("unroll") for (int g = 0; g < 4; g++) {                                             \
                const uint8_t *q0 = p[4 * g] + o, *q1 = p[4 * g + 1] + o, *q2 = p[4 * g + 2] + o, *q3 = p[4 * g + 3] + o; \
                const v128_t s = isum4x4(ROWDOT(q0 + 2), ROWDOT(q1 + 2), ROWDOT(q2 + 2), ROWDOT(q3 + 2)); \
                MA(acc[g], wasm_f32x4_convert_i32x4(s), wasm_f32x4_mul(block_scales_x16(q0, q1, q2, q3, &xc), sxb)); \
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
#undef FW_16S_X16
typedef void (*fwx16_fn)(float *, int, int32_t, const int16_t *, const float *, const uint8_t *, const uint8_t *,
                         const uint8_t *, const uint8_t *, int32_t);
KERNEL_PTR(fwx16_fn, gemv_q8_0_1x4_wasmsimd_x16);
KERNEL_PTR(fwx16_fn, gemv_q4_0_1x4_wasmsimd_x16);
typedef void (*fwx16w_fn)(float *, int, const int16_t *, const float *, const uint8_t *, size_t, int32_t);
KERNEL_PTR(fwx16w_fn, gemv_q8_0_2x4_wasmsimd_x16);
typedef void (*fwx16s_fn)(float *, int32_t, int, const int16_t *, const float *, const uint8_t *const *, int32_t);
KERNEL_PTR(fwx16s_fn, gemv_q8_0_16s_wasmsimd_x16);
KERNEL_PTR(fwx16s_fn, gemv_q4_0_16s_wasmsimd_x16);

/* Decoding on Q8_0 / Q4_0 with x rounded to 16 bits: rows [row0, row1) of y = W · x, KC = whole
 * rows up to SP_DECODE_KC. streams = 1: the first SP_STREAMS_Q * C rows as SP_STREAMS_Q chunks of
 * C rows, row r of every chunk in one step (see "Streams"); the rows left over, or all of them
 * with streams = 0, in order, 8 (Q8_0) or 4 at a time. Returns 0 if x holds inf/nan or w's
 * scales are not known to be finite (y may then be partly written; the caller computes it
 * again on the exact path). */
#define SP_DECODE_KC SP_FW_KC /* gemm_x16.c's: the same sums per row */
int sp_gemv_x16_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams) {
    if (!w->f16_finite) return 0;
    const int32_t K = w->cols;
    int16_t xq[SP_DECODE_KC] __attribute__((aligned(16))); /* (KC) x rounded to 16 bits */
    float sx[SP_DECODE_KC / SP_QK];                         /* (KC/32) their scales */
    const int q8 = w->type == SP_DTYPE_Q8_0;
    const size_t bs = q8 ? sizeof(sp_block_q8_0) : sizeof(sp_block_q4_0);
    const fwx16_fn kern = q8 ? gemv_q8_0_1x4_wasmsimd_x16_p : gemv_q4_0_1x4_wasmsimd_x16_p;
    const fwx16s_fn skern = q8 ? gemv_q8_0_16s_wasmsimd_x16_p : gemv_q4_0_16s_wasmsimd_x16_p;
    const int32_t C = streams ? (row1 - row0) / SP_STREAMS_Q : 0; /* rows per chunk */
    for (int32_t k0 = 0; k0 < K; k0 += SP_DECODE_KC) {
        const int32_t len = imin(SP_DECODE_KC, K - k0), nb = len / SP_QK;
        if (!quantize_x16(xq, sx, x + k0, len)) return 0;
        const size_t ko = (size_t)(k0 / SP_QK) * bs;
        for (int32_t r = 0; r < C; r++) {
            const uint8_t *qp[SP_STREAMS_Q];
            for (int32_t i = 0; i < SP_STREAMS_Q; i++) qp[i] = sp_mat_row_ptr(w, row0 + i * C + r) + ko;
            skern(y + row0 + r, C, k0 == 0, xq, sx, qp, nb);
        }
        for (int32_t r = row0 + SP_STREAMS_Q * C; r < row1;) {
            const int32_t nr = imin(q8 && row1 - r >= 8 ? 8 : 4, row1 - r);
            if (nr == 8) {
                gemv_q8_0_2x4_wasmsimd_x16_p(y + r, k0 == 0, xq, sx, sp_mat_row_ptr(w, r) + ko, w->row_bytes, nb);
            } else {
                const uint8_t *qp[4];
                for (int32_t b = 0; b < 4; b++) qp[b] = sp_mat_row_ptr(w, r + imin(b, nr - 1)) + ko;
                kern(y + r, k0 == 0, nr, xq, sx, qp[0], qp[1], qp[2], qp[3], nb);
            }
            r += nr;
        }
    }
    return 1;
}

#endif /* __wasm_simd128__ */
