/* regex.c - a small backtracking regex engine for tokenizer split patterns (see regex.h).
 * Compile: pattern -> syntax tree (nodes in a malloc'd pool) -> instructions for a backtracking
 * machine (CHAR, CLASS, ANY, SPLIT x-first-then-y, JMP, LOOK, MATCH), counted repetition expanded.
 * Match: depth-first over SPLITs with an explicit stack (the Perl/Oniguruma order, so the first
 * match found is the leftmost-first one), lookaheads run as nested matches. A step budget bounds
 * the work per call, so no pattern/input pair can hang the tokenizer. */
#include "regex.h"
#include "unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_CHAR, OP_CLASS, OP_ANY, OP_SPLIT, OP_JMP, OP_LOOK, OP_MATCH };
typedef struct {
    uint8_t op;
    uint8_t flag;   /* CHAR/CLASS: case-insensitive; LOOK: negative */
    int32_t x, y;   /* SPLIT: preferred / other branch; JMP: target; CLASS: class index; LOOK: sub start / continue */
    uint32_t c;     /* CHAR: the code point */
} re_inst;

enum { IT_RANGE, IT_CAT, IT_SPACE };
typedef struct { uint8_t kind, neg; uint32_t lo, hi; } re_item;  /* RANGE lo..hi; CAT: mask in lo */
typedef struct { int32_t first, n; uint8_t neg; uint32_t ascii[4]; } re_class; /* ascii: membership of 0..127, filled at compile */

#define RE_MAX_PROG 8192
#define RE_MAX_DEPTH 64     /* nesting of groups while parsing */
#define RE_MAX_LOOK 8       /* nesting of lookaheads while matching */

struct sp_regex {
    re_inst *prog; int32_t n_prog;
    re_class *cls; int32_t n_cls;
    re_item *items; int32_t n_items;
};

/* ---------------------------------------------------------------- parsing */

enum { N_CHAR, N_CLASS, N_ANY, N_CAT, N_ALT, N_REP, N_LOOK };
typedef struct {
    uint8_t type, icase, neg, lazy;
    uint32_t c;         /* CHAR: code point; CLASS: class index */
    int32_t min, max;   /* REP: max -1 = unbounded */
    int32_t kid, next;  /* first child, next sibling (-1 = none) */
} re_node;

typedef struct {
    const uint8_t *p; size_t n, i;
    re_node *nodes; int32_t n_nodes, cap_nodes;
    re_class *cls; int32_t n_cls, cap_cls;
    re_item *items; int32_t n_items, cap_items;
    re_inst *prog; int32_t n_prog, cap_prog;
    const char *why;    /* first problem found */
    int depth;
} re_parser;

#define GROW(arr, n, cap, T) \
    ((n) < (cap) ? 1 : ((cap) = (cap) ? 2 * (cap) : 64, \
     ((arr) = (T *)realloc((arr), (size_t)(cap) * sizeof(T))) != NULL))

static int fail(re_parser *ps, const char *why) {
    if (!ps->why) ps->why = why;
    return -1;
}

static int32_t new_node(re_parser *ps, int type) {
    if (ps->n_nodes >= 1 << 20) return fail(ps, "is too large");
    if (!GROW(ps->nodes, ps->n_nodes, ps->cap_nodes, re_node)) return fail(ps, "(out of memory)");
    re_node *nd = &ps->nodes[ps->n_nodes];
    memset(nd, 0, sizeof(*nd));
    nd->type = (uint8_t)type; nd->kid = nd->next = -1;
    return ps->n_nodes++;
}

static int add_item(re_parser *ps, int kind, int neg, uint32_t lo, uint32_t hi) {
    if (!GROW(ps->items, ps->n_items, ps->cap_items, re_item)) return fail(ps, "(out of memory)");
    re_item *it = &ps->items[ps->n_items++];
    it->kind = (uint8_t)kind; it->neg = (uint8_t)neg; it->lo = lo; it->hi = hi;
    return 0;
}

