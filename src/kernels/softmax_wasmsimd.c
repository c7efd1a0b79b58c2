/* softmax_wasmsimd.c - the softmax row kernels (max, exp_sum, scale, softmax_backward), wasm
 * SIMD128, the same operations as softmax_scalar.c (bit for bit). */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

NOINLINE float sp_max_f32_wasmsimd(const float *x, int32_t n) {
    /* pmax (a < b ? b : a) is one instruction; lanes as in the scalar loop, two chains for speed */
    v128_t m0 = wasm_f32x4_splat(-INFINITY), m1 = m0;
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        m0 = wasm_f32x4_pmax(m0, wasm_v128_load(x + i));
        m1 = wasm_f32x4_pmax(m1, wasm_v128_load(x + i + 4));
    }
    m0 = wasm_f32x4_pmax(m0, m1);
    for (; i + 4 <= n; i += 4) m0 = wasm_f32x4_pmax(m0, wasm_v128_load(x + i));
    const v128_t m = wasm_f32x4_pmax(m0, wasm_i32x4_shuffle(m0, m0, 2, 3, 0, 1));
    float r = wasm_f32x4_extract_lane(wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2)), 0);
    for (; i < n; i++) r = r < x[i] ? x[i] : r;
    return r;
}

#define SP_EXP_BLOCK 256

NOINLINE double sp_exp_sum_f32_wasmsimd(float *x, int32_t n, float mx) {
    const exp_consts c = exp_consts_make();
    const v128_t vm = wasm_f32x4_splat(mx);
    double total = 0.0;
    for (int32_t b0 = 0; b0 < n; b0 += SP_EXP_BLOCK) {
        const int32_t b1 = n - b0 < SP_EXP_BLOCK ? n : b0 + SP_EXP_BLOCK;
        v128_t l = wasm_f32x4_splat(0.0f);
        int32_t i = b0;
        for (; i + 4 <= b1; i += 4) {
            const v128_t e = exp4(wasm_f32x4_sub(wasm_v128_load(x + i), vm), &c);
            wasm_v128_store(x + i, e);
            l = wasm_f32x4_add(l, e);
        }
        l = wasm_f32x4_add(l, wasm_i32x4_shuffle(l, l, 2, 3, 0, 1));
        float s = wasm_f32x4_extract_lane(wasm_f32x4_add(l, wasm_i32x4_shuffle(l, l, 1, 0, 3, 2)), 0);
        for (; i < b1; i++) {
            x[i] = sp_expf(x[i] - mx);
            s += x[i];
        }
        total += (double)s;
    }
    return total;
}

void sp_scale_f32_wasmsimd(float *x, int32_t n, float a) {
    const v128_t va = wasm_f32x4_splat(a);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_mul(wasm_v128_load(x + i), va));
    for (; i < n; i++) x[i] *= a;
}

void sp_softmax_backward_f32_wasmsimd(float *p, const float *dp, int32_t n, float scale) {
    v128_t l = wasm_f32x4_splat(0.0f);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) MA(l, wasm_v128_load(p + i), wasm_v128_load(dp + i));
    l = wasm_f32x4_add(l, wasm_i32x4_shuffle(l, l, 2, 3, 0, 1));
    float s = wasm_f32x4_extract_lane(wasm_f32x4_add(l, wasm_i32x4_shuffle(l, l, 1, 0, 3, 2)), 0);
    for (; i < n; i++) s += p[i] * dp[i];
    const v128_t vs = wasm_f32x4_splat(s), vsc = wasm_f32x4_splat(scale);
    int32_t j = 0;
    for (; j + 4 <= n; j += 4)
        wasm_v128_store(p + j, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(p + j), wasm_f32x4_sub(wasm_v128_load(dp + j), vs)), vsc));
    for (; j < n; j++) p[j] = p[j] * (dp[j] - s) * scale;
}

#endif /* __wasm_simd128__ */
