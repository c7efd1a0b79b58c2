/* model.c - build an sp_model from a GGUF file or a Hugging Face folder
 * (config.json + model.safetensors + tokenizer.json). Llama family only.
 *
 * Every shape is checked against the config before any weight is used; errors name the
 * tensor and both shapes. Weights stay where the file put them (zero copy) except BF16
 * matrices (widened to F32) and the norm vectors (converted to f32). */
#include "model.h"
#include "../readers/gguf.h"
#include "../readers/json.h"
#include "../readers/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- */
/* shared checks                                                                                  */

static sp_status config_check(const sp_config *c, sp_error *err) {
    if (c->dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->hidden_dim <= 0 || c->vocab_size <= 0)
        return sp_error_set(err, SP_ERR_SHAPE, "model config: dimensions must be positive (dim %d, layers %d, heads %d, ffn %d, vocab %d)",
                            c->dim, c->n_layers, c->n_heads, c->hidden_dim, c->vocab_size);
    if (c->dim > 65536 || c->n_layers > 1024 || c->n_heads > 1024 || c->hidden_dim > 262144 || c->vocab_size > 1048576 || c->ctx_len > 1048576)
        return sp_error_set(err, SP_ERR_SHAPE, "model config: dimensions out of range (dim %d, layers %d, heads %d, ffn %d, vocab %d, ctx %d)",
                            c->dim, c->n_layers, c->n_heads, c->hidden_dim, c->vocab_size, c->ctx_len);
    if (c->n_kv_heads <= 0 || c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return sp_error_set(err, SP_ERR_SHAPE, "model config: %d query heads cannot share %d key/value heads", c->n_heads, c->n_kv_heads);
    if (c->head_dim <= 0 || c->head_dim % 2 != 0)
        return sp_error_set(err, SP_ERR_SHAPE, "model config: head_dim %d must be positive and even", c->head_dim);
    if ((int64_t)c->n_heads * c->head_dim > 262144)
        return sp_error_set(err, SP_ERR_SHAPE, "model config: %d heads of %d dimensions are out of range", c->n_heads, c->head_dim);
    if (c->ctx_len <= 0) return sp_error_set(err, SP_ERR_SHAPE, "model config: context length %d must be positive", c->ctx_len);
    if (!(c->norm_eps > 0.0f) || !(c->norm_eps < 1.0f)) return sp_error_set(err, SP_ERR_SHAPE, "model config: RMSNorm epsilon %g out of range", (double)c->norm_eps);
    if (!(c->rope_theta > 0.0f) || !isfinite(c->rope_theta)) return sp_error_set(err, SP_ERR_SHAPE, "model config: rope theta %g out of range", (double)c->rope_theta);
    return SP_OK;
}

/* Make a matrix view of (rows, cols) with the given type over data of nbytes. */
static sp_status mat_init(sp_mat *m, const char *name, uint32_t type, const void *data, uint64_t nbytes,
                          int64_t rows, int64_t cols, int64_t want_rows, int64_t want_cols, sp_error *err) {
    if (rows != want_rows || cols != want_cols)
        return sp_error_set(err, SP_ERR_SHAPE, "tensor '%s' has shape [%lld, %lld], the config needs [%lld, %lld]", name,
                            (long long)rows, (long long)cols, (long long)want_rows, (long long)want_cols);
    if (!sp_dtype_supported(type))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s (%u); supported: F32, F16, BF16, Q8_0, Q4_0",
                            name, sp_dtype_name(type), type);
    size_t rb = sp_dtype_row_bytes(type, cols);
    if (rb == 0)
        return sp_error_set(err, SP_ERR_SHAPE, "tensor '%s': %lld columns is not a multiple of the %s block size", name, (long long)cols, sp_dtype_name(type));
    size_t total;
    if (!sp_mul_size(rb, (size_t)rows, &total) || total > nbytes)
        return sp_error_set(err, SP_ERR_SHAPE, "tensor '%s': %llu bytes of data, its shape needs more", name, (unsigned long long)nbytes);
    m->type = type;
    m->rows = (int32_t)rows;
    m->cols = (int32_t)cols;
    m->row_bytes = rb;
    m->data = data;
    sp_mat_check_f16(m);
    return SP_OK;
}

