/* model.c - build an sp_model from a GGUF file or a Hugging Face folder
 * (config.json + model.safetensors + tokenizer.json): one loader for both, driven by the
 * architecture's table of tensors (arch.c).
 *
 * Every shape is checked against the config before any weight is used; errors name the
 * tensor and both shapes. Weights stay where the file put them (zero copy) except BF16
 * matrices (widened to F32) and the norm vectors (converted to f32). */
#include "model.h"
#include "plan.h"
#include "../readers/gguf.h"
#include "../readers/json.h"
#include "../readers/safetensors.h"

#include <ctype.h>
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
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s (%u); supported: " SP_DTYPES_SUPPORTED,
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
static sp_status vec_to_f32(sp_arena *a, const char *name, uint32_t type, const void *data, uint64_t nbytes, int64_t n,
                            int64_t want, float **vec, sp_error *err) {
    if (n != want)
        return sp_error_set(err, SP_ERR_SHAPE, "tensor '%s' has %lld values, the config needs %lld", name, (long long)n, (long long)want);
    size_t esz = type == SP_DTYPE_F32 ? 4 : (type == SP_DTYPE_F16 || type == SP_DTYPE_BF16) ? 2 : 0;
    if (!esz)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "norm tensor '%s' has type %s; expected F32, F16 or BF16", name, sp_dtype_name(type));
    if ((uint64_t)n * esz > nbytes) return sp_error_set(err, SP_ERR_SHAPE, "tensor '%s' is truncated", name);
    float *out = (float *)sp_arena_alloc(a, (size_t)n * sizeof(float));
    if (!out) return sp_error_set(err, SP_ERR_NOMEM, "out of memory converting '%s'", name);
    const uint8_t *p = (const uint8_t *)data;
    for (int64_t i = 0; i < n; i++) {
        if (type == SP_DTYPE_F32) memcpy(&out[i], p + 4 * i, 4);
        else {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = type == SP_DTYPE_F16 ? sp_f16_to_f32(h) : sp_bf16_to_f32(h);
        }
        if (!isfinite(out[i]))
            return sp_error_set(err, SP_ERR_NUMERIC, "tensor '%s' holds a non-finite value (%g) at index %lld", name, (double)out[i], (long long)i);
    }
    *vec = out;
    return SP_OK;
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
    if (w->type < SP_MODEL_TYPE_IDS) m->type_bytes[w->type] += (uint64_t)w->row_bytes * (uint64_t)w->rows;
    return SP_OK;
}

/* m->weight_types from m->type_bytes: the types by share, largest first, a type under 0.5% kept
 * ("<1%") so that no stored type goes unnamed. */
static void name_weight_types(sp_model *m) {
    const uint64_t *bytes = m->type_bytes, total = m->weight_bytes;
    m->weight_types[0] = 0;
    int used[SP_MODEL_TYPE_IDS] = {0}, n = 0;
    for (;;) {
        int best = -1;
        for (int t = 0; t < SP_MODEL_TYPE_IDS; t++)
            if (!used[t] && bytes[t] && (best < 0 || bytes[t] > bytes[best])) best = t;
        if (best < 0) break;
        used[best] = 1;
        const size_t len = strlen(m->weight_types);
        const double pc = 100.0 * (double)bytes[best] / (double)total;
        if (bytes[best] == total) snprintf(m->weight_types, sizeof(m->weight_types), "%s", sp_dtype_name((uint32_t)best));
        else if (pc < 0.5) snprintf(m->weight_types + len, sizeof(m->weight_types) - len, "%s%s <1%%", n ? ", " : "", sp_dtype_name((uint32_t)best));
        else snprintf(m->weight_types + len, sizeof(m->weight_types) - len, "%s%s %.0f%%", n ? ", " : "", sp_dtype_name((uint32_t)best), pc);
        n++;
    }
}

