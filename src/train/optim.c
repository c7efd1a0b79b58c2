/* optim.c - Adam, AdamW and SGD over a flat parameter vector; LR schedules; clipping. */
#include "optim.h"

#include <math.h>
#include <string.h>

void sp_optim_config_default(sp_optim_config *c, int32_t kind) {
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->lr = 1e-3f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->weight_decay = kind == SP_OPTIM_ADAMW ? 0.01f : 0.0f;
    c->momentum = 0.0f;
    c->schedule = SP_SCHED_CONSTANT;
    c->warmup = 0;
    c->total_steps = 0;
    c->clip = 0.0f;
}

sp_status sp_optim_kind_parse(const char *name, int32_t *kind, sp_error *err) {
    static const sp_name names[] = {{"adam", SP_OPTIM_ADAM, 0}, {"adamw", SP_OPTIM_ADAMW, 0}, {"sgd", SP_OPTIM_SGD, 0}, {NULL, 0, 0}};
    return sp_name_parse(names, "optimizer", name, kind, err);
}

sp_status sp_sched_kind_parse(const char *name, int32_t *kind, sp_error *err) {
    static const sp_name names[] = {{"constant", SP_SCHED_CONSTANT, 0}, {"linear", SP_SCHED_LINEAR, 0}, {"cosine", SP_SCHED_COSINE, 0},
                                    {NULL, 0, 0}};
    return sp_name_parse(names, "schedule", name, kind, err);
}

sp_status sp_optim_config_check(const sp_optim_config *c, sp_error *err) {
    if (c->kind != SP_OPTIM_ADAM && c->kind != SP_OPTIM_ADAMW && c->kind != SP_OPTIM_SGD)
        return sp_error_set(err, SP_ERR_INVALID_ARG, "unknown optimizer kind %d", (int)c->kind);
    if (!isfinite(c->lr) || c->lr < 0.0f)
        return sp_error_set(err, SP_ERR_INVALID_ARG, "lr must be a finite number >= 0, got %g", (double)c->lr);
    if (c->kind != SP_OPTIM_SGD) {
        if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f))
            return sp_error_set(err, SP_ERR_INVALID_ARG, "beta1 must be in [0, 1), got %g", (double)c->beta1);
        if (!(c->beta2 >= 0.0f && c->beta2 < 1.0f))
            return sp_error_set(err, SP_ERR_INVALID_ARG, "beta2 must be in [0, 1), got %g", (double)c->beta2);
        if (!(c->eps > 0.0f) || !isfinite(c->eps))
            return sp_error_set(err, SP_ERR_INVALID_ARG, "eps must be > 0, got %g", (double)c->eps);
    }
    if (!(c->weight_decay >= 0.0f) || !isfinite(c->weight_decay))
        return sp_error_set(err, SP_ERR_INVALID_ARG, "weight_decay must be >= 0, got %g", (double)c->weight_decay);
    if (!(c->momentum >= 0.0f && c->momentum < 1.0f))
        return sp_error_set(err, SP_ERR_INVALID_ARG, "momentum must be in [0, 1), got %g", (double)c->momentum);
    if (c->schedule != SP_SCHED_CONSTANT && c->schedule != SP_SCHED_LINEAR && c->schedule != SP_SCHED_COSINE)
        return sp_error_set(err, SP_ERR_INVALID_ARG, "unknown schedule %d", (int)c->schedule);
    if (c->warmup < 0) return sp_error_set(err, SP_ERR_INVALID_ARG, "warmup must be >= 0, got %d", (int)c->warmup);
    if (c->total_steps < 0)
        return sp_error_set(err, SP_ERR_INVALID_ARG, "total steps must be >= 0, got %d", (int)c->total_steps);
    if (isnan(c->clip)) return sp_error_set(err, SP_ERR_INVALID_ARG, "clip must be a number");
    return SP_OK;
}

