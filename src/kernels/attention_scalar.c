/* attention_scalar.c - the reference row kernels of attention.h: plain loops that perform
 * exactly the operations of the SIMD variant (4 lane accumulators where it has lanes), so the
 * two tables agree bit for bit. Also the dispatch point sp_attn_kernels_for(). */
#include <float.h>
#include <math.h>
#include <string.h>
#include "attention.h"

static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Cephes expf: x = n*ln2 + r, |r| <= ln2/2, exp(r) by a degree-7 polynomial, times 2^n. */
float sp_attn_expf(float x) {
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
    return y * bits_f32((tb - 0x4B400000u + 127u) << 23);
}

/* the dot product of attention.h: 4 lanes over d in steps of 4, (l0+l2)+(l1+l3), then the tail */
static inline float dot4(const float *a, const float *b, int32_t n) {
    float l0 = 0.0f, l1 = 0.0f, l2 = 0.0f, l3 = 0.0f;
    int32_t d = 0;
    for (; d + 4 <= n; d += 4) {
        l0 += a[d] * b[d];
        l1 += a[d + 1] * b[d + 1];
        l2 += a[d + 2] * b[d + 2];
        l3 += a[d + 3] * b[d + 3];
    }
    float s = (l0 + l2) + (l1 + l3);
    for (; d < n; d++) s += a[d] * b[d];
    return s;
}

static void qk_scalar(float *dd, int64_t ldd, const float *y, int64_t ldy, int32_t ny, const float *x, int64_t ldx, int32_t nx,
                      int32_t hd, float scale) {
    for (int32_t i = 0; i < ny; i++)
        for (int32_t j = 0; j < nx; j++) dd[i * ldd + j] = dot4(y + i * ldy, x + j * ldx, hd) * scale;
}

static void av_scalar(float *o, int64_t ldo, const float *a, int64_t lda, int32_t no, const float *x, int64_t ldx, int32_t nx,
                      int32_t hd) {
    for (int32_t i = 0; i < no; i++)
        for (int32_t d = 0; d < hd; d++) {
            float acc = o[i * ldo + d];
            for (int32_t j = 0; j < nx; j++) acc += a[i * lda + j] * x[j * ldx + d];
            o[i * ldo + d] = acc;
        }
}

static void atv_scalar(float *z, int64_t ldz, const float *a, int64_t lda, int32_t nz, const float *y, int64_t ldy, int32_t ny,
                       int32_t hd) {
    for (int32_t j = 0; j < nz; j++)
        for (int32_t d = 0; d < hd; d++) {
            float acc = z[j * ldz + d];
            for (int32_t i = 0; i < ny; i++) acc += a[i * lda + j] * y[i * ldy + d];
            z[j * ldz + d] = acc;
        }
}

/* wasm f32x4.pmax: a < b ? b : a */
static inline float pmax(float a, float b) { return a < b ? b : a; }

static float max_scalar(const float *x, int32_t n) {
    float l[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int32_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) l[k] = pmax(l[k], x[i + k]);
    float m = pmax(pmax(l[0], l[2]), pmax(l[1], l[3]));
    for (; i < n; i++) m = pmax(m, x[i]);
    return m;
}

#define SP_EXP_BLOCK 256

static double exp_sum_scalar(float *x, int32_t n, float mx) {
    double total = 0.0;
    for (int32_t b0 = 0; b0 < n; b0 += SP_EXP_BLOCK) {
        const int32_t b1 = n - b0 < SP_EXP_BLOCK ? n : b0 + SP_EXP_BLOCK;
        float l[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        int32_t i = b0;
        for (; i + 4 <= b1; i += 4)
            for (int k = 0; k < 4; k++) {
                x[i + k] = sp_attn_expf(x[i + k] - mx);
                l[k] += x[i + k];
            }
        float s = (l[0] + l[2]) + (l[1] + l[3]);
        for (; i < b1; i++) {
            x[i] = sp_attn_expf(x[i] - mx);
            s += x[i];
        }
        total += (double)s;
    }
    return total;
}

static void scale_scalar(float *x, int32_t n, float a) {
    for (int32_t i = 0; i < n; i++) x[i] *= a;
}

static void softmax_backward_scalar(float *p, const float *dp, int32_t n, float scale) {
    const float s = dot4(p, dp, n);
    for (int32_t j = 0; j < n; j++) p[j] = p[j] * (dp[j] - s) * scale;
}

/* silu(g) = g / (1 + exp(-g)), with -inf held at -FLT_MAX so that silu(-inf) = -0 */
static inline float silu1(float g) {
    const float gn = g < -FLT_MAX ? -FLT_MAX : g;
    return gn / (1.0f + sp_attn_expf(-g));
}

static void swiglu_scalar(float *h, const float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) h[i] = silu1(g[i]) * u[i];
}

