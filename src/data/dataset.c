/* dataset.c - dataset cards and fetching a dataset by name (see include/attncast/dataset.h).
 *
 * A card is read with inih through a line reader of our own, so every error names the card file
 * and line; the keys are a table, each with its parser. Fetching tries the mirror, then the
 * cache, then downloads with curl (and unpacks with unzip) run directly with fork/execvp, never
 * through a shell. Whatever the source, a file is used only when its SHA-256 matches the card.
 * A download goes to a temporary file beside its final place and is renamed into the cache only
 * once verified, so the cache never holds a partial or wrong file.
 */
#include "attncast/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attncast/sha256.h"

#ifndef ATTNCAST_DEFAULT_DATASETS_DIR
#define ATTNCAST_DEFAULT_DATASETS_DIR "datasets"
#endif

#define QUOTE_MAX  80   /* bytes of a user's value shown in a message */
#define NAME_MAX_  63   /* longest dataset name */
#define KNOWN_MAX  64   /* card names listed for an unknown name */
#define SPLIT_TOL  1e-6 /* how far the split fractions may sum from 1 */
#define CURL_SHOWN 100  /* bytes of curl's or unzip's own message kept */

const char *ac_datasets_dir(void) {
    const char *dir = getenv("ATTNCAST_DATASETS_DIR");
    return dir && dir[0] ? dir : ATTNCAST_DEFAULT_DATASETS_DIR;
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

static bool valid_sha256(const char *hex) {
    size_t n = strlen(hex);
    if (n != 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'))) return false;
    return true;
}

/* A file name with no folder in it. */
static bool plain_file_name(const char *file) {
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

typedef enum key_type { KEY_TEXT, KEY_SHA256, KEY_SPLIT, KEY_SEASON } key_type;

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
    {"split", KEY_SPLIT, FIELD(split), true},
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
    "name, file, url, sha256, split, season, date_column, step, domain, description, "             \
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
        if (!valid_sha256(value))
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
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (KEYS[i].required && !rd->given[i])
            return ac_error_set(err, AC_ERR_INVALID, "%s: required key '%s' is missing", path,
                                KEYS[i].name);
    if (strcmp(card->name, name) != 0)
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: name '%.*s' does not match the card's file name (expected '%s')",
                            path, QUOTE_MAX, card->name, name);
    if (!plain_file_name(card->file))
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

/* ---- the cache folder ---- */

const char *ac_dataset_cache_dir(char *buf, size_t n) {
    const char *dir = getenv("ATTNCAST_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int len;
    if (dir && dir[0]) {
        len = snprintf(buf, n, "%s", dir);
    } else if (xdg && xdg[0] == '/') { /* the XDG spec ignores a relative XDG_CACHE_HOME */
        len = snprintf(buf, n, "%s/attncast", xdg);
    } else {
        if (!home || !home[0]) {
            const struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
        len = home && home[0] ? snprintf(buf, n, "%s/.cache/attncast", home) : -1;
    }
    if (n > 0 && (len < 0 || (size_t)len >= n)) buf[0] = '\0';
    return buf;
}

/* mkdir -p. */
static int make_dirs(const char *dir) {
    char path[AC_DATASET_PATH];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
        *p = saved;
        if (!saved) break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* ---- running curl and unzip ---- */

typedef struct command {
    char text[3 * AC_DATASET_PATH];
    char *argv[16];
    int argc;
    size_t used;
} command;

static void command_add(command *cmd, const char *arg) {
    size_t n = strlen(arg) + 1;
    if (cmd->argc >= 15 || cmd->used + n > sizeof cmd->text) return; /* paths are bounded */
    cmd->argv[cmd->argc++] = memcpy(cmd->text + cmd->used, arg, n);
    cmd->argv[cmd->argc] = NULL;
    cmd->used += n;
}

/* Runs the program with stdin from /dev/null, stdout into out_fd (or /dev/null when -1), and
 * the first line of its stderr into msg. Returns its exit status, 127 when it could not be
 * started, or -1 when it was killed or could not be run. */
static int run(command *cmd, int out_fd, char *msg, size_t msg_size) {
    msg[0] = '\0';
    int pipe_fd[2];
    if (pipe(pipe_fd) != 0) {
        snprintf(msg, msg_size, "cannot create a pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, msg_size, "cannot start a process: %s", strerror(errno));
        close(pipe_fd[0]);
        close(pipe_fd[1]);
        return -1;
    }
    if (pid == 0) { /* the child: only async-signal-safe calls until exec */
        int null_fd = open("/dev/null", O_RDWR);
        if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
        dup2(out_fd >= 0 ? out_fd : null_fd, STDOUT_FILENO);
        dup2(pipe_fd[1], STDERR_FILENO);
        close(pipe_fd[0]);
        execvp(cmd->argv[0], cmd->argv);
        _exit(127);
    }
    close(pipe_fd[1]);
    size_t len = 0;
    char chunk[512];
    for (;;) {
        ssize_t got = read(pipe_fd[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        for (ssize_t i = 0; i < got && len + 1 < msg_size; i++) msg[len++] = chunk[i];
    }
    close(pipe_fd[0]);
    msg[len] = '\0';
    msg[strcspn(msg, "\r\n")] = '\0';
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* curl's "curl: (6) Could not resolve host: x" as "Could not resolve host: x". */
static const char *tool_message(const char *msg, const char *tool) {
    size_t n = strlen(tool);
    if (strncmp(msg, tool, n) == 0 && msg[n] == ':') msg += n + 1;
    while (*msg == ' ') msg++;
    if (*msg == '(') {
        const char *close = strchr(msg, ')');
        if (close) msg = close + 1;
    }
    while (*msg == ' ') msg++;
    return msg;
}

/* ---- fetching ---- */

typedef struct fetch {
    const ac_dataset_card *card;
    char cache[AC_DATASET_PATH];
    char dest[AC_DATASET_PATH];    /* cache/file */
    char tmp_csv[AC_DATASET_PATH]; /* "" when not created */
    char tmp_zip[AC_DATASET_PATH];
    ac_error *err;
} fetch;

/* An error about the download, with what to do instead. */
static ac_status download_failed(const fetch *f, const char *what) {
    const ac_dataset_card *c = f->card;
    if (c->archive_member[0])
        return ac_error_set(f->err, AC_ERR_IO,
                            "%s: cannot download %s: %s; download the file yourself, unpack %s "
                            "from it and set ATTNCAST_DATA_MIRROR to the folder holding %s, or "
                            "put it at %s",
                            c->name, c->url, what, c->archive_member, c->file, f->dest);
    return ac_error_set(f->err, AC_ERR_IO,
                        "%s: cannot download %s: %s; download the file yourself and set "
                        "ATTNCAST_DATA_MIRROR to its folder, or put it at %s",
                        c->name, c->url, what, f->dest);
}

static ac_status make_temp(fetch *f, char *path, const char *suffix) {
    int n = snprintf(path, AC_DATASET_PATH, "%s/.%s%s.XXXXXX", f->cache, f->card->file, suffix);
    int fd = n > 0 && n < AC_DATASET_PATH ? mkstemp(path) : -1;
    if (fd < 0) {
        ac_status st = ac_error_set(f->err, AC_ERR_IO,
                                    "%s: cannot create a temporary file in the cache folder %s: "
                                    "%s; set ATTNCAST_CACHE_DIR to a writable folder",
                                    f->card->name, f->cache, strerror(errno));
        path[0] = '\0';
        return st;
    }
    close(fd);
    return AC_OK;
}

/* Checks path against the expected digest; found receives its digest. */
static ac_status check_digest(const char *path, const char *expected, char found[65], bool *same,
                              ac_error *err) {
    ac_status st = ac_sha256_file(path, found, err);
    *same = st == AC_OK && strcmp(found, expected) == 0;
    return st;
}

static ac_status curl_to(fetch *f, const char *target) {
    command cmd = {0};
    const char *args[] = {"curl",       "-fsSL", "--retry", "2",    "--connect-timeout", "20",
                          "--max-time", "600",   "-o",      target, f->card->url};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) command_add(&cmd, args[i]);
    char msg[CURL_SHOWN + 1];
    int rc = run(&cmd, -1, msg, sizeof msg);
    if (rc == 0) return AC_OK;
    char what[AC_ERROR_MAX];
    bool offline = rc == 5 || rc == 6 || rc == 7 || rc == 28 || rc == 35 || rc == 56;
    const char *said = tool_message(msg, "curl");
    if (rc == 127)
        snprintf(what, sizeof what, "curl is not installed (or not on PATH)");
    else if (rc < 0)
        snprintf(what, sizeof what, "curl did not finish%s%s", said[0] ? ": " : "", said);
    else if (said[0] || offline)
        snprintf(what, sizeof what, "curl exited with %d (%s%s%s)", rc, said,
                 said[0] && offline ? "; " : "", offline ? "offline?" : "");
    else
        snprintf(what, sizeof what, "curl exited with %d", rc);
    return download_failed(f, what);
}

static ac_status unzip_member(fetch *f) {
    const ac_dataset_card *c = f->card;
    int out = open(f->tmp_csv, O_WRONLY | O_TRUNC);
    if (out < 0)
        return ac_error_set(f->err, AC_ERR_IO, "%s: cannot write %s: %s", c->name, f->tmp_csv,
                            strerror(errno));
    command cmd = {0};
    const char *args[] = {"unzip", "-p", f->tmp_zip, c->archive_member};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) command_add(&cmd, args[i]);
    char msg[CURL_SHOWN + 1];
    int rc = run(&cmd, out, msg, sizeof msg);
    close(out);
    if (rc == 0) return AC_OK;
    char what[AC_ERROR_MAX];
    if (rc == 127)
        snprintf(what, sizeof what, "unzip is not installed (or not on PATH) to unpack %s",
                 c->archive_member);
    else
        snprintf(what, sizeof what, "unzip could not unpack %s (exit %d%s%s)", c->archive_member,
                 rc, msg[0] ? ": " : "", tool_message(msg, "unzip"));
    return download_failed(f, what);
}

/* Downloads (and unpacks) the card's file into f->dest, verified. */
static ac_status download(fetch *f) {
    const ac_dataset_card *c = f->card;
    if (make_dirs(f->cache) != 0)
        return ac_error_set(f->err, AC_ERR_IO,
                            "%s: cannot create the cache folder %s: %s; set ATTNCAST_CACHE_DIR to "
                            "a writable folder",
                            c->name, f->cache, strerror(errno));
    bool zip = c->archive_member[0] != '\0';
    ac_status st = make_temp(f, f->tmp_csv, "");
    if (st == AC_OK && zip) st = make_temp(f, f->tmp_zip, ".zip");
    if (st == AC_OK) st = curl_to(f, zip ? f->tmp_zip : f->tmp_csv);
    char found[65];
    bool same;
    if (st == AC_OK && zip && c->archive_sha256[0]) {
        st = check_digest(f->tmp_zip, c->archive_sha256, found, &same, f->err);
        if (st == AC_OK && !same)
            st = ac_error_set(f->err, AC_ERR_FORMAT,
                              "%s: the archive downloaded from %s has SHA-256 %s, but the card "
                              "expects %s (archive_sha256); it was deleted",
                              c->name, c->url, found, c->archive_sha256);
    }
    if (st == AC_OK && zip) st = unzip_member(f);
    if (st == AC_OK) {
        st = check_digest(f->tmp_csv, c->sha256, found, &same, f->err);
        if (st == AC_OK && !same)
            st = ac_error_set(f->err, AC_ERR_FORMAT,
                              "%s: the file downloaded from %s%s%s has SHA-256 %s, but the card "
                              "expects %s; it was deleted",
                              c->name, c->url, zip ? " as " : "", zip ? c->archive_member : "",
                              found, c->sha256);
    }
    if (st == AC_OK) {
        chmod(f->tmp_csv, 0644); /* public data; mkstemp made it private */
        if (rename(f->tmp_csv, f->dest) != 0)
            st = ac_error_set(f->err, AC_ERR_IO, "%s: cannot move the download to %s: %s", c->name,
                              f->dest, strerror(errno));
        else
            f->tmp_csv[0] = '\0';
    }
    if (f->tmp_csv[0]) unlink(f->tmp_csv);
    if (f->tmp_zip[0]) unlink(f->tmp_zip);
    return st;
}

static ac_status give_path(const char *from, char *path, size_t path_size, ac_error *err) {
    int n = snprintf(path, path_size, "%s", from);
    if (n < 0 || (size_t)n >= path_size)
        return ac_error_set(err, AC_ERR_INVALID, "%s: path longer than %zu characters", from,
                            path_size - 1);
    return AC_OK;
}

static ac_status from_mirror(const ac_dataset_card *c, const char *mirror, char *path,
                             size_t path_size, ac_error *err) {
    struct stat sb;
    if (stat(mirror, &sb) != 0)
        return ac_error_set(err, AC_ERR_IO, "ATTNCAST_DATA_MIRROR=%s is not a folder: %s", mirror,
                            strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return ac_error_set(err, AC_ERR_IO, "ATTNCAST_DATA_MIRROR=%s is not a folder", mirror);
    char file[AC_DATASET_PATH];
    int n = snprintf(file, sizeof file, "%s/%s", mirror, c->file);
    if (n < 0 || (size_t)n >= sizeof file)
        return ac_error_set(err, AC_ERR_INVALID, "ATTNCAST_DATA_MIRROR=%s: path too long", mirror);
    if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode))
        return ac_error_set(err, AC_ERR_IO, "ATTNCAST_DATA_MIRROR=%s has no %s (for dataset %s)",
                            mirror, c->file, c->name);
    char found[65];
    bool same;
    ac_status st = check_digest(file, c->sha256, found, &same, err);
    if (st != AC_OK) return st;
    if (!same)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: %s (from ATTNCAST_DATA_MIRROR) has SHA-256 %s, but the card "
                            "expects %s; refusing a file that differs from the published one",
                            c->name, file, found, c->sha256);
    return give_path(file, path, path_size, err);
}

ac_status ac_dataset_fetch(const ac_dataset_card *card, char *path, size_t path_size,
                           ac_error *err) {
    if (path_size > 0) path[0] = '\0';
    if (!plain_file_name(card->file) || !valid_sha256(card->sha256))
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: the card needs a plain file name and a 64-digit sha256 to fetch",
                            card->name);
    const char *mirror = getenv("ATTNCAST_DATA_MIRROR");
    if (mirror && mirror[0]) return from_mirror(card, mirror, path, path_size, err);

    fetch f = {.card = card, .err = err};
    if (!ac_dataset_cache_dir(f.cache, sizeof f.cache)[0])
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: no cache folder: set ATTNCAST_CACHE_DIR (or HOME), or set "
                            "ATTNCAST_DATA_MIRROR to a folder holding %s",
                            card->name, card->file);
    int n = snprintf(f.dest, sizeof f.dest, "%s/%s", f.cache, card->file);
    if (n < 0 || (size_t)n >= sizeof f.dest)
        return ac_error_set(err, AC_ERR_INVALID, "%s: the cache folder's path is too long: %s",
                            card->name, f.cache);
    struct stat sb;
    if (stat(f.dest, &sb) == 0) {
        char found[65];
        bool same;
        ac_status st = check_digest(f.dest, card->sha256, found, &same, err);
        if (st != AC_OK) return st;
        if (!same)
            return ac_error_set(err, AC_ERR_FORMAT,
                                "%s: the cached file %s has SHA-256 %s, but the card expects %s; "
                                "it is corrupt or was changed: delete it to download it again",
                                card->name, f.dest, found, card->sha256);
        return give_path(f.dest, path, path_size, err);
    }
    ac_status st = download(&f);
    if (st != AC_OK) return st;
    return give_path(f.dest, path, path_size, err);
}
