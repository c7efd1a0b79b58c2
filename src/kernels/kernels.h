/* kernels.h - the compute kernels and their single dispatch point.
 *
 * Organised like XNNPACK: every kernel has a scalar reference (scalar.c) and a
 * wasm SIMD128 variant (wasmsimd.c) with the same signature. sp_kernels_get()
 * is the one place that chooses; the rest of the engine calls through sp_kernels.
 * Multi-threading: the drivers sp_matmul / sp_matmul_dx (dispatch.c) split rows or
 * columns over a thread pool (pool.c). Probes and benchmarks: probe.h.
 *
 * Numerics (both tables): weights are dequantized exactly to f32 (d*q, no rounding), then
 * multiplied by the f32 activations; no FMA. Each matmul output element has one fixed
 * formula whatever the row range or the thread count (bitwise identical results for any
 * split), and whatever n: a row computed alone (n=1) is bitwise equal to the same row
 * inside a batch (prefill). Only matvec_decode may trade that for speed (decode_x16).
 * matmul_dx adds the terms to dx one row of W at a time, in row order, identically in both
 * tables (so the two tables agree bit for bit there). */
#ifndef SP_KERNELS_H
#define SP_KERNELS_H

#include "../tensor.h"

/* ---- thread pool (pthreads when built with -pthread, else runs inline) ---- */
typedef struct sp_pool sp_pool;
typedef void (*sp_task_fn)(void *ctx, int32_t task, int32_t n_tasks);
/* n_threads <= 1 (or a build without threads) gives a pool that runs tasks inline.
 * Starts n_threads-1 persistent workers; the caller of sp_pool_run works too. Under
 * Emscripten keep n_threads-1 <= PTHREAD_POOL_SIZE: a worker that the runtime can only
 * start later never takes tasks (the caller runs them) and would block sp_pool_free.
 * Returns NULL on failure. */
sp_pool *sp_pool_create(int32_t n_threads);
void sp_pool_free(sp_pool *p);
int32_t sp_pool_threads(const sp_pool *p); /* 1 for NULL */
/* Runs fn(ctx, i, n_tasks) for i in [0, n_tasks) over the pool's threads and waits.
 * p may be NULL (inline). Results must not depend on which thread runs a task.
 * Not re-entrant: no sp_pool_run from inside a task or from two threads at once. */
void sp_pool_run(sp_pool *p, sp_task_fn fn, void *ctx, int32_t n_tasks);

/* ---- kernel table ---- */
typedef struct {
    const char *isa; /* "scalar" or "wasmsimd" */
    /* Y[n, w.rows] = X[n, w.cols] · Wᵀ  (the forward layout). Overwrites y. */
    void (*matmul)(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1);
    /* dX[n, w.cols] += dY[n, w.rows] · W  (the backward layout). Accumulates; handles cols [col0, col1)
     * (col0/col1 multiples of 32 except at the end) so threads can split over columns. */
    void (*matmul_dx)(float *dx, const float *dy, const sp_mat *w, int32_t n, int32_t col0, int32_t col1);
    /* out[w.cols] = row r of W, dequantized to f32. */
    void (*mat_row)(float *out, const sp_mat *w, int32_t r);
    /* dot product and out += a*x over n floats */
    float (*dot)(const float *a, const float *b, int32_t n);
    void (*axpy)(float *out, float a, const float *x, int32_t n);
    /* Decoding: y[w.rows] (rows [row0,row1) only) = W · x for ONE row x[w.cols]. Same as
     * matmul with n == 1, except that where decode_x16 is 1 it may round x to 16 bits per
     * block of 32 on Q8_0 / Q4_0 weights (|error| <= max|x_block| / 65534 per element) and
     * use integer dot products, which makes decoding memory bound. That rounding makes y a
     * step function of x at that scale: use matmul wherever gradients or finite differences
     * are taken (training, gradient checks), matvec_decode for token-by-token generation.
     * streams = 1 reads the rows from many far-apart chunks of [row0, row1) at once, which
     * one thread streams from memory faster than rows in order (wasmsimd.c, "Streams"); the
     * generator measures both ways (generate.c). y is bit for bit the same either way. */
    void (*matvec_decode)(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams);
    int32_t decode_x16; /* 1: matvec_decode rounds x as above (wasmsimd); 0: it equals matmul */
} sp_kernels;

typedef enum { SP_ISA_SCALAR = 0, SP_ISA_WASMSIMD = 1, SP_ISA_BEST = 2 } sp_isa;
/* Returns the table for isa, or NULL if this build lacks it. SP_ISA_BEST: the fastest available. */
const sp_kernels *sp_kernels_get(sp_isa isa);

/* Threaded drivers: split rows (matmul) or columns or rows of dy (matmul_dx) over the pool.
 * Bitwise identical results for any thread count (each output element is computed by
 * exactly one task, with a fixed summation order). */
void sp_matmul(sp_pool *p, const sp_kernels *k, float *y, const float *x, const sp_mat *w, int32_t n);
void sp_matmul_dx(sp_pool *p, const sp_kernels *k, float *dx, const float *dy, const sp_mat *w, int32_t n);
/* y[w.rows] = W · x for one row through k->matvec_decode (streams: see there), rows split over the pool. */
void sp_matvec_decode(sp_pool *p, const sp_kernels *k, float *y, const float *x, const sp_mat *w, int32_t streams);

/* ---- quantization (tests, benchmarks, tools) ---- */
/* Encodes n floats as one row of type t (ggml's reference rounding for Q8_0/Q4_0,
 * round-to-nearest-even for F16/BF16). Returns bytes written (sp_dtype_row_bytes(t, n)),
 * or 0 if t is unsupported or n is not a multiple of the block size. */
size_t sp_quantize_row(uint32_t t, void *dst, const float *src, int64_t n);

#endif
