/* windows.c - the chronological split, the training-row scaler and sliding windows (see
 * include/attncast/windows.h for the exact rules, which are MODEL.md's). */
#include "attncast/windows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ac_split_kind_name(ac_split_kind kind) {
    static const char *const names[] = {"train", "val", "test", "all"};
    return (unsigned)kind < 4 ? names[kind] : "unknown";
}

/* The row counts of each split, unchecked. */
static ac_split split_rows(int rows, const double f[3]) {
    ac_split s = {.rows = rows};
    s.n_train = (int)floor(f[0] * rows);
    s.n_test = (int)floor(f[2] * rows);
    s.n_val = rows - s.n_train - s.n_test;
    return s;
}

/* The split that bounds the horizon most: every horizon up to min(n_val, n_test, n_train - 1)
 * fits (the training split also holds a lookback of at least 1). */
static int max_horizon(const ac_split *s, const char **limit, int *limit_rows) {
    int h = s->n_train - 1;
    *limit = "training";
    *limit_rows = s->n_train;
    if (s->n_val < h) {
        h = s->n_val;
        *limit = "validation";
        *limit_rows = s->n_val;
    }
    if (s->n_test < h) {
        h = s->n_test;
        *limit = "test";
        *limit_rows = s->n_test;
    }
    return h;
}

ac_status ac_split_compute(int rows, const double f[3], int L, int H, ac_split *out,
                           ac_error *err) {
    ac_split s = split_rows(rows, f);
    const char *limit;
    int limit_rows, h_max = max_horizon(&s, &limit, &limit_rows);
    char split[96];
    snprintf(split, sizeof split, "data.split = %g,%g,%g of %d rows", f[0], f[1], f[2], rows);
    if (h_max < 1)
        return ac_error_set(err, AC_ERR_INVALID,
                            "the %s split has %d row(s) (%s), too few for any window; every split "
                            "needs a horizon (the training split a lookback too): use a longer "
                            "series or change data.split",
                            limit, limit_rows, split);
    if (H > h_max)
        return ac_error_set(err, AC_ERR_INVALID,
                            "data.horizon = %d does not fit: the %s split has %d rows (%s); the "
                            "largest horizon that fits is %d, and with it the largest "
                            "data.lookback is %d",
                            H, limit, limit_rows, split, h_max, s.n_train - h_max);
    if (L + H > s.n_train)
        return ac_error_set(err, AC_ERR_INVALID,
                            "data.lookback = %d does not fit: with data.horizon = %d a training "
                            "window needs %d rows, the training split has %d (%s); the largest "
                            "lookback that fits is %d",
                            L, H, L + H, s.n_train, split, s.n_train - H);
    *out = s;
    return AC_OK;
}

bool ac_split_suggest(int rows, const double f[3], int L, int H, int *lookback, int *horizon) {
    ac_split s = split_rows(rows, f);
    const char *limit;
    int limit_rows, h_max = max_horizon(&s, &limit, &limit_rows);
    if (h_max < 1) return false;
    *horizon = H < h_max ? H : h_max;
    int l_max = s.n_train - *horizon;
    *lookback = L <= l_max ? L : (l_max / 2 > 1 ? l_max / 2 : 1);
    return true;
}

ac_status ac_scaler_fit(ac_scaler *sc, const double *values, int rows, int stride, int columns,
                        int channels, ac_error *err) {
    memset(sc, 0, sizeof *sc);
    if (channels < 1 || columns < channels || stride < columns)
        return ac_error_set(err, AC_ERR_INVALID,
                            "scaler: %d target channel(s) among %d column(s) of rows of %d values",
                            channels, columns, stride);
    sc->mean = calloc((size_t)columns, sizeof(double));
    sc->std = calloc((size_t)columns, sizeof(double));
    if (!sc->mean || !sc->std) {
        ac_scaler_free(sc);
        return ac_error_set(err, AC_ERR_NOMEM, "scaler: out of memory");
    }
    sc->channels = channels;
    sc->columns = columns;
    for (int c = 0; c < columns; c++) {
        double m = 0.0, v = 0.0;
        for (int r = 0; r < rows; r++) m += values[(size_t)r * stride + c];
        m /= rows;
        for (int r = 0; r < rows; r++) {
            double d = values[(size_t)r * stride + c] - m;
            v += d * d;
        }
        double sd = sqrt(v / rows); /* population std, ddof = 0 */
        if (sd == 0.0) {
            sd = 1.0;
            sc->constant_channels++;
        }
        sc->mean[c] = m;
        sc->std[c] = sd;
    }
    return AC_OK;
}

