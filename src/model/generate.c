/* generate.c - sampling and incremental decoding with a KV cache.
 *
 * sp_generator_next() returns one token per call, so the caller (a Web Worker) can stream tokens
 * and cancel between them. The first call runs the prefill: the soft prompt (prompt tuning)
 * or the per-layer prefix (prefix tuning, placed in the cache at positions 0..N-1, keys used
 * as stored, no RoPE) followed by the prompt ids; the virtual tokens never appear in output.
 *
 * Sampling is deterministic for a seed: an own xorshift RNG, f32 softmax, and a stable order
 * (probability descending, then token id ascending) for top-k / top-p. */
#include "generate.h"
#include "transformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TUNE_SKIP 2  /* decode steps left alone first (the code warms up) */
#define TUNE_STEPS 4 /* probing steps each way */

struct sp_gen {
    sp_model *m;
    sp_sample_opts o;
    sp_rng rng;
    int32_t *prompt;     /* (n_prompt) */
    int32_t n_prompt;
    const float *soft;   /* (n_soft, dim) virtual token embeddings, or NULL */
    int32_t n_soft;
    int32_t n_prefix;    /* cache rows pre-filled by a prefix adapter */
    int32_t cap;         /* cache capacity in positions */
    float *cache_k;      /* (n_layers, cap, kv_dim) */
    float *cache_v;      /* (n_layers, cap, kv_dim) */
    sp_acts acts;        /* B = 1, T = chunk rows; one layer slot, no stored probabilities */
    int32_t chunk;       /* prefill rows per forward call (the prompt runs in chunks of this) */
    float *logits;       /* (vocab) */
    int32_t *order;      /* (vocab) sampling order (NULL for greedy decoding) */
    int32_t *tmp;        /* (vocab) sort scratch (NULL for greedy decoding) */
    float *probs;        /* (vocab) (NULL for greedy decoding) */
    int32_t pos;         /* positions in the cache */
    int32_t n_generated;
    int32_t last;        /* last token returned, -1 before the first */
    int32_t done;
    /* Streams in the decoding products (kernels.h) are a speed choice with the same results.
     * The first generation of a model decodes steps TUNE_SKIP .. TUNE_SKIP + 2 * TUNE_STEPS
     * alternately without / with them, and the faster total decides for the rest of it and for
     * the model's later generations (m->decode_order); streams until then. */
    int32_t n_decoded;
    double streams_ms[2]; /* time of the probing steps without [0] / with [1] */
    sp_arena arena;
};

