/* test_corrupt_hf.c - the Hugging Face loader (sp_model_load_hf, through the C ABI, which takes
 * ownership of the safetensors buffer) on corrupted copies of the real TinyStories-656K folder,
 * under ASan/UBSan natively and as wasm:
 *   - model.safetensors truncated inside the length field, every 64 bytes of the header, at its
 *     end, and at the start, middle and end of every tensor's data: SP_ERR_FORMAT;
 *   - a NaN at the first and the last value of every tensor: SP_ERR_NUMERIC naming it;
 *   - 400 seeded random byte mutations of the header and 200 of config.json / tokenizer.json:
 *     a typed error with a message, or a model that then tokenizes and generates;
 *   - afterwards the same engine loads the untouched folder and reproduces the recorded greedy ids.
 * Every buffer is an exact-size malloc copy, so ASan sees any read past its end.
 * (The JS suite tests/corrupt.test.js covers the named corruptions through the public API.) */
#include "api/softprompt.h"
#include "readers/json.h"
#include "readers/safetensors.h"
#include "check.h"
#include "files.h"
#include "next_token.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static sp_engine *eng;
static const char *cfg_txt, *tok_txt;
static size_t cfg_n, tok_n;
static int n_cases, n_loaded;

/* Load (config, st[0..n), tok): returns the error code (SP_OK when it loaded; the model is then used and freed). */
static int load(const char *cfg, size_t cn, const uint8_t *st, size_t n, const char *tok, size_t tn, char *msg, size_t msg_cap) {
    uint8_t *copy = (uint8_t *)sp_malloc(n);
    memcpy(copy, st, n);
    char *c = (char *)malloc(cn + 1), *t = (char *)malloc(tn + 1);
    memcpy(c, cfg, cn); c[cn] = 0;
    memcpy(t, tok, tn); t[tn] = 0;
    sp_error *e = sp_error_new();
    sp_model *m = sp_model_load_hf(eng, c, cn, copy, n, t, tn, e); /* owns copy */
    int code = sp_error_code(e);
    if (msg) snprintf(msg, msg_cap, "%s", sp_error_message(e));
    n_cases++;
    if (m) {
        n_loaded++;
        code = SP_OK;
        int32_t ids[64];
        int32_t k = sp_tokenize(m, "Once upon a time", 16, 1, ids, 64, e);
        if (k > 0) {
            sp_gen *g = sp_gen_create(m, NULL, ids, k < 64 ? k : 64, "{\"max_tokens\":2,\"temperature\":0}", e);
            if (g) {
                while (next_token(g, e) >= 0) {}
                sp_gen_free(g);
            }
        }
        sp_model_free(m);
    } else {
        CHECK_MSG(code > SP_OK && code <= SP_ERR_STATE, "bad code %d", code);
        CHECK_MSG(sp_error_message(e)[0] != 0, "an error without a message (code %d)", code);
    }
    sp_error_delete(e);
    free(c);
    free(t);
    return code;
}

static int load_st(const uint8_t *st, size_t n, char *msg, size_t cap) { return load(cfg_txt, cfg_n, st, n, tok_txt, tok_n, msg, cap); }

static uint64_t rng_s = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_s ^= rng_s << 13; rng_s ^= rng_s >> 7; rng_s ^= rng_s << 17;
    return (uint32_t)(rng_s >> 11);
}

