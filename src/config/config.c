/* config.c - experiment configuration (see include/attncast/config.h).
 *
 * One table, ac_cfg_keys below, describes every key: its section, name, type, place in ac_config,
 * range, default (as text) and meaning. Everything else reads the table: parsing a file or a
 * --set override, filling the defaults (the default texts go through the same parser, so they
 * are validated too), writing the resolved INI text and printing the key reference. This file
 * holds the table, the parsing and formatting of one value, the defaults, --set, the checks
 * across keys and the writing; reading INI files (and finding a key, with did-you-mean) is
 * config_ini.c, through config_internal.h.
 *
 * Every load works on a copy of the config and commits only on success, so a failed load or
 * override leaves the caller's config as it was.
 */
#include "attncast/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "attncast/calendar.h"
#include "attncast/windows.h"
#include "config_internal.h"
#include "core/fields.h"
#include "core/nearest.h"

/* The longest line a config file may hold (config_ini.c reads it whole). */
#define LINE_CHARS CONFIG_LINE_MAX
/* data.split: the fractions must sum to 1 within this. */
#define SPLIT_SUM_TOLERANCE 1e-6

/* ---- the key table ---- */

static const char *attention_name(int v) {
    return ac_attention_kind_name((ac_attention_kind)v);
}
static const char *channel_mode_name(int v) {
    return ac_channel_mode_name((ac_channel_mode)v);
}
static const char *anchor_name(int v) {
    return ac_norm_anchor_name((ac_norm_anchor)v);
}
static const char *loss_name(int v) {
    return ac_loss_kind_name((ac_loss_kind)v);
}
static const char *missing_name(int v) {
    return ac_missing_policy_name((ac_missing_policy)v);
}
static const char *gaps_name(int v) {
    return ac_gaps_policy_name((ac_gaps_policy)v);
}
static const char *format_name(int v) {
    return ac_data_format_name((ac_data_format)v);
}
static const char *optimizer_name(int v) {
    return ac_optimizer_kind_name((ac_optimizer_kind)v);
}
static const char *schedule_name(int v) {
    return ac_schedule_kind_name((ac_schedule_kind)v);
}