void ac_scaler_free(ac_scaler *sc) {
    free(sc->mean);
    free(sc->std);
    sc->mean = sc->std = NULL;
}

double ac_scaler_unscale(const ac_scaler *sc, int c, float value) {
    return (double)value * sc->std[c] + sc->mean[c];
}

/* A scaler's columns; 0 (one made before covariates) stands for its channels. */
static int scaler_columns(const ac_scaler *sc) {
    return sc->columns > 0 ? sc->columns : sc->channels;
}

ac_status ac_scaler_copy(ac_scaler *dst, const ac_scaler *src, ac_error *err) {
    memset(dst, 0, sizeof *dst);
    size_t n = (size_t)scaler_columns(src) * sizeof(double);
    dst->mean = malloc(n);
    dst->std = malloc(n);
    if (!dst->mean || !dst->std) {
        ac_scaler_free(dst);
        return ac_error_set(err, AC_ERR_NOMEM, "scaler: out of memory");
    }
    memcpy(dst->mean, src->mean, n);
    memcpy(dst->std, src->std, n);
    dst->channels = src->channels;
    dst->columns = scaler_columns(src);
    dst->constant_channels = src->constant_channels;
    return AC_OK;
}

/* The roles of a table's columns; a table whose role fields were never set (all 0, one built
 * by hand) has every column a target. false when they do not add up to its columns. */
static bool table_roles(const ac_table *t, int *targets, int *past, int *future, int *calendar) {
    *targets = t->targets;
    *past = t->past;
    *future = t->future;
    *calendar = t->calendar_columns;
    if (!*targets && !*past && !*future && !*calendar) *targets = t->cols;
    return *targets >= 1 && *past >= 0 && *future >= 0 && *calendar >= 0 &&
           *targets + *past + *future + *calendar == t->cols;
}

/* Splits (fractions NULL: no split, every row a training row), takes the scaler (fitted on the
 * training rows when given none) and scales every row: the real-valued columns z-scored, the
 * calendar columns as they are. A member of a panel (`member`) needs only a training window: its
 * validation and test splits may hold none. */
