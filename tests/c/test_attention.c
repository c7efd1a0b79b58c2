/* test_attention.c - the row kernels of the kernel tables (kernels.h: attention, softmax, SwiGLU,
 * RMSNorm, RoPE) and the threaded model passes.
 *
 *  - exp: against libm in double (relative error < 2.5e-7 over [-87, 88]), and its special values;
 *  - qk / av / atv / max / exp_sum / scale / softmax_backward / swiglu(_backward) / rmsnorm(_backward)
 *    / rope of every table against naive double loops (tolerance max(abs, rel*|ref|)) or, for the
 *    RMSNorm backward, central differences; on shapes that are one tile, smaller, larger, with odd
 *    head sizes and strides; the SIMD table equal to the scalar one bit for bit; a row computed
 *    alone equal to the same row inside a batch;
 *  - the forward, the LM head loss and the backward of a random GQA model (F32, Q8_0, Q4_K, Q6_K; prompt rows and a
 *    past prefix, B = 3) giving bitwise the same activations, loss and gradients with 1 and 3
 *    threads (native builds with threads; the wasm test build is single-threaded);
 *  - generation's chunked prefill (a long prompt on a small model) and the token decoded after it
 *    giving bitwise the logits of one forward over the whole sequence. */
#include "check.h"
#include "api/softprompt.h"
#include "kernels/kernels.h"
#include "model/transformer.h"
#include "next_token.h"

#include <stdlib.h>
#include <string.h>

static void fill(float *x, size_t n, sp_rng *r, float s) {
    for (size_t i = 0; i < n; i++) x[i] = (sp_rng_f32(r) * 2.0f - 1.0f) * s;
}

static int close_to(double got, double want, double abs_tol, double rel_tol) {
    return fabs(got - want) <= abs_tol + rel_tol * fabs(want);
}

static void test_exp(void) {
    double worst = 0.0;
    for (int32_t i = 0; i <= 200000; i++) {
        const float x = -87.0f + 175.0f * (float)i / 200000.0f;
        const double want = exp((double)x), got = sp_expf(x);
        const double rel = fabs(got - want) / want;
        if (rel > worst) worst = rel;
    }
    CHECK_MSG(worst < 2.5e-7, "exp relative error %g", worst);
    CHECK(sp_expf(0.0f) == 1.0f);
    CHECK(sp_expf(-INFINITY) == 0.0f);
    CHECK(isinf(sp_expf(INFINITY)) && sp_expf(INFINITY) > 0);
    CHECK(isnan(sp_expf(NAN)));
    CHECK(sp_expf(-100.0f) == 0.0f);
    CHECK(isinf(sp_expf(89.0f)));
}

static const int32_t HDS[] = {1, 3, 4, 7, 8, 12, 16, 48, 64, 66};

