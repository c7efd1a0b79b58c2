/* attention_scalar.c - the reference products of attention over one head (qk, av, atv): plain
 * loops that perform exactly the operations of the SIMD variant (4 lane accumulators where it
 * has lanes), so the two agree bit for bit. */
#include "kernels_impl.h"

void sp_qk_f32_scalar(float *dd, int64_t ldd, const float *y, int64_t ldy, int32_t ny, const float *x, int64_t ldx, int32_t nx,
                      int32_t hd, float scale) {
    for (int32_t i = 0; i < ny; i++)
        for (int32_t j = 0; j < nx; j++) dd[i * ldd + j] = sp_dot4_f32(y + i * ldy, x + j * ldx, hd) * scale;
}

/* o += a·x (probabilities times values); sp_atv_f32_scalar below is its transpose (z += aᵀ·y, the
 * backward's dV): two products with the same loop shape, kept apart as the SIMD file keeps them. */
void sp_av_f32_scalar(float *o, int64_t ldo, const float *a, int64_t lda, int32_t no, const float *x, int64_t ldx, int32_t nx,
                      int32_t hd) {
    for (int32_t i = 0; i < no; i++)
        for (int32_t d = 0; d < hd; d++) {
            float acc = o[i * ldo + d];
            for (int32_t j = 0; j < nx; j++) acc += a[i * lda + j] * x[j * ldx + d];
            o[i * ldo + d] = acc;
        }
}

void sp_atv_f32_scalar(float *z, int64_t ldz, const float *a, int64_t lda, int32_t nz, const float *y, int64_t ldy, int32_t ny,
                       int32_t hd) {
    for (int32_t j = 0; j < nz; j++)
        for (int32_t d = 0; d < hd; d++) {
            float acc = z[j * ldz + d];
            for (int32_t i = 0; i < ny; i++) acc += a[i * lda + j] * y[i * ldy + d];
            z[j * ldz + d] = acc;
        }
}