static ac_status series_build(ac_series *s, const ac_table *t, const double fractions[3], int L,
                              int H, const ac_scaler *given, bool member, ac_error *err) {
    memset(s, 0, sizeof *s);
    int targets, past, future, calendar;
    if (!table_roles(t, &targets, &past, &future, &calendar))
        return ac_error_set(err, AC_ERR_INVALID,
                            "the table's column roles (%d targets, %d past, %d future, %d "
                            "calendar) do not add up to its %d columns",
                            t->targets, t->past, t->future, t->calendar_columns, t->cols);
    int real = t->cols - calendar;
    if (!fractions) {
        if (t->rows < L + H)
            return ac_error_set(err, AC_ERR_INVALID,
                                "%d rows hold no window of data.lookback = %d plus data.horizon "
                                "= %d rows",
                                t->rows, L, H);
        s->split = (ac_split){.rows = t->rows, .n_train = t->rows};
    } else if (member) {
        s->split = split_rows(t->rows, fractions);
        if (L + H > s->split.n_train)
            return ac_error_set(err, AC_ERR_INVALID,
                                "its training split has %d of its %d rows, too few for one window "
                                "of data.lookback = %d plus data.horizon = %d rows",
                                s->split.n_train, t->rows, L, H);
    } else if (ac_split_compute(t->rows, fractions, L, H, &s->split, err) != AC_OK) {
        return err->code;
    }
    if (given && given->channels != targets)
        return ac_error_set(err, AC_ERR_INVALID, "the data has %d channels, the scaler %d", targets,
                            given->channels);
    if (given && scaler_columns(given) != real)
        return ac_error_set(err, AC_ERR_INVALID,
                            "the data has %d real-valued columns (%d targets and %d covariates), "
                            "the scaler %d",
                            real, targets, real - targets, scaler_columns(given));
    ac_status st =
        given ? ac_scaler_copy(&s->scaler, given, err)
              : ac_scaler_fit(&s->scaler, t->values, s->split.n_train, t->cols, real, targets, err);
    if (st != AC_OK) return st;
    for (int c = 0; c < real; c++)
        if (!isfinite(s->scaler.mean[c]) || !isfinite(s->scaler.std[c])) {
            ac_error_set(err, AC_ERR_FORMAT,
                         "column '%s': values too large to scale (the %s of the training rows "
                         "overflows a double)",
                         t->names[c], isfinite(s->scaler.mean[c]) ? "std" : "mean");
            ac_scaler_free(&s->scaler);
            return err->code;
        }
    s->rows = t->rows;
    s->channels = targets;
    s->past = past;
    s->future = future + calendar;
    s->columns = t->cols;
    s->lookback = L;
    s->horizon = H;
    s->scaled = malloc((size_t)t->rows * (size_t)t->cols * sizeof(float));
    if (!s->scaled) {
        ac_series_free(s);
        return ac_error_set(err, AC_ERR_NOMEM, "series: out of memory for %d x %d values", t->rows,
                            t->cols);
    }
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < t->cols; c++) {
            size_t i = (size_t)r * t->cols + c;
            if (c >= real) { /* a calendar column, in [-1, 1] as computed */
                s->scaled[i] = (float)t->values[i];
                continue;
            }
            double z = (t->values[i] - s->scaler.mean[c]) / s->scaler.std[c];
            s->scaled[i] = (float)z;
            if (!isfinite(s->scaled[i])) {
                ac_series_free(s);
                return ac_error_set(err, AC_ERR_FORMAT,
                                    "data row %d (column '%s'): %g is %.3g standard deviations "
                                    "from the training mean, too far to hold as a float",
                                    r + 1, t->names[c], t->values[i], z);
            }
        }
    return AC_OK;
}

ac_status ac_series_build(ac_series *s, const ac_table *t, const double fractions[3], int L, int H,
                          ac_error *err) {
    return series_build(s, t, fractions, L, H, NULL, false, err);
}

ac_status ac_series_build_with_scaler(ac_series *s, const ac_table *t, const double fractions[3],
                                      int L, int H, const ac_scaler *scaler, ac_error *err) {
    return series_build(s, t, fractions, L, H, scaler, false, err);
}

ac_status ac_series_build_whole(ac_series *s, const ac_table *t, int L, int H,
                                const ac_scaler *scaler, ac_error *err) {
    return series_build(s, t, NULL, L, H, scaler, false, err);
}

void ac_series_free(ac_series *s) {
    free(s->scaled);
    s->scaled = NULL;
    ac_scaler_free(&s->scaler);
}

ac_window_range ac_series_windows(const ac_series *s, ac_split_kind kind) {
    const ac_split *p = &s->split;
    ac_window_range r = {0, 0};
    switch (kind) {
    case AC_SPLIT_TRAIN:
        r.first = s->lookback;
        r.count = p->n_train - s->lookback - s->horizon + 1;
        break;
    case AC_SPLIT_VAL:
        r.first = p->n_train;
        r.count = p->n_val - s->horizon + 1;
        break;
    case AC_SPLIT_TEST:
        r.first = p->rows - p->n_test;
        r.count = p->n_test - s->horizon + 1;
        break;
    case AC_SPLIT_ALL:
        r.first = s->lookback;
        r.count = p->rows - s->lookback - s->horizon + 1;
        break;
    }
    if (r.count < 0) r.count = 0; /* a short member of a panel */
    return r;
}

void ac_series_gather(const ac_series *s, const int *ts, int n, float *x, float *y) {
    size_t K = (size_t)s->columns, C = (size_t)s->channels;
    size_t L = (size_t)s->lookback, H = (size_t)s->horizon;
    for (int i = 0; i < n; i++) {
        size_t t = (size_t)ts[i];
        /* the input rows are contiguous: every column of each */
        if (x) memcpy(x + i * L * K, s->scaled + (t - L) * K, L * K * sizeof(float));
        if (y && K == C)
            memcpy(y + i * H * C, s->scaled + t * C, H * C * sizeof(float));
        else if (y)
            for (size_t h = 0; h < H; h++)
                memcpy(y + (i * H + h) * C, s->scaled + (t + h) * K, C * sizeof(float));
    }
}