/* Convert a vector of n values of type F32/F16/BF16 into arena f32. */
static float *vec_to_f32(sp_arena *a, const char *name, uint32_t type, const void *data, uint64_t nbytes, int64_t n,
                         int64_t want, sp_error *err) {
    if (n != want) {
        sp_error_set(err, SP_ERR_SHAPE, "tensor '%s' has %lld values, the config needs %lld", name, (long long)n, (long long)want);
        return NULL;
    }
    size_t esz = type == SP_DTYPE_F32 ? 4 : (type == SP_DTYPE_F16 || type == SP_DTYPE_BF16) ? 2 : 0;
    if (!esz) {
        sp_error_set(err, SP_ERR_UNSUPPORTED, "norm tensor '%s' has type %s; expected F32, F16 or BF16", name, sp_dtype_name(type));
        return NULL;
    }
    if ((uint64_t)n * esz > nbytes) {
        sp_error_set(err, SP_ERR_SHAPE, "tensor '%s' is truncated", name);
        return NULL;
    }
    float *out = (float *)sp_arena_alloc(a, (size_t)n * sizeof(float));
    if (!out) {
        sp_error_set(err, SP_ERR_NOMEM, "out of memory converting '%s'", name);
        return NULL;
    }
    const uint8_t *p = (const uint8_t *)data;
    for (int64_t i = 0; i < n; i++) {
        if (type == SP_DTYPE_F32) memcpy(&out[i], p + 4 * i, 4);
        else {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = type == SP_DTYPE_F16 ? sp_f16_to_f32(h) : sp_bf16_to_f32(h);
        }
        if (!isfinite(out[i])) {
            sp_error_set(err, SP_ERR_NUMERIC, "tensor '%s' holds a non-finite value (%g) at index %lld", name, (double)out[i], (long long)i);
            return NULL;
        }
    }
    return out;
}

/* Scan a weight matrix for NaN/Inf (F32/F16 values, quantized block scales). */
static sp_status mat_check_finite(const sp_mat *m, const char *name, sp_error *err) {
    for (int32_t r = 0; r < m->rows; r++) {
        const uint8_t *row = (const uint8_t *)m->data + (size_t)r * m->row_bytes;
        int32_t nvals = 0, stride = 0, off = 0;
        switch (m->type) {
        case SP_DTYPE_F32: {
            for (int32_t c = 0; c < m->cols; c++) {
                float v;
                memcpy(&v, row + 4 * (size_t)c, 4);
                if (!isfinite(v)) return sp_error_set(err, SP_ERR_NUMERIC, "tensor '%s' holds a non-finite value at [%d, %d]", name, r, c);
            }
            continue;
        }
        case SP_DTYPE_F16: nvals = m->cols; stride = 2; off = 0; break;
        case SP_DTYPE_Q8_0: nvals = m->cols / SP_QK; stride = (int32_t)sizeof(sp_block_q8_0); off = 0; break;
        case SP_DTYPE_Q4_0: nvals = m->cols / SP_QK; stride = (int32_t)sizeof(sp_block_q4_0); off = 0; break;
        default: continue;
        }
        for (int32_t i = 0; i < nvals; i++) {
            uint16_t h;
            memcpy(&h, row + (size_t)i * stride + off, 2);
            if ((h & 0x7c00) == 0x7c00) return sp_error_set(err, SP_ERR_NUMERIC, "tensor '%s' holds a non-finite value in row %d", name, r);
        }
    }
    return SP_OK;
}

static sp_model *model_new(const sp_engine *eng, uint8_t *buf, sp_error *err) {
    sp_model *m = (sp_model *)calloc(1, sizeof(sp_model));
    if (!m) {
        free(buf);
        sp_error_set(err, SP_ERR_NOMEM, "out of memory allocating the model");
        return NULL;
    }
    sp_arena_init(&m->arena, 1 << 16);
    m->eng = eng;
    if (buf) m->owned[m->n_owned++] = buf;
    return m;
}

