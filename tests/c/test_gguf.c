/* test_gguf.c - the GGUF reader: files built here byte by byte (v2 and v3, every KV type,
 * nested arrays, custom alignment, every tensor type), every validation error, truncation
 * at every byte, huge counts refused without allocating, and the two real GGUF files. */
#include "readers/gguf.h"
#include "readers/json.h"
#include "json_write.h"
#include "tensor.h"
#include "check.h"
#include "files.h"

#include <stdlib.h>
#include <string.h>

/* ---- a little-endian byte writer on top of sp_buf ---- */
static void w8(sp_buf *b, uint8_t v) { sp_buf_append(b, &v, 1); }
static void w16(sp_buf *b, uint16_t v) { uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; sp_buf_append(b, p, 2); }
static void w32(sp_buf *b, uint32_t v) { uint8_t p[4]; for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); sp_buf_append(b, p, 4); }
static void w64(sp_buf *b, uint64_t v) { uint8_t p[8]; for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); sp_buf_append(b, p, 8); }
static void wf32(sp_buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); w32(b, u); }
static void wf64(sp_buf *b, double f) { uint64_t u; memcpy(&u, &f, 8); w64(b, u); }
static void wstr(sp_buf *b, const char *s) { w64(b, strlen(s)); sp_buf_append(b, s, strlen(s)); }
static void wkey(sp_buf *b, const char *k, uint32_t type) { wstr(b, k); w32(b, type); }
static void wpad(sp_buf *b, size_t al) { while (b->len % al) w8(b, 0); }
static void wtinfo(sp_buf *b, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type, uint64_t off) {
    wstr(b, name);
    w32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) w64(b, dims[i]);
    w32(b, type);
    w64(b, off);
}

/* The full test file: 17 KV pairs, 6 tensors, alignment 64; the last tensor ends the file. */
#define FULL_NKV 17
#define FULL_NT 6
static void build_full(sp_buf *b, uint32_t version) {
    w32(b, 0x46554747); /* "GGUF" */
    w32(b, version);
    w64(b, FULL_NT);
    w64(b, FULL_NKV);
    wkey(b, "general.architecture", SP_GGUF_STRING); wstr(b, "llama");
    wkey(b, "k.u8", SP_GGUF_UINT8); w8(b, 200);
    wkey(b, "k.i8", SP_GGUF_INT8); w8(b, (uint8_t)-5);
    wkey(b, "k.u16", SP_GGUF_UINT16); w16(b, 65000);
    wkey(b, "k.i16", SP_GGUF_INT16); w16(b, (uint16_t)-300);
    wkey(b, "k.u32", SP_GGUF_UINT32); w32(b, 4000000000u);
    wkey(b, "k.i32", SP_GGUF_INT32); w32(b, (uint32_t)-70000);
    wkey(b, "k.f32", SP_GGUF_FLOAT32); wf32(b, 1e-5f);
    wkey(b, "k.bool", SP_GGUF_BOOL); w8(b, 1);
    wkey(b, "k.u64", SP_GGUF_UINT64); w64(b, 0xFFFFFFFFFFFFFFFFull);
    wkey(b, "k.i64", SP_GGUF_INT64); w64(b, (uint64_t)-1234567890123ll);
    wkey(b, "k.f64", SP_GGUF_FLOAT64); wf64(b, 10000.0);
    wkey(b, "general.alignment", SP_GGUF_UINT32); w32(b, 64);
    wkey(b, "arr.str", SP_GGUF_ARRAY); w32(b, SP_GGUF_STRING); w64(b, 3); wstr(b, "<unk>"); wstr(b, ""); wstr(b, "\xE2\x96\x81the");
    wkey(b, "arr.f32", SP_GGUF_ARRAY); w32(b, SP_GGUF_FLOAT32); w64(b, 2); wf32(b, -1.5f); wf32(b, 2.25f);
    wkey(b, "arr.empty", SP_GGUF_ARRAY); w32(b, SP_GGUF_INT32); w64(b, 0);
    /* array of arrays: [[1,2],[3]] of u8 */
    wkey(b, "arr.nested", SP_GGUF_ARRAY); w32(b, SP_GGUF_ARRAY); w64(b, 2);
    w32(b, SP_GGUF_UINT8); w64(b, 2); w8(b, 1); w8(b, 2);
    w32(b, SP_GGUF_UINT8); w64(b, 1); w8(b, 3);
    /* tensors: offsets multiples of 64 */
    uint64_t d_f32[2] = {4, 3}, d_f16[1] = {8}, d_q8[2] = {64, 2}, d_q4[2] = {32, 1}, d_bf[3] = {2, 2, 2}, d_k[2] = {256, 1};
    wtinfo(b, "t.f32", 2, d_f32, SP_DTYPE_F32, 0);      /* 48 bytes */
    wtinfo(b, "t.f16", 1, d_f16, SP_DTYPE_F16, 64);     /* 16 bytes */
    wtinfo(b, "t.q8", 2, d_q8, SP_DTYPE_Q8_0, 128);     /* 2 rows x 68 = 136 bytes */
    wtinfo(b, "t.q3k", 2, d_k, 11, 320);                /* unknown to us (Q3_K): kept, nbytes 0 */
    wtinfo(b, "t.bf16", 3, d_bf, SP_DTYPE_BF16, 384);   /* 16 bytes */
    wtinfo(b, "t.q4", 2, d_q4, SP_DTYPE_Q4_0, 448);     /* 18 bytes -> ends the file */
    wpad(b, 64);
    size_t data = b->len;
    for (int i = 0; i < 12; i++) wf32(b, (float)i + 0.5f);
    while (b->len < data + 448 + 18) w8(b, (uint8_t)(b->len & 0xff));
}