/* Parameters (matrices and vectors) and bytes of weight data in use. */
void sp_model_count(sp_model *m) {
    const sp_arch *a = sp_arch_get((sp_arch_id)m->cfg.arch);
    m->n_params = m->weight_bytes = 0;
    memset(m->type_bytes, 0, sizeof(m->type_bytes));
    for_each_mat(m, count_mat, NULL);
    name_weight_types(m);
    for (int32_t i = 0; i < a->n_tensors; i++) {
        const sp_tensor_desc *d = &a->tensors[i];
        if (!(d->flags & SP_T_VEC)) continue;
        const int32_t nl = d->flags & SP_T_LAYER ? m->cfg.n_layers : 1;
        const int64_t n = sp_arch_dim(&m->cfg, d->rows);
        for (int32_t l = 0; l < nl; l++)
            if (d->hf && *(const float **)member(m, d, l)) m->n_params += (uint64_t)n; /* rope_freqs is no parameter */
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

/* BF16 matrices are widened to F32 once: the kernels have no BF16 product (they multiply F32, F16,
 * Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K in place). */
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
    const char *hf_alt_prefix;/* HF names may also carry this prefix (GPT-2: "transformer.") */
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
    char alt[160];
    if (s->hf_alt_prefix) snprintf(alt, sizeof(alt), "%s%s", s->hf_alt_prefix, name);
    int found = 0;
    for (int32_t i = 0; i < s->n_st; i++) {
        const sp_st_tensor *t = sp_safetensors_find(&s->st[i], name);
        if (!t && s->hf_alt_prefix) t = sp_safetensors_find(&s->st[i], alt);
        if (!t) continue;
        if (found++) return 2; /* in two shards */
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
    }
    return found;
}

static sp_status view_mat(sp_mat *out, const tsrc *s, const tview *t, int64_t rows, int64_t cols, sp_error *err) {
    if (t->n_dims != 2) return sp_error_set(err, SP_ERR_SHAPE, "tensor '%s' has %u dimensions, expected 2", t->name, t->n_dims);
    if (s->hf) {
        if (t->type != SP_DTYPE_F32 && t->type != SP_DTYPE_F16 && t->type != SP_DTYPE_BF16)
            return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has dtype %s; supported: F32, F16, BF16", t->name, t->type_name ? t->type_name : "?");
        if (((uintptr_t)t->data & 3) != 0 && t->type == SP_DTYPE_F32)
            return sp_error_set(err, SP_ERR_FORMAT, "tensor '%s' data is not 4-byte aligned", t->name);
    } else if (!sp_dtype_supported(t->type) || !t->data) {
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s (%u); supported: " SP_DTYPES_SUPPORTED,
                            t->name, sp_dtype_name(t->type), t->type);
    }
    return mat_init(out, t->name, t->type, t->data, t->nbytes, t->shape[0], t->shape[1], rows, cols, err);
}

/* A Conv1D weight stored [in, out] (GPT-2 in HF files): the transpose, as F32 in the arena. */
static sp_status view_mat_conv1d(sp_model *m, sp_mat *out, const tsrc *s, const tview *t, int64_t rows, int64_t cols, sp_error *err) {
    sp_mat tr;
    sp_status st = view_mat(&tr, s, t, cols, rows, err); /* checks shape [cols, rows], dtype, size */
    if (st) return st;
    float *f = (float *)sp_arena_alloc(&m->arena, sizeof(float) * (size_t)rows * (size_t)cols);
    float *row = (float *)malloc(sizeof(float) * (size_t)rows);
    if (!f || !row) {
        free(row);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory transposing '%s'", t->name);
    }
    for (int64_t i = 0; i < cols; i++) { /* stored row i (input feature i) is column i of the weight */
        if (tr.type == SP_DTYPE_BF16) {
            for (int64_t o = 0; o < rows; o++) {
                uint16_t h;
                memcpy(&h, (const uint8_t *)tr.data + (size_t)i * tr.row_bytes + 2 * (size_t)o, 2);
                row[o] = sp_bf16_to_f32(h);
            }
        } else {
            m->eng->k->mat_row(row, &tr, (int32_t)i);
        }
        for (int64_t o = 0; o < rows; o++) f[(size_t)o * cols + i] = row[o];
    }
    free(row);
    return mat_init(out, t->name, SP_DTYPE_F32, f, sizeof(float) * (size_t)rows * (size_t)cols, rows, cols, rows, cols, err);
}

/* q, k and v stacked in one matrix / vector (GPT-2's c_attn, llama.cpp's attn_qkv): three views. */
static void split_qkv_mat(sp_mat *w, const sp_config *c) {
    const sp_mat all = w[0];
    const int32_t n[3] = {c->q_dim, c->kv_dim, c->kv_dim};
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        w[i] = all;
        w[i].rows = n[i];
        w[i].data = (const uint8_t *)all.data + off;
        off += (size_t)n[i] * all.row_bytes;
    }
}

/* Load every tensor of the architecture's table from the source, in table order (globals, then
 * layer after layer). */
