/* test_tokenizer_unicode.c - the Unicode tables, NFC, the split-pattern regex matcher and the
 * pre-tokenizer split behaviors, each against hand-checked expectations (the parity with
 * Hugging Face on real tokenizers is tests/tokenizer-parity.test.js). */
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"
#include "tokenizer/regex.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static void test_categories(void) {
    CHECK(sp_uc_category('a') == SP_UC_LL && sp_uc_category('Z') == SP_UC_LU && sp_uc_category('5') == SP_UC_ND);
    CHECK(sp_uc_category(' ') == SP_UC_ZS && sp_uc_category('!') == SP_UC_PO && sp_uc_category('$') == SP_UC_SC);
    CHECK(sp_uc_category(0x4E2D) == SP_UC_LO);   /* 中 (inside a First/Last range) */
    CHECK(sp_uc_category(0xAC00) == SP_UC_LO);   /* 가 */
    CHECK(sp_uc_category(0x0301) == SP_UC_MN);   /* combining acute */
    CHECK(sp_uc_category(0x0663) == SP_UC_ND);   /* Arabic-Indic three */
    CHECK(sp_uc_category(0x00BD) == SP_UC_NO);   /* ½ */
    CHECK(sp_uc_category(0x1F600) == SP_UC_SO);  /* 😀 */
    CHECK(sp_uc_category(0x200D) == SP_UC_CF);   /* ZWJ */
    CHECK(sp_uc_category(0xE000) == SP_UC_CO && sp_uc_category(0x10FFFF) == SP_UC_CN && sp_uc_category(0x110000) == SP_UC_CN);
    CHECK(sp_uc_is_space(0x3000) && sp_uc_is_space(0x85) && sp_uc_is_space(0xA0) && !sp_uc_is_space(0x200B) && !sp_uc_is_space(0xFEFF));
    CHECK(sp_uc_fold('S') == 's' && sp_uc_fold(0x17F) == 's' && sp_uc_fold(0x212A) == 'k' && sp_uc_fold(0xE9) == 0xE9);
}

static void nfc_is(const char *in, const char *want) {
    char *b = NULL;
    size_t len = 0, cap = 0;
    CHECK(sp_uc_nfc(in, strlen(in), &b, &len, &cap));
    CHECK_MSG(len == strlen(want) && memcmp(b, want, len) == 0, "NFC(%s) = %.*s, want %s", in, (int)len, b ? b : "", want);
    free(b);
}

static void test_nfc(void) {
    nfc_is("cafe\xCC\x81", "caf\xC3\xA9");                              /* e + acute -> é */
    nfc_is("A\xCC\x8A", "\xC3\x85");                                    /* A + ring -> Å */
    nfc_is("\xE2\x84\xAB", "\xC3\x85");                                 /* Angstrom sign (singleton) -> Å */
    nfc_is("a\xCC\x82\xCC\xA3", "\xE1\xBA\xAD");                        /* a + circumflex + dot below -> ậ (reordered) */
    nfc_is("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", "\xED\x95\x9C");     /* Hangul L V T -> 한 */
    nfc_is("\xE0\xA4\x95\xE0\xA4\xBC", "\xE0\xA4\x95\xE0\xA4\xBC");     /* क + nukta: U+0958 is excluded from composition */
    nfc_is("\xE0\xA4\xA8\xE0\xA4\xBC", "\xE0\xA4\xA9");                 /* न + nukta -> ऩ (not excluded) */
    nfc_is("\xCD\x81", "\xCC\x81");                                     /* U+0341 -> U+0301 (singleton) */
    nfc_is("e\xCC\x81\xCC\x81", "\xC3\xA9\xCC\x81");                    /* the second acute is blocked */
    nfc_is("\xCC\x81x", "\xCC\x81x");                                   /* a leading mark stays */
    nfc_is("ab\xFF" "c", "ab\xFF" "c");                                 /* invalid bytes pass through */
    CHECK(sp_uc_nfc_quick("plain ascii", 11) && sp_uc_nfc_quick("caf\xC3\xA9", 5) && !sp_uc_nfc_quick("e\xCC\x81", 3));
}

/* "|"-joined leftmost-first matches of pat over s, non-matching gaps in <> */
static void split_is(const char *pat, const char *s, const char *want) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_regex *re;
    sp_status st = sp_regex_compile(&re, pat, strlen(pat), &a, &e);
    CHECK_MSG(st == SP_OK, "%s: %s", pat, e.msg);
    if (!st) {
        char out[512];
        size_t o = 0, n = strlen(s), pos = 0, ms, me;
        sp_regex_scratch sc = {0};
        while (pos < n && sp_regex_find(re, s, n, pos, &ms, &me, &sc) == 1) {
            if (ms > pos) o += (size_t)snprintf(out + o, sizeof(out) - o, "<%.*s>", (int)(ms - pos), s + pos);
            o += (size_t)snprintf(out + o, sizeof(out) - o, "|%.*s", (int)(me - ms), s + ms);
            pos = me;
        }
        if (pos < n) o += (size_t)snprintf(out + o, sizeof(out) - o, "<%s>", s + pos);
        CHECK_MSG(strcmp(out, want) == 0, "/%s/ on '%s': %s, want %s", pat, s, out, want);
        sp_regex_scratch_free(&sc);
    }
    sp_arena_free(&a);
}