/* one table against naive loops; SIMD results saved for the bitwise comparison */
static void test_products(const sp_kernels *k, const sp_kernels *ref) {
    sp_rng rng;
    sp_rng_seed(&rng, 11);
    for (size_t hi = 0; hi < sizeof(HDS) / sizeof(HDS[0]); hi++) {
        const int32_t hd = HDS[hi];
        for (int32_t ny = 1; ny <= 9; ny += 2)
            for (int32_t nx = 0; nx <= 19; nx += nx < 3 ? 1 : 8) {
                const int64_t ldy = hd + 5, ldx = hd + 3, ldd = nx + 2, lda = nx + 4;
                float *y = malloc(sizeof(float) * (size_t)(ny * ldy + 1)), *x = malloc(sizeof(float) * (size_t)(nx * ldx + 1));
                float *d = malloc(sizeof(float) * (size_t)(ny * ldd + 1)), *d2 = malloc(sizeof(float) * (size_t)(ny * ldd + 1));
                float *a = malloc(sizeof(float) * (size_t)(ny * lda + 1));
                float *o = malloc(sizeof(float) * (size_t)(ny * ldy + 1)), *o2 = malloc(sizeof(float) * (size_t)(ny * ldy + 1));
                float *z = malloc(sizeof(float) * (size_t)(nx * ldx + 1)), *z2 = malloc(sizeof(float) * (size_t)(nx * ldx + 1));
                fill(y, (size_t)(ny * ldy + 1), &rng, 1.0f);
                fill(x, (size_t)(nx * ldx + 1), &rng, 1.0f);
                fill(a, (size_t)(ny * lda + 1), &rng, 1.0f);
                fill(o, (size_t)(ny * ldy + 1), &rng, 1.0f);
                fill(z, (size_t)(nx * ldx + 1), &rng, 1.0f);
                memcpy(o2, o, sizeof(float) * (size_t)(ny * ldy + 1));
                memcpy(z2, z, sizeof(float) * (size_t)(nx * ldx + 1));
                /* qk */
                memset(d, 0, sizeof(float) * (size_t)(ny * ldd + 1));
                k->qk(d, ldd, y, ldy, ny, x, ldx, nx, hd, 0.125f);
                for (int32_t i = 0; i < ny; i++)
                    for (int32_t j = 0; j < nx; j++) {
                        double s = 0.0;
                        for (int32_t e = 0; e < hd; e++) s += (double)y[i * ldy + e] * x[j * ldx + e];
                        CHECK_MSG(close_to(d[i * ldd + j], 0.125 * s, 1e-6, 1e-5), "%s qk hd %d ny %d nx %d", k->isa, hd, ny, nx);
                    }
                /* a row alone = the row in the batch */
                for (int32_t i = 0; i < ny; i++) {
                    k->qk(d2, ldd, y + i * ldy, ldy, 1, x, ldx, nx, hd, 0.125f);
                    CHECK(nx == 0 || memcmp(d2, d + i * ldd, sizeof(float) * (size_t)nx) == 0);
                }
                if (ref != k) {
                    ref->qk(d2, ldd, y, ldy, ny, x, ldx, nx, hd, 0.125f);
                    for (int32_t i = 0; i < ny; i++) CHECK(nx == 0 || memcmp(d2 + i * ldd, d + i * ldd, sizeof(float) * (size_t)nx) == 0);
                }
                /* av: o_i += sum_j a_ij x_j */
                k->av(o, ldy, a, lda, ny, x, ldx, nx, hd);
                for (int32_t i = 0; i < ny; i++)
                    for (int32_t e = 0; e < hd; e++) {
                        double s = o2[i * ldy + e];
                        for (int32_t j = 0; j < nx; j++) s += (double)a[i * lda + j] * x[j * ldx + e];
                        CHECK_MSG(close_to(o[i * ldy + e], s, 1e-5, 1e-5), "%s av hd %d ny %d nx %d", k->isa, hd, ny, nx);
                    }
                CHECK(o[ny * ldy] == o2[ny * ldy]); /* nothing past the last row */
                if (ref != k) {
                    ref->av(o2, ldy, a, lda, ny, x, ldx, nx, hd);
                    CHECK(memcmp(o, o2, sizeof(float) * (size_t)(ny * ldy + 1)) == 0);
                } else {
                    /* row by row = all rows at once */
                    fill(o, (size_t)(ny * ldy + 1), &rng, 1.0f);
                    memcpy(o2, o, sizeof(float) * (size_t)(ny * ldy + 1));
                    k->av(o, ldy, a, lda, ny, x, ldx, nx, hd);
                    for (int32_t i = 0; i < ny; i++) k->av(o2 + i * ldy, ldy, a + i * lda, lda, 1, x, ldx, nx, hd);
                    CHECK(memcmp(o, o2, sizeof(float) * (size_t)(ny * ldy + 1)) == 0);
                }
                /* atv: z_j += sum_i a_ij y_i (nz = nx keys, ny rows) */
                memcpy(z2, z, sizeof(float) * (size_t)(nx * ldx + 1));
                k->atv(z, ldx, a, lda, nx, y, ldy, ny, hd);
                for (int32_t j = 0; j < nx; j++)
                    for (int32_t e = 0; e < hd; e++) {
                        double s = z2[j * ldx + e];
                        for (int32_t i = 0; i < ny; i++) s += (double)a[i * lda + j] * y[i * ldy + e];
                        CHECK_MSG(close_to(z[j * ldx + e], s, 1e-5, 1e-5), "%s atv hd %d ny %d nx %d", k->isa, hd, ny, nx);
                    }
                if (ref != k) {
                    ref->atv(z2, ldx, a, lda, nx, y, ldy, ny, hd);
                    CHECK(memcmp(z, z2, sizeof(float) * (size_t)(nx * ldx + 1)) == 0);
                }
                free(y); free(x); free(d); free(d2); free(a); free(o); free(o2); free(z); free(z2);
            }
    }
}

