/* dataset_card.c - dataset cards: the datasets folder, listing the cards and reading one
 * (see src/app/dataset.h).
 *
 * A card is read with inih through a line reader of our own, so every error names the card file
 * and line; the keys are a table, each with its parser. Getting the data file a card names is
 * dataset_fetch.c.
 */
#include "app/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset_internal.h"

#ifndef ATTNCAST_DEFAULT_DATASETS_DIR
#define ATTNCAST_DEFAULT_DATASETS_DIR "datasets"
#endif
#ifndef ATTNCAST_INSTALLED_DATASETS_DIR
#define ATTNCAST_INSTALLED_DATASETS_DIR ATTNCAST_DEFAULT_DATASETS_DIR
#endif

#define QUOTE_MAX 80   /* bytes of a user's value shown in a message */
#define NAME_MAX_ 63   /* longest dataset name */
#define KNOWN_MAX 64   /* card names listed for an unknown name */
#define SPLIT_TOL 1e-6 /* how far the split fractions may sum from 1 */

/* The source tree's datasets/ while it exists (a build run from its tree), else the copy
 * `cmake --install` put under share/attncast. */
const char *ac_datasets_dir(void) {
    const char *dir = getenv("ATTNCAST_DATASETS_DIR");
    if (dir && dir[0]) return dir;
    struct stat sb;
    if (stat(ATTNCAST_DEFAULT_DATASETS_DIR, &sb) == 0 && S_ISDIR(sb.st_mode))
        return ATTNCAST_DEFAULT_DATASETS_DIR;
    return ATTNCAST_INSTALLED_DATASETS_DIR;
}

static bool valid_name(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool ac_dataset_valid_sha256(const char *hex) {
    size_t n = strlen(hex);
    if (n != 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'))) return false;
    return true;
}

bool ac_dataset_plain_file_name(const char *file) {
    return file[0] && !strchr(file, '/') && strcmp(file, ".") != 0 && strcmp(file, "..") != 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(a, b);
}

int ac_dataset_list(char names[][64], int max) {
    DIR *dir = opendir(ac_datasets_dir());
    if (!dir) return 0;
    char(*all)[64] = NULL;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0 || len - 4 > NAME_MAX_) continue;
        char stem[64];
        memcpy(stem, e->d_name, len - 4);
        stem[len - 4] = '\0';
        if (!valid_name(stem)) continue;
        if (n == cap) {
            int bigger = cap ? 2 * cap : 16;
            char(*grown)[64] = realloc(all, (size_t)bigger * sizeof *all);
            if (!grown) break;
            all = grown;
            cap = bigger;
        }
        memcpy(all[n++], stem, sizeof stem);
    }
    closedir(dir);
    if (n > 0) qsort(all, (size_t)n, sizeof *all, compare_names);
    if (n > max) n = max < 0 ? 0 : max;
    if (n > 0) memcpy(names, all, (size_t)n * sizeof *all);
    free(all);
    return n;
}

/* ---- reading a card ---- */

typedef enum key_type { KEY_TEXT, KEY_SHA256, KEY_SPLIT, KEY_SPLIT_ROWS, KEY_SEASON } key_type;

typedef struct key_def {
    const char *name;
    key_type type;
    size_t offset, size; /* the field in ac_dataset_card */
    bool required;
} key_def;

#define FIELD(f) offsetof(ac_dataset_card, f), sizeof(((ac_dataset_card *)0)->f)

