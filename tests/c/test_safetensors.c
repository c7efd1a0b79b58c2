/* test_safetensors.c - the safetensors reader (hand-built files, every validation error,
 * truncation), the F32 writer (exact bytes, round trip) and the real TinyStories-656K file. */
#include "readers/safetensors.h"
#include "tensor.h"
#include "check.h"
#include "files.h"

#include <stdlib.h>
#include <string.h>

/* Build a file: 8-byte header length, the header text, then data_len bytes (value = index). */
static uint8_t *make_file(const char *header, size_t data_len, size_t *size) {
    size_t hl = strlen(header);
    *size = 8 + hl + data_len;
    uint8_t *b = (uint8_t *)malloc(*size);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) b[8 + hl + i] = (uint8_t)i;
    return b;
}

static void expect_fail(const char *header, size_t data_len, sp_status want, const char *part) {
    size_t size;
    uint8_t *b = make_file(header, data_len, &size);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_safetensors st;
    sp_status s = sp_safetensors_parse(&st, b, size, &a, &e);
    CHECK_MSG(s == want, "header %s: status %d (%s), want %d", header, s, e.msg, want);
    CHECK_MSG(strstr(e.msg, part) != NULL, "header %s: msg '%s' lacks '%s'", header, e.msg, part);
    sp_arena_free(&a);
    free(b);
}

static void test_valid(void) {
    const char *h =
        "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
        "\"b\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[24,36]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[36,38]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[38,38]},"
        "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[40,48]}}   ";
    size_t size;
    uint8_t *b = make_file(h, 48, &size);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_safetensors st;
    sp_status s = sp_safetensors_parse(&st, b, size, &a, &e);
    CHECK_MSG(s == SP_OK, "%s", e.msg);
    if (s == SP_OK) {
        const uint8_t *data = b + 8 + strlen(h);
        CHECK(st.n == 5);
        CHECK(st.metadata && strcmp(sp_json_string(st.metadata, "format", ""), "pt") == 0);
        const sp_st_tensor *t = sp_safetensors_find(&st, "a");
        CHECK(t && t->dtype == SP_DTYPE_F32 && strcmp(t->dtype_name, "F32") == 0 && t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 3);
        CHECK(t && t->data == data && t->nbytes == 24);
        t = sp_safetensors_find(&st, "b");
        CHECK(t && t->dtype == SP_DTYPE_F16 && t->data == data + 24 && t->nbytes == 12);
        t = sp_safetensors_find(&st, "s");
        CHECK(t && t->dtype == SP_DTYPE_BF16 && t->n_dims == 0 && t->nbytes == 2);
        t = sp_safetensors_find(&st, "e");
        CHECK(t && t->nbytes == 0 && t->shape[0] == 0);
        t = sp_safetensors_find(&st, "i");
        CHECK(t && t->dtype == SP_DTYPE_UNKNOWN && strcmp(t->dtype_name, "I64") == 0 && t->nbytes == 8);
        CHECK(sp_safetensors_find(&st, "__metadata__") == NULL && sp_safetensors_find(&st, "zz") == NULL);
        CHECK(strcmp(st.tensors[0].name, "b") == 0); /* header order */
    }
    sp_arena_free(&a);
    /* every truncation fails cleanly (the last tensor ends the file) */
    int bad = 0;
    for (size_t n = 0; n < size; n++) {
        sp_arena_init(&a, 0);
        sp_status s2 = sp_safetensors_parse(&st, b, n, &a, &e);
        if (s2 != SP_ERR_FORMAT && bad++ < 5) fprintf(stderr, "prefix %zu: status %d (%s)\n", n, s2, e.msg);
        sp_arena_free(&a);
    }
    CHECK(bad == 0);
    free(b);
    /* empty header object, no tensors */
    b = make_file("{}", 0, &size);
    sp_arena_init(&a, 0);
    CHECK(sp_safetensors_parse(&st, b, size, &a, &e) == SP_OK && st.n == 0 && st.metadata == NULL);
    sp_arena_free(&a);
    free(b);
}

