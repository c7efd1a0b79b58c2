/* tensor.c - weight type names, support and row sizes (GGUF ggml_type numbering). */
#include "tensor.h"

#include <string.h>

const char *sp_dtype_name(uint32_t t) {
    switch (t) {
    case SP_DTYPE_F32: return "F32";
    case SP_DTYPE_F16: return "F16";
    case SP_DTYPE_Q4_0: return "Q4_0";
    case 3: return "Q4_1";
    case 6: return "Q5_0";
    case 7: return "Q5_1";
    case SP_DTYPE_Q8_0: return "Q8_0";
    case 9: return "Q8_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    case 12: return "Q4_K";
    case 13: return "Q5_K";
    case 14: return "Q6_K";
    case 15: return "Q8_K";
    case 24: return "I8";
    case 25: return "I16";
    case 26: return "I32";
    case 27: return "I64";
    case 28: return "F64";
    case SP_DTYPE_BF16: return "BF16";
    }
    return "unknown";
}

int sp_dtype_supported(uint32_t t) {
    return t == SP_DTYPE_F32 || t == SP_DTYPE_F16 || t == SP_DTYPE_BF16 ||
           t == SP_DTYPE_Q8_0 || t == SP_DTYPE_Q4_0;
}

size_t sp_dtype_row_bytes(uint32_t t, int64_t n) {
    if (n < 0) return 0;
    size_t elem, block;
    switch (t) {
    case SP_DTYPE_F32: elem = 4; block = 1; break;
    case SP_DTYPE_F16:
    case SP_DTYPE_BF16: elem = 2; block = 1; break;
    case SP_DTYPE_Q8_0: elem = sizeof(sp_block_q8_0); block = SP_QK; break;
    case SP_DTYPE_Q4_0: elem = sizeof(sp_block_q4_0); block = SP_QK; break;
    default: return 0;
    }
    if ((uint64_t)n > SIZE_MAX) return 0;
    if ((size_t)n % block) return 0;
    size_t out;
    if (!sp_mul_size((size_t)n / block, elem, &out)) return 0;
    return out;
}

int32_t sp_mat_check_f16(sp_mat *w) {
    /* the f16 of each row: at every `step` bytes (a block's scale), or all of them (F16) */
    const size_t step = w->type == SP_DTYPE_Q8_0 ? sizeof(sp_block_q8_0) : w->type == SP_DTYPE_Q4_0 ? sizeof(sp_block_q4_0)
                      : w->type == SP_DTYPE_F16 ? 2 : 0;
    const size_t n = !step ? 0 : w->type == SP_DTYPE_F16 ? (size_t)w->cols : (size_t)w->cols / SP_QK;
    uint32_t bad = step == 0;
    for (int32_t r = 0; r < w->rows && !bad; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        for (size_t i = 0; i < n; i++) { /* all exponent bits set: inf or nan */
            uint16_t h;
            memcpy(&h, row + i * step, 2);
            bad |= (h & 0x7C00u) == 0x7C00u;
        }
    }
    w->f16_finite = !bad;
    return w->f16_finite;
}