/* Enumerations are stored through an int. */
_Static_assert(sizeof(ac_attention_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(ac_channel_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(ac_loss_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(ac_norm_anchor) == sizeof(int), "enum size");
_Static_assert(sizeof(ac_missing_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(ac_gaps_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(ac_data_format) == sizeof(int), "enum size");
_Static_assert(sizeof(ac_optimizer_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(ac_schedule_kind) == sizeof(int), "enum size");

#define FIELD(sec, key) offsetof(ac_config, sec.key), sizeof(((ac_config *)0)->sec.key)
#define INT_KEY(sec, key, lo, hi, def, doc)                                                        \
    { #sec, #key, KEY_INT, FIELD(sec, key), lo, hi, 0, NULL, def, doc }
#define FLOAT_KEY(sec, key, lo, hi, open, def, doc)                                                \
    { #sec, #key, KEY_FLOAT, FIELD(sec, key), lo, hi, open, NULL, def, doc }
#define BOOL_KEY(sec, key, def, doc)                                                               \
    { #sec, #key, KEY_BOOL, FIELD(sec, key), 0, 0, 0, NULL, def, doc }
#define ENUM_KEY(sec, key, names, def, doc)                                                        \
    { #sec, #key, KEY_ENUM, FIELD(sec, key), 0, 0, 0, names, def, doc }
#define TEXT_KEY(sec, key, def, doc)                                                               \
    { #sec, #key, KEY_STRING, FIELD(sec, key), 0, 0, 0, NULL, def, doc }
#define NO_MAX HUGE_VAL

const key_def ac_cfg_keys[] = {
    TEXT_KEY(data, dataset, "",
             "dataset card name (attncast datasets lists them); give this or data.csv"),
    TEXT_KEY(data, csv, "", "path of a CSV file; give this or data.dataset"),
    TEXT_KEY(data, columns, "", "comma-separated channel columns, in this order; empty for all"),
    TEXT_KEY(data, date_column, "",
             "date column; empty: the card's, else a column named date (any case), else none"),
    ENUM_KEY(data, format, format_name, "wide",
             "wide: one series, a column per channel; long: many series, a row per id and date"),
    TEXT_KEY(data, id_column, "",
             "long format: the column naming each row's series; empty: a column named id"),
    TEXT_KEY(data, frequency, "",
             "the dates' frequency (D, h, 10min, B, W, MS, ME, QS, ...); empty: inferred"),
    INT_KEY(data, lookback, 1, 100000, "96", "input window length L"),
    INT_KEY(data, horizon, 1, 100000, "96", "forecast horizon H"),
    {"data", "split", KEY_SPLIT, FIELD(data, split), 0, 1, MIN_OPEN | MAX_OPEN, NULL, "0.7,0.1,0.2",
     "train,val,test fractions of every row; unset: the dataset card's split"},
    {"data", "split_rows", KEY_SPLIT_ROWS, FIELD(data, split_rows), 0, 0, 0, NULL, "",
     "train,val,test row counts from row 0, later rows unused; wins over data.split"},
    ENUM_KEY(data, missing, missing_name, "error",
             "missing cells (empty, NaN, NA, null, data.missing_marker): refuse or fill"),
    TEXT_KEY(data, missing_marker, "",
             "a number that marks a missing cell (weather: -9999); empty: none"),
    ENUM_KEY(
        data, gaps, gaps_name, "warn",
        "dates missing from the calendar, repeated rows, irregular steps: refuse, report or fill"),
    INT_KEY(data, season, 0, 100000, "0",
            "seasonal naive period; 0: the card's, else from data.frequency"),
    TEXT_KEY(data, targets, "",
             "comma-separated columns to forecast; empty: every column not named as a covariate"),
    TEXT_KEY(data, past_covariates, "",
             "comma-separated columns known up to the forecast origin only (model inputs)"),
    TEXT_KEY(data, future_covariates, "",
             "comma-separated columns known over the horizon too (the caller gives their future)"),
    {"data", "calendar", KEY_CALENDAR, FIELD(data, calendar), 0, 0, 0, NULL, "",
     "calendar features computed from the dates, as future covariates (sin and cos of each)"},

    ENUM_KEY(model, attention, attention_name, "dot", "attention kind (docs/model.md)"),
    INT_KEY(model, d_model, 1, 65536, "64", "model width d"),
    INT_KEY(model, heads, 1, 4096, "4", "attention heads h, a divisor of model.d_model"),
    INT_KEY(model, layers, 1, 64, "2", "attention blocks"),
    INT_KEY(model, d_ff, 1, 262144, "128", "feed-forward width"),
    INT_KEY(model, patch_len, 1, 100000, "16", "patch length P, at most data.lookback"),
    INT_KEY(model, patch_stride, 1, 100000, "8", "patch stride S, at most model.patch_len"),
    ENUM_KEY(model, channels, channel_mode_name, "independent",
             "independent: each channel a series, shared weights; mixed: one token of all"),
    BOOL_KEY(model, revin, "true", "instance normalisation of each window"),
    ENUM_KEY(model, anchor, anchor_name, "last",
             "what each window is centred on; last: its last value (zero output = naive)"),
    BOOL_KEY(model, causal, "false", "causal attention mask"),
    FLOAT_KEY(model, dropout, 0, 1, MAX_OPEN, "0.1", "dropout rate"),
    {"model", "quantiles", KEY_QUANTILES, FIELD(model, quantiles), 0, 1, MIN_OPEN | MAX_OPEN, NULL,
     "", "quantile levels to forecast (e.g. 0.1,0.5,0.9); empty: a point forecast"},

    INT_KEY(train, epochs, 1, 100000, "10", "training epochs"),
    INT_KEY(train, batch_size, 1, 1000000, "32", "windows per batch"),
    FLOAT_KEY(train, lr, 0, NO_MAX, MIN_OPEN, "1e-3", "learning rate"),
    ENUM_KEY(train, optimizer, optimizer_name, "adam",
             "optimizer; adamw: decoupled weight decay; sgd: with momentum"),
    FLOAT_KEY(train, weight_decay, 0, NO_MAX, 0, "0", "weight decay"),
    FLOAT_KEY(train, momentum, 0, 1, MAX_OPEN, "0.9", "momentum, sgd only"),
    FLOAT_KEY(train, clip_grad, 0, NO_MAX, 0, "0", "gradient norm clip; 0: off"),
    ENUM_KEY(train, schedule, schedule_name, "constant",
             "learning-rate schedule; cosine: to 0 at the last step; step: see decay_*"),
    INT_KEY(train, warmup, 0, 100000, "0", "warm-up epochs, fewer than train.epochs"),
    INT_KEY(train, decay_every, 1, 100000, "1", "step schedule: epochs between decays"),
    FLOAT_KEY(train, decay_gamma, 0, 1, MIN_OPEN, "0.5", "step schedule: decay factor"),
    INT_KEY(train, patience, 0, 100000, "3", "early-stopping patience in epochs; 0: off"),
    {"train", "seed", KEY_SEED, FIELD(train, seed), 0, 0, 0, NULL, "2024", "random seed"},
    INT_KEY(train, threads, 0, 4096, "0", "threads; 0: ATTNCAST_THREADS or all cores"),
    ENUM_KEY(train, loss, loss_name, "mse",
             "training loss (huber: delta 1); pinball, the default and only loss with quantiles"),

    TEXT_KEY(output, dir, "", "run folder; empty for runs/<name>-<timestamp>"),
    INT_KEY(output, checkpoint_every, 0, 100000, "1",
            "write last.h5 every this many epochs (and at the end); 0: only at the end"),
    TEXT_KEY(output, plot_channels, "",
             "channels (comma-separated names) drawn in forecasts.png; empty for the last"),
    {"output", "intervals", KEY_LEVELS, FIELD(output, intervals), 0, 1, MIN_OPEN | MAX_OPEN, NULL,
     "0.8,0.95", "conformal prediction interval levels, calibrated on validation; empty: none"},
};

_Static_assert(sizeof ac_cfg_keys / sizeof ac_cfg_keys[0] == KEY_COUNT,
               "KEY_COUNT in config_internal.h");
_Static_assert(KEY_COUNT <= AC_CONFIG_MAX_KEYS, "AC_CONFIG_MAX_KEYS in config.h");

const char *const ac_cfg_sections[] = {"data", "model", "train", "output"};
_Static_assert(sizeof ac_cfg_sections / sizeof ac_cfg_sections[0] == SECTION_COUNT,
               "SECTION_COUNT in config_internal.h");

/* ---- small text helpers ---- */

bool ac_cfg_same_ci(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

static int enum_count(enum_name_fn name) {
    int n = 0;
    while (strcmp(name(n), "unknown") != 0) n++;
    return n;
}

/* The shortest of %.15g, %.16g, %.17g that reads back as exactly v. */
static void format_double(double v, char *buf, size_t n) {
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, n, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* ---- where a value came from, for messages ---- */

/* Messages are one line even when the input quoted in them is not. */
ac_status ac_cfg_one_line(ac_error *err, ac_status code) {
    if (err)
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20) *c = '?';
    return code;
}

/* "SOURCE:LINE: message" or "--set ASSIGNMENT: message", always AC_ERR_INVALID. */
ac_status ac_cfg_fail(ac_error *err, origin at, const char *fmt, ...) {
    char what[AC_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *cut = strlen(at.source) > SOURCE_MAX ? "..." : "";
    if (at.line > 0)
        ac_error_set(err, AC_ERR_INVALID, "%s%.*s%s:%d: %s", at.prefix, SOURCE_MAX, at.source, cut,
                     at.line, what);
    else
        ac_error_set(err, AC_ERR_INVALID, "%s%.*s%s: %s", at.prefix, SOURCE_MAX, at.source, cut,
                     what);
    return ac_cfg_one_line(err, AC_ERR_INVALID);
}

/* ---- values ---- */

/* What a key accepts, as in "expected <this>, got '...'". */
static void describe(const key_def *k, char *buf, size_t n) {
    switch (k->type) {
    case KEY_INT:
        snprintf(buf, n, "a whole number from %.0f to %.0f", k->min, k->max);
        return;
    case KEY_SEED:
        snprintf(buf, n, "a whole number from 0 to %" PRIu64, UINT64_MAX);
        return;
    case KEY_FLOAT:
        if (isinf(k->max))
            snprintf(buf, n, "a number %s %g", (k->open & MIN_OPEN) ? ">" : ">=", k->min);
        else
            snprintf(buf, n, "a number in %c%g, %g%c", (k->open & MIN_OPEN) ? '(' : '[', k->min,
                     k->max, (k->open & MAX_OPEN) ? ')' : ']');
        return;
    case KEY_BOOL:
        snprintf(buf, n, "true or false (or yes/no, on/off, 1/0)");
        return;
    case KEY_ENUM: {
        size_t used = (size_t)snprintf(buf, n, "one of");
        int count = enum_count(k->enum_name);
        for (int v = 0; v < count && used < n; v++)
            used += (size_t)snprintf(buf + used, n - used, "%s %s", v ? "," : "", k->enum_name(v));
        return;
    }
    case KEY_STRING:
        snprintf(buf, n, "text");
        return;
    case KEY_CALENDAR: {
        size_t used = (size_t)snprintf(buf, n, "comma-separated names among");
        for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s %s", i ? "," : "",
                                     ac_calendar_feature_name(i));
        if (used < n) snprintf(buf + used, n - used, "; empty for none");
        return;
    }
    case KEY_SPLIT:
        snprintf(buf, n,
                 "three comma-separated fractions in (0, 1) that sum to 1 (train,val,test)");
        return;
    case KEY_SPLIT_ROWS:
        snprintf(buf, n,
                 "three comma-separated row counts train,val,test, each at least 1; empty for "
                 "none");
        return;
    case KEY_LEVELS:
    case KEY_QUANTILES:
        snprintf(buf, n,
                 "up to %d comma-separated levels in (0, 1), strictly increasing; empty for none",
                 k->type == KEY_QUANTILES ? AC_MAX_QUANTILES : AC_INTERVALS_MAX);
        if (k->type == KEY_QUANTILES) {
            size_t used = strlen(buf);
            snprintf(buf + used, n - used, "; one of them 0.5");
        }
        return;
    }
}

static ac_status bad_value(const key_def *k, const char *text, origin at, ac_error *err) {
    char expected[256];
    describe(k, expected, sizeof expected);
    size_t len = strlen(text);
    return ac_cfg_fail(err, at, "%s.%s: expected %s, got '%.*s%s'", k->section, k->name, expected,
                       QUOTE_MAX, text, len > QUOTE_MAX ? "..." : "");
}

static bool in_range(const key_def *k, double v) {
    bool low_ok = (k->open & MIN_OPEN) ? v > k->min : v >= k->min;
    bool high_ok = (k->open & MAX_OPEN) ? v < k->max : v <= k->max;
    return low_ok && high_ok;
}

/* A finite double that is the whole of text. */
static bool read_double(const char *text, double *out) {
    char *end;
    if (!*text) return false;
    *out = strtod(text, &end);
    return *end == '\0' && end != text && isfinite(*out);
}

/* Three fractions "a,b,c", each in (0, 1), summing to 1. */
static bool read_split(const key_def *k, const char *text, double out[3]) {
    char buf[LINE_CHARS + 1];
    if (strlen(text) >= sizeof buf) return false;
    strcpy(buf, text);
    char *field = buf;
    double sum = 0;
    for (int i = 0; i < 3; i++) {
        char *comma = strchr(field, ',');
        if ((i < 2) != (comma != NULL)) return false;
        if (comma) *comma = '\0';
        while (isspace((unsigned char)*field)) field++;
        char *end = field + strlen(field);
        while (end > field && isspace((unsigned char)end[-1])) *--end = '\0';
        if (!read_double(field, &out[i]) || !in_range(k, out[i])) return false;
        sum += out[i];
        field = comma ? comma + 1 : NULL;
    }
    return fabs(sum - 1.0) <= SPLIT_SUM_TOLERANCE;
}

/* "" (none: 0,0,0) or three whole row counts "a,b,c", each at least 1. */
static bool read_split_rows(const char *text, int out[3]) {
    memset(out, 0, 3 * sizeof *out);
    if (!*text) return true;
    const char *p = text;
    long long sum = 0;
    for (int i = 0; i < 3; i++) {
        while (isspace((unsigned char)*p)) p++;
        if (!isdigit((unsigned char)*p)) return false;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno == ERANGE || v > 100000000) return false;
        out[i] = (int)v;
        sum += v;
        p = end;
        while (isspace((unsigned char)*p)) p++;
        if (*p != (i < 2 ? ',' : '\0')) return false;
        p++;
    }
    return out[0] >= 1 && out[1] >= 1 && out[2] >= 1 && sum <= INT_MAX;
}

/* A level token of at most this many characters is quoted whole in a message. */
#define LEVEL_QUOTE 40

/* Levels written as percentages by mistake ("80,95": every entry a number in (0, 100), some
 * above 1): the fractions meant, "0.8,0.95", into buf; false otherwise. */
static bool percent_levels(const char *text, char *buf, size_t n) {
    char copy[LINE_CHARS + 1];
    if (strlen(text) >= sizeof copy || n == 0) return false;
    strcpy(copy, text);
    buf[0] = '\0';
    size_t used = 0;
    bool above_one = false;
    char *save = NULL;
    for (char *field = strtok_r(copy, ",", &save); field; field = strtok_r(NULL, ",", &save)) {
        char *end = field + strlen(field);
        while (isspace((unsigned char)*field)) field++;
        while (end > field && isspace((unsigned char)end[-1])) *--end = '\0';
        double v;
        if (!read_double(field, &v) || !(v > 0.0 && v < 100.0)) return false;
        above_one = above_one || v > 1.0;
        int w = snprintf(buf + used, n - used, "%s%g", used ? "," : "", v / 100.0);
        if (w < 0 || (size_t)w >= n - used) return false;
        used += (size_t)w;
    }
    return above_one;
}

bool ac_config_parse_levels(const char *text, int max_count, ac_levels *out, char *why, size_t n) {
    ac_levels levels = {0};
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    if (!buf) {
        snprintf(why, n, "out of memory");
        return false;
    }
    memcpy(buf, text, len + 1);
    char *field = buf;
    while (isspace((unsigned char)*field)) field++;
    bool ok = true;
    while (ok && *field) {
        char *comma = strchr(field, ',');
        if (comma) *comma = '\0';
        char *end = field + strlen(field);
        while (isspace((unsigned char)*field)) field++;
        while (end > field && isspace((unsigned char)end[-1])) *--end = '\0';
        const char *cut = strlen(field) > LEVEL_QUOTE ? "..." : "";
        double v;
        if (!*field) {
            snprintf(why, n, "an empty entry (a comma with no level beside it)");
            ok = false;
        } else if (!read_double(field, &v)) {
            snprintf(why, n, "'%.*s%s' is not a number", LEVEL_QUOTE, field, cut);
            ok = false;
        } else if (!(v > 0.0 && v < 1.0)) {
            char meant[LINE_CHARS + 1];
            if (v > 1.0 && percent_levels(text, meant, sizeof meant))
                snprintf(why, n,
                         "'%.*s%s' is not in (0, 1); levels are fractions, not percents: "
                         "write %s",
                         LEVEL_QUOTE, field, cut, meant);
            else
                snprintf(why, n, "'%.*s%s' is not in (0, 1)", LEVEL_QUOTE, field, cut);
            ok = false;
        } else if (levels.count > 0 && v == levels.value[levels.count - 1]) {
            snprintf(why, n, "'%.*s%s' is given twice (each level once, increasing)", LEVEL_QUOTE,
                     field, cut);
            ok = false;
        } else if (levels.count > 0 && !(v > levels.value[levels.count - 1])) {
            snprintf(why, n, "'%.*s%s' is not greater than the level before it (%g)", LEVEL_QUOTE,
                     field, cut, levels.value[levels.count - 1]);
            ok = false;
        } else if (levels.count == max_count || levels.count == AC_LEVELS_MAX) {
            snprintf(why, n, "'%.*s%s' is one level too many (at most %d)", LEVEL_QUOTE, field, cut,
                     max_count < AC_LEVELS_MAX ? max_count : AC_LEVELS_MAX);
            ok = false;
        } else {
            levels.value[levels.count++] = v;
        }
        if (ok && comma) {
            field = comma + 1;
            if (!*field) {
                snprintf(why, n, "an empty entry (a comma with no level beside it)");
                ok = false;
            }
        } else if (ok) {
            break;
        }
    }
    free(buf);
    if (ok) *out = levels;
    return ok;
}

/* "hour_of_day, day_of_week, ..." for messages. */
static void calendar_names(char *buf, size_t n) {
    size_t used = 0;
    if (n) buf[0] = '\0';
    for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "",
                                 ac_calendar_feature_name(i));
}

/* parse_calendar's state: the bits so far and where the reason goes. */
typedef struct calendar_parse {
    unsigned bits;
    char *why;
    size_t n;
} calendar_parse;

static bool add_calendar_feature(const char *field, void *user) {
    calendar_parse *c = user;
    unsigned bit;
    const char *cut = strlen(field) > LEVEL_QUOTE ? "..." : "";
    if (!*field) {
        snprintf(c->why, c->n, "an empty entry (a comma with no feature beside it)");
        return false;
    }
    if (!ac_calendar_feature_parse(field, &bit)) {
        char known[160];
        const char *names[AC_CALENDAR_FEATURE_COUNT];
        for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT; i++) names[i] = ac_calendar_feature_name(i);
        calendar_names(known, sizeof known);
        const char *near = ac_nearest(field, names, AC_CALENDAR_FEATURE_COUNT);
        if (near)
            snprintf(c->why, c->n,
                     "unknown calendar feature '%.*s%s'; did you mean %s? (known: %s)", LEVEL_QUOTE,
                     field, cut, near, known);
        else
            snprintf(c->why, c->n, "unknown calendar feature '%.*s%s' (known: %s)", LEVEL_QUOTE,
                     field, cut, known);
        return false;
    }
    if (c->bits & bit) {
        snprintf(c->why, c->n, "'%.*s' is given twice", LEVEL_QUOTE, field);
        return false;
    }
    c->bits |= bit;
    return true;
}

/* data.calendar: comma-separated feature names (spaces around the commas allowed, "" for none)
 * into bits; false with the reason in why (an unknown name with the nearest known one, a name
 * given twice, an empty entry). */
static bool parse_calendar(const char *text, unsigned *bits, char *why, size_t n) {
    char buf[LINE_CHARS + 1];
    *bits = 0;
    if (strlen(text) >= sizeof buf) {
        snprintf(why, n, "too long");
        return false;
    }
    strcpy(buf, text);
    calendar_parse c = {.why = why, .n = n};
    bool ok = ac_each_field(buf, add_calendar_feature, &c);
    if (ok) *bits = c.bits;
    return ok;
}

/* Text can be written back as "name = text" and read again unchanged: one line, no control
 * characters, and no ';' where inih would take it for a comment. */
static ac_status check_text(const key_def *k, const char *text, origin at, ac_error *err) {
    size_t len = strlen(text);
    size_t limit = k->size - 1;
    size_t line_room = LINE_CHARS - strlen(k->name) - 3;
    if (line_room < limit) limit = line_room;
    if (len > limit)
        return ac_cfg_fail(err, at, "%s.%s: at most %zu characters, got %zu", k->section, k->name,
                           limit, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f)
            return ac_cfg_fail(err, at, "%s.%s: contains a control character", k->section, k->name);
        if (c == ';' && (i == 0 || isspace((unsigned char)text[i - 1])))
            return ac_cfg_fail(
                err, at,
                "%s.%s: a ';' at the start or after a space would begin a comment in "
                "an INI file",
                k->section, k->name);
    }
    if (len && (isspace((unsigned char)text[0]) || isspace((unsigned char)text[len - 1])))
        return ac_cfg_fail(err, at, "%s.%s: leading or trailing spaces", k->section, k->name);
    return AC_OK;
}

/* Parses text as the value of k and stores it in cfg. split_set is left to the caller. */
ac_status ac_cfg_parse_value(const key_def *k, const char *text, ac_config *cfg, origin at,
                             ac_error *err) {
    char *field = (char *)cfg + k->offset;
    switch (k->type) {
    case KEY_INT: {
        char *end;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (!*text || *end || errno == ERANGE || v < (long)k->min || v > (long)k->max)
            return bad_value(k, text, at, err);
        int iv = (int)v;
        memcpy(field, &iv, sizeof iv);
        return AC_OK;
    }
    case KEY_SEED: {
        char *end;
        errno = 0;
        const char *digits = text;
        if (*digits == '+') digits++;
        if (!isdigit((unsigned char)*digits)) return bad_value(k, text, at, err);
        unsigned long long v = strtoull(digits, &end, 10);
        if (*end || errno == ERANGE) return bad_value(k, text, at, err);
        uint64_t sv = (uint64_t)v;
        memcpy(field, &sv, sizeof sv);
        return AC_OK;
    }
    case KEY_FLOAT: {
        double v;
        if (!read_double(text, &v) || !in_range(k, v)) return bad_value(k, text, at, err);
        memcpy(field, &v, sizeof v);
        return AC_OK;
    }
    case KEY_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"};
        static const char *const no[] = {"false", "no", "off", "0"};
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            bool b = ac_cfg_same_ci(text, yes[i]);
            if (b || ac_cfg_same_ci(text, no[i])) {
                memcpy(field, &b, sizeof b);
                return AC_OK;
            }
        }
        return bad_value(k, text, at, err);
    }
    case KEY_ENUM: {
        int count = enum_count(k->enum_name);
        for (int v = 0; v < count; v++)
            if (ac_cfg_same_ci(text, k->enum_name(v))) {
                memcpy(field, &v, sizeof v);
                return AC_OK;
            }
        return bad_value(k, text, at, err);
    }
    case KEY_STRING: {
        ac_status status = check_text(k, text, at, err);
        if (status != AC_OK) return status;
        memset(field, 0, k->size);
        memcpy(field, text, strlen(text));
        return AC_OK;
    }
    case KEY_CALENDAR: {
        unsigned bits;
        char why[256];
        if (!parse_calendar(text, &bits, why, sizeof why))
            return ac_cfg_fail(err, at, "%s.%s: %s", k->section, k->name, why);
        memcpy(field, &bits, sizeof bits);
        return AC_OK;
    }
    case KEY_SPLIT: {
        double v[3];
        if (!read_split(k, text, v)) return bad_value(k, text, at, err);
        memcpy(field, v, sizeof v);
        return AC_OK;
    }
    case KEY_SPLIT_ROWS: {
        int v[3];
        if (!read_split_rows(text, v)) return bad_value(k, text, at, err);
        memcpy(field, v, sizeof v);
        return AC_OK;
    }
    case KEY_LEVELS:
    case KEY_QUANTILES: {
        ac_levels levels;
        char why[160];
        bool quantiles = k->type == KEY_QUANTILES;
        if (!ac_config_parse_levels(text, quantiles ? AC_MAX_QUANTILES : AC_INTERVALS_MAX, &levels,
                                    why, sizeof why))
            return ac_cfg_fail(err, at, "%s.%s: %s (expected levels such as %s)", k->section,
                               k->name, why, quantiles ? "0.1,0.5,0.9" : "0.8,0.95");
        bool median = !quantiles || levels.count == 0;
        for (int i = 0; i < levels.count; i++) median = median || levels.value[i] == 0.5;
        if (!median)
            return ac_cfg_fail(err, at, "%s.%s: the levels must include 0.5 (the point forecast)",
                               k->section, k->name);
        memcpy(field, &levels, sizeof levels);
        return AC_OK;
    }
    }
    return bad_value(k, text, at, err);
}

/* The value of k in cfg as text that parse_value reads back exactly. */
static void format_value(const key_def *k, const ac_config *cfg, char *buf, size_t n) {
    const char *field = (const char *)cfg + k->offset;
    switch (k->type) {
    case KEY_INT: {
        int v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%d", v);
        return;
    }
    case KEY_SEED: {
        uint64_t v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%" PRIu64, v);
        return;
    }
    case KEY_FLOAT: {
        double v;
        memcpy(&v, field, sizeof v);
        format_double(v, buf, n);
        return;
    }
    case KEY_BOOL: {
        bool v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%s", v ? "true" : "false");
        return;
    }
    case KEY_ENUM: {
        int v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%s", k->enum_name(v));
        return;
    }
    case KEY_STRING:
        snprintf(buf, n, "%s", field);
        return;
    case KEY_CALENDAR: {
        unsigned v;
        memcpy(&v, field, sizeof v);
        size_t used = 0;
        if (n) buf[0] = '\0';
        for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT && used < n; i++)
            if (v & (1u << i))
                used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "," : "",
                                         ac_calendar_feature_name(i));
        return;
    }
    case KEY_SPLIT: {
        double v[3];
        memcpy(v, field, sizeof v);
        char parts[3][32];
        for (int i = 0; i < 3; i++) format_double(v[i], parts[i], sizeof parts[i]);
        snprintf(buf, n, "%s,%s,%s", parts[0], parts[1], parts[2]);
        return;
    }
    case KEY_SPLIT_ROWS: {
        int v[3];
        memcpy(v, field, sizeof v);
        if (v[0] || v[1] || v[2])
            snprintf(buf, n, "%d,%d,%d", v[0], v[1], v[2]);
        else if (n)
            buf[0] = '\0';
        return;
    }
    case KEY_LEVELS:
    case KEY_QUANTILES: {
        ac_levels v;
        memcpy(&v, field, sizeof v);
        size_t used = 0;
        if (n) buf[0] = '\0';
        for (int i = 0; i < v.count && used < n; i++) {
            char part[32];
            format_double(v.value[i], part, sizeof part);
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "", part);
        }
        return;
    }
    }
}

/* ---- defaults ---- */

void ac_config_defaults(ac_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        ac_error err;
        origin at = {"default of ", ac_cfg_keys[i].name, 0};
        if (ac_cfg_parse_value(&ac_cfg_keys[i], ac_cfg_keys[i].def, cfg, at, &err) != AC_OK) {
            /* a programmer's mistake in the table, never the user's */
            fprintf(stderr, "attncast: config.c: bad default: %s\n", err.msg);
            abort();
        }
    }
}

static void trim(char **start, char *end) {
    while (**start && isspace((unsigned char)**start)) (*start)++;
    while (end > *start && isspace((unsigned char)end[-1])) *--end = '\0';
}

ac_status ac_config_set(ac_config *cfg, const char *assignment, ac_error *err) {
    origin at = {"--set ", assignment, 0};
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq) return ac_cfg_fail(err, at, "expected section.key=value");
    char *copy = malloc(strlen(assignment) + 1);
    if (!copy) return ac_error_set(err, AC_ERR_NOMEM, "--set: out of memory");
    strcpy(copy, assignment);
    char *section = copy, *name = copy + (dot - assignment) + 1;
    char *value = copy + (eq - assignment) + 1;
    name[-1] = '\0';
    value[-1] = '\0';
    trim(&section, name - 1);
    trim(&name, value - 1);
    trim(&value, value + strlen(value));

    ac_status status;
    const key_def *k;
    if (!*section || !*name)
        status = ac_cfg_fail(err, at, "expected section.key=value");
    else if ((k = ac_cfg_find_key(section, name, at, err)) == NULL)
        status = err ? err->code : AC_ERR_INVALID;
    else {
        ac_config work;
        memcpy(&work, cfg, sizeof work);
        status = ac_cfg_parse_value(k, value, &work, at, err);
        if (status == AC_OK) {
            if (k->type == KEY_SPLIT) { /* the later --set wins: fractions replace a row split */
                work.data.split_set = true;
                memset(work.data.split_rows, 0, sizeof work.data.split_rows);
            }
            work.set_at[k - ac_cfg_keys] = -1;
            ac_cfg_resolve(&work);
            memcpy(cfg, &work, sizeof work);
        }
    }
    free(copy);
    return status;
}

/* ---- values that depend on other keys ---- */

static int key_index(const char *section, const char *name) {
    for (int i = 0; i < KEY_COUNT; i++)
        if (!strcmp(ac_cfg_keys[i].section, section) && !strcmp(ac_cfg_keys[i].name, name))
            return i;
    return -1;
}

void ac_cfg_resolve(ac_config *cfg) {
    int loss = key_index("train", "loss");
    if (loss >= 0 && cfg->set_at[loss] == 0)
        cfg->train.loss = cfg->model.quantiles.count > 0 ? AC_LOSS_PINBALL : AC_LOSS_MSE;
}

/* ---- where a key got its value, for later checks ---- */

const char *ac_config_where(const ac_config *cfg, const char *key, char *buf, size_t n) {
    const char *dot = strchr(key, '.');
    const key_def *k = NULL;
    for (size_t i = 0; dot && i < KEY_COUNT && !k; i++)
        if (strlen(ac_cfg_keys[i].section) == (size_t)(dot - key) &&
            strncmp(ac_cfg_keys[i].section, key, (size_t)(dot - key)) == 0 &&
            strcmp(ac_cfg_keys[i].name, dot + 1) == 0)
            k = &ac_cfg_keys[i];
    int at = k ? cfg->set_at[k - ac_cfg_keys] : 0;
    const char *cut = strlen(cfg->path) > SOURCE_MAX ? "..." : "";
    if (at < 0) {
        char value[AC_CONFIG_TEXT];
        format_value(k, cfg, value, sizeof value);
        snprintf(buf, n, "--set %s=%.*s%s", key, QUOTE_MAX, value,
                 strlen(value) > QUOTE_MAX ? "..." : "");
    } else if (at > 0 && cfg->path[0])
        snprintf(buf, n, "%.*s%s:%d", SOURCE_MAX, cfg->path, cut, at);
    else
        snprintf(buf, n, "%.*s%s", SOURCE_MAX, cfg->path, cut);
    return buf;
}

ac_status ac_config_error(const ac_config *cfg, const char *key, ac_error *err, const char *fmt,
                          ...) {
    char what[AC_ERROR_MAX], where[SOURCE_MAX + QUOTE_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    ac_config_where(cfg, key, where, sizeof where);
    ac_error_set(err, AC_ERR_INVALID, "%s%s%s: %s", where, where[0] ? ": " : "", key, what);
    return ac_cfg_one_line(err, AC_ERR_INVALID);
}

/* ---- lengths that fit ---- */

/* Half of v, at least 1: what a patch longer than its lookback (or a stride longer than its
 * patch) becomes. */
static int half_at_least_one(int v) {
    return v / 2 > 1 ? v / 2 : 1;
}

void ac_config_fit_patch(ac_config *cfg) {
    if (cfg->model.patch_len > cfg->data.lookback)
        cfg->model.patch_len = half_at_least_one(cfg->data.lookback);
    if (cfg->model.patch_stride > cfg->model.patch_len)
        cfg->model.patch_stride = half_at_least_one(cfg->model.patch_len);
}

/* " --set model.patch_len=P --set model.patch_stride=S", each only when fit changed it. */
static void patch_options(const ac_config *cfg, const ac_config *fit, char *buf, size_t n) {
    buf[0] = '\0';
    size_t used = 0;
    if (fit->model.patch_len != cfg->model.patch_len)
        used += (size_t)snprintf(buf, n, " --set model.patch_len=%d", fit->model.patch_len);
    if (fit->model.patch_stride != cfg->model.patch_stride && used < n)
        snprintf(buf + used, n - used, " --set model.patch_stride=%d", fit->model.patch_stride);
}

bool ac_config_suggest_lengths(const ac_config *cfg, int rows, const double fractions[3], char *buf,
                               size_t n) {
    if (n) buf[0] = '\0';
    ac_config fit = *cfg;
    if (!ac_split_suggest(rows, fractions, cfg->data.lookback, cfg->data.horizon,
                          &fit.data.lookback, &fit.data.horizon))
        return false;
    if (fit.data.lookback == cfg->data.lookback && fit.data.horizon == cfg->data.horizon)
        return false;
    ac_config_fit_patch(&fit);
    char patch[96];
    patch_options(cfg, &fit, patch, sizeof patch);
    snprintf(buf, n, "--set data.lookback=%d --set data.horizon=%d%s", fit.data.lookback,
             fit.data.horizon, patch);
    return true;
}

/* ---- combinations ---- */

bool ac_config_missing_marker(const ac_config *cfg, double *value) {
    const char *text = cfg->data.missing_marker;
    char *stop;
    if (!text[0]) return false;
    errno = 0;
    double v = strtod(text, &stop);
    while (isspace((unsigned char)*stop)) stop++;
    if (stop == text || *stop || !isfinite(v) || errno == ERANGE) return false;
    *value = v;
    return true;
}

/* The role lists' keys, in the order data.targets, past, future. */
static const char *const role_keys[3] = {"data.targets", "data.past_covariates",
                                         "data.future_covariates"};

static const char *role_text(const ac_config *cfg, int k) {
    return k == 0   ? cfg->data.targets
           : k == 1 ? cfg->data.past_covariates
                    : cfg->data.future_covariates;
}

/* Calls visit(name, list, user) for each name of role list k, trimmed (empty ones too, as "");
 * stops and returns false when visit does. */
/* each_name's visit and its user, for each_field. */
typedef struct name_visit {
    int list;
    bool (*visit)(const char *name, int list, void *user);
    void *user;
} name_visit;

static bool visit_name(const char *field, void *user) {
    name_visit *v = user;
    return v->visit(field, v->list, v->user);
}

static bool each_name(const ac_config *cfg, int k,
                      bool (*visit)(const char *name, int list, void *user), void *user) {
    char buf[AC_CONFIG_TEXT];
    snprintf(buf, sizeof buf, "%s", role_text(cfg, k));
    return ac_each_field(buf, visit_name, &(name_visit){k, visit, user});
}

static bool count_name(const char *name, int list, void *user) {
    (void)name, (void)list;
    ++*(int *)user;
    return true;
}

/* The names seen so far, for the role checks. */
#define ROLE_NAMES_MAX (AC_CONFIG_TEXT / 2 * 3)
typedef struct role_seen {
    const ac_config *cfg;
    ac_error *err;
    int count;
    char names[ROLE_NAMES_MAX][64];
    char *long_names[ROLE_NAMES_MAX]; /* a name of 64 bytes or more, else NULL */
    int list[ROLE_NAMES_MAX];
    ac_status status;
} role_seen;

static bool check_name(const char *name, int k, void *user) {
    role_seen *seen = user;
    if (!*name) {
        seen->status = ac_config_error(seen->cfg, role_keys[k], seen->err,
                                       "an empty name (a comma with no column name beside it)");
        return false;
    }
    for (int i = 0; i < seen->count; i++) {
        const char *other = seen->long_names[i] ? seen->long_names[i] : seen->names[i];
        if (strcmp(other, name) != 0) continue;
        if (seen->list[i] == k) {
            seen->status = ac_config_error(seen->cfg, role_keys[k], seen->err,
                                           "'%.*s' is named twice", QUOTE_MAX, name);
        } else {
            char where[SOURCE_MAX + QUOTE_MAX + 64];
            ac_config_where(seen->cfg, role_keys[seen->list[i]], where, sizeof where);
            seen->status = ac_config_error(
                seen->cfg, role_keys[k], seen->err, "'%.*s' is also in %s%s%s%s", QUOTE_MAX, name,
                role_keys[seen->list[i]], where[0] ? " (" : "", where, where[0] ? ")" : "");
        }
        return false;
    }
    if (seen->count == ROLE_NAMES_MAX) return true; /* cannot happen: lists are shorter */
    int i = seen->count++;
    seen->list[i] = k;
    seen->long_names[i] = NULL;
    if (strlen(name) < sizeof seen->names[i])
        strcpy(seen->names[i], name);
    else if ((seen->long_names[i] = strdup(name)) == NULL)
        seen->names[i][0] = '\0';
    return true;
}

/* A column named in two of the role lists, or twice in one, or an empty name. */
static ac_status check_roles(const ac_config *cfg, ac_error *err) {
    role_seen *seen = calloc(1, sizeof *seen);
    if (!seen) return ac_error_set(err, AC_ERR_NOMEM, "config: out of memory");
    seen->cfg = cfg;
    seen->err = err;
    seen->status = AC_OK;
    for (int k = 0; k < 3 && seen->status == AC_OK; k++) each_name(cfg, k, check_name, seen);
    ac_status st = seen->status;
    for (int i = 0; i < seen->count; i++) free(seen->long_names[i]);
    free(seen);
    return st;
}

ac_status ac_config_check(const ac_config *cfg, ac_error *err) {
    const char *at = cfg->path[0] ? cfg->path : "";
    const char *sep = cfg->path[0] ? ": " : "";
    const char *dataset = cfg->data.dataset, *csv = cfg->data.csv;
    if (!dataset[0] && !csv[0])
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s%sdata.dataset and data.csv: give exactly one (data.dataset = "
                            "exchange_rate, or data.csv = path/to/file.csv)",
                            at, sep);
    if (dataset[0] && csv[0])
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s%sdata.dataset and data.csv: give exactly one, not both "
                            "(data.dataset = %s, data.csv = %s)",
                            at, sep, dataset, csv);
    for (const char *c = dataset; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
            return ac_error_set(err, AC_ERR_INVALID,
                                "%s%sdata.dataset = %s: a dataset name has only letters, digits, "
                                "'_' and '-' (for a file, use data.csv)",
                                at, sep, dataset);
    double marker;
    if (cfg->data.missing_marker[0] && !ac_config_missing_marker(cfg, &marker))
        return ac_config_error(cfg, "data.missing_marker", err,
                               "expected a finite number such as -9999 (or nothing), got '%.*s'",
                               QUOTE_MAX, cfg->data.missing_marker);
    if (cfg->data.id_column[0] && cfg->data.format == AC_FORMAT_WIDE) {
        char where[SOURCE_MAX + QUOTE_MAX + 64];
        ac_config_where(cfg, "data.format", where, sizeof where);
        bool by_default = strcmp(where, cfg->path) == 0; /* the file's name alone: the default */
        return ac_config_error(cfg, "data.id_column", err,
                               "'%.*s' is set, but data.format = wide (%s) has no id column: set "
                               "data.format = long for a file of many series, or leave "
                               "data.id_column empty",
                               QUOTE_MAX, cfg->data.id_column, by_default ? "the default" : where);
    }
    ac_freq freq;
    if (cfg->data.frequency[0] && !ac_freq_parse(cfg->data.frequency, &freq))
        return ac_config_error(cfg, "data.frequency", err,
                               "expected a frequency such as 10min, h, D, B, W, MS, ME, QS, QE, "
                               "YS or YE (or nothing, to infer it from the dates), got '%.*s'",
                               QUOTE_MAX, cfg->data.frequency);
    if (cfg->data.gaps == AC_GAPS_FILL && cfg->data.missing != AC_MISSING_FFILL &&
        cfg->data.missing != AC_MISSING_INTERPOLATE)
        return ac_config_error(cfg, "data.gaps", err,
                               "fill inserts the missing dates as rows of missing cells, which "
                               "data.missing = %s cannot fill: set data.missing = ffill or "
                               "interpolate",
                               ac_missing_policy_name(cfg->data.missing));
    if (cfg->model.d_model % cfg->model.heads != 0)
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s%smodel.d_model = %d is not divisible by model.heads = %d", at, sep,
                            cfg->model.d_model, cfg->model.heads);
    if (cfg->model.patch_len > cfg->data.lookback ||
        cfg->model.patch_stride > cfg->model.patch_len) {
        ac_config fit = *cfg;
        ac_config_fit_patch(&fit);
        char options[96];
        patch_options(cfg, &fit, options, sizeof options);
        if (cfg->model.patch_len > cfg->data.lookback)
            return ac_error_set(err, AC_ERR_INVALID,
                                "%s%smodel.patch_len = %d is longer than data.lookback = %d; "
                                "try%s",
                                at, sep, cfg->model.patch_len, cfg->data.lookback, options);
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s%smodel.patch_stride = %d is longer than model.patch_len = %d; "
                            "try%s",
                            at, sep, cfg->model.patch_stride, cfg->model.patch_len, options);
    }
    ac_status roles = check_roles(cfg, err);
    if (roles != AC_OK) return roles;
    if ((cfg->data.future_covariates[0] || cfg->data.calendar) &&
        cfg->data.horizon < cfg->model.patch_len) {
        char where[SOURCE_MAX + QUOTE_MAX + 64];
        const char *key =
            cfg->data.future_covariates[0] ? "data.future_covariates" : "data.calendar";
        ac_config_where(cfg, key, where, sizeof where);
        return ac_config_error(cfg, "data.horizon", err,
                               "%d is shorter than model.patch_len = %d, and future covariates "
                               "(%s%s%s) need data.horizon >= model.patch_len: the horizon is "
                               "patched like the lookback",
                               cfg->data.horizon, cfg->model.patch_len, key, where[0] ? ", " : "",
                               where);
    }
    if (cfg->model.quantiles.count > 0 && cfg->train.loss != AC_LOSS_PINBALL) {
        char where[SOURCE_MAX + QUOTE_MAX + 64];
        ac_config_where(cfg, "model.quantiles", where, sizeof where);
        return ac_config_error(cfg, "train.loss", err,
                               "%s with model.quantiles (%s): a quantile model trains with the "
                               "pinball loss only; set train.loss = pinball or leave it out",
                               ac_loss_kind_name(cfg->train.loss), where[0] ? where : "set");
    }
    if (cfg->model.quantiles.count == 0 && cfg->train.loss == AC_LOSS_PINBALL)
        return ac_config_error(cfg, "train.loss", err,
                               "pinball needs model.quantiles (e.g. model.quantiles = "
                               "0.1,0.5,0.9); without them use mse, mae or huber");
    if (cfg->train.warmup > 0 && cfg->train.warmup >= cfg->train.epochs)
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s%strain.warmup = %d must be less than train.epochs = %d", at, sep,
                            cfg->train.warmup, cfg->train.epochs);
    return AC_OK;
}

