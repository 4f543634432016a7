/* trainer.c - the training loop and evaluation (see include/attncast/trainer.h). */
#include "attncast/trainer.h"

#include "core/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/optim.h"
#include "train/batch_slices.h"
#include "train/train_internal.h"
#include "core/thread_tuner.h"
#include "attncast/threads.h"
#include "data_parallel.h"

/* Arena for one step: grows on the first step and is reused after that. */
#define STEP_ARENA_BYTES ((size_t)64 << 20)

struct ac_trainer {
    ac_train_options options;
    const ac_series *series; /* [series_count], borrowed */
    int series_count;
    int *window_offsets; /* [series_count + 1]: training windows before each series */
    ac_forecaster *model;
    ac_optimizer *opt;
    ac_lr_schedule schedule;
    ac_rng shuffle_rng, dropout_rng;
    ac_ctx *ctx;
    ac_train_observer observer;
    int epoch;      /* epochs completed */
    int64_t step;   /* optimizer steps taken */
    int best_epoch; /* 0: none yet */
    double best_val;
    int bad_epochs; /* epochs since the best */
    bool stopped_early;
    double seconds;
    int train_windows;   /* over every series */
    int batches;         /* per epoch */
    uint32_t *order;     /* training window order of the current epoch */
    float *best_weights; /* every parameter, concatenated */
    ac_epoch_record *history;
    ac_thread_tuner threads;     /* 1 thread or the configured count, whichever is faster now */
    int (*stop_requested)(void); /* NULL: never stop mid-epoch */
    struct epoch_start {         /* where the epoch in progress began, to rewind to */
        float *state;            /* weights, then every optimizer slot of every parameter */
        int64_t step, optimizer_steps;
        ac_rng shuffle_rng, dropout_rng;
    } start;
    ac_batch_slices *slices; /* one slice of each batch per thread (NULL: one thread) */
    ac_parallel *group;      /* data-parallel ranks (NULL: this process alone) */
    float *fused;            /* the gradients and the loss, packed for one allreduce per step */
    bool synced;             /* rank 0's parameters have reached every rank */
};

void ac_trainer_free(ac_trainer *t) {
    if (!t) return;
    ac_optimizer_free(t->opt);
    ac_batch_slices_free(t->slices);
    ac_ctx_free(t->ctx);
    free(t->order);
    free(t->window_offsets);
    free(t->best_weights);
    free(t->history);
    free(t->start.state);
    free(t->fused);
    free(t);
}

/* What a config's key table already guarantees, checked again for options an embedder filled
 * in: nothing below may divide by zero, allocate nothing or index past an enum's table. */
static ac_status check_options(const ac_train_options *o, const ac_model_spec *spec,
                               ac_error *err) {
    const char *bad = NULL;
    if (o->epochs < 1)
        bad = "epochs must be at least 1";
    else if (o->batch_size < 1)
        bad = "batch_size must be at least 1";
    else if (!(o->lr > 0) || !isfinite(o->lr))
        bad = "lr must be a finite number > 0";
    else if ((unsigned)o->optimizer > AC_OPT_SGD)
        bad = "unknown optimizer";
    else if ((unsigned)o->schedule > AC_SCHED_STEP)
        bad = "unknown schedule";
    else if ((unsigned)o->loss > AC_LOSS_PINBALL)
        bad = "unknown loss";
    else if (spec && (o->loss == AC_LOSS_PINBALL) != (spec->quantile_count > 0))
        bad = spec->quantile_count > 0 ? "a quantile model trains with the pinball loss only"
                                       : "the pinball loss needs a quantile model";
    else if (o->warmup < 0 || o->patience < 0)
        bad = "warmup and patience must be >= 0";
    else if (o->decay_every < 1)
        bad = "decay_every must be at least 1";
    if (bad) return ac_error_set(err, AC_ERR_INVALID, "trainer: options: %s", bad);
    return AC_OK;
}

