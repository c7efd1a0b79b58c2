/* vec_scalar.c - dot product and axpy over f32 vectors, the reference. */
#include "kernels_impl.h"

float sp_dot_f32_scalar(const float *a, const float *b, int32_t n) {
    float s = 0.0f;
    for (int32_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void sp_axpy_f32_scalar(float *out, float a, const float *x, int32_t n) {
    for (int32_t i = 0; i < n; i++) out[i] += a * x[i];
}

