/* softprompt.h - the narrow C ABI that the JS module (web/engine.js) wraps.
 *
 * Conventions
 *  - Every fallible call takes an sp_error* owned by the caller (sp_error_new), or NULL when the
 *    caller does not want the details. Nothing here exits or aborts on bad input; after an error
 *    every object stays usable.
 *  - Return values, one rule: a call that can fail returns NULL (pointers) or -1 (int32_t) on
 *    failure, with err->code (sp_status) and err->msg set, and never a negative number otherwise.
 *    Stepping calls (sp_gen_next, sp_tuner_step) return 1 = one more step done, 0 = finished.
 *    Calls that fill a caller's buffer (sp_tokenize, sp_detokenize, sp_token_piece) return the
 *    size the whole result needs and write what fits, as snprintf does: a small buffer is not an
 *    error, the caller compares the result with its capacity.
 *  - Options travel as JSON text (one small object), so the ABI stays narrow.
 *  - Returned char* / uint8_t* documented as "malloc'd" are freed by the caller with sp_free.
 *    Returned const char* are owned by the object and valid until its next call or free.
 *  - Long work is split into steps (one token, one optimiser step) so the caller can pause,
 *    abort and report progress between calls.
 */
#ifndef SOFTPROMPT_H
#define SOFTPROMPT_H

#include <stddef.h>
#include <stdint.h>
#include "../common.h"

#ifdef __EMSCRIPTEN__
#include <emscripten/emscripten.h>
#define SP_API EMSCRIPTEN_KEEPALIVE
#else
#define SP_API
#endif

typedef struct sp_engine sp_engine;
typedef struct sp_model sp_model;
typedef struct sp_adapter sp_adapter;
typedef struct sp_gen sp_gen;
typedef struct sp_tuner sp_tuner;

#define SP_ABI_VERSION 6 /* 2: sp_gen_next returns 1/0/-1, sp_gen_token; 3: sp_engine_set_exact; 4: sp_data_preview_json takes options, sp_error_line/field;
                          * 5: sp_heap_room, sp_model_plan_gguf / _hf; 6: sp_model_preset, sp_model_gguf_json */

SP_API int32_t sp_abi_version(void);
SP_API void *sp_malloc(size_t size);
SP_API void sp_free(void *p);

/* ---- allocator statistics (src/api/heap.c; 0 where the platform cannot tell) ---- */
/* Bytes handed out by malloc and not yet freed; bytes the allocator holds free for reuse. */
SP_API size_t sp_heap_used(void);
SP_API size_t sp_heap_unused(void);
/* Bytes that can still be allocated: the 4 GB wasm32 ceiling minus the heap, plus what malloc holds
 * free inside it (natively: 4 GB minus what malloc has handed out). A double: it may be 4 GB. */
SP_API double sp_heap_room(void);

/* ---- errors ---- */
SP_API sp_error *sp_error_new(void);
SP_API void sp_error_delete(sp_error *err);
SP_API int32_t sp_error_code(const sp_error *err);          /* sp_status */
SP_API const char *sp_error_message(const sp_error *err);
SP_API const char *sp_error_code_name(int32_t code);          /* "SP_ERR_FORMAT" ... */
/* Where a data error is: the 1-based line of the data (0 = none) and the field ("" = none), e.g.
 * line 3, "messages[1].content". The message names them too; these are for programs. */
SP_API int32_t sp_error_line(const sp_error *err);
SP_API const char *sp_error_field(const sp_error *err);

/* ---- engine: thread pool + kernel choice ---- */
SP_API sp_engine *sp_engine_create(int32_t n_threads, sp_error *err);
SP_API void sp_engine_free(sp_engine *eng);
SP_API int32_t sp_engine_threads(const sp_engine *eng);
SP_API const char *sp_engine_isa(const sp_engine *eng);      /* "wasmsimd" or "scalar" */
/* exact = 1: every matrix product multiplies the f32 activations by the exactly dequantized
 * weights (slower on quantized weights). exact = 0 (the default): on Q8_0 / Q4_0 / K-quant
 * weights the activations are rounded to 16 bits per block of 32 for integer dot products
 * (about 1e-5 of an output's scale; src/kernels/kernels.h). Applies to the engine's models from
 * their next call. Returns 0, or -1 (err set) for a NULL engine or exact not 0 / 1. */
