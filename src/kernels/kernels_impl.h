/* kernels_impl.h - private helpers shared by the kernel files (not part of the contract).
 *
 * The kernels of the two tables (listed in dispatch.c), the tile sizes, and the exact scalar
 * conversions that every variant uses, so that a dequantized weight is the same f32 value in
 * every kernel. */
#ifndef SP_KERNELS_IMPL_H
#define SP_KERNELS_IMPL_H

#include <string.h>
#include "kernels.h"

/* The kernels of each table, one family per file (<family>_scalar.c, <family>_wasmsimd.c);
 * their contracts are the table's fields in kernels.h. */
#define SP_DECLARE_KERNELS(isa)                                                                                          \
    void sp_matmul_##isa(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1);              \
    void sp_matmul_dx_##isa(float *dx, const float *dy, const sp_mat *w, int32_t n, int32_t col0, int32_t col1);         \
    void sp_mat_row_##isa(float *out, const sp_mat *w, int32_t r);                                                      \
    void sp_matvec_decode_##isa(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams); \
    float sp_dot_f32_##isa(const float *a, const float *b, int32_t n);                                                  \
    void sp_axpy_f32_##isa(float *out, float a, const float *x, int32_t n);                                             \
    void sp_qk_f32_##isa(float *d, int64_t ldd, const float *y, int64_t ldy, int32_t ny, const float *x, int64_t ldx,   \
                         int32_t nx, int32_t hd, float scale);                                                           \
    void sp_av_f32_##isa(float *o, int64_t ldo, const float *a, int64_t lda, int32_t no, const float *x, int64_t ldx,   \
                         int32_t nx, int32_t hd);                                                                        \
    void sp_atv_f32_##isa(float *z, int64_t ldz, const float *a, int64_t lda, int32_t nz, const float *y, int64_t ldy,  \
                          int32_t ny, int32_t hd);                                                                       \
    float sp_max_f32_##isa(const float *x, int32_t n);                                                                  \
    double sp_exp_sum_f32_##isa(float *x, int32_t n, float mx);                                                         \
    void sp_scale_f32_##isa(float *x, int32_t n, float a);                                                              \
    void sp_softmax_backward_f32_##isa(float *p, const float *dp, int32_t n, float scale);                              \
    void sp_swiglu_f32_##isa(float *h, const float *g, const float *u, int32_t n);                                      \
    void sp_swiglu_backward_f32_##isa(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n); \
    void sp_geglu_f32_##isa(float *h, const float *g, const float *u, int32_t n);                                       \
    void sp_geglu_backward_f32_##isa(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n);  \
    void sp_rmsnorm_f32_##isa(float *out, float *rstd, const float *x, const float *w, int32_t n, int32_t dim, float eps); \
    void sp_rmsnorm_backward_f32_##isa(float *dx, const float *dout, const float *x, const float *w, const float *rstd,  \
                                       int32_t n, int32_t dim);                                                          \
    void sp_rope_f32_##isa(float *x, const float *tab, int32_t n, int32_t n_heads, int32_t hd, int32_t adjacent, float sign);
SP_DECLARE_KERNELS(scalar)
#ifdef __wasm_simd128__
SP_DECLARE_KERNELS(wasmsimd)
#endif
#undef SP_DECLARE_KERNELS

/* ---- the integer forward product on quantized weights (gemm_x16.c: layouts and formula) ---- */
/* One 4 x 8 tile: rows [0, mr) of a 4-row X panel (xq, xs) times the 8-row W panel (wq, ws),
 * nb blocks of 32; y[r*ldy + c] (first ? = : +=) for r < mr, c < nr; mins: the min term of Q4_K / Q5_K / Q5_1. */
typedef void (*sp_gemm_x16_fn)(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq, const float *xs,
                               const int16_t *wq, const float *ws, int32_t nb, int mins);
void sp_gemm_x16_4x8_scalar(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq, const float *xs,
                            const int16_t *wq, const float *ws, int32_t nb, int mins);
