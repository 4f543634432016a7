/* forecaster.c - the forecaster of MODEL.md: its parameters (names, shapes, registration order,
 * initialisation) and its forward pass. The attention sub-layer is in attention.c.
 *
 * Forward, for windows x [B, L, C]:
 *   independent: x -> [B C, L, 1] series (permute + reshape); mixed: samples are the windows
 *   anchor a = mu (mean over the L steps) or x[L-1] (anchor = last), per sample and channel
 *   revin:   sigma over the L steps; x <- (x - a) / sigma;  no revin: x <- x - x[L-1] (last)
 *   tokens = patches(x) [S, N, P Cin];  E = tokens W_in^T + b_in + pos
 *   per block: E += drop(attn(LN1(E)));  E += drop(W2 gelu(W1 LN2(E) + b1) + b2)
 *   yhat = head(flatten(LN_f(E))) -> [S, H, Cout];  revin: yhat <- yhat sigma + a, else + a
 *   independent: [B C, H, 1] -> [B, H, C]
 * The instance-norm statistics and the anchor come from the data, which needs no gradient, so
 * they are constants of the graph, as MODEL.md defines them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/ops.h"
#include "nn/nn_internal.h"

#define REVIN_EPS            1e-5f
#define LN_EPS               1e-5f
#define MAX_PARAMS_PER_BLOCK 20

struct ac_forecaster {
    ac_model_spec spec;
    int n_params;
    ac_tensor **params; /* registration order */
    char *names;        /* n_params names of AC_PARAM_NAME bytes each */
    ac_tensor *in_w, *in_b, *pos;
    ac_block *blocks;
    ac_tensor *normf_w, *normf_b, *head_w, *head_b;
};

#define AC_PARAM_NAME 48

int ac_model_spec_tokens(const ac_model_spec *s) {
    return (s->lookback - s->patch_len) / s->patch_stride + 1;
}
int ac_model_spec_in_width(const ac_model_spec *s) {
    return s->channel_mode == AC_CHANNELS_MIXED ? s->channels : 1;
}
int ac_model_spec_out_width(const ac_model_spec *s) {
    return ac_model_spec_in_width(s);
}

ac_status ac_model_spec_check(const ac_model_spec *s, ac_error *err) {
#define NEED(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) return ac_error_set(err, AC_ERR_INVALID, __VA_ARGS__);                        \
    } while (0)
    NEED(s->lookback >= 1 && s->horizon >= 1, "data.lookback and data.horizon must be >= 1");
    NEED(s->channels >= 1, "the data has no channels");
    NEED(s->patch_len >= 1 && s->patch_stride >= 1,
         "model.patch_len and model.patch_stride must be >= 1");
    NEED(s->patch_len <= s->lookback, "model.patch_len = %d is longer than data.lookback = %d",
         s->patch_len, s->lookback);
    NEED(s->d_model >= 1 && s->heads >= 1 && s->d_model % s->heads == 0,
         "model.d_model = %d is not divisible by model.heads = %d", s->d_model, s->heads);
    NEED(s->layers >= 1 && s->d_ff >= 1, "model.layers and model.d_ff must be >= 1");
    NEED(s->dropout >= 0.0f && s->dropout < 1.0f, "model.dropout must be in [0, 1)");
    int64_t head_in = (int64_t)ac_model_spec_tokens(s) * s->d_model;
    int64_t head_out = (int64_t)s->horizon * ac_model_spec_out_width(s);
    NEED(head_in * head_out <= ((int64_t)1 << 31),
         "the head would have %lld x %lld weights; lower data.horizon, model.d_model or raise "
         "model.patch_stride",
         (long long)head_out, (long long)head_in);
    return AC_OK;
#undef NEED
}

/* ---- parameters ---- */

typedef enum { INIT_LINEAR, INIT_NORMAL, INIT_ONES, INIT_ZEROS, INIT_CONST } init_kind;