static const key_def KEYS[] = {
    {"name", KEY_TEXT, FIELD(name), true},
    {"file", KEY_TEXT, FIELD(file), true},
    {"url", KEY_TEXT, FIELD(url), true},
    {"sha256", KEY_SHA256, FIELD(sha256), true},
    {"split", KEY_SPLIT, FIELD(split), true}, /* unless split_rows is given */
    {"split_rows", KEY_SPLIT_ROWS, FIELD(split_rows), false},
    {"season", KEY_SEASON, FIELD(season), true},
    {"date_column", KEY_TEXT, FIELD(date_column), false},
    {"step", KEY_TEXT, FIELD(step), false},
    {"domain", KEY_TEXT, FIELD(domain), false},
    {"description", KEY_TEXT, FIELD(description), false},
    {"archive_member", KEY_TEXT, FIELD(archive_member), false},
    {"archive_sha256", KEY_SHA256, FIELD(archive_sha256), false},
};
#define KEY_COUNT (sizeof KEYS / sizeof KEYS[0])
#define KEY_LIST                                                                                   \
    "name, file, url, sha256, split, split_rows, season, date_column, step, domain, description, " \
    "archive_member, archive_sha256"

typedef struct card_reader {
    ac_dataset_card *card;
    FILE *file;
    int line;      /* the line inih is handling */
    bool indented; /* that line starts with white space: inih continues the previous key */
    bool failed;   /* err holds our first error */
    ac_error *err;
    int given[KEY_COUNT]; /* line where each key was given, 0 if not yet */
    const key_def *last;  /* the previous key, which an indented line continues */
} card_reader;

static bool fail(card_reader *rd, ac_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error as "CARD:LINE: message". Returns false, for inih. */
static bool fail(card_reader *rd, ac_status code, const char *fmt, ...) {
    if (rd->failed) return false;
    rd->failed = true;
    char msg[AC_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ac_error_set(rd->err, code, "%s:%d: %s", rd->card->card_path, rd->line, msg);
    return false;
}

/* One line for inih, without its line ending. */
static char *read_line(char *str, int num, void *stream) {
    card_reader *rd = stream;
    if (rd->failed || num < 2) return NULL;
    int c = getc(rd->file);
    if (c == EOF) return NULL;
    rd->line++;
    size_t cap = (size_t)num - 1, len = 0;
    for (; c != EOF && c != '\n'; c = getc(rd->file)) {
        if (c == '\r') { /* CRLF ends the line; a lone CR is text */
            int next = getc(rd->file);
            if (next == '\n' || next == EOF) break;
            ungetc(next, rd->file);
        }
        if (c == '\0') {
            fail(rd, AC_ERR_FORMAT, "a NUL byte; a card is a text file");
            return NULL;
        }
        if (len == cap) {
            fail(rd, AC_ERR_FORMAT, "line longer than %zu characters", cap);
            return NULL;
        }
        str[len++] = (char)c;
    }
    str[len] = '\0';
    rd->indented = len > 0 && (str[0] == ' ' || str[0] == '\t');
    return str;
}

/* "0.7,0.1,0.2": three fractions in [0, 1] summing to 1, train and test not empty. */
static bool parse_split(const char *text, double split[3]) {
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        char *stop;
        split[i] = strtod(p, &stop);
        if (stop == p || !isfinite(split[i]) || split[i] < 0 || split[i] > 1) return false;
        while (*stop == ' ' || *stop == '\t') stop++;
        if (*stop != (i < 2 ? ',' : '\0')) return false;
        p = stop + 1;
    }
    double sum = split[0] + split[1] + split[2];
    return split[0] > 0 && split[2] > 0 && fabs(sum - 1) <= SPLIT_TOL;
}

/* "8640,2880,2880": three whole row counts, each at least 1. */
static bool parse_split_rows(const char *text, int rows[3]) {
    const char *p = text;
    long long sum = 0;
    for (int i = 0; i < 3; i++) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p < '0' || *p > '9') return false;
        char *stop;
        errno = 0;
        long v = strtol(p, &stop, 10);
        if (errno || v > 100000000) return false;
        rows[i] = (int)v;
        sum += v;
        while (*stop == ' ' || *stop == '\t') stop++;
        if (*stop != (i < 2 ? ',' : '\0')) return false;
        p = stop + 1;
    }
    return rows[0] >= 1 && rows[1] >= 1 && rows[2] >= 1 && sum <= 1000000000;
}

