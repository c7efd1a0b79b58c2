/* spm_gguf.c - sp_tokenizer_from_gguf: the tokenizer stored in GGUF metadata, as llama.cpp reads it.
 *   tokenizer.ggml.model = "llama": SentencePiece-style BPE: tokens (string array, required), scores
 *     (f32, default 0), token_type (i32, default: <0xXX> pieces are bytes, bos/eos control, unk
 *     unknown), bos/eos/unknown/padding ids (defaults 1/2/0/none, 0xFFFFFFFF or -1 = none),
 *     add_bos_token (default true), add_eos_token, add_space_prefix (default true). Gemma's GGUF
 *     vocabulary is written in this form (add_space_prefix false).
 *   tokenizer.ggml.model = "gpt2": byte-level BPE: tokens, token_type, merges ("a b", rank = order),
 *     and tokenizer.ggml.pre naming the pre-tokenizer: each value maps to the split regexes llama.cpp
 *     uses for it (llama-vocab.cpp), applied one after another like HF Split(Isolated) steps, then
 *     the byte-level mapping. "qwen2" also gets NFC, as Qwen's tokenizer.json has (llama.cpp skips it).
 *     add_bos_token defaults to what llama.cpp defaults for the pre value (true for the Llama 3 family).
 *   Both: tokenizer.chat_template (copied), eot/eom token ids (end of generation).
 * Merges go by score (highest first, leftmost on ties), except when every normal piece has the
 * same score: then by id (see spm_rank_by_id), which deviates from llama.cpp on purpose.
 * Every piece is copied into the arena, so the GGUF buffer may be freed afterwards. */
#include "tokenizer_impl.h"

#include <stdlib.h>
#include <string.h>

/* An id key: absent -> def; -1 / 0xFFFFFFFF -> -1; otherwise it must be a valid id. */
static sp_status get_id(const sp_gguf *g, const char *key, int32_t def, int32_t n_vocab, int32_t *out, sp_error *err) {
    const sp_gguf_kv *kv = sp_gguf_find(g, key);
    if (!kv) { *out = def < n_vocab ? def : -1; return SP_OK; }
    if (kv->type == SP_GGUF_STRING || kv->type == SP_GGUF_ARRAY || kv->type == SP_GGUF_FLOAT32 ||
        kv->type == SP_GGUF_FLOAT64 || kv->type > SP_GGUF_FLOAT64)
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: %s is not an integer", key);
    int64_t v = kv->i64;
    if (v == -1 || kv->u64 == 0xFFFFFFFFu) { *out = -1; return SP_OK; }
    if (v < 0 || v >= n_vocab)
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: %s = %lld is out of range (vocab %d)", key, (long long)v, (int)n_vocab);
    *out = (int32_t)v;
    return SP_OK;
}

static int get_bool(const sp_gguf *g, const char *key, int def) {
    const sp_gguf_kv *kv = sp_gguf_find(g, key);
    if (!kv || kv->type == SP_GGUF_STRING || kv->type == SP_GGUF_ARRAY) return def;
    return kv->u64 != 0;
}

/* llama.cpp's pre-tokenizers (tokenizer.ggml.pre -> the regexes llama-vocab.cpp splits with, in order) */
/* GPT-2's split: the same pattern as tokenizer.json's ByteLevel (JavaScript's \\s, as the reference
 * tokenizer reads it; llama.cpp reads \\s as White_Space, which differs only at U+FEFF and U+0085) */
#define RE_GPT2 SP_TOK_GPT2_REGEX
#define RE_LLAMA3 "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
typedef struct {
    const char *names;      /* space-separated tokenizer.ggml.pre values */
    const char *re[4];      /* applied in order; NULL-terminated */
    uint8_t ignore_merges, add_bos, nfc;
} gguf_pre;
static const gguf_pre GGUF_PRES[] = {
    {"llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2", {RE_LLAMA3, NULL}, 1, 1, 0},
    {"dbrx smaug-bpe", {RE_LLAMA3, NULL}, 0, 0, 0},
    {"qwen2 deepseek-r1-qwen megrez stablelm2 hunyuan", {RE_QWEN2, NULL}, 0, 0, 1},
    {"smollm starcoder refact command-r codeshell exaone minerva-7b", {"\\p{N}", RE_GPT2, NULL}, 0, 0, 0},
    {"gpt-2 phi-2 jina-es jina-de gigachat jina-v2-es jina-v2-de a.x-4.0 mellum modern-bert mpt olmo jais trillion exaone4",
     {RE_GPT2, NULL}, 0, 0, 0},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]", NULL}, 0, 0, 0},
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, 0, 0, 0},
};

