/* sweep_runs.c - the processes of `attncast sweep`: each combination is `attncast train
 * CONFIG --set key=value... --set train.threads=T --out RUN_DIR --quiet --no-test [--resume
 * RUN_DIR]` (the test split stays hidden from the search),
 * a fork + execv of this same binary (no shell), stdout to RUN_DIR/train.log, stderr through a
 * pipe so the sweep keeps its last line as the failure message (and copies it to the log). Up
 * to --jobs children run at once; a poll loop reads their pipes and waitpid reaps them.
 *
 * No child outlives the sweep: SIGINT or SIGTERM to the sweep is passed on to every running
 * child, which the sweep waits for before it dies of the same signal; and each child asks the
 * kernel (PR_SET_PDEATHSIG) for SIGTERM when the sweep goes, which covers SIGKILL too. Each
 * trainer also locks its run folder, so an orphan from some other cause and a rerun can never
 * write to one folder at once. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/clock.h"
#include "attncast/config.h"
#include "app/report.h"
#include "cli/cli.h"
#include "cli/sweep.h"

static volatile sig_atomic_t g_stop_signal; /* SIGINT or SIGTERM received, else 0 */

static void on_stop_signal(int sig) {
    g_stop_signal = sig;
}

/* SIGINT and SIGTERM set g_stop_signal; poll and waitpid return EINTR (no SA_RESTART). */
static void catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static bool file_exists(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

int sweep_make_dir(const char *path) {
    ac_config cfg;
    ac_config_defaults(&cfg);
    snprintf(cfg.output.dir, sizeof cfg.output.dir, "%s", path);
    char made[AC_CONFIG_TEXT];
    ac_error err;
    if (ac_run_dir_create(&cfg, made, sizeof made, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

/* Starts `attncast train CONFIG --set k=v... --set train.threads=T --out DIR --quiet
 * [--resume DIR]`, stdout to DIR/train.log, stderr through a pipe to us. */
static int launch(const char *exe, const sweep_args *a, const sweep_key *keys, int n_keys,
                  sweep_run *r) {
    if (sweep_make_dir(r->dir) != 0) return -1;
    bool resume = file_exists(r->dir, "last.h5");
    enum { ARGS_MAX = 2 * SWEEP_MAX_KEYS + 16 };
    char *argv[ARGS_MAX];
    char sets[SWEEP_MAX_KEYS + 1][AC_CONFIG_TEXT + 160];
    int n = 0;
    argv[n++] = (char *)(uintptr_t)exe;
    argv[n++] = (char *)(uintptr_t) "train";
    argv[n++] = (char *)(uintptr_t)a->config;
    for (int k = 0; k <= n_keys; k++) {
        if (k < n_keys)
            snprintf(sets[k], sizeof sets[k], "%s=%s", keys[k].key, keys[k].values[r->choice[k]]);
        else
            snprintf(sets[k], sizeof sets[k], "train.threads=%d", r->threads);
        argv[n++] = (char *)(uintptr_t) "--set";
        argv[n++] = sets[k];
    }
    argv[n++] = (char *)(uintptr_t) "--out";
    argv[n++] = r->dir;
    argv[n++] = (char *)(uintptr_t) "--quiet";
    argv[n++] = (char *)(uintptr_t) "--no-test"; /* the search never sees the test split */
    if (resume) {
        argv[n++] = (char *)(uintptr_t) "--resume";
        argv[n++] = r->dir;
    }
    argv[n] = NULL;

    char log[4096];
    snprintf(log, sizeof log, "%s/train.log", r->dir);
    int pipe_fd[2];
    if (pipe(pipe_fd) != 0) {
        ac_cli_error("sweep: cannot make a pipe: %s", strerror(errno));
        return -1;
    }
    fcntl(pipe_fd[0], F_SETFD, FD_CLOEXEC); /* no other child may hold our pipes */
    fcntl(pipe_fd[1], F_SETFD, FD_CLOEXEC);
    int log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0666);
    if (log_fd < 0) {
        ac_cli_error("%s: cannot write: %s", log, strerror(errno));
        close(pipe_fd[0]);
        close(pipe_fd[1]);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* SIGTERM when the sweep dies, even by SIGKILL; it may already be gone */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(128 + SIGTERM);
        dup2(log_fd, STDOUT_FILENO);
        dup2(pipe_fd[1], STDERR_FILENO);
        execv(exe, argv);
        static const char msg[] = "attncast: sweep: cannot run the attncast binary\n";
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
    }
    close(pipe_fd[1]);
    if (pid < 0) {
        ac_cli_error("sweep: cannot start a run: %s", strerror(errno));
        close(pipe_fd[0]);
        close(log_fd);
        return -1;
    }
    r->pid = pid;
    r->err_fd = pipe_fd[0];
    r->log_fd = log_fd;
    r->status = RUN_RUNNING;
    r->started = ac_seconds();
    r->line_len = 0;
    r->error[0] = '\0';
    return 0;
}

/* Reads what the child wrote to stderr: copied to its log, the last non-empty line kept.
 * Returns false at end of file. */
static bool read_stderr(sweep_run *r) {
    char buf[4096];
    ssize_t got = read(r->err_fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) return true;
    if (got <= 0) {
        if (r->line_len) {
            r->line[r->line_len] = '\0';
            memcpy(r->error, r->line, r->line_len + 1);
            r->line_len = 0;
        }
        return false;
    }
    ssize_t ignored = write(r->log_fd, buf, (size_t)got);
    (void)ignored;
    for (ssize_t i = 0; i < got; i++) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            if (r->line_len) {
                r->line[r->line_len] = '\0';
                memcpy(r->error, r->line, r->line_len + 1);
            }
            r->line_len = 0;
        } else if (r->line_len < sizeof r->line - 1) {
            r->line[r->line_len++] = buf[i];
        }
    }
    return true;
}

static void progress_done(const sweep_run *r, int index, int n_runs, int jobs, bool skipped) {
    if (jobs > 1 || skipped) printf("[%d/%d] %s ...", index + 1, n_runs, r->name);
    /* the validation MSE that ranks the run, or its own validation loss for an old run */
    bool mse = isfinite(r->m.val_mse);
    double val = mse ? r->m.val_mse : r->m.val_loss;
    if (r->status == RUN_OK && skipped)
        printf(" finished before, val %s%.4f\n", mse ? "MSE " : "", val);
    else if (r->status == RUN_OK)
        printf(" ok, val %s%.4f, %.1f s\n", mse ? "MSE " : "", val, r->seconds);
    else
        printf(" failed, %.1f s: %s\n", r->seconds, r->error);
    fflush(stdout);
}

/* The child has exited: its stderr is drained, its status and metrics recorded. */
static void finish(sweep_run *r, int wait_status) {
    if (r->err_fd >= 0)
        while (read_stderr(r)) continue;
    if (r->err_fd >= 0) close(r->err_fd);
    close(r->log_fd);
    r->err_fd = r->log_fd = -1;
    r->seconds = ac_seconds() - r->started;
    const char *prefix = "attncast: ";
    if (!strncmp(r->error, prefix, strlen(prefix)))
        memmove(r->error, r->error + strlen(prefix), strlen(r->error) - strlen(prefix) + 1);
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
        r->status = sweep_read_metrics(r) == 0 ? RUN_OK : RUN_FAILED;
        return;
    }
    r->status = RUN_FAILED;
    if (!r->error[0] && WIFSIGNALED(wait_status))
        snprintf(r->error, sizeof r->error, "killed by signal %d", WTERMSIG(wait_status));
    else if (!r->error[0])
        snprintf(r->error, sizeof r->error, "exit status %d", WEXITSTATUS(wait_status));
}

