/* hf_json.c - sp_tokenizer_from_hf_json: a Hugging Face tokenizer.json with a BPE model, the
 * SentencePiece-converted family (Llama/Mistral/TinyStories style). Supported:
 *   model        type "BPE": vocab, merges ("a b" or ["a","b"]), unk_token, byte_fallback,
 *                fuse_unk, ignore_merges (dropout, continuing_subword_prefix and
 *                end_of_word_suffix must be unset)
 *   added_tokens split out of the input first, leftmost-longest (content, special, normalized,
 *                lstrip, rstrip; single_word=true is refused)
 *   normalizer   null | Prepend | Replace(String) | Sequence of those
 *   pre_tokenizer null | Metaspace(replacement ▁, prepend_scheme / add_prefix_space, split)
 *   decoder      null | Replace(▁ -> " ") ByteFallback Fuse Strip(" ", start <= 1, stop 0) | Metaspace
 *   post_processor null | TemplateProcessing whose single template is [special?, $A]
 * Anything else is SP_ERR_TOKENIZER naming the field.
 * Decoding strips the one space that the normalizer / Metaspace prepended, after BOS or at the
 * start (this is what the HF Strip/Metaspace decoders do for these tokenizers), so
 * decode(encode(s)) == s whenever the vocab has the <0xXX> pieces. */
#include "tokenizer_impl.h"
#include "../readers/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TJ "tokenizer.json: "

static const char META[] = "\xE2\x96\x81";

static int json_str_is(const sp_json *v, const char *s) {
    size_t n = strlen(s);
    return v && v->type == SP_JSON_STRING && v->len == n && memcmp(v->str, s, n) == 0;
}

/* printable prefix of a JSON string for messages */
static int msg_len(const sp_json *v) { return v && v->type == SP_JSON_STRING ? (int)(v->len > 40 ? 40 : v->len) : 4; }
static const char *msg_str(const sp_json *v) { return v && v->type == SP_JSON_STRING ? v->str : "null"; }

static const char *type_name(const sp_json *v) {
    static const char *names[] = {"null", "bool", "number", "string", "array", "object"};
    return v ? names[v->type] : "missing";
}

static int is_null(const sp_json *v) { return !v || v->type == SP_JSON_NULL; }

/* integral JSON number in [0, SP_TOK_MAX_VOCAB) */
static int json_id(const sp_json *v, int32_t *out) {
    if (!v || v->type != SP_JSON_NUMBER) return 0;
    double d = v->number;
    if (!(d >= 0 && d < SP_TOK_MAX_VOCAB) || d != floor(d)) return 0;
    *out = (int32_t)d;
    return 1;
}

/* optional boolean field: absent/null -> def; a non-bool is an error */
static sp_status opt_bool(const sp_json *obj, const char *key, int def, int *out, const char *where, sp_error *err) {
    const sp_json *v = sp_json_get(obj, key);
    if (is_null(v)) { *out = def; return SP_OK; }
    if (v->type != SP_JSON_BOOL)
        return sp_error_set(err, SP_ERR_TOKENIZER, TJ "%s.%s must be a boolean, not %s", where, key, type_name(v));
    *out = v->boolean;
    return SP_OK;
}

typedef struct {
    sp_tokenizer *t;
    sp_arena *a;
    sp_error *err;
    int32_t n_added;
    const sp_json *added;       /* the added_tokens array (or NULL) */
    int dec_byte_fallback;      /* the decoder has ByteFallback */
} hf_ctx;

/* ---------------------------------------------------------------- normalizer */

static sp_status unsupported_type(hf_ctx *c, const char *where, const sp_json *ty) {
    return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s.type '%.*s' is not supported", where, msg_len(ty), msg_str(ty));
}

