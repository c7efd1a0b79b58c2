/* json.c - a strict RFC 8259 JSON parser into an arena DOM, plus a growing byte buffer.
 *
 * Parsing is recursive descent with a depth limit (SP_JSON_MAX_DEPTH). Children of an
 * array/object are first pushed on a malloc'd scratch stack shared by all levels, then
 * copied into one arena array when the container closes, so every container's items are
 * contiguous and nothing is over-allocated. Strings are unescaped into the arena and
 * validated as UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF); \u escapes
 * must pair surrogates correctly. A leading UTF-8 BOM is skipped. Numbers follow the
 * RFC grammar exactly and must be finite. Duplicate keys are kept; sp_json_get returns
 * the LAST one (as Python's json does). */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SP_JSON_MAX_DEPTH 256

typedef struct {
    sp_arena *a;
    const char *s;      /* text [n] */
    size_t n;
    size_t pos;         /* current byte offset */
    sp_json *stack;     /* scratch children [cap] (malloc) */
    size_t top, cap;
    sp_error *err;
    int failed;
} json_parser;

/* Report an error at byte offset at: line and column (in characters) are 1-based. */
static void json_fail(json_parser *p, size_t at, sp_status code, const char *what) {
    if (p->failed) return;
    p->failed = 1;
    size_t line = 1, col = 1;
    if (at > p->n) at = p->n;
    for (size_t i = 0; i < at; i++) {
        unsigned char c = (unsigned char)p->s[i];
        if (c == '\n') { line++; col = 1; }
        else if ((c & 0xC0) != 0x80) col++;
    }
    sp_error_set(p->err, code, "line %zu, column %zu: %s", line, col, what);
}

static void skip_ws(json_parser *p) {
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') p->pos++;
        else break;
    }
}

static int push_child(json_parser *p, const sp_json *v) {
    if (p->top == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 64;
        size_t bytes;
        if (!sp_mul_size(nc, sizeof(sp_json), &bytes)) { json_fail(p, p->pos, SP_ERR_NOMEM, "out of memory"); return 0; }
        sp_json *ns = (sp_json *)realloc(p->stack, bytes);
        if (!ns) { json_fail(p, p->pos, SP_ERR_NOMEM, "out of memory"); return 0; }
        p->stack = ns;
        p->cap = nc;
    }
    p->stack[p->top++] = *v;
    return 1;
}

static int read_hex4(json_parser *p, size_t at, uint32_t *out) {
    if (p->n - at < 4) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = sp_hex_digit((unsigned char)p->s[at + (size_t)i]);
        if (h < 0) return 0;
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return 1;
}

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* Parse a string at p->pos (which is on the opening quote). The unescaped text is never
 * longer than the escaped text, so one arena allocation of the raw length suffices. */
static int parse_string(json_parser *p, const char **out, size_t *out_len) {
    size_t start = ++p->pos; /* after the quote */
    /* pass 1: find the closing quote and validate, so the output size is known */
    size_t i = start;
    for (;;) {
        if (i >= p->n) { json_fail(p, start - 1, SP_ERR_FORMAT, "unterminated string"); return 0; }
        unsigned char c = (unsigned char)p->s[i];
        if (c == '"') break;
        if (c == '\\') {
            if (i + 1 >= p->n) { json_fail(p, start - 1, SP_ERR_FORMAT, "unterminated string"); return 0; }
            char e = p->s[i + 1];
            if (e == 'u') {
                uint32_t u;
                if (!read_hex4(p, i + 2, &u)) { json_fail(p, i, SP_ERR_FORMAT, "invalid \\u escape (need 4 hex digits)"); return 0; }
                if (u >= 0xDC00 && u <= 0xDFFF) { json_fail(p, i, SP_ERR_FORMAT, "lone low surrogate in \\u escape"); return 0; }
                if (u >= 0xD800 && u <= 0xDBFF) {
                    uint32_t lo;
                    if (i + 7 >= p->n || p->s[i + 6] != '\\' || p->s[i + 7] != 'u' || !read_hex4(p, i + 8, &lo) ||
                        lo < 0xDC00 || lo > 0xDFFF) {
                        json_fail(p, i, SP_ERR_FORMAT, "high surrogate in \\u escape not followed by a low surrogate");
                        return 0;
                    }
                    i += 12;
                } else {
                    i += 6;
                }
                continue;
            }
            if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
                json_fail(p, i, SP_ERR_FORMAT, "invalid escape in string");
                return 0;
            }
            i += 2;
            continue;
        }
        if (c < 0x20) { json_fail(p, i, SP_ERR_FORMAT, "control character in string (must be escaped)"); return 0; }
        size_t l = sp_utf8_valid_len((const unsigned char *)p->s + i, p->n - i);
        if (!l) { json_fail(p, i, SP_ERR_FORMAT, "invalid UTF-8 in string"); return 0; }
        i += l;
    }
    size_t raw_len = i - start;
    char *dst = sp_arena_alloc(p->a, raw_len + 1);
    if (!dst) { json_fail(p, start, SP_ERR_NOMEM, "out of memory"); return 0; }
    /* pass 2: unescape (input already validated) */
    size_t o = 0;
    for (size_t j = start; j < i;) {
        char c = p->s[j];
        if (c != '\\') { dst[o++] = c; j++; continue; }
        char e = p->s[j + 1];
        switch (e) {
        case 'b': dst[o++] = '\b'; j += 2; break;
        case 'f': dst[o++] = '\f'; j += 2; break;
        case 'n': dst[o++] = '\n'; j += 2; break;
        case 'r': dst[o++] = '\r'; j += 2; break;
        case 't': dst[o++] = '\t'; j += 2; break;
        case 'u': {
            uint32_t u, lo;
            read_hex4(p, j + 2, &u);
            j += 6;
            if (u >= 0xD800 && u <= 0xDBFF) {
                read_hex4(p, j + 2, &lo);
                j += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += utf8_encode(u, dst + o);
            break;
        }
        default: dst[o++] = e; j += 2; break; /* " \ / */
        }
    }
    dst[o] = '\0';
    p->pos = i + 1;
    *out = dst;
    *out_len = o;
    return 1;
}

