/* generate.h - incremental decoding with a KV cache, and sampling (generate.c).
 * Plain structs in and out: the options come parsed (src/api/generate.c parses the JSON), the
 * virtual tokens come as float rows (a soft prompt or a per-layer prefix, e.g. an adapter's). */
#ifndef SP_GENERATE_H
#define SP_GENERATE_H

#include "model.h"

typedef struct {
    int32_t max_tokens;  /* tokens to generate at most */
    float temperature;   /* 0 = greedy */
    int32_t top_k;       /* 0 = off */
    float top_p;         /* 1 = off */
    uint64_t seed;       /* same seed, same text on every machine */
    int32_t stop_at_eos; /* end at the tokenizer's EOS */
} sp_sample_opts;

#define SP_SAMPLE_OPTS_DEFAULT \
    ((sp_sample_opts){.max_tokens = 128, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 0, .stop_at_eos = 1})

/* Virtual tokens in front of the prompt (at most one kind; counts 0 = none). */
typedef struct {
    const float *soft;    /* (n_soft, dim) soft prompt rows, run through the model before the prompt */
    int32_t n_soft;
    const float *prefix;  /* (n_layers, 2, n_prefix, kv_dim) K then V rows per layer, put in the cache */
    int32_t n_prefix;
} sp_gen_virtual;

typedef struct sp_gen sp_gen;

/* A generation of the prompt ids[0..n) (n may be 0 with a soft prompt). v may be NULL. The rows of
 * v are copied. SP_ERR_CONTEXT when virtual + prompt + max_tokens positions exceed the context. */
sp_gen *sp_generator_create(sp_model *m, const sp_gen_virtual *v, const int32_t *ids, int32_t n,
                            const sp_sample_opts *o, sp_error *err);
/* 1: *token is the next token; 0: finished (EOS or max_tokens); -1: error (err set). The first
 * call runs the prefill. */
int32_t sp_generator_next(sp_gen *g, int32_t *token, sp_error *err);
/* Instead of generating: run the prompt and write the final hidden states of its n rows, after
 * the final norm and before the LM head, to hidden (n, dim) (the virtual rows are not included).
 * Only on a fresh generator; it is finished afterwards. */
sp_status sp_generator_hidden(sp_gen *g, float *hidden, sp_error *err);
/* The token the last sp_generator_next returned (-1 before the first). */
int32_t sp_generator_last(const sp_gen *g);
/* (vocab) logits that produced the last token (valid after the first sp_generator_next). */
const float *sp_generator_logits(const sp_gen *g);
void sp_generator_free(sp_gen *g);

#endif