static sp_status parse_buf(const sp_buf *b, size_t len, sp_gguf *g, sp_arena *a, sp_error *e) {
    return sp_gguf_parse(g, (const uint8_t *)b->data, len, a, e);
}

static void test_full(uint32_t version) {
    sp_buf b = {0};
    build_full(&b, version);
    CHECK(!b.failed);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_gguf g;
    sp_status st = parse_buf(&b, b.len, &g, &a, &e);
    CHECK_MSG(st == SP_OK, "v%u: %s", version, e.msg);
    if (st) { sp_arena_free(&a); sp_buf_free(&b); return; }
    CHECK(g.version == version && g.n_kv == FULL_NKV && g.n_tensors == FULL_NT && g.alignment == 64);
    CHECK((size_t)(g.data - (const uint8_t *)b.data) % 64 == 0);
    sp_str s;
    CHECK(sp_gguf_get_str(&g, "general.architecture", &s) && s.len == 5 && memcmp(s.ptr, "llama", 5) == 0);
    CHECK(!sp_gguf_get_str(&g, "k.u8", &s));
    CHECK(!sp_gguf_get_str(&g, "nope", &s));
    CHECK(sp_gguf_get_int(&g, "k.u8", 0) == 200);
    CHECK(sp_gguf_get_int(&g, "k.i8", 0) == -5);
    CHECK(sp_gguf_get_int(&g, "k.u16", 0) == 65000);
    CHECK(sp_gguf_get_int(&g, "k.i16", 0) == -300);
    CHECK(sp_gguf_get_int(&g, "k.u32", 0) == 4000000000ll);
    CHECK(sp_gguf_get_int(&g, "k.i32", 0) == -70000);
    CHECK(sp_gguf_find(&g, "k.u64")->u64 == 0xFFFFFFFFFFFFFFFFull);
    CHECK(sp_gguf_get_int(&g, "k.i64", 0) == -1234567890123ll);
    CHECK(sp_gguf_get_float(&g, "k.i64", 0) == -1234567890123.0);
    CHECK(sp_gguf_get_float(&g, "k.f32", 0) == (double)1e-5f);
    CHECK(sp_gguf_get_int(&g, "k.f32", 9) == 0);
    CHECK(sp_gguf_get_float(&g, "k.f64", 0) == 10000.0);
    CHECK(sp_gguf_get_int(&g, "k.f64", 0) == 10000);
    CHECK(sp_gguf_get_float(&g, "k.u32", 0) == 4000000000.0);
    CHECK(sp_gguf_get_int(&g, "k.bool", 0) == 1);
    CHECK(sp_gguf_get_int(&g, "general.architecture", -7) == -7); /* not numeric */
    CHECK(sp_gguf_get_int(&g, "missing", -8) == -8);
    CHECK(sp_gguf_get_float(&g, "arr.f32", 2.0) == 2.0);
    const sp_gguf_kv *kv = sp_gguf_find(&g, "arr.str");
    CHECK(kv && kv->type == SP_GGUF_ARRAY && kv->arr_type == SP_GGUF_STRING && kv->arr_n == 3 && kv->arr_strs);
    if (kv && kv->arr_strs) {
        CHECK(kv->arr_strs[0].len == 5 && memcmp(kv->arr_strs[0].ptr, "<unk>", 5) == 0);
        CHECK(kv->arr_strs[1].len == 0);
        CHECK(kv->arr_strs[2].len == 6 && memcmp(kv->arr_strs[2].ptr, "\xE2\x96\x81the", 6) == 0);
    }
    kv = sp_gguf_find(&g, "arr.f32");
    CHECK(kv && kv->arr_type == SP_GGUF_FLOAT32 && kv->arr_n == 2 && kv->arr_strs == NULL);
    if (kv) {
        float f[2];
        memcpy(f, kv->arr_data, 8);
        CHECK(f[0] == -1.5f && f[1] == 2.25f);
    }
    kv = sp_gguf_find(&g, "arr.empty");
    CHECK(kv && kv->arr_n == 0 && kv->arr_type == SP_GGUF_INT32);
    kv = sp_gguf_find(&g, "arr.nested");
    CHECK(kv && kv->arr_type == SP_GGUF_ARRAY && kv->arr_n == 2 && kv->arr_data);
    if (kv && kv->arr_data) CHECK(kv->arr_data[0] == SP_GGUF_UINT8 && kv->arr_data[12] == 1 && kv->arr_data[13] == 2);

    const sp_gguf_tensor *t = sp_gguf_find_tensor(&g, "t.f32");
    CHECK(t && t->n_dims == 2 && t->dims[0] == 4 && t->dims[1] == 3 && t->dims[2] == 1 && t->type == SP_DTYPE_F32 && t->nbytes == 48);
    if (t) {
        CHECK(t->data == g.data);
        float f;
        memcpy(&f, t->data + 4 * 11, 4);
        CHECK(f == 11.5f);
    }
    t = sp_gguf_find_tensor(&g, "t.f16");
    CHECK(t && t->nbytes == 16 && t->data == g.data + 64);
    t = sp_gguf_find_tensor(&g, "t.q8");
    CHECK(t && t->type == SP_DTYPE_Q8_0 && t->nbytes == 136 && t->data == g.data + 128);
    t = sp_gguf_find_tensor(&g, "t.q3k");
    CHECK(t && t->type == 11 && t->nbytes == 0 && t->data == NULL && t->offset == 320);
    t = sp_gguf_find_tensor(&g, "t.bf16");
    CHECK(t && t->n_dims == 3 && t->nbytes == 16 && t->data == g.data + 384);
    t = sp_gguf_find_tensor(&g, "t.q4");
    CHECK(t && t->type == SP_DTYPE_Q4_0 && t->nbytes == 18 && t->data + 18 == (const uint8_t *)b.data + b.len);
    CHECK(sp_gguf_find_tensor(&g, "t.none") == NULL);
    sp_arena_free(&a);

    /* every proper prefix must fail with SP_ERR_FORMAT (the last tensor ends the file) */
    int bad = 0;
    for (size_t n = 0; n < b.len; n++) {
        sp_arena a2;
        sp_arena_init(&a2, 0);
        sp_error e2 = {0};
        sp_gguf g2;
        sp_status st2 = parse_buf(&b, n, &g2, &a2, &e2);
        if (st2 != SP_ERR_FORMAT || strncmp(e2.msg, "gguf: ", 6) != 0) {
            if (bad++ < 5) fprintf(stderr, "prefix %zu: status %d msg '%s'\n", n, st2, e2.msg);
        }
        if (a2.total != 0 && bad++ < 5) fprintf(stderr, "prefix %zu: allocated %zu bytes on failure\n", n, a2.total);
        sp_arena_free(&a2);
    }
    CHECK(bad == 0);
    sp_buf_free(&b);
}

