/* fuzz_tokenizer.h - the body of the tokenizer fuzz harness (tests/fuzz/fuzz_tokenizer.c), shared with
 * the C regression test (tests/c/test_fuzz_regressions.c replays tests/fuzz/regressions/tokenizer/).
 * A property failure traps (a crash for libFuzzer, a failed test otherwise).
 * Each input is used five ways:
 *   1. as a tokenizer.json (or, when it starts with "GGUF", as a GGUF with tokenizer metadata):
 *      loading must fail cleanly or give a tokenizer whose encode/decode of the input and of a
 *      few fixed strings stay in range (ids < vocab, piece lengths <= max_piece_len). A NUL byte
 *      in a tokenizer.json input splits it: the bytes after it are a tokenizer_config.json applied
 *      to the loaded tokenizer (bos/eos/pad tokens, add_bos_token/add_eos_token), then exercised.
 *      Seeds cover every section the engine reads: BPE with string and pair merges, ignore_merges,
 *      byte_fallback, unk_token; NFC/Replace/Prepend/Sequence normalizers; Split (Regex and String,
 *      each behavior), Digits, ByteLevel (use_regex), Metaspace and Sequence pre-tokenizers;
 *      ByteLevel/Replace/ByteFallback/Fuse/Strip/Metaspace/Sequence decoders; TemplateProcessing
 *      and ByteLevel post-processors; added tokens with every flag; and GGUF "llama" and "gpt2"
 *      vocabularies with merges, tokenizer.ggml.pre values, the add_bos/add_eos keys, the
 *      bos/eos/eot/eom/unknown/padding ids and tokenizer.chat_template;
 *   2. as text for three fixed tokenizers with byte fallback: the embedded BPE tokenizer.json
 *      (tests/c/tok_fixture.h), its Metaspace variant and an SPM vocabulary built as a GGUF here;
 *      decode(encode(text)) must give the text back byte for byte (traps otherwise), except for
 *      the documented cases: text containing a special token's text or U+2581, and the one
 *      leading space that a Metaspace "first" pre-tokenizer does not double;
 *   3. the ids of the fixed tokenizers are streamed back through sp_tokenizer_piece with tiny
 *      buffers, which must agree with sp_tokenizer_decode.
 *   4. the input as text for a fixed byte-level tokenizer (NFC, Split with the Llama 3 regex,
 *      ByteLevel, ByteLevel decoder): decode(encode(text)) must equal NFC(text) byte for byte;
 *   5. when the input has a newline, the bytes before it as a split regex: it compiles or is
 *      refused with SP_ERR_UNSUPPORTED, and its matches over the rest stay in order and in range. */
#ifndef SP_FUZZ_TOKENIZER_H
#define SP_FUZZ_TOKENIZER_H

#include "tokenizer/tokenizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"
#include "readers/gguf.h"
#include "readers/json.h"
#include "json_write.h"
#include "../c/tok_fixture.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META "\xE2\x96\x81"

typedef struct {
    sp_arena arena;
    sp_buf json_bpe, json_meta, gguf_buf;
    sp_gguf gguf;
    sp_tokenizer bpe, meta, spm, bytelevel;
    sp_buf json_bl;
    int ready;
} fixed_set;

static void gw32(sp_buf *b, uint32_t v) { uint8_t p[4]; for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); sp_buf_append(b, p, 4); }
static void gw64(sp_buf *b, uint64_t v) { uint8_t p[8]; for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); sp_buf_append(b, p, 8); }
static void gwstr(sp_buf *b, const char *s, size_t n) { gw64(b, n); sp_buf_append(b, s, n); }

/* An SPM vocabulary in GGUF form: <unk> <s> </s>, the 256 byte pieces, the fixture's chars and
 * merged pieces with score -rank, plus a user-defined piece "<sep>". */
