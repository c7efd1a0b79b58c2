/* kernels.h - the compute kernels and their single dispatch point.
 *
 * Organised like XNNPACK: one table of kernels per ISA (sp_kernels: scalar, wasmsimd), chosen
 * once by sp_kernels_get() and stored on the engine; the rest of the engine calls through it.
 * Every kernel has a scalar reference and a wasm SIMD128 variant with the same signature, one
 * family per file: <family>_scalar.c and <family>_wasmsimd.c (dequant, matmul, matmul_dx, gemm,
 * gemm_x16 (its driver and packing, shared: gemm_x16.c), gemv, gemv_x16, vec, attention,
 * softmax, swiglu, rmsnorm, rope). Kernels are named
 * sp_<op>_<dtype>[_<tile>]_<isa>[_<variant>], e.g. sp_gemm_f32_3x3_wasmsimd,
 * sp_gemv_q8_0_1x4_wasmsimd_x16, sp_rmsnorm_f32_scalar; the table's matrix entries take any
 * weight dtype (sp_matmul_wasmsimd). The tables are listed in dispatch.c.
 * Multi-threading: the drivers sp_matmul / sp_matmul_group / sp_matmul_dx (dispatch.c) split
 * rows or columns over a thread pool (pool.c). Probes and benchmarks: probe.h.
 *
 * Numerics of the matrix products (the exact tables: scalar, and sp_kernels_exact of wasmsimd):
 * weights are dequantized exactly to f32 (d*q, no rounding), then multiplied by the f32
 * activations; no FMA. The wasmsimd table (matmul_x16, decode_x16) instead rounds x to 16 bits
 * per block of 32 on quantized weights and uses integer dot products (below). Each matmul output element has one fixed
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
struct sp_x16_ops; /* the integer product's tile and packing routines (kernels_impl.h) */
typedef struct {
    const char *isa; /* "scalar" or "wasmsimd" */
    /* Y[n, w.rows] = X[n, w.cols] · Wᵀ  (the forward layout). Overwrites y.
     * Where matmul_x16 is 1, on Q8_0 / Q4_0 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K weights each row of x is rounded
     * to 16 bits per block of 32 (gemm_x16.c: |error| <= max|x_block| / (2*qmax) per element,
     * qmax 32767, 16383 for Q6_K) and the products are integer dot products: about 1e-5 of the
     * output's scale from the exact product (tests/c/test_kernels.c states the bound), and a
     * step function of x at that scale, so finite differences need the exact table. Still one
     * formula per element: any row split, any n, bitwise. */
    void (*matmul)(float *y, const float *x, const sp_mat *w, int32_t n, int32_t row0, int32_t row1);
    int32_t matmul_x16; /* 1: matmul rounds x as above on quantized weights; 0: exact */
    const struct sp_x16_ops *x16; /* where matmul_x16 is 1: its routines, which sp_matmul_group uses to
                                   * round x once for several products; else NULL */
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
     * block of 32 on Q8_0 / Q4_0 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K weights as matmul_x16 does (then y is
     * bitwise matmul's with n == 1, given finite f16 scales on Q8_0 / Q4_0 / Q5_0 / Q5_1) and use integer dot
     * products, which brings decoding close to memory bound. That rounding makes y a
     * step function of x at that scale: use matmul wherever gradients or finite differences
     * are taken (training, gradient checks), matvec_decode for token-by-token generation.
     * streams = 1 reads the rows from many far-apart chunks of [row0, row1) at once, which
     * one thread streams from memory faster than rows in order (wasmsimd.h, "Streams"); the
     * generator measures both ways (generate.c). y is bit for bit the same either way. */
    void (*matvec_decode)(float *y, const float *x, const sp_mat *w, int32_t row0, int32_t row1, int32_t streams);
    int32_t decode_x16; /* 1: matvec_decode rounds x as above (wasmsimd); 0: it equals the exact matmul */

    /* ---- row kernels: attention over one head, softmax, SwiGLU, RMSNorm, RoPE ----
     * The model (forward.c / backward.c) builds attention out of three small products over one head:
     *
     *   qk   D = scale · Y·Xᵀ       scores (Y = q rows, X = key rows) and dP (Y = dO, X = value rows)
     *   av   O += A·X              output (A = probabilities, X = value rows) and dQ (A = dS, X = keys)
     *   atv  Z += Aᵀ·Y             dV (A = probabilities, Y = dO) and dK (A = dS, Y = q rows)
     *
     * with head_dim-long rows at any stride, and the softmax / SwiGLU / RMSNorm / RoPE row operations
     * on top.
     *
     * Numerics: no FMA (mul then add). Every output element has one fixed formula whatever the tile
     * it falls in and whatever the other arguments' sizes, so splitting rows or heads over threads
     * never changes a bit:
     *   qk  : 4 lane sums over d in steps of 4 ((l0+l2)+(l1+l3)), then the d % 4 tail in order, times scale;
     *   av  : o + a_0·x_0 + a_1·x_1 + ... in j order, per element;
     *   atv : z + a_0·y_0 + a_1·y_1 + ... in i order, per element;
     *   exp : one polynomial (Cephes expf, |rel err| < 2e-7), results below 1.6e-38 flushed to 0 and
     *         arguments above 88 give +inf; sums over 4 lanes in a fixed order;
     *   rmsnorm : sums of squares (and the backward's dot) in double, 4 lanes over j % 4 then
     *         (l0+l2)+(l1+l3), then the tail in order (products of two floats are exact in double).
     * The scalar and SIMD tables compute exactly the same operations, so they agree bit for bit. */

    /* d[i*ldd + j] = scale * dot(y_i, x_j), y_i = y + i*ldy, x_j = x + j*ldx (hd floats each);
     * i < ny, j < nx. Overwrites d. */
    void (*qk)(float *d, int64_t ldd, const float *y, int64_t ldy, int32_t ny, const float *x, int64_t ldx, int32_t nx,
               int32_t hd, float scale);
    /* o_i += sum_j a[i*lda + j] * x_j for i < no, j < nx (o_i = o + i*ldo, x_j = x + j*ldx; hd floats). */
    void (*av)(float *o, int64_t ldo, const float *a, int64_t lda, int32_t no, const float *x, int64_t ldx, int32_t nx,
               int32_t hd);
    /* z_j += sum_i a[i*lda + j] * y_i for j < nz, i < ny (z_j = z + j*ldz, y_i = y + i*ldy; hd floats). */
    void (*atv)(float *z, int64_t ldz, const float *a, int64_t lda, int32_t nz, const float *y, int64_t ldy, int32_t ny,
                int32_t hd);
    /* max of x[0..n) (n >= 1). NaN inputs may be skipped (exp_sum then still gives NaN for them) */
    float (*max)(const float *x, int32_t n);
    /* x[0..n) = exp(x - mx); returns the sum of the new values (f32 lanes added into a double
     * every 256 values, so long rows such as a vocabulary stay accurate). */
    double (*exp_sum)(float *x, int32_t n, float mx);
    /* x[0..n) *= a */
    void (*scale)(float *x, int32_t n, float a);
    /* softmax backward in place: p[j] = p[j] * (dp[j] - sum_k p[k]*dp[k]) * scale, j < n */
    void (*softmax_backward)(float *p, const float *dp, int32_t n, float scale);
    /* h = silu(g) * u, silu(x) = x / (1 + exp(-x)) (silu(-inf) = -0) */
    void (*swiglu)(float *h, const float *g, const float *u, int32_t n);
    /* inverse of the above: dg = dh * u * silu'(g), du = dh * silu(g) (overwrite; du may be dh:
     * each dh[i] is read before du[i] is written) */
    void (*swiglu_backward)(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n);
    /* h = gelu(g) * u, or h = gelu(g) with u NULL: GELU in its tanh form (transformers'
     * gelu_pytorch_tanh / gelu_new), 0.5 g (1 + tanh(k (g + c g^3))), computed as
     * g / (1 + exp(-2k g (1 + c g^2))) (the same function; one exp) */
    void (*geglu)(float *h, const float *g, const float *u, int32_t n);
    /* inverse of the above: dg = dh * u * gelu'(g), du = dh * gelu(g) (du may be dh); u NULL:
     * dg = dh * gelu'(g) and du is not touched */
    void (*geglu_backward)(float *dg, float *du, const float *dh, const float *g, const float *u, int32_t n);
    /* RMSNorm of n rows (n, dim): out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) (f32 of the
     * double); rstd (n) may be NULL; out may be x. */
    void (*rmsnorm)(float *out, float *rstd, const float *x, const float *w, int32_t n, int32_t dim, float eps);
    /* its backward with w frozen, accumulating: dx += rstd * w * dout - x * rstd^3 / dim * sum(dout * w * x) */
    void (*rmsnorm_backward)(float *dx, const float *dout, const float *x, const float *w, const float *rstd, int32_t n,
                             int32_t dim);
    /* RoPE in place on n rows of n_heads heads of hd floats (row stride n_heads * hd): row r, pair i
     * rotated by tab[(r * hd/2 + i) * 2 + {0, 1}] = cos, sin (sin times sign: -1 rotates back).
     * The pairs are (2i, 2i+1) when adjacent, else (i, i + hd/2):
     *   a' = a * cos - b * sin ; b' = a * sin + b * cos */
    void (*rope)(float *x, const float *tab, int32_t n, int32_t n_heads, int32_t hd, int32_t adjacent, float sign);
} sp_kernels;

typedef enum { SP_ISA_SCALAR = 0, SP_ISA_WASMSIMD = 1, SP_ISA_BEST = 2 } sp_isa;
/* Returns the table for isa, or NULL if this build lacks it. SP_ISA_BEST: the fastest available. */
const sp_kernels *sp_kernels_get(sp_isa isa);
/* The table of k's ISA whose products are all exact (matmul_x16 = decode_x16 = 0): k itself where
 * it already is. The engine's "exact" option (sp_engine_set_exact) and the gradient checks use it. */
const sp_kernels *sp_kernels_exact(const sp_kernels *k);

/* Threaded drivers: split rows (matmul) or columns or rows of dy (matmul_dx) over the pool.
 * Bitwise identical results for any thread count (each output element is computed by
 * exactly one task, with a fixed summation order). */
void sp_matmul(sp_pool *p, const sp_kernels *k, float *y, const float *x, const sp_mat *w, int32_t n);
/* Products that share their input x (n, cols), such as q, k, v: ys[i] = x · ws[i]ᵀ for i < count
 * (<= SP_GROUP_MAX), the rows of all of them split over the pool in one run (a decoded token
 * wakes the pool once per group, not per matrix). decode 1 (2: with streams) and n == 1:
 * through matvec_decode as sp_matvec_decode. Bitwise sp_matmul (sp_matvec_decode) on each matrix.
 * Where k->x16 rounds x (quantized weights), x is rounded once per rounding (sp_x16_qmax: Q6_K
 * has its own) into panel, which every matrix of that rounding then reads: panel holds
 * sp_matmul_panel_bytes(n, cols) bytes, 16-aligned. With panel NULL each task rounds x itself,
 * into memory of its own, as sp_matmul does. */
#define SP_GROUP_MAX 3
void sp_matmul_group(sp_pool *p, const sp_kernels *k, float *const *ys, const float *x, const sp_mat *const *ws, int32_t count,
                     int32_t n, int32_t decode, void *panel);
size_t sp_matmul_panel_bytes(int32_t n, int32_t cols);
void sp_matmul_dx(sp_pool *p, const sp_kernels *k, float *dx, const float *dy, const sp_mat *w, int32_t n);
/* y[w.rows] = W · x for one row through k->matvec_decode (streams: see there), rows split over the pool. */
void sp_matvec_decode(sp_pool *p, const sp_kernels *k, float *y, const float *x, const sp_mat *w, int32_t streams);

/* exp(x) with the row kernels' polynomial (scalar; identical to every lane of the SIMD version). */
float sp_expf(float x);

/* ---- quantization (tests, benchmarks, tools) ---- */
/* Encodes n floats as one row of type t (ggml's reference rounding for Q8_0/Q4_0/Q5_0/Q5_1 and its reference
 * quantizers for Q4_K/Q5_K/Q6_K,
 * round-to-nearest-even for F16/BF16). Returns bytes written (sp_dtype_row_bytes(t, n)),
 * or 0 if t is unsupported or n is not a multiple of the block size. */
size_t sp_quantize_row(uint32_t t, void *dst, const float *src, int64_t n);
/* One row of n random Q4_K / Q5_K / Q6_K values of about +-amp, written straight as codes (every
 * code and sub-block scale uniform): benchmark weights, since the K-quant reference quantizer
 * costs ~100 ns a value. Returns bytes written, or 0 for another type or n not a multiple of 256. */
size_t sp_random_row_kquant(uint32_t t, void *dst, int64_t n, sp_rng *rng, float amp);

/* Below this many multiply-adds a product (or an attention pass) runs on the calling thread:
 * waking workers costs more than it saves. */
#define SP_PAR_MIN_MACS (1 << 17)
/* A product split over threads gives each task a multiple of this many rows: whole 3-row GEMM
 * panels and whole 4-row matvec tiles (lcm(3, 4)). */
#define SP_ROW_ALIGN 12

#endif
