/* dispatch.c - the one place that picks a kernel table, and the threaded drivers.
 *
 * The drivers split output rows (matmul) or output columns (matmul_dx) into contiguous
 * chunks, one task each; matmul_dx splits the rows of dy instead when that divides the work
 * more evenly (dim 288 is 9 blocks of 32 columns: 5 + 4 on two threads). A batched product
 * has several tasks per thread, handed out as threads come free: the two threads of a job do
 * not run at the same speed (a vCPU's host core is shared, a worker wakes late), and with one
 * task each the job waits for the slower one. Each output element
 * is computed by exactly one task with a formula that does not depend on where the chunk
 * starts, so results are bitwise identical for any thread count. A group of products with one
 * input (sp_matmul_group) splits the matrices' concatenated rows the same way; on quantized
 * weights with integer products it first rounds x into the caller's panel (split over the pool
 * by groups of 4 rows), once per rounding, and every task's tiles read that panel. */
#include <stdlib.h>
#include "kernels_impl.h"

/* One table per ISA: every entry names its kernel (op_dtype_isa; the tiles are inside). */
#define SP_KERNEL_TABLE(name, MATMUL, MATMUL_X16, DECODE, DECODE_X16) \
    {                                                               \
        .isa = #name,                                               \
        .matmul = MATMUL,                                           \
        .matmul_x16 = MATMUL_X16,                                   \
        .x16 = MATMUL_X16 ? &sp_x16_ops_##name : NULL,              \
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
        .geglu = sp_geglu_f32_##name,                               \
        .geglu_backward = sp_geglu_backward_f32_##name,             \
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
    MM_ROWS,        /* matmul: rows [a, b) of the matrices' concatenated rows (columns of y), every row of x */
    MM_DECODE,      /* matvec_decode: the same with one row of x */
    MM_DX_COLS,     /* matmul_dx: columns [a, b) of W (of dx), every row of dy */
    MM_DX_ROWS,     /* matmul_dx: rows [a, b) of dy and dx, every column */
} mm_op;

typedef struct {
    const sp_kernels *k;
    mm_op op;
    int32_t count;                   /* matrices (MM_ROWS, MM_DECODE; 1 for matmul_dx) */
    float *out[SP_GROUP_MAX];        /* y (n, rows) or dx (n, cols) */
    const sp_mat *w[SP_GROUP_MAX];
    const void *panel[SP_GROUP_MAX]; /* MM_ROWS: x packed for this matrix's integer product, or NULL: k->matmul */
    const float *in;                 /* x (n, cols) or dy (n, rows) */
    int32_t n;
    int32_t chunk;     /* rows or columns per task */
    int32_t total;     /* rows or columns in all */
    int32_t streams;   /* matvec_decode's streams */
} mm_job;

/* Rows [a, b) of matrix i of a job */
static void mm_rows(const mm_job *j, int32_t i, int32_t a, int32_t b) {
    if (j->op == MM_DECODE) j->k->matvec_decode(j->out[i], j->in, j->w[i], a, b, j->streams);
    else if (j->panel[i]) sp_x16_panel_matmul(j->out[i], j->panel[i], j->w[i], j->n, a, b, j->k->x16);
    else j->k->matmul(j->out[i], j->in, j->w[i], j->n, a, b);
}

/* Task t of a job: its range [a, b) of the job's rows or columns, then the op's kernel on it. */
static void mm_task(void *ctx, int32_t t, int32_t n_tasks) {
    (void)n_tasks; /* the pool's task signature */
    const mm_job *j = ctx;
    const int64_t lo = (int64_t)t * j->chunk, hi = lo + j->chunk < j->total ? lo + j->chunk : j->total;
    if (lo >= hi) return;
    const int32_t a = (int32_t)lo, b = (int32_t)hi;
    switch (j->op) {
    case MM_ROWS:
    case MM_DECODE:
        for (int32_t i = 0, base = 0; i < j->count && base < b; base += j->w[i]->rows, i++) {
            const int32_t r0 = a > base ? a - base : 0, r1 = b - base < j->w[i]->rows ? b - base : j->w[i]->rows;
            if (r0 < r1) mm_rows(j, i, r0, r1);
        }
        break;
    case MM_DX_COLS: j->k->matmul_dx(j->out[0], j->in, j->w[0], j->n, a, b); break;
    case MM_DX_ROWS:
        j->k->matmul_dx(j->out[0] + (size_t)a * j->w[0]->cols, j->in + (size_t)a * j->w[0]->rows, j->w[0], b - a, 0, j->w[0]->cols);
        break;
    }
}