/* Build a file with one KV (given by a callback) and no tensors, or a full custom header. */
typedef void (*build_fn)(sp_buf *b);

static void expect_fail(build_fn fn, sp_status want, const char *msg_part, const char *label) {
    sp_buf b = {0};
    fn(&b);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_gguf g;
    sp_status st = sp_gguf_parse(&g, (const uint8_t *)b.data, b.len, &a, &e);
    CHECK_MSG(st == want, "%s: status %d (%s), want %d", label, st, e.msg, want);
    CHECK_MSG(strstr(e.msg, msg_part) != NULL, "%s: msg '%s' lacks '%s'", label, e.msg, msg_part);
    CHECK_MSG(a.total == 0, "%s: %zu bytes allocated before the error", label, a.total);
    sp_arena_free(&a);
    sp_buf_free(&b);
}

static void hdr(sp_buf *b, uint64_t nt, uint64_t nkv) { w32(b, 0x46554747); w32(b, 3); w64(b, nt); w64(b, nkv); }

static void b_magic(sp_buf *b) { sp_buf_append(b, "GGUG", 4); w32(b, 3); w64(b, 0); w64(b, 0); }
static void b_short(sp_buf *b) { sp_buf_append(b, "GG", 2); }
static void b_v1(sp_buf *b) { w32(b, 0x46554747); w32(b, 1); w64(b, 0); w64(b, 0); }
static void b_v4(sp_buf *b) { w32(b, 0x46554747); w32(b, 4); w64(b, 0); w64(b, 0); }
static void b_vbe(sp_buf *b) { w32(b, 0x46554747); w32(b, 0x03000000); w64(b, 0); w64(b, 0); }
static void b_hdr_trunc(sp_buf *b) { w32(b, 0x46554747); w32(b, 3); w64(b, 0); }
static void b_nkv_huge(sp_buf *b) { hdr(b, 0, 1ull << 60); wkey(b, "a", SP_GGUF_UINT8); w8(b, 0); }
static void b_nt_huge(sp_buf *b) { hdr(b, 1ull << 60, 0); }
static void b_nt_max(sp_buf *b) { hdr(b, UINT64_MAX, UINT64_MAX); }
static void b_counts_sum(sp_buf *b) { hdr(b, 2, 2); for (int i = 0; i < 40; i++) w8(b, 0); } /* 2*13+2*24=74 > 40 */
static void b_strlen_huge(sp_buf *b) { hdr(b, 0, 1); w64(b, 1ull << 62); for (int i = 0; i < 16; i++) w8(b, 'a'); }
static void b_valstr_huge(sp_buf *b) { hdr(b, 0, 1); wkey(b, "s", SP_GGUF_STRING); w64(b, UINT64_MAX); w8(b, 'x'); }
static void b_arr_u8_huge(sp_buf *b) { hdr(b, 0, 1); wkey(b, "a", SP_GGUF_ARRAY); w32(b, SP_GGUF_UINT8); w64(b, 1ull << 60); w8(b, 0); }
static void b_arr_u64_wrap(sp_buf *b) { hdr(b, 0, 1); wkey(b, "a", SP_GGUF_ARRAY); w32(b, SP_GGUF_UINT64); w64(b, 1ull << 61); w64(b, 0); } /* 2^61*8 wraps to 0 */
static void b_arr_str_huge(sp_buf *b) { hdr(b, 0, 1); wkey(b, "tokenizer.ggml.tokens", SP_GGUF_ARRAY); w32(b, SP_GGUF_STRING); w64(b, 1ull << 60); wstr(b, "a"); }
static void b_arr_arr_huge(sp_buf *b) { hdr(b, 0, 1); wkey(b, "a", SP_GGUF_ARRAY); w32(b, SP_GGUF_ARRAY); w64(b, 1ull << 60); w32(b, 0); w64(b, 0); }
static void b_arr_deep(sp_buf *b) {
    hdr(b, 0, 1); wkey(b, "deep", SP_GGUF_ARRAY);
    for (int i = 0; i < 10; i++) { w32(b, SP_GGUF_ARRAY); w64(b, 1); }
    w32(b, SP_GGUF_UINT8); w64(b, 0);
}
static void b_arr_badtype(sp_buf *b) { hdr(b, 0, 1); wkey(b, "a", SP_GGUF_ARRAY); w32(b, 13); w64(b, 1); w8(b, 0); }
static void b_kv_badtype(sp_buf *b) { hdr(b, 0, 1); wkey(b, "weird.key", 99); w64(b, 0); }
static void b_kv_trunc(sp_buf *b) { hdr(b, 0, 2); wkey(b, "a", SP_GGUF_UINT8); w8(b, 1); wkey(b, "tokenizer.ggml.model", SP_GGUF_UINT32); w8(b, 1); }
static void b_align_np2(sp_buf *b) { hdr(b, 0, 1); wkey(b, "general.alignment", SP_GGUF_UINT32); w32(b, 48); }
static void b_align_zero(sp_buf *b) { hdr(b, 0, 1); wkey(b, "general.alignment", SP_GGUF_UINT32); w32(b, 0); }
static void b_align_type(sp_buf *b) { hdr(b, 0, 1); wkey(b, "general.alignment", SP_GGUF_UINT64); w64(b, 32); }
static void b_dup_key(sp_buf *b) { hdr(b, 0, 2); wkey(b, "same", SP_GGUF_UINT8); w8(b, 1); wkey(b, "same", SP_GGUF_INT32); w32(b, 2); }
static void one_tensor(sp_buf *b, uint32_t n_dims, const uint64_t *dims, uint32_t type, uint64_t off, size_t data_bytes) {
    hdr(b, 1, 0);
    wtinfo(b, "blk.0.attn_q.weight", n_dims, dims, type, off);
    wpad(b, 32);
    for (size_t i = 0; i < data_bytes; i++) w8(b, 0);
}
static void b_t_ndims(sp_buf *b) { uint64_t d[5] = {1, 1, 1, 1, 1}; one_tensor(b, 5, d, 0, 0, 4); }
static void b_t_ndims_huge(sp_buf *b) {
    hdr(b, 1, 0);
    wstr(b, "t"); w32(b, 0xFFFFFFFFu); /* n_dims 2^32-1 */
    for (int i = 0; i < 64; i++) w8(b, 0);
}
static void b_t_overflow(sp_buf *b) { uint64_t d[4] = {1ull << 20, 1ull << 20, 1ull << 20, 1ull << 20}; one_tensor(b, 4, d, 0, 0, 64); }
static void b_t_bytes_overflow(sp_buf *b) { uint64_t d[2] = {1ull << 31, 1ull << 31}; one_tensor(b, 2, d, 0, 0, 64); } /* 2^62 elems * 4 bytes */
static void b_t_bytes_big(sp_buf *b) { uint64_t d[2] = {1ull << 20, 1ull << 20}; one_tensor(b, 2, d, 0, 0, 64); } /* 4 TiB */
static void b_t_negdim(sp_buf *b) { uint64_t d[2] = {4, (uint64_t)-1}; one_tensor(b, 2, d, 0, 0, 64); }
static void b_t_q8_row(sp_buf *b) { uint64_t d[2] = {33, 2}; one_tensor(b, 2, d, SP_DTYPE_Q8_0, 0, 128); }
static void b_t_q8_row_empty(sp_buf *b) { uint64_t d[2] = {33, 0}; one_tensor(b, 2, d, SP_DTYPE_Q8_0, 0, 0); } /* found by fuzz_gguf */
static void b_t_empty_name(sp_buf *b) { uint64_t d[1] = {1}; hdr(b, 1, 0); wtinfo(b, "", 1, d, 0, 0); wpad(b, 32); w32(b, 0); }
static void b_t_misaligned(sp_buf *b) { uint64_t d[1] = {4}; one_tensor(b, 1, d, 0, 16, 64); }
static void b_t_past_end(sp_buf *b) { uint64_t d[1] = {16}; one_tensor(b, 1, d, 0, 32, 64); } /* 32 + 64 > 64 */
static void b_t_off_huge(sp_buf *b) { uint64_t d[1] = {4}; one_tensor(b, 1, d, 0, 0xFFFFFFFFFFFFFFE0ull, 64); }
static void b_t_unknown_past_end(sp_buf *b) { uint64_t d[1] = {256}; one_tensor(b, 1, d, 12, 1024, 64); }
static void b_t_dup(sp_buf *b) {
    uint64_t d[1] = {4};
    hdr(b, 2, 0);
    wtinfo(b, "x", 1, d, 0, 0);
    wtinfo(b, "x", 1, d, 0, 32);
    wpad(b, 32);
    for (int i = 0; i < 64; i++) w8(b, 0);
}
static void b_t_trunc(sp_buf *b) {
    uint64_t d[2] = {4, 4};
    hdr(b, 4, 0);
    wtinfo(b, "token_embd.weight", 2, d, 0, 0);
    wtinfo(b, "output_norm.weight", 2, d, 0, 64);
    wtinfo(b, "output.weight", 2, d, 0, 128);
    wstr(b, "blk.0.attn_q.weight"); w32(b, 2); w64(b, 4); /* cut inside the dims */
    for (int i = 0; i < 64; i++) w8(b, 0); /* ...padding so the counts check passes */
    b->len -= 64;
    w32(b, 0); w32(b, 0); w32(b, 0); /* 12 more bytes, still short of dims[1]+type+offset */
}

