/* test_evaluate_intervals.c - the interval and quantile scores of ac_evaluate (trainer.h): on a
 * tiny model and series, with a calibration from the validation windows, the test split's
 * coverage, width and Winkler score of each conformal interval, the wQL of the quantiles the
 * intervals imply and the seasonal-naive quantile baseline's wQL, all against a direct
 * computation (one forecast per window, sums written out); a point model without a calibration
 * scores no intervals; a quantile model scores its own pairs and levels; a series without
 * validation windows has no baseline; a calibration of another horizon is refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "attncast/intervals.h"
#include "attncast/trainer.h"
#include "support/tiny_model.h"

#define L      12
#define H      4
#define C      2
#define SEASON 10 /* tm_series_table's */
#define K      2  /* conformal levels */
#define QC     (2 * K + 1)

static const double LEVELS[K] = {0.8, 0.95};

/* The k-th smallest (1-based) of e[0..n), found by counting (no sorting). */
static double kth_smallest(const double *e, int n, int k) {
    for (int i = 0; i < n; i++) {
        int below = 0, at_most = 0;
        for (int j = 0; j < n; j++) {
            below += e[j] < e[i];
            at_most += e[j] <= e[i];
        }
        if (below < k && k <= at_most) return e[i];
    }
    fail_msg("no %d-th smallest", k);
    return NAN;
}

static double pinball(double q, double y, double yhat) {
    double e = y - yhat;
    return e >= 0.0 ? q * e : (q - 1.0) * e;
}

static void assert_near(double got, double want, const char *what) {
    if (!(fabs(got - want) <= 1e-4 * (1.0 + fabs(want))))
        fail_msg("%s: %.9g, computed directly %.9g", what, got, want);
}

/* The seasonal-naive forecast of one window x [L, C] at step h, channel c. */
static double seasonal_naive(const float *x, int h, int c) {
    return x[(L - SEASON + h % SEASON) * C + c];
}

/* The fixture's calibration on its validation windows at LEVELS, in batches of batch. */
static void calibrate(const tm_fixture *f, int batch, ac_calibration *cal) {
    ac_error err;
    if (ac_calibrate(f->model, &f->series, AC_SPLIT_VAL, LEVELS, K, batch, cal, &err) != AC_OK)
        fail_msg("calibrate: %s", err.msg);
}

/* ac_evaluate with the series' season, which fails the test on an error. */
static void evaluate(ac_forecaster *m, const ac_series *s, ac_split_kind split, int batch,
                     const ac_calibration *cal, ac_eval_result *e) {
    ac_error err;
    if (ac_evaluate(m, s, split, SEASON, batch, cal, e, &err) != AC_OK)
        fail_msg("evaluate: %s", err.msg);
}

