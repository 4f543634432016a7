/* forecaster.c - the forecaster of MODEL.md: its parameters (names, shapes, registration order,
 * initialisation) and its forward pass. The attention sub-layer is in attention.c.
 *
 * Forward, for windows x [B, L, C + Kp + Kf] (targets, then past and future covariates) and, when
 * Kf > 0, the future covariates over the horizon F [B, H, Kf]:
 *   independent: targets -> [B C, L, 1], ns = B C series (permute + reshape); mixed: ns = B
 *   anchor a = mu (mean over the L steps) or x[L-1] (anchor = last), per sample and channel
 *   revin:   sigma over the L steps; x <- (x - a) / sigma;  no revin: x <- x - x[L-1] (last)
 *   covariates: each series' steps become [its targets, Kp, Kf] (Cin columns; independent mode
 *   gives each of a window's C series that window's covariates)
 *   tokens = patches(x) [ns, N, P Cin];  E = tokens W_in^T + b_in + pos
 *   Kf > 0: Ef = patches(F) W_f^T + b_f + future_pos [ns, Nf, d]; E <- [E; Ef] (N + Nf tokens)
 *   per block: E += drop(attn(LN1(E)));  E += drop(W2 gelu(W1 LN2(E) + b1) + b2)
 *   yhat = head(flatten(LN_f(E))) -> [ns, H, Cout];  revin: yhat <- yhat sigma + a, else + a
 *   independent: [B C, H, 1] -> [B, H, C]
 * A quantile model's head emits H Cout Q values per series, [ns, H, Cout, Q]; sigma and the
 * anchor ([ns, 1, Cin] viewed as [ns, 1, Cin, 1]) apply to every level alike, and independent
 * mode turns [B C, H, 1, Q] into [B, H, C, Q].
 * The instance-norm statistics and the anchor come from the data, which needs no gradient, so
 * they are constants of the graph, as MODEL.md defines them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/ops.h"
#include "nn/nn_internal.h"

#define REVIN_EPS 1e-5f
#define LN_EPS    1e-5f
/* A block's parameters every kind has: norm1, q, k, v, out, norm2, ff1, ff2, a weight and a bias
 * each. */
#define SHARED_BLOCK_PARAMS 16
#define POS_EMBED_STD       0.02f

struct ac_forecaster {
    ac_model_spec spec;
    int n_params;
    ac_tensor **params;   /* registration order */
    ac_param_init *inits; /* how each parameter starts */
    char *names;          /* n_params names of AC_PARAM_NAME bytes each */
    int n_linear;
    ac_tensor **linear_weights; /* every linear's weight [out, in] (add_linear), for packing */
    ac_tensor *in_w, *in_b, *pos;
    ac_block *blocks;
    ac_tensor *normf_w, *normf_b, *head_w, *head_b;
    ac_tensor *future_w, *future_b, *future_pos; /* Kf > 0 only */
};

#define AC_PARAM_NAME 48

int ac_model_spec_tokens(const ac_model_spec *s) {
    return (s->lookback - s->patch_len) / s->patch_stride + 1;
}
int ac_model_spec_out_width(const ac_model_spec *s) {
    return s->channel_mode == AC_CHANNELS_MIXED ? s->channels : 1;
}
int ac_model_spec_in_width(const ac_model_spec *s) {
    return ac_model_spec_out_width(s) + s->past_covariates + s->future_covariates;
}
int ac_model_spec_columns(const ac_model_spec *s) {
    return s->channels + s->past_covariates + s->future_covariates;
}
int ac_model_spec_future_tokens(const ac_model_spec *s) {
    return s->future_covariates > 0 ? (s->horizon - s->patch_len) / s->patch_stride + 1 : 0;
}
int ac_model_spec_quantiles(const ac_model_spec *s) {
    return s->quantile_count > 0 ? s->quantile_count : 1;
}
int ac_model_spec_median(const ac_model_spec *s) {
    for (int j = 0; j < s->quantile_count; j++)
        if (s->quantiles[j] == 0.5f) return j;
    return 0;
}

