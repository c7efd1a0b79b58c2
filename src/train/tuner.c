/* tuner.c - a prompt-tuning / prefix-tuning run, one optimiser step per call.
 *
 * Every model weight is frozen; the only parameters are the adapter's:
 *   prompt tuning: P (N, dim) placed before the embedded batch, rows at positions 0..N-1,
 *                  the text (BOS first) at positions N.. (PEFT PROMPT_TUNING);
 *   prefix tuning: per layer K and V rows (N, kv_dim) in front of every sequence's keys and
 *                  values, used as stored (no RoPE), the text at positions N.. (PEFT PREFIX_TUNING).
 * A step: batch -> forward -> LM head + cross-entropy at the target rows (mean over the batch's
 * target tokens) -> backward to the input embeddings / past rows -> optimiser update.
 * The run owns one arena; activation memory is computed up front and, when it would exceed the
 * budget, the backward recomputes each layer's forward instead of keeping it (one layer slot). */
#include "tuner.h"
#include "../model/transformer.h"
#include "../json_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- */
/* a runner: activations + gradients + LM-head scratch for batches up to (B, T)                   */

typedef struct {
    const sp_model *m;
    int32_t method, n_virtual; /* adapter shape (n_virtual 0 = no adapter) */
    int32_t cap_B, cap_T;      /* batch capacity (T = text tokens, without virtual rows) */
    int32_t rows_T;            /* rows per sequence in the forward: cap_T (+ N for prompt tuning) */
    sp_acts acts;
    sp_grads grads;
    int32_t with_grads;
    float *lm_scratch;         /* (chunk, vocab + 2*dim) */
    int32_t chunk;
    int32_t *rows, *tgts;      /* (cap_B * cap_T) loss rows and their target ids */
    sp_batch batch;
    size_t bytes;              /* arena bytes used by the runner */
} sp_runner;


static sp_status runner_init(sp_runner *r, sp_arena *ar, const sp_model *m, int32_t method, int32_t n_virtual,
                             int32_t cap_B, int32_t cap_T, int32_t with_grads, size_t budget, sp_error *err) {
    memset(r, 0, sizeof(*r));
    const sp_config *c = &m->cfg;
    r->m = m;
    r->method = method;
    r->n_virtual = n_virtual;
    r->cap_B = cap_B;
    r->cap_T = cap_T;
    r->with_grads = with_grads;
    const int32_t n_soft = method == SP_METHOD_PROMPT ? n_virtual : 0;
    const int32_t n_past = method == SP_METHOD_PREFIX ? n_virtual : 0;
    r->rows_T = cap_T + n_soft;
    if ((int64_t)n_virtual + cap_T > c->ctx_len)
        return sp_error_set(err, SP_ERR_CONTEXT, "%d virtual tokens + max length %d = %d positions, more than the context of %d",
                            n_virtual, cap_T, n_virtual + cap_T, c->ctx_len);
    int32_t slots = with_grads ? c->n_layers : 1;
    size_t full = sp_acts_bytes(c, cap_B, r->rows_T, n_past, slots, with_grads);
    if (with_grads && (full == 0 || full > budget)) slots = 1; /* recompute */
    size_t need = sp_acts_bytes(c, cap_B, r->rows_T, n_past, slots, with_grads);
    if (with_grads) need += sp_grads_bytes(c, cap_B, r->rows_T, n_past);
    /* rows of logits per LM-head product: larger chunks run the head faster; never more than a
     * batch has rows, and halved (down to 8) while the scratch would break the budget */
    r->chunk = sp_lm_head_chunk(c);
    if ((int64_t)r->chunk > (int64_t)cap_B * cap_T) r->chunk = cap_B * cap_T;
    const size_t head_row = ((size_t)c->vocab_size + 2 * (size_t)c->dim) * 4;
    while (r->chunk > 8 && need + (size_t)r->chunk * head_row + (size_t)cap_B * cap_T * 8 > budget) r->chunk /= 2;
    need += (size_t)r->chunk * head_row + (size_t)cap_B * cap_T * 8;
    if (need == 0 || need > budget)
        return sp_error_set(err, SP_ERR_TOO_LARGE, "a batch of %d x %d tokens needs %zu bytes of activations, over the budget of %zu bytes; "
                            "lower batch_size or max_length", cap_B, cap_T, need, budget);
    size_t before = ar->total;
    sp_status s;
    if ((s = sp_acts_alloc(&r->acts, ar, c, cap_B, r->rows_T, n_past, slots, with_grads, 1, err))) return s;
    if (with_grads && (s = sp_grads_alloc(&r->grads, ar, c, cap_B, r->rows_T, n_past, err))) return s;
    r->lm_scratch = (float *)sp_arena_alloc(ar, sizeof(float) * (size_t)r->chunk * ((size_t)c->vocab_size + 2 * (size_t)c->dim));
    r->rows = (int32_t *)sp_arena_alloc(ar, sizeof(int32_t) * (size_t)cap_B * cap_T);
    r->tgts = (int32_t *)sp_arena_alloc(ar, sizeof(int32_t) * (size_t)cap_B * cap_T);
    if (!r->lm_scratch || !r->rows || !r->tgts) return sp_error_set(err, SP_ERR_NOMEM, "out of memory for the LM head scratch");
    if ((s = sp_batch_init(&r->batch, ar, cap_B, cap_T, err))) return s;
    r->bytes = ar->total - before;
    return SP_OK;
}

