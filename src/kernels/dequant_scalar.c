/* dequant_scalar.c - weight rows to f32, the reference (mat_row, and the pieces of W that the
 * scalar products multiply). Exact: d * q in f32, no rounding beyond the product (Q4_K / Q5_K:
 * (d*sc) * q - dmin*m, Q5_1: d * q + m, llama.cpp's formulas, tensor.h). */
#include "kernels_impl.h"

/* out[0..len) = cols [c0, c0+len) of one weight row, as f32.
 * Quantized types: c0 and len are multiples of SP_QK (K-quants: whole sub-blocks of 32). */
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
    case SP_DTYPE_Q4_0: /* Q8_0's block walk above, with the 4-bit unpack (nibble - 8) */
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
    case SP_DTYPE_Q5_0:
    case SP_DTYPE_Q5_1: { /* Q4_0's walk with a fifth bit from qh: d*(q-16), or d*q + m */
        const int q51 = type == SP_DTYPE_Q5_1;
        const size_t bytes = q51 ? sizeof(sp_block_q5_1) : sizeof(sp_block_q5_0);
        for (int32_t b = 0; b < len / SP_QK; b++) {
            const uint8_t *blk = row + (size_t)(c0 / SP_QK + b) * bytes;
            uint16_t h, hm = 0;
            memcpy(&h, blk, 2);
            if (q51) memcpy(&hm, blk + 2, 2);
            const float d = sp_half_to_f32(h), m = sp_half_to_f32(hm);
            const uint8_t *qh = blk + (q51 ? offsetof(sp_block_q5_1, qh) : offsetof(sp_block_q5_0, qh));
            const uint8_t *qs = blk + (q51 ? offsetof(sp_block_q5_1, qs) : offsetof(sp_block_q5_0, qs));
            for (int32_t j = 0; j < SP_QK; j++) {
                const int32_t q = sp_q5_code(qh, qs, j);
                out[b * SP_QK + j] = q51 ? d * (float)q + m : d * (float)(q - 16);
            }
        }
        break;
    }
    case SP_DTYPE_Q4_K:
    case SP_DTYPE_Q5_K: {
        const int q5 = type == SP_DTYPE_Q5_K;
        const size_t bytes = q5 ? sizeof(sp_block_q5_k) : sizeof(sp_block_q4_k);
        for (int32_t s = c0 / SP_QK; s < (c0 + len) / SP_QK; s++) { /* sub-block s of the row */
            const uint8_t *blk = row + (size_t)(s / 8) * bytes;
            const int32_t j = s % 8, shift = 4 * (j & 1);
            const uint8_t *qs = blk + (q5 ? offsetof(sp_block_q5_k, qs) : offsetof(sp_block_q4_k, qs)) + 32 * (j / 2);
            const uint8_t *qh = blk + offsetof(sp_block_q5_k, qh);
            float d1, m1;
            sp_k4_sub_scales(blk, j, &d1, &m1);
            float *o = out + (s * SP_QK - c0);
            for (int32_t l = 0; l < SP_QK; l++) {
                const int32_t q = ((qs[l] >> shift) & 15) | (q5 ? ((qh[l] >> j) & 1) << 4 : 0);
                o[l] = d1 * (float)q - m1;
            }
        }
        break;
    }
    case SP_DTYPE_Q6_K:
        for (int32_t s = c0 / SP_QK; s < (c0 + len) / SP_QK; s++) {
            const uint8_t *blk = row + (size_t)(s / 8) * sizeof(sp_block_q6_k);
            const int32_t j = s % 8;
            float *o = out + (s * SP_QK - c0);
            for (int32_t l = 0; l < SP_QK; l++) o[l] = sp_q6_k_scale(blk, 2 * j + l / 16) * (float)(sp_q6_k_code(blk, 32 * j + l) - 32);
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
