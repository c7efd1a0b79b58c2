/* attention.h - the row kernels (attention, softmax, SwiGLU, RMSNorm, RoPE), one dispatch point.
 *
 * Like kernels.h: a scalar reference (attention_scalar.c) and a wasm SIMD128 variant
 * (attention_wasmsimd.c) with the same signatures, chosen by sp_attn_kernels_for(). The model
 * (forward.c / backward.c) builds attention out of three small products over one head:
 *
 *   qk   D = scale · Y·Xᵀ       scores (Y = q rows, X = key rows) and dP (Y = dO, X = value rows)
 *   av   O += A·X              output (A = probabilities, X = value rows) and dQ (A = dS, X = keys)
 *   atv  Z += Aᵀ·Y             dV (A = probabilities, Y = dO) and dK (A = dS, Y = q rows)
 *
 * with head_dim-long rows at any stride, and the softmax / SwiGLU / RMSNorm / RoPE row operations
 * on top.
 *
 * Numerics: no FMA (mul then add). Every output element has one fixed formula whatever the tile
 * it falls in and whatever the other arguments' sizes, so splitting rows or heads over threads
 * never changes a bit:
 *   qk  : 4 lane sums over d in steps of 4 ((l0+l2)+(l1+l3)), then the d % 4 tail in order, times scale;
 *   av  : o + a_0·x_0 + a_1·x_1 + ... in j order, per element;
 *   atv : z + a_0·y_0 + a_1·y_1 + ... in i order, per element;
 *   exp : one polynomial (Cephes expf, |rel err| < 2e-7), results below 1.6e-38 flushed to 0 and
 *         arguments above 88 give +inf; sums over 4 lanes in a fixed order;
 *   rmsnorm : sums of squares (and the backward's dot) in double, 4 lanes over j % 4 then
 *         (l0+l2)+(l1+l3), then the tail in order (products of two floats are exact in double).
 * The scalar and SIMD tables compute exactly the same operations, so they agree bit for bit. */
#ifndef SP_ATTENTION_H
#define SP_ATTENTION_H

#include "kernels.h"

typedef struct {
    const char *isa; /* "scalar" or "wasmsimd" */
    /* d[i*ldd + j] = scale * dot(y_i, x_j), y_i = y + i*ldy, x_j = x + j*ldx (hd floats each);
     * i < ny, j < nx. Overwrites d. */
    void (*qk)(float *d, int64_t ldd, const float *y, int64_t ldy, int32_t ny, const float *x, int64_t ldx, int32_t nx,
               int32_t hd, float scale);
    /* o_i += sum_j a[i*lda + j] * x_j for i < no, j < nx (o_i = o + i*ldo, x_j = x + j*ldx; hd floats). */
    void (*av)(float *o, int64_t ldo, const float *a, int64_t lda, int32_t no, const float *x, int64_t ldx, int32_t nx,
               int32_t hd);
    /* z_j += sum_i a[i*lda + j] * y_i for j < nz, i < ny (z_j = z + j*ldz, y_i = y + i*ldy; hd floats). */
    void (*atv)(float *z, int64_t ldz, const float *a, int64_t lda, int32_t nz, const float *y, int64_t ldy, int32_t ny,
                int32_t hd);
    /* max of x[0..n) (n >= 1). NaN inputs may be skipped (exp_sum then still gives NaN for them) */
    float (*max)(const float *x, int32_t n);
    /* x[0..n) = exp(x - mx); returns the sum of the new values (f32 lanes added into a double
     * every 256 values, so long rows such as a vocabulary stay accurate). */
    double (*exp_sum)(float *x, int32_t n, float mx);
    /* x[0..n) *= a */
    void (*scale)(float *x, int32_t n, float a);
    /* softmax backward in place: p[j] = p[j] * (dp[j] - sum_k p[k]*dp[k]) * scale, j < n */
    void (*softmax_backward)(float *p, const float *dp, int32_t n, float scale);
    /* h = silu(g) * u, silu(x) = x / (1 + exp(-x)) (silu(-inf) = -0) */
    void (*swiglu)(float *h, const float *g, const float *u, int32_t n);
    /* inverse of the above: dg = dh * u * silu'(g), du = dh * silu(g) (overwrite) */
    void (*swiglu_backward)(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n);
    /* RMSNorm of n rows (n, dim): out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) (f32 of the
     * double); rstd (n) may be NULL; out may be x. */
    void (*rmsnorm)(float *out, float *rstd, const float *x, const float *w, int32_t n, int32_t dim, float eps);
    /* its backward with w frozen, accumulating: dx += rstd * w * dout - x * rstd^3 / dim * sum(dout * w * x) */
    void (*rmsnorm_backward)(float *dx, const float *dout, const float *x, const float *w, const float *rstd, int32_t n,
                             int32_t dim);
    /* RoPE in place on n rows of n_heads heads of hd floats (row stride n_heads * hd): row r, pair i
     * rotated by tab[(r * hd/2 + i) * 2 + {0, 1}] = cos, sin (sin times sign: -1 rotates back).
     * The pairs are (2i, 2i+1) when adjacent, else (i, i + hd/2):
     *   a' = a * cos - b * sin ; b' = a * sin + b * cos */
    void (*rope)(float *x, const float *tab, int32_t n, int32_t n_heads, int32_t hd, int32_t adjacent, float sign);
} sp_attn_kernels;

/* The table that goes with a matmul table (same isa); never NULL for a table of kernels.h. */
const sp_attn_kernels *sp_attn_kernels_for(const sp_kernels *k);

extern const sp_attn_kernels sp_attn_kernels_scalar;
#ifdef __wasm_simd128__
extern const sp_attn_kernels sp_attn_kernels_wasmsimd;
#endif

/* RoPE on the pairs i0 .. hd/2-1 of one head v (cs: its row of the table): the scalar formula of
 * the rope kernel, shared by the reference and the SIMD variant's leftover pairs. */
static inline void sp_rope_pairs(float *v, const float *cs, int32_t i0, int32_t half, int32_t adjacent, float sign) {
    for (int32_t i = i0; i < half; i++) {
        const float fc = cs[2 * i], fs = cs[2 * i + 1] * sign;
        const int32_t p = adjacent ? 2 * i : i, q = adjacent ? 2 * i + 1 : i + half;
        const float a = v[p], b = v[q];
        v[p] = a * fc - b * fs;
        v[q] = a * fs + b * fc;
    }
}

/* exp(x) with the table's polynomial (scalar; identical to every lane of the SIMD version). */
float sp_attn_expf(float x);

#endif
