/* bench_kernels.c - kernel figures under node (not part of the test suite). Build by hand:
 *   emcc -O3 -msimd128 [-pthread -sPTHREAD_POOL_SIZE=2] -Isrc src/common.c src/tensor.c src/kernels/[a-z]*.c \
 *        tests/c/bench_kernels.c -o /tmp/bench.cjs -sSINGLE_FILE=1 -sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=node,worker
 *   node /tmp/bench.cjs [threads] [seconds]
 * Prints the probes, GEMM GFLOP/s (n=128) forward and backward, and matvec (n=1) GB/s. */
#include <stdio.h>
#include <stdlib.h>
#include "kernels/kernels.h"
#include "kernels/probe.h"

int main(int argc, char **argv) {
    int32_t threads = argc > 1 ? atoi(argv[1]) : 1;
    double sec = argc > 2 ? atof(argv[2]) : 0.3;
    sp_pool *p = sp_pool_create(threads);
    const sp_kernels *k = sp_kernels_get(SP_ISA_BEST);
    double peak = sp_probe_peak_gflops(0.5);
    double copy_big = sp_probe_copy_gbs((size_t)64 << 20, 0.5), copy_l2 = sp_probe_copy_gbs((size_t)512 << 10, 0.3);
    printf("isa %s, threads %d\npeak %.1f GFLOP/s (1 thread); copy r+w %.1f GB/s (64 MiB), %.1f GB/s (512 KiB)\n",
           k->isa, sp_pool_threads(p), peak, copy_big, copy_l2);
    static const int32_t SHAPES[][2] = {{288, 288}, {768, 768}, {2048, 768}, {768, 2048}, {32000, 288}};
    static const uint32_t TYPES[] = {SP_DTYPE_F32, SP_DTYPE_F16, SP_DTYPE_BF16, SP_DTYPE_Q8_0, SP_DTYPE_Q4_0};
    printf("\nGEMM n=128 GFLOP/s: forward (X·Wt) / backward (dY·W)\n%-12s", "rows x cols");
    for (int t = 0; t < 5; t++) printf(" %15s", sp_dtype_name(TYPES[t]));
    printf("\n");
    for (int s = 0; s < 5; s++) {
        printf("%5d x %-5d", SHAPES[s][0], SHAPES[s][1]);
        for (int t = 0; t < 5; t++) {
            double f = sp_bench_matmul_gflops(p, k, TYPES[t], 128, SHAPES[s][0], SHAPES[s][1], sec);
            double b = sp_bench_matmul_dx_gflops(p, k, TYPES[t], 128, SHAPES[s][0], SHAPES[s][1], sec);
            printf("   %5.1f / %5.1f", f, b);
        }
        printf("\n");
        fflush(stdout);
    }
    printf("\nmatvec n=1: GB/s of weights streamed (GFLOP/s)\n%-12s", "rows x cols");
    for (int t = 0; t < 5; t++) printf(" %15s", sp_dtype_name(TYPES[t]));
    printf("\n");
    for (int s = 0; s < 5; s++) {
        printf("%5d x %-5d", SHAPES[s][0], SHAPES[s][1]);
        for (int t = 0; t < 5; t++) {
            double f = sp_bench_matmul_gflops(p, k, TYPES[t], 1, SHAPES[s][0], SHAPES[s][1], sec);
            double bytes = (double)sp_bench_weight_bytes(TYPES[t], SHAPES[s][0], SHAPES[s][1]);
            double gbs = f * 1e9 / (2.0 * SHAPES[s][0] * SHAPES[s][1]) * bytes / 1e9;
            printf("   %5.1f (%5.1f)", gbs, f);
        }
        printf("\n");
        fflush(stdout);
    }
    sp_pool_free(p);
    return 0;
}
