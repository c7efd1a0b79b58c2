/* wasmsimd.h - private helpers of the wasm SIMD128 kernel files (*_wasmsimd.c): register
 * reductions, exact f16 / integer -> f32 conversions, the exp polynomial, and the kernels that
 * one family file calls in another. Not part of the contract (kernels.h). */
#ifndef SP_WASMSIMD_H
#define SP_WASMSIMD_H
#ifdef __wasm_simd128__
#include <float.h>
#include <math.h>
#include <wasm_simd128.h>
#include "kernels_impl.h"


/* The micro-kernels are called through const volatile pointers (see KERNEL_PTR) so that
 * wasm-opt cannot inline them: V8 first runs a wasm function in its baseline tier and only
 * uses optimised code on a later call, so a hot loop must sit in a function that is called
 * many times, not inlined into a driver that one long call keeps in the baseline tier. */
#define NOINLINE __attribute__((noinline))
/* For a body specialised on a constant argument (a weight type, a flag) where clang would keep
 * one shared copy */
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define KERNEL_PTR(type, name) static type const volatile name##_p = name

static inline int32_t imin(int32_t a, int32_t b) { return a < b ? a : b; }

static inline float hsum4(v128_t v) {
    v128_t t = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    t = wasm_f32x4_add(t, wasm_i32x4_shuffle(t, t, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(t, 0);
}


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

/* 16 unsigned bytes u -> out[0..16) = u * d - m (Q4_K / Q5_K: the scalar (d*sc)*q - dmin*m, the
 * conversion of u exact); magic = splat(2^23) */
static inline void u8x16_to_f32_dm(float *out, v128_t u, v128_t magic, v128_t d, v128_t m, v128_t hi16) {
    v128_t a = wasm_u16x8_extend_low_u8x16(u), b = wasm_u16x8_extend_high_u8x16(u);
#define SP_DM(v) wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_sub((v), magic), d), m)
    wasm_v128_store(out + 0, SP_DM(wasm_i16x8_shuffle(a, hi16, 0, 8, 1, 9, 2, 10, 3, 11)));
    wasm_v128_store(out + 4, SP_DM(wasm_i16x8_shuffle(a, hi16, 4, 12, 5, 13, 6, 14, 7, 15)));
    wasm_v128_store(out + 8, SP_DM(wasm_i16x8_shuffle(b, hi16, 0, 8, 1, 9, 2, 10, 3, 11)));
    wasm_v128_store(out + 12, SP_DM(wasm_i16x8_shuffle(b, hi16, 4, 12, 5, 13, 6, 14, 7, 15)));
#undef SP_DM
}

/* The fifth bits of a Q5_0 / Q5_1 block (qh: its 4 bytes, bit j for value j) as 16 or 0 in byte j
 * of *lo (values 0..15) and byte j - 16 of *hi (16..31); bits = the bytes 1, 2, 4, .., 128 twice,
 * b16 = splat(16) (both made opaque by the caller). */
static inline void q5_high_bits(v128_t *lo, v128_t *hi, const uint8_t *qh, v128_t bits, v128_t b16) {
    const v128_t h = wasm_v128_load32_zero(qh);
    const v128_t l8 = wasm_i8x16_shuffle(h, h, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const v128_t h8 = wasm_i8x16_shuffle(h, h, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    *lo = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(l8, bits), bits), b16);
    *hi = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(h8, bits), bits), b16);
}
#define Q5_BITS_MAKE() wasm_i8x16_make(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128)

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


#define MA(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))

/* (hsum4(a), hsum4(b), hsum4(c), hsum4(d)) with exactly hsum4's rounding, (v0+v2)+(v1+v3). */
static inline v128_t hsum4x4(v128_t a, v128_t b, v128_t c, v128_t d) {
    v128_t ab = wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    v128_t cd = wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_f32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}


