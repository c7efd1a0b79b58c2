/* rmsnorm_scalar.c - the reference RMSNorm and its backward (sums of squares in double). */
#include <math.h>
#include "kernels_impl.h"

/* sum of a[j] * b[j] (b NULL: a[j]^2) in double, 4 lanes over j % 4, (l0+l2)+(l1+l3), then the tail */
static double dot4d(const float *a, const float *b, const float *c, int32_t n) {
    double l[4] = {0.0, 0.0, 0.0, 0.0};
    int32_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (int32_t e = 0; e < 4; e++) l[e] += c ? (double)a[j + e] * b[j + e] * c[j + e] : (double)a[j + e] * a[j + e];
    double s = (l[0] + l[2]) + (l[1] + l[3]);
    for (; j < n; j++) s += c ? (double)a[j] * b[j] * c[j] : (double)a[j] * a[j];
    return s;
}

void sp_rmsnorm_f32_scalar(float *out, float *rstd, const float *x, const float *w, int32_t n, int32_t dim, float eps) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim;
        float *oi = out + (size_t)i * dim;
        const float r = (float)(1.0 / sqrt(dot4d(xi, NULL, NULL, dim) / (dim > 0 ? dim : 1) + (double)eps));
        for (int32_t j = 0; j < dim; j++) oi[j] = xi[j] * r * w[j];
        if (rstd) rstd[i] = r;
    }
}

void sp_rmsnorm_backward_f32_scalar(float *dx, const float *dout, const float *x, const float *w, const float *rstd,
                                    int32_t n, int32_t dim) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim, *gi = dout + (size_t)i * dim;
        float *dxi = dx + (size_t)i * dim;
        const float r = rstd[i];
        const float c = (float)(dot4d(gi, w, xi, dim) * r * r * r / (dim > 0 ? dim : 1));
        for (int32_t j = 0; j < dim; j++) dxi[j] += r * w[j] * gi[j] - xi[j] * c;
    }
}