/* Forward (and optionally backward) of r->batch with adapter params (may be NULL when n_virtual 0).
 * Returns the summed loss over the batch's targets; *n_tgt gets their count. With grad != NULL
 * the gradient of the MEAN loss w.r.t. params is written (overwritten) into grad. */
static double runner_run(sp_runner *r, const float *params, float *grad, int64_t *n_tgt) {
    const sp_model *m = r->m;
    const sp_config *c = &m->cfg;
    const sp_batch *bt = &r->batch;
    const int32_t B = bt->B, Tt = bt->T;
    const int32_t n_soft = r->method == SP_METHOD_PROMPT ? r->n_virtual : 0;
    const int32_t n_past = r->method == SP_METHOD_PREFIX ? r->n_virtual : 0;
    const int32_t T = Tt + n_soft;
    /* x0 (B, T, dim) = [P ; embed(ids)] for each sequence */
    float *x0 = r->acts.x;
    for (int32_t b = 0; b < B; b++) {
        float *xb = x0 + (size_t)b * T * c->dim;
        if (n_soft) memcpy(xb, params, sizeof(float) * (size_t)n_soft * c->dim);
        sp_embed(m, xb + (size_t)n_soft * c->dim, bt->ids + (size_t)b * Tt, Tt);
    }
    sp_past past = {0};
    if (n_past) {
        past.k = params;
        past.v = params + (size_t)n_past * c->kv_dim;
        past.layer_stride = 2 * (int64_t)n_past * c->kv_dim;
        past.n_past = n_past;
    }
    sp_forward(m, &r->acts, x0, B, T, n_past ? &past : NULL);
    /* loss rows: ids[b, j] (j >= 1, a target) is predicted by row (b, n_soft + j - 1) */
    int32_t n = 0;
    for (int32_t b = 0; b < B; b++)
        for (int32_t j = 1; j < bt->lengths[b]; j++)
            if (bt->targets[(size_t)b * Tt + j]) {
                r->rows[n] = b * T + n_soft + j - 1;
                r->tgts[n] = bt->ids[(size_t)b * Tt + j];
                n++;
            }
    *n_tgt = n;
    if (n == 0) return 0.0;
    float *dxf = NULL;
    if (grad) {
        dxf = r->grads.dx;
        memset(dxf, 0, sizeof(float) * (size_t)B * T * c->dim);
    }
    double loss = sp_lm_head_loss(m, r->acts.xf, r->rows, r->tgts, n, dxf, 1.0f / (float)n, r->lm_scratch, r->chunk);
    if (grad) {
        const int64_t n_params = n_soft ? (int64_t)n_soft * c->dim : (int64_t)c->n_layers * 2 * n_past * c->kv_dim;
        memset(grad, 0, sizeof(float) * (size_t)n_params);
        sp_backward(m, &r->acts, &r->grads, B, T, n_past ? &past : NULL, n_past ? grad : NULL,
                    n_past ? grad + (size_t)n_past * c->kv_dim : NULL);
        if (n_soft) /* dP = sum over the batch of d x0[b, 0..N) */
            for (int32_t b = 0; b < B; b++) {
                const float *d = r->grads.dx + (size_t)b * T * c->dim;
                for (int64_t i = 0; i < (int64_t)n_soft * c->dim; i++) grad[i] += d[i];
            }
    }
    return loss;
}

/* ---------------------------------------------------------------------------------------------- */
/* evaluation (loss, perplexity, accuracy over a label set)                                       */

typedef struct {
    double loss_sum;
    int64_t tokens;
    int32_t examples;
    int32_t correct, scored; /* accuracy over examples with a label */
} sp_eval_result;

/* Log-likelihood classification: for example i with a label set, score every label's tokens
 * (label + EOS, as trained) after the example's input, and predict the most likely label. */
