/* swiglu_scalar.c - the reference gated activations (SwiGLU, GELU) and their backward. */
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


/* GELU, tanh form: 0.5 x (1 + tanh(k (x + c x^3))) = x * sigmoid(z) = x / (1 + exp(-z)) with
 * z = 2k x (1 + c x^2) (one exp, no tanh; x = -inf held at -FLT_MAX as in silu). */
void sp_geglu_f32_scalar(float *h, const float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        const float x = g[i], xn = x < -FLT_MAX ? -FLT_MAX : x;
        const float e = sp_expf(-(SP_GELU_2K * (x * (1.0f + SP_GELU_C * (x * x)))));
        const float gl = xn / (1.0f + e);
        h[i] = u ? gl * u[i] : gl;
    }
}

/* d gelu / dx = s + x s (1 - s) 2k (1 + 3c x^2), s = sigmoid(z) */
void sp_geglu_backward_f32_scalar(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        const float x = g[i], xn = x < -FLT_MAX ? -FLT_MAX : x, x2 = x * x, dhi = dh[i];
        const float e = sp_expf(-(SP_GELU_2K * (x * (1.0f + SP_GELU_C * x2)))), s = 1.0f / (1.0f + e);
        const float gd = s + ((x * s) * (1.0f - s)) * (SP_GELU_2K * (1.0f + 3.0f * SP_GELU_C * x2));
        if (!u) {
            dg[i] = dhi * gd;
            continue;
        }
        const float ui = u[i];
        du[i] = dhi * (xn / (1.0f + e));
        dg[i] = (dhi * ui) * gd;
    }
}
