/* model.h - the frozen model (llama, qwen2, qwen3, gemma3, gpt2): config, weights, loaders.
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
    SP_ROPE_HALF = 1,     /* rotate pairs (i, i+head_dim/2): HF rotate_half; GGUF qwen2/qwen3/gemma3 */
} sp_rope_style;

/* The architectures the loaders know (model/arch.c holds each one's tensor table and keys). */
typedef enum {
    SP_ARCH_LLAMA = 0, /* llama, mistral (+ sliding window), SmolLM2, TinyLlama */
    SP_ARCH_QWEN2,     /* llama + q/k/v biases */
    SP_ARCH_QWEN3,     /* llama + per-head q/k RMSNorm, explicit head_dim */
    SP_ARCH_GEMMA3,    /* (1+w) RMSNorm before and after both blocks, q/k norms, GeGLU, scaled embeddings */
    SP_ARCH_GPT2,      /* learned positions, LayerNorm with bias, GELU MLP, biases everywhere */
    SP_ARCH_COUNT
} sp_arch_id;

typedef enum {
    SP_NORM_RMS = 0,   /* x / rms(x) * w (Gemma's (1 + w) is folded into w at load) */
    SP_NORM_LAYER = 1, /* (x - mean) / std * w + b */
} sp_norm_kind;

typedef enum {
    SP_ACT_SILU_GATE = 0, /* down(silu(gate(x)) * up(x)) */
    SP_ACT_GELU_GATE = 1, /* down(gelu_tanh(gate(x)) * up(x)) */
    SP_ACT_GELU = 2,      /* down(gelu_tanh(up(x) + b_up)) + b_down: no gate */
} sp_act_kind;

typedef enum {
    SP_ROPE_SCALE_NONE = 0,
    SP_ROPE_SCALE_LINEAR = 1, /* positions / factor */
    SP_ROPE_SCALE_LLAMA3 = 2, /* inverse frequencies rescaled in three wavelength bands */
} sp_rope_scaling;

/* Zero in every field added after rope_style means "as llama": a config written by hand
 * ({.dim = ..}) describes a llama model. */
typedef struct {
    int32_t dim;          /* hidden size */
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;     /* dim / n_heads unless the file says otherwise */
    int32_t q_dim;        /* n_heads * head_dim */
    int32_t kv_dim;       /* n_kv_heads * head_dim */
    int32_t hidden_dim;   /* feed-forward size */
    int32_t vocab_size;
    int32_t ctx_len;      /* maximum positions */
    float norm_eps;       /* RMSNorm / LayerNorm epsilon */
    float rope_theta;     /* rope.freq_base */
    int32_t rope_style;   /* sp_rope_style */
    int32_t tied;         /* output matrix is the token embedding */
    int32_t arch;         /* sp_arch_id */
    int32_t norm;         /* sp_norm_kind */
    int32_t act;          /* sp_act_kind */
    int32_t learned_pos;  /* positions from the pos_embd table (GPT-2), no RoPE */
    int32_t rope_scaling; /* sp_rope_scaling */
    float rope_factor;    /* linear / llama3 factor */
    float rope_low_freq_factor, rope_high_freq_factor; /* llama3 bands */
    int32_t rope_orig_ctx;    /* llama3 original_max_position_embeddings */
    float rope_local_theta;   /* RoPE base of sliding-window layers (Gemma 3); 0: rope_theta */
    int32_t sliding_window;   /* keys visible to a sliding layer: key > query - window; 0: none */
    float embd_scale;     /* token embeddings (not inputs_embeds) times this (Gemma 3: sqrt(dim)); 0: 1 */
    float attn_scale;     /* attention scores scale; 0: 1/sqrt(head_dim) */
    float logit_softcap;  /* logits = cap * tanh(logits / cap); 0: none */
} sp_config;

/* One block. Optional tensors are NULL when the architecture has none. */
typedef struct {
    const float *attn_norm; /* (dim) */
    const float *attn_norm_b; /* (dim) LayerNorm bias */
    sp_mat wq;              /* (q_dim, dim) */
    sp_mat wk;              /* (kv_dim, dim) */
    sp_mat wv;              /* (kv_dim, dim) */
    const float *bq;        /* (q_dim) */
    const float *bk;        /* (kv_dim) */
    const float *bv;        /* (kv_dim) */
    const float *q_norm;    /* (head_dim) per-head RMSNorm of q before RoPE */
    const float *k_norm;    /* (head_dim) */
    sp_mat wo;              /* (dim, q_dim) */
    const float *bo;        /* (dim) */
    const float *post_attn_norm; /* (dim) norm of the attention output before the residual (Gemma 3) */
    const float *ffn_norm;  /* (dim) */
    const float *ffn_norm_b;/* (dim) LayerNorm bias */
    sp_mat w_gate;          /* (hidden_dim, dim)  "w1"; rows 0 without a gate */
    sp_mat w_up;            /* (hidden_dim, dim)  "w3" */
    const float *b_up;      /* (hidden_dim) */
    sp_mat w_down;          /* (dim, hidden_dim)  "w2" */
    const float *b_down;    /* (dim) */
    const float *post_ffn_norm; /* (dim) norm of the feed-forward output before the residual (Gemma 3) */
    int32_t sliding;        /* this layer attends within cfg.sliding_window, with rope_local_theta */
} sp_layer;

