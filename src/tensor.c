/* tensor.c - the weight types (GGUF ggml_type numbering): names, block geometry, row sizes. */
#include "tensor.h"

#include <string.h>

_Static_assert(sizeof(sp_block_q8_0) == 34 && sizeof(sp_block_q4_0) == 18, "Q8_0 / Q4_0 block sizes");
_Static_assert(sizeof(sp_block_q5_0) == 22 && sizeof(sp_block_q5_1) == 24, "Q5_0 / Q5_1 block sizes");
_Static_assert(sizeof(sp_block_q4_k) == 144 && sizeof(sp_block_q5_k) == 176 && sizeof(sp_block_q6_k) == 210, "K-quant block sizes");

/* The types the kernels support: {name, values per block, bytes per block, f16 scales, their offsets} */
static const sp_dtype_info DTYPES[] = {
    {"F32", 1, 4, 0, {0, 0}},
    {"F16", 1, 2, 0, {0, 0}},
    {"BF16", 1, 2, 0, {0, 0}},
    {"Q8_0", SP_QK, (int32_t)sizeof(sp_block_q8_0), 1, {0, 0}},
    {"Q4_0", SP_QK, (int32_t)sizeof(sp_block_q4_0), 1, {0, 0}},
    {"Q4_K", SP_QK_K, (int32_t)sizeof(sp_block_q4_k), 2, {0, 2}},
    {"Q5_K", SP_QK_K, (int32_t)sizeof(sp_block_q5_k), 2, {0, 2}},
    {"Q6_K", SP_QK_K, (int32_t)sizeof(sp_block_q6_k), 1, {(int32_t)offsetof(sp_block_q6_k, d), 0}},
    {"Q5_0", SP_QK, (int32_t)sizeof(sp_block_q5_0), 1, {0, 0}},
    {"Q5_1", SP_QK, (int32_t)sizeof(sp_block_q5_1), 2, {0, 2}},
};

const sp_dtype_info *sp_dtype_get(uint32_t t) {
    switch (t) {
    case SP_DTYPE_F32: return &DTYPES[0];
    case SP_DTYPE_F16: return &DTYPES[1];
    case SP_DTYPE_BF16: return &DTYPES[2];
    case SP_DTYPE_Q8_0: return &DTYPES[3];
    case SP_DTYPE_Q4_0: return &DTYPES[4];
    case SP_DTYPE_Q4_K: return &DTYPES[5];
    case SP_DTYPE_Q5_K: return &DTYPES[6];
    case SP_DTYPE_Q6_K: return &DTYPES[7];
    case SP_DTYPE_Q5_0: return &DTYPES[8];
    case SP_DTYPE_Q5_1: return &DTYPES[9];
    }
    return NULL;
}

const char *sp_dtype_name(uint32_t t) {
    const sp_dtype_info *i = sp_dtype_get(t);
    if (i) return i->name;
    switch (t) { /* GGUF types the kernels do not support, named in errors */
    case 3: return "Q4_1";
    case 9: return "Q8_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    case 15: return "Q8_K";
    case 24: return "I8";
    case 25: return "I16";
    case 26: return "I32";
    case 27: return "I64";
    case 28: return "F64";
    }
    return "unknown";
}

int sp_dtype_supported(uint32_t t) { return sp_dtype_get(t) != NULL; }

size_t sp_dtype_row_bytes(uint32_t t, int64_t n) {
    const sp_dtype_info *i = sp_dtype_get(t);
    if (!i || n < 0) return 0;
    if ((uint64_t)n > SIZE_MAX) return 0;
    if ((size_t)n % (size_t)i->block) return 0;
    size_t out;
    if (!sp_mul_size((size_t)n / (size_t)i->block, (size_t)i->bytes, &out)) return 0;
    return out;
}

int32_t sp_mat_first_nonfinite_f16_row(const sp_mat *w) {
    const sp_dtype_info *info = sp_dtype_get(w->type);
    if (!info || (info->n_f16 == 0 && w->type != SP_DTYPE_F16)) return -1;
    /* the f16 of each row: the block scales, or every value (F16) */
    const int32_t per_block = w->type == SP_DTYPE_F16 ? 1 : info->n_f16;
    const size_t nb = (size_t)w->cols / (size_t)info->block;
    for (int32_t r = 0; r < w->rows; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        uint32_t bad = 0;
        for (size_t b = 0; b < nb; b++)
            for (int32_t k = 0; k < per_block; k++) { /* all exponent bits set: inf or nan */
                uint16_t h;
                memcpy(&h, row + b * (size_t)info->bytes + (size_t)info->f16_off[k], 2);
                bad |= (h & 0x7C00u) == 0x7C00u;
            }
        if (bad) return r;
    }
    return -1;
}

int32_t sp_mat_check_f16(sp_mat *w) {
    const sp_dtype_info *info = sp_dtype_get(w->type);
    const int has_f16 = info && (info->n_f16 > 0 || w->type == SP_DTYPE_F16);
    w->f16_finite = has_f16 && sp_mat_first_nonfinite_f16_row(w) < 0;
    return w->f16_finite;
}
