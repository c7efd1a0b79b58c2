/* fuzz_targets.h - the bodies of the libFuzzer harnesses, shared with the C regression test
 * (tests/c/test_fuzz_regressions.c replays tests/fuzz/regressions/<target>/ through them).
 * The model and tokenizer harnesses have their own headers (fuzz_model.h, fuzz_tokenizer.h).
 *
 * Each target parses the input and, when it parses, touches everything the parser handed out
 * (so ASan sees any pointer outside the input) and checks properties; a property failure
 * calls FUZZ_FAIL, which prints and aborts (a crash for libFuzzer, a failed test otherwise):
 *   - no parser allocates more than k x the input size + 1 MiB from its arena (k = 16 for GGUF,
 *     64 for JSON and safetensors, whose DOM nodes are 56 bytes for 2-byte inputs like "0,");
 *   - GGUF: every tensor's data lies inside the input and its offset is aligned;
 *   - safetensors: every tensor lies inside the input, nbytes = product(shape) * dtype size;
 *   - JSON: the DOM re-serialized (strings via sp_buf_json_string, numbers as %.17g) parses
 *     again to an equal DOM. */
#ifndef SP_FUZZ_TARGETS_H
#define SP_FUZZ_TARGETS_H

#include "readers/gguf.h"
#include "readers/json.h"
#include "json_write.h"
#include "readers/safetensors.h"
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_FAIL(...) do { fprintf(stderr, "fuzz property failed: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static volatile uint8_t fuzz_sink; /* keeps the touching reads */

static inline void fuzz_touch(const void *p, uint64_t n) {
    if (!n) return;
    const uint8_t *b = (const uint8_t *)p;
    fuzz_sink ^= b[0];
    fuzz_sink ^= b[n - 1];
}

static inline void fuzz_check_arena(const sp_arena *a, size_t size, size_t k, const char *what) {
    if (a->total > k * size + ((size_t)1 << 20) + 4096)
        FUZZ_FAIL("%s: arena holds %zu bytes for a %zu-byte input", what, a->total, size);
}

static inline int fuzz_inside(const void *p, uint64_t n, const uint8_t *buf, size_t size) {
    const uint8_t *q = (const uint8_t *)p;
    return q >= buf && q <= buf + size && n <= (uint64_t)(buf + size - q);
}

static inline void fuzz_gguf_one(const uint8_t *data, size_t size) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_gguf g;
    sp_status st = sp_gguf_parse(&g, data, size, &a, &e);
    fuzz_check_arena(&a, size, 16, "gguf");
    if (st == SP_OK) {
        for (uint64_t i = 0; i < g.n_kv; i++) {
            const sp_gguf_kv *kv = &g.kv[i];
            if (!fuzz_inside(kv->key.ptr, kv->key.len, data, size)) FUZZ_FAIL("gguf: key %llu outside the input", (unsigned long long)i);
            fuzz_touch(kv->key.ptr, kv->key.len);
            if (kv->type == SP_GGUF_STRING) fuzz_touch(kv->str.ptr, kv->str.len);
            if (kv->type == SP_GGUF_ARRAY && kv->arr_type == SP_GGUF_STRING)
                for (uint64_t j = 0; j < kv->arr_n; j++) {
                    if (!fuzz_inside(kv->arr_strs[j].ptr, kv->arr_strs[j].len, data, size)) FUZZ_FAIL("gguf: array string outside the input");
                    fuzz_touch(kv->arr_strs[j].ptr, kv->arr_strs[j].len);
                }
            if (kv->type == SP_GGUF_ARRAY && kv->arr_data && kv->arr_n && kv->arr_data < data + size) fuzz_touch(kv->arr_data, 1);
            (void)sp_gguf_find(&g, "general.architecture");
        }
        for (uint64_t i = 0; i < g.n_tensors; i++) {
            const sp_gguf_tensor *t = &g.tensors[i];
            fuzz_touch(t->name.ptr, t->name.len);
            if (t->n_dims > 4) FUZZ_FAIL("gguf: n_dims %u", t->n_dims);
            if (t->offset % g.alignment) FUZZ_FAIL("gguf: misaligned offset accepted");
            if (t->data) {
                if (!fuzz_inside(t->data, t->nbytes, data, size)) FUZZ_FAIL("gguf: tensor %llu data outside the input", (unsigned long long)i);
                fuzz_touch(t->data, t->nbytes);
                if (sp_dtype_supported(t->type) && t->dims[0]) {
                    size_t rb = sp_dtype_row_bytes(t->type, (int64_t)t->dims[0]);
                    if (rb == 0) FUZZ_FAIL("gguf: tensor %llu accepted with a row size that is not whole blocks", (unsigned long long)i);
                    if (t->nbytes % rb) FUZZ_FAIL("gguf: nbytes not a whole number of rows");
                }
            }
        }
        (void)sp_gguf_get_int(&g, "llama.embedding_length", 0);
        (void)sp_gguf_get_float(&g, "llama.rope.freq_base", 0);
        sp_str s;
        (void)sp_gguf_get_str(&g, "tokenizer.ggml.model", &s);
    } else if (e.msg[0] == '\0') {
        FUZZ_FAIL("gguf: error %d without a message", st);
    }
    sp_arena_free(&a);
}

static inline void fuzz_safetensors_one(const uint8_t *data, size_t size) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_safetensors s;
    sp_status st = sp_safetensors_parse(&s, data, size, &a, &e);
    fuzz_check_arena(&a, size, 64, "safetensors");
    if (st == SP_OK) {
        for (uint32_t i = 0; i < s.n; i++) {
            const sp_st_tensor *t = &s.tensors[i];
            if (!fuzz_inside(t->data, t->nbytes, data, size)) FUZZ_FAIL("safetensors: tensor %u outside the input", i);
            fuzz_touch(t->data, t->nbytes);
            if (t->n_dims > 8) FUZZ_FAIL("safetensors: n_dims %u", t->n_dims);
            uint64_t count = 1;
            for (uint32_t d = 0; d < t->n_dims; d++) count *= (uint64_t)t->shape[d];
            size_t es = t->dtype == SP_DTYPE_F32 ? 4 : (t->dtype == SP_DTYPE_F16 || t->dtype == SP_DTYPE_BF16) ? 2 : 0;
            if (es && count * es != t->nbytes) FUZZ_FAIL("safetensors: nbytes %llu for %llu elements", (unsigned long long)t->nbytes, (unsigned long long)count);
            if (sp_safetensors_find(&s, t->name) == NULL) FUZZ_FAIL("safetensors: find failed for '%s'", t->name);
        }
    } else if (e.msg[0] == '\0') {
        FUZZ_FAIL("safetensors: error %d without a message", st);
    }
    sp_arena_free(&a);
}

