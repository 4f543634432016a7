/* config.h - experiment configuration: one INI file with sections [data], [model], [train],
 * [output], every key typed, range-checked and defaulted.
 *
 * Loading starts from the documented defaults, then applies the file, then any command-line
 * overrides (`--set section.key=value`), each checked the same way. An unknown section or key,
 * a value of the wrong type or out of range is an AC_ERR_INVALID whose message names where it
 * came from ("exp.ini:12" or "--set train.lr=abc") and the key, with a did-you-mean for near
 * misses. ac_config_check then rejects impossible combinations (d_model not divisible by heads,
 * patch longer than the lookback, ...) before any data is read. ac_config_to_ini writes every
 * key back, defaults filled in; parsing that text gives the same config.
 *
 * The key table lives in src/config/config.c and is the single source for parsing, defaults,
 * validation, the resolved text and the key reference (docs/config.md is generated from it).
 */
#ifndef ATTNCAST_CONFIG_H
#define ATTNCAST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "attncast/csv.h"
#include "attncast/error.h"
#include "attncast/forecaster.h"
#include "attncast/optim.h"
#include "attncast/trainer.h"

#define AC_CONFIG_TEXT 1024
/* Room for the key table's keys in ac_config.set_at (config.c checks it). */
#define AC_CONFIG_MAX_KEYS 64
/* The most levels output.intervals holds (model.quantiles: AC_MAX_QUANTILES of forecaster.h). */
#define AC_INTERVALS_MAX 8
/* Room in a list of levels: the longer of the two lists. */
#define AC_LEVELS_MAX AC_MAX_QUANTILES
_Static_assert(AC_INTERVALS_MAX <= AC_LEVELS_MAX, "AC_LEVELS_MAX holds output.intervals");

/* A list of levels (output.intervals, model.quantiles): strictly increasing, each in (0, 1);
 * count 0 is an empty list. */
typedef struct ac_levels {
    int count;
    double value[AC_LEVELS_MAX];
} ac_levels;

typedef struct ac_config {
    struct {
        char dataset[64];             /* data.dataset: a card name, or "" */
        char csv[AC_CONFIG_TEXT];     /* data.csv: a CSV path, or ""; exactly one of the two */
        char columns[AC_CONFIG_TEXT]; /* data.columns: comma-separated subset, "" for all */
        char date_column[128];        /* data.date_column: "" for the MODEL.md rule */
        ac_data_format format;        /* data.format: wide, or long (one row per id and date) */
        char id_column[128];          /* data.id_column (long format): "" for a column named id */
        char frequency[AC_FREQ_TEXT]; /* data.frequency (calendar.h names), "" to infer it */
        int lookback;                 /* data.lookback (L) */
        int horizon;                  /* data.horizon (H) */
        double split[3];              /* data.split "train,val,test" */
        bool split_set;               /* data.split given explicitly (else the card's default) */
        /* data.split_rows "train,val,test" row counts from row 0, the later rows unused; all 0
         * when not set. When set it wins over data.split (which then holds its fractions). */
        int split_rows[3];
        ac_missing_policy missing; /* data.missing */
        char missing_marker[32];   /* data.missing_marker: a number such as -9999, "" none */
        ac_gaps_policy gaps;       /* data.gaps */
        int season; /* data.season, 0: the card's, else the frequency's (ac_freq_season) */
        /* Column roles (MODEL.md version 2, "Covariates"): comma-separated column names */
        char targets[AC_CONFIG_TEXT];           /* data.targets, "": every non-covariate column */
        char past_covariates[AC_CONFIG_TEXT];   /* data.past_covariates */
        char future_covariates[AC_CONFIG_TEXT]; /* data.future_covariates (real-valued) */
        unsigned calendar; /* data.calendar: AC_CALENDAR_* bits (calendar.h), 0 for none */
    } data;
    struct {
        ac_attention_kind attention; /* model.attention */
        int d_model;                 /* model.d_model (d) */
        int heads;                   /* model.heads (h) */
        int layers;                  /* model.layers */
        int d_ff;                    /* model.d_ff */
        int patch_len;               /* model.patch_len (P) */
        int patch_stride;            /* model.patch_stride */
        ac_channel_mode channels;    /* model.channels */
        bool revin;                  /* model.revin */
        ac_norm_anchor anchor; /* model.anchor: last (a zero output is the naive repeat) or mean */
        bool causal;           /* model.causal */
        double dropout;        /* model.dropout, in [0, 1) */
        ac_levels quantiles;   /* model.quantiles, "" (none) for a point model; one of them 0.5 */
    } model;
    struct {
        int epochs;                  /* train.epochs */
        int batch_size;              /* train.batch_size */
        double lr;                   /* train.lr, > 0 */
        ac_optimizer_kind optimizer; /* train.optimizer */
        double weight_decay;         /* train.weight_decay */
        double momentum;             /* train.momentum (sgd only) */
        double clip_grad;            /* train.clip_grad, 0: off */
        ac_schedule_kind schedule;   /* train.schedule */
        int warmup;                  /* train.warmup: warm-up epochs */
        int decay_every;             /* train.decay_every (step schedule) */
        double decay_gamma;          /* train.decay_gamma (step schedule) */
        int patience;                /* train.patience in epochs; 0: off */
        uint64_t seed;               /* train.seed */
        int threads;                 /* train.threads; 0: ATTNCAST_THREADS or all cores */
        ac_loss_kind loss; /* train.loss (huber: delta 1, as MODEL.md); unset: pinball when
                            * model.quantiles is set (the only loss allowed then), else mse */
    } train;
    struct {
        char dir[AC_CONFIG_TEXT];           /* output.dir, "" for runs/<name>-<timestamp> */
        int checkpoint_every;               /* output.checkpoint_every: last.h5 every N epochs */
        char plot_channels[AC_CONFIG_TEXT]; /* output.plot_channels: names, "" for the last */
        ac_levels intervals; /* output.intervals: conformal interval levels, none when empty */
    } output;
    char name[128];            /* the config file's base name without .ini */
    char path[AC_CONFIG_TEXT]; /* the file it was loaded from, "" if none */
    /* Where each key got its value, by its place in the key table: 0 the default, > 0 the line
     * of the loaded text, -1 a --set override. Read it through ac_config_where. */
    int set_at[AC_CONFIG_MAX_KEYS];
} ac_config;