/* A trainer on the pooled windows of count series. */
static ac_trainer *trainer_new(const ac_train_options *options, const ac_series *series, int count,
                               ac_forecaster *model, ac_error *err) {
    if (check_options(options, model ? ac_forecaster_spec(model) : NULL, err) != AC_OK) return NULL;
    int64_t windows = 0;
    for (int i = 0; i < count; i++) windows += ac_series_windows(&series[i], AC_SPLIT_TRAIN).count;
    if (windows > INT32_MAX) {
        ac_error_set(err, AC_ERR_INVALID, "trainer: %lld training windows (at most %d)",
                     (long long)windows, INT32_MAX);
        return NULL;
    }
    ac_trainer *t = calloc(1, sizeof *t);
    if (t) t->window_offsets = malloc((size_t)(count + 1) * sizeof *t->window_offsets);
    if (!t || !t->window_offsets) {
        free(t);
        ac_error_set(err, AC_ERR_NOMEM, "trainer: out of memory");
        return NULL;
    }
    t->options = *options;
    const ac_train_options *o = &t->options;
    t->series = series;
    t->series_count = count;
    t->window_offsets[0] = 0;
    for (int i = 0; i < count; i++)
        t->window_offsets[i + 1] =
            t->window_offsets[i] + ac_series_windows(&series[i], AC_SPLIT_TRAIN).count;
    t->model = model;
    t->best_val = INFINITY;
    t->train_windows = (int)windows;
    int bs = o->batch_size;
    t->batches = (t->train_windows + bs - 1) / bs;
    ac_optim_config oc = ac_optim_config_default(o->optimizer);
    oc.weight_decay = (float)o->weight_decay;
    if (o->optimizer == AC_OPT_SGD) oc.momentum = (float)o->momentum;
    t->schedule = (ac_lr_schedule){.kind = o->schedule,
                                   .lr = o->lr,
                                   .warmup_steps = (int64_t)o->warmup * t->batches,
                                   .total_steps = (int64_t)o->epochs * t->batches,
                                   .steps_per_epoch = t->batches,
                                   .decay_every = o->decay_every,
                                   .decay_gamma = o->decay_gamma};
    ac_rng_seed(&t->shuffle_rng, o->seed, AC_RNG_STREAM_SHUFFLE);
    ac_rng_seed(&t->dropout_rng, o->seed, AC_RNG_STREAM_DROPOUT);
    int64_t weights = ac_forecaster_weight_count(model);
    t->order = malloc((size_t)(t->train_windows > 0 ? t->train_windows : 1) * sizeof *t->order);
    t->best_weights = calloc((size_t)weights, sizeof(float)); /* saved before any best */
    t->history = calloc((size_t)o->epochs, sizeof *t->history);
    t->ctx = ac_ctx_new(STEP_ARENA_BYTES, 0);
    if (!t->order || !t->best_weights || !t->history || !t->ctx) {
        ac_trainer_free(t);
        ac_error_set(err, AC_ERR_NOMEM, "trainer: out of memory");
        return NULL;
    }
    ac_ctx_set_rng(t->ctx, &t->dropout_rng);
    /* the thread count now fixes the slices for the whole run (see batch_slices.h); a slice
     * needs at least a window */
    int slices = ac_threads_get() < bs ? ac_threads_get() : bs;
    if (slices > 1) {
        t->slices = ac_batch_slices_new(model, slices, err);
        if (!t->slices) {
            ac_trainer_free(t);
            return NULL;
        }
    }
    t->opt =
        ac_optimizer_new(&oc, ac_forecaster_params(model), ac_forecaster_param_count(model), err);
    if (!t->opt) {
        ac_trainer_free(t);
        return NULL;
    }
    return t;
}

ac_trainer *ac_trainer_new(const ac_train_options *options, const ac_series *series,
                           ac_forecaster *model, ac_error *err) {
    return trainer_new(options, series, 1, model, err);
}

ac_trainer *ac_trainer_new_panel(const ac_train_options *options, const ac_panel *panel,
                                 ac_forecaster *model, ac_error *err) {
    return trainer_new(options, panel->series, panel->count, model, err);
}

ac_status ac_trainer_set_parallel(ac_trainer *t, ac_parallel *group, ac_error *err) {
    t->group = group;
    if (ac_parallel_size(group) == 1) return AC_OK;
    free(t->fused);
    t->fused = malloc(((size_t)ac_forecaster_weight_count(t->model) + 1) * sizeof(float));
    if (!t->fused) return ac_error_set(err, AC_ERR_NOMEM, "trainer: out of memory");
    return AC_OK;
}

