/* tokenizer_impl.h - private parts shared by the tokenizer sources:
 *   tokenizer.c  hash table, special-token matcher, encode (SPM and BPE merge loops), decode
 *   spm_gguf.c   sp_tokenizer_from_gguf  (tokenizer.ggml.* metadata)
 *   hf_json.c    sp_tokenizer_from_hf_json (a Hugging Face tokenizer.json)
 * Not part of the engine's API; include only from src/tokenizer/. */
#ifndef SP_TOKENIZER_IMPL_H
#define SP_TOKENIZER_IMPL_H

#include "tokenizer.h"
#include "regex.h"

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

/* ---- merge table: id pairs inline in 16-byte slots (one cache line holds four), so building it
 * and the encoder's pair lookups touch one slot and no key memory ---- */
typedef struct {
    uint32_t a, b;      /* the pair; a == UINT32_MAX marks an empty slot */
    int32_t rank, id;   /* merge rank and the merged token */
} sp_tok_merge;

struct sp_tok_merges {
    uint32_t cap;       /* power of two, at least twice n */
    uint32_t n;
    sp_tok_merge *slots;
};

sp_tok_merges *sp_tok_merges_new(sp_arena *a, size_t n_max);
static inline uint32_t sp_tok_pair_hash(uint32_t a, uint32_t b) {
    uint64_t x = ((uint64_t)a << 32 | b) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32) ^ (uint32_t)x;
}
/* the merge of (a, b), or NULL */
static inline const sp_tok_merge *sp_tok_merges_get(const sp_tok_merges *m, int32_t a, int32_t b) {
    for (uint32_t i = sp_tok_pair_hash((uint32_t)a, (uint32_t)b) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const sp_tok_merge *e = &m->slots[i];
        if (e->a == (uint32_t)a && e->b == (uint32_t)b) return e;
        if (e->a == UINT32_MAX) return NULL;
    }
}
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
    uint8_t *single;    /* [n] 1: only where no letter, digit or '_' touches it (HF single_word) */
    int32_t first[257]; /* patterns starting with byte b are [first[b], first[b+1]) */
} sp_tok_matcher;

/* Build from n candidate patterns (empty ones are dropped). Arrays are copied into the arena. */
sp_status sp_tok_matcher_build(sp_tok_matcher *m, const sp_str *pat, const int32_t *id, const uint8_t *lstrip,
                               const uint8_t *rstrip, const uint8_t *single, int32_t n, sp_arena *a, sp_error *err);

/* ---- HF normalizer steps (applied in order) ---- */
enum { SP_NORM_PREPEND = 1, SP_NORM_REPLACE = 2, SP_NORM_NFC = 3 };
typedef struct {
    int32_t kind;       /* SP_NORM_PREPEND: prepend a to a non-empty string; SP_NORM_REPLACE: every a -> b;
                         * SP_NORM_NFC: Unicode NFC */
    sp_str a, b;
} sp_tok_norm_step;
#define SP_TOK_MAX_NORM 16

enum { SP_PREPEND_NEVER = 0, SP_PREPEND_FIRST = 1, SP_PREPEND_ALWAYS = 2 };

/* ---- HF pre-tokenizer steps (applied in order; each splits every piece of the previous one) ---- */
enum { SP_PRE_SPLIT = 1, SP_PRE_DIGITS = 2, SP_PRE_METASPACE = 3, SP_PRE_BYTELEVEL = 4 };
/* how matches and the text between them become pieces (HF SplitDelimiterBehavior) */
enum { SP_SPLIT_REMOVED = 0, SP_SPLIT_ISOLATED = 1, SP_SPLIT_MERGED_PREV = 2, SP_SPLIT_MERGED_NEXT = 3, SP_SPLIT_CONTIGUOUS = 4 };
typedef struct {
    int32_t kind;       /* SP_PRE_* */
    int32_t behavior;   /* SPLIT, DIGITS: SP_SPLIT_* */
    int32_t invert;     /* SPLIT: the pieces between matches are the matches */
    sp_regex *re;       /* SPLIT: the regex, or NULL for the literal lit; BYTELEVEL: the GPT-2 regex or NULL */
    sp_str lit;
    int32_t prefix;     /* METASPACE: SP_PREPEND_*; BYTELEVEL: add_prefix_space */
    int32_t split;      /* METASPACE: split before each U+2581 */
} sp_tok_pre_step;
#define SP_TOK_MAX_PRE 8
#define SP_TOK_MAX_SPECIAL 4 /* post-processor tokens before / after the text */

