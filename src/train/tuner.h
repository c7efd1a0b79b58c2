/* tuner.h - a prompt-tuning / prefix-tuning run (tuner.c), one optimiser step per call, and the
 * evaluation of a dataset. Plain structs in: options arrive parsed (src/api/tune.c and
 * src/api/eval.c parse the JSON), data arrives as a tokenized sp_dataset. */
#ifndef SP_TUNER_H
#define SP_TUNER_H

#include "../model/model.h"
#include "adapter.h"
#include "data.h"
#include "optim.h"

typedef struct {
    int32_t method;          /* sp_method */
    int32_t virtual_tokens;  /* N */
    int32_t init;            /* sp_init_kind (ignored with an initial adapter) */
    const char *init_text;   /* SP_INIT_TEXT: non-empty */
    int32_t optimizer;       /* sp_optim_kind */
    float lr;                /* <= 0: the optimizer's default (0.1 for SGD, else 0.01) */
    float weight_decay;      /* < 0: the optimizer's default */
    int32_t schedule;        /* sp_sched_kind */
    int32_t warmup;          /* steps */
    float clip;              /* gradient norm clip, 0 = off */
    int32_t steps;           /* 0: epochs x steps per epoch */
    int32_t epochs;
    int32_t batch_size;
    uint64_t seed;
    int32_t shuffle;
    float eval_split;        /* fraction of the examples held out, [0, 0.95] */
    int32_t patience;        /* evaluations without improvement before stopping, 0 = never */
    size_t memory_budget;    /* bytes of activations; over it the backward recomputes each layer */
} sp_tune_config;

#define SP_TUNE_MEMORY_BUDGET ((size_t)1 << 30) /* default activation budget: 1 GiB */

#define SP_TUNE_CONFIG_DEFAULT                                                                              \
    ((sp_tune_config){.method = SP_METHOD_PROMPT, .virtual_tokens = 20, .init = SP_INIT_RANDOM, .init_text = "", \
                      .optimizer = SP_OPTIM_ADAM, .lr = -1.0f, .weight_decay = -1.0f, .schedule = SP_SCHED_CONSTANT, \
                      .warmup = 0, .clip = 0.0f, .steps = 0, .epochs = 1, .batch_size = 4, .seed = 0, .shuffle = 1,  \
                      .eval_split = 0.1f, .patience = 0, .memory_budget = SP_TUNE_MEMORY_BUDGET})

typedef struct sp_tuner sp_tuner;

/* What a run holds, for reports and the benchmark. */
typedef struct {
    int32_t step, total_steps;
    size_t arena_bytes;            /* everything the run allocated */
    size_t train_activation_bytes; /* activations, gradients and LM-head scratch of the training step */
    size_t eval_activation_bytes;
    int32_t recompute;             /* the backward recomputes each layer's forward */
    int64_t n_params;
} sp_tune_stats;

/* A run over ds (taken over: the tuner frees it, also on failure). init_adapter (may be NULL)
 * gives the starting parameters instead of cfg->init. */
sp_tuner *sp_tune_create(sp_model *m, const sp_tune_config *cfg, sp_dataset *ds, const sp_adapter *init_adapter,
                         sp_error *err);
/* One optimiser step: 1 = a step was taken, 0 = the run is finished, -1 = error (SP_ERR_NUMERIC
 * on a NaN/Inf loss or update: the last good prompt is kept). */
int32_t sp_tune_step(sp_tuner *t, sp_error *err);
/* Last step as JSON (owned by the tuner): {"step":..,"epoch":..,"loss":..,"lr":..,...} */
const char *sp_tune_report_json(const sp_tuner *t);
/* Runs the held-out split (the rest of it, when sp_tune_eval_some began it); JSON owned by the
 * tuner, NULL on error. Tracks the best prompt and early stopping. */
const char *sp_tune_eval_json(sp_tuner *t, sp_error *err);
/* Evaluates up to about max_examples more of the held-out split (the loss in whole batches, then
 * the accuracy when the data has labels), so a caller can show progress and stop between parts.
 * *done / *total (may be NULL): work units (examples, counted twice with labels). 1 = more to do,
 * 0 = complete (sp_tune_eval_json then reports it), -1 = error. A training step drops a partial one. */
int32_t sp_tune_eval_some(sp_tuner *t, int32_t max_examples, int32_t *done, int32_t *total, sp_error *err);
/* The current prompt (best = 0) or the best by eval loss (best = 1), as a new adapter. */
sp_adapter *sp_tune_adapter(const sp_tuner *t, int32_t best, sp_error *err);
/* Checkpoint bytes (malloc'd, *out_size set) and resume from them. */
uint8_t *sp_tune_checkpoint(const sp_tuner *t, size_t *out_size, sp_error *err);
sp_status sp_tune_resume(sp_tuner *t, const uint8_t *ckpt, size_t size, sp_error *err);
void sp_tune_stats_get(const sp_tuner *t, sp_tune_stats *out);
/* sp_tune_stats as JSON (owned by the tuner). */
const char *sp_tune_memory_json(sp_tuner *t);
void sp_tune_free(sp_tuner *t);

/* Loss and perplexity of adapter ad (NULL: the bare model) on ds, in batches of batch_size; with
 * accuracy and a label set, also the accuracy over the labels. malloc'd JSON
 * {"loss":..,"perplexity":..,"tokens":N,"examples":N[,"accuracy":..,"labels":[..]]} */
char *sp_eval_dataset_json(const sp_model *m, const sp_adapter *ad, const sp_dataset *ds, int32_t batch_size,
                           int32_t accuracy, sp_error *err);

#endif
