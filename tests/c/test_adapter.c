/* test_adapter.c - sp_adapter on a hand-built model (F32 and Q8_0 embedding tables, the tiny
 * tokenizer): initialisations vs naive references, PEFT safetensors/config bytes checked by hand,
 * the GGUF K-head permutation, save/load round trips, load errors, nearest tokens. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "tiny_tokenizer.h"
#include "train/adapter.h"
#include "api/softprompt.h"
#include "readers/json.h"
#include "readers/safetensors.h"

#define V 286
#define D 64
#define NL 2
#define NH 4
#define NKV 2
#define HD 16
#define KV (NKV * HD)

static float embd[V * D];          /* (V, D) F32 table */
static sp_block_q8_0 embd_q8[V * D / SP_QK];
static sp_arena tok_arena;
static sp_engine eng; /* kernels only: the embedding rows are read with mat_row */

static void make_model(sp_model *m, int rope_style, int q8) {
    memset(m, 0, sizeof(*m));
    eng.k = sp_kernels_get(SP_ISA_BEST);
    m->eng = &eng;
    m->cfg.dim = D;
    m->cfg.n_layers = NL;
    m->cfg.n_heads = NH;
    m->cfg.n_kv_heads = NKV;
    m->cfg.head_dim = HD;
    m->cfg.q_dim = D;
    m->cfg.kv_dim = KV;
    m->cfg.vocab_size = V;
    m->cfg.ctx_len = 128;
    m->cfg.rope_style = rope_style;
    m->tok_embd.type = q8 ? SP_DTYPE_Q8_0 : SP_DTYPE_F32;
    m->tok_embd.rows = V;
    m->tok_embd.cols = D;
    m->tok_embd.row_bytes = q8 ? (D / SP_QK) * sizeof(sp_block_q8_0) : D * sizeof(float);
    m->tok_embd.data = q8 ? (const void *)embd_q8 : (const void *)embd;
    strcpy(m->name, "tiny-test");
}

static sp_tokenizer tok;

static void setup(void) {
    sp_rng r;
    sp_rng_seed(&r, 99);
    for (int i = 0; i < V * D; i++) embd[i] = 0.05f * sp_rng_normal(&r) + 0.01f;
    /* a naive Q8_0 quantization of the same table */
    for (int b = 0; b < V * D / SP_QK; b++) {
        float amax = 0;
        for (int j = 0; j < SP_QK; j++) amax = fmaxf(amax, fabsf(embd[b * SP_QK + j]));
        float d = amax / 127.0f;
        embd_q8[b].d = sp_f32_to_f16(d);
        for (int j = 0; j < SP_QK; j++) embd_q8[b].qs[j] = (int8_t)lrintf(d ? embd[b * SP_QK + j] / d : 0);
    }
    char *j = tiny_tokenizer_json();
    sp_error err;
    sp_arena_init(&tok_arena, 0);
    CHECK(sp_tokenizer_from_hf_json(&tok, j, strlen(j), &tok_arena, &err) == SP_OK);
    free(j);
}

static void naive_row(const sp_model *m, int r, float *out) {
    for (int i = 0; i < D; i++) {
        if (m->tok_embd.type == SP_DTYPE_F32) out[i] = embd[r * D + i];
        else {
            const sp_block_q8_0 *b = &embd_q8[(r * D + i) / SP_QK];
            out[i] = sp_f16_to_f32(b->d) * (float)b->qs[i % SP_QK];
        }
    }
}

static void test_embd_access(void) {
    sp_model m;
    float row[D], ref[D];
    sp_error err;
    for (int q8 = 0; q8 < 2; q8++) {
        make_model(&m, SP_ROPE_ADJACENT, q8);
        for (int r = 0; r < V; r += 37) {
            CHECK(sp_model_embd_row(&m, r, row, &err) == SP_OK);
            naive_row(&m, r, ref);
            CHECK(memcmp(row, ref, sizeof(row)) == 0);
        }
        CHECK(sp_model_embd_row(&m, V, row, &err) == SP_ERR_INVALID_ARG);
        double s = 0, s2 = 0;
        for (int r = 0; r < V; r++) {
            naive_row(&m, r, ref);
            for (int i = 0; i < D; i++) { s += ref[i]; s2 += (double)ref[i] * ref[i]; }
        }
        double mean = s / (V * D), sd = sqrt(s2 / (V * D) - mean * mean);
        CHECK_NEAR(sp_model_embd_std(&m), sd, 1e-6);
    }
}

