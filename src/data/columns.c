/* columns.c - the roles of a table's columns (ac_table_arrange, include/attncast/csv.h): the
 * targets, past and future covariates named by the config's lists, in that order, and the
 * calendar columns computed from the dates (MODEL.md version 2, "Covariates").
 *
 * Everything is checked before the table is touched, so a failed arrange leaves it as loaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/calendar.h"
#include "attncast/csv.h"
#include "core/fields.h"
#include "core/nearest.h"
#include "csv_internal.h"

/* How much of the table's column list a message shows. */
#define LIST_SHOWN 200

enum { ROLE_TARGET, ROLE_PAST, ROLE_FUTURE, ROLE_LISTS };

static const char *const role_keys[ROLE_LISTS] = {"data.targets", "data.past_covariates",
                                                  "data.future_covariates"};

/* One role list split into the table's column indexes. */
typedef struct role_list {
    int *index; /* count entries */
    int count;
} role_list;

/* "where: key: " into buf: where the list was set, or the key alone. */
static const char *prefix(char *buf, size_t n, const char *at, const char *key) {
    snprintf(buf, n, "%s%s%s", at && at[0] ? at : "", at && at[0] ? ": " : "", key);
    return buf;
}

/* "a, b, c" of the table's names, cut after about LIST_SHOWN bytes. */
static const char *column_list(char *buf, size_t n, const ac_table *t) {
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; c < t->cols && used < n; c++) {
        char q[QUOTE_MAX + 4];
        if (used > LIST_SHOWN) {
            snprintf(buf + used, n - used, ", ... (%d in all)", t->cols);
            break;
        }
        used += (size_t)snprintf(buf + used, n - used, "%s%s", c ? ", " : "",
                                 ac_csv_shown(q, t->names[c]));
    }
    return buf;
}

static int find_column(const ac_table *t, const char *name) {
    for (int c = 0; c < t->cols; c++)
        if (strcmp(t->names[c], name) == 0) return c;
    return -1;
}

/* read_list's state while it visits the names of one list. */
typedef struct list_visit {
    const ac_table *t;
    const ac_column_roles *roles;
    const char *head; /* "where: key" */
    role_list *out;
    ac_error *err;
    ac_status st;
} list_visit;

/* One name of a list: its column index, or an error naming it. */
static bool add_name(const char *field, void *user) {
    list_visit *v = user;
    const ac_table *t = v->t;
    char q[QUOTE_MAX + 4];
    int c = find_column(t, field);
    if (!field[0]) {
        v->st = ac_error_set(v->err, AC_ERR_INVALID,
                             "%s: an empty name (a comma with no column name beside it)", v->head);
        return false;
    }
    if (c < 0) {
        char near[QUOTE_MAX + 32] = "", list[LIST_SHOWN + 96], nq[QUOTE_MAX + 4];
        const char *nearest = ac_nearest(field, (const char *const *)t->names, t->cols);
        if (nearest)
            snprintf(near, sizeof near, " (did you mean '%s'?)", ac_csv_shown(nq, nearest));
        if (v->roles->columns_at && v->roles->columns_at[0])
            v->st =
                ac_error_set(v->err, AC_ERR_INVALID,
                             "%s: unknown column '%s'%s: it is not among the columns "
                             "data.columns (%s) loads from %s: %s",
                             v->head, ac_csv_shown(q, field), near, v->roles->columns_at,
                             t->source ? t->source : "the data", column_list(list, sizeof list, t));
        else
            v->st = ac_error_set(v->err, AC_ERR_INVALID,
                                 "%s: unknown column '%s'%s; the columns of %s are: %s", v->head,
                                 ac_csv_shown(q, field), near, t->source ? t->source : "the data",
                                 column_list(list, sizeof list, t));
        return false;
    }
    for (int i = 0; i < v->out->count; i++)
        if (v->out->index[i] == c) {
            v->st = ac_error_set(v->err, AC_ERR_INVALID, "%s: '%s' is named twice", v->head,
                                 ac_csv_shown(q, field));
            return false;
        }
    v->out->index[v->out->count++] = c;
    return true;
}

