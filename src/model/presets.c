/* presets.c - the table of model shapes used for random-weight models (presets.h). */
#include "presets.h"

#include <string.h>

#define LLAMA_SHAPE(d, layers, heads, kv_heads, hidden, vocab)                                                    \
    {.dim = (d), .n_layers = (layers), .n_heads = (heads), .n_kv_heads = (kv_heads), .hidden_dim = (hidden),       \
     .vocab_size = (vocab), .ctx_len = 2048, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .rope_style = SP_ROPE_ADJACENT, \
     .tied = 1}

static const sp_preset PRESETS[] = {
    {.name = "stories15M", .cfg = LLAMA_SHAPE(288, 6, 6, 6, 768, 32000)},
    {.name = "stories110M", .cfg = LLAMA_SHAPE(768, 12, 12, 12, 2048, 32000)},
    {.name = "smollm-135m", .cfg = LLAMA_SHAPE(576, 30, 9, 3, 1536, 49152)},
};

#define N_PRESETS ((int32_t)(sizeof(PRESETS) / sizeof(PRESETS[0])))

const sp_preset *sp_preset_at(int32_t i) { return i >= 0 && i < N_PRESETS ? &PRESETS[i] : NULL; }

const sp_preset *sp_preset_find(const char *name) {
    for (int32_t i = 0; name && i < N_PRESETS; i++)
        if (strcmp(PRESETS[i].name, name) == 0) return &PRESETS[i];
    return NULL;
}
