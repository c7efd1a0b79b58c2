/* test_tokenizer.c - the two tokenizers against recorded goldens, naive reference encoders
 * written here (quadratic loops: llama2.c-style best-score merges for SPM, lowest-rank merges
 * on strings for BPE, with their own UTF-8 decoder), byte-exact round trips (random bytes,
 * emoji, CJK, combining marks, NUL, invalid UTF-8, empty, spaces, 100 KB of TinyStories),
 * special-token splitting, buffer-size contracts and every loader error path.
 * Real files: <SP_SHARED or ../shared>/models/{stories260K,TinyStories-656K}, data/tinystories. */
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h" /* white box: the SPM merge-order flag */
#include "readers/gguf.h"
#include "readers/json.h"
#include "json_write.h"
#include "check.h"
#include "files.h"
#include "tok_fixture.h"

#include <stdlib.h>
#include <string.h>

#define META "\xE2\x96\x81"

/* ---------------------------------------------------------------- small helpers */

static uint64_t rng_state;
static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t rng_below(uint32_t n) { return (uint32_t)(rng_next() % n); }

static int mem_has(const char *s, size_t n, const char *pat) {
    size_t m = strlen(pat);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(s + i, pat, m) == 0) return 1;
    return 0;
}

/* encode into a malloc'd array; NULL on error (the error is reported) */
static int32_t *enc(const sp_tokenizer *t, const char *s, size_t n, int bos, int32_t *n_out) {
    sp_error e = {0};
    int32_t need = 0;
    sp_status st = sp_tokenizer_encode(t, s, n, bos, NULL, 0, &need, &e);
    if (st != SP_OK) { CHECK_MSG(0, "encode sizing failed: %s", e.msg); return NULL; }
    int32_t *ids = (int32_t *)malloc(((size_t)need + 1) * sizeof(int32_t));
    st = sp_tokenizer_encode(t, s, n, bos, ids, need, n_out, &e);
    CHECK_MSG(st == SP_OK && *n_out == need, "encode failed: %s", e.msg);
    if (st != SP_OK) { free(ids); return NULL; }
    return ids;
}

/* decode into a malloc'd string */
static char *dec(const sp_tokenizer *t, const int32_t *ids, int32_t n, int32_t *len) {
    sp_error e = {0};
    int32_t need = 0;
    sp_tokenizer_decode(t, ids, n, NULL, 0, &need, &e);
    char *out = (char *)malloc((size_t)need + 1);
    sp_status st = sp_tokenizer_decode(t, ids, n, out, need, len, &e);
    CHECK_MSG(st == SP_OK && *len == need, "decode failed: %s", e.msg);
    out[*len] = 0;
    return out;
}

static int ids_eq(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof(int32_t)) == 0);
}

static void print_ids(const char *label, const int32_t *a, int32_t n) {
    fprintf(stderr, "  %s (%d):", label, n);
    for (int32_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", a[i]);
    fprintf(stderr, "%s\n", n > 40 ? " ..." : "");
}

/* decode(encode(s)) == expect; returns 1 when equal */
static int round_trip_to(const sp_tokenizer *t, const char *s, size_t n, const char *expect, size_t en, const char *what) {
    int32_t ni = 0, nd = 0;
    int32_t *ids = enc(t, s, n, 1, &ni);
    if (!ids) return 0;
    char *d = dec(t, ids, ni, &nd);
    int ok = (size_t)nd == en && memcmp(d, expect, en) == 0;
    CHECK_MSG(ok, "round trip (%s) of %zu bytes gave %d bytes", what, n, (int)nd);
    if (!ok && n < 200) {
        fprintf(stderr, "  in :");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %02x", (uint8_t)s[i]);
        fprintf(stderr, "\n  out:");
        for (int32_t i = 0; i < nd; i++) fprintf(stderr, " %02x", (uint8_t)d[i]);
        fprintf(stderr, "\n");
        print_ids("ids", ids, ni);
    }
    free(ids);
    free(d);
    return ok;
}
static int round_trip(const sp_tokenizer *t, const char *s, size_t n, const char *what) {
    return round_trip_to(t, s, n, s, n, what);
}

/* ---------------------------------------------------------------- naive references */

/* Strict UTF-8 by decoding the code point: length of the character at s, 0 if invalid. */
static size_t ref_utf8(const uint8_t *s, size_t n) {
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xE0) == 0xC0) { len = 2; cp = s[0] & 0x1F; }
    else if ((s[0] & 0xF0) == 0xE0) { len = 3; cp = s[0] & 0x0F; }
    else if ((s[0] & 0xF8) == 0xF0) { len = 4; cp = s[0] & 0x07; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

typedef struct { char *s; size_t n; } ref_sym;

static void ref_split_chars(const char *w, size_t n, ref_sym *sym, int *ns) {
    *ns = 0;
    for (size_t i = 0; i < n;) {
        size_t L = ref_utf8((const uint8_t *)w + i, n - i);
        if (!L) L = 1;
        sym[*ns].s = (char *)malloc(L);
        memcpy(sym[*ns].s, w + i, L);
        sym[*ns].n = L;
        (*ns)++;
        i += L;
    }
}

static void ref_merge_at(ref_sym *sym, int *ns, int i) {
    char *c = (char *)malloc(sym[i].n + sym[i + 1].n);
    memcpy(c, sym[i].s, sym[i].n);
    memcpy(c + sym[i].n, sym[i + 1].s, sym[i + 1].n);
    free(sym[i].s);
    free(sym[i + 1].s);
    sym[i].s = c;
    sym[i].n += sym[i + 1].n;
    memmove(&sym[i + 1], &sym[i + 2], (size_t)(*ns - i - 2) * sizeof(ref_sym));
    (*ns)--;
}

static int32_t ref_byte_id(const sp_tokenizer *t, uint8_t b) {
    char name[8];
    snprintf(name, sizeof(name), "<0x%02X>", b);
    return sp_tokenizer_find(t, name, 6);
}

/* llama2.c / llama.cpp SPM: ▁ prefix, spaces -> ▁, repeatedly merge the adjacent pair whose
 * concatenation is a piece with the best score (leftmost on ties); leftovers -> <0xXX>. */
static int32_t ref_spm(const sp_tokenizer *t, const char *text, size_t n, int32_t *out) {
    int32_t k = 0;
    out[k++] = t->bos_id;
    if (n == 0) return k;
    char *w = (char *)malloc(3 * n + 3);
    size_t wn = 0;
    memcpy(w, META, 3); wn = 3;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') { memcpy(w + wn, META, 3); wn += 3; }
        else w[wn++] = text[i];
    }
    ref_sym *sym = (ref_sym *)malloc(wn * sizeof(ref_sym));
    int ns;
    ref_split_chars(w, wn, sym, &ns);
    char *cat = (char *)malloc(wn);
    for (;;) {
        float best = -1e30f;
        int bi = -1;
        for (int i = 0; i + 1 < ns; i++) {
            memcpy(cat, sym[i].s, sym[i].n);
            memcpy(cat + sym[i].n, sym[i + 1].s, sym[i + 1].n);
            int32_t id = sp_tokenizer_find(t, cat, sym[i].n + sym[i + 1].n);
            if (id >= 0 && t->scores[id] > best) { best = t->scores[id]; bi = i; }
        }
        if (bi < 0) break;
        ref_merge_at(sym, &ns, bi);
    }
    for (int i = 0; i < ns; i++) {
        int32_t id = sp_tokenizer_find(t, sym[i].s, sym[i].n);
        if (id >= 0) out[k++] = id;
        else for (size_t j = 0; j < sym[i].n; j++) out[k++] = ref_byte_id(t, (uint8_t)sym[i].s[j]);
        free(sym[i].s);
    }
    free(sym); free(w); free(cat);
    return k;
}