static sp_status eval_accuracy(sp_runner *r, const float *params, const sp_dataset *ds, const int32_t *idx, int32_t n,
                               sp_eval_result *res, sp_error *err) {
    const int32_t pad = sp_data_pad_id(&r->m->tok);
    for (int32_t e = 0; e < n; e++) {
        const int32_t i = idx[e];
        const int64_t o0 = ds->offsets[i];
        int32_t j0 = 0; /* first target = where the output starts */
        while (o0 + j0 < ds->offsets[i + 1] && !ds->targets[o0 + j0]) j0++;
        double best = -INFINITY;
        int32_t best_k = -1;
        for (int32_t k0 = 0; k0 < ds->n_labels; k0 += r->cap_B) {
            sp_batch *bt = &r->batch;
            int32_t B = ds->n_labels - k0 < r->cap_B ? ds->n_labels - k0 : r->cap_B, T = 0;
            for (int32_t b = 0; b < B; b++) {
                int32_t len = j0 + (int32_t)(ds->label_offsets[k0 + b + 1] - ds->label_offsets[k0 + b]);
                T = len > T ? len : T;
            }
            if (T > r->cap_T) T = r->cap_T;
            bt->B = B;
            bt->T = T;
            bt->n_targets = 0;
            for (int32_t b = 0; b < B; b++) {
                const int32_t k = k0 + b, nl = (int32_t)(ds->label_offsets[k + 1] - ds->label_offsets[k]);
                int32_t *row = bt->ids + (size_t)b * T;
                uint8_t *tg = bt->targets + (size_t)b * T;
                int32_t len = 0;
                for (int32_t j = 0; j < j0 && len < T; j++, len++) { row[len] = ds->ids[o0 + j]; tg[len] = 0; }
                for (int32_t j = 0; j < nl && len < T; j++, len++) { row[len] = ds->label_ids[ds->label_offsets[k] + j]; tg[len] = 1; }
                for (int32_t j = len; j < T; j++) { row[j] = pad; tg[j] = 0; }
                bt->lengths[b] = len;
                bt->example[b] = i;
            }
            /* per-row log-likelihoods: run rows one label at a time through the shared loss */
            for (int32_t b = 0; b < B; b++) {
                sp_batch one = *bt;
                one.B = 1;
                one.ids = bt->ids + (size_t)b * T;
                one.targets = bt->targets + (size_t)b * T;
                one.lengths = bt->lengths + b;
                sp_batch saved = r->batch;
                r->batch = one;
                int64_t nt;
                double l = runner_run(r, params, NULL, &nt);
                r->batch = saved;
                if (-l > best) { best = -l; best_k = k0 + b; }
            }
        }
        if (best_k < 0) return sp_error_set(err, SP_ERR_STATE, "accuracy: no label could be scored");
        res->scored++;
        if (best_k == ds->label_of[i]) res->correct++;
    }
    return SP_OK;
}

static sp_status eval_loss(sp_runner *r, const float *params, const sp_dataset *ds, const int32_t *idx, int32_t n,
                           sp_eval_result *res, sp_error *err) {
    const int32_t pad = sp_data_pad_id(&r->m->tok);
    sp_status s;
    for (int32_t i = 0; i < n; i += r->cap_B) {
        int32_t B = n - i < r->cap_B ? n - i : r->cap_B;
        if ((s = sp_batch_fill(&r->batch, ds, idx + i, B, pad, err))) return s;
        int64_t nt;
        res->loss_sum += runner_run(r, params, NULL, &nt);
        res->tokens += nt;
        res->examples += B;
    }
    return SP_OK;
}

static void eval_json(sp_buf *b, const sp_eval_result *res, const sp_dataset *ds, int tuner_keys) {
    double loss = res->tokens ? res->loss_sum / (double)res->tokens : 0.0;
    sp_buf_printf(b, "{\"%s\":%.9g,\"perplexity\":%.9g,\"tokens\":%lld,\"examples\":%d", tuner_keys ? "eval_loss" : "loss", loss,
                  exp(loss), (long long)res->tokens, res->examples);
    if (res->scored) {
        sp_buf_printf(b, ",\"accuracy\":%.9g,\"labels\":[", (double)res->correct / res->scored);
        for (int32_t k = 0; k < ds->n_labels; k++) {
            if (k) sp_buf_append(b, ",", 1);
            sp_buf_json_string(b, ds->labels[k], ds->label_lens[k]);
        }
        sp_buf_append(b, "]", 1);
    }
    sp_buf_append(b, "}", 2); /* with the NUL */
}

