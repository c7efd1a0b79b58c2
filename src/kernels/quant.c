/* quant.c - f32 rows to F16 / BF16 / Q8_0 / Q4_0 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K (for tests, benchmarks and
 * tools). The K-quants follow llama.cpp's reference quantizers (quantize_row_q{4,5,6}_K_ref: the
 * weighted min/scale search of make_qkx2_quants, make_qx_quants for Q6_K), in f32 with no FMA, so
 * that tests/lib/quant.js, which computes the same operations with Math.fround, writes the same
 * bytes. */
#include <math.h>
#include "kernels_impl.h"

static uint16_t f32_to_bf16(float f) {
    uint32_t u = sp_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

/* round to nearest (ties to even) for |f| < 2^22, by the 1.5 * 2^23 trick */
static int nearest_int(float f) {
    const float v = f + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Codes L[0..n) in [0, nmax] with x ~ scale * L - the_min, by a weighted least-squares search
 * over nstep+1 trial scales (llama.cpp make_qkx2_quants, squared error). Returns the scale. */
static float kx_quants(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min, float rmin, float rdelta,
                       int nstep) {
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min), scale = 1.0f / iscale, best = 0.0f;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
        const float diff = scale * (float)L[i] + min - x[i];
        best += w[i] * (diff * diff);
    }
    uint8_t Laux[32];
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D, this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0;
            for (int i = 0; i < n; i++) {
                const float diff = this_scale * (float)Laux[i] + this_min - x[i];
                err += w[i] * (diff * diff);
            }
            if (err < best) {
                memcpy(L, Laux, (size_t)n);
                best = err;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Q4_K (nmax 15) / Q5_K (nmax 31) super-block of 256 values into blk (llama.cpp quantize_row_q4_K_ref / q5_K_ref). */
static void quantize_k4(const float *x, uint8_t *blk, int q5) {
    const int nmax = q5 ? 31 : 15;
    uint8_t L[SP_QK_K];
    float scales[8], mins[8], w[32], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32.0f);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = kx_quants(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], q5 ? -0.5f : -1.0f, 0.1f, q5 ? 15 : 20);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    uint8_t *sc = blk + 4; /* scales[12]: 6-bit scale and min per sub-block (sp_k4_scale_min) */
    memset(sc, 0, 12);
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; j++) {
        int ls = (uint8_t)nearest_int(inv_scale * scales[j]), lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        if (j < 4) {
            sc[j] = (uint8_t)ls;
            sc[j + 4] = (uint8_t)lm;
        } else {
            sc[j + 4] = (uint8_t)((ls & 15) | ((lm & 15) << 4));
            sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    const uint16_t hd = sp_f32_to_f16(max_scale / 63.0f), hm = sp_f32_to_f16(max_min / 63.0f);
    memcpy(blk, &hd, 2);
    memcpy(blk + 2, &hm, 2);
    for (int j = 0; j < 8; j++) { /* the codes again, against the rounded scales */
        int32_t s, m;
        sp_k4_scale_min(j, sc, &s, &m);
        const float d = sp_half_to_f32(hd) * (float)s;
        if (d == 0.0f) continue;
        const float dm = sp_half_to_f32(hm) * (float)m;
        for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)clampi(nearest_int((x[32 * j + l] + dm) / d), 0, nmax);
    }
    uint8_t *qs = blk + (q5 ? offsetof(sp_block_q5_k, qs) : offsetof(sp_block_q4_k, qs)), *qh = blk + offsetof(sp_block_q5_k, qh);
    if (q5) memset(qh, 0, 32);
    for (int g = 0; g < 4; g++) /* sub-blocks 2g (low nibbles) and 2g+1 (high), fifth bits in qh bit 2g / 2g+1 */
        for (int l = 0; l < 32; l++) {
            int a = L[64 * g + l], b = L[64 * g + 32 + l];
            if (q5) {
                if (a > 15) { a -= 16; qh[l] |= (uint8_t)(1u << (2 * g)); }
                if (b > 15) { b -= 16; qh[l] |= (uint8_t)(2u << (2 * g)); }
            }
            qs[32 * g + l] = (uint8_t)(a | (b << 4));
        }
}

/* Codes L in [0, 2*nmax) with x ~ scale * (L - nmax), rmse-weighted by x^2 over 19 trial scales
 * (llama.cpp make_qx_quants, rmse_type 1). Returns the scale. */