static sp_status parse_normalizer(hf_ctx *c, const sp_json *n, const char *where, int depth) {
    sp_tok_priv *pv = c->t->priv;
    if (is_null(n)) return SP_OK;
    if (n->type != SP_JSON_OBJECT || depth > 4)
        return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s must be an object or null", where);
    const sp_json *ty = sp_json_get(n, "type");
    if (json_str_is(ty, "Sequence")) {
        const sp_json *list = sp_json_get(n, "normalizers");
        if (!list || list->type != SP_JSON_ARRAY)
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s.normalizers must be an array", where);
        for (size_t i = 0; i < list->len; i++) {
            char sub[96];
            snprintf(sub, sizeof(sub), "%s.normalizers[%zu]", where, i);
            sp_status st = parse_normalizer(c, &list->items[i], sub, depth + 1);
            if (st) return st;
        }
        return SP_OK;
    }
    if (pv->n_norm >= SP_TOK_MAX_NORM)
        return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s: more than %d normalizer steps", where, SP_TOK_MAX_NORM);
    sp_tok_norm_step *s = &pv->norm[pv->n_norm];
    if (json_str_is(ty, "NFC")) {
        s->kind = SP_NORM_NFC;
    } else if (json_str_is(ty, "Prepend")) {
        const sp_json *p = sp_json_get(n, "prepend");
        if (!p || p->type != SP_JSON_STRING)
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s (Prepend): 'prepend' must be a string", where);
        s->kind = SP_NORM_PREPEND;
        s->a.ptr = p->str; s->a.len = p->len;
        if (p->len == 3 && memcmp(p->str, META, 3) == 0) c->t->add_space_prefix = 1;
    } else if (json_str_is(ty, "Replace")) {
        const sp_json *pat = sp_json_get(n, "pattern");
        const sp_json *str = sp_json_get(pat, "String");
        const sp_json *con = sp_json_get(n, "content");
        if (sp_json_get(pat, "Regex"))
            return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s.pattern: a Regex Replace normalizer is not supported", where);
        if (!str || str->type != SP_JSON_STRING || str->len == 0)
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s.pattern must be a non-empty {\"String\": ...}", where);
        if (!con || con->type != SP_JSON_STRING)
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s.content must be a string", where);
        s->kind = SP_NORM_REPLACE;
        s->a.ptr = str->str; s->a.len = str->len;
        s->b.ptr = con->str; s->b.len = con->len;
    } else {
        return unsupported_type(c, where, ty);
    }
    pv->n_norm++;
    return SP_OK;
}

/* ---------------------------------------------------------------- pre-tokenizer */

static sp_status metaspace_scheme(hf_ctx *c, const sp_json *m, const char *where, int *scheme) {
    const sp_json *rep = sp_json_get(m, "replacement");
    if (!is_null(rep) && !json_str_is(rep, META))
        return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s.replacement '%.*s' is not supported (only U+2581)",
                            where, msg_len(rep), msg_str(rep));
    const sp_json *ps = sp_json_get(m, "prepend_scheme");
    if (json_str_is(ps, "first")) *scheme = SP_PREPEND_FIRST;
    else if (json_str_is(ps, "always")) *scheme = SP_PREPEND_ALWAYS;
    else if (json_str_is(ps, "never")) *scheme = SP_PREPEND_NEVER;
    else if (is_null(ps)) {
        int aps;
        sp_status st = opt_bool(m, "add_prefix_space", 1, &aps, where, c->err);
        if (st) return st;
        *scheme = aps ? SP_PREPEND_ALWAYS : SP_PREPEND_NEVER;
    } else {
        return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s.prepend_scheme '%.*s' is not supported", where, msg_len(ps), msg_str(ps));
    }
    return SP_OK;
}

static sp_status split_behavior(hf_ctx *c, const sp_json *p, const char *where, int32_t *out) {
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    const sp_json *b = sp_json_get(p, "behavior");
    for (int i = 0; i < 5; i++) if (json_str_is(b, names[i])) { *out = i; return SP_OK; }
    return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s.behavior '%.*s' is not supported", where, msg_len(b), msg_str(b));
}

static sp_status parse_pre_one(hf_ctx *c, const sp_json *p, const char *where) {
    sp_tok_priv *pv = c->t->priv;
    if (p->type != SP_JSON_OBJECT) return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s must be an object", where);
    const sp_json *ty = sp_json_get(p, "type");
    if (pv->byte_level)
        return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s: a pre-tokenizer after ByteLevel is not supported", where);
    if (pv->n_pre >= SP_TOK_MAX_PRE)
        return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s: more than %d pre-tokenizer steps", where, SP_TOK_MAX_PRE);
    sp_tok_pre_step *s = &pv->pre[pv->n_pre];
    memset(s, 0, sizeof(*s));
    sp_status st;
    char sub[112];
    if (json_str_is(ty, "Metaspace")) {
        int scheme, split;
        if ((st = metaspace_scheme(c, p, where, &scheme)) || (st = opt_bool(p, "split", 1, &split, where, c->err))) return st;
        s->kind = SP_PRE_METASPACE;
        s->prefix = scheme;
        s->split = split;
        if (scheme != SP_PREPEND_NEVER) c->t->add_space_prefix = 1;
    } else if (json_str_is(ty, "Split")) {
        const sp_json *pat = sp_json_get(p, "pattern");
        const sp_json *re = sp_json_get(pat, "Regex"), *str = sp_json_get(pat, "String");
        int inv;
        if ((st = split_behavior(c, p, where, &s->behavior)) || (st = opt_bool(p, "invert", 0, &inv, where, c->err))) return st;
        s->kind = SP_PRE_SPLIT;
        s->invert = inv;
        if (re && re->type == SP_JSON_STRING) {
            snprintf(sub, sizeof(sub), "%s.pattern.Regex", where);
            if ((st = sp_regex_compile(&s->re, re->str, re->len, c->a, c->err)))
                return sp_error_prefix(c->err, st, TJ "%s", sub);
        } else if (str && str->type == SP_JSON_STRING && str->len > 0) {
            s->lit.ptr = str->str; s->lit.len = str->len;
        } else {
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s.pattern must be {\"Regex\": ...} or a non-empty {\"String\": ...}", where);
        }
    } else if (json_str_is(ty, "Digits")) {
        int ind;
        if ((st = opt_bool(p, "individual_digits", 0, &ind, where, c->err))) return st;
        s->kind = SP_PRE_DIGITS;
        s->behavior = ind ? SP_SPLIT_ISOLATED : SP_SPLIT_CONTIGUOUS;
    } else if (json_str_is(ty, "ByteLevel")) {
        int aps, rx;
        if ((st = opt_bool(p, "add_prefix_space", 1, &aps, where, c->err)) || (st = opt_bool(p, "use_regex", 1, &rx, where, c->err)))
            return st;
        s->kind = SP_PRE_BYTELEVEL;
        s->prefix = aps;
        s->behavior = SP_SPLIT_ISOLATED;
        if (rx && (st = sp_regex_compile(&s->re, SP_TOK_GPT2_REGEX, strlen(SP_TOK_GPT2_REGEX), c->a, c->err))) return st;
        pv->byte_level = 1;
    } else {
        return unsupported_type(c, where, ty);
    }
    pv->n_pre++;
    return SP_OK;
}

