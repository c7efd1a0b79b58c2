/* bench_model.c - model-level timings for profiling (not part of the test suite). Build by hand:
 *   emcc -O3 -msimd128 --profiling-funcs [-pthread -sPTHREAD_POOL_SIZE=2] -Isrc $(find src -name '*.c') \
 *        tests/c/bench_model.c -o /tmp/bm.js -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sENVIRONMENT=node,worker
 *   node [--cpu-prof] /tmp/bm.js PRESET TYPE PHASE [threads] [reps] [chunk] [wall]
 * PRESET: a name of src/model/presets.c (stories15M, ...); TYPE: F32 | Q8_0 | Q4_0 | F16 | Q4_K | Q6_K;
 * PHASE: prefill | decode | train | all; [chunk] LM head rows per product (0 or absent: the engine's, sp_lm_head_chunk); "wall" times 1 thread by wall clock too. Prints the best time of `reps` runs of the phase
 * (128-token prompt, 64 decoded tokens, training batch 4 x 128) - the same work as sp_bench_json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/softprompt.h"
#include "kernels/probe.h"
#include "model/presets.h"
#include "model/transformer.h"
#include "next_token.h"

/* With threads 1 the figures use process CPU time (robust on a loaded machine); else wall time. */
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
EM_JS(double, cpu_ms, (void), { const u = process.cpuUsage(); return (u.user + u.system) / 1000; });
#else
#include <time.h>
static double cpu_ms(void) { return (double)clock() * 1e3 / CLOCKS_PER_SEC; }
#endif
static int use_cpu = 0;
static double now_ms(void) { return use_cpu ? cpu_ms() : sp_now_ms(); }


int main(int argc, char **argv) {
    const char *pname = argc > 1 ? argv[1] : "stories15M", *tname = argc > 2 ? argv[2] : "F32";
    const char *phase = argc > 3 ? argv[3] : "all";
    int threads = argc > 4 ? atoi(argv[4]) : 1, reps = argc > 5 ? atoi(argv[5]) : 3;
    use_cpu = threads == 1 && !(argc > 7 && strcmp(argv[7], "wall") == 0);
    const sp_preset *p = sp_preset_find(pname);
    if (!p) { fprintf(stderr, "unknown preset %s\n", pname); return 2; }
    uint32_t type = strcmp(tname, "Q8_0") == 0 ? SP_DTYPE_Q8_0 : strcmp(tname, "Q4_0") == 0 ? SP_DTYPE_Q4_0 :
                    strcmp(tname, "F16") == 0 ? SP_DTYPE_F16 : strcmp(tname, "Q4_K") == 0 ? SP_DTYPE_Q4_K :
                    strcmp(tname, "Q6_K") == 0 ? SP_DTYPE_Q6_K : SP_DTYPE_F32;
    sp_error err = {0};
    sp_engine *eng = sp_engine_create(threads, &err);
    if (!eng) { fprintf(stderr, "%s\n", err.msg); return 1; }
    if (sp_engine_threads(eng) != threads) fprintf(stderr, "note: the pool has %d threads\n", sp_engine_threads(eng));
    sp_model *m = sp_model_random(eng, &p->cfg, type, 42, pname, &err);
    if (!m) { fprintf(stderr, "%s\n", err.msg); return 1; }
    const sp_config c = m->cfg;
    const int32_t n_prompt = 128, n_decode = 64, B = 4, T = 128;
    const int32_t chunk = argc > 6 && atoi(argv[6]) > 0 ? atoi(argv[6]) : sp_lm_head_chunk(&c);
    int32_t ids[128];
    sp_rng rng;
    sp_rng_seed(&rng, 7);
    for (int32_t i = 0; i < n_prompt; i++) ids[i] = (int32_t)sp_rng_below(&rng, (uint32_t)c.vocab_size);
    int do_inf = strcmp(phase, "train") != 0, do_dec = strcmp(phase, "prefill") != 0 && do_inf;
    int do_train = strcmp(phase, "train") == 0 || strcmp(phase, "all") == 0;
    if (do_inf) {
        double bp = 1e30, bd = 1e30, cp = 0, cd = 0;
        for (int r = 0; r < reps; r++) {
            sp_gen *g = sp_gen_create(m, NULL, ids, n_prompt, "{\"max_tokens\":80,\"temperature\":0,\"stop_at_eos\":false}", &err);
            if (!g) { fprintf(stderr, "%s\n", err.msg); return 1; }
            double t0 = now_ms(), c0 = cpu_ms();
            next_token(g, &err);
            double t1 = now_ms(), c1 = cpu_ms();
            if (do_dec)
                for (int32_t i = 0; i < n_decode; i++) next_token(g, &err);
            double t2 = now_ms(), c2 = cpu_ms();
            sp_gen_free(g);
            if (t1 - t0 < bp) { bp = t1 - t0; cp = c1 - c0; }
            if (t2 - t1 < bd) { bd = t2 - t1; cd = c2 - c1; }
        }
        /* cpu: process CPU time of that run, all threads (efficiency: cpu / (threads * wall)) */
        printf("%s %s threads %d: prefill %.1f tok/s (%.1f ms, cpu %.1f)", pname, tname, threads, n_prompt / (bp / 1000), bp, cp);
        if (do_dec) printf(", decode %.1f tok/s (%.2f ms/tok, cpu %.2f)", n_decode / (bd / 1000), bd / n_decode, cd / n_decode);
        printf("\n");
    }
    if (do_train) {
        sp_arena ta;
        sp_arena_init(&ta, 1 << 20);
        sp_acts acts;
        sp_grads grads;
        const int32_t n = B * (T - 1);
        int32_t *rows = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T), *tid = malloc(sizeof(int32_t) * B * T);
        float *scratch = malloc(sizeof(float) * 256 * ((size_t)c.vocab_size + 2 * (size_t)c.dim));
        if (sp_acts_alloc(&acts, &ta, &m->cfg, B, T, 0, c.n_layers, 1, threads, &err) || sp_grads_alloc(&grads, &ta, &m->cfg, B, T, 0, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        for (int32_t i = 0; i < B * T; i++) tid[i] = (int32_t)sp_rng_below(&rng, (uint32_t)c.vocab_size);
        int32_t k = 0;
        for (int32_t b = 0; b < B; b++)
            for (int32_t t = 0; t + 1 < T; t++) { rows[k] = b * T + t; tg[k] = tid[b * T + t + 1]; k++; }
        double best = 1e30, bf = 0, bh = 0, bb = 0, bc = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = now_ms(), c0 = cpu_ms();
            sp_embed(m, acts.x, tid, B * T);
            sp_forward(m, &acts, acts.x, B, T, NULL);
            double t1 = now_ms();
            memset(grads.dx, 0, sizeof(float) * (size_t)B * T * c.dim);
            sp_lm_head_loss(m, acts.xf, rows, tg, n, grads.dx, 1.0f / n, scratch, chunk);
            double t2 = now_ms();
            sp_backward(m, &acts, &grads, B, T, NULL, NULL, NULL);
            double t3 = now_ms();
            if (t3 - t0 < best) { best = t3 - t0; bf = t1 - t0; bh = t2 - t1; bb = t3 - t2; bc = cpu_ms() - c0; }
        }
        printf("%s %s threads %d: train %.1f tok/s (%.0f ms: forward %.0f, head %.0f, backward %.0f; cpu %.0f)\n", pname, tname, threads,
               B * T / (best / 1000), best, bf, bh, bb, bc);
        sp_arena_free(&ta);
    }
    sp_model_free_(m);
    sp_engine_free(eng);
    return 0;
}