static void test_rows(const sp_kernels *k, const sp_kernels *ref) {
    sp_rng rng;
    sp_rng_seed(&rng, 5);
    const int32_t NS[] = {1, 3, 4, 5, 17, 255, 256, 257, 1000, 32003};
    for (size_t ni = 0; ni < sizeof(NS) / sizeof(NS[0]); ni++) {
        const int32_t n = NS[ni];
        float *x = malloc(sizeof(float) * (size_t)n), *x2 = malloc(sizeof(float) * (size_t)n), *x0 = malloc(sizeof(float) * (size_t)n);
        float *g = malloc(sizeof(float) * (size_t)n), *u = malloc(sizeof(float) * (size_t)n), *h = malloc(sizeof(float) * (size_t)n);
        float *h2 = malloc(sizeof(float) * (size_t)n), *dg = malloc(sizeof(float) * (size_t)n), *du = malloc(sizeof(float) * (size_t)n);
        float *dg2 = malloc(sizeof(float) * (size_t)n), *du2 = malloc(sizeof(float) * (size_t)n);
        fill(x0, (size_t)n, &rng, 20.0f);
        fill(g, (size_t)n, &rng, 12.0f);
        fill(u, (size_t)n, &rng, 2.0f);
        /* max */
        double mx = -INFINITY;
        for (int32_t i = 0; i < n; i++) mx = x0[i] > mx ? x0[i] : mx;
        CHECK(k->max(x0, n) == (float)mx);
        /* exp_sum */
        memcpy(x, x0, sizeof(float) * (size_t)n);
        const double sum = k->exp_sum(x, n, (float)mx);
        double want = 0.0;
        for (int32_t i = 0; i < n; i++) {
            const double e = exp((double)(x0[i] - (float)mx)); /* the argument is rounded to f32 first */
            want += e;
            CHECK_MSG(close_to(x[i], e, 1e-37, 3e-7), "%s exp_sum n %d element %d: %g vs %g", k->isa, n, i, x[i], e);
        }
        CHECK_MSG(close_to(sum, want, 0, 1e-6), "%s exp_sum n %d: %.9g vs %.9g", k->isa, n, sum, want);
        if (ref != k) {
            memcpy(x2, x0, sizeof(float) * (size_t)n);
            CHECK(ref->exp_sum(x2, n, (float)mx) == sum);
            CHECK(memcmp(x, x2, sizeof(float) * (size_t)n) == 0);
        }
        /* softmax_backward on the probabilities */
        k->scale(x, n, (float)(1.0 / sum));
        memcpy(x2, x, sizeof(float) * (size_t)n);
        double pdp = 0.0;
        for (int32_t i = 0; i < n; i++) pdp += (double)x2[i] * u[i];
        k->softmax_backward(x, u, n, 0.5f);
        for (int32_t i = 0; i < n; i++) /* u - pdp cancels: the error scales with the terms */
            CHECK(close_to(x[i], x2[i] * (u[i] - pdp) * 0.5, 1e-6 * fabs(x2[i]) * (fabs(u[i]) + fabs(pdp)) + 1e-12, 1e-5));
        if (ref != k) {
            ref->softmax_backward(x2, u, n, 0.5f);
            CHECK(memcmp(x, x2, sizeof(float) * (size_t)n) == 0);
        }
        /* swiglu and its backward */
        k->swiglu(h, g, u, n);
        k->swiglu_backward(dg, du, x0, g, u, n);
        for (int32_t i = 0; i < n; i++) {
            const double gi = g[i], sg = 1.0 / (1.0 + exp(-gi)), silu = gi * sg;
            CHECK_MSG(close_to(h[i], silu * u[i], 1e-7, 1e-6), "%s swiglu %g", k->isa, gi);
            CHECK(close_to(du[i], x0[i] * silu, 1e-6, 1e-6));
            CHECK(close_to(dg[i], x0[i] * u[i] * sg * (1.0 + gi * (1.0 - sg)), 1e-6, 1e-5));
        }
        if (ref != k) {
            ref->swiglu(h2, g, u, n);
            ref->swiglu_backward(dg2, du2, x0, g, u, n);
            CHECK(memcmp(h, h2, sizeof(float) * (size_t)n) == 0);
            CHECK(memcmp(dg, dg2, sizeof(float) * (size_t)n) == 0 && memcmp(du, du2, sizeof(float) * (size_t)n) == 0);
        }
        /* geglu (GELU, tanh form) and its backward, gated and not (x2: the ungated gradient) */
        k->geglu(h, g, u, n);
        k->geglu_backward(dg, du, x0, g, u, n);
        k->geglu(x, g, NULL, n);
        k->geglu_backward(x2, NULL, x0, g, NULL, n);
        for (int32_t i = 0; i < n; i++) {
            const double gi = g[i], c = 0.7978845608028654, t = tanh(c * (gi + 0.044715 * gi * gi * gi));
            const double gelu = 0.5 * gi * (1.0 + t), grad = 0.5 * (1.0 + t) + 0.5 * gi * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * gi * gi);
            CHECK_MSG(close_to(h[i], gelu * u[i], 1e-7, 1e-6), "%s geglu %g", k->isa, gi);
            CHECK_MSG(close_to(x[i], gelu, 1e-7, 1e-6), "%s gelu %g", k->isa, gi);
            CHECK(close_to(du[i], x0[i] * gelu, 1e-6, 1e-6));
            CHECK_MSG(close_to(dg[i], x0[i] * u[i] * grad, 1e-6, 1e-5), "%s geglu_backward %g", k->isa, gi);
            CHECK(close_to(x2[i], x0[i] * grad, 1e-6, 1e-5));
        }
        if (ref != k) {
            ref->geglu(h2, g, u, n);
            ref->geglu_backward(dg2, du2, x0, g, u, n);
            CHECK(memcmp(h, h2, sizeof(float) * (size_t)n) == 0);
            CHECK(memcmp(dg, dg2, sizeof(float) * (size_t)n) == 0 && memcmp(du, du2, sizeof(float) * (size_t)n) == 0);
            ref->geglu(h2, g, NULL, n);
            ref->geglu_backward(dg2, NULL, x0, g, NULL, n);
            CHECK(memcmp(x, h2, sizeof(float) * (size_t)n) == 0 && memcmp(x2, dg2, sizeof(float) * (size_t)n) == 0);
        }
        free(x); free(x2); free(x0); free(g); free(u); free(h); free(h2); free(dg); free(du); free(dg2); free(du2);
    }
    /* special values: a NaN row still sums to NaN, exp of -inf (masked) entries, swiglu at +-inf */
    float v[6] = {1.0f, -INFINITY, 3.0f, NAN, 2.0f, 0.0f};
    CHECK(isnan(k->exp_sum(v, 6, k->max(v, 6))));
    float w[5] = {0.0f, -INFINITY, -1.0f, -INFINITY, -200.0f};
    const double s = k->exp_sum(w, 5, 0.0f);
    CHECK(w[1] == 0.0f && w[3] == 0.0f && w[4] == 0.0f && w[0] == 1.0f);
    CHECK(close_to(s, 1.0 + exp(-1.0), 0, 1e-7));
    float gg[5] = {-INFINITY, INFINITY, -100.0f, 100.0f, NAN}, uu[5] = {1, 1, 1, 1, 1}, hh[5];
    k->swiglu(hh, gg, uu, 5);
    CHECK(hh[0] == 0.0f && signbit(hh[0]));
    CHECK(isinf(hh[1]) && hh[1] > 0);
    CHECK(hh[2] <= 0.0f && hh[2] > -1e-30f);
    CHECK(hh[3] == 100.0f);
    CHECK(isnan(hh[4]));
    k->geglu(hh, gg, uu, 5); /* gelu(-inf) = -0 as silu's; gelu(-100) underflows to -0 */
    CHECK(hh[0] == 0.0f && signbit(hh[0]));
    CHECK(isinf(hh[1]) && hh[1] > 0);
    CHECK(hh[2] == 0.0f);
    CHECK(hh[3] == 100.0f);
    CHECK(isnan(hh[4]));
}

