/* model.c - build an sp_model from a GGUF file or a Hugging Face folder
 * (config.json + model.safetensors + tokenizer.json): one loader for both, driven by the
 * architecture's table of tensors (arch.c).
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
    if (m->type == SP_DTYPE_F32) {
        for (int32_t r = 0; r < m->rows; r++) {
            const uint8_t *row = (const uint8_t *)m->data + (size_t)r * m->row_bytes;
            for (int32_t c = 0; c < m->cols; c++) {
                float v;
                memcpy(&v, row + 4 * (size_t)c, 4);
                if (!isfinite(v)) return sp_error_set(err, SP_ERR_NUMERIC, "tensor '%s' holds a non-finite value at [%d, %d]", name, r, c);
            }
        }
        return SP_OK;
    }
    const int32_t r = sp_mat_first_nonfinite_f16_row(m);
    if (r >= 0)
        return sp_error_set(err, SP_ERR_NUMERIC, "tensor '%s' (%s) holds a non-finite %s in row %d", name, sp_dtype_name(m->type),
                            m->type == SP_DTYPE_F16 ? "value" : "block scale", r);
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

/* ---------------------------------------------------------------------------------------------- */
/* walking an architecture's tensors                                                              */

/* The member a tensor description points at, for layer l (ignored for globals). */
static void *member(sp_model *m, const sp_tensor_desc *d, int32_t l) {
    char *base = d->flags & SP_T_LAYER ? (char *)&m->layers[l] : (char *)m;
    return base + d->offset;
}

/* Its name in a format (pattern with the layer filled in). */
static const char *desc_name(const sp_tensor_desc *d, int hf, int32_t l, char *buf, size_t cap) {
    const char *pat = hf ? d->hf : d->gguf;
    if (!pat) return NULL;
    snprintf(buf, cap, pat, l);
    return buf;
}

/* Calls f on every matrix of the model (the 3 parts of a fused one each), with a short name
 * for messages; stops at the first error. */
typedef sp_status (*mat_fn)(sp_model *m, sp_mat *w, const char *name, sp_error *err);

static sp_status for_each_mat(sp_model *m, mat_fn f, sp_error *err) {
    const sp_arch *a = sp_arch_get((sp_arch_id)m->cfg.arch);
    for (int32_t i = 0; i < a->n_tensors; i++) {
        const sp_tensor_desc *d = &a->tensors[i];
        if (d->flags & SP_T_VEC) continue;
        const int32_t nl = d->flags & SP_T_LAYER ? m->cfg.n_layers : 1;
        for (int32_t l = 0; l < nl; l++) {
            sp_mat *w = (sp_mat *)member(m, d, l);
            if (d->flags & SP_T_OUTPUT && m->cfg.tied) continue;
            char name[96];
            if (d->flags & SP_T_EMBD) snprintf(name, sizeof(name), "token embedding");
            else if (d->flags & SP_T_OUTPUT) snprintf(name, sizeof(name), "output");
            else {
                desc_name(d, d->gguf == NULL, l, name, sizeof(name));
                char *dot = strstr(name, ".weight");
                if (dot) *dot = 0;
            }
            for (int32_t part = 0; part < (d->flags & SP_T_FUSED_QKV ? 3 : 1); part++) {
                if (!w[part].rows) continue; /* optional, absent */
                sp_status s = f(m, &w[part], name, err);
                if (s) return s;
            }
        }
    }
    return SP_OK;
}

static sp_status count_mat(sp_model *m, sp_mat *w, const char *name, sp_error *err) {
    (void)name; (void)err;
    m->n_params += (uint64_t)w->rows * (uint64_t)w->cols;
    m->weight_bytes += (uint64_t)w->row_bytes * (uint64_t)w->rows;
    return SP_OK;
}

/* Parameters (matrices and vectors) and bytes of weight data in use. */
static void count_params(sp_model *m) {
    const sp_arch *a = sp_arch_get((sp_arch_id)m->cfg.arch);
    m->n_params = m->weight_bytes = 0;
    for_each_mat(m, count_mat, NULL);
    for (int32_t i = 0; i < a->n_tensors; i++) {
        const sp_tensor_desc *d = &a->tensors[i];
        if (!(d->flags & SP_T_VEC)) continue;
        const int32_t nl = d->flags & SP_T_LAYER ? m->cfg.n_layers : 1;
        const int64_t n = sp_arch_dim(&m->cfg, d->rows);
        for (int32_t l = 0; l < nl; l++)
            if (*(const float **)member(m, d, l)) m->n_params += (uint64_t)n;
    }
}

