/* gemm_x16.c - the forward product Y = X·Wᵀ on quantized weights with integer dot products
 * (matmul of the wasmsimd table; kernels.h, "matmul_x16"): the driver and the packing, shared by
 * the two ISAs, which differ only in the 4 x 8 tile and the packing routines they are handed
 * (sp_x16_ops: gemm_x16_scalar.c, gemm_x16_wasmsimd.c).
 *
 * X is rounded per row and block of 32 values to 16-bit integers: xq = round(x / sx),
 * sx = amax / qmax (|x - sx*xq| <= sx/2). The weights of a block become 16-bit integers too,
 * with one f32 scale per row and block (and a min term for Q4_K / Q5_K / Q5_1):
 *   Q8_0  q,              scale d            Q4_0  q - 8,           scale d
 *   Q5_0  q - 16,         scale d            Q5_1  q,               scale d, min -m
 *   Q4_K  sc*q (<= 945),  scale d, min dmin*m    Q5_K  sc*q (<= 1953), scale d, min dmin*m
 *   Q6_K  sc*(q-32) (|.| <= 4096), scale d
 * (the same real values as dequant_scalar.c: d*(sc*q) = (d*sc)*q exactly). A block's sum of
 * products is exact in i32: 32 * |w| * qmax < 2^31, so qmax is 32767, and 16383 for Q6_K.
 * Per output element and block: f = f + (f32)isum * (dw * sx), then f = f - mw * sum(x) where
 * there is a min; per KC block y (first ? = : +=) f. One formula whatever the tile or n: a row
 * alone is bitwise equal to the same row in a batch, and results do not depend on threads.
 *
 * Layouts ("kp" is a pair of columns):
 *   X panel, all of x (n, K) packed once (sp_x16_pack; sp_matmul_group shares it between the
 *            products of one input), per group of 4 rows of X, nbk = K/32 blocks:
 *            xq int32 [nbk][16 kp][4 rows] (two i16, low = even column), then
 *            xs f32 [nbk][8] = sx of rows 0..3, then sum(x) of rows 0..3 (rows past n: 0; the sum in
 *            the order of block_sum)
 *   W panel, per KC chunk (nb = len/32 blocks) and tile of 8 rows of W:
 *            wq int16 [nb][16 kp][2 halves][4 rows][2], ws f32 [nb][16] = scale of rows 0..7, then
 *            min of rows 0..7
 * so that one i32x4.dot_i16x8_s of a W vector (4 rows x 2 columns) with the broadcast column pair
 * of one row of X gives that row's partial sums for the four rows of W, lane by lane. */
#include <math.h>
#include <stdlib.h>
#include "kernels_impl.h"

#define X16_KC SP_FW_KC
/* bytes of one block of one 4-row group of an X panel: 64 int32 of xq, 8 floats of xs */
#define X16_GROUP_BLOCK_BYTES (64 * 4 + 8 * 4)

int sp_matmul_x16_applies(uint32_t type) {
    return type == SP_DTYPE_Q8_0 || type == SP_DTYPE_Q4_0 || type == SP_DTYPE_Q5_0 || type == SP_DTYPE_Q5_1 ||
           type == SP_DTYPE_Q4_K || type == SP_DTYPE_Q5_K || type == SP_DTYPE_Q6_K;
}

int32_t sp_x16_qmax(uint32_t type) { return type == SP_DTYPE_Q6_K ? 16383 : 32767; }

