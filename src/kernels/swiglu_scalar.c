/* swiglu_scalar.c - the reference SwiGLU and its backward. */
#include <float.h>
#include "kernels_impl.h"

/* silu(g) = g / (1 + exp(-g)), with -inf held at -FLT_MAX so that silu(-inf) = -0 */
static inline float silu1(float g) {
    const float gn = g < -FLT_MAX ? -FLT_MAX : g;
    return gn / (1.0f + sp_expf(-g));
}

void sp_swiglu_f32_scalar(float *h, const float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) h[i] = silu1(g[i]) * u[i];
}

void sp_swiglu_backward_f32_scalar(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        const float sg = 1.0f / (1.0f + sp_expf(-g[i]));
        const float gi = g[i], dhi = dh[i], ui = u[i];
        du[i] = dhi * (gi * sg);
        dg[i] = (dhi * ui) * (sg * (1.0f + gi * (1.0f - sg)));
    }
}