/* model.quantiles: at most AC_MAX_QUANTILES levels, strictly increasing in (0, 1), with 0.5. */
static ac_status check_quantiles(const ac_model_spec *s, ac_error *err) {
    if (s->quantile_count < 0 || s->quantile_count > AC_MAX_QUANTILES)
        return ac_error_set(err, AC_ERR_INVALID, "model.quantiles: %d levels (at most %d)",
                            s->quantile_count, AC_MAX_QUANTILES);
    bool median = s->quantile_count == 0;
    for (int j = 0; j < s->quantile_count; j++) {
        float q = s->quantiles[j];
        if (!(q > 0.0f && q < 1.0f))
            return ac_error_set(err, AC_ERR_INVALID, "model.quantiles: %g is outside (0, 1)",
                                (double)q);
        if (j > 0 && !(q > s->quantiles[j - 1]))
            return ac_error_set(err, AC_ERR_INVALID,
                                "model.quantiles: %g after %g, the levels must increase", (double)q,
                                (double)s->quantiles[j - 1]);
        median = median || q == 0.5f;
    }
    if (!median)
        return ac_error_set(err, AC_ERR_INVALID,
                            "model.quantiles: the levels must include 0.5 (the point forecast)");
    return AC_OK;
}

ac_status ac_model_spec_check(const ac_model_spec *s, ac_error *err) {
#define NEED(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) return ac_error_set(err, AC_ERR_INVALID, __VA_ARGS__);                        \
    } while (0)
    NEED((unsigned)s->attention < AC_ATTN_COUNT, "model.attention: %d is not an attention kind",
         (int)s->attention);
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
    NEED(s->past_covariates >= 0 && s->future_covariates >= 0,
         "the covariate counts must be >= 0 (got %d past, %d future)", s->past_covariates,
         s->future_covariates);
    NEED(s->future_covariates == 0 || s->patch_len <= s->horizon,
         "future covariates need data.horizon >= model.patch_len (the horizon is patched like the "
         "lookback): data.horizon = %d, model.patch_len = %d",
         s->horizon, s->patch_len);
    if (check_quantiles(s, err) != AC_OK) return err->code;
    int64_t head_in =
        (int64_t)(ac_model_spec_tokens(s) + ac_model_spec_future_tokens(s)) * s->d_model;
    int64_t head_out =
        (int64_t)s->horizon * ac_model_spec_out_width(s) * ac_model_spec_quantiles(s);
    NEED(head_in * head_out <= ((int64_t)1 << 31),
         "the head would have %lld x %lld weights; lower data.horizon, model.d_model or raise "
         "model.patch_stride",
         (long long)head_out, (long long)head_in);
    return AC_OK;
#undef NEED
}

/* ---- parameters ---- */

/* Registers a parameter and how it starts (initialise() draws the values later, in
 * registration order). */
static ac_tensor *add_param(ac_forecaster *m, const char *name, int ndim, const int *shape,
                            ac_param_init init, ac_error *err) {
    ac_tensor *t = ac_tensor_new(ndim, shape, true, err);
    if (!t) return NULL;
    char *slot = m->names + (size_t)m->n_params * AC_PARAM_NAME;
    size_t len = strlen(name); /* at most "layers.NN.attn.gate_proj.weight" */
    if (len >= AC_PARAM_NAME) len = AC_PARAM_NAME - 1;
    memcpy(slot, name, len);
    slot[len] = '\0';
    t->name = slot;
    m->inits[m->n_params] = init;
    m->params[m->n_params++] = t;
    return t;
}

/* torch.nn.Linear: weight [out, in] and bias [out] uniform in +-1/sqrt(in). */
static ac_status add_linear(ac_forecaster *m, const char *prefix, int out, int in, ac_tensor **w,
                            ac_tensor **b, ac_error *err) {
    char name[2 * AC_PARAM_NAME];
    ac_param_init init = {AC_INIT_UNIFORM, 1.0f / sqrtf((float)in)};
    snprintf(name, sizeof name, "%s.weight", prefix);
    *w = add_param(m, name, 2, (int[]){out, in}, init, err);
    snprintf(name, sizeof name, "%s.bias", prefix);
    *b = *w ? add_param(m, name, 1, (int[]){out}, init, err) : NULL;
    if (*b) m->linear_weights[m->n_linear++] = *w;
    return *b ? AC_OK : err->code;
}

void ac_forecaster_pack_weights(ac_forecaster *m) {
    for (int i = 0; i < m->n_linear; i++) (void)ac_tensor_pack(m->linear_weights[i]);
}

