/* adapter.c - sp_adapter: creation and initialisation, PEFT safetensors/config save and load,
 * nearest vocabulary tokens of each virtual token. */
#include "adapter.h"
#include "../readers/json.h"
#include "../readers/safetensors.h"
#include "../json_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* names                                                                                    */

sp_status sp_adapter_method_parse(const char *name, int32_t *method, sp_error *err) {
    static const sp_name names[] = {{"prompt", SP_METHOD_PROMPT, 0}, {"prefix", SP_METHOD_PREFIX, 0}, {NULL, 0, 0}};
    return sp_name_parse(names, "method", name, method, err);
}

sp_status sp_adapter_init_parse(const char *name, int32_t *init, sp_error *err) {
    static const sp_name names[] = {{"random", SP_INIT_RANDOM, 0}, {"vocab", SP_INIT_VOCAB, 0}, {"sample_vocab", SP_INIT_VOCAB, 1},
                                    {"text", SP_INIT_TEXT, 0}, {NULL, 0, 0}};
    return sp_name_parse(names, "init", name, init, err);
}

static const char *init_peft_name(int32_t init) {
    return init == SP_INIT_VOCAB ? "SAMPLE_VOCAB" : init == SP_INIT_TEXT ? "TEXT" : "RANDOM";
}
static const char *init_short_name(int32_t init) {
    return init == SP_INIT_VOCAB ? "vocab" : init == SP_INIT_TEXT ? "text" : "random";
}

/* ---------------------------------------------------------------------------------------- */
/* K permutation between HF and GGUF order                                                  */

void sp_rope_hf_to_gguf(float *out, const float *in, int32_t head_dim) {
    int32_t h2 = head_dim / 2;
    for (int32_t half = 0; half < 2; half++)
        for (int32_t j = 0; j < h2; j++) out[2 * j + half] = in[half * h2 + j];
}

void sp_rope_gguf_to_hf(float *out, const float *in, int32_t head_dim) {
    int32_t h2 = head_dim / 2;
    for (int32_t half = 0; half < 2; half++)
        for (int32_t j = 0; j < h2; j++) out[half * h2 + j] = in[2 * j + half];
}

float *sp_adapter_prefix_k(const sp_adapter *ad, int32_t l) {
    return ad->params + ((size_t)l * 2 + 0) * (size_t)ad->n_virtual * (size_t)ad->kv_dim;
}
float *sp_adapter_prefix_v(const sp_adapter *ad, int32_t l) {
    return ad->params + ((size_t)l * 2 + 1) * (size_t)ad->n_virtual * (size_t)ad->kv_dim;
}

/* Copy one kv_dim vector, converting every K head with fn when needed. */
static void copy_kv(float *out, const float *in, const sp_adapter *ad, int is_k,
                    void (*fn)(float *, const float *, int32_t)) {
    if (is_k && ad->rope_style == SP_ROPE_ADJACENT && ad->head_dim >= 2) {
        for (int32_t h = 0; h < ad->n_kv_heads; h++) fn(out + (size_t)h * ad->head_dim, in + (size_t)h * ad->head_dim, ad->head_dim);
    } else {
        memcpy(out, in, (size_t)ad->kv_dim * sizeof(float));
    }
}

void sp_adapter_to_peft(const sp_adapter *ad, float *out) {
    if (ad->method == SP_METHOD_PROMPT) {
        memcpy(out, ad->params, (size_t)ad->n_params * sizeof(float));
        return;
    }
    const size_t N = (size_t)ad->n_virtual, L = (size_t)ad->n_layers, kv = (size_t)ad->kv_dim;
    for (size_t i = 0; i < N; i++)
        for (size_t l = 0; l < L; l++)
            for (size_t p = 0; p < 2; p++)
                copy_kv(out + ((i * L + l) * 2 + p) * kv, ad->params + ((l * 2 + p) * N + i) * kv, ad, p == 0, sp_rope_gguf_to_hf);
}