SP_API int32_t sp_engine_set_exact(sp_engine *eng, int32_t exact, sp_error *err);
SP_API int32_t sp_engine_exact(const sp_engine *eng); /* 1 when the products are exact */

/* ---- models ---- */
/* buf is malloc'd (sp_malloc) by the caller; the model takes ownership, even on failure. */
SP_API sp_model *sp_model_load_gguf(sp_engine *eng, uint8_t *buf, size_t size, sp_error *err);
SP_API sp_model *sp_model_load_hf(sp_engine *eng, const char *config_json, size_t config_len,
                                  uint8_t *safetensors, size_t st_size,
                                  const char *tokenizer_json, size_t tok_len, sp_error *err);
/* A sharded HF checkpoint: the n safetensors files that model.safetensors.index.json names (any
 * order; each tensor must be in exactly one). Each buffer is malloc'd; the model owns them all,
 * even on failure. */
SP_API sp_model *sp_model_load_hf_shards(sp_engine *eng, const char *config_json, size_t config_len,
                                         uint8_t **shards, const size_t *sizes, int32_t n_shards,
                                         const char *tokenizer_json, size_t tok_len, sp_error *err);
SP_API void sp_model_free(sp_model *m);
/* ---- plans: what a model will take, from its headers, before the rest is read (src/api/plan.c) ---- */
/* Weights (the files, which stay in memory, plus the F32 copies of BF16 matrices and GPT-2's
 * Conv1D) + the f32 K/V cache for min(context, 4096) positions, against sp_heap_room(). Sizes are
 * doubles (files may exceed 4 GB). malloc'd JSON
 *   {"complete":true,"arch":..,"file_bytes":..,"extra_bytes":..,"weight_bytes":..,"kv_bytes":..,
 *    "kv_positions":..,"context_length":..,"need_bytes":..,"room_bytes":..}
 * or {"complete":false,"header_bytes":N}: the header goes on past the bytes given; call again with
 * the first N. NULL with SP_ERR_TOO_LARGE naming the sizes when the model cannot fit (name: what
 * the message calls it), or the loader's error for a bad header. */
SP_API char *sp_model_plan_gguf(const uint8_t *head, size_t avail, double file_size, const char *name, sp_error *err);
/* config.json, and the first avail[i] bytes of each of the n safetensors files (file_sizes[i]
 * bytes); other_bytes: the other files the loader keeps (tokenizer.json, ...). */
SP_API char *sp_model_plan_hf(const char *config_json, size_t config_len, const uint8_t *const *heads, const size_t *avail,
                              const double *file_sizes, int32_t n, double other_bytes, const char *name, sp_error *err);
/* {"arch":"llama","format":"gguf"|"hf","name":..,"source_repo":"owner/name"|null (GGUF general.source.*),"file_type":"F32"|"Q8_0"|..,
 *  "weight_types":"Q5_0 71%, Q4_K 29%" (the types of the matrices by share of their bytes; one type: "Q8_0"),"dim":..,"n_layers":..,
 *  "n_heads":..,"n_kv_heads":..,"head_dim":..,"hidden_dim":..,"vocab_size":..,"context_length":..,
 *  "rope_theta":..,"norm_eps":..,"rope_style":"adjacent"|"half","tied":bool,"n_params":..,
 *  "weight_bytes":..,"bos_id":..,"eos_id":..,"tokenizer":"spm"|"bpe"} */
SP_API const char *sp_model_info_json(sp_model *m);

/* ---- tokenizer ---- */
/* Returns the number of ids the text needs (writes min(n, cap) ids); -1 on error. */
SP_API int32_t sp_tokenize(sp_model *m, const char *text, int32_t len, int32_t add_bos,
                           int32_t *ids, int32_t cap, sp_error *err);
/* Returns the number of bytes needed (writes min(n, cap)); -1 on error (bad id). */
SP_API int32_t sp_detokenize(sp_model *m, const int32_t *ids, int32_t n, char *out, int32_t cap, sp_error *err);
/* Bytes of token id as it follows token prev (-1 at start; writes min(n, cap)); -1 on a bad id. */
SP_API int32_t sp_token_piece(sp_model *m, int32_t prev, int32_t id, char *out, int32_t cap);