/* Every key at its default (the key table in src/config/config.c; docs/config.md lists them). */
void ac_config_defaults(ac_config *cfg);

/* Defaults, then the file at path. Sets name and path. */
ac_status ac_config_load(ac_config *cfg, const char *path, ac_error *err);

/* Applies INI text (the same rules as a file); source names it in messages ("checkpoint
 * /config", ...). */
ac_status ac_config_load_string(ac_config *cfg, const char *text, const char *source,
                                ac_error *err);

/* Applies one "section.key=value" override, as from `--set`. */
ac_status ac_config_set(ac_config *cfg, const char *assignment, ac_error *err);

/* Rejects impossible combinations that need no data: exactly one of data.dataset / data.csv,
 * d_model % heads, patch_len <= lookback, patch_stride <= patch_len, train.loss = pinball with
 * model.quantiles and only with them ... Messages name the keys. */
ac_status ac_config_check(const ac_config *cfg, ac_error *err);

/* Shrinks model.patch_len to fit data.lookback and model.patch_stride to fit model.patch_len,
 * keeping each where it already fits: one that does not fit becomes half of what bounds it (at
 * least 1). */
void ac_config_fit_patch(ac_config *cfg);

/* When cfg's lookback and horizon do not fit a series of `rows` rows split by fractions: the
 * --set options of lengths that do (ac_split_suggest) with the patch fitted to them
 * (ac_config_fit_patch), "--set data.lookback=96 --set data.horizon=24" plus
 * model.patch_len and model.patch_stride where they change, in buf, and true. false (buf empty)
 * when the lengths fit already or no lengths fit at all. */
bool ac_config_suggest_lengths(const ac_config *cfg, int rows, const double fractions[3], char *buf,
                               size_t n);

/* data.missing_marker as a number: true and *value when it is set and a finite number
 * (ac_config_check refuses any other non-empty text). */
bool ac_config_missing_marker(const ac_config *cfg, double *value);

/* Parses a list of levels such as "0.8,0.95" (spaces around the commas allowed; "" is the
 * empty list): at most max_count (<= AC_LEVELS_MAX) numbers, each in (0, 1), strictly
 * increasing. On failure returns false with the reason, quoting the bad token, in why ("'1.2' is
 * not in (0, 1)"). */
bool ac_config_parse_levels(const char *text, int max_count, ac_levels *out, char *why, size_t n);

/* Where key ("data.dataset") got its value, for messages about values that are checked only
 * later (a dataset name, a column name): "exp.ini:3", "--set data.dataset=x" (the command line),
 * or for a default the file name alone ("exp.ini") or "" when there is none. Returns buf. */
const char *ac_config_where(const ac_config *cfg, const char *key, char *buf, size_t n);

/* An AC_ERR_INVALID like the config's own errors, one line naming where key got its value and
 * the key: "exp.ini:3: data.dataset: <message>". */
ac_status ac_config_error(const ac_config *cfg, const char *key, ac_error *err, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

/* The whole config as INI text, every section and key, defaults filled in; malloc'd, caller
 * frees. NULL only when memory is short. */
char *ac_config_to_ini(const ac_config *cfg);

/* The model spec the config describes, for a dataset of `channels` channels. */
ac_model_spec ac_config_model_spec(const ac_config *cfg, int channels);

/* The config's column roles for ac_table_arrange (csv.h); the strings point into cfg and into
 * the `where` buffers (ac_config_where of each key), which must outlive the roles. */
typedef struct ac_config_roles {
    ac_column_roles roles;
    char where[5][AC_CONFIG_TEXT]; /* the three lists, data.calendar, data.columns */
} ac_config_roles;
void ac_config_column_roles(const ac_config *cfg, ac_config_roles *out);
/* The covariate counts the config names: Kp past columns, real future columns, and calendar
 * columns (2 per feature); the model's Kf is the sum of the last two. */
void ac_config_covariate_counts(const ac_config *cfg, int *past, int *future_real,
                                int *calendar_columns);
/* The trainer's options the config's [train] section describes (all but train.threads, which
 * the program applies with ac_threads_init). */
ac_train_options ac_config_train_options(const ac_config *cfg);

/* One line per key: "section.key  default  meaning" (for `attncast train --help`). */
void ac_config_print_keys(FILE *out);

/* The same keys as a Markdown table: key, default, what it accepts (type, range or names) and
 * meaning. `attncast train --keys --markdown` prints it; docs/config.md holds it between markers
 * and a test keeps the two equal. */
void ac_config_print_keys_markdown(FILE *out);

#endif