void ac_trainer_set_observer(ac_trainer *t, const ac_train_observer *o) {
    t->observer = *o;
}

static void copy_weights(ac_forecaster *m, float *buf, bool save) {
    ac_tensor *const *ps = ac_forecaster_params(m);
    for (int i = 0; i < ac_forecaster_param_count(m); i++) {
        size_t n = (size_t)ps[i]->size * sizeof(float);
        if (save)
            memcpy(buf, ps[i]->data, n);
        else
            memcpy(ps[i]->data, buf, n);
        buf += ps[i]->size;
    }
}

void ac_trainer_restore_best(ac_trainer *t) {
    if (isfinite(t->best_val)) copy_weights(t->model, t->best_weights, false);
}

/* The windows of a batch for the slice threads: order[first..first + count) of the series. */
typedef struct batch_windows {
    const ac_trainer *t;
    const uint32_t *order;
} batch_windows;

#define FILL_CHUNK 64 /* window starts gathered per call */

/* The series of training window w (0 <= w < train_windows) and its origin t in that series. */
static const ac_series *train_window(const ac_trainer *t, int w, int *origin) {
    int lo = 0, hi = t->series_count - 1; /* the last series whose windows start at or before w */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (t->window_offsets[mid] <= w)
            lo = mid;
        else
            hi = mid - 1;
    }
    const ac_series *s = &t->series[lo];
    *origin = ac_series_windows(s, AC_SPLIT_TRAIN).first + (w - t->window_offsets[lo]);
    return s;
}

/* Gathers windows order[first .. first + count) into x, y and future, in runs of windows of one
 * series. */
static void fill_slice(void *user, int first, int count, float *x, float *y, float *future) {
    const batch_windows *w = user;
    int ts[FILL_CHUNK];
    int done = 0;
    while (done < count) {
        const ac_series *s = train_window(w->t, (int)w->order[first + done], &ts[0]);
        int k = 1;
        for (; k < FILL_CHUNK && done + k < count; k++)
            if (train_window(w->t, (int)w->order[first + done + k], &ts[k]) != s) break;
        ac_series_gather(s, ts, k, x + (size_t)done * s->lookback * s->columns,
                         y + (size_t)done * s->horizon * s->channels);
        if (future)
            ac_series_gather_future(s, ts, k, future + (size_t)done * s->horizon * s->future);
        done += k;
    }
}

/* Forward and backward on the windows order[0..n), windows [first, first + n) of a global batch
 * of `total`: the parameters' gradients accumulate and the loss goes to *value. Fails only on
 * engine errors (arena, shapes). */
static ac_status batch_gradients(ac_trainer *t, const uint32_t *order, int n, int first, int total,
                                 float *value, ac_error *err) {
    const ac_series *s = &t->series[0]; /* every series has the same shapes */
    ac_ctx *ctx = t->ctx;
    if (t->slices) {
        batch_windows w = {.t = t, .order = order};
        return ac_batch_slices_step(t->slices, t->model, t->options.loss, first, n, total,
                                    fill_slice, &w, &t->dropout_rng, value, err);
    }
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){n, s->lookback, s->columns});
    ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){n, s->horizon, s->channels});
    ac_tensor *f = s->future ? ac_tensor_temp(ctx, 3, (int[]){n, s->horizon, s->future}) : NULL;
    if (x && y && (f || !s->future))
        fill_slice(&(batch_windows){.t = t, .order = order}, 0, n, x->data, y->data,
                   f ? f->data : NULL);
    ac_tensor *pred = ac_forecaster_forward_future(ctx, t->model, x, f, NULL);
    ac_tensor *loss = ac_forecast_loss(ctx, ac_forecaster_spec(t->model), t->options.loss, pred, y);
    if (!loss || ac_backward(ctx, loss) != AC_OK) {
        ac_error_set(err, ac_ctx_failed(ctx) ? ac_ctx_status(ctx) : AC_ERR_NOMEM,
                     "training step failed: %s",
                     ac_ctx_failed(ctx) ? ac_ctx_error(ctx) : "out of memory");
        ac_ctx_reset(ctx);
        return err->code;
    }
    *value = loss->data[0];
    return AC_OK;
}

