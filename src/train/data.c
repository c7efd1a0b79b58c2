/* data.c - datasets: JSONL / CSV / text parsing, tokenization with targets, labels,
 * seeded split and shuffle, padded batches, and the parse-preview ABI for the page. */
#include "data.h"
#include "../readers/json.h"
#include "../json_write.h"

#include <stdlib.h>
#include <string.h>
#include <limits.h>

/* ---------------------------------------------------------------------------------------- */
/* formats                                                                                  */

sp_status sp_data_format_parse(const char *name, int32_t *format, sp_error *err) {
    if (!name || !*name || !strcmp(name, "auto")) { *format = SP_DATA_AUTO; return SP_OK; }
    if (!strcmp(name, "jsonl")) { *format = SP_DATA_JSONL; return SP_OK; }
    if (!strcmp(name, "csv")) { *format = SP_DATA_CSV; return SP_OK; }
    if (!strcmp(name, "text")) { *format = SP_DATA_TEXT; return SP_OK; }
    return sp_error_set(err, SP_ERR_INVALID_ARG, "data format must be \"jsonl\", \"csv\", \"text\" or \"auto\", got \"%s\"", name);
}

const char *sp_data_format_name(int32_t format) {
    switch (format) {
    case SP_DATA_JSONL: return "jsonl";
    case SP_DATA_CSV: return "csv";
    case SP_DATA_TEXT: return "text";
    case SP_DATA_AUTO: return "auto";
    }
    return "unknown";
}

static size_t skip_bom(const char *s, size_t len) {
    return (len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) ? 3 : 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

/* ---------------------------------------------------------------------------------------- */
/* CSV record reader (RFC 4180)                                                            */

typedef struct { const char *s; size_t len; int quoted; } csv_field;

typedef struct {
    const char *s;
    size_t n, pos;
    int32_t line;       /* line of s[pos] */
    csv_field *f;       /* [cap] fields of the current record */
    int32_t nf, cap;
} csv_reader;

/* Reads one record. Returns 1 with rec_line set, 0 at end of input, -1 on error (err set). */
static int csv_next(csv_reader *r, int32_t *rec_line, sp_error *err) {
    if (r->pos >= r->n) return 0;
    r->nf = 0;
    *rec_line = r->line;
    for (;;) {
        if (r->nf == r->cap) {
            int32_t nc = r->cap ? r->cap * 2 : 8;
            if (nc > (1 << 20)) { sp_error_set(err, SP_ERR_DATA, "line %d: too many fields", (int)*rec_line); return -1; }
            csv_field *nfp = (csv_field *)realloc(r->f, (size_t)nc * sizeof(csv_field));
            if (!nfp) { sp_error_set(err, SP_ERR_NOMEM, "out of memory reading CSV"); return -1; }
            r->f = nfp;
            r->cap = nc;
        }
        csv_field *f = &r->f[r->nf++];
        if (r->pos < r->n && r->s[r->pos] == '"') {
            int32_t qline = r->line;
            size_t j = r->pos + 1;
            for (;;) {
                if (j >= r->n) { sp_error_set(err, SP_ERR_DATA, "line %d: unterminated quoted field", (int)qline); return -1; }
                char c = r->s[j];
                if (c == '"') {
                    if (j + 1 < r->n && r->s[j + 1] == '"') { j += 2; continue; }
                    break;
                }
                if (c == '\n') r->line++;
                j++;
            }
            f->s = r->s + r->pos + 1;
            f->len = j - (r->pos + 1);
            f->quoted = 1;
            j++; /* past the closing quote */
            if (j < r->n && r->s[j] == '\r' && (j + 1 == r->n || r->s[j + 1] == '\n')) j++; /* CRLF, or a CR at the very end */
            if (j >= r->n) { r->pos = j; return 1; }
            if (r->s[j] == ',') { r->pos = j + 1; if (r->pos >= r->n) { /* trailing comma: one more empty field */ goto empty_last; } continue; }
            if (r->s[j] == '\n') { r->pos = j + 1; r->line++; return 1; }
            sp_error_set(err, SP_ERR_DATA, "line %d: unexpected character after a closing quote (write \"\" for a quote inside a quoted field)", (int)r->line);
            return -1;
        } else {
            size_t j = r->pos;
            while (j < r->n && r->s[j] != ',' && r->s[j] != '\n') {
                if (r->s[j] == '"') {
                    sp_error_set(err, SP_ERR_DATA, "line %d: quote inside an unquoted field (quote the whole field and double the quote)", (int)r->line);
                    return -1;
                }
                j++;
            }
            size_t end = j;
            if (j < r->n && r->s[j] == '\n' && end > r->pos && r->s[end - 1] == '\r') end--;
            if (j >= r->n && end > r->pos && r->s[end - 1] == '\r') end--;
            f->s = r->s + r->pos;
            f->len = end - r->pos;
            f->quoted = 0;
            if (j >= r->n) { r->pos = j; return 1; }
            if (r->s[j] == ',') { r->pos = j + 1; if (r->pos >= r->n) goto empty_last; continue; }
            r->pos = j + 1;
            r->line++;
            return 1;
        }
    }
empty_last:
    if (r->nf == r->cap) {
        csv_field *nfp = (csv_field *)realloc(r->f, (size_t)(r->cap + 1) * sizeof(csv_field));
        if (!nfp) { sp_error_set(err, SP_ERR_NOMEM, "out of memory reading CSV"); return -1; }
        r->f = nfp;
        r->cap++;
    }
    r->f[r->nf].s = r->s + r->n;
    r->f[r->nf].len = 0;
    r->f[r->nf].quoted = 0;
    r->nf++;
    return 1;
}

static int field_is_blank_record(const csv_reader *r) {
    if (r->nf != 1 || r->f[0].quoted) return 0;
    for (size_t i = 0; i < r->f[0].len; i++) if (!is_space(r->f[0].s[i])) return 0;
    return 1;
}

/* Trimmed, case-sensitive comparison of a header field with name. */
static int field_is(const csv_field *f, const char *name) {
    const char *s = f->s;
    size_t len = f->len;
    while (len && is_space(*s)) { s++; len--; }
    while (len && is_space(s[len - 1])) len--;
    return strlen(name) == len && memcmp(s, name, len) == 0;
}

/* Copy a field into the arena, turning "" into " for quoted fields. */
static char *field_dup(sp_arena *a, const csv_field *f, size_t *out_len) {
    char *p = (char *)sp_arena_alloc(a, f->len + 1);
    if (!p) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < f->len; i++) {
        p[k++] = f->s[i];
        if (f->quoted && f->s[i] == '"' && i + 1 < f->len && f->s[i + 1] == '"') i++;
    }
    p[k] = 0;
    *out_len = k;
    return p;
}

