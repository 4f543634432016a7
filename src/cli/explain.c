/* explain.c - `attncast explain CHECKPOINT --input CSV [--id ID] [--at ROW] [--out DIR]`: for
 * the window
 * ending at the last row (or data row ROW) of a CSV, writes every layer's and head's attention
 * weights, the attention each input step receives, and the forecast:
 *   attention.csv       layer, series, head, query, key, weight (token x token)
 *   step_attention.csv  step, offset, date, one column per layer and series, mean
 *   future_share.csv    (models with future covariates) layer, series, history_share,
 *                       future_share, chance_future_share
 *   forecast.csv        as `attncast predict` writes it
 *   explain.h5          the full tensors (attention, token_attention, step_attention, input,
 *                       forecast; with future covariates also future, history_share and
 *                       future_share) for h5py and friends
 * and prints the most attended steps (runs of steps with the same attention): the largest bars
 * of step_attention.png, numbered alike; with future covariates also the share of attention on
 * the future tokens against the history tokens (explain.h), beside the share expected by
 * chance. A model with future covariates explains windows whose horizon lies in the data (their
 * values there are its future covariates; explain_input.h). A model of long-format data
 * (data.format = long) explains one series of a long-format input, --id's (or the input's only
 * one), scaled with the checkpoint's scaler of its id (ac_explain_series). */
#include <hdf5.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/attncast.h"
#include "attncast/explain.h"
#include "app/plot.h"
#include "app/report.h"
#include "cli/checkpoint_data.h"
#include "cli/cli.h"
#include "cli/explain_input.h"
#include "cli/window_input.h"

static const char *const USAGE =
    "usage: attncast explain CHECKPOINT --input CSV [--id ID] [--at ROW] [--out DIR]";

static const char *const HELP =
    "\n"
    "Shows which past steps the attention looked at for one forecast: the window of the last L\n"
    "rows of CSV, or the rows ending at --at. Prints the most attended input steps of the last\n"
    "layer and writes attention.csv (every layer, series and head), step_attention.csv,\n"
    "forecast.csv (as predict writes it), explain.h5 (the full tensors) and, with gnuplot,\n"
    "attention_layer<l> and step_attention pictures.\n"
    "\n"
    "A model with covariates reads them from CSV too (calendar features from its dates). With\n"
    "future covariates the window must have the horizon's rows after it, whose values are the\n"
    "future covariates (by default the last such window), and explain also prints and writes\n"
    "(future_share.csv, future_share picture) the share of attention on the future tokens\n"
    "against the history tokens, beside the share expected by chance.\n"
    "\n"
    "A model trained on long-format data (data.format = long) reads a long-format input (an\n"
    "id column, dates, values) and explains the series --id ID (needed when the input holds\n"
    "several), scaled with the checkpoint's scaler of that id; --at counts its rows.\n"
    "\n"
    "options:\n"
    "  --input CSV   the data holding the window (required)\n"
    "  --id ID       a long-format model: explain the series ID (its rows of the input)\n"
    "  --at ROW      explain the window ending at data row ROW instead of the last row\n"
    "  --out DIR     the output folder (default explain-row<ROW>; explain-<ID>-row<ROW>)\n"
    "  --help, -h    this help\n"
    "\n"
    "examples:\n"
    "  attncast explain runs/fx/best.h5 --input exchange_rate.csv --out fx-explain\n"
    "  attncast explain runs/fx/best.h5 --input exchange_rate.csv --at 6000\n"
    "  attncast explain runs/stores/best.h5 --input recent_long.csv --id store_7\n";

/* Appends printf text to a growing buffer; returns -1 when memory is short. */
typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf;

static int tb_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tb_printf(text_buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w =
            vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) return -1;
        if (b->data && b->len + (size_t)w < b->cap) {
            b->len += (size_t)w;
            return 0;
        }
        size_t cap = (b->cap ? 2 * b->cap : 1 << 16) + (size_t)w;
        char *p = realloc(b->data, cap);
        if (!p) return -1;
        b->data = p;
        b->cap = cap;
    }
}