static sp_status finite_mat(sp_model *m, sp_mat *w, const char *name, sp_error *err) {
    (void)m;
    return mat_check_finite(w, name, err);
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

/* ---------------------------------------------------------------------------------------------- */
/* one loader for both formats                                                                    */

/* A tensor as a file holds it: torch-order shape whatever the format. */
typedef struct {
    const char *name;
    uint32_t type;
    const char *type_name; /* as the file wrote it (safetensors), or NULL */
    uint32_t n_dims;
    int64_t shape[8];
    int64_t count;         /* product of the shape */
    const void *data;      /* NULL: a type the reader does not know */
    uint64_t nbytes;
} tview;

/* The tensors of a GGUF file or of the safetensors shards of an HF folder. */
typedef struct {
    const sp_gguf *g;
    const sp_safetensors *st; /* [n_st] */
    int32_t n_st;
    int hf;
    const char *label;        /* "gguf" / "model.safetensors", for messages */
} tsrc;

static int tsrc_find(const tsrc *s, const char *name, tview *v) {
    memset(v, 0, sizeof(*v));
    v->name = name;
    v->count = 1;
    if (s->g) {
        const sp_gguf_tensor *t = sp_gguf_find_tensor(s->g, name);
        if (!t) return 0;
        v->type = t->type;
        v->n_dims = t->n_dims;
        for (uint32_t i = 0; i < t->n_dims && i < 4; i++) v->shape[i] = (int64_t)t->dims[t->n_dims - 1 - i];
        for (uint32_t i = 0; i < t->n_dims && i < 4; i++) v->count *= (int64_t)t->dims[i];
        v->data = t->data;
        v->nbytes = t->nbytes;
        return 1;
    }
    for (int32_t i = 0; i < s->n_st; i++) {
        const sp_st_tensor *t = sp_safetensors_find(&s->st[i], name);
        if (!t) continue;
        v->name = t->name;
        v->type = t->dtype;
        v->type_name = t->dtype_name;
        v->n_dims = t->n_dims;
        for (uint32_t j = 0; j < t->n_dims && j < 8; j++) {
            v->shape[j] = t->shape[j];
            v->count *= t->shape[j];
        }
        v->data = t->data;
        v->nbytes = t->nbytes;
        return 1;
    }
    return 0;
}

static sp_status view_mat(sp_mat *out, const tsrc *s, const tview *t, int64_t rows, int64_t cols, sp_error *err) {
    if (t->n_dims != 2) return sp_error_set(err, SP_ERR_SHAPE, "tensor '%s' has %u dimensions, expected 2", t->name, t->n_dims);
    if (s->hf) {
        if (t->type != SP_DTYPE_F32 && t->type != SP_DTYPE_F16 && t->type != SP_DTYPE_BF16)
            return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has dtype %s; supported: F32, F16, BF16", t->name, t->type_name ? t->type_name : "?");
        if (((uintptr_t)t->data & 3) != 0 && t->type == SP_DTYPE_F32)
            return sp_error_set(err, SP_ERR_FORMAT, "tensor '%s' data is not 4-byte aligned", t->name);
    } else if (!sp_dtype_supported(t->type) || !t->data) {
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s (%u); supported: F32, F16, BF16, Q8_0, Q4_0",
                            t->name, sp_dtype_name(t->type), t->type);
    }
    return mat_init(out, t->name, t->type, t->data, t->nbytes, t->shape[0], t->shape[1], rows, cols, err);
}

/* Load every tensor of the architecture's table from the source, in table order (globals, then
 * layer after layer). */
