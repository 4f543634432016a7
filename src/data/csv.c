/* csv.c - reading a time-series table from a CSV file (see include/attncast/csv.h).
 *
 * The whole file is read into one buffer and parsed in place: each field is unquoted, trimmed
 * and NUL-terminated where it lies, so a row costs no allocation except its date string. The
 * header decides the layout: which field is the date, and which channel slot each other field
 * fills. Values go straight into the row-major table; a missing cell is stored as NaN and, after
 * the last row, filled or dropped as the missing-value policy says (or reported at once under
 * AC_MISSING_ERROR); the policies themselves are in csv_missing.c. Before that, csv_dates.c
 * checks the dates when asked. Every error is one line naming file, line and column.
 */
#include "attncast/csv.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/nearest.h"
#include "csv_internal.h"

#define LIST_MAX 160 /* bytes of a column list shown in a message */

/* ---- messages ---- */

/* Copies s for a message: at most QUOTE_MAX bytes (not splitting a UTF-8 character, "..."
 * after a cut) with control characters shown as '?', so a message stays on one line. */
const char *ac_csv_shown(char dst[QUOTE_MAX + 4], const char *s) {
    size_t n = strlen(s), keep = n;
    if (keep > QUOTE_MAX) {
        keep = QUOTE_MAX;
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--;
    }
    for (size_t i = 0; i < keep; i++) dst[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    strcpy(dst + keep, keep < n ? "..." : "");
    return dst;
}

const char *ac_csv_where(char buf[AC_CSV_WHERE_MAX], const char *source, const char *series,
                         int line) {
    char q[QUOTE_MAX + 4];
    if (!series)
        snprintf(buf, AC_CSV_WHERE_MAX, line > 0 ? "%s:%d" : "%s", source, line);
    else if (line > 0)
        snprintf(buf, AC_CSV_WHERE_MAX, "%s: series '%s': line %d", source,
                 ac_csv_shown(q, series), line);
    else
        snprintf(buf, AC_CSV_WHERE_MAX, "%s: series '%s'", source, ac_csv_shown(q, series));
    return buf;
}

/* "a, b, c" from the header's names, cut to about LIST_MAX bytes with a count of the rest. */
static const char *name_list(char dst[LIST_MAX + 64], char **names, int n) {
    size_t len = 0;
    dst[0] = '\0';
    for (int i = 0; i < n; i++) {
        char q[QUOTE_MAX + 4];
        ac_csv_shown(q, names[i]);
        if (len + strlen(q) + 2 > LIST_MAX) {
            snprintf(dst + len, LIST_MAX + 64 - len, "%s... (%d columns)", i ? ", " : "", n);
            break;
        }
        len += (size_t)snprintf(dst + len, LIST_MAX + 64 - len, "%s%s", i ? ", " : "", q);
    }
    return dst;
}

/* ---- the file and its fields ---- */

/* Reads the whole file into a NUL-terminated buffer. */
static ac_status read_all(const char *path, char **out, size_t *out_len, ac_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ac_error_set(err, AC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory reading the file", path);
        }
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        return ac_error_set(err, AC_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    }
    fclose(f);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return AC_OK;
}

typedef struct cursor {
    const char *path;
    char *p;   /* next unread byte */
    char *end; /* one past the last byte; *end is NUL */
    int line;  /* 1-based line of p */
} cursor;

typedef struct row {
    char **fields; /* in place: unquoted, trimmed, NUL-terminated */
    int n;         /* fields in the row; only the first cap are kept unless grow */
    int cap;
    bool grow; /* the header: keep every field */
    int line;  /* where the row starts */
} row;

static bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

/* True when nothing but white space and line endings is left. */
static bool only_space_left(const char *p, const char *end) {
    for (; p < end; p++)
        if (!is_blank(*p) && *p != '\r' && *p != '\n') return false;
    return true;
}

/* True when the line at p is empty or white space only. */
static bool blank_line(const char *p, const char *end) {
    while (p < end && (is_blank(*p) || *p == '\r')) p++;
    return p == end || *p == '\n';
}

static ac_status keep_field(row *r, char *field, const cursor *c, ac_error *err) {
    if (r->n == r->cap && r->grow) {
        int cap = r->cap ? 2 * r->cap : 64;
        char **bigger = realloc(r->fields, (size_t)cap * sizeof *bigger);
        if (!bigger)
            return ac_error_set(err, AC_ERR_NOMEM, "%s:%d: out of memory", c->path, r->line);
        r->fields = bigger;
        r->cap = cap;
    }
    if (r->n < r->cap) r->fields[r->n] = field;
    r->n++;
    return AC_OK;
}

/* Splits the record at c->p into r and moves past its line ending. A quoted field may hold
 * commas, doubled quotes and line breaks; an unquoted one is trimmed of spaces and tabs. */
static ac_status parse_row(cursor *c, row *r, ac_error *err) {
    char *p = c->p, *end = c->end;
    r->n = 0;
    r->line = c->line;
    for (;;) {
        while (p < end && is_blank(*p)) p++;
        char *start = p, *stop;
        if (p < end && *p == '"') {
            int open_line = c->line;
            char *w = ++p;
            start = w;
            for (;;) {
                if (p >= end)
                    return ac_error_set(err, AC_ERR_FORMAT,
                                        "%s:%d:%d: a quoted field is not closed", c->path,
                                        open_line, r->n + 1);
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (*p == '\n') c->line++;
                *w++ = *p++;
            }
            stop = w;
            while (p < end && is_blank(*p)) p++;
            if (p < end && *p == '\r' && (p + 1 == end || p[1] == '\n')) p++;
            if (p < end && *p != ',' && *p != '\n')
                return ac_error_set(err, AC_ERR_FORMAT,
                                    "%s:%d:%d: unexpected text after the closing quote of a field",
                                    c->path, c->line, r->n + 1);
        } else {
            while (p < end && *p != ',' && *p != '\n') p++;
            stop = p;
            if (stop > start && stop[-1] == '\r') stop--; /* CRLF, or CR at the end of the file */
            while (stop > start && is_blank(stop[-1])) stop--;
        }
        char sep = p < end ? *p : '\0';
        if (p < end) p++;
        *stop = '\0'; /* may overwrite the separator, already read */
        if (keep_field(r, start, c, err) != AC_OK) return err ? err->code : AC_ERR_NOMEM;
        if (sep == '\n') c->line++;
        if (sep != ',') break;
    }
    c->p = p;
    return AC_OK;
}

/* ---- cells ---- */

typedef enum cell_kind { CELL_NUMBER, CELL_MISSING, CELL_BAD, CELL_INFINITE } cell_kind;

/* Empty, NaN, NA, N/A or null in any case. */
static bool is_missing_marker(const char *s) {
    switch (s[0]) {
    case '\0':
        return true;
    case 'n':
    case 'N':
        return strcasecmp(s, "nan") == 0 || strcasecmp(s, "na") == 0 || strcasecmp(s, "n/a") == 0 ||
               strcasecmp(s, "null") == 0;
    default:
        return false;
    }
}

static cell_kind parse_cell(char *s, double *v) {
    while (is_blank(*s)) s++; /* a quoted cell keeps its spaces; a number does not need them */
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1])) n--;
    char saved = s[n];
    s[n] = '\0';
    cell_kind kind = CELL_NUMBER;
    if (is_missing_marker(s)) {
        kind = CELL_MISSING;
    } else {
        char *stop;
        *v = strtod(s, &stop);
        if (stop != s + n || isnan(*v))
            kind = CELL_BAD;
        else if (isinf(*v))
            kind = CELL_INFINITE;
    }
    s[n] = saved;
    return kind;
}

