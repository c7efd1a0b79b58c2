/* test_kernels.c - the matrix kernels against naive double-precision loops, the SIMD
 * table against the scalar one, thread/split determinism, the probes (RMSNorm and RoPE are
 * tested with the other row kernels in test_attention.c).
 * Built natively (scalar table only, ASan/UBSan) and to wasm with SIMD128 (both tables). */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"
#include "kernels/probe.h"

static const uint32_t TYPES[] = {SP_DTYPE_F32, SP_DTYPE_F16, SP_DTYPE_BF16, SP_DTYPE_Q8_0, SP_DTYPE_Q4_0,
                                 SP_DTYPE_Q5_0, SP_DTYPE_Q5_1, SP_DTYPE_Q4_K, SP_DTYPE_Q5_K, SP_DTYPE_Q6_K};
#define N_TYPES 10

/* ---- test-side weights: raw random encodings and an independent decoder ---- */

/* A random weight row of type t, drawn over the encoding itself (all int8 codes incl. -128,
 * all nibbles, f16 subnormals) rather than through the quantizer. */
static void random_row(sp_rng *rng, uint32_t t, uint8_t *out, int32_t cols) {
    if (t == SP_DTYPE_F32) {
        for (int32_t c = 0; c < cols; c++) {
            float v = sp_rng_normal(rng);
            memcpy(out + 4 * c, &v, 4);
        }
    } else if (t == SP_DTYPE_F16) {
        for (int32_t c = 0; c < cols; c++) { /* exponents 0..17: subnormals up to |v| < 8 */
            uint16_t h = (uint16_t)((sp_rng_below(rng, 2) << 15) | (sp_rng_below(rng, 18) << 10) | sp_rng_below(rng, 1024));
            memcpy(out + 2 * c, &h, 2);
        }
    } else if (t == SP_DTYPE_BF16) {
        for (int32_t c = 0; c < cols; c++) {
            uint16_t h = (uint16_t)((sp_rng_below(rng, 2) << 15) | ((118 + sp_rng_below(rng, 12)) << 7) | sp_rng_below(rng, 128));
            memcpy(out + 2 * c, &h, 2);
        }
    } else if (t == SP_DTYPE_Q8_0) {
        for (int32_t b = 0; b < cols / 32; b++) {
            sp_block_q8_0 blk;
            blk.d = sp_f32_to_f16((sp_rng_f32(rng) * 0.02f + 0.001f) * (sp_rng_below(rng, 2) ? 1.0f : -1.0f));
            for (int j = 0; j < 32; j++) blk.qs[j] = (int8_t)((int32_t)sp_rng_below(rng, 256) - 128);
            memcpy(out + b * sizeof(blk), &blk, sizeof(blk));
        }
    } else if (t == SP_DTYPE_Q5_0 || t == SP_DTYPE_Q5_1) {
        /* every code byte random (qh and qs), then a small signed d (and Q5_1's m) */
        const size_t bs = t == SP_DTYPE_Q5_0 ? 22 : 24;
        for (int32_t b = 0; b < cols / 32; b++) {
            uint8_t *blk = out + b * bs;
            for (size_t i = 0; i < bs; i++) blk[i] = (uint8_t)sp_rng_below(rng, 256);
            const uint16_t d = sp_f32_to_f16((sp_rng_f32(rng) * 0.01f + 0.0005f) * (sp_rng_below(rng, 2) ? 1.0f : -1.0f));
            const uint16_t mn = sp_f32_to_f16((sp_rng_f32(rng) - 0.5f) * 0.2f);
            memcpy(blk, &d, 2);
            if (t == SP_DTYPE_Q5_1) memcpy(blk + 2, &mn, 2);
        }
    } else if (t == SP_DTYPE_Q4_K || t == SP_DTYPE_Q5_K || t == SP_DTYPE_Q6_K) {
        /* every byte random (all codes, 6-bit scales and mins, int8 scales), then small f16 super-scales */
        const size_t bs = t == SP_DTYPE_Q4_K ? 144 : t == SP_DTYPE_Q5_K ? 176 : 210;
        for (int32_t b = 0; b < cols / 256; b++) {
            uint8_t *blk = out + b * bs;
            for (size_t i = 0; i < bs; i++) blk[i] = (uint8_t)sp_rng_below(rng, 256);
            uint16_t d = sp_f32_to_f16((sp_rng_f32(rng) * 0.002f + 0.0001f) * (sp_rng_below(rng, 2) ? 1.0f : -1.0f));
            uint16_t dmin = sp_f32_to_f16(sp_rng_f32(rng) * 0.002f);
            if (t == SP_DTYPE_Q6_K) {
                memcpy(blk + 208, &d, 2);
            } else {
                memcpy(blk, &d, 2);
                memcpy(blk + 2, &dmin, 2);
            }
        }
    } else {
        for (int32_t b = 0; b < cols / 32; b++) {
            sp_block_q4_0 blk;
            blk.d = sp_f32_to_f16((sp_rng_f32(rng) * 0.02f + 0.001f) * (sp_rng_below(rng, 2) ? 1.0f : -1.0f));
            for (int j = 0; j < 16; j++) blk.qs[j] = (uint8_t)sp_rng_below(rng, 256);
            memcpy(out + b * sizeof(blk), &blk, sizeof(blk));
        }
    }
}

/* Decodes element c of a row, straight from the format description. */
static double decode(uint32_t t, const uint8_t *row, int32_t c) {
    uint16_t h;
    switch (t) {
    case SP_DTYPE_Q4_K:
    case SP_DTYPE_Q5_K: { /* llama.cpp: 8 sub-blocks of 32; x = (d*sc) * q - dmin*m in f32 */
        const int q5 = t == SP_DTYPE_Q5_K;
        const uint8_t *blk = row + (c / 256) * (q5 ? 176 : 144), *sc = blk + 4, *qh = blk + 16, *qs = blk + (q5 ? 48 : 16);
        const int v = c % 256, j = v / 32, l = v % 32;
        const int s6 = j < 4 ? sc[j] & 63 : (sc[j + 4] & 15) | ((sc[j - 4] >> 6) << 4);
        const int m6 = j < 4 ? sc[j + 4] & 63 : (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
        int q = (qs[32 * (j / 2) + l] >> (j % 2 ? 4 : 0)) & 15;
        if (q5 && (qh[l] >> j) & 1) q += 16;
        uint16_t hd, hm;
        memcpy(&hd, blk, 2);
        memcpy(&hm, blk + 2, 2);
        const float d1 = sp_f16_to_f32(hd) * (float)s6, m1 = sp_f16_to_f32(hm) * (float)m6, p = d1 * (float)q;
        return (double)(p - m1);
    }
    case SP_DTYPE_Q6_K: { /* halves of 128: ql[64], then qh[32] per half, int8 scales per 16, d last */
        const uint8_t *blk = row + (c / 256) * 210;
        const int v = c % 256, half = v / 128, k = (v % 128) / 32, l = v % 32;
        const uint8_t lo = blk[64 * half + (k % 2) * 32 + l], hi = blk[128 + 32 * half + l];
        const int q = ((k < 2 ? lo & 15 : lo >> 4) | (((hi >> (2 * k)) & 3) << 4)) - 32;
        const int8_t sc = (int8_t)blk[192 + 8 * half + 2 * k + l / 16];
        memcpy(&h, blk + 208, 2);
        return (double)sp_f16_to_f32(h) * sc * q;
    }
    case SP_DTYPE_Q5_0:
    case SP_DTYPE_Q5_1: { /* ggml: {f16 d, (Q5_1: f16 m), u32 qh, qs[16]}; bit j of qh is value j's fifth bit */
        const int q51 = t == SP_DTYPE_Q5_1;
        const uint8_t *blk = row + (c / 32) * (q51 ? 24 : 22), *qhp = blk + (q51 ? 4 : 2), *qs = qhp + 4;
        const int j = c % 32;
        uint32_t qh;
        memcpy(&qh, qhp, 4);
        const int q = (j < 16 ? qs[j] & 15 : qs[j - 16] >> 4) | (int)(((qh >> j) & 1) << 4);
        uint16_t hd, hm;
        memcpy(&hd, blk, 2);
        memcpy(&hm, blk + 2, 2);
        if (!q51) return (double)sp_f16_to_f32(hd) * (q - 16);
        const float p = sp_f16_to_f32(hd) * (float)q; /* f32, as llama.cpp: d*q + m */
        return (double)(p + sp_f16_to_f32(hm));
    }
    case SP_DTYPE_F32: { float v; memcpy(&v, row + 4 * c, 4); return v; }
    case SP_DTYPE_F16: memcpy(&h, row + 2 * c, 2); return sp_f16_to_f32(h);
    case SP_DTYPE_BF16: memcpy(&h, row + 2 * c, 2); return sp_bf16_to_f32(h);
    case SP_DTYPE_Q8_0: {
        const uint8_t *blk = row + (c / 32) * 34;
        memcpy(&h, blk, 2);
        return (double)sp_f16_to_f32(h) * (int8_t)blk[2 + c % 32];
    }
    default: {
        const uint8_t *blk = row + (c / 32) * 18;
        memcpy(&h, blk, 2);
        int j = c % 32;
        int q = j < 16 ? (blk[2 + j] & 15) : (blk[2 + j - 16] >> 4);
        return (double)sp_f16_to_f32(h) * (q - 8);
    }
    }
}

/* The part of element c that the 16-bit products multiply by the rounded x: the value without its
 * min term (Q4_K / Q5_K: (d*sc)*q, Q5_1: d*q), whose product with the block's exact sum of x is
 * added apart (gemm_x16.c); the value itself for the other types. */
static double decode_ipart(uint32_t t, const uint8_t *row, int32_t c) {
    if (t == SP_DTYPE_Q5_1) {
        const uint8_t *blk = row + (c / 32) * 24;
        const int j = c % 32;
        uint16_t hd;
        memcpy(&hd, blk, 2);
        return (double)sp_f16_to_f32(hd) * sp_q5_code(blk + 4, blk + 8, j);
    }
    if (t == SP_DTYPE_Q4_K || t == SP_DTYPE_Q5_K) {
        const int q5 = t == SP_DTYPE_Q5_K;
        const uint8_t *blk = row + (c / 256) * (q5 ? 176 : 144), *qs = blk + (q5 ? 48 : 16);
        const int v = c % 256, j = v / 32, l = v % 32;
        int32_t sc, mn;
        sp_k4_scale_min(j, blk + 4, &sc, &mn);
        const int q = ((qs[32 * (j / 2) + l] >> (j % 2 ? 4 : 0)) & 15) | (q5 ? ((blk[16 + l] >> j) & 1) << 4 : 0);
        uint16_t hd;
        memcpy(&hd, blk, 2);
        return (double)(sp_f16_to_f32(hd) * (float)sc) * q;
    }
    return decode(t, row, c);
}

typedef struct {
    sp_mat w;
    uint8_t *data;    /* (rows, row_bytes) */
    double *deq;      /* (rows, cols) decoded by the test */
    double *ipart;    /* (rows, cols) the values without their min terms (decode_ipart): the x16 bounds */
} test_mat;

static int make_mat(test_mat *m, sp_rng *rng, uint32_t t, int32_t rows, int32_t cols) {
    size_t rb = sp_dtype_row_bytes(t, cols);
    m->data = malloc(rb * (size_t)rows);
    m->deq = malloc(sizeof(double) * (size_t)rows * cols);
    m->ipart = malloc(sizeof(double) * (size_t)rows * cols);
    if (!m->data || !m->deq || !m->ipart) return 0;
    for (int32_t r = 0; r < rows; r++) {
        random_row(rng, t, m->data + (size_t)r * rb, cols);
        for (int32_t c = 0; c < cols; c++) {
            m->deq[(size_t)r * cols + c] = decode(t, m->data + (size_t)r * rb, c);
            m->ipart[(size_t)r * cols + c] = decode_ipart(t, m->data + (size_t)r * rb, c);
        }
    }
    m->w = (sp_mat){t, rows, cols, rb, m->data, 0};
    sp_mat_check_f16(&m->w);
    return 1;
}

static void free_mat(test_mat *m) { free(m->data); free(m->deq); free(m->ipart); }

static float *random_vec(sp_rng *rng, size_t n) {
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; v && i < n; i++) v[i] = sp_rng_normal(rng);
    return v;
}

