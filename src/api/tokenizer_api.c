/* tokenizer_api.c - the tokenizer part of the C ABI: a tokenizer loaded without weights
 * (tokenizer.json [+ tokenizer_config.json], or a GGUF's tokenizer.ggml.* metadata), a view of a
 * loaded model's tokenizer, and the tokenizer_config / generation_config settings for a model.
 * Model-level sp_tokenize / sp_detokenize stay in api.c; both call the same sp_tokenizer_*. */
#include "softprompt.h"
#include "tokenizer_api.h"
#include "../model/model.h"
#include "../readers/json.h"
#include "../readers/gguf.h"
#include "../json_write.h"

#include <stdlib.h>
#include <string.h>

struct sp_tok {
    sp_tokenizer *tok;      /* owned (in arena) or a model's (borrowed) */
    sp_arena arena;
    int owned;
    char *info_json;        /* malloc'd, built on first use */
};

static sp_tok *tok_new(void) {
    sp_tok *h = (sp_tok *)calloc(1, sizeof(sp_tok));
    if (!h) return NULL;
    sp_arena_init(&h->arena, 0);
    h->owned = 1;
    h->tok = (sp_tokenizer *)sp_arena_alloc(&h->arena, sizeof(sp_tokenizer));
    if (!h->tok) { sp_arena_free(&h->arena); free(h); return NULL; }
    return h;
}

sp_tok *sp_tok_load_hf(const char *tokenizer_json, size_t len, const char *config_json, size_t config_len, sp_error *err) {
    sp_error_clear(err);
    if (!tokenizer_json || (!config_json && config_len)) { sp_error_set(err, SP_ERR_INVALID_ARG, "tok_load_hf: bad arguments"); return NULL; }
    sp_tok *h = tok_new();
    if (!h) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    sp_status st = sp_tokenizer_from_hf_json(h->tok, tokenizer_json, len, &h->arena, err);
    if (!st && config_json && config_len) st = sp_tokenizer_apply_config(h->tok, config_json, config_len, &h->arena, err);
    if (st) { sp_tok_free(h); return NULL; }
    return h;
}