static void test_errors(void) {
    expect_fail(b_magic, SP_ERR_FORMAT, "gguf: bad magic (not a GGUF file)", "magic");
    expect_fail(b_short, SP_ERR_FORMAT, "gguf: bad magic", "short");
    expect_fail(b_v1, SP_ERR_FORMAT, "unsupported version 1", "v1");
    expect_fail(b_v4, SP_ERR_FORMAT, "gguf: unsupported version 4", "v4");
    expect_fail(b_vbe, SP_ERR_FORMAT, "big-endian", "big-endian");
    expect_fail(b_hdr_trunc, SP_ERR_FORMAT, "truncated header", "header");
    expect_fail(b_nkv_huge, SP_ERR_FORMAT, "KV count 1152921504606846976 is too large", "n_kv huge");
    expect_fail(b_nt_huge, SP_ERR_FORMAT, "tensor count 1152921504606846976 is too large", "n_tensors huge");
    expect_fail(b_nt_max, SP_ERR_FORMAT, "too large", "counts max");
    expect_fail(b_counts_sum, SP_ERR_FORMAT, "too large", "counts sum");
    expect_fail(b_strlen_huge, SP_ERR_FORMAT, "truncated in KV 0", "key length huge");
    expect_fail(b_valstr_huge, SP_ERR_FORMAT, "truncated in KV 0 (key 's')", "string value huge");
    expect_fail(b_arr_u8_huge, SP_ERR_FORMAT, "truncated in KV 0 (key 'a')", "u8 array huge");
    expect_fail(b_arr_u64_wrap, SP_ERR_FORMAT, "truncated in KV 0 (key 'a')", "u64 array wrap");
    expect_fail(b_arr_str_huge, SP_ERR_FORMAT, "truncated in KV 0 (key 'tokenizer.ggml.tokens')", "string array huge");
    expect_fail(b_arr_arr_huge, SP_ERR_FORMAT, "truncated in KV 0", "array of arrays huge");
    expect_fail(b_arr_deep, SP_ERR_FORMAT, "nested deeper", "deep arrays");
    expect_fail(b_arr_badtype, SP_ERR_FORMAT, "unknown array element type 13", "array elem type");
    expect_fail(b_kv_badtype, SP_ERR_FORMAT, "unknown value type 99 in KV 0 (key 'weird.key')", "kv type");
    expect_fail(b_kv_trunc, SP_ERR_FORMAT, "truncated in KV 1 (key 'tokenizer.ggml.model')", "kv truncated");
    expect_fail(b_align_np2, SP_ERR_FORMAT, "general.alignment 48 is not a power of two", "alignment 48");
    expect_fail(b_align_zero, SP_ERR_FORMAT, "not a power of two", "alignment 0");
    expect_fail(b_align_type, SP_ERR_FORMAT, "general.alignment must be a uint32", "alignment type");
    expect_fail(b_t_ndims, SP_ERR_FORMAT, "has 5 dims (max 4)", "n_dims 5");
    expect_fail(b_t_ndims_huge, SP_ERR_FORMAT, "dims (max 4)", "n_dims huge");
    expect_fail(b_t_overflow, SP_ERR_FORMAT, "element count overflows", "dims overflow");
    expect_fail(b_t_bytes_overflow, SP_ERR_FORMAT, "size overflows", "bytes overflow");
    expect_fail(b_t_bytes_big, SP_ERR_FORMAT, "past the end", "bytes too many");
    expect_fail(b_t_negdim, SP_ERR_FORMAT, "negative dim", "negative dim");
    expect_fail(b_t_q8_row, SP_ERR_FORMAT, "not a multiple of 32", "q8 row 33");
    expect_fail(b_t_q8_row_empty, SP_ERR_FORMAT, "not a multiple of 32", "q8 row 33, no rows");
    expect_fail(b_t_empty_name, SP_ERR_FORMAT, "tensor info 0 has an empty name", "empty tensor name");
    expect_fail(b_t_misaligned, SP_ERR_FORMAT, "offset 16 is not a multiple of the alignment 32", "misaligned");
    expect_fail(b_t_past_end, SP_ERR_FORMAT, "past the end", "past end");
    expect_fail(b_t_off_huge, SP_ERR_FORMAT, "past the end", "offset huge");
    expect_fail(b_t_unknown_past_end, SP_ERR_FORMAT, "past the end", "unknown type offset past end");
    expect_fail(b_t_trunc, SP_ERR_FORMAT, "truncated in tensor info 3 (name 'blk.0.attn_q.weight')", "tensor info truncated");
    /* duplicate keys and names are found after pass 2 (tables allocated, bounded by the file size) */
    {
        sp_buf b = {0};
        b_t_dup(&b);
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_error e = {0};
        sp_gguf g;
        CHECK(sp_gguf_parse(&g, (const uint8_t *)b.data, b.len, &a, &e) == SP_ERR_FORMAT && strstr(e.msg, "duplicate tensor name 'x'"));
        sp_arena_free(&a);
        sp_buf_free(&b);
        b_dup_key(&b);
        CHECK(sp_gguf_parse(&g, (const uint8_t *)b.data, b.len, &a, &e) == SP_ERR_FORMAT && strstr(e.msg, "duplicate key 'same'"));
        sp_arena_free(&a);
        sp_buf_free(&b);
    }
    /* NULL arguments */
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_gguf g;
    CHECK(sp_gguf_parse(&g, NULL, 10, &a, &e) == SP_ERR_INVALID_ARG);
    CHECK(sp_gguf_parse(&g, NULL, 0, &a, &e) == SP_ERR_FORMAT);
    CHECK(sp_gguf_find(NULL, "x") == NULL && sp_gguf_find_tensor(NULL, "x") == NULL);
    sp_arena_free(&a);
}

