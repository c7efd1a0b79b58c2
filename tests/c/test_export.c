/* test_export.c - a random-weight model written as a GGUF file (model/export.c, the benchmark's
 * files for the peer) reads back through the GGUF loader as the same model: the same config and,
 * token by token, bit-identical logits, for every architecture and weight type; the header parses
 * as GGUF with the stand-in vocabulary; a model with a tokenizer is refused. */
#include "api/softprompt.h"
#include "model/model.h"
#include "readers/gguf.h"
#include "tensor.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* The whole file the pieces describe. */
static uint8_t *file_of(const sp_model *m, size_t *size) {
    uint8_t *header = NULL;
    size_t hs = 0;
    sp_gguf_piece pieces[256];
    int32_t n = 256;
    sp_error err;
    sp_status s = sp_model_gguf(m, &header, &hs, pieces, &n, &err);
    CHECK_MSG(s == SP_OK, "%s", err.msg);
    if (s) return NULL;
    size_t total = hs;
    for (int32_t i = 0; i < n; i++) total += pieces[i].bytes + pieces[i].pad;
    uint8_t *f = (uint8_t *)calloc(1, total), *p = f;
    memcpy(p, header, hs);
    p += hs;
    for (int32_t i = 0; i < n; i++) {
        memcpy(p, pieces[i].data, pieces[i].bytes);
        p += pieces[i].bytes + pieces[i].pad;
    }
    free(header);
    *size = total;
    return f;
}

/* Greedy generation of 4 tokens on both models: every step's logits equal bit for bit. */
static void same_logits(sp_model *a, sp_model *b, const char *what) {
    const int32_t ids[5] = {1, 7, 300 % a->cfg.vocab_size, 42, 5};
    sp_error err;
    const char *opts = "{\"max_tokens\":4,\"temperature\":0,\"stop_at_eos\":false}";
    sp_gen *ga = sp_gen_create(a, NULL, ids, 5, opts, &err), *gb = sp_gen_create(b, NULL, ids, 5, opts, &err);
    CHECK_MSG(ga && gb, "%s: %s", what, err.msg);
    if (!ga || !gb) { sp_gen_free(ga); sp_gen_free(gb); return; }
    for (int step = 0; step < 4; step++) {
        CHECK(sp_gen_next(ga, &err) == 1);
        CHECK(sp_gen_next(gb, &err) == 1);
        CHECK_MSG(memcmp(sp_gen_logits(ga), sp_gen_logits(gb), sizeof(float) * (size_t)a->cfg.vocab_size) == 0, "%s: step %d logits differ", what, step);
        CHECK(sp_gen_token(ga) == sp_gen_token(gb));
    }
    sp_gen_free(ga);
    sp_gen_free(gb);
}