sp_tok *sp_tok_load_gguf(uint8_t *buf, size_t size, sp_error *err) {
    sp_error_clear(err);
    if (!buf) { sp_error_set(err, SP_ERR_INVALID_ARG, "tok_load_gguf: no bytes"); return NULL; }
    sp_tok *h = tok_new();
    if (!h) { free(buf); sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    sp_gguf g;
    sp_status st = sp_gguf_parse(&g, buf, size, &h->arena, err);
    if (!st) st = sp_tokenizer_from_gguf(h->tok, &g, &h->arena, err); /* copies everything it keeps */
    free(buf);
    if (st) { sp_tok_free(h); return NULL; }
    return h;
}

sp_tok *sp_model_tokenizer(sp_model *m, sp_error *err) {
    sp_error_clear(err);
    if (!m) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model"); return NULL; }
    sp_tok *h = (sp_tok *)calloc(1, sizeof(sp_tok));
    if (!h) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    h->tok = &m->tok;
    return h;
}

int32_t sp_model_tokenizer_config(sp_model *m, const char *config_json, size_t config_len, const int32_t *eog, int32_t n_eog,
                                  sp_error *err) {
    sp_error_clear(err);
    if (!m || (!config_json && config_len) || n_eog < 0 || (!eog && n_eog)) {
        sp_error_set(err, SP_ERR_INVALID_ARG, "model_tokenizer_config: bad arguments");
        return -1;
    }
    if (config_len && sp_tokenizer_apply_config(&m->tok, config_json, config_len, &m->arena, err)) return -1;
    if (n_eog && sp_tokenizer_add_eog(&m->tok, eog, n_eog, err)) return -1;
    free(m->info_json); /* bos/eos may have changed */
    m->info_json = NULL;
    return 0;
}

void sp_tok_free(sp_tok *h) {
    if (!h) return;
    if (h->owned) sp_arena_free(&h->arena);
    free(h->info_json);
    free(h);
}

static void put_id_or_null(sp_buf *b, const char *key, const sp_tokenizer *t, int32_t id) {
    sp_buf_printf(b, ",\"%s_id\":%d,\"%s_token\":", key, (int)id, key);
    if (id >= 0) sp_buf_json_string(b, t->pieces[id].ptr, (size_t)t->pieces[id].len);
    else sp_buf_append(b, "null", 4);
}

const char *sp_tok_info_json(sp_tok *h) {
    if (!h) return "null";
    if (h->info_json) return h->info_json;
    const sp_tokenizer *t = h->tok;
    sp_buf b = {0};
    sp_buf_printf(&b, "{\"kind\":\"%s\",\"vocab_size\":%d,\"add_bos\":%s", t->kind == SP_TOK_BPE ? "bpe" : "spm",
                  (int)t->vocab_size, sp_tokenizer_n_special(t, 0) ? "true" : "false");
    sp_buf_printf(&b, ",\"add_eos\":%s", sp_tokenizer_n_special(t, 1) ? "true" : "false");
    put_id_or_null(&b, "bos", t, t->bos_id);
    put_id_or_null(&b, "eos", t, t->eos_id);
    put_id_or_null(&b, "pad", t, t->pad_id);
    put_id_or_null(&b, "unk", t, t->unk_id);
    sp_buf_append(&b, ",\"eog_ids\":[", 12);
    for (int32_t k = 0; k < t->n_eog; k++) sp_buf_printf(&b, "%s%d", k ? "," : "", (int)t->eog[k]);
    sp_buf_append(&b, "],\"chat_template\":", 18);
    if (t->chat_template.len) sp_buf_json_string(&b, t->chat_template.ptr, (size_t)t->chat_template.len);
    else sp_buf_append(&b, "null", 4);
    sp_buf_append(&b, "}", 2);
    if (b.failed) { sp_buf_free(&b); return "null"; }
    h->info_json = b.data;
    return h->info_json;
}

/* The ABI's encode and decode for any tokenizer (also behind api.c's sp_tokenize / sp_detokenize). */
int32_t sp_api_encode(const sp_tokenizer *t, const char *text, int32_t len, int32_t add_special, int32_t *ids, int32_t cap, sp_error *err) {
    sp_error_clear(err);
    if (!t || (!text && len) || len < 0 || cap < 0 || (!ids && cap)) { sp_error_set(err, SP_ERR_INVALID_ARG, "tokenize: bad arguments"); return -1; }
    int32_t n = 0;
    if (sp_tokenizer_encode(t, text ? text : "", (size_t)len, add_special, ids, cap, &n, err)) return -1;
    sp_error_clear(err);
    return n;
}

int32_t sp_api_decode(const sp_tokenizer *t, const int32_t *ids, int32_t n, char *out, int32_t cap, sp_error *err) {
    sp_error_clear(err);
    if (!t || n < 0 || (!ids && n) || cap < 0 || (!out && cap)) { sp_error_set(err, SP_ERR_INVALID_ARG, "detokenize: bad arguments"); return -1; }
    int32_t need = 0;
    if (sp_tokenizer_decode(t, ids, n, out, cap, &need, err)) return -1;
    return need;
}

int32_t sp_tok_encode(sp_tok *h, const char *text, int32_t len, int32_t add_special, int32_t *ids, int32_t cap, sp_error *err) {
    return sp_api_encode(h ? h->tok : NULL, text, len, add_special, ids, cap, err);
}

int32_t sp_tok_decode(sp_tok *h, const int32_t *ids, int32_t n, char *out, int32_t cap, sp_error *err) {
    return sp_api_decode(h ? h->tok : NULL, ids, n, out, cap, err);
}

int32_t sp_tok_token_text(sp_tok *h, int32_t id, char *out, int32_t cap) {
    if (!h || id < 0 || id >= h->tok->vocab_size || cap < 0 || (!out && cap)) return -1;
    const sp_str *p = &h->tok->pieces[id];
    if (p->len > INT32_MAX) return -1;
    int32_t n = (int32_t)p->len;
    if (out && n) memcpy(out, p->ptr, (size_t)(n < cap ? n : cap));
    return n;
}