static sp_status load_tensors(sp_model *m, const sp_arch *a, const tsrc *s, sp_error *err) {
    sp_config *c = &m->cfg;
    const char *out_hf = NULL;
    for (int32_t i = 0; i < a->n_tensors; i++)
        if (a->tensors[i].flags & SP_T_OUTPUT) out_hf = a->tensors[i].hf;
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
                int found = name ? tsrc_find(s, name, &t) : 0;
                if (d->flags & SP_T_OUTPUT) {
                    if (!s->hf) c->tied = !found; /* GGUF: no output.weight means tied */
                    if (c->tied) {
                        m->output = m->tok_embd;
                        continue;
                    }
                }
                if (!found && (d->flags & SP_T_EMBD) && s->hf && c->tied && out_hf) /* tied: either name */
                    found = tsrc_find(s, out_hf, &t);
                if (found > 1) return sp_error_set(err, SP_ERR_FORMAT, "%s: tensor '%s' is in more than one shard", s->label, t.name);
                if (!found) {
                    if (d->flags & SP_T_OPTIONAL) continue;
                    return sp_error_set(err, SP_ERR_SHAPE, "%s: tensor '%s' is missing", s->label, name ? name : d->gguf);
                }
                const int64_t rows = sp_arch_dim(c, d->rows), cols = sp_arch_dim(c, d->cols);
                sp_status st;
                if (d->flags & SP_T_VEC) {
                    if (!t.data) return sp_error_set(err, SP_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s (%u)", t.name, sp_dtype_name(t.type), t.type);
                    float *v;
                    if ((st = vec_to_f32(&m->arena, t.name, t.type, t.data, t.nbytes, t.count, rows, &v, err))) return st;
                    if (s->hf && (d->flags & SP_T_HF_PLUS1))
                        for (int64_t j = 0; j < rows; j++) v[j] += 1.0f;
                    const float **vp = (const float **)dst;
                    vp[0] = v;
                    if (d->flags & SP_T_FUSED_QKV) { /* bq, bk, bv follow each other */
                        vp[1] = v + c->q_dim;
                        vp[2] = v + c->q_dim + c->kv_dim;
                    }
                } else {
                    st = s->hf && (d->flags & SP_T_HF_CONV1D) ? view_mat_conv1d(m, (sp_mat *)dst, s, &t, rows, cols, err)
                                                              : view_mat((sp_mat *)dst, s, &t, rows, cols, err);
                    if (st) return st;
                    if (d->flags & SP_T_FUSED_QKV) split_qkv_mat((sp_mat *)dst, c);
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
    char alt[64];
    snprintf(alt, sizeof(alt), "%s%s", s->hf_alt_prefix ? s->hf_alt_prefix : "", a->hf_layer_prefix);
    for (int32_t k = 0; k < s->n_st; k++)
        for (uint32_t i = 0; i < s->st[k].n; i++) {
            const char *tn = s->st[k].tensors[i].name;
            if (layer_of(tn, strlen(tn), a->hf_layer_prefix) >= L || layer_of(tn, strlen(tn), alt) >= L)
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
    sp_model_count(m);
    return SP_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* GGUF                                                                                           */

/* Which layers use the sliding window: every layer (pattern 1), all but every pattern-th (Gemma 3:
 * 5 sliding to 1 global), or as config.json's layer_types lists them. */
typedef struct {
    int32_t pattern;
    const sp_json *types; /* ["sliding_attention", "full_attention", ...] or NULL */
} sliding_spec;


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

static sp_status gguf_config(sp_config *c, const sp_arch *a, const sp_gguf *g, sliding_spec *sw, sp_error *err) {
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
    const int64_t key_len = sp_gguf_get_int(g, gkey(a, "attention.key_length", k, sizeof(k)), -1);
    const int64_t val_len = sp_gguf_get_int(g, gkey(a, "attention.value_length", k, sizeof(k)), key_len);
    if (key_len != val_len)
        return sp_error_set(err, SP_ERR_SHAPE, "gguf: attention.key_length %lld and value_length %lld differ", (long long)key_len, (long long)val_len);
    if (key_len >= 0) {
        if (key_len == 0 || key_len > 65536) return sp_error_set(err, SP_ERR_SHAPE, "gguf: attention.key_length %lld out of range", (long long)key_len);
        c->head_dim = (int32_t)key_len;
    } else {
        c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
        if (c->n_heads > 0 && c->dim % c->n_heads != 0)
            return sp_error_set(err, SP_ERR_SHAPE, "gguf: embedding_length %d is not a multiple of head_count %d", c->dim, c->n_heads);
    }
    int64_t rope_dims = sp_gguf_get_int(g, gkey(a, "rope.dimension_count", k, sizeof(k)), c->head_dim);
    sp_str st;
    if (sp_gguf_get_str(g, gkey(a, "rope.scaling.type", k, sizeof(k)), &st) && !(st.len == 4 && memcmp(st.ptr, "none", 4) == 0)) {
        if (!(st.len == 6 && memcmp(st.ptr, "linear", 6) == 0))
            return sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf: rope scaling '%.*s' is not supported (only linear, and llama3 as rope_freqs.weight)",
                                (int)(st.len > 20 ? 20 : st.len), st.ptr);
        c->rope_scaling = SP_ROPE_SCALE_LINEAR;
        c->rope_factor = (float)sp_gguf_get_float(g, gkey(a, "rope.scaling.factor", k, sizeof(k)), 0.0);
        if (c->rope_factor == 1.0f) c->rope_scaling = SP_ROPE_SCALE_NONE;
    }
    c->sliding_window = (int32_t)sp_gguf_get_int(g, gkey(a, "attention.sliding_window", k, sizeof(k)), 0);
    c->logit_softcap = (float)sp_gguf_get_float(g, gkey(a, "final_logit_softcapping", k, sizeof(k)), 0.0);
    if (a->id == SP_ARCH_GEMMA3) { /* llama.cpp: local base 10000, 5 sliding layers to 1 global, scale 1/sqrt(key_length) */
        c->embd_scale = sqrtf((float)c->dim);
        c->attn_scale = 1.0f / sqrtf((float)c->head_dim);
        if (c->sliding_window > 0) c->rope_local_theta = 10000.0f;
        sw->pattern = 6;
    } else {
        sw->pattern = 1;
    }
    if (rope_dims != c->head_dim)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf: partial rotary embeddings (rope.dimension_count %lld, head_dim %d) are not supported",
                            (long long)rope_dims, c->head_dim);
    const sp_gguf_tensor *te = sp_gguf_find_tensor(g, "token_embd.weight");
    if (!te) return sp_error_set(err, SP_ERR_SHAPE, "gguf: tensor 'token_embd.weight' is missing");
    if (te->n_dims != 2) return sp_error_set(err, SP_ERR_SHAPE, "tensor 'token_embd.weight' has %u dimensions, expected 2", te->n_dims);
    c->vocab_size = (int32_t)te->dims[1];
    return SP_OK;
}

/* The traits every format shares: from the architecture, then checked; the layers allocated. */
static sp_status config_finish(sp_model *m, const sp_arch *a, const sliding_spec *sw, sp_error *err) {
    sp_config *c = &m->cfg;
    c->arch = a->id;
    c->norm = a->norm;
    c->act = a->act;
    c->learned_pos = a->learned_pos;
    sp_status s = config_check(c, err);
    if (s) return s;
    if (c->sliding_window < 0) return sp_error_set(err, SP_ERR_SHAPE, "model config: sliding window %d is negative", c->sliding_window);
    if (c->rope_scaling != SP_ROPE_SCALE_NONE && !(c->rope_factor > 0.0f && isfinite(c->rope_factor)))
        return sp_error_set(err, SP_ERR_SHAPE, "model config: rope scaling factor %g out of range", (double)c->rope_factor);
    if (c->rope_scaling == SP_ROPE_SCALE_LLAMA3 &&
        !(c->rope_orig_ctx > 0 && c->rope_low_freq_factor > 0.0f && c->rope_high_freq_factor > c->rope_low_freq_factor))
        return sp_error_set(err, SP_ERR_SHAPE, "model config: llama3 rope scaling needs original_max_position_embeddings > 0 and 0 < low_freq_factor < high_freq_factor");
    if (!(c->rope_local_theta >= 0.0f) || !isfinite(c->rope_local_theta) || !(c->attn_scale >= 0.0f) || !isfinite(c->attn_scale) ||
        !(c->logit_softcap >= 0.0f) || !isfinite(c->logit_softcap))
        return sp_error_set(err, SP_ERR_SHAPE, "model config: local rope base, attention scale or logit soft-capping out of range");
    sp_config_head_dims(c); /* in range once checked */
    m->layers = (sp_layer *)sp_arena_alloc(&m->arena, sizeof(sp_layer) * (size_t)c->n_layers);
    if (!m->layers) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    memset(m->layers, 0, sizeof(sp_layer) * (size_t)c->n_layers);
    if (c->sliding_window > 0) {
        if (sw->types && (sw->types->type != SP_JSON_ARRAY || sw->types->len != (size_t)c->n_layers))
            return sp_error_set(err, SP_ERR_SHAPE, "config.json: layer_types must list %d layers", c->n_layers);
        for (int32_t l = 0; l < c->n_layers; l++) {
            if (sw->types) {
                const sp_json *t = &sw->types->items[l];
                if (t->type != SP_JSON_STRING || (strcmp(t->str, "sliding_attention") != 0 && strcmp(t->str, "full_attention") != 0))
                    return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: layer_types[%d] is not 'sliding_attention' or 'full_attention'", l);
                m->layers[l].sliding = strcmp(t->str, "sliding_attention") == 0;
            } else {
                m->layers[l].sliding = sw->pattern <= 1 || (l + 1) % sw->pattern != 0;
            }
        }
    }
    return SP_OK;
}

static int repo_char(char ch) { return isalnum((unsigned char)ch) || ch == '-' || ch == '_' || ch == '.'; }

/* The Hugging Face repo id ("owner/name") a GGUF was converted from, when its metadata names it:
 * general.source.huggingface.repository (llama.cpp's first converter; "hugginface" in its earliest
 * key table), or a huggingface.co URL in general.source.repo_url / general.source.url (gguf-py's
 * metadata). Not general.base_model.*: that is the model's parent; not general.name, basename or
 * organization: display names (the converter title-cases them), no ids. out is left empty else. */
static void gguf_source_repo(const sp_gguf *g, char *out, size_t cap) {
    static const char *const keys[] = {"general.source.huggingface.repository", "general.source.hugginface.repository",
                                       "general.source.repo_url", "general.source.url"};
    static const char *const hosts[] = {"https://huggingface.co/", "http://huggingface.co/", "https://hf.co/", "huggingface.co/"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        sp_str v;
        if (!sp_gguf_get_str(g, keys[k], &v)) continue;
        const char *p = v.ptr;
        size_t n = (size_t)v.len, host = 0;
        for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]) && !host; h++)
            if (n > strlen(hosts[h]) && !strncmp(p, hosts[h], strlen(hosts[h]))) host = strlen(hosts[h]);
        if (k >= 2 && !host) continue; /* a URL elsewhere (a paper, GitHub) names no hub repo */
        p += host;
        n -= host;
        size_t i = 0, owner = 0;
        while (i < n && repo_char(p[i])) i++;
        owner = i;
        if (!owner || i >= n || p[i] != '/') continue;
        i++;
        while (i < n && repo_char(p[i])) i++;
        const int ends = i == n || (host && (p[i] == '/' || p[i] == '?' || p[i] == '#'));
        if (i == owner + 1 || !ends || p[0] == '.' || p[owner + 1] == '.' || i >= cap) continue;
        snprintf(out, cap, "%.*s", (int)i, p);
        return;
    }
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
    const sp_arch *a = sp_arch_by_gguf(arch.ptr, (size_t)arch.len);
    if (!a) {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf: architecture '%.*s' is not supported (supported: %s)",
                         (int)(arch.len > 40 ? 40 : arch.len), arch.ptr, sp_arch_supported_gguf());
        goto fail;
    }
    sp_str name;
    if (sp_gguf_get_str(&g, "general.name", &name))
        snprintf(m->name, sizeof(m->name), "%.*s", (int)(name.len > 90 ? 90 : name.len), name.ptr);
    gguf_source_repo(&g, m->source_repo, sizeof(m->source_repo));

    sp_config *c = &m->cfg;
    sliding_spec sw = {0};
    if ((s = gguf_config(c, a, &g, &sw, err))) goto fail;
    if ((s = config_finish(m, a, &sw, err))) goto fail;
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