static void build_spm_gguf(sp_buf *b) {
    int n = 3 + 256 + FIX_N_CHARS + FIX_N_MERGES + 1;
    gw32(b, 0x46554747); gw32(b, 3); gw64(b, 0); gw64(b, 4);
    gwstr(b, "tokenizer.ggml.model", 20); gw32(b, SP_GGUF_STRING); gwstr(b, "llama", 5);
    gwstr(b, "tokenizer.ggml.tokens", 21); gw32(b, SP_GGUF_ARRAY); gw32(b, SP_GGUF_STRING); gw64(b, (uint64_t)n);
    gwstr(b, "<unk>", 5); gwstr(b, "<s>", 3); gwstr(b, "</s>", 4);
    for (int i = 0; i < 256; i++) { char s[8]; snprintf(s, sizeof(s), "<0x%02X>", i); gwstr(b, s, 6); }
    for (int i = 0; i < FIX_N_CHARS; i++) gwstr(b, fix_chars[i], strlen(fix_chars[i]));
    for (int i = 0; i < FIX_N_MERGES; i++) {
        char s[64];
        int k = snprintf(s, sizeof(s), "%s%s", fix_merges[i][0], fix_merges[i][1]);
        gwstr(b, s, (size_t)k);
    }
    gwstr(b, "<sep>", 5);
    gwstr(b, "tokenizer.ggml.scores", 21); gw32(b, SP_GGUF_ARRAY); gw32(b, SP_GGUF_FLOAT32); gw64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        float f = i < 3 + 256 + FIX_N_CHARS ? 0.0f : -(float)(i - (3 + 256 + FIX_N_CHARS));
        uint32_t u;
        memcpy(&u, &f, 4);
        gw32(b, u);
    }
    gwstr(b, "tokenizer.ggml.token_type", 25); gw32(b, SP_GGUF_ARRAY); gw32(b, SP_GGUF_INT32); gw64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) gw32(b, i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : i == n - 1 ? 4 : 1);
}

/* A byte-level tokenizer.json: the 256 byte characters (GPT-2's mapping) and four merges, NFC,
 * the Llama 3 split regex, ByteLevel pre-tokenizer and decoder. */
static uint32_t byte_cp(int b) { /* GPT-2's bytes_to_unicode */
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return (uint32_t)b;
    return b <= 32 ? 256u + (uint32_t)b : b <= 160 ? 289u + (uint32_t)(b - 127) : 323u;
}

static void build_bytelevel_json(sp_buf *b) {
    sp_buf_printf(b, "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
                     "{\"type\":\"Split\",\"pattern\":{\"Regex\":");
    static const char re[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    sp_buf_json_string(b, re, strlen(re));
    sp_buf_printf(b, "},\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]},"
                     "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{");
    for (int c = 0; c < 256; c++) {
        uint32_t cp = byte_cp(c);
        char u[3];
        size_t ul = cp < 0x80 ? 1 : 2;
        if (cp < 0x80) u[0] = (char)cp;
        else { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 63)); }
        sp_buf_json_string(b, u, ul);
        sp_buf_printf(b, ":%d,", c);
    }
    sp_buf_printf(b, "\"he\":256,\"ll\":257,\"hell\":258,\"\u0120w\":259},\"merges\":[\"h e\",\"l l\",\"he ll\",\"\u0120 w\"]}}");
}

static fixed_set *fixed(void) {
    static fixed_set f; /* the harness's own state, built once per process */
    if (f.ready) return &f;
    sp_error e = {0};
    sp_arena_init(&f.arena, 0);
    fix_build_json(&f.json_bpe, 0);
    fix_build_json(&f.json_meta, 1);
    build_spm_gguf(&f.gguf_buf);
    build_bytelevel_json(&f.json_bl);
    if (sp_tokenizer_from_hf_json(&f.bpe, f.json_bpe.data, f.json_bpe.len, &f.arena, &e) ||
        sp_tokenizer_from_hf_json(&f.meta, f.json_meta.data, f.json_meta.len, &f.arena, &e) ||
        sp_gguf_parse(&f.gguf, (const uint8_t *)f.gguf_buf.data, f.gguf_buf.len, &f.arena, &e) ||
        sp_tokenizer_from_gguf(&f.spm, &f.gguf, &f.arena, &e) ||
        sp_tokenizer_from_hf_json(&f.bytelevel, f.json_bl.data, f.json_bl.len, &f.arena, &e)) {
        fprintf(stderr, "fuzz_tokenizer: fixture failed to load: %s\n", e.msg);
        __builtin_trap();
    }
    f.ready = 1;
    return &f;
}

