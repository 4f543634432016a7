/* optimizer.c - Adam, AdamW and SGD with momentum, and global gradient-norm clipping (see
 * include/attncast/optim.h).
 *
 * Each update follows torch.optim's single-tensor code path operation by operation, in float32,
 * so that a run can be compared against PyTorch closely and repeats bit for bit: scalars that
 * PyTorch computes in Python (bias corrections, step size, 1 - lr * weight_decay) are computed
 * here in double and rounded to float once, and every element is updated independently, so the
 * result does not depend on the thread count.
 *
 * The optimizer borrows its parameters and owns one zeroed block holding every state buffer:
 * for parameter i and slot s the buffer starts at state[i * slots + s]. Buffers are rounded up
 * to whole cache lines so each one starts 64-byte aligned, like the parameters themselves.
 */
#include "attncast/optim.h"

#include <math.h>
#include <stdlib.h>

/* Elements below which a parameter is updated on one thread (spawning costs more). */
#define OPTIM_PARALLEL_MIN 32768
/* Floats per 64-byte cache line: state buffers are padded to a multiple of this. */
#define FLOATS_PER_LINE 16

struct ac_optimizer {
    ac_optim_config cfg;
    int n;              /* parameters */
    int slots;          /* state buffers per parameter */
    ac_tensor **params; /* borrowed, n of them */
    float **state;      /* n * slots pointers into block */
    float *block;       /* every state buffer, zeroed at creation */
    int64_t steps;      /* updates taken so far */
};

ac_optim_config ac_optim_config_default(ac_optimizer_kind kind) {
    return (ac_optim_config){.kind = kind,
                             .beta1 = 0.9f,
                             .beta2 = 0.999f,
                             .eps = 1e-8f,
                             .momentum = kind == AC_OPT_SGD ? 0.9f : 0.0f,
                             .weight_decay = 0.0f};
}

/* True for 0 <= x < 1; false for NaN. */
static bool in_unit_interval(float x) {
    return x >= 0.0f && x < 1.0f;
}

/* Checks the fields the kind uses; fills err and returns false on the first bad one. */
static bool config_valid(const ac_optim_config *cfg, ac_error *err) {
    const char *kind = ac_optimizer_kind_name(cfg->kind);
    if (cfg->kind != AC_OPT_ADAM && cfg->kind != AC_OPT_ADAMW && cfg->kind != AC_OPT_SGD) {
        ac_error_set(err, AC_ERR_INVALID,
                     "optimizer: unknown kind %d (expected adam, adamw or sgd)", (int)cfg->kind);
        return false;
    }
    if (!(cfg->weight_decay >= 0.0f) || isinf(cfg->weight_decay)) {
        ac_error_set(err, AC_ERR_INVALID,
                     "optimizer %s: weight_decay must be a finite number >= 0 (got %g)", kind,
                     (double)cfg->weight_decay);
        return false;
    }
    if (cfg->kind == AC_OPT_SGD) {
        if (!in_unit_interval(cfg->momentum)) {
            ac_error_set(err, AC_ERR_INVALID, "optimizer sgd: momentum must be in [0, 1) (got %g)",
                         (double)cfg->momentum);
            return false;
        }
        return true;
    }
    const float betas[2] = {cfg->beta1, cfg->beta2};
    for (int b = 0; b < 2; b++) {
        if (!in_unit_interval(betas[b])) {
            ac_error_set(err, AC_ERR_INVALID, "optimizer %s: beta%d must be in [0, 1) (got %g)",
                         kind, b + 1, (double)betas[b]);
            return false;
        }
    }
    if (!(cfg->eps > 0.0f) || isinf(cfg->eps)) {
        ac_error_set(err, AC_ERR_INVALID, "optimizer %s: eps must be a finite number > 0 (got %g)",
                     kind, (double)cfg->eps);
        return false;
    }
    return true;
}