/* ---- RMSNorm and RoPE ---- */

static void rms_ref(double *out, const double *x, const float *w, int32_t dim, double eps) {
    double ss = 0;
    for (int32_t j = 0; j < dim; j++) ss += x[j] * x[j];
    const double r = 1.0 / sqrt(ss / dim + eps);
    for (int32_t j = 0; j < dim; j++) out[j] = x[j] * r * w[j];
}

static void test_norm_rope(const sp_kernels *k, const sp_kernels *ref) {
    sp_rng rng;
    sp_rng_seed(&rng, 17);
    const float eps = 1e-5f;
    const int32_t DIMS[] = {1, 3, 4, 5, 37, 64, 288, 770};
    for (size_t di = 0; di < sizeof(DIMS) / sizeof(DIMS[0]); di++) {
        const int32_t n = 3, dim = DIMS[di];
        const size_t nd = (size_t)n * dim;
        float *x = malloc(sizeof(float) * nd), *w = malloc(sizeof(float) * (size_t)dim), *g = malloc(sizeof(float) * nd);
        float *out = malloc(sizeof(float) * nd), *out2 = malloc(sizeof(float) * nd), *dx = malloc(sizeof(float) * nd);
        float *dx2 = malloc(sizeof(float) * nd), rstd[3], rstd2[3];
        double *xd = malloc(sizeof(double) * (size_t)dim), *od = malloc(sizeof(double) * (size_t)dim);
        fill(x, nd, &rng, 3.0f);
        fill(w, (size_t)dim, &rng, 1.5f);
        fill(g, nd, &rng, 1.0f);
        k->rmsnorm(out, rstd, x, w, n, dim, eps);
        for (int32_t i = 0; i < n; i++) {
            for (int32_t j = 0; j < dim; j++) xd[j] = x[i * dim + j];
            rms_ref(od, xd, w, dim, eps);
            for (int32_t j = 0; j < dim; j++)
                CHECK_MSG(close_to(out[i * dim + j], od[j], 1e-6, 1e-6), "%s rmsnorm dim %d: %g vs %g", k->isa, dim, out[i * dim + j], od[j]);
        }
        memcpy(out2, x, sizeof(float) * nd);
        k->rmsnorm(out2, NULL, out2, w, n, dim, eps); /* in place, no rstd */
        CHECK(memcmp(out, out2, sizeof(float) * nd) == 0);
        for (size_t e = 0; e < nd; e++) dx[e] = 0.5f;
        k->rmsnorm_backward(dx, g, x, w, rstd, n, dim);
        if (ref != k) {
            ref->rmsnorm(out2, rstd2, x, w, n, dim, eps);
            CHECK_MSG(memcmp(out, out2, sizeof(float) * nd) == 0 && memcmp(rstd, rstd2, sizeof(rstd)) == 0, "%s rmsnorm dim %d differs from scalar", k->isa, dim);
            for (size_t e = 0; e < nd; e++) dx2[e] = 0.5f;
            ref->rmsnorm_backward(dx2, g, x, w, rstd, n, dim);
            CHECK_MSG(memcmp(dx, dx2, sizeof(float) * nd) == 0, "%s rmsnorm_backward dim %d differs from scalar", k->isa, dim);
        }
        if (dim <= 64) /* against central differences of L = sum(out * g) in double; dx accumulates */
            for (int32_t i = 0; i < n; i++)
                for (int32_t j = 0; j < dim; j++) {
                    double lp = 0, lm = 0;
                    const double h = 1e-5;
                    for (int32_t sgn = -1; sgn <= 1; sgn += 2) {
                        for (int32_t c = 0; c < dim; c++) xd[c] = x[i * dim + c];
                        xd[j] += sgn * h;
                        rms_ref(od, xd, w, dim, eps);
                        double l = 0;
                        for (int32_t c = 0; c < dim; c++) l += od[c] * g[i * dim + c];
                        if (sgn < 0) lm = l; else lp = l;
                    }
                    const double num = (lp - lm) / (2 * h);
                    CHECK_MSG(close_to(dx[i * dim + j] - 0.5, num, 1e-4, 1e-4), "%s rmsnorm_backward dim %d", k->isa, dim);
                }
        free(x); free(w); free(g); free(out); free(out2); free(dx); free(dx2); free(xd); free(od);
    }
    float z[4] = {0, 0, 0, 0}, zw[4] = {1, 1, 1, 1}, zo[4], zr; /* zero input: finite thanks to eps */
    k->rmsnorm(zo, &zr, z, zw, 1, 4, eps);
    CHECK(zo[0] == 0.0f && isfinite(zr));

    /* RoPE: both pair layouts, head sizes around the SIMD steps, against double rotations */
    const int32_t HD[] = {2, 4, 6, 8, 10, 12, 48, 64, 66};
    for (size_t hi = 0; hi < sizeof(HD) / sizeof(HD[0]); hi++)
        for (int32_t adjacent = 0; adjacent <= 1; adjacent++) {
            const int32_t hd = HD[hi], half = hd / 2, n = 5, heads = 3;
            const size_t nx = (size_t)n * heads * hd;
            float *tab = malloc(sizeof(float) * (size_t)n * hd), *v = malloc(sizeof(float) * nx), *v0 = malloc(sizeof(float) * nx);
            float *v2 = malloc(sizeof(float) * nx);
            for (int32_t e = 0; e < n * half; e++) {
                const double ang = (sp_rng_f32(&rng) * 2.0 - 1.0) * 40.0;
                tab[2 * e] = (float)cos(ang);
                tab[2 * e + 1] = (float)sin(ang);
            }
            fill(v0, nx, &rng, 2.0f);
            for (int32_t sign = -1; sign <= 1; sign += 2) {
                memcpy(v, v0, sizeof(float) * nx);
                k->rope(v, tab, n, heads, hd, adjacent, (float)sign);
                for (int32_t r = 0; r < n; r++)
                    for (int32_t h = 0; h < heads; h++)
                        for (int32_t i = 0; i < half; i++) {
                            const size_t o = ((size_t)r * heads + h) * hd;
                            const int32_t i0 = adjacent ? 2 * i : i, i1 = adjacent ? 2 * i + 1 : i + half;
                            const double c = tab[(r * half + i) * 2], s = sign * (double)tab[(r * half + i) * 2 + 1];
                            const double a = v0[o + i0], b = v0[o + i1];
                            CHECK_MSG(close_to(v[o + i0], a * c - b * s, 1e-6, 1e-6) && close_to(v[o + i1], a * s + b * c, 1e-6, 1e-6),
                                      "%s rope hd %d adjacent %d sign %d", k->isa, hd, adjacent, sign);
                        }
                if (ref != k) {
                    memcpy(v2, v0, sizeof(float) * nx);
                    ref->rope(v2, tab, n, heads, hd, adjacent, (float)sign);
                    CHECK_MSG(memcmp(v, v2, sizeof(float) * nx) == 0, "%s rope hd %d adjacent %d differs from scalar", k->isa, hd, adjacent);
                }
                /* rows one by one = all rows at once */
                memcpy(v2, v0, sizeof(float) * nx);
                for (int32_t r = 0; r < n; r++) k->rope(v2 + (size_t)r * heads * hd, tab + (size_t)r * hd, 1, heads, hd, adjacent, (float)sign);
                CHECK(memcmp(v, v2, sizeof(float) * nx) == 0);
                /* rotating back restores the input */
                k->rope(v, tab, n, heads, hd, adjacent, (float)-sign);
                for (size_t e = 0; e < nx; e++) CHECK(close_to(v[e], v0[e], 1e-6, 1e-6));
            }
            free(tab); free(v); free(v0); free(v2);
        }
}