/* Minimal valid files: no KV/no tensors; tensors with zero size at the very end. */
static void test_minimal(void) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_gguf g;
    sp_buf b = {0};
    hdr(&b, 0, 0);
    CHECK(sp_gguf_parse(&g, (const uint8_t *)b.data, b.len, &a, &e) == SP_OK && g.n_kv == 0 && g.n_tensors == 0 && g.alignment == 32);
    sp_buf_free(&b);
    /* a 0-element tensor and a scalar (n_dims 0 = 1 element), file ends after the infos */
    uint64_t d0[2] = {0, 5};
    hdr(&b, 2, 0);
    wtinfo(&b, "empty", 2, d0, SP_DTYPE_F32, 0);
    wtinfo(&b, "scalar", 0, d0, SP_DTYPE_F32, 0);
    sp_status st = sp_gguf_parse(&g, (const uint8_t *)b.data, b.len, &a, &e);
    CHECK(st == SP_ERR_FORMAT); /* the scalar needs 4 bytes of data */
    wpad(&b, 32);
    w32(&b, 0x3f800000);
    st = sp_gguf_parse(&g, (const uint8_t *)b.data, b.len, &a, &e);
    CHECK_MSG(st == SP_OK, "%s", e.msg);
    if (st == SP_OK) {
        CHECK(g.tensors[0].nbytes == 0 && g.tensors[1].nbytes == 4 && g.tensors[1].n_dims == 0 && g.tensors[1].dims[0] == 1);
        float f;
        memcpy(&f, g.tensors[1].data, 4);
        CHECK(f == 1.0f);
    }
    sp_buf_free(&b);
    sp_arena_free(&a);
}