/* One optimizer step on the windows order[0..n). The batch loss goes to *loss and the gradients'
 * global L2 norm to *grad_norm; a non-finite one skips the update (the caller stops the run).
 * Fails only on engine errors (arena, shapes). With several ranks, this rank computes its slice
 * of the batch and the ranks sum their gradients. */
static ac_status train_step(ac_trainer *t, const uint32_t *order, int n, double *loss_out,
                            double *grad_norm, ac_error *err) {
    ac_ctx *ctx = t->ctx;
    ac_dp_slice part = /* the whole batch when alone */
        ac_dp_slice_of(ac_parallel_rank(t->group), ac_parallel_size(t->group), n);
    ac_ctx_set_batch_slice(ctx, part.first, part.count, n);
    float value = 0.0f; /* a rank with no windows (a short last batch) adds nothing */
    if (part.count > 0 &&
        batch_gradients(t, order + part.first, part.count, part.first, n, &value, err) != AC_OK)
        return err->code;
    ac_tensor *const *ps = ac_forecaster_params(t->model);
    int np = ac_forecaster_param_count(t->model);
    if (ac_parallel_size(t->group) > 1) {
        value = ac_dp_sum_step(t->group, ps, np, t->fused, value);
        /* a rank with no windows drew no dropout masks: rank 0 always has some */
        if (n < ac_parallel_size(t->group))
            ac_parallel_broadcast(t->group, &t->dropout_rng, sizeof t->dropout_rng);
    }
    *grad_norm = NAN;
    if (isfinite(value)) *grad_norm = ac_clip_grad_norm(ps, np, t->options.clip_grad);
    if (isfinite(*grad_norm)) ac_optimizer_step(t->opt, (float)ac_lr_at(&t->schedule, t->step));
    ac_zero_grad(ps, np);
    ac_ctx_reset(ctx);
    t->step++;
    *loss_out = value;
    return AC_OK;
}

/* ---- stopping in the middle of an epoch ---- */

/* keep: copies the weights, optimizer state, step and random streams aside at an epoch's start;
 * else puts them back, abandoning the epoch in progress. */
static void epoch_start_keep(ac_trainer *t, bool keep) {
    struct epoch_start *s = &t->start;
    copy_weights(t->model, s->state, keep);
    float *at = s->state + ac_forecaster_weight_count(t->model);
    ac_tensor *const *ps = ac_forecaster_params(t->model);
    for (int i = 0; i < ac_forecaster_param_count(t->model); i++)
        for (int k = 0; k < ac_optimizer_state_slots(t->opt); k++, at += ps[i]->size) {
            float *slot = ac_optimizer_state(t->opt, i, k);
            size_t bytes = (size_t)ps[i]->size * sizeof(float);
            memcpy(keep ? at : slot, keep ? slot : at, bytes);
        }
    if (keep) {
        s->step = t->step;
        s->optimizer_steps = ac_optimizer_step_count(t->opt);
        s->shuffle_rng = t->shuffle_rng;
        s->dropout_rng = t->dropout_rng;
    } else {
        t->step = s->step;
        ac_optimizer_set_step_count(t->opt, s->optimizer_steps);
        t->shuffle_rng = s->shuffle_rng;
        t->dropout_rng = s->dropout_rng;
    }
}

ac_status ac_trainer_set_stop_check(ac_trainer *t, int (*stop_requested)(void), ac_error *err) {
    size_t floats = (size_t)ac_forecaster_weight_count(t->model) *
                    (size_t)(1 + ac_optimizer_state_slots(t->opt));
    if (stop_requested && !t->start.state && !(t->start.state = malloc(floats * sizeof(float))))
        return ac_error_set(err, AC_ERR_NOMEM, "trainer: out of memory");
    t->stop_requested = stop_requested;
    return AC_OK;
}

