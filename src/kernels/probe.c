/* probe.c - peak-flops and copy-bandwidth probes, and the matmul benchmarks. */
#define _POSIX_C_SOURCE 199309L
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "probe.h"
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define PEAK_ITERS 200000
/* PEAK_CHAINS independent acc = acc*m + c chains (enough to cover the FMA latency); the seed
 * array holds their start values, then m (seed[PEAK_M]) and c (seed[PEAK_C]). */
#define PEAK_CHAINS 12
#define PEAK_M PEAK_CHAINS
#define PEAK_C (PEAK_CHAINS + 1)

/* PEAK_CHAINS chains, PEAK_ITERS times: 2 flops a lane a chain per iteration, 4 lanes in wasm
 * (the vector code below is unrolled by hand for 12 chains). The seeds come from the caller so
 * nothing folds at compile time. */
__attribute__((noinline)) static float peak_chunk(const float *seed) {
#ifdef __wasm_simd128__
    v128_t a0 = wasm_f32x4_splat(seed[0]), a1 = wasm_f32x4_splat(seed[1]), a2 = wasm_f32x4_splat(seed[2]),
           a3 = wasm_f32x4_splat(seed[3]), a4 = wasm_f32x4_splat(seed[4]), a5 = wasm_f32x4_splat(seed[5]),
           a6 = wasm_f32x4_splat(seed[6]), a7 = wasm_f32x4_splat(seed[7]), a8 = wasm_f32x4_splat(seed[8]),
           a9 = wasm_f32x4_splat(seed[9]), a10 = wasm_f32x4_splat(seed[10]), a11 = wasm_f32x4_splat(seed[11]);
    const v128_t m = wasm_f32x4_splat(seed[PEAK_M]), c = wasm_f32x4_splat(seed[PEAK_C]);
#define STEP(a) a = wasm_f32x4_add(wasm_f32x4_mul(a, m), c)
    for (int32_t i = 0; i < PEAK_ITERS; i++) {
        STEP(a0); STEP(a1); STEP(a2); STEP(a3); STEP(a4); STEP(a5);
        STEP(a6); STEP(a7); STEP(a8); STEP(a9); STEP(a10); STEP(a11);
    }
#undef STEP
    v128_t s = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(a0, a1), wasm_f32x4_add(a2, a3)),
                              wasm_f32x4_add(wasm_f32x4_add(a4, a5), wasm_f32x4_add(a6, a7)));
    s = wasm_f32x4_add(s, wasm_f32x4_add(wasm_f32x4_add(a8, a9), wasm_f32x4_add(a10, a11)));
    return wasm_f32x4_extract_lane(s, 0);
#else
    float a[PEAK_CHAINS];
    for (int j = 0; j < PEAK_CHAINS; j++) a[j] = seed[j];
    const float m = seed[PEAK_M], c = seed[PEAK_C];
    for (int32_t i = 0; i < PEAK_ITERS; i++)
        for (int j = 0; j < PEAK_CHAINS; j++) a[j] = a[j] * m + c;
    float s = 0.0f;
    for (int j = 0; j < PEAK_CHAINS; j++) s += a[j];
    return s;
#endif
}

/* Called through const volatile pointers so wasm-opt cannot inline them into a function
 * that runs once (V8 only uses optimised code for a wasm function from its next call). */
static float (*const volatile peak_chunk_p)(const float *) = peak_chunk;

double sp_probe_peak_gflops(double seconds) {
#ifdef __wasm_simd128__
    const double flops = 2.0 * 4 * PEAK_CHAINS * PEAK_ITERS;
#else
    const double flops = 2.0 * PEAK_CHAINS * PEAK_ITERS;
#endif
    float seed[PEAK_C + 1];
    double t = sp_now_ms();
    for (int j = 0; j < PEAK_CHAINS; j++) seed[j] = (float)((int64_t)t % 7) * 0.01f + (float)j * 0.125f;
    seed[PEAK_M] = 0.99990f;
    seed[PEAK_C] = 0.00013f;
    double best = 0.0, end = t + seconds * 1e3;
    volatile float sink = 0.0f;
    int runs = 0;
    do {
        double t0 = sp_now_ms();
        sink += peak_chunk_p(seed);
        double dt = sp_now_ms() - t0;
        if (dt > 0.0 && flops / dt * 1e-6 > best) best = flops / dt * 1e-6;
        runs++;
    } while (sp_now_ms() < end || runs < 3);
    (void)sink;
    return best;
}

