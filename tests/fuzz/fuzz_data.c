/* fuzz_data.c - libFuzzer harness for src/train/data.c and the adapter loader (build:
 * CC=clang cmake -DSP_FUZZ=ON). Each input is used as:
 *   1. training data in every format (jsonl, csv, tsv, text, auto): parsing must fail with SP_ERR_DATA /
 *      SP_ERR_NOMEM or give examples; tokenizing with the tiny tokenizer must give in-range ids,
 *      targets never at position 0, lengths <= max_length, and a batch of the first examples must
 *      be padded correctly (an unrendered conversation is SP_ERR_UNSUPPORTED); the preview and the
 *      conversations list must be valid JSON;
 *   2. an adapter: the bytes before the first NUL are adapter_config.json, the rest the
 *      safetensors file, loaded against a small fake model: fails cleanly or round-trips.
 * Run: ./build/fuzz/fuzz_data -max_len=4096 corpus/ */
#include <stdlib.h>
#include <string.h>
#include "api/softprompt.h"
#include "train/data.h"
#include "train/adapter.h"
#include "readers/json.h"
#include "../c/tiny_tokenizer.h"

#define TRAP(c) do { if (!(c)) __builtin_trap(); } while (0)

static sp_tokenizer g_tok;
static sp_arena g_arena;
static int g_ready;
static float g_embd[286 * 32];

static void init_once(void) {
    if (g_ready) return;
    char *j = tiny_tokenizer_json();
    sp_arena_init(&g_arena, 0);
    sp_error err;
    TRAP(sp_tokenizer_from_hf_json(&g_tok, j, strlen(j), &g_arena, &err) == SP_OK);
    free(j);
    for (int i = 0; i < 286 * 32; i++) g_embd[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    g_ready = 1;
}

static void check_json(const char *s) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error err;
    TRAP(sp_json_parse(&a, s, strlen(s), &err) != NULL);
    sp_arena_free(&a);
}

static void fuzz_data(const uint8_t *data, size_t size) {
    for (int32_t fmt = SP_DATA_AUTO; fmt <= SP_DATA_TSV; fmt++) {
        sp_dataset ds;
        sp_error err;
        sp_error_clear(&err);
        sp_status st = sp_dataset_parse(&ds, (const char *)data, size, fmt, &err);
        TRAP(st == SP_OK || st == SP_ERR_DATA || st == SP_ERR_NOMEM);
        if (st == SP_OK) {
            TRAP(ds.n > 0 && ds.format != SP_DATA_AUTO);
            const int32_t L = 2 + (int32_t)(size % 13);
            st = sp_dataset_tokenize(&ds, &g_tok, L, &err);
            TRAP(st == SP_OK || st == SP_ERR_DATA || st == SP_ERR_NOMEM || st == SP_ERR_UNSUPPORTED);
            if (st == SP_OK) {
                int64_t nt = 0;
                for (int32_t i = 0; i < ds.n; i++) {
                    int32_t l = sp_dataset_len(&ds, i), t = 0;
                    TRAP(l >= 2 && l <= L);
                    TRAP(ds.targets[ds.offsets[i]] == 0);
                    for (int32_t k = 0; k < l; k++) {
                        int32_t id = ds.ids[ds.offsets[i] + k];
                        TRAP(id >= 0 && id < g_tok.vocab_size);
                        t += ds.targets[ds.offsets[i] + k];
                    }
                    TRAP(t >= 1);
                    nt += t;
                }
                TRAP(nt == ds.n_targets);
                sp_arena a;
                sp_arena_init(&a, 0);
                sp_batch b;
                int32_t idx[4];
                int32_t n = ds.n < 4 ? ds.n : 4;
                for (int32_t i = 0; i < n; i++) idx[i] = ds.n - 1 - i;
                TRAP(sp_batch_init(&b, &a, 4, L, &err) == SP_OK);
                TRAP(sp_batch_fill(&b, &ds, idx, n, 0, &err) == SP_OK);
                for (int32_t r = 0; r < n; r++)
                    for (int32_t t = b.lengths[r]; t < b.T; t++) TRAP(b.targets[r * b.T + t] == 0 && b.ids[r * b.T + t] == 0);
                sp_arena_free(&a);
            }
        }
        sp_dataset_free(&ds);
    }
    sp_error err;
    char *p = sp_dataset_preview_json(&g_tok, (const char *)data, size, SP_DATA_AUTO, 3, 16, (int32_t)(size & 1), &err);
    if (p) check_json(p);
    free(p);
    p = sp_dataset_conversations_json((const char *)data, size, SP_DATA_AUTO, &err);
    if (p) check_json(p);
    free(p);
}

static void fuzz_adapter(const uint8_t *data, size_t size) {
    const uint8_t *z = memchr(data, 0, size);
    if (!z) return;
    size_t cl = (size_t)(z - data);
    sp_model m;
    memset(&m, 0, sizeof(m));
    m.cfg.dim = 32; m.cfg.n_layers = 2; m.cfg.n_heads = 4; m.cfg.n_kv_heads = 2; m.cfg.head_dim = 8;
    m.cfg.q_dim = 32; m.cfg.kv_dim = 16; m.cfg.vocab_size = 286; m.cfg.ctx_len = 64;
    m.cfg.rope_style = (size & 1) ? SP_ROPE_ADJACENT : SP_ROPE_HALF;
    m.tok_embd.type = SP_DTYPE_F32; m.tok_embd.rows = 286; m.tok_embd.cols = 32;
    m.tok_embd.row_bytes = 32 * sizeof(float); m.tok_embd.data = g_embd;
    m.tok = g_tok;
    sp_error err;
    sp_adapter *ad = sp_adapter_load(&m, z + 1, size - cl - 1, (const char *)data, cl, &err);
    if (!ad) return;
    size_t n = 0;
    uint8_t *st = sp_adapter_save_safetensors(ad, &n, &err);
    char *cfg = sp_adapter_save_config(ad, "x", &err);
    TRAP(st && cfg);
    check_json(cfg);
    sp_adapter *b = sp_adapter_load(&m, st, n, cfg, strlen(cfg), &err);
    TRAP(b && b->n_params == ad->n_params && !memcmp(b->params, ad->params, sizeof(float) * (size_t)ad->n_params));
    if (ad->method == SP_METHOD_PROMPT) {
        char *nj = sp_adapter_nearest_json(ad, 3, &err);
        TRAP(nj);
        check_json(nj);
        free(nj);
    }
    check_json(sp_adapter_info_json(ad));
    sp_adapter_free(b);
    free(st);
    free(cfg);
    sp_adapter_free(ad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    fuzz_data(data, size);
    fuzz_adapter(data, size);
    return 0;
}