int main(void) {
    size_t st_n = 0;
    uint8_t *st = (uint8_t *)test_read_shared("models/TinyStories-656K/model.safetensors", &st_n);
    cfg_txt = (const char *)test_read_shared("models/TinyStories-656K/config.json", &cfg_n);
    tok_txt = (const char *)test_read_shared("models/TinyStories-656K/tokenizer.json", &tok_n);
    size_t gold_n = 0;
    char *gold = (char *)test_read_shared("models/TinyStories-656K/expected_greedy.json", &gold_n);
    if (!st || !cfg_txt || !tok_txt || !gold) CHECK_DONE();
    sp_error *e = sp_error_new();
    eng = sp_engine_create(1, e);
    CHECK(eng != NULL);

    /* where the tensors are (the library's reader, used only for positions) */
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_safetensors sts;
    CHECK(sp_safetensors_parse(&sts, st, st_n, &a, e) == SP_OK);
    uint64_t hl;
    memcpy(&hl, st, 8);
    const size_t data0 = 8 + (size_t)hl;
    char msg[SP_ERROR_MSG_MAX];

    /* 1. truncations */
    int n_trunc = 0;
    for (size_t cut = 0; cut < data0; cut = cut < 8 ? cut + 1 : cut + 64) {
        CHECK_MSG(load_st(st, cut, msg, sizeof(msg)) == SP_ERR_FORMAT, "cut at %zu: %s", cut, msg);
        n_trunc++;
    }
    for (uint32_t i = 0; i < sts.n; i++) {
        const sp_st_tensor *t = &sts.tensors[i];
        size_t b = (size_t)((const uint8_t *)t->data - st), nb = (size_t)t->nbytes;
        size_t cuts[4] = {b, b + 1, b + nb / 2, b + nb - 1};
        for (int k = 0; k < 4; k++) {
            if (cuts[k] >= st_n) continue;
            CHECK_MSG(load_st(st, cuts[k], msg, sizeof(msg)) == SP_ERR_FORMAT, "cut at %zu (tensor %s): %s", cuts[k], t->name, msg);
            n_trunc++;
        }
    }
    CHECK(load_st(st, data0 - 1, msg, sizeof(msg)) == SP_ERR_FORMAT);
    CHECK(load_st(st, st_n - 1, msg, sizeof(msg)) == SP_ERR_FORMAT);

    /* 2. a NaN at the first and the last value of every tensor */
    uint8_t *bad = (uint8_t *)malloc(st_n);
    int n_nan = 0;
    for (uint32_t i = 0; i < sts.n; i++) {
        const sp_st_tensor *t = &sts.tensors[i];
        size_t b = (size_t)((const uint8_t *)t->data - st);
        size_t at[2] = {b, b + (size_t)t->nbytes - 4};
        for (int k = 0; k < 2; k++) {
            memcpy(bad, st, st_n);
            float nan = NAN;
            memcpy(bad + at[k], &nan, 4);
            int code = load_st(bad, st_n, msg, sizeof(msg));
            CHECK_MSG(code == SP_ERR_NUMERIC, "NaN in %s: code %d: %s", t->name, code, msg);
            CHECK_MSG(strstr(msg, "non-finite") != NULL, "NaN in %s: %s", t->name, msg);
            n_nan++;
        }
    }

    /* 3. random byte mutations of the header */
    int n_mut = 0;
    for (int r = 0; r < 400; r++) {
        memcpy(bad, st, st_n);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++) {
            size_t pos = rnd() % data0;
            static const uint8_t pick[] = {'0', '9', '"', ',', ']', '}', '[', '{', ' ', 0, 0xff, '-', 'e', '.'};
            bad[pos] = (rnd() & 1) ? pick[rnd() % sizeof(pick)] : (uint8_t)rnd();
        }
        (void)load_st(bad, st_n, msg, sizeof(msg));
        n_mut++;
    }
    /* ... and of config.json and tokenizer.json */
    char *cm = (char *)malloc(cfg_n + 1), *tm = (char *)malloc(tok_n + 1);
    for (int r = 0; r < 200; r++) {
        memcpy(cm, cfg_txt, cfg_n);
        memcpy(tm, tok_txt, tok_n);
        int which = r & 1;
        char *p = which ? tm : cm;
        size_t n = which ? tok_n : cfg_n;
        for (int f = 0; f < 1 + (int)(rnd() % 3); f++) {
            static const char pick[] = "0123456789\",:[]{} -.e";
            p[rnd() % n] = pick[rnd() % (sizeof(pick) - 1)];
        }
        (void)load(cm, cfg_n, st, st_n, tm, tok_n, msg, sizeof(msg));
        n_mut++;
    }
    free(cm);
    free(tm);
    free(bad);

    /* 4. the engine is still good: the untouched folder gives the recorded greedy ids */
    uint8_t *copy = (uint8_t *)sp_malloc(st_n);
    memcpy(copy, st, st_n);
    sp_model *m = sp_model_load_hf(eng, cfg_txt, cfg_n, copy, st_n, tok_txt, tok_n, e);
    CHECK_MSG(m != NULL, "%s", sp_error_message(e));
    sp_json *gj = sp_json_parse(&a, gold, gold_n, e);
    const sp_json *g = gj ? sp_json_get(gj, "Once upon a time") : NULL;
    const sp_json *want = g ? sp_json_get(g, "f32_greedy_new_ids_64") : NULL;
    CHECK(want && want->type == SP_JSON_ARRAY && want->len >= 16);
    if (m && want) {
        int32_t ids[64];
        int32_t k = sp_tokenize(m, "Once upon a time", 16, 1, ids, 64, e);
        CHECK(k > 0 && k < 64);
        sp_gen *gen = sp_gen_create(m, NULL, ids, k, "{\"max_tokens\":16,\"temperature\":0,\"stop_at_eos\":false}", e);
        CHECK(gen != NULL);
        for (int i = 0; gen && i < 16; i++) {
            int32_t id = next_token(gen, e);
            CHECK_MSG(id == (int32_t)want->items[i].number, "token %d: %d, recorded %d", i, id, (int)want->items[i].number);
        }
        sp_gen_free(gen);
    }
    sp_model_free(m);
    printf("corrupt HF: %d loads (%d truncations, %d NaN placements, %d mutations); %d mutated inputs still loaded\n",
           n_cases, n_trunc, n_nan, n_mut, n_loaded);
    sp_arena_free(&a);
    sp_engine_free(eng);
    sp_error_delete(e);
    free(st);
    free((void *)cfg_txt);
    free((void *)tok_txt);
    free(gold);
    CHECK_DONE();
}
