/* matmul_wasmsimd.c - the drivers of the forward product Y = X·Wᵀ (matmul) and of decoding
 * (matvec_decode): they walk rows of W in KC blocks and call the gemm / gemv / gemv_x16 tiles.
 *
 * A 4-row x KC tile of W is dequantized into a stack buffer (F32 rows are read in place) and
 * packed for the 2x4 GEMM tiles (gemm_wasmsimd.c); for n == 1, F32 rows are read in place and the
 * other types are converted in registers.
 * Every output element follows one formula whatever the tile (batch invariant, so matvec and
 * GEMM give bitwise equal rows): per KC block, lane sums over k in steps of 4, a fixed
 * horizontal sum, then the k % 4 tail in order, added to y. matvec_decode on Q8_0/Q4_0 is the
 * one exception: it uses 16-bit activations (gemv_x16_wasmsimd.c).
 * Leftover rows are handled by clamping row pointers (duplicate work, stores only valid).
 * No relaxed SIMD, no FMA: mul then add. */
#ifdef __wasm_simd128__
#include "wasmsimd.h"

typedef void (*fw24_fn)(float *, int32_t, int, int32_t, int32_t, const float *, int32_t, const float *, const float *const *, int32_t);
typedef void (*fw14_fn)(float *, int, int32_t, const float *, const float *, const float *, const float *, const float *, int32_t);
typedef void (*fwq_fn)(float *, int, int32_t, const float *, const uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, int32_t);
KERNEL_PTR(fw24_fn, sp_gemm_f32_2x4_wasmsimd);
KERNEL_PTR(fw14_fn, sp_gemv_f32_1x4_wasmsimd);
typedef void (*fw8s_fn)(float *, int32_t, int, const float *, const float *const *, int32_t);
KERNEL_PTR(fw8s_fn, sp_gemv_f32_8s_wasmsimd);
KERNEL_PTR(fwq_fn, sp_gemv_q8_0_1x4_wasmsimd);
KERNEL_PTR(fwq_fn, sp_gemv_q4_0_1x4_wasmsimd);
typedef void (*fwh_fn)(float *, int, int32_t, const float *, const uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, int32_t);
KERNEL_PTR(fwh_fn, sp_gemv_f16_1x4_wasmsimd);
KERNEL_PTR(fwh_fn, sp_gemv_f16_1x4_wasmsimd_finite);
KERNEL_PTR(fwh_fn, sp_gemv_bf16_1x4_wasmsimd);

/* F32 / F16 / BF16 decoding with streams = 1: rows [row0, row0 + SP_STREAMS_F32 * C) as
 * SP_STREAMS_F32 chunks of C rows (see "Streams"), with forward()'s KC blocking and per-row
 * formula (F16 / BF16: its 1 x 4 kernels on four chunks at a time, each result then stored as
 * they store it); returns the first row left for forward(). */
static int32_t decode_streams(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1) {
    const int32_t K = w->cols, C = stream_rows(row1 - row0, w->row_bytes, SP_STREAMS_F32);
    const fwh_fn half = w->type == SP_DTYPE_BF16 ? sp_gemv_bf16_1x4_wasmsimd_p : w->f16_finite ? sp_gemv_f16_1x4_wasmsimd_finite_p : sp_gemv_f16_1x4_wasmsimd_p;
    for (int32_t r = 0; r < C; r++)
        for (int32_t k0 = 0; k0 < K; k0 += SP_FW_KC) {
            const int32_t len = imin(SP_FW_KC, K - k0), first = k0 == 0;
            if (w->type == SP_DTYPE_F32) {
                const float *wp[SP_STREAMS_F32];
                for (int32_t i = 0; i < SP_STREAMS_F32; i++) wp[i] = (const float *)sp_mat_row_ptr(w, row0 + i * C + r) + k0;
                sp_gemv_f32_8s_wasmsimd_p(y + row0 + r, C, first, x + k0, wp, len);
                continue;
            }
            for (int32_t g = 0; g < SP_STREAMS_F32; g += 4) {
                const uint8_t *hp[4];
                for (int32_t i = 0; i < 4; i++) hp[i] = sp_mat_row_ptr(w, row0 + (g + i) * C + r) + (size_t)k0 * 2;
                float t[4];
                half(t, 1, 4, x + k0, hp[0], hp[1], hp[2], hp[3], len);
                for (int32_t i = 0; i < 4; i++) {
                    float *yi = y + row0 + (size_t)(g + i) * C + r;
                    *yi = first ? t[i] : *yi + t[i];
                }
            }
        }
    return row0 + SP_STREAMS_F32 * C;
}

