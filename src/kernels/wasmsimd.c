/* wasmsimd.c - wasm SIMD128 kernels, same signatures as scalar.c.
 *
 * Forward  Y = X·Wᵀ : "dot form" register tiles, 3 rows of X x 3 rows of W (9 f32x4
 *   accumulators over k), or 1 x 4 for n == 1 (decoding). A 3-row x KC tile of W is
 *   dequantized (or copied, F32) into a stack buffer first; for n == 1, F32 rows are read
 *   in place and the other types are converted in registers.
 *   Every output element follows one formula whatever the tile (batch invariant, so
 *   matvec and GEMM give bitwise equal rows): per KC block, lane sums over k in steps of 4,
 *   a fixed horizontal sum, then the k % 4 tail in order, added to y. matvec_decode on
 *   Q8_0/Q4_0 is the one exception: it uses 16-bit activations ("x16" below).
 * Backward dX += dY·W : "outer product" tiles, 4 rows of dY x 8 columns (8 accumulators),
 *   over W dequantized (or copied, F32) 128 rows x 32 columns at a time. Each dx
 *   element is dx + dy[0]*w[0] + dy[1]*w[1] + ... in row order: the scalar formula.
 * Leftover rows are handled by clamping row pointers (duplicate work, stores only valid).
 * No relaxed SIMD, no FMA: mul then add. */
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#include "kernels_impl.h"

/* The micro-kernels are called through const volatile pointers (see KERNEL_PTR) so that
 * wasm-opt cannot inline them: V8 first runs a wasm function in its baseline tier and only
 * uses optimised code on a later call, so a hot loop must sit in a function that is called
 * many times, not inlined into a driver that one long call keeps in the baseline tier. */
#define NOINLINE __attribute__((noinline))
#define KERNEL_PTR(type, name) static type const volatile name##_p = name

static inline int32_t imin(int32_t a, int32_t b) { return a < b ? a : b; }

static inline float hsum4(v128_t v) {
    v128_t t = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    t = wasm_f32x4_add(t, wasm_i32x4_shuffle(t, t, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(t, 0);
}

/* ---- dequantization to f32 ---- */

/* Integer -> float without f32x4.convert: clang 14 narrows convert(extend(x)) to a
 * conversion from i16 and scalarizes it. Instead an unsigned value u < 2^16 is placed in
 * the mantissa of 2^23 (bits 0x4B00_uuuu) and 2^23 + bias is subtracted: exact. */
#define SP_MAGIC 8388608.0f /* 2^23 */

/* 16 unsigned bytes u -> out[0..16) = d * (u - bias); sub = splat(2^23 + bias) */
static inline void u8x16_to_f32(float *out, v128_t u, v128_t sub, v128_t d, v128_t hi16 /* i16 splat 0x4B00 */) {
    v128_t a = wasm_u16x8_extend_low_u8x16(u), b = wasm_u16x8_extend_high_u8x16(u);
    wasm_v128_store(out + 0, wasm_f32x4_mul(wasm_f32x4_sub(wasm_i16x8_shuffle(a, hi16, 0, 8, 1, 9, 2, 10, 3, 11), sub), d));
    wasm_v128_store(out + 4, wasm_f32x4_mul(wasm_f32x4_sub(wasm_i16x8_shuffle(a, hi16, 4, 12, 5, 13, 6, 14, 7, 15), sub), d));
    wasm_v128_store(out + 8, wasm_f32x4_mul(wasm_f32x4_sub(wasm_i16x8_shuffle(b, hi16, 0, 8, 1, 9, 2, 10, 3, 11), sub), d));
    wasm_v128_store(out + 12, wasm_f32x4_mul(wasm_f32x4_sub(wasm_i16x8_shuffle(b, hi16, 4, 12, 5, 13, 6, 14, 7, 15), sub), d));
}

/* Hides a value from the optimiser: stops clang 14 from narrowing 32-bit lane arithmetic
 * on zero-extended halves into 16-bit shuffles and compares that are many times slower. */
#define OPAQUE(v) __asm__("" : "+r"(v))

/* Constants live in locals made opaque before the loops: V8 does not hoist v128.const out
 * of loops and builds each one with several instructions, and clang would rematerialize them. */
typedef struct { v128_t m7fff, m8000, rebias, infmax, half_bits, half, submax; } f16_consts;

static inline f16_consts f16_consts_make(void) {
    f16_consts c = {wasm_i32x4_splat(0x7fff), wasm_i32x4_splat(0x8000), wasm_i32x4_splat(0x38000000),
                    wasm_i32x4_splat(0x7bff), wasm_i32x4_splat(0x3F000000), wasm_f32x4_splat(0.5f),
                    wasm_i32x4_splat(0x0400)};
    OPAQUE(c.m7fff); OPAQUE(c.m8000); OPAQUE(c.rebias); OPAQUE(c.infmax);
    OPAQUE(c.half_bits); OPAQUE(c.half); OPAQUE(c.submax);
    return c;
}

/* 4 halves (low 16 bits of each u32 lane) -> f32, exact (no denormal arithmetic). */
static inline v128_t f16x4_to_f32x4(v128_t h, const f16_consts *c) {
    v128_t em = wasm_v128_and(h, c->m7fff);
    OPAQUE(em); /* keeps the compares below signed (native), not unsigned (emulated) */
    v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, c->m8000), 16);
    v128_t norm = wasm_i32x4_add(wasm_i32x4_shl(em, 13), c->rebias);
    v128_t infnan = wasm_i32x4_gt(em, c->infmax);
    norm = wasm_i32x4_add(norm, wasm_v128_and(infnan, c->rebias)); /* inf/nan: exponent 0xff */
    /* subnormal: em * 2^-24 = (0.5 + em * 2^-24) - 0.5, the first term being the bits 0x3F000000 | em */
    v128_t sub = wasm_f32x4_sub(wasm_v128_or(em, c->half_bits), c->half);
    v128_t issub = wasm_i32x4_lt(em, c->submax);
    return wasm_v128_or(wasm_v128_bitselect(sub, norm, issub), sign);
}