#define SP_MODEL_MAX_FILES 64 /* a GGUF file, or the safetensors shards of an HF folder */
#define SP_MODEL_TYPE_IDS 32  /* the sp_dtype values of weight matrices are below this (BF16 = 30) */

typedef struct sp_engine {
    sp_pool *pool;          /* may be a 1-thread pool */
    const sp_kernels *k;    /* chosen once at engine creation */
} sp_engine;

typedef struct sp_model {
    sp_config cfg;
    sp_mat tok_embd;        /* (vocab_size, dim) */
    sp_layer *layers;       /* [n_layers] */
    const float *out_norm;  /* (dim) */
    const float *out_norm_b;/* (dim) LayerNorm bias, or NULL */
    sp_mat pos_embd;        /* (ctx_len, dim) learned positions (GPT-2); rows 0 otherwise */
    const float *rope_freqs;/* (head_dim/2) llama3 frequency divisors from GGUF rope_freqs.weight, or NULL */
    sp_mat output;          /* (vocab_size, dim); same data as tok_embd when tied */
    sp_tokenizer tok;
    const sp_engine *eng;   /* pool + kernels (not owned) */
    char format[8];         /* "gguf" or "hf" */
    char name[96];          /* general.name or config _name_or_path, may be empty */
    char source_repo[128];  /* GGUF: the Hugging Face repo id ("owner/name") it was converted from, or empty */
    char file_type[16];     /* dominant weight type, e.g. "F32", "Q8_0" */
    uint64_t type_bytes[SP_MODEL_TYPE_IDS]; /* bytes of matrix data per sp_dtype (GGUF type id) */
    char weight_types[64];  /* the types its matrices are stored in, by share of their bytes, largest
                             * first: "Q5_0 71%, Q4_K 29%" (one type: "Q4_K"); both by sp_model_count */
    uint64_t n_params;
    uint64_t weight_bytes;  /* bytes of weight data in use */
    uint8_t *owned[SP_MODEL_MAX_FILES]; /* file buffers the model frees */
    int32_t n_owned;
    char *info_json;        /* cached sp_model_info_json() */
    int32_t decode_order;   /* decoding products: 0 not measured yet, 1 rows in order, 2 in streams
                             * (the faster on this machine, measured by the first generation) */
    sp_arena arena;         /* everything else */
} sp_model;

/* The dimensions a tensor's shape is written in (resolved against sp_config). */
enum { SP_DIM_1 = 0, SP_DIM_EMBD, SP_DIM_Q, SP_DIM_KV, SP_DIM_FF, SP_DIM_VOCAB, SP_DIM_HEAD, SP_DIM_CTX, SP_DIM_QKV, SP_DIM_HALF_HEAD };

enum {
    SP_T_LAYER = 1,       /* one per layer: the names hold "%d"; offset into sp_layer (else into sp_model) */
    SP_T_VEC = 2,         /* a vector, converted to f32 (offset of a const float *); else a matrix (sp_mat) */
    SP_T_OPTIONAL = 4,    /* absent in some files: the member stays NULL / empty */
    SP_T_HF_CONV1D = 8,   /* HF stores it [in, out] (GPT-2's Conv1D): transposed at load */
    SP_T_FUSED_QKV = 16,  /* q, k and v stacked: split into wq, wk, wv (or bq, bk, bv), which follow each other */
    SP_T_HF_PLUS1 = 32,   /* HF stores w of x * (1 + w) (Gemma): 1 is added at load; GGUF stores w + 1 */
    SP_T_EMBD = 64,       /* the token embedding (HF tied models may store it as the output only) */
    SP_T_OUTPUT = 128,    /* the LM head: absent (GGUF) or tie_word_embeddings (HF) means tied */
};

