/* random.c - models of real shapes with random weights, for benchmarks and tests that need a
 * size no file in the repository has (stories15M, stories110M, SmolLM-135M, Qwen2.5-0.5B, ...).
 * Any architecture of arch.c: its table lists the tensors. No tokenizer: callers feed token ids.
 * Weights are N(0, 0.02^2) (norms 1, biases 0), quantized with the engine's row quantizer when
 * the type is Q8_0 / Q4_0 (and the fallback types Q5_0 / Q5_1); random codes of that scale for
 * Q4_K / Q5_K / Q6_K (matrices whose rows are not a multiple of 256 fall back as llama.cpp's do,
 * plan.h's sp_plan_random_type; the model's weight_types names the mix it holds). */
#include "model.h"
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sp_status random_mat(sp_model *m, sp_mat *w, int32_t rows, int32_t cols, uint32_t asked, sp_rng *rng, float *rowbuf, sp_error *err) {
    const uint32_t type = sp_plan_random_type(asked, cols); /* K-quants fall back on rows that are not a multiple of 256 */
    size_t rb = sp_dtype_row_bytes(type, cols), total;
    if (!rb || !sp_mul_size(rb, (size_t)rows, &total))
        return sp_error_set(err, SP_ERR_SHAPE, "random model: %d columns do not fit type %s", cols, sp_dtype_name(asked));
    uint8_t *data = (uint8_t *)sp_arena_alloc(&m->arena, total);
    if (!data) return sp_error_set(err, SP_ERR_TOO_LARGE, "random model: out of memory for a %d x %d %s matrix (%zu bytes)", rows, cols, sp_dtype_name(type), total);
    for (int32_t r = 0; r < rows; r++) {
        /* cheap uniform noise with the variance of N(0, 0.02^2): keeps generation fast for 100M+ weights */
        for (int32_t c = 0; c < cols; c++) rowbuf[c] = (sp_rng_f32(rng) - 0.5f) * 0.0693f;
        if (type == SP_DTYPE_F32) memcpy(data + (size_t)r * rb, rowbuf, rb);
        else if (!sp_random_row_kquant(type, data + (size_t)r * rb, cols, rng, 0.0347f)) sp_quantize_row(type, data + (size_t)r * rb, rowbuf, cols);
    }
    w->type = type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = rb;
    w->data = data;
    sp_mat_check_f16(w);
    return SP_OK;
}

sp_model *sp_model_random(const sp_engine *eng, const sp_config *cfg, uint32_t type, uint64_t seed, const char *name, sp_error *err) {
    if (type != SP_DTYPE_F32 && type != SP_DTYPE_Q8_0 && type != SP_DTYPE_Q4_0 && type != SP_DTYPE_Q5_0 && type != SP_DTYPE_Q5_1 &&
        type != SP_DTYPE_F16 && type != SP_DTYPE_Q4_K && type != SP_DTYPE_Q5_K && type != SP_DTYPE_Q6_K) {
        sp_error_set(err, SP_ERR_UNSUPPORTED, "random model: type %s is not supported", sp_dtype_name(type));
        return NULL;
    }
    const sp_arch *a = sp_arch_get((sp_arch_id)cfg->arch);
    if (!a) {
        sp_error_set(err, SP_ERR_UNSUPPORTED, "random model: unknown architecture %d", cfg->arch);
        return NULL;
    }
    sp_model *m = (sp_model *)calloc(1, sizeof(sp_model));
    if (!m) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    sp_arena_init(&m->arena, 1 << 16); /* small chunks: each big matrix gets an exact allocation */
    m->eng = eng;
    m->cfg = *cfg;
    sp_config *c = &m->cfg;
    sp_config_head_dims(c);
    c->norm = a->norm;
    c->act = a->act;
    c->learned_pos = a->learned_pos;
    snprintf(m->format, sizeof(m->format), "random");
    snprintf(m->name, sizeof(m->name), "%s", name ? name : "random");
    sp_rng rng;
    sp_rng_seed(&rng, seed);
    int32_t widest = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
    if (c->q_dim + 2 * c->kv_dim > widest) widest = c->q_dim + 2 * c->kv_dim;
    float *rowbuf = (float *)malloc(sizeof(float) * (size_t)widest);
    m->layers = (sp_layer *)sp_arena_alloc(&m->arena, sizeof(sp_layer) * (size_t)c->n_layers);
    float *ones = (float *)sp_arena_alloc(&m->arena, sizeof(float) * (size_t)widest);
    float *zeros = (float *)sp_arena_alloc(&m->arena, sizeof(float) * (size_t)widest);
    if (!rowbuf || !m->layers || !ones || !zeros) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto fail; }
    memset(m->layers, 0, sizeof(sp_layer) * (size_t)c->n_layers);
    for (int32_t i = 0; i < widest; i++) ones[i] = 1.0f, zeros[i] = 0.0f;
    if (c->sliding_window > 0)
        for (int32_t l = 0; l < c->n_layers; l++) m->layers[l].sliding = c->arch != SP_ARCH_GEMMA3 || (l + 1) % 6 != 0;
    /* the architecture's tensors in table order: matrices random, norms 1, biases 0 */
    for (int32_t l = -1; l < c->n_layers; l++)
        for (int32_t i = 0; i < a->n_tensors; i++) {
            const sp_tensor_desc *d = &a->tensors[i];
            if ((l < 0) == !!(d->flags & SP_T_LAYER) || (d->flags & SP_T_OPTIONAL) || !d->hf) continue;
            char *base = d->flags & SP_T_LAYER ? (char *)&m->layers[l] : (char *)m;
            if (d->flags & SP_T_VEC) {
                const float *v = d->gguf && strstr(d->gguf, ".bias") ? zeros : ones;
                const float **vp = (const float **)(base + d->offset);
                vp[0] = v;
                if (d->flags & SP_T_FUSED_QKV) vp[1] = vp[2] = v;
                continue;
            }
            if (d->flags & SP_T_OUTPUT) {
                if (c->tied) { m->output = m->tok_embd; continue; }
            }
            sp_mat *w = (sp_mat *)(base + d->offset);
            const int32_t n = d->flags & SP_T_FUSED_QKV ? 3 : 1;
            for (int32_t part = 0; part < n; part++) {
                const int32_t rows = n == 3 ? (part == 0 ? c->q_dim : c->kv_dim) : (int32_t)sp_arch_dim(c, d->rows);
                if (random_mat(m, &w[part], rows, (int32_t)sp_arch_dim(c, d->cols), type, &rng, rowbuf, err)) goto fail;
            }
        }
    free(rowbuf);
    m->tok.vocab_size = 0;
    m->tok.bos_id = 1;
    m->tok.eos_id = 2;
    m->tok.unk_id = m->tok.pad_id = -1;
    snprintf(m->file_type, sizeof(m->file_type), "%s", sp_dtype_name(type));
    sp_model_count(m);
    return m;
fail:
    free(rowbuf);
    sp_model_free_(m);
    return NULL;
}