void sp_adapter_from_peft(sp_adapter *ad, const float *in) {
    if (ad->method == SP_METHOD_PROMPT) {
        memcpy(ad->params, in, (size_t)ad->n_params * sizeof(float));
        return;
    }
    const size_t N = (size_t)ad->n_virtual, L = (size_t)ad->n_layers, kv = (size_t)ad->kv_dim;
    for (size_t i = 0; i < N; i++)
        for (size_t l = 0; l < L; l++)
            for (size_t p = 0; p < 2; p++)
                copy_kv(ad->params + ((l * 2 + p) * N + i) * kv, in + ((i * L + l) * 2 + p) * kv, ad, p == 0, sp_rope_hf_to_gguf);
}

/* ---------------------------------------------------------------------------------------- */
/* creation                                                                                 */

/* Allocate an adapter shell with dims from the model and zeroed params. */
static sp_adapter *adapter_alloc(const sp_model *m, int32_t method, int32_t n_virtual, sp_error *err) {
    if (!m) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model"); return NULL; }
    if (method != SP_METHOD_PROMPT && method != SP_METHOD_PREFIX) { sp_error_set(err, SP_ERR_INVALID_ARG, "unknown adapter method %d", (int)method); return NULL; }
    if (n_virtual < 1 || n_virtual > SP_ADAPTER_MAX_VIRTUAL) {
        sp_error_set(err, SP_ERR_INVALID_ARG, "virtual tokens must be in [1, %d], got %d", SP_ADAPTER_MAX_VIRTUAL, (int)n_virtual);
        return NULL;
    }
    const sp_config *c = &m->cfg;
    if (c->dim <= 0 || c->n_layers <= 0 || c->kv_dim <= 0 || c->n_kv_heads <= 0 || c->head_dim <= 0 ||
        c->kv_dim != c->n_kv_heads * c->head_dim) {
        sp_error_set(err, SP_ERR_SHAPE, "model config is inconsistent (dim %d, layers %d, kv_dim %d)", (int)c->dim, (int)c->n_layers, (int)c->kv_dim);
        return NULL;
    }
    size_t n;
    if (method == SP_METHOD_PROMPT) {
        if (!sp_mul_size((size_t)n_virtual, (size_t)c->dim, &n)) n = SIZE_MAX;
    } else {
        size_t a;
        if (!sp_mul_size((size_t)n_virtual, (size_t)c->kv_dim, &a) || !sp_mul_size(a, (size_t)c->n_layers * 2, &n)) n = SIZE_MAX;
    }
    if (n == SIZE_MAX || n > SIZE_MAX / sizeof(float) || n > ((size_t)1 << 31)) {
        sp_error_set(err, SP_ERR_TOO_LARGE, "adapter with %d virtual tokens is too large", (int)n_virtual);
        return NULL;
    }
    sp_adapter *ad = (sp_adapter *)calloc(1, sizeof(sp_adapter));
    float *p = (float *)calloc(n, sizeof(float));
    if (!ad || !p) {
        free(ad);
        free(p);
        sp_error_set(err, SP_ERR_NOMEM, "out of memory for an adapter of %zu parameters", n);
        return NULL;
    }
    ad->method = method;
    ad->n_virtual = n_virtual;
    ad->dim = c->dim;
    ad->n_layers = c->n_layers;
    ad->n_heads = c->n_heads;
    ad->n_kv_heads = c->n_kv_heads;
    ad->head_dim = c->head_dim;
    ad->kv_dim = c->kv_dim;
    ad->rope_style = c->rope_style;
    ad->model = m;
    ad->n_params = (int64_t)n;
    ad->params = p;
    ad->init = SP_INIT_RANDOM;
    return ad;
}

void sp_adapter_destroy(sp_adapter *ad) {
    if (!ad) return;
    free(ad->params);
    free(ad->init_text);
    free(ad->info_json);
    free(ad);
}

