/* test_json.c - the JSON parser (valid documents, escapes, every error path, depth,
 * numbers) and the sp_buf writer helpers (round trip through the parser). */
#include "readers/json.h"
#include "json_write.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static sp_json *parse(sp_arena *a, const char *s, sp_error *e) { return sp_json_parse(a, s, strlen(s), e); }

/* Parse must fail with SP_ERR_FORMAT and a message containing want (and "line L, column C"). */
static void expect_error(const char *doc, const char *want, const char *where) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_json *j = parse(&a, doc, &e);
    CHECK_MSG(j == NULL, "doc %s should fail", doc);
    CHECK_MSG(e.code == SP_ERR_FORMAT, "doc %s: code %d", doc, e.code);
    CHECK_MSG(strstr(e.msg, want) != NULL, "doc %s: msg '%s' lacks '%s'", doc, e.msg, want);
    if (where) CHECK_MSG(strncmp(e.msg, where, strlen(where)) == 0, "doc %s: msg '%s' should start with '%s'", doc, e.msg, where);
    sp_arena_free(&a);
}

static void test_valid(void) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    const char *doc =
        "{\n"
        "  \"architectures\": [\"LlamaForCausalLM\"],\n"
        "  \"hidden_size\": 128, \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0,\n"
        "  \"tie_word_embeddings\": true, \"bias\": false, \"pad\": null,\n"
        "  \"neg\": -0.5, \"nested\": {\"a\": [1, [2, [3]], {}], \"b\": []},\n"
        "  \"dup\": 1, \"dup\": 2\n"
        "}\n";
    sp_json *j = parse(&a, doc, &e);
    CHECK_MSG(j != NULL, "%s", e.msg);
    if (!j) { sp_arena_free(&a); return; }
    CHECK(j->type == SP_JSON_OBJECT);
    CHECK(j->len == 11);
    CHECK(strcmp(j->items[0].key, "architectures") == 0 && j->items[0].key_len == 13);
    const sp_json *arch = sp_json_get(j, "architectures");
    CHECK(arch && arch->type == SP_JSON_ARRAY && arch->len == 1);
    CHECK(arch && strcmp(arch->items[0].str, "LlamaForCausalLM") == 0 && arch->items[0].len == 16);
    CHECK(sp_json_number(j, "hidden_size", 0) == 128);
    CHECK(sp_json_number(j, "rms_norm_eps", 0) == 1e-6);
    CHECK(sp_json_number(j, "rope_theta", 0) == 10000.0);
    CHECK(sp_json_number(j, "neg", 0) == -0.5);
    CHECK(sp_json_number(j, "missing", 7.5) == 7.5);
    CHECK(sp_json_number(j, "architectures", 3) == 3); /* wrong type -> default */
    CHECK(sp_json_bool(j, "tie_word_embeddings", 0) == 1);
    CHECK(sp_json_bool(j, "bias", 1) == 0);
    CHECK(sp_json_bool(j, "hidden_size", -1) == -1);
    CHECK(sp_json_get(j, "pad") && sp_json_get(j, "pad")->type == SP_JSON_NULL);
    CHECK(strcmp(sp_json_string(j, "nope", "def"), "def") == 0);
    CHECK(sp_json_number(j, "dup", 0) == 2); /* last duplicate wins */
    const sp_json *nested = sp_json_get(j, "nested");
    const sp_json *na = sp_json_get(nested, "a");
    CHECK(na && na->len == 3 && na->items[1].type == SP_JSON_ARRAY && na->items[1].len == 2);
    CHECK(na && na->items[1].items[1].items[0].number == 3);
    CHECK(na && na->items[2].type == SP_JSON_OBJECT && na->items[2].len == 0 && na->items[2].items == NULL);
    CHECK(sp_json_get(nested, "b") && sp_json_get(nested, "b")->len == 0);
    CHECK(sp_json_get(NULL, "x") == NULL);
    CHECK(sp_json_get(arch, "x") == NULL); /* not an object */
    CHECK(sp_json_number(NULL, "x", 4) == 4);

    /* scalars at top level, whitespace, BOM */
    sp_json *s = parse(&a, " \t\r\n 42 \n", &e);
    CHECK(s && s->type == SP_JSON_NUMBER && s->number == 42);
    s = parse(&a, "\xEF\xBB\xBF{\"k\":\"v\"}", &e);
    CHECK(s && strcmp(sp_json_string(s, "k", ""), "v") == 0);
    s = parse(&a, "\"\"", &e);
    CHECK(s && s->type == SP_JSON_STRING && s->len == 0 && s->str[0] == 0);
    s = parse(&a, "null", &e);
    CHECK(s && s->type == SP_JSON_NULL);
    s = parse(&a, "[true,false]", &e);
    CHECK(s && s->len == 2 && s->items[0].boolean == 1 && s->items[1].boolean == 0 && s->items[0].key == NULL);
    /* a document that is not NUL-terminated: parse only the first 4 bytes of "[1]]" */
    s = sp_json_parse(&a, "[12]]", 4, &e);
    CHECK(s && s->len == 1 && s->items[0].number == 12);
    sp_arena_free(&a);
}