static sp_status parse_pre_tokenizer(hf_ctx *c, const sp_json *p) {
    if (is_null(p)) return SP_OK;
    if (p->type != SP_JSON_OBJECT) return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "pre_tokenizer must be an object or null");
    if (json_str_is(sp_json_get(p, "type"), "Sequence")) {
        const sp_json *list = sp_json_get(p, "pretokenizers");
        if (!list || list->type != SP_JSON_ARRAY)
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "pre_tokenizer.pretokenizers must be an array");
        for (size_t i = 0; i < list->len; i++) {
            char where[64];
            snprintf(where, sizeof(where), "pre_tokenizer.pretokenizers[%zu]", i);
            if (json_str_is(sp_json_get(&list->items[i], "type"), "Sequence"))
                return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s: a nested Sequence is not supported", where);
            sp_status st = parse_pre_one(c, &list->items[i], where);
            if (st) return st;
        }
        return SP_OK;
    }
    return parse_pre_one(c, p, "pre_tokenizer");
}

/* ---------------------------------------------------------------- decoder */

static sp_status parse_decoder_one(hf_ctx *c, const sp_json *d, const char *where, int *fused) {
    const sp_json *ty = sp_json_get(d, "type");
    if (d->type != SP_JSON_OBJECT) return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s must be an object", where);
    if (json_str_is(ty, "ByteFallback")) { c->dec_byte_fallback = 1; return SP_OK; }
    if (json_str_is(ty, "Fuse")) { *fused = 1; return SP_OK; }
    if (json_str_is(ty, "ByteLevel")) { c->t->priv->dec_byte_level = 1; return SP_OK; }
    if (json_str_is(ty, "Replace")) {
        const sp_json *str = sp_json_get(sp_json_get(d, "pattern"), "String");
        const sp_json *con = sp_json_get(d, "content");
        if (!json_str_is(str, META) || !json_str_is(con, " "))
            return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s (Replace): only U+2581 -> ' ' is supported", where);
        return SP_OK;
    }
    if (json_str_is(ty, "Strip")) {
        const sp_json *con = sp_json_get(d, "content");
        double start = sp_json_number(d, "start", 0), stop = sp_json_number(d, "stop", 0);
        if (!json_str_is(con, " ") || !(start == 0 || start == 1) || stop != 0)
            return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s (Strip): only content ' ', start 0 or 1, stop 0 is supported", where);
        if (start == 1 && !*fused)
            return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s: Strip before Fuse is not supported", where);
        return SP_OK;
    }
    if (json_str_is(ty, "Metaspace")) {
        int scheme;
        return metaspace_scheme(c, d, where, &scheme);
    }
    return unsupported_type(c, where, ty);
}

static sp_status parse_decoder(hf_ctx *c, const sp_json *d) {
    if (is_null(d)) return SP_OK;
    int fused = 0;
    if (d->type == SP_JSON_OBJECT && json_str_is(sp_json_get(d, "type"), "Sequence")) {
        const sp_json *list = sp_json_get(d, "decoders");
        if (!list || list->type != SP_JSON_ARRAY)
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "decoder.decoders must be an array");
        for (size_t i = 0; i < list->len; i++) {
            char where[48];
            snprintf(where, sizeof(where), "decoder.decoders[%zu]", i);
            sp_status st = parse_decoder_one(c, &list->items[i], where, &fused);
            if (st) return st;
        }
        return SP_OK;
    }
    return parse_decoder_one(c, d, "decoder", &fused);
}

