/* adapter.h - the trainable soft prompt / prefix (sp_adapter) and its PEFT files.
 *
 * Parameters live in ONE float array:
 *   PROMPT (prompt tuning):  params (N, dim)                    one row per virtual token
 *   PREFIX (prefix tuning):  params (n_layers, 2, N, kv_dim)    [layer][K then V][virtual token][kv_dim]
 * Prefix K rows are in the MODEL'S INTERNAL K layout: for GGUF models (rope_style ADJACENT) the
 * rows inside each head are in llama.cpp's permuted order; for HF models (rope_style HALF) they
 * are in HF order. Q and K are permuted alike, so q.k is the same number either way; only the
 * file format (HF/PEFT order) needs the conversion, done by save/load:
 *   llama.cpp maps HF row (half, j) of a head, hf = half*(head_dim/2) + j, to GGUF row 2*j + half.
 * V is never permuted. Prefix keys get no rotary rotation (PEFT puts them in past_key_values).
 *
 * PEFT files (huggingface/peft, CAUSAL_LM):
 *   adapter_model.safetensors: one F32 tensor "prompt_embeddings", metadata {"format":"pt"},
 *     PROMPT [N, dim]; PREFIX [N, n_layers*2*kv_dim], each row [L0.K | L0.V | L1.K | ...] in HF order.
 *   adapter_config.json: sorted keys, as PEFT >= 0.18 writes them. For prefix tuning PEFT's GQA rule
 *     applies (peft/utils/other.py, _prepare_prompt_learning_config): token_dim = kv_dim,
 *     num_attention_heads = n_kv_heads, encoder_hidden_size = token_dim. For prompt tuning
 *     token_dim = dim and num_attention_heads = n_heads.
 *
 * Initialisation (sp_adapter_create):
 *   RANDOM  PEFT uses torch.nn.Embedding's default N(0, 1). Real embedding tables are far smaller
 *           (std ~0.02 .. 0.1), so N(0, 1) rows sit far outside the embedding manifold (PEFT issue
 *           #2816) and swamp the first attention layers. We draw N(0, 1) * s, s = the standard
 *           deviation of all entries of the model's input embeddings (sp_model_embd_std: the
 *           table, times sqrt(dim) for Gemma 3): same direction statistics as PEFT, the scale of a
 *           real token as the model sees it.
 *   VOCAB   PEFT SAMPLE_VOCAB: rows = embeddings of N token ids drawn uniformly (with
 *           replacement) from [0, vocab) with the seeded RNG, as the model's embedding module
 *           outputs them (sp_model_embd_row: dequantized from tok_embd; Gemma 3 scales them, as
 *           PEFT's word_embeddings(ids) does through Gemma3TextScaledWordEmbedding).
 *   TEXT    PEFT TEXT: ids = tokenize(init_text) with the tokenizer's special tokens (BOS when the
 *           tokenizer adds one); longer than N -> first N; shorter -> repeated ceil(N/len) times and
 *           cut to N; rows = their embeddings (as VOCAB). The forward feeds the rows as
 *           inputs_embeds, unscaled, so a TEXT prompt equals its text's tokens.
 *   PREFIX adapters: only RANDOM, as N(0, 0.02^2) for every K and V entry (the scale of typical
 *           key/value activations is not known without running the model; 0.02 keeps the first
 *           attention logits near zero so training starts close to the base model). To start from
 *           saved weights, load them (sp_adapter_read_peft) and sp_adapter_clone.
 * Same seed, same numbers on every machine (sp_rng, float math). */
#ifndef SP_ADAPTER_H
#define SP_ADAPTER_H

#include "../common.h"
#include "../model/model.h"

typedef enum { SP_METHOD_PROMPT = 0, SP_METHOD_PREFIX = 1 } sp_method;
typedef enum { SP_INIT_RANDOM = 0, SP_INIT_VOCAB = 1, SP_INIT_TEXT = 2 } sp_init_kind;

#define SP_PEFT_VERSION "0.18.0" /* first PEFT release that writes peft_version (PR #2782) */
#define SP_ADAPTER_MAX_VIRTUAL 4096