static const char *series_name(const ac_checkpoint *ck, const ac_explanation *ex, int s) {
    return ex->series == 1 ? "all" : ck->channel_names[s];
}

static int write_text(const char *dir, const char *name, const text_buf *b) {
    char path[AC_CONFIG_TEXT + 32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ac_error err;
    if (!b->data) {
        ac_cli_error("%s: out of memory", path);
        return -1;
    }
    if (ac_write_file_atomic(path, b->data, b->len, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

static int write_csvs(const char *dir, const ac_checkpoint *ck, const ac_explanation *ex,
                      const ac_table *t, int end) {
    int N = ac_explanation_all_tokens(ex), L = ex->lookback, ns = ex->series;
    text_buf a = {0}, st = {0}, fs = {0};
    int rc = tb_printf(&a, "layer,series,head,query,key,weight\n");
    for (int l = 0; l < ex->layers; l++)
        for (int s = 0; s < ns; s++)
            for (int h = 0; h < ex->heads; h++)
                for (int i = 0; i < N; i++)
                    for (int k = 0; k < N; k++) {
                        size_t idx = ((((size_t)l * ns + s) * ex->heads + h) * N + i) * N + k;
                        rc |= tb_printf(&a, "%d,%s,%d,%d,%d,%.7g\n", l, series_name(ck, ex, s), h,
                                        i, k, (double)ex->attention[idx]);
                    }
    rc |= tb_printf(&st, "step,offset,date");
    for (int l = 0; l < ex->layers; l++)
        for (int s = 0; s < ns; s++) rc |= tb_printf(&st, ",layer%d_%s", l, series_name(ck, ex, s));
    rc |= tb_printf(&st, ",mean\n");
    for (int tt = 0; tt < L; tt++) {
        const char *date = t->dates ? t->dates[end - L + tt] : "";
        rc |= tb_printf(&st, "%d,%d,%s", tt + 1, tt - L, date);
        for (int b = 0; b < ex->layers * ns; b++)
            rc |= tb_printf(&st, ",%.7g", ex->step_attention[(size_t)b * L + tt]);
        rc |= tb_printf(&st, ",%.7g\n", ac_explanation_step_mean(ex, tt));
    }
    if (ex->future_tokens > 0) {
        double chance = ac_explanation_chance_future_share(ex);
        rc |= tb_printf(&fs, "layer,series,history_share,future_share,chance_future_share\n");
        for (int l = 0; l < ex->layers; l++)
            for (int s = 0; s < ns; s++) {
                size_t b = (size_t)l * ns + s;
                rc |= tb_printf(&fs, "%d,%s,%.7g,%.7g,%.7g\n", l, series_name(ck, ex, s),
                                ex->history_share[b], ex->future_share[b], chance);
            }
        rc |= tb_printf(&fs, "mean,mean,%.7g,%.7g,%.7g\n", ac_explanation_history_share_mean(ex),
                        ac_explanation_future_share_mean(ex), chance);
    }
    char *fc = ac_cli_forecast_csv(ck, t, end, ex->forecast);
    text_buf f = {.data = fc, .len = fc ? strlen(fc) : 0, .cap = fc ? strlen(fc) + 1 : 0};
    if (rc != 0) {
        free(a.data);
        a.data = NULL;
    }
    int ok = write_text(dir, "attention.csv", &a) == 0 &&
             write_text(dir, "step_attention.csv", &st) == 0 &&
             (ex->future_tokens == 0 || write_text(dir, "future_share.csv", &fs) == 0) &&
             write_text(dir, "forecast.csv", &f) == 0;
    free(a.data);
    free(st.data);
    free(fs.data);
    free(fc);
    return ok ? 0 : -1;
}

/* An int or double attribute of the file's root group. */
static herr_t root_attribute(hid_t f, const char *name, hid_t type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(f, name, type == H5T_NATIVE_INT ? H5T_STD_I32LE : H5T_IEEE_F64LE, space,
                          H5P_DEFAULT, H5P_DEFAULT);
    herr_t status = at < 0 ? -1 : H5Awrite(at, type, value);
    if (at >= 0) H5Aclose(at);
    H5Sclose(space);
    return status;
}

/* explain.h5: the full tensors, written through a temporary name and renamed. */
static int write_h5(const char *dir, const ac_explanation *ex, const float *window,
                    const float *future) {
    char path[AC_CONFIG_TEXT + 32], tmp[AC_CONFIG_TEXT + 48];
    snprintf(path, sizeof path, "%s/explain.h5", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!getenv("ATTNCAST_DEBUG")) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        ac_cli_error("%s: cannot create", path);
        return -1;
    }
    int L = ex->lookback, ns = ex->series, T = ac_explanation_all_tokens(ex);
    struct {
        const char *name;
        int rank;
        hsize_t dims[5];
        hid_t file_type, mem_type;
        const void *data;
    } sets[] = {
        {"attention",
         5,
         {ex->layers, ns, ex->heads, T, T},
         H5T_IEEE_F32LE,
         H5T_NATIVE_FLOAT,
         ex->attention},
        {"token_attention",
         3,
         {ex->layers, ns, T},
         H5T_IEEE_F64LE,
         H5T_NATIVE_DOUBLE,
         ex->token_attention},
        {"step_attention",
         3,
         {ex->layers, ns, L},
         H5T_IEEE_F64LE,
         H5T_NATIVE_DOUBLE,
         ex->step_attention},
        {"input", 2, {L, ex->columns}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, window},
        {"forecast",
         2,
         {ex->horizon, ex->channels},
         H5T_IEEE_F32LE,
         H5T_NATIVE_FLOAT,
         ex->forecast},
        /* with future covariates only: */
        {"future",
         2,
         {ex->horizon, ex->future_covariates},
         H5T_IEEE_F32LE,
         H5T_NATIVE_FLOAT,
         future},
        {"history_share",
         2,
         {ex->layers, ns},
         H5T_IEEE_F64LE,
         H5T_NATIVE_DOUBLE,
         ex->history_share},
        {"future_share", 2, {ex->layers, ns}, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, ex->future_share},
    };
    size_t n_sets = ex->future_tokens > 0 ? sizeof sets / sizeof sets[0] : 5;
    herr_t status = 0;
    for (size_t i = 0; i < n_sets && status >= 0; i++) {
        hid_t space = H5Screate_simple(sets[i].rank, sets[i].dims, NULL);
        hid_t ds = H5Dcreate2(f, sets[i].name, sets[i].file_type, space, H5P_DEFAULT, H5P_DEFAULT,
                              H5P_DEFAULT);
        status = ds < 0
                     ? -1
                     : H5Dwrite(ds, sets[i].mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, sets[i].data);
        if (ds >= 0) H5Dclose(ds);
        H5Sclose(space);
    }
    if (ex->future_tokens > 0 && status >= 0) {
        double chance = ac_explanation_chance_future_share(ex);
        status =
            root_attribute(f, "history_tokens", H5T_NATIVE_INT, &ex->tokens) < 0 ||
                    root_attribute(f, "future_tokens", H5T_NATIVE_INT, &ex->future_tokens) < 0 ||
                    root_attribute(f, "chance_future_share", H5T_NATIVE_DOUBLE, &chance) < 0
                ? -1
                : 0;
    }
    if (H5Fclose(f) < 0) status = -1;
    if (status < 0 || rename(tmp, path) != 0) {
        remove(tmp);
        ac_cli_error("%s: cannot write", path);
        return -1;
    }
    return 0;
}

/* The share of attention on the future tokens against the history tokens, per layer and
 * series and their mean, beside the share expected by chance. */
static void print_shares(const ac_checkpoint *ck, const ac_explanation *ex) {
    int ns = ex->series;
    double chance = ac_explanation_chance_future_share(ex);
    printf("share of attention on the %d future-covariate and the %d history tokens (mean over "
           "heads and query tokens; by chance the future tokens get %.4f):\n",
           ex->future_tokens, ex->tokens, chance);
    for (int l = 0; l < ex->layers; l++)
        for (int s = 0; s < ns; s++) {
            size_t b = (size_t)l * ns + s;
            printf("  layer %d, series %s: history %.4f, future %.4f (chance %.4f)\n", l,
                   series_name(ck, ex, s), ex->history_share[b], ex->future_share[b], chance);
        }
    printf("  mean over layers and series: history %.4f, future %.4f (chance %.4f)\n",
           ac_explanation_history_share_mean(ex), ac_explanation_future_share_mean(ex), chance);
}

/* The series of a long-format input that explain reads (MODEL.md "Many series"): --id's, or
 * the input's only one; *k its index among the checkpoint's series, *t its table (the set's),
 * label names it in the messages. 0, or -1 after a one-line error; *status the exit status. */
static int long_series(const ac_checkpoint *ck, const ac_cli_window_args *a, const char *id,
                       ac_table_set *set, ac_table **t, int *k, char *label, size_t size,
                       int *status) {
    *status = AC_EXIT_USAGE;
    if (id && (*k = ac_cli_checkpoint_series(ck, "explain", id)) < 0) return -1;
    *status = AC_EXIT_FAILURE;
    if (ac_cli_read_long_input(ck, a->input, set) != 0) return -1;
    if (!id && set->count != 1) {
        *status = AC_EXIT_USAGE;
        ac_cli_error("explain: %s holds %d series and %s was trained on long-format data: pick "
                     "one with --id (e.g. --id %.60s)",
                     a->input, set->count, a->checkpoint, set->count ? set->ids[0] : "ID");
        return -1;
    }
    int i = 0;
    while (id && i < set->count && strcmp(set->ids[i], id) != 0) i++;
    if (i == set->count) {
        ac_cli_error("explain: --id %s: %s has no rows of that series (%d ids in it)", id, a->input,
                     set->count);
        return -1;
    }
    if (!id && (*k = ac_cli_checkpoint_series(ck, "explain", set->ids[0])) < 0) return -1;
    *t = set->tables[i];
    snprintf(label, size, "%s: series '%.60s'", a->input, set->ids[i]);
    char note[AC_ERROR_MAX];
    const char *severity;
    if (ac_table_date_note(*t, note, sizeof note, &severity))
        fprintf(stderr, "attncast: %s: %s: %s\n", severity, label, note);
    return 0;
}

/* The default output folder of a series' explanation: explain-<id>-row<ROW>, the id's
 * characters other than letters, digits, '.', '_' and '-' written as '_'. */
static void series_dir(const char *id, int end, char *dir, size_t size) {
    char safe[64];
    size_t n = 0;
    for (const char *p = id; *p && n + 1 < sizeof safe; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        safe[n++] = ok ? (char)c : '_';
    }
    safe[n] = '\0';
    snprintf(dir, size, "explain-%s-row%d", safe, end);
}

int ac_cli_explain(int argc, char **argv) {
    const char *id = NULL;
    if (ac_cli_take_option(&argc, argv, "explain", "--id", &id) != 0) return AC_EXIT_USAGE;
    ac_cli_window_args a;
    int prc = ac_cli_parse_window_args(argc, argv, "explain", USAGE, HELP, &a);
    if (prc != 0) return prc > 0 ? AC_EXIT_OK : AC_EXIT_USAGE;
    ac_checkpoint *ck = ac_cli_checkpoint_read(a.checkpoint);
    if (!ck) return AC_EXIT_FAILURE;
    if (id && ck->series_count == 0) {
        ac_cli_checkpoint_series(ck, "explain", id); /* the error: --id of a wide table */
        ac_ckpt_free(ck);
        return AC_EXIT_USAGE;
    }
    ac_error err;
    const ac_model_spec *spec = ac_forecaster_spec(ck->model);
    int L = spec->lookback, H = spec->horizon, C = ck->channels, exit_code = AC_EXIT_FAILURE;
    int cols = ac_model_spec_columns(spec), Kf = spec->future_covariates, end = 0, sk = -1;
    ac_table *t = NULL;
    ac_table_set set = {0};
    ac_explanation ex = {0};
    float *window = malloc((size_t)L * cols * sizeof(float));
    float *future = Kf > 0 ? malloc((size_t)H * Kf * sizeof(float)) : NULL;
    char dir[AC_CONFIG_TEXT], label[AC_CONFIG_TEXT + 80];
    const char *what = a.input; /* the input, or the series of it, in the messages */
    if (!window || (Kf > 0 && !future)) {
        ac_cli_error("explain: out of memory");
        goto done;
    }
    if (ck->series_count > 0) { /* one series of a long-format input, with its scaler */
        if (long_series(ck, &a, id, &set, &t, &sk, label, sizeof label, &exit_code) != 0 ||
            ac_cli_table_window(ck, t, label, a.at, &end, window, future) != 0)
            goto done;
        what = label;
    } else if ((cols > C /* a model with covariates reads every column of its input steps */
                    ? ac_cli_read_covariate_window(ck, a.input, a.at, &t, &end, window, future)
                    : ac_cli_read_window(ck, a.input, a.at, &t, &end, window)) != 0) {
        goto done;
    }
    exit_code = AC_EXIT_FAILURE;
    if (a.out)
        snprintf(dir, sizeof dir, "%s", a.out);
    else if (sk >= 0)
        series_dir(ck->series_ids[sk], end, dir, sizeof dir);
    else
        snprintf(dir, sizeof dir, "explain-row%d", end);
    ac_config where;
    ac_config_defaults(&where);
    memcpy(where.output.dir, dir, sizeof dir);
    if (ac_run_dir_create(&where, dir, sizeof dir, &err) != AC_OK ||
        (sk >= 0 ? ac_explain_series(ck, sk, window, future, &ex, &err)
                 : ac_explain_future(ck, window, future, &ex, &err)) != AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    if (write_csvs(dir, ck, &ex, t, end) != 0 || write_h5(dir, &ex, window, future) != 0) goto done;
    char *const *dates = t->dates ? t->dates + (end - L) : NULL; /* the window's, if any */
    if (ac_plot_explanation(dir, &ex, window, ck->channel_names, dates, &err) != AC_OK)
        fprintf(stderr, "attncast: note: %s\n", err.msg);
    /* the spans step_attention.png numbers, by the quantity its bars show */
    ac_step_span top[AC_EXPLAIN_TOP_SPANS];
    int n_top = ac_explanation_top_spans(&ex, AC_EXPLAIN_TOP_SPANS, top);
    char future_tokens[64] = "";
    if (ex.future_tokens > 0)
        snprintf(future_tokens, sizeof future_tokens, ", then %d future-covariate token%s",
                 ex.future_tokens, ex.future_tokens > 1 ? "s" : "");
    printf("explained the forecast after data row %d of %s (%d layers x %d heads, %d tokens of %d "
           "steps%s)\nmost attended input steps (mean over layers and series, numbered as in "
           "step_attention.png):\n",
           end, what, ex.layers, ex.heads, ex.tokens, ex.patch_len, future_tokens);
    for (int k = 0; k < n_top; k++) {
        int first = top[k].first, last = first + top[k].count - 1;
        if (first == last)
            printf("  %d. step  %3d (offset %4d)%s%s  %.4f\n", k + 1, first + 1, first - L,
                   dates ? "  " : "", dates ? dates[first] : "", top[k].attention);
        else
            printf("  %d. steps %3d-%d (offsets %d to %d)%s%s%s%s  %.4f each\n", k + 1, first + 1,
                   last + 1, first - L, last - L, dates ? "  " : "", dates ? dates[first] : "",
                   dates ? " to " : "", dates ? dates[last] : "", top[k].attention);
    }
    if (ex.future_tokens > 0) print_shares(ck, &ex);
    bool shares = ex.future_tokens > 0, plots = ac_plot_available();
    printf("wrote %s/ attention.csv, step_attention.csv, %sforecast.csv, explain.h5%s%s\n", dir,
           shares ? "future_share.csv, " : "",
           plots ? ", attention_layer*.png, step_attention.png" : "",
           plots && shares ? ", future_share.png" : "");
    exit_code = AC_EXIT_OK;
done:
    ac_explanation_free(&ex);
    free(window);
    free(future);
    if (ck->series_count == 0) ac_table_free(t); /* else the set's */
    ac_table_set_free(&set);
    ac_ckpt_free(ck);
    return exit_code;
}