/* ---------------------------------------------------------------- post-processor */

/* The ids of a TemplateProcessing special token by name. */
static sp_status template_special(hf_ctx *c, const sp_json *p, const sp_json *name, const char *where, int32_t *out) {
    sp_tokenizer *t = c->t;
    if (!name || name->type != SP_JSON_STRING)
        return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s.SpecialToken.id must be a string", where);
    const sp_json *ids = sp_json_get(sp_json_get(sp_json_get(p, "special_tokens"), name->str), "ids");
    if (ids && ids->type == SP_JSON_ARRAY) {
        if (ids->len != 1 || !json_id(&ids->items[0], out) || *out >= t->vocab_size)
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s: special_tokens['%.*s'].ids must be one valid id",
                                where, msg_len(name), name->str);
        return SP_OK;
    }
    *out = sp_tokenizer_find(t, name->str, name->len);
    if (*out < 0)
        return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s: special token '%.*s' is not in the vocab", where, msg_len(name), name->str);
    return SP_OK;
}

static sp_status parse_post_one(hf_ctx *c, const sp_json *p, const char *where) {
    sp_tokenizer *t = c->t;
    sp_tok_priv *pv = t->priv;
    const sp_json *ty = sp_json_get(p, "type");
    if (p->type != SP_JSON_OBJECT) return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s must be an object", where);
    if (json_str_is(ty, "ByteLevel")) return SP_OK; /* offsets only */
    if (!json_str_is(ty, "TemplateProcessing")) return unsupported_type(c, where, ty);
    const sp_json *single = sp_json_get(p, "single");
    if (!single || single->type != SP_JSON_ARRAY)
        return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s.single must be an array", where);
    int seen_a = 0;
    pv->n_prefix = pv->n_suffix = 0;
    for (size_t i = 0; i < single->len; i++) {
        const sp_json *it = &single->items[i];
        const sp_json *seq = sp_json_get(it, "Sequence"), *spt = sp_json_get(it, "SpecialToken");
        char sub[96];
        snprintf(sub, sizeof(sub), "%s.single[%zu]", where, i);
        if (seq) {
            if (seen_a || !json_str_is(sp_json_get(seq, "id"), "A"))
                return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s: only one Sequence $A is supported", sub);
            seen_a = 1;
        } else if (spt) {
            int32_t id;
            sp_status st = template_special(c, p, sp_json_get(spt, "id"), sub, &id);
            if (st) return st;
            int32_t *n = seen_a ? &pv->n_suffix : &pv->n_prefix;
            if (*n >= SP_TOK_MAX_SPECIAL)
                return sp_error_set(c->err, SP_ERR_UNSUPPORTED, TJ "%s: more than %d special tokens on one side", sub, SP_TOK_MAX_SPECIAL);
            (seen_a ? pv->suffix : pv->prefix)[(*n)++] = id;
        } else {
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s is neither Sequence nor SpecialToken", sub);
        }
    }
    if (!seen_a) return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "%s.single has no Sequence $A", where);
    if (pv->n_prefix) { t->bos_id = pv->prefix[pv->n_prefix - 1]; t->add_bos = 1; }
    if (pv->n_suffix) t->eos_id = pv->suffix[0];
    return SP_OK;
}

static sp_status parse_post_processor(hf_ctx *c, const sp_json *p) {
    c->t->add_bos = 0;
    if (is_null(p)) return SP_OK;
    if (p->type == SP_JSON_OBJECT && json_str_is(sp_json_get(p, "type"), "Sequence")) {
        const sp_json *list = sp_json_get(p, "processors");
        if (!list || list->type != SP_JSON_ARRAY)
            return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "post_processor.processors must be an array");
        for (size_t i = 0; i < list->len; i++) {
            char where[48];
            snprintf(where, sizeof(where), "post_processor.processors[%zu]", i);
            sp_status st = parse_post_one(c, &list->items[i], where);
            if (st) return st;
        }
        return SP_OK;
    }
    return parse_post_one(c, p, "post_processor");
}

/* ---------------------------------------------------------------- model */