static void round_trip(sp_engine *eng, sp_config c, uint32_t type, const char *what) {
    sp_error err;
    sp_model *m = sp_model_random(eng, &c, type, 7, what, &err);
    CHECK_MSG(m != NULL, "%s: %s", what, err.msg);
    if (!m) return;
    size_t size = 0;
    uint8_t *f = file_of(m, &size);
    if (f) {
        /* the header: llama.cpp's keys and the stand-in vocabulary */
        sp_arena ar;
        sp_arena_init(&ar, 1 << 12);
        sp_gguf g;
        CHECK(sp_gguf_parse(&g, f, size, &ar, &err) == SP_OK);
        const sp_gguf_kv *tok = sp_gguf_find(&g, "tokenizer.ggml.tokens");
        CHECK(tok && tok->arr_n == (uint64_t)c.vocab_size);
        if (tok && tok->arr_n > 300) {
            CHECK(tok->arr_strs[3 + 0x41].len == 6 && memcmp(tok->arr_strs[3 + 0x41].ptr, "<0x41>", 6) == 0);
            CHECK(tok->arr_strs[259].len == 5 && memcmp(tok->arr_strs[259].ptr, "\xe2\x96\x81w0", 5) == 0);
        }
        sp_arena_free(&ar);
        sp_model *back = sp_model_load_gguf_buf(eng, f, size, &err); /* takes f */
        CHECK_MSG(back != NULL, "%s: %s", what, err.msg);
        if (back) {
            const sp_config *b = &back->cfg;
            CHECK(b->dim == c.dim && b->n_layers == c.n_layers && b->n_heads == c.n_heads && b->n_kv_heads == c.n_kv_heads &&
                  b->head_dim == m->cfg.head_dim && b->hidden_dim == c.hidden_dim && b->vocab_size == c.vocab_size && b->ctx_len == c.ctx_len &&
                  b->tied == c.tied && b->arch == c.arch && b->sliding_window == c.sliding_window);
            CHECK(strcmp(back->file_type, m->file_type) == 0);
            CHECK(back->tok.vocab_size == c.vocab_size);
            same_logits(m, back, what);
            /* a model with a tokenizer is not written: its vocabulary would be lost */
            uint8_t *h = NULL;
            size_t hs;
            sp_gguf_piece pieces[256];
            int32_t n = 256;
            CHECK(sp_model_gguf(back, &h, &hs, pieces, &n, &err) == SP_ERR_UNSUPPORTED && h == NULL);
            sp_model_free(back);
        }
    }
    sp_model_free(m);
}

int main(void) {
    sp_engine *eng = sp_engine_create(1, NULL);
    const sp_config llama = {.dim = 256, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .hidden_dim = 512, .vocab_size = 320, .ctx_len = 64,
                             .norm_eps = 1e-5f, .rope_theta = 10000.0f, .rope_style = SP_ROPE_ADJACENT, .tied = 1, .arch = SP_ARCH_LLAMA};
    sp_config untied = llama;
    untied.tied = 0;
    sp_config qwen2 = llama;
    qwen2.arch = SP_ARCH_QWEN2, qwen2.rope_style = SP_ROPE_HALF, qwen2.rope_theta = 1e6f, qwen2.norm_eps = 1e-6f;
    sp_config qwen3 = qwen2;
    qwen3.arch = SP_ARCH_QWEN3, qwen3.head_dim = 128; /* q_dim 512 > dim */
    sp_config gemma3 = qwen2;
    gemma3.arch = SP_ARCH_GEMMA3, gemma3.n_layers = 6, gemma3.n_kv_heads = 1, gemma3.head_dim = 64, gemma3.sliding_window = 4,
    gemma3.rope_local_theta = 10000.0f, gemma3.embd_scale = 16.0f /* sqrt(256) */, gemma3.attn_scale = 0.125f /* 1/sqrt(64) */;
    sp_config gpt2 = llama;
    gpt2.arch = SP_ARCH_GPT2, gpt2.n_kv_heads = 4, gpt2.rope_style = SP_ROPE_HALF;
    const struct { const sp_config *c; const char *name; } archs[] = {
        {&llama, "llama"}, {&untied, "llama untied"}, {&qwen2, "qwen2"}, {&qwen3, "qwen3"}, {&gemma3, "gemma3"}, {&gpt2, "gpt2"}};
    const uint32_t types[] = {SP_DTYPE_F32, SP_DTYPE_F16, SP_DTYPE_Q8_0, SP_DTYPE_Q4_0, SP_DTYPE_Q5_0, SP_DTYPE_Q5_1, SP_DTYPE_Q4_K, SP_DTYPE_Q6_K};
    for (size_t a = 0; a < sizeof(archs) / sizeof(archs[0]); a++)
        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
            char what[64];
            snprintf(what, sizeof(what), "%s %s", archs[a].name, sp_dtype_name(types[t]));
            round_trip(eng, *archs[a].c, types[t], what);
        }
    sp_engine_free(eng);
    CHECK_DONE();
}