static void refused(const char *pat, const char *why) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_regex *re;
    CHECK_MSG(sp_regex_compile(&re, pat, strlen(pat), &a, &e) == SP_ERR_UNSUPPORTED, "/%s/ was accepted", pat);
    CHECK_MSG(strstr(e.msg, pat) && strstr(e.msg, why), "/%s/: '%s' lacks '%s'", pat, e.msg, why);
    sp_arena_free(&a);
}

#define LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static void test_regex(void) {
    split_is(SP_TOK_GPT2_REGEX, "Hello world's 12345!!  x", "|Hello| world|'s| 12345|!!| | x");
    split_is(SP_TOK_GPT2_REGEX, "I'LL go", "|I|'|LL| go");             /* GPT-2 is case-sensitive */
    split_is(LLAMA3, "I'LL go", "|I|'LL| go");                          /* (?i:...) */
    split_is(LLAMA3, "x 1234567 y", "|x| |123|456|7| y");               /* \p{N}{1,3} */
    split_is(LLAMA3, "a  \n\n b", "|a|  \n\n| b");                      /* \s*[\r\n]+ */
    split_is(LLAMA3, "a   b", "|a|  | b");                              /* \s+(?!\S) leaves one space */
    split_is(LLAMA3, "caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD", "|caf\xC3\xA9| \xE4\xBD\xA0\xE5\xA5\xBD");
    split_is(LLAMA3, "x\xCC\x81y", "|x|\xCC\x81y");                     /* a mark is no letter: [^\r\n\p{L}\p{N}]?\p{L}+ */
    split_is("[a-c]+?x|\\d{2,}", "abcx 7 123", "|abcx< 7 >|123");     /* lazy, ranges, {n,} */
    split_is("(?=ab)a|b", "aab", "<a>|a|b");                            /* positive lookahead: the first a is skipped */
    split_is("\\x41|\\u00e9|\\x{1F600}|\\.", "A.\xC3\xA9\xF0\x9F\x98\x80", "|A|.|\xC3\xA9|\xF0\x9F\x98\x80");
    split_is("\\P{L}+", "ab12!c", "<ab>|12!<c>");
    split_is(".", "a\nb", "|a<\n>|b");
    refused("^a", "anchor");
    refused("(?<=a)b", "group kind");
    refused("\\w+", "escape");
    refused("a|", "empty string");
    refused("(a*)*", "empty string");
    refused("a++", "possessive");
    refused("[[:alpha:]]", "nested class");
    refused("(ab", "unbalanced");
    refused("\\p{Greek}", "general category");
}

/* encode with a tiny byte-level tokenizer.json: single bytes only (no merges), so ids = pieces */
static void test_split_behaviors(void) {
    static const char *const beh[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    /* text "a--b-" split on "-": the words each behaviour gives, as HF documents them */
    static const char *const want[] = {"a|b", "a|-|-|b|-", "a-|-|b-", "a|-|-b|-", "a|--|b|-"};
    for (int k = 0; k < 5; k++) {
        char doc[512];
        snprintf(doc, sizeof(doc),
                 "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"%s\",\"invert\":false},"
                 "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"-\":2,\"a-\":3,\"-b\":4,\"--\":5,\"b-\":6},"
                 "\"merges\":[\"a -\",\"- b\",\"- -\",\"b -\"]}}", beh[k]);
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_error e = {0};
        sp_tokenizer t;
        sp_status st = sp_tokenizer_from_hf_json(&t, doc, strlen(doc), &a, &e);
        CHECK_MSG(st == SP_OK, "%s: %s", beh[k], e.msg);
        if (!st) {
            int32_t ids[16], n = 0;
            CHECK(sp_tokenizer_encode(&t, "a--b-", 5, 0, ids, 16, &n, &e) == SP_OK);
            char got[64];
            size_t o = 0;
            for (int32_t i = 0; i < n; i++)
                o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%.*s", i ? "|" : "", (int)t.pieces[ids[i]].len, t.pieces[ids[i]].ptr);
            CHECK_MSG(strcmp(got, want[k]) == 0, "%s: %s, want %s", beh[k], got, want[k]);
        }
        sp_arena_free(&a);
    }
}

int main(void) {
    test_categories();
    test_nfc();
    test_regex();
    test_split_behaviors();
    CHECK_DONE();
}
