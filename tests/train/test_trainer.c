/* test_trainer.c - training on small generated series: a forecaster learns a noisy seasonal
 * series to well below the naive baseline; every attention kind lowers its loss; the same
 * config, seed and threads repeat bit for bit; early stopping restores the best weights; a
 * non-finite loss or gradient stops the run with the epoch and step named and no update, a
 * non-finite validation loss after the epoch; a stop request mid-epoch rewinds to the epoch's
 * start, and carrying on from there repeats the uninterrupted run bit for bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "attncast/config.h"
#include "attncast/trainer.h"
#include "support/tiny_model.h"

#define PI 3.14159265358979323846

/* Two channels: a daily-like cycle of period 24 with noise, and a shifted, slower cycle. */
static ac_table *seasonal_table(int T) {
    ac_table *t = tm_table_new(T, 2);
    ac_rng rng;
    ac_rng_seed(&rng, 77, 0);
    for (int r = 0; r < T; r++) {
        t->values[r * 2] = 10.0 + 3.0 * sin(2 * PI * r / 24.0) + 0.3 * ac_rng_normal(&rng);
        t->values[r * 2 + 1] = -2.0 + cos(2 * PI * r / 12.0 + 1.0) + 0.1 * ac_rng_normal(&rng);
    }
    return t;
}

static ac_config small_config(ac_attention_kind kind) {
    ac_config c;
    ac_config_defaults(&c);
    snprintf(c.data.csv, sizeof c.data.csv, "generated.csv");
    c.data.lookback = 48;
    c.data.horizon = 12;
    c.model.attention = kind;
    c.model.d_model = 16;
    c.model.heads = 2;
    c.model.layers = 1;
    c.model.d_ff = 32;
    c.model.patch_len = 8;
    c.model.patch_stride = 4;
    c.model.dropout = 0.0;
    c.train.epochs = 4;
    c.train.batch_size = 32;
    c.train.lr = 3e-3;
    c.train.patience = 0;
    c.train.seed = 5;
    return c;
}

typedef struct run {
    ac_series series;
    ac_forecaster *model;
    ac_trainer *trainer;
} run;

static void run_start(run *r, const ac_config *cfg, const ac_table *t) {
    ac_error err;
    assert_int_equal(ac_series_build(&r->series, t, (double[]){0.7, 0.1, 0.2}, cfg->data.lookback,
                                     cfg->data.horizon, &err),
                     AC_OK);
    ac_model_spec spec = ac_config_model_spec(cfg, t->cols);
    ac_rng rng;
    ac_rng_seed(&rng, cfg->train.seed, AC_RNG_STREAM_INIT);
    r->model = ac_forecaster_new(&spec, &rng, &err);
    if (!r->model) fail_msg("model: %s", err.msg);
    ac_train_options options = ac_config_train_options(cfg);
    r->trainer = ac_trainer_new(&options, &r->series, r->model, &err);
    if (!r->trainer) fail_msg("trainer: %s", err.msg);
}

static void run_finish(run *r) {
    ac_trainer_free(r->trainer);
    ac_forecaster_free(r->model);
    ac_series_free(&r->series);
}

static int setup(void **state) {
    (void)state;
    ac_error err;
    return ac_threads_init(2, &err) == AC_OK ? 0 : -1;
}

static void test_learns_a_noisy_seasonal_series_well_below_naive(void **state) {
    (void)state;
    ac_table *t = seasonal_table(1200);
    ac_config cfg = small_config(AC_ATTN_DOT);
    cfg.train.epochs = 6;
    run r;
    run_start(&r, &cfg, t);
    ac_error err;
    assert_int_equal(ac_trainer_run(r.trainer, &err), AC_OK);
    ac_eval_result e;
    assert_int_equal(ac_evaluate(r.model, &r.series, AC_SPLIT_TEST, 24, 64, NULL, &e, &err), AC_OK);
    assert_int_equal(e.windows, 240 - 12 + 1);
    double naive = e.baseline[AC_BASELINE_NAIVE].mse;
    if (!(e.model.mse < 0.3 * naive))
        fail_msg("model MSE %.4f is not well below naive %.4f", e.model.mse, naive);
    assert_true(e.model.mae < e.baseline[AC_BASELINE_MEAN].mae);
    /* two channels with as many points each: the pooled MSE is their mean; no pooled RMSE */
    assert_int_equal(e.channels, 2);
    double per_channel = (e.model_channels[0].mse + e.model_channels[1].mse) / 2;
    assert_true(fabs(per_channel - e.model.mse) < 1e-12);
    per_channel = (e.baseline_channels[AC_BASELINE_NAIVE][0].mse +
                   e.baseline_channels[AC_BASELINE_NAIVE][1].mse) /
                  2;
    assert_true(fabs(per_channel - naive) < 1e-12);
    assert_true(isnan(e.model.rmse) && isfinite(e.model_channels[0].rmse));
    ac_eval_result_free(&e);
    run_finish(&r);
    tm_table_free(t);
}