static void test_conformal_scores_match_a_direct_computation(void **state) {
    (void)state;
    tm_fixture f;
    tm_fixture_init(&f, 160, 10.0, L, H, NULL);
    ac_calibration cal;
    calibrate(&f, 7, &cal);
    ac_eval_result e;
    evaluate(f.model, &f.series, AC_SPLIT_TEST, 5, &cal, &e);
    const ac_series *s = &f.series;
    assert_int_equal(e.interval_count, K);
    assert_int_equal(e.quantile_sets, 1);
    const ac_eval_quantiles *qs = &e.quantiles[0];
    assert_int_equal(qs->method, AC_INTERVAL_CONFORMAL);
    assert_int_equal(qs->count, QC);
    const double implied[QC] = {0.025, 0.1, 0.5, 0.9, 0.975};
    for (int q = 0; q < QC; q++) assert_true(fabs(qs->levels[q] - implied[q]) < 1e-12);
    assert_true(qs->has_baseline);

    /* the baseline's offsets: the ceil(n q)-th smallest seasonal-naive error on the validation
     * windows, per step and channel */
    ac_window_range val = ac_series_windows(s, AC_SPLIT_VAL);
    double offsets[H * C][QC];
    double *errors = malloc((size_t)val.count * sizeof(double));
    for (int j = 0; j < H * C; j++) {
        for (int w = 0; w < val.count; w++) {
            int origin = val.first + w;
            float x[L * C], y[H * C];
            ac_series_gather(s, &origin, 1, x, y);
            errors[w] = (double)y[j] - seasonal_naive(x, j / C, j % C);
        }
        for (int q = 0; q < QC; q++) {
            int k = (int)ceil(val.count * implied[q] - 1e-9);
            offsets[j][q] = kth_smallest(errors, val.count, k < 1 ? 1 : k);
        }
    }
    free(errors);

    /* every test window forecast on its own; sums per channel */
    ac_window_range r = ac_series_windows(s, AC_SPLIT_TEST);
    assert_true(r.count > 20);
    assert_int_equal(e.windows, r.count);
    double covered[K][C] = {{0}}, width[K][C] = {{0}}, width_o[K][C] = {{0}}, wink[K][C] = {{0}};
    double ql[C] = {0}, ql_base[C] = {0}, abs_y[C] = {0};
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    for (int i = 0; i < r.count; i++) {
        const float *x;
        float y[H * C];
        const float *p = tm_forecast_one(ctx, f.model, s, r.first + i, &x, y);
        for (int j = 0; j < H * C; j++) {
            int c = j % C;
            double yj = y[j], pj = p[j];
            double sd = s->scaler.std[c], mean = s->scaler.mean[c], yo = yj * sd + mean;
            double quant[QC];
            quant[K] = pj;
            for (int a = 0; a < K; a++) {
                double w = cal.halfwidth[a * H * C + j], lo = pj - w, hi = pj + w;
                quant[K - 1 - a] = lo;
                quant[K + 1 + a] = hi;
                covered[a][c] += lo <= yj && yj <= hi;
                width[a][c] += hi - lo;
                width_o[a][c] += (hi - lo) * sd;
                double miss = yj < lo ? lo - yj : yj > hi ? yj - hi : 0.0;
                wink[a][c] += hi - lo + 2.0 / (1.0 - LEVELS[a]) * miss;
            }
            double base = seasonal_naive(x, j / C, c);
            for (int q = 0; q < QC; q++) {
                ql[c] += 2.0 * pinball(implied[q], yo, quant[q] * sd + mean);
                ql_base[c] += 2.0 * pinball(implied[q], yo, (base + offsets[j][q]) * sd + mean);
            }
            abs_y[c] += fabs(yo);
        }
        ac_ctx_reset(ctx);
    }
    ac_ctx_free(ctx);
    double n = (double)r.count * H; /* points per channel */
    for (int a = 0; a < K; a++) {
        const ac_eval_interval *iv = &e.intervals[a];
        assert_int_equal(iv->def.method, AC_INTERVAL_CONFORMAL);
        assert_true(iv->def.level == LEVELS[a]);
        double cov = 0, wid = 0, win = 0;
        for (int c = 0; c < C; c++) {
            const ac_interval_metrics *mc = &iv->channels[c];
            assert_int_equal(mc->points, (int64_t)n);
            assert_near(mc->coverage, covered[a][c] / n, "channel coverage");
            assert_near(mc->width_scaled, width[a][c] / n, "channel width (scaled)");
            assert_near(mc->width, width_o[a][c] / n, "channel width");
            assert_near(mc->winkler_scaled, wink[a][c] / n, "channel Winkler (scaled)");
            cov += covered[a][c], wid += width[a][c], win += wink[a][c];
        }
        assert_near(iv->pooled.coverage, cov / (n * C), "coverage");
        assert_near(iv->pooled.width_scaled, wid / (n * C), "width (scaled)");
        assert_near(iv->pooled.winkler_scaled, win / (n * C), "Winkler (scaled)");
        assert_true(isnan(iv->pooled.width)); /* two channels: no units */
        assert_true(iv->pooled.coverage >= 0.0 && iv->pooled.coverage <= 1.0);
    }
    double wql = 0, wql_base = 0;
    for (int c = 0; c < C; c++) {
        double want = ql[c] / QC / abs_y[c], want_base = ql_base[c] / QC / abs_y[c];
        assert_near(qs->model_channels[c].wql, want, "channel wQL");
        assert_near(qs->model_channels[c].crps, ql[c] / QC / n, "channel CRPS");
        assert_near(qs->baseline_channels[c].wql, want_base, "channel baseline wQL");
        wql += want / C, wql_base += want_base / C;
    }
    assert_near(qs->model.wql, wql, "wQL");
    assert_near(qs->baseline.wql, wql_base, "baseline wQL");

    ac_eval_result_free(&e);
    assert_int_equal(e.interval_count, 0);
    assert_int_equal(e.quantile_sets, 0);
    ac_eval_result_free(&e); /* twice is harmless */
    ac_calibration_free(&cal);
    tm_fixture_free(&f);
}