static sp_status parse_merges(hf_ctx *c, const sp_json *merges) {
    sp_tokenizer *t = c->t;
    if (is_null(merges) || merges->len == 0) return SP_OK;
    if (merges->type != SP_JSON_ARRAY)
        return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "model.merges must be an array");
    if (merges->len > (size_t)SP_TOK_MAX_VOCAB * 4)
        return sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "model.merges has %zu entries (too many)", merges->len);
    t->merges = sp_tok_merges_new(c->a, merges->len);
    if (!t->merges) return sp_error_set(c->err, SP_ERR_NOMEM, "tokenizer: out of memory for %zu merges", merges->len);
    char *cat = NULL;
    size_t cat_cap = 0;
    sp_status st = SP_OK;
    for (size_t r = 0; r < merges->len && !st; r++) {
        const sp_json *m = &merges->items[r];
        const char *ap, *bp;
        size_t al, bl;
        if (m->type == SP_JSON_STRING) {
            const char *sp = (const char *)memchr(m->str, ' ', m->len);
            if (!sp || memchr(sp + 1, ' ', m->len - (size_t)(sp - m->str) - 1)) {
                st = sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "model.merges[%zu] '%.*s' is not two pieces separated by one space",
                                  r, msg_len(m), m->str);
                break;
            }
            ap = m->str; al = (size_t)(sp - m->str);
            bp = sp + 1; bl = m->len - al - 1;
        } else if (m->type == SP_JSON_ARRAY && m->len == 2 && m->items[0].type == SP_JSON_STRING &&
                   m->items[1].type == SP_JSON_STRING) {
            ap = m->items[0].str; al = m->items[0].len;
            bp = m->items[1].str; bl = m->items[1].len;
        } else {
            st = sp_error_set(c->err, SP_ERR_TOKENIZER, TJ "model.merges[%zu] must be a string \"a b\" or [\"a\", \"b\"]", r);
            break;
        }
        st = sp_tok_merge_put(t, r, ap, al, bp, bl, &cat, &cat_cap, TJ "model.merges", c->err);
    }
    free(cat);
    return st;
}

/* The well-known names for BOS/EOS/PAD when the post-processor does not say. In a byte-level
 * vocabulary only added tokens count ("<s>" may be ordinary text there). */
static int32_t find_any(const sp_tokenizer *t, const char *const *names) {
    for (; *names; names++) {
        int32_t id = sp_tokenizer_find(t, *names, strlen(*names));
        if (id >= 0 && (!t->priv->byte_level || t->types[id] != SP_TT_NORMAL)) return id;
    }
    return -1;
}