/* A float field that may be absent or null (default), else must be a number. */
static int json_num_or(const sp_json *o, const char *key, double def, double *out) {
    const sp_json *v = sp_json_get(o, key);
    if (!v || v->type == SP_JSON_NULL) { *out = def; return 1; }
    if (v->type != SP_JSON_NUMBER) return 0;
    *out = v->number;
    return 1;
}

static sp_status hf_rope_scaling(sp_config *c, const sp_json *rs, sp_error *err) {
    if (!rs || rs->type == SP_JSON_NULL) return SP_OK;
    if (rs->type != SP_JSON_OBJECT) return sp_error_set(err, SP_ERR_FORMAT, "config.json: rope_scaling is not an object");
    const char *type = sp_json_string(rs, "rope_type", sp_json_string(rs, "type", "default"));
    double f;
    if (!json_num_or(rs, "factor", 1.0, &f)) return sp_error_set(err, SP_ERR_FORMAT, "config.json: rope_scaling.factor is not a number");
    c->rope_factor = (float)f;
    if (strcmp(type, "default") == 0) return SP_OK;
    if (strcmp(type, "linear") == 0) {
        c->rope_scaling = SP_ROPE_SCALE_LINEAR;
        return SP_OK;
    }
    if (strcmp(type, "llama3") == 0) {
        double lo, hi, orig;
        if (!json_num_or(rs, "low_freq_factor", 1.0, &lo) || !json_num_or(rs, "high_freq_factor", 4.0, &hi) ||
            !json_num_or(rs, "original_max_position_embeddings", 8192.0, &orig) || !(orig >= 1.0 && orig <= 1e7))
            return sp_error_set(err, SP_ERR_FORMAT, "config.json: rope_scaling low_freq_factor, high_freq_factor or original_max_position_embeddings is not a valid number");
        c->rope_scaling = SP_ROPE_SCALE_LLAMA3;
        c->rope_low_freq_factor = (float)lo;
        c->rope_high_freq_factor = (float)hi;
        c->rope_orig_ctx = (int32_t)orig;
        return SP_OK;
    }
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: rope_scaling type '%s' is not supported (only linear and llama3)", type);
}