/* Header columns: which field holds text / input / output (-1 if absent). */
typedef struct { int32_t text, input, output; } csv_cols;

static int csv_header_cols(const csv_reader *r, csv_cols *c) {
    c->text = c->input = c->output = -1;
    for (int32_t i = 0; i < r->nf; i++) {
        if (field_is(&r->f[i], "text") && c->text < 0) c->text = i;
        else if (field_is(&r->f[i], "input") && c->input < 0) c->input = i;
        else if (field_is(&r->f[i], "output") && c->output < 0) c->output = i;
    }
    return 1;
}

int32_t sp_data_detect_format(const char *data, size_t len) {
    size_t i = skip_bom(data, len);
    size_t k = i;
    while (k < len && is_space(data[k])) k++;
    if (k < len && data[k] == '{') return SP_DATA_JSONL;
    /* CSV only when the first row is exactly a known header */
    csv_reader r;
    memset(&r, 0, sizeof(r));
    r.s = data + i;
    r.n = len - i;
    r.line = 1;
    int32_t line;
    int32_t fmt = SP_DATA_TEXT;
    if (csv_next(&r, &line, NULL) == 1) {
        if (r.nf == 1 && field_is(&r.f[0], "text")) fmt = SP_DATA_CSV;
        if (r.nf == 2 && ((field_is(&r.f[0], "input") && field_is(&r.f[1], "output")) ||
                          (field_is(&r.f[0], "output") && field_is(&r.f[1], "input"))))
            fmt = SP_DATA_CSV;
    }
    free(r.f);
    return fmt;
}

/* ---------------------------------------------------------------------------------------- */
/* example list                                                                             */

typedef struct { sp_example *v; int32_t n, cap; } ex_list;