static void test_rope_perm(void) {
    float hf[4] = {10, 11, 12, 13}, g[4], back[4];
    sp_rope_hf_to_gguf(g, hf, 4);
    /* llama.cpp: reshape(2, hd/2) -> swapaxes -> gguf[2j+half] = hf[half*hd/2 + j] */
    CHECK(g[0] == 10 && g[1] == 12 && g[2] == 11 && g[3] == 13);
    sp_rope_gguf_to_hf(back, g, 4);
    CHECK(!memcmp(back, hf, sizeof(hf)));
    float h8[8], g8[8];
    for (int i = 0; i < 8; i++) h8[i] = (float)i;
    sp_rope_hf_to_gguf(g8, h8, 8);
    const float want[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    CHECK(!memcmp(g8, want, sizeof(want)));
}

static void test_create(void) {
    sp_model m;
    sp_error err;
    make_model(&m, SP_ROPE_ADJACENT, 0);
    m.tok = tok;
    const int N = 10;
    /* RANDOM: N(0,1) * std(table), reproducible */
    sp_adapter *a = sp_adapter_create(&m, SP_METHOD_PROMPT, N, SP_INIT_RANDOM, NULL, 5, &err);
    sp_adapter *b = sp_adapter_create(&m, SP_METHOD_PROMPT, N, SP_INIT_RANDOM, NULL, 5, &err);
    sp_adapter *c = sp_adapter_create(&m, SP_METHOD_PROMPT, N, SP_INIT_RANDOM, NULL, 6, &err);
    CHECK(a && b && c);
    if (a && b && c) {
        CHECK(a->n_params == N * D && a->dim == D && a->kv_dim == KV && a->model == &m && a->method == SP_METHOD_PROMPT);
        CHECK(!memcmp(a->params, b->params, sizeof(float) * N * D));
        CHECK(memcmp(a->params, c->params, sizeof(float) * N * D) != 0);
        sp_rng r;
        sp_rng_seed(&r, 5);
        float s = sp_model_embd_std(&m);
        int same = 1;
        for (int i = 0; i < N * D; i++) same &= a->params[i] == s * sp_rng_normal(&r);
        CHECK(same);
    }
    sp_adapter_free(a); sp_adapter_free(b); sp_adapter_free(c);

    /* VOCAB: rows are embedding rows of ids drawn with sp_rng_below(V) */
    for (int q8 = 0; q8 < 2; q8++) {
        make_model(&m, SP_ROPE_ADJACENT, q8);
        m.tok = tok;
        a = sp_adapter_create(&m, SP_METHOD_PROMPT, N, SP_INIT_VOCAB, NULL, 11, &err);
        CHECK(a != NULL);
        if (a) {
            sp_rng r;
            sp_rng_seed(&r, 11);
            float ref[D];
            for (int i = 0; i < N; i++) {
                naive_row(&m, (int)sp_rng_below(&r, V), ref);
                CHECK(!memcmp(a->params + i * D, ref, sizeof(ref)));
            }
        }
        sp_adapter_free(a);
    }
    make_model(&m, SP_ROPE_ADJACENT, 0);
    m.tok = tok;

    /* TEXT: "ab" -> [BOS, ▁, a, b] repeated to N; and truncated when longer than N */
    const int want[4] = {ID_BOS, ID_META, ID('a'), ID('b')};
    a = sp_adapter_create(&m, SP_METHOD_PROMPT, N, SP_INIT_TEXT, "ab", 0, &err);
    CHECK_MSG(a != NULL, "%s", err.msg);
    if (a) {
        for (int i = 0; i < N; i++) CHECK(!memcmp(a->params + i * D, embd + want[i % 4] * D, sizeof(float) * D));
        CHECK(a->init == SP_INIT_TEXT && a->init_text && !strcmp(a->init_text, "ab"));
    }
    sp_adapter_free(a);
    a = sp_adapter_create(&m, SP_METHOD_PROMPT, 3, SP_INIT_TEXT, "ab", 0, &err);
    CHECK(a != NULL);
    if (a) for (int i = 0; i < 3; i++) CHECK(!memcmp(a->params + i * D, embd + want[i] * D, sizeof(float) * D));
    sp_adapter_free(a);
    CHECK(sp_adapter_create(&m, SP_METHOD_PROMPT, 3, SP_INIT_TEXT, "", 0, &err) == NULL && err.code == SP_ERR_INVALID_ARG);
    CHECK(sp_adapter_create(&m, SP_METHOD_PROMPT, 0, SP_INIT_RANDOM, NULL, 0, &err) == NULL && err.code == SP_ERR_INVALID_ARG);
    CHECK(sp_adapter_create(&m, SP_METHOD_PROMPT, SP_ADAPTER_MAX_VIRTUAL + 1, SP_INIT_RANDOM, NULL, 0, &err) == NULL);
    CHECK(sp_adapter_create(&m, 7, 3, SP_INIT_RANDOM, NULL, 0, &err) == NULL && err.code == SP_ERR_INVALID_ARG);

    /* PREFIX: random N(0, 0.02^2); other inits refused */
    a = sp_adapter_create(&m, SP_METHOD_PREFIX, N, SP_INIT_RANDOM, NULL, 3, &err);
    CHECK(a != NULL);
    if (a) {
        CHECK(a->n_params == (int64_t)NL * 2 * N * KV);
        double s2 = 0;
        for (int64_t i = 0; i < a->n_params; i++) s2 += (double)a->params[i] * a->params[i];
        CHECK_NEAR(sqrt(s2 / a->n_params), 0.02, 0.002);
        CHECK(sp_adapter_prefix_k(a, 1) == a->params + (size_t)2 * N * KV);
        CHECK(sp_adapter_prefix_v(a, 1) == a->params + (size_t)3 * N * KV);
        sp_adapter *cl = sp_adapter_clone(a, &err);
        CHECK(cl && cl->params != a->params && !memcmp(cl->params, a->params, sizeof(float) * (size_t)a->n_params));
        sp_adapter_free(cl);
    }
    sp_adapter_free(a);
    CHECK(sp_adapter_create(&m, SP_METHOD_PREFIX, N, SP_INIT_VOCAB, NULL, 3, &err) == NULL && err.code == SP_ERR_UNSUPPORTED);

    int32_t k;
    CHECK(sp_adapter_method_parse("prefix", &k, &err) == SP_OK && k == SP_METHOD_PREFIX);
    CHECK(sp_adapter_method_parse("lora", &k, &err) == SP_ERR_INVALID_ARG);
    CHECK(sp_adapter_init_parse("vocab", &k, &err) == SP_OK && k == SP_INIT_VOCAB);
    CHECK(sp_adapter_init_parse("zeros", &k, &err) == SP_ERR_INVALID_ARG);
}

/* ---- safetensors bytes, read by hand ---- */
typedef struct { sp_arena a; sp_json *hdr; const uint8_t *data; size_t data_len; size_t hdr_len; } st_view;

static int st_read(st_view *v, const uint8_t *buf, size_t size) {
    memset(v, 0, sizeof(*v));
    sp_arena_init(&v->a, 0);
    if (size < 8) return 0;
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)buf[i] << (8 * i);
    if (8 + hl > size) return 0;
    sp_error err;
    v->hdr = sp_json_parse(&v->a, (const char *)buf + 8, (size_t)hl, &err);
    v->hdr_len = (size_t)hl;
    v->data = buf + 8 + hl;
    v->data_len = size - 8 - (size_t)hl;
    return v->hdr != NULL;
}