#define LANE_SPLAT(v, i) wasm_i32x4_shuffle(v, v, i, i, i, i)

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
 * prefetcher follows each; README, bench notes). So the decode kernels below take their rows
 * from far-apart chunks of [row0, row1): row r of each chunk in one step, each chunk read in
 * order. Each row keeps the formula of the in-order kernels, so y has the same bits either way. */
#define SP_STREAMS_Q 16  /* chunks (rows per step) of the quantized decode kernels */
#define SP_STREAMS_F32 8 /* of the f32 one */

/* Rows per chunk when `rows` rows of rb bytes are read as n streams (the rows past n * C are left
 * to the in-order kernels): the largest C from rows / n down to rows / n - n + 1 whose streams
 * crowd no 64-byte slot of the 4 KiB that pick an L1 cache set with more than 2 of their lines
 * (each stream's current line and the next), else the least crowded one. Streams whose spacing
 * C * rb is a multiple of 4 KiB all fall into one set, more lines than it has ways, and evict each
 * other's lines before their next block is read: smollm2-135m's Q8_0 LM head (49152 x 576,
 * C = 3072, spacing 3072 * 612 = 459 * 4 KiB) decoded at 10.9 GB/s, at 14.6 with C = 3071 (one
 * thread, lines read from memory; tests/c/bench_kernels.c "decode"). */
static inline int32_t stream_rows(int32_t rows, size_t rb, int32_t n) {
    const int32_t c0 = rows / n;
    int32_t best = c0, best_crowd = 1 << 30;
    for (int32_t c = c0; c > 0 && c > c0 - n; c--) {
        const uint32_t s = (uint32_t)(((size_t)c * rb) & 4095);
        uint8_t slot[64] = {0};
        int32_t crowd = 0;
        for (int32_t i = 0; i < n; i++) {
            const uint32_t a = ((uint32_t)i * s >> 6) & 63, b = (a + 1) & 63;
            crowd = slot[a] + 1 > crowd ? slot[a] + 1 : crowd;
            crowd = slot[b] + 1 > crowd ? slot[b] + 1 : crowd;
            slot[a]++;
            slot[b]++;
        }
        if (crowd < best_crowd) { best = c; best_crowd = crowd; }
        if (crowd <= 2) break;
    }
    return best;
}

/* ---- exp: the polynomial of sp_expf, lane by lane ---- */

typedef struct { v128_t hi, lo, log2e, c1, c2, p0, p1, p2, p3, p4, p5, one, magic, bias, inf, zero; } exp_consts;

/* Built once per kernel call, outside the loops (V8 does not hoist v128 constants). */
static inline exp_consts exp_consts_make(void) {
    exp_consts c = {wasm_f32x4_splat(88.0f), wasm_f32x4_splat(-87.0f), wasm_f32x4_splat(1.44269504088896341f),
                    wasm_f32x4_splat(0.693359375f), wasm_f32x4_splat(-2.12194440e-4f), wasm_f32x4_splat(1.9875691500e-4f),
                    wasm_f32x4_splat(1.3981999507e-3f), wasm_f32x4_splat(8.3334519073e-3f), wasm_f32x4_splat(4.1665795894e-2f),
                    wasm_f32x4_splat(1.6666665459e-1f), wasm_f32x4_splat(5.0000001201e-1f), wasm_f32x4_splat(1.0f),
                    wasm_f32x4_splat(12582912.0f), wasm_i32x4_splat(0x4B400000 - 127), wasm_f32x4_splat(INFINITY),
                    wasm_f32x4_splat(0.0f)};
    return c;
}

