/* quant.c - f32 rows to F16 / BF16 / Q8_0 / Q4_0 (for tests, benchmarks and tools). */
#include <math.h>
#include "kernels_impl.h"

static uint16_t f32_to_bf16(float f) {
    uint32_t u = sp_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
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
    default:
        return 0;
    }
    return bytes;
}
