/* predict.c - `attncast predict CHECKPOINT --input CSV [--future CSV] [--id ID] [--out FILE]
 * [--at ROW]`: forecasts the H rows after the last L rows of a CSV (or after data row ROW) in
 * original units, as CSV (see window_input.c for the window, the future covariates' rows and the
 * output format), each target's forecast followed by the bounds of its conformal intervals and a
 * quantile model's quantiles (embed.h's ac_model_forecast_covariates). A model of long-format
 * data (MODEL.md "Many series") reads a long-format input: --id's series in the same layout, or
 * every series of the input, one after another, an id column first; each series scaled with the
 * checkpoint's scaler of its id (ac_model_forecast_series), and --future is a long-format file
 * too, each series taking its id's rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/attncast.h"
#include "attncast/embed.h"
#include "app/report.h"
#include "cli/checkpoint_data.h"
#include "cli/cli.h"
#include "cli/window_input.h"

static const char *const USAGE =
    "usage: attncast predict CHECKPOINT --input CSV [--future CSV] [--id ID] [--out FILE] "
    "[--at ROW]";

static const char *const HELP =
    "\n"
    "Forecasts the H rows after the last L rows of CSV (or after data row --at) with a saved\n"
    "model, in original units, as CSV: a date column that continues the input's calendar in\n"
    "the input's style (a step column 1..H when no frequency is known), then per channel its\n"
    "forecast (OT), the bounds of each calibrated conformal interval (OT_lo80, OT_hi80, ...)\n"
    "and, for a quantile model, each quantile level (OT_q0.1, OT_q0.5, ...). A checkpoint\n"
    "without /calibration has no conformal bounds: `attncast calibrate` adds them. The\n"
    "checkpoint's channels are read by name, so the CSV may hold others.\n"
    "\n"
    "A model trained with covariates reads them by name too: the input holds its targets and\n"
    "every past and future covariate column; calendar features are computed from the dates.\n"
    "Its real future covariates' values over the horizon come from --future CSV: its first H\n"
    "rows, dated as the forecast's rows are (the input's calendar continued).\n"
    "\n"
    "A model trained on long-format data (data.format = long) reads a long-format input (an\n"
    "id column, dates, values; the training CSV's layout) and scales each series with the\n"
    "checkpoint's scaler of its id: --id ID forecasts that series, in the layout above;\n"
    "without --id every series of the input is forecast, an id column first. Its --future\n"
    "CSV is long format too (id, date, the future covariates): each series takes its id's\n"
    "rows, matched by date as above.\n"
    "\n"
    "options:\n"
    "  --input CSV   the recent history, at least L rows of every channel (required)\n"
    "  --future CSV  the horizon's rows of the model's future covariates (data.future_covariates)\n"
    "  --out FILE    write the forecast to FILE (atomically) instead of stdout\n"
    "  --id ID       a long-format model: forecast the series ID (its rows of the input)\n"
    "  --at ROW      forecast after data row ROW (1 = the first data row; of --id's series)\n"
    "                instead of the last\n"
    "  --help, -h    this help\n"
    "\n"
    "examples:\n"
    "  attncast predict runs/fx/best.h5 --input recent.csv\n"
    "  attncast predict runs/fx/best.h5 --input exchange_rate.csv --at 5000 --out f.csv\n"
    "  attncast predict runs/load/best.h5 --input recent.csv --future planned.csv\n"
    "  attncast predict runs/stores/best.h5 --input recent_long.csv --id store_7\n";

/* ---- the verb ---- */

/* The conformal intervals (ac_interval_defs puts them first) and the quantile levels of m, as
 * predict's columns name them; levels holds AC_INTERVALS_CAP values. */
static void bound_columns(const ac_model *m, ac_cli_forecast_bounds *b, double *levels) {
    ac_interval_method method;
    int K = 0;
    while (ac_model_interval(m, K, &method, &levels[K]) && method == AC_INTERVAL_CONFORMAL) K++;
    const ac_model_spec *spec = ac_forecaster_spec(ac_model_checkpoint(m)->model);
    b->cols = (ac_cli_forecast_columns){.conformal = K,
                                        .levels = levels,
                                        .quantiles = spec->quantile_count,
                                        .quantile_levels = spec->quantiles};
}

