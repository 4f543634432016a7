/* backtest.c - `attncast backtest CONFIG|CHECKPOINT [--start ROW|DATE] [--stride K]
 * [--refit N|never] [--jobs N] [--out DIR] [--set sec.key=val]... [--quiet]`: rolling-origin
 * evaluation. Forecasts every stride-th origin from --start (default: the test split's first)
 * to the last whose horizon fits, each from the rows before it only, with one model (a
 * checkpoint's, or one trained from the config for the first origin) or a model retrained from
 * the config every N origins (a fold). Each fold's forecasts are kept in a fold file as soon as
 * they exist, so a stopped backtest rerun with the same command goes on from the folds it has;
 * the outputs are always scored from the fold files (backtest_report.c).
 *
 * Folds run in --jobs worker processes (fork) and, under mpirun, over the ranks (rank r takes
 * folds r, r + size, ...); rank 0 scores them once all are written.
 *
 * SIGINT or SIGTERM (outside mpirun) stops a backtest between training steps: the folds in
 * progress are dropped (a rerun computes them again, to the same bits), the finished ones stay
 * in their files, and one line says how to continue; the exit status is 128 + the signal. The
 * parent passes the signal on to its workers, and a worker whose parent dies gets SIGTERM.
 * Long-format data (data.format = long, a config or checkpoint) is refused: not supported yet. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "attncast/attncast.h"
#include "attncast/checkpoint.h"
#include "attncast/parallel.h"
#include "core/clock.h"
#include "app/interrupt.h"
#include "app/report.h"
#include "app/source.h"
#include "cli/backtest.h"
#include "cli/checkpoint_data.h"
#include "cli/cli.h"

#define MAX_SETS 256

static const char *const USAGE =
    "usage: attncast backtest CONFIG|CHECKPOINT [--start ROW|DATE] [--stride K] "
    "[--refit N|never] [--jobs N] [--out DIR] [--set section.key=value]... [--quiet]";

static const char *const HELP =
    "\n"
    "Rolling-origin evaluation: forecasts every K-th origin (first target row) from --start to\n"
    "the last origin whose horizon fits the data, each from the rows before it only, and\n"
    "scores the forecasts beside the naive, seasonal-naive and lookback-mean baselines on the\n"
    "same origins: overall, per fold and per horizon step, with the coverage, width and\n"
    "Winkler score of each interval (conformal ones calibrated per refit on its validation\n"
    "rows, or a checkpoint's /calibration; a quantile model's). Writes DIR/forecasts.csv,\n"
    "metrics.json, backtest.md and pictures. A stopped backtest rerun with the same command\n"
    "and --out goes on from the folds it finished.\n"
    "\n"
    "options:\n"
    "  --start ROW|DATE   the first origin, a row number (0 = the first data row) or a date as\n"
    "                     the CSV writes it (default: the test split's first origin)\n"
    "  --stride K         origins every K rows (default 1)\n"
    "  --refit N|never    never (default): one model, a CHECKPOINT's or trained from CONFIG for\n"
    "                     the first origin; N: retrain from the config before every N origins\n"
    "  --jobs N           compute folds in N worker processes (default 1)\n"
    "  --out DIR          the output folder (default runs/backtest-<name>-<timestamp>)\n"
    "  --set sec.key=val  override a config key (CONFIG only; repeatable)\n"
    "  --stop-after-folds N  stop after N folds of this invocation, as if interrupted\n"
    "  --quiet, -q        no progress lines\n"
    "  --help, -h         this help\n"
    "\n"
    "examples:\n"
    "  attncast backtest runs/fx/best.h5\n"
    "  attncast backtest models/default.ini --refit 100 --stride 24 --jobs 2 --out runs/bt\n";

typedef struct bt_args {
    const char *input; /* CONFIG or CHECKPOINT */
    const char *start, *out;
    const char *sets[MAX_SETS];
    int n_sets;
    int stride, refit, jobs, stop_after;
    bool quiet;
} bt_args;