/* The forward product Y = X·Wᵀ, rows [row0, row1) of W */
static void forward(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1) {
    const int32_t K = w->cols, ldy = w->rows;
    const int32_t nrt = 4; /* W rows per tile */
    float wbuf[4 * SP_FW_KC] __attribute__((aligned(16))); /* (4, KC) dequantized W tile */
    float wpack[4 * SP_FW_KC] __attribute__((aligned(16))); /* (KC/4, 4, 4) the tile packed for the GEMM */
    for (int32_t k0 = 0; k0 < K; k0 += SP_FW_KC) {
        const int32_t len = imin(SP_FW_KC, K - k0);
        const int first = k0 == 0;
        const int quant = w->type == SP_DTYPE_Q8_0 || w->type == SP_DTYPE_Q4_0;
        for (int32_t r = row0; r < row1; r += nrt) {
            const int32_t nr = imin(nrt, row1 - r);
            if (n == 1 && quant) {
                const size_t bs = w->type == SP_DTYPE_Q8_0 ? sizeof(sp_block_q8_0) : sizeof(sp_block_q4_0);
                const uint8_t *qp[4];
                for (int32_t b = 0; b < 4; b++) qp[b] = sp_mat_row_ptr(w, r + imin(b, nr - 1)) + (size_t)(k0 / SP_QK) * bs;
                (w->type == SP_DTYPE_Q8_0 ? sp_gemv_q8_0_1x4_wasmsimd_p : sp_gemv_q4_0_1x4_wasmsimd_p)(y + r, first, nr, x + k0, qp[0], qp[1], qp[2], qp[3], len / SP_QK);
                continue;
            }
            if (n == 1 && (w->type == SP_DTYPE_F16 || w->type == SP_DTYPE_BF16)) {
                const uint8_t *hp[4];
                for (int32_t b = 0; b < 4; b++) hp[b] = sp_mat_row_ptr(w, r + imin(b, nr - 1)) + (size_t)k0 * 2;
                (w->type == SP_DTYPE_BF16 ? sp_gemv_bf16_1x4_wasmsimd_p : w->f16_finite ? sp_gemv_f16_1x4_wasmsimd_finite_p : sp_gemv_f16_1x4_wasmsimd_p)(y + r, first, nr, x + k0, hp[0], hp[1], hp[2], hp[3], len);
                continue;
            }
            const float *wp[4];
            for (int32_t b = 0; b < 4; b++) {
                if (b >= nr) { wp[b] = wp[nr - 1]; continue; } /* clamp leftover rows */
                const uint8_t *row = sp_mat_row_ptr(w, r + b);
                if (w->type == SP_DTYPE_F32) { /* read in place (n == 1) or packed from the rows */
                    wp[b] = (const float *)row + k0;
                } else {
                    sp_dequant_span_wasmsimd(wbuf + b * SP_FW_KC, row, w->type, k0, len);
                    wp[b] = wbuf + b * SP_FW_KC;
                }
            }
            if (n == 1) {
                sp_gemv_f32_1x4_wasmsimd_p(y + r, first, nr, x + k0, wp[0], wp[1], wp[2], wp[3], len);
                continue;
            }
            sp_gemm_pack_f32_4_wasmsimd(wpack, wp, len);
            sp_gemm_f32_2x4_wasmsimd_p(y + r, ldy, first, n, nr, x + k0, K, wpack, wp, len);
        }
    }
}

void sp_matmul_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1) {
    forward(y, x, w, n, row0, row1);
}

/* matvec_decode of the exact table (sp_kernels_exact): matmul's formula, rows read in streams */
void sp_matvec_decode_exact_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams) {
    if (streams && (w->type == SP_DTYPE_F32 || w->type == SP_DTYPE_F16 || w->type == SP_DTYPE_BF16))
        row0 = decode_streams(y, x, w, row0, row1);
    forward(y, x, w, 1, row0, row1); /* exact path: the other types, x with inf/nan, rows left over */
}

/* matvec_decode of the wasmsimd table: on Q8_0 / Q4_0 / Q4_K / Q5_K / Q6_K 16-bit x and integer dot
 * products with the per-element formula of its matmul (gemm_x16.c), so a decoded row equals the
 * prefilled one. */
void sp_matvec_decode_wasmsimd(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams) {
    if (sp_gemv_x16_wasmsimd(y, x, w, row0, row1, streams)) return;
    sp_matvec_decode_exact_wasmsimd(y, x, w, row0, row1, streams);
}

#endif /* __wasm_simd128__ */