/* Equal, or both undefined (a pooled RMSE over channels of different units is NaN). */
static bool same(double a, double b) {
    return a == b || (isnan(a) && isnan(b));
}

/* With model.anchor = last the untrained model (its head starts at zero) is the naive repeat:
 * its metrics equal the naive baseline's exactly, with and without revin, in both modes. */
static void test_zero_head_with_last_value_anchor_scores_exactly_as_naive(void **state) {
    (void)state;
    ac_table *t = seasonal_table(400);
    for (int mode = 0; mode < 2; mode++)
        for (int revin = 0; revin < 2; revin++) {
            ac_config cfg = small_config(AC_ATTN_GATED);
            cfg.model.anchor = AC_ANCHOR_LAST;
            cfg.model.revin = revin;
            cfg.model.channels = (ac_channel_mode)mode;
            run r;
            run_start(&r, &cfg, t);
            ac_error err;
            ac_eval_result e;
            assert_int_equal(ac_evaluate(r.model, &r.series, AC_SPLIT_TEST, 24, 64, NULL, &e, &err),
                             AC_OK);
            const ac_metrics *naive = &e.baseline[AC_BASELINE_NAIVE];
            assert_true(e.model.mse > 0.0);
            assert_true(same(e.model.mse, naive->mse) && same(e.model.mae, naive->mae));
            assert_true(same(e.model.rmse, naive->rmse) && same(e.model.smape, naive->smape));
            assert_true(same(e.model.wape, naive->wape) && same(e.model.mape, naive->mape));
            assert_true(same(e.model.mase, naive->mase) && e.model.points == naive->points);
            ac_eval_result_free(&e);
            run_finish(&r);
        }
    tm_table_free(t);
}

/* A Gaussian random walk: nothing to learn beyond the last value. */
static ac_table *random_walk_table(int T) {
    ac_table *t = tm_table_new(T, 2);
    ac_rng rng;
    ac_rng_seed(&rng, 78, 0);
    double level[2] = {100.0, -20.0};
    for (int r = 0; r < T; r++)
        for (int c = 0; c < 2; c++) t->values[r * 2 + c] = level[c] += ac_rng_normal(&rng);
    return t;
}

/* With anchor = last the untrained model (the naive repeat) is epoch 0 of early stopping: on a
 * random walk no trained epoch beats it on validation, so the run keeps it and scores exactly as
 * naive; on a seasonal series training wins and the best epoch is a trained one. */