/* ---- the header ---- */

typedef struct layout {
    int fields;   /* in the header */
    char **names; /* the header's fields (in the file's buffer), for messages */
    int date;     /* field index of the date column, or -1 */
    int id;       /* field index of the id column (data.format = long), or -1 */
    int channels; /* C */
    int *slot;    /* per field: its channel, or -1 (the date, or not requested) */
    int *field;   /* per channel: its field */
} layout;

static int find_name(char **names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static ac_status check_header(const cursor *c, const row *h, ac_error *err) {
    char q[QUOTE_MAX + 4];
    for (int i = 0; i < h->n; i++) {
        if (!h->fields[i][0])
            return ac_error_set(err, AC_ERR_FORMAT, "%s:%d:%d: empty column name in the header",
                                c->path, h->line, i + 1);
        int first = find_name(h->fields, i, h->fields[i]);
        if (first >= 0)
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s:%d:%d: column name '%s' appears twice (also column %d)",
                                c->path, h->line, i + 1, ac_csv_shown(q, h->fields[i]), first + 1);
    }
    return AC_OK;
}

/* "data.columns" or "data.date_column" is not in the header: one line beginning where the key
 * was set (or with the CSV's path), with the nearest header name and the header's names. */
static ac_status not_in_header(const char *path, const row *h, const char *key, const char *at,
                               const char *name, ac_error *err) {
    char q[QUOTE_MAX + 4], near[QUOTE_MAX + 32] = "", names[LIST_MAX + 64];
    const char *nearest = ac_nearest(name, (const char *const *)h->fields, h->n);
    if (nearest) {
        char nq[QUOTE_MAX + 4];
        snprintf(near, sizeof near, " (did you mean '%s'?)", ac_csv_shown(nq, nearest));
    }
    return ac_error_set(err, AC_ERR_INVALID,
                        "%s: %s: column '%s' is not in the header of %s%s; columns are: %s",
                        at && at[0] ? at : path, key, ac_csv_shown(q, name), path, near,
                        name_list(names, h->fields, h->n));
}