sp_status sp_tokenizer_from_hf_json(sp_tokenizer *t, const char *json, size_t len, sp_arena *a, sp_error *err) {
    if (!t || !a || (!json && len)) return sp_error_set(err, SP_ERR_INVALID_ARG, "tokenizer_from_hf_json: invalid arguments");
    memset(t, 0, sizeof(*t));
    t->bos_id = t->eos_id = t->unk_id = t->pad_id = -1;
    sp_error jerr = {0};
    sp_json *root = sp_json_parse(a, json ? json : "", len, &jerr);
    if (!root) {
        sp_status code = jerr.code == SP_ERR_NOMEM ? SP_ERR_NOMEM : SP_ERR_TOKENIZER;
        return sp_error_set(err, code, TJ "%s", jerr.msg);
    }
    if (root->type != SP_JSON_OBJECT) return sp_error_set(err, SP_ERR_TOKENIZER, TJ "the document is not an object");
    hf_ctx c = {.t = t, .a = a, .err = err};
    sp_status st;

    const sp_json *model = sp_json_get(root, "model");
    if (!model || model->type != SP_JSON_OBJECT) return sp_error_set(err, SP_ERR_TOKENIZER, TJ "model is missing");
    const sp_json *mty = sp_json_get(model, "type");
    if (is_null(mty) ? !sp_json_get(model, "merges") : !json_str_is(mty, "BPE"))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, TJ "model.type '%.*s' is not supported (only 'BPE')", msg_len(mty), msg_str(mty));
    const sp_json *drop = sp_json_get(model, "dropout");
    if (!is_null(drop) && !(drop->type == SP_JSON_NUMBER && drop->number == 0))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, TJ "model.dropout is not supported");
    const char *unset[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const sp_json *v = sp_json_get(model, unset[i]);
        if (!is_null(v) && !(v->type == SP_JSON_STRING && v->len == 0))
            return sp_error_set(err, SP_ERR_UNSUPPORTED, TJ "model.%s is not supported", unset[i]);
    }

    /* ---- vocab + added tokens -> id space ---- */
    const sp_json *vocab = sp_json_get(model, "vocab");
    if (!vocab || vocab->type != SP_JSON_OBJECT || vocab->len == 0)
        return sp_error_set(err, SP_ERR_TOKENIZER, TJ "model.vocab must be a non-empty object");
    if (vocab->len > SP_TOK_MAX_VOCAB)
        return sp_error_set(err, SP_ERR_TOKENIZER, TJ "model.vocab has %zu entries (max %d)", vocab->len, SP_TOK_MAX_VOCAB);
    const sp_json *added = sp_json_get(root, "added_tokens");
    if (!is_null(added) && added->type != SP_JSON_ARRAY) return sp_error_set(err, SP_ERR_TOKENIZER, TJ "added_tokens must be an array");
    if (is_null(added)) added = NULL;
    size_t n_added = added ? added->len : 0;
    if (n_added > SP_TOK_MAX_VOCAB) return sp_error_set(err, SP_ERR_TOKENIZER, TJ "added_tokens has too many entries");
    int32_t max_id = -1;
    for (size_t i = 0; i < vocab->len; i++) {
        int32_t id;
        if (!json_id(&vocab->items[i], &id))
            return sp_error_set(err, SP_ERR_TOKENIZER, TJ "model.vocab['%.*s'] is not a valid id",
                                (int)(vocab->items[i].key_len > 40 ? 40 : vocab->items[i].key_len), vocab->items[i].key);
        if (id > max_id) max_id = id;
    }
    for (size_t i = 0; i < n_added; i++) {
        const sp_json *at = &added->items[i];
        int32_t id;
        const sp_json *content = sp_json_get(at, "content");
        if (at->type != SP_JSON_OBJECT || !json_id(sp_json_get(at, "id"), &id) || !content || content->type != SP_JSON_STRING)
            return sp_error_set(err, SP_ERR_TOKENIZER, TJ "added_tokens[%zu] needs an integer id and a string content", i);
        if (id > max_id) max_id = id;
    }
    int32_t n = max_id + 1;
    if ((size_t)n > vocab->len + n_added + 1024) /* ids are dense in real files; refuse before allocating */
        return sp_error_set(err, SP_ERR_TOKENIZER, TJ "id %d leaves a gap too large for %zu vocab and %zu added entries",
                            (int)max_id, vocab->len, n_added);
    t->kind = SP_TOK_BPE;
    t->vocab_size = n;
    t->pieces = (sp_str *)sp_arena_alloc(a, (size_t)n * sizeof(sp_str));
    t->types = (uint8_t *)sp_arena_alloc(a, (size_t)n);
    t->priv = (sp_tok_priv *)sp_arena_alloc(a, sizeof(sp_tok_priv));
    t->map = sp_tok_map_new(a, vocab->len + n_added);
    uint8_t *seen = (uint8_t *)calloc((size_t)n, 1);
    if (!t->pieces || !t->types || !t->priv || !t->map || !seen) {
        free(seen);
        return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory for %d pieces", (int)n);
    }
    for (int32_t i = 0; i < n; i++) { t->pieces[i].ptr = ""; t->types[i] = SP_TT_UNUSED; }
    for (size_t i = 0; i < vocab->len; i++) {
        const sp_json *v = &vocab->items[i];
        int32_t id = (int32_t)v->number;
        if (seen[id]) {
            free(seen);
            return sp_error_set(err, SP_ERR_TOKENIZER, TJ "model.vocab: id %d is used twice", (int)id);
        }
        seen[id] = 1;
        t->pieces[id].ptr = v->key;
        t->pieces[id].len = v->key_len;
        t->types[id] = SP_TT_NORMAL;
        sp_tok_map_put(t->map, v->key, v->key_len, id, 1); /* a duplicate key: the last one wins */
    }
    /* an added token may repeat a vocab entry (Gemma's do), but two added tokens with one id contradict */
    memset(seen, 0, (size_t)n);
    for (size_t i = 0; i < n_added; i++) {
        const sp_json *at = &added->items[i];
        int32_t id = (int32_t)sp_json_get(at, "id")->number;
        if (seen[id]) {
            size_t j = 0;
            while ((int32_t)sp_json_get(&added->items[j], "id")->number != id) j++;
            const sp_json *content = sp_json_get(at, "content");
            free(seen);
            return sp_error_set(err, SP_ERR_TOKENIZER, TJ "added_tokens[%zu] ('%.*s') has id %d, which added_tokens[%zu] already has",
                                i, (int)(content->len > 40 ? 40 : content->len), content->str, (int)id, j);
        }
        seen[id] = 1;
    }
    free(seen);

    /* model options */
    const sp_json *unk = sp_json_get(model, "unk_token");
    if (!is_null(unk)) {
        const sp_tok_entry *e = unk->type == SP_JSON_STRING ? sp_tok_map_get(t->map, unk->str, unk->len) : NULL;
        if (!e) return sp_error_set(err, SP_ERR_TOKENIZER, TJ "model.unk_token '%.*s' is not in the vocab", msg_len(unk), msg_str(unk));
        t->unk_id = e->v0;
    }
    int b;
    if ((st = opt_bool(model, "byte_fallback", 0, &b, "model", err))) return st;
    t->priv->byte_fallback = b;
    if ((st = opt_bool(model, "fuse_unk", 0, &b, "model", err))) return st;
    t->priv->fuse_unk = b;
    if ((st = opt_bool(model, "ignore_merges", 0, &b, "model", err))) return st;
    t->priv->ignore_merges = b;
    if ((st = parse_merges(&c, sp_json_get(model, "merges")))) return st;

    /* normalizer, pre-tokenizer, decoder (before the added tokens: their patterns get normalized) */
    if ((st = parse_normalizer(&c, sp_json_get(root, "normalizer"), "normalizer", 0))) return st;
    if ((st = parse_pre_tokenizer(&c, sp_json_get(root, "pre_tokenizer")))) return st;
    if ((st = parse_decoder(&c, sp_json_get(root, "decoder")))) return st;

    /* added tokens: pieces, types, the two matchers */
    if (n_added) {
        sp_str *pat = (sp_str *)sp_arena_alloc(a, n_added * sizeof(sp_str));
        int32_t *pid = (int32_t *)sp_arena_alloc(a, n_added * sizeof(int32_t));
        uint8_t *ls = (uint8_t *)sp_arena_alloc(a, n_added), *rs = (uint8_t *)sp_arena_alloc(a, n_added);
        uint8_t *normed = (uint8_t *)sp_arena_alloc(a, n_added), *sw1 = (uint8_t *)sp_arena_alloc(a, n_added);
        if (!pat || !pid || !ls || !rs || !normed || !sw1) return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory");
        for (size_t i = 0; i < n_added; i++) {
            const sp_json *at = &added->items[i];
            const sp_json *content = sp_json_get(at, "content");
            int32_t id = (int32_t)sp_json_get(at, "id")->number;
            int special, norm, sw, l, r;
            char where[48];
            snprintf(where, sizeof(where), "added_tokens[%zu]", i);
            if ((st = opt_bool(at, "special", 0, &special, where, err)) || (st = opt_bool(at, "normalized", !special, &norm, where, err)) ||
                (st = opt_bool(at, "single_word", 0, &sw, where, err)) || (st = opt_bool(at, "lstrip", 0, &l, where, err)) ||
                (st = opt_bool(at, "rstrip", 0, &r, where, err)))
                return st;
            pat[i].ptr = ""; pat[i].len = 0; pid[i] = id; ls[i] = rs[i] = normed[i] = sw1[i] = 0;
            if (content->len == 0) continue; /* HF ignores empty added tokens */
            t->pieces[id].ptr = content->str; /* the added content is what HF decodes */
            t->pieces[id].len = content->len;
            t->types[id] = id == t->unk_id ? SP_TT_UNKNOWN : special ? SP_TT_CONTROL : SP_TT_USER;
            if (!sp_tok_map_get(t->map, content->str, content->len))
                sp_tok_map_put(t->map, content->str, content->len, id, 0);
            pid[i] = id; ls[i] = (uint8_t)l; rs[i] = (uint8_t)r; normed[i] = (uint8_t)norm; sw1[i] = (uint8_t)sw;
            pat[i].ptr = content->str; pat[i].len = content->len;
        }
        /* raw matcher: the non-normalized ones; normalized matcher: normalize(content) */
        sp_str *rp = (sp_str *)sp_arena_alloc(a, n_added * sizeof(sp_str));
        sp_str *np = (sp_str *)sp_arena_alloc(a, n_added * sizeof(sp_str));
        if (!rp || !np) return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory");
        for (size_t i = 0; i < n_added; i++) {
            rp[i].ptr = ""; rp[i].len = 0; np[i] = rp[i];
            if (!normed[i]) rp[i] = pat[i];
            else if (pat[i].len && (st = sp_tok_normalize(t, pat[i].ptr, (size_t)pat[i].len, a, &np[i], err))) return st;
        }
        if ((st = sp_tok_matcher_build(&t->priv->raw, rp, pid, ls, rs, sw1, (int32_t)n_added, a, err)) ||
            (st = sp_tok_matcher_build(&t->priv->normed, np, pid, ls, rs, sw1, (int32_t)n_added, a, err)))
            return st;
    }
    if (t->unk_id >= 0) t->types[t->unk_id] = SP_TT_UNKNOWN;

    /* byte pieces: decoded as raw bytes when the decoder has ByteFallback or the model uses it */
    if (c.dec_byte_fallback || t->priv->byte_fallback)
        for (int32_t i = 0; i < n; i++)
            if (t->types[i] == SP_TT_NORMAL && sp_tok_parse_byte_piece(t->pieces[i].ptr, (size_t)t->pieces[i].len) >= 0)
                t->types[i] = SP_TT_BYTE;

    if ((st = parse_post_processor(&c, sp_json_get(root, "post_processor")))) return st;
    if (t->bos_id < 0) {
        static const char *const bos[] = {"<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>", NULL};
        t->bos_id = find_any(t, bos);
    }
    {
        static const char *const eos[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", NULL};
        t->eos_id = find_any(t, eos);
        const sp_str *bp = t->bos_id >= 0 ? &t->pieces[t->bos_id] : NULL;
        if (t->eos_id < 0 && bp && bp->len > 8 && bp->len < 120 && memcmp(bp->ptr, "<|start", 7) == 0) {
            char name[128]; /* <|start_story|> -> <|end_story|> */
            int k = snprintf(name, sizeof(name), "<|end%.*s", (int)(bp->len - 7), bp->ptr + 7);
            if (k > 0 && k < (int)sizeof(name)) t->eos_id = sp_tokenizer_find(t, name, (size_t)k);
        }
        static const char *const pad[] = {"<pad>", "<|pad|>", NULL};
        t->pad_id = find_any(t, pad);
    }
    sp_tok_finish(t);
    return SP_OK;
}

