/* dispatch.c - the one place that picks a kernel table, and the threaded drivers.
 *
 * The drivers split output rows (matmul) or output columns (matmul_dx) into contiguous
 * chunks, one task each; matmul_dx splits the rows of dy instead when that divides the work
 * more evenly (dim 288 is 9 blocks of 32 columns: 5 + 4 on two threads). Each output element
 * is computed by exactly one task with a formula that does not depend on where the chunk
 * starts, so results are bitwise identical for any thread count. */
#include "kernels_impl.h"

/* One table per ISA: every entry names its kernel (op_dtype_isa; the tiles are inside). */
#define SP_KERNEL_TABLE(name, MATMUL, MATMUL_X16, DECODE, DECODE_X16) \
    {                                                               \
        .isa = #name,                                               \
        .matmul = MATMUL,                                           \
        .matmul_x16 = MATMUL_X16,                                   \
        .matmul_dx = sp_matmul_dx_##name,                           \
        .mat_row = sp_mat_row_##name,                               \
        .dot = sp_dot_f32_##name,                                   \
        .axpy = sp_axpy_f32_##name,                                 \
        .matvec_decode = DECODE,                                    \
        .decode_x16 = DECODE_X16,                                   \
        .qk = sp_qk_f32_##name,                                     \
        .av = sp_av_f32_##name,                                     \
        .atv = sp_atv_f32_##name,                                   \
        .max = sp_max_f32_##name,                                   \
        .exp_sum = sp_exp_sum_f32_##name,                           \
        .scale = sp_scale_f32_##name,                               \
        .softmax_backward = sp_softmax_backward_f32_##name,         \
        .swiglu = sp_swiglu_f32_##name,                             \
        .swiglu_backward = sp_swiglu_backward_f32_##name,           \
        .rmsnorm = sp_rmsnorm_f32_##name,                           \
        .rmsnorm_backward = sp_rmsnorm_backward_f32_##name,         \
        .rope = sp_rope_f32_##name,                                 \
    }

/* The reference: plain loops, used natively (tests, fuzzing) and by wasm builds without SIMD. */
static const sp_kernels sp_kernels_scalar = SP_KERNEL_TABLE(scalar, sp_matmul_scalar, 0, sp_matvec_decode_scalar, 0);
#ifdef __wasm_simd128__
/* wasm SIMD128; matmul rounds x to 16 bits on the quantized types (gemm_x16.c), matvec_decode on
 * Q8_0 / Q4_0 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K (gemv_x16_wasmsimd.c). */
static const sp_kernels sp_kernels_wasmsimd =
    SP_KERNEL_TABLE(wasmsimd, sp_matmul_x16_wasmsimd, 1, sp_matvec_decode_wasmsimd, 1);
/* the same with exact products throughout (sp_kernels_exact) */
static const sp_kernels sp_kernels_wasmsimd_exact =
    SP_KERNEL_TABLE(wasmsimd, sp_matmul_wasmsimd, 0, sp_matvec_decode_exact_wasmsimd, 0);
#endif
#undef SP_KERNEL_TABLE

const sp_kernels *sp_kernels_get(sp_isa isa) {
    switch (isa) {
    case SP_ISA_SCALAR:
        return &sp_kernels_scalar;
    case SP_ISA_WASMSIMD:
#ifdef __wasm_simd128__
        return &sp_kernels_wasmsimd;
#else
        return NULL;
#endif
    case SP_ISA_BEST:
#ifdef __wasm_simd128__
        return &sp_kernels_wasmsimd;
#else
        return &sp_kernels_scalar;
#endif
    }
    return NULL;
}

const sp_kernels *sp_kernels_exact(const sp_kernels *k) {
#ifdef __wasm_simd128__
    if (k == &sp_kernels_wasmsimd) return &sp_kernels_wasmsimd_exact;
#endif
    return k;
}

/* What a task of an mm_job computes over its range [a, b) */
typedef enum {
    MM_ROWS,        /* matmul: rows [a, b) of W (columns of y), every row of x */
    MM_DECODE,      /* matvec_decode: rows [a, b) of W */
    MM_DX_COLS,     /* matmul_dx: columns [a, b) of W (of dx), every row of dy */
    MM_DX_ROWS,     /* matmul_dx: rows [a, b) of dy and dx, every column */
} mm_op;

