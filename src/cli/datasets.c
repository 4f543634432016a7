/* datasets.c - `attncast datasets [list | fetch NAME | info NAME] [--json]`: the dataset cards,
 * whether each file is on this machine, fetching one, and a card with per-channel statistics.
 *
 * `list` and `info` never download: they look for the card's file where ac_dataset_fetch would
 * find it without the network (the mirror when ATTNCAST_DATA_MIRROR is set, else the cache) and
 * call ac_dataset_fetch only when that file exists, so it is verified against the card's SHA-256
 * by the same code that training uses. Only `fetch` may download.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attncast/csv.h"
#include "app/dataset.h"
#include "cli/cli.h"

#define MAX_CARDS 256
#define SENTINEL  -9999.0 /* the missing-value marker of the weather benchmark, among others */

static const char *const USAGE =
    "usage: attncast datasets [list | fetch NAME | info NAME] [--json]";

static const char *const HELP =
    "\n"
    "Lists, fetches and describes the dataset cards of datasets/ (the files data.dataset\n"
    "names).\n"
    "\n"
    "commands:\n"
    "  list        the dataset cards: name, domain, step, rows, channels and whether the file\n"
    "              is here (mirror, cached, not fetched); never downloads\n"
    "  fetch NAME  find or download the file, verify its SHA-256, print its path\n"
    "  info NAME   the card, and when the file is here its rows, dates, frequency and gaps,\n"
    "              and per-channel mean, std, min, max and count of -9999 cells\n"
    "\n"
    "options:\n"
    "  --json      machine-readable output\n"
    "  --help, -h  this help\n"
    "\n"
    "Files come from $ATTNCAST_DATA_MIRROR when set, else the cache ($ATTNCAST_CACHE_DIR);\n"
    "cards from $ATTNCAST_DATASETS_DIR. Exit 1 when a file's checksum differs from its card.\n"
    "\n"
    "examples:\n"
    "  attncast datasets\n"
    "  attncast datasets fetch exchange_rate\n"
    "  attncast datasets info weather --json";

/* ---- where a card's file is ---- */

typedef enum where_kind {
    WHERE_ABSENT, /* not on this machine: `fetch` would download it */
    WHERE_MIRROR, /* verified in $ATTNCAST_DATA_MIRROR */
    WHERE_CACHE,  /* verified in the cache */
    WHERE_BAD     /* on this machine but refused (checksum, unreadable); err says why */
} where_kind;

typedef struct located {
    where_kind where;
    char path[AC_DATASET_PATH]; /* the verified file, or where it was looked for */
    ac_error err;               /* WHERE_BAD only */
} located;

/* The status column of `list`. */
static const char *status_name(const located *loc) {
    switch (loc->where) {
    case WHERE_MIRROR:
        return "mirror";
    case WHERE_CACHE:
        return "cached";
    case WHERE_BAD:
        return loc->err.code == AC_ERR_FORMAT ? "bad checksum" : "unreadable";
    case WHERE_ABSENT:
        break;
    }
    return "not fetched";
}

static bool verified(const located *loc) {
    return loc->where == WHERE_MIRROR || loc->where == WHERE_CACHE;
}

static const char *mirror_dir(void) {
    const char *m = getenv("ATTNCAST_DATA_MIRROR");
    return m && m[0] ? m : NULL;
}

/* Finds and verifies the card's file without downloading anything. */
static void locate(const ac_dataset_card *card, located *loc) {
    memset(loc, 0, sizeof *loc);
    const char *mirror = mirror_dir();
    char cache[AC_DATASET_PATH];
    const char *folder = mirror ? mirror : ac_dataset_cache_dir(cache, sizeof cache);
    int n = snprintf(loc->path, sizeof loc->path, "%s/%s", folder, card->file);
    struct stat sb;
    if (!folder[0] || n < 0 || (size_t)n >= sizeof loc->path || stat(loc->path, &sb) != 0 ||
        !S_ISREG(sb.st_mode))
        return; /* ac_dataset_fetch would download it: that is `fetch`'s job */
    char path[AC_DATASET_PATH];
    if (ac_dataset_fetch(card, path, sizeof path, &loc->err) != AC_OK) {
        loc->where = WHERE_BAD;
        return;
    }
    memcpy(loc->path, path, sizeof path);
    loc->where = mirror ? WHERE_MIRROR : WHERE_CACHE;
}