static void test_strings(void) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_json *s = parse(&a, "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", &e);
    CHECK(s && s->len == 12 && memcmp(s->str, "a\"b\\c/d\b\f\n\r\t", 12) == 0);
    /* BMP escapes: é (U+00E9), ▁ (U+2581), U+0041 */
    s = parse(&a, "\"\\u00e9\\u2581\\u0041\"", &e);
    CHECK(s && s->len == 6 && memcmp(s->str, "\xC3\xA9\xE2\x96\x81" "A", 6) == 0);
    /* surrogate pair: U+1F600 (grinning face) = D83D DE00 -> F0 9F 98 80 */
    s = parse(&a, "\"x\\uD83D\\uDE00y\"", &e);
    CHECK(s && s->len == 6 && memcmp(s->str, "x\xF0\x9F\x98\x80y", 6) == 0);
    /* U+10FFFF = DBFF DFFF */
    s = parse(&a, "\"\\udbff\\udfff\"", &e);
    CHECK(s && s->len == 4 && memcmp(s->str, "\xF4\x8F\xBF\xBF", 4) == 0);
    /* \u0000 gives an embedded NUL; len tells the truth */
    s = parse(&a, "\"a\\u0000b\"", &e);
    CHECK(s && s->len == 3 && s->str[1] == 0 && s->str[2] == 'b' && s->str[3] == 0);
    /* raw UTF-8 passes through (2, 3 and 4 byte sequences) */
    s = parse(&a, "\"\xC3\xA9\xE2\x96\x81\xF0\x9F\x98\x80\"", &e);
    CHECK(s && s->len == 9);
    /* escaped keys are unescaped too */
    s = parse(&a, "{\"\\u2581the\": 5}", &e);
    CHECK(s && sp_json_number(s, "\xE2\x96\x81the", 0) == 5 && s->items[0].key_len == 6);
    sp_arena_free(&a);
}

static void test_numbers(void) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    struct { const char *txt; double want; } ok[] = {
        {"0", 0}, {"-0", -0.0}, {"1", 1}, {"-12", -12}, {"3.25", 3.25}, {"1e3", 1000}, {"1E+3", 1000},
        {"2.5e-3", 0.0025}, {"-1.5E2", -150}, {"123456789012", 123456789012.0},
        {"9007199254740993", 9007199254740992.0}, /* rounds to nearest double */
        {"0.1", 0.1}, {"1e-400", 0.0}, /* underflow to zero is fine */
        {"1.7976931348623157e308", 1.7976931348623157e308},
        {"0.1000000000000000055511151231257827021181583404541015625000000000000000000000000000000000000000000000000000000000000000000000000000001", 0.1},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        sp_json *j = parse(&a, ok[i].txt, &e);
        CHECK_MSG(j && j->type == SP_JSON_NUMBER && j->number == ok[i].want, "number %s (%s)", ok[i].txt, e.msg);
    }
    sp_json *z = parse(&a, "-0", &e);
    CHECK(z && signbit(z->number));
    const char *bad[] = {"01", "-", "+1", ".5", "1.", "1e", "1e+", "--1", "0x10", "1.e5", "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "[1,]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sp_error e2 = {0};
        CHECK_MSG(parse(&a, bad[i], &e2) == NULL && e2.code == SP_ERR_FORMAT, "number '%s' should fail", bad[i]);
    }
    sp_arena_free(&a);
}