/* The list's names as column indexes into out; errors name the key (and where it was set). */
static ac_status read_list(const ac_table *t, const ac_column_roles *roles, int which,
                           const char *text, role_list *out, ac_error *err) {
    const char *ats[ROLE_LISTS] = {roles->targets_at, roles->past_at, roles->future_at};
    char head[AC_ERROR_MAX / 2];
    prefix(head, sizeof head, ats[which], role_keys[which]);
    out->index = NULL;
    out->count = 0;
    if (!text || !text[0]) return AC_OK;
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    out->index = malloc((len / 2 + 1) * sizeof *out->index);
    if (!copy || !out->index) {
        free(copy);
        free(out->index);
        out->index = NULL;
        return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", head);
    }
    memcpy(copy, text, len + 1);
    list_visit v = {.t = t, .roles = roles, .head = head, .out = out, .err = err, .st = AC_OK};
    ac_each_field(copy, add_name, &v);
    free(copy);
    if (v.st != AC_OK) {
        free(out->index);
        out->index = NULL;
        out->count = 0;
    }
    return v.st;
}

/* The calendar columns' values, rows x calendar columns, from the dates. */
static ac_status calendar_values(const ac_table *t, const ac_column_roles *roles, int columns,
                                 double **out, ac_error *err) {
    char head[AC_ERROR_MAX / 2], q[QUOTE_MAX + 4];
    prefix(head, sizeof head, roles->calendar_at, "data.calendar");
    *out = NULL;
    if (!t->dates)
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: calendar features are computed from the dates, and %s has no "
                            "date column (name it with data.date_column)",
                            head, t->source ? t->source : "the data");
    double *v = malloc((size_t)t->rows * (size_t)columns * sizeof *v);
    if (!v) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", head);
    for (int r = 0; r < t->rows; r++) {
        long long secs;
        ac_date_style style;
        if (!t->dates[r] || !ac_date_parse(t->dates[r], &secs, &style)) {
            free(v);
            return ac_error_set(err, AC_ERR_INVALID,
                                "%s: data row %d of %s: the date '%s' (column '%s') does not "
                                "parse, so no calendar features can be computed from it",
                                head, r + 1, t->source ? t->source : "the data",
                                ac_csv_shown(q, t->dates[r] ? t->dates[r] : ""),
                                t->date_name ? t->date_name : "date");
        }
        ac_calendar_values(secs, roles->calendar, v + (size_t)r * columns);
    }
    *out = v;
    return AC_OK;
}

/* "hour_of_day_sin" and the like into names[0 .. 2 * features). */
static bool calendar_names(unsigned features, char **names) {
    int k = 0;
    for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT; i++) {
        if (!(features & (1u << i))) continue;
        const char *base = ac_calendar_feature_name(i);
        for (int part = 0; part < 2; part++) {
            size_t n = strlen(base) + 5;
            names[k] = malloc(n);
            if (!names[k]) return false;
            snprintf(names[k], n, "%s_%s", base, part ? "cos" : "sin");
            k++;
        }
    }
    return true;
}

