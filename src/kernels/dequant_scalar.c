/* dequant_scalar.c - weight rows to f32, the reference (mat_row, and the pieces of W that the
 * scalar products multiply). Exact: d * q in f32, no rounding beyond the product. */
#include "kernels_impl.h"

/* out[0..len) = cols [c0, c0+len) of one weight row, as f32.
 * Quantized types: c0 and len are multiples of SP_QK. */
void sp_dequant_span_scalar(float *out, const uint8_t *row, uint32_t type, int32_t c0, int32_t len) {
    switch (type) {
    case SP_DTYPE_F32:
        memcpy(out, row + (size_t)c0 * 4, (size_t)len * 4);
        break;
    case SP_DTYPE_F16:
        for (int32_t j = 0; j < len; j++) {
            uint16_t h;
            memcpy(&h, row + (size_t)(c0 + j) * 2, 2);
            out[j] = sp_half_to_f32(h);
        }
        break;
    case SP_DTYPE_BF16:
        for (int32_t j = 0; j < len; j++) {
            uint16_t h;
            memcpy(&h, row + (size_t)(c0 + j) * 2, 2);
            out[j] = sp_bits_f32((uint32_t)h << 16);
        }
        break;
    case SP_DTYPE_Q8_0:
        for (int32_t b = 0; b < len / SP_QK; b++) {
            const uint8_t *blk = row + (size_t)(c0 / SP_QK + b) * sizeof(sp_block_q8_0);
            uint16_t h;
            memcpy(&h, blk, 2);
            float d = sp_half_to_f32(h);
            const int8_t *qs = (const int8_t *)(blk + 2);
            for (int32_t j = 0; j < SP_QK; j++) out[b * SP_QK + j] = d * (float)qs[j];
        }
        break;
    case SP_DTYPE_Q4_0:
        for (int32_t b = 0; b < len / SP_QK; b++) {
            const uint8_t *blk = row + (size_t)(c0 / SP_QK + b) * sizeof(sp_block_q4_0);
            uint16_t h;
            memcpy(&h, blk, 2);
            float d = sp_half_to_f32(h);
            const uint8_t *qs = blk + 2;
            for (int32_t j = 0; j < SP_QK / 2; j++) {
                out[b * SP_QK + j] = d * (float)((int32_t)(qs[j] & 15) - 8);
                out[b * SP_QK + j + SP_QK / 2] = d * (float)((int32_t)(qs[j] >> 4) - 8);
            }
        }
        break;
    default:
        memset(out, 0, (size_t)len * 4);
        break;
    }
}


void sp_mat_row_scalar(float *out, const sp_mat *w, int32_t r) {
    const uint8_t *row = sp_mat_row_ptr(w, r);
    for (int32_t c0 = 0; c0 < w->cols; c0 += SP_QK) {
        int32_t len = w->cols - c0 < SP_QK ? w->cols - c0 : SP_QK;
        sp_dequant_span_scalar(out + c0, row, w->type, c0, len);
    }
}