/* An independent view of a tokenizer.json BPE model: sorted (string -> value) tables for the
 * vocab and for the merges ("a b" -> rank), read with the JSON parser only. */
typedef struct { const char *s; size_t n; int32_t v; } ref_kv;
typedef struct { ref_kv *kv; size_t n; } ref_table;
static int ref_kv_cmp(const void *a, const void *b) {
    const ref_kv *x = (const ref_kv *)a, *y = (const ref_kv *)b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, m);
    return c ? c : (x->n < y->n ? -1 : x->n > y->n);
}
static int32_t ref_get(const ref_table *t, const char *s, size_t n) {
    ref_kv key = {s, n, 0};
    ref_kv *r = (ref_kv *)bsearch(&key, t->kv, t->n, sizeof(ref_kv), ref_kv_cmp);
    return r ? r->v : -1;
}
typedef struct { ref_table vocab, merges; sp_arena a; int32_t bos; } ref_bpe;

static int ref_bpe_load(ref_bpe *r, const char *json, size_t len) {
    sp_arena_init(&r->a, 0);
    sp_error e = {0};
    sp_json *root = sp_json_parse(&r->a, json, len, &e);
    if (!root) return 0;
    const sp_json *model = sp_json_get(root, "model"), *v = sp_json_get(model, "vocab"), *m = sp_json_get(model, "merges");
    r->vocab.n = v->len;
    r->vocab.kv = (ref_kv *)sp_arena_alloc(&r->a, v->len * sizeof(ref_kv));
    for (size_t i = 0; i < v->len; i++) {
        r->vocab.kv[i].s = v->items[i].key; r->vocab.kv[i].n = v->items[i].key_len; r->vocab.kv[i].v = (int32_t)v->items[i].number;
    }
    qsort(r->vocab.kv, r->vocab.n, sizeof(ref_kv), ref_kv_cmp);
    r->merges.n = m->len;
    r->merges.kv = (ref_kv *)sp_arena_alloc(&r->a, m->len * sizeof(ref_kv));
    for (size_t i = 0; i < m->len; i++) {
        const sp_json *it = &m->items[i];
        if (it->type == SP_JSON_STRING) { r->merges.kv[i].s = it->str; r->merges.kv[i].n = it->len; }
        else {
            size_t a = it->items[0].len, b = it->items[1].len;
            char *s = (char *)sp_arena_alloc(&r->a, a + b + 1);
            memcpy(s, it->items[0].str, a); s[a] = ' '; memcpy(s + a + 1, it->items[1].str, b);
            r->merges.kv[i].s = s; r->merges.kv[i].n = a + b + 1;
        }
        r->merges.kv[i].v = (int32_t)i;
    }
    qsort(r->merges.kv, r->merges.n, sizeof(ref_kv), ref_kv_cmp);
    r->bos = 1;
    return 1;
}

/* HF BPE of one word: chars (byte fallback to <0xXX> strings, else fused <unk>), then merge the
 * adjacent pair with the lowest rank (leftmost on ties) until none is left. */
static int32_t ref_bpe_word(const ref_bpe *r, const char *w, size_t n, int32_t *out) {
    ref_sym *sym = (ref_sym *)malloc((n + 1) * sizeof(ref_sym));
    int ns = 0, last_unk = 0;
    for (size_t i = 0; i < n;) {
        size_t L = ref_utf8((const uint8_t *)w + i, n - i);
        if (!L) L = 1;
        if (ref_get(&r->vocab, w + i, L) >= 0) {
            sym[ns].s = (char *)malloc(L); memcpy(sym[ns].s, w + i, L); sym[ns].n = L; ns++; last_unk = 0;
        } else {
            int all = 1;
            char name[8];
            for (size_t j = 0; j < L; j++) { snprintf(name, 8, "<0x%02X>", (uint8_t)w[i + j]); all &= ref_get(&r->vocab, name, 6) >= 0; }
            if (all) {
                for (size_t j = 0; j < L; j++) {
                    sym[ns].s = (char *)malloc(8);
                    snprintf(sym[ns].s, 8, "<0x%02X>", (uint8_t)w[i + j]);
                    sym[ns].n = 6; ns++;
                }
                last_unk = 0;
            } else if (!last_unk) {
                sym[ns].s = (char *)malloc(5); memcpy(sym[ns].s, "<unk>", 5); sym[ns].n = 5; ns++; last_unk = 1;
            }
        }
        i += L;
    }
    char *key = (char *)malloc(16 * n + 64);
    for (;;) {
        int32_t best = INT32_MAX;
        int bi = -1;
        for (int i = 0; i + 1 < ns; i++) {
            memcpy(key, sym[i].s, sym[i].n); key[sym[i].n] = ' ';
            memcpy(key + sym[i].n + 1, sym[i + 1].s, sym[i + 1].n);
            int32_t rank = ref_get(&r->merges, key, sym[i].n + 1 + sym[i + 1].n);
            if (rank >= 0 && rank < best) { best = rank; bi = i; }
        }
        if (bi < 0) break;
        ref_merge_at(sym, &ns, bi);
    }
    int32_t k = 0;
    for (int i = 0; i < ns; i++) { out[k++] = ref_get(&r->vocab, sym[i].s, sym[i].n); free(sym[i].s); }
    free(sym); free(key);
    return k;
}

/* Prepend ▁ / spaces -> ▁ normalizer, BOS template (texts without special tokens) */
static int32_t ref_bpe_encode(const ref_bpe *r, const char *text, size_t n, int32_t *out) {
    int32_t k = 0;
    out[k++] = r->bos;
    if (n == 0) return k;
    char *w = (char *)malloc(3 * n + 3);
    size_t wn = 3;
    memcpy(w, META, 3);
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') { memcpy(w + wn, META, 3); wn += 3; }
        else w[wn++] = text[i];
    }
    k += ref_bpe_word(r, w, wn, out + k);
    free(w);
    return k;
}

/* ---------------------------------------------------------------- fixtures */

static unsigned char *g_val;   /* tinystories_val.txt */
static size_t g_val_len;

/* round-trip strings every tokenizer with byte fallback must reproduce exactly */
static const struct { const char *s; size_t n; } g_cases[] = {
#define C(x) {x, sizeof(x) - 1}
    C(""), C(" "), C("   "), C("  leading and trailing  "), C("a  b   c"), C("\n"), C("\n\nOnce\tupon\r\n"),
    C("Hello world"), C("hello, world! the end."),
    C("\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"),               /* 😀👍🏽 */
    C("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"), /* ZWJ family */
    C("\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C"),               /* 你好世界 */
    C("e\xCC\x81 a\xCC\x8A\xCC\x81"),                                     /* combining marks */
    C("\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 caf\xC3\xA9"),
    C("a\0b\0\0c"), C("\0"),
    C("\xFF"), C("\xC3\x28"), C("\xE2\x82"), C("\xED\xA0\x80"), C("\xC0\xAF"), C("\xF4\x90\x80\x80"), C("\x80\x80 \xBF"),
    C("end \xF0\x9F\x98"), C("\xF5\xF6\xF7\xF8\xF9\xFA\xFB\xFC\xFD\xFE\xFF"), C("\xE2\x96"), C("x\xE2\x96 y"),
#undef C
};
#define N_CASES ((int)(sizeof(g_cases) / sizeof(g_cases[0])))

/* random bytes, or random mixes of ASCII words, multi-byte chars and invalid bytes; never a
 * special token's text or U+2581 (those do not round-trip by design, see the report) */
