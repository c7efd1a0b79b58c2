/* plan.c - the plan ABI (softprompt.h): what a model will take in memory, from its headers, and
 * its refusal when weights + K/V cache cannot fit the heap, before the rest is read. */
#include "softprompt.h"
#include "../model/plan.h"
#include "../json_write.h"

#include <math.h>
#include <stdlib.h>

/* A size from JS (a double: files may exceed 4 GB), or -1 when it is not a whole byte count. */
static int64_t size_arg(double v) { return v >= 0 && v <= 9007199254740992.0 && floor(v) == v ? (int64_t)v : -1; }

static char *plan_json(const sp_plan *p, const char *name, sp_error *err) {
    sp_buf b = {0};
    if (p->header_need) {
        sp_buf_printf(&b, "{\"complete\":false,\"header_bytes\":%llu}", (unsigned long long)p->header_need);
    } else {
        const uint64_t room = (uint64_t)sp_heap_room();
        if (sp_plan_check(p, room, name, err)) return NULL;
        sp_buf_printf(&b,
                      "{\"complete\":true,\"arch\":\"%s\",\"file_bytes\":%llu,\"extra_bytes\":%llu,\"weight_bytes\":%llu,\"kv_bytes\":%llu,"
                      "\"kv_positions\":%d,\"context_length\":%d,\"need_bytes\":%llu,\"room_bytes\":%llu}",
                      p->arch, (unsigned long long)p->file_bytes, (unsigned long long)p->extra_bytes, (unsigned long long)p->weight_bytes,
                      (unsigned long long)p->kv_bytes, p->kv_positions, p->cfg.ctx_len, (unsigned long long)(p->weight_bytes + p->kv_bytes),
                      (unsigned long long)room);
    }
    sp_buf_append(&b, "", 1);
    if (b.failed) {
        sp_buf_free(&b);
        sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return b.data;
}

char *sp_model_plan_gguf(const uint8_t *head, size_t avail, double file_size, const char *name, sp_error *err) {
    sp_error_clear(err);
    const int64_t fs = size_arg(file_size);
    if (!head || fs < 0 || (uint64_t)fs < avail) {
        sp_error_set(err, SP_ERR_INVALID_ARG, "plan: %zu header bytes of a %g-byte file", avail, file_size);
        return NULL;
    }
    sp_plan p;
    if (sp_plan_gguf(&p, head, avail, (uint64_t)fs, err)) return NULL;
    return plan_json(&p, name, err);
}

char *sp_model_plan_hf(const char *config_json, size_t config_len, const uint8_t *const *heads, const size_t *avail, const double *file_sizes,
                       int32_t n, double other_bytes, const char *name, sp_error *err) {
    sp_error_clear(err);
    uint64_t sizes[SP_MODEL_MAX_FILES];
    const int64_t other = size_arg(other_bytes);
    if (n < 1 || n > SP_MODEL_MAX_FILES || !heads || !avail || !file_sizes || other < 0) {
        sp_error_set(err, SP_ERR_INVALID_ARG, "plan: %d safetensors files (1 to %d)", n, SP_MODEL_MAX_FILES);
        return NULL;
    }
    for (int32_t i = 0; i < n; i++) {
        const int64_t fs = size_arg(file_sizes[i]);
        if (!heads[i] || fs < 0 || (uint64_t)fs < avail[i]) {
            sp_error_set(err, SP_ERR_INVALID_ARG, "plan: %zu header bytes of a %g-byte safetensors file", avail[i], file_sizes[i]);
            return NULL;
        }
        sizes[i] = (uint64_t)fs;
    }
    sp_plan p;
    if (sp_plan_hf(&p, config_json, config_len, heads, avail, sizes, n, (uint64_t)other, err)) return NULL;
    return plan_json(&p, name, err);
}