static ac_status load_table(const ac_dataset_card *card, const char *path, bool check_dates,
                            ac_table **table, ac_error *err) {
    ac_csv_options opt = {.date_column = card->date_column,
                          .missing = AC_MISSING_ERROR,
                          .check_dates = check_dates,
                          .gaps = AC_GAPS_WARN};
    return ac_table_load_csv(table, path, &opt, err);
}

/* The hint printed for a file that is not here. */
static void absent_hint(const ac_dataset_card *card, const located *loc, char *buf, size_t n) {
    if (mirror_dir())
        snprintf(buf, n, "%s is not in ATTNCAST_DATA_MIRROR (looked for %s); put it there",
                 card->file, loc->path);
    else
        snprintf(buf, n,
                 "not fetched; `attncast datasets fetch %s` downloads it from %s, or set "
                 "ATTNCAST_DATA_MIRROR to a folder holding %s",
                 card->name, card->url, card->file);
}

static const char *or_dash(const char *s) {
    return s && s[0] ? s : "-";
}

/* cJSON string or null for an empty field. */
static void json_text(cJSON *obj, const char *key, const char *s) {
    if (s && s[0])
        cJSON_AddStringToObject(obj, key, s);
    else
        cJSON_AddNullToObject(obj, key);
}

static int print_json(cJSON *root) {
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        ac_cli_error("datasets: out of memory writing JSON");
        return -1;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

/* ---- list ---- */

typedef struct list_row {
    ac_dataset_card card;
    bool card_ok;
    located loc;
    int rows, channels; /* -1: unknown */
} list_row;

static int list_datasets(bool json) {
    static char names[MAX_CARDS][64];
    int n = ac_dataset_list(names, MAX_CARDS);
    list_row *rows = calloc((size_t)(n > 0 ? n : 1), sizeof *rows);
    if (!rows) {
        ac_cli_error("datasets: out of memory");
        return AC_EXIT_FAILURE;
    }
    int exit_code = AC_EXIT_OK;
    for (int i = 0; i < n; i++) {
        list_row *r = &rows[i];
        r->rows = r->channels = -1;
        ac_error err;
        if (ac_dataset_card_load(&r->card, names[i], &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            exit_code = AC_EXIT_FAILURE;
            continue;
        }
        r->card_ok = true;
        locate(&r->card, &r->loc);
        if (r->loc.where == WHERE_BAD) {
            ac_cli_error("%s", r->loc.err.msg);
            exit_code = AC_EXIT_FAILURE;
        } else if (r->loc.where != WHERE_ABSENT) {
            ac_table *t = NULL;
            if (load_table(&r->card, r->loc.path, false, &t, &err) != AC_OK) {
                ac_cli_error("%s", err.msg);
                exit_code = AC_EXIT_FAILURE;
            } else {
                r->rows = t->rows;
                r->channels = t->cols;
            }
            ac_table_free(t);
        }
    }
    if (json) {
        cJSON *root = cJSON_CreateArray();
        for (int i = 0; root && i < n; i++) {
            const list_row *r = &rows[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(root, o);
            cJSON_AddStringToObject(o, "name", names[i]);
            json_text(o, "domain", r->card.domain);
            json_text(o, "step", r->card.step);
            if (r->rows >= 0) {
                cJSON_AddNumberToObject(o, "rows", r->rows);
                cJSON_AddNumberToObject(o, "channels", r->channels);
            } else {
                cJSON_AddNullToObject(o, "rows");
                cJSON_AddNullToObject(o, "channels");
            }
            cJSON_AddStringToObject(o, "status", r->card_ok ? status_name(&r->loc) : "bad card");
            json_text(o, "path", verified(&r->loc) ? r->loc.path : NULL);
        }
        if (print_json(root) != 0) exit_code = AC_EXIT_FAILURE;
    } else if (n == 0) {
        printf("no dataset cards in %s\n", ac_datasets_dir());
    } else {
        int wn = 4, wd = 6, ws = 4;
        for (int i = 0; i < n; i++) {
            int a = (int)strlen(names[i]), b = (int)strlen(rows[i].card.domain),
                c = (int)strlen(rows[i].card.step);
            wn = a > wn ? a : wn;
            wd = b > wd ? b : wd;
            ws = c > ws ? c : ws;
        }
        printf("%-*s  %-*s  %-*s  %8s  %8s  %s\n", wn, "name", wd, "domain", ws, "step", "rows",
               "channels", "status");
        for (int i = 0; i < n; i++) {
            const list_row *r = &rows[i];
            char nrows[16] = "-", nch[16] = "-";
            if (r->rows >= 0) {
                snprintf(nrows, sizeof nrows, "%d", r->rows);
                snprintf(nch, sizeof nch, "%d", r->channels);
            }
            printf("%-*s  %-*s  %-*s  %8s  %8s  %s\n", wn, names[i], wd, or_dash(r->card.domain),
                   ws, or_dash(r->card.step), nrows, nch,
                   r->card_ok ? status_name(&r->loc) : "bad card");
        }
    }
    free(rows);
    return exit_code;
}

/* ---- fetch ---- */

static int fetch_dataset(const char *name, bool json) {
    ac_dataset_card card;
    ac_error err;
    if (ac_dataset_card_load(&card, name, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    located loc;
    locate(&card, &loc); /* already here: verified once, not twice */
    if (loc.where == WHERE_BAD) {
        ac_cli_error("%s", loc.err.msg);
        return AC_EXIT_FAILURE;
    }
    const char *source = loc.where == WHERE_CACHE ? "cache" : "mirror";
    if (loc.where == WHERE_ABSENT) {
        bool download = !mirror_dir();
        if (download) source = "download";
        if (download && isatty(STDERR_FILENO)) /* errors stay one line in logs */
            fprintf(stderr, "attncast: %s: downloading %s\n", card.name, card.url);
        if (ac_dataset_fetch(&card, loc.path, sizeof loc.path, &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            return AC_EXIT_FAILURE;
        }
    }
    const char *path = loc.path;
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "name", card.name);
        cJSON_AddStringToObject(root, "path", path);
        cJSON_AddStringToObject(root, "sha256", card.sha256);
        cJSON_AddStringToObject(root, "source", source);
        return print_json(root) == 0 ? AC_EXIT_OK : AC_EXIT_FAILURE;
    }
    const char *from = !strcmp(source, "download") ? "downloaded into the cache"
                       : !strcmp(source, "cache")  ? "from the cache"
                                                   : "from ATTNCAST_DATA_MIRROR";
    printf("path    %s\n", path);
    printf("sha256  %s (verified, %s)\n", card.sha256, from);
    return AC_EXIT_OK;
}

/* ---- info ---- */

typedef struct channel_stats {
    double mean, std, min, max; /* std: population, over all rows */
    long sentinels;             /* cells equal to SENTINEL */
} channel_stats;

static void channel_stats_compute(const ac_table *t, channel_stats *s) {
    for (int c = 0; c < t->cols; c++) {
        double sum = 0, lo = INFINITY, hi = -INFINITY;
        long sentinels = 0;
        for (int r = 0; r < t->rows; r++) {
            double v = t->values[(size_t)r * (size_t)t->cols + (size_t)c];
            sum += v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sentinels += v == SENTINEL;
        }
        double mean = sum / t->rows, sq = 0;
        for (int r = 0; r < t->rows; r++) {
            double d = t->values[(size_t)r * (size_t)t->cols + (size_t)c] - mean;
            sq += d * d;
        }
        s[c] = (channel_stats){mean, sqrt(sq / t->rows), lo, hi, sentinels};
    }
}

/* Display width of UTF-8 text: one column per code point. */
static int text_width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void print_card(const ac_dataset_card *c) {
    printf("name         %s\n", c->name);
    printf("domain       %s\n", or_dash(c->domain));
    printf("description  %s\n", or_dash(c->description));
    printf("file         %s\n", c->file);
    printf("url          %s\n", c->url);
    if (c->archive_member[0])
        printf("archive      %s inside the download (sha256 %s)\n", c->archive_member,
               or_dash(c->archive_sha256));
    printf("sha256       %s\n", c->sha256);
    printf("date column  %s\n", or_dash(c->date_column));
    printf("step         %s\n", or_dash(c->step));
    if (c->split_rows[0] > 0) {
        const int *r = c->split_rows;
        printf("split        by rows: train %d..%d, val %d..%d, test %d..%d; rows from %d on "
               "unused\n",
               0, r[0] - 1, r[0], r[0] + r[1] - 1, r[0] + r[1], r[0] + r[1] + r[2] - 1,
               r[0] + r[1] + r[2]);
    } else {
        printf("split        %g/%g/%g (train/val/test)\n", c->split[0], c->split[1], c->split[2]);
    }
    printf("season       %d\n", c->season);
    printf("card         %s\n", c->card_path);
}

/* "10min (from the dates; the card's step is 10min)" */
static void print_frequency(const ac_dataset_card *card, const ac_table *t) {
    char name[AC_FREQ_TEXT], issues[AC_ERROR_MAX];
    ac_freq step;
    bool agrees =
        ac_freq_parse(card->step, &step) && step.kind == t->freq.kind && step.n == t->freq.n;
    printf("frequency    %s (from the dates", ac_freq_name(t->freq, name));
    if (card->step[0])
        printf(agrees ? "; as the card's step" : "; the card's step is %s", card->step);
    printf(")\n");
    if (ac_freq_known(t->freq))
        printf("gaps         %s\n",
               ac_table_date_issues(t, issues, sizeof issues) ? issues : "none");
}

static void print_stats(const ac_dataset_card *card, const ac_table *t, const channel_stats *s) {
    printf("rows         %d\n", t->rows);
    if (t->dates) printf("dates        %s .. %s\n", t->dates[0], t->dates[t->rows - 1]);
    if (t->dates) print_frequency(card, t);
    printf("channels     %d (statistics over all rows, -9999 cells included)\n\n", t->cols);
    int w = 7;
    for (int c = 0; c < t->cols; c++) {
        int cw = text_width(t->names[c]);
        w = cw > w ? cw : w;
    }
    printf("%-*s  %12s  %12s  %12s  %12s  %11s\n", w, "channel", "mean", "std", "min", "max",
           "-9999 cells");
    for (int c = 0; c < t->cols; c++) {
        printf("%s%*s  %12.6f  %12.6f  %12.6f  %12.6f  %11ld\n", t->names[c],
               w - text_width(t->names[c]), "", s[c].mean, s[c].std, s[c].min, s[c].max,
               s[c].sentinels);
    }
}

static cJSON *card_json(const ac_dataset_card *c, const located *loc) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c->name);
    json_text(o, "domain", c->domain);
    json_text(o, "description", c->description);
    cJSON_AddStringToObject(o, "file", c->file);
    cJSON_AddStringToObject(o, "url", c->url);
    cJSON_AddStringToObject(o, "sha256", c->sha256);
    json_text(o, "archive_member", c->archive_member);
    json_text(o, "archive_sha256", c->archive_sha256);
    json_text(o, "date_column", c->date_column);
    json_text(o, "step", c->step);
    if (c->split_rows[0] > 0) {
        cJSON_AddNullToObject(o, "split");
        cJSON_AddItemToObject(o, "split_rows", cJSON_CreateIntArray(c->split_rows, 3));
    } else {
        cJSON_AddItemToObject(o, "split", cJSON_CreateDoubleArray(c->split, 3));
        cJSON_AddNullToObject(o, "split_rows");
    }
    cJSON_AddNumberToObject(o, "season", c->season);
    cJSON_AddStringToObject(o, "card", c->card_path);
    cJSON_AddStringToObject(o, "status", status_name(loc));
    json_text(o, "path", verified(loc) ? loc->path : NULL);
    return o;
}

static void stats_json(cJSON *o, const ac_table *t, const channel_stats *s) {
    if (!t) {
        cJSON_AddNullToObject(o, "rows");
        cJSON_AddNullToObject(o, "first_date");
        cJSON_AddNullToObject(o, "last_date");
        cJSON_AddNullToObject(o, "frequency");
        cJSON_AddNullToObject(o, "gaps");
        cJSON_AddNullToObject(o, "channels");
        return;
    }
    cJSON_AddNumberToObject(o, "rows", t->rows);
    json_text(o, "first_date", t->dates ? t->dates[0] : NULL);
    json_text(o, "last_date", t->dates ? t->dates[t->rows - 1] : NULL);
    char name[AC_FREQ_TEXT];
    json_text(o, "frequency", ac_freq_known(t->freq) ? ac_freq_name(t->freq, name) : NULL);
    if (ac_freq_known(t->freq)) {
        const ac_calendar_steps *st = &t->date_report.steps;
        cJSON *gaps = cJSON_AddObjectToObject(o, "gaps");
        cJSON_AddNumberToObject(gaps, "gaps", st->gaps);
        cJSON_AddNumberToObject(gaps, "missing_dates", (double)st->missing);
        cJSON_AddNumberToObject(gaps, "first_gap_line", t->date_report.gap_line);
        cJSON_AddNumberToObject(gaps, "repeated_rows", st->repeats);
        cJSON_AddNumberToObject(gaps, "irregular_steps", st->irregular);
    } else {
        cJSON_AddNullToObject(o, "gaps");
    }
    cJSON *channels = cJSON_AddArrayToObject(o, "channels");
    for (int c = 0; channels && c < t->cols; c++) {
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddItemToArray(channels, ch);
        cJSON_AddStringToObject(ch, "name", t->names[c]);
        cJSON_AddNumberToObject(ch, "mean", s[c].mean);
        cJSON_AddNumberToObject(ch, "std", s[c].std);
        cJSON_AddNumberToObject(ch, "min", s[c].min);
        cJSON_AddNumberToObject(ch, "max", s[c].max);
        cJSON_AddNumberToObject(ch, "sentinel_cells", (double)s[c].sentinels);
    }
}

static int info_dataset(const char *name, bool json) {
    ac_dataset_card card;
    ac_error err;
    if (ac_dataset_card_load(&card, name, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    located loc;
    locate(&card, &loc);
    ac_table *table = NULL;
    channel_stats *stats = NULL;
    int exit_code = AC_EXIT_OK;
    if (loc.where == WHERE_BAD) {
        err = loc.err;
        exit_code = AC_EXIT_FAILURE;
    } else if (loc.where != WHERE_ABSENT) {
        if (load_table(&card, loc.path, true, &table, &err) != AC_OK) {
            exit_code = AC_EXIT_FAILURE;
        } else if (!(stats = calloc((size_t)table->cols, sizeof *stats))) {
            snprintf(err.msg, sizeof err.msg, "datasets: out of memory");
            exit_code = AC_EXIT_FAILURE;
        } else {
            channel_stats_compute(table, stats);
        }
    }
    bool have_stats = stats != NULL;
    char hint[AC_ERROR_MAX + AC_DATASET_PATH];
    absent_hint(&card, &loc, hint, sizeof hint);
    if (json) {
        cJSON *root = card_json(&card, &loc);
        if (root) stats_json(root, have_stats ? table : NULL, stats);
        if (print_json(root) != 0) exit_code = AC_EXIT_FAILURE;
    } else {
        print_card(&card);
        if (loc.where == WHERE_ABSENT)
            printf("status       %s\n", hint);
        else
            printf("status       %s %s\n", status_name(&loc), loc.path);
        if (have_stats) print_stats(&card, table, stats);
    }
    if (exit_code != AC_EXIT_OK) ac_cli_error("%s", err.msg);
    free(stats);
    ac_table_free(table);
    return exit_code;
}

/* ---- the verb ---- */

int ac_cli_datasets(int argc, char **argv) {
    const char *words[3] = {NULL, NULL, NULL};
    int nwords = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            printf("%s\n%s\n", USAGE, HELP);
            return AC_EXIT_OK;
        } else if (!strcmp(arg, "--json")) {
            json = true;
        } else if (arg[0] == '-') {
            ac_cli_error("datasets: unknown option '%s' (%s)", arg, USAGE);
            return AC_EXIT_USAGE;
        } else if (nwords == 3) {
            ac_cli_error("datasets: unexpected argument '%s' (%s)", arg, USAGE);
            return AC_EXIT_USAGE;
        } else {
            words[nwords++] = arg;
        }
    }
    const char *sub = nwords ? words[0] : "list";
    bool takes_name = !strcmp(sub, "fetch") || !strcmp(sub, "info");
    if (!takes_name && strcmp(sub, "list") != 0) {
        ac_cli_error("datasets: unknown subcommand '%s'; expected list, fetch or info (%s)", sub,
                     USAGE);
        return AC_EXIT_USAGE;
    }
    if (takes_name && nwords < 2) {
        ac_cli_error("datasets %s: no dataset name given (%s)", sub, USAGE);
        return AC_EXIT_USAGE;
    }
    if (nwords > (takes_name ? 2 : 1)) {
        ac_cli_error("datasets %s: unexpected argument '%s' (%s)", sub, words[takes_name ? 2 : 1],
                     USAGE);
        return AC_EXIT_USAGE;
    }
    if (!strcmp(sub, "list")) return list_datasets(json);
    if (!strcmp(sub, "fetch")) return fetch_dataset(words[1], json);
    return info_dataset(words[1], json);
}