static void test_errors(void) {
    uint8_t tiny[4] = {0};
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_safetensors st;
    CHECK(sp_safetensors_parse(&st, tiny, 4, &a, &e) == SP_ERR_FORMAT && strstr(e.msg, "too short"));
    CHECK(sp_safetensors_parse(&st, NULL, 4, &a, &e) == SP_ERR_INVALID_ARG);
    /* header length past the end / absurd */
    uint8_t hb[16] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, '{', '}'};
    CHECK(sp_safetensors_parse(&st, hb, 16, &a, &e) == SP_ERR_FORMAT && strstr(e.msg, "too large"));
    uint8_t hb2[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    CHECK(sp_safetensors_parse(&st, hb2, 16, &a, &e) == SP_ERR_FORMAT && strstr(e.msg, "past the end"));
    CHECK(a.total == 0);
    sp_arena_free(&a);

    expect_fail("[1,2]", 0, SP_ERR_FORMAT, "not a JSON object");
    expect_fail("{\"a\":1", 0, SP_ERR_FORMAT, "header JSON: line 1");
    expect_fail("{\"a\":1}", 0, SP_ERR_FORMAT, "entry 'a' is not an object");
    expect_fail("{\"__metadata__\":[1]}", 0, SP_ERR_FORMAT, "__metadata__ is not an object");
    expect_fail("{\"__metadata__\":{\"format\":1}}", 0, SP_ERR_FORMAT, "is not a string");
    expect_fail("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SP_ERR_FORMAT, "no dtype");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, SP_ERR_FORMAT, "no shape");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, SP_ERR_FORMAT, "no data_offsets");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, SP_ERR_FORMAT, "no data_offsets");
    expect_fail("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SP_ERR_UNSUPPORTED, "unknown dtype 'Q4'");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, SP_ERR_FORMAT, "9 dims (max 8)");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, SP_ERR_FORMAT, "shape[0] is not a non-negative integer");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, SP_ERR_FORMAT, "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, SP_ERR_FORMAT, "shape[0]");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, SP_ERR_FORMAT, "begin <= end");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", 4, SP_ERR_FORMAT, "begin <= end");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, SP_ERR_FORMAT, "needs 8 bytes of F32 but data_offsets give 4");
    expect_fail("{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, SP_ERR_FORMAT, "needs 6 bytes");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, SP_ERR_FORMAT, "shape overflows");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1073741824,1073741824],\"data_offsets\":[0,4]}}", 4, SP_ERR_FORMAT, "needs");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, SP_ERR_FORMAT, "past the end of the data");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9007199254740988,9007199254740992]}}", 4, SP_ERR_FORMAT, "past the end");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                SP_ERR_FORMAT, "overlap");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                SP_ERR_FORMAT, "duplicate tensor 'a'");
    expect_fail("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SP_ERR_FORMAT, "NUL byte");
    /* gaps and touching ranges are fine */
    size_t size;
    uint8_t *b = make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 12, &size);
    sp_arena_init(&a, 0);
    CHECK(sp_safetensors_parse(&st, b, size, &a, &e) == SP_OK && st.n == 2);
    sp_arena_free(&a);
    free(b);
}