/* One tensor of an architecture, as both formats name it. */
typedef struct {
    const char *gguf;     /* llama.cpp's name; NULL: not in GGUF files */
    const char *hf;       /* transformers' name; NULL: not in HF files */
    uint16_t offset;      /* offsetof(sp_layer or sp_model, member) */
    uint8_t rows, cols;   /* SP_DIM_*, torch order (a vector: rows only) */
    uint16_t flags;       /* SP_T_* */
} sp_tensor_desc;

/* An architecture: how the files name it, its tensors in load order, and its fixed traits. */
typedef struct {
    sp_arch_id id;
    const char *gguf_name;        /* general.architecture, and the prefix of its GGUF keys */
    const char *hf_model_types[3];/* config.json model_type values (NULL-terminated) */
    const char *hf_classes[3];    /* config.json architectures[0] values */
    const sp_tensor_desc *tensors;
    int32_t n_tensors;
    const char *hf_layer_prefix;  /* "model.layers.": tensors of layer l start with it and l */
    const char *hf_alt_prefix;    /* HF files may prefix every name with this (GPT-2: "transformer."), or NULL */
    const char *gguf_eps_key;     /* "attention.layer_norm_rms_epsilon" (after the prefix) */
    int32_t gguf_rope_style;      /* llama: adjacent (the converter permuted Q/K); others: half */
    int32_t hf_tied_default;      /* tie_word_embeddings when config.json omits it */
    int32_t norm, act, learned_pos;
} sp_arch;

/* The architecture a GGUF general.architecture / a config.json names, or NULL. */
const sp_arch *sp_arch_by_gguf(const char *name, size_t len);
const sp_arch *sp_arch_by_hf(const char *model_type, const char *class_name);
const sp_arch *sp_arch_get(sp_arch_id id);
/* "llama, mistral, qwen2, ..." : what an unsupported-architecture error lists */
const char *sp_arch_supported_gguf(void);
const char *sp_arch_supported_hf(void);
/* The size of an SP_DIM_* for a config. */
int64_t sp_arch_dim(const sp_config *c, int32_t sym);
/* The dims that follow from the head counts: head_dim (dim / n_heads when not given), q_dim, kv_dim. */
void sp_config_head_dims(sp_config *c);

/* Loaders take ownership of buf (allocated with malloc): freed by sp_model_free, or at once on failure. */
sp_model *sp_model_load_gguf_buf(const sp_engine *eng, uint8_t *buf, size_t size, sp_error *err);
/* HF: the safetensors shards (one file, or every file model.safetensors.index.json names, in any
 * order: each tensor is looked up in all of them and must be in exactly one). */
sp_model *sp_model_load_hf_buf(const sp_engine *eng, const char *config_json, size_t config_len,
                               uint8_t *const *shards, const size_t *shard_sizes, int32_t n_shards,
                               const char *tokenizer_json, size_t tok_len, sp_error *err);
void sp_model_free_(sp_model *m);
/* Sets n_params and weight_bytes from the model's tensors (its architecture's table). */
void sp_model_count(sp_model *m);
/* A model of the given shape with random weights of `type` (F32, F16, Q8_0, Q4_0) and no
 * tokenizer, for benchmarks (model/random.c). cfg needs dim, n_layers, n_heads, n_kv_heads,
 * hidden_dim, vocab_size, ctx_len, norm_eps, rope_theta, rope_style, tied; arch (0: llama),
 * head_dim (0: dim / n_heads) and the architecture's traits (sliding_window, embd_scale, ...). */
sp_model *sp_model_random(const sp_engine *eng, const sp_config *cfg, uint32_t type, uint64_t seed, const char *name, sp_error *err);

/* A model without a tokenizer (random weights) as a GGUF file (model/export.c): the header
 * (malloc'd, into *header) and the data section in pieces pointing into the model, each followed
 * by `pad` zero bytes. *n_pieces: in, the room in pieces (a tensor takes up to 3); out, the count. */
typedef struct { const uint8_t *data; uint64_t bytes, pad; } sp_gguf_piece;
sp_status sp_model_gguf(const sp_model *m, uint8_t **header, size_t *header_size, sp_gguf_piece *pieces, int32_t *n_pieces,
                        sp_error *err);

/* The input embedding of token r as the model feeds it (dim values): sp_embed's row, the table row
 * dequantized, times cfg.embd_scale where set (Gemma 3), as PEFT's word_embeddings(ids) gives it
 * (model/embedding.c); SP_ERR_INVALID_ARG for r outside [0, vocab). */
sp_status sp_model_embd_row(const sp_model *m, int32_t r, float *out, sp_error *err);
/* Standard deviation of all entries of those rows over the vocabulary (0.02 if it cannot be read). */
float sp_model_embd_std(const sp_model *m);

#endif