/* The requested channels, comma-separated, in their order, into lay->field. */
static ac_status pick_columns(const char *path, const row *h, const ac_csv_options *opt,
                              layout *lay, ac_error *err) {
    const char *columns = opt->columns;
    const char *at = opt->columns_at && opt->columns_at[0] ? opt->columns_at : path;
    char *list = strdup(columns);
    if (!list) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
    ac_status st = AC_OK;
    char q[QUOTE_MAX + 4];
    char *p = list;
    for (bool more = true; more && st == AC_OK;) {
        char *comma = strchr(p, ',');
        more = comma != NULL;
        if (comma) *comma = '\0';
        while (is_blank(*p)) p++;
        size_t n = strlen(p);
        while (n > 0 && is_blank(p[n - 1])) p[--n] = '\0';
        int f = find_name(h->fields, h->n, p);
        if (!*p)
            st = ac_error_set(err, AC_ERR_INVALID, "%s: data.columns: an empty name in '%s'", at,
                              ac_csv_shown(q, columns));
        else if (f < 0)
            st = not_in_header(path, h, "data.columns", at, p, err);
        else if (f == lay->date)
            st = ac_error_set(err, AC_ERR_INVALID,
                              "%s: data.columns: column '%s' is the date column of %s; it cannot "
                              "be a channel",
                              at, ac_csv_shown(q, p), path);
        else if (f == lay->id)
            st = ac_error_set(err, AC_ERR_INVALID,
                              "%s: data.columns: column '%s' is the id column of %s; it cannot "
                              "be a channel",
                              at, ac_csv_shown(q, p), path);
        else if (lay->slot[f] >= 0)
            st = ac_error_set(err, AC_ERR_INVALID, "%s: data.columns: column '%s' is named twice",
                              at, ac_csv_shown(q, p));
        else {
            lay->slot[f] = lay->channels;
            lay->field[lay->channels++] = f;
        }
        if (comma) p = comma + 1;
    }
    free(list);
    return st;
}

/* The id column of a long-format file (MODEL.md version 2, "Many series"): id_column, else a
 * column named `id` (any case); it must not be the date column. */
static ac_status find_id(const char *path, const row *h, const char *id_column,
                         const char *id_column_at, layout *lay, ac_error *err) {
    char q[QUOTE_MAX + 4], names[LIST_MAX + 64];
    const char *at = id_column_at && id_column_at[0] ? id_column_at : path;
    if (id_column[0]) {
        lay->id = find_name(h->fields, h->n, id_column);
        if (lay->id < 0)
            return not_in_header(path, h, "data.id_column", id_column_at, id_column, err);
    } else {
        for (int i = 0; i < h->n && lay->id < 0; i++)
            if (strcasecmp(h->fields[i], "id") == 0) lay->id = i;
        if (lay->id < 0)
            return ac_error_set(err, AC_ERR_INVALID,
                                "%s: data.id_column: data.format = long needs an id column, and "
                                "no column of %s is named 'id'; set data.id_column to one of: %s",
                                at, path, name_list(names, h->fields, h->n));
    }
    if (lay->id == lay->date)
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: data.id_column: column '%s' is the date column of %s; the id "
                            "column must be another",
                            at, ac_csv_shown(q, h->fields[lay->id]), path);
    return AC_OK;
}