/* GPT-2's config.json has its own names (n_embd, n_layer, ...). */
static sp_status hf_config_gpt2(sp_config *c, const sp_json *cfgj, sp_error *err) {
    const char *act = sp_json_string(cfgj, "activation_function", "gelu_new");
    if (strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_pytorch_tanh") != 0)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: activation_function '%s' is not supported (gpt2 uses gelu_new)", act);
    if (sp_json_bool(cfgj, "scale_attn_by_inverse_layer_idx", 0) || sp_json_bool(cfgj, "reorder_and_upcast_attn", 0) ||
        !sp_json_bool(cfgj, "scale_attn_weights", 1))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: GPT-2 attention scaling variants are not supported");
    const char *need[] = {"n_embd", "n_layer", "n_head", "vocab_size"};
    int64_t vals[4], v;
    for (int i = 0; i < 4; i++)
        if (!json_int(cfgj, need[i], &vals[i])) return sp_error_set(err, SP_ERR_FORMAT, "config.json: '%s' is missing or not an integer", need[i]);
    c->dim = (int32_t)vals[0];
    c->n_layers = (int32_t)vals[1];
    c->n_heads = c->n_kv_heads = (int32_t)vals[2];
    c->vocab_size = (int32_t)vals[3];
    c->hidden_dim = json_int(cfgj, "n_inner", &v) ? (int32_t)v : 4 * c->dim;
    c->ctx_len = json_int(cfgj, "n_positions", &v) ? (int32_t)v : 1024;
    c->norm_eps = (float)sp_json_number(cfgj, "layer_norm_epsilon", 1e-5);
    c->rope_theta = 10000.0f; /* unused: learned positions */
    c->rope_style = SP_ROPE_HALF;
    if (c->n_heads <= 0 || c->dim % c->n_heads != 0)
        return sp_error_set(err, SP_ERR_SHAPE, "config.json: n_embd %d is not a multiple of n_head %d", c->dim, c->n_heads);
    c->head_dim = c->dim / c->n_heads;
    c->tied = sp_json_bool(cfgj, "tie_word_embeddings", 1);
    return SP_OK;
}