/* Writes text to --out FILE (atomically) or stdout. 0, or -1 after the error. */
static int emit(const char *out, const char *text) {
    ac_error err;
    if (!out) {
        fputs(text, stdout);
        return 0;
    }
    if (ac_write_file_atomic(out, text, strlen(text), &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

/* An id as a CSV cell: quoted (quotes doubled) when it holds a comma, quote or line break. */
static void put_id(FILE *f, const char *id) {
    if (!strpbrk(id, ",\"\r\n")) {
        fputs(id, f);
        return;
    }
    fputc('"', f);
    for (const char *p = id; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

/* The forecast CSV of one series read into in (ac_cli_forecast_bounds_csv, malloc'd), from its
 * forecast; NULL after a one-line error. */
static char *series_csv(const ac_model *m, const ac_cli_model_input *in, const float *out,
                        float *lo, float *hi, float *quantiles) {
    double levels[AC_INTERVALS_CAP];
    ac_cli_forecast_bounds bounds;
    bound_columns(m, &bounds, levels);
    bounds.lo = lo;
    bounds.hi = hi;
    bounds.values = quantiles;
    char *text =
        ac_cli_forecast_bounds_csv(ac_model_checkpoint(m), in->table, in->end, out, &bounds);
    if (!text) ac_cli_error("predict: out of memory");
    return text;
}

/* The forecast CSV of one series (ac_cli_forecast_bounds_csv, malloc'd) of a long-format model:
 * series k of the checkpoint, its rows `table` of the input. NULL after a one-line error. */
static char *series_forecast(ac_model *m, int k, ac_table *table, const char *label,
                             const char *future, const ac_table_set *future_set, int at, float *out,
                             float *lo, float *hi, float *quantiles) {
    ac_cli_model_input in;
    ac_error err;
    char *text = NULL;
    if (ac_cli_read_series_input(m, table, ac_model_series_id(m, k), label, future, future_set, at,
                                 &in) != 0)
        goto done;
    if (ac_model_forecast_series(m, k, in.window, in.future, in.dates, out, lo, hi, quantiles,
                                 &err) != AC_OK) {
        ac_cli_error("%s: %s", label, err.msg);
        goto done;
    }
    text = series_csv(m, &in, out, lo, hi, quantiles);
done:
    ac_cli_model_input_free(&in);
    return text;
}

/* Series forecast together, in one pass through the model per PREDICT_BATCH of them. */
#define PREDICT_BATCH 256

/* Every series of set that the model knows, forecast in batches: texts[i] its CSV (NULL for a
 * series the model lacks or when anything failed). 0, or -1 when reading or a batch failed
 * without an error printed: the caller then goes series by series, whose errors name the series
 * (and a series the model lacks is named there too). */
static int batch_forecasts(ac_model *m, const ac_cli_window_args *a, const char *future,
                           const ac_table_set *set, const ac_table_set *future_set, char **texts) {
    int L = ac_model_lookback(m), H = ac_model_horizon(m), C = ac_model_channels(m);
    int K = ac_model_columns(m), F = ac_model_future_columns(m);
    int I = ac_model_interval_count(m), Q = ac_model_quantile_count(m);
    bool calendar = ac_model_calendar(m) != 0;
    size_t HC = (size_t)H * C, n = (size_t)set->count, b = n < PREDICT_BATCH ? n : PREDICT_BATCH;
    ac_cli_model_input *in = calloc(n, sizeof *in);
    int *series = malloc(b * sizeof(int));
    float *windows = malloc(b * L * K * sizeof(float));
    float *futures = F > 0 ? malloc(b * H * F * sizeof(float)) : NULL;
    long long *dates = calendar ? malloc(b * (L + H) * sizeof(long long)) : NULL;
    float *out = malloc(b * HC * sizeof(float));
    float *lo = malloc((b * I * HC + 1) * sizeof(float)),
          *hi = malloc((b * I * HC + 1) * sizeof(float));
    float *q = malloc((b * HC * Q + 1) * sizeof(float));
    int rc = in && series && windows && (F == 0 || futures) && (!calendar || dates) && out && lo &&
                     hi && q
                 ? 0
                 : -1;
    for (size_t i0 = 0; rc == 0 && i0 < n; i0 += b) {
        size_t count = n - i0 < b ? n - i0 : b, used = 0;
        size_t which[PREDICT_BATCH];
        for (size_t i = i0; rc == 0 && i < i0 + count; i++) {
            int k = ac_model_series_find(m, set->ids[i]);
            if (k < 0) {
                rc = -1;
                break;
            }
            char label[AC_CONFIG_TEXT + 80];
            snprintf(label, sizeof label, "%s: series '%.60s'", a->input, set->ids[i]);
            if (ac_cli_read_series_input(m, set->tables[i], set->ids[i], label, future, future_set,
                                         a->at, &in[i]) != 0) {
                rc = 1; /* its error is printed */
                break;
            }
            series[used] = k;
            memcpy(windows + used * L * K, in[i].window, (size_t)L * K * sizeof(float));
            if (F > 0) memcpy(futures + used * H * F, in[i].future, (size_t)H * F * sizeof(float));
            if (calendar)
                memcpy(dates + used * (L + H), in[i].dates, (size_t)(L + H) * sizeof(long long));
            which[used++] = i;
        }
        ac_error err;
        if (rc == 0 && ac_model_forecast_batch(m, (int)used, series, windows, futures, dates, out,
                                               lo, hi, q, &err) != AC_OK)
            rc = -1;
        for (size_t j = 0; rc == 0 && j < used; j++)
            if (!(texts[which[j]] = series_csv(m, &in[which[j]], out + j * HC, lo + j * I * HC,
                                               hi + j * I * HC, q + j * HC * Q)))
                rc = 1;
    }
    for (size_t i = 0; in && i < n; i++) ac_cli_model_input_free(&in[i]);
    free(in);
    free(series);
    free(windows);
    free(futures);
    free(dates);
    free(out);
    free(lo);
    free(hi);
    free(q);
    return rc;
}

/* predict of a long-format model: --id's series of the input in the wide layout, or every
 * series of the input (each one in the checkpoint), an id column first. The result in *text. */
static int predict_long(ac_model *m, const ac_cli_window_args *a, const char *id,
                        const char *future, char **text) {
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    if (ac_cli_future_check(m, future) != 0) return AC_EXIT_FAILURE;
    if (a->at && !id) {
        ac_cli_error("predict: --at counts the rows of one series: give it with --id (%s was "
                     "trained on %d series)",
                     a->checkpoint, ck->series_count);
        return AC_EXIT_USAGE;
    }
    if (id && ac_cli_checkpoint_series(ck, "predict", id) < 0) return AC_EXIT_USAGE;
    int H = ac_model_horizon(m), C = ac_model_channels(m);
    int I = ac_model_interval_count(m), Q = ac_model_quantile_count(m);
    size_t HC = (size_t)H * C;
    float *out = malloc(HC * sizeof(float));
    float *lo = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *hi = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *quantiles = malloc((HC * (size_t)Q + 1) * sizeof(float));
    ac_table_set set = {0}, future_set = {0};
    int exit_code = AC_EXIT_FAILURE;
    char **texts = NULL; /* each series' CSV from the batches */
    char *all = NULL;
    size_t size = 0;
    FILE *f = NULL;
    if (!out || !lo || !hi || !quantiles) {
        ac_cli_error("predict: out of memory");
        goto done;
    }
    if (ac_cli_read_long_input(ck, a->input, &set) != 0) goto done;
    if (future && ac_cli_read_long_future(m, future, &future_set) != 0) goto done;
    /* every series: in batches through the model; when a batch cannot be made, series by series
     * (their errors name the series) */
    if (!id) {
        texts = calloc((size_t)set.count + 1, sizeof *texts);
        int rc = texts ? batch_forecasts(m, a, future, &set, &future_set, texts) : -1;
        if (rc > 0) goto done;
        if (rc < 0)
            for (int i = 0; texts && i < set.count; i++) {
                free(texts[i]);
                texts[i] = NULL;
            }
    }
    for (int i = 0; i < set.count; i++) {
        if (id && strcmp(set.ids[i], id) != 0) continue;
        int k = ac_model_series_find(m, set.ids[i]);
        if (k < 0) {
            ac_cli_error("predict: %s: series '%s' is not in %s (it has %d series ids): a model "
                         "of long-format data scales each series with its own scaler; pick one "
                         "with --id",
                         a->input, set.ids[i], a->checkpoint, ck->series_count);
            goto done;
        }
        char label[AC_CONFIG_TEXT + 80];
        snprintf(label, sizeof label, "%s: series '%.60s'", a->input, set.ids[i]);
        char *one = texts && texts[i] ? texts[i]
                                      : series_forecast(m, k, set.tables[i], label, future,
                                                        &future_set, a->at, out, lo, hi, quantiles);
        if (texts) texts[i] = NULL; /* one is freed below */
        if (!one) goto done;
        if (id) { /* the wide layout */
            *text = one;
            exit_code = AC_EXIT_OK;
            goto done;
        }
        if (!f && !(f = open_memstream(&all, &size))) {
            free(one);
            ac_cli_error("predict: out of memory");
            goto done;
        }
        char *body = strchr(one, '\n'); /* after the header line */
        if (i == 0) {
            const char *name = ck->config.data.id_column[0] ? ck->config.data.id_column : "id";
            put_id(f, name);
            fputc(',', f);
            fwrite(one, 1, body ? (size_t)(body - one + 1) : strlen(one), f);
        }
        for (char *line = body ? body + 1 : NULL; line && *line;) {
            char *next = strchr(line, '\n');
            size_t len = next ? (size_t)(next - line + 1) : strlen(line);
            put_id(f, set.ids[i]);
            fputc(',', f);
            fwrite(line, 1, len, f);
            line += len;
        }
        free(one);
    }
    if (id) {
        ac_cli_error("predict: --id %s: %s has no rows of that series (%d ids in it)", id, a->input,
                     set.count);
        goto done;
    }
    if (!f || fclose(f) != 0) {
        f = NULL;
        ac_cli_error("predict: out of memory");
        goto done;
    }
    f = NULL;
    *text = all;
    all = NULL;
    exit_code = AC_EXIT_OK;
done:
    if (f) fclose(f);
    free(all);
    for (int i = 0; texts && i < set.count; i++) free(texts[i]);
    free(texts);
    ac_table_set_free(&set);
    ac_table_set_free(&future_set);
    free(out);
    free(lo);
    free(hi);
    free(quantiles);
    return exit_code;
}

int ac_cli_predict(int argc, char **argv) {
    const char *future = NULL, *id = NULL;
    if (ac_cli_take_option(&argc, argv, "predict", "--future", &future) != 0 ||
        ac_cli_take_option(&argc, argv, "predict", "--id", &id) != 0)
        return AC_EXIT_USAGE;
    ac_cli_window_args a;
    int prc = ac_cli_parse_window_args(argc, argv, "predict", USAGE, HELP, &a);
    if (prc != 0) return prc > 0 ? AC_EXIT_OK : AC_EXIT_USAGE;
    ac_error err;
    ac_model *m = ac_model_load(a.checkpoint, &err);
    if (!m) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    if (ck->series_count > 0 || id) {
        char *text = NULL;
        int exit_code = AC_EXIT_USAGE;
        if (!id || ac_cli_checkpoint_series(ck, "predict", id) >= 0)
            exit_code = predict_long(m, &a, id, future, &text);
        if (exit_code == AC_EXIT_OK && emit(a.out, text) != 0) exit_code = AC_EXIT_FAILURE;
        free(text);
        if (exit_code == AC_EXIT_OK && !ck->has_calibration) {
            fflush(stdout);
            fprintf(stderr,
                    "attncast: note: %s has no conformal intervals (/calibration); add them "
                    "with: attncast calibrate %s\n",
                    a.checkpoint, a.checkpoint);
        }
        ac_model_free(m);
        return exit_code;
    }
    int H = ac_model_horizon(m), C = ac_model_channels(m);
    int I = ac_model_interval_count(m), Q = ac_model_quantile_count(m);
    double levels[AC_INTERVALS_CAP];
    ac_cli_forecast_bounds bounds;
    bound_columns(m, &bounds, levels);
    int exit_code = AC_EXIT_FAILURE;
    ac_cli_model_input in;
    size_t HC = (size_t)H * C;
    float *out = malloc(HC * sizeof(float));
    float *lo = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *hi = malloc(((size_t)I * HC + 1) * sizeof(float));
    float *quantiles = malloc((HC * (size_t)Q + 1) * sizeof(float));
    char *text = NULL;
    if (ac_cli_read_model_input(m, a.input, future, a.at, &in) != 0) goto done;
    if (!out || !lo || !hi || !quantiles) {
        ac_cli_error("predict: out of memory");
        goto done;
    }
    if (ac_model_forecast_covariates(m, in.window, in.future, in.dates, out, lo, hi, quantiles,
                                     &err) != AC_OK) {
        ac_cli_error("%s: %s", a.input, err.msg);
        goto done;
    }
    bounds.lo = lo;
    bounds.hi = hi;
    bounds.values = quantiles;
    text = ac_cli_forecast_bounds_csv(ck, in.table, in.end, out, &bounds);
    if (!text) {
        ac_cli_error("predict: out of memory");
        goto done;
    }
    if (emit(a.out, text) != 0) goto done;
    if (!ck->has_calibration) {
        fflush(stdout);
        fprintf(stderr,
                "attncast: note: %s has no conformal intervals (/calibration); add them with: "
                "attncast calibrate %s\n",
                a.checkpoint, a.checkpoint);
    }
    exit_code = AC_EXIT_OK;
done:
    free(text);
    free(out);
    free(lo);
    free(hi);
    free(quantiles);
    ac_cli_model_input_free(&in);
    ac_model_free(m);
    return exit_code;
}