static sp_status load_tensors(sp_model *m, const sp_arch *a, const tsrc *s, sp_error *err) {
    sp_config *c = &m->cfg;
    const char *out_hf = NULL;
    for (int32_t i = 0; i < a->n_tensors; i++)
        if (a->tensors[i].flags & SP_T_OUTPUT) out_hf = a->tensors[i].hf;
    m->layers = (sp_layer *)sp_arena_alloc(&m->arena, sizeof(sp_layer) * (size_t)c->n_layers);
    if (!m->layers) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    memset(m->layers, 0, sizeof(sp_layer) * (size_t)c->n_layers);
    for (int32_t pass = 0; pass < 2; pass++) { /* globals, then each layer's tensors */
        const int32_t nl = pass ? c->n_layers : 1;
        for (int32_t l = 0; l < nl; l++)
            for (int32_t i = 0; i < a->n_tensors; i++) {
                const sp_tensor_desc *d = &a->tensors[i];
                if (!!(d->flags & SP_T_LAYER) != pass) continue;
                char nm[128];
                const char *name = desc_name(d, s->hf, l, nm, sizeof(nm));
                void *dst = member(m, d, l);
                tview t;
                int found = name && tsrc_find(s, name, &t);
                if (d->flags & SP_T_OUTPUT) {
                    if (!s->hf) c->tied = !found; /* GGUF: no output.weight means tied */
                    if (c->tied) {
                        m->output = m->tok_embd;
                        continue;
                    }
                }
                if (!found && (d->flags & SP_T_EMBD) && s->hf && c->tied && out_hf) /* tied: either name */
                    found = tsrc_find(s, out_hf, &t);
                if (!found) {
                    if (d->flags & SP_T_OPTIONAL) continue;
                    return sp_error_set(err, SP_ERR_SHAPE, "%s: tensor '%s' is missing", s->label, name ? name : d->gguf);
                }
                const int64_t rows = sp_arch_dim(c, d->rows), cols = sp_arch_dim(c, d->cols);
                sp_status st;
                if (d->flags & SP_T_VEC) {
                    if (!t.data) return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s (%u)", t.name, sp_dtype_name(t.type), t.type);
                    const float *v = vec_to_f32(&m->arena, t.name, t.type, t.data, t.nbytes, t.count, rows, err);
                    if (!v) return (sp_status)err->code;
                    *(const float **)dst = v;
                } else if ((st = view_mat((sp_mat *)dst, s, &t, rows, cols, err))) {
                    return st;
                }
            }
    }
    return SP_OK;
}

/* Tensors of layers the config does not count: file and config disagree. */
static sp_status check_layer_count(const sp_model *m, const sp_arch *a, const tsrc *s, sp_error *err) {
    const int32_t L = m->cfg.n_layers;
    if (s->g) {
        for (uint64_t i = 0; i < s->g->n_tensors; i++) {
            const sp_str *tn = &s->g->tensors[i].name;
            if (layer_of(tn->ptr, (size_t)tn->len, "blk.") >= L)
                return sp_error_set(err, SP_ERR_SHAPE, "gguf: tensor '%.*s' is past %s.block_count %d", (int)(tn->len > 64 ? 64 : tn->len), tn->ptr,
                                    a->gguf_name, L);
        }
        return SP_OK;
    }
    for (int32_t k = 0; k < s->n_st; k++)
        for (uint32_t i = 0; i < s->st[k].n; i++) {
            const char *tn = s->st[k].tensors[i].name;
            if (layer_of(tn, strlen(tn), a->hf_layer_prefix) >= L)
                return sp_error_set(err, SP_ERR_SHAPE, "model.safetensors: tensor '%.64s' is past num_hidden_layers %d in config.json", tn, L);
        }
    return SP_OK;
}