/* ---- tokenizers on their own (src/api/tokenizer_api.c) ---- */
typedef struct sp_tok sp_tok;
/* tokenizer.json bytes, and tokenizer_config.json bytes (config may be NULL/0). */
SP_API sp_tok *sp_tok_load_hf(const char *tokenizer_json, size_t len, const char *config_json, size_t config_len, sp_error *err);
/* A GGUF's tokenizer.ggml.* metadata; buf is sp_malloc'd and owned by the call (freed before it returns). */
SP_API sp_tok *sp_tok_load_gguf(uint8_t *buf, size_t size, sp_error *err);
/* A view of a model's tokenizer: valid while the model lives; free the view with sp_tok_free. */
SP_API sp_tok *sp_model_tokenizer(sp_model *m, sp_error *err);
/* A model's tokenizer_config.json (may be NULL/0) and extra end-of-generation ids (generation_config.json
 * eos_token_id). 0 on success, -1 on error. */
SP_API int32_t sp_model_tokenizer_config(sp_model *m, const char *config_json, size_t config_len, const int32_t *eog,
                                         int32_t n_eog, sp_error *err);
SP_API void sp_tok_free(sp_tok *t);
/* {"kind":"bpe"|"spm","vocab_size":..,"add_bos":bool,"add_eos":bool,"bos_id":..,"bos_token":".."|null,
 *  "eos_id":..,"eos_token":..,"pad_id":..,"pad_token":..,"unk_id":..,"unk_token":..,"eog_ids":[..],
 *  "chat_template":".."|null (GGUF)} */
SP_API const char *sp_tok_info_json(sp_tok *t);
/* add_special: the special tokens the tokenizer adds (HF add_special_tokens). Returns the id count
 * (writes min(n, cap)); -1 on error. */
SP_API int32_t sp_tok_encode(sp_tok *t, const char *text, int32_t len, int32_t add_special, int32_t *ids, int32_t cap, sp_error *err);
/* Bytes of the decoded text (special tokens skipped); -1 on a bad id. */
SP_API int32_t sp_tok_decode(sp_tok *t, const int32_t *ids, int32_t n, char *out, int32_t cap, sp_error *err);
/* The token's text as the vocabulary stores it (e.g. "\u0120world"); -1 on a bad id. */
SP_API int32_t sp_tok_token_text(sp_tok *t, int32_t id, char *out, int32_t cap);
/* ---- adapters (PEFT prompt tuning / prefix tuning) ---- */
/* From adapter_model.safetensors + adapter_config.json bytes. Checks peft_type, shapes vs model. */
SP_API sp_adapter *sp_adapter_load(sp_model *m, const uint8_t *st, size_t st_size,
                                   const char *config_json, size_t config_len, sp_error *err);
SP_API void sp_adapter_free(sp_adapter *ad);
/* {"method":"prompt"|"prefix","num_virtual_tokens":N,"token_dim":..,"num_layers":..} */
SP_API const char *sp_adapter_info_json(sp_adapter *ad);
/* malloc'd bytes of adapter_model.safetensors; *out_size set. */
SP_API uint8_t *sp_adapter_save_safetensors(sp_adapter *ad, size_t *out_size, sp_error *err);
/* malloc'd NUL-terminated adapter_config.json (sorted keys, PEFT fields). */
SP_API char *sp_adapter_save_config(sp_adapter *ad, const char *base_model_name, sp_error *err);
/* malloc'd JSON: [[{"id":..,"piece":"..","score":cos},...k] per virtual token]. Prompt tuning only
 * (prefix adapters: SP_ERR_UNSUPPORTED). */
SP_API char *sp_adapter_nearest_json(sp_adapter *ad, int32_t k, sp_error *err);

/* ---- generation ---- */
/* opts: {"max_tokens":128,"temperature":1.0,"top_k":0,"top_p":1.0,"seed":0,"stop_at_eos":true}
 * temperature 0 = greedy. Seeds give the same text on every machine (own xorshift RNG, f32 math).
 * ids: the prompt (usually BOS + text). adapter may be NULL. The context must hold
 * virtual tokens + prompt + max_tokens, else SP_ERR_CONTEXT. */