static size_t random_text(char *buf, size_t cap, int mode) {
    static const char *parts[] = {"the ", "hello", " ", "  ", "a", "and", "world", "\xC3\xA9", "\xF0\x9F\x98\x80",
                                  "\xE4\xBD\xA0", "\xFF", "\xC3", "\x80", "\n", "\0", "tt", "aaaaa", "d ", "e "};
    size_t n = 0;
    for (;;) {
        n = 0;
        size_t target = rng_below((uint32_t)cap);
        if (mode == 0) {
            while (n < target) buf[n++] = (char)rng_below(256);
        } else {
            while (n < target) {
                const char *p = parts[rng_below(sizeof(parts) / sizeof(parts[0]))];
                size_t L = p[0] ? strlen(p) : 1;
                if (n + L > cap) break;
                memcpy(buf + n, p, L);
                n += L;
            }
        }
        if (!mem_has(buf, n, META) && !mem_has(buf, n, "<s>") && !mem_has(buf, n, "</s>") && !mem_has(buf, n, "<unk>")) return n;
    }
}

/* ---------------------------------------------------------------- stories260K (SPM from GGUF) */

static void test_stories260k(void) {
    size_t gsz = 0, jsz = 0;
    unsigned char *gbuf = test_read_shared("models/stories260K/stories260K.gguf", &gsz);
    unsigned char *jbuf = test_read_shared("models/stories260K/expected_greedy.json", &jsz);
    if (!gbuf || !jbuf) { free(gbuf); free(jbuf); return; }
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_gguf g;
    sp_tokenizer t;
    CHECK_MSG(sp_gguf_parse(&g, gbuf, gsz, &a, &e) == SP_OK, "%s", e.msg);
    sp_status st = sp_tokenizer_from_gguf(&t, &g, &a, &e);
    CHECK_MSG(st == SP_OK, "%s", e.msg);
    if (st) goto done;
    free(gbuf); gbuf = NULL; /* pieces are copied into the arena */
    CHECK(t.kind == SP_TOK_SPM && t.vocab_size == 512);
    CHECK(t.bos_id == 1 && t.eos_id == 2 && t.unk_id == 0 && t.pad_id == -1);
    CHECK(t.add_bos == 1 && t.add_space_prefix == 1 && t.priv->spm_rank_by_id == 0);
    for (int b = 0; b < 256; b++) CHECK(t.byte_ids[b] == 3 + b);
    CHECK(sp_tokenizer_find(&t, META "Once", 7) == 403);
    CHECK(sp_tokenizer_find(&t, "nope-not-a-piece", 16) == -1);
    CHECK(sp_tokenizer_find(&t, "<0x0A>", 6) == 13);
    {
        int32_t mx = 0;
        for (int i = 0; i < t.vocab_size; i++) if ((int32_t)t.pieces[i].len > mx) mx = (int32_t)t.pieces[i].len;
        CHECK(t.max_piece_len == mx && mx > 0);
    }

    /* golden prompt */
    {
        const int32_t want[] = {1, 403, 407, 261, 378};
        int32_t n = 0, *ids = enc(&t, "Once upon a time", 16, 1, &n);
        CHECK_MSG(ids && ids_eq(ids, n, want, 5), "stories260K prompt ids");
        if (ids && !ids_eq(ids, n, want, 5)) print_ids("got", ids, n);
        free(ids);
        ids = enc(&t, "Once upon a time", 16, 0, &n);
        CHECK(ids && ids_eq(ids, n, want + 1, 4));
        free(ids);
    }

    /* golden continuation: run.c prints the pieces after prev = 378 */
    sp_json *root = sp_json_parse(&a, (const char *)jbuf, jsz, &e);
    CHECK_MSG(root != NULL, "%s", e.msg);
    const sp_json *gr = sp_json_get(root, "greedy_64");
    const sp_json *gen = sp_json_get(gr, "generated_ids");
    const char *stdout_s = sp_json_string(gr, "stdout", NULL);
    CHECK(gen && gen->type == SP_JSON_ARRAY && gen->len == 60 && stdout_s);
    if (gen && stdout_s) {
        size_t sl = strlen(stdout_s);
        CHECK(sl > 17 && memcmp(stdout_s, "Once upon a time", 16) == 0 && stdout_s[sl - 1] == '\n');
        const char *want = stdout_s + 16;
        size_t wn = sl - 16 - 1;
        char buf[4096];
        size_t n = 0;
        int32_t prev = 378;
        int32_t all[80] = {1, 403, 407, 261, 378};
        for (size_t i = 0; i < gen->len; i++) {
            int32_t id = (int32_t)gen->items[i].number;
            all[5 + i] = id;
            int32_t k = sp_tokenizer_piece(&t, prev, id, buf + n, (int32_t)(sizeof(buf) - n));
            CHECK(k >= 0 && k <= t.max_piece_len);
            if (k > 0) n += (size_t)k;
            prev = id;
        }
        CHECK_MSG(n == wn && memcmp(buf, want, wn) == 0, "continuation: got '%.*s'", (int)n, buf);
        /* the whole sequence decodes to run.c's stdout minus its final newline */
        int32_t dn = 0;
        char *d = dec(&t, all, 5 + (int32_t)gen->len, &dn);
        CHECK_MSG((size_t)dn == sl - 1 && memcmp(d, stdout_s, sl - 1) == 0, "full decode: '%s'", d);
        free(d);
    }

    /* piece semantics: BOS/EOS give nothing, the prefix space is dropped only after BOS / at the start */
    {
        char b[64];
        CHECK(sp_tokenizer_piece(&t, -1, 1, b, 64) == 0 && sp_tokenizer_piece(&t, 5, 2, b, 64) == 0);
        CHECK(sp_tokenizer_piece(&t, 1, 403, b, 64) == 4 && memcmp(b, "Once", 4) == 0);
        CHECK(sp_tokenizer_piece(&t, -1, 403, b, 64) == 4 && memcmp(b, "Once", 4) == 0);
        CHECK(sp_tokenizer_piece(&t, 378, 403, b, 64) == 5 && memcmp(b, " Once", 5) == 0);
        CHECK(sp_tokenizer_piece(&t, 378, 13, b, 64) == 1 && b[0] == '\n');
        CHECK(sp_tokenizer_piece(&t, 378, 3 + 0xFF, b, 64) == 1 && (uint8_t)b[0] == 0xFF);
        CHECK(sp_tokenizer_piece(&t, 378, 403, b, 2) == 5 && memcmp(b, " O", 2) == 0); /* truncated, full length */
        CHECK(sp_tokenizer_piece(&t, 378, 403, NULL, 0) == 5);
        CHECK(sp_tokenizer_piece(&t, -1, 512, b, 64) == -1 && sp_tokenizer_piece(&t, -1, -1, b, 64) == -1);
        CHECK(sp_tokenizer_piece(&t, -1, 0, b, 64) == 5 && memcmp(b, "<unk>", 5) == 0);
    }

    /* buffer contracts */
    {
        int32_t ids[2] = {0, 0}, n = -1;
        st = sp_tokenizer_encode(&t, "Once upon a time", 16, 1, ids, 2, &n, &e);
        CHECK(st == SP_OK && n == 5 && ids[0] == 1 && ids[1] == 403); /* too small: not an error, needed count */
        const int32_t seq[] = {1, 403, 407};
        char out[4];
        int32_t ol = -1;
        st = sp_tokenizer_decode(&t, seq, 3, out, 4, &ol, &e);
        CHECK(st == SP_OK && ol == 9 && memcmp(out, "Once", 4) == 0); /* too small: not an error, needed length */
        const int32_t bad[] = {1, 9999};
        st = sp_tokenizer_decode(&t, bad, 2, out, 4, &ol, &e);
        CHECK(st == SP_ERR_INVALID_ARG && strstr(e.msg, "9999"));
        st = sp_tokenizer_encode(&t, NULL, 5, 1, ids, 2, &n, &e);
        CHECK(st == SP_ERR_INVALID_ARG);
        st = sp_tokenizer_encode(&t, "", 0, 1, ids, 2, &n, &e);
        CHECK(st == SP_OK && n == 1 && ids[0] == 1);
        st = sp_tokenizer_encode(&t, "", 0, 0, NULL, 0, &n, &e);
        CHECK(st == SP_OK && n == 0);
    }

    /* special pieces in the text (llama.cpp parse_special): "<s>" is split out, and the text
     * after it gets its own ▁ prefix */
    {
        int32_t n = 0, *ids = enc(&t, "a<s>b", 5, 1, &n);
        int32_t n1 = 0, *ia = enc(&t, "a", 1, 1, &n1), n2 = 0, *ib = enc(&t, "b", 1, 0, &n2);
        if (ids && ia && ib) {
            CHECK(n == n1 + 1 + n2 && ids_eq(ids, n1, ia, n1) && ids[n1] == 1 && ids_eq(ids + n1 + 1, n2, ib, n2));
            int32_t dn = 0;
            char *d = dec(&t, ids, n, &dn);
            CHECK(dn == 2 && memcmp(d, "ab", 2) == 0);
            free(d);
        }
        free(ids); free(ia); free(ib);
    }

    /* the naive llama2.c loop on real text chunks and random strings */
    if (g_val) {
        int32_t *ra = (int32_t *)malloc(4096 * sizeof(int32_t));
        int mism = 0;
        for (int c = 0; c < 120; c++) {
            size_t off = rng_below((uint32_t)(g_val_len - 400)), len = 1 + rng_below(300);
            int32_t n = 0, *ids = enc(&t, (const char *)g_val + off, len, 1, &n);
            int32_t rn = ref_spm(&t, (const char *)g_val + off, len, ra);
            if (!ids || !ids_eq(ids, n, ra, rn)) mism++;
            free(ids);
        }
        CHECK_MSG(mism == 0, "SPM differs from the naive loop on %d/120 TinyStories chunks", mism);
        mism = 0;
        char buf[256];
        for (int c = 0; c < 300; c++) {
            size_t len = random_text(buf, sizeof(buf), c & 1);
            int32_t n = 0, *ids = enc(&t, buf, len, 1, &n);
            int32_t rn = ref_spm(&t, buf, len, ra);
            if (!ids || !ids_eq(ids, n, ra, rn)) {
                if (!mism++ && ids) { print_ids("got", ids, n); print_ids("ref", ra, rn); }
            }
            free(ids);
        }
        CHECK_MSG(mism == 0, "SPM differs from the naive loop on %d/300 random strings", mism);
        free(ra);
    }

    /* round trips */
    for (int i = 0; i < N_CASES; i++) round_trip(&t, g_cases[i].s, g_cases[i].n, "stories260K case");
    {
        char buf[512];
        int bad = 0;
        for (int c = 0; c < 600 && bad < 3; c++) {
            size_t len = random_text(buf, sizeof(buf), c % 2);
            if (!round_trip(&t, buf, len, "stories260K random")) bad++;
        }
    }
    if (g_val) {
        size_t n100 = g_val_len < 100000 ? g_val_len : 100000;
        round_trip(&t, (const char *)g_val, n100, "stories260K 100 KB");
        int32_t n = 0, *ids = enc(&t, (const char *)g_val, n100, 1, &n);
        CHECK(ids && n > 10000 && n < 60000);
        free(ids);
    }
    /* long runs that stress the heap: one character repeated, spaces only */
    {
        size_t L = 20000;
        char *s = (char *)malloc(L);
        memset(s, 'a', L);
        round_trip(&t, s, L, "aaaa...");
        memset(s, ' ', L);
        round_trip(&t, s, L, "spaces");
        free(s);
    }
done:
    free(gbuf);
    free(jbuf);
    sp_arena_free(&a);
}