/* Runs a job on the pool: one task per chunk of its total. */
static void mm_run(sp_pool *p, mm_job *j) {
    sp_pool_run(p, mm_task, j, (int32_t)(((int64_t)j->total + j->chunk - 1) / j->chunk));
}

/* Tasks per thread of a batched product. Measured on 2 vCPUs (smollm2-135m Q8_0 prefill), one
 * task per thread: the caller waited for the worker's task 6-27% of the prefill; the threads of
 * that machine run 1.0-1.5x apart in speed at times (README, bench notes). */
#define TASKS_PER_THREAD 4
/* A batched product's row tasks are whole 8-row tiles of W (the integer product's; the f32
 * GEMM's 4-row tiles) and whole SP_ROW_ALIGN chunks. */
#define GEMM_ROW_ALIGN 24

/* The most tasks a product of `macs` multiply-adds is split into: TASKS_PER_THREAD per thread,
 * fewer where a task would fall below SP_PAR_MIN_MACS, never fewer than the threads. */
static int32_t product_tasks(double macs, int32_t threads) {
    const double most = (double)TASKS_PER_THREAD * threads, by_size = macs / SP_PAR_MIN_MACS;
    const double t = by_size < most ? by_size : most;
    return t > threads ? (int32_t)t : threads;
}

/* The share of `total` that the thread taking tasks 0, threads, 2*threads, ... gets when total
 * is cut into chunks of `chunk` (the last one shorter): the job's length on equal threads. */
static double split_share(int32_t total, int32_t chunk, int32_t threads) {
    const int32_t m = (total + chunk - 1) / chunk, mine = (m + threads - 1) / threads;
    const int32_t short_by = (m - 1) % threads == 0 ? m * chunk - total : 0; /* thread 0 has the last task */
    return (double)((int64_t)mine * chunk - short_by) / total;
}

/* Chunk size: a multiple of align that cuts total into max_tasks / 2 .. max_tasks tasks (at
 * least `threads`; the finest chunks where total is too small for that) with the smallest share
 * for the busiest thread (ties: more tasks); *share gets that share. */
static int32_t split_chunk(int32_t total, int32_t threads, int32_t max_tasks, int32_t align, double *share) {
    const int32_t least = max_tasks / 2 > threads ? max_tasks / 2 : threads;
    int32_t best = 0;
    double best_share = 1.0;
    for (int32_t c = ((total + max_tasks - 1) / max_tasks + align - 1) / align * align; c < total; c += align) {
        const int32_t m = (total + c - 1) / c;
        if (m < least && best) break;
        const double sh = split_share(total, c, threads);
        if (!best || sh < best_share) { best = c; best_share = sh; }
        if (m <= threads) break; /* larger chunks only leave a thread with more */
    }
    if (!best) { best = total; best_share = 1.0; }
    if (share) *share = best_share;
    return best;
}

/* Runs the matrices of a row job (count, out, w, panel set), over the pool when worth it. */
static void mm_run_rows(sp_pool *p, mm_job *j) {
    const int32_t threads = sp_pool_threads(p);
    double macs = 0.0;
    j->total = 0;
    for (int32_t i = 0; i < j->count; i++) {
        j->total += j->w[i]->rows;
        macs += (double)j->n * j->w[i]->rows * j->w[i]->cols;
    }
    if (j->total <= 0) return;
    const int inline_ = threads <= 1 || macs < SP_PAR_MIN_MACS;
    if (inline_) j->chunk = j->total;
    else if (j->op == MM_DECODE) j->chunk = split_chunk(j->total, threads, threads, SP_ROW_ALIGN, NULL); /* memory bound: a task per thread */
    else j->chunk = split_chunk(j->total, threads, product_tasks(macs, threads), GEMM_ROW_ALIGN, NULL);
    mm_run(inline_ ? NULL : p, j);
}

/* Packing the X panel: rows of x in groups of 4, `chunk` groups per task */
typedef struct {
    const struct sp_x16_ops *ops;
    void *panel;
    const float *x;
    int32_t n, cols, qmax, groups, chunk;
    int32_t failed; /* set (atomically) by a task whose rows hold inf or nan */
} pack_job;