static int has(const uint8_t *s, size_t n, const char *pat) {
    size_t m = strlen(pat);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(s + i, pat, m) == 0) return 1;
    return 0;
}

/* encode (sizing call first), check ids, decode, compare with the streamed pieces.
 * Returns the decoded bytes (malloc'd) or NULL when encoding failed cleanly. */
static char *encode_decode(const sp_tokenizer *t, const uint8_t *s, size_t n, int32_t *out_len, int must_work) {
    sp_error e = {0};
    int32_t need = -1;
    sp_status st = sp_tokenizer_encode(t, (const char *)s, n, 1, NULL, 0, &need, &e);
    if (st != SP_OK) {
        if (must_work) __builtin_trap();
        return NULL;
    }
    if (need < 0 || (must_work && (uint64_t)need > 2 * (uint64_t)n + 2)) __builtin_trap(); /* at most 1 per byte + BOS + prefix */
    int32_t *ids = (int32_t *)malloc(((size_t)need + 1) * sizeof(int32_t));
    int32_t got = -1;
    if (sp_tokenizer_encode(t, (const char *)s, n, 1, ids, need, &got, &e) != SP_OK || got != need) __builtin_trap();
    for (int32_t i = 0; i < got; i++)
        if (ids[i] < 0 || ids[i] >= t->vocab_size) __builtin_trap();
    int32_t dl = -1;
    st = sp_tokenizer_decode(t, ids, got, NULL, 0, &dl, &e);
    if (st != SP_OK || dl < 0) __builtin_trap();
    char *out = (char *)malloc((size_t)dl + 1);
    int32_t dl2 = -1;
    if (sp_tokenizer_decode(t, ids, got, out, dl, &dl2, &e) != SP_OK || dl2 != dl) __builtin_trap();
    /* streamed with a 3-byte buffer: same bytes */
    int32_t pos = 0, prev = -1;
    for (int32_t i = 0; i < got; i++) {
        char small[3];
        int32_t k = sp_tokenizer_piece(t, prev, ids[i], small, 3);
        if (k < 0 || k > t->max_piece_len || pos + k > dl) __builtin_trap();
        if (memcmp(small, out + pos, (size_t)(k < 3 ? k : 3)) != 0) __builtin_trap();
        pos += k;
        prev = ids[i];
    }
    if (pos != dl) __builtin_trap();
    free(ids);
    *out_len = dl;
    return out;
}

static void expect_round_trip(const sp_tokenizer *t, const uint8_t *s, size_t n, const uint8_t *want, size_t wn) {
    int32_t dl = 0;
    char *d = encode_decode(t, s, n, &dl, 1);
    if (!d || (size_t)dl != wn || memcmp(d, want, wn) != 0) __builtin_trap();
    free(d);
}

static void exercise_loaded(const sp_tokenizer *t, const uint8_t *data, size_t size) {
    static const char *const texts[] = {"", " ", "Hello world", "  a  b  ", "\xF0\x9F\x98\x80\xFF\xC3", "<s></s><unk>"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        int32_t dl = 0;
        free(encode_decode(t, (const uint8_t *)texts[i], strlen(texts[i]), &dl, 0));
    }
    int32_t dl = 0;
    free(encode_decode(t, data, size < 512 ? size : 512, &dl, 0));
    for (int32_t id = 0; id < t->vocab_size && id < 4096; id++) {
        char buf[8];
        int32_t k = sp_tokenizer_piece(t, id - 1, id, buf, 8);
        if (k < 0 || k > t->max_piece_len) __builtin_trap();
    }
    if (sp_tokenizer_piece(t, -1, t->vocab_size, NULL, 0) != -1) __builtin_trap();
}