static void test_a_point_model_without_calibration_has_no_intervals(void **state) {
    (void)state;
    tm_fixture f;
    tm_fixture_init(&f, 160, 10.0, L, H, NULL);
    ac_eval_result e;
    evaluate(f.model, &f.series, AC_SPLIT_TEST, 64, NULL, &e);
    assert_int_equal(e.interval_count, 0);
    assert_int_equal(e.quantile_sets, 0);
    assert_true(e.model.points > 0);
    ac_eval_result_free(&e);
    tm_fixture_free(&f);
}

static void test_a_quantile_model_scores_its_pairs_and_levels(void **state) {
    (void)state;
    tm_fixture f;
    tm_fixture_init(&f, 160, 10.0, L, H, "0.1,0.25,0.5,0.75,0.9");
    ac_calibration cal;
    calibrate(&f, 64, &cal);
    ac_eval_result e;
    evaluate(f.model, &f.series, AC_SPLIT_TEST, 64, NULL, &e);
    assert_int_equal(e.interval_count, 2); /* quantile 50%, quantile 80% */
    assert_int_equal(e.intervals[0].def.method, AC_INTERVAL_QUANTILE);
    assert_true(fabs(e.intervals[0].def.level - 0.5) < 1e-12);
    assert_true(fabs(e.intervals[1].def.level - 0.8) < 1e-12);
    assert_int_equal(e.quantile_sets, 1);
    assert_int_equal(e.quantiles[0].method, AC_INTERVAL_QUANTILE);
    assert_int_equal(e.quantiles[0].count, 5);
    assert_true(e.quantiles[0].levels[0] == 0.1 && e.quantiles[0].levels[4] == 0.9);
    assert_true(isfinite(e.quantiles[0].model.wql) && isfinite(e.quantiles[0].baseline.wql));
    ac_eval_result_free(&e);
    /* with the calibration: the conformal intervals first, then the quantile pairs; the model's
     * own levels first, then the implied ones */
    evaluate(f.model, &f.series, AC_SPLIT_TEST, 64, &cal, &e);
    assert_int_equal(e.interval_count, 4);
    assert_int_equal(e.intervals[0].def.method, AC_INTERVAL_CONFORMAL);
    assert_int_equal(e.intervals[2].def.method, AC_INTERVAL_QUANTILE);
    assert_int_equal(e.quantile_sets, 2);
    assert_int_equal(e.quantiles[0].method, AC_INTERVAL_QUANTILE);
    assert_int_equal(e.quantiles[1].method, AC_INTERVAL_CONFORMAL);
    for (int i = 0; i < e.interval_count; i++)
        assert_true(e.intervals[i].pooled.coverage >= 0.0 && e.intervals[i].pooled.coverage <= 1.0);
    ac_eval_result_free(&e);
    ac_calibration_free(&cal);
    tm_fixture_free(&f);
}

static void test_a_whole_file_has_no_baseline_and_a_misfit_calibration_is_refused(void **state) {
    (void)state;
    tm_fixture f;
    tm_fixture_init(&f, 160, 10.0, L, H, NULL);
    ac_series whole;
    ac_error err;
    if (ac_series_build_whole(&whole, f.table, L, H, &f.series.scaler, &err) != AC_OK)
        fail_msg("series: %s", err.msg);
    ac_calibration cal;
    calibrate(&f, 64, &cal);
    ac_eval_result e;
    evaluate(f.model, &whole, AC_SPLIT_ALL, 64, &cal, &e);
    assert_int_equal(e.interval_count, K);
    assert_int_equal(e.quantile_sets, 1);
    assert_false(e.quantiles[0].has_baseline);
    assert_null(e.quantiles[0].baseline_channels);
    assert_true(isfinite(e.quantiles[0].model.wql));
    ac_eval_result_free(&e);
    cal.horizon = H + 1; /* as a calibration of another model would be */
    assert_int_equal(ac_evaluate(f.model, &f.series, AC_SPLIT_TEST, SEASON, 64, &cal, &e, &err),
                     AC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "calibration"));
    cal.horizon = H;
    ac_calibration_free(&cal);
    ac_series_free(&whole);
    tm_fixture_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformal_scores_match_a_direct_computation),
        cmocka_unit_test(test_a_point_model_without_calibration_has_no_intervals),
        cmocka_unit_test(test_a_quantile_model_scores_its_pairs_and_levels),
        cmocka_unit_test(test_a_whole_file_has_no_baseline_and_a_misfit_calibration_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
