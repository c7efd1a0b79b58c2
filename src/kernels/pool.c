/* pool.c - a small persistent thread pool.
 *
 * With SP_THREADS (native builds) or __EMSCRIPTEN_PTHREADS__ (the -pthread wasm build),
 * n_threads-1 workers wait for a job (spinning for 100 microseconds, then on a
 * condition variable); sp_pool_run hands out task indices under a mutex, the calling thread
 * works too, and it returns when every task is done (spinning briefly, then sleeping).
 * If the workers never start (a browser that cannot spawn them yet), the caller simply
 * runs every task itself. Otherwise everything runs inline.
 * Not re-entrant: do not call sp_pool_run from inside a task, or from two threads at once. */
#include <stdlib.h>
#include "kernels.h"

#if defined(SP_THREADS) || defined(__EMSCRIPTEN_PTHREADS__)
#define SP_POOL_PTHREADS 1
#include <pthread.h>
#endif

struct sp_pool {
    int32_t n_threads;        /* including the caller */
#ifdef SP_POOL_PTHREADS
    int32_t n_workers;        /* threads actually started */
    pthread_t *workers;       /* (n_workers) */
    pthread_mutex_t mu;
    pthread_cond_t cv_work;   /* workers: a new job or stop */
    pthread_cond_t cv_done;   /* caller: remaining reached 0 */
    sp_task_fn fn;            /* current job */
    void *ctx;
    int32_t n_tasks;
    int32_t next;             /* next task index to hand out */
    int32_t remaining;        /* tasks not yet finished (atomic: the caller polls it) */
    int stop;
    uint32_t gen;             /* jobs started so far (atomic: idle workers poll it before sleeping) */
    int32_t sleepers;         /* workers blocked on cv_work */
    int32_t caller_waiting;   /* the caller is blocked on cv_done */
#endif
};

#ifdef SP_POOL_PTHREADS
/* How long to spin (atomic loads) before blocking on a condition variable, in ms: longer than
 * the gap between two products of a layer. Back-to-back runs (a layer is
 * ~10 of them; decoding a token of a 30-layer model ~120) then neither pay a futex wake-up on
 * the critical path (tens to hundreds of microseconds, more on a loaded machine) nor lose
 * their tasks to the caller while the worker is still waking up. */
#define SP_POOL_SPIN_MS 0.1
/* The window is timed, not counted: a counted window lasted a different time in different
 * engines of one page or process (under V8 the same loop's speed depends on how it was tiered)
 * and fell below the gap between two products in some of them (README, bench notes). The clock
 * is read every 64 iterations. */
static void spin(const int32_t *v, int32_t x, int until_equal) { /* while *v == x, or until it is */
    const double end = sp_now_ms() + SP_POOL_SPIN_MS;
    for (;;) {
        for (int32_t i = 0; i < 64; i++)
            if ((__atomic_load_n(v, __ATOMIC_ACQUIRE) == x) == until_equal) return;
        if (sp_now_ms() > end) return;
    }
}

/* Runs tasks of the current job until none is left. Called and returns with p->mu held. */
static void pool_work(sp_pool *p) {
    while (p->next < p->n_tasks) {
        int32_t t = p->next++;
        sp_task_fn fn = p->fn;
        void *ctx = p->ctx;
        int32_t nt = p->n_tasks;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, t, nt);
        pthread_mutex_lock(&p->mu);
        if (__atomic_sub_fetch(&p->remaining, 1, __ATOMIC_ACQ_REL) == 0 && p->caller_waiting) pthread_cond_broadcast(&p->cv_done);
    }
}

static void *pool_worker(void *arg) {
    sp_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (!p->stop && p->next >= p->n_tasks) { /* idle: spin a little for the next job, then sleep */
            const uint32_t seen = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
            pthread_mutex_unlock(&p->mu);
            spin((const int32_t *)&p->gen, (int32_t)seen, 0);
            pthread_mutex_lock(&p->mu);
            while (!p->stop && p->next >= p->n_tasks) {
                p->sleepers++;
                pthread_cond_wait(&p->cv_work, &p->mu);
                p->sleepers--;
            }
        }
        if (p->stop) break;
        pool_work(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
#endif

sp_pool *sp_pool_create(int32_t n_threads) {
    sp_pool *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->n_threads = n_threads < 1 ? 1 : n_threads;
#ifdef SP_POOL_PTHREADS
    if (p->n_threads > 256) p->n_threads = 256;
    if (p->n_threads == 1) return p;
    if (pthread_mutex_init(&p->mu, NULL) != 0) { free(p); return NULL; }
    if (pthread_cond_init(&p->cv_work, NULL) != 0) { pthread_mutex_destroy(&p->mu); free(p); return NULL; }
    if (pthread_cond_init(&p->cv_done, NULL) != 0) {
        pthread_cond_destroy(&p->cv_work); pthread_mutex_destroy(&p->mu); free(p); return NULL;
    }
    p->workers = calloc((size_t)p->n_threads - 1, sizeof(pthread_t));
    if (!p->workers) { sp_pool_free(p); return NULL; }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024); /* kernels keep ~20 KB tiles on the stack */
    for (int32_t i = 0; i < p->n_threads - 1; i++) {
        if (pthread_create(&p->workers[i], &attr, pool_worker, p) != 0) break;
        p->n_workers++;
    }
    pthread_attr_destroy(&attr);
    p->n_threads = p->n_workers + 1;
#else
    p->n_threads = 1;
#endif
    return p;
}

void sp_pool_free(sp_pool *p) {
    if (!p) return;
#ifdef SP_POOL_PTHREADS
    if (p->workers || p->n_threads > 1) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
        for (int32_t i = 0; i < p->n_workers; i++) pthread_join(p->workers[i], NULL);
        free(p->workers);
        pthread_cond_destroy(&p->cv_done);
        pthread_cond_destroy(&p->cv_work);
        pthread_mutex_destroy(&p->mu);
    }
#endif
    free(p);
}

int32_t sp_pool_threads(const sp_pool *p) { return p ? p->n_threads : 1; }

void sp_pool_run(sp_pool *p, sp_task_fn fn, void *ctx, int32_t n_tasks) {
    if (n_tasks <= 0) return;
#ifdef SP_POOL_PTHREADS
    if (p && p->n_workers > 0 && n_tasks > 1) {
        pthread_mutex_lock(&p->mu);
        p->fn = fn;
        p->ctx = ctx;
        p->n_tasks = n_tasks;
        p->next = 0;
        __atomic_store_n(&p->remaining, n_tasks, __ATOMIC_RELEASE);
        __atomic_add_fetch(&p->gen, 1, __ATOMIC_RELEASE);
        if (p->sleepers) pthread_cond_broadcast(&p->cv_work);
        pool_work(p);
        if (p->remaining > 0) { /* a worker still runs its last task: spin briefly, then sleep */
            pthread_mutex_unlock(&p->mu);
            spin(&p->remaining, 0, 1);
            pthread_mutex_lock(&p->mu);
            p->caller_waiting = 1;
            while (p->remaining > 0) pthread_cond_wait(&p->cv_done, &p->mu);
            p->caller_waiting = 0;
        }
        pthread_mutex_unlock(&p->mu);
        return;
    }
#else
    (void)p; /* without threads every task runs here */
#endif
    for (int32_t t = 0; t < n_tasks; t++) fn(ctx, t, n_tasks);
}