/* Everything after the config: tensors, their checks, the counts. */
static sp_status load_weights(sp_model *m, const sp_arch *a, const tsrc *s, sp_error *err) {
    sp_status st;
    if ((st = load_tensors(m, a, s, err))) return st;
    if ((st = check_layer_count(m, a, s, err))) return st;
    const int same = m->output.data == m->tok_embd.data;
    if ((st = for_each_mat(m, widen_bf16, err))) return st;
    if (same) m->output = m->tok_embd;
    if ((st = for_each_mat(m, finite_mat, err))) return st;
    set_file_type(m);
    count_params(m);
    return SP_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* GGUF                                                                                           */

/* "<arch>.<key>" */
static const char *gkey(const sp_arch *a, const char *key, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.%s", a->gguf_name, key);
    return buf;
}

static int64_t gguf_req_int(const sp_gguf *g, const char *key, int *missing) {
    int64_t v = sp_gguf_get_int(g, key, INT64_MIN);
    if (v == INT64_MIN) {
        *missing = 1;
        return 0;
    }
    return v;
}

static sp_status gguf_config(sp_config *c, const sp_arch *a, const sp_gguf *g, sp_error *err) {
    char k[96];
    int missing = 0;
    c->dim = (int32_t)gguf_req_int(g, gkey(a, "embedding_length", k, sizeof(k)), &missing);
    c->n_layers = (int32_t)gguf_req_int(g, gkey(a, "block_count", k, sizeof(k)), &missing);
    c->hidden_dim = (int32_t)gguf_req_int(g, gkey(a, "feed_forward_length", k, sizeof(k)), &missing);
    c->n_heads = (int32_t)gguf_req_int(g, gkey(a, "attention.head_count", k, sizeof(k)), &missing);
    if (missing)
        return sp_error_set(err, SP_ERR_FORMAT, "gguf: %s.embedding_length, block_count, feed_forward_length or attention.head_count is missing", a->gguf_name);
    c->n_kv_heads = (int32_t)sp_gguf_get_int(g, gkey(a, "attention.head_count_kv", k, sizeof(k)), c->n_heads);
    c->ctx_len = (int32_t)sp_gguf_get_int(g, gkey(a, "context_length", k, sizeof(k)), 2048);
    c->norm_eps = (float)sp_gguf_get_float(g, gkey(a, a->gguf_eps_key, k, sizeof(k)), 1e-5);
    c->rope_theta = (float)sp_gguf_get_float(g, gkey(a, "rope.freq_base", k, sizeof(k)), 10000.0);
    c->rope_style = a->gguf_rope_style;
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    int64_t rope_dims = sp_gguf_get_int(g, gkey(a, "rope.dimension_count", k, sizeof(k)), c->head_dim);
    if (c->n_heads > 0 && c->dim % c->n_heads != 0)
        return sp_error_set(err, SP_ERR_SHAPE, "gguf: embedding_length %d is not a multiple of head_count %d", c->dim, c->n_heads);
    if (rope_dims != c->head_dim)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf: partial rotary embeddings (rope.dimension_count %lld, head_dim %d) are not supported",
                            (long long)rope_dims, c->head_dim);
    const sp_gguf_tensor *te = sp_gguf_find_tensor(g, "token_embd.weight");
    if (!te) return sp_error_set(err, SP_ERR_SHAPE, "gguf: tensor 'token_embd.weight' is missing");
    if (te->n_dims != 2) return sp_error_set(err, SP_ERR_SHAPE, "tensor 'token_embd.weight' has %u dimensions, expected 2", te->n_dims);
    c->vocab_size = (int32_t)te->dims[1];
    return SP_OK;
}

/* The traits every format shares: from the architecture, then checked. */
static sp_status config_finish(sp_config *c, const sp_arch *a, sp_error *err) {
    c->arch = a->id;
    c->norm = a->norm;
    c->act = a->act;
    c->learned_pos = a->learned_pos;
    sp_status s = config_check(c, err);
    if (s) return s;
    c->q_dim = c->n_heads * c->head_dim; /* in range once checked */
    c->kv_dim = c->n_kv_heads * c->head_dim;
    return SP_OK;
}

sp_model *sp_model_load_gguf_buf(const sp_engine *eng, uint8_t *buf, size_t size, sp_error *err) {
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
    const sp_arch *a = sp_arch_by_gguf(arch.ptr, (size_t)arch.len);
    if (!a) {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf: architecture '%.*s' is not supported (supported: %s)",
                         (int)(arch.len > 40 ? 40 : arch.len), arch.ptr, sp_arch_supported_gguf());
        goto fail;
    }
    sp_str name;
    if (sp_gguf_get_str(&g, "general.name", &name))
        snprintf(m->name, sizeof(m->name), "%.*s", (int)(name.len > 90 ? 90 : name.len), name.ptr);

    sp_config *c = &m->cfg;
    if ((s = gguf_config(c, a, &g, err))) goto fail;
    if ((s = config_finish(c, a, err))) goto fail;
    tsrc src = {.g = &g, .hf = 0, .label = "gguf"};
    if ((s = load_weights(m, a, &src, err))) goto fail;
    if ((s = sp_tokenizer_from_gguf(&m->tok, &g, &m->arena, err))) goto fail;
    if (m->tok.vocab_size != c->vocab_size) {
        s = sp_error_set(err, SP_ERR_TOKENIZER, "tokenizer has %d tokens but the model's embedding has %d rows", m->tok.vocab_size, c->vocab_size);
        goto fail;
    }
    return m;