/* ---------------------------------------------------------------- TinyStories-656K (HF BPE + GGUF) */

static void test_tinystories(void) {
    size_t tsz = 0, jsz = 0, gsz = 0;
    unsigned char *tj = test_read_shared("models/TinyStories-656K/tokenizer.json", &tsz);
    unsigned char *ej = test_read_shared("models/TinyStories-656K/expected_greedy.json", &jsz);
    unsigned char *gb = test_read_shared("models/TinyStories-656K/TinyStories-656K-Q8_0.gguf", &gsz);
    if (!tj || !ej || !gb) { free(tj); free(ej); free(gb); return; }
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_tokenizer t, tg;
    sp_gguf g;
    sp_status st = sp_tokenizer_from_hf_json(&t, (const char *)tj, tsz, &a, &e);
    CHECK_MSG(st == SP_OK, "%s", e.msg);
    CHECK_MSG(sp_gguf_parse(&g, gb, gsz, &a, &e) == SP_OK, "%s", e.msg);
    sp_status st2 = sp_tokenizer_from_gguf(&tg, &g, &a, &e);
    CHECK_MSG(st2 == SP_OK, "%s", e.msg);
    if (st || st2) goto done;
    CHECK(t.kind == SP_TOK_BPE && t.vocab_size == 2048 && tg.vocab_size == 2048);
    CHECK(t.bos_id == 1 && t.eos_id == 2 && t.unk_id == 0 && t.add_bos == 1 && t.add_space_prefix == 1);
    CHECK(t.types[1] == 3 && t.types[2] == 3 && t.types[0] == 2 && t.types[80] == 1);
    CHECK(sp_tokenizer_find(&t, "upon" META "a" META "tim", 14) == 282);
    for (int i = 0; i < 2048; i++)
        CHECK(t.pieces[i].len == tg.pieces[i].len && memcmp(t.pieces[i].ptr, tg.pieces[i].ptr, (size_t)t.pieces[i].len) == 0);

    sp_json *root = sp_json_parse(&a, (const char *)ej, jsz, &e);
    CHECK_MSG(root != NULL, "%s", e.msg);
    const char *prompts[2] = {"Once upon a time", "Hello"};
    const int32_t want0[] = {1, 80, 147, 201, 282, 57}, want1[] = {1, 80, 1288, 67};
    const int32_t *wants[2] = {want0, want1};
    const int32_t wantn[2] = {6, 4};
    for (int p = 0; p < 2; p++) {
        const sp_json *pr = sp_json_get(root, prompts[p]);
        const sp_json *pids = sp_json_get(pr, "prompt_ids");
        CHECK(pids && (int32_t)pids->len == wantn[p]);
        for (int32_t i = 0; pids && i < wantn[p] && i < (int32_t)pids->len; i++) CHECK((int32_t)pids->items[i].number == wants[p][i]);
        int32_t n = 0, *ids = enc(&t, prompts[p], strlen(prompts[p]), 1, &n);
        CHECK_MSG(ids && ids_eq(ids, n, wants[p], wantn[p]), "tokenizer.json prompt '%s'", prompts[p]);
        free(ids);
        /* the GGUF copy: no merges and every score -1000; merging by id (what the loader does when
         * all scores are equal) gives the BPE ids (llama.cpp's leftmost-first gives the same ids for
         * these two prompts but not for longer text, see below) */
        ids = enc(&tg, prompts[p], strlen(prompts[p]), 1, &n);
        CHECK_MSG(ids && ids_eq(ids, n, wants[p], wantn[p]), "GGUF prompt '%s'", prompts[p]);
        free(ids);
        /* greedy continuations decode to the recorded text (decoded alone, as HF does: the one
         * leading space of the first piece is stripped) */
        const char *keys[2][2] = {{"f32_greedy_new_ids_64", "f32_greedy_text_64"}, {"q8_0_greedy_new_ids_32", "q8_0_greedy_text_32"}};
        for (int k = 0; k < 2; k++) {
            const sp_json *gi = sp_json_get(pr, keys[k][0]);
            const char *want = sp_json_string(pr, keys[k][1], NULL);
            CHECK(gi && gi->type == SP_JSON_ARRAY && want);
            if (!gi || !want) continue;
            int32_t gids[128], gn = (int32_t)gi->len;
            for (int32_t i = 0; i < gn && i < 128; i++) gids[i] = (int32_t)gi->items[i].number;
            int32_t dn = 0;
            char *d = dec(&t, gids, gn, &dn);
            CHECK_MSG((size_t)dn == strlen(want) && memcmp(d, want, (size_t)dn) == 0, "%s %s: '%s'", prompts[p], keys[k][1], d);
            free(d);
            d = dec(&tg, gids, gn, &dn); /* the GGUF vocab decodes the same */
            CHECK((size_t)dn == strlen(want) && memcmp(d, want, (size_t)dn) == 0);
            free(d);
            /* streamed after the prompt (prev = last prompt id), llama.cpp keeps that space */
            char buf[2048];
            int32_t bn = 0, prev = wants[p][wantn[p] - 1];
            for (int32_t i = 0; i < gn; i++) {
                int32_t kk = sp_tokenizer_piece(&t, prev, gids[i], buf + bn, (int32_t)sizeof(buf) - bn);
                CHECK(kk >= 0);
                bn += kk;
                prev = gids[i];
            }
            int lead = (gids[0] == 100); /* "▁and▁" after "o" */
            CHECK(bn == dn + lead && (!lead || buf[0] == ' ') && memcmp(buf + lead, want, (size_t)dn) == 0);
        }
    }

    /* special tokens: HF normalizes the normalized=true added tokens too, so the pattern is
     * "▁<|end_story|>" (Prepend) and it matches after a space, swallowing it */
    {
        const int32_t w1[] = {1, 80, 1288, 67, 2};
        int32_t n = 0, *ids = enc(&t, "Hello <|end_story|>", 19, 1, &n);
        CHECK(ids && ids_eq(ids, n, w1, 5));
        free(ids);
        ids = enc(&t, "<|start_story|>Once", 19, 1, &n);
        ref_bpe r;
        CHECK(ref_bpe_load(&r, (const char *)tj, tsz));
        int32_t ref[64], rn = ref_bpe_word(&r, "Once", 4, ref);
        CHECK(ids && n == 2 + rn && ids[0] == 1 && ids[1] == 1 && ids_eq(ids + 2, rn, ref, rn));
        free(ids);
        sp_arena_free(&r.a);
        /* no byte pieces in this vocab: unknown characters become one fused <unk> */
        const int32_t w2[] = {1, 80, 0, 76};
        ids = enc(&t, "\xF0\x9F\x98\x80\xF0\x9F\x98\x80x", 9, 1, &n);
        CHECK(ids && ids_eq(ids, n, w2, 4));
        int32_t dn = 0;
        char *d = ids ? dec(&t, ids, n, &dn) : NULL;
        CHECK(d && dn == 6 && memcmp(d, "<unk>x", 6) == 0);
        free(d);
        free(ids);
    }

    /* the naive rank-merge loop on real text chunks and random strings over the vocab's characters */
    if (g_val) {
        ref_bpe r;
        CHECK(ref_bpe_load(&r, (const char *)tj, tsz));
        int32_t *ra = (int32_t *)malloc(4096 * sizeof(int32_t));
        int mism = 0;
        for (int c = 0; c < 150; c++) {
            size_t off = rng_below((uint32_t)(g_val_len - 400)), len = rng_below(300);
            int32_t n = 0, *ids = enc(&t, (const char *)g_val + off, len, 1, &n);
            int32_t rn = ref_bpe_encode(&r, (const char *)g_val + off, len, ra);
            if (!ids || !ids_eq(ids, n, ra, rn)) {
                if (!mism++ && ids) { print_ids("got", ids, n); print_ids("ref", ra, rn); }
            }
            free(ids);
        }
        CHECK_MSG(mism == 0, "BPE differs from the naive loop on %d/150 chunks", mism);
        static const char alpha[] = "abcdehilnorstuyTO .,!\"'\n";
        char buf[300];
        mism = 0;
        for (int c = 0; c < 200; c++) {
            size_t len = rng_below(sizeof(buf));
            for (size_t i = 0; i < len; i++) buf[i] = alpha[rng_below(sizeof(alpha) - 1)];
            int32_t n = 0, *ids = enc(&t, buf, len, 1, &n);
            int32_t rn = ref_bpe_encode(&r, buf, len, ra);
            if (!ids || !ids_eq(ids, n, ra, rn)) mism++;
            if (ids) round_trip(&t, buf, len, "TinyStories random");
            free(ids);
        }
        CHECK_MSG(mism == 0, "BPE differs from the naive loop on %d/200 random strings", mism);
        free(ra);
        sp_arena_free(&r.a);

        /* 100 KB round trip through the json tokenizer (every character of it is in the vocab) */
        size_t n100 = g_val_len < 100000 ? g_val_len : 100000;
        round_trip(&t, (const char *)g_val, n100, "TinyStories json 100 KB");
        /* the GGUF tokenizer (SPM merging by id) equals the tokenizer.json BPE (merging by rank) */
        int32_t na = 0, nb = 0, *ia = enc(&t, (const char *)g_val, n100, 1, &na), *ib = enc(&tg, (const char *)g_val, n100, 1, &nb);
        CHECK_MSG(ia && ib && ids_eq(ia, na, ib, nb), "TinyStories 100 KB: json %d ids, GGUF %d ids", na, nb);
        free(ia); free(ib);
        int diff = 0;
        for (int c = 0; c < 100; c++) {
            size_t off = rng_below((uint32_t)(g_val_len - 400)), len = rng_below(300);
            ia = enc(&t, (const char *)g_val + off, len, 1, &na);
            ib = enc(&tg, (const char *)g_val + off, len, 1, &nb);
            if (!(ia && ib && ids_eq(ia, na, ib, nb))) {
                if (!diff++) { fprintf(stderr, "  text '%.*s'\n", (int)len, (const char *)g_val + off); print_ids("json", ia, na); print_ids("gguf", ib, nb); }
            }
            free(ia); free(ib);
        }
        CHECK_MSG(diff == 0, "GGUF and json tokenizers differ on %d/100 chunks", diff);
        /* llama.cpp's rule (best score, leftmost on ties) on the constant scores: the prompts agree,
         * longer text does not (about 1.06x more ids) */
        CHECK(tg.priv->spm_rank_by_id == 1);
        tg.priv->spm_rank_by_id = 0;
        for (int p = 0; p < 2; p++) {
            ia = enc(&tg, prompts[p], strlen(prompts[p]), 1, &na);
            CHECK(ia && ids_eq(ia, na, wants[p], wantn[p]));
            free(ia);
        }
        ia = enc(&tg, (const char *)g_val, n100, 1, &na);
        CHECK(ia && na > nb + nb / 50);
        free(ia);
        tg.priv->spm_rank_by_id = 1;
        round_trip(&tg, (const char *)g_val, n100, "TinyStories GGUF 100 KB");
    }
done:
    free(tj); free(ej); free(gb);
    sp_arena_free(&a);
}

