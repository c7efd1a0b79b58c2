/* small.c - rmsnorm, softmax, silu: scalar, cheap next to the matrix products. */
#include <math.h>
#include "kernels.h"

/* out[i,:] = x[i,:] * rstd_i * w,  rstd_i = 1/sqrt(mean(x[i,:]^2) + eps)
 * out (n, dim), rstd (n) or NULL, x (n, dim), w (dim) */
void sp_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int32_t n, int32_t dim, float eps) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim;
        float *oi = out + (size_t)i * dim;
        double ss = 0.0;
        for (int32_t j = 0; j < dim; j++) ss += (double)xi[j] * xi[j];
        float r = (float)(1.0 / sqrt(ss / (dim > 0 ? dim : 1) + (double)eps));
        for (int32_t j = 0; j < dim; j++) oi[j] = xi[j] * r * w[j];
        if (rstd) rstd[i] = r;
    }
}

/* Inverts  out_j = x_j * r * w_j  with  r = (mean(x^2) + eps)^-1/2:
 *   dx_j += r * w_j * dout_j - x_j * r^3 / dim * sum_k(dout_k * w_k * x_k)
 * dx, dout, x (n, dim); w (dim); rstd (n) from the forward. */
void sp_rmsnorm_backward(float *dx, const float *dout, const float *x, const float *w, const float *rstd, int32_t n, int32_t dim) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim, *gi = dout + (size_t)i * dim;
        float *dxi = dx + (size_t)i * dim;
        float r = rstd[i];
        double dot = 0.0;
        for (int32_t j = 0; j < dim; j++) dot += (double)gi[j] * w[j] * xi[j];
        float c = (float)(dot * r * r * r / (dim > 0 ? dim : 1));
        for (int32_t j = 0; j < dim; j++) dxi[j] += r * w[j] * gi[j] - xi[j] * c;
    }
}

/* x[0..n) = exp(x - max) / sum. -inf entries give 0; all -inf gives all 0; any NaN gives all NaN;
 * a +inf entry gives NaN (inf - inf). */
void sp_softmax_inplace(float *x, int32_t n) {
    if (n <= 0) return;
    float m = -INFINITY;
    int has_nan = 0;
    for (int32_t i = 0; i < n; i++) {
        if (x[i] > m) m = x[i];
        if (x[i] != x[i]) has_nan = 1;
    }
    if (has_nan || m == -INFINITY) {
        for (int32_t i = 0; i < n; i++) x[i] = has_nan ? NAN : 0.0f;
        return;
    }
    float s = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    float inv = 1.0f / s;
    for (int32_t i = 0; i < n; i++) x[i] *= inv;
}

/* x * sigmoid(x); silu(-inf) = -0, silu(+inf) = +inf, silu(nan) = nan. */
float sp_silu(float x) {
    if (x == -INFINITY) return -0.0f;
    if (x == INFINITY) return x;
    return x / (1.0f + expf(-x));
}
