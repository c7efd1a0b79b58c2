/* optim.h - optimisers over one flat float parameter vector (the soft prompt or prefix).
 *
 *   Adam   bias-corrected (PyTorch torch.optim.Adam). weight_decay, if set, is classic L2:
 *          it is added to the gradient (g += wd * p) before the moments. Default wd = 0.
 *   AdamW  the same moments with decoupled weight decay (torch.optim.AdamW): p *= 1 - lr*wd
 *          before the Adam update. Default wd = 0.01.
 *   SGD    p -= lr * buf, buf = momentum*buf + g (buf = g on the first step; PyTorch, dampening 0).
 *          weight_decay is L2 as for Adam. Default momentum 0.
 *
 * Adam update, exactly as PyTorch computes it (t counts from 1):
 *   m = b1*m + (1-b1)*g ;  v = b2*v + (1-b2)*g^2
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * Learning-rate schedule, for the step with 0-based index s (s = number of steps already taken):
 *   warmup w > 0 and s < w:  factor = (s + 1) / w          (the first step already moves)
 *   then, with p = (s - w) / max(1, total - w), clamped to [0, 1]:
 *     constant: 1       linear: 1 - p       cosine: 0.5 * (1 + cos(pi * p))
 *   so linear and cosine reach 0 at s = total (one past the last step). total <= 0 means
 *   "unknown": linear/cosine then behave like constant.
 *
 * Gradient clipping (off unless clip > 0): global L2 norm over the whole vector; if the norm
 * exceeds clip the gradient is scaled by clip / (norm + 1e-6) (torch.nn.utils.clip_grad_norm_).
 *
 * Deterministic: fixed loop order, the norm accumulates in double. No allocation in step(). */
#ifndef SP_OPTIM_H
#define SP_OPTIM_H

#include "../common.h"

typedef enum { SP_OPTIM_ADAM = 0, SP_OPTIM_ADAMW = 1, SP_OPTIM_SGD = 2 } sp_optim_kind;
typedef enum { SP_SCHED_CONSTANT = 0, SP_SCHED_LINEAR = 1, SP_SCHED_COSINE = 2 } sp_sched_kind;

typedef struct {
    int32_t kind;          /* sp_optim_kind */
    float lr;              /* peak learning rate (default 1e-3) */
    float beta1, beta2;    /* Adam/AdamW (0.9, 0.999) */
    float eps;             /* Adam/AdamW (1e-8) */
    float weight_decay;    /* AdamW 0.01; Adam and SGD 0 (L2 added to the gradient when > 0) */
    float momentum;        /* SGD (0) */
    int32_t schedule;      /* sp_sched_kind (constant) */
    int32_t warmup;        /* linear warmup steps (0) */
    int32_t total_steps;   /* steps of the whole run, for linear/cosine decay (0 = unknown) */
    float clip;            /* max global gradient L2 norm; <= 0 disables (0) */
} sp_optim_config;

typedef struct {
    sp_optim_config cfg;
    int64_t n;             /* number of parameters */
    float *m;              /* (n) Adam first moment, or SGD momentum buffer (unused when momentum 0) */
    float *v;              /* (n) Adam second moment (NULL for SGD) */
    int64_t t;             /* steps taken so far */
} sp_optim;

/* Per-step results, for reports. */
typedef struct {
    float lr;              /* learning rate used by this step */
    float grad_norm;       /* global L2 norm of the gradient before clipping */
    int32_t clipped;       /* 1 if the gradient was scaled down */
} sp_optim_stats;

/* Fill c with the defaults of the given kind (see the field comments). */
void sp_optim_config_default(sp_optim_config *c, int32_t kind);
/* Parse "adam" | "adamw" | "sgd" and "constant" | "linear" | "cosine" (SP_ERR_INVALID_ARG otherwise). */
sp_status sp_optim_kind_parse(const char *name, int32_t *kind, sp_error *err);
sp_status sp_sched_kind_parse(const char *name, int32_t *kind, sp_error *err);
/* Checks the config (lr >= 0 and finite, betas in [0,1), eps > 0, wd >= 0, momentum in [0,1),
 * warmup >= 0, ...); SP_ERR_INVALID_ARG naming the field. */
sp_status sp_optim_config_check(const sp_optim_config *c, sp_error *err);

/* Allocates m (and v) in the arena, zeroed; t = 0. */
sp_status sp_optim_init(sp_optim *o, const sp_optim_config *c, int64_t n, sp_arena *a, sp_error *err);

/* Learning rate of the step with 0-based index step (see the schedule above). */
float sp_optim_lr(const sp_optim_config *c, int64_t step);
/* Global L2 norm of g[0..n), accumulated in double. */
float sp_optim_grad_norm(const float *g, int64_t n);

/* One update of params (n) given grads (n). grads may be scaled in place by clipping (and get
 * the L2 term for Adam/SGD with weight decay). A NaN/Inf gradient norm returns SP_ERR_NUMERIC
 * and changes nothing (t is not advanced). stats may be NULL. */
sp_status sp_optim_step(sp_optim *o, float *params, float *grads, sp_optim_stats *stats, sp_error *err);

/* State for checkpoints: little-endian bytes
 *   "SPOPT1\0\0" | u32 kind | u32 reserved | i64 n | i64 t | f32 m[n] | f32 v[n] (Adam/AdamW only).
 * save writes sp_optim_state_size() bytes into out (cap must be >= that). load checks the magic,
 * kind and n against o (SP_ERR_FORMAT / SP_ERR_SHAPE) and restores m, v, t. */
size_t sp_optim_state_size(const sp_optim *o);
sp_status sp_optim_state_save(const sp_optim *o, uint8_t *out, size_t cap, sp_error *err);
sp_status sp_optim_state_load(sp_optim *o, const uint8_t *buf, size_t size, sp_error *err);

#endif