sp_status sp_optim_init(sp_optim *o, const sp_optim_config *c, int64_t n, sp_arena *a, sp_error *err) {
    memset(o, 0, sizeof(*o));
    sp_status st = sp_optim_config_check(c, err);
    if (st) return st;
    if (n <= 0) return sp_error_set(err, SP_ERR_INVALID_ARG, "optimizer needs at least one parameter");
    size_t bytes;
    if ((uint64_t)n > SIZE_MAX || !sp_mul_size((size_t)n, sizeof(float), &bytes))
        return sp_error_set(err, SP_ERR_TOO_LARGE, "optimizer state for %lld parameters is too large", (long long)n);
    o->cfg = *c;
    o->n = n;
    o->m = (float *)sp_arena_alloc(a, bytes);
    if (!o->m) return sp_error_set(err, SP_ERR_NOMEM, "out of memory for optimizer state (%zu bytes)", bytes);
    if (c->kind != SP_OPTIM_SGD) {
        o->v = (float *)sp_arena_alloc(a, bytes);
        if (!o->v) return sp_error_set(err, SP_ERR_NOMEM, "out of memory for optimizer state (%zu bytes)", bytes);
    }
    o->t = 0;
    return SP_OK;
}

float sp_optim_lr(const sp_optim_config *c, int64_t step) {
    if (step < 0) step = 0;
    int64_t w = c->warmup > 0 ? c->warmup : 0;
    if (step < w) return c->lr * (float)((double)(step + 1) / (double)w);
    if (c->schedule == SP_SCHED_CONSTANT || c->total_steps <= 0) return c->lr;
    int64_t span = (int64_t)c->total_steps - w;
    if (span < 1) span = 1;
    double p = (double)(step - w) / (double)span;
    if (p < 0.0) p = 0.0;
    if (p > 1.0) p = 1.0;
    double f = c->schedule == SP_SCHED_LINEAR ? 1.0 - p : 0.5 * (1.0 + cos(3.14159265358979323846 * p));
    return (float)((double)c->lr * f);
}

float sp_optim_grad_norm(const float *g, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    return (float)sqrt(s);
}

sp_status sp_optim_step(sp_optim *o, float *params, float *grads, sp_optim_stats *stats, sp_error *err) {
    const sp_optim_config *c = &o->cfg;
    const int64_t n = o->n;
    if (!o->m || n <= 0) return sp_error_set(err, SP_ERR_STATE, "optimizer not initialised");
    float norm = sp_optim_grad_norm(grads, n);
    if (!isfinite(norm))
        return sp_error_set(err, SP_ERR_NUMERIC, "gradient is not finite (NaN or Inf) at step %lld", (long long)o->t + 1);
    int32_t clipped = 0;
    if (c->clip > 0.0f && norm > c->clip) {
        float scale = c->clip / (norm + 1e-6f);
        for (int64_t i = 0; i < n; i++) grads[i] *= scale;
        clipped = 1;
    }
    const float lr = sp_optim_lr(c, o->t);
    const float wd = c->weight_decay;
    o->t++;
    if (c->kind == SP_OPTIM_SGD) {
        const float mu = c->momentum;
        for (int64_t i = 0; i < n; i++) {
            float g = grads[i];
            if (wd > 0.0f) g += wd * params[i];
            if (mu > 0.0f) {
                float b = o->t == 1 ? g : mu * o->m[i] + g;
                o->m[i] = b;
                g = b;
            }
            params[i] -= lr * g;
        }
    } else {
        const float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
        const double bc1 = 1.0 - pow((double)b1, (double)o->t);
        const double bc2 = 1.0 - pow((double)b2, (double)o->t);
        const float step_size = (float)((double)lr / bc1);
        const float bc2_sqrt = (float)sqrt(bc2);
        const int decoupled = c->kind == SP_OPTIM_ADAMW;
        for (int64_t i = 0; i < n; i++) {
            float g = grads[i];
            float p = params[i];
            if (decoupled) p *= 1.0f - lr * wd;
            else if (wd > 0.0f) g += wd * p;
            float m = b1 * o->m[i] + (1.0f - b1) * g;
            float v = b2 * o->v[i] + (1.0f - b2) * g * g;
            o->m[i] = m;
            o->v[i] = v;
            p -= step_size * m / (sqrtf(v) / bc2_sqrt + eps);
            params[i] = p;
        }
    }
    if (stats) {
        stats->lr = lr;
        stats->grad_norm = norm;
        stats->clipped = clipped;
    }
    return SP_OK;
}

