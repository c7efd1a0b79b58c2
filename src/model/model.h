/* model.h - the frozen Llama-family model: config, weights, loaders.
 * Weights are views into the file buffers the model owns (zero copy for GGUF and
 * F32/F16 safetensors); small vectors (norms) are converted to f32 in the arena. */
#ifndef SP_MODEL_H
#define SP_MODEL_H

#include "../common.h"
#include "../tensor.h"
#include "../kernels/kernels.h"
#include "../tokenizer/tokenizer.h"

typedef enum {
    SP_ROPE_ADJACENT = 0, /* rotate pairs (2i, 2i+1): GGUF llama, llama2.c */
    SP_ROPE_HALF = 1,     /* rotate pairs (i, i+head_dim/2): HF rotate_half */
} sp_rope_style;

typedef struct {
    int32_t dim;          /* hidden size */
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;     /* dim / n_heads */
    int32_t q_dim;        /* n_heads * head_dim */
    int32_t kv_dim;       /* n_kv_heads * head_dim */
    int32_t hidden_dim;   /* feed-forward size */
    int32_t vocab_size;
    int32_t ctx_len;      /* maximum positions */
    float norm_eps;       /* RMSNorm epsilon */
    float rope_theta;     /* rope.freq_base */
    int32_t rope_style;   /* sp_rope_style */
    int32_t tied;         /* output matrix is the token embedding */
} sp_config;

typedef struct {
    const float *attn_norm; /* (dim) */
    sp_mat wq;              /* (q_dim, dim) */
    sp_mat wk;              /* (kv_dim, dim) */
    sp_mat wv;              /* (kv_dim, dim) */
    sp_mat wo;              /* (dim, q_dim) */
    const float *ffn_norm;  /* (dim) */
    sp_mat w_gate;          /* (hidden_dim, dim)  "w1" */
    sp_mat w_up;            /* (hidden_dim, dim)  "w3" */
    sp_mat w_down;          /* (dim, hidden_dim)  "w2" */
} sp_layer;

#define SP_MODEL_MAX_FILES 4

typedef struct sp_engine {
    sp_pool *pool;          /* may be a 1-thread pool */
    const sp_kernels *k;    /* chosen once at engine creation */
} sp_engine;

typedef struct sp_model {
    sp_config cfg;
    sp_mat tok_embd;        /* (vocab_size, dim) */
    sp_layer *layers;       /* [n_layers] */
    const float *out_norm;  /* (dim) */
    sp_mat output;          /* (vocab_size, dim); same data as tok_embd when tied */
    sp_tokenizer tok;
    const sp_engine *eng;   /* pool + kernels (not owned) */
    char format[8];         /* "gguf" or "hf" */
    char name[96];          /* general.name or config _name_or_path, may be empty */
    char file_type[16];     /* dominant weight type, e.g. "F32", "Q8_0" */
    uint64_t n_params;
    uint64_t weight_bytes;  /* bytes of weight data in use */
    uint8_t *owned[SP_MODEL_MAX_FILES]; /* file buffers the model frees */
    int32_t n_owned;
    char *info_json;        /* cached sp_model_info_json() */
    int32_t decode_order;   /* decoding products: 0 not measured yet, 1 rows in order, 2 in streams
                             * (the faster on this machine, measured by the first generation) */
    sp_arena arena;         /* everything else */
} sp_model;

/* Loaders take ownership of buf (allocated with malloc): freed by sp_model_free, or at once on failure. */
sp_model *sp_model_load_gguf_buf(const sp_engine *eng, uint8_t *buf, size_t size, sp_error *err);
sp_model *sp_model_load_hf_buf(const sp_engine *eng, const char *config_json, size_t config_len,
                               uint8_t *safetensors, size_t st_size,
                               const char *tokenizer_json, size_t tok_len, sp_error *err);
void sp_model_free_(sp_model *m);
/* A model of the given shape with random weights of `type` (F32, F16, Q8_0, Q4_0) and no
 * tokenizer, for benchmarks (model/random.c). cfg needs dim, n_layers, n_heads, n_kv_heads,
 * hidden_dim, vocab_size, ctx_len, norm_eps, rope_theta, rope_style, tied. */
sp_model *sp_model_random(const sp_engine *eng, const sp_config *cfg, uint32_t type, uint64_t seed, const char *name, sp_error *err);

/* Row r of the token embedding table as f32 (dim values), through the engine's mat_row kernel
 * (model/embedding.c); SP_ERR_INVALID_ARG for r outside [0, vocab). */
sp_status sp_model_embd_row(const sp_model *m, int32_t r, float *out, sp_error *err);
/* Standard deviation of all entries of the token embedding table (0.02 if it cannot be read). */
float sp_model_embd_std(const sp_model *m);

#endif
