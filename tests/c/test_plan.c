/* test_plan.c - the memory plans (model/plan.h, api/plan.c): a model is sized from its header
 * alone, before the rest is read: the real GGUF and HF files give the loaded model's config and
 * their file sizes; a header read in pieces asks for more until it is whole; crafted headers that
 * claim huge tensors or a huge K/V cache are refused with SP_ERR_TOO_LARGE naming the sizes; the
 * benchmark presets that cannot fit (llama3.2-1b in F32) are refused, the others fit. */
#include "api/softprompt.h"
#include "model/model.h"
#include "model/plan.h"
#include "model/presets.h"
#include "json_write.h"
#include "check.h"
#include "shared.h"

#include <stdlib.h>
#include <string.h>

static void w32(sp_buf *b, uint32_t v) { uint8_t p[4]; for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); sp_buf_append(b, p, 4); }
static void w64(sp_buf *b, uint64_t v) { uint8_t p[8]; for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); sp_buf_append(b, p, 8); }
static void wstr(sp_buf *b, const char *s) { w64(b, strlen(s)); sp_buf_append(b, s, strlen(s)); }
static void wkv_u32(sp_buf *b, const char *k, uint32_t v) { wstr(b, k); w32(b, 4 /* UINT32 */); w32(b, v); }

/* A llama GGUF header (no data) whose only tensor is token_embd.weight [vocab, dim] in F16: the
 * plan needs no more. Returns the file size the header claims (header + the tensor's data). */
static uint64_t crafted_gguf(sp_buf *b, uint32_t dim, uint32_t layers, uint32_t heads, uint32_t ctx, uint64_t vocab) {
    w32(b, 0x46554747);
    w32(b, 3);
    w64(b, 1); /* tensors */
    w64(b, 7); /* KV pairs */
    wstr(b, "general.architecture"); w32(b, 8); wstr(b, "llama");
    wkv_u32(b, "llama.embedding_length", dim);
    wkv_u32(b, "llama.block_count", layers);
    wkv_u32(b, "llama.feed_forward_length", 4 * dim);
    wkv_u32(b, "llama.attention.head_count", heads);
    wkv_u32(b, "llama.attention.head_count_kv", heads);
    wkv_u32(b, "llama.context_length", ctx);
    wstr(b, "token_embd.weight");
    w32(b, 2);
    w64(b, dim);
    w64(b, vocab);
    w32(b, 1 /* F16 */);
    w64(b, 0);
    while (b->len % 32) sp_buf_append(b, "", 1);
    return b->len + 2ull * dim * vocab;
}

