/* dx_bench.c - the backward product dX += dY·W (the table's matmul_dx, one thread) on the shapes of a
 * training step, timed by process CPU time (best of the calls within `seconds`), against the f32x4
 * mul+add probe. Build two trees (before / after a change) and alternate them in one run:
 *
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -Isrc \
 *       src/common.c src/tensor.c src/kernels/[a-z]*.c tests/experiments/dx_bench.c -o /tmp/dx_bench.js
 *   node --no-experimental-fetch /tmp/dx_bench.js [F32|Q8_0] [seconds] [n,rows,cols ...]
 *
 * Shapes (n rows of dY, W rows x cols): smollm2-135m's layer products at batch 4 x 128 and
 * gemma3-270m's LM head (262144 x 640) at 64 rows. */
#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "kernels/probe.h"

EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });

int main(int argc, char **argv) {
    const sp_kernels *k = sp_kernels_get(SP_ISA_WASMSIMD);
    const uint32_t type = argc > 1 && strcmp(argv[1], "Q8_0") == 0 ? SP_DTYPE_Q8_0 : SP_DTYPE_F32;
    const double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    int32_t shapes[16][3] = {{512, 576, 1536}, {512, 1536, 576}, {512, 576, 576}, {512, 192, 576}, {64, 262144, 640}, {16, 262144, 640}};
    size_t n_shapes = 6;
    if (argc > 3) /* or the shapes given as n,rows,cols ... */
        for (n_shapes = 0; n_shapes < 16 && (int)n_shapes + 3 < argc; n_shapes++)
            if (sscanf(argv[n_shapes + 3], "%d,%d,%d", &shapes[n_shapes][0], &shapes[n_shapes][1], &shapes[n_shapes][2]) != 3) return 2;
    const double peak = sp_probe_peak_gflops(0.5);
    printf("probe %.1f GF/s, %s\n", peak, type == SP_DTYPE_F32 ? "F32" : "Q8_0");
    sp_rng rng;
    sp_rng_seed(&rng, 3);
    for (size_t s = 0; s < n_shapes; s++) {
        const int32_t n = shapes[s][0], R = shapes[s][1], K = shapes[s][2];
        const size_t rb = sp_dtype_row_bytes(type, K);
        uint8_t *wd = malloc(rb * (size_t)R);
        float *dy = malloc(4 * (size_t)n * R), *dx = malloc(4 * (size_t)n * K), *row = malloc(4 * (size_t)K);
        if (!wd || !dy || !dx || !row) { fprintf(stderr, "out of memory\n"); return 1; }
        for (int32_t r = 0; r < R; r++) {
            for (int32_t c = 0; c < K; c++) row[c] = sp_rng_normal(&rng) * 0.05f;
            sp_quantize_row(type, wd + (size_t)r * rb, row, K);
        }
        for (size_t i = 0; i < (size_t)n * R; i++) dy[i] = sp_rng_normal(&rng);
        memset(dx, 0, 4 * (size_t)n * K);
        const sp_mat w = {.data = wd, .type = type, .rows = R, .cols = K, .row_bytes = rb};
        double best = 1e30, t_end = cpu_ms() + seconds * 1000;
        int calls = 0;
        while (calls < 2 || cpu_ms() < t_end) {
            double t0 = cpu_ms();
            k->matmul_dx(dx, dy, &w, n, 0, K);
            double dt = cpu_ms() - t0;
            if (dt < best) best = dt;
            calls++;
        }
        const double gf = 2.0 * n * R * K / best * 1e-6;
        printf("n %4d  W %6d x %4d: %5.1f GF/s  %3.0f%% of the probe (%d calls)\n", n, R, K, gf, 100 * gf / peak, calls);
        free(wd); free(dy); free(dx); free(row);
    }
    return 0;
}
