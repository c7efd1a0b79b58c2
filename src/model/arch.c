/* arch.c - the architectures the loaders know: per architecture, the list of its tensors with
 * llama.cpp's GGUF names and transformers' names, their shapes, and its fixed traits. The one
 * loader in model.c walks these tables for both formats; adding an architecture means adding a
 * table here and its differences to forward.c / backward.c.
 *
 * Names: llama.cpp src/llama-arch.cpp (LLM_TENSOR_NAMES) and transformers' modeling_<arch>.py. */
#include "model.h"

#include <stddef.h>
#include <string.h>

#define L_(m) offsetof(sp_layer, m)
#define M_(m) offsetof(sp_model, m)

/* The llama block, shared by llama-like architectures (load order = the order below). */
#define LLAMA_GLOBALS                                                                                              \
    {"token_embd.weight", "model.embed_tokens.weight", M_(tok_embd), SP_DIM_VOCAB, SP_DIM_EMBD, SP_T_EMBD},        \
    {"output.weight", "lm_head.weight", M_(output), SP_DIM_VOCAB, SP_DIM_EMBD, SP_T_OUTPUT},                       \
    {"output_norm.weight", "model.norm.weight", M_(out_norm), SP_DIM_EMBD, 0, SP_T_VEC}

#define LAYER_VEC(g, h, member, dim) {"blk.%d." g, "model.layers.%d." h, L_(member), dim, 0, SP_T_LAYER | SP_T_VEC}
#define LAYER_MAT(g, h, member, r, c) {"blk.%d." g, "model.layers.%d." h, L_(member), r, c, SP_T_LAYER}

#define LLAMA_ATTN                                                                                         \
    LAYER_MAT("attn_q.weight", "self_attn.q_proj.weight", wq, SP_DIM_Q, SP_DIM_EMBD),                      \
    LAYER_MAT("attn_k.weight", "self_attn.k_proj.weight", wk, SP_DIM_KV, SP_DIM_EMBD),                     \
    LAYER_MAT("attn_v.weight", "self_attn.v_proj.weight", wv, SP_DIM_KV, SP_DIM_EMBD),                     \
    LAYER_MAT("attn_output.weight", "self_attn.o_proj.weight", wo, SP_DIM_EMBD, SP_DIM_Q)

#define LLAMA_FFN                                                                                          \
    LAYER_MAT("ffn_gate.weight", "mlp.gate_proj.weight", w_gate, SP_DIM_FF, SP_DIM_EMBD),                  \
    LAYER_MAT("ffn_up.weight", "mlp.up_proj.weight", w_up, SP_DIM_FF, SP_DIM_EMBD),                        \
    LAYER_MAT("ffn_down.weight", "mlp.down_proj.weight", w_down, SP_DIM_EMBD, SP_DIM_FF)

static const sp_tensor_desc llama_tensors[] = {
    LLAMA_GLOBALS,
    LAYER_VEC("attn_norm.weight", "input_layernorm.weight", attn_norm, SP_DIM_EMBD),
    LAYER_VEC("ffn_norm.weight", "post_attention_layernorm.weight", ffn_norm, SP_DIM_EMBD),
    LLAMA_ATTN,
    LLAMA_FFN,
};

#define N_(t) (int32_t)(sizeof(t) / sizeof((t)[0]))

static const sp_arch archs[] = {
    {.id = SP_ARCH_LLAMA, .gguf_name = "llama", .hf_model_types = {"llama"},
     .hf_classes = {"LlamaForCausalLM"}, .tensors = llama_tensors, .n_tensors = N_(llama_tensors),
     .hf_layer_prefix = "model.layers.", .gguf_eps_key = "attention.layer_norm_rms_epsilon",
     .gguf_rope_style = SP_ROPE_ADJACENT, .hf_tied_default = 0, .norm = SP_NORM_RMS, .act = SP_ACT_SILU_GATE},
};

const sp_arch *sp_arch_get(sp_arch_id id) {
    for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]); i++)
        if (archs[i].id == id) return &archs[i];
    return NULL;
}

const sp_arch *sp_arch_by_gguf(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]); i++)
        if (strlen(archs[i].gguf_name) == len && memcmp(archs[i].gguf_name, name, len) == 0) return &archs[i];
    return NULL;
}

const sp_arch *sp_arch_by_hf(const char *model_type, const char *class_name) {
    for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]); i++)
        for (int j = 0; j < 3; j++) {
            if (model_type && archs[i].hf_model_types[j] && strcmp(model_type, archs[i].hf_model_types[j]) == 0) return &archs[i];
            if (class_name && archs[i].hf_classes[j] && strcmp(class_name, archs[i].hf_classes[j]) == 0) return &archs[i];
        }
    return NULL;
}

const char *sp_arch_supported_gguf(void) { return "llama"; }
const char *sp_arch_supported_hf(void) { return "llama / LlamaForCausalLM"; }

int64_t sp_arch_dim(const sp_config *c, int32_t sym) {
    switch (sym) {
    case SP_DIM_EMBD: return c->dim;
    case SP_DIM_Q: return c->q_dim;
    case SP_DIM_KV: return c->kv_dim;
    case SP_DIM_FF: return c->hidden_dim;
    case SP_DIM_VOCAB: return c->vocab_size;
    case SP_DIM_HEAD: return c->head_dim;
    case SP_DIM_HALF_HEAD: return c->head_dim / 2;
    case SP_DIM_CTX: return c->ctx_len;
    case SP_DIM_QKV: return (int64_t)c->q_dim + 2 * (int64_t)c->kv_dim;
    default: return 1;
    }
}
