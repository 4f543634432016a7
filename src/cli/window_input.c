/* window_input.c - reading a forecast window from a CSV for a checkpoint and writing forecasts
 * as CSV, for `predict` and `explain` (see window_input.h). The forecast's dates continue the
 * input's calendar (calendar.h), written in the input's style. */
#include "cli/window_input.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* The first n of the checkpoint's column names, comma-separated, into columns. */
bool ac_cli_column_list(const ac_checkpoint *ck, int n, char *columns, size_t size) {
    size_t used = 0;
    columns[0] = '\0';
    for (int c = 0; c < n; c++) {
        int w = snprintf(columns + used, size - used, "%s%s", c ? "," : "", ck->channel_names[c]);
        if (w < 0 || (size_t)w >= size - used) return false;
        used += (size_t)w;
    }
    return true;
}

/* The data row (1-based) the window of table t ends at: at, or its last row; named input in
 * the errors. 0, or -1 after a one-line error. */
static int window_end(const ac_checkpoint *ck, const ac_table *t, const char *input, int at,
                      int *end_out) {
    int L = ck->config.data.lookback;
    int end = at ? at : t->rows;
    if (end > t->rows) {
        ac_cli_error("%s: --at %d is past the last data row (%d)", input, end, t->rows);
        return -1;
    }
    if (end < L) {
        ac_cli_error("%s: the model needs %d rows before the forecast, the input has %d%s", input,
                     L, end, at ? " up to --at" : "");
        return -1;
    }
    *end_out = end;
    return 0;
}

/* How new data is read for a checkpoint: the first n of its columns (into columns, a buffer of
 * AC_CONFIG_TEXT bytes), its date column, dates checked with gaps kept. */
static ac_csv_options input_options(const ac_checkpoint *ck, int n, char *columns) {
    ac_cli_column_list(ck, n, columns, AC_CONFIG_TEXT); /* a cut list names a missing column */
    return (ac_csv_options){.date_column = ck->config.data.date_column,
                            .columns = columns,
                            .check_dates = true,
                            .gaps = AC_GAPS_WARN};
}