static void test_errors(void) {
    expect_error("", "unexpected end of input", "line 1, column 1:");
    expect_error("   ", "unexpected end of input", "line 1, column 4:");
    expect_error("{", "unexpected end of input in object", NULL);
    expect_error("[1, 2", "unexpected end of input in array", "line 1, column 6:");
    expect_error("{\"a\" 1}", "expected ':'", "line 1, column 6:");
    expect_error("{\"a\":1 \"b\":2}", "expected ',' or '}'", NULL);
    expect_error("[1 2]", "expected ',' or ']'", "line 1, column 4:");
    expect_error("{a:1}", "expected string key", "line 1, column 2:");
    expect_error("{\"a\":1,}", "expected string key", NULL);
    expect_error("[,1]", "unexpected character", NULL);
    expect_error("{\n  \"a\": tru\n}", "unexpected character", "line 2, column 8:");
    expect_error("{\n  \"k\": \"\xC3\xA9\xC3\xA9\", x\n}", "expected string key", "line 2, column 14:");
    expect_error("nul", "unexpected character", NULL);
    expect_error("[1] x", "trailing characters", "line 1, column 5:");
    expect_error("{} {}", "trailing characters", NULL);
    expect_error("\"abc", "unterminated string", "line 1, column 1:");
    expect_error("\"abc\\", "unterminated string", NULL);
    expect_error("\"a\\qb\"", "invalid escape", "line 1, column 3:");
    expect_error("\"\\u12\"", "invalid \\u escape", NULL);
    expect_error("\"\\u12G4\"", "invalid \\u escape", NULL);
    expect_error("\"\\u", "invalid \\u escape", NULL);
    expect_error("\"\\uDE00\"", "lone low surrogate", NULL);
    expect_error("\"\\uD83D\"", "high surrogate", NULL);
    expect_error("\"\\uD83Dx\"", "high surrogate", NULL);
    expect_error("\"\\uD83D\\u0041\"", "high surrogate", NULL);
    expect_error("\"\\uD83D\\uD83D\"", "high surrogate", NULL);
    expect_error("\"\\uD83D\\n\"", "high surrogate", NULL);
    expect_error("\"a\tb\"", "control character", NULL);
    expect_error("\"a\nb\"", "control character", NULL);
    expect_error("\"\xFF\"", "invalid UTF-8", NULL);
    expect_error("\"\xC3\"", "invalid UTF-8", NULL);           /* truncated sequence */
    expect_error("\"\xC0\xAF\"", "invalid UTF-8", NULL);       /* overlong '/' */
    expect_error("\"\xE0\x80\xAF\"", "invalid UTF-8", NULL);   /* overlong, 3 bytes */
    expect_error("\"\xED\xA0\x80\"", "invalid UTF-8", NULL);   /* encoded surrogate D800 */
    expect_error("\"\xF4\x90\x80\x80\"", "invalid UTF-8", NULL); /* above U+10FFFF */
    expect_error("\"\x80\"", "invalid UTF-8", NULL);           /* stray continuation */
    expect_error("'a'", "unexpected character", NULL);
    /* an embedded NUL byte inside the given length is garbage */
    {
        sp_arena a;
        sp_arena_init(&a, 0);
        sp_error e = {0};
        CHECK(sp_json_parse(&a, "[1]\0", 4, &e) == NULL && e.code == SP_ERR_FORMAT);
        CHECK(sp_json_parse(&a, NULL, 0, &e) == NULL && e.code == SP_ERR_FORMAT);
        CHECK(sp_json_parse(NULL, "1", 1, &e) == NULL && e.code == SP_ERR_INVALID_ARG);
        sp_arena_free(&a);
    }
}