/* The sweep got SIGINT or SIGTERM: passes it to every running child, waits for them all (each
 * saves its last.h5 for a rerun to resume), then dies of the same signal. */
static void stop_all(sweep_run *runs, int n_runs) {
    int sig = g_stop_signal, stopped = 0;
    for (int i = 0; i < n_runs; i++)
        if (runs[i].status == RUN_RUNNING) kill(runs[i].pid, sig);
    for (int i = 0; i < n_runs; i++) {
        if (runs[i].status != RUN_RUNNING) continue;
        /* until the child closes it: its last line (where it saved last.h5) reaches train.log */
        while (read_stderr(&runs[i])) continue;
        while (waitpid(runs[i].pid, NULL, 0) < 0 && errno == EINTR) continue;
        runs[i].status = RUN_FAILED;
        stopped++;
    }
    ac_cli_error("sweep: stopped by %s with %d run(s) running; rerun the same command to "
                 "continue",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", stopped);
    fflush(stdout);
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig); /* in case the signal is blocked */
}

/* What a rank tells rank 0 of one of its runs. */
typedef struct run_outcome {
    int status;
    double seconds;
    char error[SWEEP_ERROR_MAX];
} run_outcome;

void sweep_gather_runs(ac_parallel *group, sweep_run *runs, int n_runs) {
    int size = ac_parallel_size(group), rank = ac_parallel_rank(group);
    if (size == 1) return;
    int per_rank = (n_runs + size - 1) / size; /* rank r's k-th run is r + k size */
    size_t bytes = (size_t)per_rank * sizeof(run_outcome);
    run_outcome *mine = calloc((size_t)per_rank, sizeof *mine);
    run_outcome *all = rank == 0 ? calloc((size_t)per_rank * (size_t)size, sizeof *all) : NULL;
    if (!mine || (rank == 0 && !all)) {
        ac_cli_error("sweep: out of memory");
        ac_parallel_abort(group, 1);
    }
    for (int k = 0; k < per_rank && rank + k * size < n_runs; k++) {
        const sweep_run *r = &runs[rank + k * size];
        mine[k].status = r->status;
        mine[k].seconds = r->seconds;
        memcpy(mine[k].error, r->error, sizeof mine[k].error);
    }
    ac_parallel_gather(group, mine, bytes, all);
    for (int i = 0; rank == 0 && i < n_runs; i++) {
        if (i % size == 0) continue; /* rank 0's own */
        const run_outcome *o = &all[(size_t)(i % size) * (size_t)per_rank + (size_t)(i / size)];
        sweep_run *r = &runs[i];
        r->status = (sweep_status)o->status;
        r->seconds = o->seconds;
        memcpy(r->error, o->error, sizeof r->error);
        r->error[sizeof r->error - 1] = '\0';
        if (r->status == RUN_OK && sweep_read_metrics(r) != 0) r->status = RUN_FAILED;
    }
    free(mine);
    free(all);
}

