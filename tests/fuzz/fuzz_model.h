/* fuzz_model.h - the body of the model-loader fuzz harness (tests/fuzz/fuzz_model.c), shared with
 * the C regression test (tests/c/test_fuzz_regressions.c replays tests/fuzz/regressions/model/).
 *
 * It goes through the C ABI exactly as web/engine.js does: the bytes are copied into a fresh
 * malloc'd buffer of their exact size and handed to sp_model_load_gguf / sp_model_load_hf, which
 * take ownership (they free it, also on failure: ASan/LSan see a double free or a leak otherwise).
 *   - An input starting with "GGUF" is a GGUF file.
 *   - Anything else is a Hugging Face folder: config.json, NUL, tokenizer.json, NUL, then the
 *     bytes of model.safetensors (missing parts are empty).
 * Properties checked (FUZZ_FAIL aborts, a crash for libFuzzer, a failed test otherwise):
 *   - a failure has a known sp_status code and a non-empty message;
 *   - a loaded model's info JSON parses, and its numbers agree with each other (vocab, dims);
 *   - the loaded model is used: tokenize/detokenize a fixed text (ids in range), a greedy
 *     generation of up to 3 tokens (the context must hold it, else SP_ERR_CONTEXT), the logits
 *     finite or a typed error, and one prompt-tuning step on two examples (a typed error or a
 *     finite loss) - so shapes the loader accepts are shapes the kernels can run. */
#ifndef SP_FUZZ_MODEL_H
#define SP_FUZZ_MODEL_H

#include "api/softprompt.h"
#include "readers/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(...) do { fprintf(stderr, "fuzz property failed: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#endif

/* how many inputs loaded / how many went as far as a tuning step (for tests/fuzz stats) */
static unsigned long fuzz_model_loaded, fuzz_model_tuned;

static sp_engine *fuzz_model_engine(void) {
    static sp_engine *eng; /* one per process, as in the worker; reachable, so not a leak */
    if (!eng) {
        sp_error e = {0};
        eng = sp_engine_create(1, &e);
        if (!eng) FUZZ_FAIL("model: cannot create the engine: %s", e.msg);
    }
    return eng;
}

static void fuzz_model_check_error(const sp_error *e, const char *what) {
    if (e->code <= SP_OK || e->code > SP_ERR_STATE) FUZZ_FAIL("model: %s failed with code %d (%s)", what, e->code, e->msg);
    if (!e->msg[0]) FUZZ_FAIL("model: %s failed (%s) without a message", what, sp_error_code_name(e->code));
}

static int64_t fuzz_model_info_int(const sp_json *info, const char *key) {
    const sp_json *v = sp_json_get(info, key);
    if (!v || v->type != SP_JSON_NUMBER) FUZZ_FAIL("model: info has no number '%s'", key);
    return (int64_t)v->number;
}