ac_status ac_trainer_epoch(ac_trainer *t, bool *done, ac_error *err) {
    const ac_train_options *o = &t->options;
    *done = t->epoch >= o->epochs || t->stopped_early; /* e.g. resumed at the end */
    if (*done) return AC_OK;
    if (!t->synced) {
        t->synced = true;
        if (!ac_parallel_all_equal(t->group, (uint64_t)t->step))
            return ac_error_set(err, AC_ERR_STATE,
                                "the ranks start from different steps (they resumed from "
                                "different checkpoints?)");
        ac_dp_broadcast_params(t->group, ac_forecaster_params(t->model),
                               ac_forecaster_param_count(t->model), t->fused);
    }
    int count = t->train_windows, bs = o->batch_size;
    if (t->epoch == 0 && isinf(t->best_val) &&
        ac_forecaster_spec(t->model)->anchor == AC_ANCHOR_LAST) {
        /* With anchor = last the untrained model is the naive repeat: it is epoch 0 of early
         * stopping, so a trained epoch is kept only if it beats the naive forecast on the
         * validation windows, and a run where none does keeps the naive forecast. */
        double start_val = NAN;
        if (ac_series_loss(t->model, t->series, t->series_count, AC_SPLIT_VAL, o->loss, bs,
                           &start_val, err) != AC_OK)
            return err->code;
        if (isfinite(start_val)) {
            t->best_val = start_val;
            copy_weights(t->model, t->best_weights, true);
        }
    }
    double t0 = ac_seconds();
    if (t->stop_requested) epoch_start_keep(t, true);
    for (int i = 0; i < count; i++) t->order[i] = (uint32_t)i;
    ac_rng_shuffle_u32(&t->shuffle_rng, t->order, (size_t)count);
    double sum = 0.0;
    int seen = 0;
    ac_thread_tuner_init(&t->threads);
    for (int b = 0; b < t->batches; b++) {
        int n = count - b * bs < bs ? count - b * bs : bs;
        double loss = NAN, grad_norm = NAN, step_start = ac_seconds();
        ac_status st = train_step(t, t->order + (size_t)b * bs, n, &loss, &grad_norm, err);
        ac_thread_tuner_step(&t->threads, ac_seconds() - step_start);
        bool finite = isfinite(loss) && isfinite(grad_norm);
        if (st != AC_OK || !finite) ac_thread_tuner_finish(&t->threads);
        if (st != AC_OK) return err->code;
        if (!finite)
            return ac_error_set(err, AC_ERR_INVALID,
                                "training diverged: the %s %s at epoch %d, step %lld (batch "
                                "%d of %d); lower train.lr or set train.clip_grad",
                                isfinite(loss) ? "gradients are" : "loss is",
                                isnan(isfinite(loss) ? grad_norm : loss) ? "NaN" : "infinite",
                                t->epoch + 1, (long long)t->step, b + 1, t->batches);
        sum += loss * n;
        seen += n;
        if (t->observer.on_batch)
            t->observer.on_batch(t->observer.user, t->epoch + 1, b + 1, t->batches, sum / seen,
                                 seen / (ac_seconds() - t0));
        if (t->stop_requested && t->stop_requested()) {
            ac_thread_tuner_finish(&t->threads);
            epoch_start_keep(t, false);
            return ac_error_set(err, AC_ERR_INTERRUPTED,
                                "stopped in epoch %d after batch %d of %d; the epoch is abandoned "
                                "and starts over on resume",
                                t->epoch + 1, b + 1, t->batches);
        }
    }
    ac_thread_tuner_finish(&t->threads);
    double train_seconds = ac_seconds() - t0;
    if (!ac_dp_params_agree(t->group, ac_forecaster_params(t->model),
                            ac_forecaster_param_count(t->model)))
        return ac_error_set(err, AC_ERR_STATE,
                            "the ranks' parameters differ after epoch %d: the gradient sum was "
                            "not the same on every rank",
                            t->epoch + 1);
    double val = NAN;
    if (ac_series_loss(t->model, t->series, t->series_count, AC_SPLIT_VAL, o->loss, bs, &val,
                       err) != AC_OK)
        return err->code;
    if (isnan(val) || isinf(val))
        return ac_error_set(err, AC_ERR_INVALID,
                            "training diverged: the validation loss is %s after epoch %d (step "
                            "%lld); lower train.lr or set train.clip_grad",
                            isnan(val) ? "NaN" : "infinite", t->epoch + 1, (long long)t->step);
    ac_epoch_record *rec = &t->history[t->epoch];
    *rec = (ac_epoch_record){.epoch = t->epoch + 1,
                             .train_loss = sum / seen,
                             .val_loss = val,
                             .lr = ac_lr_at(&t->schedule, t->step - 1),
                             .seconds = ac_seconds() - t0,
                             .windows_per_s = count / train_seconds};
    t->seconds += rec->seconds;
    t->epoch++;
    bool improved = val < t->best_val;
    if (improved) {
        t->best_val = val;
        t->best_epoch = t->epoch;
        t->bad_epochs = 0;
        copy_weights(t->model, t->best_weights, true);
    } else {
        t->bad_epochs++;
    }
    if (t->observer.on_epoch) t->observer.on_epoch(t->observer.user, rec, improved);
    t->stopped_early = o->patience > 0 && t->bad_epochs >= o->patience && t->epoch < o->epochs;
    *done = t->epoch >= o->epochs || t->stopped_early;
    return AC_OK;
}