/* |got - ref| <= max(abs_tol, rel*|ref|), abs_tol scaled by the sum of |terms| */
static int close_to(double got, double ref, double abs_scale) {
    double tol = 2e-5 * abs_scale + 1e-30, rel = 2e-5 * (ref < 0 ? -ref : ref);
    double err = got - ref;
    if (err < 0) err = -err;
    return err <= (tol > rel ? tol : rel);
}

static int is_quant(uint32_t t) {
    return t == SP_DTYPE_Q8_0 || t == SP_DTYPE_Q4_0 || t == SP_DTYPE_Q5_0 || t == SP_DTYPE_Q5_1 || t == SP_DTYPE_Q4_K ||
           t == SP_DTYPE_Q5_K || t == SP_DTYPE_Q6_K;
}

/* The stated tolerance of the 16-bit products against the exact ones: rounding x to 16 bits per
 * block of 32 moves each x_c by at most amax_b / (2 qmax), so the product moves by at most
 * sum_b amax_b / (2 qmax) * sum_{c in b} |w_c| (qmax = sp_x16_qmax: 32767, 16383 for Q6_K), w_c
 * without its min term (Q4_K / Q5_K / Q5_1: decode_ipart; the min multiplies the exact sum of x);
 * the f32 arithmetic adds the usual 2e-5 of sum |w_c x_c| (close_to). 0 where the kernel is exact:
 * matmul unless matmul_x16, matvec_decode unless decode_x16 (both: the quantized types). */
static double x16_bound(uint32_t t, const float *x, const double *wrow, int32_t cols) {
    double e = 0.0;
    for (int32_t b = 0; b < cols / 32; b++) {
        double amax = 0.0, wsum = 0.0;
        for (int j = 0; j < 32; j++) {
            amax = fmax(amax, fabs(x[b * 32 + j]));
            wsum += fabs(wrow[b * 32 + j]);
        }
        e += wsum * amax / (2.0 * sp_x16_qmax(t)) * (1.0 + 1e-6);
    }
    return e;
}
static double x16_slack(const sp_kernels *k, uint32_t t, const float *x, const double *wrow, int32_t cols, int decode) {
    const int rounds = decode ? k->decode_x16 && sp_matmul_x16_applies(t) : k->matmul_x16 && is_quant(t);
    return rounds ? x16_bound(t, x, wrow, cols) : 0.0;
}