/* Checks PEFT's tensor format; returns the F32 data (points into buf) or NULL. */
static const float *check_peft_tensor(st_view *v, const uint8_t *buf, size_t size, int64_t rows, int64_t cols) {
    CHECK(st_read(v, buf, size));
    if (!v->hdr) return NULL;
    CHECK(v->hdr_len % 8 == 0);
    CHECK(v->hdr->type == SP_JSON_OBJECT && v->hdr->len == 2); /* the tensor + __metadata__ */
    const sp_json *md = sp_json_get(v->hdr, "__metadata__");
    CHECK(md && md->len == 1 && !strcmp(sp_json_string(md, "format", ""), "pt"));
    const sp_json *t = sp_json_get(v->hdr, "prompt_embeddings");
    CHECK(t != NULL);
    if (!t) return NULL;
    CHECK(!strcmp(sp_json_string(t, "dtype", ""), "F32"));
    const sp_json *sh = sp_json_get(t, "shape");
    CHECK(sh && sh->len == 2 && sh->items[0].number == rows && sh->items[1].number == cols);
    const sp_json *off = sp_json_get(t, "data_offsets");
    CHECK(off && off->len == 2 && off->items[0].number == 0 && off->items[1].number == rows * cols * 4);
    CHECK(v->data_len == (size_t)(rows * cols * 4));
    return (const float *)v->data; /* buffer from malloc: aligned; header padded to 8 */
}