static int parse_args(int argc, char **argv, bt_args *a) {
    memset(a, 0, sizeof *a);
    a->stride = 1;
    a->jobs = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            printf("%s\n%s", USAGE, HELP);
            return 1;
        } else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
            a->quiet = true;
        } else if (!strcmp(arg, "--start") || !strcmp(arg, "--stride") || !strcmp(arg, "--refit") ||
                   !strcmp(arg, "--jobs") || !strcmp(arg, "--out") || !strcmp(arg, "--set") ||
                   !strcmp(arg, "--stop-after-folds")) {
            if (i + 1 >= argc) {
                ac_cli_error("backtest: %s needs a value (%s)", arg, USAGE);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(arg, "--start"))
                a->start = v;
            else if (!strcmp(arg, "--out"))
                a->out = v;
            else if (!strcmp(arg, "--set")) {
                if (a->n_sets == MAX_SETS) {
                    ac_cli_error("backtest: more than %d --set options", MAX_SETS);
                    return -1;
                }
                a->sets[a->n_sets++] = v;
            } else if (!strcmp(arg, "--refit") && !strcmp(v, "never"))
                a->refit = 0;
            else if (!strcmp(arg, "--refit")) {
                if (ac_cli_parse_positive("backtest: --refit (N or never)", v, &a->refit) != 0)
                    return -1;
            } else if (ac_cli_parse_positive(!strcmp(arg, "--stride") ? "backtest: --stride"
                                             : !strcmp(arg, "--jobs")
                                                 ? "backtest: --jobs"
                                                 : "backtest: --stop-after-folds",
                                             v,
                                             !strcmp(arg, "--stride") ? &a->stride
                                             : !strcmp(arg, "--jobs") ? &a->jobs
                                                                      : &a->stop_after) != 0)
                return -1;
        } else if (arg[0] == '-') {
            ac_cli_error("backtest: unknown option '%s' (%s)", arg, USAGE);
            return -1;
        } else if (a->input) {
            ac_cli_error("backtest: one CONFIG or CHECKPOINT expected, got '%s' and '%s'", a->input,
                         arg);
            return -1;
        } else {
            a->input = arg;
        }
    }
    if (!a->input) {
        ac_cli_error("backtest: no CONFIG or CHECKPOINT given (%s)", USAGE);
        return -1;
    }
    return 0;
}

/* The file holds the HDF5 signature where HDF5 looks for it: at 0, 512, 1024, 2048, ... (a
 * checkpoint keeps a user block before it). */