static ac_status make_layout(const char *path, const row *h, const ac_csv_options *opt,
                             const char *id_column, const char *id_column_at, layout *lay,
                             ac_error *err) {
    char q[QUOTE_MAX + 4], q2[QUOTE_MAX + 4];
    lay->fields = h->n;
    lay->names = h->fields;
    lay->date = -1;
    lay->id = -1;
    lay->channels = 0;
    lay->slot = malloc((size_t)h->n * sizeof *lay->slot);
    lay->field = malloc((size_t)h->n * sizeof *lay->field);
    if (!lay->slot || !lay->field)
        return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < h->n; i++) lay->slot[i] = -1;
    if (opt->date_column && opt->date_column[0]) {
        lay->date = find_name(h->fields, h->n, opt->date_column);
        if (lay->date < 0)
            return not_in_header(path, h, "data.date_column", opt->date_column_at, opt->date_column,
                                 err);
    } else {
        for (int i = 0; i < h->n && lay->date < 0; i++)
            if (strcasecmp(h->fields[i], "date") == 0) lay->date = i;
    }
    if (id_column) {
        ac_status st = find_id(path, h, id_column, id_column_at, lay, err);
        if (st != AC_OK) return st;
    }
    if (opt->columns && opt->columns[0]) return pick_columns(path, h, opt, lay, err);
    for (int i = 0; i < h->n; i++) {
        if (i == lay->date || i == lay->id) continue;
        lay->slot[i] = lay->channels;
        lay->field[lay->channels++] = i;
    }
    if (lay->channels == 0 && lay->id < 0)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: no numeric columns: the header has only the date column '%s'",
                            path, ac_csv_shown(q, h->fields[lay->date]));
    if (lay->channels == 0)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: no numeric columns: the header has only the id column '%s'%s%s%s",
                            path, ac_csv_shown(q, h->fields[lay->id]),
                            lay->date >= 0 ? " and the date column '" : "",
                            lay->date >= 0 ? ac_csv_shown(q2, h->fields[lay->date]) : "",
                            lay->date >= 0 ? "'" : "");
    return AC_OK;
}

/* ---- the table ---- */

/* One data row r into the table. */
static ac_status store_row(const cursor *c, const row *rw, const layout *lay, ac_table *t, int r,
                           int *missing, const ac_csv_options *opt, ac_error *err) {
    char q[QUOTE_MAX + 4], name[QUOTE_MAX + 4];
    if (rw->n != lay->fields) {
        if (rw->n == 1 && !rw->fields[0][0])
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s:%d: empty line; expected %d fields as in the header", c->path,
                                rw->line, lay->fields);
        if (rw->n < lay->fields) /* the column is the first field the row lacks */
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s:%d:%d (column '%s'): expected %d fields as in the header, "
                                "found %d; the row ends early",
                                c->path, rw->line, rw->n + 1, ac_csv_shown(name, lay->names[rw->n]),
                                lay->fields, rw->n);
        /* the column is where the first extra field starts */
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s:%d:%d: expected %d fields as in the header, found %d; field %d "
                            "and after are extra",
                            c->path, rw->line, lay->fields + 1, lay->fields, rw->n,
                            lay->fields + 1);
    }
    if (lay->date >= 0 && !(t->dates[r] = strdup(rw->fields[lay->date])))
        return ac_error_set(err, AC_ERR_NOMEM, "%s:%d: out of memory", c->path, rw->line);
    double *out = t->values + (size_t)r * lay->channels;
    for (int k = 0; k < lay->channels; k++) {
        int f = lay->field[k];
        cell_kind kind = parse_cell(rw->fields[f], &out[k]);
        if (kind == CELL_NUMBER && opt->has_missing_marker && out[k] == opt->missing_marker)
            kind = CELL_MISSING;
        switch (kind) {
        case CELL_NUMBER:
            break;
        case CELL_MISSING:
            if (opt->missing == AC_MISSING_ERROR) {
                if (!rw->fields[f][0])
                    return ac_error_set(err, AC_ERR_FORMAT,
                                        "%s:%d:%d (column '%s'): missing value (empty cell); set "
                                        "data.missing = ffill, interpolate or drop to fill or "
                                        "skip it",
                                        c->path, rw->line, f + 1, ac_csv_shown(name, t->names[k]));
                return ac_error_set(err, AC_ERR_FORMAT,
                                    "%s:%d:%d (column '%s'): missing value '%s'; set data.missing "
                                    "= ffill, interpolate or drop to fill or skip it",
                                    c->path, rw->line, f + 1, ac_csv_shown(name, t->names[k]),
                                    ac_csv_shown(q, rw->fields[f]));
            }
            out[k] = NAN;
            missing[k]++;
            break;
        case CELL_BAD:
            /* MODEL.md takes only a named date column; a text first column is probably one */
            if (f == 0 && r == 0 && lay->date < 0)
                return ac_error_set(err, AC_ERR_FORMAT,
                                    "%s:%d:%d (column '%s'): expected a number, found '%s' (if "
                                    "'%s' is the date column, set data.date_column = %s)",
                                    c->path, rw->line, f + 1, ac_csv_shown(name, t->names[k]),
                                    ac_csv_shown(q, rw->fields[f]), name, name);
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s:%d:%d (column '%s'): expected a number, found '%s'", c->path,
                                rw->line, f + 1, ac_csv_shown(name, t->names[k]),
                                ac_csv_shown(q, rw->fields[f]));
        case CELL_INFINITE:
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s:%d:%d (column '%s'): expected a finite number, found '%s'",
                                c->path, rw->line, f + 1, ac_csv_shown(name, t->names[k]),
                                ac_csv_shown(q, rw->fields[f]));
        }
    }
    return AC_OK;
}

