/* gemv_wasmsimd.c - y = W·x for one row x (n == 1), four rows of W at a time ("1x4"), or eight
 * rows from eight streams ("8s"). F32 rows are read in place; Q8_0 / Q4_0 / F16 / BF16 rows are
 * converted in registers, exactly (the values of dequant_wasmsimd.c), then multiplied with
 * gemm_f32_3x3's per-element formula: the same bits as the batched product. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* n == 1: y[b] (b < nr) (first ? = : +=) dot(x, w_b), same formula as sp_gemm_f32_3x3_wasmsimd. */
NOINLINE void sp_gemv_f32_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x,
                                 const float *w0, const float *w1, const float *w2, const float *w3, int32_t len) {
    v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0;
    const int32_t k4 = len & ~3;
    for (int32_t k = 0; k < k4; k += 4) {
        v128_t a = wasm_v128_load(x + k);
        MA(c0, a, wasm_v128_load(w0 + k));
        MA(c1, a, wasm_v128_load(w1 + k));
        MA(c2, a, wasm_v128_load(w2 + k));
        MA(c3, a, wasm_v128_load(w3 + k));
    }
    if (k4 == len) {
        store_1x4(y, first, nr, c0, c1, c2, c3);
        return;
    }
    float s[4];
    wasm_v128_store(s, hsum4x4(c0, c1, c2, c3));
    const float *ws[4] = {w0, w1, w2, w3};
    for (int32_t b = 0; b < nr; b++) {
        float v = s[b];
        for (int32_t k = k4; k < len; k++) v += x[k] * ws[b][k];
        y[b] = first ? v : y[b] + v;
    }
}

/* n == 1, eight rows from eight streams: y[i*ys] (first ? = : +=) dot(x, w[i]) for i < 8, each
 * row by sp_gemv_f32_1x4_wasmsimd's formula (the same bits). */
NOINLINE void sp_gemv_f32_8s_wasmsimd(float *y, int32_t ys, int first, const float *x, const float *const *w, int32_t len) {
    const float *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3], *w4 = w[4], *w5 = w[5], *w6 = w[6], *w7 = w[7];
    v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
    const int32_t k4 = len & ~3;
    for (int32_t k = 0; k < k4; k += 4) {
        const v128_t a = wasm_v128_load(x + k);
        MA(c0, a, wasm_v128_load(w0 + k)); MA(c1, a, wasm_v128_load(w1 + k));
        MA(c2, a, wasm_v128_load(w2 + k)); MA(c3, a, wasm_v128_load(w3 + k));
        MA(c4, a, wasm_v128_load(w4 + k)); MA(c5, a, wasm_v128_load(w5 + k));
        MA(c6, a, wasm_v128_load(w6 + k)); MA(c7, a, wasm_v128_load(w7 + k));
    }
    float s[8];
    wasm_v128_store(s, hsum4x4(c0, c1, c2, c3));
    wasm_v128_store(s + 4, hsum4x4(c4, c5, c6, c7));
    for (int32_t i = 0; i < 8; i++) {
        float v = s[i];
        for (int32_t k = k4; k < len; k++) v += x[k] * w[i][k];
        y[(size_t)i * ys] = first ? v : y[(size_t)i * ys] + v;
    }
}

/* n == 1 on Q8_0 / Q4_0 weights: dequantize in registers, same formula as sp_gemv_f32_1x4_wasmsimd on a
 * dequantized tile (w = (u - bias) * d exactly, then acc + x*w lane by lane in k order).
 * p0..p3: the rows' first block of this k range; nb blocks. */
#define Q_ROW16(c, u, d)                                                                              \
    do {                                                                                              \
        v128_t ua_ = wasm_u16x8_extend_low_u8x16(u), ub_ = wasm_u16x8_extend_high_u8x16(u);           \
        MA(c, x0, wasm_f32x4_mul(wasm_f32x4_sub(wasm_i16x8_shuffle(ua_, hi16, 0, 8, 1, 9, 2, 10, 3, 11), sub), d)); \
        MA(c, x1, wasm_f32x4_mul(wasm_f32x4_sub(wasm_i16x8_shuffle(ua_, hi16, 4, 12, 5, 13, 6, 14, 7, 15), sub), d)); \
        MA(c, x2, wasm_f32x4_mul(wasm_f32x4_sub(wasm_i16x8_shuffle(ub_, hi16, 0, 8, 1, 9, 2, 10, 3, 11), sub), d)); \
        MA(c, x3, wasm_f32x4_mul(wasm_f32x4_sub(wasm_i16x8_shuffle(ub_, hi16, 4, 12, 5, 13, 6, 14, 7, 15), sub), d)); \
    } while (0)

static inline int32_t load_u16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