/* ---- state save/load (explicit little-endian) ---- */
static const char OPT_MAGIC[8] = {'S', 'P', 'O', 'P', 'T', '1', 0, 0};
#define OPT_HDR 32

static void put_u32(uint8_t *p, uint32_t x) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(x >> (8 * i)); }
static void put_u64(uint8_t *p, uint64_t x) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(x >> (8 * i)); }
static uint32_t get_u32(const uint8_t *p) { uint32_t x = 0; for (int i = 0; i < 4; i++) x |= (uint32_t)p[i] << (8 * i); return x; }
static uint64_t get_u64(const uint8_t *p) { uint64_t x = 0; for (int i = 0; i < 8; i++) x |= (uint64_t)p[i] << (8 * i); return x; }
static void put_f32s(uint8_t *p, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) { uint32_t u; memcpy(&u, &x[i], 4); put_u32(p + 4 * i, u); }
}
static void get_f32s(float *x, const uint8_t *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) { uint32_t u = get_u32(p + 4 * i); memcpy(&x[i], &u, 4); }
}

static int n_vectors(int32_t kind) { return kind == SP_OPTIM_SGD ? 1 : 2; }

size_t sp_optim_state_size(const sp_optim *o) {
    return OPT_HDR + (size_t)n_vectors(o->cfg.kind) * (size_t)o->n * 4;
}

sp_status sp_optim_state_save(const sp_optim *o, uint8_t *out, size_t cap, sp_error *err) {
    size_t need = sp_optim_state_size(o);
    if (cap < need) return sp_error_set(err, SP_ERR_INVALID_ARG, "optimizer state needs %zu bytes, buffer has %zu", need, cap);
    memcpy(out, OPT_MAGIC, 8);
    put_u32(out + 8, (uint32_t)o->cfg.kind);
    put_u32(out + 12, 0);
    put_u64(out + 16, (uint64_t)o->n);
    put_u64(out + 24, (uint64_t)o->t);
    put_f32s(out + OPT_HDR, o->m, o->n);
    if (o->v) put_f32s(out + OPT_HDR + (size_t)o->n * 4, o->v, o->n);
    return SP_OK;
}

sp_status sp_optim_state_load(sp_optim *o, const uint8_t *buf, size_t size, sp_error *err) {
    if (size < OPT_HDR || memcmp(buf, OPT_MAGIC, 8) != 0)
        return sp_error_set(err, SP_ERR_FORMAT, "optimizer state: bad magic or truncated header");
    uint32_t kind = get_u32(buf + 8);
    int64_t n = (int64_t)get_u64(buf + 16);
    int64_t t = (int64_t)get_u64(buf + 24);
    if (kind != (uint32_t)o->cfg.kind)
        return sp_error_set(err, SP_ERR_SHAPE, "optimizer state is for kind %u, this optimizer is kind %d", kind, (int)o->cfg.kind);
    if (n != o->n)
        return sp_error_set(err, SP_ERR_SHAPE, "optimizer state has %lld parameters, expected %lld", (long long)n, (long long)o->n);
    if (t < 0) return sp_error_set(err, SP_ERR_FORMAT, "optimizer state: negative step count");
    if (size != sp_optim_state_size(o))
        return sp_error_set(err, SP_ERR_FORMAT, "optimizer state is %zu bytes, expected %zu", size, sp_optim_state_size(o));
    get_f32s(o->m, buf + OPT_HDR, n);
    if (o->v) get_f32s(o->v, buf + OPT_HDR + (size_t)n * 4, n);
    o->t = t;
    return SP_OK;
}