/* ---------------------------------------------------------------- the embedded fixture */

static void test_fixture(void) {
    sp_buf b = {0};
    fix_build_json(&b, 0);
    CHECK(!b.failed);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_tokenizer t;
    sp_status st = sp_tokenizer_from_hf_json(&t, b.data, b.len, &a, &e);
    CHECK_MSG(st == SP_OK, "%s", e.msg);
    if (st) { sp_buf_free(&b); sp_arena_free(&a); return; }
    CHECK(t.vocab_size == FIX_SEP_ID + 1 && t.bos_id == 1 && t.eos_id == 2 && t.unk_id == 0 && t.add_bos && t.add_space_prefix);
    CHECK(t.types[FIX_SEP_ID] == 4 && t.types[FIX_SEP_ID - 1] == 5 && t.types[3] == 6 && t.types[1] == 3);
    for (int i = 0; i < 256; i++) CHECK(t.byte_ids[i] == 3 + i);
    int32_t id_the = sp_tokenizer_find(&t, META "the", 6), id_world = sp_tokenizer_find(&t, META "world", 8);
    int32_t id_hello = sp_tokenizer_find(&t, "hello", 5), id_h = sp_tokenizer_find(&t, META "h", 4);
    CHECK(id_the > 0 && id_world > 0 && id_hello > 0 && id_h > 0);
    {
        /* "▁hello▁world": ▁h (rank 17) loses to h e (1), he ll (5), hell o (6); then ▁ + hello has no merge */
        const int32_t want[] = {1, FIX_FIRST_CHAR, id_hello, id_world};
        int32_t n = 0, *ids = enc(&t, "hello world", 11, 1, &n);
        CHECK(ids && ids_eq(ids, n, want, 4));
        if (ids && !ids_eq(ids, n, want, 4)) print_ids("got", ids, n);
        free(ids);
        /* <sep> (normalized: false) is split out of the raw text first; each remaining piece is then
         * normalized on its own, so the Prepend step gives both a ▁ (as HF does) */
        ids = enc(&t, "the<sep>the", 11, 0, &n);
        const int32_t want2[] = {id_the, FIX_SEP_ID, id_the};
        CHECK(ids && ids_eq(ids, n, want2, 3));
        free(ids);
        round_trip_to(&t, "x<sep>y", 7, "x<sep> y", 8, "fixture <sep>"); /* user-defined: decodes to itself */
        /* byte fallback for ü (not in the vocab) */
        ids = enc(&t, "\xC3\xBC", 2, 0, &n);
        const int32_t want3[] = {FIX_FIRST_CHAR, 3 + 0xC3, 3 + 0xBC};
        CHECK(ids && ids_eq(ids, n, want3, 3));
        free(ids);
    }
    ref_bpe r;
    CHECK(ref_bpe_load(&r, b.data, b.len));
    int32_t *ra = (int32_t *)malloc(8192 * sizeof(int32_t));
    for (int i = 0; i < N_CASES; i++) round_trip(&t, g_cases[i].s, g_cases[i].n, "fixture case");
    char buf[512];
    int bad = 0, mism = 0;
    for (int c = 0; c < 800 && bad < 3; c++) {
        size_t len = random_text(buf, sizeof(buf), c % 2);
        if (mem_has(buf, len, "<sep>")) continue;
        if (!round_trip(&t, buf, len, "fixture random")) bad++;
        int32_t n = 0, *ids = enc(&t, buf, len, 1, &n);
        int32_t rn = ref_bpe_encode(&r, buf, len, ra);
        if (!ids || !ids_eq(ids, n, ra, rn)) {
            if (!mism++ && ids) { print_ids("got", ids, n); print_ids("ref", ra, rn); }
        }
        free(ids);
    }
    CHECK_MSG(mism == 0, "fixture BPE differs from the naive loop on %d strings", mism);
    if (g_val) round_trip(&t, (const char *)g_val, g_val_len < 100000 ? g_val_len : 100000, "fixture 100 KB");
    free(ra);
    sp_arena_free(&r.a);
    sp_buf_free(&b);

    /* Metaspace variant: words split before each ▁, prepend only at the start, and (as in HF)
     * no prefix when the text already starts with a space, so that leading space is lost */
    sp_buf b2 = {0};
    fix_build_json(&b2, 1);
    sp_tokenizer tm;
    st = sp_tokenizer_from_hf_json(&tm, b2.data, b2.len, &a, &e);
    CHECK_MSG(st == SP_OK, "%s", e.msg);
    if (st == SP_OK) {
        CHECK(tm.add_space_prefix == 1);
        /* merges cannot cross words: BPE("▁de") + BPE("▁d"), while the normalizer variant
         * merges "e▁" across the space */
        ref_bpe r2;
        CHECK(ref_bpe_load(&r2, b2.data, b2.len));
        int32_t want[32], wn = ref_bpe_word(&r2, META "de", 5, want);
        wn += ref_bpe_word(&r2, META "d", 4, want + wn);
        sp_arena_free(&r2.a);
        int32_t n = 0, *ids = enc(&tm, "de d", 4, 0, &n);
        CHECK(ids && ids_eq(ids, n, want, wn) && wn == 5);
        free(ids);
        int32_t nt = 0, *it = enc(&t, "de d", 4, 0, &nt);
        CHECK(it && nt == 4 && it[2] == sp_tokenizer_find(&t, "e" META, 4));
        free(it);
        round_trip(&tm, "hello  world \xF0\x9F\x98\x80 ", 18, "metaspace");
        round_trip_to(&tm, " x", 2, "x", 1, "metaspace leading space");
        ids = enc(&tm, "x<sep>y", 7, 0, &n); /* after a split-out token: no prefix (scheme "first") */
        const int32_t w2[] = {FIX_FIRST_CHAR, 3 + 'x', FIX_SEP_ID, 3 + 'y'};
        CHECK(ids && ids_eq(ids, n, w2, 4));
        free(ids);
    }
    sp_buf_free(&b2);
    sp_arena_free(&a);
}