static void test_last_value_anchor_keeps_the_naive_start_unless_an_epoch_beats_it(void **state) {
    (void)state;
    ac_table *walk = random_walk_table(900);
    ac_error err;
    ac_eval_result e;
    run r;
    bool kept_start = false;
    const double lrs[] = {0.003, 0.03, 0.1};
    for (int k = 0; k < 3; k++) {
        ac_config cfg = small_config(AC_ATTN_DOT);
        cfg.model.anchor = AC_ANCHOR_LAST;
        cfg.train.epochs = 3;
        cfg.train.lr = lrs[k];
        run_start(&r, &cfg, walk);
        double naive_val;
        assert_int_equal(
            ac_split_loss(r.model, &r.series, AC_SPLIT_VAL, AC_LOSS_MSE, 32, &naive_val, &err),
            AC_OK);
        assert_int_equal(ac_trainer_run(r.trainer, &err), AC_OK);
        int n;
        const ac_epoch_record *h = ac_trainer_history(r.trainer, &n);
        double best_trained = INFINITY;
        for (int i = 0; i < n; i++) best_trained = fmin(best_trained, h[i].val_loss);
        assert_int_equal(ac_evaluate(r.model, &r.series, AC_SPLIT_TEST, 1, 64, NULL, &e, &err),
                         AC_OK);
        if (best_trained >= naive_val) { /* no epoch beat the start: it is kept */
            kept_start = true;
            assert_int_equal(ac_trainer_best_epoch(r.trainer), 0);
            assert_true(ac_trainer_best_val_loss(r.trainer) == naive_val);
            assert_true(e.model.mse == e.baseline[AC_BASELINE_NAIVE].mse);
        } else {
            assert_true(ac_trainer_best_epoch(r.trainer) >= 1);
            assert_true(ac_trainer_best_val_loss(r.trainer) == best_trained);
        }
        ac_eval_result_free(&e);
        run_finish(&r);
    }
    assert_true(kept_start);
    tm_table_free(walk);

    ac_table *seasonal = seasonal_table(1200);
    ac_config cfg = small_config(AC_ATTN_DOT);
    cfg.model.anchor = AC_ANCHOR_LAST;
    cfg.train.epochs = 3;
    run_start(&r, &cfg, seasonal);
    assert_int_equal(ac_trainer_run(r.trainer, &err), AC_OK);
    assert_true(ac_trainer_best_epoch(r.trainer) >= 1);
    assert_int_equal(ac_evaluate(r.model, &r.series, AC_SPLIT_TEST, 24, 64, NULL, &e, &err), AC_OK);
    assert_true(e.model.mse < 0.5 * e.baseline[AC_BASELINE_NAIVE].mse);
    ac_eval_result_free(&e);
    run_finish(&r);
    tm_table_free(seasonal);
}

static void test_every_attention_kind_lowers_its_loss(void **state) {
    (void)state;
    ac_table *t = seasonal_table(600);
    for (int k = 0; k < AC_ATTN_COUNT; k++)
        for (int mode = 0; mode < 2; mode++) {
            ac_config cfg = small_config((ac_attention_kind)k);
            cfg.model.channels = (ac_channel_mode)mode;
            cfg.model.causal = mode == 1;
            cfg.train.epochs = 3;
            run r;
            run_start(&r, &cfg, t);
            ac_error err;
            assert_int_equal(ac_trainer_run(r.trainer, &err), AC_OK);
            int n;
            const ac_epoch_record *h = ac_trainer_history(r.trainer, &n);
            assert_int_equal(n, 3);
            if (!(h[2].train_loss < 0.8 * h[0].train_loss && h[2].val_loss < h[0].val_loss))
                fail_msg("%s/%s: train %.4f -> %.4f, val %.4f -> %.4f",
                         ac_attention_kind_name(cfg.model.attention),
                         ac_channel_mode_name(cfg.model.channels), h[0].train_loss, h[2].train_loss,
                         h[0].val_loss, h[2].val_loss);
            run_finish(&r);
        }
    tm_table_free(t);
}

/* Repeats give the same bits for a thread count, whatever the thread tuner does: 2 threads with
 * the tuner switching between 2 and 1 during each epoch, twice, and 2 threads held fixed
 * (ATTNCAST_ADAPT_THREADS=0). The count fixes the batch slices (batch_slices.h), so 1 and 3
 * threads sum the gradients in other groupings: the same run to float round-off. */
