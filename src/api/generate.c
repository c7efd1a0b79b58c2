/* generate.c - the generation ABI (softprompt.h): its JSON options, and the adapter as virtual
 * tokens. Decoding and sampling live in src/model/generate.c. */
#include "softprompt.h"
#include "../model/generate.h"
#include "../readers/json.h"
#include "../train/adapter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* {"max_tokens":128,"temperature":1.0,"top_k":0,"top_p":1.0,"seed":0,"stop_at_eos":true} */
static sp_status parse_sample_opts(sp_sample_opts *o, const char *json, sp_error *err) {
    *o = SP_SAMPLE_OPTS_DEFAULT;
    if (!json || !*json) return SP_OK;
    sp_arena a;
    sp_arena_init(&a, 4096);
    sp_error jerr;
    sp_json *j = sp_json_parse(&a, json, strlen(json), &jerr);
    sp_status s = SP_OK;
    if (!j || j->type != SP_JSON_OBJECT) {
        s = sp_error_set(err, SP_ERR_INVALID_ARG, "generate options: %s", j ? "not a JSON object" : jerr.msg);
        goto done;
    }
    double mt = sp_json_number(j, "max_tokens", 128), t = sp_json_number(j, "temperature", 1.0);
    double tk = sp_json_number(j, "top_k", 0), tp = sp_json_number(j, "top_p", 1.0), sd = sp_json_number(j, "seed", 0);
    if (!(mt >= 0 && mt <= 1e7 && mt == floor(mt))) { s = sp_error_set(err, SP_ERR_INVALID_ARG, "max_tokens must be a whole number >= 0 (got %g)", mt); goto done; }
    if (!(t >= 0 && t <= 100)) { s = sp_error_set(err, SP_ERR_INVALID_ARG, "temperature must be in [0, 100] (got %g)", t); goto done; }
    if (!(tk >= 0 && tk == floor(tk) && tk <= 1e7)) { s = sp_error_set(err, SP_ERR_INVALID_ARG, "top_k must be a whole number >= 0 (got %g)", tk); goto done; }
    if (!(tp > 0 && tp <= 1)) { s = sp_error_set(err, SP_ERR_INVALID_ARG, "top_p must be in (0, 1] (got %g)", tp); goto done; }
    if (!(sd >= 0 && sd == floor(sd) && sd < 18446744073709551616.0)) { s = sp_error_set(err, SP_ERR_INVALID_ARG, "seed must be a whole number >= 0 (got %g)", sd); goto done; }
    o->max_tokens = (int32_t)mt;
    o->temperature = (float)t;
    o->top_k = (int32_t)tk;
    o->top_p = (float)tp;
    o->seed = (uint64_t)sd;
    o->stop_at_eos = sp_json_bool(j, "stop_at_eos", 1);
done:
    sp_arena_free(&a);
    return s;
}

/* The adapter as the generator's virtual tokens (none for NULL). */
static sp_status adapter_virtual(const sp_model *m, const sp_adapter *ad, sp_gen_virtual *v, sp_error *err) {
    *v = (sp_gen_virtual){0};
    if (!ad) return SP_OK;
    if (ad->model != m) return sp_error_set(err, SP_ERR_INVALID_ARG, "the adapter belongs to another model");
    if (ad->method == SP_METHOD_PROMPT) *v = (sp_gen_virtual){.soft = ad->params, .n_soft = ad->n_virtual};
    else *v = (sp_gen_virtual){.prefix = ad->params, .n_prefix = ad->n_virtual};
    return SP_OK;
}

sp_gen *sp_gen_create(sp_model *m, sp_adapter *ad, const int32_t *ids, int32_t n, const char *opts_json, sp_error *err) {
    sp_error_clear(err);
    if (!m) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model"); return NULL; }
    sp_sample_opts o;
    if (parse_sample_opts(&o, opts_json, err)) return NULL;
    sp_gen_virtual v;
    if (adapter_virtual(m, ad, &v, err)) return NULL;
    return sp_generator_create(m, &v, ids, n, &o, err);
}

int32_t sp_hidden_states(sp_model *m, sp_adapter *ad, const int32_t *ids, int32_t n, float *out, int32_t cap, sp_error *err) {
    sp_error_clear(err);
    if (!m) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model"); return -1; }
    if (n <= 0 || !ids) { sp_error_set(err, SP_ERR_INVALID_ARG, "the prompt has no tokens"); return -1; }
    if (cap < 0 || (!out && cap)) { sp_error_set(err, SP_ERR_INVALID_ARG, "bad output buffer"); return -1; }
    const int64_t need = (int64_t)n * m->cfg.dim;
    if (need > INT32_MAX) { sp_error_set(err, SP_ERR_INVALID_ARG, "%d tokens of %d values are too many for one call", n, m->cfg.dim); return -1; }
    sp_gen_virtual v;
    if (adapter_virtual(m, ad, &v, err)) return -1;
    sp_sample_opts o = SP_SAMPLE_OPTS_DEFAULT;
    o.max_tokens = 0;
    sp_gen *g = sp_generator_create(m, &v, ids, n, &o, err);
    if (!g) return -1;
    /* into out when it holds everything, else into scratch and the part that fits copied */
    float *h = cap >= need ? out : (float *)malloc(sizeof(float) * (size_t)need);
    sp_status s = h ? sp_generator_hidden(g, h, err) : sp_error_set(err, SP_ERR_NOMEM, "out of memory for %d hidden states", n);
    sp_generator_free(g);
    if (h && h != out) {
        if (!s && cap) memcpy(out, h, sizeof(float) * (size_t)cap);
        free(h);
    }
    return s ? -1 : (int32_t)need;
}

int32_t sp_gen_next(sp_gen *g, sp_error *err) {
    sp_error_clear(err);
    int32_t tok;
    return sp_generator_next(g, &tok, err);
}

int32_t sp_gen_token(const sp_gen *g) { return sp_generator_last(g); }

const float *sp_gen_logits(sp_gen *g) { return sp_generator_logits(g); }

void sp_gen_free(sp_gen *g) { sp_generator_free(g); }