/* ---------------------------------------------------------------- loader errors */

static void expect_json_code(const char *doc, sp_status code, const char *want) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_tokenizer t;
    sp_status st = sp_tokenizer_from_hf_json(&t, doc, strlen(doc), &a, &e);
    CHECK_MSG(st == code, "doc %s: status %d, want %d", doc, st, code);
    CHECK_MSG(strstr(e.msg, want) != NULL && strncmp(e.msg, "tokenizer.json: ", 16) == 0, "doc %s: msg '%s' lacks '%s'", doc, e.msg, want);
    sp_arena_free(&a);
}

/* malformed: SP_ERR_TOKENIZER; well-formed but not covered: SP_ERR_UNSUPPORTED naming the JSON path */
static void expect_json_error(const char *doc, const char *want) { expect_json_code(doc, SP_ERR_TOKENIZER, want); }
static void expect_json_unsupported(const char *doc, const char *want) { expect_json_code(doc, SP_ERR_UNSUPPORTED, want); }

static void test_json_errors(void) {
#define V "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2}"
    expect_json_error("not json", "line 1");
    expect_json_error("[]", "not an object");
    expect_json_error("{}", "model is missing");
    expect_json_unsupported("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}", "model.type 'WordPiece' is not supported");
    expect_json_unsupported("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", "model.type 'Unigram' is not supported");
    expect_json_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", "model.vocab must be a non-empty object");
    expect_json_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1}}}", "model.vocab['a'] is not a valid id");
    expect_json_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1.5}}}", "model.vocab['a'] is not a valid id");
    expect_json_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0}}}", "id 0 is used twice");
    expect_json_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":5000}}}", "gap too large");
    expect_json_error("{\"model\":{\"type\":\"BPE\"," V ",\"merges\":[\"a c\"]}}", "model.merges[0]: piece 'c' is not in the vocab");
    expect_json_error("{\"model\":{\"type\":\"BPE\"," V ",\"merges\":[\"ab\"]}}", "model.merges[0] 'ab' is not two pieces");
    expect_json_error("{\"model\":{\"type\":\"BPE\"," V ",\"merges\":[\"a b\",\"b a\"]}}", "model.merges[1]: merged piece 'ba'");
    expect_json_error("{\"model\":{\"type\":\"BPE\"," V ",\"merges\":[[\"a\"]]}}", "model.merges[0] must be");
    expect_json_unsupported("{\"model\":{\"type\":\"BPE\"," V ",\"dropout\":0.1}}", "model.dropout");
    expect_json_unsupported("{\"model\":{\"type\":\"BPE\"," V ",\"continuing_subword_prefix\":\"##\"}}", "continuing_subword_prefix");
    expect_json_error("{\"model\":{\"type\":\"BPE\"," V ",\"unk_token\":\"<unk>\"}}", "model.unk_token '<unk>' is not in the vocab");
    expect_json_error("{\"model\":{\"type\":\"BPE\"," V ",\"byte_fallback\":\"yes\"}}", "model.byte_fallback must be a boolean");
    expect_json_unsupported("{\"normalizer\":{\"type\":\"NFKC\"},\"model\":{\"type\":\"BPE\"," V "}}", "normalizer.type 'NFKC' is not supported");
    expect_json_unsupported("{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\" \"}]},"
                            "\"model\":{\"type\":\"BPE\"," V "}}", "normalizer.normalizers[1].pattern: a Regex Replace");
    expect_json_unsupported("{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\"},{\"type\":\"Whitespace\"}]},"
                            "\"model\":{\"type\":\"BPE\"," V "}}", "pre_tokenizer.pretokenizers[1].type 'Whitespace' is not supported");
    expect_json_unsupported("{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?<=a)b\"},\"behavior\":\"Isolated\"},"
                            "\"model\":{\"type\":\"BPE\"," V "}}", "pre_tokenizer.pattern.Regex: regex /(?<=a)b/ uses a group kind");
    expect_json_unsupported("{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"a\"},\"behavior\":\"Sideways\"},"
                            "\"model\":{\"type\":\"BPE\"," V "}}", "pre_tokenizer.behavior 'Sideways'");
    expect_json_unsupported("{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"ByteLevel\"},{\"type\":\"Digits\"}]},"
                            "\"model\":{\"type\":\"BPE\"," V "}}", "after ByteLevel");
    expect_json_unsupported("{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"_\"},\"model\":{\"type\":\"BPE\"," V "}}", "replacement '_'");
    expect_json_unsupported("{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"prepend_scheme\":\"sometimes\"},\"model\":{\"type\":\"BPE\"," V "}}", "prepend_scheme 'sometimes'");
    expect_json_unsupported("{\"decoder\":{\"type\":\"WordPiece\"},\"model\":{\"type\":\"BPE\"," V "}}", "decoder.type 'WordPiece' is not supported");
    expect_json_unsupported("{\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
                      "\"model\":{\"type\":\"BPE\"," V "}}", "Strip before Fuse");
    expect_json_unsupported("{\"post_processor\":{\"type\":\"RobertaProcessing\"},\"model\":{\"type\":\"BPE\"," V "}}",
                      "post_processor.type 'RobertaProcessing' is not supported");
    expect_json_error("{\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"zz\"}},{\"Sequence\":{\"id\":\"A\"}}]},"
                      "\"model\":{\"type\":\"BPE\"," V "}}", "special token 'zz' is not in the vocab");
    expect_json_error("{\"added_tokens\":[{\"id\":\"3\",\"content\":\"<x>\"}],\"model\":{\"type\":\"BPE\"," V "}}", "added_tokens[0] needs");
    expect_json_error("{\"added_tokens\":[{\"id\":3,\"content\":\"<x>\"},{\"id\":4,\"content\":\"<y>\"},{\"id\":3,\"content\":\"<z>\"}],"
                      "\"model\":{\"type\":\"BPE\"," V "}}", "added_tokens[2] ('<z>') has id 3, which added_tokens[0] already has");