static ac_status add_norm(ac_forecaster *m, const char *prefix, ac_tensor **w, ac_tensor **b,
                          ac_error *err) {
    char name[2 * AC_PARAM_NAME];
    int d = m->spec.d_model;
    snprintf(name, sizeof name, "%s.weight", prefix);
    *w = add_param(m, name, 1, &d, (ac_param_init){AC_INIT_CONST, 1.0f}, err);
    snprintf(name, sizeof name, "%s.bias", prefix);
    *b = *w ? add_param(m, name, 1, &d, (ac_param_init){AC_INIT_CONST, 0.0f}, err) : NULL;
    return *b ? AC_OK : err->code;
}

static void init_uniform(ac_tensor *t, float bound, ac_rng *rng) {
    for (int64_t i = 0; i < t->size; i++) t->data[i] = ac_rng_uniform_range(rng, -bound, bound);
}

static void init_normal(ac_tensor *t, float std, ac_rng *rng) {
    for (int64_t i = 0; i < t->size; i++) t->data[i] = std * ac_rng_normal(rng);
}

/* Block i's parameters: the ones every kind shares, then its kind's gate and score parameter
 * (its row in attention.c). */
static ac_status register_block(ac_forecaster *m, int i, ac_error *err) {
    const ac_model_spec *s = &m->spec;
    const ac_attention_desc *kind = ac_attention_desc_of(s->attention);
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
    if (kind->gate &&
        add_linear(m, PREFIX("attn.gate_proj"), d, d, &blk->gate_w, &blk->gate_b, err))
        return err->code;
    int rank = ac_score_param_rank(kind->score);
    if (rank > 0) {
        snprintf(p, sizeof p, "layers.%d.attn.%s", i, kind->param);
        blk->score_param = add_param(m, p, rank, (int[]){h, d / h}, kind->init, err);
        if (!blk->score_param) return err->code;
    }
    if (add_norm(m, PREFIX("norm2"), &blk->norm2_w, &blk->norm2_b, err) ||
        add_linear(m, PREFIX("ff1"), s->d_ff, d, &blk->ff1_w, &blk->ff1_b, err) ||
        add_linear(m, PREFIX("ff2"), d, s->d_ff, &blk->ff2_w, &blk->ff2_b, err))
        return err->code;
#undef PREFIX
    return AC_OK;
}

/* Draws every parameter's initial values in registration order, element by element, as it was
 * registered to start. With anchor = last the head is then zeroed (its draws are still made, so
 * every other parameter gets the same values under both anchors): the untrained model forecasts
 * the naive repeat. */
