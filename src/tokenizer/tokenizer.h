/* tokenizer.h - the two tokenizers the engine reads, in C.
 *   SP_TOK_SPM: SentencePiece-style BPE from GGUF metadata (tokenizer.ggml.model = "llama"):
 *               merges chosen by piece score (by id when all scores are equal), byte fallback
 *               <0xXX>, add_space_prefix.
 *   SP_TOK_BPE: BPE from a Hugging Face tokenizer.json (model.type = "BPE"): merges by rank,
 *               the Prepend("▁")/Replace(" ","▁") normalizer, byte_fallback, and the decoder
 *               chain (Replace ▁->space, ByteFallback, Fuse, Strip).
 * Both map text to ids and back; decode(encode(s)) == s for any bytes (invalid UTF-8 goes
 * through byte fallback, so round trips are byte exact whenever the vocab has <0xXX>), except,
 * by design of these tokenizers: a literal U+2581 (▁) decodes as a space; the text of a special
 * token (<s>, <|end_story|>, ...) is encoded as that token, and control tokens decode to nothing;
 * text after a split-out token gets its own ▁ prefix where the format says so (SPM after any
 * special, HF Prepend per piece), which decodes as a space; a Metaspace pre-tokenizer does not
 * double a leading space, so that one is lost (as in HF).
 * Special tokens matched in the text: SPM: control, user-defined and unknown pieces (llama.cpp
 * with parse_special); BPE: every added token (HF; normalized ones against the normalized text). */
#ifndef SP_TOKENIZER_H
#define SP_TOKENIZER_H

#include "../common.h"
#include "../readers/gguf.h"

typedef enum { SP_TOK_SPM = 1, SP_TOK_BPE = 2 } sp_tok_kind;
#define SP_TOK_MAX_EOG 8

typedef struct sp_tok_map sp_tok_map;   /* byte-string -> (int32, int32) hash table (private) */
typedef struct sp_tok_merges sp_tok_merges; /* (left id, right id) -> (rank, merged id) hash table (private) */
typedef struct sp_tok_priv sp_tok_priv; /* special-token matchers, normalizer, BPE options (private) */

typedef struct {
    int32_t kind;           /* sp_tok_kind */
    int32_t vocab_size;
    sp_str *pieces;         /* [vocab_size] token text as stored (with ▁ for space), in the arena */
    float *scores;          /* [vocab_size] SPM merge scores (NULL for BPE) */
    uint8_t *types;         /* [vocab_size] 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte */
    int32_t bos_id, eos_id, unk_id, pad_id; /* -1 when absent */
    int32_t add_bos;        /* encode prepends BOS by default */
    int32_t add_space_prefix; /* prepend ▁ to the text before encoding */
    int32_t byte_ids[256];  /* id of the <0xXX> piece for each byte, or -1 */
    sp_tok_map *map;        /* piece -> id */
    sp_tok_merges *merges;  /* BPE: (left id, right id) -> (rank, merged id); NULL for SPM */
    int32_t max_piece_len;  /* longest piece in bytes (a decoded piece is never longer) */
    sp_tok_priv *priv;      /* everything else the encoder needs; lives in the arena */
    sp_str chat_template;   /* GGUF tokenizer.chat_template (in the arena); empty when absent */
    int32_t n_eog;          /* end-of-generation ids: EOS and the end-of-turn tokens the vocab has */
    int32_t eog[SP_TOK_MAX_EOG];
} sp_tokenizer;

/* From GGUF metadata (tokenizer.ggml.*). SP_ERR_TOKENIZER if missing or malformed;
 * SP_ERR_UNSUPPORTED for models other than "llama". */
sp_status sp_tokenizer_from_gguf(sp_tokenizer *t, const sp_gguf *g, sp_arena *a, sp_error *err);
/* From the bytes of a tokenizer.json. SP_ERR_TOKENIZER on anything malformed or unsupported,
 * naming the field. bos/eos come from the post_processor / added_tokens when present; the
 * caller may override them with config.json's ids. */
sp_status sp_tokenizer_from_hf_json(sp_tokenizer *t, const char *json, size_t len, sp_arena *a, sp_error *err);

/* Encode text[0..len) (any bytes). Writes at most max_ids ids; *n_ids gets the number the full
 * encoding needs. A too-small buffer is not an error (SP_OK, *n_ids > max_ids), as in decode. */
sp_status sp_tokenizer_encode(const sp_tokenizer *t, const char *text, size_t len, int32_t add_bos,
                              int32_t *ids, int32_t max_ids, int32_t *n_ids, sp_error *err);

/* The bytes of one token as it appears in decoded text following token prev (pass -1 at the start):
 * ▁ becomes a space, <0xXX> becomes that byte, control tokens (BOS/EOS) give nothing, and the space
 * that add_space_prefix put in front of the first piece is dropped when prev is BOS or -1.
 * Returns the byte count (may be 0); writes at most cap bytes. A streaming caller concatenates
 * these and decodes UTF-8 incrementally. Returns -1 for an id out of range. */
int32_t sp_tokenizer_piece(const sp_tokenizer *t, int32_t prev, int32_t id, char *out, int32_t cap);

/* Decode a whole id sequence; *out_len gets the needed length. When it exceeds cap, the first cap
 * bytes are written and the status is still SP_OK. SP_ERR_INVALID_ARG for an id out of range. */
sp_status sp_tokenizer_decode(const sp_tokenizer *t, const int32_t *ids, int32_t n, char *out, int32_t cap,
                              int32_t *out_len, sp_error *err);

int32_t sp_tokenizer_find(const sp_tokenizer *t, const char *piece, size_t len); /* -1 if absent */

/* Apply tokenizer_config.json (Hugging Face): bos_token / eos_token / pad_token (a string or
 * {"content": ...}) name the ids; add_bos_token / add_eos_token, when present, decide the special
 * tokens encode adds (as transformers' Llama/Gemma fast tokenizers rebuild their post-processor).
 * SP_ERR_TOKENIZER when a named token is not in the vocabulary. */
sp_status sp_tokenizer_apply_config(sp_tokenizer *t, const char *json, size_t len, sp_arena *a, sp_error *err);
/* Add end-of-generation ids (generation_config.json's eos_token_id list); ids out of range are refused. */
sp_status sp_tokenizer_add_eog(sp_tokenizer *t, const int32_t *ids, int32_t n, sp_error *err);
int sp_tokenizer_is_eog(const sp_tokenizer *t, int32_t id);
/* How many special tokens encode(add_special) puts before (suffix 0) or after (suffix 1) the text. */
int32_t sp_tokenizer_n_special(const sp_tokenizer *t, int suffix);

#endif