static const char *PROMPT_KEYS[] = {"auto_mapping", "base_model_name_or_path", "inference_mode", "modules_to_save",
    "num_attention_heads", "num_layers", "num_transformer_submodules", "num_virtual_tokens", "peft_type", "peft_version",
    "prompt_tuning_init", "prompt_tuning_init_text", "revision", "task_type", "token_dim", "tokenizer_kwargs",
    "tokenizer_name_or_path"};
static const char *PREFIX_KEYS[] = {"auto_mapping", "base_model_name_or_path", "encoder_hidden_size", "inference_mode",
    "init_weights", "modules_to_save", "num_attention_heads", "num_layers", "num_transformer_submodules",
    "num_virtual_tokens", "peft_type", "peft_version", "prefix_projection", "revision", "task_type", "token_dim"};

static sp_json *check_config(sp_arena *a, const char *cfg, const char **keys, int n_keys) {
    sp_error err;
    sp_json *j = sp_json_parse(a, cfg, strlen(cfg), &err);
    CHECK_MSG(j != NULL, "config is not JSON: %s", cfg);
    if (!j) return NULL;
    CHECK_MSG(j->len == (size_t)n_keys, "config has %zu keys", j->len);
    for (int i = 0; i < n_keys && i < (int)j->len; i++) CHECK_MSG(!strcmp(j->items[i].key, keys[i]), "key %d: %s, want %s", i, j->items[i].key, keys[i]);
    const sp_json *im = sp_json_get(j, "inference_mode");
    CHECK(im && im->type == SP_JSON_BOOL && im->boolean);
    CHECK(!strcmp(sp_json_string(j, "task_type", ""), "CAUSAL_LM"));
    CHECK(!strcmp(sp_json_string(j, "peft_version", ""), SP_PEFT_VERSION));
    CHECK(sp_json_number(j, "num_transformer_submodules", 0) == 1);
    const char *nulls[] = {"auto_mapping", "modules_to_save", "revision"};
    for (int i = 0; i < 3; i++) { const sp_json *x = sp_json_get(j, nulls[i]); CHECK(x && x->type == SP_JSON_NULL); }
    return j;
}