static void fuzz_model_use(sp_model *m) {
    sp_error e = {0};
    /* info */
    const char *info_text = sp_model_info_json(m);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_json *info = sp_json_parse(&a, info_text, strlen(info_text), &e);
    if (!info || info->type != SP_JSON_OBJECT) FUZZ_FAIL("model: info is not a JSON object: %s", info_text);
    const int64_t vocab = fuzz_model_info_int(info, "vocab_size"), dim = fuzz_model_info_int(info, "dim");
    const int64_t ctx = fuzz_model_info_int(info, "context_length"), tok_vocab = fuzz_model_info_int(info, "tokenizer_vocab_size");
    const int64_t bos = fuzz_model_info_int(info, "bos_id");
    if (vocab <= 0 || dim <= 0 || ctx <= 0 || tok_vocab <= 0 || tok_vocab > vocab) FUZZ_FAIL("model: inconsistent info %s", info_text);
    if (bos >= vocab) FUZZ_FAIL("model: bos id %lld outside the vocabulary of %lld", (long long)bos, (long long)vocab);
    sp_arena_free(&a);

    /* tokenizer round trip on a fixed text */
    static const char text[] = "Once upon a time, \xC3\xA9t\xC3\xA9 <s> 42!";
    int32_t ids[256];
    int32_t n = sp_tokenize(m, text, (int32_t)(sizeof(text) - 1), 1, ids, 256, &e);
    if (n < 0) { fuzz_model_check_error(&e, "tokenize"); return; }
    if (n > 256) n = 256;
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab) FUZZ_FAIL("model: token id %d outside the vocabulary of %lld", ids[i], (long long)vocab);
    char out[1024];
    int32_t need = sp_detokenize(m, ids, n, out, (int32_t)sizeof(out), &e);
    if (need < 0) fuzz_model_check_error(&e, "detokenize");

    /* greedy generation: up to 3 new tokens after a prompt of at most 4 */
    int32_t np = n < 4 ? n : 4;
    if (np > 0) {
        sp_gen *g = sp_gen_create(m, NULL, ids, np, "{\"max_tokens\":3,\"temperature\":0,\"stop_at_eos\":false}", &e);
        if (!g) {
            fuzz_model_check_error(&e, "gen_create");
            if (np + 3 <= ctx && e.code != SP_ERR_NOMEM && e.code != SP_ERR_TOO_LARGE)
                FUZZ_FAIL("model: generation refused (%s) though the context of %lld holds it", e.msg, (long long)ctx);
        } else {
            for (int k = 0; k < 4; k++) {
                const int32_t r = sp_gen_next(g, &e);
                if (r < 0) { fuzz_model_check_error(&e, "gen_next"); break; }
                if (r == 0) break;
                const int32_t t = sp_gen_token(g);
                if (t < 0 || t >= vocab) FUZZ_FAIL("model: generated id %d outside the vocabulary of %lld", t, (long long)vocab);
                char piece[64];
                (void)sp_token_piece(m, -1, t, piece, (int32_t)sizeof(piece));
            }
            sp_gen_free(g);
        }
    }

    /* one prompt-tuning step on two tiny examples */
    static const char data[] = "{\"text\":\"Once upon a time\"}\n{\"input\":\"a\",\"output\":\"b\"}\n";
    sp_tuner *t = sp_tuner_create(m, "{\"virtual_tokens\":2,\"steps\":1,\"batch_size\":2,\"max_length\":8,\"eval_split\":0,\"memory_mb\":64}",
                                  data, sizeof(data) - 1, NULL, &e);
    if (!t) { fuzz_model_check_error(&e, "tuner_create"); return; }
    int32_t r = sp_tuner_step(t, &e);
    if (r < 0) fuzz_model_check_error(&e, "tuner_step");
    else fuzz_model_tuned++;
    sp_tuner_free(t);
}

static void fuzz_model_one(const uint8_t *data, size_t size) {
    sp_engine *eng = fuzz_model_engine();
    sp_error e = {0};
    sp_model *m;
    if (size >= 4 && memcmp(data, "GGUF", 4) == 0) {
        uint8_t *buf = (uint8_t *)sp_malloc(size);
        if (!buf) return;
        memcpy(buf, data, size);
        m = sp_model_load_gguf(eng, buf, size, &e); /* owns buf from here */
    } else {
        const uint8_t *z1 = (const uint8_t *)memchr(data, 0, size);
        size_t cfg_len = z1 ? (size_t)(z1 - data) : size;
        const uint8_t *tok = z1 ? z1 + 1 : data + size;
        size_t rest = (size_t)(data + size - tok);
        const uint8_t *z2 = (const uint8_t *)memchr(tok, 0, rest);
        size_t tok_len = z2 ? (size_t)(z2 - tok) : rest;
        const uint8_t *st = z2 ? z2 + 1 : data + size;
        size_t st_len = (size_t)(data + size - st);
        /* exact-size copies, as engine.js passes them (NUL-terminated text, like its strings) */
        char *cfg = (char *)malloc(cfg_len + 1), *tj = (char *)malloc(tok_len + 1);
        uint8_t *sb = (uint8_t *)sp_malloc(st_len);
        if (!cfg || !tj || !sb) { free(cfg); free(tj); sp_free(sb); return; }
        memcpy(cfg, data, cfg_len); cfg[cfg_len] = 0;
        memcpy(tj, tok, tok_len); tj[tok_len] = 0;
        memcpy(sb, st, st_len);
        m = sp_model_load_hf(eng, cfg, cfg_len, sb, st_len, tj, tok_len, &e); /* owns sb from here */
        free(cfg);
        free(tj);
    }
    if (!m) {
        fuzz_model_check_error(&e, "load");
        return;
    }
    fuzz_model_loaded++;
    fuzz_model_use(m);
    sp_model_free(m);
}

#endif