char *sp_eval_dataset_json(const sp_model *m, const sp_adapter *ad, const sp_dataset *ds, int32_t batch_size,
                           int32_t accuracy, sp_error *err) {
    if (!m || !ds || batch_size < 1) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model or data"); return NULL; }
    sp_arena a;
    sp_arena_init(&a, 1 << 20);
    char *out = NULL;
    int32_t *idx = (int32_t *)sp_arena_alloc(&a, sizeof(int32_t) * (size_t)ds->n);
    if (!idx) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto done; }
    sp_data_order_init(idx, ds->n);
    sp_runner r;
    int32_t cap_B = batch_size < ds->n ? batch_size : ds->n;
    if (ds->n_labels > cap_B) cap_B = ds->n_labels;
    if (runner_init(&r, &a, m, ad ? ad->method : SP_METHOD_PROMPT, ad ? ad->n_virtual : 0, cap_B, ds->max_len, 0, SP_TUNE_MEMORY_BUDGET, err))
        goto done;
    sp_eval_result res = {0};
    const float *params = ad ? ad->params : NULL;
    if (eval_loss(&r, params, ds, idx, ds->n, &res, err)) goto done;
    if (accuracy && ds->n_labels > 0 && eval_accuracy(&r, params, ds, idx, ds->n, &res, err)) goto done;
    sp_buf b = {0};
    eval_json(&b, &res, ds, 0);
    if (b.failed) { sp_buf_free(&b); sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto done; }
    out = b.data;
done:
    sp_arena_free(&a);
    return out;
}

/* ---------------------------------------------------------------------------------------------- */
/* the tuner                                                                                      */

struct sp_tuner {
    sp_model *m;
    sp_adapter *ad;          /* the parameters being trained (owned) */
    float *grad;             /* (n_params) */
    float *best;             /* (n_params) parameters with the lowest eval loss so far */
    float *prev;             /* (n_params) parameters before the last update: the last ones whose loss was finite */
    int32_t has_prev;        /* prev is valid (an update was made since create/resume) */
    int64_t n_params;
    double best_eval;        /* lowest eval loss (INFINITY before the first eval) */
    int32_t bad_evals, patience, stopped_early;
    sp_optim opt;
    sp_dataset ds;
    int32_t *train_idx, n_train; /* example indices */
    int32_t *eval_idx, n_eval;
    int32_t *order;          /* (n_train) this epoch's order of train_idx positions */
    int32_t *batch_idx;      /* (batch_size) */
    int32_t batch_size, shuffle, epochs;
    uint64_t seed;
    int32_t step, total_steps, epoch, pos; /* pos: next position in order */
    sp_rng rng;
    sp_runner run;
    sp_runner evr;           /* forward-only runner for evaluation */
    double last_loss;
    char report[512];
    sp_eval_result ev_part;  /* an evaluation under way in parts (sp_tune_eval_some): its sums so far */
    int32_t ev_done;         /* its work units done: n_eval for the loss, then n_eval for accuracy */
    char *eval_report;       /* malloc'd */
    char *memory_report;
    double t_tokens;
    sp_arena arena;
};

static void tuner_new_epoch(sp_tuner *t) {
    sp_data_order_init(t->order, t->n_train);
    if (t->shuffle) sp_data_shuffle(t->order, t->n_train, &t->rng);
}