static void pack_task(void *ctx, int32_t t, int32_t n_tasks) {
    (void)n_tasks;
    pack_job *j = ctx;
    const int32_t g0 = t * j->chunk, g1 = g0 + j->chunk < j->groups ? g0 + j->chunk : j->groups;
    if (g0 < g1 && !sp_x16_pack(j->panel, j->x, j->n, j->cols, g0, g1, j->qmax, j->ops)) __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
}

/* Rounding a value of x costs about as much time as this many multiply-adds of the integer
 * product (measured: 1.5-3% of smollm2-135m's products, ~3300 values per row and layer against
 * 3.5M multiply-adds; README), so the pool's threshold SP_PAR_MIN_MACS serves both */
#define PACK_MACS_PER_VALUE 20

/* Packs the whole X panel for qmax; 0 if x holds inf or nan. */
static int pack_panel(sp_pool *p, const sp_kernels *k, void *panel, const float *x, int32_t n, int32_t cols, int32_t qmax) {
    const int32_t threads = sp_pool_threads(p), groups = (n + 3) / 4;
    pack_job j = {.ops = k->x16, .panel = panel, .x = x, .n = n, .cols = cols, .qmax = qmax, .groups = groups, .chunk = groups};
    if (threads > 1 && groups > 1 && (double)n * cols * PACK_MACS_PER_VALUE >= SP_PAR_MIN_MACS) {
        j.chunk = (groups + threads - 1) / threads;
        sp_pool_run(p, pack_task, &j, (groups + j.chunk - 1) / j.chunk);
    } else {
        pack_task(&j, 0, 1);
    }
    return !j.failed;
}

void sp_matmul_group(sp_pool *p, const sp_kernels *k, float *const *ys, const float *x, const sp_mat *const *ws, int32_t count,
                     int32_t n, int32_t decode, void *panel) {
    if (n <= 0 || count <= 0 || count > SP_GROUP_MAX) return;
    mm_job j = {.k = k, .op = decode && n == 1 ? MM_DECODE : MM_ROWS, .in = x, .n = n, .streams = decode == 2};
    int32_t pending[SP_GROUP_MAX], np = 0; /* the integer products still to run */
    for (int32_t i = 0; i < count; i++) {
        if (j.op == MM_ROWS && panel && k->x16 && sp_matmul_x16_applies(ws[i]->type)) {
            pending[np++] = i;
            continue;
        }
        j.out[j.count] = ys[i];
        j.w[j.count++] = ws[i];
    }
    /* one rounding of x at a time: pack it, then run its products (and the others with the first) */
    while (np > 0) {
        const int32_t qmax = sp_x16_qmax(ws[pending[0]]->type);
        if (!pack_panel(p, k, panel, x, n, ws[pending[0]]->cols, qmax)) {
            /* inf or nan: every product exact, as k->matmul would fall back (on the other types
             * k's matmul already is the exact table's) */
            j.k = sp_kernels_exact(k);
            for (int32_t i = 0; i < np; i++) {
                j.out[j.count] = ys[pending[i]];
                j.w[j.count++] = ws[pending[i]];
            }
            break;
        }
        int32_t rest = 0;
        for (int32_t i = 0; i < np; i++) {
            const int32_t m = pending[i];
            if (sp_x16_qmax(ws[m]->type) != qmax) {
                pending[rest++] = m;
                continue;
            }
            j.out[j.count] = ys[m];
            j.w[j.count] = ws[m];
            j.panel[j.count++] = panel;
        }
        np = rest;
        mm_run_rows(p, &j);
        j.count = 0;
        memset(j.panel, 0, sizeof(j.panel));
    }
    if (j.count > 0) mm_run_rows(p, &j);
}

void sp_matmul(sp_pool *p, const sp_kernels *k, float *y, const float *x, const sp_mat *w, int32_t n) {
    sp_matmul_group(p, k, &y, x, &w, 1, n, 0, NULL);
}

/* A backward product over a W of many more rows than columns (an LM head: the rows are the
 * vocabulary) is summed in DX_SLABS fixed slabs of W's rows, each into its own partial dX, then
 * the partials in slab order: each task reads its slab of W and of dY once, where a split by
 * columns (4-8 tasks of 576-1024 columns) reads all of dY (tens of MB) once per task and leaves
 * too few tasks for threads of unequal speed. The slabs depend on W's shape only. */
#define DX_SLABS 16
#define DX_SLAB_MIN_RATIO 16 /* rows >= 16 x cols */