static void initialise(ac_forecaster *m, ac_rng *rng) {
    for (int i = 0; i < m->n_params; i++) {
        ac_tensor *t = m->params[i];
        ac_param_init init = m->inits[i];
        switch (init.kind) {
        case AC_INIT_UNIFORM:
            init_uniform(t, init.value, rng);
            break;
        case AC_INIT_NORMAL:
            init_normal(t, init.value, rng);
            break;
        case AC_INIT_CONST:
            ac_tensor_fill(t, init.value);
            break;
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
    free(m->inits);
    free(m->names);
    free(m->linear_weights);
    free(m->blocks);
    free(m);
}

ac_forecaster *ac_forecaster_new(const ac_model_spec *spec, ac_rng *init_rng, ac_error *err) {
    if (ac_model_spec_check(spec, err) != AC_OK) return NULL;
    ac_forecaster *m = calloc(1, sizeof *m);
    /* input_proj (2), pos_embed, norm_f (2), head (2), future_proj (2) and future_pos, and per
     * block the shared parameters, a gate (2) and a score parameter at most */
    int max_params = 10 + spec->layers * (SHARED_BLOCK_PARAMS + 3);
    if (m) {
        m->spec = *spec;
        m->params = calloc((size_t)max_params, sizeof *m->params);
        m->inits = calloc((size_t)max_params, sizeof *m->inits);
        m->names = calloc((size_t)max_params, AC_PARAM_NAME);
        m->linear_weights = calloc((size_t)max_params, sizeof *m->linear_weights);
        m->blocks = calloc((size_t)spec->layers, sizeof *m->blocks);
    }
    if (!m || !m->params || !m->inits || !m->names || !m->linear_weights || !m->blocks) {
        ac_forecaster_free(m);
        ac_error_set(err, AC_ERR_NOMEM, "forecaster: out of memory");
        return NULL;
    }
    int N = ac_model_spec_tokens(spec), Nf = ac_model_spec_future_tokens(spec), d = spec->d_model;
    int in_width = spec->patch_len * ac_model_spec_in_width(spec);
    int out_width = spec->horizon * ac_model_spec_out_width(spec) * ac_model_spec_quantiles(spec);
    bool ok = add_linear(m, "input_proj", d, in_width, &m->in_w, &m->in_b, err) == AC_OK &&
              (m->pos = add_param(m, "pos_embed", 2, (int[]){N, d},
                                  (ac_param_init){AC_INIT_NORMAL, POS_EMBED_STD}, err)) != NULL;
    for (int i = 0; ok && i < spec->layers; i++) ok = register_block(m, i, err) == AC_OK;
    ok = ok && add_norm(m, "norm_f", &m->normf_w, &m->normf_b, err) == AC_OK &&
         add_linear(m, "head", out_width, (N + Nf) * d, &m->head_w, &m->head_b, err) == AC_OK;
    /* registered last, so that a model without future covariates draws what it always drew */
    if (ok && Nf > 0)
        ok = add_linear(m, "future_proj", d, spec->patch_len * spec->future_covariates,
                        &m->future_w, &m->future_b, err) == AC_OK &&
             (m->future_pos = add_param(m, "future_pos", 2, (int[]){Nf, d},
                                        (ac_param_init){AC_INIT_NORMAL, POS_EMBED_STD}, err)) !=
                 NULL;
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
    return ac_forecaster_forward_future(ctx, m, x, NULL, NULL);
}

ac_tensor *ac_forecaster_forward_attention(ac_ctx *ctx, ac_forecaster *m, ac_tensor *x,
                                           ac_tensor **attention) {
    return ac_forecaster_forward_future(ctx, m, x, NULL, attention);
}

/* Windows per round of a no-grad forward over a large batch: about NO_GRAD_CHUNK_SERIES series
 * at a time, so that forecasting thousands of windows holds one round's activations, not all,
 * and so that a round's activations stay in the level-2 cache: 32 series gave batch-256
 * forecasts 30 to 40% more windows/s than 256 on the small bench preset, 5 to 10% on the large. */
#define NO_GRAD_CHUNK_SERIES 32

static int no_grad_chunk(const ac_model_spec *s) {
    int series = s->channel_mode == AC_CHANNELS_INDEPENDENT ? s->channels : 1;
    int chunk = NO_GRAD_CHUNK_SERIES / series;
    return chunk > 0 ? chunk : 1;
}

/* Rows b0 .. b0 + nb - 1 of a contiguous [B, ...] tensor, as a new temporary. */
static ac_tensor *rows_of(ac_ctx *ctx, const ac_tensor *t, int b0, int nb) {
    int shape[AC_MAX_DIMS];
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    shape[0] = nb;
    ac_tensor *r = ac_tensor_temp(ctx, t->ndim, shape);
    if (!r) return NULL;
    size_t row = (size_t)(t->size / t->shape[0]);
    memcpy(r->data, t->data + (size_t)b0 * row, (size_t)r->size * sizeof(float));
    return r;
}

/* A no-grad forward of x [B, L, C'] (and future [B, H, Kf]) in rounds of `chunk` windows, each
 * round's activations released before the next; the result is the same as one pass (every op
 * is per window). */
static ac_tensor *forward_in_chunks(ac_ctx *ctx, ac_forecaster *m, ac_tensor *x, ac_tensor *future,
                                    int chunk) {
    const ac_model_spec *s = &m->spec;
    int B = x->shape[0], C = s->channels, H = s->horizon;
    int Q = ac_model_spec_quantiles(s);
    ac_tensor *y = s->quantile_count ? ac_tensor_temp(ctx, 4, (int[]){B, H, C, Q})
                                     : ac_tensor_temp(ctx, 3, (int[]){B, H, C});
    if (!y) return NULL;
    ac_ctx_mark mark = ac_ctx_get_mark(ctx);
    for (int b0 = 0; b0 < B; b0 += chunk) {
        int nb = B - b0 < chunk ? B - b0 : chunk;
        ac_tensor *xc = rows_of(ctx, x, b0, nb);
        ac_tensor *fc = future ? rows_of(ctx, future, b0, nb) : NULL;
        if (!xc || (future && !fc)) return NULL;
        ac_tensor *yc = ac_forecaster_forward_future(ctx, m, xc, fc, NULL);
        if (!yc) return NULL;
        memcpy(y->data + (size_t)b0 * H * C * Q, yc->data, (size_t)yc->size * sizeof(float));
        ac_ctx_rewind(ctx, mark);
    }
    return y;
}

/* Training memory: the model says only when it is done with activations. A residual sub-layer is
 * done with its norm's and branch's activations, and with the stream it added to, once the sum
 * is made (ac_ctx_done_since); the embedding and the head are done with their inputs. The context
 * recomputes or keeps each for backward by the cost of the op that made it (autograd.h), and
 * later tensors take the buffers. */

/* E = tokens W_in^T + b_in + pos, the tokens the patches of the normalised series. */
static ac_tensor *embed(ac_ctx *ctx, const ac_forecaster *m, ac_tensor *series, ac_tensor *w,
                        ac_tensor *b, ac_tensor *pos) {
    const ac_model_spec *s = &m->spec;
    ac_tensor *tokens = ac_patches(ctx, series, s->patch_len, s->patch_stride);
    ac_tensor *projected = ac_linear(ctx, tokens, w, b);
    ac_tensor *e = ac_add(ctx, projected, pos);
    ac_ctx_done(ctx, projected);
    return e;
}

/* The feed-forward branch: W2 gelu(W1 z + b1) + b2. */
static ac_tensor *feed_forward(ac_ctx *ctx, const ac_model_spec *s, const ac_block *blk,
                               ac_tensor *z, ac_tensor **weights) {
    (void)s, (void)weights;
    ac_tensor *hidden = ac_gelu(ctx, ac_linear(ctx, z, blk->ff1_w, blk->ff1_b));
    return ac_linear(ctx, hidden, blk->ff2_w, blk->ff2_b);
}

typedef ac_tensor *(*branch_fn)(ac_ctx *ctx, const ac_model_spec *s, const ac_block *blk,
                                ac_tensor *z, ac_tensor **weights);

/* A pre-norm residual sub-layer, E <- E + dropout(branch(LayerNorm(E))). Once the sum is made,
 * the norm's and the branch's activations and E are done. */
static ac_tensor *sublayer(ac_ctx *ctx, const ac_model_spec *s, const ac_block *blk, ac_tensor *e,
                           ac_tensor *norm_w, ac_tensor *norm_b, branch_fn branch,
                           ac_tensor **weights) {
    ac_ctx_mark mark = ac_ctx_get_mark(ctx);
    ac_tensor *z = ac_layer_norm(ctx, e, norm_w, norm_b, LN_EPS);
    ac_tensor *out = ac_residual_dropout(ctx, e, branch(ctx, s, blk, z, weights), s->dropout);
    ac_ctx_done_since(ctx, mark, out);
    ac_ctx_done(ctx, e);
    return out;
}

/* yhat = W_out flat(LayerNorm_f(E)) + b_out, as [ns, H, Cout], or [ns, H, Cout, Q] for a quantile
 * model. */
static ac_tensor *head(ac_ctx *ctx, const ac_forecaster *m, ac_tensor *e) {
    const ac_model_spec *s = &m->spec;
    ac_tensor *z = ac_layer_norm(ctx, e, m->normf_w, m->normf_b, LN_EPS);
    ac_ctx_done(ctx, e);
    if (!z) return NULL;
    int ns = z->shape[0], N = z->shape[1], d = z->shape[2];
    ac_tensor *flat = ac_reshape(ctx, z, 2, (int[]){ns, N * d});
    ac_tensor *y = ac_linear(ctx, flat, m->head_w, m->head_b);
    int shape[] = {ns, s->horizon, ac_model_spec_out_width(s), s->quantile_count};
    return ac_reshape(ctx, y, s->quantile_count ? 4 : 3, shape);
}

/* Covariate columns t [B, T, K] as the series see them: unchanged in mixed mode (one series per
 * window) or with one target; in independent mode each of the C series of a window gets its
 * window's copy, [B C, T, K] (series b C + c, as the targets are laid out). */
static ac_tensor *per_series(ac_ctx *ctx, const ac_model_spec *s, ac_tensor *t) {
    int C = s->channels;
    if (!t || s->channel_mode == AC_CHANNELS_MIXED || C == 1) return t;
    int B = t->shape[0], T = t->shape[1], K = t->shape[2];
    ac_tensor *zeros = ac_tensor_temp(ctx, 4, (int[]){1, C, 1, 1});
    if (!zeros) return NULL;
    ac_tensor_fill(zeros, 0.0f); /* x + 0 broadcast over the C copies: exact */
    ac_tensor *copies = ac_add(ctx, ac_reshape(ctx, t, 4, (int[]){B, 1, T, K}), zeros);
    return ac_reshape(ctx, copies, 3, (int[]){B * C, T, K});
}

/* Checks the inputs' shapes: x [B, L, C + Kp + Kf], future [B, H, Kf] exactly when Kf > 0. */
static bool inputs_fit(ac_ctx *ctx, const ac_model_spec *s, const ac_tensor *x,
                       const ac_tensor *future) {
    int L = s->lookback, H = s->horizon, cols = ac_model_spec_columns(s);
    int Kf = s->future_covariates;
    char got[64];
    if (x->ndim != 3 || x->shape[1] != L || x->shape[2] != cols) {
        ac_ctx_fail(ctx, AC_ERR_SHAPE, "forecaster: expected windows [B, %d, %d], got %s", L, cols,
                    ac_shape_str(x, got, sizeof got));
        return false;
    }
    if (Kf > 0 && !future) {
        ac_ctx_fail(ctx, AC_ERR_INVALID,
                    "forecaster: this model has %d future covariate columns; its forecasts need "
                    "their values over the horizon",
                    Kf);
        return false;
    }
    if (Kf == 0 && future) {
        ac_ctx_fail(ctx, AC_ERR_INVALID,
                    "forecaster: future values given to a model without "
                    "future covariates");
        return false;
    }
    if (future && (future->ndim != 3 || future->shape[0] != x->shape[0] || future->shape[1] != H ||
                   future->shape[2] != Kf)) {
        ac_ctx_fail(ctx, AC_ERR_SHAPE,
                    "forecaster: expected future covariates [%d, %d, %d], got %s", x->shape[0], H,
                    Kf, ac_shape_str(future, got, sizeof got));
        return false;
    }
    return true;
}

ac_tensor *ac_forecaster_forward_future(ac_ctx *ctx, ac_forecaster *m, ac_tensor *x,
                                        ac_tensor *future, ac_tensor **attention) {
    if (!x || ac_ctx_failed(ctx)) return NULL;
    const ac_model_spec *s = &m->spec;
    if (!inputs_fit(ctx, s, x, future)) return NULL;
    int B = x->shape[0], L = s->lookback, C = s->channels, H = s->horizon;
    int covariates = s->past_covariates + s->future_covariates;
    if (!attention && !ac_ctx_grad_enabled(ctx) && B > no_grad_chunk(s) &&
        ac_tensor_is_contiguous(x) && (!future || ac_tensor_is_contiguous(future)))
        return forward_in_chunks(ctx, m, x, future, no_grad_chunk(s));
    bool independent = s->channel_mode == AC_CHANNELS_INDEPENDENT;
    ac_tensor *series = covariates ? ac_slice(ctx, x, 2, 0, C) : x; /* the targets [B, L, C] */
    if (independent)                                                /* [B, L, C] -> [B C, L, 1] */
        series =
            ac_reshape(ctx, ac_permute(ctx, series, (int[]){0, 2, 1}), 3, (int[]){B * C, L, 1});

    /* mu and sigma per series over the L steps (revin); the anchor is what each series is
     * centred on and what the forecast is added back to: mu, or with anchor = last the last
     * input step x[L-1]. MODEL.md writes the last-value anchor as z <- z - z[L-1] after the
     * z-score and yhat <- (yhat + z[L-1]) sigma + mu at the end; computed here as
     * (x - x[L-1]) / sigma and yhat sigma + x[L-1], the same in exact arithmetic, and exact in
     * float where it matters: a zero head forecasts x[L-1] bit for bit, the naive repeat. Both
     * act on the targets only. */
    ac_tensor *sigma = NULL, *anchor = NULL;
    if (s->anchor == AC_ANCHOR_LAST)
        anchor = ac_slice(ctx, series, 1, L - 1, 1); /* [ns, 1, Cout] */
    if (s->revin) {
        ac_tensor *eps = ac_tensor_temp(ctx, 1, (int[]){1});
        if (eps) eps->data[0] = REVIN_EPS;
        ac_tensor *mu = ac_mean(ctx, series, 1, true); /* [ns, 1, Cout] */
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
    if (covariates) { /* each step: [targets, Kp past, Kf future covariates] */
        ac_tensor *cov = per_series(ctx, s, ac_slice(ctx, x, 2, C, covariates));
        series = ac_concat(ctx, (ac_tensor *[]){series, cov}, 2, 2);
    }

    ac_tensor *e = embed(ctx, m, series, m->in_w, m->in_b, m->pos);
    if (future) { /* the Nf future tokens, after the N history tokens */
        ac_tensor *ef =
            embed(ctx, m, per_series(ctx, s, future), m->future_w, m->future_b, m->future_pos);
        ac_tensor *joined = ac_concat(ctx, (ac_tensor *[]){e, ef}, 2, 1);
        ac_ctx_done(ctx, e);
        ac_ctx_done(ctx, ef);
        e = joined;
    }
    for (int i = 0; i < s->layers; i++) {
        const ac_block *blk = &m->blocks[i];
        e = sublayer(ctx, s, blk, e, blk->norm1_w, blk->norm1_b, ac_attention_forward,
                     attention ? &attention[i] : NULL);
        e = sublayer(ctx, s, blk, e, blk->norm2_w, blk->norm2_b, feed_forward, NULL);
    }
    ac_tensor *y = head(ctx, m, e);
    int Q = s->quantile_count;
    if (Q) { /* [ns, 1, Cout] -> [ns, 1, Cout, 1]: alike for every level */
        int Cout = ac_model_spec_out_width(s), ns = independent ? B * C : B;
        if (sigma) sigma = ac_reshape(ctx, sigma, 4, (int[]){ns, 1, Cout, 1});
        if (anchor) anchor = ac_reshape(ctx, anchor, 4, (int[]){ns, 1, Cout, 1});
    }
    if (sigma) y = ac_mul(ctx, y, sigma);
    if (anchor) y = ac_add(ctx, y, anchor);
    if (independent && Q) /* [B C, H, 1, Q] -> [B, C, H, Q] -> [B, H, C, Q] */
        y = ac_permute(ctx, ac_reshape(ctx, y, 4, (int[]){B, C, H, Q}), (int[]){0, 2, 1, 3});
    else if (independent) /* [B C, H, 1] -> [B, C, H] -> [B, H, C] */
        y = ac_permute(ctx, ac_reshape(ctx, y, 3, (int[]){B, C, H}), (int[]){0, 2, 1});
    return y;
}

ac_tensor *ac_forecast_loss(ac_ctx *ctx, const ac_model_spec *spec, ac_loss_kind kind,
                            ac_tensor *pred, ac_tensor *target) {
    if (spec->quantile_count > 0 || kind == AC_LOSS_PINBALL) {
        if (spec->quantile_count == 0 || kind != AC_LOSS_PINBALL)
            return ac_ctx_fail(ctx, AC_ERR_INVALID,
                               "train.loss = %s with %d model.quantiles: the pinball loss goes "
                               "with quantiles and only with them",
                               ac_loss_kind_name(kind), spec->quantile_count);
        return ac_pinball_loss(ctx, pred, target, spec->quantiles, spec->quantile_count);
    }
    switch (kind) {
    case AC_LOSS_MAE:
        return ac_mae_loss(ctx, pred, target);
    case AC_LOSS_HUBER:
        return ac_huber_loss(ctx, pred, target, 1.0f); /* MODEL.md: delta 1 */
    case AC_LOSS_MSE:
    case AC_LOSS_PINBALL:
        break;
    }
    return ac_mse_loss(ctx, pred, target);
}

/* ---- a quantile forecast as consumers see it ---- */

static void sort_levels(float *v, int Q) { /* insertion sort: Q <= AC_MAX_QUANTILES */
    for (int i = 1; i < Q; i++) {
        float x = v[i];
        int j = i;
        for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
        v[j] = x;
    }
}

void ac_forecast_sort_quantiles(float *values, int64_t cells, int Q) {
    for (int64_t c = 0; c < cells; c++) sort_levels(values + c * Q, Q);
}

void ac_forecast_point(const ac_model_spec *spec, const float *out, int64_t cells, float *point) {
    int Q = spec->quantile_count;
    if (Q == 0) {
        if (point != out) memcpy(point, out, (size_t)cells * sizeof(float));
        return;
    }
    int median = ac_model_spec_median(spec);
    float v[AC_MAX_QUANTILES];
    for (int64_t c = 0; c < cells; c++) {
        memcpy(v, out + c * Q, (size_t)Q * sizeof(float));
        sort_levels(v, Q);
        point[c] = v[median];
    }
}