ac_status ac_table_arrange(ac_table *t, const ac_column_roles *roles, ac_error *err) {
    if (!roles) return AC_OK;
    unsigned calendar = roles->calendar & ((1u << AC_CALENDAR_FEATURE_COUNT) - 1u);
    bool named = (roles->targets && roles->targets[0]) || (roles->past && roles->past[0]) ||
                 (roles->future && roles->future[0]) || calendar;
    if (!named) return AC_OK;
    const char *texts[ROLE_LISTS] = {roles->targets, roles->past, roles->future};
    const char *ats[ROLE_LISTS] = {roles->targets_at, roles->past_at, roles->future_at};
    role_list lists[ROLE_LISTS] = {{0}};
    int *role = malloc((size_t)t->cols * sizeof *role); /* the list holding each column, or -1 */
    if (!role) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", t->source);
    for (int c = 0; c < t->cols; c++) role[c] = -1;
    ac_status st = AC_OK;
    for (int k = 0; k < ROLE_LISTS && st == AC_OK; k++) {
        st = read_list(t, roles, k, texts[k], &lists[k], err);
        for (int i = 0; st == AC_OK && i < lists[k].count; i++) {
            int c = lists[k].index[i];
            if (role[c] >= 0) {
                char head[AC_ERROR_MAX / 2], q[QUOTE_MAX + 4];
                const char *other = ats[role[c]];
                st = ac_error_set(err, AC_ERR_INVALID, "%s: '%s' is also in %s%s%s%s",
                                  prefix(head, sizeof head, ats[k], role_keys[k]),
                                  ac_csv_shown(q, t->names[c]), role_keys[role[c]],
                                  other && other[0] ? " (" : "", other && other[0] ? other : "",
                                  other && other[0] ? ")" : "");
            }
            role[c] = k;
        }
    }
    /* targets not named: every column that is not a covariate, in the table's order */
    if (st == AC_OK && lists[ROLE_TARGET].count == 0) {
        lists[ROLE_TARGET].index = malloc((size_t)t->cols * sizeof(int));
        if (!lists[ROLE_TARGET].index)
            st = ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", t->source);
        for (int c = 0; st == AC_OK && c < t->cols; c++)
            if (role[c] < 0) lists[ROLE_TARGET].index[lists[ROLE_TARGET].count++] = c;
        if (st == AC_OK && lists[ROLE_TARGET].count == 0) {
            char head[AC_ERROR_MAX / 2];
            st = ac_error_set(err, AC_ERR_INVALID,
                              "%s: no target column is left: every column of %s is a covariate "
                              "(name the columns to forecast in data.targets)",
                              prefix(head, sizeof head, roles->targets_at, "data.targets"),
                              t->source ? t->source : "the data");
        }
    }
    int cal_cols = ac_calendar_columns(calendar);
    double *cal = NULL;
    if (st == AC_OK && cal_cols > 0) st = calendar_values(t, roles, cal_cols, &cal, err);

    int real = lists[0].count + lists[1].count + lists[2].count, cols = real + cal_cols;
    double *values = NULL;
    char **names = NULL;
    if (st == AC_OK) {
        values = malloc((size_t)t->rows * (size_t)cols * sizeof *values);
        names = calloc((size_t)cols, sizeof *names);
        if (!values || !names || !calendar_names(calendar, names + real))
            st = ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", t->source);
    }
    if (st == AC_OK) {
        int *order = malloc((size_t)real * sizeof *order + 1);
        if (!order) {
            st = ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", t->source);
        } else {
            int n = 0;
            for (int k = 0; k < ROLE_LISTS; k++)
                for (int i = 0; i < lists[k].count; i++) order[n++] = lists[k].index[i];
            for (int r = 0; r < t->rows; r++) {
                double *dst = values + (size_t)r * cols;
                const double *src = t->values + (size_t)r * t->cols;
                for (int j = 0; j < real; j++) dst[j] = src[order[j]];
                if (cal_cols)
                    memcpy(dst + real, cal + (size_t)r * cal_cols, (size_t)cal_cols * sizeof *dst);
            }
            /* the kept names move over; the dropped ones are freed */
            for (int j = 0; j < real; j++) {
                names[j] = t->names[order[j]];
                t->names[order[j]] = NULL;
            }
            for (int c = 0; c < t->cols; c++) free(t->names[c]);
            free(t->names);
            free(t->values);
            t->names = names;
            t->values = values;
            t->cols = cols;
            t->targets = lists[ROLE_TARGET].count;
            t->past = lists[ROLE_PAST].count;
            t->future = lists[ROLE_FUTURE].count;
            t->calendar_columns = cal_cols;
            t->calendar = calendar;
            names = NULL;
            values = NULL;
            free(order);
        }
    }
    if (names)
        for (int j = 0; j < cols; j++) free(names[j]);
    free(names);
    free(values);
    free(cal);
    free(role);
    for (int k = 0; k < ROLE_LISTS; k++) free(lists[k].index);
    return st;
}