#undef V
    /* minimal valid documents */
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_tokenizer t;
    const char *ok = "{\"model\":{\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}"; /* no type: BPE by its merges */
    CHECK_MSG(sp_tokenizer_from_hf_json(&t, ok, strlen(ok), &a, &e) == SP_OK, "%s", e.msg);
    CHECK(t.add_bos == 0 && t.bos_id == -1 && t.add_space_prefix == 0);
    int32_t ids[8], n = 0;
    CHECK(sp_tokenizer_encode(&t, "abba", 4, 1, ids, 8, &n, &e) == SP_OK && n == 3 && ids[0] == 2 && ids[1] == 1 && ids[2] == 0);
    CHECK(sp_tokenizer_encode(&t, "xa", 2, 1, ids, 8, &n, &e) == SP_OK && n == 1 && ids[0] == 0); /* no unk: dropped, as HF */
    /* a word that gives no id at all (found by fuzz_tokenizer: the word cache stored zero ids) */
    CHECK(sp_tokenizer_encode(&t, "x", 1, 1, ids, 8, &n, &e) == SP_OK && n == 0);
    CHECK(sp_tokenizer_encode(&t, "x x a", 5, 1, ids, 8, &n, &e) == SP_OK && n == 1 && ids[0] == 0);
    const char *empty_added = "{\"added_tokens\":[{\"id\":0,\"content\":\"\",\"special\":true}],\"model\":{\"vocab\":{\"a\":0},\"merges\":[]}}";
    CHECK_MSG(sp_tokenizer_from_hf_json(&t, empty_added, strlen(empty_added), &a, &e) == SP_OK, "%s", e.msg);
    CHECK(t.pieces[0].len == 1 && t.types[0] == 1); /* ignored, as HF does */
    /* end-of-turn tokens end generation; tokenizer_config.json names eos and asks for it after the text */
    const char *eot = "{\"added_tokens\":[{\"id\":3,\"content\":\"<|im_end|>\",\"special\":true}],\"model\":{\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}";
    CHECK_MSG(sp_tokenizer_from_hf_json(&t, eot, strlen(eot), &a, &e) == SP_OK, "%s", e.msg);
    CHECK(sp_tokenizer_is_eog(&t, 3) && !sp_tokenizer_is_eog(&t, 2) && t.eos_id == -1);
    const char *cfg = "{\"eos_token\":\"<|im_end|>\",\"add_eos_token\":true,\"bos_token\":null}";
    CHECK_MSG(sp_tokenizer_apply_config(&t, cfg, strlen(cfg), &a, &e) == SP_OK, "%s", e.msg);
    CHECK(t.eos_id == 3 && sp_tokenizer_encode(&t, "ab", 2, 1, ids, 8, &n, &e) == SP_OK && n == 2 && ids[0] == 2 && ids[1] == 3);
    const char *bad_cfg = "{\"bos_token\":\"<nope>\"}";
    CHECK(sp_tokenizer_apply_config(&t, bad_cfg, strlen(bad_cfg), &a, &e) == SP_ERR_TOKENIZER && strstr(e.msg, "<nope>"));
    const int32_t bad_eog = 99;
    CHECK(sp_tokenizer_add_eog(&t, &bad_eog, 1, &e) == SP_ERR_TOKENIZER);
    const char *ig = "{\"model\":{\"type\":\"BPE\",\"ignore_merges\":true,\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"abb\":3},\"merges\":[\"a b\"]}}";
    CHECK_MSG(sp_tokenizer_from_hf_json(&t, ig, strlen(ig), &a, &e) == SP_OK, "%s", e.msg);
    CHECK(sp_tokenizer_encode(&t, "abb", 3, 0, ids, 8, &n, &e) == SP_OK && n == 1 && ids[0] == 3);
    CHECK(sp_tokenizer_encode(&t, "abab", 4, 0, ids, 8, &n, &e) == SP_OK && n == 2 && ids[0] == 2 && ids[1] == 2);
    sp_arena_free(&a);
}

/* a GGUF with only tokenizer metadata, written byte by byte */
typedef struct { sp_buf b; uint64_t n_kv; } gw;
static void gw32(sp_buf *b, uint32_t v) { uint8_t p[4]; for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); sp_buf_append(b, p, 4); }
static void gw64(sp_buf *b, uint64_t v) { uint8_t p[8]; for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); sp_buf_append(b, p, 8); }
static void gwstr(sp_buf *b, const char *s) { gw64(b, strlen(s)); sp_buf_append(b, s, strlen(s)); }
static void gkey(gw *w, const char *k, uint32_t type) { gwstr(&w->b, k); gw32(&w->b, type); w->n_kv++; }