/* Block s (32 values from column 32s) of one weight row as 16-bit integers, its scale and min. */
static void unpack_block(int16_t *q, float *scale, float *min, const uint8_t *row, uint32_t type, int32_t s) {
    uint16_t h;
    *min = 0.0f;
    switch (type) {
    case SP_DTYPE_Q8_0: {
        const uint8_t *blk = row + (size_t)s * sizeof(sp_block_q8_0);
        memcpy(&h, blk, 2);
        *scale = sp_half_to_f32(h);
        for (int32_t j = 0; j < SP_QK; j++) q[j] = (int8_t)blk[2 + j];
        break;
    }
    case SP_DTYPE_Q4_0: {
        const uint8_t *blk = row + (size_t)s * sizeof(sp_block_q4_0);
        memcpy(&h, blk, 2);
        *scale = sp_half_to_f32(h);
        for (int32_t j = 0; j < SP_QK / 2; j++) {
            q[j] = (int16_t)((blk[2 + j] & 15) - 8);
            q[j + SP_QK / 2] = (int16_t)((blk[2 + j] >> 4) - 8);
        }
        break;
    }
    case SP_DTYPE_Q5_0:
    case SP_DTYPE_Q5_1: {
        const int q51 = type == SP_DTYPE_Q5_1;
        const uint8_t *blk = row + (size_t)s * (q51 ? sizeof(sp_block_q5_1) : sizeof(sp_block_q5_0));
        const uint8_t *qh = blk + (q51 ? offsetof(sp_block_q5_1, qh) : offsetof(sp_block_q5_0, qh));
        memcpy(&h, blk, 2);
        *scale = sp_half_to_f32(h);
        if (q51) { /* x = d*q + m: the min term subtracts -m */
            memcpy(&h, blk + 2, 2);
            *min = -sp_half_to_f32(h);
        }
        for (int32_t j = 0; j < SP_QK; j++) q[j] = (int16_t)(sp_q5_code(qh, qh + 4 /* qs */, j) - (q51 ? 0 : 16));
        break;
    }
    case SP_DTYPE_Q4_K:
    case SP_DTYPE_Q5_K: {
        const int q5 = type == SP_DTYPE_Q5_K;
        const uint8_t *blk = row + (size_t)(s / 8) * (q5 ? sizeof(sp_block_q5_k) : sizeof(sp_block_q4_k));
        const int32_t j = s % 8, shift = 4 * (j & 1);
        const uint8_t *qs = blk + (q5 ? offsetof(sp_block_q5_k, qs) : offsetof(sp_block_q4_k, qs)) + 32 * (j / 2);
        const uint8_t *qh = blk + offsetof(sp_block_q5_k, qh);
        int32_t sc, m;
        uint16_t dmin;
        sp_k4_scale_min(j, blk + 4, &sc, &m);
        memcpy(&h, blk, 2);
        memcpy(&dmin, blk + 2, 2);
        *scale = sp_half_to_f32(h);
        *min = sp_half_to_f32(dmin) * (float)m;
        for (int32_t l = 0; l < SP_QK; l++) {
            const int32_t v = ((qs[l] >> shift) & 15) | (q5 ? ((qh[l] >> j) & 1) << 4 : 0);
            q[l] = (int16_t)(sc * v);
        }
        break;
    }
    case SP_DTYPE_Q6_K: {
        const uint8_t *blk = row + (size_t)(s / 8) * sizeof(sp_block_q6_k);
        const int32_t j = s % 8;
        memcpy(&h, blk + offsetof(sp_block_q6_k, d), 2);
        *scale = sp_half_to_f32(h);
        const int8_t *scs = (const int8_t *)(blk + offsetof(sp_block_q6_k, scales));
        for (int32_t l = 0; l < SP_QK; l++) {
            const int32_t v = 32 * j + l, sub = 8 * (v >> 7) + 2 * ((v >> 5) & 3) + ((v >> 4) & 1);
            q[l] = (int16_t)(scs[sub] * (sp_q6_k_code(blk, v) - 32));
        }
        break;
    }
    default:
        memset(q, 0, SP_QK * sizeof(int16_t));
        *scale = 0.0f;
        break;
    }
}

/* The W panel of rows w[0..8) (any valid rows), columns [k0, k0 + 32 nb): the reference. */
void sp_pack_w_x16_scalar(int16_t *wq, float *ws, const uint8_t *const *rows, uint32_t type, int32_t k0, int32_t nb) {
    int16_t q[SP_QK];
    for (int32_t b = 0; b < nb; b++) {
        int16_t *wb = wq + (size_t)b * 256;
        for (int32_t c = 0; c < 8; c++) {
            unpack_block(q, ws + b * 16 + c, ws + b * 16 + 8 + c, rows[c], type, k0 / SP_QK + b);
            for (int32_t kp = 0; kp < 16; kp++) {
                wb[kp * 16 + (c / 4) * 8 + (c % 4) * 2] = q[2 * kp];
                wb[kp * 16 + (c / 4) * 8 + (c % 4) * 2 + 1] = q[2 * kp + 1];
            }
        }
    }
}

/* The sum of a block of 32 values in the order of the SIMD lanes: lane i adds values i, i+4, ..,
 * i+28 as ((v0+v1)+(v2+v3))+((v4+v5)+(v6+v7)) over the eight vectors, then (l0+l2)+(l1+l3). */
static float block_sum(const float *v) {
    float l[4];
    for (int32_t i = 0; i < 4; i++)
        l[i] = ((v[i] + v[4 + i]) + (v[8 + i] + v[12 + i])) + ((v[16 + i] + v[20 + i]) + (v[24 + i] + v[28 + i]));
    return (l[0] + l[2]) + (l[1] + l[3]);
}

/* The X panel of rows x_r = x + r*ldx, r < mr (<= 4; rows past mr are zeros), columns [0, 32 nb):
 * the reference. Returns 0 if a value is inf or nan or a block's sum overflows (the caller then
 * takes the exact path, which propagates them). */