int sweep_run_all(const char *exe, const sweep_args *a, const sweep_key *keys, int n_keys,
                  sweep_run *runs, int n_runs) {
    int next = a->first, running = 0, rc = 0;
    bool verbose = !a->quiet;
    struct pollfd *fds = malloc((size_t)a->jobs * sizeof *fds);
    int *who = malloc((size_t)a->jobs * sizeof *who);
    if (!fds || !who) {
        ac_cli_error("sweep: out of memory");
        free(fds);
        free(who);
        return -1;
    }
    /* runs side by side, or ranks printing to one terminal: whole lines only */
    int whole_lines = a->jobs > 1 || a->stride > 1 ? 2 : 1;
    catch_stop_signals();
    while (next < n_runs || running > 0) {
        if (g_stop_signal) stop_all(runs, n_runs);
        while (rc == 0 && !g_stop_signal && running < a->jobs && next < n_runs) {
            sweep_run *r = &runs[next];
            next += a->stride;
            if (file_exists(r->dir, "metrics.json")) {
                if (sweep_read_metrics(r) == 0)
                    r->status = RUN_OK;
                else
                    r->status = RUN_FAILED;
                if (verbose) progress_done(r, (int)(r - runs), n_runs, whole_lines, true);
                continue;
            }
            if (verbose) {
                printf("[%d/%d] %s %s", (int)(r - runs) + 1, n_runs, r->name,
                       whole_lines > 1 ? "started\n" : "...");
                fflush(stdout);
            }
            if (launch(exe, a, keys, n_keys, r) != 0) {
                rc = -1; /* let the running ones end, start no more */
                next = n_runs;
                break;
            }
            running++;
        }
        if (running == 0) break;
        int n_fds = 0;
        for (int i = 0; i < n_runs && n_fds < a->jobs; i++)
            if (runs[i].status == RUN_RUNNING && runs[i].err_fd >= 0) {
                fds[n_fds] = (struct pollfd){.fd = runs[i].err_fd, .events = POLLIN};
                who[n_fds++] = i;
            }
        if (poll(fds, (nfds_t)n_fds, 100) > 0)
            for (int f = 0; f < n_fds; f++)
                if (fds[f].revents && !read_stderr(&runs[who[f]])) {
                    close(runs[who[f]].err_fd);
                    runs[who[f]].err_fd = -1;
                }
        for (int i = 0; i < n_runs; i++) {
            sweep_run *r = &runs[i];
            int status = 0;
            if (r->status != RUN_RUNNING || waitpid(r->pid, &status, WNOHANG) != r->pid) continue;
            finish(r, status);
            running--;
            if (verbose) progress_done(r, i, n_runs, whole_lines, false);
        }
    }
    if (g_stop_signal) stop_all(runs, n_runs);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    free(fds);
    free(who);
    return rc;
}
