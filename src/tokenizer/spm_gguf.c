/* spm_gguf.c - sp_tokenizer_from_gguf: the SentencePiece-style tokenizer stored in GGUF
 * metadata (tokenizer.ggml.model = "llama"), as llama.cpp reads it:
 *   tokens (string array, required), scores (f32, default 0), token_type (i32, default:
 *   <0xXX> pieces are bytes, bos/eos control, unk unknown), bos/eos/unknown/padding ids
 *   (defaults 1/2/0/none, 0xFFFFFFFF or -1 = none), add_bos_token (default true),
 *   add_space_prefix (default true).
 * Merges go by score (highest first, leftmost on ties), except when every normal piece has the
 * same score: then by id (see spm_rank_by_id), which deviates from llama.cpp on purpose.
 * Every piece is copied into the arena, so the GGUF buffer may be freed afterwards. */
#include "tokenizer_impl.h"

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

sp_status sp_tokenizer_from_gguf(sp_tokenizer *t, const sp_gguf *g, sp_arena *a, sp_error *err) {
    if (!t || !g || !a) return sp_error_set(err, SP_ERR_INVALID_ARG, "tokenizer_from_gguf: invalid arguments");
    memset(t, 0, sizeof(*t));
    sp_str model;
    if (!sp_gguf_get_str(g, "tokenizer.ggml.model", &model))
        return sp_error_set(err, SP_ERR_TOKENIZER, "GGUF: tokenizer.ggml.model is missing (the file has no tokenizer)");
    if (model.len != 5 || memcmp(model.ptr, "llama", 5) != 0)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "GGUF: tokenizer.ggml.model '%.*s' is not supported (only 'llama')",
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
    t->kind = SP_TOK_SPM;
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
    if ((st = get_id(g, "tokenizer.ggml.bos_token_id", 1, n, &t->bos_id, err)) ||
        (st = get_id(g, "tokenizer.ggml.eos_token_id", 2, n, &t->eos_id, err)) ||
        (st = get_id(g, "tokenizer.ggml.unknown_token_id", 0, n, &t->unk_id, err)) ||
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
    t->add_bos = get_bool(g, "tokenizer.ggml.add_bos_token", 1);
    t->add_space_prefix = get_bool(g, "tokenizer.ggml.add_space_prefix", 1);
    t->merges = NULL;
    t->priv->byte_fallback = 1;
    /* Scores that are all equal carry no merge order: llama.cpp then merges leftmost-first, which
     * is not how the model was trained when the GGUF was converted from a BPE tokenizer.json
     * (convert_hf_to_gguf writes -1000 for every piece, e.g. TinyStories-656K). Merge by id
     * instead: BPE vocabularies number merged pieces in merge order. */
    {
        int32_t first = -1, varied = 0;
        for (int32_t i = 0; i < n && !varied; i++) {
            if (t->types[i] != SP_TT_NORMAL) continue;
            if (first < 0) first = i;
            else if (t->scores[i] != t->scores[first]) varied = 1;
        }
        t->priv->spm_rank_by_id = !varied;
    }

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
        if ((st = sp_tok_matcher_build(&t->priv->raw, pat, ids, NULL, NULL, k, a, err))) return st;
    }
    sp_tok_finish(t);
    return SP_OK;
}