/* \p{...} name -> category mask, 0 if unknown */
static uint32_t cat_mask(const char *s, size_t n) {
    static const char *const names[SP_UC_NCATS] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc",
        "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};
    if (n == 1 || (n == 2 && s[1] == '&' && s[0] == 'L')) { /* a one-letter group (L& is Lu|Ll|Lt) */
        uint32_t m = 0;
        for (int c = 0; c < SP_UC_NCATS; c++)
            if (names[c][0] == s[0] && (n == 1 || c <= SP_UC_LT)) m |= SP_UC_MASK(c);
        return m;
    }
    if (n == 2)
        for (int c = 0; c < SP_UC_NCATS; c++)
            if (names[c][0] == s[0] && names[c][1] == s[1]) return SP_UC_MASK(c);
    return 0;
}

/* Parse an escape after the backslash. Returns 1 with *cp for a character, 2 after adding a class
 * item (\s \S \d \D \p \P), -1 on error. */
static int parse_escape(re_parser *ps, uint32_t *cp) {
    if (ps->i >= ps->n) return fail(ps, "ends with a backslash");
    uint8_t c = ps->p[ps->i++];
    switch (c) {
    case 'r': *cp = '\r'; return 1;
    case 'n': *cp = '\n'; return 1;
    case 't': *cp = '\t'; return 1;
    case 'f': *cp = '\f'; return 1;
    case 'v': *cp = '\v'; return 1;
    case 's': case 'S': return add_item(ps, IT_SPACE, c == 'S', 0, 0) ? -1 : 2;
    case 'd': case 'D': return add_item(ps, IT_CAT, c == 'D', SP_UC_MASK(SP_UC_ND), 0) ? -1 : 2;
    case 'p': case 'P': {
        if (ps->i >= ps->n || ps->p[ps->i] != '{') return fail(ps, "uses \\p without {name}");
        size_t st = ++ps->i;
        while (ps->i < ps->n && ps->p[ps->i] != '}') ps->i++;
        if (ps->i >= ps->n) return fail(ps, "has an unterminated \\p{");
        const char *name = (const char *)ps->p + st;
        size_t len = ps->i - st;
        ps->i++;
        int neg = c == 'P';
        if (len > 1 && name[0] == '^') { neg = !neg; name++; len--; }
        uint32_t m = cat_mask(name, len);
        if (!m) return fail(ps, "uses a \\p{...} property other than a general category");
        return add_item(ps, IT_CAT, neg, m, 0) ? -1 : 2;
    }
    case 'x': case 'u': {
        uint32_t v = 0;
        int digits = 0;
        if (c == 'x' && ps->i < ps->n && ps->p[ps->i] == '{') {
            ps->i++;
            while (ps->i < ps->n && ps->p[ps->i] != '}') {
                int h = sp_hex_digit(ps->p[ps->i++]);
                if (h < 0 || ++digits > 6) return fail(ps, "has a malformed \\x{...}");
                v = v * 16 + (uint32_t)h;
            }
            if (ps->i >= ps->n || digits == 0) return fail(ps, "has a malformed \\x{...}");
            ps->i++;
        } else {
            int want = c == 'x' ? 2 : 4;
            for (; digits < want; digits++) {
                int h = ps->i < ps->n ? sp_hex_digit(ps->p[ps->i]) : -1;
                if (h < 0) return fail(ps, "has a malformed \\x or \\u escape");
                v = v * 16 + (uint32_t)h;
                ps->i++;
            }
        }
        if (v >= 0x110000 || (v >= 0xD800 && v < 0xE000)) return fail(ps, "escapes a code point that is not a character");
        *cp = v;
        return 1;
    }
    default:
        if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            *cp = c; /* escaped punctuation or space */
            return 1;
        }
        return fail(ps, "uses an escape the tokenizer's matcher does not cover (\\w, \\b, anchors, backreferences, ...)");
    }
}

/* one UTF-8 character of the pattern */
static int pat_char(re_parser *ps, uint32_t *cp) {
    size_t L = sp_utf8_decode(ps->p + ps->i, ps->n - ps->i, cp);
    if (!L) return fail(ps, "is not valid UTF-8");
    ps->i += L;
    return 0;
}