sp_gen *sp_generator_create(sp_model *m, const sp_gen_virtual *v, const int32_t *ids, int32_t n, const sp_sample_opts *opts,
                            sp_error *err) {
    if (!m || !opts) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model or options"); return NULL; }
    const sp_config *c = &m->cfg;
    const sp_sample_opts o = *opts;
    const int32_t n_soft = v && v->soft ? v->n_soft : 0, n_prefix = v && v->prefix ? v->n_prefix : 0;
    if (n_soft < 0 || n_prefix < 0 || (n_soft && n_prefix)) { sp_error_set(err, SP_ERR_INVALID_ARG, "bad virtual tokens"); return NULL; }
    if (n <= 0 && !n_soft) { sp_error_set(err, SP_ERR_INVALID_ARG, "the prompt is empty (pass at least BOS)"); return NULL; }
    if (n < 0) n = 0;
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size) { sp_error_set(err, SP_ERR_INVALID_ARG, "token id %d at %d is out of range [0, %d)", ids[i], i, c->vocab_size); return NULL; }
    int64_t need = (int64_t)n_prefix + n_soft + n + o.max_tokens;
    if (need > c->ctx_len) {
        sp_error_set(err, SP_ERR_CONTEXT, "%d virtual + %d prompt + %d new tokens = %lld positions, more than the context of %d",
                     n_soft + n_prefix, n, o.max_tokens, (long long)need, c->ctx_len);
        return NULL;
    }
    sp_gen *g = (sp_gen *)calloc(1, sizeof(sp_gen));
    if (!g) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    sp_arena_init(&g->arena, 1 << 16);
    g->m = m;
    g->o = o;
    sp_rng_seed(&g->rng, o.seed);
    g->n_prompt = n;
    g->n_soft = n_soft;
    g->n_prefix = n_prefix;
    g->cap = (int32_t)need;
    g->last = -1;
    const int32_t T = n_soft + n > 0 ? n_soft + n : 1;
    /* Prefill rows per forward call: the whole prompt, unless its activations would weigh more
     * than 1/16 of the weights (small models, long prompts): then chunks of at least 32 rows,
     * each attending to the cache the previous ones filled. Bitwise the same result (attention
     * visits the keys in the same order; the products are row by row). Keeps the inference peak
     * near weights + KV cache. */
    int32_t chunk = T;
    while (chunk > 32 && sp_acts_bytes(c, 1, chunk, g->cap, 1, 0) > m->weight_bytes / 16) chunk = (chunk + 1) / 2;
    g->chunk = chunk;
    size_t cache_floats;
    if (!sp_mul_size((size_t)c->n_layers * (size_t)g->cap, (size_t)c->kv_dim, &cache_floats)) goto nomem;
    g->prompt = (int32_t *)sp_arena_alloc(&g->arena, sizeof(int32_t) * (size_t)(n ? n : 1));
    g->cache_k = (float *)sp_arena_alloc(&g->arena, cache_floats * sizeof(float));
    g->cache_v = (float *)sp_arena_alloc(&g->arena, cache_floats * sizeof(float));
    g->logits = (float *)sp_arena_alloc(&g->arena, sizeof(float) * (size_t)c->vocab_size);
    if (!g->prompt || !g->cache_k || !g->cache_v || !g->logits) goto nomem;
    if (o.temperature != 0.0f) { /* sampling buffers: greedy decoding needs none */
        g->probs = (float *)sp_arena_alloc(&g->arena, sizeof(float) * (size_t)c->vocab_size);
        g->order = (int32_t *)sp_arena_alloc(&g->arena, sizeof(int32_t) * (size_t)c->vocab_size);
        g->tmp = (int32_t *)sp_arena_alloc(&g->arena, sizeof(int32_t) * (size_t)c->vocab_size);
        if (!g->probs || !g->order || !g->tmp) goto nomem;
    }
    if (n) memcpy(g->prompt, ids, sizeof(int32_t) * (size_t)n);
    if (sp_acts_alloc(&g->acts, &g->arena, c, 1, chunk, g->cap, 1, 0, 1, err)) goto fail;
    g->acts.decode_streams = m->decode_order != 1; /* streams unless measured slower on this model */
    if (n_prefix) { /* prefix (n_layers, 2, N, kv_dim) -> cache rows 0..N-1 of every layer */
        for (int32_t l = 0; l < c->n_layers; l++) {
            const float *pk = v->prefix + (size_t)l * 2 * n_prefix * c->kv_dim;
            const float *pv = pk + (size_t)n_prefix * c->kv_dim;
            memcpy(g->cache_k + (size_t)l * g->cap * c->kv_dim, pk, sizeof(float) * (size_t)n_prefix * c->kv_dim);
            memcpy(g->cache_v + (size_t)l * g->cap * c->kv_dim, pv, sizeof(float) * (size_t)n_prefix * c->kv_dim);
        }
        g->pos = n_prefix;
    }
    if (n_soft) { /* keep a private copy: the caller may free or keep training the adapter */
        float *soft = (float *)sp_arena_alloc(&g->arena, sizeof(float) * (size_t)n_soft * c->dim);
        if (!soft) goto nomem;
        memcpy(soft, v->soft, sizeof(float) * (size_t)n_soft * c->dim);
        g->soft = soft;
    }
    return g;
