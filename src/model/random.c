/* random.c - models of real shapes with random weights, for benchmarks and tests that need a
 * size no file in the repository has (stories15M, stories110M, SmolLM-135M). No tokenizer:
 * callers feed token ids. Weights are N(0, 0.02^2) (norms 1), quantized with the engine's
 * row quantizer when the type is Q8_0 / Q4_0; random codes of that scale for Q4_K / Q5_K / Q6_K. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sp_status random_mat(sp_model *m, sp_mat *w, int32_t rows, int32_t cols, uint32_t type, sp_rng *rng, float *rowbuf, sp_error *err) {
    size_t rb = sp_dtype_row_bytes(type, cols), total;
    if (!rb || !sp_mul_size(rb, (size_t)rows, &total))
        return sp_error_set(err, SP_ERR_SHAPE, "random model: %d columns do not fit type %s", cols, sp_dtype_name(type));
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
    if (type != SP_DTYPE_F32 && type != SP_DTYPE_Q8_0 && type != SP_DTYPE_Q4_0 && type != SP_DTYPE_F16 && type != SP_DTYPE_Q4_K &&
        type != SP_DTYPE_Q5_K && type != SP_DTYPE_Q6_K) {
        sp_error_set(err, SP_ERR_UNSUPPORTED, "random model: type %s is not supported", sp_dtype_name(type));
        return NULL;
    }
    sp_model *m = (sp_model *)calloc(1, sizeof(sp_model));
    if (!m) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); return NULL; }
    sp_arena_init(&m->arena, 1 << 16); /* small chunks: each big matrix gets an exact allocation */
    m->eng = eng;
    m->cfg = *cfg;
    sp_config *c = &m->cfg;
    c->head_dim = c->dim / c->n_heads;
    c->q_dim = c->n_heads * c->head_dim;
    c->kv_dim = c->n_kv_heads * c->head_dim;
    snprintf(m->format, sizeof(m->format), "random");
    snprintf(m->name, sizeof(m->name), "%s", name ? name : "random");
    sp_rng rng;
    sp_rng_seed(&rng, seed);
    int32_t widest = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
    float *rowbuf = (float *)malloc(sizeof(float) * (size_t)widest);
    m->layers = (sp_layer *)sp_arena_alloc(&m->arena, sizeof(sp_layer) * (size_t)c->n_layers);
    float *ones = (float *)sp_arena_alloc(&m->arena, sizeof(float) * (size_t)c->dim);
    if (!rowbuf || !m->layers || !ones) { sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto fail; }
    for (int32_t i = 0; i < c->dim; i++) ones[i] = 1.0f;
    m->out_norm = ones;
    if (random_mat(m, &m->tok_embd, c->vocab_size, c->dim, type, &rng, rowbuf, err)) goto fail;
    if (c->tied) m->output = m->tok_embd;
    else if (random_mat(m, &m->output, c->vocab_size, c->dim, type, &rng, rowbuf, err)) goto fail;
    for (int32_t l = 0; l < c->n_layers; l++) {
        sp_layer *L = &m->layers[l];
        L->attn_norm = ones;
        L->ffn_norm = ones;
        if (random_mat(m, &L->wq, c->q_dim, c->dim, type, &rng, rowbuf, err) ||
            random_mat(m, &L->wk, c->kv_dim, c->dim, type, &rng, rowbuf, err) ||
            random_mat(m, &L->wv, c->kv_dim, c->dim, type, &rng, rowbuf, err) ||
            random_mat(m, &L->wo, c->dim, c->q_dim, type, &rng, rowbuf, err) ||
            random_mat(m, &L->w_gate, c->hidden_dim, c->dim, type, &rng, rowbuf, err) ||
            random_mat(m, &L->w_up, c->hidden_dim, c->dim, type, &rng, rowbuf, err) ||
            random_mat(m, &L->w_down, c->dim, c->hidden_dim, type, &rng, rowbuf, err))
            goto fail;
    }
    free(rowbuf);
    m->tok.vocab_size = 0;
    m->tok.bos_id = 1;
    m->tok.eos_id = 2;
    m->tok.unk_id = m->tok.pad_id = -1;
    snprintf(m->file_type, sizeof(m->file_type), "%s", sp_dtype_name(type));
    {
        uint64_t per_layer = 2ull * c->dim + (uint64_t)c->q_dim * c->dim * 2 + 2ull * c->kv_dim * c->dim + 3ull * c->hidden_dim * c->dim;
        m->n_params = (uint64_t)c->vocab_size * c->dim * (c->tied ? 1 : 2) + c->dim + per_layer * c->n_layers;
        uint64_t wb = (uint64_t)m->tok_embd.row_bytes * c->vocab_size * (c->tied ? 1 : 2);
        for (int32_t l = 0; l < c->n_layers; l++) {
            const sp_layer *L = &m->layers[l];
            wb += (uint64_t)L->wq.row_bytes * L->wq.rows + (uint64_t)L->wk.row_bytes * L->wk.rows * 2 + (uint64_t)L->wo.row_bytes * L->wo.rows +
                  (uint64_t)L->w_gate.row_bytes * L->w_gate.rows * 2 + (uint64_t)L->w_down.row_bytes * L->w_down.rows;
        }
        m->weight_bytes = wb;
    }
    return m;
fail:
    free(rowbuf);
    sp_model_free_(m);
    return NULL;
}