static void test_depth(void) {
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    char buf[2 * 300 + 4];
    for (int depth = 255; depth <= 258; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) buf[n++] = '[';
        for (int i = 0; i < depth; i++) buf[n++] = ']';
        sp_json *j = sp_json_parse(&a, buf, n, &e);
        if (depth <= 256) CHECK_MSG(j != NULL, "depth %d: %s", depth, e.msg);
        else CHECK_MSG(j == NULL && e.code == SP_ERR_FORMAT && strstr(e.msg, "nesting deeper than 256"), "depth %d", depth);
    }
    /* objects count too */
    size_t n;
    char *ob = malloc(257 * 5 + 257 + 8);
    n = 0;
    for (int i = 0; i < 257; i++) { memcpy(ob + n, "{\"a\":", 5); n += 5; }
    ob[n++] = '1';
    for (int i = 0; i < 257; i++) ob[n++] = '}';
    CHECK(sp_json_parse(&a, ob, n, &e) == NULL && strstr(e.msg, "nesting"));
    /* 256 objects deep is fine */
    n = 0;
    for (int i = 0; i < 256; i++) { memcpy(ob + n, "{\"a\":", 5); n += 5; }
    ob[n++] = '1';
    for (int i = 0; i < 256; i++) ob[n++] = '}';
    sp_json *j = sp_json_parse(&a, ob, n, &e);
    CHECK_MSG(j != NULL, "%s", e.msg);
    free(ob);
    /* a very deep document (100k brackets) fails cleanly without recursing that deep */
    size_t big = 100000;
    char *deep = malloc(big);
    memset(deep, '[', big);
    CHECK(sp_json_parse(&a, deep, big, &e) == NULL && strstr(e.msg, "nesting"));
    free(deep);
    sp_arena_free(&a);
}

static void test_large_array(void) {
    /* many children exercise scratch-stack growth and nested pops */
    sp_buf b = {0};
    sp_buf_append(&b, "[", 1);
    for (int i = 0; i < 5000; i++) sp_buf_printf(&b, "%s[%d,{\"k\":%d}]", i ? "," : "", i, -i);
    sp_buf_append(&b, "]", 1);
    CHECK(!b.failed);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_json *j = sp_json_parse(&a, b.data, b.len, &e);
    CHECK_MSG(j && j->len == 5000, "%s", e.msg);
    int good = 1;
    for (int i = 0; j && i < 5000; i++) {
        const sp_json *it = &j->items[i];
        if (it->len != 2 || it->items[0].number != i || sp_json_number(&it->items[1], "k", 1) != -i) good = 0;
    }
    CHECK(good);
    sp_arena_free(&a);
    sp_buf_free(&b);
}

static void test_buf(void) {
    sp_buf b = {0};
    sp_buf_append(&b, "ab", 2);
    sp_buf_printf(&b, "%d-%s", 42, "x");
    CHECK(b.len == 6 && strcmp(b.data, "ab42-x") == 0);
    /* a printf longer than the internal small buffer */
    char longs[1000];
    memset(longs, 'z', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = 0;
    sp_buf_printf(&b, "[%s]", longs);
    CHECK(b.len == 6 + 1001 && b.data[b.len] == 0 && b.data[7] == 'z' && b.data[b.len - 1] == ']');
    sp_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);

    /* escaping: quotes, backslash, control chars, UTF-8, invalid bytes */
    const char raw[] = "q\"b\\n\n\t\x01\x1f\xE2\x96\x81\xF0\x9F\x98\x80\xFF\x7f";
    size_t rl = sizeof(raw) - 1;
    sp_buf_json_string(&b, raw, rl);
    CHECK_MSG(strcmp(b.data, "\"q\\\"b\\\\n\\n\\t\\u0001\\u001f\xE2\x96\x81\xF0\x9F\x98\x80\\ufffd\x7f\"") == 0, "%s", b.data);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_json *j = sp_json_parse(&a, b.data, b.len, &e);
    CHECK_MSG(j && j->type == SP_JSON_STRING, "%s", e.msg);
    /* round trip of everything except the invalid byte, which became U+FFFD */
    CHECK(j && j->len == rl - 1 + 3 && memcmp(j->str, raw, rl - 2) == 0 && memcmp(j->str + rl - 2, "\xEF\xBF\xBD\x7f", 4) == 0);
    sp_buf_free(&b);
    /* embedded NUL round trips */
    sp_buf_json_string(&b, "a\0b", 3);
    CHECK(strcmp(b.data, "\"a\\u0000b\"") == 0);
    j = sp_json_parse(&a, b.data, b.len, &e);
    CHECK(j && j->len == 3 && memcmp(j->str, "a\0b", 3) == 0);
    sp_buf_free(&b);
    sp_buf_json_string(&b, "", 0);
    CHECK(strcmp(b.data, "\"\"") == 0);
    sp_buf_free(&b);
    sp_arena_free(&a);
}

int main(void) {
    test_valid();
    test_strings();
    test_numbers();
    test_errors();
    test_depth();
    test_large_array();
    test_buf();
    CHECK_DONE();
}