nomem:
    sp_error_set(err, SP_ERR_NOMEM, "out of memory for a %d-position KV cache", g->cap);
fail:
    sp_arena_free(&g->arena);
    free(g);
    return NULL;
}

void sp_generator_free(sp_gen *g) {
    if (!g) return;
    sp_arena_free(&g->arena);
    free(g);
}

const float *sp_generator_logits(const sp_gen *g) { return g ? g->logits : NULL; }

int32_t sp_generator_last(const sp_gen *g) { return g ? g->last : -1; }

/* Run T rows starting at cache position g->pos; with want_logits, leaves the last row's logits. */
static void gen_forward(sp_gen *g, const float *x0, int32_t T, int want_logits) {
    const sp_config *c = &g->m->cfg;
    sp_past past = {.k = g->cache_k, .v = g->cache_v, .layer_stride = (int64_t)g->cap * c->kv_dim, .n_past = g->pos,
                    .cache_k = g->cache_k, .cache_v = g->cache_v};
    sp_forward(g->m, &g->acts, x0, 1, T, &past);
    if (want_logits) sp_lm_head_row(g->m, g->acts.xf + (size_t)(T - 1) * c->dim, g->logits, g->acts.decode_streams);
    g->pos += T;
}

/* The prefill: [soft prompt ; prompt ids] in chunks of g->chunk rows. Leaves the last row's
 * logits; or, with hidden (n_prompt, dim), the final normed stream of every prompt row there
 * instead (the virtual rows are not copied; no LM head). */
static void gen_prefill(sp_gen *g, float *hidden) {
    const sp_config *c = &g->m->cfg;
    const int32_t T = g->n_soft + g->n_prompt;
    float *x0 = g->acts.x;
    for (int32_t r0 = 0; r0 < T; r0 += g->chunk) {
        const int32_t nr = T - r0 < g->chunk ? T - r0 : g->chunk;
        for (int32_t r = r0; r < r0 + nr; r++) {
            float *xr = x0 + (size_t)(r - r0) * c->dim;
            if (r < g->n_soft) memcpy(xr, g->soft + (size_t)r * c->dim, sizeof(float) * (size_t)c->dim);
            else sp_embed(g->m, xr, g->prompt + (r - g->n_soft), 1);
        }
        gen_forward(g, x0, nr, !hidden && r0 + nr == T);
        for (int32_t r = r0 > g->n_soft ? r0 : g->n_soft; hidden && r < r0 + nr; r++) /* xf is valid until the next forward */
            memcpy(hidden + (size_t)(r - g->n_soft) * c->dim, g->acts.xf + (size_t)(r - r0) * c->dim, sizeof(float) * (size_t)c->dim);
    }
}

sp_status sp_generator_hidden(sp_gen *g, float *hidden, sp_error *err) {
    if (!g || !hidden) return sp_error_set(err, SP_ERR_INVALID_ARG, "no generator or no output");
    if (g->last >= 0 || g->pos != g->n_prefix) return sp_error_set(err, SP_ERR_STATE, "the prompt already ran");
    gen_prefill(g, hidden);
    g->done = 1; /* the cache holds the prompt but no token was sampled: nothing follows */
    return SP_OK;
}

static int cmp_prob_desc(const void *a, const void *b, const float *p) {
    int32_t ia = *(const int32_t *)a, ib = *(const int32_t *)b;
    if (p[ia] > p[ib]) return -1;
    if (p[ia] < p[ib]) return 1;
    return ia < ib ? -1 : ia > ib;
}

/* insertion-merge sort keeping it portable and deterministic (qsort has no context argument in C11) */
static void sort_by_prob(int32_t *idx, int32_t n, const float *p, int32_t *tmp) {
    for (int32_t width = 1; width < n; width *= 2) {
        for (int32_t lo = 0; lo < n; lo += 2 * width) {
            int32_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int32_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) tmp[o++] = cmp_prob_desc(&idx[j], &idx[i], p) < 0 ? idx[j++] : idx[i++];
            while (i < mid) tmp[o++] = idx[i++];
            while (j < hi) tmp[o++] = idx[j++];
        }
        memcpy(idx, tmp, sizeof(int32_t) * (size_t)n);
    }
}

