/* softmax_scalar.c - the exp polynomial and the reference softmax row kernels (max, exp_sum,
 * scale, softmax_backward), the operations of softmax_wasmsimd.c lane by lane. */
#include <math.h>
#include "kernels_impl.h"

/* Cephes expf: x = n*ln2 + r, |r| <= ln2/2, exp(r) by a degree-7 polynomial, times 2^n. */
float sp_expf(float x) {
    if (x != x) return x;
    if (x > 88.0f) return INFINITY;
    if (x < -87.0f) return 0.0f;
    /* n = round-to-nearest-even(x * log2e) by the 1.5 * 2^23 trick (exact for |n| < 2^22) */
    const float t = x * 1.44269504088896341f + 12582912.0f, fx = t - 12582912.0f;
    float r = x - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * (r * r) + r;
    y = y + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    return y * sp_bits_f32((tb - 0x4B400000u + 127u) << 23);
}


/* wasm f32x4.pmax: a < b ? b : a */
static inline float pmax(float a, float b) { return a < b ? b : a; }

float sp_max_f32_scalar(const float *x, int32_t n) {
    float l[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int32_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) l[k] = pmax(l[k], x[i + k]);
    float m = pmax(pmax(l[0], l[2]), pmax(l[1], l[3]));
    for (; i < n; i++) m = pmax(m, x[i]);
    return m;
}



double sp_exp_sum_f32_scalar(float *x, int32_t n, float mx) {
    double total = 0.0;
    for (int32_t b0 = 0; b0 < n; b0 += SP_EXP_BLOCK) {
        const int32_t b1 = n - b0 < SP_EXP_BLOCK ? n : b0 + SP_EXP_BLOCK;
        float l[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        int32_t i = b0;
        for (; i + 4 <= b1; i += 4)
            for (int k = 0; k < 4; k++) {
                x[i + k] = sp_expf(x[i + k] - mx);
                l[k] += x[i + k];
            }
        float s = (l[0] + l[2]) + (l[1] + l[3]);
        for (; i < b1; i++) {
            x[i] = sp_expf(x[i] - mx);
            s += x[i];
        }
        total += (double)s;
    }
    return total;
}

void sp_scale_f32_scalar(float *x, int32_t n, float a) {
    for (int32_t i = 0; i < n; i++) x[i] *= a;
}

void sp_softmax_backward_f32_scalar(float *p, const float *dp, int32_t n, float scale) {
    const float s = sp_dot4_f32(p, dp, n);
    for (int32_t j = 0; j < n; j++) p[j] = p[j] * (dp[j] - s) * scale;
}