static bool is_hdf5(const char *path) {
    static const unsigned char SIG[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    bool yes = false;
    for (long at = 0; !yes && at <= (1L << 20); at = at ? 2 * at : 512) {
        unsigned char head[8];
        if (fseek(f, at, SEEK_SET) != 0 || fread(head, 1, sizeof head, f) != sizeof head) break;
        yes = !memcmp(head, SIG, sizeof SIG);
    }
    fclose(f);
    return yes;
}

/* The config of a CONFIG run: the file, then --set, checked. */
static int load_config(const bt_args *a, ac_config *cfg) {
    ac_error err;
    if (ac_config_load(cfg, a->input, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    for (int i = 0; i < a->n_sets; i++)
        if (ac_config_set(cfg, a->sets[i], &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            return -1;
        }
    if (ac_config_check(cfg, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

/* --start: a row number, or the row whose date is written exactly so. -1 after an error. */
static int start_row(const char *text, const ac_table *t) {
    if (text[0] && strspn(text, "0123456789") == strlen(text)) {
        errno = 0;
        long v = strtol(text, NULL, 10);
        return errno || v > INT_MAX ? INT_MAX : (int)v;
    }
    if (!t->dates) {
        ac_cli_error("backtest: --start %s: %s has no date column; give a row number", text,
                     t->source);
        return -1;
    }
    for (int r = 0; r < t->rows; r++)
        if (!strcmp(t->dates[r], text)) return r;
    /* not as the CSV writes it: the same moment written another way is pointed at the row's
     * own text (rather than guessed at: 01/02 may be either day or month) */
    long long want, have;
    ac_date_style style;
    if (!ac_date_parse(text, &want, &style)) {
        ac_cli_error("backtest: --start %s: neither a row number nor a date (%s writes its dates "
                     "as '%s')",
                     text, t->source, t->dates[0]);
        return -1;
    }
    for (int r = 0; r < t->rows; r++)
        if (ac_date_parse(t->dates[r], &have, &style) && have == want) {
            ac_cli_error("backtest: --start %s: %s writes its dates as '%s' (row %d); give "
                         "--start '%s'",
                         text, t->source, t->dates[r], r, t->dates[r]);
            return -1;
        }
    ac_cli_error("backtest: --start %s: no row of %s has this date (it writes its dates as '%s' "
                 "and they run from there to '%s'; or give a row number)",
                 text, t->source, t->dates[0], t->dates[t->rows - 1]);
    return -1;
}

/* Plans the origins and folds; -1 after printing an error (a bad command line). */
static int make_plan(const bt_args *a, const ac_table *t, const ac_config *cfg,
                     const double split[3], bool checkpoint, bt_plan *p) {
    int L = cfg->data.lookback, H = cfg->data.horizon, T = t->rows;
    ac_split sp;
    ac_error err;
    if (ac_split_compute(T, split, L, H, &sp, &err) != AC_OK) {
        ac_cli_error("backtest: %s: %s", t->source, err.msg);
        return -1;
    }
    memset(p, 0, sizeof *p);
    p->stride = a->stride;
    p->refit = a->refit;
    p->n_val = sp.n_val;
    p->checkpoint = checkpoint && a->refit == 0;
    p->ckpt_train = sp.n_train;
    p->first = T - sp.n_test;
    const char *given = a->start ? a->start : "(the test split's first origin)";
    if (a->start && (p->first = start_row(a->start, t)) < 0) return -1;
    int last = T - H;
    if (p->first > last) {
        ac_cli_error("backtest: --start %s: origin %d is past the last origin whose horizon of %d "
                     "fits the %d rows (%d)",
                     given, p->first, H, T, last);
        return -1;
    }
    if (p->checkpoint && p->first < sp.n_train + sp.n_val) {
        ac_cli_error("backtest: --start %s: origin %d lies in the checkpoint's training and "
                     "validation rows (0-%d), which it was fitted on; the earliest origin for "
                     "this model is %d (or retrain with --refit N)",
                     given, p->first, sp.n_train + sp.n_val - 1, sp.n_train + sp.n_val);
        return -1;
    }
    if (!p->checkpoint && p->first - p->n_val < L + H) {
        ac_cli_error("backtest: --start %s: origin %d leaves %d training rows before its %d "
                     "validation rows, fewer than lookback + horizon = %d; the earliest origin "
                     "is %d",
                     given, p->first, p->first - p->n_val, p->n_val, L + H, L + H + p->n_val);
        return -1;
    }
    /* both limits above leave at least data.lookback rows before every origin: a checkpoint's
     * training rows hold whole windows, and a refit's training rows at least L + H */
    p->count = (last - p->first) / p->stride + 1;
    p->per_fold = p->refit ? p->refit : p->count;
    p->folds = (p->count + p->per_fold - 1) / p->per_fold;
    return 0;
}

/* ---- the identity of a backtest: config, data, options (and a checkpoint's weights) ---- */

static void fnv(uint64_t *h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        *h ^= p[i];
        *h *= 1099511628211ULL;
    }
}

static uint64_t identity_of(const ac_config *cfg, const ac_table *t, const bt_plan *p,
                            const ac_checkpoint *ck) {
    uint64_t h = 14695981039346656037ULL;
    fnv(&h, "attncast backtest 2", 19); /* 2: fold files with intervals */
    char *ini = ac_config_to_ini(cfg);
    if (ini) fnv(&h, ini, strlen(ini));
    free(ini);
    int ints[] = {t->rows,  t->cols,     p->first, p->count,      p->stride,
                  p->refit, p->per_fold, p->n_val, p->ckpt_train, p->checkpoint};
    fnv(&h, ints, sizeof ints);
    fnv(&h, t->values, (size_t)t->rows * (size_t)t->cols * sizeof(double));
    for (int c = 0; c < t->cols; c++) fnv(&h, t->names[c], strlen(t->names[c]) + 1);
    if (p->checkpoint) {
        ac_tensor *const *w = ac_forecaster_params(ck->model);
        for (int i = 0; i < ac_forecaster_param_count(ck->model); i++)
            fnv(&h, w[i]->data, (size_t)w[i]->size * sizeof(float));
        size_t columns = (size_t)(ck->scaler.columns ? ck->scaler.columns : ck->scaler.channels);
        fnv(&h, ck->scaler.mean, columns * sizeof(double));
        fnv(&h, ck->scaler.std, columns * sizeof(double));
        const ac_calibration *cal = &ck->calibration; /* its intervals (calibrate rewrites it) */
        if (ck->has_calibration) {
            fnv(&h, cal->levels, (size_t)cal->count * sizeof(double));
            fnv(&h, cal->halfwidth,
                (size_t)cal->count * cal->horizon * cal->channels * sizeof(double));
        }
    }
    return h;
}

/* name is "<stem>.tmp.<digits>", the temporary file of stem that ac_write_file_atomic or the
 * forecasts CSV writer of some process left behind. */
static bool is_temporary_of(const char *name, const char *stem, size_t stem_len) {
    const char *tail = name + stem_len;
    return !strncmp(name, stem, stem_len) && !strncmp(tail, ".tmp.", 5) && tail[5] &&
           strspn(tail + 5, "0123456789") == strlen(tail + 5);
}

/* Removes the temporary files of fold files (folds/fold_NNNN.bin.tmp.<pid>) and of the outputs
 * that a backtest killed while writing left behind. The caller holds the folder's lock, and the
 * workers of a killed backtest hold it as long as they live, so none is being written now. */
static void remove_stale_temporaries(const char *dir) {
    static const char *const OUTPUTS[] = {
        "backtest.id",       "forecasts.csv",     "metrics.json",        "backtest.md",
        "error_by_step.csv", "error_by_fold.csv", "coverage_by_fold.csv"};
    char path[AC_CONFIG_TEXT + 320];
    for (int in_folds = 0; in_folds < 2; in_folds++) {
        snprintf(path, sizeof path, in_folds ? "%s/folds" : "%s", dir);
        DIR *d = opendir(path);
        if (!d) continue;
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            const char *name = e->d_name;
            bool ours = false;
            if (in_folds) {
                size_t digits = strspn(name + 5, "0123456789");
                ours = !strncmp(name, "fold_", 5) && digits >= 4 &&
                       !strncmp(name + 5 + digits, ".bin", 4) &&
                       is_temporary_of(name, name, 5 + digits + 4);
            }
            for (size_t i = 0; !in_folds && i < sizeof OUTPUTS / sizeof OUTPUTS[0]; i++)
                ours = ours || is_temporary_of(name, OUTPUTS[i], strlen(OUTPUTS[i]));
            if (ours && snprintf(path, sizeof path, in_folds ? "%s/folds/%s" : "%s/%s", dir, name) <
                            (int)sizeof path)
                unlink(path);
        }
        closedir(d);
    }
}

/* Creates DIR and DIR/folds, removes stale temporary files and checks (or writes)
 * DIR/backtest.id. */
static int prepare_dir(const bt_job *job) {
    char path[AC_CONFIG_TEXT + 32], text[64];
    snprintf(path, sizeof path, "%s/folds", job->dir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        ac_cli_error("%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    remove_stale_temporaries(job->dir);
    snprintf(path, sizeof path, "%s/backtest.id", job->dir);
    snprintf(text, sizeof text, "%016llx\n", (unsigned long long)job->identity);
    FILE *f = fopen(path, "r");
    if (f) {
        char have[64] = "";
        bool same = fgets(have, sizeof have, f) && !strcmp(have, text);
        fclose(f);
        if (!same) {
            ac_cli_error("%s holds a backtest of another config, data, options or attncast "
                         "version; give another --out or remove the folder",
                         job->dir);
            return -1;
        }
        return 0;
    }
    ac_error err;
    if (ac_write_file_atomic(path, text, strlen(text), &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

/* ---- running the folds ---- */

/* The exit code of a worker, and the result of run_folds, when a signal stopped it. */
enum { BT_STOPPED = 3 };

/* Worker `worker` of `workers` on this rank: the folds f = rank + size * k with
 * k % workers == worker that have no file yet, at most stop_after of them (0: all). Returns an
 * exit code, or BT_STOPPED when a stop was requested. */
static int run_folds(const bt_job *job, int rank, int size, int worker, int workers,
                     int stop_after) {
    int computed = 0, k = 0;
    for (int f = rank; f < job->plan.folds; f += size, k++) {
        if (k % workers != worker) continue;
        if (job->stop_requested && job->stop_requested()) return BT_STOPPED;
        bt_fold fd;
        int rc = ac_backtest_fold_read(job, f, &fd);
        if (rc < 0) return AC_EXIT_FAILURE;
        if (rc == 0) {
            ac_backtest_fold_free(&fd);
            continue;
        }
        if (stop_after && computed == stop_after) return AC_EXIT_OK;
        bool usage = false;
        rc = ac_backtest_fold_run(job, f, &usage);
        if (rc > 0) return BT_STOPPED;
        if (rc < 0) return usage ? AC_EXIT_USAGE : AC_EXIT_FAILURE;
        computed++;
    }
    return AC_EXIT_OK;
}

static void sleep_briefly(void) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* This rank's folds in `jobs` forked workers (or here, for one). A stop request reaching this
 * process is passed on to the workers (once: the same request from a terminal reaches them
 * too, and the handler takes a repeat within a second for the same one). */
static int run_workers(const bt_job *job, ac_parallel *group, int jobs, int stop_after) {
    int rank = ac_parallel_rank(group), size = ac_parallel_size(group);
    if (jobs <= 1) return run_folds(job, rank, size, 0, 1, stop_after);
    /* forecasting alone gives the same bits at any thread count, so workers split the budget;
     * training slices each batch per configured thread, so refits keep the configured count */
    int budget = ac_threads_get(), share = budget / jobs > 0 ? budget / jobs : 1;
    enum { MAX_WORKERS = 64 };
    pid_t pids[MAX_WORKERS];
    bool reaped[MAX_WORKERS] = {false};
    if (jobs > MAX_WORKERS) jobs = MAX_WORKERS;
    int started = 0, exit_code = AC_EXIT_OK;
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    for (int w = 0; w < jobs; w++) {
        pid_t pid = fork();
        if (pid < 0) {
            ac_cli_error("backtest: cannot start a worker: %s", strerror(errno));
            exit_code = AC_EXIT_FAILURE;
            break;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) _exit(BT_STOPPED); /* the parent died before the prctl */
            ac_interrupt_set_note(NULL);                /* the parent reports a stop */
            ac_error err;
            if (job->plan.checkpoint) ac_threads_init(share, &err);
            int rc = run_folds(job, rank, size, w, jobs, stop_after);
            fflush(stdout);
            _exit(rc);
        }
        pids[started++] = pid;
    }
    bool passed_on = false, stopped = false;
    for (int left = started; left > 0;) {
        int sig = job->stop_requested ? job->stop_requested() : 0;
        if (sig && !passed_on) {
            for (int i = 0; i < started; i++)
                if (!reaped[i]) kill(pids[i], sig);
            passed_on = true;
        }
        bool any = false;
        for (int i = 0; i < started; i++) {
            if (reaped[i]) continue;
            int status = 0;
            pid_t r = waitpid(pids[i], &status, WNOHANG);
            if (r == 0 || (r < 0 && errno == EINTR)) continue;
            reaped[i] = any = true;
            left--;
            if (r < 0) {
                ac_cli_error("backtest: cannot wait for a worker: %s", strerror(errno));
                exit_code = AC_EXIT_FAILURE;
            } else if (WIFEXITED(status) && WEXITSTATUS(status) == BT_STOPPED) {
                stopped = true;
            } else if (WIFSIGNALED(status) &&
                       (sig || (job->stop_requested && job->stop_requested()))) {
                stopped = true; /* a repeated Ctrl-C ends workers at once */
            } else if (!WIFEXITED(status)) {
                ac_cli_error("backtest: a worker died (signal %d)", WTERMSIG(status));
                exit_code = AC_EXIT_FAILURE;
            } else if (WEXITSTATUS(status) != AC_EXIT_OK && exit_code == AC_EXIT_OK) {
                exit_code = WEXITSTATUS(status);
            }
        }
        if (!any && left > 0) sleep_briefly();
    }
    return exit_code == AC_EXIT_OK && stopped ? BT_STOPPED : exit_code;
}

/* The folds without a file yet. */
static int missing_folds(const bt_job *job) {
    int missing = 0;
    for (int f = 0; f < job->plan.folds; f++) {
        char path[AC_CONFIG_TEXT + 64];
        struct stat st;
        ac_backtest_fold_path(job->dir, f, path, sizeof path);
        if (stat(path, &st) != 0) missing++;
    }
    return missing;
}

/* The command that continues this backtest: the same input and options, --out dir. */
static void resume_command(const bt_args *a, const char *dir, char *out, size_t n) {
    char num[32];
    snprintf(out, n, "attncast backtest");
    ac_cli_append_shell_word(out, n, a->input);
    if (a->start) {
        ac_cli_append_shell_word(out, n, "--start");
        ac_cli_append_shell_word(out, n, a->start);
    }
    const char *names[3] = {"--stride", "--refit", "--jobs"};
    int values[3] = {a->stride, a->refit, a->jobs}, defaults[3] = {1, 0, 1};
    for (int i = 0; i < 3; i++) {
        if (values[i] == defaults[i]) continue;
        snprintf(num, sizeof num, "%d", values[i]);
        ac_cli_append_shell_word(out, n, names[i]);
        ac_cli_append_shell_word(out, n, num);
    }
    for (int i = 0; i < a->n_sets; i++) {
        ac_cli_append_shell_word(out, n, "--set");
        ac_cli_append_shell_word(out, n, a->sets[i]);
    }
    ac_cli_append_shell_word(out, n, "--out");
    ac_cli_append_shell_word(out, n, dir);
}

static int backtest(const bt_args *a, ac_parallel *group);

int ac_cli_backtest(int argc, char **argv) {
    bt_args args;
    int prc = parse_args(argc, argv, &args);
    if (prc != 0) return prc > 0 ? AC_EXIT_OK : AC_EXIT_USAGE;
    ac_parallel *group = NULL;
    ac_error err;
    if (ac_parallel_start(&group, &argc, &argv, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    if (ac_parallel_rank(group) != 0) {
        args.quiet = true;
        FILE *sink = freopen("/dev/null", "w", stdout);
        (void)sink;
    }
    int exit_code = backtest(&args, group);
    if (exit_code != AC_EXIT_OK)
        ac_parallel_abort(group, exit_code);
    else
        ac_parallel_stop(group);
    return exit_code;
}

static int backtest(const bt_args *a, ac_parallel *group) {
    double started = ac_seconds();
    bool lead = ac_parallel_rank(group) == 0;
    ac_error err;
    ac_checkpoint *ck = NULL;
    ac_config cfg;
    bool checkpoint = is_hdf5(a->input);
    if (checkpoint) {
        if (a->n_sets) {
            ac_cli_error("backtest: --set goes with a CONFIG, not a checkpoint");
            return AC_EXIT_USAGE;
        }
        if (ac_ckpt_read(&ck, a->input, &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            return AC_EXIT_FAILURE;
        }
        bool whole = false;
        ac_cli_data_choice choice = {.checkpoint = a->input};
        if (ac_cli_checkpoint_data(ck, "backtest", &choice, &cfg, &whole) != 0) {
            ac_ckpt_free(ck);
            return AC_EXIT_FAILURE;
        }
    } else if (load_config(a, &cfg) != 0) {
        return AC_EXIT_USAGE;
    }
    if (cfg.data.format == AC_FORMAT_LONG) {
        ac_cli_error("backtest: %s: backtest of long-format data (data.format = long) is not "
                     "supported yet",
                     a->input);
        ac_ckpt_free(ck);
        return AC_EXIT_USAGE;
    }
    if (ac_threads_init(cfg.train.threads, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        ac_ckpt_free(ck);
        return AC_EXIT_USAGE;
    }
    int exit_code = AC_EXIT_FAILURE;
    bool catch_signals = false;
    ac_data_source src;
    if (ac_data_source_open(&src, &cfg, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        exit_code = src.config_error ? AC_EXIT_USAGE : AC_EXIT_FAILURE;
        ac_data_source_close(&src);
        goto done_source;
    }
    memcpy(cfg.data.split, src.split, sizeof cfg.data.split);
    cfg.data.split_set = true;
    memcpy(cfg.data.split_rows, src.split_rows, sizeof cfg.data.split_rows);
    int season = cfg.data.season > 0 ? cfg.data.season : src.season;
    bt_job job = {.cfg = &cfg, .table = src.table, .ck = ck, .quiet = a->quiet};
    if (make_plan(a, src.table, &cfg, src.split, checkpoint, &job.plan) != 0) {
        exit_code = AC_EXIT_USAGE;
        goto done;
    }
    job.identity = identity_of(&cfg, src.table, &job.plan, ck);
    char dir[AC_CONFIG_TEXT] = "";
    int lock_fd = -1;
    if (lead) {
        ac_config named = cfg;
        const char *base = checkpoint ? "checkpoint" : cfg.name[0] ? cfg.name : "run";
        snprintf(named.name, sizeof named.name, "backtest-%.100s", base);
        if (a->out && snprintf(named.output.dir, sizeof named.output.dir, "%s", a->out) >=
                          (int)sizeof named.output.dir) {
            ac_cli_error("backtest: --out: path too long");
            exit_code = AC_EXIT_USAGE;
            goto done;
        }
        struct stat st;
        if (a->out && stat(a->out, &st) == 0 && !S_ISDIR(st.st_mode)) {
            ac_cli_error("backtest: --out %s: a file, not a folder; give a folder to write the "
                         "backtest into",
                         a->out);
            exit_code = AC_EXIT_USAGE;
            goto done;
        }
        if (!a->out) named.output.dir[0] = '\0';
        if (ac_run_dir_create(&named, dir, sizeof dir, &err) != AC_OK ||
            ac_run_dir_lock(dir, &lock_fd, &err) != AC_OK) {
            ac_cli_error("%s", err.msg);
            goto done;
        }
        job.dir = dir;
        if (prepare_dir(&job) != 0) goto done_lock;
    }
    ac_parallel_broadcast(group, dir, sizeof dir);
    job.dir = dir;
    ac_parallel_barrier(group);
    /* SIGINT/SIGTERM from here on: stop between training steps, keep the finished folds and say
     * how to continue. Ranks of an MPI job keep the default action (mpirun ends the job; the
     * rerun goes on from the fold files). */
    catch_signals = ac_parallel_size(group) <= 1;
    if (catch_signals) {
        ac_interrupt_set_note("stopping; the finished folds are kept (again to stop at once)");
        ac_interrupt_catch();
        job.stop_requested = ac_interrupt_signal;
    }
    char covariates[64] = "";
    if (src.table->cols > src.table->targets)
        snprintf(covariates, sizeof covariates, " (+ %d covariate column(s))",
                 src.table->cols - src.table->targets);
    if (!a->quiet)
        printf("attncast backtest: %s, %d rows x %d channels%s; L=%d H=%d; origins %d-%d every "
               "%d row(s): %d origin(s) in %d fold(s) (%s)\nbacktest folder: %s\n",
               src.label, src.table->rows, src.table->targets, covariates, cfg.data.lookback,
               cfg.data.horizon, job.plan.first,
               job.plan.first + (job.plan.count - 1) * job.plan.stride, job.plan.stride,
               job.plan.count, job.plan.folds,
               job.plan.checkpoint ? "the checkpoint's model"
               : job.plan.refit > 0 && job.plan.folds == 1
                   ? "one model: --refit is at least the number of origins"
               : job.plan.refit > 0 ? "a refit per fold"
                                    : "one model trained for the first origin",
               dir);
    fflush(stdout);
    char resume_cmd[4 * AC_CONFIG_TEXT];
    resume_command(a, dir, resume_cmd, sizeof resume_cmd);
    int missing_before = lead ? missing_folds(&job) : 0;
    exit_code = run_workers(&job, group, a->jobs, a->stop_after);
    int missing = lead ? missing_folds(&job) : 0, computed = missing_before - missing;
    if (exit_code == BT_STOPPED || (exit_code == AC_EXIT_OK && missing && ac_interrupt_signal())) {
        int sig = ac_interrupt_signal() ? ac_interrupt_signal() : SIGTERM; /* a worker's own */
        ac_cli_error("backtest stopped by %s with %d of %d fold(s) done (kept in %s/folds); "
                     "continue with: %s",
                     ac_interrupt_signal_name(sig), job.plan.folds - missing, job.plan.folds, dir,
                     resume_cmd);
        exit_code = 128 + sig;
        goto done_lock;
    }
    if (exit_code != AC_EXIT_OK) goto done_lock;
    /* From here a signal ends the program at once: the fold files are complete, and a rerun
     * writes the outputs from them. */
    if (catch_signals) ac_interrupt_release();
    ac_parallel_barrier(group);
    if (!lead) goto done_lock;
    if (missing && a->stop_after) {
        printf("stopped after %d fold(s) as asked; %d fold(s) left; continue with: %s\n", computed,
               missing, resume_cmd);
        exit_code = AC_EXIT_OK;
        goto done_lock;
    }
    if (missing) {
        ac_cli_error("backtest: %d fold file(s) are missing in %s/folds", missing, dir);
        exit_code = AC_EXIT_FAILURE;
        goto done_lock;
    }
    bt_timing timing = {.folds_run = computed};
    timing.seconds = ac_seconds() - started;
    exit_code =
        ac_backtest_report(&job, season, src.label, &timing) == 0 ? AC_EXIT_OK : AC_EXIT_FAILURE;
done_lock:
    if (catch_signals) ac_interrupt_release();
    if (lock_fd >= 0) close(lock_fd);
done:
    ac_data_source_close(&src);
done_source:
    ac_ckpt_free(ck);
    return exit_code;
}