static int parse_number(json_parser *p, double *out) {
    size_t start = p->pos, i = p->pos;
    if (i < p->n && p->s[i] == '-') i++;
    if (i >= p->n || !(p->s[i] >= '0' && p->s[i] <= '9')) { json_fail(p, start, SP_ERR_FORMAT, "invalid number"); return 0; }
    if (p->s[i] == '0') {
        i++;
        if (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') { json_fail(p, start, SP_ERR_FORMAT, "invalid number (leading zero)"); return 0; }
    } else {
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    if (i < p->n && p->s[i] == '.') {
        i++;
        if (i >= p->n || !(p->s[i] >= '0' && p->s[i] <= '9')) { json_fail(p, i, SP_ERR_FORMAT, "invalid number (digit expected after '.')"); return 0; }
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->n || !(p->s[i] >= '0' && p->s[i] <= '9')) { json_fail(p, i, SP_ERR_FORMAT, "invalid number (digit expected in exponent)"); return 0; }
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    size_t len = i - start;
    /* strtod needs a NUL-terminated copy; the grammar above already fixed the extent */
    char small[128];
    char *buf = small;
    if (len >= sizeof(small)) {
        buf = (char *)malloc(len + 1);
        if (!buf) { json_fail(p, start, SP_ERR_NOMEM, "out of memory"); return 0; }
    }
    memcpy(buf, p->s + start, len);
    buf[len] = '\0';
    double v = strtod(buf, NULL);
    if (buf != small) free(buf);
    if (!isfinite(v)) { json_fail(p, start, SP_ERR_FORMAT, "number out of range"); return 0; }
    *out = v;
    p->pos = i;
    return 1;
}

static int match_lit(json_parser *p, const char *lit) {
    size_t l = strlen(lit);
    if (p->n - p->pos < l || memcmp(p->s + p->pos, lit, l) != 0) return 0;
    p->pos += l;
    return 1;
}

/* Move the children pushed since `base` into one arena array owned by v. */
static int pop_children(json_parser *p, size_t base, sp_json *v) {
    size_t cnt = p->top - base;
    v->len = cnt;
    v->items = NULL;
    if (cnt) {
        size_t bytes;
        if (!sp_mul_size(cnt, sizeof(sp_json), &bytes) || !(v->items = (sp_json *)sp_arena_alloc(p->a, bytes))) {
            json_fail(p, p->pos, SP_ERR_NOMEM, "out of memory");
            return 0;
        }
        memcpy(v->items, p->stack + base, bytes);
    }
    p->top = base;
    return 1;
}

static int parse_value(json_parser *p, sp_json *v, int depth) {
    skip_ws(p);
    if (p->pos >= p->n) { json_fail(p, p->pos, SP_ERR_FORMAT, "unexpected end of input (value expected)"); return 0; }
    memset(v, 0, sizeof(*v));
    char c = p->s[p->pos];
    switch (c) {
    case '{': {
        if (depth >= SP_JSON_MAX_DEPTH) { json_fail(p, p->pos, SP_ERR_FORMAT, "nesting deeper than 256"); return 0; }
        v->type = SP_JSON_OBJECT;
        size_t base = p->top;
        p->pos++;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == '}') { p->pos++; return pop_children(p, base, v); }
        for (;;) {
            skip_ws(p);
            if (p->pos >= p->n) { json_fail(p, p->pos, SP_ERR_FORMAT, "unexpected end of input in object"); return 0; }
            if (p->s[p->pos] != '"') { json_fail(p, p->pos, SP_ERR_FORMAT, "expected string key in object"); return 0; }
            const char *key;
            size_t key_len;
            if (!parse_string(p, &key, &key_len)) return 0;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') { json_fail(p, p->pos, SP_ERR_FORMAT, "expected ':' after object key"); return 0; }
            p->pos++;
            sp_json child;
            if (!parse_value(p, &child, depth + 1)) return 0;
            child.key = key;
            child.key_len = key_len;
            if (!push_child(p, &child)) return 0;
            skip_ws(p);
            if (p->pos >= p->n) { json_fail(p, p->pos, SP_ERR_FORMAT, "unexpected end of input in object"); return 0; }
            if (p->s[p->pos] == ',') { p->pos++; continue; }
            if (p->s[p->pos] == '}') { p->pos++; return pop_children(p, base, v); }
            json_fail(p, p->pos, SP_ERR_FORMAT, "expected ',' or '}' in object");
            return 0;
        }
    }
    case '[': {
        if (depth >= SP_JSON_MAX_DEPTH) { json_fail(p, p->pos, SP_ERR_FORMAT, "nesting deeper than 256"); return 0; }
        v->type = SP_JSON_ARRAY;
        size_t base = p->top;
        p->pos++;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ']') { p->pos++; return pop_children(p, base, v); }
        for (;;) {
            sp_json child;
            if (!parse_value(p, &child, depth + 1)) return 0;
            if (!push_child(p, &child)) return 0;
            skip_ws(p);
            if (p->pos >= p->n) { json_fail(p, p->pos, SP_ERR_FORMAT, "unexpected end of input in array"); return 0; }
            if (p->s[p->pos] == ',') { p->pos++; continue; }
            if (p->s[p->pos] == ']') { p->pos++; return pop_children(p, base, v); }
            json_fail(p, p->pos, SP_ERR_FORMAT, "expected ',' or ']' in array");
            return 0;
        }
    }
    case '"':
        v->type = SP_JSON_STRING;
        return parse_string(p, &v->str, &v->len);
    case 't':
        if (match_lit(p, "true")) { v->type = SP_JSON_BOOL; v->boolean = 1; return 1; }
        break;
    case 'f':
        if (match_lit(p, "false")) { v->type = SP_JSON_BOOL; v->boolean = 0; return 1; }
        break;
    case 'n':
        if (match_lit(p, "null")) { v->type = SP_JSON_NULL; return 1; }
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            v->type = SP_JSON_NUMBER;
            return parse_number(p, &v->number);
        }
        break;
    }
    json_fail(p, p->pos, SP_ERR_FORMAT, "unexpected character (value expected)");
    return 0;
}