static int32_t parse_class(re_parser *ps, int icase) {
    /* after '[' */
    if (!GROW(ps->cls, ps->n_cls, ps->cap_cls, re_class)) return fail(ps, "(out of memory)");
    int32_t ci = ps->n_cls++;
    re_class *k = &ps->cls[ci];
    k->first = ps->n_items; k->neg = 0;
    if (ps->i < ps->n && ps->p[ps->i] == '^') { k->neg = 1; ps->i++; }
    int first = 1;
    for (;;) {
        if (ps->i >= ps->n) return fail(ps, "has an unterminated [");
        uint8_t c = ps->p[ps->i];
        if (c == ']' && !first) { ps->i++; break; }
        first = 0;
        if (c == '[') return fail(ps, "uses a nested class or a POSIX bracket");
        if (c == '&' && ps->i + 1 < ps->n && ps->p[ps->i + 1] == '&') return fail(ps, "uses a class intersection (&&)");
        uint32_t lo;
        if (c == '\\') {
            ps->i++;
            int r = parse_escape(ps, &lo);
            if (r < 0) return -1;
            if (r == 2) continue;
        } else if (pat_char(ps, &lo)) {
            return -1;
        }
        uint32_t hi = lo;
        if (ps->i + 1 < ps->n && ps->p[ps->i] == '-' && ps->p[ps->i + 1] != ']') {
            ps->i++;
            if (ps->p[ps->i] == '\\') {
                ps->i++;
                int r = parse_escape(ps, &hi);
                if (r < 0) return -1;
                if (r == 2) return fail(ps, "has a range ending in a class escape");
            } else if (pat_char(ps, &hi)) {
                return -1;
            }
            if (hi < lo) return fail(ps, "has an empty range in a class");
        }
        if (add_item(ps, IT_RANGE, 0, lo, hi)) return -1;
    }
    ps->cls[ci].n = ps->n_items - ps->cls[ci].first;
    int32_t nd = new_node(ps, N_CLASS);
    if (nd < 0) return -1;
    ps->nodes[nd].c = (uint32_t)ci;
    ps->nodes[nd].icase = (uint8_t)icase;
    return nd;
}

static int32_t parse_alt(re_parser *ps, int icase);

/* {n}, {n,}, {n,m}: returns 1 with the bounds when s[i..] is one (i is moved past it), else 0 */
static int parse_interval(re_parser *ps, int32_t *mn, int32_t *mx) {
    size_t i = ps->i + 1;
    long a = -1, b;
    while (i < ps->n && ps->p[i] >= '0' && ps->p[i] <= '9') { a = (a < 0 ? 0 : a) * 10 + (ps->p[i] - '0'); if (a > 1000) return 0; i++; }
    if (a < 0) return 0; /* "{,m}" is a literal in this dialect's terms; refuse below as literal '{' */
    b = a;
    if (i < ps->n && ps->p[i] == ',') {
        i++;
        b = -1;
        while (i < ps->n && ps->p[i] >= '0' && ps->p[i] <= '9') { b = (b < 0 ? 0 : b) * 10 + (ps->p[i] - '0'); if (b > 1000) return 0; i++; }
    }
    if (i >= ps->n || ps->p[i] != '}') return 0;
    if (b >= 0 && b < a) return 0;
    ps->i = i + 1;
    *mn = (int32_t)a; *mx = (int32_t)b;
    return 1;
}