static void test_same_config_seed_and_threads_repeat_bit_for_bit(void **state) {
    (void)state;
    ac_table *t = seasonal_table(600);
    ac_config cfg = small_config(AC_ATTN_GATED);
    cfg.model.dropout = 0.1; /* the dropout stream must repeat too */
    cfg.train.epochs = 2;
    cfg.train.schedule = AC_SCHED_COSINE;
    cfg.train.clip_grad = 0.5;
    enum { REPS = 5 };
    static const int threads[REPS] = {2, 2, 2, 1, 3};
    double losses[REPS][4];
    float *weights[REPS];
    ac_error terr;
    for (int rep = 0; rep < REPS; rep++) {
        if (rep == 2) setenv("ATTNCAST_ADAPT_THREADS", "0", 1);
        if (rep == 3) unsetenv("ATTNCAST_ADAPT_THREADS");
        assert_int_equal(ac_threads_init(threads[rep], &terr), AC_OK);
        run r;
        run_start(&r, &cfg, t);
        ac_error err;
        assert_int_equal(ac_trainer_run(r.trainer, &err), AC_OK);
        int n;
        const ac_epoch_record *h = ac_trainer_history(r.trainer, &n);
        for (int e = 0; e < 2; e++) {
            losses[rep][2 * e] = h[e].train_loss;
            losses[rep][2 * e + 1] = h[e].val_loss;
        }
        int64_t total = ac_forecaster_weight_count(r.model);
        weights[rep] = malloc((size_t)total * sizeof(float));
        float *w = weights[rep];
        ac_tensor *const *ps = ac_forecaster_params(r.model);
        for (int i = 0; i < ac_forecaster_param_count(r.model); i++) {
            memcpy(w, ps[i]->data, (size_t)ps[i]->size * sizeof(float));
            w += ps[i]->size;
        }
        if (rep > 0 && threads[rep] == threads[0])
            assert_memory_equal(weights[0], weights[rep], (size_t)total * sizeof(float));
        for (int64_t i = 0; i < total && threads[rep] != threads[0]; i++)
            if (fabsf(weights[0][i] - weights[rep][i]) > 1e-4f)
                fail_msg("%d threads: weight %lld is %.8g, %.8g at 2 threads", threads[rep],
                         (long long)i, (double)weights[rep][i], (double)weights[0][i]);
        assert_int_equal(ac_threads_get(), threads[rep]); /* the configured count is back */
        run_finish(&r);
    }
    unsetenv("ATTNCAST_ADAPT_THREADS");
    assert_int_equal(ac_threads_init(2, &terr), AC_OK);
    for (int rep = 1; rep < REPS; rep++)
        if (threads[rep] == threads[0])
            assert_memory_equal(losses[0], losses[rep], sizeof losses[0]);
        else
            for (int k = 0; k < 4; k++)
                assert_true(fabs(losses[rep][k] - losses[0][k]) <= 1e-5 * fabs(losses[0][k]));
    for (int rep = 0; rep < REPS; rep++) free(weights[rep]);
    tm_table_free(t);
}

static void test_early_stopping_keeps_the_best_weights(void **state) {
    (void)state;
    ac_table *t = seasonal_table(600);
    ac_config cfg = small_config(AC_ATTN_DOT);
    cfg.train.epochs = 12;
    cfg.train.patience = 1;
    cfg.train.lr = 0.05; /* a rough ride, so validation gets worse at some point */
    run r;
    run_start(&r, &cfg, t);
    ac_error err;
    assert_int_equal(ac_trainer_run(r.trainer, &err), AC_OK);
    int n;
    const ac_epoch_record *h = ac_trainer_history(r.trainer, &n);
    int best = ac_trainer_best_epoch(r.trainer);
    assert_true(best >= 1 && best <= n);
    for (int e = 0; e < n; e++) assert_true(h[e].val_loss >= h[best - 1].val_loss);
    if (ac_trainer_stopped_early(r.trainer)) assert_int_equal(n, best + 1);
    double val;
    assert_int_equal(ac_split_loss(r.model, &r.series, AC_SPLIT_VAL, AC_LOSS_MSE, 32, &val, &err),
                     AC_OK);
    assert_true(val == ac_trainer_best_val_loss(r.trainer)); /* the restored weights */
    run_finish(&r);
    tm_table_free(t);
}

static void test_non_finite_loss_stops_with_epoch_and_step(void **state) {
    (void)state;
    ac_table *t = seasonal_table(600);
    ac_config cfg = small_config(AC_ATTN_DOT);
    cfg.train.epochs = 2;
    run r;
    run_start(&r, &cfg, t);
    r.series.scaled[100 * 2] = NAN; /* poisons every training window that covers row 100 */
    ac_error err;
    assert_int_equal(ac_trainer_run(r.trainer, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "NaN"));
    assert_non_null(strstr(err.msg, "epoch 1"));
    assert_non_null(strstr(err.msg, "step"));
    run_finish(&r);
    tm_table_free(t);
}

