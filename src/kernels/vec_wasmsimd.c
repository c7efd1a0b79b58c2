/* vec_wasmsimd.c - dot products and axpy over f32 vectors, wasm SIMD128. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

float sp_dot_f32_wasmsimd(const float *a, const float *b, int32_t n) {
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0;
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        MA(acc0, wasm_v128_load(a + i), wasm_v128_load(b + i));
        MA(acc1, wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4));
    }
    acc0 = wasm_f32x4_add(acc0, acc1);
    for (; i + 4 <= n; i += 4) MA(acc0, wasm_v128_load(a + i), wasm_v128_load(b + i));
    float s = hsum4(acc0);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void sp_axpy_f32_wasmsimd(float *out, float a, const float *x, int32_t n) {
    const v128_t va = wasm_f32x4_splat(a);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(out + i), wasm_f32x4_mul(va, wasm_v128_load(x + i))));
    for (; i < n; i++) out[i] += a * x[i];
}

#endif /* __wasm_simd128__ */