/* Allocates the table's arrays for up to cap rows, and copies the names. */
static ac_status new_table(ac_table **out, const char *path, const row *h, const layout *lay,
                           size_t cap, ac_error *err) {
    ac_table *t = calloc(1, sizeof *t);
    *out = t;
    if (!t) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
    t->cols = lay->channels;
    t->targets = lay->channels; /* as loaded, every column is a target */
    t->source = strdup(path);
    t->names = calloc((size_t)lay->channels, sizeof *t->names);
    bool ok = t->source && t->names;
    for (int k = 0; ok && k < lay->channels; k++)
        ok = (t->names[k] = strdup(h->fields[lay->field[k]])) != NULL;
    if (ok && lay->date >= 0) {
        t->date_name = strdup(h->fields[lay->date]);
        t->dates = calloc(cap, sizeof *t->dates);
        ok = t->date_name && t->dates;
    }
    if (ok && cap > SIZE_MAX / sizeof(double) / (size_t)lay->channels) ok = false;
    if (ok) ok = (t->values = malloc(cap * (size_t)lay->channels * sizeof(double))) != NULL;
    if (!ok) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory for the table", path);
    return AC_OK;
}

/* The data rows after the header into t; returns the number of rows in t->rows, the line where
 * each starts in lines and, with an id column, each one's id (in the file's buffer) in ids. */
static ac_status read_rows(cursor *c, const layout *lay, ac_table *t, int *missing, int *lines,
                           char **ids, const ac_csv_options *opt, ac_error *err) {
    row rw = {.cap = lay->fields + 1};
    rw.fields = malloc((size_t)rw.cap * sizeof *rw.fields);
    if (!rw.fields) return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", c->path);
    ac_status st = AC_OK;
    while (c->p < c->end && st == AC_OK) {
        if (blank_line(c->p, c->end) && only_space_left(c->p, c->end)) break;
        st = parse_row(c, &rw, err);
        lines[t->rows] = rw.line;
        if (st == AC_OK) st = store_row(c, &rw, lay, t, t->rows, missing, opt, err);
        if (st == AC_OK && lay->id >= 0) {
            ids[t->rows] = rw.fields[lay->id];
            if (!ids[t->rows][0]) {
                char name[QUOTE_MAX + 4];
                st = ac_error_set(err, AC_ERR_FORMAT,
                                  "%s:%d:%d (column '%s'): empty series id; every row of a "
                                  "long-format file names its series",
                                  c->path, rw.line, lay->id + 1,
                                  ac_csv_shown(name, lay->names[lay->id]));
            }
        }
        t->rows++; /* counted even on failure, so ac_table_free finds its date */
    }
    free(rw.fields);
    return st;
}