static char *dup_str(const char *s, size_t len) {
    char *p = (char *)malloc(len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = 0;
    return p;
}

sp_adapter *sp_adapter_create(const sp_model *m, int32_t method, int32_t n_virtual, int32_t init,
                              const char *init_text, uint64_t seed, sp_error *err) {
    if (init != SP_INIT_RANDOM && init != SP_INIT_VOCAB && init != SP_INIT_TEXT) {
        sp_error_set(err, SP_ERR_INVALID_ARG, "unknown init kind %d", (int)init);
        return NULL;
    }
    if (method == SP_METHOD_PREFIX && init != SP_INIT_RANDOM) {
        sp_error_set(err, SP_ERR_UNSUPPORTED, "init \"%s\" is for prompt tuning; prefix adapters start random (or from a loaded adapter)",
                     init_short_name(init));
        return NULL;
    }
    if (init == SP_INIT_TEXT && (!init_text || !*init_text)) {
        sp_error_set(err, SP_ERR_INVALID_ARG, "init \"text\" needs a non-empty init_text");
        return NULL;
    }
    sp_adapter *ad = adapter_alloc(m, method, n_virtual, err);
    if (!ad) return NULL;
    ad->init = init;
    sp_rng rng;
    sp_rng_seed(&rng, seed);
    const int32_t N = n_virtual, D = ad->dim;
    if (method == SP_METHOD_PREFIX) {
        for (int64_t i = 0; i < ad->n_params; i++) ad->params[i] = 0.02f * sp_rng_normal(&rng);
        return ad;
    }
    if (init == SP_INIT_RANDOM) {
        float s = sp_model_embd_std(m);
        for (int64_t i = 0; i < ad->n_params; i++) ad->params[i] = s * sp_rng_normal(&rng);
        return ad;
    }
    if (m->tok_embd.cols != D || m->tok_embd.rows <= 0) {
        sp_error_set(err, SP_ERR_SHAPE, "token embedding is %d x %d, expected width %d", (int)m->tok_embd.rows, (int)m->tok_embd.cols, (int)D);
        sp_adapter_destroy(ad);
        return NULL;
    }
    int32_t *ids = (int32_t *)malloc((size_t)N * sizeof(int32_t));
    if (!ids) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); sp_adapter_destroy(ad); return NULL; }
    sp_status st = SP_OK;
    if (init == SP_INIT_VOCAB) {
        for (int32_t i = 0; i < N; i++) ids[i] = (int32_t)sp_rng_below(&rng, (uint32_t)m->tok_embd.rows);
    } else {
        size_t tl = strlen(init_text);
        ad->init_text = dup_str(init_text, tl);
        int32_t add_bos = m->tok.add_bos && m->tok.bos_id >= 0;
        int32_t cap = (int32_t)(tl < (1u << 20) ? tl : (1u << 20)) + 8, n_tok = 0;
        int32_t *tids = (int32_t *)malloc((size_t)cap * sizeof(int32_t));
        if (!ad->init_text || !tids) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        if (!st) {
            sp_error e2;
            sp_error_clear(&e2);
            st = sp_tokenizer_encode(&m->tok, init_text, tl, add_bos, tids, cap, &n_tok, &e2);
            if (st == SP_OK && n_tok > cap && n_tok < (1 << 24)) { /* buffer too small: grow once */
                int32_t *nt = (int32_t *)realloc(tids, (size_t)n_tok * sizeof(int32_t));
                if (!nt) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
                else {
                    tids = nt;
                    cap = n_tok;
                    sp_error_clear(&e2);
                    st = sp_tokenizer_encode(&m->tok, init_text, tl, add_bos, tids, cap, &n_tok, &e2);
                }
            }
            if (st && st != SP_ERR_NOMEM) sp_error_set(err, st, "init_text: %s", e2.msg);
            if (!st && n_tok > cap) st = sp_error_set(err, SP_ERR_TOO_LARGE, "init_text gives %d tokens, too many", (int)n_tok);
        }
        if (!st && n_tok <= 0) st = sp_error_set(err, SP_ERR_INVALID_ARG, "init_text gives no tokens");
        /* PEFT: longer than N -> first N; shorter -> repeat ceil(N/len) times, cut to N */
        if (!st) for (int32_t i = 0; i < N; i++) ids[i] = tids[i % n_tok];
        free(tids);
    }
    for (int32_t i = 0; i < N && !st; i++) st = sp_model_embd_row(m, ids[i], ad->params + (size_t)i * D, err);
    free(ids);
    if (st) { sp_adapter_destroy(ad); return NULL; }
    return ad;
}

