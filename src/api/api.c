/* api.c - the C ABI of softprompt.h: engine, errors, models, tokenizer.
 * (Generation lives in model/generate.c, adapters in train/adapter.c, tuning in train/tuner.c.) */
#include "softprompt.h"
#include "tokenizer_api.h"
#include "../model/model.h"
#include "../readers/json.h"
#include "../json_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int32_t sp_abi_version(void) { return SP_ABI_VERSION; }
void *sp_malloc(size_t size) { return malloc(size ? size : 1); }
void sp_free(void *p) { free(p); }

sp_error *sp_error_new(void) { return (sp_error *)calloc(1, sizeof(sp_error)); }
void sp_error_delete(sp_error *err) { free(err); }
int32_t sp_error_code(const sp_error *err) { return err ? err->code : SP_ERR_INVALID_ARG; }
const char *sp_error_message(const sp_error *err) { return err ? err->msg : "no error object"; }
const char *sp_error_code_name(int32_t code) { return sp_status_name((sp_status)code); }
int32_t sp_error_line(const sp_error *err) { return err ? err->line : 0; }
const char *sp_error_field(const sp_error *err) { return err ? err->field : ""; }

sp_engine *sp_engine_create(int32_t n_threads, sp_error *err) {
    sp_error_clear(err);
    if (n_threads < 1 || n_threads > 64) {
        sp_error_set(err, SP_ERR_INVALID_ARG, "threads must be between 1 and 64 (got %d)", n_threads);
        return NULL;
    }
    sp_engine *e = (sp_engine *)calloc(1, sizeof(sp_engine));
    if (!e) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    e->k = sp_kernels_get(SP_ISA_BEST);
    e->pool = sp_pool_create(n_threads);
    if (!e->pool) {
        free(e);
        sp_error_set(err, SP_ERR_NOMEM, "could not start %d threads", n_threads);
        return NULL;
    }
    return e;
}

void sp_engine_free(sp_engine *e) {
    if (!e) return;
    sp_pool_free(e->pool);
    free(e);
}

int32_t sp_engine_threads(const sp_engine *e) { return e ? sp_pool_threads(e->pool) : 0; }
const char *sp_engine_isa(const sp_engine *e) { return e && e->k ? e->k->isa : "none"; }

int32_t sp_engine_set_exact(sp_engine *e, int32_t exact, sp_error *err) {
    sp_error_clear(err);
    if (!e) { sp_error_set(err, SP_ERR_INVALID_ARG, "no engine"); return -1; }
    if (exact != 0 && exact != 1) { sp_error_set(err, SP_ERR_INVALID_ARG, "exact must be 0 or 1 (got %d)", exact); return -1; }
    const sp_kernels *best = sp_kernels_get(SP_ISA_BEST);
    e->k = exact ? sp_kernels_exact(best) : best;
    return 0;
}

int32_t sp_engine_exact(const sp_engine *e) { return e && e->k && !e->k->matmul_x16 && !e->k->decode_x16 ? 1 : 0; }

sp_model *sp_model_load_gguf(sp_engine *eng, uint8_t *buf, size_t size, sp_error *err) {
    sp_error_clear(err);
    if (!eng) { free(buf); sp_error_set(err, SP_ERR_INVALID_ARG, "no engine"); return NULL; }
    if (!buf) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model bytes"); return NULL; }
    return sp_model_load_gguf_buf(eng, buf, size, err);
}

sp_model *sp_model_load_hf(sp_engine *eng, const char *config_json, size_t config_len, uint8_t *st, size_t st_size,
                           const char *tokenizer_json, size_t tok_len, sp_error *err) {
    sp_error_clear(err);
    if (!eng) { free(st); sp_error_set(err, SP_ERR_INVALID_ARG, "no engine"); return NULL; }
    if (!st) { sp_error_set(err, SP_ERR_INVALID_ARG, "model.safetensors is missing"); return NULL; }
    return sp_model_load_hf_buf(eng, config_json, config_len, &st, &st_size, 1, tokenizer_json, tok_len, err);
}

sp_model *sp_model_load_hf_shards(sp_engine *eng, const char *config_json, size_t config_len, uint8_t **shards, const size_t *sizes,
                                  int32_t n_shards, const char *tokenizer_json, size_t tok_len, sp_error *err) {
    sp_error_clear(err);
    if (!eng || !shards || !sizes || n_shards < 1) {
        for (int32_t i = 0; shards && i < n_shards; i++) free(shards[i]);
        sp_error_set(err, SP_ERR_INVALID_ARG, !eng ? "no engine" : "no safetensors files");
        return NULL;
    }
    for (int32_t i = 0; i < n_shards; i++)
        if (!shards[i]) {
            for (int32_t j = 0; j < n_shards; j++) free(shards[j]);
            sp_error_set(err, SP_ERR_INVALID_ARG, "safetensors shard %d is missing", i + 1);
            return NULL;
        }
    return sp_model_load_hf_buf(eng, config_json, config_len, shards, sizes, n_shards, tokenizer_json, tok_len, err);
}