static int32_t parse_atom(re_parser *ps, int icase) {
    uint8_t c = ps->p[ps->i];
    if (c == '(') {
        if (++ps->depth > RE_MAX_DEPTH) return fail(ps, "nests groups too deeply");
        ps->i++;
        int look = -1, ic = icase;
        const uint8_t *q = ps->p + ps->i;
        size_t left = ps->n - ps->i;
        if (left >= 1 && q[0] == '?') {
            if (left >= 2 && q[1] == ':') ps->i += 2;
            else if (left >= 3 && q[1] == 'i' && q[2] == ':') { ps->i += 3; ic = 1; }
            else if (left >= 4 && q[1] == '-' && q[2] == 'i' && q[3] == ':') { ps->i += 4; ic = 0; }
            else if (left >= 2 && q[1] == '=') { ps->i += 2; look = 0; }
            else if (left >= 2 && q[1] == '!') { ps->i += 2; look = 1; }
            else return fail(ps, "uses a group kind other than (?:, (?i:, (?= and (?! (lookbehind, named groups, inline flags, ...)");
        }
        int32_t in = parse_alt(ps, ic);
        if (in < 0) return -1;
        if (ps->i >= ps->n || ps->p[ps->i] != ')') return fail(ps, "has an unbalanced (");
        ps->i++;
        ps->depth--;
        if (look < 0) return in;
        int32_t nd = new_node(ps, N_LOOK);
        if (nd < 0) return -1;
        ps->nodes[nd].kid = in;
        ps->nodes[nd].neg = (uint8_t)look;
        return nd;
    }
    if (c == '[') { ps->i++; return parse_class(ps, icase); }
    if (c == '.') { ps->i++; return new_node(ps, N_ANY); }
    if (c == '^' || c == '$') return fail(ps, "uses an anchor (^ or $)");
    if (c == '*' || c == '+' || c == '?') return fail(ps, "has a quantifier with nothing to repeat");
    if (c == '{') {
        int32_t a, b;
        size_t save = ps->i;
        if (parse_interval(ps, &a, &b)) { ps->i = save; return fail(ps, "has a quantifier with nothing to repeat"); }
    }
    uint32_t cp;
    if (c == '\\') {
        ps->i++;
        int r = parse_escape(ps, &cp);
        if (r < 0) return -1;
        if (r == 2) { /* a one-item class */
            if (!GROW(ps->cls, ps->n_cls, ps->cap_cls, re_class)) return fail(ps, "(out of memory)");
            re_class *k = &ps->cls[ps->n_cls];
            k->first = ps->n_items - 1; k->n = 1; k->neg = 0;
            int32_t nd = new_node(ps, N_CLASS);
            if (nd < 0) return -1;
            ps->nodes[nd].c = (uint32_t)ps->n_cls++;
            return nd;
        }
    } else if (pat_char(ps, &cp)) {
        return -1;
    }
    int32_t nd = new_node(ps, N_CHAR);
    if (nd < 0) return -1;
    ps->nodes[nd].c = cp;
    ps->nodes[nd].icase = (uint8_t)icase;
    return nd;
}

static int nullable(const re_parser *ps, int32_t nd) {
    const re_node *x = &ps->nodes[nd];
    switch (x->type) {
    case N_CHAR: case N_CLASS: case N_ANY: return 0;
    case N_LOOK: return 1;
    case N_REP: return x->min == 0 || nullable(ps, x->kid);
    case N_CAT:
        for (int32_t k = x->kid; k >= 0; k = ps->nodes[k].next) if (!nullable(ps, k)) return 0;
        return 1;
    default: /* N_ALT */
        for (int32_t k = x->kid; k >= 0; k = ps->nodes[k].next) if (nullable(ps, k)) return 1;
        return 0;
    }
}

static int32_t parse_cat(re_parser *ps, int icase) {
    int32_t cat = new_node(ps, N_CAT), last = -1;
    if (cat < 0) return -1;
    while (ps->i < ps->n && ps->p[ps->i] != '|' && ps->p[ps->i] != ')') {
        int32_t at = parse_atom(ps, icase);
        if (at < 0) return -1;
        for (;;) { /* quantifiers */
            if (ps->i >= ps->n) break;
            uint8_t q = ps->p[ps->i];
            int32_t mn, mx;
            if (q == '*') { mn = 0; mx = -1; ps->i++; }
            else if (q == '+') { mn = 1; mx = -1; ps->i++; }
            else if (q == '?') { mn = 0; mx = 1; ps->i++; }
            else if (q == '{' && parse_interval(ps, &mn, &mx)) {}
            else break;
            if (ps->nodes[at].type == N_REP) return fail(ps, "stacks quantifiers");
            if (ps->nodes[at].type == N_LOOK) return fail(ps, "quantifies a lookahead");
            if (mx < 0 && nullable(ps, at)) return fail(ps, "repeats a sub-pattern that can match the empty string");
            int32_t rep = new_node(ps, N_REP);
            if (rep < 0) return -1;
            re_node *r = &ps->nodes[rep];
            r->kid = at; r->min = mn; r->max = mx;
            if (ps->i < ps->n && ps->p[ps->i] == '?') { r->lazy = 1; ps->i++; }
            else if (ps->i < ps->n && ps->p[ps->i] == '+') return fail(ps, "uses a possessive quantifier");
            at = rep;
        }
        if (last < 0) ps->nodes[cat].kid = at; else ps->nodes[last].next = at;
        last = at;
    }
    return cat;
}

