/* test_tensor.c - dtype names, support and row sizes. */
#include "tensor.h"
#include "check.h"
#include <string.h>

int main(void) {
    CHECK(sizeof(sp_block_q8_0) == 34);
    CHECK(sizeof(sp_block_q4_0) == 18);
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
    CHECK(!sp_dtype_supported(3) && !sp_dtype_supported(12) && !sp_dtype_supported(SP_DTYPE_UNKNOWN));
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F32, 5) == 20);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F16, 5) == 10);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_BF16, 7) == 14);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q8_0, 64) == 68);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q4_0, 64) == 36);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q8_0, 33) == 0);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_Q4_0, 16) == 0);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F32, 0) == 0);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F32, -4) == 0);
    CHECK(sp_dtype_row_bytes(12, 256) == 0);
    CHECK(sp_dtype_row_bytes(SP_DTYPE_F32, INT64_MAX) == 0); /* overflow */
    CHECK_DONE();
}