static int32_t sample(sp_gen *g) {
    const int32_t V = g->m->cfg.vocab_size;
    const float *lg = g->logits;
    if (g->o.temperature == 0.0f) { /* greedy: first maximum */
        int32_t best = 0;
        for (int32_t i = 1; i < V; i++)
            if (lg[i] > lg[best]) best = i;
        return best;
    }
    float mx = -INFINITY;
    for (int32_t i = 0; i < V; i++) mx = lg[i] > mx ? lg[i] : mx;
    float sum = 0.0f;
    for (int32_t i = 0; i < V; i++) {
        g->probs[i] = expf((lg[i] - mx) / g->o.temperature);
        sum += g->probs[i];
    }
    for (int32_t i = 0; i < V; i++) g->probs[i] /= sum;
    int32_t n = V;
    if (g->o.top_k > 0 || g->o.top_p < 1.0f) {
        for (int32_t i = 0; i < V; i++) g->order[i] = i;
        sort_by_prob(g->order, V, g->probs, g->tmp);
        if (g->o.top_k > 0 && g->o.top_k < n) n = g->o.top_k;
        if (g->o.top_p < 1.0f) {
            float cum = 0.0f;
            int32_t k;
            for (k = 0; k < n; k++) {
                cum += g->probs[g->order[k]];
                if (cum >= g->o.top_p) { k++; break; }
            }
            n = k < n ? k : n;
        }
        float tot = 0.0f;
        for (int32_t i = 0; i < n; i++) tot += g->probs[g->order[i]];
        float r = sp_rng_f32(&g->rng) * tot, cdf = 0.0f;
        for (int32_t i = 0; i < n; i++) {
            cdf += g->probs[g->order[i]];
            if (r < cdf) return g->order[i];
        }
        return g->order[n - 1];
    }
    float r = sp_rng_f32(&g->rng), cdf = 0.0f;
    for (int32_t i = 0; i < V; i++) {
        cdf += g->probs[i];
        if (r < cdf) return i;
    }
    return V - 1;
}

int32_t sp_generator_next(sp_gen *g, int32_t *token, sp_error *err) {
    if (!g || !token) { sp_error_set(err, SP_ERR_INVALID_ARG, "no generator"); return -1; }
    if (g->done || g->n_generated >= g->o.max_tokens) { g->done = 1; return 0; }
    if (g->last < 0) {
        gen_prefill(g, NULL);
    } else {
        if (g->pos >= g->cap) { g->done = 1; return 0; }
        const int32_t step = g->n_decoded++;
        const int measure = g->m->decode_order == 0;
        const int probing = measure && step >= TUNE_SKIP && step < TUNE_SKIP + 2 * TUNE_STEPS;
        if (probing) g->acts.decode_streams = (step - TUNE_SKIP) & 1;
        else if (measure && step == TUNE_SKIP + 2 * TUNE_STEPS) {
            g->acts.decode_streams = g->streams_ms[1] < g->streams_ms[0];
            g->m->decode_order = 1 + g->acts.decode_streams;
        }
        const double t0 = probing ? sp_now_ms() : 0.0;
        sp_embed(g->m, g->acts.x, &g->last, 1);
        gen_forward(g, g->acts.x, 1, 1);
        if (probing) g->streams_ms[g->acts.decode_streams] += sp_now_ms() - t0;
    }
    int32_t tok = sample(g);
    if (g->o.stop_at_eos && sp_tokenizer_is_eog(&g->m->tok, tok)) { g->done = 1; return 0; } /* EOS or end of turn */
    g->last = tok;
    g->n_generated++;
    *token = tok;
    return 1;
}
