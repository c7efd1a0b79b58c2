/* embedding.c - the token embedding as the model feeds it, row by row (for adapter initialisation
 * and the nearest-token view): sp_embed's row, i.e. the dequantized table row times cfg.embd_scale
 * where the architecture scales it (Gemma 3). That is what PEFT's prompt-tuning init reads: it calls
 * the model's word-embedding module, and Gemma3TextScaledWordEmbedding.forward multiplies by
 * embed_scale, so TEXT / SAMPLE_VOCAB rows are scaled embeddings (and, passed back as
 * inputs_embeds, enter the model unscaled, exactly as those tokens would). */
#include "model.h"
#include "transformer.h"

#include <math.h>
#include <stdlib.h>

sp_status sp_model_embd_row(const sp_model *m, int32_t r, float *out, sp_error *err) {
    const sp_mat *w = &m->tok_embd;
    if (r < 0 || r >= w->rows) return sp_error_set(err, SP_ERR_INVALID_ARG, "token id %d out of range [0, %d)", (int)r, (int)w->rows);
    sp_embed(m, out, &r, 1);
    return SP_OK;
}

float sp_model_embd_std(const sp_model *m) {
    const sp_mat *w = &m->tok_embd;
    float *row = (float *)malloc((size_t)(w->cols > 0 ? w->cols : 1) * sizeof(float));
    if (!row) return 0.02f;
    double s = 0.0, s2 = 0.0;
    for (int32_t r = 0; r < w->rows; r++) {
        sp_embed(m, row, &r, 1);
        for (int32_t i = 0; i < w->cols; i++) { s += row[i]; s2 += (double)row[i] * row[i]; }
    }
    free(row);
    double cnt = (double)w->rows * (double)w->cols;
    if (cnt <= 0) return 0.02f;
    double mean = s / cnt;
    double var = s2 / cnt - mean * mean;
    double sd = var > 0 ? sqrt(var) : 0.0;
    return (sd > 0 && isfinite(sd)) ? (float)sd : 0.02f;
}