ac_status ac_trainer_run(ac_trainer *t, ac_error *err) {
    bool done = false;
    while (!done)
        if (ac_trainer_epoch(t, &done, err) != AC_OK) return err->code;
    ac_trainer_restore_best(t);
    return AC_OK;
}

const ac_epoch_record *ac_trainer_history(const ac_trainer *t, int *epochs) {
    *epochs = t->epoch;
    return t->history;
}
int ac_trainer_best_epoch(const ac_trainer *t) {
    return t->best_epoch;
}
double ac_trainer_best_val_loss(const ac_trainer *t) {
    return t->best_val;
}
bool ac_trainer_stopped_early(const ac_trainer *t) {
    return t->stopped_early;
}
double ac_trainer_seconds(const ac_trainer *t) {
    return t->seconds;
}
int64_t ac_trainer_windows_per_epoch(const ac_trainer *t) {
    return t->train_windows;
}

/* ---- state, for checkpoints ---- */

void ac_trainer_get_state(const ac_trainer *t, ac_train_state *st) {
    *st = (ac_train_state){.epoch = t->epoch,
                           .step = t->step,
                           .best_epoch = t->best_epoch,
                           .best_val_loss = t->best_val,
                           .bad_epochs = t->bad_epochs,
                           .stopped_early = t->stopped_early,
                           .seconds = t->seconds,
                           .lr = t->step > 0 ? ac_lr_at(&t->schedule, t->step - 1) : 0.0,
                           .shuffle_rng = t->shuffle_rng,
                           .dropout_rng = t->dropout_rng,
                           .history = t->history,
                           .history_len = t->epoch,
                           .best_weights = t->best_weights,
                           .weight_count = ac_forecaster_weight_count(t->model)};
}

ac_status ac_trainer_set_state(ac_trainer *t, const ac_train_state *st, ac_error *err) {
    int64_t weights = ac_forecaster_weight_count(t->model);
    if (st->weight_count != weights)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "training state holds %lld best weights, the model has %lld",
                            (long long)st->weight_count, (long long)weights);
    if (st->epoch < 0 || st->epoch > t->options.epochs || st->history_len != st->epoch)
        return ac_error_set(err, AC_ERR_INVALID,
                            "training state is at epoch %d with %d history rows, but train.epochs "
                            "= %d",
                            st->epoch, st->history_len, t->options.epochs);
    t->epoch = st->epoch;
    t->step = st->step;
    t->best_epoch = st->best_epoch;
    t->best_val = st->best_val_loss;
    t->bad_epochs = st->bad_epochs;
    t->stopped_early = st->stopped_early != 0;
    t->seconds = st->seconds;
    t->shuffle_rng = st->shuffle_rng;
    t->dropout_rng = st->dropout_rng;
    if (st->history_len > 0)
        memcpy(t->history, st->history, (size_t)st->history_len * sizeof *t->history);
    if (st->best_weights)
        memcpy(t->best_weights, st->best_weights, (size_t)weights * sizeof(float));
    return AC_OK;
}

ac_optimizer *ac_trainer_optimizer(ac_trainer *t) {
    return t->opt;
}
