/* rmsnorm_wasmsimd.c - RMSNorm and its backward, wasm SIMD128: the double sums in two f64x2
 * (lanes 0-1 and 2-3), bit for bit rmsnorm_scalar.c. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* ---- RMSNorm: the double lane sums of rmsnorm_scalar.c's dot4d, lanes (0, 1) and (2, 3) ---- */

static inline v128_t promote_hi(v128_t v) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3)); }

/* sum of x[j]^2 */
static double sumsq_d(const float *x, int32_t n) {
    v128_t lo = wasm_f64x2_splat(0.0), hi = lo;
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const v128_t v = wasm_v128_load(x + j), a = wasm_f64x2_promote_low_f32x4(v), b = promote_hi(v);
        lo = wasm_f64x2_add(lo, wasm_f64x2_mul(a, a));
        hi = wasm_f64x2_add(hi, wasm_f64x2_mul(b, b));
    }
    const v128_t s2 = wasm_f64x2_add(lo, hi); /* (l0 + l2, l1 + l3) */
    double s = wasm_f64x2_extract_lane(s2, 0) + wasm_f64x2_extract_lane(s2, 1);
    for (; j < n; j++) s += (double)x[j] * x[j];
    return s;
}

/* sum of (a[j] * b[j]) * c[j] */
static double dot3_d(const float *a, const float *b, const float *c, int32_t n) {
    v128_t lo = wasm_f64x2_splat(0.0), hi = lo;
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const v128_t va = wasm_v128_load(a + j), vb = wasm_v128_load(b + j), vc = wasm_v128_load(c + j);
        lo = wasm_f64x2_add(lo, wasm_f64x2_mul(wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(va), wasm_f64x2_promote_low_f32x4(vb)),
                                               wasm_f64x2_promote_low_f32x4(vc)));
        hi = wasm_f64x2_add(hi, wasm_f64x2_mul(wasm_f64x2_mul(promote_hi(va), promote_hi(vb)), promote_hi(vc)));
    }
    const v128_t s2 = wasm_f64x2_add(lo, hi);
    double s = wasm_f64x2_extract_lane(s2, 0) + wasm_f64x2_extract_lane(s2, 1);
    for (; j < n; j++) s += (double)a[j] * b[j] * c[j];
    return s;
}

NOINLINE void sp_rmsnorm_f32_wasmsimd(float *out, float *rstd, const float *x, const float *w, int32_t n, int32_t dim, float eps) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim;
        float *oi = out + (size_t)i * dim;
        const float r = (float)(1.0 / sqrt(sumsq_d(xi, dim) / (dim > 0 ? dim : 1) + (double)eps));
        const v128_t vr = wasm_f32x4_splat(r);
        int32_t j = 0;
        for (; j + 4 <= dim; j += 4)
            wasm_v128_store(oi + j, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(xi + j), vr), wasm_v128_load(w + j)));
        for (; j < dim; j++) oi[j] = xi[j] * r * w[j];
        if (rstd) rstd[i] = r;
    }
}

NOINLINE void sp_rmsnorm_backward_f32_wasmsimd(float *dx, const float *dout, const float *x, const float *w, const float *rstd,
                                               int32_t n, int32_t dim) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim, *gi = dout + (size_t)i * dim;
        float *dxi = dx + (size_t)i * dim;
        const float r = rstd[i];
        const float c = (float)(dot3_d(gi, w, xi, dim) * r * r * r / (dim > 0 ? dim : 1));
        const v128_t vr = wasm_f32x4_splat(r), vc = wasm_f32x4_splat(c);
        int32_t j = 0;
        for (; j + 4 <= dim; j += 4) {
            const v128_t t = wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_mul(vr, wasm_v128_load(w + j)), wasm_v128_load(gi + j)),
                                            wasm_f32x4_mul(wasm_v128_load(xi + j), vc));
            wasm_v128_store(dxi + j, wasm_f32x4_add(wasm_v128_load(dxi + j), t));
        }
        for (; j < dim; j++) dxi[j] += r * w[j] * gi[j] - xi[j] * c;
    }
}

#endif /* __wasm_simd128__ */