sp_tuner *sp_tune_create(sp_model *m, const sp_tune_config *cfg, sp_dataset *ds, const sp_adapter *init_adapter,
                         sp_error *err) {
    if (!m || !cfg || !ds) {
        sp_dataset_free(ds);
        sp_error_set(err, SP_ERR_INVALID_ARG, "no model, options or data");
        return NULL;
    }
    sp_tuner *t = (sp_tuner *)calloc(1, sizeof(sp_tuner));
    if (!t) { sp_dataset_free(ds); sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    sp_arena_init(&t->arena, 1 << 20);
    t->m = m;
    t->best_eval = INFINITY;
    t->ds = *ds; /* taken over */
    memset(ds, 0, sizeof(*ds));
    const int32_t batch_size = cfg->batch_size;
    float eval_split = cfg->eval_split;
    if (batch_size < 1 || cfg->epochs < 1 || cfg->steps < 0) { sp_error_set(err, SP_ERR_INVALID_ARG, "batch_size and epochs must be >= 1"); goto fail; }
    t->seed = cfg->seed;
    t->patience = cfg->patience;
    t->batch_size = batch_size;
    t->shuffle = cfg->shuffle;
    t->epochs = cfg->epochs;
    sp_rng_seed(&t->rng, t->seed ^ 0x5eedda7aull);

    /* data */
    t->train_idx = (int32_t *)sp_arena_alloc(&t->arena, sizeof(int32_t) * (size_t)t->ds.n);
    t->eval_idx = (int32_t *)sp_arena_alloc(&t->arena, sizeof(int32_t) * (size_t)t->ds.n);
    t->order = (int32_t *)sp_arena_alloc(&t->arena, sizeof(int32_t) * (size_t)t->ds.n);
    t->batch_idx = (int32_t *)sp_arena_alloc(&t->arena, sizeof(int32_t) * (size_t)batch_size);
    if (!t->train_idx || !t->eval_idx || !t->order || !t->batch_idx) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto fail; }
    if (t->ds.n < 2) eval_split = 0.0f;
    if (sp_data_split(t->ds.n, eval_split, t->seed, t->train_idx, &t->n_train, t->eval_idx, &t->n_eval, err)) goto fail;
    const int32_t per_epoch = (t->n_train + batch_size - 1) / batch_size;
    t->total_steps = cfg->steps > 0 ? cfg->steps : per_epoch * cfg->epochs;

    /* parameters */
    if (init_adapter) {
        if (init_adapter->model != m) { sp_error_set(err, SP_ERR_INVALID_ARG, "the initial adapter belongs to another model"); goto fail; }
        t->ad = sp_adapter_clone(init_adapter, err);
    } else {
        const char *init_text = cfg->init_text ? cfg->init_text : "";
        if (cfg->init == SP_INIT_TEXT && !*init_text) { sp_error_set(err, SP_ERR_INVALID_ARG, "init \"text\" needs a non-empty init_text"); goto fail; }
        t->ad = sp_adapter_create(m, cfg->method, cfg->virtual_tokens, cfg->init, init_text, t->seed, err);
    }
    if (!t->ad) goto fail;
    t->n_params = t->ad->n_params;
    t->grad = (float *)sp_arena_alloc(&t->arena, sizeof(float) * (size_t)t->n_params);
    t->best = (float *)sp_arena_alloc(&t->arena, sizeof(float) * (size_t)t->n_params);
    t->prev = (float *)sp_arena_alloc(&t->arena, sizeof(float) * (size_t)t->n_params);
    if (!t->grad || !t->best || !t->prev) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto fail; }
    memcpy(t->best, t->ad->params, sizeof(float) * (size_t)t->n_params);

    /* optimiser */
    sp_optim_config oc;
    const int32_t ok = cfg->optimizer;
    sp_optim_config_default(&oc, ok);
    oc.lr = cfg->lr > 0.0f ? cfg->lr : (ok == SP_OPTIM_SGD ? 0.1f : 0.01f);
    if (cfg->weight_decay >= 0.0f) oc.weight_decay = cfg->weight_decay;
    oc.schedule = cfg->schedule;
    oc.warmup = cfg->warmup;
    oc.total_steps = t->total_steps;
    oc.clip = cfg->clip;
    if (sp_optim_config_check(&oc, err)) goto fail;
    if (sp_optim_init(&t->opt, &oc, t->n_params, &t->arena, err)) goto fail;

    /* activations */
    const size_t budget = cfg->memory_budget;
    if (runner_init(&t->run, &t->arena, m, t->ad->method, t->ad->n_virtual, batch_size < t->n_train ? batch_size : t->n_train,
                    t->ds.max_len, 1, budget, err))
        goto fail;
    if (t->n_eval > 0) {
        int32_t eb = batch_size < t->n_eval ? batch_size : t->n_eval;
        if (t->ds.n_labels > eb) eb = t->ds.n_labels;
        if (runner_init(&t->evr, &t->arena, m, t->ad->method, t->ad->n_virtual, eb, t->ds.max_len, 0, budget, err)) goto fail;
    }
    tuner_new_epoch(t);
    snprintf(t->report, sizeof(t->report), "{\"step\":0,\"total_steps\":%d,\"train_examples\":%d,\"eval_examples\":%d}",
             t->total_steps, t->n_train, t->n_eval);
    return t;
fail:
    sp_tune_free(t);
    return NULL;
}

void sp_tune_free(sp_tuner *t) {
    if (!t) return;
    sp_adapter_destroy(t->ad);
    sp_dataset_free(&t->ds);
    free(t->eval_report);
    free(t->memory_report);
    sp_arena_free(&t->arena);
    free(t);
}