/* Fast f16 -> f32 for values known to be finite (sp_mat.f16_finite), three operations for four:
 * with each f16 in the high half of an i32 lane (low half zero), an arithmetic shift right by 3
 * and a mask (0x8FFFFFFF) leave the sign at bit 31 and the exponent and mantissa 13 bits up: as
 * an f32 that is the f16's value times 2^-112 for every finite f16 (a subnormal one gives a
 * subnormal f32), so one multiply by 2^112 finishes it, exactly: the same values as
 * f16x4_to_f32x4. inf and nan would come out finite. */
typedef struct { v128_t zero, mask, p112; } x16_consts;

static inline x16_consts x16_consts_make(void) {
    x16_consts c = {wasm_i32x4_splat(0), wasm_i32x4_splat((int32_t)0x8FFFFFFF), wasm_f32x4_splat(5.192296858534828e33f /* 2^112 */)};
    OPAQUE(c.zero); OPAQUE(c.mask); OPAQUE(c.p112);
    return c;
}
#define F16_HI(h, c) wasm_f32x4_mul(wasm_v128_and(wasm_i32x4_shr((h), 3), (c)->mask), (c)->p112)

/* out[0..len) = cols [c0, c0+len) of a weight row as f32 (quantized: c0, len multiples of 32). */
static void dequant_span(float *out, const uint8_t *row, uint32_t type, int32_t c0, int32_t len) {
    int32_t j = 0;
    switch (type) {
    case SP_DTYPE_F32: {
        const uint8_t *p = row + (size_t)c0 * 4;
        for (; j + 4 <= len; j += 4) wasm_v128_store(out + j, wasm_v128_load(p + (size_t)j * 4));
        for (; j < len; j++) memcpy(out + j, p + (size_t)j * 4, 4);
        break;
    }
    case SP_DTYPE_F16: {
        const uint8_t *p = row + (size_t)c0 * 2;
        const f16_consts fc = f16_consts_make();
        for (; j + 8 <= len; j += 8) {
            v128_t v = wasm_v128_load(p + (size_t)j * 2);
            wasm_v128_store(out + j, f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(v), &fc));
            wasm_v128_store(out + j + 4, f16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(v), &fc));
        }
        for (; j < len; j++) {
            uint16_t h;
            memcpy(&h, p + (size_t)j * 2, 2);
            out[j] = sp_half_to_f32(h);
        }
        break;
    }
    case SP_DTYPE_BF16: {
        const uint8_t *p = row + (size_t)c0 * 2;
        for (; j + 8 <= len; j += 8) {
            v128_t v = wasm_v128_load(p + (size_t)j * 2);
            wasm_v128_store(out + j, wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(v), 16));
            wasm_v128_store(out + j + 4, wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(v), 16));
        }
        for (; j < len; j++) {
            uint16_t h;
            memcpy(&h, p + (size_t)j * 2, 2);
            out[j] = sp_bits_f32((uint32_t)h << 16);
        }
        break;
    }
    case SP_DTYPE_Q8_0: {
        const uint8_t *blk = row + (size_t)(c0 / SP_QK) * sizeof(sp_block_q8_0);
        v128_t flip = wasm_i8x16_splat((int8_t)0x80), sub = wasm_f32x4_splat(SP_MAGIC + 128.0f); /* q + 128 */
        v128_t hi16 = wasm_i16x8_splat(0x4B00);
        OPAQUE(flip); OPAQUE(sub); OPAQUE(hi16);
        for (; j < len; j += SP_QK, blk += sizeof(sp_block_q8_0)) {
            uint16_t h;
            memcpy(&h, blk, 2);
            v128_t d = wasm_f32x4_splat(sp_half_to_f32(h));
            u8x16_to_f32(out + j, wasm_v128_xor(wasm_v128_load(blk + 2), flip), sub, d, hi16);
            u8x16_to_f32(out + j + 16, wasm_v128_xor(wasm_v128_load(blk + 18), flip), sub, d, hi16);
        }
        break;
    }
    case SP_DTYPE_Q4_0: {
        const uint8_t *blk = row + (size_t)(c0 / SP_QK) * sizeof(sp_block_q4_0);
        v128_t m4 = wasm_i8x16_splat(15), sub = wasm_f32x4_splat(SP_MAGIC + 8.0f);
        v128_t hi16 = wasm_i16x8_splat(0x4B00);
        OPAQUE(m4); OPAQUE(sub); OPAQUE(hi16);
        for (; j < len; j += SP_QK, blk += sizeof(sp_block_q4_0)) {
            uint16_t h;
            memcpy(&h, blk, 2);
            v128_t d = wasm_f32x4_splat(sp_half_to_f32(h));
            v128_t v = wasm_v128_load(blk + 2);
            u8x16_to_f32(out + j, wasm_v128_and(v, m4), sub, d, hi16);
            u8x16_to_f32(out + j + 16, wasm_u8x16_shr(v, 4), sub, d, hi16);
        }
        break;
    }
    default:
        memset(out, 0, (size_t)len * 4);
        break;
    }
}

