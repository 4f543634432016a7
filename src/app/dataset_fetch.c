/* dataset_fetch.c - getting the file a dataset card names (see src/app/dataset.h).
 *
 * Fetching tries the mirror, then the cache, then downloads with curl (and unpacks with unzip)
 * run directly with fork/execvp, never through a shell. Whatever the source, a file is used only
 * when its SHA-256 matches the card. A download goes to a temporary file beside its final place
 * and is renamed into the cache only once verified, so the cache never holds a partial or wrong
 * file. The card itself is read by dataset_card.c.
 */
#include "app/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/sha256.h"
#include "dataset_internal.h"

#define CURL_SHOWN 100 /* bytes of curl's or unzip's own message kept */

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
    if (!ac_dataset_plain_file_name(card->file) || !ac_dataset_valid_sha256(card->sha256))
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