SP_API sp_gen *sp_gen_create(sp_model *m, sp_adapter *ad, const int32_t *ids, int32_t n,
                             const char *opts_json, sp_error *err);
/* One step: 1 = a token was generated (read it with sp_gen_token), 0 = finished (EOS or max_tokens),
 * -1 = error. The first call runs the prefill. */
SP_API int32_t sp_gen_next(sp_gen *g, sp_error *err);
/* The token id the last sp_gen_next produced (-1 before the first). */
SP_API int32_t sp_gen_token(const sp_gen *g);
/* Logits [vocab] that produced the last token (after the first sp_gen_next call). */
SP_API const float *sp_gen_logits(sp_gen *g);
SP_API void sp_gen_free(sp_gen *g);

/* ---- hidden states (embeddings) ---- */
/* The final hidden states of the prompt ids[0..n) (after the final norm, before the LM head),
 * with the adapter's virtual tokens in front (ad may be NULL; their rows are not returned).
 * Writes min(n * dim, cap) floats of out, row-major (n, dim); returns n * dim, -1 on error. */
SP_API int32_t sp_hidden_states(sp_model *m, sp_adapter *ad, const int32_t *ids, int32_t n, float *out, int32_t cap,
                                sp_error *err);

/* ---- evaluation ---- */
/* data: JSONL ({"text"} or {"input","output"} per line). opts: {"max_length":256,"batch_size":8}.
 * malloc'd JSON {"loss":..,"perplexity":..,"tokens":N,"examples":N[,"accuracy":..,"labels":[..]]} */
SP_API char *sp_eval_json(sp_model *m, sp_adapter *ad, const char *data, size_t data_len,
                          const char *opts_json, sp_error *err);

/* ---- data (parsed by src/train/data.c, the one data parser; data.h documents the formats) ---- */
/* Parses training data as the tuner would and summarises it. opts (all optional):
 * {"format":"auto"|"jsonl"|"csv"|"tsv"|"text","limit":20,"max_length":0,"ids":false}. m may be NULL (then
 * "tokens" is null). malloc'd JSON:
 * {"format":"jsonl"|"csv"|"tsv"|"text","kind":"text"|"input-output"|"chat"|"mixed","count":N,
 *  "examples":[the first `limit`: {"text"} | {"input","output"} | {"messages":[{"role","content"}],
 *              "train_from":K} | {"segments":[{"text","train"}]}, each with "line"; with "ids":true and
 *              a model also "ids":[..] and "targets":[0|1,..], the tokens and which are learnt],
 *  "labels":[distinct outputs, sorted] or null (more than 20, or not all input/output),
 *  "tokens":{"total","min","max","mean","truncated" (longer than max_length, when > 0),"targets",
 *            "per_example":[..]} (before truncation; an unrendered conversation counts null),
 *  "warnings":["..."] (e.g. the data holds one example),
 *  "errors":[{"code":"SP_ERR_DATA","line":L,"field":"messages[1].role" or null,"message":".."}]}.
 * Malformed data is not a failure: it gives count 0 and the problem in "errors". NULL on bad options. */
SP_API char *sp_data_preview_json(sp_model *m, const char *data, size_t len, const char *opts_json, sp_error *err);
/* The conversations in the data ({"messages"} and message-list {"prompt","completion"} records), for
 * the caller to render with the model's chat template into {"segments"} records on the same lines:
 * {"format":..,"conversations":[{"messages":[{"role","content"},..],"train_from":K,"line":L},..]}.
 * NULL on malformed data: SP_ERR_DATA with sp_error_line / sp_error_field. */
SP_API char *sp_data_conversations_json(const char *data, size_t len, const char *format, sp_error *err);