static inline v128_t exp4(v128_t x, const exp_consts *c) {
    const v128_t over = wasm_f32x4_gt(x, c->hi), under = wasm_f32x4_lt(x, c->lo);
    x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, c->lo), c->hi); /* pseudo-min/max: one instruction each, NaN stays NaN */
    const v128_t t = wasm_f32x4_add(wasm_f32x4_mul(x, c->log2e), c->magic); /* n in the low mantissa bits */
    const v128_t fx = wasm_f32x4_sub(t, c->magic);
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(fx, c->c1));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(fx, c->c2));
    v128_t y = c->p0;
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p1);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p2);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p3);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p4);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, r), c->p5);
    y = wasm_f32x4_add(wasm_f32x4_mul(y, wasm_f32x4_mul(r, r)), r);
    y = wasm_f32x4_add(y, c->one);
    const v128_t p2 = wasm_i32x4_shl(wasm_i32x4_sub(t, c->bias), 23); /* 2^n = (n + 127) << 23 */
    y = wasm_f32x4_mul(y, p2);
    y = wasm_v128_bitselect(c->inf, y, over);
    return wasm_v128_bitselect(c->zero, y, under);
}

/* ---- kernels shared between family files (named op_dtype_tile_isa[_variant]) ---- */

/* out[0..len) = cols [c0, c0+len) of a weight row as f32 (quantized: c0, len multiples of the block). */
void sp_dequant_span_wasmsimd(float *out, const uint8_t *row, uint32_t type, int32_t c0, int32_t len);

/* gemm_wasmsimd.c: wp[(k/4)*16 + b*4 + j] = w[b][k + j] for the four rows w[0..4) and k < len & ~3
 * (the k % 4 tail is read from the rows) */
void sp_gemm_pack_f32_4_wasmsimd(float *wp, const float *const *w, int32_t len);
/* gemm_wasmsimd.c: Y[i, 0..nr) (first ? = : +=) dot(x_i, w_b) for all n rows of x, 2 x 4 tiles over
 * wp packed from w[0..4) by sp_gemm_pack_f32_4_wasmsimd (rows b >= nr: any valid row, e.g. clamped) */
void sp_gemm_f32_2x4_wasmsimd(float *y, int32_t ldy, int first, int32_t n, int32_t nr, const float *x, int32_t ldx,
                              const float *wp, const float *const *w, int32_t len);

/* gemv_wasmsimd.c: one row of x against four rows of W (nr of them valid), by type */
void sp_gemv_f32_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x, const float *w0, const float *w1,
                              const float *w2, const float *w3, int32_t len);
void sp_gemv_f32_8s_wasmsimd(float *y, int32_t ys, int first, const float *x, const float *const *w, int32_t len);
void sp_gemv_q8_0_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x, const uint8_t *p0, const uint8_t *p1,
                               const uint8_t *p2, const uint8_t *p3, int32_t nb);
void sp_gemv_q4_0_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x, const uint8_t *p0, const uint8_t *p1,
                               const uint8_t *p2, const uint8_t *p3, int32_t nb);
void sp_gemv_f16_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x, const uint8_t *p0, const uint8_t *p1,
                              const uint8_t *p2, const uint8_t *p3, int32_t len);
void sp_gemv_f16_1x4_wasmsimd_finite(float *y, int first, int32_t nr, const float *x, const uint8_t *p0, const uint8_t *p1,
                                     const uint8_t *p2, const uint8_t *p3, int32_t len);
void sp_gemv_bf16_1x4_wasmsimd(float *y, int first, int32_t nr, const float *x, const uint8_t *p0, const uint8_t *p1,
                               const uint8_t *p2, const uint8_t *p3, int32_t len);

/* matmul_dx_wasmsimd.c: dx_a[16t + 0..16) += sum_r dy_a[r] * wt[r*ldw + 16t + 0..16) for a < 2, t < nt,
 * r < nrows, in row order */
void sp_gemm_dx_f32_2x16_wasmsimd(float *dx0, float *dx1, const float *dy0, const float *dy1, const float *wt, int32_t ldw,
                                  int32_t nrows, int32_t nt);