/* dst[0..n) = src[0..n) with 16-byte loads and stores (n multiple of 64), in k interleaved
 * streams: the k slices of n/k bytes advance 64 bytes each in turn (see probe.h). */
__attribute__((noinline)) static void copy_chunk(uint8_t *dst, const uint8_t *src, size_t n, int32_t k) {
    const size_t per = (n / (size_t)k) & ~(size_t)63, done = per * (size_t)k;
#ifdef __wasm_simd128__
    for (size_t i = 0; i < per; i += 64)
        for (size_t o = i; o < done; o += per) {
            v128_t a = wasm_v128_load(src + o), b = wasm_v128_load(src + o + 16);
            v128_t c = wasm_v128_load(src + o + 32), d = wasm_v128_load(src + o + 48);
            wasm_v128_store(dst + o, a);
            wasm_v128_store(dst + o + 16, b);
            wasm_v128_store(dst + o + 32, c);
            wasm_v128_store(dst + o + 48, d);
        }
#else
    for (size_t i = 0; i < per; i += 64)
        for (size_t o = i; o < done; o += per) memcpy(dst + o, src + o, 64);
#endif
    memcpy(dst + done, src + done, n - done);
}

static void (*const volatile copy_chunk_p)(uint8_t *, const uint8_t *, size_t, int32_t) = copy_chunk;

/* One pass: task t of n copies its slice of the buffers, in SP_PROBE_PIECE calls of `streams` streams. */
typedef struct { uint8_t *dst; const uint8_t *src; size_t bytes; int32_t streams; } copy_job;

static void copy_task(void *ctx, int32_t t, int32_t n) {
    const copy_job *j = (const copy_job *)ctx;
    const size_t per = (j->bytes / (size_t)n) & ~(size_t)63, off = per * (size_t)t;
    const size_t len = t == n - 1 ? j->bytes - off : per, piece = SP_PROBE_PIECE;
    for (size_t o = 0; o < len; o += piece)
        copy_chunk_p(j->dst + off + o, j->src + off + o, len - o < piece ? len - o : piece, j->streams);
}

double sp_probe_copy_gbs(sp_pool *p, size_t bytes, double seconds) {
    if (bytes == 0) bytes = SP_PROBE_COPY_BYTES;
    bytes = (bytes + 63) & ~(size_t)63;
    uint8_t *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) { free(a); free(b); return -1.0; }
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    const int32_t th = sp_pool_threads(p);
    copy_job j = {.dst = b, .src = a, .bytes = bytes, .streams = 1};
    double best = 0.0, end = sp_now_ms() + seconds * 1e3;
    int runs = 0;
    do {
        j.streams = runs % 2 ? SP_PROBE_STREAMS : 1;
        double t0 = sp_now_ms();
        sp_pool_run(p, copy_task, &j, th); /* every thread at once, each its own slice */
        double dt = sp_now_ms() - t0;
        double gbs = 2.0 * (double)bytes / (dt * 1e6);
        if (dt > 0.0 && gbs > best) best = gbs;
        runs++;
    } while (sp_now_ms() < end || runs < 3);
    free(a);
    free(b);
    return best;
}

/* A sum over src[0..n) (n multiple of 64) with 16-byte loads into four accumulators, in k
 * interleaved streams as copy_chunk: a plain streaming read, the roof of a decode kernel that
 * must read every weight once. */