static sp_status hf_config(sp_config *c, const sp_arch *a, const sp_json *cfgj, sliding_spec *sw, sp_error *err) {
    sw->pattern = 1;
    if (a->id == SP_ARCH_GPT2) return hf_config_gpt2(c, cfgj, err);
    const int gemma = a->id == SP_ARCH_GEMMA3;
    const char *want_act = gemma ? "gelu_pytorch_tanh" : "silu";
    const char *act = sp_json_string(cfgj, gemma ? "hidden_activation" : "hidden_act", sp_json_string(cfgj, "hidden_act", want_act));
    if (strcmp(act, want_act) != 0 && !(gemma && strcmp(act, "gelu_new") == 0))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: hidden_act '%s' is not supported (%s uses %s)", act, a->hf_model_types[0], want_act);
    if ((a->id != SP_ARCH_QWEN2 && sp_json_bool(cfgj, "attention_bias", 0)) || sp_json_bool(cfgj, "mlp_bias", 0))
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: attention or MLP biases are not supported for %s", a->hf_model_types[0]);
    sp_status s;
    if ((s = hf_rope_scaling(c, sp_json_get(cfgj, "rope_scaling"), err))) return s;
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
    c->rope_theta = (float)sp_json_number(cfgj, "rope_theta", gemma ? 1000000.0 : 10000.0);
    c->rope_style = SP_ROPE_HALF;
    if (json_int(cfgj, "head_dim", &v)) {
        c->head_dim = (int32_t)v;
    } else {
        if (c->n_heads <= 0 || c->dim % c->n_heads != 0)
            return sp_error_set(err, SP_ERR_SHAPE, "config.json: hidden_size %d is not a multiple of num_attention_heads %d", c->dim, c->n_heads);
        c->head_dim = c->dim / c->n_heads;
    }
    c->tied = sp_json_bool(cfgj, "tie_word_embeddings", a->hf_tied_default);
    /* sliding window: mistral (every layer), qwen2/qwen3 only with use_sliding_window, gemma3 per layer */
    const sp_json *swj = sp_json_get(cfgj, "sliding_window");
    const int use_sw = a->id == SP_ARCH_QWEN2 || a->id == SP_ARCH_QWEN3 ? sp_json_bool(cfgj, "use_sliding_window", 0) : 1;
    if (swj && swj->type != SP_JSON_NULL && use_sw) {
        if (!json_int(cfgj, "sliding_window", &v) || v < 0) return sp_error_set(err, SP_ERR_FORMAT, "config.json: sliding_window is not a non-negative integer");
        if (a->id == SP_ARCH_QWEN2 || a->id == SP_ARCH_QWEN3)
            return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: use_sliding_window is not supported for %s", a->hf_model_types[0]);
        c->sliding_window = (int32_t)v;
    }
    sw->pattern = 1;
    if (gemma) {
        double d;
        if (!json_num_or(cfgj, "query_pre_attn_scalar", c->head_dim, &d) || !(d > 0.0))
            return sp_error_set(err, SP_ERR_FORMAT, "config.json: query_pre_attn_scalar is not a positive number");
        c->attn_scale = (float)(1.0 / sqrt(d));
        c->embd_scale = sqrtf((float)c->dim);
        if (!json_num_or(cfgj, "rope_local_base_freq", 10000.0, &d)) return sp_error_set(err, SP_ERR_FORMAT, "config.json: rope_local_base_freq is not a number");
        if (c->sliding_window > 0) c->rope_local_theta = (float)d;
        if (!json_num_or(cfgj, "final_logit_softcapping", 0.0, &d)) return sp_error_set(err, SP_ERR_FORMAT, "config.json: final_logit_softcapping is not a number");
        c->logit_softcap = (float)d;
        if (!json_num_or(cfgj, "attn_logit_softcapping", 0.0, &d) || d != 0.0)
            return sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: attn_logit_softcapping is not supported");
        sw->types = sp_json_get(cfgj, "layer_types");
        if (sw->types && sw->types->type == SP_JSON_NULL) sw->types = NULL;
        sw->pattern = json_int(cfgj, "sliding_window_pattern", &v) ? (int32_t)v : 6;
    }
    return SP_OK;
}