fail:
    if (err && err->code == SP_OK) sp_error_set(err, s ? s : SP_ERR_FORMAT, "model load failed");
    sp_model_free_(m);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Hugging Face folder                                                                            */

static int json_int(const sp_json *o, const char *key, int64_t *out) {
    const sp_json *v = sp_json_get(o, key);
    if (!v || v->type != SP_JSON_NUMBER || v->number != floor(v->number) || fabs(v->number) > 2e9) return 0;
    *out = (int64_t)v->number;
    return 1;
}

static sp_status hf_config(sp_config *c, const sp_arch *a, const sp_json *cfgj, sp_error *err) {
    const char *act = sp_json_string(cfgj, "hidden_act", "silu");
    if (strcmp(act, "silu") != 0) return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: hidden_act '%s' is not supported (only silu)", act);
    if (sp_json_bool(cfgj, "attention_bias", 0) || sp_json_bool(cfgj, "mlp_bias", 0))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: attention or MLP biases are not supported");
    const sp_json *rs = sp_json_get(cfgj, "rope_scaling");
    if (rs && rs->type != SP_JSON_NULL) return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: rope_scaling is not supported");
    int64_t v;
    const char *need[] = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"};
    int64_t vals[5];
    for (int i = 0; i < 5; i++)
        if (!json_int(cfgj, need[i], &vals[i])) return sp_error_set(err, SP_ERR_FORMAT, "config.json: '%s' is missing or not an integer", need[i]);
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
    if (c->n_heads <= 0 || c->dim % c->n_heads != 0)
        return sp_error_set(err, SP_ERR_SHAPE, "config.json: hidden_size %d is not a multiple of num_attention_heads %d", c->dim, c->n_heads);
    c->head_dim = json_int(cfgj, "head_dim", &v) ? (int32_t)v : c->dim / c->n_heads;
    c->tied = sp_json_bool(cfgj, "tie_word_embeddings", a->hf_tied_default);
    return SP_OK;
}

sp_model *sp_model_load_hf_buf(const sp_engine *eng, const char *config_json, size_t config_len,
                               uint8_t *safetensors, size_t st_size,
                               const char *tokenizer_json, size_t tok_len, sp_error *err) {
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
    const sp_arch *a = sp_arch_by_hf(mt, arch0);
    if (!a) {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: model_type '%s' / architecture '%s' is not supported (supported: %s)",
                         mt ? mt : "?", arch0 ? arch0 : "?", sp_arch_supported_hf());
        goto fail;
    }
    snprintf(m->name, sizeof(m->name), "%s", sp_json_string(cfgj, "_name_or_path", ""));

    sp_config *c = &m->cfg;
    if ((s = hf_config(c, a, cfgj, err))) goto fail;
    if ((s = config_finish(c, a, err))) goto fail;

    sp_safetensors st;
    if ((s = sp_safetensors_parse(&st, safetensors, st_size, &m->arena, err))) goto fail;
    tsrc src = {.st = &st, .n_st = 1, .hf = 1, .label = "model.safetensors"};
    if ((s = load_weights(m, a, &src, err))) goto fail;

    if (!tokenizer_json || !tok_len) { s = sp_error_set(err, SP_ERR_TOKENIZER, "tokenizer.json is missing"); goto fail; }
    if ((s = sp_tokenizer_from_hf_json(&m->tok, tokenizer_json, tok_len, &m->arena, err))) goto fail;
    if (m->tok.vocab_size > c->vocab_size) {
        s = sp_error_set(err, SP_ERR_TOKENIZER, "tokenizer.json has %d tokens but the model's vocab_size is %d", m->tok.vocab_size, c->vocab_size);
        goto fail;
    }
    int64_t v;
    if (json_int(cfgj, "bos_token_id", &v) && v >= 0 && v < c->vocab_size) m->tok.bos_id = (int32_t)v;
    if (json_int(cfgj, "eos_token_id", &v) && v >= 0 && v < c->vocab_size) m->tok.eos_id = (int32_t)v;
    return m;
fail:
    if (err && err->code == SP_OK) sp_error_set(err, s ? s : SP_ERR_FORMAT, "model load failed");
    sp_model_free_(m);
    return NULL;
}