int sp_pack_x_x16_scalar(int32_t *xq, float *xs, const float *x, int32_t ldx, int32_t mr, int32_t nb, float qmax) {
    for (int32_t b = 0; b < nb; b++) {
        int32_t *xb = xq + (size_t)b * 64;
        for (int32_t r = 0; r < 4; r++) {
            float amax = 0.0f, sum = 0.0f;
            const float *v = x + (size_t)r * ldx + (size_t)b * SP_QK;
            if (r < mr) {
                for (int32_t j = 0; j < SP_QK; j++) {
                    const float a = fabsf(v[j]);
                    amax = a > amax ? a : amax;
                }
                sum = block_sum(v);
            }
            if (!(amax <= 3.0e38f) || sum - sum != 0.0f) return 0; /* inf or nan (a nan skips the max, not the sum) */
            const float id = amax > 0.0f ? qmax / amax : 0.0f;
            xs[b * 8 + r] = amax / qmax;
            xs[b * 8 + 4 + r] = sum;
            for (int32_t kp = 0; kp < 16; kp++) {
                int32_t lo = 0, hi = 0;
                if (id > 0.0f) {
                    lo = (int32_t)nearbyintf(v[2 * kp] * id);
                    hi = (int32_t)nearbyintf(v[2 * kp + 1] * id);
                }
                xb[kp * 4 + r] = (int32_t)(((uint32_t)hi << 16) | ((uint32_t)lo & 0xffffu));
            }
        }
    }
    return 1;
}

size_t sp_matmul_panel_bytes(int32_t n, int32_t cols) {
    return n > 0 && cols >= SP_QK ? (size_t)((n + 3) / 4) * (size_t)(cols / SP_QK) * X16_GROUP_BLOCK_BYTES : 0;
}

/* Where group g of the X panel of x (n, cols) starts: its xq, then its xs */
static size_t group_offset(int32_t cols, int32_t g) { return (size_t)g * (size_t)(cols / SP_QK) * X16_GROUP_BLOCK_BYTES; }

int sp_x16_pack(void *panel, const float *x, int32_t n, int32_t cols, int32_t g0, int32_t g1, int32_t qmax, const sp_x16_ops *ops) {
    const int32_t nbk = cols / SP_QK;
    for (int32_t g = g0; g < g1; g++) {
        int32_t *xq = (int32_t *)((char *)panel + group_offset(cols, g));
        const int32_t mr = n - 4 * g < 4 ? n - 4 * g : 4;
        if (!ops->pack_x(xq, (float *)(xq + (size_t)nbk * 64), x + (size_t)4 * g * cols, cols, mr, nbk, (float)qmax)) return 0;
    }
    return 1;
}

void sp_x16_panel_matmul(float *y, const void *panel, const sp_mat *w, int32_t n, int32_t row0, int32_t row1, const sp_x16_ops *ops) {
    const int32_t K = w->cols, nbk = K / SP_QK, ldy = w->rows, groups = (n + 3) / 4;
    const int mins = w->type == SP_DTYPE_Q4_K || w->type == SP_DTYPE_Q5_K || w->type == SP_DTYPE_Q5_1;
    int16_t wq[X16_KC / SP_QK * 256] __attribute__((aligned(16)));
    float ws[X16_KC / SP_QK * 16] __attribute__((aligned(16)));
    for (int32_t k0 = 0; k0 < K; k0 += X16_KC) {
        const int32_t len = K - k0 < X16_KC ? K - k0 : X16_KC, nb = len / SP_QK, b0 = k0 / SP_QK;
        for (int32_t r = row0; r < row1; r += 8) {
            const int32_t nr = row1 - r < 8 ? row1 - r : 8;
            const uint8_t *rows[8];
            for (int32_t c = 0; c < 8; c++) rows[c] = sp_mat_row_ptr(w, r + (c < nr ? c : nr - 1)); /* clamped */
            ops->pack_w(wq, ws, rows, w->type, k0, nb);
            for (int32_t g = 0; g < groups; g++) {
                const int32_t mr = n - 4 * g < 4 ? n - 4 * g : 4;
                const int32_t *xq = (const int32_t *)((const char *)panel + group_offset(K, g));
                ops->tile(y + (size_t)4 * g * ldy + r, ldy, k0 == 0, mr, nr, xq + (size_t)b0 * 64, (const float *)(xq + (size_t)nbk * 64) + (size_t)b0 * 8,
                          wq, ws, nb, mins);
            }
        }
    }
}

int sp_matmul_x16(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1, const sp_x16_ops *ops) {
    if (!sp_matmul_x16_applies(w->type) || n <= 0) return 0;
    void *panel = malloc(sp_matmul_panel_bytes(n, w->cols));
    if (!panel) return 0;
    const int ok = sp_x16_pack(panel, x, n, w->cols, 0, (n + 3) / 4, sp_x16_qmax(w->type), ops);
    if (ok) sp_x16_panel_matmul(y, panel, w, n, row0, row1, ops);
    free(panel);
    return ok;
}