void sp_model_free(sp_model *m) { sp_model_free_(m); }

char *sp_model_gguf_json(sp_model *m, sp_error *err) {
    sp_error_clear(err);
    if (!m) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model"); return NULL; }
    const sp_arch *a = sp_arch_get((sp_arch_id)m->cfg.arch);
    int32_t cap = a ? 3 * a->n_tensors * (m->cfg.n_layers + 1) : 0;
    sp_gguf_piece *pieces = (sp_gguf_piece *)malloc(sizeof(sp_gguf_piece) * (size_t)(cap > 0 ? cap : 1));
    if (!pieces) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    uint8_t *header = NULL;
    size_t header_size = 0;
    char *out = NULL;
    if (sp_model_gguf(m, &header, &header_size, pieces, &cap, err) == SP_OK) {
        sp_buf b = {0};
        sp_buf_printf(&b, "{\"header\":[%.0f,%.0f],\"pieces\":[", (double)(uintptr_t)header, (double)header_size);
        for (int32_t i = 0; i < cap; i++)
            sp_buf_printf(&b, "%s[%.0f,%.0f,%.0f]", i ? "," : "", (double)(uintptr_t)pieces[i].data, (double)pieces[i].bytes, (double)pieces[i].pad);
        sp_buf_printf(&b, "]}");
        if (b.failed) {
            sp_buf_free(&b);
            free(header);
            sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        } else {
            out = b.data;
        }
    }
    free(pieces);
    return out;
}

const char *sp_model_info_json(sp_model *m) {
    if (!m) return "null";
    if (m->info_json) return m->info_json;
    const sp_config *c = &m->cfg;
    sp_buf b = {0};
    const sp_arch *arch = sp_arch_get((sp_arch_id)c->arch);
    sp_buf_printf(&b, "{\"arch\":\"%s\",\"format\":\"%s\",\"name\":", arch ? arch->gguf_name : "llama", m->format);
    sp_buf_json_string(&b, m->name, strlen(m->name));
    sp_buf_printf(&b, ",\"source_repo\":");
    if (m->source_repo[0]) sp_buf_json_string(&b, m->source_repo, strlen(m->source_repo));
    else sp_buf_printf(&b, "null");
    sp_buf_printf(&b, ",\"file_type\":\"%s\",\"weight_types\":\"%s\",\"dim\":%d,\"n_layers\":%d,\"n_heads\":%d,\"n_kv_heads\":%d,\"head_dim\":%d,"
                      "\"hidden_dim\":%d,\"vocab_size\":%d,\"context_length\":%d,\"rope_theta\":%.9g,\"norm_eps\":%.9g,"
                      "\"rope_style\":\"%s\",\"tied\":%s,\"n_params\":%llu,\"weight_bytes\":%llu,\"bos_id\":%d,\"eos_id\":%d,"
                      "\"tokenizer\":\"%s\",\"tokenizer_vocab_size\":%d,\"threads\":%d,\"isa\":\"%s\"}",
                  m->file_type, m->weight_types, c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->hidden_dim, c->vocab_size,
                  c->ctx_len, (double)c->rope_theta, (double)c->norm_eps, c->rope_style == SP_ROPE_HALF ? "half" : "adjacent",
                  c->tied ? "true" : "false", (unsigned long long)m->n_params, (unsigned long long)m->weight_bytes,
                  m->tok.bos_id, m->tok.eos_id, m->tok.kind == SP_TOK_BPE ? "bpe" : "spm", m->tok.vocab_size,
                  sp_pool_threads(m->eng->pool), m->eng->k->isa);
    if (b.failed) { sp_buf_free(&b); return "null"; }
    sp_buf_append(&b, "", 1);
    m->info_json = b.data;
    return m->info_json;
}

int32_t sp_tokenize(sp_model *m, const char *text, int32_t len, int32_t add_bos, int32_t *ids, int32_t cap, sp_error *err) {
    return sp_api_encode(m ? &m->tok : NULL, text, len, add_bos, ids, cap, err); /* tokenizer_api.c */
}

int32_t sp_detokenize(sp_model *m, const int32_t *ids, int32_t n, char *out, int32_t cap, sp_error *err) {
    return sp_api_decode(m ? &m->tok : NULL, ids, n, out, cap, err);
}

int32_t sp_token_piece(sp_model *m, int32_t prev, int32_t id, char *out, int32_t cap) {
    if (!m || cap < 0 || (!out && cap)) return -1;
    return sp_tokenizer_piece(&m->tok, prev, id, out, cap);
}
