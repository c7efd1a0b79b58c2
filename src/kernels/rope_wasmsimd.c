/* rope_wasmsimd.c - RoPE in place, wasm SIMD128: 2 adjacent or 4 split pairs a step, bit for
 * bit rope_scalar.c. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* ---- RoPE: adjacent pairs as (a0 b0 a1 b1) against (c0 c0 c1 c1), (s0 s0 s1 s1); halves 4 pairs at once ---- */

NOINLINE void sp_rope_f32_wasmsimd(float *x, const float *tab, int32_t n, int32_t n_heads, int32_t hd, int32_t adjacent,
                                   float sign) {
    const int32_t half = hd / 2;
    const v128_t sg = wasm_f32x4_splat(sign), alt = wasm_f32x4_make(-1.0f, 1.0f, -1.0f, 1.0f);
    for (int32_t r = 0; r < n; r++) {
        const float *cs = tab + (size_t)r * half * 2;
        for (int32_t h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)r * n_heads + h) * hd;
            int32_t i = 0;
            if (adjacent) {
                for (; i + 2 <= half; i += 2) { /* a' = a c + (-(b s)) ; b' = b c + a s */
                    const v128_t V = wasm_v128_load(v + 2 * i), CS = wasm_v128_load(cs + 2 * i);
                    const v128_t C = wasm_i32x4_shuffle(CS, CS, 0, 0, 2, 2), S = wasm_f32x4_mul(wasm_i32x4_shuffle(CS, CS, 1, 1, 3, 3), sg);
                    const v128_t Q = wasm_f32x4_mul(wasm_i32x4_shuffle(V, V, 1, 0, 3, 2), S);
                    wasm_v128_store(v + 2 * i, wasm_f32x4_add(wasm_f32x4_mul(V, C), wasm_f32x4_mul(Q, alt)));
                }
            } else {
                for (; i + 4 <= half; i += 4) {
                    const v128_t c0 = wasm_v128_load(cs + 2 * i), c1 = wasm_v128_load(cs + 2 * i + 4);
                    const v128_t C = wasm_i32x4_shuffle(c0, c1, 0, 2, 4, 6), S = wasm_f32x4_mul(wasm_i32x4_shuffle(c0, c1, 1, 3, 5, 7), sg);
                    const v128_t A = wasm_v128_load(v + i), B = wasm_v128_load(v + i + half);
                    wasm_v128_store(v + i, wasm_f32x4_sub(wasm_f32x4_mul(A, C), wasm_f32x4_mul(B, S)));
                    wasm_v128_store(v + i + half, wasm_f32x4_add(wasm_f32x4_mul(A, S), wasm_f32x4_mul(B, C)));
                }
            }
            sp_rope_pairs(v, cs, i, half, adjacent, sign);
        }
    }
}

#endif /* __wasm_simd128__ */
