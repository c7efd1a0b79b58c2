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

#define LLAMA_NORMS                                                                                        \
    LAYER_VEC("attn_norm.weight", "input_layernorm.weight", attn_norm, SP_DIM_EMBD),                       \
    LAYER_VEC("ffn_norm.weight", "post_attention_layernorm.weight", ffn_norm, SP_DIM_EMBD)

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
    {"rope_freqs.weight", NULL, M_(rope_freqs), SP_DIM_HALF_HEAD, 0, SP_T_VEC | SP_T_OPTIONAL}, /* llama 3 RoPE scaling */
    LLAMA_NORMS,
    LLAMA_ATTN,
    LLAMA_FFN,
};

/* Qwen 2: llama with biases on q, k and v */
static const sp_tensor_desc qwen2_tensors[] = {
    LLAMA_GLOBALS,
    LLAMA_NORMS,
    LLAMA_ATTN,
    LAYER_VEC("attn_q.bias", "self_attn.q_proj.bias", bq, SP_DIM_Q),
    LAYER_VEC("attn_k.bias", "self_attn.k_proj.bias", bk, SP_DIM_KV),
    LAYER_VEC("attn_v.bias", "self_attn.v_proj.bias", bv, SP_DIM_KV),
    LLAMA_FFN,
};

/* Qwen 3: llama with a per-head RMSNorm of q and k */
static const sp_tensor_desc qwen3_tensors[] = {
    LLAMA_GLOBALS,
    LLAMA_NORMS,
    LLAMA_ATTN,
    LAYER_VEC("attn_q_norm.weight", "self_attn.q_norm.weight", q_norm, SP_DIM_HEAD),
    LAYER_VEC("attn_k_norm.weight", "self_attn.k_norm.weight", k_norm, SP_DIM_HEAD),
    LLAMA_FFN,
};

/* Gemma 3: every norm is x * (1 + w) in HF (GGUF stores w + 1); norms before and after both
 * blocks (HF's post_attention_layernorm is the norm AFTER attention, pre_feedforward_layernorm
 * the one before the MLP). */
#define G_VEC(g, h, member, dim) {"blk.%d." g, "model.layers.%d." h, L_(member), dim, 0, SP_T_LAYER | SP_T_VEC | SP_T_HF_PLUS1}
static const sp_tensor_desc gemma3_tensors[] = {
    {"token_embd.weight", "model.embed_tokens.weight", M_(tok_embd), SP_DIM_VOCAB, SP_DIM_EMBD, SP_T_EMBD},
    {"output.weight", "lm_head.weight", M_(output), SP_DIM_VOCAB, SP_DIM_EMBD, SP_T_OUTPUT},
    {"output_norm.weight", "model.norm.weight", M_(out_norm), SP_DIM_EMBD, 0, SP_T_VEC | SP_T_HF_PLUS1},
    G_VEC("attn_norm.weight", "input_layernorm.weight", attn_norm, SP_DIM_EMBD),
    G_VEC("post_attention_norm.weight", "post_attention_layernorm.weight", post_attn_norm, SP_DIM_EMBD),
    G_VEC("ffn_norm.weight", "pre_feedforward_layernorm.weight", ffn_norm, SP_DIM_EMBD),
    G_VEC("post_ffw_norm.weight", "post_feedforward_layernorm.weight", post_ffn_norm, SP_DIM_EMBD),
    LLAMA_ATTN,
    G_VEC("attn_q_norm.weight", "self_attn.q_norm.weight", q_norm, SP_DIM_HEAD),
    G_VEC("attn_k_norm.weight", "self_attn.k_norm.weight", k_norm, SP_DIM_HEAD),
    LLAMA_FFN,
};

/* GPT-2: LayerNorm with bias, learned positions, q/k/v fused in c_attn, biases everywhere, a GELU
 * MLP without gate; HF stores the Conv1D weights [in, out]. */