static void swiglu_backward_scalar(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        const float sg = 1.0f / (1.0f + sp_attn_expf(-g[i]));
        const float gi = g[i], dhi = dh[i], ui = u[i];
        du[i] = dhi * (gi * sg);
        dg[i] = (dhi * ui) * (sg * (1.0f + gi * (1.0f - sg)));
    }
}

/* sum of a[j] * b[j] (b NULL: a[j]^2) in double, 4 lanes over j % 4, (l0+l2)+(l1+l3), then the tail */
static double dot4d(const float *a, const float *b, const float *c, int32_t n) {
    double l[4] = {0.0, 0.0, 0.0, 0.0};
    int32_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (int32_t e = 0; e < 4; e++) l[e] += c ? (double)a[j + e] * b[j + e] * c[j + e] : (double)a[j + e] * a[j + e];
    double s = (l[0] + l[2]) + (l[1] + l[3]);
    for (; j < n; j++) s += c ? (double)a[j] * b[j] * c[j] : (double)a[j] * a[j];
    return s;
}

static void rmsnorm_scalar(float *out, float *rstd, const float *x, const float *w, int32_t n, int32_t dim, float eps) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim;
        float *oi = out + (size_t)i * dim;
        const float r = (float)(1.0 / sqrt(dot4d(xi, NULL, NULL, dim) / (dim > 0 ? dim : 1) + (double)eps));
        for (int32_t j = 0; j < dim; j++) oi[j] = xi[j] * r * w[j];
        if (rstd) rstd[i] = r;
    }
}

static void rmsnorm_backward_scalar(float *dx, const float *dout, const float *x, const float *w, const float *rstd,
                                    int32_t n, int32_t dim) {
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * dim, *gi = dout + (size_t)i * dim;
        float *dxi = dx + (size_t)i * dim;
        const float r = rstd[i];
        const float c = (float)(dot4d(gi, w, xi, dim) * r * r * r / (dim > 0 ? dim : 1));
        for (int32_t j = 0; j < dim; j++) dxi[j] += r * w[j] * gi[j] - xi[j] * c;
    }
}

static void rope_scalar(float *x, const float *tab, int32_t n, int32_t n_heads, int32_t hd, int32_t adjacent, float sign) {
    const int32_t half = hd / 2;
    for (int32_t r = 0; r < n; r++) {
        const float *cs = tab + (size_t)r * half * 2;
        for (int32_t h = 0; h < n_heads; h++) sp_rope_pairs(x + ((size_t)r * n_heads + h) * hd, cs, 0, half, adjacent, sign);
    }
}

const sp_attn_kernels sp_attn_kernels_scalar = {
    .isa = "scalar",
    .qk = qk_scalar,
    .av = av_scalar,
    .atv = atv_scalar,
    .max = max_scalar,
    .exp_sum = exp_sum_scalar,
    .scale = scale_scalar,
    .softmax_backward = softmax_backward_scalar,
    .swiglu = swiglu_scalar,
    .swiglu_backward = swiglu_backward_scalar,
    .rmsnorm = rmsnorm_scalar,
    .rmsnorm_backward = rmsnorm_backward_scalar,
    .rope = rope_scalar,
};

const sp_attn_kernels *sp_attn_kernels_for(const sp_kernels *k) {
#ifdef __wasm_simd128__
    if (k && strcmp(k->isa, "wasmsimd") == 0) return &sp_attn_kernels_wasmsimd;
#endif
    (void)k;
    return &sp_attn_kernels_scalar;
}