/* ---- writing ---- */

char *ac_config_to_ini(const ac_config *cfg) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) return NULL;
    int ok = fprintf(out, "; attncast resolved config\n") > 0;
    for (size_t s = 0; s < SECTION_COUNT; s++) {
        ok &= fprintf(out, "\n[%s]\n", ac_cfg_sections[s]) > 0;
        for (size_t i = 0; i < KEY_COUNT; i++) {
            if (strcmp(ac_cfg_keys[i].section, ac_cfg_sections[s]) != 0) continue;
            char value[AC_CONFIG_TEXT];
            format_value(&ac_cfg_keys[i], cfg, value, sizeof value);
            ok &= fprintf(out, "%s =%s%s\n", ac_cfg_keys[i].name, value[0] ? " " : "", value) > 0;
        }
    }
    if (fclose(out) != 0 || !ok) {
        free(text);
        return NULL;
    }
    return text;
}

ac_model_spec ac_config_model_spec(const ac_config *cfg, int channels) {
    ac_model_spec spec = {
        .lookback = cfg->data.lookback,
        .horizon = cfg->data.horizon,
        .channels = channels,
        .channel_mode = cfg->model.channels,
        .patch_len = cfg->model.patch_len,
        .patch_stride = cfg->model.patch_stride,
        .d_model = cfg->model.d_model,
        .heads = cfg->model.heads,
        .layers = cfg->model.layers,
        .d_ff = cfg->model.d_ff,
        .attention = cfg->model.attention,
        .revin = cfg->model.revin,
        .anchor = cfg->model.anchor,
        .causal = cfg->model.causal,
        .dropout = (float)cfg->model.dropout,
        .quantile_count = cfg->model.quantiles.count,
    };
    int future_real, calendar_columns;
    ac_config_covariate_counts(cfg, &spec.past_covariates, &future_real, &calendar_columns);
    spec.future_covariates = future_real + calendar_columns;
    for (int j = 0; j < cfg->model.quantiles.count && j < AC_MAX_QUANTILES; j++)
        spec.quantiles[j] = (float)cfg->model.quantiles.value[j];
    return spec;
}