/* GPT-2's byte-level alphabet: byte b is the code point sp_tok_byte_cp(b) in byte-level vocabularies */
uint32_t sp_tok_byte_cp(int b);
/* The pattern ByteLevel(use_regex = true) splits with. The reference (@huggingface/tokenizers) runs it
 * as a JavaScript regex, whose \s is not Unicode White_Space: it includes U+FEFF and leaves out U+0085
 * (a Split regex from tokenizer.json is rewritten to \p{White_Space} there, as Oniguruma reads \s).
 * So this pattern spells JavaScript's \s out; GGUF's "gpt-2" family uses it too, so both loaders agree. */
#define SP_TOK_JS_SPACE "\\t\\n\\x0b\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}"
#define SP_TOK_GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" SP_TOK_JS_SPACE "\\p{L}\\p{N}]+|[" SP_TOK_JS_SPACE \
    "]+(?![^" SP_TOK_JS_SPACE "])|[" SP_TOK_JS_SPACE "]+"

struct sp_tok_priv {
    int32_t byte_fallback;      /* a char missing from the vocab becomes its <0xXX> tokens */
    int32_t spm_rank_by_id;     /* SPM: every normal piece has the same score, so merges go by id
                                 * (lower id first), the order a BPE vocab is numbered in */
    int32_t fuse_unk;           /* BPE: consecutive unknown chars give one unk token */
    int32_t ignore_merges;      /* BPE: a word that is itself in the vocab is emitted whole */
    int32_t n_norm;             /* BPE normalizer steps */
    sp_tok_norm_step norm[SP_TOK_MAX_NORM];
    int32_t n_pre;              /* BPE pre-tokenizer steps */
    sp_tok_pre_step pre[SP_TOK_MAX_PRE];
    int32_t byte_level;         /* BPE: words are mapped to the byte-level alphabet before the merges */
    int32_t dec_byte_level;     /* decode maps byte-level characters back to bytes */
    int32_t n_prefix, n_suffix; /* special tokens added around the text (post-processor / add_bos / add_eos) */
    int32_t prefix[SP_TOK_MAX_SPECIAL], suffix[SP_TOK_MAX_SPECIAL];
    sp_tok_matcher raw;         /* matched in the raw text: SPM specials, HF non-normalized added tokens */
    sp_tok_matcher normed;      /* HF: matched in the normalized text (normalized added tokens) */
};

/* Merge rank r: vocab pieces a and b become a+b (which must be a vocab piece too). cat: scratch
 * (malloc'd, caller frees). SP_ERR_TOKENIZER "<where>[r]: ..." when a piece is unknown. */
sp_status sp_tok_merge_put(sp_tokenizer *t, size_t r, const char *ap, size_t al, const char *bp, size_t bl,
                           char **cat, size_t *cat_cap, const char *where, sp_error *err);

/* "<0xXX>" (either hex case) -> 0..255, else -1 */
int sp_tok_parse_byte_piece(const char *s, size_t len);
/* After pieces and map are set: byte_ids[] (map lookups of "<0xXX>", upper-case hex, as llama.cpp
 * and HF do; only pieces of the model vocab) and max_piece_len. */
void sp_tok_finish(sp_tokenizer *t);

/* Run t's normalizer steps over s[0..n); the result is copied into the arena (used to build the
 * normalized added-token patterns, exactly as HF normalizes them). */
sp_status sp_tok_normalize(const sp_tokenizer *t, const char *s, size_t n, sp_arena *a, sp_str *out, sp_error *err);

#endif