static ac_tensor *add_param(ac_forecaster *m, const char *name, int ndim, const int *shape,
                            ac_error *err) {
    ac_tensor *t = ac_tensor_new(ndim, shape, true, err);
    if (!t) return NULL;
    char *slot = m->names + (size_t)m->n_params * AC_PARAM_NAME;
    size_t len = strlen(name); /* at most "layers.NN.attn.gate_proj.weight" */
    if (len >= AC_PARAM_NAME) len = AC_PARAM_NAME - 1;
    memcpy(slot, name, len);
    slot[len] = '\0';
    t->name = slot;
    m->params[m->n_params++] = t;
    return t;
}

/* torch.nn.Linear: weight [out, in] and bias [out] uniform in +-1/sqrt(in). */
static ac_status add_linear(ac_forecaster *m, const char *prefix, int out, int in, ac_tensor **w,
                            ac_tensor **b, ac_error *err) {
    char name[2 * AC_PARAM_NAME];
    snprintf(name, sizeof name, "%s.weight", prefix);
    *w = add_param(m, name, 2, (int[]){out, in}, err);
    snprintf(name, sizeof name, "%s.bias", prefix);
    *b = *w ? add_param(m, name, 1, (int[]){out}, err) : NULL;
    return *b ? AC_OK : err->code;
}

static ac_status add_norm(ac_forecaster *m, const char *prefix, ac_tensor **w, ac_tensor **b,
                          ac_error *err) {
    char name[2 * AC_PARAM_NAME];
    int d = m->spec.d_model;
    snprintf(name, sizeof name, "%s.weight", prefix);
    *w = add_param(m, name, 1, &d, err);
    snprintf(name, sizeof name, "%s.bias", prefix);
    *b = *w ? add_param(m, name, 1, &d, err) : NULL;
    if (!*b) return err->code;
    ac_tensor_fill(*w, 1.0f);
    return AC_OK;
}

static void init_uniform(ac_tensor *t, float bound, ac_rng *rng) {
    for (int64_t i = 0; i < t->size; i++) t->data[i] = ac_rng_uniform_range(rng, -bound, bound);
}

static void init_normal(ac_tensor *t, float std, ac_rng *rng) {
    for (int64_t i = 0; i < t->size; i++) t->data[i] = std * ac_rng_normal(rng);
}

static ac_status register_block(ac_forecaster *m, int i, ac_error *err) {
    const ac_model_spec *s = &m->spec;
    ac_block *blk = &m->blocks[i];
    int d = s->d_model, h = s->heads;
    char p[AC_PARAM_NAME];
#define PREFIX(fmt) (snprintf(p, sizeof p, "layers.%d." fmt, i), p)
    if (add_norm(m, PREFIX("norm1"), &blk->norm1_w, &blk->norm1_b, err) ||
        add_linear(m, PREFIX("attn.q_proj"), d, d, &blk->q_w, &blk->q_b, err) ||
        add_linear(m, PREFIX("attn.k_proj"), d, d, &blk->k_w, &blk->k_b, err) ||
        add_linear(m, PREFIX("attn.v_proj"), d, d, &blk->v_w, &blk->v_b, err) ||
        add_linear(m, PREFIX("attn.out_proj"), d, d, &blk->o_w, &blk->o_b, err))
        return err->code;
    if (s->attention == AC_ATTN_GATED &&
        add_linear(m, PREFIX("attn.gate_proj"), d, d, &blk->gate_w, &blk->gate_b, err))
        return err->code;
    if (s->attention == AC_ATTN_ADDITIVE &&
        !(blk->score_vec = add_param(m, PREFIX("attn.score_vec"), 2, (int[]){h, d / h}, err)))
        return err->code;
    if (s->attention == AC_ATTN_COSINE) {
        if (!(blk->log_tau = add_param(m, PREFIX("attn.log_tau"), 1, &h, err))) return err->code;
        ac_tensor_fill(blk->log_tau, logf(10.0f));
    }
    if (add_norm(m, PREFIX("norm2"), &blk->norm2_w, &blk->norm2_b, err) ||
        add_linear(m, PREFIX("ff1"), s->d_ff, d, &blk->ff1_w, &blk->ff1_b, err) ||
        add_linear(m, PREFIX("ff2"), d, s->d_ff, &blk->ff2_w, &blk->ff2_b, err))
        return err->code;
#undef PREFIX
    return AC_OK;
}

