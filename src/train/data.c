/* data.c - datasets: JSONL / CSV / text parsing, tokenization with targets, labels,
 * seeded split and shuffle, padded batches, and the parse-preview ABI for the page. */
#include "data.h"
#include "../readers/json.h"
#include "../json_write.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

/* ---------------------------------------------------------------------------------------- */
/* formats                                                                                  */

sp_status sp_data_format_parse(const char *name, int32_t *format, sp_error *err) {
    static const sp_name names[] = {{"jsonl", SP_DATA_JSONL, 0}, {"csv", SP_DATA_CSV, 0}, {"tsv", SP_DATA_TSV, 0},
                                    {"text", SP_DATA_TEXT, 0}, {"auto", SP_DATA_AUTO, 0}, {NULL, 0, 0}};
    if (!name || !*name) { *format = SP_DATA_AUTO; return SP_OK; }
    return sp_name_parse(names, "data format", name, format, err);
}

const char *sp_data_format_name(int32_t format) {
    switch (format) {
    case SP_DATA_JSONL: return "jsonl";
    case SP_DATA_CSV: return "csv";
    case SP_DATA_TSV: return "tsv";
    case SP_DATA_TEXT: return "text";
    case SP_DATA_AUTO: return "auto";
    }
    return "unknown";
}