/* The W panel (wq, ws) of the eight rows rows[0..8) (weight type `type`), columns [k0, k0 + 32 nb). */
typedef void (*sp_pack_w_x16_fn)(int16_t *wq, float *ws, const uint8_t *const *rows, uint32_t type, int32_t k0, int32_t nb);
void sp_pack_w_x16_scalar(int16_t *wq, float *ws, const uint8_t *const *rows, uint32_t type, int32_t k0, int32_t nb);
/* The X panel (xq, xs) of rows x + r*ldx, r < mr (<= 4), columns [0, 32 nb), x rounded for weights
 * whose sp_x16_qmax is qmax. Returns 0 if x holds inf or nan. */
typedef int (*sp_pack_x_x16_fn)(int32_t *xq, float *xs, const float *x, int32_t ldx, int32_t mr, int32_t nb, float qmax);
int sp_pack_x_x16_scalar(int32_t *xq, float *xs, const float *x, int32_t ldx, int32_t mr, int32_t nb, float qmax);
/* One ISA's tile and packing routines, the same bits in every ISA (sp_kernels.x16) */
struct sp_x16_ops {
    sp_gemm_x16_fn tile;
    sp_pack_w_x16_fn pack_w;
    sp_pack_x_x16_fn pack_x;
};
typedef struct sp_x16_ops sp_x16_ops;
extern const sp_x16_ops sp_x16_ops_scalar;
/* 1 for the types the integer product covers: Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K */
int sp_matmul_x16_applies(uint32_t type);
/* the largest |xq| for weights of this type (a block's integer sum stays below 2^31) */
int32_t sp_x16_qmax(uint32_t type);
/* Groups [g0, g1) of 4 rows of the X panel of x (n, cols) (sp_matmul_panel_bytes; gemm_x16.c has
 * the layout), x rounded for weights whose sp_x16_qmax is qmax. Returns 0 if those rows hold inf
 * or nan (the product then takes the exact path). */
int sp_x16_pack(void *panel, const float *x, int32_t n, int32_t cols, int32_t g0, int32_t g1, int32_t qmax, const sp_x16_ops *ops);
/* Y = X·Wᵀ, rows [row0, row1) of W, from the whole X panel of x (packed for sp_x16_qmax(w->type)). */
void sp_x16_panel_matmul(float *y, const void *panel, const sp_mat *w, int32_t n, int32_t row0, int32_t row1, const sp_x16_ops *ops);
/* The same from x itself, packed into a panel of its own. Returns 0 (y untouched) where it does
 * not apply: another weight type, x holding inf or nan, or no memory for the X panel. */
int sp_matmul_x16(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1, const sp_x16_ops *ops);
/* matmul of the tables with matmul_x16 = 1: sp_matmul_x16 with that ISA's tile, else the exact matmul */
void sp_matmul_x16_scalar(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1);
#ifdef __wasm_simd128__
void sp_gemm_x16_4x8_wasmsimd(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq, const float *xs,
                              const int16_t *wq, const float *ws, int32_t nb, int mins);
void sp_pack_w_x16_wasmsimd(int16_t *wq, float *ws, const uint8_t *const *rows, uint32_t type, int32_t k0, int32_t nb);
int sp_pack_x_x16_wasmsimd(int32_t *xq, float *xs, const float *x, int32_t ldx, int32_t mr, int32_t nb, float qmax);
extern const sp_x16_ops sp_x16_ops_wasmsimd;
void sp_matmul_x16_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1);
void sp_matvec_decode_exact_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams);
#endif

/* out[0..len) = cols [c0, c0+len) of one weight row, as f32 (quantized types: c0 and len
 * multiples of the block size). The reference; the SIMD one is in wasmsimd.h. */
void sp_dequant_span_scalar(float *out, const uint8_t *row, uint32_t type, int32_t c0, int32_t len);

/* GELU (tanh form) as x * sigmoid(2k x (1 + c x^2)): 2k = 2 sqrt(2 / pi), c = 0.044715 */
#define SP_GELU_2K 1.5957691216057308f
#define SP_GELU_C 0.044715f