/* One input, all five ways. */
static void fuzz_tokenizer_one(const uint8_t *data, size_t size) {
    fixed_set *f = fixed();

    /* 1. the input as a tokenizer definition */
    {
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_error e = {0};
        sp_tokenizer t;
        if (size >= 4 && memcmp(data, "GGUF", 4) == 0) {
            sp_gguf g;
            if (sp_gguf_parse(&g, data, size, &a, &e) == SP_OK && sp_tokenizer_from_gguf(&t, &g, &a, &e) == SP_OK)
                exercise_loaded(&t, data, size);
        } else {
            /* tokenizer.json [NUL tokenizer_config.json] */
            const uint8_t *nul = (const uint8_t *)memchr(data, 0, size);
            size_t jl = nul ? (size_t)(nul - data) : size;
            if (sp_tokenizer_from_hf_json(&t, (const char *)data, jl, &a, &e) == SP_OK) {
                if (nul) {
                    sp_status cs = sp_tokenizer_apply_config(&t, (const char *)nul + 1, size - jl - 1, &a, &e);
                    if (cs && ((cs != SP_ERR_TOKENIZER && cs != SP_ERR_NOMEM) || !e.msg[0])) __builtin_trap(); /* a bad config: a typed error */
                    if (t.bos_id >= t.vocab_size || t.eos_id >= t.vocab_size || t.pad_id >= t.vocab_size) __builtin_trap();
                }
                exercise_loaded(&t, data, size);
            }
        }
        if (e.code && (e.msg[0] == 0 || strlen(e.msg) >= SP_ERROR_MSG_MAX)) __builtin_trap();
        sp_arena_free(&a);
    }

    /* 2. the input as text: exact round trips on the fixed tokenizers */
    if (size > 1 << 16) return;
    int special = has(data, size, "<s>") || has(data, size, "</s>") || has(data, size, "<unk>") || has(data, size, META);
    int sep = has(data, size, "<sep>");
    if (!special) {
        /* after a split-out <sep> the next piece gets its own ▁ prefix (HF's per-piece Prepend,
         * llama.cpp's space after a special), which decodes as a space */
        if (!sep) expect_round_trip(&f->bpe, data, size, data, size);
        if (!sep) expect_round_trip(&f->spm, data, size, data, size);
        if (size > 0 && data[0] == ' ') expect_round_trip(&f->meta, data, size, data + 1, size - 1);
        else expect_round_trip(&f->meta, data, size, data, size);
    } else {
        int32_t dl = 0;
        free(encode_decode(&f->bpe, data, size, &dl, 1));
        free(encode_decode(&f->spm, data, size, &dl, 1));
        free(encode_decode(&f->meta, data, size, &dl, 1));
    }

    /* 4. byte-level: decode(encode(text)) == NFC(text) */
    {
        char *nfc = NULL;
        size_t nl = 0, nc = 0;
        if (!sp_uc_nfc((const char *)data, size, &nfc, &nl, &nc)) __builtin_trap();
        if (!special && !has(data, size, "<sep>")) expect_round_trip(&f->bytelevel, data, size, (const uint8_t *)(nfc ? nfc : ""), nl);
        free(nfc);
    }

    /* 5. a regex and a text */
    const uint8_t *nlp = (const uint8_t *)memchr(data, '\n', size < 256 ? size : 256);
    if (nlp) {
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_error e = {0};
        sp_regex *re = NULL;
        size_t pl = (size_t)(nlp - data);
        sp_status st = sp_regex_compile(&re, (const char *)data, pl, &a, &e);
        if (st && (st != SP_ERR_UNSUPPORTED || !e.msg[0])) __builtin_trap();
        if (!st) {
            sp_regex_scratch sc = {0};
            const char *txt = (const char *)nlp + 1;
            size_t n = size - pl - 1, pos = 0, ms, me;
            int r;
            while (pos < n && (r = sp_regex_find(re, txt, n, pos, &ms, &me, &sc)) == 1) {
                if (ms < pos || me <= ms || me > n) __builtin_trap();
                pos = me;
            }
            sp_regex_scratch_free(&sc);
        }
        sp_arena_free(&a);
    }
}

#endif