static int name_in(const char *names, const char *s, size_t n) {
    for (const char *p = names; *p;) {
        const char *e = strchr(p, ' ');
        size_t L = e ? (size_t)(e - p) : strlen(p);
        if (L == n && memcmp(p, s, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* tokenizer.ggml.model = "gpt2": merges, the pre-tokenizer, the byte-level mapping */
static sp_status gguf_bpe(sp_tokenizer *t, const sp_gguf *g, sp_arena *a, int *add_bos_default, sp_error *err) {
    sp_tok_priv *pv = t->priv;
    const sp_gguf_kv *mg = sp_gguf_find(g, "tokenizer.ggml.merges");
    if (!mg || mg->type != SP_GGUF_ARRAY || mg->arr_type != SP_GGUF_STRING || (mg->arr_n && !mg->arr_strs))
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.merges is missing or not a string array (model 'gpt2')");
    if (mg->arr_n > (uint64_t)SP_TOK_MAX_VOCAB * 4)
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.merges has %llu entries (too many)", (unsigned long long)mg->arr_n);
    size_t nm = (size_t)mg->arr_n;
    t->merges = sp_tok_merges_new(a, nm ? nm : 1);
    if (!t->merges) return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory for %zu merges", nm);
    char *cat = NULL;
    size_t cat_cap = 0;
    sp_status st = SP_OK;
    for (size_t r = 0; r < nm && !st; r++) {
        const char *m = mg->arr_strs[r].ptr;
        size_t L = (size_t)mg->arr_strs[r].len;
        const char *sp = m ? (const char *)memchr(m, ' ', L) : NULL;
        if (!sp || sp == m || memchr(sp + 1, ' ', L - (size_t)(sp - m) - 1) || sp + 1 == m + L) {
            st = sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.merges[%zu] '%.*s' is not two pieces separated by one space",
                              r, (int)(L > 40 ? 40 : L), m ? m : "");
            break;
        }
        st = sp_tok_merge_put(t, r, m, (size_t)(sp - m), sp + 1, L - (size_t)(sp - m) - 1, &cat, &cat_cap,
                              "GGUF: tokenizer.ggml.merges", err);
    }
    free(cat);
    if (st) return st;

    sp_str pre = {"default", 7};
    if (!sp_gguf_get_str(g, "tokenizer.ggml.pre", &pre)) { pre.ptr = "default"; pre.len = 7; }
    const gguf_pre *gp = NULL;
    for (size_t k = 0; k < sizeof(GGUF_PRES) / sizeof(GGUF_PRES[0]) && !gp; k++)
        if (name_in(GGUF_PRES[k].names, pre.ptr, (size_t)pre.len)) gp = &GGUF_PRES[k];
    if (!gp)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "GGUF: tokenizer.ggml.pre '%.*s' is not supported", (int)(pre.len > 40 ? 40 : pre.len), pre.ptr);
    if (gp->nfc) pv->norm[pv->n_norm++].kind = SP_NORM_NFC;
    for (int k = 0; k < 4 && gp->re[k]; k++) {
        sp_tok_pre_step *s = &pv->pre[pv->n_pre++];
        s->kind = SP_PRE_SPLIT;
        s->behavior = SP_SPLIT_ISOLATED;
        if ((st = sp_regex_compile(&s->re, gp->re[k], strlen(gp->re[k]), a, err))) return st;
    }
    pv->pre[pv->n_pre++].kind = SP_PRE_BYTELEVEL; /* no prefix space, no regex: the mapping only */
    pv->byte_level = 1;
    pv->dec_byte_level = 1;
    pv->ignore_merges = gp->ignore_merges;
    *add_bos_default = gp->add_bos;
    return SP_OK;
}

sp_status sp_tokenizer_from_gguf(sp_tokenizer *t, const sp_gguf *g, sp_arena *a, sp_error *err) {
    if (!t || !g || !a) return sp_error_set(err, SP_ERR_INVALID_ARG, "tokenizer_from_gguf: invalid arguments");
    memset(t, 0, sizeof(*t));
    sp_str model;
    if (!sp_gguf_get_str(g, "tokenizer.ggml.model", &model))
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.model is missing (the file has no tokenizer)");
    int bpe = model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0;
    if (!bpe && (model.len != 5 || memcmp(model.ptr, "llama", 5) != 0))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "GGUF: tokenizer.ggml.model '%.*s' is not supported (only 'llama' and 'gpt2')",
                            (int)(model.len > 32 ? 32 : model.len), model.ptr);

    const sp_gguf_kv *tok = sp_gguf_find(g, "tokenizer.ggml.tokens");
    if (!tok || tok->type != SP_GGUF_ARRAY || tok->arr_type != SP_GGUF_STRING || !tok->arr_strs)
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.tokens is missing or not a string array");
    if (tok->arr_n == 0 || tok->arr_n > SP_TOK_MAX_VOCAB)
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.tokens has %llu entries (1..%d allowed)",
                            (unsigned long long)tok->arr_n, SP_TOK_MAX_VOCAB);
    int32_t n = (int32_t)tok->arr_n;

    const sp_gguf_kv *sc = sp_gguf_find(g, "tokenizer.ggml.scores");
    if (sc && (sc->type != SP_GGUF_ARRAY || sc->arr_type != SP_GGUF_FLOAT32 || sc->arr_n != tok->arr_n || !sc->arr_data))
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.scores must be an f32 array of %d entries", (int)n);
    const sp_gguf_kv *ty = sp_gguf_find(g, "tokenizer.ggml.token_type");
    if (ty && (ty->type != SP_GGUF_ARRAY || (ty->arr_type != SP_GGUF_INT32 && ty->arr_type != SP_GGUF_UINT32) ||
               ty->arr_n != tok->arr_n || !ty->arr_data))
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.token_type must be an i32 array of %d entries", (int)n);

    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        if (tok->arr_strs[i].len > ((uint64_t)1 << 20) || (tok->arr_strs[i].len && !tok->arr_strs[i].ptr))
            return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.tokens[%d] is malformed", (int)i);
        if (!sp_add_size(total, (size_t)tok->arr_strs[i].len + 1, &total))
            return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.tokens too large");
    }
    t->kind = bpe ? SP_TOK_BPE : SP_TOK_SPM;
    t->vocab_size = n;
    t->pieces = (sp_str *)sp_arena_alloc(a, (size_t)n * sizeof(sp_str));
    t->scores = (float *)sp_arena_alloc(a, (size_t)n * sizeof(float));
    t->types = (uint8_t *)sp_arena_alloc(a, (size_t)n);
    t->priv = (sp_tok_priv *)sp_arena_alloc(a, sizeof(sp_tok_priv));
    char *text = (char *)sp_arena_alloc(a, total);
    t->map = sp_tok_map_new(a, (size_t)n);
    if (!t->pieces || !t->scores || !t->types || !t->priv || !text || !t->map)
        return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory for %d pieces", (int)n);
    for (int32_t i = 0; i < n; i++) {
        size_t L = (size_t)tok->arr_strs[i].len;
        if (L) memcpy(text, tok->arr_strs[i].ptr, L);
        t->pieces[i].ptr = text;
        t->pieces[i].len = L;
        text += L + 1;
        if (!sp_tok_map_put(t->map, t->pieces[i].ptr, L, i, 1)) /* duplicates: the last id wins, as in llama.cpp */
            return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: piece table full");
        if (sc) {
            float f;
            memcpy(&f, sc->arr_data + 4 * (size_t)i, 4);
            if (f != f) return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.scores[%d] is NaN", (int)i);
            t->scores[i] = f;
        }
    }

    sp_status st;
    if ((st = get_id(g, "tokenizer.ggml.bos_token_id", bpe ? -1 : 1, n, &t->bos_id, err)) ||
        (st = get_id(g, "tokenizer.ggml.eos_token_id", bpe ? -1 : 2, n, &t->eos_id, err)) ||
        (st = get_id(g, "tokenizer.ggml.unknown_token_id", bpe ? -1 : 0, n, &t->unk_id, err)) ||
        (st = get_id(g, "tokenizer.ggml.padding_token_id", -1, n, &t->pad_id, err)))
        return st;

    for (int32_t i = 0; i < n; i++) {
        if (ty) {
            int32_t v;
            memcpy(&v, ty->arr_data + 4 * (size_t)i, 4);
            if (v < 0 || v > SP_TT_BYTE)
                return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.token_type[%d] = %d is not a token type (0..6)", (int)i, (int)v);
            t->types[i] = (uint8_t)(v == 0 ? SP_TT_NORMAL : v);
        } else {
            t->types[i] = sp_tok_parse_byte_piece(t->pieces[i].ptr, (size_t)t->pieces[i].len) >= 0 ? SP_TT_BYTE : SP_TT_NORMAL;
        }
    }
    if (!ty) {
        if (t->bos_id >= 0) t->types[t->bos_id] = SP_TT_CONTROL;
        if (t->eos_id >= 0) t->types[t->eos_id] = SP_TT_CONTROL;
        if (t->unk_id >= 0) t->types[t->unk_id] = SP_TT_UNKNOWN;
    }
    int add_bos_default = 1;
    if (bpe) {
        if ((st = gguf_bpe(t, g, a, &add_bos_default, err))) return st;
    } else {
        t->add_space_prefix = get_bool(g, "tokenizer.ggml.add_space_prefix", 1);
        t->merges = NULL;
        t->priv->byte_fallback = 1;
        /* Scores that are all equal carry no merge order: llama.cpp then merges leftmost-first, which
         * is not how the model was trained when the GGUF was converted from a BPE tokenizer.json
         * (convert_hf_to_gguf writes -1000 for every piece, e.g. TinyStories-656K). Merge by id
         * instead: BPE vocabularies number merged pieces in merge order. */
        int32_t first = -1, varied = 0;
        for (int32_t i = 0; i < n && !varied; i++) {
            if (t->types[i] != SP_TT_NORMAL) continue;
            if (first < 0) first = i;
            else if (t->scores[i] != t->scores[first]) varied = 1;
        }
        t->priv->spm_rank_by_id = !varied;
    }
    t->add_bos = get_bool(g, "tokenizer.ggml.add_bos_token", add_bos_default);
    if (t->add_bos && t->bos_id >= 0) t->priv->prefix[t->priv->n_prefix++] = t->bos_id;
    if (get_bool(g, "tokenizer.ggml.add_eos_token", 0) && t->eos_id >= 0) t->priv->suffix[t->priv->n_suffix++] = t->eos_id;

    /* specials matched literally in the text: control, user-defined and unknown pieces
     * (llama.cpp's tokenizer_st_partition with parse_special) */
    int32_t n_sp = 0;
    for (int32_t i = 0; i < n; i++) {
        uint8_t y = t->types[i];
        if ((y == SP_TT_CONTROL || y == SP_TT_USER || y == SP_TT_UNKNOWN) && t->pieces[i].len) n_sp++;
    }
    if (n_sp) {
        sp_str *pat = (sp_str *)sp_arena_alloc(a, (size_t)n_sp * sizeof(sp_str));
        int32_t *ids = (int32_t *)sp_arena_alloc(a, (size_t)n_sp * sizeof(int32_t));
        if (!pat || !ids) return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory");
        int32_t k = 0;
        for (int32_t i = 0; i < n; i++) {
            uint8_t y = t->types[i];
            if ((y == SP_TT_CONTROL || y == SP_TT_USER || y == SP_TT_UNKNOWN) && t->pieces[i].len) {
                pat[k] = t->pieces[i];
                ids[k] = i;
                k++;
            }
        }
        if ((st = sp_tok_matcher_build(&t->priv->raw, pat, ids, NULL, NULL, NULL, k, a, err))) return st;
    }
    sp_str tmpl;
    if (sp_gguf_get_str(g, "tokenizer.chat_template", &tmpl) && tmpl.len) {
        t->chat_template.ptr = sp_arena_strndup(a, tmpl.ptr, (size_t)tmpl.len);
        if (!t->chat_template.ptr) return sp_error_set(err, SP_ERR_NOMEM, "tokenizer: out of memory");
        t->chat_template.len = tmpl.len;
    }
    sp_tok_finish(t);
    static const char *const eog_keys[] = {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id", NULL};
    for (int k = 0; eog_keys[k]; k++) {
        int32_t id;
        if ((st = get_id(g, eog_keys[k], -1, n, &id, err))) return st;
        if (id >= 0 && (st = sp_tokenizer_add_eog(t, &id, 1, err))) return st;
    }
    return SP_OK;
}