sp_model *sp_model_load_hf_buf(const sp_engine *eng, const char *config_json, size_t config_len,
                               uint8_t *const *shards, const size_t *shard_sizes, int32_t n_shards,
                               const char *tokenizer_json, size_t tok_len, sp_error *err) {
    sp_error local; /* err may be NULL: the steps below read the code back */
    if (!err) err = &local;
    if (n_shards < 1 || n_shards > SP_MODEL_MAX_FILES) {
        for (int32_t i = 0; i < n_shards; i++) free(shards[i]);
        sp_error_set(err, SP_ERR_INVALID_ARG, "%d safetensors files (1 to %d)", n_shards, SP_MODEL_MAX_FILES);
        return NULL;
    }
    sp_model *m = model_new(eng, shards[0], err);
    if (!m) {
        for (int32_t i = 1; i < n_shards; i++) free(shards[i]);
        return NULL;
    }
    for (int32_t i = 1; i < n_shards; i++) m->owned[m->n_owned++] = shards[i];
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
    sliding_spec sw = {0};
    if ((s = hf_config(c, a, cfgj, &sw, err))) goto fail;
    if ((s = config_finish(m, a, &sw, err))) goto fail;

    sp_safetensors *st = (sp_safetensors *)sp_arena_alloc(&m->arena, sizeof(sp_safetensors) * (size_t)n_shards);
    if (!st) { s = sp_error_set(err, SP_ERR_NOMEM, "out of memory"); goto fail; }
    for (int32_t i = 0; i < n_shards; i++)
        if ((s = sp_safetensors_parse(&st[i], shards[i], shard_sizes[i], &m->arena, err))) {
            if (n_shards > 1) sp_error_prefix(err, s, "safetensors shard %d of %d", i + 1, n_shards);
            goto fail;
        }
    tsrc src = {.st = st, .n_st = n_shards, .hf = 1, .label = n_shards > 1 ? "model.safetensors shards" : "model.safetensors",
                .hf_alt_prefix = a->hf_alt_prefix};
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

/* ---------------------------------------------------------------------------------------------- */
/* plans (plan.h): the same config code as the loaders, on the headers alone                      */

/* Elements of a 2-D tensor the loader converts to an f32 copy (BF16 widened; GPT-2's Conv1D
 * transposed, HF only), else 0. */
static uint64_t converted_elems(uint32_t type, uint32_t n_dims, uint64_t count, int conv1d) {
    return n_dims == 2 && (type == SP_DTYPE_BF16 || conv1d) ? count : 0;
}

static void plan_finish(sp_plan *p, const sp_arch *a) {
    p->cfg.arch = a->id;
    sp_config_head_dims(&p->cfg);
    p->arch = a->gguf_name;
    p->weight_bytes = p->file_bytes + p->extra_bytes;
    sp_plan_kv(p, &p->cfg);
}

sp_status sp_plan_gguf(sp_plan *p, const uint8_t *head, size_t avail, uint64_t file_size, sp_error *err) {
    memset(p, 0, sizeof(*p));
    sp_arena ar;
    sp_arena_init(&ar, 1 << 16);
    sp_gguf g;
    int short_read = 0;
    sp_status s = sp_gguf_parse_header(&g, head, avail, file_size, &short_read, &ar, err);
    if (s) {
        if (short_read) { /* the header goes on: twice the bytes, at most the file */
            p->header_need = avail < (1u << 20) ? (1u << 20) : 2 * (uint64_t)avail;
            if (p->header_need > file_size) p->header_need = file_size;
            sp_error_clear(err);
            s = SP_OK;
        }
        goto done;
    }
    sp_str arch = {0};
    if (!sp_gguf_get_str(&g, "general.architecture", &arch)) { s = sp_error_set(err, SP_ERR_FORMAT, "gguf: general.architecture is missing"); goto done; }
    const sp_arch *a = sp_arch_by_gguf(arch.ptr, (size_t)arch.len);
    if (!a) {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "gguf: architecture '%.*s' is not supported (supported: %s)", (int)(arch.len > 40 ? 40 : arch.len),
                         arch.ptr, sp_arch_supported_gguf());
        goto done;
    }
    sliding_spec sw = {0};
    if ((s = gguf_config(&p->cfg, a, &g, &sw, err)) || (s = config_check(&p->cfg, err))) goto done;
    p->file_bytes = file_size;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const sp_gguf_tensor *t = &g.tensors[i];
        p->extra_bytes += 4 * converted_elems(t->type, t->n_dims, t->dims[0] * t->dims[1], 0);
    }
    plan_finish(p, a);
