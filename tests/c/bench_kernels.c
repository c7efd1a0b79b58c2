/* bench_kernels.c - kernel figures under node (not part of the test suite). Build by hand:
 *   emcc -O3 -msimd128 [-pthread -sPTHREAD_POOL_SIZE=2 -sEXIT_RUNTIME=1] -Isrc src/common.c src/tensor.c src/kernels/[a-z]*.c \
 *        tests/c/bench_kernels.c -o /tmp/bench.js -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sENVIRONMENT=node,worker
 *   node --no-experimental-fetch /tmp/bench.js [threads] [seconds] [cpu|wall] [gemm|x16|decode]
 * Prints the probes (and how their figures move with their size: the cache's reach), GEMM
 * GFLOP/s (n=128) forward and backward, the forward on quantized weights with integer dot
 * products (the default table) against the exact table and against F32, and decoding matvec
 * GB/s (matvec_decode, n=1) against the copy probe.
 * Timing is wall clock through sp_bench_* (what `npm run bench` reports). With "cpu" (one
 * thread, under node) every figure is timed with the process CPU time instead, best of
 * several calls: on a shared, loaded machine that removes time slicing from the figures. The last
 * argument runs only one part after the probes: gemm, x16 (the integer forward) or decode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "kernels/probe.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });
#else
#include <time.h>
static double cpu_ms(void) { return (double)clock() * 1e3 / CLOCKS_PER_SEC; }
#endif

/* GFLOP/s of k->matmul (or matmul_dx) alone, by CPU time, best of `reps` calls. */
static double cpu_gflops(const sp_kernels *k, uint32_t t, int32_t n, int32_t rows, int32_t cols, int backward, int reps) {
    size_t rb = sp_dtype_row_bytes(t, cols);
    uint8_t *wd = malloc(rb * (size_t)rows);
    float *x = malloc(4 * (size_t)n * cols), *y = malloc(4 * (size_t)n * rows), *tmp = malloc(4 * (size_t)cols);
    if (!wd || !x || !y || !tmp) return -1;
    sp_rng rng;
    sp_rng_seed(&rng, 1);
    for (int32_t r = 0; r < rows; r++) {
        if (sp_random_row_kquant(t, wd + (size_t)r * rb, cols, &rng, 0.05f)) continue; /* K-quants: codes drawn directly */
        for (int32_t c = 0; c < cols; c++) tmp[c] = sp_rng_normal(&rng) * 0.05f;
        sp_quantize_row(t, wd + (size_t)r * rb, tmp, cols);
    }
    for (size_t i = 0; i < (size_t)n * cols; i++) x[i] = sp_rng_normal(&rng);
    for (size_t i = 0; i < (size_t)n * rows; i++) y[i] = 1e-3f * sp_rng_normal(&rng);
    sp_mat w = {t, rows, cols, rb, wd, 0};
    sp_mat_check_f16(&w);
    double best = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = cpu_ms();
        if (backward) k->matmul_dx(x, y, &w, n, 0, cols);
        else if (n == 1) k->matvec_decode(y, x, &w, 0, rows, 1); /* with streams, as generation picks them */
        else k->matmul(y, x, &w, n, 0, rows);
        double dt = cpu_ms() - t0;
        if (dt > 0 && dt < best) best = dt;
    }
    free(wd); free(x); free(y); free(tmp);
    return 2.0 * n * (double)rows * cols / (best * 1e6);
}

/* Copy bandwidth (bytes read + written) by CPU time, best of 8 passes over 64 MiB
 * (memcpy through a volatile pointer so the dead copies are not optimised away). */
static void *(*const volatile copy_fn)(void *, const void *, size_t) = memcpy;
static double cpu_copy_gbs(void) {
    size_t bytes = (size_t)64 << 20;
    uint8_t *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) return -1;
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    double best = 1e30;
    for (int rep = 0; rep < 8; rep++) {
        double t0 = cpu_ms();
        for (size_t o = 0; o < bytes; o += 1 << 20) copy_fn(b + o, a + o, 1 << 20);
        double dt = cpu_ms() - t0;
        if (dt > 0 && dt < best) best = dt;
    }
    free(a); free(b);
    return 2.0 * (double)bytes / (best * 1e6);
}