int ac_cli_load_checkpoint_csv(const ac_checkpoint *ck, int n, const char *input,
                               ac_table **table) {
    char columns[AC_CONFIG_TEXT];
    ac_csv_options opt = input_options(ck, n, columns);
    ac_error err;
    if (ac_table_load_csv(table, input, &opt, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    char note[AC_ERROR_MAX];
    const char *severity;
    if (ac_table_date_note(*table, note, sizeof note, &severity))
        fprintf(stderr, "attncast: %s: %s\n", severity, note);
    return 0;
}

/* ac_cli_load_checkpoint_csv, then the data row the window ends at (*end_out). 0, or -1 after
 * a one-line error. */
static int load_input(const ac_checkpoint *ck, int n, const char *input, int at, ac_table **table,
                      int *end_out) {
    if (ac_cli_load_checkpoint_csv(ck, n, input, table) != 0) return -1;
    return window_end(ck, *table, input, at, end_out);
}

int ac_cli_read_long_input(const ac_checkpoint *ck, const char *input, ac_table_set *set) {
    char columns[AC_CONFIG_TEXT];
    ac_csv_options opt = input_options(ck, ck->columns, columns);
    ac_error err;
    if (ac_table_load_long_csv(set, input, &opt, ck->config.data.id_column, NULL, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

int ac_cli_read_window(const ac_checkpoint *ck, const char *input, int at, ac_table **table,
                       int *end_out, float *window) {
    int L = ck->config.data.lookback, C = ck->channels, end = 0;
    if (load_input(ck, C, input, at, table, &end) != 0) return -1;
    const ac_table *t = *table;
    for (int r = 0; r < L; r++)
        for (int c = 0; c < C; c++)
            window[r * C + c] = (float)t->values[(size_t)(end - L + r) * C + c];
    *end_out = end;
    return 0;
}

/* The calendar of the forecast's dates: the checkpoint's frequency when the input's dates up to
 * row end follow it exactly (a short input cannot tell business days from days, say); else the
 * input's own; else the checkpoint's when the dates at least lie on it; else none. */
static ac_freq forecast_freq(const ac_checkpoint *ck, const ac_table *t, int end) {
    ac_freq stored = {AC_FREQ_UNKNOWN, 0};
    if (!t->date_report.checked || end < 1) return stored;
    ac_freq_parse(ck->config.data.frequency, &stored);
    long long *secs = malloc((size_t)end * sizeof *secs);
    bool parsed = secs != NULL;
    for (int r = 0; parsed && r < end; r++) {
        ac_date_style st;
        parsed = ac_date_parse(t->dates[r], &secs[r], &st);
    }
    ac_calendar_steps s = {0};
    if (parsed && ac_freq_known(stored)) ac_calendar_steps_count(stored, secs, end, &s);
    free(secs);
    bool lies_on_stored = parsed && ac_freq_known(stored) && !s.irregular;
    if (lies_on_stored && !s.gaps) return stored;
    if (ac_freq_known(t->freq)) return t->freq;
    return lies_on_stored ? stored : (ac_freq){AC_FREQ_UNKNOWN, 0};
}

/* "hour_of_day,day_of_week" of a calendar feature set into buf. */
static const char *calendar_list(unsigned features, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT && used < n; i++)
        if (features & (1u << i))
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "," : "",
                                     ac_calendar_feature_name(i));
    return buf;
}

/* The future covariates' CSV: columns (the model's real future covariates, comma-separated) and
 * the options it is read with. */
static ac_csv_options future_options(const ac_model *m, char *columns, size_t size) {
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    int K = ac_model_columns(m), F = ac_model_future_columns(m);
    size_t used = 0;
    columns[0] = '\0';
    for (int j = 0; j < F && used < size; j++)
        used += (size_t)snprintf(columns + used, size - used, "%s%s", j ? "," : "",
                                 ac_model_column_name(m, K - F + j));
    return (ac_csv_options){.date_column = ck->config.data.date_column, .columns = columns};
}

/* Where the future covariates' rows come from: a wide CSV at path (read here), or the rows of
 * series id of a long-format one (table, NULL when it has none; read by the caller). */
typedef struct future_source {
    const char *path;
    const char *id;        /* long format: the series (NULL: a wide CSV) */
    const ac_table *table; /* long format: its rows, sorted by date */
} future_source;

/* The future covariates' H rows into in->future, matched to the forecast's dates (horizon[h], on
 * freq after the input's last date `last`, written in style) when dated, else their first H rows
 * in order. 0 or -1 after a one-line error. */
static int read_future(const ac_model *m, const future_source *src, ac_freq freq, bool dated,
                       long long last, const long long *horizon, const ac_date_style *style,
                       float *future) {
    int H = ac_model_horizon(m), F = ac_model_future_columns(m);
    const char *path = src->path;
    char columns[AC_CONFIG_TEXT], label[AC_CONFIG_TEXT + 80];
    ac_csv_options opt = future_options(m, columns, sizeof columns);
    ac_table *loaded = NULL;
    const ac_table *ft = src->table;
    ac_error err;
    int rc = -1;
    if (src->id) { /* the messages name the series, its rows counted from 1 */
        snprintf(label, sizeof label, "%s: series '%.60s'", src->path, src->id);
        path = label;
        if (!ft) {
            char want[AC_DATE_TEXT] = "";
            if (dated) ac_date_format(horizon[0], style, want, sizeof want);
            ac_cli_error("%s: no rows of series '%.60s': its forecast needs the future "
                         "covariates of its %d horizon steps%s%s",
                         src->path, src->id, H, dated ? " from " : "", want);
            goto done;
        }
    } else {
        if (ac_table_load_csv(&loaded, path, &opt, &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            goto done;
        }
        ft = loaded;
    }
    if (dated && !ft->dates) {
        ac_cli_error("%s: no date column to match the forecast's dates with (the model's "
                     "data.date_column, else a column named date)",
                     path);
        goto done;
    }
    for (int h = 0; h < H; h++) {
        char want[AC_DATE_TEXT] = "", row[32];
        if (dated) ac_date_format(horizon[h], style, want, sizeof want);
        if (src->id)
            snprintf(row, sizeof row, "its row %d", h + 1);
        else
            snprintf(row, sizeof row, "line %d", h + 2);
        if (h >= ft->rows) {
            if (dated && src->id)
                ac_cli_error("%s: no row for %s (step %d of the horizon's %d): the series has "
                             "%d row(s)",
                             path, want, h + 1, H, ft->rows);
            else if (dated)
                ac_cli_error("%s: no row for %s (step %d of the horizon's %d): the file ends at "
                             "line %d",
                             path, want, h + 1, H, ft->rows + 1);
            else
                ac_cli_error("%s: %d row(s), the horizon needs %d (the input's dates follow no "
                             "frequency, so the rows are taken in order)",
                             path, ft->rows, H);
            goto done;
        }
        long long secs;
        ac_date_style st;
        if (dated && !ac_date_parse(ft->dates[h], &secs, &st)) {
            ac_cli_error("%s: %s: the date '%s' does not parse", path, row, ft->dates[h]);
            goto done;
        }
        if (dated && secs != horizon[h]) {
            char origin[AC_DATE_TEXT];
            ac_date_format(last, style, origin, sizeof origin);
            long long periods;
            char fq[AC_FREQ_TEXT];
            if (secs <= last)
                ac_cli_error("%s: %s: %s is not after the input's last date %s: the rows "
                             "must begin at the forecast's first date, %s",
                             path, row, ft->dates[h], origin, want);
            else if (!ac_freq_periods(freq, last, secs, &periods))
                ac_cli_error("%s: %s: %s is off the forecast's calendar (frequency %s from %s): "
                             "step %d of the horizon is %s",
                             path, row, ft->dates[h], ac_freq_name(freq, fq), origin, h + 1, want);
            else if (secs > horizon[h])
                ac_cli_error("%s: no row for %s (step %d of the horizon's %d): %s has %s", path,
                             want, h + 1, H, row, ft->dates[h]);
            else
                ac_cli_error("%s: %s: %s is out of order (repeated or earlier): step %d of "
                             "the horizon is %s",
                             path, row, ft->dates[h], h + 1, want);
            goto done;
        }
        for (int j = 0; j < F; j++) future[h * F + j] = (float)ft->values[(size_t)h * F + j];
    }
    rc = 0;
done:
    ac_table_free(loaded);
    return rc;
}

static int fill_model_input(const ac_model *m, const char *input, const future_source *future,
                            ac_cli_model_input *in);

int ac_cli_future_check(const ac_model *m, const char *future_csv) {
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    int H = ac_model_horizon(m), K = ac_model_columns(m);
    int F = ac_model_future_columns(m);
    unsigned calendar = ac_model_calendar(m);
    if (future_csv && F == 0) {
        ac_cli_error("%s: --future %s: the model has no future covariates to read "
                     "(data.future_covariates)%s",
                     ck->path, future_csv,
                     calendar ? "; its calendar features come from the dates" : "");
        return -1;
    }
    if (!future_csv && F > 0) {
        ac_cli_error("%s: the model has %d future covariate(s) (%s%s): give their %d rows after "
                     "the forecast's origin with --future CSV",
                     ck->path, F, ac_model_column_name(m, K - F), F > 1 ? ", ..." : "", H);
        return -1;
    }
    return 0;
}

int ac_cli_read_model_input(const ac_model *m, const char *input, const char *future_csv, int at,
                            ac_cli_model_input *in) {
    memset(in, 0, sizeof *in);
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    if (ac_cli_future_check(m, future_csv) != 0) return -1;
    if (load_input(ck, ac_model_columns(m), input, at, &in->table, &in->end) != 0) return -1;
    future_source src = {.path = future_csv};
    return fill_model_input(m, input, &src, in);
}

int ac_cli_read_long_future(const ac_model *m, const char *future_csv, ac_table_set *set) {
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    char columns[AC_CONFIG_TEXT];
    ac_csv_options opt = future_options(m, columns, sizeof columns);
    ac_error err;
    if (ac_table_load_long_csv(set, future_csv, &opt, ck->config.data.id_column, NULL, &err) !=
        AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

int ac_cli_read_series_input(const ac_model *m, ac_table *table, const char *id, const char *label,
                             const char *future_csv, const ac_table_set *future_set, int at,
                             ac_cli_model_input *in) {
    memset(in, 0, sizeof *in);
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    if (ac_cli_future_check(m, future_csv) != 0) return -1;
    in->table = table;
    in->borrowed = true;
    char note[AC_ERROR_MAX];
    const char *severity;
    if (ac_table_date_note(table, note, sizeof note, &severity))
        fprintf(stderr, "attncast: %s: %s: %s\n", severity, label, note);
    if (window_end(ck, table, label, at, &in->end) != 0) return -1;
    future_source src = {.path = future_csv, .id = id};
    for (int i = 0; future_set && i < future_set->count && !src.table; i++)
        if (!strcmp(future_set->ids[i], id)) src.table = future_set->tables[i];
    return fill_model_input(m, label, &src, in);
}

/* The window (and future rows and dates) of in->table ending at in->end, for the model. */
static int fill_model_input(const ac_model *m, const char *input, const future_source *future,
                            ac_cli_model_input *in) {
    const ac_checkpoint *ck = ac_model_checkpoint(m);
    int L = ac_model_lookback(m), H = ac_model_horizon(m), K = ac_model_columns(m);
    int F = ac_model_future_columns(m);
    unsigned calendar = ac_model_calendar(m);
    const ac_table *t = in->table;
    int end = in->end;
    in->window = malloc((size_t)L * K * sizeof *in->window);
    in->future = F > 0 ? malloc((size_t)H * F * sizeof *in->future) : NULL;
    in->dates = malloc((size_t)(L + H) * sizeof *in->dates);
    if (!in->window || (F > 0 && !in->future) || !in->dates) {
        ac_cli_error("predict: out of memory");
        return -1;
    }
    for (int r = 0; r < L; r++)
        for (int c = 0; c < K; c++)
            in->window[r * K + c] = (float)t->values[(size_t)(end - L + r) * K + c];
    if (F == 0 && !calendar) {
        free(in->dates);
        in->dates = NULL;
        return 0;
    }
    /* the horizon's dates: those the forecast's CSV writes */
    ac_freq freq = forecast_freq(ck, t, end);
    long long last = 0;
    ac_date_style style;
    bool dated = ac_freq_known(freq) && ac_date_parse(t->dates[end - 1], &last, &style);
    for (int h = 0; dated && h < H; h++) in->dates[L + h] = ac_freq_step(freq, last, h + 1);
    if (calendar) {
        char features[160];
        calendar_list(calendar, features, sizeof features);
        if (!t->dates) {
            ac_cli_error("%s: the model computes calendar features (data.calendar = %s) from "
                         "the dates, and the input has no date column",
                         input, features);
            return -1;
        }
        for (int r = 0; r < L; r++) {
            ac_date_style st;
            if (!ac_date_parse(t->dates[end - L + r], &in->dates[r], &st)) {
                ac_cli_error("%s: data row %d: the date '%s' does not parse, and the model "
                             "computes calendar features (data.calendar = %s) from it",
                             input, end - L + r + 1, t->dates[end - L + r], features);
                return -1;
            }
        }
        if (!dated) {
            ac_cli_error("%s: the model computes calendar features (data.calendar = %s) of the "
                         "horizon's dates, and the input's dates follow no frequency to continue "
                         "(data.frequency)",
                         input, features);
            return -1;
        }
    }
    if (F > 0 &&
        read_future(m, future, freq, dated, last, in->dates + L, &t->date_style, in->future) != 0)
        return -1;
    if (!calendar) { /* the dates were only for matching the future rows */
        free(in->dates);
        in->dates = NULL;
    }
    return 0;
}

void ac_cli_model_input_free(ac_cli_model_input *in) {
    if (!in->borrowed) ac_table_free(in->table);
    free(in->window);
    free(in->future);
    free(in->dates);
    memset(in, 0, sizeof *in);
}

char *ac_cli_forecast_csv(const ac_checkpoint *ck, const ac_table *t, int end, const float *out) {
    return ac_cli_forecast_bounds_csv(ck, t, end, out, NULL);
}

/* The forecast as CSV text (malloc'd): header, then H rows. */
char *ac_cli_forecast_bounds_csv(const ac_checkpoint *ck, const ac_table *t, int end,
                                 const float *out, const ac_cli_forecast_bounds *b) {
    int H = ck->config.data.horizon, C = ck->channels;
    int K = b ? b->cols.conformal : 0, Q = b ? b->cols.quantiles : 0;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) return NULL;
    ac_freq freq = forecast_freq(ck, t, end);
    long long last = 0;
    ac_date_style st;
    bool dated = ac_freq_known(freq) && ac_date_parse(t->dates[end - 1], &last, &st);
    fprintf(f, "%s", dated ? (t->date_name ? t->date_name : "date") : "step");
    for (int c = 0; c < C; c++) {
        const char *name = ck->channel_names[c];
        fprintf(f, ",%s", name);
        if (b) {
            char prefix[AC_CONFIG_TEXT];
            snprintf(prefix, sizeof prefix, "%s_", name);
            ac_cli_bound_header(f, prefix, &b->cols);
        }
    }
    fprintf(f, "\n");
    for (int h = 0; h < H; h++) {
        char label[AC_DATE_TEXT];
        if (dated)
            ac_date_format(ac_freq_step(freq, last, h + 1), &t->date_style, label, sizeof label);
        else
            snprintf(label, sizeof label, "%d", h + 1);
        fprintf(f, "%s", label);
        for (int c = 0; c < C; c++) {
            size_t cell = (size_t)h * C + c;
            fprintf(f, ",%.9g", (double)out[cell]);
            for (int k = 0; k < K; k++) {
                size_t at = (size_t)k * H * C + cell;
                fprintf(f, ",%.9g,%.9g", (double)b->lo[at], (double)b->hi[at]);
            }
            for (int q = 0; q < Q; q++) fprintf(f, ",%.9g", (double)b->values[cell * Q + q]);
        }
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int ac_cli_take_option(int *argc, char **argv, const char *verb, const char *option,
                       const char **value) {
    *value = NULL;
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], option) != 0) {
            argv[kept++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            ac_cli_error("%s: %s needs a value", verb, option);
            return -1;
        }
        if (*value) {
            ac_cli_error("%s: %s is given twice", verb, option);
            return -1;
        }
        *value = argv[++i];
    }
    *argc = kept;
    return 0;
}

int ac_cli_parse_window_args(int argc, char **argv, const char *verb, const char *usage,
                             const char *help, ac_cli_window_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            printf("%s\n%s", usage, help);
            return 1;
        } else if (!strcmp(arg, "--input") || !strcmp(arg, "--out") || !strcmp(arg, "--at")) {
            if (i + 1 >= argc) {
                ac_cli_error("%s: %s needs a value", verb, arg);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--input"))
                a->input = v;
            else if (!strcmp(arg, "--out"))
                a->out = v;
            else if (ac_cli_parse_positive("--at", v, &a->at) != 0)
                return -1;
        } else if (arg[0] == '-') {
            ac_cli_error("%s: unknown option '%s' (%s)", verb, arg, usage);
            return -1;
        } else if (a->checkpoint) {
            ac_cli_error("%s: one checkpoint expected, got '%s' and '%s'", verb, a->checkpoint,
                         arg);
            return -1;
        } else {
            a->checkpoint = arg;
        }
    }
    if (!a->checkpoint || !a->input) {
        ac_cli_error("%s: %s", verb, usage);
        return -1;
    }
    return 0;
}
