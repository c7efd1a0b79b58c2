/* plan.h - what a model will take in memory, known before its weights are read: from a GGUF
 * header, from config.json and the safetensors headers of an HF folder, or from a config and a
 * weight type (random-weight presets). The loaders' callers refuse a model that cannot fit
 * (sp_plan_check) before downloading or reading the rest of it. */
#ifndef SP_PLAN_H
#define SP_PLAN_H

#include "model.h"

/* Positions the K/V cache is budgeted for: the model's context, capped at this (generation asks
 * for the cache it needs, prompt + new tokens, and few ask for more than 4096 in a page). */
#define SP_PLAN_CTX_CAP 4096

typedef struct {
    sp_config cfg;          /* sizes and traits, as the loader will see them */
    uint64_t file_bytes;    /* bytes of the files, which stay in memory (the weights are views into them) */
    uint64_t extra_bytes;   /* copies the loader makes: BF16 matrices widened to F32, GPT-2's transposed Conv1D */
    uint64_t weight_bytes;  /* file_bytes + extra_bytes */
    int32_t kv_positions;   /* min(ctx_len, SP_PLAN_CTX_CAP) */
    uint64_t kv_bytes;      /* f32 K and V caches of every layer for kv_positions */
    uint64_t header_need;   /* > 0: the header runs past the bytes given; call again with this many */
    const char *arch;       /* architecture name (GGUF's) */
} sp_plan;

/* The K/V budget of a config (fills kv_positions, kv_bytes). */
void sp_plan_kv(sp_plan *p, const sp_config *c);
/* A random-weight model of cfg in `type` (sp_model_random's weights, fallbacks included). */
sp_status sp_plan_random(sp_plan *p, const sp_config *cfg, uint32_t type, sp_error *err);
/* The type sp_model_random stores a matrix of `cols` columns in, asked for `type`: K-quants need
 * rows of 256 values; other rows fall back as llama.cpp's quantizer does (llama_tensor_get_type:
 * Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, F16 for rows not a multiple of 32 either).
 * SP_DTYPE_UNKNOWN when nothing fits. */
uint32_t sp_plan_random_type(uint32_t type, int64_t cols);
/* From the first `avail` bytes of a GGUF file of file_size bytes. header_need > 0: read more. */
sp_status sp_plan_gguf(sp_plan *p, const uint8_t *head, size_t avail, uint64_t file_size, sp_error *err);
/* From config.json and the first bytes of each safetensors shard (heads[i], avail[i] of
 * file_sizes[i]); other_bytes: tokenizer and other files the loader keeps. header_need > 0: the
 * shard whose header is longer needs that many bytes (all shards are asked for that many). */
sp_status sp_plan_hf(sp_plan *p, const char *config_json, size_t config_len, const uint8_t *const *heads, const size_t *avail,
                     const uint64_t *file_sizes, int32_t n, uint64_t other_bytes, sp_error *err);
/* SP_ERR_TOO_LARGE naming the sizes when weights + KV exceed room bytes (what wasm memory can
 * still take); `what` names the model in the message. */
sp_status sp_plan_check(const sp_plan *p, uint64_t room, const char *what, sp_error *err);

#endif