static size_t skip_bom(const char *s, size_t len) {
    return (len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) ? 3 : 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

/* SP_ERR_DATA "line N: ..." that also carries line and field (NULL = none) as values. */
static sp_status data_err(sp_error *err, int32_t line, const char *field, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static sp_status data_err(sp_error *err, int32_t line, const char *field, const char *fmt, ...) {
    char what[SP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (line > 0) sp_error_set(err, SP_ERR_DATA, "line %d: %s", (int)line, what);
    else sp_error_set(err, SP_ERR_DATA, "%s", what);
    sp_error_at(err, line, field);
    return SP_ERR_DATA;
}


/* ---------------------------------------------------------------------------------------- */
/* CSV record reader (RFC 4180)                                                            */

typedef struct { const char *s; size_t len; int quoted; } csv_field;

typedef struct {
    const char *s;
    size_t n, pos;
    char sep;           /* ',' (CSV) or '\t' (TSV) */
    int32_t line;       /* line of s[pos] */
    csv_field *f;       /* [cap] fields of the current record */
    int32_t nf, cap;
    sp_status st;       /* the error of the csv_next call that returned -1 */
} csv_reader;

/* Reads one record. Returns 1 with rec_line set, 0 at end of input, -1 on error (r->st, and err
 * when it is not NULL, say which). */
static int csv_next(csv_reader *r, int32_t *rec_line, sp_error *err) {
    if (r->pos >= r->n) return 0;
    r->nf = 0;
    *rec_line = r->line;
    for (;;) {
        if (r->nf == r->cap) {
            int32_t nc = r->cap ? r->cap * 2 : 8;
            if (nc > (1 << 20)) { r->st = data_err(err, *rec_line, NULL, "too many fields"); return -1; }
            csv_field *nfp = (csv_field *)realloc(r->f, (size_t)nc * sizeof(csv_field));
            if (!nfp) { r->st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading CSV"); return -1; }
            r->f = nfp;
            r->cap = nc;
        }
        csv_field *f = &r->f[r->nf++];
        if (r->pos < r->n && r->s[r->pos] == '"') {
            int32_t qline = r->line;
            size_t j = r->pos + 1;
            for (;;) {
                if (j >= r->n) { r->st = data_err(err, qline, NULL, "unterminated quoted field"); return -1; }
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
            if (r->s[j] == r->sep) { r->pos = j + 1; if (r->pos >= r->n) { /* trailing separator: one more empty field */ goto empty_last; } continue; }
            if (r->s[j] == '\n') { r->pos = j + 1; r->line++; return 1; }
            r->st = data_err(err, r->line, NULL, "unexpected character after a closing quote (write \"\" for a quote inside a quoted field)");
            return -1;
        } else {
            size_t j = r->pos;
            while (j < r->n && r->s[j] != r->sep && r->s[j] != '\n') {
                if (r->s[j] == '"' && r->sep == ',') { /* TSV has no quoting inside a field: a quote is text */
                    r->st = data_err(err, r->line, NULL, "quote inside an unquoted field (quote the whole field and double the quote)");
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
            if (r->s[j] == r->sep) { r->pos = j + 1; if (r->pos >= r->n) goto empty_last; continue; }
            r->pos = j + 1;
            r->line++;
            return 1;
        }
    }
empty_last:
    if (r->nf == r->cap) {
        csv_field *nfp = (csv_field *)realloc(r->f, (size_t)(r->cap + 1) * sizeof(csv_field));
        if (!nfp) { r->st = sp_error_set(err, SP_ERR_NOMEM, "out of memory reading CSV"); return -1; }
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

/* Trimmed, ASCII case-insensitive comparison of a header field with name. */
static int field_is(const csv_field *f, const char *name) {
    const char *s = f->s;
    size_t len = f->len;
    while (len && is_space(*s)) { s++; len--; }
    while (len && is_space(s[len - 1])) len--;
    if (strlen(name) != len) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != name[i]) return 0;
    }
    return 1;
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

static void csv_header_cols(const csv_reader *r, csv_cols *c) {
    c->text = c->input = c->output = -1;
    for (int32_t i = 0; i < r->nf; i++) {
        if (field_is(&r->f[i], "text") && c->text < 0) c->text = i;
        else if (field_is(&r->f[i], "input") && c->input < 0) c->input = i;
        else if (field_is(&r->f[i], "output") && c->output < 0) c->output = i;
    }
}

/* TSV when each of the first (up to 5) non-blank lines has a tab after some text (a tab that only
 * indents a line does not count). The rows need not agree here: the parser refuses a row of the
 * wrong shape on its line, rather than the data silently becoming one plain-text example. */
static int looks_tsv(const char *s, size_t len) {
    int32_t seen = 0;
    size_t pos = 0;
    while (pos < len && seen < 5 && pos < 65536) {
        size_t end = pos;
        int text = 0, sep = 0, blank = 1;
        while (end < len && s[end] != '\n') {
            if (s[end] == '\t') sep |= text;
            else if (!is_space(s[end])) text = 1;
            if (!is_space(s[end])) blank = 0;
            end++;
        }
        if (!blank) {
            if (!sep) return 0;
            seen++;
        }
        pos = end + 1;
    }
    return seen > 0;
}

int32_t sp_data_detect_format(const char *data, size_t len) {
    size_t i = skip_bom(data, len);
    size_t k = i;
    while (k < len && is_space(data[k])) k++;
    if (k < len && data[k] == '{') return SP_DATA_JSONL;
    if (looks_tsv(data + i, len - i)) return SP_DATA_TSV;
    /* CSV only when the first row is exactly a known header */
    csv_reader r;
    memset(&r, 0, sizeof(r));
    r.s = data + i;
    r.n = len - i;
    r.sep = ',';
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

static sp_status dup_string(sp_dataset *ds, const sp_json *v, const char **out, size_t *out_len, sp_error *err) {
    *out = sp_arena_strndup(&ds->arena, v->str, v->len);
    *out_len = v->len;
    return *out ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data");
}

/* Appends the messages of list (an array of {"role", "content"} with string values) to e's parts.
 * name is the key ("messages", "prompt", "completion") for the error's field. */
static sp_status read_messages(sp_dataset *ds, sp_example *e, const sp_json *list, const char *name, sp_error *err) {
    char field[SP_ERROR_FIELD_MAX];
    for (size_t k = 0; k < list->len; k++) {
        const sp_json *m = &list->items[k];
        if (m->type != SP_JSON_OBJECT) {
            snprintf(field, sizeof(field), "%s[%zu]", name, k);
            return data_err(err, e->line, field, "%s must be an object {\"role\", \"content\"}, got %s", field, json_type_name(m));
        }
        const sp_json *role = sp_json_get(m, "role"), *content = sp_json_get(m, "content");
        snprintf(field, sizeof(field), "%s[%zu].role", name, k);
        if (!role) return data_err(err, e->line, field, "%s is missing", field);
        if (role->type != SP_JSON_STRING || role->len == 0)
            return data_err(err, e->line, field, "%s must be a non-empty string, got %s", field, role->type == SP_JSON_STRING ? "\"\"" : json_type_name(role));
        snprintf(field, sizeof(field), "%s[%zu].content", name, k);
        if (!content) return data_err(err, e->line, field, "%s is missing", field);
        if (content->type != SP_JSON_STRING) return data_err(err, e->line, field, "%s must be a string, got %s", field, json_type_name(content));
        int32_t i = e->n_parts++;
        if (dup_string(ds, role, &e->roles[i], &e->role_lens[i], err) || dup_string(ds, content, &e->parts[i], &e->part_lens[i], err)) return SP_ERR_NOMEM;
    }
    return SP_OK;
}

/* A one-message list for a plain-string prompt (user) or completion (assistant). */
static sp_status push_message(sp_dataset *ds, sp_example *e, const char *role, const sp_json *content, sp_error *err) {
    int32_t i = e->n_parts++;
    e->roles[i] = role;
    e->role_lens[i] = strlen(role);
    return dup_string(ds, content, &e->parts[i], &e->part_lens[i], err);
}

static sp_status alloc_parts(sp_dataset *ds, sp_example *e, size_t n, int chat, sp_error *err) {
    size_t cap = n ? n : 1;
    e->parts = (const char **)sp_arena_alloc(&ds->arena, cap * sizeof(char *));
    e->part_lens = (size_t *)sp_arena_alloc(&ds->arena, cap * sizeof(size_t));
    if (chat) {
        e->roles = (const char **)sp_arena_alloc(&ds->arena, cap * sizeof(char *));
        e->role_lens = (size_t *)sp_arena_alloc(&ds->arena, cap * sizeof(size_t));
    } else {
        e->train = (uint8_t *)sp_arena_alloc(&ds->arena, cap);
    }
    if (!e->parts || !e->part_lens || (chat ? !e->roles || !e->role_lens : !e->train)) return sp_error_set(err, SP_ERR_NOMEM, "out of memory reading data");
    return SP_OK;
}

static int has_assistant(const sp_example *e, int32_t from) {
    for (int32_t k = from; k < e->n_parts; k++) if (!strcmp(e->roles[k], "assistant")) return 1;
    return 0;
}

/* {"messages": [...]} */
static sp_status read_chat(sp_dataset *ds, sp_example *e, const sp_json *msgs, sp_error *err) {
    if (msgs->type != SP_JSON_ARRAY) return data_err(err, e->line, "messages", "\"messages\" must be a list of {\"role\", \"content\"}, got %s", json_type_name(msgs));
    e->kind = SP_EX_CHAT;
    sp_status st = alloc_parts(ds, e, msgs->len, 1, err);
    if (!st) st = read_messages(ds, e, msgs, "messages", err);
    if (st) return st;
    e->train_from = 0;
    if (!has_assistant(e, 0)) return data_err(err, e->line, "messages", "\"messages\" has no \"assistant\" turn to learn");
    return SP_OK;
}

/* {"prompt", "completion"}: two strings are an input/output pair; otherwise a conversation whose
 * completion turns (a string is one assistant message, a prompt string one user message) are learnt. */
static sp_status read_prompt_completion(sp_dataset *ds, sp_example *e, const sp_json *p, const sp_json *c, sp_error *err) {
    if (!p) return data_err(err, e->line, "prompt", "missing \"prompt\" (it has \"completion\")");
    if (!c) return data_err(err, e->line, "completion", "missing \"completion\" (it has \"prompt\")");
    if (p->type != SP_JSON_STRING && p->type != SP_JSON_ARRAY)
        return data_err(err, e->line, "prompt", "\"prompt\" must be a string or a list of messages, got %s", json_type_name(p));
    if (c->type != SP_JSON_STRING && c->type != SP_JSON_ARRAY)
        return data_err(err, e->line, "completion", "\"completion\" must be a string or a list of messages, got %s", json_type_name(c));
    if (p->type == SP_JSON_STRING && c->type == SP_JSON_STRING) {
        e->kind = SP_EX_PAIR;
        if (dup_string(ds, p, &e->text, &e->text_len, err) || dup_string(ds, c, &e->output, &e->output_len, err)) return SP_ERR_NOMEM;
        return SP_OK;
    }
    e->kind = SP_EX_CHAT;
    size_t np = p->type == SP_JSON_ARRAY ? p->len : 1, nc = c->type == SP_JSON_ARRAY ? c->len : 1;
    if (alloc_parts(ds, e, np + nc, 1, err)) return SP_ERR_NOMEM;
    sp_status st = p->type == SP_JSON_ARRAY ? read_messages(ds, e, p, "prompt", err) : push_message(ds, e, "user", p, err);
    if (st) return st;
    e->train_from = e->n_parts;
    st = c->type == SP_JSON_ARRAY ? read_messages(ds, e, c, "completion", err) : push_message(ds, e, "assistant", c, err);
    if (st) return st;
    if (!has_assistant(e, e->train_from)) return data_err(err, e->line, "completion", "\"completion\" has no \"assistant\" turn to learn");
    return SP_OK;
}

/* {"segments": [{"text": "...", "train": true|false}, ...]}: text already rendered (by a chat
 * template), learnt where train is true. segs is that list; at names it in errors ("segments" or
 * "segments[s]" for the s-th sequence of a list of lists). */
static sp_status read_segments(sp_dataset *ds, sp_example *e, const sp_json *segs, const char *at, sp_error *err) {
    if (segs->type != SP_JSON_ARRAY) return data_err(err, e->line, at, "\"%s\" must be a list of {\"text\", \"train\"}, got %s", at, json_type_name(segs));
    e->kind = SP_EX_SEGMENTS;
    if (alloc_parts(ds, e, segs->len, 0, err)) return SP_ERR_NOMEM;
    char field[SP_ERROR_FIELD_MAX];
    int any = 0;
    for (size_t k = 0; k < segs->len; k++) {
        const sp_json *g = &segs->items[k];
        snprintf(field, sizeof(field), "%s[%zu]", at, k);
        if (g->type != SP_JSON_OBJECT) return data_err(err, e->line, field, "%s must be an object {\"text\", \"train\"}, got %s", field, json_type_name(g));
        const sp_json *t = sp_json_get(g, "text"), *tr = sp_json_get(g, "train");
        snprintf(field, sizeof(field), "%s[%zu].text", at, k);
        if (!t || t->type != SP_JSON_STRING) return data_err(err, e->line, field, "%s must be a string, got %s", field, t ? json_type_name(t) : "nothing");
        snprintf(field, sizeof(field), "%s[%zu].train", at, k);
        if (tr && tr->type != SP_JSON_BOOL) return data_err(err, e->line, field, "%s must be true or false, got %s", field, json_type_name(tr));
        int32_t i = e->n_parts++;
        if (dup_string(ds, t, &e->parts[i], &e->part_lens[i], err)) return SP_ERR_NOMEM;
        e->train[i] = (uint8_t)(tr && tr->boolean);
        any |= e->train[i] && t->len > 0;
    }
    if (!any) return data_err(err, e->line, at, "no segment with \"train\": true and text to learn");
    return SP_OK;
}

/* {"segments": [[...], [...]]}: several sequences from one conversation (a turn the chat template
 * writes differently once later turns follow is learnt in a sequence of its own); one example each. */
static sp_status read_sequences(sp_dataset *ds, ex_list *out, const sp_example *proto, const sp_json *segs, sp_error *err) {
    char at[SP_ERROR_FIELD_MAX];
    for (size_t s = 0; s < segs->len; s++) {
        sp_example e = *proto;
        snprintf(at, sizeof(at), "segments[%zu]", s);
        if (segs->items[s].type != SP_JSON_ARRAY)
            return data_err(err, e.line, at, "%s must be a list of {\"text\", \"train\"} like segments[0], got %s", at, json_type_name(&segs->items[s]));
        sp_status st = read_segments(ds, &e, &segs->items[s], at, err);
        if (st == SP_OK) st = ex_push(out, &e, err);
        if (st) return st;
    }
    return SP_OK;
}

/* One JSONL record: exactly one of {"text"}, {"input","output"}, {"messages"}, {"prompt","completion"},
 * {"segments"}, pushed to out (a list of segment lists is several examples). Other keys are ignored. */
static sp_status read_record(sp_dataset *ds, ex_list *out, sp_example *e, const sp_json *v, sp_error *err) {
    const sp_json *t = sp_json_get(v, "text"), *in = sp_json_get(v, "input"), *o = sp_json_get(v, "output");
    const sp_json *msgs = sp_json_get(v, "messages"), *p = sp_json_get(v, "prompt"), *c = sp_json_get(v, "completion");
    const sp_json *segs = sp_json_get(v, "segments");
    const char *kinds[5];
    int nk = 0;
    if (t) kinds[nk++] = "\"text\"";
    if (in || o) kinds[nk++] = "\"input\"/\"output\"";
    if (msgs) kinds[nk++] = "\"messages\"";
    if (p || c) kinds[nk++] = "\"prompt\"/\"completion\"";
    if (segs) kinds[nk++] = "\"segments\"";
    if (nk > 1) return data_err(err, e->line, NULL, "has both %s and %s; a record is one kind of example", kinds[0], kinds[1]);
    if (segs && segs->type == SP_JSON_ARRAY && segs->len > 0 && segs->items[0].type == SP_JSON_ARRAY)
        return read_sequences(ds, out, e, segs, err);
    sp_status st;
    if (t) {
        if (t->type != SP_JSON_STRING) return data_err(err, e->line, "text", "\"text\" must be a string, got %s", json_type_name(t));
        e->kind = SP_EX_TEXT;
        st = dup_string(ds, t, &e->text, &e->text_len, err);
    } else if (in || o) {
        if (!in) return data_err(err, e->line, "input", "missing \"input\" (it has \"output\")");
        if (!o) return data_err(err, e->line, "output", "missing \"output\" (it has \"input\")");
        if (in->type != SP_JSON_STRING) return data_err(err, e->line, "input", "\"input\" must be a string, got %s", json_type_name(in));
        if (o->type != SP_JSON_STRING) return data_err(err, e->line, "output", "\"output\" must be a string, got %s", json_type_name(o));
        e->kind = SP_EX_PAIR;
        st = dup_string(ds, in, &e->text, &e->text_len, err);
        if (st == SP_OK) st = dup_string(ds, o, &e->output, &e->output_len, err);
    } else if (msgs) {
        st = read_chat(ds, e, msgs, err);
    } else if (p || c) {
        st = read_prompt_completion(ds, e, p, c, err);
    } else if (segs) {
        st = read_segments(ds, e, segs, "segments", err);
    } else {
        return data_err(err, e->line, NULL, "missing \"text\" (or \"input\" and \"output\", \"messages\", or \"prompt\" and \"completion\")");
    }
    return st ? st : ex_push(out, e, err);
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
            else if (!strncmp(jerr.msg, "line 1, ", 8)) { st = sp_error_set(err, SP_ERR_DATA, "line %d, %s", (int)line, jerr.msg + 8); sp_error_at(err, line, NULL); }
            else st = data_err(err, line, NULL, "invalid JSON: %s", jerr.msg);
        } else if (v->type != SP_JSON_OBJECT) {
            st = data_err(err, line, NULL, "expected an object like {\"text\": ...}, {\"input\": ..., \"output\": ...} or {\"messages\": [...]}, got %s",
                          json_type_name(v));
        } else {
            sp_example e;
            memset(&e, 0, sizeof(e));
            e.line = line;
            st = read_record(ds, out, &e, v, err);
        }
        sp_arena_free(&tmp);
        pos = next;
    }
    return st;
}

/* CSV (sep ',') or TSV (sep '\t'). A header row names the columns "text", or "input" and "output"
 * (any order, any case; other columns are ignored). TSV may have no header: then every row is
 * input<TAB>output, as a spreadsheet copies two columns. */
static sp_status parse_delimited(sp_dataset *ds, ex_list *out, const char *s, size_t len, char sep, sp_error *err) {
    const char *what = sep == '\t' ? "TSV" : "CSV";
    size_t start = skip_bom(s, len);
    csv_reader r;
    memset(&r, 0, sizeof(r));
    r.s = s + start;
    r.n = len - start;
    r.sep = sep;
    r.line = 1;
    int32_t line;
    sp_status st = SP_OK;
    int rc;
    /* header: the first non-blank record */
    do { rc = csv_next(&r, &line, err); } while (rc == 1 && field_is_blank_record(&r));
    if (rc < 0) { free(r.f); return r.st; }
    if (rc == 0) { free(r.f); return data_err(err, 0, NULL, "no examples (empty %s)", what); }
    csv_cols c;
    csv_header_cols(&r, &c);
    int32_t n_cols = r.nf;
    int32_t header_line = line;
    int headless = 0;
    if (c.text >= 0 && (c.input >= 0 || c.output >= 0)) {
        free(r.f);
        return data_err(err, header_line, NULL, "%s header has both \"text\" and \"input\"/\"output\" columns", what);
    }
    if (c.text < 0 && (c.input < 0 || c.output < 0)) {
        if (sep == '\t' && c.input < 0 && c.output < 0) {
            headless = 1; /* no header: input<TAB>output rows, this one included */
            c.input = 0;
            c.output = 1;
            n_cols = 2;
        } else {
            free(r.f);
            if (c.input >= 0) return data_err(err, header_line, "output", "%s header has \"input\" but no \"output\" column", what);
            if (c.output >= 0) return data_err(err, header_line, "input", "%s header has \"output\" but no \"input\" column", what);
            return data_err(err, header_line, NULL, "%s header must name the columns \"input,output\" or \"text\"", what);
        }
    }
    int pending = headless; /* the first row is already read */
    for (;;) {
        if (!pending) {
            rc = csv_next(&r, &line, err);
            if (rc != 1) break;
            if (field_is_blank_record(&r)) continue;
        }
        pending = 0;
        if (r.nf != n_cols) {
            if (sep == '\t' && headless)
                st = data_err(err, line, NULL, "expected 2 tab-separated fields (input, output) or a header row naming the columns, found %d (plain text with tabs: choose the text format)", (int)r.nf);
            else
                st = data_err(err, line, NULL, "expected %d %sfield%s like the header, found %d%s", (int)n_cols, sep == '\t' ? "tab-separated " : "",
                              n_cols == 1 ? "" : "s", (int)r.nf, sep == ',' ? " (quote fields that contain commas)" : "");
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
        if (st) break;
    }
    if (st == SP_OK && rc < 0) st = r.st;
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
    if (format != SP_DATA_JSONL && format != SP_DATA_CSV && format != SP_DATA_TSV && format != SP_DATA_TEXT)
        return sp_error_set(err, SP_ERR_INVALID_ARG, "unknown data format %d", (int)format);
    ds->format = format;
    ex_list l;
    memset(&l, 0, sizeof(l));
    const char *s = data ? data : "";
    sp_status st = format == SP_DATA_JSONL ? parse_jsonl(ds, &l, s, len, err)
                 : format == SP_DATA_CSV   ? parse_delimited(ds, &l, s, len, ',', err)
                 : format == SP_DATA_TSV   ? parse_delimited(ds, &l, s, len, '\t', err)
                                           : parse_text(ds, &l, s, len, err);
    if (st == SP_OK && l.n == 0) st = data_err(err, 0, NULL, "no examples");
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

sp_status sp_dataset_random(sp_dataset *ds, int32_t B, int32_t T, int32_t vocab, uint64_t seed, sp_error *err) {
    memset(ds, 0, sizeof(*ds));
    sp_arena_init(&ds->arena, 0);
    ds->offsets = (int64_t *)sp_arena_alloc(&ds->arena, sizeof(int64_t) * ((size_t)B + 1));
    ds->ids = (int32_t *)sp_arena_alloc(&ds->arena, sizeof(int32_t) * (size_t)B * T);
    ds->targets = (uint8_t *)sp_arena_alloc(&ds->arena, (size_t)B * T);
    if (!ds->offsets || !ds->ids || !ds->targets)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory for a random dataset of %d x %d tokens", (int)B, (int)T);
    sp_rng rng;
    sp_rng_seed(&rng, seed);
    for (int64_t i = 0; i < (int64_t)B * T; i++) {
        ds->ids[i] = (int32_t)sp_rng_below(&rng, (uint32_t)vocab);
        ds->targets[i] = i % T != 0;
    }
    for (int32_t b = 0; b <= B; b++) ds->offsets[b] = (int64_t)b * T;
    ds->n = B;
    ds->max_length = ds->max_len = T;
    ds->n_tokens = (int64_t)B * T;
    ds->n_targets = (int64_t)B * (T - 1);
    return SP_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* tokenization                                                                             */

/* An example may hold at most 2^28 tokens (and its text at most 2^28 bytes for the first guess). */
#define DATA_MAX_TOKENS (1 << 28)

/* Encode into a growing scratch buffer *buf (cap *cap); *n = the number of ids. */
static sp_status encode_grow(const sp_tokenizer *tok, const char *text, size_t len, int32_t add_bos,
                             int32_t **buf, int32_t *cap, int32_t *n, sp_error *err) {
    if ((size_t)*cap < len + 8 && len < (size_t)DATA_MAX_TOKENS) { /* enough for byte-level tokenizers in one call */
        int32_t want = (int32_t)len + 8;
        int32_t *nb = (int32_t *)realloc(*buf, (size_t)want * sizeof(int32_t));
        if (!nb) return sp_error_set(err, SP_ERR_NOMEM, "out of memory tokenizing");
        *buf = nb;
        *cap = want;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        *n = 0;
        sp_error e2;
        sp_error_clear(&e2);
        sp_status st = sp_tokenizer_encode(tok, text, len, add_bos, *buf, *cap, n, &e2);
        if (st == SP_OK && *n <= *cap) return SP_OK;
        if (*n <= *cap || *n < 0)
            return sp_error_set(err, st ? st : SP_ERR_TOKENIZER, "%s", e2.msg[0] ? e2.msg : "tokenizer failed");
        if (*n > DATA_MAX_TOKENS) return sp_error_set(err, SP_ERR_TOO_LARGE, "example needs %d tokens", (int)*n);
        int32_t *nb = (int32_t *)realloc(*buf, (size_t)*n * sizeof(int32_t));
        if (!nb) return sp_error_set(err, SP_ERR_NOMEM, "out of memory tokenizing");
        *buf = nb;
        *cap = *n;
    }
    return sp_error_set(err, SP_ERR_TOKENIZER, "tokenizer gave inconsistent lengths");
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

/* The full token sequence of one example with its targets (see data.h), in q (grown as needed). */
typedef struct {
    int32_t *ids; uint8_t *tg; int64_t n, cap;
    int32_t *tmp; int32_t tmp_cap;   /* encoder scratch */
} ex_seq;

static sp_status seq_append(ex_seq *q, const int32_t *ids, int64_t n, uint8_t target, sp_error *err) {
    if (q->n + n > q->cap) {
        int64_t nc = q->cap ? q->cap * 2 : 256;
        while (nc < q->n + n) nc *= 2;
        if (nc > ((int64_t)1 << 30)) return sp_error_set(err, SP_ERR_TOO_LARGE, "example needs %lld tokens", (long long)(q->n + n));
        int32_t *ni = (int32_t *)realloc(q->ids, (size_t)nc * sizeof(int32_t));
        if (ni) q->ids = ni;
        uint8_t *nt = ni ? (uint8_t *)realloc(q->tg, (size_t)nc) : NULL;
        if (nt) q->tg = nt;
        if (!ni || !nt) return sp_error_set(err, SP_ERR_NOMEM, "out of memory tokenizing");
        q->cap = nc;
    }
    memcpy(q->ids + q->n, ids, (size_t)n * sizeof(int32_t));
    memset(q->tg + q->n, target, (size_t)n);
    q->n += n;
    return SP_OK;
}

static sp_status seq_encode(ex_seq *q, const sp_tokenizer *tok, const char *text, size_t len, int32_t add_bos, uint8_t target, sp_error *err) {
    int32_t n;
    sp_status st = encode_grow(tok, text, len, add_bos, &q->tmp, &q->tmp_cap, &n, err);
    return st ? st : seq_append(q, q->tmp, n, target, err);
}

static sp_status example_tokens(const sp_tokenizer *tok, const sp_example *e, ex_seq *q, sp_error *err) {
    q->n = 0;
    const int32_t bos = tok->bos_id >= 0 ? 1 : 0;
    switch (e->kind) {
    case SP_EX_TEXT:
        return seq_encode(q, tok, e->text, e->text_len, bos, 1, err);
    case SP_EX_PAIR: {
        sp_status st = seq_encode(q, tok, e->text, e->text_len, bos, 0, err);
        if (!st) st = seq_encode(q, tok, e->output, e->output_len, 0, 1, err);
        if (st) return st;
        if (tok->eos_id >= 0) return seq_append(q, &tok->eos_id, 1, 1, err);
        return SP_OK;
    }
    case SP_EX_SEGMENTS:
        for (int32_t k = 0; k < e->n_parts; k++) {
            sp_status st = seq_encode(q, tok, e->parts[k], e->part_lens[k], 0, e->train[k], err);
            if (st) return st;
        }
        return SP_OK;
    case SP_EX_CHAT: {
        sp_error_set(err, SP_ERR_UNSUPPORTED, "line %d: a conversation must be rendered with the model's chat template first (into {\"segments\"}; the JS API and the CLI do this)", (int)e->line);
        sp_error_at(err, e->line, "messages");
        return SP_ERR_UNSUPPORTED;
    }
    }
    return sp_error_set(err, SP_ERR_STATE, "unknown example kind %d", (int)e->kind);
}

sp_status sp_dataset_tokenize(sp_dataset *ds, const sp_tokenizer *tok, int32_t max_length, sp_error *err) {
    sp_error local; /* err may be NULL: the encoder's code is read back */
    if (!err) err = &local;
    if (!tok) return sp_error_set(err, SP_ERR_INVALID_ARG, "no tokenizer");
    if (max_length < 2) return sp_error_set(err, SP_ERR_INVALID_ARG, "max_length must be at least 2, got %d", (int)max_length);
    if (ds->n <= 0 || !ds->ex) return sp_error_set(err, SP_ERR_STATE, "dataset has no parsed examples");
    const int32_t eos = tok->eos_id;
    const int32_t L = max_length;

    ex_seq q;
    memset(&q, 0, sizeof(q));
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
        if ((st = example_tokens(tok, e, &q, err))) break;
        int64_t full = q.n, first_target = -1;
        for (int64_t k = 1; k < full; k++) if (q.tg[k]) { first_target = k; break; }
        if (first_target < 0) {
            st = data_err(err, e->line, NULL, "example has nothing to learn (%s)",
                          e->kind == SP_EX_PAIR ? "empty output and no EOS token" : e->kind == SP_EX_TEXT ? "empty text" : "no learnt segment has tokens");
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
            uint8_t is_t = (uint8_t)(j > 0 && q.tg[start + j]); /* the first kept token has no context */
            ids[n_tok + j] = q.ids[start + j];
            tg[n_tok + j] = is_t;
            ds->n_targets += is_t;
        }
        n_tok += len;
        if (len > ds->max_len) ds->max_len = (int32_t)len;
    }
    free(q.ids);
    free(q.tg);
    free(q.tmp);
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
            int32_t n;
            st = encode_grow(tok, ds->labels[k], ds->label_lens[k], 0, &tmp, &cap, &n, err);
            if (st) break;
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

static void json_example(sp_buf *b, const sp_example *e) {
    switch (e->kind) {
    case SP_EX_PAIR:
        sp_buf_printf(b, "{\"input\":");
        sp_buf_json_string(b, e->text, e->text_len);
        sp_buf_printf(b, ",\"output\":");
        sp_buf_json_string(b, e->output, e->output_len);
        break;
    case SP_EX_CHAT:
        sp_buf_printf(b, "{\"messages\":[");
        for (int32_t k = 0; k < e->n_parts; k++) {
            sp_buf_printf(b, "%s{\"role\":", k ? "," : "");
            sp_buf_json_string(b, e->roles[k], e->role_lens[k]);
            sp_buf_printf(b, ",\"content\":");
            sp_buf_json_string(b, e->parts[k], e->part_lens[k]);
            sp_buf_append(b, "}", 1);
        }
        sp_buf_printf(b, "],\"train_from\":%d", (int)e->train_from);
        break;
    case SP_EX_SEGMENTS:
        sp_buf_printf(b, "{\"segments\":[");
        for (int32_t k = 0; k < e->n_parts; k++) {
            sp_buf_printf(b, "%s{\"text\":", k ? "," : "");
            sp_buf_json_string(b, e->parts[k], e->part_lens[k]);
            sp_buf_printf(b, ",\"train\":%s}", e->train[k] ? "true" : "false");
        }
        sp_buf_append(b, "]", 1);
        break;
    default:
        sp_buf_printf(b, "{\"text\":");
        sp_buf_json_string(b, e->text, e->text_len);
    }
    sp_buf_printf(b, ",\"line\":%d}", (int)e->line);
}

static void json_error(sp_buf *b, const sp_error *err) {
    sp_buf_printf(b, "{\"code\":\"%s\",\"line\":%d,\"field\":", sp_status_name((sp_status)err->code), (int)err->line);
    if (err->field[0]) sp_buf_json_string(b, err->field, strlen(err->field));
    else sp_buf_append(b, "null", 4);
    sp_buf_printf(b, ",\"message\":");
    sp_buf_json_string(b, err->msg, strlen(err->msg));
    sp_buf_append(b, "}", 1);
}

static char *buf_take(sp_buf *b, sp_error *err) {
    if (b->failed || !b->data) {
        sp_buf_free(b);
        sp_error_set(err, SP_ERR_NOMEM, "out of memory writing data JSON");
        return NULL;
    }
    return b->data; /* malloc'd by sp_buf (realloc), freed with sp_free */
}

char *sp_dataset_preview_json(const sp_tokenizer *tok, const char *data, size_t len, int32_t format,
                              int32_t limit, int32_t max_length, int32_t with_ids, sp_error *err) {
    sp_error local;
    if (!err) err = &local;
    if (limit < 0) limit = 0;
    sp_dataset ds;
    sp_status st = sp_dataset_parse(&ds, data, len, format, err);
    int chats = 0, unrendered = 0, texts = 0, pairs = 0;
    for (int32_t i = 0; st == SP_OK && i < ds.n; i++) {
        int32_t k = ds.ex[i].kind;
        chats += k == SP_EX_CHAT || k == SP_EX_SEGMENTS;
        unrendered += k == SP_EX_CHAT;
        texts += k == SP_EX_TEXT;
        pairs += k == SP_EX_PAIR;
    }
    int32_t *lens = NULL;
    if (st == SP_OK && tok && !unrendered) {
        /* counts before truncation: tokenize at the longest length the lengths can have */
        st = sp_dataset_tokenize(&ds, tok, INT32_MAX, err);
    } else if (st == SP_OK && tok) {
        /* conversations are counted once rendered (segments); an unrendered one has no count */
        ex_seq q;
        memset(&q, 0, sizeof(q));
        lens = (int32_t *)malloc((size_t)ds.n * sizeof(int32_t) + 1);
        if (!lens) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory counting tokens");
        for (int32_t i = 0; st == SP_OK && i < ds.n; i++) {
            if (ds.ex[i].kind == SP_EX_CHAT) { lens[i] = -1; continue; }
            st = example_tokens(tok, &ds.ex[i], &q, err);
            lens[i] = (int32_t)q.n;
        }
        free(q.ids); free(q.tg); free(q.tmp);
        if (st == SP_OK) st = build_labels(&ds, err);
    } else if (st == SP_OK) {
        st = build_labels(&ds, err);
    }
    sp_buf b;
    memset(&b, 0, sizeof(b));
    if (st != SP_OK && st != SP_ERR_DATA) { free(lens); sp_dataset_free(&ds); return NULL; }
    if (st == SP_ERR_DATA) {
        /* the problem is the answer: no examples, the error with its line and field */
        sp_buf_printf(&b, "{\"format\":\"%s\",\"kind\":null,\"count\":0,\"examples\":[],\"labels\":null,\"tokens\":null,\"warnings\":[],\"errors\":[",
                      sp_data_format_name(format == SP_DATA_AUTO ? sp_data_detect_format(data ? data : "", len) : format));
        json_error(&b, err);
        sp_buf_append(&b, "]}", 2);
        sp_error_clear(err);
        free(lens);
        sp_dataset_free(&ds);
        return buf_take(&b, err);
    }
    const char *kind = chats == ds.n ? "chat" : texts == ds.n ? "text" : pairs == ds.n ? "input-output" : "mixed";
    sp_buf_printf(&b, "{\"format\":\"%s\",\"kind\":\"%s\",\"count\":%d,\"examples\":[", sp_data_format_name(ds.format), kind, (int)ds.n);
    for (int32_t i = 0; i < ds.n && i < limit; i++) {
        if (i) sp_buf_append(&b, ",", 1);
        json_example(&b, &ds.ex[i]);
        if (with_ids && tok && ds.ids) {
            /* the example's tokens and which are learnt: json_example's "}" is replaced */
            b.len--;
            const int64_t o = ds.offsets[i];
            const int32_t n = sp_dataset_len(&ds, i);
            sp_buf_printf(&b, ",\"ids\":[");
            for (int32_t k = 0; k < n; k++) sp_buf_printf(&b, "%s%d", k ? "," : "", (int)ds.ids[o + k]);
            sp_buf_printf(&b, "],\"targets\":[");
            for (int32_t k = 0; k < n; k++) sp_buf_printf(&b, "%s%d", k ? "," : "", (int)ds.targets[o + k]);
            sp_buf_printf(&b, "]}");
        }
    }
    sp_buf_printf(&b, "],\"labels\":");
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
    sp_buf_printf(&b, ",\"tokens\":");
    if (tok) {
        int64_t total = 0, targets = 0;
        int32_t mn = INT32_MAX, mx = 0, trunc = 0, counted = 0;
        for (int32_t i = 0; i < ds.n; i++) {
            int32_t n = lens ? lens[i] : sp_dataset_len(&ds, i);
            if (n < 0) continue;
            counted++;
            total += n;
            if (n < mn) mn = n;
            if (n > mx) mx = n;
            if (max_length > 0 && n > max_length) trunc++;
        }
        if (!lens) targets = ds.n_targets;
        sp_buf_printf(&b, "{\"total\":%lld,\"min\":%d,\"max\":%d,\"mean\":%.17g,\"truncated\":%d,", (long long)total,
                      counted ? (int)mn : 0, (int)mx, counted ? (double)total / counted : 0.0, (int)trunc);
        if (lens) sp_buf_printf(&b, "\"targets\":null,\"per_example\":[");
        else sp_buf_printf(&b, "\"targets\":%lld,\"per_example\":[", (long long)targets);
        for (int32_t i = 0; i < ds.n; i++) {
            int32_t n = lens ? lens[i] : sp_dataset_len(&ds, i);
            if (n < 0) sp_buf_printf(&b, "%snull", i ? "," : "");
            else sp_buf_printf(&b, "%s%d", i ? "," : "", (int)n);
        }
        sp_buf_append(&b, "]}", 2);
    } else {
        sp_buf_append(&b, "null", 4);
    }
    sp_buf_printf(&b, ",\"warnings\":[");
    if (ds.n == 1)
        sp_buf_printf(&b, "\"the data holds one example: a tuned prompt learns little from one example, and none is left to evaluate on (check the format: %s was read)\"",
                      sp_data_format_name(ds.format));
    sp_buf_printf(&b, "],\"errors\":[]}");
    free(lens);
    sp_dataset_free(&ds);
    return buf_take(&b, err);
}

char *sp_dataset_conversations_json(const char *data, size_t len, int32_t format, sp_error *err) {
    sp_dataset ds;
    if (sp_dataset_parse(&ds, data, len, format, err)) { sp_dataset_free(&ds); return NULL; }
    sp_buf b;
    memset(&b, 0, sizeof(b));
    sp_buf_printf(&b, "{\"format\":\"%s\",\"conversations\":[", sp_data_format_name(ds.format));
    int first = 1;
    for (int32_t i = 0; i < ds.n; i++) {
        if (ds.ex[i].kind != SP_EX_CHAT) continue;
        if (!first) sp_buf_append(&b, ",", 1);
        first = 0;
        json_example(&b, &ds.ex[i]);
    }
    sp_buf_append(&b, "]}", 2);
    sp_dataset_free(&ds);
    return buf_take(&b, err);
}