static void test_non_finite_validation_loss_stops_after_the_epoch(void **state) {
    (void)state;
    ac_table *t = seasonal_table(300);
    ac_config cfg = small_config(AC_ATTN_DOT);
    cfg.train.epochs = 2;
    run r;
    run_start(&r, &cfg, t);
    /* a validation row: no training window reaches it, every validation window after it does */
    r.series.scaled[(size_t)(r.series.split.n_train + 5) * 2] = NAN;
    ac_error err;
    assert_int_equal(ac_trainer_run(r.trainer, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "validation loss is NaN after epoch 1"));
    int n;
    ac_trainer_history(r.trainer, &n);
    assert_int_equal(n, 0); /* the epoch is not recorded, so nothing saves it */
    run_finish(&r);
    tm_table_free(t);
}

static int stop_after_calls; /* the stop check says stop on this call (1-based) */
static int stop_calls;

static int stop_check(void) {
    return ++stop_calls == stop_after_calls;
}

static void copy_all_weights(ac_forecaster *m, float *dst) {
    ac_tensor *const *ps = ac_forecaster_params(m);
    for (int i = 0; i < ac_forecaster_param_count(m); i++) {
        memcpy(dst, ps[i]->data, (size_t)ps[i]->size * sizeof(float));
        dst += ps[i]->size;
    }
}

static void test_non_finite_gradient_stops_before_the_update(void **state) {
    (void)state;
    ac_table *t = seasonal_table(300);
    ac_config cfg = small_config(AC_ATTN_DOT);
    run r;
    run_start(&r, &cfg, t);
    int64_t total = ac_forecaster_weight_count(r.model);
    float *before = malloc((size_t)total * sizeof(float));
    float *after = malloc((size_t)total * sizeof(float));
    copy_all_weights(r.model, before);
    /* gradients accumulate into their buffers: an Inf there is what an overflowing backward
     * leaves, while the loss stays finite */
    ac_forecaster_params(r.model)[0]->grad[0] = INFINITY;
    ac_error err;
    bool done = false;
    assert_int_equal(ac_trainer_epoch(r.trainer, &done, &err), AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "the gradients are infinite at epoch 1, step 1 (batch 1 of"));
    copy_all_weights(r.model, after);
    assert_memory_equal(before, after, (size_t)total * sizeof(float)); /* no update */
    assert_int_equal(ac_optimizer_step_count(ac_trainer_optimizer(r.trainer)), 0);
    free(before);
    free(after);
    run_finish(&r);
    tm_table_free(t);
}

static void test_a_stop_mid_epoch_rewinds_to_its_start_and_resumes_bit_for_bit(void **state) {
    (void)state;
    ac_table *t = seasonal_table(300); /* 5 batches an epoch */
    ac_config cfg = small_config(AC_ATTN_DOT);
    cfg.model.dropout = 0.1; /* the dropout stream is rewound too */
    cfg.train.epochs = 2;
    cfg.train.schedule = AC_SCHED_COSINE;
    run a, b;
    ac_error err;
    run_start(&a, &cfg, t);
    assert_int_equal(ac_trainer_run(a.trainer, &err), AC_OK);
    run_start(&b, &cfg, t);
    int64_t total = ac_forecaster_weight_count(b.model);
    float *epoch1 = malloc((size_t)total * sizeof(float));
    float *now = malloc((size_t)total * sizeof(float));
    bool done = false;
    assert_int_equal(ac_trainer_set_stop_check(b.trainer, stop_check, &err), AC_OK);
    stop_calls = 0;
    stop_after_calls = 0; /* never during epoch 1 */
    assert_int_equal(ac_trainer_epoch(b.trainer, &done, &err), AC_OK);
    copy_all_weights(b.model, epoch1);
    int64_t step_after_1 = ac_optimizer_step_count(ac_trainer_optimizer(b.trainer));
    stop_calls = 0;
    stop_after_calls = 3; /* after the third step of epoch 2 */
    assert_int_equal(ac_trainer_epoch(b.trainer, &done, &err), AC_ERR_INTERRUPTED);
    assert_non_null(strstr(err.msg, "epoch 2 after batch 3"));
    copy_all_weights(b.model, now);
    assert_memory_equal(now, epoch1, (size_t)total * sizeof(float));
    assert_int_equal(ac_optimizer_step_count(ac_trainer_optimizer(b.trainer)), step_after_1);
    int n;
    ac_trainer_history(b.trainer, &n);
    assert_int_equal(n, 1);
    stop_after_calls = 0;
    while (!done) assert_int_equal(ac_trainer_epoch(b.trainer, &done, &err), AC_OK);
    ac_trainer_restore_best(b.trainer);
    const ac_epoch_record *ha = ac_trainer_history(a.trainer, &n);
    const ac_epoch_record *hb = ac_trainer_history(b.trainer, &n);
    assert_int_equal(n, 2);
    for (int e = 0; e < n; e++) {
        assert_memory_equal(&ha[e].train_loss, &hb[e].train_loss, sizeof(double));
        assert_memory_equal(&ha[e].val_loss, &hb[e].val_loss, sizeof(double));
    }
    copy_all_weights(a.model, epoch1);
    copy_all_weights(b.model, now);
    assert_memory_equal(now, epoch1, (size_t)total * sizeof(float));
    free(epoch1);
    free(now);
    run_finish(&a);
    run_finish(&b);
    tm_table_free(t);
}