/* The f16 scales of four blocks, converted together: d4 = (d0, d1, d2, d3). */
static inline v128_t block_scales(const uint8_t *b0, const uint8_t *b1, const uint8_t *b2, const uint8_t *b3, const f16_consts *fc) {
    return f16x4_to_f32x4(wasm_i32x4_make(load_u16(b0), load_u16(b1), load_u16(b2), load_u16(b3)), fc);
}
#define LANE_SPLAT(v, i) wasm_i32x4_shuffle(v, v, i, i, i, i)


NOINLINE void sp_gemv_q8_0_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x,
                                 const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t nb) {
    v128_t flip = wasm_i8x16_splat((int8_t)0x80), sub = wasm_f32x4_splat(SP_MAGIC + 128.0f), hi16 = wasm_i16x8_splat(0x4B00);
    OPAQUE(flip); OPAQUE(sub); OPAQUE(hi16);
    const f16_consts fc = f16_consts_make();
    v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0;
    for (int32_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * sizeof(sp_block_q8_0);
        const v128_t d4 = block_scales(p0 + o, p1 + o, p2 + o, p3 + o, &fc);
        const v128_t d0 = LANE_SPLAT(d4, 0), d1 = LANE_SPLAT(d4, 1), d2 = LANE_SPLAT(d4, 2), d3 = LANE_SPLAT(d4, 3);
        for (int32_t h = 0; h < SP_QK; h += 16) {
            const float *xb = x + (size_t)b * SP_QK + h;
            v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 4), x2 = wasm_v128_load(xb + 8), x3 = wasm_v128_load(xb + 12);
            Q_ROW16(c0, wasm_v128_xor(wasm_v128_load(p0 + o + 2 + h), flip), d0);
            Q_ROW16(c1, wasm_v128_xor(wasm_v128_load(p1 + o + 2 + h), flip), d1);
            Q_ROW16(c2, wasm_v128_xor(wasm_v128_load(p2 + o + 2 + h), flip), d2);
            Q_ROW16(c3, wasm_v128_xor(wasm_v128_load(p3 + o + 2 + h), flip), d3);
        }
    }
    store_1x4(y, first, nr, c0, c1, c2, c3);
}

/* The Q4_0 variant of sp_gemv_q8_0_1x4_wasmsimd: the same 1x4 tile and accumulation, one kernel
 * per weight type (XNNPACK style); only the unpacking of the block (nibbles - 8) differs. */
NOINLINE void sp_gemv_q4_0_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x,
                                 const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t nb) {
    v128_t m4 = wasm_i8x16_splat(15), sub = wasm_f32x4_splat(SP_MAGIC + 8.0f), hi16 = wasm_i16x8_splat(0x4B00);
    OPAQUE(m4); OPAQUE(sub); OPAQUE(hi16);
    const f16_consts fc = f16_consts_make();
    v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0;
    for (int32_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * sizeof(sp_block_q4_0);
        const v128_t d4 = block_scales(p0 + o, p1 + o, p2 + o, p3 + o, &fc);
        const v128_t d0 = LANE_SPLAT(d4, 0), d1 = LANE_SPLAT(d4, 1), d2 = LANE_SPLAT(d4, 2), d3 = LANE_SPLAT(d4, 3);
        v128_t q0 = wasm_v128_load(p0 + o + 2), q1 = wasm_v128_load(p1 + o + 2), q2 = wasm_v128_load(p2 + o + 2), q3 = wasm_v128_load(p3 + o + 2);
        const float *xb = x + (size_t)b * SP_QK;
        v128_t x0 = wasm_v128_load(xb), x1 = wasm_v128_load(xb + 4), x2 = wasm_v128_load(xb + 8), x3 = wasm_v128_load(xb + 12);
        Q_ROW16(c0, wasm_v128_and(q0, m4), d0);
        Q_ROW16(c1, wasm_v128_and(q1, m4), d1);
        Q_ROW16(c2, wasm_v128_and(q2, m4), d2);
        Q_ROW16(c3, wasm_v128_and(q3, m4), d3);
        x0 = wasm_v128_load(xb + 16), x1 = wasm_v128_load(xb + 20), x2 = wasm_v128_load(xb + 24), x3 = wasm_v128_load(xb + 28);
        Q_ROW16(c0, wasm_u8x16_shr(q0, 4), d0);
        Q_ROW16(c1, wasm_u8x16_shr(q1, 4), d1);
        Q_ROW16(c2, wasm_u8x16_shr(q2, 4), d2);
        Q_ROW16(c3, wasm_u8x16_shr(q3, 4), d3);
    }
    store_1x4(y, first, nr, c0, c1, c2, c3);
}

/* n == 1 on F16 / BF16 weights: converted in registers, same formula as sp_gemv_f32_1x4_wasmsimd on a
 * converted tile (the conversions are exact). p0..p3: the rows at column k0; len values. */
#define HALF_ROW8(c, p, conv)                                                                   \
    do {                                                                                        \
        v128_t v_ = wasm_v128_load((p) + (size_t)k * 2);                                        \
        MA(c, x0, conv(wasm_u32x4_extend_low_u16x8(v_)));                                       \
        MA(c, x1, conv(wasm_u32x4_extend_high_u16x8(v_)));                                      \
    } while (0)
