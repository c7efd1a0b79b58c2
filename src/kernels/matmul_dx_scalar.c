/* matmul_dx_scalar.c - the reference backward product dX += dY·W, summed over rows of W in order. */
#include "kernels_impl.h"

/* dx[n, w.cols] (cols [col0,col1) only) += dy[n, w.rows] · W, summed over rows in order */
void sp_matmul_dx_scalar(float *dx, const float *dy, const sp_mat *w, int32_t n, int32_t col0, int32_t col1) {
    const int32_t K = w->cols, R = w->rows;
    float tmp[SP_QK]; /* (32) */
    for (int32_t c0 = col0; c0 < col1; c0 += SP_QK) {
        int32_t len = col1 - c0 < SP_QK ? col1 - c0 : SP_QK;
        for (int32_t r = 0; r < R; r++) {
            sp_dequant_span_scalar(tmp, sp_mat_row_ptr(w, r), w->type, c0, len);
            for (int32_t i = 0; i < n; i++) {
                float a = dy[(size_t)i * R + r];
                float *dxi = dx + (size_t)i * K + c0;
                for (int32_t j = 0; j < len; j++) dxi[j] += a * tmp[j];
            }
        }
    }
}