static void test_prompt_save_load(void) {
    sp_model m;
    sp_error err;
    make_model(&m, SP_ROPE_ADJACENT, 0);
    m.tok = tok;
    const int N = 5;
    sp_adapter *a = sp_adapter_create(&m, SP_METHOD_PROMPT, N, SP_INIT_TEXT, "hi there", 1, &err);
    CHECK(a != NULL);
    if (!a) return;
    size_t sz = 0;
    uint8_t *st = sp_adapter_save_safetensors(a, &sz, &err);
    CHECK_MSG(st != NULL, "%s", err.msg);
    st_view v;
    const float *data = st ? check_peft_tensor(&v, st, sz, N, D) : NULL;
    if (data) CHECK(!memcmp(data, a->params, sizeof(float) * N * D)); /* prompt rows are stored as they are */
    sp_arena_free(&v.a);

    char *cfg = sp_adapter_save_config(a, "org/base-model", &err);
    CHECK(cfg != NULL);
    sp_arena ja;
    sp_arena_init(&ja, 0);
    sp_json *j = cfg ? check_config(&ja, cfg, PROMPT_KEYS, 17) : NULL;
    if (j) {
        CHECK(!strcmp(sp_json_string(j, "peft_type", ""), "PROMPT_TUNING"));
        CHECK(sp_json_number(j, "num_virtual_tokens", 0) == N);
        CHECK(sp_json_number(j, "token_dim", 0) == D);
        CHECK(sp_json_number(j, "num_attention_heads", 0) == NH);
        CHECK(sp_json_number(j, "num_layers", 0) == NL);
        CHECK(!strcmp(sp_json_string(j, "prompt_tuning_init", ""), "TEXT"));
        CHECK(!strcmp(sp_json_string(j, "prompt_tuning_init_text", ""), "hi there"));
        CHECK(!strcmp(sp_json_string(j, "tokenizer_name_or_path", ""), "org/base-model"));
        CHECK(!strcmp(sp_json_string(j, "base_model_name_or_path", ""), "org/base-model"));
        CHECK(sp_json_get(j, "tokenizer_kwargs")->type == SP_JSON_NULL);
    }
    sp_arena_free(&ja);

    /* round trip */
    sp_adapter *b = sp_adapter_load(&m, st, sz, cfg, strlen(cfg), &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK(b->method == SP_METHOD_PROMPT && b->n_virtual == N && b->init == SP_INIT_TEXT && !strcmp(b->init_text, "hi there"));
        CHECK(!memcmp(b->params, a->params, sizeof(float) * N * D));
        const char *info = sp_adapter_info_json(b);
        CHECK(info && strstr(info, "\"method\":\"prompt\"") && strstr(info, "\"num_virtual_tokens\":5") && strstr(info, "\"token_dim\":64"));
    }
    sp_adapter_free(b);
    sp_free(cfg);

    /* no base model name: null; a TEXT init then names the model for the tokenizer */
    cfg = sp_adapter_save_config(a, NULL, &err);
    CHECK(cfg && strstr(cfg, "\"base_model_name_or_path\": null") && strstr(cfg, "\"tokenizer_name_or_path\": \"tiny-test\""));
    sp_free(cfg);
    m.name[0] = 0;
    cfg = sp_adapter_save_config(a, NULL, &err);
    CHECK(cfg && strstr(cfg, "\"prompt_tuning_init\": \"RANDOM\"") && strstr(cfg, "\"prompt_tuning_init_text\": null"));
    sp_free(cfg);
    sp_adapter_free(a);

    a = sp_adapter_create(&m, SP_METHOD_PROMPT, N, SP_INIT_VOCAB, NULL, 1, &err);
    cfg = a ? sp_adapter_save_config(a, "x", &err) : NULL;
    CHECK(cfg && strstr(cfg, "\"prompt_tuning_init\": \"SAMPLE_VOCAB\"") && strstr(cfg, "\"tokenizer_name_or_path\": null"));
    sp_free(cfg);
    sp_adapter_free(a);
    sp_free(st);
}

/* A PEFT-written config (as in peft method_comparison, our dims, inference_mode false, extra keys)
 * with an F16 tensor written by hand: accepted and converted. */
static void test_load_peft_variants(void) {
    sp_model m;
    sp_error err;
    make_model(&m, SP_ROPE_HALF, 0);
    m.tok = tok;
    const int N = 3;
    char cfg[1024];
    snprintf(cfg, sizeof(cfg),
             "{\n  \"auto_mapping\": null,\n  \"base_model_name_or_path\": null,\n  \"inference_mode\": false,\n"
             "  \"num_attention_heads\": %d,\n  \"num_layers\": %d,\n  \"num_transformer_submodules\": 1,\n"
             "  \"num_virtual_tokens\": %d,\n  \"peft_type\": \"PROMPT_TUNING\",\n  \"prompt_tuning_init\": \"SAMPLE_VOCAB\",\n"
             "  \"prompt_tuning_init_text\": null,\n  \"revision\": null,\n  \"task_type\": \"CAUSAL_LM\",\n  \"token_dim\": %d,\n"
             "  \"tokenizer_kwargs\": null,\n  \"tokenizer_name_or_path\": null\n}\n", NH, NL, N, D);
    /* F16 safetensors by hand */
    char hdr[256];
    int hl = snprintf(hdr, sizeof(hdr), "{\"__metadata__\":{\"format\":\"pt\"},\"prompt_embeddings\":{\"dtype\":\"F16\",\"shape\":[%d,%d],\"data_offsets\":[0,%d]}}",
                      N, D, N * D * 2);
    while (hl % 8) hdr[hl++] = ' ';
    size_t sz = 8 + (size_t)hl + (size_t)N * D * 2;
    uint8_t *buf = (uint8_t *)malloc(sz);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, hdr, (size_t)hl);
    for (int i = 0; i < N * D; i++) {
        uint16_t h = sp_f32_to_f16(0.25f * (float)(i % 7) - 0.5f);
        memcpy(buf + 8 + hl + 2 * i, &h, 2);
    }
    sp_adapter *a = sp_adapter_load(&m, buf, sz, cfg, strlen(cfg), &err);
    CHECK_MSG(a != NULL, "%s", err.msg);
    if (a) {
        CHECK(a->init == SP_INIT_VOCAB);
        int ok = 1;
        for (int i = 0; i < N * D; i++) ok &= a->params[i] == 0.25f * (float)(i % 7) - 0.5f;
        CHECK(ok);
    }
    sp_adapter_free(a);
    /* a NaN */
    uint16_t nanh = 0x7e00;
    memcpy(buf + 8 + hl + 2 * 5, &nanh, 2);
    CHECK(sp_adapter_load(&m, buf, sz, cfg, strlen(cfg), &err) == NULL && err.code == SP_ERR_NUMERIC);
    free(buf);
}