static sp_status ex_push(ex_list *l, const sp_example *e, sp_error *err) {
    if (l->n == l->cap) {
        if (l->cap >= INT32_MAX / 2) return sp_error_set(err, SP_ERR_TOO_LARGE, "too many examples");
        int32_t nc = l->cap ? l->cap * 2 : 64;
        sp_example *nv = (sp_example *)realloc(l->v, (size_t)nc * sizeof(sp_example));
        if (!nv) return sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data");
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = *e;
    return SP_OK;
}

static const char *json_type_name(const sp_json *v) {
    switch (v->type) {
    case SP_JSON_NULL: return "null";
    case SP_JSON_BOOL: return "a boolean";
    case SP_JSON_NUMBER: return "a number";
    case SP_JSON_STRING: return "a string";
    case SP_JSON_ARRAY: return "an array";
    case SP_JSON_OBJECT: return "an object";
    }
    return "?";
}

static sp_status parse_jsonl(sp_dataset *ds, ex_list *out, const char *s, size_t len, sp_error *err) {
    size_t pos = skip_bom(s, len);
    int32_t line = 0;
    sp_status st = SP_OK;
    while (pos < len && st == SP_OK) {
        line++;
        size_t end = pos;
        while (end < len && s[end] != '\n') end++;
        size_t next = end < len ? end + 1 : end;
        size_t le = end;
        if (le > pos && s[le - 1] == '\r') le--;
        size_t k = pos;
        while (k < le && is_space(s[k])) k++;
        if (k == le) { pos = next; continue; } /* blank line */
        sp_arena tmp;
        sp_arena_init(&tmp, 0);
        sp_error jerr;
        sp_error_clear(&jerr);
        sp_json *v = sp_json_parse(&tmp, s + pos, le - pos, &jerr);
        if (!v) {
            if (jerr.code == SP_ERR_NOMEM) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory parsing line %d", (int)line);
            else if (!strncmp(jerr.msg, "line 1, ", 8)) st = sp_error_set(err, SP_ERR_DATA, "line %d, %s", (int)line, jerr.msg + 8);
            else st = sp_error_set(err, SP_ERR_DATA, "line %d: invalid JSON: %s", (int)line, jerr.msg);
        } else if (v->type != SP_JSON_OBJECT) {
            st = sp_error_set(err, SP_ERR_DATA, "line %d: expected an object like {\"text\": ...} or {\"input\": ..., \"output\": ...}, got %s",
                              (int)line, json_type_name(v));
        } else {
            const sp_json *t = sp_json_get(v, "text");
            const sp_json *in = sp_json_get(v, "input");
            const sp_json *o = sp_json_get(v, "output");
            sp_example e;
            memset(&e, 0, sizeof(e));
            e.line = line;
            if (t && (in || o)) {
                st = sp_error_set(err, SP_ERR_DATA, "line %d: has both \"text\" and \"%s\"; use {\"text\"} or {\"input\", \"output\"}",
                                  (int)line, in ? "input" : "output");
            } else if (t) {
                if (t->type != SP_JSON_STRING)
                    st = sp_error_set(err, SP_ERR_DATA, "line %d: \"text\" must be a string, got %s", (int)line, json_type_name(t));
                else {
                    e.kind = SP_EX_TEXT;
                    e.text = sp_arena_strndup(&ds->arena, t->str, t->len);
                    e.text_len = t->len;
                    if (!e.text) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data");
                }
            } else if (in || o) {
                if (!in) st = sp_error_set(err, SP_ERR_DATA, "line %d: missing \"input\" (it has \"output\")", (int)line);
                else if (!o) st = sp_error_set(err, SP_ERR_DATA, "line %d: missing \"output\" (it has \"input\")", (int)line);
                else if (in->type != SP_JSON_STRING)
                    st = sp_error_set(err, SP_ERR_DATA, "line %d: \"input\" must be a string, got %s", (int)line, json_type_name(in));
                else if (o->type != SP_JSON_STRING)
                    st = sp_error_set(err, SP_ERR_DATA, "line %d: \"output\" must be a string, got %s", (int)line, json_type_name(o));
                else {
                    e.kind = SP_EX_PAIR;
                    e.text = sp_arena_strndup(&ds->arena, in->str, in->len);
                    e.text_len = in->len;
                    e.output = sp_arena_strndup(&ds->arena, o->str, o->len);
                    e.output_len = o->len;
                    if (!e.text || !e.output) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data");
                }
            } else {
                st = sp_error_set(err, SP_ERR_DATA, "line %d: missing \"text\" (or \"input\" and \"output\")", (int)line);
            }
            if (st == SP_OK) st = ex_push(out, &e, err);
        }
        sp_arena_free(&tmp);
        pos = next;
    }
    return st;
}

static sp_status parse_csv(sp_dataset *ds, ex_list *out, const char *s, size_t len, sp_error *err) {
    size_t start = skip_bom(s, len);
    csv_reader r;
    memset(&r, 0, sizeof(r));
    r.s = s + start;
    r.n = len - start;
    r.line = 1;
    int32_t line;
    sp_status st = SP_OK;
    int rc;
    /* header: the first non-blank record */
    do { rc = csv_next(&r, &line, err); } while (rc == 1 && field_is_blank_record(&r));
    if (rc < 0) { free(r.f); return (sp_status)err->code; }
    if (rc == 0) { free(r.f); return sp_error_set(err, SP_ERR_DATA, "no examples (empty CSV)"); }
    csv_cols c;
    csv_header_cols(&r, &c);
    int32_t n_cols = r.nf;
    int32_t header_line = line;
    if (c.text >= 0 && (c.input >= 0 || c.output >= 0)) {
        free(r.f);
        return sp_error_set(err, SP_ERR_DATA, "line %d: CSV header has both \"text\" and \"input\"/\"output\" columns", (int)header_line);
    }
    if (c.text < 0 && (c.input < 0 || c.output < 0)) {
        free(r.f);
        if (c.input >= 0) return sp_error_set(err, SP_ERR_DATA, "line %d: CSV header has \"input\" but no \"output\" column", (int)header_line);
        if (c.output >= 0) return sp_error_set(err, SP_ERR_DATA, "line %d: CSV header has \"output\" but no \"input\" column", (int)header_line);
        return sp_error_set(err, SP_ERR_DATA, "line %d: CSV header must name the columns \"input,output\" or \"text\"", (int)header_line);
    }
    while (st == SP_OK && (rc = csv_next(&r, &line, err)) == 1) {
        if (field_is_blank_record(&r)) continue;
        if (r.nf != n_cols) {
            st = sp_error_set(err, SP_ERR_DATA, "line %d: expected %d field%s like the header, found %d (quote fields that contain commas)",
                              (int)line, (int)n_cols, n_cols == 1 ? "" : "s", (int)r.nf);
            break;
        }
        sp_example e;
        memset(&e, 0, sizeof(e));
        e.line = line;
        if (c.text >= 0) {
            e.kind = SP_EX_TEXT;
            e.text = field_dup(&ds->arena, &r.f[c.text], &e.text_len);
            if (!e.text) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data");
        } else {
            e.kind = SP_EX_PAIR;
            e.text = field_dup(&ds->arena, &r.f[c.input], &e.text_len);
            e.output = field_dup(&ds->arena, &r.f[c.output], &e.output_len);
            if (!e.text || !e.output) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data");
        }
        if (st == SP_OK) st = ex_push(out, &e, err);
    }
    if (st == SP_OK && rc < 0) st = (sp_status)err->code;
    free(r.f);
    return st;
}

static sp_status parse_text(sp_dataset *ds, ex_list *out, const char *s, size_t len, sp_error *err) {
    size_t pos = skip_bom(s, len);
    int32_t line = 0;
    sp_buf cur;
    memset(&cur, 0, sizeof(cur));
    int32_t cur_line = 0, have = 0;
    sp_status st = SP_OK;
    for (;;) {
        int at_end = pos >= len;
        size_t end = pos, le = pos;
        int blank = 1;
        if (!at_end) {
            line++;
            while (end < len && s[end] != '\n') end++;
            le = end;
            if (le > pos && s[le - 1] == '\r') le--;
            for (size_t k = pos; k < le; k++) if (!is_space(s[k])) { blank = 0; break; }
        }
        if (blank || at_end) {
            if (have) {
                if (cur.failed) { st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data"); break; }
                sp_example e;
                memset(&e, 0, sizeof(e));
                e.kind = SP_EX_TEXT;
                e.line = cur_line;
                e.text = sp_arena_strndup(&ds->arena, cur.data, cur.len);
                e.text_len = cur.len;
                if (!e.text) { st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data"); break; }
                st = ex_push(out, &e, err);
                if (st) break;
                cur.len = 0;
                have = 0;
            }
            if (at_end) break;
        } else {
            if (have) sp_buf_append(&cur, "\n", 1);
            else { cur_line = line; have = 1; }
            sp_buf_append(&cur, s + pos, le - pos);
        }
        pos = end < len ? end + 1 : end;
    }
    sp_buf_free(&cur);
    return st;
}

sp_status sp_dataset_parse(sp_dataset *ds, const char *data, size_t len, int32_t format, sp_error *err) {
    sp_error local; /* err may be NULL: the parsers read the code back */
    if (!err) err = &local;
    memset(ds, 0, sizeof(*ds));
    sp_arena_init(&ds->arena, 0);
    if (!data && len) return sp_error_set(err, SP_ERR_INVALID_ARG, "data is NULL");
    if (format == SP_DATA_AUTO) format = sp_data_detect_format(data ? data : "", len);
    if (format != SP_DATA_JSONL && format != SP_DATA_CSV && format != SP_DATA_TEXT)
        return sp_error_set(err, SP_ERR_INVALID_ARG, "unknown data format %d", (int)format);
    ds->format = format;
    ex_list l;
    memset(&l, 0, sizeof(l));
    const char *s = data ? data : "";
    sp_status st = format == SP_DATA_JSONL ? parse_jsonl(ds, &l, s, len, err)
                 : format == SP_DATA_CSV   ? parse_csv(ds, &l, s, len, err)
                                           : parse_text(ds, &l, s, len, err);
    if (st == SP_OK && l.n == 0) st = sp_error_set(err, SP_ERR_DATA, "no examples");
    if (st == SP_OK) {
        size_t bytes;
        if (!sp_mul_size((size_t)l.n, sizeof(sp_example), &bytes) || !(ds->ex = (sp_example *)sp_arena_alloc(&ds->arena, bytes)))
            st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data");
        else {
            memcpy(ds->ex, l.v, bytes);
            ds->n = l.n;
            ds->all_pairs = 1;
            for (int32_t i = 0; i < l.n; i++) if (l.v[i].kind != SP_EX_PAIR) ds->all_pairs = 0;
        }
    }
    free(l.v);
    return st;
}

void sp_dataset_free(sp_dataset *ds) {
    if (!ds) return;
    sp_arena_free(&ds->arena);
    memset(ds, 0, sizeof(*ds));
}

/* ---------------------------------------------------------------------------------------- */
/* tokenization                                                                             */

/* Encode into a growing scratch buffer *buf (cap *cap). Returns the number of ids or -1. */
static int32_t encode_grow(const sp_tokenizer *tok, const char *text, size_t len, int32_t add_bos,
                           int32_t **buf, int32_t *cap, sp_error *err) {
    if ((size_t)*cap < len + 8 && len < (1u << 28)) { /* enough for byte-level tokenizers in one call */
        int32_t want = (int32_t)len + 8;
        int32_t *nb = (int32_t *)realloc(*buf, (size_t)want * sizeof(int32_t));
        if (!nb) { sp_error_set(err, SP_ERR_NOMEM, "out of memory tokenizing"); return -1; }
        *buf = nb;
        *cap = want;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        int32_t n = 0;
        sp_error e2;
        sp_error_clear(&e2);
        sp_status st = sp_tokenizer_encode(tok, text, len, add_bos, *buf, *cap, &n, &e2);
        if (st == SP_OK && n <= *cap) return n;
        if (n <= *cap || n < 0) {
            sp_error_set(err, st ? st : SP_ERR_TOKENIZER, "%s", e2.msg[0] ? e2.msg : "tokenizer failed");
            return -1;
        }
        if (n > (1 << 28)) { sp_error_set(err, SP_ERR_TOO_LARGE, "example needs %d tokens", (int)n); return -1; }
        int32_t *nb = (int32_t *)realloc(*buf, (size_t)n * sizeof(int32_t));
        if (!nb) { sp_error_set(err, SP_ERR_NOMEM, "out of memory tokenizing"); return -1; }
        *buf = nb;
        *cap = n;
    }
    sp_error_set(err, SP_ERR_TOKENIZER, "tokenizer gave inconsistent lengths");
    return -1;
}

static int label_cmp(const char *a, size_t al, const char *b, size_t bl) {
    size_t m = al < bl ? al : bl;
    int c = memcmp(a, b, m);
    if (c) return c;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

/* Build the label set when every example is a pair with <= SP_DATA_MAX_LABELS distinct outputs. */
static sp_status build_labels(sp_dataset *ds, sp_error *err) {
    ds->n_labels = 0;
    if (!ds->all_pairs) return SP_OK;
    const char *lab[SP_DATA_MAX_LABELS];
    size_t lens[SP_DATA_MAX_LABELS];
    int32_t nl = 0;
    for (int32_t i = 0; i < ds->n; i++) {
        const sp_example *e = &ds->ex[i];
        int32_t k;
        for (k = 0; k < nl; k++) if (!label_cmp(lab[k], lens[k], e->output, e->output_len)) break;
        if (k < nl) continue;
        if (nl == SP_DATA_MAX_LABELS) return SP_OK; /* too many distinct outputs: no label set */
        lab[nl] = e->output;
        lens[nl] = e->output_len;
        nl++;
    }
    /* insertion sort, bytewise */
    for (int32_t i = 1; i < nl; i++) {
        for (int32_t j = i; j > 0 && label_cmp(lab[j - 1], lens[j - 1], lab[j], lens[j]) > 0; j--) {
            const char *t = lab[j]; lab[j] = lab[j - 1]; lab[j - 1] = t;
            size_t tl = lens[j]; lens[j] = lens[j - 1]; lens[j - 1] = tl;
        }
    }
    ds->labels = (const char **)sp_arena_alloc(&ds->arena, (size_t)nl * sizeof(char *));
    ds->label_lens = (size_t *)sp_arena_alloc(&ds->arena, (size_t)nl * sizeof(size_t));
    ds->label_of = (int32_t *)sp_arena_alloc(&ds->arena, (size_t)ds->n * sizeof(int32_t));
    if (!ds->labels || !ds->label_lens || !ds->label_of) return sp_error_set(err, SP_ERR_NOMEM, "out of memory for labels");
    for (int32_t k = 0; k < nl; k++) { ds->labels[k] = lab[k]; ds->label_lens[k] = lens[k]; }
    for (int32_t i = 0; i < ds->n; i++) {
        for (int32_t k = 0; k < nl; k++) {
            if (!label_cmp(lab[k], lens[k], ds->ex[i].output, ds->ex[i].output_len)) { ds->label_of[i] = k; break; }
        }
    }
    ds->n_labels = nl;
    return SP_OK;
}

sp_status sp_dataset_tokenize(sp_dataset *ds, const sp_tokenizer *tok, int32_t max_length, sp_error *err) {
    sp_error local; /* err may be NULL: the encoder's code is read back */
    if (!err) err = &local;
    if (!tok) return sp_error_set(err, SP_ERR_INVALID_ARG, "no tokenizer");
    if (max_length < 2) return sp_error_set(err, SP_ERR_INVALID_ARG, "max_length must be at least 2, got %d", (int)max_length);
    if (ds->n <= 0 || !ds->ex) return sp_error_set(err, SP_ERR_STATE, "dataset has no parsed examples");
    const int32_t bos = tok->bos_id, eos = tok->eos_id;
    const int32_t L = max_length;

    int32_t *tmp_in = NULL, *tmp_out = NULL;
    int32_t cap_in = 0, cap_out = 0;
    /* growable flat arrays (malloc), copied into the arena at the end */
    int32_t *ids = NULL;
    uint8_t *tg = NULL;
    int64_t n_tok = 0, cap_tok = 0;
    int64_t *offsets = (int64_t *)sp_arena_alloc(&ds->arena, ((size_t)ds->n + 1) * sizeof(int64_t));
    sp_status st = SP_OK;
    if (!offsets) return sp_error_set(err, SP_ERR_NOMEM, "out of memory tokenizing");
    ds->n_truncated = ds->n_tail = 0;
    ds->max_len = 0;
    ds->n_targets = 0;

    for (int32_t i = 0; i < ds->n && st == SP_OK; i++) {
        const sp_example *e = &ds->ex[i];
        /* first part: BOS + text (or input) */
        int32_t n_in = encode_grow(tok, e->text, e->text_len, bos >= 0 ? 1 : 0, &tmp_in, &cap_in, err);
        if (n_in < 0) { st = (sp_status)err->code; break; }
        int32_t n_out = 0, n_eos = 0;
        if (e->kind == SP_EX_PAIR) {
            n_out = encode_grow(tok, e->output, e->output_len, 0, &tmp_out, &cap_out, err);
            if (n_out < 0) { st = (sp_status)err->code; break; }
            n_eos = eos >= 0 ? 1 : 0;
        }
        int64_t full = (int64_t)n_in + n_out + n_eos;
        /* targets of the full sequence: TEXT: positions >= 1; PAIR: positions >= n_in */
        int64_t first_target = e->kind == SP_EX_PAIR ? (n_in > 1 ? n_in : 1) : 1;
        if (full <= first_target || (e->kind == SP_EX_PAIR && n_out + n_eos == 0)) {
            st = sp_error_set(err, SP_ERR_DATA, "line %d: example has nothing to learn (%s)", (int)e->line,
                              e->kind == SP_EX_PAIR ? "empty output and no EOS token" : "empty text");
            break;
        }
        int64_t start = 0, len = full;
        if (full > L) {
            ds->n_truncated++;
            if (first_target < L) len = L;             /* keep the beginning */
            else { start = full - L; len = L; ds->n_tail++; } /* keep the end */
        }
        if (n_tok + len > cap_tok) {
            int64_t nc = cap_tok ? cap_tok * 2 : 4096;
            while (nc < n_tok + len) nc *= 2;
            if (nc > ((int64_t)1 << 40) || (uint64_t)nc > SIZE_MAX / sizeof(int32_t)) {
                st = sp_error_set(err, SP_ERR_TOO_LARGE, "dataset is too large (%lld tokens)", (long long)nc);
                break;
            }
            int32_t *ni = (int32_t *)realloc(ids, (size_t)nc * sizeof(int32_t));
            if (ni) ids = ni;
            uint8_t *nt = ni ? (uint8_t *)realloc(tg, (size_t)nc) : NULL;
            if (nt) tg = nt;
            if (!ni || !nt) { st = sp_error_set(err, SP_ERR_NOMEM, "out of memory tokenizing (%lld tokens)", (long long)nc); break; }
            cap_tok = nc;
        }
        offsets[i] = n_tok;
        for (int64_t j = 0; j < len; j++) {
            int64_t k = start + j; /* index in the full sequence */
            int32_t id = k < n_in ? tmp_in[k] : k < (int64_t)n_in + n_out ? tmp_out[k - n_in] : eos;
            uint8_t is_t = (uint8_t)(j > 0 && k >= first_target);
            ids[n_tok + j] = id;
            tg[n_tok + j] = is_t;
            ds->n_targets += is_t;
        }
        n_tok += len;
        if (len > ds->max_len) ds->max_len = (int32_t)len;
    }
    free(tmp_in);
    free(tmp_out);
    if (st == SP_OK) {
        offsets[ds->n] = n_tok;
        ds->ids = (int32_t *)sp_arena_alloc(&ds->arena, (size_t)n_tok * sizeof(int32_t));
        ds->targets = (uint8_t *)sp_arena_alloc(&ds->arena, (size_t)n_tok);
        if (!ds->ids || !ds->targets) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory tokenizing");
        else {
            memcpy(ds->ids, ids, (size_t)n_tok * sizeof(int32_t));
            memcpy(ds->targets, tg, (size_t)n_tok);
            ds->offsets = offsets;
            ds->n_tokens = n_tok;
            ds->max_length = L;
        }
    }
    free(ids);
    free(tg);
    if (st == SP_OK) st = build_labels(ds, err);
    if (st == SP_OK && ds->n_labels > 0) {
        /* label token sequences: encode(label) + EOS, as they appear in training */
        int64_t total = 0;
        int32_t *tmp = NULL, cap = 0;
        int32_t *seq[SP_DATA_MAX_LABELS];
        int32_t seq_n[SP_DATA_MAX_LABELS];
        ds->label_offsets = (int64_t *)sp_arena_alloc(&ds->arena, ((size_t)ds->n_labels + 1) * sizeof(int64_t));
        if (!ds->label_offsets) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory for labels");
        for (int32_t k = 0; k < ds->n_labels && st == SP_OK; k++) {
            int32_t n = encode_grow(tok, ds->labels[k], ds->label_lens[k], 0, &tmp, &cap, err);
            if (n < 0) { st = (sp_status)err->code; break; }
            seq_n[k] = n + (eos >= 0 ? 1 : 0);
            seq[k] = (int32_t *)sp_arena_alloc(&ds->arena, ((size_t)seq_n[k] + 1) * sizeof(int32_t));
            if (!seq[k]) { st = sp_error_set(err, SP_ERR_NOMEM, "out of memory for labels"); break; }
            memcpy(seq[k], tmp, (size_t)n * sizeof(int32_t));
            if (eos >= 0) seq[k][n] = eos;
            total += seq_n[k];
        }
        free(tmp);
        if (st == SP_OK) {
            ds->label_ids = (int32_t *)sp_arena_alloc(&ds->arena, ((size_t)total + 1) * sizeof(int32_t));
            if (!ds->label_ids) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory for labels");
            else {
                int64_t o = 0;
                for (int32_t k = 0; k < ds->n_labels; k++) {
                    ds->label_offsets[k] = o;
                    memcpy(ds->label_ids + o, seq[k], (size_t)seq_n[k] * sizeof(int32_t));
                    o += seq_n[k];
                }
                ds->label_offsets[ds->n_labels] = o;
            }
        }
    }
    return st;
}

sp_status sp_dataset_load(sp_dataset *ds, const sp_tokenizer *tok, const char *data, size_t len,
                          int32_t format, int32_t max_length, sp_error *err) {
    sp_status st = sp_dataset_parse(ds, data, len, format, err);
    if (st) return st;
    return sp_dataset_tokenize(ds, tok, max_length, err);
}

int32_t sp_dataset_len(const sp_dataset *ds, int32_t i) {
    return (int32_t)(ds->offsets[i + 1] - ds->offsets[i]);
}

/* ---------------------------------------------------------------------------------------- */
/* order, shuffle, split                                                                    */

void sp_data_order_init(int32_t *order, int32_t n) {
    for (int32_t i = 0; i < n; i++) order[i] = i;
}

void sp_data_shuffle(int32_t *order, int32_t n, sp_rng *rng) {
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)sp_rng_below(rng, (uint32_t)i + 1);
        int32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

sp_status sp_data_split(int32_t n, float eval_fraction, uint64_t seed, int32_t *train, int32_t *n_train,
                        int32_t *eval, int32_t *n_eval, sp_error *err) {
    if (n < 0) return sp_error_set(err, SP_ERR_INVALID_ARG, "negative example count");
    if (!(eval_fraction >= 0.0f && eval_fraction < 1.0f))
        return sp_error_set(err, SP_ERR_INVALID_ARG, "eval_split must be in [0, 1), got %g", (double)eval_fraction);
    int64_t ne = (int64_t)((double)eval_fraction * (double)n + 0.5);
    if (eval_fraction > 0.0f && n >= 2 && ne < 1) ne = 1;
    if (ne > n - 1) ne = n - 1;
    if (ne < 0) ne = 0;
    /* mark the eval examples: the first ne of a seeded permutation */
    uint8_t *is_eval = (uint8_t *)calloc(n > 0 ? (size_t)n : 1, 1);
    int32_t *perm = (int32_t *)malloc((n > 0 ? (size_t)n : 1) * sizeof(int32_t));
    if (!is_eval || !perm) { free(is_eval); free(perm); return sp_error_set(err, SP_ERR_NOMEM, "out of memory splitting data"); }
    sp_rng rng;
    sp_rng_seed(&rng, seed);
    sp_data_order_init(perm, n);
    sp_data_shuffle(perm, n, &rng);
    for (int64_t i = 0; i < ne; i++) is_eval[perm[i]] = 1;
    int32_t a = 0, b = 0;
    for (int32_t i = 0; i < n; i++) {
        if (is_eval[i]) eval[b++] = i;
        else train[a++] = i;
    }
    *n_train = a;
    *n_eval = b;
    free(is_eval);
    free(perm);
    return SP_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* batches                                                                                  */

int32_t sp_data_pad_id(const sp_tokenizer *tok) {
    return tok && tok->pad_id >= 0 ? tok->pad_id : 0;
}

sp_status sp_batch_init(sp_batch *b, sp_arena *a, int32_t cap_B, int32_t cap_T, sp_error *err) {
    memset(b, 0, sizeof(*b));
    if (cap_B <= 0 || cap_T <= 0) return sp_error_set(err, SP_ERR_INVALID_ARG, "batch size and length must be positive (%d, %d)", (int)cap_B, (int)cap_T);
    size_t bt;
    if (!sp_mul_size((size_t)cap_B, (size_t)cap_T, &bt) || bt > SIZE_MAX / sizeof(int32_t))
        return sp_error_set(err, SP_ERR_TOO_LARGE, "batch %d x %d is too large", (int)cap_B, (int)cap_T);
    b->ids = (int32_t *)sp_arena_alloc(a, bt * sizeof(int32_t));
    b->targets = (uint8_t *)sp_arena_alloc(a, bt);
    b->lengths = (int32_t *)sp_arena_alloc(a, (size_t)cap_B * sizeof(int32_t));
    b->example = (int32_t *)sp_arena_alloc(a, (size_t)cap_B * sizeof(int32_t));
    if (!b->ids || !b->targets || !b->lengths || !b->example) return sp_error_set(err, SP_ERR_NOMEM, "out of memory for a %d x %d batch", (int)cap_B, (int)cap_T);
    b->cap_B = cap_B;
    b->cap_T = cap_T;
    return SP_OK;
}

sp_status sp_batch_fill(sp_batch *b, const sp_dataset *ds, const int32_t *idx, int32_t n, int32_t pad_id, sp_error *err) {
    if (n <= 0 || n > b->cap_B) return sp_error_set(err, SP_ERR_INVALID_ARG, "batch of %d rows (capacity %d)", (int)n, (int)b->cap_B);
    if (!ds->ids) return sp_error_set(err, SP_ERR_STATE, "dataset is not tokenized");
    int32_t T = 0;
    for (int32_t r = 0; r < n; r++) {
        if (idx[r] < 0 || idx[r] >= ds->n) return sp_error_set(err, SP_ERR_INVALID_ARG, "example index %d out of range", (int)idx[r]);
        int32_t l = sp_dataset_len(ds, idx[r]);
        if (l > b->cap_T) return sp_error_set(err, SP_ERR_INVALID_ARG, "example of %d tokens exceeds batch length %d", (int)l, (int)b->cap_T);
        if (l > T) T = l;
    }
    b->B = n;
    b->T = T;
    b->n_targets = 0;
    for (int32_t r = 0; r < n; r++) {
        int64_t off = ds->offsets[idx[r]];
        int32_t l = sp_dataset_len(ds, idx[r]);
        int32_t *row = b->ids + (size_t)r * T;
        uint8_t *trow = b->targets + (size_t)r * T;
        memcpy(row, ds->ids + off, (size_t)l * sizeof(int32_t));
        memcpy(trow, ds->targets + off, (size_t)l);
        for (int32_t t = l; t < T; t++) { row[t] = pad_id; trow[t] = 0; }
        for (int32_t t = 0; t < l; t++) b->n_targets += trow[t];
        b->lengths[r] = l;
        b->example[r] = idx[r];
    }
    return SP_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* parse preview for the page                                                               */

char *sp_dataset_preview_json(const sp_tokenizer *tok, int32_t ctx_len, const char *data, size_t len, const char *format,
                              int32_t max_examples, sp_error *err) {
    int32_t fmt;
    if (sp_data_format_parse(format, &fmt, err)) return NULL;
    if (max_examples < 0) max_examples = 0;
    sp_dataset ds;
    sp_status st = sp_dataset_parse(&ds, data, len, fmt, err);
    if (st == SP_OK && tok) {
        int32_t L = ctx_len > 1 ? ctx_len : (1 << 30);
        st = sp_dataset_tokenize(&ds, tok, L, err);
    } else if (st == SP_OK) {
        st = build_labels(&ds, err);
    }
    if (st) { sp_dataset_free(&ds); return NULL; }
    sp_buf b;
    memset(&b, 0, sizeof(b));
    sp_buf_printf(&b, "{\"examples\":%d,\"format\":\"%s\"", (int)ds.n, sp_data_format_name(ds.format));
    if (tok) {
        sp_buf_printf(&b, ",\"tokens\":%lld,\"targets\":%lld,\"max_tokens\":%d,\"truncated\":%d",
                      (long long)ds.n_tokens, (long long)ds.n_targets, (int)ds.max_len, (int)ds.n_truncated);
    } else {
        sp_buf_printf(&b, ",\"tokens\":null,\"targets\":null");
    }
    sp_buf_printf(&b, ",\"labels\":");
    if (ds.n_labels > 0) {
        sp_buf_append(&b, "[", 1);
        for (int32_t k = 0; k < ds.n_labels; k++) {
            if (k) sp_buf_append(&b, ",", 1);
            sp_buf_json_string(&b, ds.labels[k], ds.label_lens[k]);
        }
        sp_buf_append(&b, "]", 1);
    } else {
        sp_buf_append(&b, "null", 4);
    }
    sp_buf_printf(&b, ",\"preview\":[");
    for (int32_t i = 0; i < ds.n && i < max_examples; i++) {
        const sp_example *e = &ds.ex[i];
        if (i) sp_buf_append(&b, ",", 1);
        if (e->kind == SP_EX_PAIR) {
            sp_buf_printf(&b, "{\"input\":");
            sp_buf_json_string(&b, e->text, e->text_len);
            sp_buf_printf(&b, ",\"output\":");
            sp_buf_json_string(&b, e->output, e->output_len);
        } else {
            sp_buf_printf(&b, "{\"text\":");
            sp_buf_json_string(&b, e->text, e->text_len);
        }
        sp_buf_printf(&b, ",\"line\":%d}", (int)e->line);
    }
    sp_buf_append(&b, "]}", 2);
    sp_dataset_free(&ds);
    if (b.failed || !b.data) {
        sp_buf_free(&b);
        sp_error_set(err, SP_ERR_NOMEM, "out of memory building the data preview");
        return NULL;
    }
    return b.data; /* malloc'd by sp_buf (realloc), freed with sp_free */
}
