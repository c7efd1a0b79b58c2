/* swiglu_wasmsimd.c - the gated activations (SwiGLU, GELU) and their backward, wasm SIMD128 (bit for
 * bit swiglu_scalar.c). */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

NOINLINE void sp_swiglu_f32_wasmsimd(float *h, const float *g, const float *u, int32_t n) {
    const exp_consts c = exp_consts_make();
    const v128_t lowest = wasm_f32x4_splat(-FLT_MAX);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const v128_t gv = wasm_v128_load(g + i);
        const v128_t e = exp4(wasm_f32x4_neg(gv), &c);
        const v128_t s = wasm_f32x4_div(wasm_f32x4_max(gv, lowest), wasm_f32x4_add(c.one, e));
        wasm_v128_store(h + i, wasm_f32x4_mul(s, wasm_v128_load(u + i)));
    }
    for (; i < n; i++) {
        const float gn = g[i] < -FLT_MAX ? -FLT_MAX : g[i];
        h[i] = gn / (1.0f + sp_expf(-g[i])) * u[i];
    }
}

NOINLINE void sp_swiglu_backward_f32_wasmsimd(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n) {
    const exp_consts c = exp_consts_make();
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const v128_t gv = wasm_v128_load(g + i), dhv = wasm_v128_load(dh + i), uv = wasm_v128_load(u + i);
        const v128_t sg = wasm_f32x4_div(c.one, wasm_f32x4_add(c.one, exp4(wasm_f32x4_neg(gv), &c)));
        wasm_v128_store(du + i, wasm_f32x4_mul(dhv, wasm_f32x4_mul(gv, sg)));
        const v128_t ds = wasm_f32x4_mul(sg, wasm_f32x4_add(c.one, wasm_f32x4_mul(gv, wasm_f32x4_sub(c.one, sg))));
        wasm_v128_store(dg + i, wasm_f32x4_mul(wasm_f32x4_mul(dhv, uv), ds));
    }
    for (; i < n; i++) {
        const float sg = 1.0f / (1.0f + sp_expf(-g[i]));
        const float gi = g[i], dhi = dh[i], ui = u[i];
        du[i] = dhi * (gi * sg);
        dg[i] = (dhi * ui) * (sg * (1.0f + gi * (1.0f - sg)));
    }
}

/* gelu(x) = x / (1 + exp(-z)), z = 2k x (1 + c x^2): swiglu_scalar.c's formula, lane by lane */
static inline v128_t gelu_exp4(v128_t x, v128_t x2, const exp_consts *c, v128_t k2, v128_t gc) {
    return exp4(wasm_f32x4_neg(wasm_f32x4_mul(k2, wasm_f32x4_mul(x, wasm_f32x4_add(c->one, wasm_f32x4_mul(gc, x2))))), c);
}

NOINLINE void sp_geglu_f32_wasmsimd(float *h, const float *g, const float *u, int32_t n) {
    const exp_consts c = exp_consts_make();
    const v128_t lowest = wasm_f32x4_splat(-FLT_MAX), k2 = wasm_f32x4_splat(SP_GELU_2K), gc = wasm_f32x4_splat(SP_GELU_C);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const v128_t x = wasm_v128_load(g + i);
        const v128_t e = gelu_exp4(x, wasm_f32x4_mul(x, x), &c, k2, gc);
        const v128_t gl = wasm_f32x4_div(wasm_f32x4_max(x, lowest), wasm_f32x4_add(c.one, e));
        wasm_v128_store(h + i, u ? wasm_f32x4_mul(gl, wasm_v128_load(u + i)) : gl);
    }
    if (i < n) sp_geglu_f32_scalar(h + i, g + i, u ? u + i : NULL, n - i);
}

NOINLINE void sp_geglu_backward_f32_wasmsimd(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n) {
    const exp_consts c = exp_consts_make();
    const v128_t lowest = wasm_f32x4_splat(-FLT_MAX), k2 = wasm_f32x4_splat(SP_GELU_2K), gc = wasm_f32x4_splat(SP_GELU_C);
    const v128_t gc3 = wasm_f32x4_splat(3.0f * SP_GELU_C);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const v128_t x = wasm_v128_load(g + i), x2 = wasm_f32x4_mul(x, x), dhv = wasm_v128_load(dh + i);
        const v128_t e = gelu_exp4(x, x2, &c, k2, gc), e1 = wasm_f32x4_add(c.one, e), s = wasm_f32x4_div(c.one, e1);
        const v128_t gd = wasm_f32x4_add(s, wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_mul(x, s), wasm_f32x4_sub(c.one, s)),
                                                           wasm_f32x4_mul(k2, wasm_f32x4_add(c.one, wasm_f32x4_mul(gc3, x2)))));
        if (!u) {
            wasm_v128_store(dg + i, wasm_f32x4_mul(dhv, gd));
            continue;
        }
        const v128_t uv = wasm_v128_load(u + i);
        wasm_v128_store(du + i, wasm_f32x4_mul(dhv, wasm_f32x4_div(wasm_f32x4_max(x, lowest), e1)));
        wasm_v128_store(dg + i, wasm_f32x4_mul(wasm_f32x4_mul(dhv, uv), gd));
    }
    if (i < n) sp_geglu_backward_f32_scalar(dg + i, du ? du + i : NULL, dh + i, g + i, u ? u + i : NULL, n - i);
}

#endif /* __wasm_simd128__ */