/* One block of 32 values of x rounded to 16 bits, gemm_x16.c's formula (the same values as
 * sp_pack_x_x16_scalar): q[0..4) the values as i16 in order (8 a vector), *sx = amax / qmax and
 * *sum = the block's sum in block_sum's order. Rounds to nearest even by adding 1.5 * 2^23
 * (|x * id| <= qmax < 2^22, so the sum's low bits are the integer). Returns 0 for inf or nan. */
static inline int x16_quant_block(v128_t *q, float *sx, float *sum, const float *xb, float qmax) {
    v128_t v[8];
    for (int32_t j = 0; j < 8; j++) v[j] = wasm_v128_load(xb + 4 * j);
    v128_t m = wasm_f32x4_max(wasm_f32x4_max(wasm_f32x4_max(wasm_f32x4_abs(v[0]), wasm_f32x4_abs(v[1])),
                                             wasm_f32x4_max(wasm_f32x4_abs(v[2]), wasm_f32x4_abs(v[3]))),
                              wasm_f32x4_max(wasm_f32x4_max(wasm_f32x4_abs(v[4]), wasm_f32x4_abs(v[5])),
                                             wasm_f32x4_max(wasm_f32x4_abs(v[6]), wasm_f32x4_abs(v[7]))));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    const v128_t s4 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(v[0], v[1]), wasm_f32x4_add(v[2], v[3])),
                                     wasm_f32x4_add(wasm_f32x4_add(v[4], v[5]), wasm_f32x4_add(v[6], v[7])));
    const float amax = wasm_f32x4_extract_lane(m, 0), s = hsum4(s4);
    if (!(amax <= 3.0e38f) || s - s != 0.0f) return 0; /* inf or nan */
    *sx = amax / qmax;
    *sum = s;
    const v128_t id = wasm_f32x4_splat(amax > 0.0f ? qmax / amax : 0.0f), magic = wasm_f32x4_splat(12582912.0f),
                 mi = wasm_i32x4_splat(0x4B400000);
    for (int32_t i = 0; i < 4; i++)
        q[i] = wasm_i16x8_narrow_i32x4(wasm_i32x4_sub(wasm_f32x4_add(wasm_f32x4_mul(v[2 * i], id), magic), mi),
                                       wasm_i32x4_sub(wasm_f32x4_add(wasm_f32x4_mul(v[2 * i + 1], id), magic), mi));
    return 1;
}

/* The 32 codes of sub-block j (0..7) of a Q4_K / Q5_K superblock as bytes, *lo columns 0..15 and *hi
 * 16..31: qs points at the sub-block's 32 bytes of nibbles (low nibbles for even j), qh at Q5_K's
 * high bits (bit j of each byte: 16) or is NULL. m4 = splat(15), b16 = splat(16), zero = 0. */
static inline void k4_codes(v128_t *lo, v128_t *hi, const uint8_t *qs, const uint8_t *qh, int32_t j, v128_t m4, v128_t b16,
                            v128_t zero) {
    v128_t l = wasm_v128_load(qs), u = wasm_v128_load(qs + 16);
    if (j & 1) {
        l = wasm_u16x8_shr(l, 4);
        u = wasm_u16x8_shr(u, 4);
    }
    l = wasm_v128_and(l, m4);
    u = wasm_v128_and(u, m4);
    if (qh) {
        const v128_t bit = wasm_i8x16_splat((int8_t)(1u << j));
        l = wasm_v128_or(l, wasm_v128_and(wasm_i8x16_ne(wasm_v128_and(wasm_v128_load(qh), bit), zero), b16));
        u = wasm_v128_or(u, wasm_v128_and(wasm_i8x16_ne(wasm_v128_and(wasm_v128_load(qh + 16), bit), zero), b16));
    }
    *lo = l;
    *hi = u;
}

/* gemv_x16_wasmsimd.c: decoding on Q8_0 / Q4_0 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K with x rounded to 16 bits (see there). Returns 0
 * when it does not apply (then y is computed again on the exact path). */
int sp_gemv_x16_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams);

#endif /* __wasm_simd128__ */
#endif