static bool params_valid(ac_tensor *const *params, int n, ac_error *err) {
    if (n < 1 || !params) {
        ac_error_set(err, AC_ERR_INVALID, "optimizer: needs at least one parameter (got %d)", n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        const ac_tensor *p = params[i];
        if (!p) {
            ac_error_set(err, AC_ERR_INVALID, "optimizer: parameter %d is NULL", i);
            return false;
        }
        if (!p->data || !p->grad || p->size < 1) {
            if (p->name)
                ac_error_set(err, AC_ERR_INVALID,
                             "optimizer: parameter '%s' has no gradient buffer (was it created "
                             "with requires_grad?)",
                             p->name);
            else
                ac_error_set(err, AC_ERR_INVALID,
                             "optimizer: parameter %d has no gradient buffer (was it created "
                             "with requires_grad?)",
                             i);
            return false;
        }
    }
    return true;
}

static size_t padded_floats(int64_t size) {
    return ((size_t)size + FLOATS_PER_LINE - 1) / FLOATS_PER_LINE * FLOATS_PER_LINE;
}

ac_optimizer *ac_optimizer_new(const ac_optim_config *cfg, ac_tensor *const *params, int n,
                               ac_error *err) {
    if (!cfg) {
        ac_error_set(err, AC_ERR_INVALID, "optimizer: no configuration given");
        return NULL;
    }
    if (!config_valid(cfg, err) || !params_valid(params, n, err)) return NULL;
    ac_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) goto nomem;
    opt->cfg = *cfg;
    opt->n = n;
    opt->slots = cfg->kind == AC_OPT_SGD ? 1 : 2;
    opt->params = malloc((size_t)n * sizeof *opt->params);
    opt->state = malloc((size_t)n * (size_t)opt->slots * sizeof *opt->state);
    if (!opt->params || !opt->state) goto nomem;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        opt->params[i] = params[i];
        total += padded_floats(params[i]->size) * (size_t)opt->slots;
    }
    opt->block = ac_aligned_zeros(total * sizeof(float));
    if (!opt->block) goto nomem;
    float *next = opt->block;
    for (int i = 0; i < n; i++) {
        for (int s = 0; s < opt->slots; s++) {
            opt->state[i * opt->slots + s] = next;
            next += padded_floats(params[i]->size);
        }
    }
    return opt;
nomem:
    ac_optimizer_free(opt);
    ac_error_set(err, AC_ERR_NOMEM, "optimizer: out of memory for the state of %d parameters", n);
    return NULL;
}

void ac_optimizer_free(ac_optimizer *opt) {
    if (!opt) return;
    free(opt->block);
    free(opt->state);
    free(opt->params);
    free(opt);
}

/* Scalars of one Adam step, rounded to float the way PyTorch rounds its Python scalars. */
typedef struct adam_scalars {
    float beta2;
    float one_minus_beta1, one_minus_beta2;
    bool lerp_small;    /* torch's lerp takes its small-weight form: 1 - b1 < 0.5 */
    float beta1_lerp;   /* 1 - (1 - b1) in float, the large-weight form's factor */
    float step_size;    /* lr / (1 - beta1^t) */
    float bias_c2_sqrt; /* sqrt(1 - beta2^t) */
    float eps;
    float weight_decay;     /* L2 term added to g (adam only; 0 for adamw) */
    float decoupled_factor; /* w *= 1 - lr * weight_decay first (adamw only; 1 for adam) */
    bool decoupled;
} adam_scalars;

/* torch.optim.Adam / AdamW, single-tensor path:
 *   w *= 1 - lr wd (adamw);  g = grad + wd w (adam);  m = lerp(m, g, 1 - b1);
 *   v = v b2 + (1 - b2) g g;  w += (-lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps) */
static void adam_update(float *restrict w, const float *restrict grad, float *restrict m,
                        float *restrict v, int64_t size, const adam_scalars *k) {
    const adam_scalars s = *k;
    const float neg_step = -s.step_size;
#pragma omp parallel for schedule(static) if (size > OPTIM_PARALLEL_MIN)
    for (int64_t j = 0; j < size; j++) {
        float wj = w[j];
        if (s.decoupled) wj = wj * s.decoupled_factor;
        float g = grad[j];
        if (s.weight_decay != 0.0f) g = g + s.weight_decay * wj;
        /* m = b1 m + (1 - b1) g, written as torch's lerp(m, g, 1 - b1) computes it */
        if (s.lerp_small)
            m[j] = m[j] + s.one_minus_beta1 * (g - m[j]);
        else
            m[j] = g - (g - m[j]) * s.beta1_lerp;
        v[j] = v[j] * s.beta2 + s.one_minus_beta2 * g * g;
        float denom = sqrtf(v[j]) / s.bias_c2_sqrt + s.eps;
        w[j] = wj + neg_step * m[j] / denom;
    }
}

