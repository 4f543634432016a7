/* window_input.c - reading a forecast window from a CSV for a checkpoint and writing forecasts
 * as CSV, for `predict` and `explain` (see window_input.h). The forecast's dates continue the
 * input's calendar (calendar.h), written in the input's style. */
#include "cli/window_input.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int ac_cli_read_window(const ac_checkpoint *ck, const char *input, int at, ac_table **table,
                       int *end_out, float *window) {
    int L = ck->config.data.lookback, C = ck->channels;
    char columns[AC_CONFIG_TEXT];
    size_t used = 0;
    for (int c = 0; c < C && used < sizeof columns; c++)
        used += (size_t)snprintf(columns + used, sizeof columns - used, "%s%s", c ? "," : "",
                                 ck->channel_names[c]);
    ac_csv_options opt = {.date_column = ck->config.data.date_column,
                          .columns = columns,
                          .check_dates = true,
                          .gaps = AC_GAPS_WARN};
    ac_error err;
    if (ac_table_load_csv(table, input, &opt, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    const ac_table *t = *table;
    char note[AC_ERROR_MAX];
    const char *severity;
    if (ac_table_date_note(t, note, sizeof note, &severity))
        fprintf(stderr, "attncast: %s: %s\n", severity, note);
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