static int32_t parse_alt(re_parser *ps, int icase) {
    int32_t first = parse_cat(ps, icase);
    if (first < 0 || ps->i >= ps->n || ps->p[ps->i] != '|') return first;
    int32_t alt = new_node(ps, N_ALT);
    if (alt < 0) return -1;
    ps->nodes[alt].kid = first;
    int32_t last = first;
    while (ps->i < ps->n && ps->p[ps->i] == '|') {
        ps->i++;
        int32_t k = parse_cat(ps, icase);
        if (k < 0) return -1;
        ps->nodes[last].next = k;
        last = k;
    }
    return alt;
}

/* ---------------------------------------------------------------- code generation */

static int32_t emit(re_parser *ps, int op) {
    if (ps->n_prog >= RE_MAX_PROG) return fail(ps, "is too large once its repetitions are expanded");
    if (!GROW(ps->prog, ps->n_prog, ps->cap_prog, re_inst)) return fail(ps, "(out of memory)");
    re_inst *in = &ps->prog[ps->n_prog];
    memset(in, 0, sizeof(*in));
    in->op = (uint8_t)op;
    return ps->n_prog++;
}

static int gen(re_parser *ps, int32_t nd) {
    const re_node x = ps->nodes[nd];
    int32_t i;
    switch (x.type) {
    case N_CHAR:
        if ((i = emit(ps, OP_CHAR)) < 0) return -1;
        ps->prog[i].c = x.c; ps->prog[i].flag = x.icase;
        return 0;
    case N_CLASS:
        if ((i = emit(ps, OP_CLASS)) < 0) return -1;
        ps->prog[i].x = (int32_t)x.c; ps->prog[i].flag = x.icase;
        return 0;
    case N_ANY:
        return emit(ps, OP_ANY) < 0 ? -1 : 0;
    case N_CAT:
        for (int32_t k = x.kid; k >= 0; k = ps->nodes[k].next) if (gen(ps, k)) return -1;
        return 0;
    case N_ALT: {
        int32_t jumps[256], nj = 0;
        for (int32_t k = x.kid; k >= 0; k = ps->nodes[k].next) {
            if (ps->nodes[k].next < 0) { if (gen(ps, k)) return -1; break; }
            int32_t s = emit(ps, OP_SPLIT);
            if (s < 0) return -1;
            ps->prog[s].x = ps->n_prog;
            if (gen(ps, k)) return -1;
            if (nj == 256) return fail(ps, "has more than 256 alternatives in one group");
            if ((jumps[nj++] = emit(ps, OP_JMP)) < 0) return -1;
            ps->prog[s].y = ps->n_prog;
        }
        for (int32_t j = 0; j < nj; j++) ps->prog[jumps[j]].x = ps->n_prog;
        return 0;
    }
    case N_REP: {
        for (int32_t r = 0; r < x.min; r++) if (gen(ps, x.kid)) return -1;
        if (x.max < 0) {
            int32_t s = emit(ps, OP_SPLIT);
            if (s < 0) return -1;
            ps->prog[s].x = ps->n_prog;
            if (gen(ps, x.kid)) return -1;
            int32_t j = emit(ps, OP_JMP);
            if (j < 0) return -1;
            ps->prog[j].x = s;
            ps->prog[s].y = ps->n_prog;
            if (x.lazy) { int32_t t = ps->prog[s].x; ps->prog[s].x = ps->prog[s].y; ps->prog[s].y = t; }
            return 0;
        }
        int32_t n_opt = x.max - x.min;
        int32_t *splits = (int32_t *)malloc((size_t)(n_opt ? n_opt : 1) * sizeof(int32_t));
        if (!splits) return fail(ps, "(out of memory)");
        for (int32_t r = 0; r < n_opt; r++) {
            int32_t s = emit(ps, OP_SPLIT);
            if (s < 0 || (splits[r] = s, ps->prog[s].x = ps->n_prog, gen(ps, x.kid))) { free(splits); return -1; }
        }
        for (int32_t r = 0; r < n_opt; r++) { /* each optional copy skips to the end when not taken */
            re_inst *sp = &ps->prog[splits[r]];
            sp->y = ps->n_prog;
            if (x.lazy) { int32_t t = sp->x; sp->x = sp->y; sp->y = t; }
        }
        free(splits);
        return 0;
    }
    default: { /* N_LOOK */
        int32_t l = emit(ps, OP_LOOK);
        if (l < 0) return -1;
        ps->prog[l].flag = x.neg;
        ps->prog[l].x = ps->n_prog;
        if (gen(ps, x.kid) || emit(ps, OP_MATCH) < 0) return -1;
        ps->prog[l].y = ps->n_prog;
        return 0;
    }
    }
}