typedef struct sp_adapter sp_adapter;
struct sp_adapter {
    int32_t method;        /* sp_method */
    int32_t n_virtual;     /* N virtual tokens */
    /* copied from the model's config */
    int32_t dim, n_layers, n_heads, n_kv_heads, head_dim, kv_dim, rope_style;
    int32_t init;          /* sp_init_kind, recorded in adapter_config.json */
    char *init_text;       /* malloc'd, NUL-terminated; NULL unless init == TEXT */
    const sp_model *model; /* not owned */
    int64_t n_params;      /* PROMPT: N*dim; PREFIX: n_layers*2*N*kv_dim */
    float *params;         /* (n_params) malloc'd; layout above */
    char *info_json;       /* cached sp_adapter_summary_json, malloc'd */
};

/* Parse "prompt" | "prefix" and "random" | "vocab" (or PEFT's "sample_vocab") | "text"
 * (SP_ERR_INVALID_ARG otherwise): the one parser of these names, for every option object. */
sp_status sp_adapter_method_parse(const char *name, int32_t *method, sp_error *err);
sp_status sp_adapter_init_parse(const char *name, int32_t *init, sp_error *err);

/* A new adapter for model m with n_virtual in [1, SP_ADAPTER_MAX_VIRTUAL]. init_text is used for
 * SP_INIT_TEXT only (non-empty). Prefix adapters accept SP_INIT_RANDOM only (SP_ERR_UNSUPPORTED). */
sp_adapter *sp_adapter_create(const sp_model *m, int32_t method, int32_t n_virtual, int32_t init,
                              const char *init_text, uint64_t seed, sp_error *err);
/* A deep copy (same model). */
sp_adapter *sp_adapter_clone(const sp_adapter *src, sp_error *err);
void sp_adapter_destroy(sp_adapter *ad);

/* From adapter_model.safetensors + adapter_config.json bytes (PEFT). Checks peft_type, task_type
 * and the shapes against m. */
sp_adapter *sp_adapter_read_peft(const sp_model *m, const uint8_t *st, size_t st_size, const char *config_json,
                                 size_t config_len, sp_error *err);
/* malloc'd adapter_model.safetensors bytes (*out_size set) / NUL-terminated adapter_config.json
 * (sorted keys, PEFT's fields; base_model_name may be NULL). */
uint8_t *sp_adapter_peft_safetensors(const sp_adapter *ad, size_t *out_size, sp_error *err);
char *sp_adapter_peft_config(const sp_adapter *ad, const char *base_model_name, sp_error *err);
/* {"method":..,"num_virtual_tokens":..,...}, cached on the adapter (freed with it); NULL when out of memory. */
const char *sp_adapter_summary_json(sp_adapter *ad);
/* malloc'd JSON: per virtual token the k nearest vocabulary tokens by cosine similarity. Prompt
 * tuning only (prefix adapters: SP_ERR_UNSUPPORTED). */
char *sp_adapter_nearest_tokens_json(const sp_adapter *ad, int32_t k, sp_error *err);

/* Prefix slices: K or V rows of layer l, (N, kv_dim) each. */
float *sp_adapter_prefix_k(const sp_adapter *ad, int32_t l);
float *sp_adapter_prefix_v(const sp_adapter *ad, int32_t l);

/* Reorder the head_dim values of ONE key head between HF order and llama.cpp's GGUF order
 * (gguf[2*j + half] = hf[half*(head_dim/2) + j]). out and in must not overlap. */
void sp_rope_hf_to_gguf(float *out, const float *in, int32_t head_dim);
void sp_rope_gguf_to_hf(float *out, const float *in, int32_t head_dim);

/* PEFT tensor layout: PROMPT [N, dim]; PREFIX [N, n_layers*2*kv_dim] with K in HF order.
 * to_peft writes n_params floats to out; from_peft reads them from in into ad->params. */
void sp_adapter_to_peft(const sp_adapter *ad, float *out);
void sp_adapter_from_peft(sp_adapter *ad, const float *in);

#endif
