/* tensor.h - weight types and the frozen-matrix view used by every kernel. */
#ifndef SP_TENSOR_H
#define SP_TENSOR_H

#include "common.h"

/* Values follow GGUF's ggml_type numbering. */
typedef enum {
    SP_DTYPE_F32 = 0,
    SP_DTYPE_F16 = 1,
    SP_DTYPE_Q4_0 = 2,
    SP_DTYPE_Q8_0 = 8,
    SP_DTYPE_BF16 = 30,
    SP_DTYPE_UNKNOWN = 255,
} sp_dtype;

#define SP_QK 32 /* values per Q8_0 / Q4_0 block */

typedef struct { uint16_t d; int8_t qs[SP_QK]; } sp_block_q8_0;     /* 34 bytes: x = d*q */
typedef struct { uint16_t d; uint8_t qs[SP_QK / 2]; } sp_block_q4_0; /* 18 bytes: x[j] = d*((qs[j]&15)-8), x[j+16] = d*((qs[j]>>4)-8) */

const char *sp_dtype_name(uint32_t t);         /* "F32", "Q8_0", ... or "unknown" */
int sp_dtype_supported(uint32_t t);            /* 1 for F32, F16, BF16, Q8_0, Q4_0 */
/* Bytes of one row of n values, or 0 if n is not a multiple of the block size or the type is unknown. */
size_t sp_dtype_row_bytes(uint32_t t, int64_t n);

/* A frozen weight matrix in torch layout: rows = out features, cols = in features,
 * row-major; quantized types are blocked along cols (cols % 32 == 0). */
typedef struct {
    uint32_t type;       /* sp_dtype */
    int32_t rows, cols;
    size_t row_bytes;    /* bytes between rows */
    const void *data;
    int32_t f16_finite;  /* 1 once sp_mat_check_f16 found every f16 of the data finite (the block
                          * scales of Q8_0 / Q4_0, the values of F16). The fast f16 conversions
                          * rely on it (they give inf and nan finite values); 0 sends the products
                          * to the exact ones. Weights are frozen: set it after the data is final. */
} sp_mat;

/* Sets and returns w->f16_finite: 1 if w is Q8_0, Q4_0 or F16 and none of its f16 is inf or nan. */
int32_t sp_mat_check_f16(sp_mat *w);

#endif