/* ---- tuning ---- */
/* opts (all optional): {"method":"prompt"|"prefix","virtual_tokens":20,"init":"random"|"vocab"|"text",
 *  "init_text":"..","optimizer":"adam"|"adamw"|"sgd","lr":..,"weight_decay":0.01,
 *  "schedule":"constant"|"linear"|"cosine","warmup":0,"clip":0,"steps":0,"epochs":1,"batch_size":4,
 *  "max_length":256,"seed":0,"shuffle":true,"eval_split":0.1,"eval_every":0,"patience":0}
 * init_adapter (may be NULL) initialises from a saved adapter. */
SP_API sp_tuner *sp_tuner_create(sp_model *m, const char *opts_json, const char *data, size_t data_len,
                                 sp_adapter *init_adapter, sp_error *err);
/* One optimiser step. 1 = a step was taken, 0 = the run is finished, -1 = error
 * (SP_ERR_NUMERIC on NaN/Inf loss: the last good prompt is kept). */
SP_API int32_t sp_tuner_step(sp_tuner *t, sp_error *err);
/* Last step: {"step":..,"epoch":..,"loss":..,"lr":..,"tokens":..,"total_steps":..} */
SP_API const char *sp_tuner_report_json(sp_tuner *t);
/* Runs the held-out split: {"eval_loss":..,"perplexity":..,"tokens":..[,"accuracy":..]} or NULL on error. */
SP_API const char *sp_tuner_eval_json(sp_tuner *t, sp_error *err);
/* Evaluates the held-out split in parts: up to about max_examples more per call. progress (may be
 * NULL) gets [done, total] work units. 1 = more to do, 0 = complete (then sp_tuner_eval_json reports
 * it without more work), -1 = error. A training step drops an evaluation left half way. */
SP_API int32_t sp_tuner_eval_some(sp_tuner *t, int32_t max_examples, int32_t *progress, sp_error *err);
/* The current prompt (best=0) or the best by eval loss (best=1), as a new adapter owned by the caller. */
SP_API sp_adapter *sp_tuner_adapter(sp_tuner *t, int32_t best, sp_error *err);
/* Checkpoint (prompt, optimiser state, step, data order): malloc'd bytes; resume with sp_tuner_resume. */
SP_API uint8_t *sp_tuner_checkpoint(sp_tuner *t, size_t *out_size, sp_error *err);
SP_API int32_t sp_tuner_resume(sp_tuner *t, const uint8_t *ckpt, size_t size, sp_error *err);
/* {"arena_bytes":..,"activation_bytes":..,"recompute":bool} */
SP_API const char *sp_tuner_memory_json(sp_tuner *t);
SP_API void sp_tuner_free(sp_tuner *t);

/* ---- benchmark ---- */
/* Measures one engine (its thread count): probes, GEMM on the model's shapes, prefill, decode,
 * a training step, peak memory. model may be NULL: then opts "model" names a random-weight preset
 * (src/model/presets.c) and "type" ("F32" | "F16" | "Q8_0" | "Q4_0" | "Q5_0" | "Q5_1" | "Q4_K" | "Q5_K" |
 * "Q6_K"; K-quant rows not a multiple of 256 fall back as llama.cpp's do, and the result's
 * "weight_types" names the mix), the model sp_model_preset makes.
 * opts: {"prompt_tokens":128,"decode_tokens":64,"train_batch":4,"train_tokens":128,"seconds":0.5,
 *        "probes":true}. Returns malloc'd JSON (see api/bench.c). */
SP_API char *sp_bench_json(sp_engine *eng, sp_model *model, const char *opts_json, sp_error *err);
/* The random-weight model of a bench preset and weight type (seed 42, no tokenizer), refused from
 * its plan with SP_ERR_TOO_LARGE when it cannot fit. Free with sp_model_free. */
SP_API sp_model *sp_model_preset(sp_engine *eng, const char *preset, const char *type, sp_error *err);
/* A model without a tokenizer (a preset) as a GGUF file that llama.cpp and sp_model_load_gguf read
 * (model/export.c), without copying its weights: {"header":[ptr,bytes],"pieces":[[ptr,bytes,pad],..]}.
 * The file is the header's bytes, then each piece's bytes followed by pad zero bytes. The header is
 * malloc'd (sp_free it); the pieces point into the model. Returns malloc'd JSON. */
SP_API char *sp_model_gguf_json(sp_model *m, sp_error *err);

#endif