#define GPT2_VEC(g, h, member, dim) {"blk.%d." g, "h.%d." h, L_(member), dim, 0, SP_T_LAYER | SP_T_VEC}
#define GPT2_MAT(g, h, member, r, c) {"blk.%d." g, "h.%d." h, L_(member), r, c, SP_T_LAYER | SP_T_HF_CONV1D}
static const sp_tensor_desc gpt2_tensors[] = {
    {"token_embd.weight", "wte.weight", M_(tok_embd), SP_DIM_VOCAB, SP_DIM_EMBD, SP_T_EMBD},
    {"output.weight", "lm_head.weight", M_(output), SP_DIM_VOCAB, SP_DIM_EMBD, SP_T_OUTPUT},
    {"position_embd.weight", "wpe.weight", M_(pos_embd), SP_DIM_CTX, SP_DIM_EMBD, 0},
    {"output_norm.weight", "ln_f.weight", M_(out_norm), SP_DIM_EMBD, 0, SP_T_VEC},
    {"output_norm.bias", "ln_f.bias", M_(out_norm_b), SP_DIM_EMBD, 0, SP_T_VEC},
    GPT2_VEC("attn_norm.weight", "ln_1.weight", attn_norm, SP_DIM_EMBD),
    GPT2_VEC("attn_norm.bias", "ln_1.bias", attn_norm_b, SP_DIM_EMBD),
    {"blk.%d.attn_qkv.weight", "h.%d.attn.c_attn.weight", L_(wq), SP_DIM_QKV, SP_DIM_EMBD, SP_T_LAYER | SP_T_HF_CONV1D | SP_T_FUSED_QKV},
    {"blk.%d.attn_qkv.bias", "h.%d.attn.c_attn.bias", L_(bq), SP_DIM_QKV, 0, SP_T_LAYER | SP_T_VEC | SP_T_FUSED_QKV},
    GPT2_MAT("attn_output.weight", "attn.c_proj.weight", wo, SP_DIM_EMBD, SP_DIM_Q),
    GPT2_VEC("attn_output.bias", "attn.c_proj.bias", bo, SP_DIM_EMBD),
    GPT2_VEC("ffn_norm.weight", "ln_2.weight", ffn_norm, SP_DIM_EMBD),
    GPT2_VEC("ffn_norm.bias", "ln_2.bias", ffn_norm_b, SP_DIM_EMBD),
    GPT2_MAT("ffn_up.weight", "mlp.c_fc.weight", w_up, SP_DIM_FF, SP_DIM_EMBD),
    GPT2_VEC("ffn_up.bias", "mlp.c_fc.bias", b_up, SP_DIM_FF),
    GPT2_MAT("ffn_down.weight", "mlp.c_proj.weight", w_down, SP_DIM_EMBD, SP_DIM_FF),
    GPT2_VEC("ffn_down.bias", "mlp.c_proj.bias", b_down, SP_DIM_EMBD),
};

#define N_(t) (int32_t)(sizeof(t) / sizeof((t)[0]))

static const sp_arch archs[] = {
    {.id = SP_ARCH_LLAMA, .gguf_name = "llama", .hf_model_types = {"llama", "mistral"},
     .hf_classes = {"LlamaForCausalLM", "MistralForCausalLM"}, .tensors = llama_tensors, .n_tensors = N_(llama_tensors),
     .hf_layer_prefix = "model.layers.", .gguf_eps_key = "attention.layer_norm_rms_epsilon",
     .gguf_rope_style = SP_ROPE_ADJACENT, .hf_tied_default = 0, .norm = SP_NORM_RMS, .act = SP_ACT_SILU_GATE},
    {.id = SP_ARCH_QWEN2, .gguf_name = "qwen2", .hf_model_types = {"qwen2"}, .hf_classes = {"Qwen2ForCausalLM"},
     .tensors = qwen2_tensors, .n_tensors = N_(qwen2_tensors), .hf_layer_prefix = "model.layers.",
     .gguf_eps_key = "attention.layer_norm_rms_epsilon", .gguf_rope_style = SP_ROPE_HALF, .hf_tied_default = 0,
     .norm = SP_NORM_RMS, .act = SP_ACT_SILU_GATE},
    {.id = SP_ARCH_QWEN3, .gguf_name = "qwen3", .hf_model_types = {"qwen3"}, .hf_classes = {"Qwen3ForCausalLM"},
     .tensors = qwen3_tensors, .n_tensors = N_(qwen3_tensors), .hf_layer_prefix = "model.layers.",
     .gguf_eps_key = "attention.layer_norm_rms_epsilon", .gguf_rope_style = SP_ROPE_HALF, .hf_tied_default = 0,
     .norm = SP_NORM_RMS, .act = SP_ACT_SILU_GATE},
    {.id = SP_ARCH_GEMMA3, .gguf_name = "gemma3", .hf_model_types = {"gemma3_text"}, .hf_classes = {"Gemma3ForCausalLM"},
     .tensors = gemma3_tensors, .n_tensors = N_(gemma3_tensors), .hf_layer_prefix = "model.layers.",
     .gguf_eps_key = "attention.layer_norm_rms_epsilon", .gguf_rope_style = SP_ROPE_HALF, .hf_tied_default = 1,
     .norm = SP_NORM_RMS, .act = SP_ACT_GELU_GATE},
    {.id = SP_ARCH_GPT2, .gguf_name = "gpt2", .hf_model_types = {"gpt2"}, .hf_classes = {"GPT2LMHeadModel"},
     .tensors = gpt2_tensors, .n_tensors = N_(gpt2_tensors), .hf_layer_prefix = "h.", .hf_alt_prefix = "transformer.",
     .gguf_eps_key = "attention.layer_norm_epsilon", .gguf_rope_style = SP_ROPE_HALF, .hf_tied_default = 1,
     .norm = SP_NORM_LAYER, .act = SP_ACT_GELU, .learned_pos = 1},
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

const char *sp_arch_supported_gguf(void) { return "llama, qwen2, qwen3, gemma3, gpt2"; }
const char *sp_arch_supported_hf(void) {
    return "llama / LlamaForCausalLM, mistral / MistralForCausalLM, qwen2 / Qwen2ForCausalLM, qwen3 / Qwen3ForCausalLM, "
           "gemma3_text / Gemma3ForCausalLM, gpt2 / GPT2LMHeadModel";
}

void sp_config_head_dims(sp_config *c) {
    if (c->head_dim <= 0 && c->n_heads > 0) c->head_dim = c->dim / c->n_heads;
    c->q_dim = c->n_heads * c->head_dim;
    c->kv_dim = c->n_kv_heads * c->head_dim;
}

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