/* ---------------------------------------------------------------- tokenizer_config.json */

#define TC "tokenizer_config.json: "

/* bos_token etc.: a string, {"content": "..."} (older files) or null. *id = -2 when absent, -1 when null. */
static sp_status config_token(sp_tokenizer *t, const sp_json *root, const char *key, int32_t *id, sp_error *err) {
    const sp_json *v = sp_json_get(root, key);
    *id = v ? -1 : -2;
    if (is_null(v)) return SP_OK;
    if (v->type == SP_JSON_OBJECT) v = sp_json_get(v, "content");
    if (!v || v->type != SP_JSON_STRING)
        return sp_error_set(err, SP_ERR_TOKENIZER, TC "%s must be a string, {\"content\": ...} or null", key);
    *id = sp_tokenizer_find(t, v->str, v->len);
    if (*id < 0)
        return sp_error_set(err, SP_ERR_TOKENIZER, TC "%s '%.*s' is not in the vocabulary", key, msg_len(v), v->str);
    return SP_OK;
}

sp_status sp_tokenizer_apply_config(sp_tokenizer *t, const char *json, size_t len, sp_arena *a, sp_error *err) {
    if (!t || !t->priv || !a || (!json && len)) return sp_error_set(err, SP_ERR_INVALID_ARG, "tokenizer_apply_config: invalid arguments");
    sp_error jerr = {0};
    sp_json *root = sp_json_parse(a, json ? json : "", len, &jerr);
    if (!root) return sp_error_set(err, jerr.code == SP_ERR_NOMEM ? SP_ERR_NOMEM : SP_ERR_TOKENIZER, TC "%s", jerr.msg);
    if (root->type != SP_JSON_OBJECT) return sp_error_set(err, SP_ERR_TOKENIZER, TC "the document is not an object");
    int32_t bos, eos, pad;
    sp_status st;
    if ((st = config_token(t, root, "bos_token", &bos, err)) || (st = config_token(t, root, "eos_token", &eos, err)) ||
        (st = config_token(t, root, "pad_token", &pad, err)))
        return st;
    /* a named token sets the id; an explicit null clears a guessed one (not one the post-processor adds) */
    if (bos >= 0 || (bos == -1 && !t->priv->n_prefix)) t->bos_id = bos;
    if (eos >= 0 || (eos == -1 && !t->priv->n_suffix)) t->eos_id = eos;
    if (pad != -2) t->pad_id = pad;
    const sp_json *ab = sp_json_get(root, "add_bos_token"), *ae = sp_json_get(root, "add_eos_token");
    if (!is_null(ab) && ab->type != SP_JSON_BOOL) return sp_error_set(err, SP_ERR_TOKENIZER, TC "add_bos_token must be a boolean");
    if (!is_null(ae) && ae->type != SP_JSON_BOOL) return sp_error_set(err, SP_ERR_TOKENIZER, TC "add_eos_token must be a boolean");
    sp_tok_priv *pv = t->priv;
    if (!is_null(ab)) {
        pv->n_prefix = 0;
        if (ab->boolean && t->bos_id < 0) return sp_error_set(err, SP_ERR_TOKENIZER, TC "add_bos_token is true but there is no bos_token");
        if (ab->boolean) pv->prefix[pv->n_prefix++] = t->bos_id;
        t->add_bos = ab->boolean;
    }
    if (!is_null(ae)) {
        pv->n_suffix = 0;
        if (ae->boolean && t->eos_id < 0) return sp_error_set(err, SP_ERR_TOKENIZER, TC "add_eos_token is true but there is no eos_token");
        if (ae->boolean) pv->suffix[pv->n_suffix++] = t->eos_id;
    }
    if (t->eos_id >= 0) sp_tokenizer_add_eog(t, &t->eos_id, 1, NULL);
    return SP_OK;
}