sp_adapter *sp_adapter_clone(const sp_adapter *src, sp_error *err) {
    if (!src) { sp_error_set(err, SP_ERR_INVALID_ARG, "no adapter"); return NULL; }
    sp_adapter *ad = (sp_adapter *)calloc(1, sizeof(sp_adapter));
    float *p = (float *)malloc((size_t)src->n_params * sizeof(float));
    char *t = src->init_text ? dup_str(src->init_text, strlen(src->init_text)) : NULL;
    if (!ad || !p || (src->init_text && !t)) {
        free(ad); free(p); free(t);
        sp_error_set(err, SP_ERR_NOMEM, "out of memory copying an adapter");
        return NULL;
    }
    *ad = *src;
    memcpy(p, src->params, (size_t)src->n_params * sizeof(float));
    ad->params = p;
    ad->init_text = t;
    ad->info_json = NULL;
    return ad;
}

/* ---------------------------------------------------------------------------------------- */
/* PEFT load                                                                                */

static int json_int(const sp_json *v, int64_t *out) {
    if (!v || v->type != SP_JSON_NUMBER || !isfinite(v->number) || v->number != floor(v->number) ||
        fabs(v->number) > 9007199254740992.0)
        return 0;
    *out = (int64_t)v->number;
    return 1;
}