static void test_write(void) {
    float v[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-8f, -0.0f};
    int64_t shape[2] = {2, 3};
    uint8_t *out = NULL;
    size_t n = 0;
    sp_error e = {0};
    CHECK(sp_safetensors_write_f32("prompt_embeddings", shape, 2, v, &out, &n, &e) == SP_OK);
    const char *want_h = "{\"__metadata__\":{\"format\":\"pt\"},\"prompt_embeddings\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    size_t wl = strlen(want_h), padded = (wl + 7) / 8 * 8;
    CHECK(out && n == 8 + padded + 24);
    if (out) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = (hl << 8) | out[i];
        CHECK(hl == padded && hl % 8 == 0);
        CHECK(memcmp(out + 8, want_h, wl) == 0);
        for (size_t i = wl; i < padded; i++) CHECK(out[8 + i] == ' ');
        /* raw little-endian floats */
        CHECK(out[8 + padded + 4] == 0x00 && out[8 + padded + 7] == 0xC0); /* -2.5f = 0xC0200000 */
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_safetensors st;
        CHECK(sp_safetensors_parse(&st, out, n, &a, &e) == SP_OK);
        const sp_st_tensor *t = sp_safetensors_find(&st, "prompt_embeddings");
        CHECK(t && t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->nbytes == 24 && memcmp(t->data, v, 24) == 0);
        CHECK(st.metadata && strcmp(sp_json_string(st.metadata, "format", ""), "pt") == 0);
        sp_arena_free(&a);
    }
    free(out);
    /* a name needing escapes, 1-D, and an empty tensor */
    int64_t s1[1] = {1};
    CHECK(sp_safetensors_write_f32("we\"ird\\name", s1, 1, v, &out, &n, &e) == SP_OK);
    if (out) {
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_safetensors st;
        CHECK(sp_safetensors_parse(&st, out, n, &a, &e) == SP_OK && sp_safetensors_find(&st, "we\"ird\\name") != NULL);
        sp_arena_free(&a);
    }
    free(out);
    int64_t s0[2] = {0, 5};
    CHECK(sp_safetensors_write_f32("empty", s0, 2, NULL, &out, &n, &e) == SP_OK && (n - 8) % 8 == 0);
    free(out);
    /* invalid arguments */
    int64_t neg[1] = {-1};
    CHECK(sp_safetensors_write_f32("x", neg, 1, v, &out, &n, &e) == SP_ERR_INVALID_ARG && out == NULL);
    int64_t many[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(sp_safetensors_write_f32("x", many, 9, v, &out, &n, &e) == SP_ERR_INVALID_ARG);
    CHECK(sp_safetensors_write_f32("x", s1, 1, NULL, &out, &n, &e) == SP_ERR_INVALID_ARG);
    int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    CHECK(sp_safetensors_write_f32("x", huge, 2, v, &out, &n, &e) == SP_ERR_TOO_LARGE);
}

static void test_real(void) {
    size_t n = 0;
    uint8_t *buf = test_read_shared("models/TinyStories-656K/model.safetensors", &n);
    if (!buf) return;
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_safetensors st;
    sp_status s = sp_safetensors_parse(&st, buf, n, &a, &e);
    CHECK_MSG(s == SP_OK, "model.safetensors: %s", e.msg);
    if (s == SP_OK) {
        CHECK(st.n == 20);
        CHECK(st.metadata && strcmp(sp_json_string(st.metadata, "format", ""), "pt") == 0);
        CHECK(st.metadata && strcmp(sp_json_string(st.metadata, "model.embed_tokens.weight", ""), "lm_head.weight") == 0);
        const sp_st_tensor *t = sp_safetensors_find(&st, "lm_head.weight");
        CHECK(t && t->dtype == SP_DTYPE_F32 && t->n_dims == 2 && t->shape[0] == 2048 && t->shape[1] == 128 && t->nbytes == 2048 * 128 * 4);
        CHECK(sp_safetensors_find(&st, "model.embed_tokens.weight") == NULL); /* tied: stored once */
        t = sp_safetensors_find(&st, "model.layers.1.self_attn.k_proj.weight");
        CHECK(t && t->shape[0] == 64 && t->shape[1] == 128);
        t = sp_safetensors_find(&st, "model.norm.weight");
        CHECK(t && t->n_dims == 1 && t->shape[0] == 128 && t->data + t->nbytes == buf + n);
        /* every value is bf16-exact (README): check the low 16 bits of a few tensors */
        int exact = 1;
        for (uint32_t i = 0; i < st.n; i++) {
            const uint8_t *d = st.tensors[i].data;
            for (uint64_t j = 0; j < st.tensors[i].nbytes; j += 4)
                if (d[j] || d[j + 1]) exact = 0;
        }
        CHECK(exact);
    }
    sp_arena_free(&a);
    free(buf);
}

int main(void) {
    test_valid();
    test_errors();
    test_write();
    test_real();
    CHECK_DONE();
}