static bool parse_value(card_reader *rd, const key_def *k, const char *value) {
    char *field = (char *)rd->card + k->offset;
    switch (k->type) {
    case KEY_TEXT:
        if (strlen(value) >= k->size)
            return fail(rd, AC_ERR_INVALID, "%s is longer than %zu characters", k->name,
                        k->size - 1);
        snprintf(field, k->size, "%s", value);
        return true;
    case KEY_SHA256:
        if (!ac_dataset_valid_sha256(value))
            return fail(rd, AC_ERR_INVALID,
                        "%s must be 64 lower-case hex digits, found '%.*s' (%zu characters)",
                        k->name, QUOTE_MAX, value, strlen(value));
        snprintf(field, k->size, "%s", value);
        return true;
    case KEY_SPLIT:
        if (!parse_split(value, rd->card->split))
            return fail(rd, AC_ERR_INVALID,
                        "split must be three fractions train,val,test in [0, 1] that add up to 1 "
                        "(train and test above 0), found '%.*s'",
                        QUOTE_MAX, value);
        return true;
    case KEY_SPLIT_ROWS:
        if (!parse_split_rows(value, rd->card->split_rows))
            return fail(
                rd, AC_ERR_INVALID,
                "split_rows must be three whole row counts train,val,test, each at least 1, "
                "found '%.*s'",
                QUOTE_MAX, value);
        return true;
    case KEY_SEASON: {
        char *stop;
        errno = 0;
        long season = strtol(value, &stop, 10);
        if (stop == value || *stop || errno || season < 1 || season > 1000000)
            return fail(rd, AC_ERR_INVALID,
                        "season must be a whole number from 1 to 1000000, found '%.*s'", QUOTE_MAX,
                        value);
        rd->card->season = (int)season;
        return true;
    }
    }
    return false;
}

static int on_key(void *user, const char *section, const char *name, const char *value) {
    card_reader *rd = user;
    if (rd->failed) return 0;
    if (strcmp(section, "dataset") != 0) {
        if (!section[0])
            return fail(rd, AC_ERR_FORMAT, "key '%.*s' is outside the [dataset] section", QUOTE_MAX,
                        name);
        return fail(rd, AC_ERR_FORMAT, "unknown section [%.*s]; a card has one [dataset] section",
                    QUOTE_MAX, section);
    }
    const key_def *k = NULL;
    for (size_t i = 0; i < KEY_COUNT && !k; i++)
        if (strcmp(KEYS[i].name, name) == 0) k = &KEYS[i];
    if (!k)
        return fail(rd, AC_ERR_INVALID, "unknown key '%.*s'; a card's keys are " KEY_LIST,
                    QUOTE_MAX, name);
    int *given = &rd->given[k - KEYS];
    if (rd->indented && k == rd->last) { /* inih's continuation line */
        char *text = (char *)rd->card + k->offset;
        if (strcmp(k->name, "description") != 0)
            return fail(rd, AC_ERR_FORMAT,
                        "an indented line continues %s; only description may go on over "
                        "several lines",
                        k->name);
        if (strlen(text) + 1 + strlen(value) >= k->size)
            return fail(rd, AC_ERR_INVALID, "description is longer than %zu characters",
                        k->size - 1);
        strcat(text, " ");
        strcat(text, value);
        return 1;
    }
    if (*given)
        return fail(rd, AC_ERR_INVALID, "%s given twice (first at line %d)", k->name, *given);
    if (!parse_value(rd, k, value)) return 0;
    *given = rd->line;
    rd->last = k;
    return 1;
}