done:
    sp_arena_free(&ar);
    return s;
}

sp_status sp_plan_hf(sp_plan *p, const char *config_json, size_t config_len, const uint8_t *const *heads, const size_t *avail,
                     const uint64_t *file_sizes, int32_t n, uint64_t other_bytes, sp_error *err) {
    memset(p, 0, sizeof(*p));
    if (n < 1 || n > SP_MODEL_MAX_FILES) return sp_error_set(err, SP_ERR_INVALID_ARG, "%d safetensors files (1 to %d)", n, SP_MODEL_MAX_FILES);
    sp_arena ar;
    sp_arena_init(&ar, 1 << 16);
    sp_status s = SP_OK;
    sp_error jerr;
    sp_json *cfgj = config_json && config_len ? sp_json_parse(&ar, config_json, config_len, &jerr) : NULL;
    if (!cfgj || cfgj->type != SP_JSON_OBJECT) {
        s = sp_error_set(err, SP_ERR_FORMAT, "config.json: %s", !config_json || !config_len ? "missing" : cfgj ? "not a JSON object" : jerr.msg);
        goto done;
    }
    const char *mt = sp_json_string(cfgj, "model_type", NULL);
    const sp_json *archs = sp_json_get(cfgj, "architectures");
    const char *arch0 = archs && archs->type == SP_JSON_ARRAY && archs->len > 0 && archs->items[0].type == SP_JSON_STRING ? archs->items[0].str : NULL;
    const sp_arch *a = sp_arch_by_hf(mt, arch0);
    if (!a) {
        s = sp_error_set(err, SP_ERR_UNSUPPORTED, "config.json: model_type '%s' / architecture '%s' is not supported (supported: %s)", mt ? mt : "?",
                         arch0 ? arch0 : "?", sp_arch_supported_hf());
        goto done;
    }
    sliding_spec sw = {0};
    if ((s = hf_config(&p->cfg, a, cfgj, &sw, err)) || (s = config_check(&p->cfg, err))) goto done;
    p->file_bytes = other_bytes;
    for (int32_t i = 0; i < n; i++) {
        sp_safetensors st;
        uint64_t need = 0;
        p->file_bytes += file_sizes[i];
        if ((s = sp_safetensors_parse_header(&st, heads[i], avail[i], file_sizes[i], &need, &ar, err))) {
            if (!need) {
                if (n > 1) {
                    char msg[SP_ERROR_MSG_MAX];
                    snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
                    sp_error_set(err, s, "safetensors shard %d of %d: %s", i + 1, n, msg);
                }
                goto done;
            }
            if (need > p->header_need) p->header_need = need;
            sp_error_clear(err);
            s = SP_OK;
            continue;
        }
        for (uint32_t k = 0; k < st.n; k++) {
            const sp_st_tensor *t = &st.tensors[k];
            const int conv1d = a->id == SP_ARCH_GPT2 && (strstr(t->name, ".c_attn.") || strstr(t->name, ".c_proj.") || strstr(t->name, ".c_fc."));
            p->extra_bytes += 4 * converted_elems(t->dtype, t->n_dims, t->n_dims == 2 ? (uint64_t)t->shape[0] * (uint64_t)t->shape[1] : 0, conv1d);
        }
    }
    plan_finish(p, a);
done:
    sp_arena_free(&ar);
    return s;
}