static int class_has(const sp_regex *re, const re_class *k, uint32_t cp);

sp_status sp_regex_compile(sp_regex **out, const char *pat, size_t len, sp_arena *a, sp_error *err) {
    *out = NULL;
    re_parser ps;
    memset(&ps, 0, sizeof(ps));
    ps.p = (const uint8_t *)pat; ps.n = len;
    int32_t root = len ? parse_alt(&ps, 0) : fail(&ps, "is empty");
    if (root >= 0 && ps.i < ps.n) root = fail(&ps, "has an unbalanced )");
    if (root >= 0 && nullable(&ps, root)) root = fail(&ps, "can match the empty string");
    if (root >= 0 && (gen(&ps, root) || emit(&ps, OP_MATCH) < 0)) root = -1;
    sp_status st = SP_OK;
    if (root < 0) {
        st = sp_error_set(err, SP_ERR_UNSUPPORTED, "regex /%.*s%s/ %s", (int)(len > 120 ? 120 : len), pat,
                          len > 120 ? "..." : "", ps.why ? ps.why : "is not supported");
    } else {
        sp_regex *re = (sp_regex *)sp_arena_alloc(a, sizeof(sp_regex));
        re_inst *prog = (re_inst *)sp_arena_alloc(a, (size_t)ps.n_prog * sizeof(re_inst));
        re_class *cls = (re_class *)sp_arena_alloc(a, (size_t)(ps.n_cls + 1) * sizeof(re_class));
        re_item *items = (re_item *)sp_arena_alloc(a, (size_t)(ps.n_items + 1) * sizeof(re_item));
        if (!re || !prog || !cls || !items) {
            st = sp_error_set(err, SP_ERR_NOMEM, "regex: out of memory");
        } else {
            memcpy(prog, ps.prog, (size_t)ps.n_prog * sizeof(re_inst));
            if (ps.n_cls) memcpy(cls, ps.cls, (size_t)ps.n_cls * sizeof(re_class));
            if (ps.n_items) memcpy(items, ps.items, (size_t)ps.n_items * sizeof(re_item));
            re->prog = prog; re->n_prog = ps.n_prog;
            re->cls = cls; re->n_cls = ps.n_cls;
            re->items = items; re->n_items = ps.n_items;
            for (int32_t k = 0; k < re->n_cls; k++) { /* ASCII text tests one bit per character */
                memset(cls[k].ascii, 0, sizeof(cls[k].ascii));
                for (uint32_t cp = 0; cp < 128; cp++)
                    if (class_has(re, &cls[k], cp)) cls[k].ascii[cp >> 5] |= 1u << (cp & 31);
            }
            *out = re;
        }
    }
    free(ps.nodes); free(ps.cls); free(ps.items); free(ps.prog);
    return st;
}

/* ---------------------------------------------------------------- matching */

typedef struct { int32_t pc; size_t pos; } re_bt;

typedef struct {
    const sp_regex *re;
    const uint8_t *s; size_t n;
    sp_regex_scratch *sc;
    size_t sp;          /* stack depth */
    int64_t budget;
    int looks;
} re_ctx;

static int class_has(const sp_regex *re, const re_class *k, uint32_t cp) {
    int cat = -1, in = 0;
    for (int32_t j = 0; j < k->n && !in; j++) {
        const re_item *it = &re->items[k->first + j];
        int hit;
        if (it->kind == IT_RANGE) hit = cp >= it->lo && cp <= it->hi;
        else if (it->kind == IT_SPACE) hit = sp_uc_is_space(cp);
        else {
            if (cat < 0) cat = sp_uc_category(cp);
            hit = (it->lo >> cat) & 1;
        }
        in = hit != it->neg;
    }
    return in != k->neg;
}