/* ---- the model passes, 1 thread vs 3 ---- */

typedef struct {
    float *xf, *dx, *dpast;
    double loss;
} pass_out;

static void run_pass(int32_t threads, uint32_t type, int32_t kv_heads, int32_t B, pass_out *o) {
    sp_error err = {0};
    sp_engine *eng = sp_engine_create(threads, &err);
    CHECK(eng != NULL);
    sp_config c = {0};
    const int kq = sp_dtype_get(type)->block == SP_QK_K; /* K-quants: rows of 256 values */
    c.dim = kq ? 256 : 64; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = kv_heads; c.hidden_dim = kq ? 512 : 96; c.vocab_size = 1000;
    c.ctx_len = 128; c.norm_eps = 1e-5f; c.rope_theta = 10000.0f; c.rope_style = SP_ROPE_HALF; c.tied = 1;
    sp_model *m = sp_model_random(eng, &c, type, 3, "t", &err);
    CHECK(m != NULL);
    const sp_config *mc = &m->cfg;
    const int32_t T = 45, NP = 5, rows = B * T; /* B <= 3 */
    sp_arena ar;
    sp_arena_init(&ar, 1 << 16);
    sp_acts a;
    sp_grads g;
    CHECK(sp_acts_alloc(&a, &ar, mc, B, T, NP, mc->n_layers, 1, threads, &err) == SP_OK);
    CHECK(sp_grads_alloc(&g, &ar, mc, B, T, NP, &err) == SP_OK);
    const size_t past_n = (size_t)mc->n_layers * 2 * NP * mc->kv_dim;
    float *pastbuf = sp_arena_alloc(&ar, sizeof(float) * past_n);
    o->dpast = calloc(past_n, sizeof(float));
    sp_rng rng;
    sp_rng_seed(&rng, 99);
    fill(pastbuf, past_n, &rng, 1.0f);
    int32_t ids[3 * 45], rws[3 * 45], tg[3 * 45];
    for (int32_t i = 0; i < rows; i++) ids[i] = (int32_t)sp_rng_below(&rng, (uint32_t)mc->vocab_size);
    int32_t n = 0;
    for (int32_t i = 0; i < rows; i += 2) { rws[n] = i; tg[n] = ids[(i + 1) % rows]; n++; }
    sp_past past = {pastbuf, pastbuf + (size_t)NP * mc->kv_dim, 2 * (int64_t)NP * mc->kv_dim, NP, NULL, NULL};
    sp_embed(m, a.x, ids, rows);
    sp_forward(m, &a, a.x, B, T, &past);
    o->xf = malloc(sizeof(float) * (size_t)rows * mc->dim);
    memcpy(o->xf, a.xf, sizeof(float) * (size_t)rows * mc->dim);
    const int32_t chunk = 7;
    float *scratch = malloc(sizeof(float) * (size_t)chunk * (mc->vocab_size + 2 * mc->dim));
    memset(g.dx, 0, sizeof(float) * (size_t)rows * mc->dim);
    o->loss = sp_lm_head_loss(m, a.xf, rws, tg, n, g.dx, 1.0f / n, scratch, chunk);
    sp_backward(m, &a, &g, B, T, &past, o->dpast, o->dpast + (size_t)NP * mc->kv_dim);
    o->dx = malloc(sizeof(float) * (size_t)rows * mc->dim);
    memcpy(o->dx, g.dx, sizeof(float) * (size_t)rows * mc->dim);
    free(scratch);
    sp_arena_free(&ar);
    sp_model_free_(m);
    sp_engine_free(eng);
}