__attribute__((noinline)) static uint32_t read_chunk(const uint8_t *src, size_t n, int32_t k) {
    const size_t per = (n / (size_t)k) & ~(size_t)63, done = per * (size_t)k;
#ifdef __wasm_simd128__
    v128_t a0 = wasm_i32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < per; i += 64)
        for (size_t o = i; o < done; o += per) {
            a0 = wasm_i32x4_add(a0, wasm_v128_load(src + o));
            a1 = wasm_i32x4_add(a1, wasm_v128_load(src + o + 16));
            a2 = wasm_i32x4_add(a2, wasm_v128_load(src + o + 32));
            a3 = wasm_i32x4_add(a3, wasm_v128_load(src + o + 48));
        }
    uint32_t s = (uint32_t)wasm_i32x4_extract_lane(wasm_i32x4_add(wasm_i32x4_add(a0, a1), wasm_i32x4_add(a2, a3)), 0);
#else
    uint64_t s = 0;
    for (size_t i = 0; i < per; i += 64)
        for (size_t o = i; o < done; o += per)
            for (size_t b = 0; b < 64; b += 8) {
                uint64_t w;
                memcpy(&w, src + o + b, 8);
                s += w;
            }
#endif
    for (size_t o = done; o < n; o++) s += src[o];
    return (uint32_t)s;
}

static uint32_t (*const volatile read_chunk_p)(const uint8_t *, size_t, int32_t) = read_chunk;

double sp_probe_read_gbs(size_t bytes, double seconds) {
    if (bytes == 0) bytes = SP_PROBE_READ_BYTES;
    bytes = (bytes + 63) & ~(size_t)63;
    uint8_t *a = malloc(bytes);
    if (!a) return -1.0;
    memset(a, 1, bytes);
    const size_t piece = bytes < SP_PROBE_PIECE ? bytes : SP_PROBE_PIECE; /* per call */
    double best = 0.0, end = sp_now_ms() + seconds * 1e3;
    volatile uint32_t sink = 0;
    int runs = 0;
    do {
        const int32_t streams = runs % 2 ? SP_PROBE_STREAMS : 1;
        double t0 = sp_now_ms();
        for (size_t off = 0; off < bytes; off += piece) sink += read_chunk_p(a + off, bytes - off < piece ? bytes - off : piece, streams);
        double dt = sp_now_ms() - t0;
        double gbs = (double)bytes / (dt * 1e6);
        if (dt > 0.0 && gbs > best) best = gbs;
        runs++;
    } while (sp_now_ms() < end || runs < 3);
    (void)sink;
    free(a);
    return best;
}

size_t sp_bench_weight_bytes(uint32_t type, int32_t rows, int32_t cols) {
    size_t rb = sp_dtype_row_bytes(type, cols), total;
    if (rows <= 0 || rb == 0 || !sp_mul_size(rb, (size_t)rows, &total)) return 0;
    return total;
}

/* Flops per thread of one timed chunk of a large forward product (bench): about 0.5 ms at 40 GFLOP/s,
 * the length of one burst of the mul+add probe */
#define BENCH_CHUNK_FLOPS 2e7

