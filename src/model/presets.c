/* presets.c - the table of model shapes used for random-weight models (presets.h). Each entry is
 * the model's config.json (Hugging Face hub, the base model of the family) as sp_config: sizes,
 * RoPE, tied head and the architecture's traits, so that a random model of the preset runs the
 * same code path as the real checkpoint. */
#include "presets.h"

#include <math.h>
#include <string.h>

#define LLAMA_SHAPE(d, layers, heads, kv_heads, hidden, vocab)                                                    \
    {.dim = (d), .n_layers = (layers), .n_heads = (heads), .n_kv_heads = (kv_heads), .hidden_dim = (hidden),       \
     .vocab_size = (vocab), .ctx_len = 2048, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .rope_style = SP_ROPE_ADJACENT, \
     .tied = 1}

static const sp_preset PRESETS[] = {
    {.name = "stories15M", .cfg = LLAMA_SHAPE(288, 6, 6, 6, 768, 32000)},
    {.name = "stories110M", .cfg = LLAMA_SHAPE(768, 12, 12, 12, 2048, 32000)},
    {.name = "smollm-135m", .cfg = LLAMA_SHAPE(576, 30, 9, 3, 1536, 49152)},
    /* HuggingFaceTB/SmolLM2-135M: LlamaForCausalLM */
    {.name = "smollm2-135m",
     .cfg = {.dim = 576, .n_layers = 30, .n_heads = 9, .n_kv_heads = 3, .hidden_dim = 1536, .vocab_size = 49152, .ctx_len = 8192,
             .norm_eps = 1e-5f, .rope_theta = 100000.0f, .rope_style = SP_ROPE_HALF, .tied = 1, .arch = SP_ARCH_LLAMA}},
    /* HuggingFaceTB/SmolLM2-360M */
    {.name = "smollm2-360m",
     .cfg = {.dim = 960, .n_layers = 32, .n_heads = 15, .n_kv_heads = 5, .hidden_dim = 2560, .vocab_size = 49152, .ctx_len = 8192,
             .norm_eps = 1e-5f, .rope_theta = 100000.0f, .rope_style = SP_ROPE_HALF, .tied = 1, .arch = SP_ARCH_LLAMA}},
    /* Qwen/Qwen2.5-0.5B: Qwen2ForCausalLM, q/k/v biases */
    {.name = "qwen2.5-0.5b",
     .cfg = {.dim = 896, .n_layers = 24, .n_heads = 14, .n_kv_heads = 2, .hidden_dim = 4864, .vocab_size = 151936, .ctx_len = 32768,
             .norm_eps = 1e-6f, .rope_theta = 1000000.0f, .rope_style = SP_ROPE_HALF, .tied = 1, .arch = SP_ARCH_QWEN2}},
    /* Qwen/Qwen3-0.6B: Qwen3ForCausalLM, head_dim 128 (q_dim 2048 > hidden 1024), q/k norms */
    {.name = "qwen3-0.6b",
     .cfg = {.dim = 1024, .n_layers = 28, .n_heads = 16, .n_kv_heads = 8, .head_dim = 128, .hidden_dim = 3072, .vocab_size = 151936,
             .ctx_len = 40960, .norm_eps = 1e-6f, .rope_theta = 1000000.0f, .rope_style = SP_ROPE_HALF, .tied = 1, .arch = SP_ARCH_QWEN3}},
    /* google/gemma-3-270m: Gemma3ForCausalLM, 5 sliding (window 512, local base 1e4) to 1 global
     * layer (random.c), query_pre_attn_scalar 256, embeddings x sqrt(640), no soft-capping */
    {.name = "gemma3-270m",
     .cfg = {.dim = 640, .n_layers = 18, .n_heads = 4, .n_kv_heads = 1, .head_dim = 256, .hidden_dim = 2048, .vocab_size = 262144,
             .ctx_len = 32768, .norm_eps = 1e-6f, .rope_theta = 1000000.0f, .rope_style = SP_ROPE_HALF, .tied = 1, .arch = SP_ARCH_GEMMA3,
             .rope_local_theta = 10000.0f, .sliding_window = 512, .embd_scale = 25.298221281347036f /* sqrt(640) */,
             .attn_scale = 0.0625f /* 1/sqrt(256) */}},
    /* meta-llama/Llama-3.2-1B: rope_scaling llama3 (factor 32, low 1, high 4, original 8192) */
    {.name = "llama3.2-1b",
     .cfg = {.dim = 2048, .n_layers = 16, .n_heads = 32, .n_kv_heads = 8, .head_dim = 64, .hidden_dim = 8192, .vocab_size = 128256,
             .ctx_len = 131072, .norm_eps = 1e-5f, .rope_theta = 500000.0f, .rope_style = SP_ROPE_HALF, .tied = 1, .arch = SP_ARCH_LLAMA,
             .rope_scaling = SP_ROPE_SCALE_LLAMA3, .rope_factor = 32.0f, .rope_low_freq_factor = 1.0f, .rope_high_freq_factor = 4.0f,
             .rope_orig_ctx = 8192}},
    /* openai-community/gpt2: GPT2LMHeadModel, learned positions, n_inner 4 x 768 */
    {.name = "gpt2-124m",
     .cfg = {.dim = 768, .n_layers = 12, .n_heads = 12, .n_kv_heads = 12, .hidden_dim = 3072, .vocab_size = 50257, .ctx_len = 1024,
             .norm_eps = 1e-5f, .rope_theta = 10000.0f, .rope_style = SP_ROPE_HALF, .tied = 1, .arch = SP_ARCH_GPT2}},
};

#define N_PRESETS ((int32_t)(sizeof(PRESETS) / sizeof(PRESETS[0])))

const sp_preset *sp_preset_at(int32_t i) { return i >= 0 && i < N_PRESETS ? &PRESETS[i] : NULL; }

const sp_preset *sp_preset_find(const char *name) {
    for (int32_t i = 0; name && i < N_PRESETS; i++)
        if (strcmp(PRESETS[i].name, name) == 0) return &PRESETS[i];
    return NULL;
}