sp_adapter *sp_adapter_read_peft(const sp_model *m, const uint8_t *st_buf, size_t st_size,
                                   const char *config_json, size_t config_len, sp_error *err) {
    if (!m) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model"); return NULL; }
    if (!config_json || !st_buf) { sp_error_set(err, SP_ERR_INVALID_ARG, "adapter_config.json and adapter_model.safetensors are both needed"); return NULL; }
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_adapter *ad = NULL;
    sp_status st = SP_OK;
    sp_error e2;
    sp_error_clear(&e2);
    const sp_config *c = &m->cfg;

    sp_json *cfg = sp_json_parse(&a, config_json, config_len, &e2);
    if (!cfg) { st = sp_error_set(err, e2.code == SP_ERR_NOMEM ? SP_ERR_NOMEM : SP_ERR_FORMAT, "adapter_config.json: %s", e2.msg); goto done; }
    if (cfg->type != SP_JSON_OBJECT) { st = sp_error_set(err, SP_ERR_FORMAT, "adapter_config.json: not a JSON object"); goto done; }
    const char *pt = sp_json_string(cfg, "peft_type", NULL);
    if (!pt) { st = sp_error_set(err, SP_ERR_FORMAT, "adapter_config.json: missing \"peft_type\""); goto done; }
    int32_t method;
    if (!strcmp(pt, "PROMPT_TUNING")) method = SP_METHOD_PROMPT;
    else if (!strcmp(pt, "PREFIX_TUNING")) method = SP_METHOD_PREFIX;
    else { st = sp_error_set(err, SP_ERR_UNSUPPORTED, "adapter_config.json: peft_type \"%s\" is not supported (PROMPT_TUNING or PREFIX_TUNING)", pt); goto done; }
    const sp_json *tt = sp_json_get(cfg, "task_type");
    if (tt && tt->type == SP_JSON_STRING && strcmp(tt->str, "CAUSAL_LM") != 0) {
        st = sp_error_set(err, SP_ERR_UNSUPPORTED, "adapter_config.json: task_type \"%s\" is not supported (CAUSAL_LM)", tt->str);
        goto done;
    }
    int64_t N, v64;
    if (!json_int(sp_json_get(cfg, "num_virtual_tokens"), &N) || N < 1 || N > SP_ADAPTER_MAX_VIRTUAL) {
        st = sp_error_set(err, SP_ERR_FORMAT, "adapter_config.json: \"num_virtual_tokens\" must be an integer in [1, %d]", SP_ADAPTER_MAX_VIRTUAL);
        goto done;
    }
    const sp_json *ntsm = sp_json_get(cfg, "num_transformer_submodules");
    if (ntsm && ntsm->type != SP_JSON_NULL && (!json_int(ntsm, &v64) || v64 != 1)) {
        st = sp_error_set(err, SP_ERR_UNSUPPORTED, "adapter_config.json: num_transformer_submodules must be 1 (decoder-only models)");
        goto done;
    }
    int64_t want_td = method == SP_METHOD_PROMPT ? c->dim : c->kv_dim;
    const sp_json *td = sp_json_get(cfg, "token_dim");
    if (td && td->type != SP_JSON_NULL) {
        if (!json_int(td, &v64)) { st = sp_error_set(err, SP_ERR_FORMAT, "adapter_config.json: \"token_dim\" is not an integer"); goto done; }
        if (v64 != want_td) {
            st = sp_error_set(err, SP_ERR_SHAPE, "adapter token_dim %lld does not match the model's %s %lld", (long long)v64,
                              method == SP_METHOD_PROMPT ? "hidden size" : "key/value width (n_kv_heads*head_dim)", (long long)want_td);
            goto done;
        }
    }
    if (method == SP_METHOD_PREFIX) {
        const sp_json *nl = sp_json_get(cfg, "num_layers");
        if (nl && nl->type != SP_JSON_NULL) {
            if (!json_int(nl, &v64)) { st = sp_error_set(err, SP_ERR_FORMAT, "adapter_config.json: \"num_layers\" is not an integer"); goto done; }
            if (v64 != c->n_layers) {
                st = sp_error_set(err, SP_ERR_SHAPE, "adapter num_layers %lld does not match the model's %d layers", (long long)v64, (int)c->n_layers);
                goto done;
            }
        }
    }

    sp_safetensors sf;
    sp_error_clear(&e2);
    st = sp_safetensors_parse(&sf, st_buf, st_size, &a, &e2);
    if (st) { st = sp_error_set(err, st, "adapter_model.safetensors: %s", e2.msg); goto done; }
    const sp_st_tensor *t = sp_safetensors_find(&sf, "prompt_embeddings");
    if (!t) { /* accept a single tensor whose name ends with prompt_embeddings (e.g. a prefixed key) */
        for (uint32_t i = 0; i < sf.n; i++) {
            size_t l = strlen(sf.tensors[i].name);
            if (l >= 17 && !strcmp(sf.tensors[i].name + l - 17, "prompt_embeddings")) { t = &sf.tensors[i]; break; }
        }
    }
    if (!t) {
        st = sp_error_set(err, SP_ERR_FORMAT, "adapter_model.safetensors: no \"prompt_embeddings\" tensor (%u tensor%s, first \"%s\")",
                          sf.n, sf.n == 1 ? "" : "s", sf.n ? sf.tensors[0].name : "");
        goto done;
    }
    if (t->dtype != SP_DTYPE_F32 && t->dtype != SP_DTYPE_F16 && t->dtype != SP_DTYPE_BF16) {
        st = sp_error_set(err, SP_ERR_UNSUPPORTED, "adapter_model.safetensors: prompt_embeddings dtype %s is not supported (F32, F16, BF16)",
                          t->dtype_name ? t->dtype_name : "?");
        goto done;
    }
    int64_t width = method == SP_METHOD_PROMPT ? c->dim : (int64_t)c->n_layers * 2 * c->kv_dim;
    if (t->n_dims != 2 || t->shape[0] != N || t->shape[1] != width) {
        char got[96];
        int k = snprintf(got, sizeof(got), "[");
        for (uint32_t i = 0; i < t->n_dims && i < 8 && k < (int)sizeof(got) - 24; i++)
            k += snprintf(got + k, sizeof(got) - (size_t)k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        snprintf(got + k, sizeof(got) - (size_t)k, "]");
        st = sp_error_set(err, SP_ERR_SHAPE, "prompt_embeddings has shape %s, expected [%lld, %lld] (%s, %lld virtual tokens)", got,
                          (long long)N, (long long)width, method == SP_METHOD_PROMPT ? "num_virtual_tokens x hidden size" : "num_virtual_tokens x num_layers*2*kv_dim",
                          (long long)N);
        goto done;
    }
    ad = adapter_alloc(m, method, (int32_t)N, err);
    if (!ad) { st = (sp_status)(err ? err->code : SP_ERR_NOMEM); goto done; }
    {
        size_t count = (size_t)ad->n_params;
        size_t esz = t->dtype == SP_DTYPE_F32 ? 4 : 2;
        if (t->nbytes != count * esz) { st = sp_error_set(err, SP_ERR_FORMAT, "prompt_embeddings byte size does not match its shape"); goto done; }
        float *tmp = (float *)malloc(count * sizeof(float));
        if (!tmp) { st = sp_error_set(err, SP_ERR_NOMEM, "out of memory loading the adapter"); goto done; }
        for (size_t i = 0; i < count; i++) {
            if (esz == 4) memcpy(&tmp[i], t->data + 4 * i, 4);
            else {
                uint16_t h;
                memcpy(&h, t->data + 2 * i, 2);
                tmp[i] = t->dtype == SP_DTYPE_F16 ? sp_f16_to_f32(h) : sp_bf16_to_f32(h);
            }
            if (!isfinite(tmp[i])) {
                st = sp_error_set(err, SP_ERR_NUMERIC, "prompt_embeddings has a NaN or Inf at row %zu, column %zu",
                                  i / (size_t)width, i % (size_t)width);
                break;
            }
        }
        if (!st) sp_adapter_from_peft(ad, tmp);
        free(tmp);
        if (st) goto done;
    }
    if (method == SP_METHOD_PROMPT) {
        const char *ini = sp_json_string(cfg, "prompt_tuning_init", "RANDOM");
        if (!strcmp(ini, "TEXT")) {
            const sp_json *it = sp_json_get(cfg, "prompt_tuning_init_text");
            if (it && it->type == SP_JSON_STRING) {
                ad->init = SP_INIT_TEXT;
                ad->init_text = dup_str(it->str, it->len);
                if (!ad->init_text) { st = sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto done; }
            }
        } else if (!strcmp(ini, "SAMPLE_VOCAB")) {
            ad->init = SP_INIT_VOCAB;
        }
    }

done:
    sp_arena_free(&a);
    if (st) { sp_adapter_destroy(ad); return NULL; }
    return ad;
}

/* ---------------------------------------------------------------------------------------- */
/* info / save                                                                              */

const char *sp_adapter_summary_json(sp_adapter *ad) {
    if (!ad) return NULL;
    sp_buf b;
    memset(&b, 0, sizeof(b));
    sp_buf_printf(&b, "{\"method\":\"%s\",\"num_virtual_tokens\":%d,\"token_dim\":%d,\"num_layers\":%d,"
                      "\"num_attention_heads\":%d,\"n_params\":%lld,\"init\":\"%s\",\"init_text\":",
                  ad->method == SP_METHOD_PROMPT ? "prompt" : "prefix", (int)ad->n_virtual,
                  (int)(ad->method == SP_METHOD_PROMPT ? ad->dim : ad->kv_dim), (int)ad->n_layers,
                  (int)(ad->method == SP_METHOD_PROMPT ? ad->n_heads : ad->n_kv_heads), (long long)ad->n_params,
                  init_short_name(ad->init));
    if (ad->init_text) sp_buf_json_string(&b, ad->init_text, strlen(ad->init_text));
    else sp_buf_append(&b, "null", 4);
    sp_buf_append(&b, "}", 1);
    if (b.failed) { sp_buf_free(&b); return NULL; }
    free(ad->info_json);
    ad->info_json = b.data;
    return ad->info_json;
}

uint8_t *sp_adapter_peft_safetensors(const sp_adapter *ad, size_t *out_size, sp_error *err) {
    if (!ad || !out_size) { sp_error_set(err, SP_ERR_INVALID_ARG, "no adapter"); return NULL; }
    float *tmp = (float *)malloc((size_t)ad->n_params * sizeof(float));
    if (!tmp) { sp_error_set(err, SP_ERR_NOMEM, "out of memory saving the adapter"); return NULL; }
    sp_adapter_to_peft(ad, tmp);
    int64_t shape[2] = {ad->n_virtual, ad->n_params / ad->n_virtual};
    uint8_t *out = NULL;
    size_t size = 0;
    sp_status st = sp_safetensors_write_f32("prompt_embeddings", shape, 2, tmp, &out, &size, err);
    free(tmp);
    if (st) return NULL;
    *out_size = size;
    return out;
}

/* One config entry: key and its JSON text. */
typedef struct { const char *key; char *val; } cfg_kv;

static int kv_cmp(const void *a, const void *b) { return strcmp(((const cfg_kv *)a)->key, ((const cfg_kv *)b)->key); }

static char *json_str_dup(const char *s) {
    sp_buf b;
    memset(&b, 0, sizeof(b));
    if (s) sp_buf_json_string(&b, s, strlen(s));
    else sp_buf_append(&b, "null", 4);
    if (b.failed) { sp_buf_free(&b); return NULL; }
    return b.data;
}

static char *json_int_dup(int64_t v) {
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    return dup_str(tmp, strlen(tmp));
}

char *sp_adapter_peft_config(const sp_adapter *ad, const char *base_model_name, sp_error *err) {
    if (!ad) { sp_error_set(err, SP_ERR_INVALID_ARG, "no adapter"); return NULL; }
    const char *base = base_model_name && *base_model_name ? base_model_name : NULL;
    cfg_kv kv[24];
    int n = 0;
#define KV(k, v) do { kv[n].key = (k); kv[n].val = (v); n++; } while (0)
    KV("auto_mapping", json_str_dup(NULL));
    KV("base_model_name_or_path", json_str_dup(base));
    KV("inference_mode", dup_str("true", 4));
    KV("modules_to_save", json_str_dup(NULL));
    KV("num_layers", json_int_dup(ad->n_layers));
    KV("num_transformer_submodules", json_int_dup(1));
    KV("num_virtual_tokens", json_int_dup(ad->n_virtual));
    KV("peft_version", json_str_dup(SP_PEFT_VERSION));
    KV("revision", json_str_dup(NULL));
    KV("task_type", json_str_dup("CAUSAL_LM"));
    if (ad->method == SP_METHOD_PROMPT) {
        /* PEFT refuses a TEXT config without tokenizer_name_or_path: use the base model name, else the
         * model's own name; with neither, record the init as RANDOM (it only matters when training). */
        int32_t init = ad->init;
        const char *tok_name = NULL;
        if (init == SP_INIT_TEXT) {
            tok_name = base ? base : (ad->model && ad->model->name[0] ? ad->model->name : NULL);
            if (!tok_name || !ad->init_text) init = SP_INIT_RANDOM;
        }
        KV("num_attention_heads", json_int_dup(ad->n_heads));
        KV("peft_type", json_str_dup("PROMPT_TUNING"));
        KV("prompt_tuning_init", json_str_dup(init_peft_name(init)));
        KV("prompt_tuning_init_text", json_str_dup(init == SP_INIT_TEXT ? ad->init_text : NULL));
        KV("token_dim", json_int_dup(ad->dim));
        KV("tokenizer_kwargs", json_str_dup(NULL));
        KV("tokenizer_name_or_path", json_str_dup(init == SP_INIT_TEXT ? tok_name : NULL));
    } else {
        /* PEFT's GQA rule: token_dim = kv_dim, heads = kv heads, encoder_hidden_size = token_dim */
        KV("encoder_hidden_size", json_int_dup(ad->kv_dim));
        KV("init_weights", json_str_dup(NULL));
        KV("num_attention_heads", json_int_dup(ad->n_kv_heads));
        KV("peft_type", json_str_dup("PREFIX_TUNING"));
        KV("prefix_projection", dup_str("false", 5));
        KV("token_dim", json_int_dup(ad->kv_dim));
    }
#undef KV
    qsort(kv, (size_t)n, sizeof(cfg_kv), kv_cmp);
    sp_buf b;
    memset(&b, 0, sizeof(b));
    int failed = 0;
    sp_buf_append(&b, "{\n", 2);
    for (int i = 0; i < n; i++) {
        if (!kv[i].val) { failed = 1; continue; }
        sp_buf_printf(&b, "  \"%s\": %s%s\n", kv[i].key, kv[i].val, i + 1 < n ? "," : "");
    }
    sp_buf_append(&b, "}", 1);
    for (int i = 0; i < n; i++) free(kv[i].val);
    if (failed || b.failed) {
        sp_buf_free(&b);
        sp_error_set(err, SP_ERR_NOMEM, "out of memory writing adapter_config.json");
        return NULL;
    }
    return b.data;
}

/* ---------------------------------------------------------------------------------------- */
/* nearest vocabulary tokens                                                                */

char *sp_adapter_nearest_tokens_json(const sp_adapter *ad, int32_t k, sp_error *err) {
    if (!ad || !ad->model) { sp_error_set(err, SP_ERR_INVALID_ARG, "no adapter"); return NULL; }
    if (ad->method != SP_METHOD_PROMPT) {
        sp_error_set(err, SP_ERR_UNSUPPORTED, "nearest tokens are defined for prompt tuning only (prefix adapters hold keys/values)");
        return NULL;
    }
    const sp_model *m = ad->model;
    const int32_t V = m->tok_embd.rows, D = ad->dim, N = ad->n_virtual;
    if (m->tok_embd.cols != D || V <= 0) { sp_error_set(err, SP_ERR_SHAPE, "token embedding width %d does not match the adapter's %d", (int)m->tok_embd.cols, (int)D); return NULL; }
    if (k < 1) { sp_error_set(err, SP_ERR_INVALID_ARG, "k must be >= 1, got %d", (int)k); return NULL; }
    if (k > 100) k = 100;
    if (k > V) k = V;
    float *row = (float *)malloc((size_t)D * sizeof(float));
    float *pn = (float *)malloc((size_t)N * sizeof(float));      /* (N) norms of the virtual tokens */
    float *best_s = (float *)malloc((size_t)N * (size_t)k * sizeof(float));  /* (N, k) scores, descending */
    int32_t *best_i = (int32_t *)malloc((size_t)N * (size_t)k * sizeof(int32_t)); /* (N, k) ids */
    char *result = NULL;
    if (!row || !pn || !best_s || !best_i) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto out; }
    for (int32_t i = 0; i < N; i++) {
        const float *p = ad->params + (size_t)i * D;
        double s = 0;
        for (int32_t j = 0; j < D; j++) s += (double)p[j] * p[j];
        pn[i] = (float)sqrt(s);
    }
    for (size_t i = 0; i < (size_t)N * k; i++) { best_s[i] = -INFINITY; best_i[i] = -1; }
    for (int32_t r = 0; r < V; r++) {
        if (sp_model_embd_row(m, r, row, err)) goto out;
        double rn = 0;
        for (int32_t j = 0; j < D; j++) rn += (double)row[j] * row[j];
        rn = sqrt(rn);
        for (int32_t i = 0; i < N; i++) {
            const float *p = ad->params + (size_t)i * D;
            double dot = 0;
            for (int32_t j = 0; j < D; j++) dot += (double)p[j] * row[j];
            float cs = (rn > 0 && pn[i] > 0) ? (float)(dot / (rn * pn[i])) : 0.0f;
            float *bs = best_s + (size_t)i * k;
            int32_t *bi = best_i + (size_t)i * k;
            if (!(cs > bs[k - 1])) continue; /* ties keep the lower id */
            int32_t pos = k - 1;
            while (pos > 0 && cs > bs[pos - 1]) { bs[pos] = bs[pos - 1]; bi[pos] = bi[pos - 1]; pos--; }
            bs[pos] = cs;
            bi[pos] = r;
        }
    }
    {
        sp_buf b;
        memset(&b, 0, sizeof(b));
        sp_buf_append(&b, "[", 1);
        for (int32_t i = 0; i < N; i++) {
            sp_buf_append(&b, i ? ",[" : "[", i ? 2 : 1);
            for (int32_t j = 0; j < k; j++) {
                int32_t id = best_i[(size_t)i * k + j];
                sp_buf_printf(&b, "%s{\"id\":%d,\"piece\":", j ? "," : "", (int)id);
                if (m->tok.pieces && id >= 0 && id < m->tok.vocab_size) sp_buf_json_string(&b, m->tok.pieces[id].ptr, (size_t)m->tok.pieces[id].len);
                else sp_buf_append(&b, "null", 4);
                sp_buf_printf(&b, ",\"score\":%.6f}", (double)best_s[(size_t)i * k + j]);
            }
            sp_buf_append(&b, "]", 1);
        }
        sp_buf_append(&b, "]", 1);
        if (b.failed) { sp_buf_free(&b); sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto out; }
        result = b.data;
    }
out:
    free(row);
    free(pn);
    free(best_s);
    free(best_i);
    return result;
}
