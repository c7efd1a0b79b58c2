/* dequant_wasmsimd.c - weight rows to f32 (mat_row and the tiles of the products), wasm SIMD128.
 * Exact conversions: the same f32 values as dequant_scalar.c. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

/* out[0..len) = cols [c0, c0+len) of a weight row as f32 (quantized: c0, len multiples of 32). */
void sp_dequant_span_wasmsimd(float *out, const uint8_t *row, uint32_t type, int32_t c0, int32_t len) {
    int32_t j = 0;
    switch (type) {
    case SP_DTYPE_F32: {
        const uint8_t *p = row + (size_t)c0 * 4;
        for (; j + 4 <= len; j += 4) wasm_v128_store(out + j, wasm_v128_load(p + (size_t)j * 4));
        for (; j < len; j++) memcpy(out + j, p + (size_t)j * 4, 4);
        break;
    }
    case SP_DTYPE_F16: {
        const uint8_t *p = row + (size_t)c0 * 2;
        const f16_consts fc = f16_consts_make();
        for (; j + 8 <= len; j += 8) {
            v128_t v = wasm_v128_load(p + (size_t)j * 2);
            wasm_v128_store(out + j, f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(v), &fc));
            wasm_v128_store(out + j + 4, f16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(v), &fc));
        }
        for (; j < len; j++) {
            uint16_t h;
            memcpy(&h, p + (size_t)j * 2, 2);
            out[j] = sp_half_to_f32(h);
        }
        break;
    }
    case SP_DTYPE_BF16: {
        const uint8_t *p = row + (size_t)c0 * 2;
        for (; j + 8 <= len; j += 8) {
            v128_t v = wasm_v128_load(p + (size_t)j * 2);
            wasm_v128_store(out + j, wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(v), 16));
            wasm_v128_store(out + j + 4, wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(v), 16));
        }
        for (; j < len; j++) {
            uint16_t h;
            memcpy(&h, p + (size_t)j * 2, 2);
            out[j] = sp_bits_f32((uint32_t)h << 16);
        }
        break;
    }
    case SP_DTYPE_Q8_0: {
        const uint8_t *blk = row + (size_t)(c0 / SP_QK) * sizeof(sp_block_q8_0);
        v128_t flip = wasm_i8x16_splat((int8_t)0x80), sub = wasm_f32x4_splat(SP_MAGIC + 128.0f); /* q + 128 */
        v128_t hi16 = wasm_i16x8_splat(0x4B00);
        OPAQUE(flip); OPAQUE(sub); OPAQUE(hi16);
        for (; j < len; j += SP_QK, blk += sizeof(sp_block_q8_0)) {
            uint16_t h;
            memcpy(&h, blk, 2);
            v128_t d = wasm_f32x4_splat(sp_half_to_f32(h));
            u8x16_to_f32(out + j, wasm_v128_xor(wasm_v128_load(blk + 2), flip), sub, d, hi16);
            u8x16_to_f32(out + j + 16, wasm_v128_xor(wasm_v128_load(blk + 18), flip), sub, d, hi16);
        }
        break;
    }
    case SP_DTYPE_Q4_0: { /* Q8_0's block walk above, with the 4-bit unpack (nibble - 8) */
        const uint8_t *blk = row + (size_t)(c0 / SP_QK) * sizeof(sp_block_q4_0);
        v128_t m4 = wasm_i8x16_splat(15), sub = wasm_f32x4_splat(SP_MAGIC + 8.0f);
        v128_t hi16 = wasm_i16x8_splat(0x4B00);
        OPAQUE(m4); OPAQUE(sub); OPAQUE(hi16);
        for (; j < len; j += SP_QK, blk += sizeof(sp_block_q4_0)) {
            uint16_t h;
            memcpy(&h, blk, 2);
            v128_t d = wasm_f32x4_splat(sp_half_to_f32(h));
            v128_t v = wasm_v128_load(blk + 2);
            u8x16_to_f32(out + j, wasm_v128_and(v, m4), sub, d, hi16);
            u8x16_to_f32(out + j + 16, wasm_u8x16_shr(v, 4), sub, d, hi16);
        }
        break;
    }
    case SP_DTYPE_Q5_0:
    case SP_DTYPE_Q5_1: { /* Q4_0's walk plus the fifth bits: d*(q-16), or q*d - (-m) = d*q + m */
        const int q51 = type == SP_DTYPE_Q5_1;
        const size_t bs = q51 ? sizeof(sp_block_q5_1) : sizeof(sp_block_q5_0);
        const size_t oh = q51 ? offsetof(sp_block_q5_1, qh) : offsetof(sp_block_q5_0, qh);
        const uint8_t *blk = row + (size_t)(c0 / SP_QK) * bs;
        v128_t m4 = wasm_i8x16_splat(15), b16 = wasm_i8x16_splat(16), bits = Q5_BITS_MAKE();
        v128_t sub = wasm_f32x4_splat(SP_MAGIC + 16.0f), magic = wasm_f32x4_splat(SP_MAGIC), hi16 = wasm_i16x8_splat(0x4B00);
        OPAQUE(m4); OPAQUE(b16); OPAQUE(bits); OPAQUE(sub); OPAQUE(magic); OPAQUE(hi16);
        for (; j < len; j += SP_QK, blk += bs) {
            uint16_t h, hm;
            memcpy(&h, blk, 2);
            v128_t hb0, hb1;
            q5_high_bits(&hb0, &hb1, blk + oh, bits, b16);
            const v128_t v = wasm_v128_load(blk + oh + 4), d = wasm_f32x4_splat(sp_half_to_f32(h));
            const v128_t u0 = wasm_v128_or(wasm_v128_and(v, m4), hb0), u1 = wasm_v128_or(wasm_u8x16_shr(v, 4), hb1);
            if (q51) {
                memcpy(&hm, blk + 2, 2);
                const v128_t m = wasm_f32x4_splat(-sp_half_to_f32(hm));
                u8x16_to_f32_dm(out + j, u0, magic, d, m, hi16);
                u8x16_to_f32_dm(out + j + 16, u1, magic, d, m, hi16);
            } else {
                u8x16_to_f32(out + j, u0, sub, d, hi16);
                u8x16_to_f32(out + j + 16, u1, sub, d, hi16);
            }
        }
        break;
    }
    case SP_DTYPE_Q4_K:
    case SP_DTYPE_Q5_K: {
        const int q5 = type == SP_DTYPE_Q5_K;
        const size_t bytes = q5 ? sizeof(sp_block_q5_k) : sizeof(sp_block_q4_k);
        v128_t m4 = wasm_i8x16_splat(15), one = wasm_i8x16_splat(1), magic = wasm_f32x4_splat(SP_MAGIC);
        v128_t hi16 = wasm_i16x8_splat(0x4B00);
        OPAQUE(m4); OPAQUE(one); OPAQUE(magic); OPAQUE(hi16);
        for (int32_t s = c0 / SP_QK; s < (c0 + len) / SP_QK; s++, j += SP_QK) { /* sub-block s of the row */
            const uint8_t *blk = row + (size_t)(s / 8) * bytes;
            const int32_t sb = s % 8;
            const uint8_t *qs = blk + (q5 ? offsetof(sp_block_q5_k, qs) : offsetof(sp_block_q4_k, qs)) + 32 * (sb / 2);
            float d1, m1;
            sp_k4_sub_scales(blk, sb, &d1, &m1);
            const v128_t d = wasm_f32x4_splat(d1), m = wasm_f32x4_splat(m1);
            for (int32_t h = 0; h < SP_QK; h += 16) {
                v128_t v = wasm_v128_load(qs + h);
                v = sb & 1 ? wasm_u8x16_shr(v, 4) : wasm_v128_and(v, m4);
                if (q5) {
                    const v128_t hb = wasm_v128_and(wasm_u8x16_shr(wasm_v128_load(blk + offsetof(sp_block_q5_k, qh) + h), sb), one);
                    v = wasm_v128_or(v, wasm_i8x16_shl(hb, 4));
                }
                u8x16_to_f32_dm(out + j + h, v, magic, d, m, hi16);
            }
        }
        break;
    }
    case SP_DTYPE_Q6_K: {
        v128_t m4 = wasm_i8x16_splat(15), m3 = wasm_i8x16_splat(3), sub = wasm_f32x4_splat(SP_MAGIC + 32.0f);
        v128_t hi16 = wasm_i16x8_splat(0x4B00);
        OPAQUE(m4); OPAQUE(m3); OPAQUE(sub); OPAQUE(hi16);
        for (int32_t s = c0 / SP_QK; s < (c0 + len) / SP_QK; s++, j += SP_QK) {
            const uint8_t *blk = row + (size_t)(s / 8) * sizeof(sp_block_q6_k);
            const int32_t sb = s % 8, half = sb / 4, k = sb % 4; /* values 128*half + 32*k + l, l < 32 */
            const uint8_t *ql = blk + 64 * half + 32 * (k & 1), *qh = blk + offsetof(sp_block_q6_k, qh) + 32 * half;
            for (int32_t h = 0; h < SP_QK; h += 16) {
                v128_t lo = wasm_v128_load(ql + h);
                lo = k < 2 ? wasm_v128_and(lo, m4) : wasm_u8x16_shr(lo, 4);
                const v128_t hb = wasm_v128_and(wasm_u8x16_shr(wasm_v128_load(qh + h), 2 * k), m3);
                const v128_t q = wasm_v128_or(lo, wasm_i8x16_shl(hb, 4)); /* 0..63; the value is (q - 32) * d*sc */
                u8x16_to_f32(out + j + h, q, sub, wasm_f32x4_splat(sp_q6_k_scale(blk, 2 * sb + h / 16)), hi16);
            }
        }
        break;
    }
    default:
        memset(out, 0, (size_t)len * 4);
        break;
    }
}

void sp_mat_row_wasmsimd(float *out, const sp_mat *w, int32_t r) {
    sp_dequant_span_wasmsimd(out, sp_mat_row_ptr(w, r), w->type, 0, w->cols);
}

#endif /* __wasm_simd128__ */
