/* matmul_scalar.c - the reference forward product Y = X·Wᵀ (matmul, and matvec_decode, which
 * is the same product for one row): plain loops, the ground truth for the SIMD variants. */
#include "kernels_impl.h"

/* y[n, w.rows] (rows [row0,row1) only) = x[n, w.cols] · Wᵀ */
void sp_matmul_scalar(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1) {
    const int32_t K = w->cols, ldy = w->rows;
    float tmp[SP_QK]; /* (32) one dequantized piece of a weight row */
    for (int32_t r = row0; r < row1; r++) {
        const uint8_t *row = sp_mat_row_ptr(w, r);
        for (int32_t i = 0; i < n; i++) y[(size_t)i * ldy + r] = 0.0f;
        for (int32_t c0 = 0; c0 < K; c0 += SP_QK) {
            int32_t len = K - c0 < SP_QK ? K - c0 : SP_QK;
            sp_dequant_span_scalar(tmp, row, w->type, c0, len);
            for (int32_t i = 0; i < n; i++) {
                const float *xi = x + (size_t)i * K + c0;
                float s = 0.0f;
                for (int32_t j = 0; j < len; j++) s += xi[j] * tmp[j];
                y[(size_t)i * ldy + r] += s;
            }
        }
    }
}


void sp_matvec_decode_scalar(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams) {
    (void)streams; /* an order of reading only: the scalar reference reads rows in order */
    sp_matmul_scalar(y, x, w, 1, row0, row1);
}