void sp_model_free_(sp_model *m) {
    if (!m) return;
    for (int32_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->info_json);
    sp_arena_free(&m->arena);
    free(m);
}

static void count_params(sp_model *m) {
    const sp_config *c = &m->cfg;
    uint64_t per_layer = 2ull * c->dim + (uint64_t)c->q_dim * c->dim * 2 + 2ull * c->kv_dim * c->dim + 3ull * c->hidden_dim * c->dim;
    m->n_params = (uint64_t)c->vocab_size * c->dim * (c->tied ? 1 : 2) + c->dim + per_layer * c->n_layers;
    uint64_t wb = (uint64_t)m->tok_embd.row_bytes * m->tok_embd.rows;
    if (!c->tied) wb += (uint64_t)m->output.row_bytes * m->output.rows;
    for (int32_t l = 0; l < c->n_layers; l++) {
        const sp_layer *L = &m->layers[l];
        const sp_mat *ms[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7; i++) wb += (uint64_t)ms[i]->row_bytes * ms[i]->rows;
    }
    m->weight_bytes = wb;
}

static sp_status check_all_finite(sp_model *m, sp_error *err) {
    sp_status s;
    if ((s = mat_check_finite(&m->tok_embd, "token embedding", err))) return s;
    if (!m->cfg.tied && (s = mat_check_finite(&m->output, "output", err))) return s;
    for (int32_t l = 0; l < m->cfg.n_layers; l++) {
        const sp_layer *L = &m->layers[l];
        const sp_mat *ms[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        static const char *names[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
        char name[48];
        for (int i = 0; i < 7; i++) {
            snprintf(name, sizeof(name), "blk.%d.%s", l, names[i]);
            if ((s = mat_check_finite(ms[i], name, err))) return s;
        }
    }
    return SP_OK;
}

static void set_file_type(sp_model *m) {
    snprintf(m->file_type, sizeof(m->file_type), "%s", sp_dtype_name(m->cfg.n_layers ? m->layers[0].wq.type : m->tok_embd.type));
}

/* The layer index of a tensor named <prefix><digits>.<rest>, or -1. */
static int64_t layer_of(const char *name, size_t len, const char *prefix) {
    size_t pl = strlen(prefix);
    if (len <= pl || memcmp(name, prefix, pl) != 0) return -1;
    int64_t l = 0;
    size_t i = pl;
    for (; i < len && name[i] >= '0' && name[i] <= '9'; i++) {
        l = l * 10 + (name[i] - '0');
        if (l > INT32_MAX) return INT32_MAX;
    }
    return i > pl && i < len && name[i] == '.' ? l : -1;
}

/* ---------------------------------------------------------------------------------------------- */
/* GGUF                                                                                           */

static const sp_gguf_tensor *gguf_tensor(const sp_gguf *g, const char *name, sp_error *err) {
    const sp_gguf_tensor *t = sp_gguf_find_tensor(g, name);
    if (!t) sp_error_set(err, SP_ERR_SHAPE, "gguf: tensor '%s' is missing", name);
    return t;
}

static sp_status gguf_mat(sp_mat *out, const sp_gguf *g, const char *name, int64_t rows, int64_t cols, sp_error *err) {
    const sp_gguf_tensor *t = gguf_tensor(g, name, err);
    if (!t) return SP_ERR_SHAPE;
    if (t->n_dims != 2)
        return sp_error_set(err, SP_ERR_SHAPE, "tensor '%s' has %u dimensions, expected 2", name, t->n_dims);
    if (!sp_dtype_supported(t->type) || !t->data)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s (%u); supported: F32, F16, BF16, Q8_0, Q4_0",
                            name, sp_dtype_name(t->type), t->type);
    return mat_init(out, name, t->type, t->data, t->nbytes, (int64_t)t->dims[1], (int64_t)t->dims[0], rows, cols, err);
}

static const float *gguf_vec(sp_model *m, const sp_gguf *g, const char *name, int64_t n, sp_error *err) {
    const sp_gguf_tensor *t = gguf_tensor(g, name, err);
    if (!t) return NULL;
    if (!t->data) {
        sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s (%u)", name, sp_dtype_name(t->type), t->type);
        return NULL;
    }
    int64_t count = 1;
    for (uint32_t i = 0; i < t->n_dims; i++) count *= (int64_t)t->dims[i];
    return vec_to_f32(&m->arena, name, t->type, t->data, t->nbytes, count, n, err);
}

/* BF16 matrices are widened to F32 once (the kernels keep to F32/F16/Q8_0/Q4_0). */
static sp_status widen_bf16(sp_model *m, sp_mat *w, const char *name, sp_error *err) {
    if (w->type != SP_DTYPE_BF16) return SP_OK;
    size_t n;
    if (!sp_mul_size((size_t)w->rows, (size_t)w->cols, &n) || n > SIZE_MAX / 4)
        return sp_error_set(err, SP_ERR_TOO_LARGE, "tensor '%s' is too large", name);
    float *f = (float *)sp_arena_alloc(&m->arena, n * 4);
    if (!f) return sp_error_set(err, SP_ERR_NOMEM, "out of memory widening '%s' (%zu bytes)", name, n * 4);
    for (int32_t r = 0; r < w->rows; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        for (int32_t c = 0; c < w->cols; c++) {
            uint16_t h;
            memcpy(&h, row + 2 * (size_t)c, 2);
            f[(size_t)r * w->cols + c] = sp_bf16_to_f32(h);
        }
    }
    w->type = SP_DTYPE_F32;
    w->row_bytes = (size_t)w->cols * 4;
    w->data = f;
    w->f16_finite = 0;
    return SP_OK;
}

static sp_status widen_all(sp_model *m, sp_error *err) {
    sp_status s;
    int same = m->output.data == m->tok_embd.data;
    if ((s = widen_bf16(m, &m->tok_embd, "token embedding", err))) return s;
    if (same) m->output = m->tok_embd;
    else if ((s = widen_bf16(m, &m->output, "output", err))) return s;
    for (int32_t l = 0; l < m->cfg.n_layers; l++) {
        sp_layer *L = &m->layers[l];
        sp_mat *ms[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7; i++)
            if ((s = widen_bf16(m, ms[i], "layer weight", err))) return s;
    }
    return SP_OK;
}

static int64_t gguf_req_int(const sp_gguf *g, const char *key, int *missing) {
    int64_t v = sp_gguf_get_int(g, key, INT64_MIN);
    if (v == INT64_MIN) {
        *missing = 1;
        return 0;
    }
    return v;
}

sp_model *sp_model_load_gguf_buf(const sp_engine *eng, uint8_t *buf, size_t size, sp_error *err) {
    sp_error local; /* err may be NULL: the steps below read the code back */
    if (!err) err = &local;
    sp_model *m = model_new(eng, buf, err);
    if (!m) return NULL;
    sp_gguf g;
    sp_status s = sp_gguf_parse(&g, buf, size, &m->arena, err);
    if (s) goto fail;
    snprintf(m->format, sizeof(m->format), "gguf");

    sp_str arch = {0};
    if (!sp_gguf_get_str(&g, "general.architecture", &arch)) {
        s = sp_error_set(err, SP_ERR_FORMAT, "gguf: general.architecture is missing");
        goto fail;
    }
    if (!(arch.len == 5 && memcmp(arch.ptr, "llama", 5) == 0)) {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf: architecture '%.*s' is not supported (only 'llama')",
                         (int)(arch.len > 40 ? 40 : arch.len), arch.ptr);
        goto fail;
    }
    sp_str name;
    if (sp_gguf_get_str(&g, "general.name", &name))
        snprintf(m->name, sizeof(m->name), "%.*s", (int)(name.len > 90 ? 90 : name.len), name.ptr);

    sp_config *c = &m->cfg;
    int missing = 0;
    c->dim = (int32_t)gguf_req_int(&g, "llama.embedding_length", &missing);
    c->n_layers = (int32_t)gguf_req_int(&g, "llama.block_count", &missing);
    c->hidden_dim = (int32_t)gguf_req_int(&g, "llama.feed_forward_length", &missing);
    c->n_heads = (int32_t)gguf_req_int(&g, "llama.attention.head_count", &missing);
    if (missing) {
        s = sp_error_set(err, SP_ERR_FORMAT, "gguf: llama.embedding_length, block_count, feed_forward_length or attention.head_count is missing");
        goto fail;
    }
    c->n_kv_heads = (int32_t)sp_gguf_get_int(&g, "llama.attention.head_count_kv", c->n_heads);
    c->ctx_len = (int32_t)sp_gguf_get_int(&g, "llama.context_length", 2048);
    c->norm_eps = (float)sp_gguf_get_float(&g, "llama.attention.layer_norm_rms_epsilon", 1e-5);
    c->rope_theta = (float)sp_gguf_get_float(&g, "llama.rope.freq_base", 10000.0);
    c->rope_style = SP_ROPE_ADJACENT;
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    int64_t rope_dims = sp_gguf_get_int(&g, "llama.rope.dimension_count", c->head_dim);
    if (c->n_heads > 0 && c->dim % c->n_heads != 0) {
        s = sp_error_set(err, SP_ERR_SHAPE, "gguf: embedding_length %d is not a multiple of head_count %d", c->dim, c->n_heads);
        goto fail;
    }
    if (rope_dims != c->head_dim) {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf: partial rotary embeddings (rope.dimension_count %lld, head_dim %d) are not supported",
                         (long long)rope_dims, c->head_dim);
        goto fail;
    }

    const sp_gguf_tensor *te = gguf_tensor(&g, "token_embd.weight", err);
    if (!te) { s = SP_ERR_SHAPE; goto fail; }
    if (te->n_dims != 2) { s = sp_error_set(err, SP_ERR_SHAPE, "tensor 'token_embd.weight' has %u dimensions, expected 2", te->n_dims); goto fail; }
    c->vocab_size = (int32_t)te->dims[1];
    if ((s = config_check(c, err))) goto fail;
    c->q_dim = c->n_heads * c->head_dim; /* in range once checked */
    c->kv_dim = c->n_kv_heads * c->head_dim;

    if ((s = gguf_mat(&m->tok_embd, &g, "token_embd.weight", c->vocab_size, c->dim, err))) goto fail;
    if (sp_gguf_find_tensor(&g, "output.weight")) {
        c->tied = 0;
        if ((s = gguf_mat(&m->output, &g, "output.weight", c->vocab_size, c->dim, err))) goto fail;
    } else {
        c->tied = 1;
        m->output = m->tok_embd;
    }
    if (!(m->out_norm = gguf_vec(m, &g, "output_norm.weight", c->dim, err))) { s = (sp_status)err->code; goto fail; }
    m->layers = (sp_layer *)sp_arena_alloc(&m->arena, sizeof(sp_layer) * (size_t)c->n_layers);
    if (!m->layers) { s = sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto fail; }
    for (int32_t l = 0; l < c->n_layers; l++) {
        sp_layer *L = &m->layers[l];
        char nm[64];
#define T(suffix) (snprintf(nm, sizeof(nm), "blk.%d." suffix ".weight", l), nm)
        if (!(L->attn_norm = gguf_vec(m, &g, T("attn_norm"), c->dim, err))) { s = (sp_status)err->code; goto fail; }
        if (!(L->ffn_norm = gguf_vec(m, &g, T("ffn_norm"), c->dim, err))) { s = (sp_status)err->code; goto fail; }
        if ((s = gguf_mat(&L->wq, &g, T("attn_q"), c->q_dim, c->dim, err))) goto fail;
        if ((s = gguf_mat(&L->wk, &g, T("attn_k"), c->kv_dim, c->dim, err))) goto fail;
        if ((s = gguf_mat(&L->wv, &g, T("attn_v"), c->kv_dim, c->dim, err))) goto fail;
        if ((s = gguf_mat(&L->wo, &g, T("attn_output"), c->dim, c->q_dim, err))) goto fail;
        if ((s = gguf_mat(&L->w_gate, &g, T("ffn_gate"), c->hidden_dim, c->dim, err))) goto fail;
        if ((s = gguf_mat(&L->w_up, &g, T("ffn_up"), c->hidden_dim, c->dim, err))) goto fail;
        if ((s = gguf_mat(&L->w_down, &g, T("ffn_down"), c->dim, c->hidden_dim, err))) goto fail;
#undef T
    }
    for (uint64_t i = 0; i < g.n_tensors; i++) { /* layers the metadata does not count: file and config disagree */
        const sp_str *tn = &g.tensors[i].name;
        if (layer_of(tn->ptr, (size_t)tn->len, "blk.") >= c->n_layers) {
            s = sp_error_set(err, SP_ERR_SHAPE, "gguf: tensor '%.*s' is past llama.block_count %d", (int)(tn->len > 64 ? 64 : tn->len), tn->ptr, c->n_layers);
            goto fail;
        }
    }
    if ((s = widen_all(m, err))) goto fail;
    if ((s = check_all_finite(m, err))) goto fail;
    if ((s = sp_tokenizer_from_gguf(&m->tok, &g, &m->arena, err))) goto fail;
    if (m->tok.vocab_size != c->vocab_size) {
        s = sp_error_set(err, SP_ERR_TOKENIZER, "tokenizer has %d tokens but the model's embedding has %d rows", m->tok.vocab_size, c->vocab_size);
        goto fail;
    }
    set_file_type(m);
    count_params(m);
    return m;