/* Options an embedder filled in are checked before anything is allocated or divided. */
/* ---- a quantile model (model.quantiles): pinball loss in training and validation, sorted
 * quantiles and the median as point at inference ---- */

typedef struct quantile_check {
    int H, C, Q, median;
    int64_t windows, cells, below[3];
} quantile_check;

static void check_quantile_window(void *user, int t, const float *x, const float *y,
                                  const float *point, const float *quantiles) {
    (void)t, (void)x;
    quantile_check *q = user;
    assert_non_null(quantiles);
    for (int i = 0; i < q->H * q->C; i++) {
        const float *v = quantiles + (size_t)i * q->Q;
        for (int j = 1; j < q->Q; j++) assert_true(v[j - 1] <= v[j]); /* no crossing */
        assert_true(point[i] == v[q->median]);
        for (int j = 0; j < q->Q; j++) q->below[j] += y[i] <= v[j];
        q->cells++;
    }
    q->windows++;
}

static void test_a_quantile_model_learns_its_levels_under_the_pinball_loss(void **state) {
    (void)state;
    ac_table *t = seasonal_table(900);
    ac_config cfg = small_config(AC_ATTN_DOT);
    ac_error err;
    assert_int_equal(ac_config_set(&cfg, "model.quantiles=0.1,0.5,0.9", &err), AC_OK);
    assert_int_equal(cfg.train.loss, AC_LOSS_PINBALL);
    cfg.model.anchor = AC_ANCHOR_MEAN; /* a random start, far from the data */
    cfg.train.epochs = 5;
    run r;
    run_start(&r, &cfg, t);
    double before;
    assert_int_equal(
        ac_split_loss(r.model, &r.series, AC_SPLIT_VAL, AC_LOSS_PINBALL, 64, &before, &err), AC_OK);
    /* a point loss does not score a quantile model */
    double mse;
    assert_int_equal(ac_split_loss(r.model, &r.series, AC_SPLIT_VAL, AC_LOSS_MSE, 64, &mse, &err),
                     AC_ERR_INVALID);
    assert_int_equal(ac_trainer_run(r.trainer, &err), AC_OK);
    int epochs;
    const ac_epoch_record *h = ac_trainer_history(r.trainer, &epochs);
    assert_int_equal(epochs, 5);
    assert_true(h[epochs - 1].train_loss < 0.5 * h[0].train_loss);
    assert_true(ac_trainer_best_val_loss(r.trainer) < 0.5 * before);
    double after;
    assert_int_equal(
        ac_split_loss(r.model, &r.series, AC_SPLIT_VAL, AC_LOSS_PINBALL, 64, &after, &err), AC_OK);
    assert_true(fabs(after - ac_trainer_best_val_loss(r.trainer)) < 1e-5 * after);
    /* inference: sorted levels, the median as point, and levels that roughly cover */
    quantile_check q = {.H = 12, .C = 2, .Q = 3, .median = 1};
    ac_window_range w = ac_series_windows(&r.series, AC_SPLIT_TEST);
    assert_int_equal(ac_forecast_windows(r.model, &r.series, w.first, w.count, 1, 50,
                                         check_quantile_window, &q, &err),
                     AC_OK);
    assert_int_equal(q.windows, w.count);
    double low = (double)q.below[0] / q.cells, mid = (double)q.below[1] / q.cells,
           high = (double)q.below[2] / q.cells;
    if (!(low < 0.3 && mid > 0.25 && mid < 0.75 && high > 0.7))
        fail_msg("levels 0.1, 0.5, 0.9 cover %.3f, %.3f, %.3f", low, mid, high);
    /* the point metrics are those of the median */
    ac_eval_result e;
    assert_int_equal(ac_evaluate(r.model, &r.series, AC_SPLIT_TEST, 24, 64, NULL, &e, &err), AC_OK);
    assert_true(e.model.mse < e.baseline[AC_BASELINE_MEAN].mse);
    ac_eval_result_free(&e);
    run_finish(&r);
    tm_table_free(t);
}