void ac_config_covariate_counts(const ac_config *cfg, int *past, int *future_real,
                                int *calendar_columns) {
    int p = 0, f = 0;
    each_name(cfg, 1, count_name, &p);
    each_name(cfg, 2, count_name, &f);
    if (past) *past = p;
    if (future_real) *future_real = f;
    if (calendar_columns) *calendar_columns = ac_calendar_columns(cfg->data.calendar);
}

void ac_config_column_roles(const ac_config *cfg, ac_config_roles *out) {
    memset(out, 0, sizeof *out);
    static const char *const keys[5] = {"data.targets", "data.past_covariates",
                                        "data.future_covariates", "data.calendar", "data.columns"};
    for (int i = 0; i < 5; i++) ac_config_where(cfg, keys[i], out->where[i], sizeof out->where[i]);
    out->roles = (ac_column_roles){
        .targets = cfg->data.targets,
        .past = cfg->data.past_covariates,
        .future = cfg->data.future_covariates,
        .calendar = cfg->data.calendar,
        .targets_at = out->where[0],
        .past_at = out->where[1],
        .future_at = out->where[2],
        .calendar_at = out->where[3],
        .columns_at = cfg->data.columns[0] ? out->where[4] : NULL,
    };
}

ac_train_options ac_config_train_options(const ac_config *cfg) {
    ac_train_options o = {
        .epochs = cfg->train.epochs,
        .batch_size = cfg->train.batch_size,
        .lr = cfg->train.lr,
        .optimizer = cfg->train.optimizer,
        .weight_decay = cfg->train.weight_decay,
        .momentum = cfg->train.momentum,
        .clip_grad = cfg->train.clip_grad,
        .schedule = cfg->train.schedule,
        .warmup = cfg->train.warmup,
        .decay_every = cfg->train.decay_every,
        .decay_gamma = cfg->train.decay_gamma,
        .patience = cfg->train.patience,
        .seed = cfg->train.seed,
        .loss = cfg->train.loss,
    };
    return o;
}