/* Draws every parameter's initial values in registration order, element by element. With
 * anchor = last the head is then zeroed (its draws are still made, so every other parameter gets
 * the same values under both anchors): the untrained model forecasts the naive repeat. */
static void initialise(ac_forecaster *m, ac_rng *rng) {
    for (int i = 0; i < m->n_params; i++) {
        ac_tensor *t = m->params[i];
        const char *name = t->name;
        size_t len = strlen(name);
        bool is_norm = strstr(name, "norm") != NULL;
        if (!strcmp(name, "pos_embed") || strstr(name, "score_vec")) {
            init_normal(t, 0.02f, rng);
        } else if (strstr(name, "log_tau") || is_norm) {
            /* set at registration: log(10); LayerNorm weight 1, bias 0 */
        } else if (len > 7 && !strcmp(name + len - 7, ".weight")) {
            init_uniform(t, 1.0f / sqrtf((float)t->shape[1]), rng);
        } else { /* a linear bias: its weight, registered just before, gives fan-in */
            ac_tensor *w = m->params[i - 1];
            init_uniform(t, 1.0f / sqrtf((float)w->shape[1]), rng);
        }
    }
    if (m->spec.anchor == AC_ANCHOR_LAST) {
        ac_tensor_fill(m->head_w, 0.0f);
        ac_tensor_fill(m->head_b, 0.0f);
    }
}

void ac_forecaster_free(ac_forecaster *m) {
    if (!m) return;
    for (int i = 0; i < m->n_params; i++) ac_tensor_free(m->params[i]);
    free(m->params);
    free(m->names);
    free(m->blocks);
    free(m);
}

ac_forecaster *ac_forecaster_new(const ac_model_spec *spec, ac_rng *init_rng, ac_error *err) {
    if (ac_model_spec_check(spec, err) != AC_OK) return NULL;
    ac_forecaster *m = calloc(1, sizeof *m);
    int max_params = 7 + spec->layers * MAX_PARAMS_PER_BLOCK;
    if (m) {
        m->spec = *spec;
        m->params = calloc((size_t)max_params, sizeof *m->params);
        m->names = calloc((size_t)max_params, AC_PARAM_NAME);
        m->blocks = calloc((size_t)spec->layers, sizeof *m->blocks);
    }
    if (!m || !m->params || !m->names || !m->blocks) {
        ac_forecaster_free(m);
        ac_error_set(err, AC_ERR_NOMEM, "forecaster: out of memory");
        return NULL;
    }
    int N = ac_model_spec_tokens(spec), d = spec->d_model;
    int in_width = spec->patch_len * ac_model_spec_in_width(spec);
    int out_width = spec->horizon * ac_model_spec_out_width(spec);
    bool ok = add_linear(m, "input_proj", d, in_width, &m->in_w, &m->in_b, err) == AC_OK &&
              (m->pos = add_param(m, "pos_embed", 2, (int[]){N, d}, err)) != NULL;
    for (int i = 0; ok && i < spec->layers; i++) ok = register_block(m, i, err) == AC_OK;
    ok = ok && add_norm(m, "norm_f", &m->normf_w, &m->normf_b, err) == AC_OK &&
         add_linear(m, "head", out_width, N * d, &m->head_w, &m->head_b, err) == AC_OK;
    if (!ok) {
        ac_forecaster_free(m);
        return NULL;
    }
    initialise(m, init_rng);
    return m;
}

const ac_model_spec *ac_forecaster_spec(const ac_forecaster *m) {
    return &m->spec;
}
int ac_forecaster_param_count(const ac_forecaster *m) {
    return m->n_params;
}
ac_tensor *const *ac_forecaster_params(const ac_forecaster *m) {
    return m->params;
}

ac_tensor *ac_forecaster_param(const ac_forecaster *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i]->name, name)) return m->params[i];
    return NULL;
}

int64_t ac_forecaster_weight_count(const ac_forecaster *m) {
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++) n += m->params[i]->size;
    return n;
}

/* ---- forward ---- */

ac_tensor *ac_forecaster_forward(ac_ctx *ctx, ac_forecaster *m, ac_tensor *x) {
    return ac_forecaster_forward_attention(ctx, m, x, NULL);
}