static sp_status load_err(sp_model *m, const uint8_t *st, size_t sz, const char *cfg, sp_error *err) {
    sp_error_clear(err);
    sp_adapter *a = sp_adapter_load(m, st, sz, cfg, strlen(cfg), err);
    sp_adapter_free(a);
    return a ? SP_OK : (sp_status)err->code;
}

static void test_load_errors(void) {
    sp_model m;
    sp_error err;
    make_model(&m, SP_ROPE_ADJACENT, 0);
    m.tok = tok;
    sp_adapter *a = sp_adapter_create(&m, SP_METHOD_PROMPT, 4, SP_INIT_RANDOM, NULL, 1, &err);
    size_t sz = 0;
    uint8_t *st = sp_adapter_save_safetensors(a, &sz, &err);
    char *good = sp_adapter_save_config(a, NULL, &err);
    CHECK(st && good);
    if (!st || !good) return;
    CHECK(load_err(&m, st, sz, good, &err) == SP_OK);
    char cfg[2048];
#define EDIT(from, to) do { char *p = strstr(good, from); CHECK(p); size_t o = (size_t)(p - good); \
        snprintf(cfg, sizeof(cfg), "%.*s%s%s", (int)o, good, to, p + strlen(from)); } while (0)
    EDIT("\"PROMPT_TUNING\"", "\"LORA\"");
    CHECK(load_err(&m, st, sz, cfg, &err) == SP_ERR_UNSUPPORTED && strstr(err.msg, "LORA"));
    EDIT("\"peft_type\"", "\"peft_kind\"");
    CHECK(load_err(&m, st, sz, cfg, &err) == SP_ERR_FORMAT && strstr(err.msg, "peft_type"));
    EDIT("\"num_virtual_tokens\": 4", "\"num_virtual_tokens\": 5");
    CHECK(load_err(&m, st, sz, cfg, &err) == SP_ERR_SHAPE && strstr(err.msg, "[4, 64]") && strstr(err.msg, "[5, 64]"));
    EDIT("\"num_virtual_tokens\": 4", "\"num_virtual_tokens\": 0");
    CHECK(load_err(&m, st, sz, cfg, &err) == SP_ERR_FORMAT);
    EDIT("\"token_dim\": 64", "\"token_dim\": 32");
    CHECK(load_err(&m, st, sz, cfg, &err) == SP_ERR_SHAPE && strstr(err.msg, "token_dim 32") && strstr(err.msg, "64"));
    EDIT("\"CAUSAL_LM\"", "\"SEQ_CLS\"");
    CHECK(load_err(&m, st, sz, cfg, &err) == SP_ERR_UNSUPPORTED);
    EDIT("\"num_transformer_submodules\": 1", "\"num_transformer_submodules\": 2");
    CHECK(load_err(&m, st, sz, cfg, &err) == SP_ERR_UNSUPPORTED);
    CHECK(load_err(&m, st, sz, "{\"peft_type\": ", &err) == SP_ERR_FORMAT && strstr(err.msg, "adapter_config.json"));
    CHECK(load_err(&m, st, sz, "[]", &err) == SP_ERR_FORMAT);
    CHECK(load_err(&m, st, 7, good, &err) == SP_ERR_FORMAT && strstr(err.msg, "safetensors"));
    /* the prompt tensor loaded as a prefix adapter: shape error */
    EDIT("\"PROMPT_TUNING\"", "\"PREFIX_TUNING\"");
    char cfg2[2048];
    strcpy(cfg2, cfg);
    {   char *p = strstr(cfg2, "\"token_dim\": 64"); if (p) memcpy(p, "\"token_dim\": 32", 15); }
    CHECK(load_err(&m, st, sz, cfg2, &err) == SP_ERR_SHAPE && strstr(err.msg, "prompt_embeddings has shape [4, 64]"));
    /* the wrong model for a prompt adapter: hidden size differs */
    sp_model m2;
    make_model(&m2, SP_ROPE_ADJACENT, 0);
    m2.cfg.dim = 32;
    m2.cfg.n_heads = 2;
    CHECK(load_err(&m2, st, sz, good, &err) == SP_ERR_SHAPE && strstr(err.msg, "hidden size"));
    /* no prompt_embeddings tensor */
    int64_t shape[2] = {4, 64};
    uint8_t *other = NULL;
    size_t osz = 0;
    CHECK(sp_safetensors_write_f32("weight", shape, 2, a->params, &other, &osz, &err) == SP_OK);
    CHECK(load_err(&m, other, osz, good, &err) == SP_ERR_FORMAT && strstr(err.msg, "prompt_embeddings"));
    sp_free(other);
    /* a prefixed key is accepted */
    CHECK(sp_safetensors_write_f32("base_model.prompt_embeddings", shape, 2, a->params, &other, &osz, &err) == SP_OK);
    CHECK(load_err(&m, other, osz, good, &err) == SP_OK);
    sp_free(other);
