/* plan.c - the memory a model will take, before it is loaded (plan.h): the K/V budget, random
 * models' weights, and the check that refuses what cannot fit. The GGUF and HF plans read the
 * headers with the loaders' own config code (model.c). */
#include "plan.h"

#include <stdio.h>
#include <string.h>

void sp_plan_kv(sp_plan *p, const sp_config *c) {
    p->kv_positions = c->ctx_len < SP_PLAN_CTX_CAP ? c->ctx_len : SP_PLAN_CTX_CAP;
    p->kv_bytes = 2ull * (uint64_t)c->n_layers * (uint64_t)p->kv_positions * (uint64_t)c->kv_dim * sizeof(float);
}

uint32_t sp_plan_random_type(uint32_t type, int64_t cols) {
    if (sp_dtype_row_bytes(type, cols)) return type;
    const uint32_t fb = type == SP_DTYPE_Q4_K ? SP_DTYPE_Q5_0 : type == SP_DTYPE_Q5_K ? SP_DTYPE_Q5_1 : type == SP_DTYPE_Q6_K ? SP_DTYPE_Q8_0 : SP_DTYPE_UNKNOWN;
    if (fb == SP_DTYPE_UNKNOWN) return SP_DTYPE_UNKNOWN;
    return sp_dtype_row_bytes(fb, cols) ? fb : sp_dtype_row_bytes(SP_DTYPE_F16, cols) ? SP_DTYPE_F16 : SP_DTYPE_UNKNOWN;
}

sp_status sp_plan_random(sp_plan *p, const sp_config *cfg, uint32_t type, sp_error *err) {
    memset(p, 0, sizeof(*p));
    const sp_arch *a = sp_arch_get((sp_arch_id)cfg->arch);
    if (!a || cfg->n_heads <= 0 || cfg->n_layers <= 0) return sp_error_set(err, SP_ERR_SHAPE, "random model: bad config");
    p->cfg = *cfg;
    sp_config *c = &p->cfg;
    sp_config_head_dims(c);
    p->arch = a->gguf_name;
    /* the matrices sp_model_random makes: the architecture's tensors that are not vectors */
    for (int32_t i = 0; i < a->n_tensors; i++) {
        const sp_tensor_desc *d = &a->tensors[i];
        if ((d->flags & (SP_T_OPTIONAL | SP_T_VEC)) || !d->hf || ((d->flags & SP_T_OUTPUT) && c->tied)) continue;
        const int64_t cols = sp_arch_dim(c, d->cols);
        const int64_t rows = d->flags & SP_T_FUSED_QKV ? sp_arch_dim(c, SP_DIM_QKV) : sp_arch_dim(c, d->rows);
        const uint32_t t = sp_plan_random_type(type, cols);
        if (t == SP_DTYPE_UNKNOWN)
            return sp_error_set(err, SP_ERR_SHAPE, "random model: %lld columns do not fit type %s", (long long)cols, sp_dtype_name(type));
        p->file_bytes += (uint64_t)rows * sp_dtype_row_bytes(t, cols) * (uint64_t)(d->flags & SP_T_LAYER ? c->n_layers : 1);
    }
    p->weight_bytes = p->file_bytes;
    sp_plan_kv(p, c);
    return SP_OK;
}

sp_status sp_plan_check(const sp_plan *p, uint64_t room, const char *what, sp_error *err) {
    const uint64_t need = p->weight_bytes + p->kv_bytes;
    if (need <= room) return SP_OK;
    char extra[64] = "";
    if (p->extra_bytes) snprintf(extra, sizeof(extra), " (%llu of them converted copies)", (unsigned long long)p->extra_bytes);
    return sp_error_set(err, SP_ERR_TOO_LARGE,
                        "%s needs %llu bytes: %llu bytes of weights%s + %llu bytes of K/V cache (%d positions), but wasm memory has room "
                        "for %llu more (4 GB at most)",
                        what && *what ? what : "the model", (unsigned long long)need, (unsigned long long)p->weight_bytes, extra,
                        (unsigned long long)p->kv_bytes, p->kv_positions, (unsigned long long)room);
}