int32_t sp_tune_step(sp_tuner *t, sp_error *err) {
    if (!t) { sp_error_set(err, SP_ERR_INVALID_ARG, "no tuner"); return -1; }
    t->ev_done = 0; /* an evaluation left half way is of the old parameters: dropped */
    if (t->step >= t->total_steps || t->stopped_early) return 0;
    /* next batch */
    const int32_t cap = t->run.cap_B;
    if (t->pos >= t->n_train) {
        t->epoch++;
        t->pos = 0;
        tuner_new_epoch(t);
    }
    int32_t B = t->n_train - t->pos < cap ? t->n_train - t->pos : cap;
    for (int32_t b = 0; b < B; b++) t->batch_idx[b] = t->train_idx[t->order[t->pos + b]];
    if (sp_batch_fill(&t->run.batch, &t->ds, t->batch_idx, B, sp_data_pad_id(&t->m->tok), err)) return -1;
    int64_t n_tgt;
    double loss_sum = runner_run(&t->run, t->ad->params, t->grad, &n_tgt);
    double loss = n_tgt ? loss_sum / (double)n_tgt : 0.0;
    const size_t pbytes = sizeof(float) * (size_t)t->n_params;
    if (!isfinite(loss)) {
        /* the current parameters gave this loss: fall back to the ones before the last update */
        if (t->has_prev) memcpy(t->ad->params, t->prev, pbytes);
        sp_error_set(err, SP_ERR_NUMERIC, "step %d: the loss is %g; stopped, the last good prompt is kept (lower the learning rate)", t->step + 1, loss);
        return -1;
    }
    const float lr = sp_optim_lr(&t->opt.cfg, t->opt.t);
    sp_optim_stats st;
    memcpy(t->prev, t->ad->params, pbytes);
    if (sp_optim_step(&t->opt, t->ad->params, t->grad, &st, err)) {
        sp_error_set(err, SP_ERR_NUMERIC, "step %d: the gradient is not finite; stopped, the last good prompt is kept", t->step + 1);
        return -1;
    }
    for (int64_t i = 0; i < t->n_params; i++)
        if (!isfinite(t->ad->params[i])) { /* e.g. AdamW's decay factor 1 - lr*wd far below -1 */
            memcpy(t->ad->params, t->prev, pbytes);
            sp_error_set(err, SP_ERR_NUMERIC, "step %d: the update made the prompt non-finite; stopped, the last good prompt is kept "
                         "(lower the learning rate)", t->step + 1);
            return -1;
        }
    t->has_prev = 1;
    t->pos += B;
    t->step++;
    int64_t tokens = 0;
    for (int32_t b = 0; b < B; b++) tokens += t->run.batch.lengths[b];
    t->last_loss = loss;
    snprintf(t->report, sizeof(t->report),
             "{\"step\":%d,\"epoch\":%d,\"loss\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g,\"tokens\":%lld,\"target_tokens\":%lld,"
             "\"batch\":%d,\"total_steps\":%d}",
             t->step, t->epoch + 1, loss, (double)lr, (double)st.grad_norm, (long long)tokens, (long long)n_tgt, B, t->total_steps);
    return 1;
}

const char *sp_tune_report_json(const sp_tuner *t) { return t ? t->report : "null"; }

int32_t sp_tune_eval_some(sp_tuner *t, int32_t max_examples, int32_t *done, int32_t *total, sp_error *err) {
    if (!t || max_examples < 1) { sp_error_set(err, SP_ERR_INVALID_ARG, "no tuner, or max_examples < 1"); return -1; }
    if (t->n_eval == 0) { sp_error_set(err, SP_ERR_STATE, "there is no eval split (set eval_split > 0 with at least 2 examples)"); return -1; }
    const int32_t n = t->n_eval, all = t->ds.n_labels > 0 ? 2 * n : n;
    if (t->ev_done == 0) memset(&t->ev_part, 0, sizeof t->ev_part);
    int32_t k = t->ev_done;
    if (k < n) {
        /* whole batches, so the sums are those of one pass over the split */
        const int32_t cap = t->evr.cap_B;
        int32_t c = n - k;
        if (max_examples < c) {
            const int32_t want = max_examples + (cap - max_examples % cap) % cap;
            if (want < c) c = want;
        }
        if (eval_loss(&t->evr, t->ad->params, &t->ds, t->eval_idx + k, c, &t->ev_part, err)) { t->ev_done = 0; return -1; }
        k += c;
    } else if (k < all) {
        const int32_t c = all - k < max_examples ? all - k : max_examples;
        if (eval_accuracy(&t->evr, t->ad->params, &t->ds, t->eval_idx + (k - n), c, &t->ev_part, err)) { t->ev_done = 0; return -1; }
        k += c;
    }
    t->ev_done = k;
    if (done) *done = k;
    if (total) *total = all;
    return k < all;
}

