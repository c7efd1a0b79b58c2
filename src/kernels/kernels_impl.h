/* kernels_impl.h - private helpers shared by the kernel files (not part of the contract).
 *
 * The two kernel tables, the tile sizes, and the exact scalar conversions that every
 * variant uses, so that a dequantized weight is the same f32 value in every kernel. */
#ifndef SP_KERNELS_IMPL_H
#define SP_KERNELS_IMPL_H

#include <string.h>
#include "kernels.h"

extern const sp_kernels sp_kernels_scalar;
#ifdef __wasm_simd128__
extern const sp_kernels sp_kernels_wasmsimd;
#endif

/* Forward (X·Wᵀ) k-block: partial dot products are reduced and added to y every KC columns. */
#define SP_FW_KC 1024
/* Backward (dY·W): rows of W dequantized per tile. */
#define SP_BW_RB 128
/* Column chunks handed to threads are multiples of this (one quantization block). */
#define SP_COL_ALIGN 32

static inline float sp_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t sp_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* IEEE half -> float, exact for every input (subnormals, inf, nan), same bits as sp_f16_to_f32.
 * Inline because it runs once per quantization block in the hot loops. */
static inline float sp_half_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = h & 0x7fffu;
    uint32_t bits;
    if (em < 0x0400u) {                      /* zero or subnormal: em * 2^-24 is exact */
        bits = sp_f32_bits((float)em * (1.0f / 16777216.0f));
    } else {
        bits = (em << 13) + 0x38000000u;     /* rebias exponent 15 -> 127 */
        if (em >= 0x7c00u) bits += 0x38000000u; /* inf / nan: exponent all ones, payload kept */
    }
    return sp_bits_f32(bits | sign);
}

static inline const uint8_t *sp_mat_row_ptr(const sp_mat *w, int32_t r) {
    return (const uint8_t *)w->data + (size_t)r * w->row_bytes;
}

#endif