/* What a key accepts, in brief, for the key reference: "1..4096", "> 0", "a|b|c". */
static void summarize(const key_def *k, char *buf, size_t n) {
    buf[0] = '\0';
    switch (k->type) {
    case KEY_INT:
        snprintf(buf, n, "%.0f..%.0f", k->min, k->max);
        return;
    case KEY_SEED:
        snprintf(buf, n, "unsigned 64-bit");
        return;
    case KEY_FLOAT:
        if (isinf(k->max))
            snprintf(buf, n, "%s %g", (k->open & MIN_OPEN) ? ">" : ">=", k->min);
        else
            snprintf(buf, n, "%g %s x %s %g", k->min,
                     (k->open & MIN_OPEN) ? "<" : "<=", (k->open & MAX_OPEN) ? "<" : "<=", k->max);
        return;
    case KEY_BOOL:
        snprintf(buf, n, "true|false");
        return;
    case KEY_ENUM: {
        size_t used = 0;
        int count = enum_count(k->enum_name);
        for (int v = 0; v < count && used < n; v++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", v ? "|" : "", k->enum_name(v));
        return;
    }
    case KEY_STRING:
    case KEY_SPLIT:
    case KEY_SPLIT_ROWS:
    case KEY_LEVELS:
        return;
    case KEY_CALENDAR: {
        size_t used = 0;
        for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "",
                                     ac_calendar_feature_name(i));
        return;
    }
    case KEY_QUANTILES:
        snprintf(buf, n, "levels in (0, 1) with 0.5");
        return;
    }
}

