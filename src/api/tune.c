/* tune.c - the tuning ABI (softprompt.h): the tune options object, parsed into sp_tune_config,
 * and the data it names. The run itself lives in src/train/tuner.c. */
#include "softprompt.h"
#include "options.h"
#include "../train/tuner.h"

#include <string.h>

/* {"method":"prompt"|"prefix","virtual_tokens":20,"init":"random"|"vocab"|"text","init_text":"..",
 *  "optimizer":"adam"|"adamw"|"sgd","lr":..,"weight_decay":..,"schedule":"constant"|"linear"|"cosine",
 *  "warmup":0,"clip":0,"steps":0,"epochs":1,"batch_size":4,"max_length":256,"seed":0,"shuffle":true,
 *  "eval_split":0.1,"eval_every":0,"patience":0,"memory_mb":1024,"format":"auto"}.
 * eval_every is the caller's schedule for sp_tuner_eval_json, accepted so one object serves both.
 * The initialisation is read only without an initial adapter. */
static sp_status parse_tune_opts(sp_arena *a, const char *opts_json, int with_init, sp_tune_config *cfg, int32_t *format,
                                 int32_t *max_length, sp_error *err) {
    static const char *const known[] = {"method", "virtual_tokens", "init", "init_text", "optimizer", "lr", "weight_decay", "schedule",
                                        "warmup", "clip", "steps", "epochs", "batch_size", "max_length", "seed", "shuffle",
                                        "eval_split", "eval_every", "patience", "memory_mb", "format", NULL};
    *cfg = SP_TUNE_CONFIG_DEFAULT;
    *max_length = 256;
    float mem_mb = 1024.0f;
    const char *method = "prompt", *init = "random", *optimizer = "adam", *schedule = "constant", *fmt = "auto";
    sp_status s;
    sp_json *j = sp_opt_parse(a, opts_json, err);
    if (!j) return (sp_status)(err ? err->code : SP_ERR_INVALID_ARG);
    if ((s = sp_opt_check_keys(j, known, err)) || (s = sp_opt_string(j, "method", &method, err)) ||
        (s = sp_opt_string(j, "init", &init, err)) || (s = sp_opt_string(j, "init_text", &cfg->init_text, err)) ||
        (s = sp_opt_string(j, "optimizer", &optimizer, err)) || (s = sp_opt_string(j, "schedule", &schedule, err)) ||
        (s = sp_opt_string(j, "format", &fmt, err)) || (s = sp_opt_int(j, "virtual_tokens", &cfg->virtual_tokens, 1, 4096, err)) ||
        (s = sp_opt_int(j, "steps", &cfg->steps, 0, 100000000, err)) || (s = sp_opt_int(j, "epochs", &cfg->epochs, 1, 1000000, err)) ||
        (s = sp_opt_int(j, "batch_size", &cfg->batch_size, 1, 4096, err)) || (s = sp_opt_int(j, "max_length", max_length, 2, 1 << 20, err)) ||
        (s = sp_opt_int(j, "warmup", &cfg->warmup, 0, 100000000, err)) || (s = sp_opt_int(j, "patience", &cfg->patience, 0, 1000000, err)) ||
        (s = sp_opt_float(j, "lr", &cfg->lr, 0.0, 1e6, 1, err)) || (s = sp_opt_float(j, "weight_decay", &cfg->weight_decay, 0.0, 1e6, 0, err)) ||
        (s = sp_opt_float(j, "clip", &cfg->clip, 0.0, 1e12, 0, err)) || (s = sp_opt_float(j, "eval_split", &cfg->eval_split, 0.0, 0.95, 0, err)) ||
        (s = sp_opt_float(j, "memory_mb", &mem_mb, 1.0, 4096.0, 0, err)) ||
        (s = sp_opt_seed(j, &cfg->seed, err)))
        return s;
    cfg->shuffle = sp_json_bool(j, "shuffle", 1);
    cfg->memory_budget = (size_t)mem_mb * 1024 * 1024;
    if ((s = sp_adapter_method_parse(method, &cfg->method, err)) || (with_init && (s = sp_adapter_init_parse(init, &cfg->init, err))) ||
        (s = sp_optim_kind_parse(optimizer, &cfg->optimizer, err)) || (s = sp_sched_kind_parse(schedule, &cfg->schedule, err)) ||
        (s = sp_data_format_parse(fmt, format, err)))
        return s;
    return SP_OK;
}

sp_tuner *sp_tuner_create(sp_model *m, const char *opts_json, const char *data, size_t data_len, sp_adapter *init_adapter, sp_error *err) {
    sp_error_clear(err);
    if (!m) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model"); return NULL; }
    sp_arena a; /* the options' strings (init_text) live here until the tuner has copied them */
    sp_arena_init(&a, 4096);
    sp_tuner *t = NULL;
    sp_tune_config cfg;
    int32_t format, max_length;
    sp_dataset ds;
    memset(&ds, 0, sizeof(ds));
    if (!parse_tune_opts(&a, opts_json, init_adapter == NULL, &cfg, &format, &max_length, err)) {
        if (sp_dataset_load(&ds, &m->tok, data, data_len, format, max_length, err)) sp_dataset_free(&ds);
        else t = sp_tune_create(m, &cfg, &ds, init_adapter, err);
    }
    sp_arena_free(&a);
    return t;
}

int32_t sp_tuner_step(sp_tuner *t, sp_error *err) {
    sp_error_clear(err);
    return sp_tune_step(t, err);
}

const char *sp_tuner_report_json(sp_tuner *t) { return sp_tune_report_json(t); }

const char *sp_tuner_eval_json(sp_tuner *t, sp_error *err) {
    sp_error_clear(err);
    return sp_tune_eval_json(t, err);
}

int32_t sp_tuner_eval_some(sp_tuner *t, int32_t max_examples, int32_t *progress, sp_error *err) {
    sp_error_clear(err);
    return sp_tune_eval_some(t, max_examples, progress ? &progress[0] : NULL, progress ? &progress[1] : NULL, err);
}

sp_adapter *sp_tuner_adapter(sp_tuner *t, int32_t best, sp_error *err) {
    sp_error_clear(err);
    return sp_tune_adapter(t, best, err);
}

uint8_t *sp_tuner_checkpoint(sp_tuner *t, size_t *out_size, sp_error *err) {
    sp_error_clear(err);
    return sp_tune_checkpoint(t, out_size, err);
}

int32_t sp_tuner_resume(sp_tuner *t, const uint8_t *ckpt, size_t size, sp_error *err) {
    sp_error_clear(err);
    return sp_tune_resume(t, ckpt, size, err) ? -1 : 0;
}

const char *sp_tuner_memory_json(sp_tuner *t) { return sp_tune_memory_json(t); }

void sp_tuner_free(sp_tuner *t) { sp_tune_free(t); }
