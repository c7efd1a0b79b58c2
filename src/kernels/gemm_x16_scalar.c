/* gemm_x16_scalar.c - the reference 4 x 8 tile of the integer forward product (gemm_x16.c has
 * the layouts and the formula): plain loops, bitwise equal to sp_gemm_x16_4x8_wasmsimd. */
#include "kernels_impl.h"

void sp_gemm_x16_4x8_scalar(float *y, int32_t ldy, int first, int32_t mr, int32_t nr, const int32_t *xq, const float *xs,
                            const int16_t *wq, const float *ws, int32_t nb, int mins) {
    for (int32_t r = 0; r < mr; r++)
        for (int32_t c = 0; c < nr; c++) {
            float f = 0.0f;
            for (int32_t b = 0; b < nb; b++) {
                int32_t s = 0;
                for (int32_t kp = 0; kp < 16; kp++) {
                    const int32_t xw = xq[b * 64 + kp * 4 + r];
                    const int16_t *wp = wq + (size_t)b * 256 + kp * 16 + (c / 4) * 8 + (c % 4) * 2;
                    s += (int32_t)(int16_t)(xw & 0xffff) * wp[0] + (int32_t)(int16_t)((uint32_t)xw >> 16) * wp[1];
                }
                f = f + (float)s * (ws[b * 16 + c] * xs[b * 8 + r]);
                if (mins) f = f - ws[b * 16 + 8 + c] * xs[b * 8 + 4 + r];
            }
            float *yp = y + (size_t)r * ldy + c;
            *yp = first ? f : *yp + f;
        }
}

const sp_x16_ops sp_x16_ops_scalar = {sp_gemm_x16_4x8_scalar, sp_pack_w_x16_scalar, sp_pack_x_x16_scalar};

void sp_matmul_x16_scalar(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1) {
    if (!sp_matmul_x16(y, x, w, n, row0, row1, &sp_x16_ops_scalar)) sp_matmul_scalar(y, x, w, n, row0, row1);
}