/* kv_heads 1 and B 1 (Gemma 3 at batch 1): the attention backward's passes split key blocks and
 * query tiles, not only sequences and key/value heads */
static void test_threads(uint32_t type, int32_t kv_heads, int32_t B) {
    pass_out a, b;
    run_pass(1, type, kv_heads, B, &a);
    run_pass(3, type, kv_heads, B, &b);
    const int32_t dim = sp_dtype_get(type)->block == SP_QK_K ? 256 : 64; /* run_pass's */
    const size_t nx = (size_t)B * 45 * (size_t)dim, np = 2 * 2 * 5 * (size_t)dim / 4 * (size_t)kv_heads;
    CHECK(memcmp(a.xf, b.xf, sizeof(float) * nx) == 0);
    CHECK(a.loss == b.loss);
    CHECK(memcmp(a.dx, b.dx, sizeof(float) * nx) == 0);
    CHECK(memcmp(a.dpast, b.dpast, sizeof(float) * np) == 0);
    double nrm = 0.0, nrp = 0.0;
    for (size_t i = 0; i < nx; i++) nrm += fabs(a.dx[i]);
    for (size_t i = 0; i < np; i++) nrp += fabs(a.dpast[i]);
    CHECK(nrm > 0.0 && isfinite(nrm) && isfinite(a.loss) && nrp > 0.0);
    free(a.xf); free(a.dx); free(a.dpast); free(b.xf); free(b.dx); free(b.dpast);
}