const char *sp_tune_eval_json(sp_tuner *t, sp_error *err) {
    if (!t) { sp_error_set(err, SP_ERR_INVALID_ARG, "no tuner"); return NULL; }
    int32_t more;
    while ((more = sp_tune_eval_some(t, INT32_MAX, NULL, NULL, err)) > 0) {}
    if (more < 0) return NULL;
    sp_eval_result res = t->ev_part;
    t->ev_done = 0; /* the next evaluation starts afresh */
    double loss = res.tokens ? res.loss_sum / (double)res.tokens : 0.0;
    if (loss < t->best_eval) {
        t->best_eval = loss;
        t->bad_evals = 0;
        memcpy(t->best, t->ad->params, sizeof(float) * (size_t)t->n_params);
    } else if (++t->bad_evals >= t->patience && t->patience > 0) {
        t->stopped_early = 1;
    }
    sp_buf b = {0};
    eval_json(&b, &res, &t->ds, 1);
    if (b.failed) { sp_buf_free(&b); sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    /* add step, best and early-stop state */
    b.len--; /* drop NUL */
    b.len--; /* drop } */
    sp_buf_printf(&b, ",\"step\":%d,\"best_eval_loss\":%.9g,\"stopped_early\":%s}", t->step, t->best_eval, t->stopped_early ? "true" : "false");
    sp_buf_append(&b, "", 1);
    free(t->eval_report);
    t->eval_report = b.data;
    return t->eval_report;
}

sp_adapter *sp_tune_adapter(const sp_tuner *t, int32_t best, sp_error *err) {
    if (!t) { sp_error_set(err, SP_ERR_INVALID_ARG, "no tuner"); return NULL; }
    sp_adapter *a = sp_adapter_clone(t->ad, err);
    if (a && best && isfinite(t->best_eval)) memcpy(a->params, t->best, sizeof(float) * (size_t)t->n_params);
    return a;
}

void sp_tune_stats_get(const sp_tuner *t, sp_tune_stats *out) {
    *out = (sp_tune_stats){
        .step = t->step,
        .total_steps = t->total_steps,
        .arena_bytes = t->arena.total,
        .train_activation_bytes = t->run.bytes,
        .eval_activation_bytes = t->evr.bytes,
        .recompute = t->run.acts.n_slots == 1 && t->m->cfg.n_layers > 1,
        .n_params = t->n_params,
    };
}

const char *sp_tune_memory_json(sp_tuner *t) {
    if (!t) return "null";
    free(t->memory_report);
    sp_tune_stats st;
    sp_tune_stats_get(t, &st);
    sp_buf b = {0};
    sp_buf_printf(&b, "{\"arena_bytes\":%zu,\"train_activation_bytes\":%zu,\"eval_activation_bytes\":%zu,\"recompute\":%s,\"params\":%lld}",
                  st.arena_bytes, st.train_activation_bytes, st.eval_activation_bytes, st.recompute ? "true" : "false",
                  (long long)st.n_params);
    sp_buf_append(&b, "", 1);
    t->memory_report = b.data;
    return t->memory_report ? t->memory_report : "null";
}

/* ---- checkpoints: "SPCKPT1\0" | i32 step, epoch, pos, n_train, bad_evals, stopped | u64 rng | f64 best_eval |
 *      i64 n_params | f32 params[n] | f32 best[n] | i32 order[n_train] | u64 optim_size | optim state ---- */
#define CKPT_MAGIC "SPCKPT1"
/* byte offsets of the fixed header; the arrays follow at CKPT_FIXED */
enum { CKPT_STEP, CKPT_EPOCH, CKPT_POS, CKPT_N_TRAIN, CKPT_BAD_EVALS, CKPT_STOPPED, CKPT_HDR_N }; /* the i32 header */
#define CKPT_OFF_HDR 8                              /* after the magic and its NUL */
#define CKPT_OFF_RNG (CKPT_OFF_HDR + CKPT_HDR_N * 4) /* u64 */
#define CKPT_OFF_BEST_EVAL (CKPT_OFF_RNG + 8)       /* f64 */
#define CKPT_OFF_N_PARAMS (CKPT_OFF_BEST_EVAL + 8)  /* i64 */
#define CKPT_FIXED (CKPT_OFF_N_PARAMS + 8)

uint8_t *sp_tune_checkpoint(const sp_tuner *t, size_t *out_size, sp_error *err) {
    if (!t || !out_size) { sp_error_set(err, SP_ERR_INVALID_ARG, "no tuner"); return NULL; }
    size_t osz = sp_optim_state_size(&t->opt);
    size_t n = CKPT_FIXED + (size_t)t->n_params * 8 + (size_t)t->n_train * 4 + 8 + osz;
    uint8_t *buf = (uint8_t *)malloc(n), *p = buf;
    if (!buf) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    memcpy(p, CKPT_MAGIC, CKPT_OFF_HDR); p += CKPT_OFF_HDR;
    int32_t hdr[CKPT_HDR_N] = {[CKPT_STEP] = t->step, [CKPT_EPOCH] = t->epoch, [CKPT_POS] = t->pos, [CKPT_N_TRAIN] = t->n_train,
                               [CKPT_BAD_EVALS] = t->bad_evals, [CKPT_STOPPED] = t->stopped_early};
    memcpy(p, hdr, sizeof(hdr)); p += sizeof(hdr);
    memcpy(p, &t->rng.s, 8); p += 8;
    memcpy(p, &t->best_eval, 8); p += 8;
    int64_t np = t->n_params;
    memcpy(p, &np, 8); p += 8;
    memcpy(p, t->ad->params, (size_t)np * 4); p += (size_t)np * 4;
    memcpy(p, t->best, (size_t)np * 4); p += (size_t)np * 4;
    memcpy(p, t->order, (size_t)t->n_train * 4); p += (size_t)t->n_train * 4;
    uint64_t o64 = osz;
    memcpy(p, &o64, 8); p += 8;
    if (sp_optim_state_save(&t->opt, p, osz, err)) { free(buf); return NULL; }
    *out_size = n;
    return buf;
}

sp_status sp_tune_resume(sp_tuner *t, const uint8_t *ck, size_t size, sp_error *err) {
    if (!t || !ck) return sp_error_set(err, SP_ERR_INVALID_ARG, "no tuner or checkpoint");
    const size_t fixed = CKPT_FIXED;
    if (size < fixed || memcmp(ck, CKPT_MAGIC, CKPT_OFF_HDR) != 0) return sp_error_set(err, SP_ERR_FORMAT, "checkpoint: bad magic or truncated");
    int32_t hdr[CKPT_HDR_N];
    memcpy(hdr, ck + CKPT_OFF_HDR, sizeof(hdr));
    uint64_t rng;
    double best_eval;
    int64_t np;
    memcpy(&rng, ck + CKPT_OFF_RNG, 8);
    memcpy(&best_eval, ck + CKPT_OFF_BEST_EVAL, 8);
    memcpy(&np, ck + CKPT_OFF_N_PARAMS, 8);
    if (np != t->n_params || hdr[CKPT_N_TRAIN] != t->n_train)
        return sp_error_set(err, SP_ERR_SHAPE, "checkpoint: %lld parameters / %d training examples, this run has %lld / %d",
                       (long long)np, hdr[CKPT_N_TRAIN], (long long)t->n_params, t->n_train);
    size_t need = fixed + (size_t)np * 8 + (size_t)t->n_train * 4 + 8;
    if (size < need) return sp_error_set(err, SP_ERR_FORMAT, "checkpoint: truncated");
    const uint8_t *p = ck + fixed;
    const uint8_t *params = p, *best = p + (size_t)np * 4, *order = best + (size_t)np * 4;
    uint64_t osz;
    memcpy(&osz, order + (size_t)t->n_train * 4, 8);
    if (osz != size - need) return sp_error_set(err, SP_ERR_FORMAT, "checkpoint: optimiser state size mismatch");
    for (int32_t i = 0; i < t->n_train; i++) {
        int32_t o;
        memcpy(&o, order + (size_t)i * 4, 4);
        if (o < 0 || o >= t->n_train) return sp_error_set(err, SP_ERR_FORMAT, "checkpoint: bad data order");
    }
    if (hdr[CKPT_STEP] < 0 || hdr[CKPT_POS] < 0 || hdr[CKPT_POS] > t->n_train) return sp_error_set(err, SP_ERR_FORMAT, "checkpoint: bad step or position");
    sp_status st = sp_optim_state_load(&t->opt, ck + need, (size_t)osz, err);
    if (st) return st;
    memcpy(t->ad->params, params, (size_t)np * 4);
    memcpy(t->best, best, (size_t)np * 4);
    memcpy(t->order, order, (size_t)t->n_train * 4);
    t->step = hdr[CKPT_STEP]; t->epoch = hdr[CKPT_EPOCH]; t->pos = hdr[CKPT_POS]; t->bad_evals = hdr[CKPT_BAD_EVALS]; t->stopped_early = hdr[CKPT_STOPPED];
    t->rng.s = rng;
    t->best_eval = best_eval;
    t->has_prev = 0;
    snprintf(t->report, sizeof(t->report), "{\"step\":%d,\"total_steps\":%d,\"resumed\":true}", t->step, t->total_steps);
    return SP_OK;
}