static inline void fuzz_json_write(sp_buf *b, const sp_json *v) {
    switch (v->type) {
    case SP_JSON_NULL: sp_buf_append(b, "null", 4); break;
    case SP_JSON_BOOL: sp_buf_printf(b, "%s", v->boolean ? "true" : "false"); break;
    case SP_JSON_NUMBER: sp_buf_printf(b, "%.17g", v->number); break;
    case SP_JSON_STRING: sp_buf_json_string(b, v->str, v->len); break;
    case SP_JSON_ARRAY:
    case SP_JSON_OBJECT:
        sp_buf_append(b, v->type == SP_JSON_ARRAY ? "[" : "{", 1);
        for (size_t i = 0; i < v->len; i++) {
            if (i) sp_buf_append(b, ",", 1);
            if (v->type == SP_JSON_OBJECT) {
                sp_buf_json_string(b, v->items[i].key, v->items[i].key_len);
                sp_buf_append(b, ":", 1);
            }
            fuzz_json_write(b, &v->items[i]);
        }
        sp_buf_append(b, v->type == SP_JSON_ARRAY ? "]" : "}", 1);
        break;
    }
}

static inline int fuzz_json_equal(const sp_json *x, const sp_json *y) {
    if (x->type != y->type) return 0;
    switch (x->type) {
    case SP_JSON_NULL: return 1;
    case SP_JSON_BOOL: return x->boolean == y->boolean;
    case SP_JSON_NUMBER: return x->number == y->number;
    case SP_JSON_STRING: return x->len == y->len && memcmp(x->str, y->str, x->len) == 0 && x->str[x->len] == 0;
    default:
        if (x->len != y->len) return 0;
        for (size_t i = 0; i < x->len; i++) {
            if (x->type == SP_JSON_OBJECT &&
                (x->items[i].key_len != y->items[i].key_len || memcmp(x->items[i].key, y->items[i].key, x->items[i].key_len) != 0))
                return 0;
            if (!fuzz_json_equal(&x->items[i], &y->items[i])) return 0;
        }
        return 1;
    }
}

static inline void fuzz_json_one(const uint8_t *data, size_t size) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_json *v = sp_json_parse(&a, (const char *)data, size, &e);
    fuzz_check_arena(&a, size, 64, "json");
    if (v) {
        sp_buf b = {0};
        fuzz_json_write(&b, v);
        if (b.failed) FUZZ_FAIL("json: buffer failed");
        sp_error e2 = {0};
        sp_json *w = sp_json_parse(&a, b.data, b.len, &e2);
        if (!w) FUZZ_FAIL("json: re-serialized document does not parse: %s", e2.msg);
        if (!fuzz_json_equal(v, w)) FUZZ_FAIL("json: round trip changed the document");
        sp_buf_free(&b);
        (void)sp_json_number(v, "a", 0);
        (void)sp_json_string(v, "a", NULL);
        (void)sp_json_bool(v, "a", 0);
    } else if (strncmp(e.msg, "line ", 5) != 0 && e.code != SP_ERR_NOMEM) {
        FUZZ_FAIL("json: error message lacks the position: %s", e.msg);
    }
    sp_arena_free(&a);
}

#endif