/* Generation runs a long prompt in chunks when its activations would be large next to the
 * weights: the logits must be bitwise those of one forward over the whole prompt; so must the
 * next, decoded, token's. Decoding in streams or in order: the same tokens and logits. */
static void test_chunked_prefill(int32_t threads) {
    sp_error err = {0};
    sp_engine *eng = sp_engine_create(threads, &err);
    CHECK(eng != NULL);
    sp_config c = {0};
    c.dim = 64; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.hidden_dim = 96; c.vocab_size = 1000; c.ctx_len = 256;
    c.norm_eps = 1e-5f; c.rope_theta = 10000.0f; c.rope_style = SP_ROPE_ADJACENT; c.tied = 1;
    sp_model *m = sp_model_random(eng, &c, SP_DTYPE_F32, 8, "t", &err);
    CHECK(m != NULL);
    const int32_t T = 100;
    CHECK(sp_acts_bytes(&m->cfg, 1, T, T + 1, 1, 0) > m->weight_bytes / 16); /* so the prompt is chunked */
    int32_t ids[100];
    sp_rng rng;
    sp_rng_seed(&rng, 4);
    for (int32_t i = 0; i < T; i++) ids[i] = (int32_t)sp_rng_below(&rng, 1000);
    sp_arena ar;
    sp_arena_init(&ar, 1 << 16);
    sp_acts a;
    CHECK(sp_acts_alloc(&a, &ar, &m->cfg, 1, T, 0, 1, 0, threads, &err) == SP_OK);
    float *want = sp_arena_alloc(&ar, sizeof(float) * 1000);
    sp_embed(m, a.x, ids, T);
    sp_forward(m, &a, a.x, 1, T, NULL);
    sp_lm_head_row(m, a.xf + (size_t)(T - 1) * c.dim, want, 0);
    sp_gen *g = sp_gen_create(m, NULL, ids, T, "{\"max_tokens\":2,\"temperature\":0}", &err);
    CHECK(g != NULL);
    const int32_t next = next_token(g, &err);
    CHECK(next >= 0);
    CHECK(memcmp(sp_gen_logits(g), want, sizeof(float) * 1000) == 0);
    /* a decoded token after the chunks (decode attention: the heads walk the past rows in blocks)
     * gives bitwise the last row of one forward over the prompt and that token */
    CHECK(next_token(g, &err) >= 0);
    int32_t ids2[101];
    memcpy(ids2, ids, sizeof(ids));
    ids2[T] = next;
    sp_acts a2;
    CHECK(sp_acts_alloc(&a2, &ar, &m->cfg, 1, T + 1, 0, 1, 0, threads, &err) == SP_OK);
    sp_embed(m, a2.x, ids2, T + 1);
    sp_forward(m, &a2, a2.x, 1, T + 1, NULL);
    sp_lm_head_row(m, a2.xf + (size_t)T * c.dim, want, 0);
    CHECK(memcmp(sp_gen_logits(g), want, sizeof(float) * 1000) == 0);
    sp_gen_free(g);
    /* the first generation long enough measures the decoding order and keeps it on the model;
     * either order gives the same tokens and the same logits, bit for bit */
    CHECK(m->decode_order == 0);
    int32_t toks[3][14];
    float *last[3];
    for (int run = 0; run < 3; run++) {
        if (run) m->decode_order = run; /* 1: rows in order, 2: streams */
        g = sp_gen_create(m, NULL, ids, 8, "{\"max_tokens\":14,\"temperature\":0,\"stop_at_eos\":false}", &err);
        CHECK(g != NULL);
        for (int i = 0; i < 14; i++) toks[run][i] = next_token(g, &err);
        if (run == 0) CHECK(m->decode_order == 1 || m->decode_order == 2);
        last[run] = sp_arena_alloc(&ar, sizeof(float) * 1000);
        memcpy(last[run], sp_gen_logits(g), sizeof(float) * 1000);
        sp_gen_free(g);
    }
    for (int run = 1; run < 3; run++) {
        CHECK(memcmp(toks[run], toks[0], sizeof(toks[0])) == 0);
        CHECK(memcmp(last[run], last[0], sizeof(float) * 1000) == 0);
    }
    sp_arena_free(&ar);
    sp_model_free_(m);
    sp_engine_free(eng);
}

int main(void) {
    test_exp();
    const sp_kernels *scalar = sp_kernels_get(SP_ISA_SCALAR);
    const sp_kernels *best = sp_kernels_get(SP_ISA_BEST);
    CHECK(scalar != NULL && strcmp(scalar->isa, "scalar") == 0);
    test_products(scalar, scalar);
    test_rows(scalar, scalar);
    test_norm_rope(scalar, scalar);
    if (best != scalar) {
        CHECK(strcmp(best->isa, "wasmsimd") == 0);
        test_products(best, scalar);
        test_rows(best, scalar);
        test_norm_rope(best, scalar);
    }
    test_threads(SP_DTYPE_F32, 2, 3);
    test_threads(SP_DTYPE_Q8_0, 2, 3);
    test_threads(SP_DTYPE_Q4_K, 2, 3);
    test_threads(SP_DTYPE_Q6_K, 2, 3);
    test_threads(SP_DTYPE_F32, 1, 1);
    test_chunked_prefill(1);
    test_chunked_prefill(2);
    CHECK_DONE();
}