typedef struct {
    const sp_kernels *k;
    mm_op op;
    float *out;        /* y (n, rows) or dx (n, cols) */
    const float *in;   /* x (n, cols) or dy (n, rows) */
    const sp_mat *w;
    int32_t n;
    int32_t chunk;     /* rows or columns per task */
    int32_t total;     /* rows or columns in all */
    int32_t streams;   /* matvec_decode's streams */
} mm_job;

/* Task t of a job: its range [a, b) of the job's rows or columns, then the op's kernel on it. */
static void mm_task(void *ctx, int32_t t, int32_t n_tasks) {
    (void)n_tasks; /* the pool's task signature */
    const mm_job *j = ctx;
    const int64_t lo = (int64_t)t * j->chunk, hi = lo + j->chunk < j->total ? lo + j->chunk : j->total;
    if (lo >= hi) return;
    const int32_t a = (int32_t)lo, b = (int32_t)hi;
    switch (j->op) {
    case MM_ROWS: j->k->matmul(j->out, j->in, j->w, j->n, a, b); break;
    case MM_DECODE: j->k->matvec_decode(j->out, j->in, j->w, a, b, j->streams); break;
    case MM_DX_COLS: j->k->matmul_dx(j->out, j->in, j->w, j->n, a, b); break;
    case MM_DX_ROWS:
        j->k->matmul_dx(j->out + (size_t)a * j->w->cols, j->in + (size_t)a * j->w->rows, j->w, b - a, 0, j->w->cols);
        break;
    }
}

/* Runs a job on the pool: one task per chunk of its total. */
static void mm_run(sp_pool *p, mm_job *j) {
    sp_pool_run(p, mm_task, j, (int32_t)(((int64_t)j->total + j->chunk - 1) / j->chunk));
}

/* Chunk size: total split over the threads, rounded up to a multiple of align. */
static int32_t split_chunk(int32_t total, int32_t threads, int32_t align) {
    int64_t c = ((int64_t)total + threads - 1) / threads;
    c = (c + align - 1) / align * align;
    return c < align ? align : (int32_t)(c < total ? c : total);
}

void sp_matmul(sp_pool *p, const sp_kernels *k, float *y, const float *x, const sp_mat *w, int32_t n) {
    if (n <= 0 || w->rows <= 0) return;
    int32_t threads = sp_pool_threads(p);
    double macs = (double)n * w->rows * w->cols;
    if (threads <= 1 || macs < SP_PAR_MIN_MACS) {
        k->matmul(y, x, w, n, 0, w->rows);
        return;
    }
    mm_job j = {.k = k, .op = MM_ROWS, .out = y, .in = x, .w = w, .n = n, .chunk = split_chunk(w->rows, threads, SP_ROW_ALIGN),
                .total = w->rows};
    mm_run(p, &j);
}

void sp_matmul_dx(sp_pool *p, const sp_kernels *k, float *dx, const float *dy, const sp_mat *w, int32_t n) {
    if (n <= 0 || w->cols <= 0) return;
    int32_t threads = sp_pool_threads(p);
    double macs = (double)n * w->rows * w->cols;
    if (threads <= 1 || macs < SP_PAR_MIN_MACS) {
        k->matmul_dx(dx, dy, w, n, 0, w->cols);
        return;
    }
    /* the largest task's share of the work, split by columns and by rows of dy */
    const int32_t cchunk = split_chunk(w->cols, threads, SP_COL_ALIGN), rchunk = split_chunk(n, threads, 4);
    if ((double)rchunk / n < (double)cchunk / w->cols) {
        mm_job j = {.k = k, .op = MM_DX_ROWS, .out = dx, .in = dy, .w = w, .n = n, .chunk = rchunk, .total = n};
        mm_run(p, &j);
        return;
    }
    mm_job j = {.k = k, .op = MM_DX_COLS, .out = dx, .in = dy, .w = w, .n = n, .chunk = cchunk, .total = w->cols};
    mm_run(p, &j);
}

void sp_matvec_decode(sp_pool *p, const sp_kernels *k, float *y, const float *x, const sp_mat *w, int32_t streams) {
    if (w->rows <= 0) return;
    int32_t threads = sp_pool_threads(p);
    double macs = (double)w->rows * w->cols;
    if (threads <= 1 || macs < SP_PAR_MIN_MACS) {
        k->matvec_decode(y, x, w, 0, w->rows, streams);
        return;
    }
    mm_job j = {.k = k, .op = MM_DECODE, .out = y, .in = x, .w = w, .n = 1, .chunk = split_chunk(w->rows, threads, SP_ROW_ALIGN),
                .total = w->rows, .streams = streams};
    mm_run(p, &j);
}
