/* rope_scalar.c - the reference RoPE: sp_rope_pairs on every head. */
#include "kernels_impl.h"

void sp_rope_f32_scalar(float *x, const float *tab, int32_t n, int32_t n_heads, int32_t hd, int32_t adjacent, float sign) {
    const int32_t half = hd / 2;
    for (int32_t r = 0; r < n; r++) {
        const float *cs = tab + (size_t)r * half * 2;
        for (int32_t h = 0; h < n_heads; h++) sp_rope_pairs(x + ((size_t)r * n_heads + h) * hd, cs, 0, half, adjacent, sign);
    }
}

