/* test_abi.c - the C ABI's conventions (softprompt.h): err may be NULL in every fallible call
 * (failures are still reported by the return value), and failures are NULL or -1, never another
 * negative number. Bad inputs only: no model file needed. */
#include <stdlib.h>
#include <string.h>
#include "api/softprompt.h"
#include "check.h"

static uint8_t *garbage(size_t n) {
    uint8_t *b = (uint8_t *)malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 37 + 11);
    return b;
}

int main(void) {
    sp_engine *eng = sp_engine_create(1, NULL);
    CHECK(eng != NULL);
    CHECK(sp_engine_create(0, NULL) == NULL);
    /* loaders: the buffer is taken over, also on failure */
    CHECK(sp_model_load_gguf(eng, garbage(256), 256, NULL) == NULL);
    CHECK(sp_model_load_hf(eng, "{}", 2, garbage(256), 256, NULL, 0, NULL) == NULL);
    CHECK(sp_model_load_hf(eng, "{\"model_type\":\"llama\"}", 22, garbage(256), 256, "{}", 2, NULL) == NULL);
    /* the benchmark and the options objects */
    CHECK(sp_bench_json(eng, NULL, "{\"model\":\"no-such-preset\"}", NULL) == NULL);
    CHECK(sp_bench_json(eng, NULL, "{\"prompt_tokens\":0}", NULL) == NULL);
    CHECK(sp_bench_json(eng, NULL, "not json", NULL) == NULL);
    CHECK(sp_bench_json(NULL, NULL, NULL, NULL) == NULL);
    /* data preview without a model */
    CHECK(sp_data_preview_json(NULL, "{\"text\": 1}\n", 12, "{\"format\":\"yaml\"}", NULL) == NULL);
    char *p = sp_data_preview_json(NULL, "{\"text\": 1}\n", 12, "{\"format\":\"jsonl\"}", NULL);
    CHECK(p != NULL && strstr(p, "\"count\":0") != NULL && strstr(p, "\"line\":1,\"field\":\"text\"") != NULL);
    sp_free(p);
    p = sp_data_preview_json(NULL, "{\"text\": \"a\"}\n", 14, "{\"format\":\"jsonl\",\"limit\":2}", NULL);
    CHECK(p != NULL && strstr(p, "\"count\":1") != NULL);
    sp_free(p);
    CHECK(sp_data_conversations_json("{\"messages\": 1}", 16, NULL, NULL) == NULL);
    /* calls on missing objects: -1 or NULL, nothing else */
    CHECK(sp_tokenize(NULL, "a", 1, 1, NULL, 0, NULL) == -1);
    CHECK(sp_detokenize(NULL, NULL, 0, NULL, 0, NULL) == -1);
    CHECK(sp_gen_create(NULL, NULL, NULL, 0, NULL, NULL) == NULL);
    CHECK(sp_gen_next(NULL, NULL) == -1);
    CHECK(sp_gen_token(NULL) == -1);
    CHECK(sp_hidden_states(NULL, NULL, NULL, 0, NULL, 0, NULL) == -1);
    CHECK(sp_tuner_create(NULL, NULL, NULL, 0, NULL, NULL) == NULL);
    CHECK(sp_tuner_step(NULL, NULL) == -1);
    CHECK(sp_tuner_resume(NULL, NULL, 0, NULL) == -1);
    CHECK(sp_eval_json(NULL, NULL, NULL, 0, NULL, NULL) == NULL);
    CHECK(sp_adapter_load(NULL, NULL, 0, NULL, 0, NULL) == NULL);
    /* an error object reports the code of the failure */
    sp_error *err = sp_error_new();
    CHECK(sp_bench_json(eng, NULL, "{\"model\":\"no-such-preset\"}", err) == NULL);
    CHECK(sp_error_code(err) == SP_ERR_INVALID_ARG && strstr(sp_error_message(err), "stories15M") != NULL);
    CHECK(sp_gen_next(NULL, err) == -1 && sp_error_code(err) == SP_ERR_INVALID_ARG);
    sp_error_delete(err);
    sp_engine_free(eng);
    CHECK_DONE();
}