static void test_refuses_options_out_of_range(void **state) {
    (void)state;
    ac_config cfg = small_config(AC_ATTN_DOT);
    const ac_train_options good = ac_config_train_options(&cfg);
    ac_train_options bad[5] = {good, good, good, good, good};
    bad[0].epochs = 0;
    bad[1].batch_size = 0;
    bad[2].lr = NAN;
    bad[3].optimizer = (ac_optimizer_kind)7;
    bad[4].decay_every = 0;
    for (int i = 0; i < 5; i++) {
        ac_error err = {0};
        assert_null(ac_trainer_new(&bad[i], NULL, NULL, &err));
        assert_int_equal(err.code, AC_ERR_INVALID);
        assert_non_null(strstr(err.msg, "trainer: options: "));
    }
}

/* The loss must fit the model: pinball with a quantile model, and only with one. */
static void test_refuses_a_loss_that_does_not_fit_the_model(void **state) {
    (void)state;
    ac_table *t = seasonal_table(400);
    ac_config cfg = small_config(AC_ATTN_DOT);
    ac_error err;
    for (int quantile = 0; quantile < 2; quantile++) {
        if (quantile) assert_int_equal(ac_config_set(&cfg, "model.quantiles=0.5", &err), AC_OK);
        ac_series series;
        assert_int_equal(ac_series_build(&series, t, (double[]){0.7, 0.1, 0.2}, 48, 12, &err),
                         AC_OK);
        ac_model_spec spec = ac_config_model_spec(&cfg, 2);
        ac_rng rng;
        ac_rng_seed(&rng, 1, AC_RNG_STREAM_INIT);
        ac_forecaster *m = ac_forecaster_new(&spec, &rng, &err);
        assert_non_null(m);
        ac_train_options o = ac_config_train_options(&cfg);
        o.loss = quantile ? AC_LOSS_MSE : AC_LOSS_PINBALL;
        assert_null(ac_trainer_new(&o, &series, m, &err));
        assert_non_null(strstr(err.msg, "pinball"));
        ac_forecaster_free(m);
        ac_series_free(&series);
    }
    tm_table_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_options_out_of_range),
        cmocka_unit_test(test_learns_a_noisy_seasonal_series_well_below_naive),
        cmocka_unit_test(test_zero_head_with_last_value_anchor_scores_exactly_as_naive),
        cmocka_unit_test(test_last_value_anchor_keeps_the_naive_start_unless_an_epoch_beats_it),
        cmocka_unit_test(test_every_attention_kind_lowers_its_loss),
        cmocka_unit_test(test_same_config_seed_and_threads_repeat_bit_for_bit),
        cmocka_unit_test(test_early_stopping_keeps_the_best_weights),
        cmocka_unit_test(test_non_finite_loss_stops_with_epoch_and_step),
        cmocka_unit_test(test_non_finite_validation_loss_stops_after_the_epoch),
        cmocka_unit_test(test_non_finite_gradient_stops_before_the_update),
        cmocka_unit_test(test_a_stop_mid_epoch_rewinds_to_its_start_and_resumes_bit_for_bit),
        cmocka_unit_test(test_a_quantile_model_learns_its_levels_under_the_pinball_loss),
        cmocka_unit_test(test_refuses_a_loss_that_does_not_fit_the_model),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