static double bench(int backward, sp_pool *p, const sp_kernels *k, uint32_t type, int32_t n, int32_t rows, int32_t cols, double seconds) {
    size_t wbytes = sp_bench_weight_bytes(type, rows, cols), xs, ys;
    if (!k || n <= 0 || wbytes == 0 || !sp_dtype_supported(type)) return -1.0;
    if (!sp_mul_size((size_t)n * 4, (size_t)cols, &xs) || !sp_mul_size((size_t)n * 4, (size_t)rows, &ys)) return -1.0;
    uint8_t *wd = malloc(wbytes);
    float *x = malloc(xs), *y = malloc(ys), *tmp = malloc((size_t)cols * 4);
    double result = -1.0;
    if (!wd || !x || !y || !tmp) goto done;
    sp_rng rng;
    sp_rng_seed(&rng, 1234);
    size_t rb = wbytes / (size_t)rows;
    for (int32_t r = 0; r < rows; r++) {
        if (sp_random_row_kquant(type, wd + (size_t)r * rb, cols, &rng, 0.05f)) continue; /* K-quants: codes drawn directly */
        for (int32_t c = 0; c < cols; c++) tmp[c] = sp_rng_normal(&rng) * 0.05f;
        sp_quantize_row(type, wd + (size_t)r * rb, tmp, cols);
    }
    for (size_t i = 0; i < xs / 4; i++) x[i] = sp_rng_normal(&rng);
    for (size_t i = 0; i < ys / 4; i++) y[i] = sp_rng_normal(&rng) * 1e-3f;
    sp_mat w = {.type = type, .rows = rows, .cols = cols, .row_bytes = rb, .data = wd};
    sp_mat_check_f16(&w);
    const double flops = 2.0 * n * (double)rows * cols;
    double best = 1e300, end = sp_now_ms() + seconds * 1e3;
    int runs = 0;
    const int32_t threads = sp_pool_threads(p);
    const int64_t chunk = (int64_t)(BENCH_CHUNK_FLOPS * threads / (2.0 * n * cols)) & ~(int64_t)3;
    /* the integer forward rounds all of x once per call: chunks would repeat that work */
    const int x_once = type == SP_DTYPE_F32 || type == SP_DTYPE_F16 || type == SP_DTYPE_BF16 || !k->matmul_x16;
    if (!backward && n > 1 && x_once && chunk >= 4 && chunk * 2 <= rows) {
        /* A product of 5-30 ms is cut by the scheduler on a shared machine in nearly every call,
         * a 0.5 ms one seldom, and the probe it is compared with runs in bursts of that length. So
         * a large forward product is timed as chunks of rows of W of about 0.5 ms each (the same
         * work: every output element once, by the same kernel), each chunk's best time over the
         * repeats summed. On a quiet machine that equals the time of the whole call. */
        const int32_t nc = (int32_t)((rows + chunk - 1) / chunk);
        double *cbest = malloc(sizeof(double) * (size_t)nc);
        if (!cbest) goto done;
        for (int32_t c = 0; c < nc; c++) cbest[c] = 1e300;
        do {
            for (int32_t c = 0; c < nc; c++) {
                const int32_t r0 = (int32_t)(c * chunk), nr = rows - r0 < chunk ? rows - r0 : (int32_t)chunk;
                const sp_mat v = {.type = w.type, .rows = nr, .cols = cols, .row_bytes = rb, .data = wd + (size_t)r0 * rb,
                                  .f16_finite = w.f16_finite};
                double t0 = sp_now_ms();
                sp_matmul(p, k, y, x, &v, n); /* y as (n, nr) */
                double dt = sp_now_ms() - t0;
                if (dt < cbest[c]) cbest[c] = dt;
            }
            runs++;
        } while (sp_now_ms() < end || runs < 4);
        best = 0.0;
        for (int32_t c = 0; c < nc; c++) best += cbest[c];
        free(cbest);
    } else {
        /* calls per timed batch: doubled until a batch lasts at least 1 ms */
        int32_t per = 1;
        do {
            double t0 = sp_now_ms();
            for (int32_t c = 0; c < per; c++) {
                if (backward) sp_matmul_dx(p, k, x, y, &w, n);
                else if (n == 1) sp_matvec_decode(p, k, y, x, &w, 1); /* with streams, as generation picks them */
                else sp_matmul(p, k, y, x, &w, n);
            }
            double dt = (sp_now_ms() - t0) / per;
            if (dt < best) best = dt;
            if (dt * per < 1.0 && per < (1 << 20)) per *= 2;
            runs++;
        } while (sp_now_ms() < end || runs < 4);
    }
    if (best > 0.0) result = flops / (best * 1e6);
done:
    free(wd);
    free(x);
    free(y);
    free(tmp);
    return result;
}

double sp_bench_matmul_gflops(sp_pool *p, const sp_kernels *k, uint32_t type, int32_t n, int32_t rows, int32_t cols, double seconds) {
    return bench(0, p, k, type, n, rows, cols, seconds);
}

double sp_bench_matmul_dx_gflops(sp_pool *p, const sp_kernels *k, uint32_t type, int32_t n, int32_t rows, int32_t cols, double seconds) {
    return bench(1, p, k, type, n, rows, cols, seconds);
}
