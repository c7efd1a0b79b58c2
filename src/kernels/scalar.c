/* scalar.c - the reference kernels: plain loops, the ground truth for the SIMD variants.
 * Used natively (tests, fuzzing) and in wasm builds without SIMD. */
#include "kernels_impl.h"

/* out[0..len) = cols [c0, c0+len) of one weight row, as f32.
 * Quantized types: c0 and len are multiples of SP_QK. */
static void dequant_span(float *out, const uint8_t *row, uint32_t type, int32_t c0, int32_t len) {
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

/* y[n, w.rows] (rows [row0,row1) only) = x[n, w.cols] · Wᵀ */
static void matmul_scalar(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1) {
    const int32_t K = w->cols, ldy = w->rows;
    float tmp[SP_QK]; /* (32) one dequantized piece of a weight row */
    for (int32_t r = row0; r < row1; r++) {
        const uint8_t *row = sp_mat_row_ptr(w, r);
        for (int32_t i = 0; i < n; i++) y[(size_t)i * ldy + r] = 0.0f;
        for (int32_t c0 = 0; c0 < K; c0 += SP_QK) {
            int32_t len = K - c0 < SP_QK ? K - c0 : SP_QK;
            dequant_span(tmp, row, w->type, c0, len);
            for (int32_t i = 0; i < n; i++) {
                const float *xi = x + (size_t)i * K + c0;
                float s = 0.0f;
                for (int32_t j = 0; j < len; j++) s += xi[j] * tmp[j];
                y[(size_t)i * ldy + r] += s;
            }
        }
    }
}

/* dx[n, w.cols] (cols [col0,col1) only) += dy[n, w.rows] · W, summed over rows in order */
static void matmul_dx_scalar(float *dx, const float *dy, const sp_mat *w, int32_t n, int32_t col0, int32_t col1) {
    const int32_t K = w->cols, R = w->rows;
    float tmp[SP_QK]; /* (32) */
    for (int32_t c0 = col0; c0 < col1; c0 += SP_QK) {
        int32_t len = col1 - c0 < SP_QK ? col1 - c0 : SP_QK;
        for (int32_t r = 0; r < R; r++) {
            dequant_span(tmp, sp_mat_row_ptr(w, r), w->type, c0, len);
            for (int32_t i = 0; i < n; i++) {
                float a = dy[(size_t)i * R + r];
                float *dxi = dx + (size_t)i * K + c0;
                for (int32_t j = 0; j < len; j++) dxi[j] += a * tmp[j];
            }
        }
    }
}

static void matvec_decode_scalar(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams) {
    (void)streams; /* an order of reading only: the scalar reference reads rows in order */
    matmul_scalar(y, x, w, 1, row0, row1);
}

static void mat_row_scalar(float *out, const sp_mat *w, int32_t r) {
    const uint8_t *row = sp_mat_row_ptr(w, r);
    for (int32_t c0 = 0; c0 < w->cols; c0 += SP_QK) {
        int32_t len = w->cols - c0 < SP_QK ? w->cols - c0 : SP_QK;
        dequant_span(out + c0, row, w->type, c0, len);
    }
}

static float dot_scalar(const float *a, const float *b, int32_t n) {
    float s = 0.0f;
    for (int32_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void axpy_scalar(float *out, float a, const float *x, int32_t n) {
    for (int32_t i = 0; i < n; i++) out[i] += a * x[i];
}

const sp_kernels sp_kernels_scalar = {
    .isa = "scalar",
    .matmul = matmul_scalar,
    .matmul_dx = matmul_dx_scalar,
    .mat_row = mat_row_scalar,
    .dot = dot_scalar,
    .axpy = axpy_scalar,
    .matvec_decode = matvec_decode_scalar,
    .decode_x16 = 0,
};