int main(int argc, char **argv) {
    int32_t threads = argc > 1 ? atoi(argv[1]) : 1;
    double sec = argc > 2 ? atof(argv[2]) : 0.3;
    int cpu = argc > 3 && strcmp(argv[3], "cpu") == 0;
    const char *only = argc > 4 ? argv[4] : "";
#define PART(name) (!*only || strcmp(only, name) == 0)
    sp_pool *p = sp_pool_create(cpu ? 1 : threads);
    const sp_kernels *k = sp_kernels_get(SP_ISA_BEST);
    double peak = sp_probe_peak_gflops(0.5);
    double copy_big = sp_probe_copy_gbs(NULL, (size_t)64 << 20, 0.5), copy_l2 = sp_probe_copy_gbs(NULL, (size_t)512 << 10, 0.3);
    printf("isa %s, threads %d, timing %s\npeak %.1f GFLOP/s (1 thread); copy r+w %.1f GB/s (64 MiB), %.1f GB/s (512 KiB)\n",
           k->isa, sp_pool_threads(p), cpu ? "process CPU time" : "wall clock", peak, copy_big, copy_l2);
    if (cpu) printf("copy r+w by CPU time %.1f GB/s (64 MiB, memcpy)\n", cpu_copy_gbs());
    /* where the cache ends: the bench's probes (probe.h) must be larger than this */
    printf("\nprobe size (each copy buffer / the read buffer): copy r+w 1 thread, copy r+w all threads, read 1 thread, GB/s\n");
    for (size_t mib = 8; mib <= 512; mib *= 4)
        printf("%4zu MiB: %6.1f %6.1f %6.1f\n", mib, sp_probe_copy_gbs(NULL, mib << 20, sec), sp_probe_copy_gbs(p, mib << 20, sec),
               sp_probe_read_gbs(mib << 20, sec));
    static const int32_t SHAPES[][2] = {{288, 288}, {768, 768}, {2048, 768}, {768, 2048}, {32000, 288}};
    static const uint32_t TYPES[] = {SP_DTYPE_F32, SP_DTYPE_F16, SP_DTYPE_BF16, SP_DTYPE_Q8_0, SP_DTYPE_Q4_0, SP_DTYPE_Q5_0, SP_DTYPE_Q5_1,
                                     SP_DTYPE_Q4_K, SP_DTYPE_Q5_K, SP_DTYPE_Q6_K};
#define N_BT 10
    if (PART("gemm")) {
        printf("\nGEMM n=128 GFLOP/s: forward (X·Wt) / backward (dY·W)\n%-12s", "rows x cols");
        for (int t = 0; t < N_BT; t++) printf(" %15s", sp_dtype_name(TYPES[t]));
        printf("\n");
        for (int s = 0; s < 5; s++) {
            printf("%5d x %-5d", SHAPES[s][0], SHAPES[s][1]);
            int reps = SHAPES[s][0] > 10000 ? 5 : 12;
            for (int t = 0; t < N_BT; t++) {
                int32_t r = SHAPES[s][0], c = SHAPES[s][1];
                double f = cpu ? cpu_gflops(k, TYPES[t], 128, r, c, 0, reps) : sp_bench_matmul_gflops(p, k, TYPES[t], 128, r, c, sec);
                double b = cpu ? cpu_gflops(k, TYPES[t], 128, r, c, 1, reps) : sp_bench_matmul_dx_gflops(p, k, TYPES[t], 128, r, c, sec);
                printf("   %5.1f / %5.1f", f, b);
            }
            printf("\n");
            fflush(stdout);
        }
    }
    /* the integer forward (default table) against the exact one and against F32, the three
     * measured alternately on each shape so that the machine's load hits them alike */
    const sp_kernels *kx = sp_kernels_exact(k);
    if (PART("x16")) {
        static const uint32_t QT[] = {SP_DTYPE_Q8_0, SP_DTYPE_Q4_0, SP_DTYPE_Q4_K, SP_DTYPE_Q5_K, SP_DTYPE_Q6_K};
        printf("\nforward n=128 on quantized weights, GFLOP/s: %s / exact (x16 over exact, x16 over F32 exact)%s\n%-12s", k->isa,
               k->matmul_x16 ? "" : " (this table has no integer path)", "rows x cols");
        printf(" %8s", "F32");
        for (int t = 0; t < 5; t++) printf(" %31s", sp_dtype_name(QT[t]));
        printf("\n");
        for (int s = 0; s < 4; s++) {
            const int32_t r = SHAPES[s][0], c = SHAPES[s][1];
            double f32 = 0, fx[5] = {0}, fe[5] = {0};
            for (int rep = 0; rep < 3; rep++) { /* best of three rounds */
                double v = cpu ? cpu_gflops(kx, SP_DTYPE_F32, 128, r, c, 0, 4) : sp_bench_matmul_gflops(p, kx, SP_DTYPE_F32, 128, r, c, sec);
                f32 = v > f32 ? v : f32;
                for (int t = 0; t < 5; t++) {
                    v = cpu ? cpu_gflops(k, QT[t], 128, r, c, 0, 4) : sp_bench_matmul_gflops(p, k, QT[t], 128, r, c, sec);
                    fx[t] = v > fx[t] ? v : fx[t];
                    v = cpu ? cpu_gflops(kx, QT[t], 128, r, c, 0, 4) : sp_bench_matmul_gflops(p, kx, QT[t], 128, r, c, sec);
                    fe[t] = v > fe[t] ? v : fe[t];
                }
            }
            printf("%5d x %-5d %8.1f", r, c, f32);
            for (int t = 0; t < 5; t++) printf("   %5.1f / %5.1f (x%.2f, x%.2f)", fx[t], fe[t], fx[t] / fe[t], fx[t] / f32);
            printf("\n");
            fflush(stdout);
        }
    }
    if (PART("decode")) {
        printf("\nmatvec n=1: GB/s of weights streamed (GFLOP/s); %% of the copy probe\n%-12s", "rows x cols");
        for (int t = 0; t < N_BT; t++) printf(" %22s", sp_dtype_name(TYPES[t]));
        printf("\n");
        static const int32_t MV[][2] = {{288, 288}, {768, 768}, {2048, 768}, {768, 2048}, {32000, 288}, {8192, 2048}, {49152, 576}};
        for (int s = 0; s < 7; s++) {
            printf("%5d x %-5d", MV[s][0], MV[s][1]);
            for (int t = 0; t < N_BT; t++) {
                double f = cpu ? cpu_gflops(k, TYPES[t], 1, MV[s][0], MV[s][1], 0, 60)
                               : sp_bench_matmul_gflops(p, k, TYPES[t], 1, MV[s][0], MV[s][1], sec);
                double bytes = (double)sp_bench_weight_bytes(TYPES[t], MV[s][0], MV[s][1]);
                double gbs = f * 1e9 / (2.0 * MV[s][0] * MV[s][1]) * bytes / 1e9;
                printf("   %5.1f (%5.1f) %4.0f%%", gbs, f, 100.0 * gbs / copy_big);
            }
            printf("\n");
            fflush(stdout);
        }
    }
#undef PART
    sp_pool_free(p);
    return 0;
}
