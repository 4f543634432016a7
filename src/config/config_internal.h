/* config_internal.h - private to src/config: what config.c and config_ini.c share.
 *
 * config.c owns the key table and turns one value's text into its field of ac_config;
 * config_ini.c reads INI files through that table. The public API is include/attncast/config.h.
 */
#ifndef ATTNCAST_IO_CONFIG_INTERNAL_H
#define ATTNCAST_IO_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "attncast/config.h"

/* How much of an offending value, or of a source name, is quoted in a message. */
#define QUOTE_MAX  120
#define SOURCE_MAX 240

/* The longest config line read (inih's own buffer is smaller; config_ini.c hands it longer
 * lines in a form that fits, see there). Any value that fits a field of ac_config fits a line. */
#define CONFIG_LINE_MAX 4095

/* ---- the key table (defined in config.c) ---- */

typedef enum key_type {
    KEY_INT,        /* int, strtol, range [min, max] */
    KEY_FLOAT,      /* double, strtod, finite, range with open or closed ends */
    KEY_BOOL,       /* bool: true/false, yes/no, on/off, 1/0 */
    KEY_ENUM,       /* an enumeration, by the names of src/core/names.c */
    KEY_STRING,     /* char[size], at most size - 1 characters */
    KEY_SPLIT,      /* data.split: three fractions in (0, 1) summing to 1 */
    KEY_SPLIT_ROWS, /* data.split_rows: int[3] row counts train,val,test; "" (0,0,0) for none */
    KEY_SEED,       /* uint64_t, any value */
    KEY_LEVELS,     /* output.intervals: an ac_levels, comma-separated, "" for none */
    KEY_QUANTILES,  /* model.quantiles: an ac_levels that includes 0.5, "" for none */
    KEY_CALENDAR    /* data.calendar: unsigned AC_CALENDAR_* bits, by comma-separated names */
} key_type;

enum { MIN_OPEN = 1, MAX_OPEN = 2 }; /* key_def.open: which ends of [min, max] are excluded */

typedef const char *(*enum_name_fn)(int value);

typedef struct key_def {
    const char *section;
    const char *name;
    key_type type;
    size_t offset; /* into ac_config */
    size_t size;   /* of the field */
    double min, max;
    int open;
    enum_name_fn enum_name; /* KEY_ENUM: value -> name, "unknown" past the last value */
    const char *def;        /* the default, as text */
    const char *doc;
} key_def;

/* config.c checks these against its tables. */
#define KEY_COUNT     51
#define SECTION_COUNT 4

extern const key_def ac_cfg_keys[KEY_COUNT];
extern const char *const ac_cfg_sections[SECTION_COUNT];

/* ---- where a value came from, for messages ---- */

typedef struct origin {
    const char *prefix; /* "" or "--set " */
    const char *source; /* a path, a source name or the assignment */
    int line;           /* 1-based, 0 when there is none */
} origin;

bool ac_cfg_same_ci(const char *a, const char *b);

/* "SOURCE:LINE: message" or "--set ASSIGNMENT: message", always AC_ERR_INVALID. */
ac_status ac_cfg_fail(ac_error *err, origin at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Messages are one line even when the input quoted in them is not. */
ac_status ac_cfg_one_line(ac_error *err, ac_status code);

/* Parses text as the value of k and stores it in cfg. split_set is left to the caller. */
ac_status ac_cfg_parse_value(const key_def *k, const char *text, ac_config *cfg, origin at,
                             ac_error *err);

/* Fills in what depends on other keys once a load or override has succeeded: train.loss, when
 * nothing set it, is pinball for a quantile model and mse otherwise. */
void ac_cfg_resolve(ac_config *cfg);

/* ---- finding sections and keys (config_ini.c) ---- */

/* The table entry of section.name, or NULL with the error set. */
const key_def *ac_cfg_find_key(const char *section, const char *name, origin at, ac_error *err);

#endif