sp_json *sp_json_parse(sp_arena *a, const char *text, size_t len, sp_error *err) {
    if (!a || (!text && len)) { sp_error_set(err, SP_ERR_INVALID_ARG, "json: NULL arena or text"); return NULL; }
    json_parser p = {0};
    p.a = a;
    p.s = text ? text : "";
    p.n = len;
    p.err = err;
    if (p.n >= 3 && (unsigned char)p.s[0] == 0xEF && (unsigned char)p.s[1] == 0xBB && (unsigned char)p.s[2] == 0xBF) p.pos = 3;
    sp_json *root = (sp_json *)sp_arena_alloc(a, sizeof(sp_json));
    if (!root) { sp_error_set(err, SP_ERR_NOMEM, "json: out of memory"); return NULL; }
    int ok = parse_value(&p, root, 0);
    if (ok) {
        skip_ws(&p);
        if (p.pos != p.n) { json_fail(&p, p.pos, SP_ERR_FORMAT, "trailing characters after the JSON value"); ok = 0; }
    }
    free(p.stack);
    return ok ? root : NULL;
}

const sp_json *sp_json_get(const sp_json *obj, const char *key) {
    if (!obj || obj->type != SP_JSON_OBJECT || !key) return NULL;
    size_t kl = strlen(key);
    for (size_t i = obj->len; i-- > 0;) {
        const sp_json *c = &obj->items[i];
        if (c->key_len == kl && memcmp(c->key, key, kl) == 0) return c;
    }
    return NULL;
}

double sp_json_number(const sp_json *obj, const char *key, double def) {
    const sp_json *v = sp_json_get(obj, key);
    return v && v->type == SP_JSON_NUMBER ? v->number : def;
}

const char *sp_json_string(const sp_json *obj, const char *key, const char *def) {
    const sp_json *v = sp_json_get(obj, key);
    return v && v->type == SP_JSON_STRING ? v->str : def;
}

int sp_json_bool(const sp_json *obj, const char *key, int def) {
    const sp_json *v = sp_json_get(obj, key);
    return v && v->type == SP_JSON_BOOL ? v->boolean : def;
}
