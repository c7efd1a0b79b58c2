/* tensor.h - weight types and the frozen-matrix view used by every kernel. */
#ifndef SP_TENSOR_H
#define SP_TENSOR_H

#include "common.h"

/* Values follow GGUF's ggml_type numbering. */
typedef enum {
    SP_DTYPE_F32 = 0,
    SP_DTYPE_F16 = 1,
    SP_DTYPE_Q4_0 = 2,
    SP_DTYPE_Q5_0 = 6,
    SP_DTYPE_Q5_1 = 7,
    SP_DTYPE_Q8_0 = 8,
    SP_DTYPE_Q4_K = 12,
    SP_DTYPE_Q5_K = 13,
    SP_DTYPE_Q6_K = 14,
    SP_DTYPE_BF16 = 30,
    SP_DTYPE_UNKNOWN = 255,
} sp_dtype;

#define SP_QK 32 /* values per Q8_0 / Q4_0 / Q5_0 / Q5_1 block */

typedef struct { uint16_t d; int8_t qs[SP_QK]; } sp_block_q8_0;     /* 34 bytes: x = d*q */
typedef struct { uint16_t d; uint8_t qs[SP_QK / 2]; } sp_block_q4_0; /* 18 bytes: x[j] = d*((qs[j]&15)-8), x[j+16] = d*((qs[j]>>4)-8) */
/* Q5_0 / Q5_1 (llama.cpp's fallback for Q4_K / Q5_K rows whose length is not a multiple of 256):
 * a 5-bit code q (sp_q5_code: Q4_0's nibbles plus bit j of the little-endian u32 qh for value j);
 *     Q5_0  x = d * (q - 16)          (exact in f32)
 *     Q5_1  x = d * q + m             (f32: one rounding for the product, one for the sum, as llama.cpp) */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[SP_QK / 2]; } sp_block_q5_0;     /* 22 bytes */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[SP_QK / 2]; } sp_block_q5_1;  /* 24 bytes */

/* The 5-bit code (0..31) of value j (0..31) of a Q5_0 / Q5_1 block with these qh and qs. */
static inline int32_t sp_q5_code(const uint8_t *qh, const uint8_t *qs, int32_t j) {
    const int32_t lo = j < SP_QK / 2 ? qs[j] & 15 : qs[j - SP_QK / 2] >> 4;
    return lo | (((qh[j >> 3] >> (j & 7)) & 1) << 4);
}

/* K-quants (llama.cpp's layouts): super-blocks of 256 values in 8 sub-blocks of 32 (Q4_K, Q5_K)
 * or 16 of 16 (Q6_K). Sub-block s (of 32 values) of a Q4_K / Q5_K block has a 6-bit scale sc
 * and min m packed in scales[12] (sp_k4_scale_min), and its values are
 *     x = (d*sc) * q - (dmin*m)          (f32: d*sc and dmin*m are exact; one rounding each
 *                                         for the product and the difference, as llama.cpp)
 * with q the 4-bit code (Q4_K: qs[32*(s/2) + l], low nibble for even s, high for odd) plus, for
 * Q5_K, 16 * bit s of qh[l]. Q6_K: x = (d*sc) * (q - 32), exact, q 6 bits (low 4 from ql, high 2
 * from qh), sc an int8 per 16 values; see sp_q6_k_code. */
#define SP_QK_K 256
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[SP_QK_K / 2]; } sp_block_q4_k;                       /* 144 bytes */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[SP_QK_K / 8]; uint8_t qs[SP_QK_K / 2]; } sp_block_q5_k; /* 176 bytes */
typedef struct { uint8_t ql[SP_QK_K / 2]; uint8_t qh[SP_QK_K / 4]; int8_t scales[SP_QK_K / 16]; uint16_t d; } sp_block_q6_k; /* 210 bytes */

/* Scale and min of sub-block s (0..7) of a Q4_K / Q5_K block (6 bits each, packed in scales[12]). */
static inline void sp_k4_scale_min(int32_t s, const uint8_t *scales, int32_t *sc, int32_t *m) {
    if (s < 4) {
        *sc = scales[s] & 63;
        *m = scales[s + 4] & 63;
    } else {
        *sc = (scales[s + 4] & 15) | ((scales[s - 4] >> 6) << 4);
        *m = (scales[s + 4] >> 4) | ((scales[s] >> 6) << 4);
    }
}

/* The 6-bit code (0..63; the value is (q - 32) * d * sc) of value v (0..255) of a Q6_K block:
 * half h = v/128, quarter k = (v%128)/32, l = v%32: low 4 bits from ql[64h + 32(k&1) + l] (low
 * nibble for k < 2, else high), high 2 bits from qh[32h + l] >> 2k. Its scale is scales[8h + 2k + l/16]. */
static inline int32_t sp_q6_k_code(const uint8_t *blk, int32_t v) {
    const int32_t h = v >> 7, k = (v >> 5) & 3, l = v & 31;
    const uint8_t lo = blk[64 * h + 32 * (k & 1) + l], hi = blk[128 + 32 * h + l];
    return ((k < 2 ? lo & 15 : lo >> 4) | (((hi >> (2 * k)) & 3) << 4));
}

/* The weight types: block geometry and where the f16 scales sit in a block. One table (tensor.c). */
typedef struct {
    const char *name;   /* "Q4_K" */
    int32_t block;      /* values per block (1 for F32 / F16 / BF16) */
    int32_t bytes;      /* bytes per block */
    int32_t n_f16;      /* f16 block scales per block (0: none; F16 values are checked one by one) */
    int32_t f16_off[2]; /* their byte offsets in the block */
} sp_dtype_info;

const sp_dtype_info *sp_dtype_get(uint32_t t); /* NULL for the types the kernels do not support */
const char *sp_dtype_name(uint32_t t);         /* "F32", "Q8_0", ... or "unknown" */
int sp_dtype_supported(uint32_t t);            /* 1 for the types of SP_DTYPES_SUPPORTED */
/* The supported types, as the errors that refuse another one list them */
#define SP_DTYPES_SUPPORTED "F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K"
/* Bytes of one row of n values, or 0 if n is not a multiple of the block size or the type is unknown. */
size_t sp_dtype_row_bytes(uint32_t t, int64_t n);

/* A frozen weight matrix in torch layout: rows = out features, cols = in features,
 * row-major; quantized types are blocked along cols (cols % 32 == 0, % 256 for K-quants). */
typedef struct {
    uint32_t type;       /* sp_dtype */
    int32_t rows, cols;
    size_t row_bytes;    /* bytes between rows */
    const void *data;
    int32_t f16_finite;  /* 1 once sp_mat_check_f16 found every f16 of the data finite (the block
                          * scales of the quantized types, the values of F16). The fast f16 conversions
                          * rely on it (they give inf and nan finite values); 0 sends the products
                          * to the exact ones. Weights are frozen: set it after the data is final. */
} sp_mat;

/* The first row of w holding an inf or nan f16 (F16 values, the block scales of the quantized
 * types), or -1 if none does (or w has no f16). */
int32_t sp_mat_first_nonfinite_f16_row(const sp_mat *w);
/* Sets and returns w->f16_finite: 1 if w is F16 or a quantized type and none of its f16 is inf or nan. */
int32_t sp_mat_check_f16(sp_mat *w);

#endif