ac_status ac_csv_read_rows(ac_csv_rows *out, const char *path, const ac_csv_options *opt,
                           const char *id_column, const char *id_column_at, ac_error *err) {
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    size_t len = 0;
    ac_status st = read_all(path, &buf, &len, err);
    if (st != AC_OK) return st;
    out->buf = buf;
    cursor c = {.path = path, .p = buf, .end = buf + len, .line = 1};
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) c.p += 3;
    const char *nul = memchr(c.p, '\0', len - (size_t)(c.p - buf));
    if (nul) {
        int line = 1;
        for (const char *p = c.p; p < nul; p++) line += *p == '\n';
        ac_csv_rows_free(out);
        return ac_error_set(err, AC_ERR_FORMAT, "%s:%d: a NUL byte; this is not a text CSV file",
                            path, line);
    }
    if (only_space_left(c.p, c.end)) {
        ac_csv_rows_free(out);
        return ac_error_set(err, AC_ERR_FORMAT, "%s: empty file (no header row)", path);
    }

    row header = {.grow = true};
    layout lay = {0};
    st = parse_row(&c, &header, err);
    if (st == AC_OK) st = check_header(&c, &header, err);
    if (st == AC_OK) st = make_layout(path, &header, opt, id_column, id_column_at, &lay, err);
    if (st == AC_OK && only_space_left(c.p, c.end))
        st = ac_error_set(err, AC_ERR_FORMAT, "%s:%d: the header has no data rows after it", path,
                          header.line);
    if (st == AC_OK) {
        size_t lines_count = 1; /* every row but the last ends in a newline */
        for (const char *p = c.p; (p = memchr(p, '\n', (size_t)(c.end - p))) != NULL; p++)
            lines_count++;
        if (lines_count > INT32_MAX) {
            st = ac_error_set(err, AC_ERR_FORMAT, "%s: more than %d rows", path, INT32_MAX);
        } else {
            st = new_table(&out->table, path, &header, &lay, lines_count, err);
            out->missing = calloc((size_t)lay.channels, sizeof *out->missing);
            out->lines = malloc(lines_count * sizeof *out->lines);
            if (lay.id >= 0) out->ids = malloc(lines_count * sizeof *out->ids);
            if (st == AC_OK && (!out->missing || !out->lines || (lay.id >= 0 && !out->ids)))
                st = ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    if (st == AC_OK)
        st = read_rows(&c, &lay, out->table, out->missing, out->lines, out->ids, opt, err);
    if (st == AC_OK) {
        out->date_field = lay.date;
        out->id_field = lay.id;
        if (lay.id >= 0) out->id_name = header.fields[lay.id];
    }
    free(lay.slot);
    free(lay.field);
    free(header.fields);
    if (st != AC_OK) ac_csv_rows_free(out);
    return st;
}

void ac_csv_rows_free(ac_csv_rows *rows) {
    ac_table_free(rows->table);
    free(rows->missing);
    free(rows->lines);
    free(rows->ids);
    free(rows->buf);
    memset(rows, 0, sizeof *rows);
}

ac_status ac_table_load_csv(ac_table **out, const char *path, const ac_csv_options *opt,
                            ac_error *err) {
    static const ac_csv_options DEFAULTS = {0};
    if (!opt) opt = &DEFAULTS;
    *out = NULL;
    ac_csv_rows rows;
    ac_status st = ac_csv_read_rows(&rows, path, opt, NULL, NULL, err);
    if (st != AC_OK) return st;
    ac_table *t = rows.table;
    st = ac_csv_check_dates(t, rows.lines, rows.missing, opt, NULL, err);
    if (st == AC_OK) st = ac_csv_apply_policy(t, rows.missing, opt->missing, NULL, err);
    if (st == AC_OK && t->rows * (size_t)t->cols > 0) { /* give back the rows never used */
        double *fit = realloc(t->values, (size_t)t->rows * t->cols * sizeof *fit);
        if (fit) t->values = fit;
    }
    if (st == AC_OK) rows.table = NULL; /* the caller's now */
    ac_csv_rows_free(&rows);
    if (st != AC_OK) return st;
    *out = t;
    return AC_OK;
}

void ac_table_free(ac_table *table) {
    if (!table) return;
    if (table->names)
        for (int k = 0; k < table->cols; k++) free(table->names[k]);
    if (table->dates)
        for (int r = 0; r < table->rows; r++) free(table->dates[r]);
    free(table->names);
    free(table->dates);
    free(table->values);
    free(table->date_name);
    free(table->source);
    free(table);
}
