/* test_tensor.c - dtype names, support and row sizes. */
#include "tensor.h"
#include "check.h"
#include <string.h>

int main(void) {
    CHECK(sizeof(sp_block_q8_0) == 34);
    CHECK(sizeof(sp_block_q4_0) == 18);
    CHECK(sizeof(sp_block_q4_k) == 144 && sizeof(sp_block_q5_k) == 176 && sizeof(sp_block_q6_k) == 210);
    CHECK(strcmp(sp_dtype_name(SP_DTYPE_F32), "F32") == 0);
    CHECK(strcmp(sp_dtype_name(SP_DTYPE_F16), "F16") == 0);
    CHECK(strcmp(sp_dtype_name(SP_DTYPE_Q4_0), "Q4_0") == 0);
    CHECK(strcmp(sp_dtype_name(SP_DTYPE_Q8_0), "Q8_0") == 0);
    CHECK(strcmp(sp_dtype_name(SP_DTYPE_BF16), "BF16") == 0);
    CHECK(strcmp(sp_dtype_name(12), "Q4_K") == 0);
    CHECK(strcmp(sp_dtype_name(9999), "unknown") == 0);
    CHECK(sp_dtype_supported(SP_DTYPE_F32) && sp_dtype_supported(SP_DTYPE_F16) &&
          sp_dtype_supported(SP_DTYPE_BF16) && sp_dtype_supported(SP_DTYPE_Q8_0) &&
          sp_dtype_supported(SP_DTYPE_Q4_0));
    CHECK(sp_dtype_supported(SP_DTYPE_Q4_K) && sp_dtype_supported(SP_DTYPE_Q5_K) && sp_dtype_supported(SP_DTYPE_Q6_K));
    CHECK(SP_DTYPE_Q4_K == 12 && SP_DTYPE_Q5_K == 13 && SP_DTYPE_Q6_K == 14); /* GGUF's ggml_type ids */
    CHECK(strcmp(sp_dtype_name(13), "Q5_K") == 0 && strcmp(sp_dtype_name(14), "Q6_K") == 0 && strcmp(sp_dtype_name(11), "Q3_K") == 0);
    CHECK(!sp_dtype_supported(3) && !sp_dtype_supported(11) && !sp_dtype_supported(15) && !sp_dtype_supported(SP_DTYPE_UNKNOWN));
    CHECK(sp_dtype_get(11) == NULL && sp_dtype_get(SP_DTYPE_Q6_K)->block == 256 && sp_dtype_get(SP_DTYPE_Q6_K)->bytes == 210);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F32, 5) == 20);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F16, 5) == 10);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_BF16, 7) == 14);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q8_0, 64) == 68);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q4_0, 64) == 36);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q8_0, 33) == 0);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q4_0, 16) == 0);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F32, 0) == 0);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F32, -4) == 0);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q4_K, 256) == 144 && sp_dtype_row_bytes(SP_DTYPE_Q5_K, 512) == 352 &&
          sp_dtype_row_bytes(SP_DTYPE_Q6_K, 768) == 630);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q4_K, 32) == 0 && sp_dtype_row_bytes(SP_DTYPE_Q6_K, 288) == 0); /* whole super-blocks only */
    CHECK(sp_dtype_row_bytes(11, 256) == 0);
    /* non-finite f16 scales: Q4_K's d and dmin, Q6_K's d (at byte 208), found in their row */
    uint8_t blk[3 * 210] = {0};
    sp_mat w = {SP_DTYPE_Q4_K, 3, 256, 144, blk, 0};
    CHECK(sp_mat_check_f16(&w) == 1 && sp_mat_first_nonfinite_f16_row(&w) == -1);
    blk[144 + 3] = 0x7c; /* row 1's dmin = +inf (0x7c00, little endian) */
    CHECK(sp_mat_check_f16(&w) == 0 && sp_mat_first_nonfinite_f16_row(&w) == 1);
    sp_mat w6 = {SP_DTYPE_Q6_K, 3, 256, 210, blk, 0};
    memset(blk, 0, sizeof(blk));
    blk[2 * 210 + 209] = 0xfe; /* row 2's d = nan */
    CHECK(sp_mat_check_f16(&w6) == 0 && sp_mat_first_nonfinite_f16_row(&w6) == 2);
    blk[2 * 210 + 209] = 0;
    blk[2 * 210 + 207] = 0xff; /* a code byte, not a scale */
    CHECK(sp_mat_check_f16(&w6) == 1);
    /* Q5_0 / Q5_1 (GGUF ids 6, 7): blocks of 32 in 22 / 24 bytes; Q5_1's m (byte 2) is checked
     * like its d, a code byte (qh, qs) is not */
    CHECK(SP_DTYPE_Q5_0 == 6 && SP_DTYPE_Q5_1 == 7 && sp_dtype_supported(6) && sp_dtype_supported(7));
    CHECK(strcmp(sp_dtype_name(6), "Q5_0") == 0 && strcmp(sp_dtype_name(7), "Q5_1") == 0);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q5_0, 64) == 44 && sp_dtype_row_bytes(SP_DTYPE_Q5_1, 96) == 72 && sp_dtype_row_bytes(SP_DTYPE_Q5_1, 48) == 0);
    memset(blk, 0, sizeof(blk));
    sp_mat w5 = {SP_DTYPE_Q5_1, 3, 64, 48, blk, 0};
    CHECK(sp_mat_check_f16(&w5) == 1);
    blk[48 + 24 + 3] = 0x7c; /* row 1, block 1: m = +inf */
    CHECK(sp_mat_check_f16(&w5) == 0 && sp_mat_first_nonfinite_f16_row(&w5) == 1);
    blk[48 + 24 + 3] = 0;
    blk[2 * 48 + 1] = 0xfe; /* row 2, block 0: d = nan */
    CHECK(sp_mat_first_nonfinite_f16_row(&w5) == 2);
    blk[2 * 48 + 1] = 0;
    memset(blk + 4, 0xff, 20); /* row 0's codes */
    CHECK(sp_mat_check_f16(&w5) == 1);
    memset(blk, 0, sizeof(blk));
    sp_mat w50 = {SP_DTYPE_Q5_0, 3, 64, 44, blk, 0};
    blk[44 + 22 + 1] = 0x7c; /* row 1, block 1: d = +inf */
    CHECK(sp_mat_first_nonfinite_f16_row(&w50) == 1);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F32, INT64_MAX) == 0); /* overflow */
    CHECK_DONE();
}
