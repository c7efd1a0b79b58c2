/* par.h - splitting row-wise work of the forward/backward pass over the engine's pool (internal).
 *
 * sp_par_rows(pool, rows, cost, fn, ctx) calls fn(ctx, r0, r1) on contiguous row ranges that
 * cover [0, rows), on the pool's threads when the work (rows * cost, in "element operations")
 * is worth waking them, else once on the calling thread. Every caller's rows are independent
 * (each output row is computed from its own inputs only), so the result does not depend on the
 * split: bitwise identical for any thread count. */
#ifndef SP_MODEL_PAR_H
#define SP_MODEL_PAR_H

#include "../kernels/kernels.h"

/* Below this many element operations the work stays on the calling thread. */
#define SP_PAR_MIN_WORK (1 << 15)

typedef void (*sp_rows_fn)(void *ctx, int32_t r0, int32_t r1);

typedef struct {
    sp_rows_fn fn;
    void *ctx;
    int32_t rows, chunk;
} sp_rows_job;

static inline void sp_rows_task(void *vjob, int32_t t, int32_t n_tasks) {
    const sp_rows_job *j = (const sp_rows_job *)vjob;
    const int32_t r0 = t * j->chunk, r1 = r0 + j->chunk < j->rows ? r0 + j->chunk : j->rows;
    if (r0 < r1) j->fn(j->ctx, r0, r1);
    (void)n_tasks;
}

static inline void sp_par_rows(sp_pool *p, int32_t rows, double cost_per_row, sp_rows_fn fn, void *ctx) {
    const int32_t th = sp_pool_threads(p);
    if (rows <= 0) return;
    if (th <= 1 || rows < 2 || (double)rows * cost_per_row < SP_PAR_MIN_WORK) {
        fn(ctx, 0, rows);
        return;
    }
    /* two chunks per thread: some balance when a thread is descheduled, little overhead */
    int32_t n = 2 * th < rows ? 2 * th : rows;
    sp_rows_job j = {.fn = fn, .ctx = ctx, .rows = rows, .chunk = (rows + n - 1) / n};
    sp_pool_run(p, sp_rows_task, &j, (rows + j.chunk - 1) / j.chunk);
}

#endif