static int bits_equal(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* Forward and backward of table k on one shape, against the naive loops. */
static void check_shape(const sp_kernels *k, const sp_kernels *ref_k, sp_rng *rng, uint32_t t, int32_t n, int32_t rows, int32_t cols) {
    test_mat m;
    if (!make_mat(&m, rng, t, rows, cols)) { CHECK(!"out of memory"); return; }
    float *x = random_vec(rng, (size_t)n * cols), *y = random_vec(rng, (size_t)n * rows);
    float *dy = random_vec(rng, (size_t)n * rows), *dx = random_vec(rng, (size_t)n * cols);
    float *dx0 = malloc(sizeof(float) * (size_t)n * cols), *y2 = malloc(sizeof(float) * (size_t)n * rows);
    float *dx2 = malloc(sizeof(float) * (size_t)n * cols);
    memcpy(dx0, dx, sizeof(float) * (size_t)n * cols);
    const char *tn = sp_dtype_name(t);

    /* forward: y = x · Wᵀ (y starts as garbage: must be overwritten) */
    k->matmul(y, x, &m.w, n, 0, rows);
    int bad = 0;
    for (int32_t i = 0; i < n && !bad; i++) {
        for (int32_t r = 0; r < rows && !bad; r++) {
            double s = 0, a = 0;
            for (int32_t c = 0; c < cols; c++) {
                double p = (double)x[(size_t)i * cols + c] * m.deq[(size_t)r * cols + c];
                s += p;
                a += p < 0 ? -p : p;
            }
            const double slack = x16_slack(k, t, x + (size_t)i * cols, m.ipart + (size_t)r * cols, cols, 0);
            if (!close_to(y[(size_t)i * rows + r], s, a) && !(fabs(y[(size_t)i * rows + r] - s) <= slack + 2e-5 * a)) {
                bad = 1;
                CHECK_MSG(0, "%s matmul %s n=%d rows=%d cols=%d: y[%d,%d]=%.9g ref=%.9g", k->isa, tn, n, rows, cols, i, r, y[(size_t)i * rows + r], s);
            }
        }
    }
    /* batch invariance: each row alone (n=1) gives the same bits; matvec_decode gives the
     * same bits too, or stays within the 16-bit rounding of x where decode_x16 says so */
    for (int32_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * cols;
        k->matmul(y2, xi, &m.w, 1, 0, rows);
        CHECK_MSG(bits_equal(y2, y + (size_t)i * rows, (size_t)rows), "%s matmul %s row %d alone differs (n=%d rows=%d cols=%d)", k->isa, tn, i, n, rows, cols);
        k->matvec_decode(y2, xi, &m.w, 0, rows, 0);
        {   /* streams: another order of reading, the same bits */
            float *yt = malloc(sizeof(float) * (size_t)rows);
            k->matvec_decode(yt, xi, &m.w, 0, rows, 1);
            CHECK_MSG(bits_equal(yt, y2, (size_t)rows), "%s matvec_decode %s streams change row %d (rows=%d cols=%d)", k->isa, tn, i, rows, cols);
            free(yt);
        }
        /* matmul and matvec_decode both exact, or both 16-bit (Q8_0 / Q4_0 / Q5_0 / Q5_1 with finite
         * scales, the K-quants): one formula */
        const int kq = t == SP_DTYPE_Q4_K || t == SP_DTYPE_Q5_K || t == SP_DTYPE_Q6_K;
        if (x16_slack(k, t, xi, m.ipart, cols, 1) == x16_slack(k, t, xi, m.ipart, cols, 0) && (m.w.f16_finite || kq || !k->decode_x16)) {
            CHECK_MSG(bits_equal(y2, y + (size_t)i * rows, (size_t)rows), "%s matvec_decode %s row %d differs from matmul (rows=%d cols=%d)", k->isa, tn, i, rows, cols);
            continue;
        }
        int ok = 1;
        for (int32_t r = 0; r < rows; r++) {
            double a = 0, ref = 0;
            for (int32_t c = 0; c < cols; c++) {
                double pr = (double)xi[c] * m.deq[(size_t)r * cols + c];
                ref += pr;
                a += fabs(pr);
            }
            double slack = x16_slack(k, t, xi, m.ipart + (size_t)r * cols, cols, 1) + x16_slack(k, t, xi, m.ipart + (size_t)r * cols, cols, 0);
            ok &= fabs((double)y2[r] - ref) <= slack + 2e-5 * a;
        }
        CHECK_MSG(ok, "%s matvec_decode %s row %d beyond the 16-bit rounding of x (rows=%d cols=%d)", k->isa, tn, i, rows, cols);
        /* and a split of its rows gives the same bits */
        float *y3 = malloc(sizeof(float) * (size_t)rows);
        k->matvec_decode(y3, xi, &m.w, 0, rows / 2, 1);
        k->matvec_decode(y3, xi, &m.w, rows / 2, rows, 0);
        CHECK_MSG(bits_equal(y3, y2, (size_t)rows), "%s matvec_decode %s row split differs", k->isa, tn);
        free(y3);
    }
    /* any split of the rows gives the same bits */
    int32_t s1 = rows / 3, s2 = rows - rows / 4;
    k->matmul(y2, x, &m.w, n, 0, s1);
    k->matmul(y2, x, &m.w, n, s1, s2);
    k->matmul(y2, x, &m.w, n, s2, rows);
    CHECK_MSG(bits_equal(y2, y, (size_t)n * rows), "%s matmul %s row split differs (n=%d rows=%d cols=%d)", k->isa, tn, n, rows, cols);
    /* against the scalar table */
    if (ref_k && ref_k != k) {
        ref_k->matmul(y2, x, &m.w, n, 0, rows);
        bad = 0;
        for (size_t e = 0; e < (size_t)n * rows && !bad; e++) {
            double sc = 0;
            int32_t i = (int32_t)(e / rows), r = (int32_t)(e % rows);
            for (int32_t c = 0; c < cols; c++) { double p = (double)x[(size_t)i * cols + c] * m.deq[(size_t)r * cols + c]; sc += p < 0 ? -p : p; }
            const double slack = x16_slack(k, t, x + (size_t)i * cols, m.ipart + (size_t)r * cols, cols, 0);
            if (!close_to(y[e], y2[e], sc) && !(fabs(y[e] - y2[e]) <= slack + 4e-5 * sc)) { bad = 1; CHECK_MSG(0, "%s vs %s matmul %s n=%d rows=%d cols=%d at %zu", k->isa, ref_k->isa, tn, n, rows, cols, e); }
        }
    }

    /* backward: dx += dy · W */
    k->matmul_dx(dx, dy, &m.w, n, 0, cols);
    bad = 0;
    for (int32_t i = 0; i < n && !bad; i++) {
        for (int32_t c = 0; c < cols && !bad; c++) {
            double s = dx0[(size_t)i * cols + c], a = s < 0 ? -s : s;
            for (int32_t r = 0; r < rows; r++) {
                double p = (double)dy[(size_t)i * rows + r] * m.deq[(size_t)r * cols + c];
                s += p;
                a += p < 0 ? -p : p;
            }
            if (!close_to(dx[(size_t)i * cols + c], s, a)) {
                bad = 1;
                CHECK_MSG(0, "%s matmul_dx %s n=%d rows=%d cols=%d: dx[%d,%d]=%.9g ref=%.9g", k->isa, tn, n, rows, cols, i, c, dx[(size_t)i * cols + c], s);
            }
        }
    }
    /* column split at multiples of 32 gives the same bits */
    memcpy(dx2, dx0, sizeof(float) * (size_t)n * cols);
    int32_t cs = cols > 32 ? 32 * ((cols / 32 + 1) / 2) : cols;
    k->matmul_dx(dx2, dy, &m.w, n, 0, cs);
    k->matmul_dx(dx2, dy, &m.w, n, cs, cols);
    CHECK_MSG(bits_equal(dx2, dx, (size_t)n * cols), "%s matmul_dx %s column split differs (n=%d rows=%d cols=%d)", k->isa, tn, n, rows, cols);
    /* the backward formula (dx + dy0*w0 + dy1*w1 + ... in row order) is the same in every
     * table, so the SIMD result equals the scalar one bit for bit */
    if (ref_k && ref_k != k) {
        memcpy(dx2, dx0, sizeof(float) * (size_t)n * cols);
        ref_k->matmul_dx(dx2, dy, &m.w, n, 0, cols);
        CHECK_MSG(bits_equal(dx2, dx, (size_t)n * cols), "%s vs %s matmul_dx %s differ (n=%d rows=%d cols=%d)", k->isa, ref_k->isa, tn, n, rows, cols);
    }

    /* mat_row decodes exactly */
    float *row = malloc(sizeof(float) * (size_t)cols);
    for (int32_t r = 0; r < rows; r += (rows > 3 ? rows / 3 : 1)) {
        k->mat_row(row, &m.w, r);
        int ok = 1;
        for (int32_t c = 0; c < cols; c++) ok &= (double)row[c] == m.deq[(size_t)r * cols + c];
        CHECK_MSG(ok, "%s mat_row %s row %d cols=%d", k->isa, tn, r, cols);
    }
    free(row);
    free(x); free(y); free(dy); free(dx); free(dx0); free(y2); free(dx2);
    free_mat(&m);
}

static void test_matrix_kernels(const sp_kernels *k, const sp_kernels *ref_k) {
    sp_rng rng;
    sp_rng_seed(&rng, 42);
    static const int32_t NS[] = {1, 2, 3, 4, 5, 7, 8, 13};
    /* (rows, cols): one tile, smaller, larger, rows not multiples of the tiles,
     * cols crossing the 512-wide k block; the odd cols are for unblocked types */
    static const int32_t SHAPES[][2] = {{1, 32}, {3, 32}, {4, 64}, {2, 96}, {7, 544}, {13, 128}, {37, 1056}, {12, 256},
                                        {48, 64}, {5, 5}, {3, 1}, {7, 13}, {2, 515}, {4, 3}, {9, 71}, {1, 256}, {5, 512},
                                        {13, 768}, {3, 1280}};
    for (int ti = 0; ti < N_TYPES; ti++) {
        for (size_t si = 0; si < sizeof(SHAPES) / sizeof(SHAPES[0]); si++) {
            int32_t rows = SHAPES[si][0], cols = SHAPES[si][1];
            if (sp_dtype_row_bytes(TYPES[ti], cols) == 0) continue; /* quantized: cols % 32 */
            for (size_t ni = 0; ni < sizeof(NS) / sizeof(NS[0]); ni++) {
                if (rows * cols > 20000 && NS[ni] > 5 && NS[ni] != 13) continue; /* keep it quick */
                check_shape(k, ref_k, &rng, TYPES[ti], NS[ni], rows, cols);
            }
        }
    }
}

static void count_task(void *ctx, int32_t t, int32_t n_tasks) {
    int32_t *hits = ctx;
    if (n_tasks == 37 && t >= 0 && t < 37) hits[t]++; /* distinct t per task: no race */
}

static void count_any_task(void *ctx, int32_t t, int32_t n_tasks) {
    int32_t *hits = ctx;
    if (n_tasks <= 40 && t >= 0 && t < n_tasks) hits[t]++; /* distinct t per task: no race */
}

/* sp_matmul / sp_matmul_dx over pools of 1, 2, 3 threads: bitwise identical. The shapes
 * cover one thread (small products), matmul_dx split by columns, (22 x 288 on two
 * threads: 9 column blocks do not halve) split by rows of dy, and (rows >= 16 x cols, an LM
 * head's shape) summed in slabs of rows: there within rounding of one direct kernel call. */
static void test_threads(const sp_kernels *k) {
    sp_rng rng;
    sp_rng_seed(&rng, 7);
    /* K-quants (cols % 256): 768 splits into 384-column halves, mid super-block */
    static const int32_t SH[][3] = {{5, 100, 96}, {1, 301, 64}, {16, 64, 320}, {3, 250, 544}, {22, 200, 288},
                                    {5, 100, 512}, {16, 64, 768}, {1, 301, 256}, {3, 90, 1280},
                                    {7, 4100, 64}, {3, 4352, 256}};
    sp_pool *pools[3] = {sp_pool_create(1), sp_pool_create(2), sp_pool_create(3)};
    CHECK(pools[0] && pools[1] && pools[2]);
    if (!pools[0] || !pools[1] || !pools[2]) return;
    CHECK(sp_pool_threads(pools[0]) == 1);
    CHECK(sp_pool_threads(NULL) == 1);
    for (int ti = 0; ti < N_TYPES; ti++) {
        for (size_t s = 0; s < sizeof(SH) / sizeof(SH[0]); s++) {
            int32_t n = SH[s][0], rows = SH[s][1], cols = SH[s][2];
            if (sp_dtype_row_bytes(TYPES[ti], cols) == 0) continue;
            test_mat m;
            if (!make_mat(&m, &rng, TYPES[ti], rows, cols)) { CHECK(!"oom"); continue; }
            float *x = random_vec(&rng, (size_t)n * cols), *dy = random_vec(&rng, (size_t)n * rows);
            float *dxi = random_vec(&rng, (size_t)n * cols);
            float *y[3], *dx[3];
            for (int p = 0; p < 3; p++) {
                y[p] = malloc(sizeof(float) * (size_t)n * rows);
                dx[p] = malloc(sizeof(float) * (size_t)n * cols);
                memcpy(dx[p], dxi, sizeof(float) * (size_t)n * cols);
                sp_matmul(pools[p], k, y[p], x, &m.w, n);
                sp_matmul_dx(pools[p], k, dx[p], dy, &m.w, n);
            }
            for (int p = 1; p < 3; p++) {
                CHECK_MSG(bits_equal(y[0], y[p], (size_t)n * rows), "%s sp_matmul %s %d threads differs", k->isa, sp_dtype_name(TYPES[ti]), p + 1);
                CHECK_MSG(bits_equal(dx[0], dx[p], (size_t)n * cols), "%s sp_matmul_dx %s %d threads differs", k->isa, sp_dtype_name(TYPES[ti]), p + 1);
            }
            /* the decoding driver too */
            float *yv[3];
            for (int p = 0; p < 3; p++) {
                yv[p] = malloc(sizeof(float) * (size_t)rows);
                sp_matvec_decode(pools[p], k, yv[p], x, &m.w, p == 2); /* streams change nothing */
            }
            for (int p = 1; p < 3; p++)
                CHECK_MSG(bits_equal(yv[0], yv[p], (size_t)rows), "%s sp_matvec_decode %s %d threads differs", k->isa, sp_dtype_name(TYPES[ti]), p + 1);
            for (int p = 0; p < 3; p++) free(yv[p]);
            /* and the drivers agree with one direct kernel call */
            float *yd = malloc(sizeof(float) * (size_t)n * rows);
            k->matmul(yd, x, &m.w, n, 0, rows);
            CHECK(bits_equal(yd, y[2], (size_t)n * rows));
            free(yd);
            float *dxd = malloc(sizeof(float) * (size_t)n * cols);
            memcpy(dxd, dxi, sizeof(float) * (size_t)n * cols);
            k->matmul_dx(dxd, dy, &m.w, n, 0, cols);
            double big = 0.0, worst = 0.0;
            for (size_t e = 0; e < (size_t)n * cols; e++) {
                big = fabs(dxd[e]) > big ? fabs(dxd[e]) : big;
                worst = fabs(dxd[e] - dx[2][e]) > worst ? fabs(dxd[e] - dx[2][e]) : worst;
            }
            CHECK_MSG(worst <= 1e-5 * big, "%s sp_matmul_dx %s %d x %d: %g off one kernel call (max %g)", k->isa, sp_dtype_name(TYPES[ti]), rows, cols, worst, big);
            if (rows < 16 * cols) CHECK(bits_equal(dxd, dx[2], (size_t)n * cols)); /* not in slabs: the same sums */
            free(dxd);
            for (int p = 0; p < 3; p++) { free(y[p]); free(dx[p]); }
            free(x); free(dy); free(dxi);
            free_mat(&m);
        }
    }
    /* the pool runs every task exactly once */
    for (int p = 0; p < 3; p++) {
        int32_t hits[37] = {0};
        sp_pool_run(pools[p], count_task, hits, 0); /* no tasks: no call */
        for (int rep = 0; rep < 20; rep++) sp_pool_run(pools[p], count_task, hits, 37);
        int ok = 1;
        for (int i = 0; i < 37; i++) ok &= hits[i] == 20;
        CHECK_MSG(ok, "pool of %d: tasks not run exactly once", p + 1);
    }
    for (int p = 0; p < 3; p++) sp_pool_free(pools[p]);
    sp_pool_free(NULL);
}

/* Pools created and freed over and over, each running jobs of 1..40 tasks back to back, so that
 * workers join a job while spinning, between two tasks or (on a loaded machine) after sleeping:
 * every task of every job runs exactly once, and every sp_pool_run and sp_pool_free returns. */
static void test_pool_churn(void) {
    int32_t hits[40];
    int ok = 1;
    for (int r = 0; r < 12 && ok; r++) {
        sp_pool *p = sp_pool_create(2 + r % 3);
        CHECK(p != NULL);
        if (!p) return;
        for (int k = 0; k < 500 && ok; k++) {
            const int32_t n = 1 + (k * 7 + r) % 40;
            memset(hits, 0, sizeof(hits));
            sp_pool_run(p, count_any_task, hits, n);
            for (int32_t i = 0; i < n; i++) ok &= hits[i] == 1;
        }
        sp_pool_free(p);
    }
    CHECK_MSG(ok, "pool churn: a task did not run exactly once");
}

/* Special weight values decode exactly: f16 inf/nan/subnormals/-0/max, bf16 inf/nan. */
static void test_special_weights(const sp_kernels *k) {
    static const uint16_t H[16] = {0x7c00, 0xfc00, 0x7e00, 0x7c01, 0x0001, 0x8001, 0x03ff, 0x0400,
                                   0x8000, 0x0000, 0x7bff, 0xfbff, 0x3c00, 0xbc00, 0x3555, 0x0200};
    float out[16];
    sp_mat m = {SP_DTYPE_F16, 1, 16, sizeof(H), H};
    k->mat_row(out, &m, 0);
    for (int i = 0; i < 16; i++) {
        float ref = sp_f16_to_f32(H[i]);
        CHECK_MSG(memcmp(&out[i], &ref, 4) == 0 || (isnan(out[i]) && isnan(ref)), "%s f16 0x%04x -> %g, want %g", k->isa, H[i], out[i], ref);
    }
    sp_mat mb = {SP_DTYPE_BF16, 1, 16, sizeof(H), H};
    k->mat_row(out, &mb, 0);
    for (int i = 0; i < 16; i++) {
        float ref = sp_bf16_to_f32(H[i]);
        CHECK_MSG(memcmp(&out[i], &ref, 4) == 0 || (isnan(out[i]) && isnan(ref)), "%s bf16 0x%04x", k->isa, H[i]);
    }
    /* an inf weight gives an inf output, a nan weight a nan output (no masking) */
    float x[16], y[1];
    for (int i = 0; i < 16; i++) x[i] = 1.0f;
    uint16_t h2[16] = {0x3c00, 0x7c00};
    sp_mat mi = {SP_DTYPE_F16, 1, 16, sizeof(h2), h2};
    k->matmul(y, x, &mi, 1, 0, 1);
    CHECK(isinf(y[0]) && y[0] > 0);
    h2[1] = 0x7e00;
    k->matmul(y, x, &mi, 1, 0, 1);
    CHECK(isnan(y[0]));
}

/* matvec_decode on quantized weights: x with inf/nan propagates, zeros give zeros, huge and
 * tiny values in one block stay within the documented error. */
static void test_decode_special_x(const sp_kernels *k) {
    static const uint32_t QT[] = {SP_DTYPE_Q8_0, SP_DTYPE_Q4_0, SP_DTYPE_Q5_0, SP_DTYPE_Q5_1, SP_DTYPE_Q4_K, SP_DTYPE_Q5_K, SP_DTYPE_Q6_K};
    sp_rng rng;
    sp_rng_seed(&rng, 9);
    for (int q = 0; q < 7; q++) {
        const uint32_t t = QT[q];
        const int32_t cols = sp_dtype_get(t)->block == 32 ? 64 : 256;
        test_mat m;
        if (!make_mat(&m, &rng, t, 5, cols)) { CHECK(!"oom"); return; }
        float x[256], y[5];
        for (int i = 0; i < cols; i++) x[i] = 0.0f;
        k->matvec_decode(y, x, &m.w, 0, 5, 0);
        CHECK(y[0] == 0.0f && y[4] == 0.0f);
        x[3] = INFINITY;
        k->matvec_decode(y, x, &m.w, 0, 5, 1);
        for (int r = 0; r < 5; r++) CHECK_MSG(!isfinite(y[r]) || m.deq[r * cols + 3] == 0.0, "%s %s inf in x lost (row %d: %g)", k->isa, sp_dtype_name(t), r, y[r]);
        x[3] = NAN;
        k->matvec_decode(y, x, &m.w, 0, 5, 0);
        for (int r = 0; r < 5; r++) CHECK_MSG(isnan(y[r]), "%s %s nan in x lost", k->isa, sp_dtype_name(t));
        for (int i = 0; i < cols; i++) x[i] = (i % 7 == 0) ? 3.0e4f : 1.0e-3f * (float)(i - 30);
        k->matvec_decode(y, x, &m.w, 0, 5, 1);
        for (int r = 0; r < 5; r++) {
            double s = 0, a = 0;
            for (int c = 0; c < cols; c++) { s += x[c] * m.deq[r * cols + c]; a += fabs(x[c] * m.deq[r * cols + c]); }
            double slack = x16_slack(k, t, x, m.ipart + r * cols, cols, 1);
            CHECK_MSG(fabs(y[r] - s) <= slack + 2e-5 * a, "%s %s mixed magnitudes row %d: %g vs %g", k->isa, sp_dtype_name(t), r, y[r], s);
        }
        free_mat(&m);
    }
}

/* matvec_decode on quantized weights whose block scales are special f16 values: subnormal, zero,
 * -0 and the largest decode like any other scale (within the 16-bit rounding of x, and the
 * same bits whichever tile a row falls in); an inf or nan scale gives a non-finite row, as on
 * the exact path. 9 rows: the 8-row tile and a 1-row tail. */
static void test_decode_special_scales(const sp_kernels *k) {
    static const uint16_t FINITE[] = {0x0001, 0x83ff, 0x0000, 0x8000, 0x7bff, 0xfbff, 0x0400, 0x3c00, 0x0200};
    sp_rng rng;
    sp_rng_seed(&rng, 11);
    static const uint32_t QT[] = {SP_DTYPE_Q8_0, SP_DTYPE_Q4_0, SP_DTYPE_Q5_0, SP_DTYPE_Q5_1};
    for (int q = 0; q < 4; q++) {
        const uint32_t t = QT[q];
        const int32_t rows = 9, cols = 64;
        test_mat m;
        if (!make_mat(&m, &rng, t, rows, cols)) { CHECK(!"oom"); return; }
        for (int32_t r = 0; r < rows; r++) { /* block r % 2 of row r gets special scale r */
            memcpy(m.data + (size_t)r * m.w.row_bytes + (size_t)(r % 2) * (m.w.row_bytes / 2), &FINITE[r], 2);
            for (int32_t c = 0; c < cols; c++) {
                m.deq[(size_t)r * cols + c] = decode(t, m.data + (size_t)r * m.w.row_bytes, c);
                m.ipart[(size_t)r * cols + c] = decode_ipart(t, m.data + (size_t)r * m.w.row_bytes, c);
            }
        }
        float x[64], y[9], y2[9];
        for (int i = 0; i < cols; i++) x[i] = sp_rng_normal(&rng);
        k->matvec_decode(y, x, &m.w, 0, rows, 0);
        for (int32_t r = 0; r < rows; r++) {
            double s = 0, a = 0;
            for (int c = 0; c < cols; c++) { s += x[c] * m.deq[r * cols + c]; a += fabs(x[c] * m.deq[r * cols + c]); }
            CHECK_MSG(isfinite(y[r]) && fabs(y[r] - s) <= x16_slack(k, t, x, m.ipart + r * cols, cols, 1) + 2e-5 * a + 1e-30,
                      "%s %s scale 0x%04x: row %d %g vs %g", k->isa, sp_dtype_name(t), FINITE[r], r, y[r], s);
        }
        k->matvec_decode(y2, x, &m.w, 0, 1, 1); /* row 0 alone: a 1-row tail, not the 8-row tile */
        k->matvec_decode(y2, x, &m.w, 1, rows, 1);
        CHECK_MSG(bits_equal(y2, y, (size_t)rows), "%s %s special scales: row split changes bits", k->isa, sp_dtype_name(t));
        CHECK(m.w.f16_finite == 1);
        /* f16_finite = 0 (unchecked data): the exact path, the same bits as the exact matmul */
        m.w.f16_finite = 0;
        k->matvec_decode(y, x, &m.w, 0, rows, 1);
        sp_kernels_exact(k)->matmul(y2, x, &m.w, 1, 0, rows);
        CHECK_MSG(bits_equal(y2, y, (size_t)rows), "%s %s unchecked scales: decode is not the exact path", k->isa, sp_dtype_name(t));
        const uint16_t inf = 0x7c00, nan = 0x7e00;
        memcpy(m.data + 5 * m.w.row_bytes, &inf, 2);
        memcpy(m.data + 6 * m.w.row_bytes + m.w.row_bytes / 2, &nan, 2);
        CHECK(sp_mat_check_f16(&m.w) == 0 && m.w.f16_finite == 0);
        for (int streams = 0; streams < 2; streams++) {
            k->matvec_decode(y, x, &m.w, 0, rows, streams);
            for (int32_t r = 0; r < rows; r++)
                CHECK_MSG((r == 5 || r == 6) ? !isfinite(y[r]) : isfinite(y[r]), "%s %s inf/nan scale: row %d gives %g", k->isa, sp_dtype_name(t), r, y[r]);
        }
        free_mat(&m);
    }
}

static void test_vectors(const sp_kernels *k) {
    sp_rng rng;
    sp_rng_seed(&rng, 3);
    static const int32_t LENS[] = {0, 1, 3, 4, 5, 8, 13, 33, 100};
    for (size_t li = 0; li < sizeof(LENS) / sizeof(LENS[0]); li++) {
        int32_t n = LENS[li];
        float *a = random_vec(&rng, (size_t)n), *b = random_vec(&rng, (size_t)n), *o = random_vec(&rng, (size_t)n);
        float *o0 = malloc(sizeof(float) * (size_t)(n ? n : 1));
        memcpy(o0, o, sizeof(float) * (size_t)n);
        double s = 0, sa = 0;
        for (int32_t i = 0; i < n; i++) { s += (double)a[i] * b[i]; sa += fabs((double)a[i] * b[i]); }
        CHECK_MSG(close_to(k->dot(a, b, n), s, sa), "%s dot n=%d", k->isa, n);
        k->axpy(o, 0.75f, a, n);
        int ok = 1;
        for (int32_t i = 0; i < n; i++) ok &= o[i] == o0[i] + 0.75f * a[i];
        CHECK_MSG(ok, "%s axpy n=%d", k->isa, n);
        free(a); free(b); free(o); free(o0);
    }
}

/* ---- quantizer round trip ---- */
static void test_quantize(void) {
    sp_rng rng;
    sp_rng_seed(&rng, 5);
    float src[64], back[64];
    uint8_t buf[256];
    for (int i = 0; i < 64; i++) src[i] = sp_rng_normal(&rng) * 0.1f;
    src[7] = 0.0f;
    for (int ti = 0; ti < N_TYPES; ti++) {
        uint32_t t = TYPES[ti];
        if (sp_dtype_row_bytes(t, 64) == 0) continue; /* K-quants: test_quantize_k */
        size_t nb = sp_quantize_row(t, buf, src, 64);
        CHECK(nb == sp_dtype_row_bytes(t, 64));
        sp_mat m = {t, 1, 64, nb, buf};
        sp_kernels_get(SP_ISA_SCALAR)->mat_row(back, &m, 0);
        double amax = 0;
        for (int i = 0; i < 64; i++) amax = fmax(amax, fabs(src[i]));
        for (int i = 0; i < 64; i++) {
            double tol = t == SP_DTYPE_F32 ? 0 : t == SP_DTYPE_F16 ? fabs(src[i]) / 1024 : t == SP_DTYPE_BF16 ? fabs(src[i]) / 128
                       : t == SP_DTYPE_Q8_0 ? amax / 127 / 2 * 1.01 : t == SP_DTYPE_Q5_0 ? amax / 16 * 1.01
                       : t == SP_DTYPE_Q5_1 ? amax / 31 * 1.05 : amax / 8 * 1.01;
            CHECK_MSG(fabs(back[i] - src[i]) <= tol, "%s round trip [%d] %g -> %g", sp_dtype_name(t), i, src[i], back[i]);
        }
    }
    CHECK(sp_quantize_row(SP_DTYPE_Q8_0, buf, src, 33) == 0);
    CHECK(sp_quantize_row(SP_DTYPE_UNKNOWN, buf, src, 32) == 0);
    float zeros[32] = {0};
    CHECK(sp_quantize_row(SP_DTYPE_Q4_0, buf, zeros, 32) == 18);
}

/* The test row shared with tests/lib/quant.js (kquant test): 512 values, exact in f32, with
 * sub-blocks of different offsets and spreads, one all-zero super-block half and one constant. */
static void kquant_row(float *x) {
    for (int i = 0; i < 512; i++) {
        const int k = (i * 7919) % 2003 - 1001, sub = i / 32;
        x[i] = (float)k / (float)(1024 << (sub % 4)) + (float)(sub % 5 - 2) * 0.125f;
    }
    for (int i = 256; i < 288; i++) x[i] = 0.0f;  /* a zero sub-block */
    for (int i = 288; i < 320; i++) x[i] = 0.75f; /* a constant one */
}

static uint32_t fnv1a(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

/* K-quant encoding: bytes equal to tests/lib/quant.js's (the same FNV-1a of the row's encoding in
 * both tests, so the two implementations of llama.cpp's reference quantizers agree byte for
 * byte); round-trip error within a few percent of the row's RMS and falling with the bits; an
 * all-zero super-block encodes to zeros. */
static void test_quantize_k(void) {
    static const uint32_t TK[3] = {SP_DTYPE_Q4_K, SP_DTYPE_Q5_K, SP_DTYPE_Q6_K};
    static const uint32_t HASH[3] = {0xe633e3f1u, 0xb08c3b8cu, 0x2b41c386u};
    static const double MAX_REL_RMS[3] = {0.06, 0.03, 0.016};
    float x[512], back[512];
    uint8_t buf[2 * 210];
    kquant_row(x);
    double rms = 0;
    for (int i = 0; i < 512; i++) rms += (double)x[i] * x[i];
    rms = sqrt(rms / 512);
    double prev = 1e9;
    for (int ti = 0; ti < 3; ti++) {
        const size_t nb = sp_quantize_row(TK[ti], buf, x, 512);
        CHECK(nb == sp_dtype_row_bytes(TK[ti], 512) && nb == 2 * (size_t)sp_dtype_get(TK[ti])->bytes);
        const uint32_t h = fnv1a(buf, nb);
        printf("%s fnv1a 0x%08x\n", sp_dtype_name(TK[ti]), h);
        CHECK_MSG(h == HASH[ti], "%s encoding differs from quant.js: fnv1a 0x%08x", sp_dtype_name(TK[ti]), h);
        sp_mat m = {TK[ti], 1, 512, nb, buf, 0};
        sp_kernels_get(SP_ISA_SCALAR)->mat_row(back, &m, 0);
        double e = 0;
        for (int i = 0; i < 512; i++) e += ((double)back[i] - x[i]) * ((double)back[i] - x[i]);
        e = sqrt(e / 512) / rms;
        printf("%s round trip: RMS error %.4f of the row's RMS\n", sp_dtype_name(TK[ti]), e);
        CHECK_MSG(e < MAX_REL_RMS[ti] && e < prev, "%s round trip RMS error %g", sp_dtype_name(TK[ti]), e);
        prev = e;
        for (int i = 256; i < 288; i++) CHECK_MSG(back[i] == 0.0f, "%s zero sub-block [%d] -> %g", sp_dtype_name(TK[ti]), i, back[i]);
        float zeros[256] = {0};
        CHECK(sp_quantize_row(TK[ti], buf, zeros, 256) == (size_t)sp_dtype_get(TK[ti])->bytes);
        sp_mat mz = {TK[ti], 1, 256, nb / 2, buf, 0};
        sp_kernels_get(SP_ISA_SCALAR)->mat_row(back, &mz, 0);
        int ok = 1;
        for (int i = 0; i < 256; i++) ok &= back[i] == 0.0f;
        CHECK_MSG(ok, "%s all-zero super-block", sp_dtype_name(TK[ti]));
        CHECK(sp_quantize_row(TK[ti], buf, x, 288) == 0); /* not a multiple of 256 */
    }
}

/* Q5_0 / Q5_1 encoding (ggml's reference quantizers): bytes equal to tests/lib/quant.js's (the same
 * FNV-1a in both tests), round-trip error below Q4_K's bound (test_quantize_k) and Q5_1 (with a
 * min) below Q5_0 on this row of offset sub-blocks; an all-zero block decodes to zeros. */
static void test_quantize_q5(void) {
    static const uint32_t TQ[2] = {SP_DTYPE_Q5_0, SP_DTYPE_Q5_1};
    static const uint32_t HASH[2] = {0x8eeb865bu, 0xd5c2a85cu};
    float x[512], back[512];
    uint8_t buf[16 * 24];
    kquant_row(x);
    double rms = 0, prev = 0.06;
    for (int i = 0; i < 512; i++) rms += (double)x[i] * x[i];
    rms = sqrt(rms / 512);
    for (int ti = 0; ti < 2; ti++) {
        const size_t nb = sp_quantize_row(TQ[ti], buf, x, 512);
        CHECK(nb == sp_dtype_row_bytes(TQ[ti], 512) && nb == 16 * (size_t)sp_dtype_get(TQ[ti])->bytes);
        const uint32_t h = fnv1a(buf, nb);
        printf("%s fnv1a 0x%08x\n", sp_dtype_name(TQ[ti]), h);
        CHECK_MSG(h == HASH[ti], "%s encoding differs from quant.js: fnv1a 0x%08x", sp_dtype_name(TQ[ti]), h);
        sp_mat m = {TQ[ti], 1, 512, nb, buf, 0};
        sp_kernels_get(SP_ISA_SCALAR)->mat_row(back, &m, 0);
        double e = 0;
        for (int i = 0; i < 512; i++) e += ((double)back[i] - x[i]) * ((double)back[i] - x[i]);
        e = sqrt(e / 512) / rms;
        printf("%s round trip: RMS error %.4f of the row's RMS\n", sp_dtype_name(TQ[ti]), e);
        CHECK_MSG(e < prev, "%s round trip RMS error %g", sp_dtype_name(TQ[ti]), e);
        prev = e;
        for (int i = 256; i < 288; i++) CHECK_MSG(back[i] == 0.0f, "%s zero block [%d] -> %g", sp_dtype_name(TQ[ti]), i, back[i]);
        for (int i = 288; i < 320; i++) CHECK_MSG(fabsf(back[i] - 0.75f) <= 0.75f / 1024, "%s constant block [%d] -> %g", sp_dtype_name(TQ[ti]), i, back[i]);
    }
}

static void test_probes(const sp_kernels *k) {
    double t0 = sp_now_ms(), t1 = sp_now_ms();
    CHECK(t1 >= t0 && t0 > 0);
    CHECK(sp_probe_peak_gflops(0.02) > 0);
    CHECK(sp_probe_copy_gbs(NULL, 1 << 20, 0.02) > 0);
    sp_pool *pool3 = sp_pool_create(3); /* slices of uneven length, every thread at once */
    CHECK(pool3 && sp_probe_copy_gbs(pool3, (1 << 20) + 64, 0.02) > 0);
    sp_pool_free(pool3);
    CHECK(sp_probe_read_gbs(1 << 20, 0.02) > 0);
    CHECK(sp_probe_read_gbs(100, 0.01) > 0); /* rounded up to a whole 64-byte line */
    CHECK(sp_bench_matmul_gflops(NULL, k, SP_DTYPE_Q8_0, 4, 32, 64, 0.01) > 0);
    CHECK(sp_bench_matmul_dx_gflops(NULL, k, SP_DTYPE_F16, 3, 17, 40, 0.01) > 0);
    CHECK(sp_bench_matmul_gflops(NULL, k, SP_DTYPE_Q4_0, 4, 32, 33, 0.01) < 0);
    CHECK(sp_bench_matmul_gflops(NULL, k, 11 /* Q3_K */, 4, 32, 256, 0.01) < 0);
    CHECK(sp_bench_matmul_gflops(NULL, k, SP_DTYPE_F32, 0, 32, 64, 0.01) < 0);
    CHECK(sp_bench_weight_bytes(SP_DTYPE_Q8_0, 2, 64) == 136);
}

#ifdef __wasm_simd128__
#include "kernels/wasmsimd.h"

/* y[b*ys] (b < nr) against (first ? 0 : y0) + the double dot of x with row b; rows past nr untouched. */
static void check_tile_rows(const char *name, const float *y, const float *y0, int32_t ys, int32_t nr, int32_t nmax, int first,
                            const float *x, const double *const *wd, int32_t len) {
    int ok = 1;
    for (int32_t b = 0; b < nmax; b++) {
        const float got = y[(size_t)b * ys];
        if (b >= nr) { ok &= memcmp(&got, &y0[(size_t)b * ys], 4) == 0; continue; }
        double s = 0, a = 0;
        for (int32_t k = 0; k < len; k++) { double p = (double)x[k] * wd[b][k]; s += p; a += fabs(p); }
        const double base = first ? 0.0 : y0[(size_t)b * ys];
        ok &= close_to(got, base + s, a + fabs(base));
    }
    CHECK_MSG(ok, "%s nr=%d len=%d first=%d", name, nr, len, first);
}

/* The wasm SIMD microkernels called directly, outside their drivers, against naive double loops
 * (and the SIMD dequantization against the scalar one, bit for bit): every tile size, leftover
 * rows (nr below the tile), lengths that are and are not multiples of 4, first = 0 and 1. */
static void test_microkernels(void) {
    sp_rng rng;
    sp_rng_seed(&rng, 5);
    static const int32_t LENS[] = {1, 3, 4, 5, 8, 33, 64};
    enum { LMAX = 64, LD = LMAX + 3 };
    float x[7 * LD], w[8][LD], y0[7 * 8 * 5], y[7 * 8 * 5];
    double wd[8][LD];
    for (int i = 0; i < 7 * LD; i++) x[i] = sp_rng_normal(&rng);
    for (int b = 0; b < 8; b++)
        for (int k = 0; k < LD; k++) { w[b][k] = sp_rng_normal(&rng); wd[b][k] = w[b][k]; }
    const double *wdp[8] = {wd[0], wd[1], wd[2], wd[3], wd[4], wd[5], wd[6], wd[7]};
    for (size_t li = 0; li < sizeof(LENS) / sizeof(LENS[0]); li++) {
        const int32_t len = LENS[li];
        for (int first = 0; first < 2; first++) {
            /* gemm 2x4 over n rows of x (ldx LD), y with ldy 5, W packed (rows past nr clamped as the
             * driver does); each row bit for bit the gemv 1x4 result on the same row (batch invariance) */
            for (int32_t n = 1; n <= 7; n++)
                for (int32_t nr = 1; nr <= 4; nr++) {
                    float wpk[LMAX * 4] __attribute__((aligned(16)));
                    const float *wr[4] = {w[0], w[imin(1, nr - 1)], w[imin(2, nr - 1)], w[imin(3, nr - 1)]};
                    sp_gemm_pack_f32_4_wasmsimd(wpk, wr, len);
                    for (int i = 0; i < 7 * 5; i++) y0[i] = y[i] = sp_rng_normal(&rng);
                    sp_gemm_f32_2x4_wasmsimd(y, 5, first, n, nr, x, LD, wpk, wr, len);
                    for (int32_t i = 0; i < n; i++) {
                        check_tile_rows("gemm_f32_2x4", y + i * 5, y0 + i * 5, 1, nr, 5, first, x + i * LD, wdp, len);
                        float g[4];
                        memcpy(g, y0 + i * 5, sizeof(g));
                        sp_gemv_f32_1x4_wasmsimd(g, first, nr, x + i * LD, wr[0], wr[1], wr[2], wr[3], len);
                        CHECK_MSG(memcmp(g, y + i * 5, (size_t)nr * 4) == 0, "gemm_f32_2x4 row %d != gemv_f32_1x4 (n=%d nr=%d len=%d)", i, n, nr, len);
                    }
                }
            /* gemv 1x4 (f32) and 8s */
            for (int32_t nr = 1; nr <= 4; nr++) {
                for (int i = 0; i < 8; i++) y0[i] = y[i] = sp_rng_normal(&rng);
                sp_gemv_f32_1x4_wasmsimd(y, first, nr, x, w[0], w[1], w[2], w[3], len);
                check_tile_rows("gemv_f32_1x4", y, y0, 1, nr, 4, first, x, wdp, len);
            }
            const float *ws[8] = {w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]};
            for (int i = 0; i < 8 * 3; i++) y0[i] = y[i] = sp_rng_normal(&rng);
            sp_gemv_f32_8s_wasmsimd(y, 3, first, x, ws, len);
            check_tile_rows("gemv_f32_8s", y, y0, 3, 8, 8, first, x, wdp, len);
        }
    }
    /* gemv 1x4 on encoded rows: Q8_0 / Q4_0 (nb blocks), F16 (both conversions) / BF16 */
    static const uint32_t ENC[] = {SP_DTYPE_Q8_0, SP_DTYPE_Q4_0, SP_DTYPE_F16, SP_DTYPE_BF16};
    typedef void (*gemvq_fn)(float *, int, int32_t, const float *, const uint8_t *, const uint8_t *, const uint8_t *,
                             const uint8_t *, int32_t);
    for (int e = 0; e < 4; e++) {
        const int32_t cols = 96;
        test_mat m;
        if (!make_mat(&m, &rng, ENC[e], 4, cols)) { CHECK(!"oom"); return; }
        const double *rows[4] = {m.deq, m.deq + cols, m.deq + 2 * cols, m.deq + 3 * cols};
        const uint8_t *p[4];
        for (int b = 0; b < 4; b++) p[b] = m.data + (size_t)b * m.w.row_bytes;
        float xe[96];
        for (int i = 0; i < cols; i++) xe[i] = sp_rng_normal(&rng);
        gemvq_fn fns[2] = {NULL, NULL};
        const char *names[2] = {"", ""};
        const int blocked = ENC[e] == SP_DTYPE_Q8_0 || ENC[e] == SP_DTYPE_Q4_0;
        if (ENC[e] == SP_DTYPE_Q8_0) { fns[0] = sp_gemv_q8_0_1x4_wasmsimd; names[0] = "gemv_q8_0_1x4"; }
        if (ENC[e] == SP_DTYPE_Q4_0) { fns[0] = sp_gemv_q4_0_1x4_wasmsimd; names[0] = "gemv_q4_0_1x4"; }
        if (ENC[e] == SP_DTYPE_BF16) { fns[0] = sp_gemv_bf16_1x4_wasmsimd; names[0] = "gemv_bf16_1x4"; }
        if (ENC[e] == SP_DTYPE_F16) {
            fns[0] = sp_gemv_f16_1x4_wasmsimd; names[0] = "gemv_f16_1x4";
            fns[1] = sp_gemv_f16_1x4_wasmsimd_finite; names[1] = "gemv_f16_1x4_finite";
        }
        for (int f = 0; f < 2 && fns[f]; f++)
            for (int first = 0; first < 2; first++)
                for (int32_t nr = 1; nr <= 4; nr++)
                    for (int32_t len = blocked ? 32 : 1; len <= cols; len += blocked ? 32 : 19) {
                        for (int i = 0; i < 4; i++) y0[i] = y[i] = sp_rng_normal(&rng);
                        fns[f](y, first, nr, xe, p[0], p[1], p[2], p[3], blocked ? len / 32 : len);
                        check_tile_rows(names[f], y, y0, 1, nr, 4, first, xe, rows, len);
                    }
        /* the SIMD dequantization equals the scalar one bit for bit */
        float a[96], b[96];
        for (int32_t r = 0; r < 4; r++) {
            sp_dequant_span_wasmsimd(a, p[r], ENC[e], 32, 64);
            sp_dequant_span_scalar(b, p[r], ENC[e], 32, 64);
            CHECK_MSG(bits_equal(a, b, 64), "dequant_span %s row %d", sp_dtype_name(ENC[e]), r);
        }
        free_mat(&m);
    }
    /* gemm_dx 2x16 over nt tiles: dx_a[16t + 0..16) += sum_r dy_a[r] * wt[r*ldw + 16t + 0..16), rows in order */
    for (int32_t nrows = 0; nrows <= 9; nrows += 3)
        for (int32_t nt = 1; nt <= 2; nt++) {
            float dx[2][32], dx0[2][32], dy[2][9], wt[9 * 35];
            for (int a = 0; a < 2; a++) for (int j = 0; j < 32; j++) dx0[a][j] = dx[a][j] = sp_rng_normal(&rng);
            for (int a = 0; a < 2; a++) for (int r = 0; r < 9; r++) dy[a][r] = sp_rng_normal(&rng);
            for (int i = 0; i < 9 * 35; i++) wt[i] = sp_rng_normal(&rng);
            sp_gemm_dx_f32_2x16_wasmsimd(dx[0], dx[1], dy[0], dy[1], wt, 35, nrows, nt);
            int ok = 1;
            for (int a = 0; a < 2; a++)
                for (int j = 0; j < 32; j++) {
                    float want = dx0[a][j]; /* the documented formula, in f32: bit for bit; columns past nt tiles untouched */
                    for (int r = 0; r < nrows && j < 16 * nt; r++) want += dy[a][r] * wt[r * 35 + j];
                    ok &= memcmp(&want, &dx[a][j], 4) == 0;
                }
            CHECK_MSG(ok, "gemm_dx_f32_2x16 nrows=%d nt=%d", nrows, nt);
        }
}
#endif


/* ---- the integer forward product (gemm_x16.c) ---- */

/* The 4 x 8 tile on random panels: the formula evaluated by a naive loop (i64 block sums, then
 * the f32 steps in the documented order), bit for bit, for the scalar reference and (wasm) the
 * SIMD variant; every mr, nr, first and mins. */
static void test_x16_tile(void) {
    sp_rng rng;
    sp_rng_seed(&rng, 21);
    const int32_t nb = 5, ldy = 10;
    int32_t xq[5 * 64];
    int16_t wq[5 * 256];
    float xs[5 * 8], ws[5 * 16];
    for (int i = 0; i < nb * 64; i++) {
        const int32_t lo = (int32_t)sp_rng_below(&rng, 65535) - 32767, hi = (int32_t)sp_rng_below(&rng, 65535) - 32767;
        xq[i] = (int32_t)(((uint32_t)hi << 16) | ((uint32_t)lo & 0xffffu));
    }
    for (int i = 0; i < nb * 256; i++) wq[i] = (int16_t)((int32_t)sp_rng_below(&rng, 8193) - 4096);
    for (int i = 0; i < nb * 8; i++) xs[i] = sp_rng_normal(&rng) * 1e-4f;
    for (int i = 0; i < nb * 16; i++) ws[i] = sp_rng_normal(&rng) * 1e-3f;
    for (int mins = 0; mins < 2; mins++)
        for (int first = 0; first < 2; first++)
            for (int32_t mr = 1; mr <= 4; mr++)
                for (int32_t nr = 1; nr <= 8; nr++) {
                    float y0[4 * ldy], want[4 * ldy], got[4 * ldy];
                    for (int i = 0; i < 4 * ldy; i++) y0[i] = sp_rng_normal(&rng);
                    memcpy(want, y0, sizeof(y0));
                    for (int32_t r = 0; r < mr; r++)
                        for (int32_t c = 0; c < nr; c++) {
                            float f = 0.0f;
                            for (int32_t b = 0; b < nb; b++) {
                                int64_t sum = 0;
                                for (int32_t j = 0; j < 32; j++) {
                                    const int32_t xw = xq[b * 64 + (j / 2) * 4 + r];
                                    const int16_t xv = (int16_t)(j % 2 ? (uint32_t)xw >> 16 : (uint32_t)xw & 0xffffu);
                                    sum += (int64_t)xv * wq[b * 256 + (j / 2) * 16 + (c / 4) * 8 + (c % 4) * 2 + j % 2];
                                }
                                CHECK(sum == (int64_t)(int32_t)sum);
                                f = f + (float)sum * (ws[b * 16 + c] * xs[b * 8 + r]);
                                if (mins) f = f - ws[b * 16 + 8 + c] * xs[b * 8 + 4 + r];
                            }
                            want[r * ldy + c] = first ? f : want[r * ldy + c] + f;
                        }
                    memcpy(got, y0, sizeof(y0));
                    sp_gemm_x16_4x8_scalar(got, ldy, first, mr, nr, xq, xs, wq, ws, nb, mins);
                    CHECK_MSG(bits_equal(got, want, 4 * ldy), "gemm_x16_4x8_scalar mr=%d nr=%d first=%d mins=%d", mr, nr, first, mins);
#ifdef __wasm_simd128__
                    memcpy(got, y0, sizeof(y0));
                    sp_gemm_x16_4x8_wasmsimd(got, ldy, first, mr, nr, xq, xs, wq, ws, nb, mins);
                    CHECK_MSG(bits_equal(got, want, 4 * ldy), "gemm_x16_4x8_wasmsimd mr=%d nr=%d first=%d mins=%d", mr, nr, first, mins);
#endif
                }
}

/* The whole product on every quantized type: within the stated bound of the exact product
 * (x16_bound), for the scalar path and (wasm) bit for bit equal to it on the SIMD path (W
 * panels packed by sp_pack_w_x16_wasmsimd, tiles by the SIMD tile); a row alone equals the
 * row in the batch; inf / nan in x take the exact path. */
static void test_x16_product(void) {
    sp_rng rng;
    sp_rng_seed(&rng, 23);
    static const uint32_t QT[] = {SP_DTYPE_Q8_0, SP_DTYPE_Q4_0, SP_DTYPE_Q5_0, SP_DTYPE_Q5_1, SP_DTYPE_Q4_K, SP_DTYPE_Q5_K, SP_DTYPE_Q6_K};
    static const int32_t SH[][3] = {{1, 5, 256}, {6, 9, 512}, {9, 4, 1280}}; /* n, rows, cols (1280: two KC chunks) */
    for (int ti = 0; ti < 7; ti++)
        for (int si = 0; si < 3; si++) {
            const uint32_t t = QT[ti];
            const int32_t n = SH[si][0], rows = SH[si][1], cols = SH[si][2];
            test_mat m;
            if (!make_mat(&m, &rng, t, rows, cols)) { CHECK(!"oom"); return; }
            float *x = random_vec(&rng, (size_t)n * cols), *y = malloc(sizeof(float) * n * rows), *y2 = malloc(sizeof(float) * n * rows);
            x[3] = 40.0f; /* one large value: its block's other values are rounded more coarsely */
            CHECK(sp_matmul_x16(y, x, &m.w, n, 0, rows, &sp_x16_ops_scalar) == 1);
            double worst = 0.0;
            for (int32_t i = 0; i < n; i++)
                for (int32_t r = 0; r < rows; r++) {
                    double ref = 0, a = 0;
                    for (int32_t c = 0; c < cols; c++) {
                        const double p = (double)x[(size_t)i * cols + c] * m.deq[(size_t)r * cols + c];
                        ref += p;
                        a += fabs(p);
                    }
                    const double bound = x16_bound(t, x + (size_t)i * cols, m.ipart + (size_t)r * cols, cols) + 2e-5 * a;
                    const double err = fabs(y[(size_t)i * rows + r] - ref);
                    CHECK_MSG(err <= bound, "x16 %s n=%d rows=%d cols=%d y[%d,%d]: error %.3g > bound %.3g", sp_dtype_name(t), n, rows, cols, i,
                              r, err, bound);
                    if (err / (a + 1e-30) > worst) worst = err / (a + 1e-30);
                }
            CHECK_MSG(worst > 0.0, "x16 %s: exactly the exact product, so x was not rounded", sp_dtype_name(t));
            for (int32_t i = 0; i < n; i++) { /* a row alone */
                sp_matmul_x16(y2, x + (size_t)i * cols, &m.w, 1, 0, rows, &sp_x16_ops_scalar);
                CHECK_MSG(bits_equal(y2, y + (size_t)i * rows, (size_t)rows), "x16 %s row %d alone differs", sp_dtype_name(t), i);
            }
#ifdef __wasm_simd128__
            sp_matmul_x16_wasmsimd(y2, x, &m.w, n, 0, rows);
            CHECK_MSG(bits_equal(y2, y, (size_t)n * rows), "x16 %s: SIMD differs from the scalar reference (n=%d rows=%d)", sp_dtype_name(t), n,
                      rows);
            {   /* the SIMD W panel equals the reference one */
                int16_t wa[16 * 256], wb[16 * 256];
                float sa[16 * 16], sb[16 * 16];
                const uint8_t *rp[8];
                for (int32_t c = 0; c < 8; c++) rp[c] = m.data + (size_t)(c < rows ? c : rows - 1) * m.w.row_bytes;
                const int32_t nbk = cols / 32 < 16 ? cols / 32 : 16;
                sp_pack_w_x16_scalar(wa, sa, rp, t, 0, nbk);
                sp_pack_w_x16_wasmsimd(wb, sb, rp, t, 0, nbk);
                CHECK_MSG(memcmp(wa, wb, sizeof(int16_t) * 256 * nbk) == 0 && memcmp(sa, sb, sizeof(float) * 16 * nbk) == 0,
                          "pack_w_x16 %s: SIMD panel differs", sp_dtype_name(t));
                int32_t xa[16 * 64], xb[16 * 64];
                const float qmax = (float)sp_x16_qmax(t);
                for (int32_t mr = 1; mr <= (n < 4 ? n : 4); mr++) { /* the SIMD X panel equals the reference one */
                    CHECK(sp_pack_x_x16_scalar(xa, sa, x, cols, mr, nbk, qmax) == 1 && sp_pack_x_x16_wasmsimd(xb, sb, x, cols, mr, nbk, qmax) == 1);
                    CHECK_MSG(memcmp(xa, xb, sizeof(int32_t) * 64 * nbk) == 0 && memcmp(sa, sb, sizeof(float) * 8 * nbk) == 0,
                              "pack_x_x16 %s mr=%d: SIMD panel differs", sp_dtype_name(t), mr);
                }
            }
#endif
            x[(size_t)(n - 1) * cols + 7] = NAN; /* the exact path: the nan reaches every row of that x row */
            CHECK(sp_matmul_x16(y, x, &m.w, n, 0, rows, &sp_x16_ops_scalar) == 0);
            free(x); free(y); free(y2);
            free_mat(&m);
        }
    CHECK(sp_matmul_x16_applies(SP_DTYPE_F32) == 0 && sp_matmul_x16_applies(SP_DTYPE_F16) == 0);
}

/* The largest integer sums a block can reach: Q6_K with every weight -4096 (scale -128, code 0)
 * against x all at its largest, and Q8_0 with -128 against 32767s: no i32 overflow, the exact
 * product within the bound. */
static void test_x16_extremes(void) {
    for (int q = 0; q < 2; q++) {
        const uint32_t t = q ? SP_DTYPE_Q8_0 : SP_DTYPE_Q6_K;
        const int32_t cols = 256;
        uint8_t row[256 / 32 * 34 > 210 ? 256 / 32 * 34 : 210];
        memset(row, 0, sizeof(row));
        const uint16_t one = 0x3c00; /* d = 1 */
        if (t == SP_DTYPE_Q6_K) {
            memset(row + offsetof(sp_block_q6_k, scales), 0x80, 16); /* sc = -128, codes 0: w = -128 * -32 = 4096 */
            memcpy(row + offsetof(sp_block_q6_k, d), &one, 2);
        } else {
            for (int b = 0; b < 8; b++) {
                memcpy(row + b * 34, &one, 2);
                memset(row + b * 34 + 2, 0x80, 32); /* -128 */
            }
        }
        sp_mat w = {t, 1, cols, sp_dtype_row_bytes(t, cols), row, 0};
        float x[256], y[1], ye[1];
        for (int i = 0; i < cols; i++) x[i] = 1.0f;
        CHECK(sp_matmul_x16(y, x, &w, 1, 0, 1, &sp_x16_ops_scalar) == 1);
        sp_matmul_scalar(ye, x, &w, 1, 0, 1);
        CHECK_MSG(fabsf(y[0] - ye[0]) <= 1e-5f * fabsf(ye[0]), "x16 %s extremes: %g vs exact %g", sp_dtype_name(t), y[0], ye[0]);
#ifdef __wasm_simd128__
        sp_matmul_x16_wasmsimd(y, x, &w, 1, 0, 1);
        CHECK_MSG(fabsf(y[0] - ye[0]) <= 1e-5f * fabsf(ye[0]), "x16 %s extremes (SIMD): %g vs exact %g", sp_dtype_name(t), y[0], ye[0]);
#endif
    }
}

/* Products sharing their input (sp_matmul_group), through a table with integer products: x rounded
 * once per rounding into one panel of exactly sp_matmul_panel_bytes must give, bit for bit, each
 * matrix's own k->matmul (which rounds x for itself) and sp_matvec_decode, on 1 and 2 threads,
 * with n not a multiple of 4, two KC chunks, Q6_K's own rounding before, between and after the
 * others', a type without integer products in the group, and inf / nan in x (all exact). */
static void test_matmul_group(const sp_kernels *k) {
    sp_rng rng;
    sp_rng_seed(&rng, 29);
    static const uint32_t G[][SP_GROUP_MAX] = {
        {SP_DTYPE_Q4_K, SP_DTYPE_Q4_K, SP_DTYPE_Q6_K}, /* Q4_K_M's q, k, v */
        {SP_DTYPE_Q6_K, SP_DTYPE_Q8_0, SP_DTYPE_F32},
        {SP_DTYPE_Q5_1, SP_DTYPE_Q6_K, SP_DTYPE_Q5_K},
        {SP_DTYPE_F16, SP_DTYPE_Q4_0, SP_DTYPE_Q5_0},
    };
    static const int32_t ROWS[SP_GROUP_MAX] = {40, 13, 24};
    const int32_t cols = 1280; /* two KC chunks, five Q4_K super-blocks */
    sp_pool *pools[2] = {sp_pool_create(1), sp_pool_create(2)};
    CHECK(pools[0] && pools[1]);
    if (!pools[0] || !pools[1]) return;
    for (size_t gi = 0; gi < sizeof(G) / sizeof(G[0]); gi++) {
        test_mat m[SP_GROUP_MAX];
        const sp_mat *ws[SP_GROUP_MAX];
        for (int i = 0; i < SP_GROUP_MAX; i++) {
            if (!make_mat(&m[i], &rng, G[gi][i], ROWS[i], cols)) { CHECK(!"oom"); return; }
            ws[i] = &m[i].w;
        }
        for (int32_t n = 1; n <= 29; n += 7) { /* 1, 8, 15, 22, 29 */
            float *want[SP_GROUP_MAX], *got[SP_GROUP_MAX];
            for (int i = 0; i < SP_GROUP_MAX; i++) {
                want[i] = malloc(sizeof(float) * (size_t)n * ROWS[i]);
                got[i] = malloc(sizeof(float) * (size_t)n * ROWS[i]);
            }
            float *x = random_vec(&rng, (size_t)n * cols);
            x[5] = 30.0f; /* a block rounded coarsely */
            void *panel = malloc(sp_matmul_panel_bytes(n, cols));
            for (int nan = 0; nan < 2; nan++) {
                if (nan) x[(size_t)(n - 1) * cols + 100] = n % 2 ? NAN : INFINITY;
                for (int i = 0; i < SP_GROUP_MAX; i++) k->matmul(want[i], x, ws[i], n, 0, ROWS[i]);
                for (int count = 1; count <= SP_GROUP_MAX; count++)
                    for (int p = 0; p < 2; p++) {
                        for (int i = 0; i < count; i++) memset(got[i], 0xff, sizeof(float) * (size_t)n * ROWS[i]);
                        sp_matmul_group(pools[p], k, got, x, ws, count, n, 0, panel);
                        for (int i = 0; i < count; i++)
                            CHECK_MSG(bits_equal(got[i], want[i], (size_t)n * ROWS[i]),
                                      "%s group %zu (%d of %d: %s) n=%d threads=%d nan=%d: differs from the matrix alone", k->isa, gi, i,
                                      count, sp_dtype_name(G[gi][i]), n, p + 1, nan);
                    }
            }
            if (n == 1) /* decoding a group wakes the pool once: each matrix's matvec_decode */
                for (int p = 0; p < 2; p++)
                    for (int streams = 0; streams < 2; streams++) {
                        for (int i = 0; i < SP_GROUP_MAX; i++) sp_matvec_decode(NULL, k, want[i], x, ws[i], streams);
                        sp_matmul_group(pools[p], k, got, x, ws, SP_GROUP_MAX, 1, 1 + streams, panel);
                        for (int i = 0; i < SP_GROUP_MAX; i++)
                            CHECK_MSG(bits_equal(got[i], want[i], (size_t)ROWS[i]), "%s group %zu decode (%d) threads=%d", k->isa, gi, i, p + 1);
                    }
            free(panel);
            free(x);
            for (int i = 0; i < SP_GROUP_MAX; i++) {
                free(want[i]);
                free(got[i]);
            }
        }
        for (int i = 0; i < SP_GROUP_MAX; i++) free_mat(&m[i]);
    }
    sp_pool_free(pools[0]);
    sp_pool_free(pools[1]);
}

/* The scalar table with the integer products switched on (the reference routines of gemm_x16.c):
 * sp_matmul_group's shared panel under the native build's sanitizers and threads. */
static sp_kernels scalar_x16_table(const sp_kernels *scalar) {
    sp_kernels t = *scalar;
    t.matmul = sp_matmul_x16_scalar;
    t.matmul_x16 = 1;
    t.x16 = &sp_x16_ops_scalar;
    return t;
}

/* The exact twin of each table: products without rounding x (the engine's "exact" option). */
static void test_exact_tables(void) {
    const sp_kernels *best = sp_kernels_get(SP_ISA_BEST), *ex = sp_kernels_exact(best), *scalar = sp_kernels_get(SP_ISA_SCALAR);
    CHECK(ex && ex->matmul_x16 == 0 && ex->decode_x16 == 0 && strcmp(ex->isa, best->isa) == 0);
    CHECK(sp_kernels_exact(scalar) == scalar && sp_kernels_exact(ex) == ex);
#ifdef __wasm_simd128__
    CHECK(best->matmul_x16 == 1 && best->decode_x16 == 1 && ex != best);
    test_matrix_kernels(ex, scalar);
#endif
}

int main(void) {
    const sp_kernels *scalar = sp_kernels_get(SP_ISA_SCALAR), *best = sp_kernels_get(SP_ISA_BEST);
    CHECK(scalar && best && strcmp(scalar->isa, "scalar") == 0 && scalar->decode_x16 == 0);
    CHECK(sp_kernels_get((sp_isa)99) == NULL);
#ifdef __wasm_simd128__
    const sp_kernels *simd = sp_kernels_get(SP_ISA_WASMSIMD);
    CHECK(simd && simd == best && strcmp(simd->isa, "wasmsimd") == 0);
#else
    CHECK(sp_kernels_get(SP_ISA_WASMSIMD) == NULL && best == scalar);
#endif
    test_matrix_kernels(scalar, NULL);
    test_vectors(scalar);
    test_special_weights(scalar);
    test_decode_special_x(scalar);
    test_decode_special_scales(scalar);
    test_threads(scalar);
    test_pool_churn();
    if (best != scalar) {
        test_matrix_kernels(best, scalar);
        test_vectors(best);
        test_special_weights(best);
        test_decode_special_x(best);
        test_decode_special_scales(best);
        test_threads(best);
    }
#ifdef __wasm_simd128__
    test_microkernels();
#endif
    test_x16_tile();
    test_x16_product();
    test_x16_extremes();
    const sp_kernels sx16 = scalar_x16_table(scalar);
    test_matmul_group(&sx16);
    if (best->x16) test_matmul_group(best);
    test_exact_tables();
    test_quantize();
    test_quantize_k();
    test_quantize_q5();
    test_probes(best);
    printf("tables tested: %s%s%s\n", scalar->isa, best != scalar ? "," : "", best != scalar ? best->isa : "");
    CHECK_DONE();
}