#define HALF_ROW4(c, p, conv) MA(c, x0, conv(wasm_u32x4_extend_low_u16x8(wasm_v128_load64_zero((p) + (size_t)k * 2))))

static void half_tail_1x4(float *y, int first, int32_t nr, v128_t c0, v128_t c1, v128_t c2, v128_t c3, const float *x,
                          const uint8_t *const *ps, int32_t k4, int32_t len, int bf16) {
    if (k4 == len) {
        store_1x4(y, first, nr, c0, c1, c2, c3);
        return;
    }
    float s[4];
    wasm_v128_store(s, hsum4x4(c0, c1, c2, c3));
    for (int32_t b = 0; b < nr; b++) {
        float v = s[b];
        for (int32_t k = k4; k < len; k++) {
            uint16_t h;
            memcpy(&h, ps[b] + (size_t)k * 2, 2);
            v += x[k] * (bf16 ? sp_bits_f32((uint32_t)h << 16) : sp_half_to_f32(h));
        }
        y[b] = first ? v : y[b] + v;
    }
}

/* F16 rows known finite (fast): the halves go straight into the high halves of i32 lanes */
#define HALF_FAST_ROW8(c, p)                                                                    \
    do {                                                                                        \
        v128_t v_ = wasm_v128_load((p) + (size_t)k * 2);                                        \
        MA(c, x0, F16_HI(wasm_i16x8_shuffle(xc.zero, v_, 0, 8, 1, 9, 2, 10, 3, 11), &xc));      \
        MA(c, x1, F16_HI(wasm_i16x8_shuffle(xc.zero, v_, 4, 12, 5, 13, 6, 14, 7, 15), &xc));    \
    } while (0)
#define HALF_FAST_ROW4(c, p) \
    MA(c, x0, F16_HI(wasm_i16x8_shuffle(xc.zero, wasm_v128_load64_zero((p) + (size_t)k * 2), 0, 8, 1, 9, 2, 10, 3, 11), &xc))

/* The F16 / BF16 body: bf16 and fast (F16 known finite: F16_HI) are constants in each caller
 * below, so their branches fold away. Every conversion is exact: the same bits either way. */
static inline void half_1x4(float *y, int first, int32_t nr, const float *x,
                            const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t len, int bf16,
                            int fast) {
    const f16_consts fc = f16_consts_make();
    const x16_consts xc = x16_consts_make();
#define HALFC(h) (bf16 ? wasm_i32x4_shl(h, 16) : f16x4_to_f32x4(h, &fc))
    v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0;
    const int32_t k8 = len & ~7, k4 = len & ~3;
    int32_t k = 0;
    for (; k < k8; k += 8) {
        const v128_t x0 = wasm_v128_load(x + k), x1 = wasm_v128_load(x + k + 4);
        if (fast) {
            HALF_FAST_ROW8(c0, p0); HALF_FAST_ROW8(c1, p1); HALF_FAST_ROW8(c2, p2); HALF_FAST_ROW8(c3, p3);
        } else {
            HALF_ROW8(c0, p0, HALFC); HALF_ROW8(c1, p1, HALFC); HALF_ROW8(c2, p2, HALFC); HALF_ROW8(c3, p3, HALFC);
        }
    }
    if (k < k4) {
        const v128_t x0 = wasm_v128_load(x + k);
        if (fast) {
            HALF_FAST_ROW4(c0, p0); HALF_FAST_ROW4(c1, p1); HALF_FAST_ROW4(c2, p2); HALF_FAST_ROW4(c3, p3);
        } else {
            HALF_ROW4(c0, p0, HALFC); HALF_ROW4(c1, p1, HALFC); HALF_ROW4(c2, p2, HALFC); HALF_ROW4(c3, p3, HALFC);
        }
    }
#undef HALFC
    const uint8_t *ps[4] = {p0, p1, p2, p3};
    half_tail_1x4(y, first, nr, c0, c1, c2, c3, x, ps, k4, len, bf16);
}

NOINLINE void sp_gemv_f16_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x,
                                const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t len) {
    half_1x4(y, first, nr, x, p0, p1, p2, p3, len, 0, 0);
}

/* sp_gemv_f16_1x4_wasmsimd for rows known finite (sp_mat.f16_finite): the same bits, ~3x fewer operations */
NOINLINE void sp_gemv_f16_1x4_wasmsimd_finite(float *y, int first, int32_t nr, const float *x,
                                 const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t len) {
    half_1x4(y, first, nr, x, p0, p1, p2, p3, len, 0, 1);
}

NOINLINE void sp_gemv_bf16_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x,
                                 const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t len) {
    half_1x4(y, first, nr, x, p0, p1, p2, p3, len, 1, 0);
}

#endif /* __wasm_simd128__ */