static int class_match(const sp_regex *re, int32_t ci, int icase, uint32_t cp) {
    const re_class *k = &re->cls[ci];
    if (cp < 128 && !icase) return (k->ascii[cp >> 5] >> (cp & 31)) & 1;
    if (class_has(re, k, cp)) return 1;
    if (!icase) return 0;
    uint32_t f = sp_uc_fold(cp);
    if (f != cp && class_has(re, k, f)) return 1;
    return f >= 'a' && f <= 'z' && f - 32 != cp && class_has(re, k, f - 32);
}

/* the character at pos: its length (0 at the end); an invalid byte is one character that is
 * no letter, digit or space (code point 0x110000 + byte) */
static size_t char_at(const re_ctx *c, size_t pos, uint32_t *cp) {
    if (pos >= c->n) return 0;
    uint8_t b = c->s[pos];
    if (b < 0x80) { *cp = b; return 1; }
    size_t L = sp_utf8_decode(c->s + pos, c->n - pos, cp);
    if (!L) { *cp = 0x110000u + b; return 1; }
    return L;
}

static int push(re_ctx *c, int32_t pc, size_t pos) {
    if (c->sp == c->sc->cap) {
        size_t cap = c->sc->cap ? c->sc->cap * 2 : 256;
        void *p = realloc(c->sc->stack, cap * sizeof(re_bt));
        if (!p) return 0;
        c->sc->stack = p; c->sc->cap = cap;
    }
    re_bt *st = (re_bt *)c->sc->stack;
    st[c->sp].pc = pc; st[c->sp].pos = pos;
    c->sp++;
    return 1;
}

/* 1: matched (*end), 0: no match from pos, -1: out of memory or budget */
static int run(re_ctx *c, int32_t pc, size_t pos, size_t *end) {
    size_t base = c->sp;
    const re_inst *prog = c->re->prog;
    for (;;) {
        if (--c->budget < 0) return -1;
        const re_inst *in = &prog[pc];
        uint32_t cp;
        size_t L;
        switch (in->op) {
        case OP_MATCH:
            *end = pos;
            c->sp = base;
            return 1;
        case OP_JMP:
            pc = in->x;
            continue;
        case OP_SPLIT:
            if (!push(c, in->y, pos)) return -1;
            pc = in->x;
            continue;
        case OP_CHAR:
            L = char_at(c, pos, &cp);
            if (L && (cp == in->c || (in->flag && sp_uc_fold(cp) == sp_uc_fold(in->c)))) { pos += L; pc++; continue; }
            break;
        case OP_CLASS:
            L = char_at(c, pos, &cp);
            if (L && class_match(c->re, in->x, in->flag, cp)) { pos += L; pc++; continue; }
            break;
        case OP_ANY:
            L = char_at(c, pos, &cp);
            if (L && cp != '\n') { pos += L; pc++; continue; }
            break;
        default: { /* OP_LOOK */
            size_t e;
            if (c->looks >= RE_MAX_LOOK) return -1;
            c->looks++;
            int r = run(c, in->x, pos, &e);
            c->looks--;
            if (r < 0) return -1;
            if (r != in->flag) { pc = in->y; continue; }
            break;
        }
        }
        /* failure: resume the most recent untried branch */
        if (c->sp == base) return 0;
        c->sp--;
        const re_bt *st = (const re_bt *)c->sc->stack;
        pc = st[c->sp].pc;
        pos = st[c->sp].pos;
    }
}

int sp_regex_find(const sp_regex *re, const char *s, size_t n, size_t pos, size_t *ms, size_t *me,
                  sp_regex_scratch *scratch) {
    re_ctx c;
    c.re = re; c.s = (const uint8_t *)s; c.n = n; c.sc = scratch; c.sp = 0; c.looks = 0;
    c.budget = 4096 + 64 * (int64_t)(n - pos);
    while (pos < n) {
        size_t e;
        int r = run(&c, 0, pos, &e);
        if (r < 0) return -1;
        if (r) { *ms = pos; *me = e; return 1; }
        uint32_t cp;
        pos += char_at(&c, pos, &cp);
    }
    return 0;
}

void sp_regex_scratch_free(sp_regex_scratch *s) {
    free(s->stack);
    s->stack = NULL;
    s->cap = 0;
}