/* ---- forward: y = x · Wᵀ ---- */

#define MA(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))

/* (hsum4(a), hsum4(b), hsum4(c), hsum4(d)) with exactly hsum4's rounding, (v0+v2)+(v1+v3). */
static inline v128_t hsum4x4(v128_t a, v128_t b, v128_t c, v128_t d) {
    v128_t ab = wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    v128_t cd = wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_f32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/* y[0..3) (first ? = : +=) lanes 0..2 of s */
static inline void store3(float *y, int first, v128_t s) {
    if (!first) s = wasm_f32x4_add(wasm_v128_load32_lane(y + 2, wasm_v128_load64_zero(y), 2), s);
    wasm_v128_store64_lane(y, s, 0);
    wasm_v128_store32_lane(y + 2, s, 2);
}

/* Generic epilogue: y[a*ldy + b] (a < ni, b < nr) (first ? = : +=) s[a*3+b] + the k4..len tail. */
static void fw_store_slow(float *y, int32_t ldy, int first, int32_t ni, int32_t nr, const float *s,
                          const float *const *xs, const float *const *ws, int32_t k4, int32_t len) {
    for (int32_t a = 0; a < ni; a++) {
        for (int32_t b = 0; b < nr; b++) {
            float v = s[a * 3 + b];
            for (int32_t k = k4; k < len; k++) v += xs[a][k] * ws[b][k];
            float *yp = y + (size_t)a * ldy + b;
            *yp = first ? v : *yp + v;
        }
    }
}

/* A panel: y[i, 0..nr) (first ? = : +=) dot(x_i, w_b) over len values for all n rows of x,
 * in 3 x 3 register tiles (9 f32x4 accumulators). Rows past n are clamped. */
NOINLINE static void fw_panel_3x3(float *y, int32_t ldy, int first, int32_t n, int32_t nr, const float *x, int32_t ldx,
                                  const float *w0, const float *w1, const float *w2, int32_t len) {
    const int32_t k4 = len & ~3;
    for (int32_t i = 0; i < n; i += 3) {
        const int32_t ni = imin(3, n - i);
        const float *x0 = x + (size_t)i * ldx, *x1 = x + (size_t)(i + imin(1, ni - 1)) * ldx,
                    *x2 = x + (size_t)(i + imin(2, ni - 1)) * ldx;
        v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
               c20 = c00, c21 = c00, c22 = c00;
        for (int32_t k = 0; k < k4; k += 4) {
            v128_t b0 = wasm_v128_load(w0 + k), b1 = wasm_v128_load(w1 + k), b2 = wasm_v128_load(w2 + k), a;
            a = wasm_v128_load(x0 + k); MA(c00, a, b0); MA(c01, a, b1); MA(c02, a, b2);
            a = wasm_v128_load(x1 + k); MA(c10, a, b0); MA(c11, a, b1); MA(c12, a, b2);
            a = wasm_v128_load(x2 + k); MA(c20, a, b0); MA(c21, a, b1); MA(c22, a, b2);
        }
        v128_t s0 = hsum4x4(c00, c01, c02, c02), s1 = hsum4x4(c10, c11, c12, c12), s2 = hsum4x4(c20, c21, c22, c22);
        float *yi = y + (size_t)i * ldy;
        if (ni == 3 && nr == 3 && k4 == len) {
            store3(yi, first, s0);
            store3(yi + ldy, first, s1);
            store3(yi + 2 * (size_t)ldy, first, s2);
        } else {
            float s[9];
            wasm_v128_store(s, s0); /* lanes 0..2 used; s[3] overwritten next */
            wasm_v128_store64_lane(s + 3, s1, 0); wasm_v128_store32_lane(s + 5, s1, 2);
            wasm_v128_store64_lane(s + 6, s2, 0); wasm_v128_store32_lane(s + 8, s2, 2);
            const float *xs[3] = {x0, x1, x2}, *ws[3] = {w0, w1, w2};
            fw_store_slow(yi, ldy, first, ni, nr, s, xs, ws, k4, len);
        }
    }
}

/* y[0..nr) (first ? = : +=) the lanes of acc (one row per lane) */
static inline void store_rows(float *y, int first, int32_t nr, v128_t acc) {
    if (nr == 4) {
        wasm_v128_store(y, first ? acc : wasm_f32x4_add(wasm_v128_load(y), acc));
        return;
    }
    float t[4];
    wasm_v128_store(t, acc);
    for (int32_t b = 0; b < nr; b++) y[b] = first ? t[b] : y[b] + t[b];
}

/* y[0..nr) (first ? = : +=) hsum of the four accumulators (nr <= 4) */
static inline void store_1x4(float *y, int first, int32_t nr, v128_t c0, v128_t c1, v128_t c2, v128_t c3) {
    store_rows(y, first, nr, hsum4x4(c0, c1, c2, c3));
}

/* Streams (matvec_decode's streams = 1): decoding reads each weight once, from memory, and one
 * thread reads memory faster the more sequential streams it has going at once (the hardware
 * prefetcher follows each). Measured on this machine, one thread reading 512 MiB in 1 / 2 / 4 /
 * 8 / 16 interleaved streams: 10.6 / 12.3 / 13.9 / 14.8 / 14.3 GB/s. So the decode kernels below
 * take their rows from far-apart chunks of [row0, row1): row r of each chunk in one step, each
 * chunk read in order. Throwaway measurements, one thread, Node, the decode matrices of
 * stories110M alone: Q8_0 6.8 GB/s with the rows in order (and loads of the next rows ahead of
 * their use, the software prefetch this replaced) -> 11.4 GB/s from 8 chunks -> 14.8 from 16;
 * F32 10.1 -> 13.6 from 8 chunks (16, as two calls of 8 or one of 16, no better). Each row keeps
 * the formula of the in-order kernels, so y has the same bits either way. */
#define SP_STREAMS_Q 16  /* chunks (rows per step) of the quantized decode kernels */
#define SP_STREAMS_F32 8 /* of the f32 one */

/* n == 1: y[b] (b < nr) (first ? = : +=) dot(x, w_b), same formula as fw_panel_3x3. */
NOINLINE static void fw_tile_1x4(float *y, int first, int32_t nr, const float *x,
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
 * row by fw_tile_1x4's formula (the same bits). */
NOINLINE static void fw_f32_8s(float *y, int32_t ys, int first, const float *x, const float *const *w, int32_t len) {
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

/* n == 1 on Q8_0 / Q4_0 weights: dequantize in registers, same formula as fw_tile_1x4 on a
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


NOINLINE static void fw_q8_0_1x4(float *y, int first, int32_t nr, const float *x,
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

NOINLINE static void fw_q4_0_1x4(float *y, int first, int32_t nr, const float *x,
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

/* n == 1 on F16 / BF16 weights: converted in registers, same formula as fw_tile_1x4 on a
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

NOINLINE static void fw_f16_1x4(float *y, int first, int32_t nr, const float *x,
                                const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t len) {
    half_1x4(y, first, nr, x, p0, p1, p2, p3, len, 0, 0);
}

/* fw_f16_1x4 for rows known finite (sp_mat.f16_finite): the same bits, ~3x fewer operations */
NOINLINE static void fw_f16f_1x4(float *y, int first, int32_t nr, const float *x,
                                 const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t len) {
    half_1x4(y, first, nr, x, p0, p1, p2, p3, len, 0, 1);
}

NOINLINE static void fw_bf16_1x4(float *y, int first, int32_t nr, const float *x,
                                 const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int32_t len) {
    half_1x4(y, first, nr, x, p0, p1, p2, p3, len, 1, 0);
}

typedef void (*fw33_fn)(float *, int32_t, int, int32_t, int32_t, const float *, int32_t,
                        const float *, const float *, const float *, int32_t);
typedef void (*fw14_fn)(float *, int, int32_t, const float *, const float *, const float *, const float *, const float *, int32_t);
typedef void (*fwq_fn)(float *, int, int32_t, const float *, const uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, int32_t);
KERNEL_PTR(fw33_fn, fw_panel_3x3);
KERNEL_PTR(fw14_fn, fw_tile_1x4);
typedef void (*fw8s_fn)(float *, int32_t, int, const float *, const float *const *, int32_t);
KERNEL_PTR(fw8s_fn, fw_f32_8s);
KERNEL_PTR(fwq_fn, fw_q8_0_1x4);
KERNEL_PTR(fwq_fn, fw_q4_0_1x4);
typedef void (*fwh_fn)(float *, int, int32_t, const float *, const uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, int32_t);
KERNEL_PTR(fwh_fn, fw_f16_1x4);
KERNEL_PTR(fwh_fn, fw_f16f_1x4);
KERNEL_PTR(fwh_fn, fw_bf16_1x4);

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

NOINLINE static void fw_q8_0_1x4_x16(float *y, int first, int32_t nr, const int16_t *xq, const float *sx,
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
 * 4-row tiles, ~15% fewer instructions per weight byte than fw_q8_0_1x4_x16. Each row follows
 * fw_q8_0_1x4_x16's formula exactly (bitwise equal). */
NOINLINE static void fw_q8_0_2x4_x16(float *y, int first, const int16_t *xq, const float *sx, const uint8_t *p, size_t rb, int32_t nb) {
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

NOINLINE static void fw_q4_0_1x4_x16(float *y, int first, int32_t nr, const int16_t *xq, const float *sx,
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
 * row by fw_q8_0_1x4_x16's formula (fw_q4_0_1x4_x16's for Q4_0): the same bits. */
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
FW_16S_X16(fw_q8_0_16s_x16, sizeof(sp_block_q8_0), (void)0, ROWDOT_Q8)
FW_16S_X16(fw_q4_0_16s_x16, sizeof(sp_block_q4_0), Q4_SETUP, ROWDOT_Q4)
#undef ROWDOT_Q8
#undef ROWDOT_Q4
#undef Q4_SETUP
#undef FW_16S_X16
typedef void (*fwx16_fn)(float *, int, int32_t, const int16_t *, const float *, const uint8_t *, const uint8_t *,
                         const uint8_t *, const uint8_t *, int32_t);
KERNEL_PTR(fwx16_fn, fw_q8_0_1x4_x16);
KERNEL_PTR(fwx16_fn, fw_q4_0_1x4_x16);
typedef void (*fwx16w_fn)(float *, int, const int16_t *, const float *, const uint8_t *, size_t, int32_t);
KERNEL_PTR(fwx16w_fn, fw_q8_0_2x4_x16);
typedef void (*fwx16s_fn)(float *, int32_t, int, const int16_t *, const float *, const uint8_t *const *, int32_t);
KERNEL_PTR(fwx16s_fn, fw_q8_0_16s_x16);
KERNEL_PTR(fwx16s_fn, fw_q4_0_16s_x16);

/* Decoding on Q8_0 / Q4_0 with x rounded to 16 bits: rows [row0, row1) of y = W · x, KC = whole
 * rows up to SP_DECODE_KC. streams = 1: the first SP_STREAMS_Q * C rows as SP_STREAMS_Q chunks of
 * C rows, row r of every chunk in one step (see "Streams"); the rows left over, or all of them
 * with streams = 0, in order, 8 (Q8_0) or 4 at a time. Returns 0 if x holds inf/nan or w's
 * scales are not known to be finite (y may then be partly written; the caller computes it
 * again on the exact path). */
#define SP_DECODE_KC 8192
static int decode_x16(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams) {
    if (!w->f16_finite) return 0;
    const int32_t K = w->cols;
    int16_t xq[SP_DECODE_KC] __attribute__((aligned(16))); /* (KC) x rounded to 16 bits */
    float sx[SP_DECODE_KC / SP_QK];                         /* (KC/32) their scales */
    const int q8 = w->type == SP_DTYPE_Q8_0;
    const size_t bs = q8 ? sizeof(sp_block_q8_0) : sizeof(sp_block_q4_0);
    const fwx16_fn kern = q8 ? fw_q8_0_1x4_x16_p : fw_q4_0_1x4_x16_p;
    const fwx16s_fn skern = q8 ? fw_q8_0_16s_x16_p : fw_q4_0_16s_x16_p;
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
                fw_q8_0_2x4_x16_p(y + r, k0 == 0, xq, sx, sp_mat_row_ptr(w, r) + ko, w->row_bytes, nb);
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

/* F32 / F16 / BF16 decoding with streams = 1: rows [row0, row0 + SP_STREAMS_F32 * C) as
 * SP_STREAMS_F32 chunks of C rows (see "Streams"), with forward()'s KC blocking and per-row
 * formula (F16 / BF16: its 1 x 4 kernels on four chunks at a time, each result then stored as
 * they store it); returns the first row left for forward(). */
static int32_t decode_streams(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1) {
    const int32_t K = w->cols, C = (row1 - row0) / SP_STREAMS_F32;
    const fwh_fn half = w->type == SP_DTYPE_BF16 ? fw_bf16_1x4_p : w->f16_finite ? fw_f16f_1x4_p : fw_f16_1x4_p;
    for (int32_t r = 0; r < C; r++)
        for (int32_t k0 = 0; k0 < K; k0 += SP_FW_KC) {
            const int32_t len = imin(SP_FW_KC, K - k0), first = k0 == 0;
            if (w->type == SP_DTYPE_F32) {
                const float *wp[SP_STREAMS_F32];
                for (int32_t i = 0; i < SP_STREAMS_F32; i++) wp[i] = (const float *)sp_mat_row_ptr(w, row0 + i * C + r) + k0;
                fw_f32_8s_p(y + row0 + r, C, first, x + k0, wp, len);
                continue;
            }
            for (int32_t g = 0; g < SP_STREAMS_F32; g += 4) {
                const uint8_t *hp[4];
                for (int32_t i = 0; i < 4; i++) hp[i] = sp_mat_row_ptr(w, row0 + (g + i) * C + r) + (size_t)k0 * 2;
                float t[4];
                half(t, 1, 4, x + k0, hp[0], hp[1], hp[2], hp[3], len);
                for (int32_t i = 0; i < 4; i++) {
                    float *yi = y + row0 + (size_t)(g + i) * C + r;
                    *yi = first ? t[i] : *yi + t[i];
                }
            }
        }
    return row0 + SP_STREAMS_F32 * C;
}

/* The forward product Y = X·Wᵀ, rows [row0, row1) of W */
static void forward(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1) {
    const int32_t K = w->cols, ldy = w->rows;
    const int32_t nrt = n == 1 ? 4 : 3; /* W rows per tile */
    float wbuf[4 * SP_FW_KC] __attribute__((aligned(16))); /* (4, KC) dequantized W tile */
    for (int32_t k0 = 0; k0 < K; k0 += SP_FW_KC) {
        const int32_t len = imin(SP_FW_KC, K - k0);
        const int first = k0 == 0;
        const int quant = w->type == SP_DTYPE_Q8_0 || w->type == SP_DTYPE_Q4_0;
        for (int32_t r = row0; r < row1; r += nrt) {
            const int32_t nr = imin(nrt, row1 - r);
            if (n == 1 && quant) {
                const size_t bs = w->type == SP_DTYPE_Q8_0 ? sizeof(sp_block_q8_0) : sizeof(sp_block_q4_0);
                const uint8_t *qp[4];
                for (int32_t b = 0; b < 4; b++) qp[b] = sp_mat_row_ptr(w, r + imin(b, nr - 1)) + (size_t)(k0 / SP_QK) * bs;
                (w->type == SP_DTYPE_Q8_0 ? fw_q8_0_1x4_p : fw_q4_0_1x4_p)(y + r, first, nr, x + k0, qp[0], qp[1], qp[2], qp[3], len / SP_QK);
                continue;
            }
            if (n == 1 && (w->type == SP_DTYPE_F16 || w->type == SP_DTYPE_BF16)) {
                const uint8_t *hp[4];
                for (int32_t b = 0; b < 4; b++) hp[b] = sp_mat_row_ptr(w, r + imin(b, nr - 1)) + (size_t)k0 * 2;
                (w->type == SP_DTYPE_BF16 ? fw_bf16_1x4_p : w->f16_finite ? fw_f16f_1x4_p : fw_f16_1x4_p)(y + r, first, nr, x + k0, hp[0], hp[1], hp[2], hp[3], len);
                continue;
            }
            const float *wp[4];
            for (int32_t b = 0; b < 4; b++) {
                if (b >= nr) { wp[b] = wp[nr - 1]; continue; } /* clamp leftover rows */
                const uint8_t *row = sp_mat_row_ptr(w, r + b);
                if (w->type == SP_DTYPE_F32 && n == 1) {
                    wp[b] = (const float *)row + k0;
                } else if (b < nrt) {
                    dequant_span(wbuf + b * SP_FW_KC, row, w->type, k0, len);
                    wp[b] = wbuf + b * SP_FW_KC;
                } else {
                    wp[b] = wp[nrt - 1];
                }
            }
            if (n == 1) {
                fw_tile_1x4_p(y + r, first, nr, x + k0, wp[0], wp[1], wp[2], wp[3], len);
                continue;
            }
            fw_panel_3x3_p(y + r, ldy, first, n, nr, x + k0, K, wp[0], wp[1], wp[2], len);
        }
    }
}

static void matmul_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1) {
    forward(y, x, w, n, row0, row1);
}

static void matvec_decode_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams) {
    if ((w->type == SP_DTYPE_Q8_0 || w->type == SP_DTYPE_Q4_0) && decode_x16(y, x, w, row0, row1, streams)) return;
    if (streams && (w->type == SP_DTYPE_F32 || w->type == SP_DTYPE_F16 || w->type == SP_DTYPE_BF16))
        row0 = decode_streams(y, x, w, row0, row1);
    forward(y, x, w, 1, row0, row1); /* exact path: the other types, x with inf/nan, rows left over */
}

/* ---- backward: dx += dy · W ---- */

/* dx_a[0..8) += sum_r dy_a[r] * wt[r*ldw + 0..8) for a < 4, r < nrows, in row order.
 * Aliased (clamped) rows load and store identical values. */
NOINLINE static void bw_tile_4x8(float *dx0, float *dx1, float *dx2, float *dx3,
                                 const float *dy0, const float *dy1, const float *dy2, const float *dy3,
                                 const float *wt, int32_t ldw, int32_t nrows) {
    v128_t c00 = wasm_v128_load(dx0), c01 = wasm_v128_load(dx0 + 4);
    v128_t c10 = wasm_v128_load(dx1), c11 = wasm_v128_load(dx1 + 4);
    v128_t c20 = wasm_v128_load(dx2), c21 = wasm_v128_load(dx2 + 4);
    v128_t c30 = wasm_v128_load(dx3), c31 = wasm_v128_load(dx3 + 4);
    for (int32_t r = 0; r < nrows; r++, wt += ldw) {
        v128_t b0 = wasm_v128_load(wt), b1 = wasm_v128_load(wt + 4), a;
        a = wasm_v128_load32_splat(dy0 + r); MA(c00, a, b0); MA(c01, a, b1);
        a = wasm_v128_load32_splat(dy1 + r); MA(c10, a, b0); MA(c11, a, b1);
        a = wasm_v128_load32_splat(dy2 + r); MA(c20, a, b0); MA(c21, a, b1);
        a = wasm_v128_load32_splat(dy3 + r); MA(c30, a, b0); MA(c31, a, b1);
    }
    wasm_v128_store(dx0, c00); wasm_v128_store(dx0 + 4, c01);
    wasm_v128_store(dx1, c10); wasm_v128_store(dx1 + 4, c11);
    wasm_v128_store(dx2, c20); wasm_v128_store(dx2 + 4, c21);
    wasm_v128_store(dx3, c30); wasm_v128_store(dx3 + 4, c31);
}

typedef void (*bw48_fn)(float *, float *, float *, float *, const float *, const float *, const float *, const float *,
                        const float *, int32_t, int32_t);
KERNEL_PTR(bw48_fn, bw_tile_4x8);

static void matmul_dx_wasmsimd(float *dx, const float *dy, const sp_mat *w, int32_t n, int32_t col0, int32_t col1) {
    const int32_t K = w->cols, R = w->rows;
    float wbuf[SP_BW_RB * SP_QK] __attribute__((aligned(16))); /* (RB, 32) dequantized W tile */
    /* rows of W outside, columns inside: the dy block (n, RB) stays in cache for all columns */
    for (int32_t r0 = 0; r0 < R; r0 += SP_BW_RB) {
        const int32_t rl = imin(SP_BW_RB, R - r0);
        for (int32_t c0 = col0; c0 < col1; c0 += SP_QK) {
            const int32_t cw = imin(SP_QK, col1 - c0), c8 = cw & ~7;
            for (int32_t r = 0; r < rl; r++) dequant_span(wbuf + r * SP_QK, sp_mat_row_ptr(w, r0 + r), w->type, c0, cw);
            for (int32_t i = 0; i < n; i += 4) {
                const int32_t ni = imin(4, n - i);
                float *dxp[4];
                const float *dyp[4];
                for (int32_t a = 0; a < 4; a++) {
                    int32_t ii = i + imin(a, ni - 1);
                    dxp[a] = dx + (size_t)ii * K + c0;
                    dyp[a] = dy + (size_t)ii * R + r0;
                }
                for (int32_t j = 0; j < c8; j += 8)
                    bw_tile_4x8_p(dxp[0] + j, dxp[1] + j, dxp[2] + j, dxp[3] + j, dyp[0], dyp[1], dyp[2], dyp[3], wbuf + j, SP_QK, rl);
                for (int32_t a = 0; a < ni; a++) { /* columns past the last multiple of 8 */
                    for (int32_t j = c8; j < cw; j++) {
                        float acc = dxp[a][j];
                        for (int32_t r = 0; r < rl; r++) acc += dyp[a][r] * wbuf[(size_t)r * SP_QK + j];
                        dxp[a][j] = acc;
                    }
                }
            }
        }
    }
}

/* ---- vectors ---- */

static void mat_row_wasmsimd(float *out, const sp_mat *w, int32_t r) {
    dequant_span(out, sp_mat_row_ptr(w, r), w->type, 0, w->cols);
}

static float dot_wasmsimd(const float *a, const float *b, int32_t n) {
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0;
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        MA(acc0, wasm_v128_load(a + i), wasm_v128_load(b + i));
        MA(acc1, wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4));
    }
    acc0 = wasm_f32x4_add(acc0, acc1);
    for (; i + 4 <= n; i += 4) MA(acc0, wasm_v128_load(a + i), wasm_v128_load(b + i));
    float s = hsum4(acc0);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static void axpy_wasmsimd(float *out, float a, const float *x, int32_t n) {
    const v128_t va = wasm_f32x4_splat(a);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(out + i), wasm_f32x4_mul(va, wasm_v128_load(x + i))));
    for (; i < n; i++) out[i] += a * x[i];
}

const sp_kernels sp_kernels_wasmsimd = {
    .isa = "wasmsimd",
    .matmul = matmul_wasmsimd,
    .matmul_dx = matmul_dx_wasmsimd,
    .mat_row = mat_row_wasmsimd,
    .dot = dot_wasmsimd,
    .axpy = axpy_wasmsimd,
    .matvec_decode = matvec_decode_wasmsimd,
    .decode_x16 = 1,
};

#endif /* __wasm_simd128__ */