typedef struct {
    const sp_kernels *k;
    const float *dy;   /* (n, w.rows) */
    const sp_mat *w;
    float *part;       /* (DX_SLABS, n, w.cols) */
    int32_t n, slab;   /* rows of W per slab */
    int32_t failed;    /* set (atomically) when a task could not get its dY slab */
} dx_slab_job;

/* Slab t: part_t = dY[:, slab rows] · W[slab rows] */
static void dx_slab_task(void *ctx, int32_t t, int32_t n_tasks) {
    (void)n_tasks;
    dx_slab_job *j = ctx;
    const sp_mat *w = j->w;
    const int32_t r0 = t * j->slab, r1 = r0 + j->slab < w->rows ? r0 + j->slab : w->rows;
    float *part = j->part + (size_t)t * j->n * w->cols;
    memset(part, 0, sizeof(float) * (size_t)j->n * w->cols);
    if (r0 >= r1) return;
    float *dys = malloc(sizeof(float) * (size_t)j->n * (r1 - r0)); /* (n, r1 - r0): the kernels read dY rows of W's length */
    if (!dys) { __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED); return; }
    for (int32_t i = 0; i < j->n; i++) memcpy(dys + (size_t)i * (r1 - r0), j->dy + (size_t)i * w->rows + r0, sizeof(float) * (size_t)(r1 - r0));
    sp_mat v = *w;
    v.rows = r1 - r0;
    v.data = (const char *)w->data + (size_t)r0 * w->row_bytes;
    j->k->matmul_dx(part, dys, &v, j->n, 0, w->cols);
    free(dys);
}

/* dX += the slabs' partials, in slab order; 0 if memory ran out (dX untouched) */
static int matmul_dx_slabs(sp_pool *p, const sp_kernels *k, float *dx, const float *dy, const sp_mat *w, int32_t n) {
    const size_t per = (size_t)n * w->cols;
    dx_slab_job j = {.k = k, .dy = dy, .w = w, .n = n, .slab = ((w->rows + DX_SLABS - 1) / DX_SLABS + SP_BW_RB - 1) / SP_BW_RB * SP_BW_RB};
    j.part = malloc(sizeof(float) * per * DX_SLABS);
    if (!j.part) return 0;
    sp_pool_run(sp_pool_threads(p) > 1 ? p : NULL, dx_slab_task, &j, DX_SLABS);
    if (j.failed) { free(j.part); return 0; }
    for (size_t e = 0; e < per; e++) {
        float acc = dx[e];
        for (int32_t s = 0; s < DX_SLABS; s++) acc += j.part[(size_t)s * per + e];
        dx[e] = acc;
    }
    free(j.part);
    return 1;
}

void sp_matmul_dx(sp_pool *p, const sp_kernels *k, float *dx, const float *dy, const sp_mat *w, int32_t n) {
    if (n <= 0 || w->cols <= 0) return;
    int32_t threads = sp_pool_threads(p);
    double macs = (double)n * w->rows * w->cols;
    /* out of memory for the slabs: the split below (the same result up to rounding) */
    if (w->rows >= DX_SLAB_MIN_RATIO * w->cols && w->rows >= DX_SLABS * SP_BW_RB && matmul_dx_slabs(p, k, dx, dy, w, n)) return;
    if (threads <= 1 || macs < SP_PAR_MIN_MACS) {
        k->matmul_dx(dx, dy, w, n, 0, w->cols);
        return;
    }
    /* by columns of W (each task reads and converts only its columns of W) unless rows of dy
     * (every task reads all of W) divide the work more evenly */
    const int32_t tasks = product_tasks(macs, threads);
    double cshare, rshare;
    const int32_t cchunk = split_chunk(w->cols, threads, tasks, SP_COL_ALIGN, &cshare), rchunk = split_chunk(n, threads, tasks, 4, &rshare);
    if (rshare < cshare) {
        mm_job j = {.k = k, .op = MM_DX_ROWS, .count = 1, .out = {dx}, .in = dy, .w = {w}, .n = n, .chunk = rchunk, .total = n};
        mm_run(p, &j);
        return;
    }
    mm_job j = {.k = k, .op = MM_DX_COLS, .count = 1, .out = {dx}, .in = dy, .w = {w}, .n = n, .chunk = cchunk, .total = w->cols};
    mm_run(p, &j);
}

void sp_matvec_decode(sp_pool *p, const sp_kernels *k, float *y, const float *x, const sp_mat *w, int32_t streams) {
    sp_matmul_group(p, k, &y, x, &w, 1, 1, 1 + (streams != 0), NULL);
}