/* Forward (X·Wᵀ) k-block: partial dot products are reduced and added to y every KC columns. */
#define SP_FW_KC 1024
/* Backward (dY·W): rows of W dequantized per tile. */
#define SP_BW_RB 128
/* Column chunks handed to threads are multiples of this (one quantization block). */
#define SP_COL_ALIGN 32

static inline float sp_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t sp_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* IEEE half -> float, exact for every input (subnormals, inf, nan), same bits as sp_f16_to_f32.
 * Inline because it runs once per quantization block in the hot loops. */
static inline float sp_half_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = h & 0x7fffu;
    uint32_t bits;
    if (em < 0x0400u) {                      /* zero or subnormal: em * 2^-24 is exact */
        bits = sp_f32_bits((float)em * (1.0f / 16777216.0f));
    } else {
        bits = (em << 13) + 0x38000000u;     /* rebias exponent 15 -> 127 */
        if (em >= 0x7c00u) bits += 0x38000000u; /* inf / nan: exponent all ones, payload kept */
    }
    return sp_bits_f32(bits | sign);
}

/* exp_sum adds its f32 lane sums into a double every this many values */
#define SP_EXP_BLOCK 256

/* The dot product of qk and softmax_backward: 4 lanes over d in steps of 4, (l0+l2)+(l1+l3),
 * then the tail in order (the lanes of the SIMD variants). */
static inline float sp_dot4_f32(const float *a, const float *b, int32_t n) {
    float l0 = 0.0f, l1 = 0.0f, l2 = 0.0f, l3 = 0.0f;
    int32_t d = 0;
    for (; d + 4 <= n; d += 4) {
        l0 += a[d] * b[d];
        l1 += a[d + 1] * b[d + 1];
        l2 += a[d + 2] * b[d + 2];
        l3 += a[d + 3] * b[d + 3];
    }
    float s = (l0 + l2) + (l1 + l3);
    for (; d < n; d++) s += a[d] * b[d];
    return s;
}

/* RoPE on the pairs i0 .. hd/2-1 of one head v (cs: its row of the table): the scalar formula of
 * the rope kernel, shared by the reference and the SIMD variant's leftover pairs. */
static inline void sp_rope_pairs(float *v, const float *cs, int32_t i0, int32_t half, int32_t adjacent, float sign) {
    for (int32_t i = i0; i < half; i++) {
        const float fc = cs[2 * i], fs = cs[2 * i + 1] * sign;
        const int32_t p = adjacent ? 2 * i : i, q = adjacent ? 2 * i + 1 : i + half;
        const float a = v[p], b = v[q];
        v[p] = a * fc - b * fs;
        v[q] = a * fs + b * fc;
    }
}

/* d*sc and dmin*m of sub-block j (0..7) of a Q4_K / Q5_K block (f32, exact: f16 times 6 bits). */
static inline void sp_k4_sub_scales(const uint8_t *blk, int32_t j, float *d1, float *m1) {
    uint16_t d, dmin;
    int32_t sc, m;
    memcpy(&d, blk, 2);
    memcpy(&dmin, blk + 2, 2);
    sp_k4_scale_min(j, blk + 4, &sc, &m);
    *d1 = sp_half_to_f32(d) * (float)sc;
    *m1 = sp_half_to_f32(dmin) * (float)m;
}

/* d*sc for values [16i, 16i+16) of a Q6_K block (f32, exact: f16 times int8). */
static inline float sp_q6_k_scale(const uint8_t *blk, int32_t i) {
    uint16_t d;
    memcpy(&d, blk + offsetof(sp_block_q6_k, d), 2);
    const int32_t v = 16 * i, sub = 8 * (v >> 7) + 2 * ((v >> 5) & 3) + ((v >> 4) & 1);
    return sp_half_to_f32(d) * (float)(int8_t)blk[offsetof(sp_block_q6_k, scales) + sub];
}

static inline const uint8_t *sp_mat_row_ptr(const sp_mat *w, int32_t r) {
    return (const uint8_t *)w->data + (size_t)r * w->row_bytes;
}

#endif