void ac_series_gather_future(const ac_series *s, const int *ts, int n, float *future) {
    size_t K = (size_t)s->columns, F = (size_t)s->future, H = (size_t)s->horizon;
    if (F == 0) return;
    for (int i = 0; i < n; i++) {
        size_t t = (size_t)ts[i];
        for (size_t h = 0; h < H; h++)
            memcpy(future + (i * H + h) * F, s->scaled + (t + h) * K + (K - F), F * sizeof(float));
    }
}

void ac_window_keep_targets(float *x, int steps, int columns, int channels) {
    if (columns == channels) return;
    for (int r = 0; r < steps; r++) /* row r moves down to r C <= r columns: forward is safe */
        memmove(x + (size_t)r * channels, x + (size_t)r * columns, (size_t)channels * sizeof *x);
}

/* ---- panels ---- */

static bool same_layout(const ac_table *a, const ac_table *b) {
    if (a->cols != b->cols || a->targets != b->targets || a->past != b->past ||
        a->future != b->future || a->calendar_columns != b->calendar_columns)
        return false;
    for (int c = 0; c < a->cols; c++)
        if (strcmp(a->names[c], b->names[c]) != 0) return false;
    return true;
}

ac_status ac_panel_build(ac_panel *p, ac_table *const *tables, char *const *ids, int count,
                         const double fractions[3], int L, int H, const ac_scaler *scalers,
                         ac_error *err) {
    memset(p, 0, sizeof *p);
    if (count < 1) return ac_error_set(err, AC_ERR_INVALID, "the data holds no series");
    p->series = calloc((size_t)count, sizeof *p->series);
    p->ids = ids ? calloc((size_t)count, sizeof *p->ids) : NULL;
    if (!p->series || (ids && !p->ids)) {
        ac_panel_free(p);
        return ac_error_set(err, AC_ERR_NOMEM, "panel: out of memory for %d series", count);
    }
    for (int i = 0; i < count; i++) {
        p->count = i + 1; /* series i is zeroed: freeing it is safe */
        if (ids && !(p->ids[i] = strdup(ids[i]))) {
            ac_panel_free(p);
            return ac_error_set(err, AC_ERR_NOMEM, "panel: out of memory");
        }
        if (i > 0 && !same_layout(tables[0], tables[i])) {
            ac_panel_free(p);
            return ac_error_set(err, AC_ERR_INVALID, "series '%s' has other columns than '%s'",
                                ids ? ids[i] : "?", ids ? ids[0] : "?");
        }
        ac_error e;
        ac_status st = series_build(&p->series[i], tables[i], fractions, L, H,
                                    scalers ? &scalers[i] : NULL, ids != NULL, &e);
        if (st != AC_OK) {
            ac_panel_free(p);
            if (!ids) return ac_error_set(err, st, "%s", e.msg);
            return ac_error_set(err, st, "series '%s': %s", ids[i], e.msg);
        }
    }
    return AC_OK;
}

ac_status ac_panel_of_series(ac_panel *p, ac_series *series, ac_error *err) {
    memset(p, 0, sizeof *p);
    p->series = malloc(sizeof *p->series);
    if (!p->series) return ac_error_set(err, AC_ERR_NOMEM, "panel: out of memory");
    p->series[0] = *series;
    memset(series, 0, sizeof *series);
    p->count = 1;
    return AC_OK;
}

void ac_panel_free(ac_panel *p) {
    for (int i = 0; i < p->count; i++) {
        ac_series_free(&p->series[i]);
        if (p->ids) free(p->ids[i]);
    }
    free(p->series);
    free(p->ids);
    memset(p, 0, sizeof *p);
}

int64_t ac_panel_windows(const ac_panel *p, ac_split_kind kind) {
    int64_t n = 0;
    for (int i = 0; i < p->count; i++) n += ac_series_windows(&p->series[i], kind).count;
    return n;
}

int ac_panel_find(const ac_panel *p, const char *id) {
    for (int i = 0; p->ids && i < p->count; i++)
        if (strcmp(p->ids[i], id) == 0) return i;
    return -1;
}