#undef EDIT
    sp_free(st);
    sp_free(good);
    sp_adapter_free(a);
}

static void test_prefix_save_load(void) {
    sp_error err;
    for (int style = 0; style < 2; style++) {
        sp_model m;
        make_model(&m, style == 0 ? SP_ROPE_ADJACENT : SP_ROPE_HALF, 0);
        m.tok = tok;
        const int N = 3;
        sp_adapter *a = sp_adapter_create(&m, SP_METHOD_PREFIX, N, SP_INIT_RANDOM, NULL, 2, &err);
        CHECK(a != NULL);
        if (!a) continue;
        for (int64_t i = 0; i < a->n_params; i++) a->params[i] = (float)i; /* each value names its slot */
        size_t sz = 0;
        uint8_t *st = sp_adapter_save_safetensors(a, &sz, &err);
        CHECK(st != NULL);
        st_view v;
        const int64_t W = (int64_t)NL * 2 * KV;
        const float *data = st ? check_peft_tensor(&v, st, sz, N, W) : NULL;
        if (data) {
            /* PEFT row i = [L0.K | L0.V | L1.K | L1.V], each KV wide, heads-major, HF order inside a head */
            int bad = 0;
            for (int i = 0; i < N; i++)
                for (int l = 0; l < NL; l++)
                    for (int p = 0; p < 2; p++)
                        for (int h = 0; h < NKV; h++)
                            for (int half = 0; half < 2; half++)
                                for (int j = 0; j < HD / 2; j++) {
                                    int hf = half * (HD / 2) + j;
                                    int internal = (p == 0 && style == 0) ? 2 * j + half : hf;
                                    float got = data[(size_t)i * W + (size_t)(l * 2 + p) * KV + h * HD + hf];
                                    float want = (float)(((size_t)(l * 2 + p) * N + i) * KV + h * HD + internal);
                                    bad += got != want;
                                }
            CHECK_MSG(bad == 0, "style %d: %d misplaced prefix values", style, bad);
        }
        sp_arena_free(&v.a);
        char *cfg = sp_adapter_save_config(a, "org/m", &err);
        sp_arena ja;
        sp_arena_init(&ja, 0);
        sp_json *j = cfg ? check_config(&ja, cfg, PREFIX_KEYS, 16) : NULL;
        if (j) {
            CHECK(!strcmp(sp_json_string(j, "peft_type", ""), "PREFIX_TUNING"));
            CHECK(sp_json_number(j, "token_dim", 0) == KV);          /* PEFT's GQA rule */
            CHECK(sp_json_number(j, "num_attention_heads", 0) == NKV);
            CHECK(sp_json_number(j, "encoder_hidden_size", 0) == KV);
            CHECK(sp_json_number(j, "num_layers", 0) == NL);
            const sp_json *pp = sp_json_get(j, "prefix_projection");
            CHECK(pp && pp->type == SP_JSON_BOOL && !pp->boolean);
            CHECK(sp_json_get(j, "init_weights")->type == SP_JSON_NULL);
        }
        sp_arena_free(&ja);
        sp_adapter *b = cfg && st ? sp_adapter_load(&m, st, sz, cfg, strlen(cfg), &err) : NULL;
        CHECK_MSG(b != NULL, "%s", err.msg);
        if (b) {
            CHECK(b->method == SP_METHOD_PREFIX && b->n_virtual == N);
            CHECK(!memcmp(b->params, a->params, sizeof(float) * (size_t)a->n_params));
            CHECK(sp_adapter_nearest_json(b, 3, &err) == NULL && err.code == SP_ERR_UNSUPPORTED);
        }
        sp_adapter_free(b);
        /* num_layers mismatch */
        if (cfg) {
            char *p = strstr(cfg, "\"num_layers\": 2");
            CHECK(p != NULL);
            if (p) {
                p[14] = '3';
                CHECK(sp_adapter_load(&m, st, sz, cfg, strlen(cfg), &err) == NULL && err.code == SP_ERR_SHAPE && strstr(err.msg, "num_layers 3"));
            }
        }
        sp_free(cfg);
        sp_free(st);
        sp_adapter_free(a);
    }
}

