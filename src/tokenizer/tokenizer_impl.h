/* tokenizer_impl.h - private parts shared by the tokenizer sources:
 *   tokenizer.c  hash table, special-token matcher, encode (SPM and BPE merge loops), decode
 *   spm_gguf.c   sp_tokenizer_from_gguf  (tokenizer.ggml.* metadata)
 *   hf_json.c    sp_tokenizer_from_hf_json (a Hugging Face tokenizer.json)
 * Not part of the engine's API; include only from src/tokenizer/. */
#ifndef SP_TOKENIZER_IMPL_H
#define SP_TOKENIZER_IMPL_H

#include "tokenizer.h"

#define SP_TOK_MAX_VOCAB (1 << 24)       /* refuse larger vocabularies before allocating */
#define SP_TOK_MAX_TEXT ((size_t)1 << 30) /* longest text encode accepts, in bytes */

/* token types (GGUF numbering) */
enum { SP_TT_NORMAL = 1, SP_TT_UNKNOWN = 2, SP_TT_CONTROL = 3, SP_TT_USER = 4, SP_TT_UNUSED = 5, SP_TT_BYTE = 6 };

/* ---- open-addressing hash table, sized once (never grows), all memory in the arena ---- */
typedef struct {
    const char *key;    /* NULL marks an empty slot */
    uint32_t len;       /* key bytes */
    uint32_t hash;
    int32_t v0, v1;     /* piece map: (id, 1 if the piece is in the model vocab); merges: (rank, merged id) */
} sp_tok_entry;

struct sp_tok_map {
    uint32_t cap;           /* power of two, at least twice the largest n */
    uint32_t n;
    sp_tok_entry *slots;    /* [cap] */
};

sp_tok_map *sp_tok_map_new(sp_arena *a, size_t n_max);
/* Insert or overwrite. The key bytes must outlive the map (point into the arena). Returns 0 when full. */
int sp_tok_map_put(sp_tok_map *m, const char *key, size_t len, int32_t v0, int32_t v1);
const sp_tok_entry *sp_tok_map_get(const sp_tok_map *m, const char *key, size_t len);

/* ---- literal matcher for special/added tokens: leftmost-longest, like HF's Aho-Corasick ---- */
typedef struct {
    int32_t n;
    sp_str *pat;        /* [n] non-empty pattern bytes, sorted by first byte, then longest first */
    int32_t *id;        /* [n] token id */
    uint8_t *lstrip;    /* [n] 1: the match swallows whitespace on its left (HF AddedToken.lstrip) */
    uint8_t *rstrip;    /* [n] 1: ... and on its right */
    int32_t first[257]; /* patterns starting with byte b are [first[b], first[b+1]) */
} sp_tok_matcher;

/* Build from n candidate patterns (empty ones are dropped). Arrays are copied into the arena. */
sp_status sp_tok_matcher_build(sp_tok_matcher *m, const sp_str *pat, const int32_t *id, const uint8_t *lstrip,
                               const uint8_t *rstrip, int32_t n, sp_arena *a, sp_error *err);

/* ---- HF normalizer steps (applied in order) ---- */
enum { SP_NORM_PREPEND = 1, SP_NORM_REPLACE = 2 };
typedef struct {
    int32_t kind;       /* SP_NORM_PREPEND: prepend a to a non-empty string; SP_NORM_REPLACE: every a -> b */
    sp_str a, b;
} sp_tok_norm_step;
#define SP_TOK_MAX_NORM 16

enum { SP_PREPEND_NEVER = 0, SP_PREPEND_FIRST = 1, SP_PREPEND_ALWAYS = 2 };

struct sp_tok_priv {
    int32_t byte_fallback;      /* a char missing from the vocab becomes its <0xXX> tokens */
    int32_t spm_rank_by_id;     /* SPM: every normal piece has the same score, so merges go by id
                                 * (lower id first), the order a BPE vocab is numbered in */
    int32_t fuse_unk;           /* BPE: consecutive unknown chars give one unk token */
    int32_t ignore_merges;      /* BPE: a word that is itself in the vocab is emitted whole */
    int32_t n_norm;             /* BPE normalizer steps */
    sp_tok_norm_step norm[SP_TOK_MAX_NORM];
    int32_t metaspace;          /* BPE: a Metaspace pre-tokenizer (spaces -> ▁) is present */
    int32_t metaspace_prepend;  /* SP_PREPEND_*: prepend ▁ unless the piece already starts with it */
    int32_t metaspace_split;    /* split words before each ▁ */
    sp_tok_matcher raw;         /* matched in the raw text: SPM specials, HF non-normalized added tokens */
    sp_tok_matcher normed;      /* HF: matched in the normalized text (normalized added tokens) */
};

/* "<0xXX>" (either hex case) -> 0..255, else -1 */
int sp_tok_parse_byte_piece(const char *s, size_t len);
/* After pieces and map are set: byte_ids[] (map lookups of "<0xXX>", upper-case hex, as llama.cpp
 * and HF do; only pieces of the model vocab) and max_piece_len. */
void sp_tok_finish(sp_tokenizer *t);

/* Run t's normalizer steps over s[0..n); the result is copied into the arena (used to build the
 * normalized added-token patterns, exactly as HF normalizes them). */
sp_status sp_tok_normalize(const sp_tokenizer *t, const char *s, size_t n, sp_arena *a, sp_str *out, sp_error *err);

#endif