/* Windows per round of a no-grad forward over a large batch: about NO_GRAD_CHUNK_SERIES series
 * at a time, so that forecasting thousands of windows holds one round's activations, not all. */
#define NO_GRAD_CHUNK_SERIES 256

static int no_grad_chunk(const ac_model_spec *s) {
    int series = s->channel_mode == AC_CHANNELS_INDEPENDENT ? s->channels : 1;
    int chunk = NO_GRAD_CHUNK_SERIES / series;
    return chunk > 0 ? chunk : 1;
}

/* A no-grad forward of x [B, L, C] in rounds of `chunk` windows, each round's activations
 * released before the next; the result is the same as one pass (every op is per window). */
static ac_tensor *forward_in_chunks(ac_ctx *ctx, ac_forecaster *m, ac_tensor *x, int chunk) {
    const ac_model_spec *s = &m->spec;
    int B = x->shape[0], L = s->lookback, C = s->channels, H = s->horizon;
    ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){B, H, C});
    if (!y) return NULL;
    ac_ctx_mark mark = ac_ctx_get_mark(ctx);
    for (int b0 = 0; b0 < B; b0 += chunk) {
        int nb = B - b0 < chunk ? B - b0 : chunk;
        ac_tensor *xc = ac_tensor_temp(ctx, 3, (int[]){nb, L, C});
        if (!xc) return NULL;
        memcpy(xc->data, x->data + (size_t)b0 * L * C, (size_t)xc->size * sizeof(float));
        ac_tensor *yc = ac_forecaster_forward_attention(ctx, m, xc, NULL);
        if (!yc) return NULL;
        memcpy(y->data + (size_t)b0 * H * C, yc->data, (size_t)yc->size * sizeof(float));
        ac_ctx_rewind(ctx, mark);
    }
    return y;
}