/* The checks that need the whole card. */
static ac_status check_card(const card_reader *rd, const char *name, ac_error *err) {
    const ac_dataset_card *card = rd->card;
    const char *path = card->card_path;
    bool by_rows = card->split_rows[0] > 0;
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (KEYS[i].required && !rd->given[i] && !(by_rows && KEYS[i].type == KEY_SPLIT))
            return ac_error_set(err, AC_ERR_INVALID, "%s: required key '%s' is missing", path,
                                KEYS[i].name);
    if (by_rows && rd->given[4]) /* KEYS[4] is split */
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: split (line %d) and split_rows (line %d) are both given; a card "
                            "splits by fractions or by rows, not both",
                            path, rd->given[4], rd->given[5]);
    if (strcmp(card->name, name) != 0)
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: name '%.*s' does not match the card's file name (expected '%s')",
                            path, QUOTE_MAX, card->name, name);
    if (!ac_dataset_plain_file_name(card->file))
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: file must be a plain file name without folders, found '%.*s'",
                            path, QUOTE_MAX, card->file);
    if (!strstr(card->url, "://"))
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: url must be a full URL (https://...), found '%.*s'", path,
                            QUOTE_MAX, card->url);
    if (card->archive_sha256[0] && !card->archive_member[0])
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: archive_sha256 is given but archive_member is not", path);
    return AC_OK;
}

/* "unknown dataset 'x'; known: a, b (cards in DIR)". */
static ac_status unknown_dataset(const char *name, ac_error *err) {
    char known[KNOWN_MAX][64];
    int n = ac_dataset_list(known, KNOWN_MAX);
    char list[256] = "";
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (len + strlen(known[i]) + 8 > sizeof list) {
            snprintf(list + len, sizeof list - len, ", ...");
            break;
        }
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", known[i]);
    }
    if (n == 0)
        return ac_error_set(err, AC_ERR_INVALID, "unknown dataset '%s'; there are no cards in %s",
                            name, ac_datasets_dir());
    return ac_error_set(err, AC_ERR_INVALID, "unknown dataset '%s'; known: %s (cards in %s)", name,
                        list, ac_datasets_dir());
}

ac_status ac_dataset_card_load(ac_dataset_card *card, const char *name, ac_error *err) {
    memset(card, 0, sizeof *card);
    if (!valid_name(name))
        return ac_error_set(err, AC_ERR_INVALID,
                            "dataset name '%.*s' is not valid: use up to %d letters, digits, '_' "
                            "and '-'",
                            QUOTE_MAX, name, NAME_MAX_);
    int n = snprintf(card->card_path, sizeof card->card_path, "%s/%s.ini", ac_datasets_dir(), name);
    if (n < 0 || (size_t)n >= sizeof card->card_path)
        return ac_error_set(err, AC_ERR_INVALID, "%s: the datasets folder's path is too long",
                            ac_datasets_dir());
    card_reader rd = {.card = card, .err = err};
    rd.file = fopen(card->card_path, "r");
    if (!rd.file) {
        if (errno == ENOENT) return unknown_dataset(name, err);
        return ac_error_set(err, AC_ERR_IO, "%s: cannot open: %s", card->card_path,
                            strerror(errno));
    }
    int rc = ini_parse_stream(read_line, &rd, on_key, &rd);
    bool read_error = ferror(rd.file);
    fclose(rd.file);
    ac_status st = AC_OK;
    if (read_error)
        st = ac_error_set(err, AC_ERR_IO, "%s: cannot read the card", card->card_path);
    else if (rd.failed)
        st = err ? err->code : AC_ERR_INVALID;
    else if (rc > 0)
        st = ac_error_set(err, AC_ERR_FORMAT,
                          "%s:%d: malformed line (expected key = value or [dataset])",
                          card->card_path, rc);
    else if (rc < 0)
        st = ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory reading the card", card->card_path);
    else
        st = check_card(&rd, name, err);
    if (st != AC_OK) {
        char keep[AC_DATASET_PATH];
        memcpy(keep, card->card_path, sizeof keep);
        memset(card, 0, sizeof *card);
        memcpy(card->card_path, keep, sizeof keep);
    }
    return st;
}