static float qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q6_K super-block (llama.cpp quantize_row_q6_K_ref) */
static void quantize_q6_k(const float *x, uint8_t *blk) {
    int8_t L[SP_QK_K];
    float scales[16], max_scale = 0, max_abs = 0;
    for (int ib = 0; ib < 16; ib++) {
        scales[ib] = qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
        if (fabsf(scales[ib]) > max_abs) { max_abs = fabsf(scales[ib]); max_scale = scales[ib]; }
    }
    memset(blk, 0, sizeof(sp_block_q6_k));
    if (max_abs < 1e-15f) return; /* all zero: d = 0 */
    const float iscale = -128.0f / max_scale;
    const uint16_t hd = sp_f32_to_f16(1.0f / iscale);
    memcpy(blk + offsetof(sp_block_q6_k, d), &hd, 2);
    int8_t *sc = (int8_t *)(blk + offsetof(sp_block_q6_k, scales));
    for (int ib = 0; ib < 16; ib++) {
        const int v = nearest_int(iscale * scales[ib]);
        sc[ib] = (int8_t)(v < 127 ? v : 127);
    }
    for (int j = 0; j < 16; j++) {
        const float d = sp_half_to_f32(hd) * (float)sc[j];
        if (d == 0.0f) continue;
        for (int l = 0; l < 16; l++) L[16 * j + l] = (int8_t)(clampi(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
    }
    uint8_t *ql = blk, *qh = blk + offsetof(sp_block_q6_k, qh);
    for (int h = 0; h < 2; h++) /* the layout of sp_q6_k_code */
        for (int l = 0; l < 32; l++) {
            const int q1 = L[128 * h + l], q2 = L[128 * h + 32 + l], q3 = L[128 * h + 64 + l], q4 = L[128 * h + 96 + l];
            ql[64 * h + l] = (uint8_t)((q1 & 15) | ((q3 & 15) << 4));
            ql[64 * h + 32 + l] = (uint8_t)((q2 & 15) | ((q4 & 15) << 4));
            qh[32 * h + l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
        }
}

/* One Q5_0 / Q5_1 block of 32 values into blk (ggml quantize_row_q5_0_ref / q5_1_ref):
 *   Q5_0  max = the value of largest magnitude (sign kept), d = max/-16, q = min(31, trunc(x/d + 16.5))
 *   Q5_1  d = (max - min)/31, m = min, q = min(31, trunc((x - min)/d + 0.5))   (x/d: x * (1/d))
 * (Q5_1's clamp only guards a rounding ggml leaves to chance: (max - min) * (1/d) + 0.5 < 32). */
static void quantize_q5(const float *x, uint8_t *blk, int q51) {
    float d, min = 0.0f, bias = 16.5f;
    if (q51) {
        float max = x[0];
        min = x[0];
        for (int j = 1; j < SP_QK; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        d = (max - min) / 31.0f;
        bias = 0.5f;
    } else {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < SP_QK; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        d = max / -16.0f;
    }
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t hd = sp_f32_to_f16(d), hm = sp_f32_to_f16(min);
    uint8_t *qh = blk + (q51 ? offsetof(sp_block_q5_1, qh) : offsetof(sp_block_q5_0, qh)), *qs = qh + 4;
    memcpy(blk, &hd, 2);
    if (q51) memcpy(blk + 2, &hm, 2);
    memset(qh, 0, 4);
    for (int j = 0; j < SP_QK; j++) {
        const float a = (x[j] - min) * id + bias;
        const int q = a < 31.0f ? (a > 0.0f ? (int)a : 0) : 31;
        if (j < SP_QK / 2) qs[j] = (uint8_t)(q & 15);
        else qs[j - SP_QK / 2] |= (uint8_t)((q & 15) << 4);
        qh[j >> 3] |= (uint8_t)((q >> 4) << (j & 7));
    }
}

size_t sp_quantize_row(uint32_t t, void *dst, const float *src, int64_t n) {
    size_t bytes = sp_dtype_row_bytes(t, n);
    if (bytes == 0 || n <= 0) return 0;
    uint8_t *out = dst;
    switch (t) {
    case SP_DTYPE_F32:
        memcpy(out, src, (size_t)n * 4);
        break;
    case SP_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = sp_f32_to_f16(src[i]);
            memcpy(out + i * 2, &h, 2);
        }
        break;
    case SP_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = f32_to_bf16(src[i]);
            memcpy(out + i * 2, &h, 2);
        }
        break;
    case SP_DTYPE_Q8_0:
        for (int64_t b = 0; b < n / SP_QK; b++) {
            const float *x = src + b * SP_QK;
            sp_block_q8_0 blk;
            float amax = 0.0f;
            for (int j = 0; j < SP_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
            float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            blk.d = sp_f32_to_f16(d);
            for (int j = 0; j < SP_QK; j++) {
                float v = roundf(x[j] * id);
                blk.qs[j] = (int8_t)(v >= 127.0f ? 127 : v <= -127.0f ? -127 : v == v ? (int)v : 0);
            }
            memcpy(out + b * sizeof(blk), &blk, sizeof(blk));
        }
        break;
    case SP_DTYPE_Q4_0:
        for (int64_t b = 0; b < n / SP_QK; b++) {
            const float *x = src + b * SP_QK;
            sp_block_q4_0 blk;
            float amax = 0.0f, max = 0.0f;
            for (int j = 0; j < SP_QK; j++) {
                if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
            }
            float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            blk.d = sp_f32_to_f16(d);
            for (int j = 0; j < SP_QK / 2; j++) {
                float a = x[j] * id + 8.5f, c = x[j + SP_QK / 2] * id + 8.5f;
                int qa = a < 15.0f ? (int)a : 15, qc = c < 15.0f ? (int)c : 15;
                if (qa < 0) qa = 0;
                if (qc < 0) qc = 0;
                blk.qs[j] = (uint8_t)(qa | (qc << 4));
            }
            memcpy(out + b * sizeof(blk), &blk, sizeof(blk));
        }
        break;
    case SP_DTYPE_Q5_0:
    case SP_DTYPE_Q5_1: {
        const size_t bs = (size_t)sp_dtype_get(t)->bytes;
        for (int64_t b = 0; b < n / SP_QK; b++) quantize_q5(src + b * SP_QK, out + b * bs, t == SP_DTYPE_Q5_1);
        break;
    }
    case SP_DTYPE_Q4_K:
    case SP_DTYPE_Q5_K:
    case SP_DTYPE_Q6_K: {
        const size_t bs = sp_dtype_get(t)->bytes;
        for (int64_t b = 0; b < n / SP_QK_K; b++) {
            if (t == SP_DTYPE_Q6_K) quantize_q6_k(src + b * SP_QK_K, out + b * bs);
            else quantize_k4(src + b * SP_QK_K, out + b * bs, t == SP_DTYPE_Q5_K);
        }
        break;
    }
    default:
        return 0;
    }
    return bytes;
}

size_t sp_random_row_kquant(uint32_t t, void *dst, int64_t n, sp_rng *rng, float amp) {
    const size_t bytes = sp_dtype_row_bytes(t, n);
    if (bytes == 0 || n <= 0 || (t != SP_DTYPE_Q4_K && t != SP_DTYPE_Q5_K && t != SP_DTYPE_Q6_K)) return 0;
    uint8_t *out = dst;
    for (size_t i = 0; i < bytes; i += 4) { /* every code, sub-scale and min uniform */
        const uint32_t r = sp_rng_u32(rng);
        memcpy(out + i, &r, bytes - i < 4 ? bytes - i : 4);
    }
    const size_t bs = (size_t)sp_dtype_get(t)->bytes;
    /* mean |sub-scale * code| ~ 31.5 * 7.5 (Q4_K), 31.5 * 15.5 (Q5_K), 64 * 16 (Q6_K); the mins
     * (dmin * m, m ~ 31.5) centre the Q4_K / Q5_K values on zero */
    const float q = t == SP_DTYPE_Q4_K ? 7.5f : 15.5f;
    const uint16_t d = sp_f32_to_f16(t == SP_DTYPE_Q6_K ? amp / 1024.0f : amp / (31.5f * q)), dmin = sp_f32_to_f16(amp / 31.5f);
    for (size_t b = 0; b < bytes; b += bs) {
        if (t == SP_DTYPE_Q6_K) {
            memcpy(out + b + offsetof(sp_block_q6_k, d), &d, 2);
        } else {
            memcpy(out + b, &d, 2);
            memcpy(out + b + 2, &dmin, 2);
        }
    }
    return bytes;
}