static void test_real_files(void) {
    size_t n = 0;
    unsigned char *buf = test_read_shared("models/stories260K/stories260K.gguf", &n);
    if (buf) {
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_error e = {0};
        sp_gguf g;
        sp_status st = sp_gguf_parse(&g, buf, n, &a, &e);
        CHECK_MSG(st == SP_OK, "stories260K.gguf: %s", e.msg);
        if (st == SP_OK) {
            CHECK(g.version == 3 && g.n_tensors == 48 && g.n_kv == 19 && g.alignment == 32);
            CHECK(sp_gguf_get_int(&g, "llama.embedding_length", 0) == 64);
            CHECK(sp_gguf_get_int(&g, "llama.feed_forward_length", 0) == 172);
            CHECK(sp_gguf_get_int(&g, "llama.block_count", 0) == 5);
            CHECK(sp_gguf_get_int(&g, "llama.attention.head_count", 0) == 8);
            CHECK(sp_gguf_get_int(&g, "llama.attention.head_count_kv", 0) == 4);
            CHECK(sp_gguf_get_int(&g, "llama.context_length", 0) == 2048);
            CHECK(sp_gguf_get_int(&g, "tokenizer.ggml.seperator_token_id", 0) == 4294967295ll);
            CHECK_NEAR(sp_gguf_get_float(&g, "llama.attention.layer_norm_rms_epsilon", 0), 1e-5, 1e-9);
            sp_str s;
            CHECK(sp_gguf_get_str(&g, "tokenizer.ggml.model", &s) && s.len == 5 && memcmp(s.ptr, "llama", 5) == 0);
            const sp_gguf_kv *tok = sp_gguf_find(&g, "tokenizer.ggml.tokens");
            CHECK(tok && tok->arr_type == SP_GGUF_STRING && tok->arr_n == 512);
            if (tok) CHECK(tok->arr_strs[1].len == 3 && memcmp(tok->arr_strs[1].ptr, "<s>", 3) == 0);
            const sp_gguf_kv *sc = sp_gguf_find(&g, "tokenizer.ggml.scores");
            CHECK(sc && sc->arr_type == SP_GGUF_FLOAT32 && sc->arr_n == 512);
            const sp_gguf_tensor *t = sp_gguf_find_tensor(&g, "token_embd.weight");
            CHECK(t && t->type == SP_DTYPE_F32 && t->n_dims == 2 && t->dims[0] == 64 && t->dims[1] == 512 && t->nbytes == 64 * 512 * 4);
            CHECK(t && (size_t)(t->data - buf) == 14176); /* infos end at 14152, padded to 32 */
            t = sp_gguf_find_tensor(&g, "blk.4.ffn_norm.weight");
            CHECK(t && t->data + t->nbytes == buf + n);
            t = sp_gguf_find_tensor(&g, "blk.0.ffn_down.weight");
            CHECK(t && t->dims[0] == 172 && t->dims[1] == 64);
            /* independent check: the embedding equals the llama2.c .bin's first tensor (after a 7 x int32 header) */
            size_t nb = 0;
            unsigned char *bin = test_read_shared("models/stories260K/stories260K.bin", &nb);
            t = sp_gguf_find_tensor(&g, "token_embd.weight");
            if (bin && t) CHECK(nb > 28 + t->nbytes && memcmp(bin + 28, t->data, (size_t)t->nbytes) == 0);
            free(bin);
        }
        sp_arena_free(&a);
        free(buf);
    }
    buf = test_read_shared("models/TinyStories-656K/TinyStories-656K-Q8_0.gguf", &n);
    if (buf) {
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_error e = {0};
        sp_gguf g;
        sp_status st = sp_gguf_parse(&g, buf, n, &a, &e);
        CHECK_MSG(st == SP_OK, "TinyStories Q8_0: %s", e.msg);
        if (st == SP_OK) {
            CHECK(g.version == 3 && g.n_tensors == 20 && g.n_kv == 34);
            CHECK(sp_gguf_get_int(&g, "llama.embedding_length", 0) == 128);
            CHECK(sp_gguf_get_int(&g, "general.file_type", 0) == 7);
            CHECK(sp_gguf_get_int(&g, "tokenizer.ggml.add_bos_token", 0) == 1);
            CHECK(sp_gguf_get_float(&g, "llama.rope.freq_base", 0) == 10000.0);
            const sp_gguf_kv *tok = sp_gguf_find(&g, "tokenizer.ggml.tokens");
            CHECK(tok && tok->arr_n == 2048);
            if (tok) CHECK(tok->arr_strs[1].len == 15 && memcmp(tok->arr_strs[1].ptr, "<|start_story|>", 15) == 0);
            const sp_gguf_tensor *t = sp_gguf_find_tensor(&g, "token_embd.weight");
            CHECK(t && t->type == SP_DTYPE_Q8_0 && t->dims[0] == 128 && t->dims[1] == 2048 && t->nbytes == 2048 * 4 * 34);
            t = sp_gguf_find_tensor(&g, "output_norm.weight");
            CHECK(t && t->type == SP_DTYPE_F32 && t->offset == 0 && t->nbytes == 512);
            CHECK(sp_gguf_find_tensor(&g, "output.weight") == NULL); /* tied */
        }
        sp_arena_free(&a);
        free(buf);
    }
}

int main(void) {
    test_full(3);
    test_full(2);
    test_errors();
    test_minimal();
    test_real_files();
    CHECK_DONE();
}
