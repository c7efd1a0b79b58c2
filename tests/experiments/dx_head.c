/* dx_head.c - the backward product dX += dY·W with few rows of dY over a W far larger than the
 * cache (the LM head's dX: 32-64 rows x 262144 x 640), the engine's driver against drivers that
 * read W in its memory order. One thread, process CPU time, best of the calls, alternated.
 *
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -Isrc \
 *       src/common.c src/tensor.c src/kernels/[a-z]*.c tests/experiments/dx_head.c -o /tmp/dx_head.js
 *   node --no-experimental-fetch /tmp/dx_head.js [F32|Q8_0] [rounds] [n,rows,cols ...]
 *
 *   tile   the engine (matmul_dx_wasmsimd.c): W in tiles of 128 rows x 32 columns
 *   rows   W dequantized 128 rows x 256 columns at a time (each row's span read in memory order)
 *          into [8][128][32] tiles, then the engine's loops over them */
#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "kernels/probe.h"
#include "kernels/wasmsimd.h"

EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });

typedef void (*bw216_fn)(float *, float *, const float *, const float *, const float *, int32_t, int32_t, int32_t);
static bw216_fn const volatile tile_p = sp_gemm_dx_f32_2x16_wasmsimd;

static void dx_rows(float *dx, const float *dy, const sp_mat *w, int32_t n) {
    const int32_t K = w->cols, R = w->rows, SW = 256;
    static float wbuf[SP_BW_RB * 256] __attribute__((aligned(16))); /* [SW/32][RB][32] */
    for (int32_t r0 = 0; r0 < R; r0 += SP_BW_RB) {
        const int32_t rl = imin(SP_BW_RB, R - r0);
        for (int32_t s0 = 0; s0 < K; s0 += SW) {
            const int32_t sw = imin(SW, K - s0);
            for (int32_t r = 0; r < rl; r++)
                for (int32_t c = 0; c < sw; c += 32)
                    sp_dequant_span_wasmsimd(wbuf + (size_t)(c / 32) * SP_BW_RB * 32 + r * 32, sp_mat_row_ptr(w, r0 + r), w->type, s0 + c, imin(32, sw - c));
            for (int32_t c = 0; c < sw; c += 32) {
                const float *wt = wbuf + (size_t)(c / 32) * SP_BW_RB * 32;
                const int32_t c16 = imin(32, sw - c) & ~15;
                for (int32_t i = 0; i < n; i += 2) {
                    const int32_t ni = imin(2, n - i);
                    float *dx0 = dx + (size_t)i * K + s0 + c, *dx1 = dx + (size_t)(i + ni - 1) * K + s0 + c;
                    const float *dy0 = dy + (size_t)i * R + r0, *dy1 = dy + (size_t)(i + ni - 1) * R + r0;
                    tile_p(dx0, dx1, dy0, dy1, wt, 32, rl, c16 / 16);
                }
            }
        }
    }
}

int main(int argc, char **argv) {
    const sp_kernels *k = sp_kernels_get(SP_ISA_WASMSIMD);
    const uint32_t type = argc > 1 && strcmp(argv[1], "Q8_0") == 0 ? SP_DTYPE_Q8_0 : SP_DTYPE_F32;
    const int rounds = argc > 2 ? atoi(argv[2]) : 2;
    int32_t shapes[16][3] = {{32, 262144, 640}, {64, 262144, 640}, {512, 576, 1536}, {512, 1536, 576}};
    int n_shapes = 4;
    if (argc > 3)
        for (n_shapes = 0; n_shapes < 16 && n_shapes + 3 < argc; n_shapes++)
            if (sscanf(argv[n_shapes + 3], "%d,%d,%d", &shapes[n_shapes][0], &shapes[n_shapes][1], &shapes[n_shapes][2]) != 3) return 2;
    const double peak = sp_probe_peak_gflops(0.5);
    printf("probe %.1f GF/s, %s\n", peak, type == SP_DTYPE_F32 ? "F32" : "Q8_0");
    sp_rng rng;
    sp_rng_seed(&rng, 3);
    for (int s = 0; s < n_shapes; s++) {
        const int32_t n = shapes[s][0], R = shapes[s][1], K = shapes[s][2];
        const size_t rb = sp_dtype_row_bytes(type, K);
        uint8_t *wd = malloc(rb * (size_t)R);
        float *dy = malloc(4 * (size_t)n * R), *dx = malloc(4 * (size_t)n * K), *ref = malloc(4 * (size_t)n * K), *row = malloc(4 * (size_t)K);
        if (!wd || !dy || !dx || !ref || !row) { fprintf(stderr, "out of memory\n"); return 1; }
        for (int32_t r = 0; r < R; r++) {
            for (int32_t c = 0; c < K; c++) row[c] = sp_rng_normal(&rng) * 0.05f;
            sp_quantize_row(type, wd + (size_t)r * rb, row, K);
        }
        for (size_t i = 0; i < (size_t)n * R; i++) dy[i] = sp_rng_normal(&rng);
        const sp_mat w = {.data = wd, .type = type, .rows = R, .cols = K, .row_bytes = rb};
        double best[2] = {1e30, 1e30};
        for (int rd = 0; rd < rounds; rd++)
            for (int v = 0; v < 2; v++) {
                memset(dx, 0, 4 * (size_t)n * K);
                double t0 = cpu_ms();
                if (v == 0) k->matmul_dx(dx, dy, &w, n, 0, K);
                else dx_rows(dx, dy, &w, n);
                double dt = cpu_ms() - t0;
                if (dt < best[v]) best[v] = dt;
                if (v == 0) memcpy(ref, dx, 4 * (size_t)n * K);
                else if (memcmp(ref, dx, 4 * (size_t)n * K)) printf("  (rows DIFFERS)\n");
            }
        const double f = 2.0 * n * R * K * 1e-6;
        printf("n %4d  W %6d x %4d: tile %.2f  rows %.2f of the probe\n", n, R, K, f / best[0] / peak, f / best[1] / peak);
        free(wd); free(dy); free(dx); free(ref); free(row);
    }
    return 0;
}