void ac_config_print_keys(FILE *out) {
    int key_width = 0, def_width = 0;
    for (size_t i = 0; i < KEY_COUNT; i++) {
        int kw = (int)(strlen(ac_cfg_keys[i].section) + 1 + strlen(ac_cfg_keys[i].name));
        int dw = ac_cfg_keys[i].def[0] ? (int)strlen(ac_cfg_keys[i].def) : 2;
        if (kw > key_width) key_width = kw;
        if (dw > def_width) def_width = dw;
    }
    for (size_t i = 0; i < KEY_COUNT; i++) {
        const key_def *k = &ac_cfg_keys[i];
        char key[64], accepts[128];
        snprintf(key, sizeof key, "%s.%s", k->section, k->name);
        summarize(k, accepts, sizeof accepts);
        fprintf(out, "  %-*s  %-*s  %s%s%s%s\n", key_width, key, def_width,
                k->def[0] ? k->def : "\"\"", k->doc, accepts[0] ? " [" : "", accepts,
                accepts[0] ? "]" : "");
    }
}

/* Writes s into a Markdown table cell: '|' escaped, '<' as an entity (so runs/<name> is not read
 * as an HTML tag). */
static void put_cell(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '<')
            fputs("&lt;", out);
        else
            fputc(*s, out);
    }
}

void ac_config_print_keys_markdown(FILE *out) {
    fputs("| key | default | accepts | meaning |\n| --- | --- | --- | --- |\n", out);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        const key_def *k = &ac_cfg_keys[i];
        char accepts[256];
        describe(k, accepts, sizeof accepts);
        fprintf(out, "| `%s.%s` | ", k->section, k->name);
        if (k->def[0]) fprintf(out, "`%s`", k->def);
        fputs(" | ", out);
        put_cell(out, accepts);
        fputs(" | ", out);
        put_cell(out, k->doc);
        fputs(" |\n", out);
    }
}