ac_tensor *ac_forecaster_forward_attention(ac_ctx *ctx, ac_forecaster *m, ac_tensor *x,
                                           ac_tensor **attention) {
    if (!x || ac_ctx_failed(ctx)) return NULL;
    const ac_model_spec *s = &m->spec;
    int B = x->shape[0], L = s->lookback, C = s->channels, H = s->horizon;
    if (x->ndim != 3 || x->shape[1] != L || x->shape[2] != C) {
        char got[64];
        return ac_ctx_fail(ctx, AC_ERR_SHAPE, "forecaster: expected windows [B, %d, %d], got %s", L,
                           C, ac_shape_str(x, got, sizeof got));
    }
    if (!attention && !ac_ctx_grad_enabled(ctx) && B > no_grad_chunk(s) &&
        ac_tensor_is_contiguous(x))
        return forward_in_chunks(ctx, m, x, no_grad_chunk(s));
    bool independent = s->channel_mode == AC_CHANNELS_INDEPENDENT;
    ac_tensor *series = x;
    if (independent) /* [B, L, C] -> [B C, L, 1] */
        series = ac_reshape(ctx, ac_permute(ctx, x, (int[]){0, 2, 1}), 3, (int[]){B * C, L, 1});

    /* mu and sigma per series over the L steps (revin); the anchor is what each series is
     * centred on and what the forecast is added back to: mu, or with anchor = last the last
     * input step x[L-1]. MODEL.md writes the last-value anchor as z <- z - z[L-1] after the
     * z-score and yhat <- (yhat + z[L-1]) sigma + mu at the end; computed here as
     * (x - x[L-1]) / sigma and yhat sigma + x[L-1], the same in exact arithmetic, and exact in
     * float where it matters: a zero head forecasts x[L-1] bit for bit, the naive repeat. */
    ac_tensor *sigma = NULL, *anchor = NULL;
    if (s->anchor == AC_ANCHOR_LAST) anchor = ac_slice(ctx, series, 1, L - 1, 1); /* [S, 1, Cin] */
    if (s->revin) {
        ac_tensor *eps = ac_tensor_temp(ctx, 1, (int[]){1});
        if (eps) eps->data[0] = REVIN_EPS;
        ac_tensor *mu = ac_mean(ctx, series, 1, true); /* [S, 1, Cin] */
        ac_tensor *centred = ac_sub(ctx, series, mu);
        ac_tensor *var = ac_mean(ctx, ac_mul(ctx, centred, centred), 1, true);
        sigma = ac_sqrt(ctx, ac_add(ctx, var, eps));
        if (anchor)
            centred = ac_sub(ctx, series, anchor);
        else
            anchor = mu;
        series = ac_div(ctx, centred, sigma);
    } else if (anchor) {
        series = ac_sub(ctx, series, anchor);
    }

    ac_tensor *tokens = ac_patches(ctx, series, s->patch_len, s->patch_stride);
    ac_tensor *projected = ac_linear(ctx, tokens, m->in_w, m->in_b);
    ac_tensor *e = ac_add(ctx, projected, m->pos);
    ac_ctx_release(ctx, projected);
    /* Training memory: every activation that backward can recompute cheaply (layer norms,
     * GELU, attention outputs, the embedding) or never reads (what the residual adds consume)
     * is released after its last use in forward; the ones backward reads and does not
     * recompute (the residual stream, the feed-forward's hidden layer) go to the pool after
     * their last use in backward. Later tensors reuse their buffers. */
    for (int i = 0; i < s->layers; i++) {
        const ac_block *blk = &m->blocks[i];
        ac_tensor *z = ac_layer_norm(ctx, e, blk->norm1_w, blk->norm1_b, LN_EPS);
        ac_tensor *attn = ac_attention_forward(ctx, s, blk, z, attention ? &attention[i] : NULL);
        ac_ctx_release(ctx, z);
        ac_tensor *before = e;
        e = ac_residual_dropout(ctx, e, attn, s->dropout);
        ac_ctx_release(ctx, attn);
        /* the embedding: recomputed (a small matmul) for the first layer norm's backward, the
         * last node backward runs */
        if (i == 0)
            ac_ctx_release(ctx, before);
        else
            ac_ctx_release_after_use(ctx, before);
        ac_tensor *z2 = ac_layer_norm(ctx, e, blk->norm2_w, blk->norm2_b, LN_EPS);
        ac_tensor *hidden = ac_linear(ctx, z2, blk->ff1_w, blk->ff1_b);
        ac_ctx_release(ctx, z2);
        ac_tensor *act = ac_gelu(ctx, hidden);
        ac_ctx_release_after_use(ctx, hidden);
        ac_tensor *ff = ac_linear(ctx, act, blk->ff2_w, blk->ff2_b);
        ac_ctx_release(ctx, act);
        before = e;
        e = ac_residual_dropout(ctx, e, ff, s->dropout);
        ac_ctx_release(ctx, ff);
        ac_ctx_release_after_use(ctx, before);
    }
    ac_tensor *last = e;
    e = ac_layer_norm(ctx, e, m->normf_w, m->normf_b, LN_EPS);
    ac_ctx_release_after_use(ctx, last);
    if (!e) return NULL;
    int S = e->shape[0], N = e->shape[1], d = e->shape[2];
    ac_tensor *flat = ac_reshape(ctx, e, 2, (int[]){S, N * d});
    int Cout = ac_model_spec_out_width(s);
    ac_tensor *y =
        ac_reshape(ctx, ac_linear(ctx, flat, m->head_w, m->head_b), 3, (int[]){S, H, Cout});
    if (sigma) y = ac_mul(ctx, y, sigma);
    if (anchor) y = ac_add(ctx, y, anchor);
    if (independent) /* [B C, H, 1] -> [B, C, H] -> [B, H, C] */
        y = ac_permute(ctx, ac_reshape(ctx, y, 3, (int[]){B, C, H}), (int[]){0, 2, 1});
    return y;
}

ac_tensor *ac_forecast_loss(ac_ctx *ctx, ac_loss_kind kind, ac_tensor *pred, ac_tensor *target) {
    switch (kind) {
    case AC_LOSS_MAE:
        return ac_mae_loss(ctx, pred, target);
    case AC_LOSS_HUBER:
        return ac_huber_loss(ctx, pred, target, 1.0f); /* MODEL.md: delta 1 */
    case AC_LOSS_MSE:
        break;
    }
    return ac_mse_loss(ctx, pred, target);
}