enum { G_MODEL = 1, G_TOKENS = 2, G_SCORES = 4, G_TYPES = 8, G_BADSCORES = 16, G_BADTYPE = 32, G_BADBOS = 64, G_GPT2 = 128, G_FLAGS = 256 };
static const char *const g_toks[] = {"<unk>", "<s>", "</s>", "<0x41>", "<0xE2>", "<0x96>", "<0x81>", META, "b", "c", META "b", "bc", META "bc"};
#define G_NT 13

static sp_status build_gguf(int flags, sp_arena *a, sp_tokenizer *t, sp_buf *out, sp_error *e) {
    gw w = {{0}, 0};
    if (flags & G_MODEL) { gkey(&w, "tokenizer.ggml.model", SP_GGUF_STRING); gwstr(&w.b, flags & G_GPT2 ? "gpt2" : "llama"); }
    if (flags & G_TOKENS) {
        gkey(&w, "tokenizer.ggml.tokens", SP_GGUF_ARRAY); gw32(&w.b, SP_GGUF_STRING); gw64(&w.b, G_NT);
        for (int i = 0; i < G_NT; i++) gwstr(&w.b, g_toks[i]);
    }
    if (flags & G_SCORES) {
        int n = flags & G_BADSCORES ? G_NT - 1 : G_NT;
        gkey(&w, "tokenizer.ggml.scores", SP_GGUF_ARRAY); gw32(&w.b, SP_GGUF_FLOAT32); gw64(&w.b, (uint64_t)n);
        for (int i = 0; i < n; i++) { float f = -(float)i; uint32_t u; memcpy(&u, &f, 4); gw32(&w.b, u); }
    }
    if (flags & G_TYPES) {
        gkey(&w, "tokenizer.ggml.token_type", SP_GGUF_ARRAY); gw32(&w.b, SP_GGUF_INT32); gw64(&w.b, G_NT);
        for (int i = 0; i < G_NT; i++) gw32(&w.b, (uint32_t)(i == 0 ? 2 : i < 3 ? 3 : i < 7 ? 6 : (flags & G_BADTYPE) && i == 9 ? 9 : 1));
    }
    if (flags & G_BADBOS) { gkey(&w, "tokenizer.ggml.bos_token_id", SP_GGUF_UINT32); gw32(&w.b, 99); }
    if (flags & G_FLAGS) {
        gkey(&w, "tokenizer.ggml.add_bos_token", SP_GGUF_BOOL); uint8_t z = 0; sp_buf_append(&w.b, &z, 1);
        gkey(&w, "tokenizer.ggml.add_space_prefix", SP_GGUF_BOOL); sp_buf_append(&w.b, &z, 1);
        gkey(&w, "tokenizer.ggml.padding_token_id", SP_GGUF_UINT32); gw32(&w.b, 0xFFFFFFFFu);
        gkey(&w, "tokenizer.ggml.eos_token_id", SP_GGUF_INT32); gw32(&w.b, 8);
    }
    sp_buf_append(out, "GGUF", 4);
    gw32(out, 3); gw64(out, 0); gw64(out, w.n_kv);
    sp_buf_append(out, w.b.data, w.b.len);
    sp_buf_free(&w.b);
    sp_gguf g;
    sp_status st = sp_gguf_parse(&g, (const uint8_t *)out->data, out->len, a, e);
    if (st) return st;
    return sp_tokenizer_from_gguf(t, &g, a, e);
}

static void test_gguf_cases(void) {
    static const struct { int flags; sp_status code; const char *msg; } bad[] = {
        {G_TOKENS, SP_ERR_TOKENIZER, "tokenizer.ggml.model is missing"},
        {G_MODEL | G_GPT2 | G_TOKENS, SP_ERR_TOKENIZER, "tokenizer.ggml.merges is missing"}, /* gpt2 needs its merges */
        {G_MODEL, SP_ERR_TOKENIZER, "tokenizer.ggml.tokens is missing"},
        {G_MODEL | G_TOKENS | G_SCORES | G_BADSCORES, SP_ERR_TOKENIZER, "tokenizer.ggml.scores must be"},
        {G_MODEL | G_TOKENS | G_TYPES | G_BADTYPE, SP_ERR_TOKENIZER, "token_type[9] = 9"},
        {G_MODEL | G_TOKENS | G_BADBOS, SP_ERR_TOKENIZER, "bos_token_id = 99 is out of range"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_error e = {0};
        sp_tokenizer t;
        sp_buf b = {0};
        sp_status st = build_gguf(bad[i].flags, &a, &t, &b, &e);
        CHECK_MSG(st == bad[i].code && strstr(e.msg, bad[i].msg), "case %zu: %d '%s'", i, st, e.msg);
        sp_buf_free(&b);
        sp_arena_free(&a);
    }
    /* valid: scores -i, defaults and explicit flags */
    for (int variant = 0; variant < 3; variant++) {
        int flags = G_MODEL | G_TOKENS | (variant >= 1 ? G_SCORES | G_TYPES : 0) | (variant == 2 ? G_FLAGS : 0);
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_error e = {0};
        sp_tokenizer t;
        sp_buf b = {0};
        sp_status st = build_gguf(flags, &a, &t, &b, &e);
        sp_buf_free(&b); /* pieces live in the arena */
        CHECK_MSG(st == SP_OK, "variant %d: %s", variant, e.msg);
        if (st) { sp_arena_free(&a); continue; }
        CHECK(t.vocab_size == G_NT && t.bos_id == 1 && t.unk_id == 0);
        CHECK(t.types[3] == 6 && t.types[1] == 3 && t.types[0] == 2 && t.byte_ids[0x41] == 3 && t.byte_ids[0x42] == -1);
        int32_t ids[32], n = 0;
        if (variant < 2) {
            CHECK(t.add_bos == 1 && t.add_space_prefix == 1 && t.eos_id == 2 && t.pad_id == -1);
            /* "▁bc": ▁b (score -10) beats bc (-11), then ▁b+c = ▁bc; with all-zero scores the
             * leftmost pair goes first, the same here */
            CHECK(sp_tokenizer_encode(&t, "bc", 2, t.add_bos, ids, 32, &n, &e) == SP_OK);
            CHECK(n == 2 && ids[0] == 1 && ids[1] == 12);
            CHECK(sp_tokenizer_encode(&t, "AZ", 2, 0, ids, 32, &n, &e) == SP_OK);
            CHECK(n == 3 && ids[0] == 7 && ids[1] == 3 && ids[2] == 0); /* Z: no <0x5A>, so <unk> */
        } else {
            CHECK(t.add_bos == 0 && t.add_space_prefix == 0 && t.eos_id == 8 && t.pad_id == -1);
            CHECK(sp_tokenizer_encode(&t, "bc b", 4, t.add_bos, ids, 32, &n, &e) == SP_OK);
            CHECK(n == 2 && ids[0] == 11 && ids[1] == 10);
            char out[16];
            int32_t ol = 0;
            CHECK(sp_tokenizer_decode(&t, ids, n, out, 16, &ol, &e) == SP_OK && ol == 4 && memcmp(out, "bc b", 4) == 0);
            /* without add_space_prefix the leading space is not stripped */
            /* add_bos_token = false: asking for special tokens adds none (llama.cpp's add_special) */
            CHECK(sp_tokenizer_encode(&t, " b", 2, 1, ids, 32, &n, &e) == SP_OK && n == 1 && ids[0] == 10);
            CHECK(sp_tokenizer_decode(&t, ids, n, out, 16, &ol, &e) == SP_OK && ol == 2 && memcmp(out, " b", 2) == 0);
        }
        sp_arena_free(&a);
    }
}

int main(void) {
    rng_state = 20240601;
    if (test_shared_exists()) g_val = test_read_shared("data/tinystories/tinystories_val.txt", &g_val_len);
    if (g_val) CHECK(g_val_len > 100000);
    test_fixture();
    test_json_errors();
    test_gguf_cases();
    test_stories260k();
    test_tinystories();
    free(g_val);
    CHECK_DONE();
}