static void test_real_gguf(void) {
    size_t n;
    uint8_t *file = shared_read("models/stories260K/stories260K.gguf", &n);
    CHECK(file != NULL);
    if (!file) return;
    sp_engine *eng = sp_engine_create(1, NULL);
    uint8_t *copy = (uint8_t *)malloc(n);
    memcpy(copy, file, n);
    sp_error err;
    sp_model *m = sp_model_load_gguf(eng, copy, n, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    /* from a prefix that grows as the plan asks: 64 bytes first */
    size_t avail = 64;
    sp_plan p;
    int rounds = 0;
    for (;;) {
        CHECK_MSG(sp_plan_gguf(&p, file, avail, n, &err) == SP_OK, "%s", err.msg);
        if (!p.header_need || ++rounds > 20) break;
        CHECK(p.header_need > avail && p.header_need <= n);
        avail = (size_t)p.header_need;
    }
    CHECK(rounds >= 1 && p.header_need == 0);
    if (m) {
        CHECK(p.cfg.dim == m->cfg.dim && p.cfg.n_layers == m->cfg.n_layers && p.cfg.kv_dim == m->cfg.kv_dim && p.cfg.ctx_len == m->cfg.ctx_len);
        CHECK(p.file_bytes == n && p.extra_bytes == 0 && p.weight_bytes == n);
        const int32_t pos = m->cfg.ctx_len < SP_PLAN_CTX_CAP ? m->cfg.ctx_len : SP_PLAN_CTX_CAP;
        CHECK(p.kv_positions == pos);
        CHECK(p.kv_bytes == 2ull * m->cfg.n_layers * pos * m->cfg.kv_dim * 4);
    }
    /* the ABI: a JSON plan that fits */
    char *j = sp_model_plan_gguf(file, n, (double)n, "stories260K.gguf", &err);
    CHECK_MSG(j && strstr(j, "\"complete\":true") && strstr(j, "\"arch\":\"llama\""), "%s", j ? j : err.msg);
    free(j);
    j = sp_model_plan_gguf(file, 100, (double)n, "stories260K.gguf", &err);
    CHECK_MSG(j && strstr(j, "\"complete\":false,\"header_bytes\":"), "%s", j ? j : err.msg);
    free(j);
    /* a header that is not GGUF is the loader's error, at once */
    j = sp_model_plan_gguf((const uint8_t *)"NOTAGGUFFILE", 12, 1e6, "x.gguf", &err);
    CHECK(j == NULL && err.code == SP_ERR_FORMAT);
    sp_model_free(m);
    sp_engine_free(eng);
    free(file);
}

static void test_crafted_gguf(void) {
    sp_error err;
    /* weights past 4 GB: a 300000 x 8192 F16 embedding (4.9 GB) in a header of a few hundred bytes */
    sp_buf b = {0};
    uint64_t size = crafted_gguf(&b, 8192, 2, 64, 2048, 300000);
    char *j = sp_model_plan_gguf((const uint8_t *)b.data, b.len, (double)size, "huge.gguf", &err);
    CHECK(j == NULL && err.code == SP_ERR_TOO_LARGE);
    CHECK_MSG(strstr(err.msg, "huge.gguf needs ") && strstr(err.msg, " bytes of weights") && strstr(err.msg, "K/V cache (2048 positions)") &&
              strstr(err.msg, "room for"), "%s", err.msg);
    char want[64];
    snprintf(want, sizeof(want), "%llu bytes of weights", (unsigned long long)size);
    CHECK_MSG(strstr(err.msg, want), "%s (wants '%s')", err.msg, want);
    sp_buf_free(&b);
    /* weights that fit (64 MB) but a K/V cache that does not: 64 layers x 4096 positions x 8192 x 2 x 4 bytes = 17 GB */
    memset(&b, 0, sizeof(b));
    size = crafted_gguf(&b, 8192, 64, 64, 1 << 20, 4096);
    j = sp_model_plan_gguf((const uint8_t *)b.data, b.len, (double)size, "deep.gguf", &err);
    CHECK(j == NULL && err.code == SP_ERR_TOO_LARGE);
    CHECK_MSG(strstr(err.msg, "+ 17179869184 bytes of K/V cache (4096 positions)"), "%s", err.msg);
    /* the same with a small context: the cache is budgeted for the model's own context */
    sp_buf_free(&b);
    memset(&b, 0, sizeof(b));
    size = crafted_gguf(&b, 8192, 64, 64, 256, 4096);
    j = sp_model_plan_gguf((const uint8_t *)b.data, b.len, (double)size, "short.gguf", &err);
    CHECK_MSG(j && strstr(j, "\"kv_positions\":256,\"context_length\":256"), "%s", j ? j : err.msg);
    free(j);
    /* a header claiming a tensor past the end of the file it says it is: SP_ERR_FORMAT */
    j = sp_model_plan_gguf((const uint8_t *)b.data, b.len, (double)(size - 2), "cut.gguf", &err);
    CHECK_MSG(j == NULL && err.code == SP_ERR_FORMAT && strstr(err.msg, "past the end"), "%s", err.msg);
    sp_buf_free(&b);
}

/* A safetensors header with one tensor of `dtype` and shape [rows, cols] (no data). */
static void crafted_st(sp_buf *b, const char *name, const char *dtype, uint64_t rows, uint64_t cols, uint64_t esz) {
    char json[512];
    int n = snprintf(json, sizeof(json), "{\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu,%llu],\"data_offsets\":[0,%llu]}}", name, dtype,
                     (unsigned long long)rows, (unsigned long long)cols, (unsigned long long)(rows * cols * esz));
    w64(b, (uint64_t)n);
    sp_buf_append(b, json, (size_t)n);
}

static void test_hf(void) {
    sp_error err;
    size_t cn = 0, sn = 0;
    uint8_t *cfg = shared_read("models/TinyStories-656K/config.json", &cn);
    uint8_t *st = shared_read("models/TinyStories-656K/model.safetensors", &sn);
    CHECK(cfg && st);
    if (cfg && st) {
        const uint8_t *heads[1] = {st};
        size_t avail[1] = {16};
        uint64_t sizes[1] = {sn};
        sp_plan p;
        CHECK_MSG(sp_plan_hf(&p, (const char *)cfg, cn, heads, avail, sizes, 1, 1000, &err) == SP_OK, "%s", err.msg);
        CHECK(p.header_need > 16 && p.header_need < sn);
        avail[0] = (size_t)p.header_need;
        CHECK_MSG(sp_plan_hf(&p, (const char *)cfg, cn, heads, avail, sizes, 1, 1000, &err) == SP_OK, "%s", err.msg);
        CHECK(p.header_need == 0 && p.file_bytes == sn + 1000 && p.kv_bytes > 0);
        CHECK(strcmp(p.arch, "llama") == 0 && p.cfg.dim > 0);
        /* two shards claiming 3 GB of BF16 each: 6 GB of files, plus 12 GB of F32 copies */
        sp_buf s1 = {0}, s2 = {0};
        crafted_st(&s1, "model.embed_tokens.weight", "BF16", 32768, 49152, 2);
        crafted_st(&s2, "model.layers.0.mlp.up_proj.weight", "BF16", 32768, 49152, 2);
        const uint8_t *hs[2] = {(const uint8_t *)s1.data, (const uint8_t *)s2.data};
        size_t av[2] = {s1.len, s2.len};
        double fs[2] = {(double)(s1.len + 3221225472ull), (double)(s2.len + 3221225472ull)};
        char *j = sp_model_plan_hf((const char *)cfg, cn, hs, av, fs, 2, 1000, "shards", &err);
        CHECK(j == NULL && err.code == SP_ERR_TOO_LARGE);
        CHECK_MSG(strstr(err.msg, "shards needs ") && strstr(err.msg, "(12884901888 of them converted copies)"), "%s", err.msg);
        /* a shard whose header is cut short: asked for the whole header */
        av[1] = 20;
        j = sp_model_plan_hf((const char *)cfg, cn, hs, av, fs, 2, 1000, "shards", &err);
        CHECK_MSG(j && strstr(j, "\"complete\":false"), "%s", j ? j : err.msg);
        free(j);
        sp_buf_free(&s1);
        sp_buf_free(&s2);
    }
    free(cfg);
    free(st);
}

static void test_presets(void) {
    sp_error err;
    const double room = 4294967296.0 - 64.0 * 1048576.0; /* a 4 GB heap with 64 MB in use */
    for (int32_t i = 0; sp_preset_at(i); i++) {
        const sp_preset *pr = sp_preset_at(i);
        const uint32_t types[3] = {SP_DTYPE_F32, SP_DTYPE_Q8_0, SP_DTYPE_Q4_K};
        for (int k = 0; k < 3; k++) {
            sp_plan p;
            CHECK_MSG(sp_plan_random(&p, &pr->cfg, types[k], &err) == SP_OK, "%s %s: %s", pr->name, sp_dtype_name(types[k]), err.msg);
            const int refused = sp_plan_check(&p, (uint64_t)room, pr->name, &err) != SP_OK;
            const int big = strcmp(pr->name, "llama3.2-1b") == 0 && types[k] == SP_DTYPE_F32;
            CHECK_MSG(refused == big, "%s %s: weights %llu + KV %llu", pr->name, sp_dtype_name(types[k]), (unsigned long long)p.weight_bytes,
                      (unsigned long long)p.kv_bytes);
            if (big) CHECK_MSG(err.code == SP_ERR_TOO_LARGE && strstr(err.msg, "llama3.2-1b needs "), "%s", err.msg);
        }
    }
    /* K-quant rows not a multiple of 256 fall back as llama.cpp's do; F16 where 32 does not divide them */
    CHECK(sp_plan_random_type(SP_DTYPE_Q4_K, 896) == SP_DTYPE_Q5_0 && sp_plan_random_type(SP_DTYPE_Q5_K, 576) == SP_DTYPE_Q5_1 &&
          sp_plan_random_type(SP_DTYPE_Q6_K, 640) == SP_DTYPE_Q8_0 && sp_plan_random_type(SP_DTYPE_Q4_K, 80) == SP_DTYPE_F16 &&
          sp_plan_random_type(SP_DTYPE_Q4_K, 512) == SP_DTYPE_Q4_K && sp_plan_random_type(SP_DTYPE_Q8_0, 80) == SP_DTYPE_UNKNOWN);
    /* the sizes match a model made from the preset */
    sp_engine *eng = sp_engine_create(1, NULL);
    const sp_preset *pr = sp_preset_find("qwen2.5-0.5b");
    CHECK(pr != NULL);
    if (pr && eng) {
        sp_config c = pr->cfg;
        c.n_layers = 2; /* the same shapes, fewer layers: quick */
        sp_plan p;
        CHECK(sp_plan_random(&p, &c, SP_DTYPE_Q4_K, &err) == SP_OK);
        sp_model *m = sp_model_random(eng, &c, SP_DTYPE_Q4_K, 1, "q", &err);
        CHECK_MSG(m != NULL, "%s", err.msg);
        if (m) CHECK_MSG(m->weight_bytes == p.weight_bytes, "model %llu, plan %llu", (unsigned long long)m->weight_bytes, (unsigned long long)p.weight_bytes);
        /* llama.cpp's fallback for its 896-wide rows: only ffn_down (4864 = 19 x 256 columns) stays
         * Q4_K, every other matrix is Q5_0, and weight_types says so, the larger share first */
        if (m) {
            const uint64_t down = (uint64_t)c.n_layers * (uint64_t)c.dim * sp_dtype_row_bytes(SP_DTYPE_Q4_K, c.hidden_dim);
            CHECK(m->layers[0].w_down.type == SP_DTYPE_Q4_K && m->layers[0].wq.type == SP_DTYPE_Q5_0 && m->tok_embd.type == SP_DTYPE_Q5_0);
            CHECK(m->type_bytes[SP_DTYPE_Q4_K] == down && m->type_bytes[SP_DTYPE_Q5_0] == m->weight_bytes - down);
            CHECK_MSG(strncmp(m->weight_types, "Q5_0 ", 5) == 0 && strstr(m->weight_types, "%, Q4_K ") != NULL, "%s", m->weight_types);
            printf("qwen2.5-0.5b Q4_K (2 layers): %s\n", m->weight_types);
        }
        sp_model_free(m);
    }
    sp_engine_free(eng);
}

int main(void) {
    test_real_gguf();
    test_crafted_gguf();
    test_hf();
    test_presets();
    CHECK_DONE();
}