fail:
    if (err && err->code == SP_OK) sp_error_set(err, s ? s : SP_ERR_FORMAT, "model load failed");
    sp_model_free_(m);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Hugging Face folder                                                                            */

static const sp_st_tensor *st_tensor(const sp_safetensors *st, const char *name, const char *alt, sp_error *err) {
    const sp_st_tensor *t = sp_safetensors_find(st, name);
    if (!t && alt) t = sp_safetensors_find(st, alt);
    if (!t) sp_error_set(err, SP_ERR_SHAPE, "model.safetensors: tensor '%s' is missing", name);
    return t;
}

static sp_status st_mat(sp_mat *out, const sp_safetensors *st, const char *name, const char *alt, int64_t rows, int64_t cols, sp_error *err) {
    const sp_st_tensor *t = st_tensor(st, name, alt, err);
    if (!t) return SP_ERR_SHAPE;
    if (t->n_dims != 2) return sp_error_set(err, SP_ERR_SHAPE, "tensor '%s' has %u dimensions, expected 2", t->name, t->n_dims);
    if (t->dtype != SP_DTYPE_F32 && t->dtype != SP_DTYPE_F16 && t->dtype != SP_DTYPE_BF16)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has dtype %s; supported: F32, F16, BF16", t->name, t->dtype_name ? t->dtype_name : "?");
    if (((uintptr_t)t->data & 3) != 0 && t->dtype == SP_DTYPE_F32)
        return sp_error_set(err, SP_ERR_FORMAT, "tensor '%s' data is not 4-byte aligned", t->name);
    return mat_init(out, t->name, t->dtype, t->data, t->nbytes, t->shape[0], t->shape[1], rows, cols, err);
}

