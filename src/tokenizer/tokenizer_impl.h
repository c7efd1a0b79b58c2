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
/* the pattern ByteLevel(use_regex = true) splits with */
#define SP_TOK_GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

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

/* Merge rank r: vocab pieces a and b become a+b (which must be a vocab piece too). keys: arena storage
 * for 2 ids per merge (the table's keys point into it); cat: scratch (malloc'd, caller frees).
 * SP_ERR_TOKENIZER "<where>[r]: ..." when a piece is unknown. */
sp_status sp_tok_merge_put(sp_tokenizer *t, int32_t *keys, size_t r, const char *ap, size_t al, const char *bp, size_t bl,
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