static void test_nearest(void) {
    sp_error err;
    for (int q8 = 0; q8 < 2; q8++) {
        sp_model m;
        make_model(&m, SP_ROPE_ADJACENT, q8);
        m.tok = tok;
        const int N = 4, K = 5;
        sp_adapter *a = sp_adapter_create(&m, SP_METHOD_PROMPT, N, SP_INIT_RANDOM, NULL, 8, &err);
        CHECK(a != NULL);
        if (!a) continue;
        float row[D];
        naive_row(&m, ID('q'), row);
        memcpy(a->params, row, sizeof(row)); /* virtual token 0 is exactly "q" */
        char *js = sp_adapter_nearest_json(a, K, &err);
        CHECK_MSG(js != NULL, "%s", err.msg);
        sp_arena ja;
        sp_arena_init(&ja, 0);
        sp_json *j = js ? sp_json_parse(&ja, js, strlen(js), &err) : NULL;
        CHECK(j && j->type == SP_JSON_ARRAY && j->len == (size_t)N);
        if (j && j->len == (size_t)N) {
            CHECK(sp_json_number(&j->items[0].items[0], "id", -1) == ID('q'));
            CHECK(!strcmp(sp_json_string(&j->items[0].items[0], "piece", ""), "q"));
            CHECK_NEAR(sp_json_number(&j->items[0].items[0], "score", 0), 1.0, 1e-5);
            /* naive reference top-K by cosine in double */
            for (int i = 0; i < N; i++) {
                double cs[V];
                const float *p = a->params + i * D;
                for (int r = 0; r < V; r++) {
                    naive_row(&m, r, row);
                    double dot = 0, n1 = 0, n2 = 0;
                    for (int c = 0; c < D; c++) { dot += (double)p[c] * row[c]; n1 += (double)p[c] * p[c]; n2 += (double)row[c] * row[c]; }
                    cs[r] = dot / sqrt(n1 * n2);
                }
                CHECK(j->items[i].len == (size_t)K);
                for (int k = 0; k < K && k < (int)j->items[i].len; k++) {
                    int best = -1;
                    for (int r = 0; r < V; r++) if (best < 0 || cs[r] > cs[best]) best = r;
                    const sp_json *e = &j->items[i].items[k];
                    CHECK_MSG(sp_json_number(e, "id", -1) == best, "virtual %d rank %d: id %g, want %d", i, k, sp_json_number(e, "id", -1), best);
                    CHECK_NEAR(sp_json_number(e, "score", 0), cs[best], 1e-5);
                    cs[best] = -1e9;
                }
            }
        }
        sp_arena_free(&ja);
        sp_free(js);
        CHECK(sp_adapter_nearest_json(a, 0, &err) == NULL && err.code == SP_ERR_INVALID_ARG);
        sp_adapter_free(a);
    }
}

int main(void) {
    setup();
    test_embd_access();
    test_rope_perm();
    test_create();
    test_prompt_save_load();
    test_load_peft_variants();
    test_load_errors();
    test_prefix_save_load();
    test_nearest();
    sp_arena_free(&tok_arena);
    CHECK_DONE();
}