static const float *st_vec(sp_model *m, const sp_safetensors *st, const char *name, int64_t n, sp_error *err) {
    const sp_st_tensor *t = st_tensor(st, name, NULL, err);
    if (!t) return NULL;
    int64_t count = 1;
    for (uint32_t i = 0; i < t->n_dims; i++) count *= t->shape[i];
    return vec_to_f32(&m->arena, name, t->dtype, t->data, t->nbytes, count, n, err);
}

static int json_int(const sp_json *o, const char *key, int64_t *out) {
    const sp_json *v = sp_json_get(o, key);
    if (!v || v->type != SP_JSON_NUMBER || v->number != floor(v->number) || fabs(v->number) > 2e9) return 0;
    *out = (int64_t)v->number;
    return 1;
}

sp_model *sp_model_load_hf_buf(const sp_engine *eng, const char *config_json, size_t config_len,
                               uint8_t *safetensors, size_t st_size,
                               const char *tokenizer_json, size_t tok_len, sp_error *err) {
    sp_error local; /* err may be NULL: the steps below read the code back */
    if (!err) err = &local;
    sp_model *m = model_new(eng, safetensors, err);
    if (!m) return NULL;
    sp_status s;
    snprintf(m->format, sizeof(m->format), "hf");
    if (!config_json || !config_len) { s = sp_error_set(err, SP_ERR_FORMAT, "config.json is missing"); goto fail; }
    sp_error jerr;
    sp_json *cfgj = sp_json_parse(&m->arena, config_json, config_len, &jerr);
    if (!cfgj) { s = sp_error_set(err, SP_ERR_FORMAT, "config.json: %s", jerr.msg); goto fail; }
    if (cfgj->type != SP_JSON_OBJECT) { s = sp_error_set(err, SP_ERR_FORMAT, "config.json: not a JSON object"); goto fail; }
    const char *mt = sp_json_string(cfgj, "model_type", NULL);
    const sp_json *archs = sp_json_get(cfgj, "architectures");
    const char *arch0 = archs && archs->type == SP_JSON_ARRAY && archs->len > 0 && archs->items[0].type == SP_JSON_STRING ? archs->items[0].str : NULL;
    if (!(mt && strcmp(mt, "llama") == 0) && !(arch0 && strcmp(arch0, "LlamaForCausalLM") == 0)) {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: model_type '%s' / architecture '%s' is not supported (only llama / LlamaForCausalLM)",
                         mt ? mt : "?", arch0 ? arch0 : "?");
        goto fail;
    }
    const char *act = sp_json_string(cfgj, "hidden_act", "silu");
    if (strcmp(act, "silu") != 0) { s = sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: hidden_act '%s' is not supported (only silu)", act); goto fail; }
    if (sp_json_bool(cfgj, "attention_bias", 0) || sp_json_bool(cfgj, "mlp_bias", 0)) {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: attention or MLP biases are not supported");
        goto fail;
    }
    const sp_json *rs = sp_json_get(cfgj, "rope_scaling");
    if (rs && rs->type != SP_JSON_NULL) { s = sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: rope_scaling is not supported"); goto fail; }
    const char *nm = sp_json_string(cfgj, "_name_or_path", "");
    snprintf(m->name, sizeof(m->name), "%s", nm);

    sp_config *c = &m->cfg;
    int64_t v;
    const char *need[] = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"};
    int64_t vals[5];
    for (int i = 0; i < 5; i++) {
        if (!json_int(cfgj, need[i], &vals[i])) { s = sp_error_set(err, SP_ERR_FORMAT, "config.json: '%s' is missing or not an integer", need[i]); goto fail; }
    }
    c->dim = (int32_t)vals[0];
    c->n_layers = (int32_t)vals[1];
    c->n_heads = (int32_t)vals[2];
    c->hidden_dim = (int32_t)vals[3];
    c->vocab_size = (int32_t)vals[4];
    c->n_kv_heads = json_int(cfgj, "num_key_value_heads", &v) ? (int32_t)v : c->n_heads;
    c->ctx_len = json_int(cfgj, "max_position_embeddings", &v) ? (int32_t)v : 2048;
    c->norm_eps = (float)sp_json_number(cfgj, "rms_norm_eps", 1e-6);
    c->rope_theta = (float)sp_json_number(cfgj, "rope_theta", 10000.0);
    c->rope_style = SP_ROPE_HALF;
    if (c->n_heads <= 0 || c->dim % c->n_heads != 0) {
        s = sp_error_set(err, SP_ERR_SHAPE, "config.json: hidden_size %d is not a multiple of num_attention_heads %d", c->dim, c->n_heads);
        goto fail;
    }
    c->head_dim = json_int(cfgj, "head_dim", &v) ? (int32_t)v : c->dim / c->n_heads;
    c->tied = sp_json_bool(cfgj, "tie_word_embeddings", 0);
    if ((s = config_check(c, err))) goto fail;
    c->q_dim = c->n_heads * c->head_dim; /* in range once checked */
    c->kv_dim = c->n_kv_heads * c->head_dim;

    sp_safetensors st;
    if ((s = sp_safetensors_parse(&st, safetensors, st_size, &m->arena, err))) goto fail;
    /* Tied models may store only one of the two names. */
    if ((s = st_mat(&m->tok_embd, &st, "model.embed_tokens.weight", c->tied ? "lm_head.weight" : NULL, c->vocab_size, c->dim, err))) goto fail;
    if (c->tied) m->output = m->tok_embd;
    else if ((s = st_mat(&m->output, &st, "lm_head.weight", NULL, c->vocab_size, c->dim, err))) goto fail;
    if (!(m->out_norm = st_vec(m, &st, "model.norm.weight", c->dim, err))) { s = (sp_status)err->code; goto fail; }
    m->layers = (sp_layer *)sp_arena_alloc(&m->arena, sizeof(sp_layer) * (size_t)c->n_layers);
    if (!m->layers) { s = sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto fail; }
    for (int32_t l = 0; l < c->n_layers; l++) {
        sp_layer *L = &m->layers[l];
        char n[96];
#define T(suffix) (snprintf(n, sizeof(n), "model.layers.%d." suffix, l), n)
        if (!(L->attn_norm = st_vec(m, &st, T("input_layernorm.weight"), c->dim, err))) { s = (sp_status)err->code; goto fail; }
        if (!(L->ffn_norm = st_vec(m, &st, T("post_attention_layernorm.weight"), c->dim, err))) { s = (sp_status)err->code; goto fail; }
        if ((s = st_mat(&L->wq, &st, T("self_attn.q_proj.weight"), NULL, c->q_dim, c->dim, err))) goto fail;
        if ((s = st_mat(&L->wk, &st, T("self_attn.k_proj.weight"), NULL, c->kv_dim, c->dim, err))) goto fail;
        if ((s = st_mat(&L->wv, &st, T("self_attn.v_proj.weight"), NULL, c->kv_dim, c->dim, err))) goto fail;
        if ((s = st_mat(&L->wo, &st, T("self_attn.o_proj.weight"), NULL, c->dim, c->q_dim, err))) goto fail;
        if ((s = st_mat(&L->w_gate, &st, T("mlp.gate_proj.weight"), NULL, c->hidden_dim, c->dim, err))) goto fail;
        if ((s = st_mat(&L->w_up, &st, T("mlp.up_proj.weight"), NULL, c->hidden_dim, c->dim, err))) goto fail;
        if ((s = st_mat(&L->w_down, &st, T("mlp.down_proj.weight"), NULL, c->dim, c->hidden_dim, err))) goto fail;
#undef T
    }
    for (uint32_t i = 0; i < st.n; i++) { /* layers config.json does not count: file and config disagree */
        const char *tn = st.tensors[i].name;
        if (layer_of(tn, strlen(tn), "model.layers.") >= c->n_layers) {
            s = sp_error_set(err, SP_ERR_SHAPE, "model.safetensors: tensor '%.64s' is past num_hidden_layers %d in config.json", tn, c->n_layers);
            goto fail;
        }
    }
    if ((s = widen_all(m, err))) goto fail;
    if ((s = check_all_finite(m, err))) goto fail;

    if (!tokenizer_json || !tok_len) { s = sp_error_set(err, SP_ERR_TOKENIZER, "tokenizer.json is missing"); goto fail; }
    if ((s = sp_tokenizer_from_hf_json(&m->tok, tokenizer_json, tok_len, &m->arena, err))) goto fail;
    if (m->tok.vocab_size > c->vocab_size) {
        s = sp_error_set(err, SP_ERR_TOKENIZER, "tokenizer.json has %d tokens but the model's vocab_size is %d", m->tok.vocab_size, c->vocab_size);
        goto fail;
    }
    if (json_int(cfgj, "bos_token_id", &v) && v >= 0 && v < c->vocab_size) m->tok.bos_id = (int32_t)v;
    if (json_int(cfgj, "eos_token_id", &v) && v >= 0 && v < c->vocab_size) m->tok.eos_id = (int32_t)v;
    set_file_type(m);
    count_params(m);
    return m;
fail:
    if (err && err->code == SP_OK) sp_error_set(err, s ? s : SP_ERR_FORMAT, "model load failed");
    sp_model_free_(m);
    return NULL;
}