/* torch.optim.SGD, dampening 0, nesterov off:
 *   g = grad + wd w;  buf = g (first step) or buf momentum + g;  w += -lr buf */
static void sgd_update(float *restrict w, const float *restrict grad, float *restrict buf,
                       int64_t size, float lr, float momentum, float weight_decay, bool first) {
    const float neg_lr = -lr;
#pragma omp parallel for schedule(static) if (size > OPTIM_PARALLEL_MIN)
    for (int64_t j = 0; j < size; j++) {
        float g = grad[j];
        if (weight_decay != 0.0f) g = g + weight_decay * w[j];
        if (momentum != 0.0f) {
            buf[j] = first ? g : buf[j] * momentum + g;
            g = buf[j];
        }
        w[j] = w[j] + neg_lr * g;
    }
}

void ac_optimizer_step(ac_optimizer *opt, float lr) {
    const ac_optim_config *c = &opt->cfg;
    /* SGD's "first step" is step count 0 before the increment, so an optimizer restored with
     * a step count uses its restored momentum buffer. */
    bool first = opt->steps == 0;
    opt->steps++;
    for (int i = 0; i < opt->n; i++) ac_tensor_unpack(opt->params[i]); /* the weights change */
    if (c->kind == AC_OPT_SGD) {
        for (int i = 0; i < opt->n; i++) {
            ac_tensor *p = opt->params[i];
            sgd_update(p->data, p->grad, opt->state[i], p->size, lr, c->momentum, c->weight_decay,
                       first);
        }
        return;
    }
    double t = (double)opt->steps;
    double bias_c1 = 1.0 - pow((double)c->beta1, t);
    double bias_c2 = 1.0 - pow((double)c->beta2, t);
    bool decoupled = c->kind == AC_OPT_ADAMW;
    adam_scalars s = {
        .beta2 = c->beta2,
        .one_minus_beta1 = (float)(1.0 - (double)c->beta1),
        .one_minus_beta2 = (float)(1.0 - (double)c->beta2),
        .lerp_small = (float)(1.0 - (double)c->beta1) < 0.5f,
        .beta1_lerp = 1.0f - (float)(1.0 - (double)c->beta1),
        .step_size = (float)((double)lr / bias_c1),
        .bias_c2_sqrt = (float)sqrt(bias_c2),
        .eps = c->eps,
        .weight_decay = decoupled ? 0.0f : c->weight_decay,
        .decoupled_factor = (float)(1.0 - (double)lr * (double)c->weight_decay),
        .decoupled = decoupled && c->weight_decay != 0.0f,
    };
    for (int i = 0; i < opt->n; i++) {
        ac_tensor *p = opt->params[i];
        adam_update(p->data, p->grad, opt->state[i * 2], opt->state[i * 2 + 1], p->size, &s);
    }
}

int64_t ac_optimizer_step_count(const ac_optimizer *opt) {
    return opt->steps;
}

void ac_optimizer_set_step_count(ac_optimizer *opt, int64_t steps) {
    opt->steps = steps < 0 ? 0 : steps;
}

float *ac_optimizer_state(ac_optimizer *opt, int i, int slot) {
    if (!opt || i < 0 || i >= opt->n || slot < 0 || slot >= opt->slots) return NULL;
    return opt->state[i * opt->slots + slot];
}

int ac_optimizer_state_slots(const ac_optimizer *opt) {
    return opt->slots;
}

/* torch.nn.utils.clip_grad_norm_: total = sqrt(sum g^2) over every gradient in parameter order;
 * when it exceeds max_norm, every gradient is scaled by max_norm / (total + 1e-6). */
double ac_clip_grad_norm(ac_tensor *const *params, int n, double max_norm) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        const ac_tensor *p = params[i];
        if (!p || !p->grad) continue;
        for (int64_t j = 0; j < p->size; j++) sum += (double)p->grad[j] * (double)p->grad[j];
    }
    double total = sqrt(sum);
    if (!(max_norm > 0.0) || !(total > max_norm)) return total;
    float scale = (float)(max_norm / (total + 1e-6));
    for (int i = 0; i < n; i++) {
        ac_tensor *p = params[i];
        if (!p || !p->grad) continue;
        for (int64_t j = 0; j < p->size; j++) p->grad[j] *= scale;
    }
    return total;
}
