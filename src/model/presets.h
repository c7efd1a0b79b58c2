/* presets.h - shapes of real models, for random-weight models (sp_model_random) in the benchmark
 * and the profiling tools: one table (presets.c). */
#ifndef SP_PRESETS_H
#define SP_PRESETS_H

#include "model.h"

typedef struct {
    const char *name;  /* e.g. "stories15M" */
    sp_config cfg;     /* every field sp_model_random needs */
} sp_preset;

/* The preset called name, or NULL. */
const sp_preset *sp_preset_find(const char *name);
/* The i-th preset (i in [0, count)), or NULL past the end: for listing the names. */
const sp_preset *sp_preset_at(int32_t i);

#endif
