/* sweep.c - `attncast sweep CONFIG --grid section.key=v1,v2,... [--grid ...] [--jobs N]
 * [--out DIR] [--quiet]`: trains every combination of the grid values over a base config and
 * ranks the runs.
 *
 * Every key and value is checked with the config's own parser, and every combination with
 * ac_config_check, before the first run starts. Each combination is an ordinary run folder
 * under the sweep folder, trained by `attncast train` as a child process of this same binary
 * (fork + execv of /proc/self/exe, no shell), up to --jobs at once, sharing the thread budget.
 * A run folder holding metrics.json is finished and skipped; one holding only last.h5 is
 * resumed from it, so rerunning an interrupted sweep completes it with the same results. A
 * finished run whose config.ini differs from what the sweep would now run (the base config
 * changed) is refused, not silently reused. --jobs is capped so that runs x threads fit the
 * cores. A failed run keeps the last line of its stderr and the sweep goes on. sweep_runs.c starts
 * and waits for the runs; sweep_results.c writes results.csv and prints the ranked table.
 *
 * Under mpirun (a build with -DATTNCAST_MPI=ON) rank r of N runs runs r, r + N, ... as ordinary
 * single-process trainers, and rank 0 gathers how they ended and writes results.csv and report.md,
 * the same files a single process writes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attncast/config.h"
#include "attncast/parallel.h"
#include "app/report.h"
#include "attncast/threads.h"
#include "cli/cli.h"
#include "cli/sweep.h"

#define MAX_RUNS 10000 /* combinations in one sweep */

static void usage(FILE *out) {
    fputs("usage: attncast sweep CONFIG --grid section.key=v1,v2,... [--grid ...] [--jobs N]\n"
          "                             [--out DIR] [--quiet]\n"
          "\n"
          "Trains every combination of the --grid values over CONFIG (the first --grid varies\n"
          "slowest), each as an ordinary run folder under the sweep folder named from its\n"
          "values, e.g. attention-dot_lr-0.001. Writes results.csv and prints the runs ranked by\n"
          "the validation MSE of their best weights (whatever train.loss each used). Every key\n"
          "and combination is checked before the first run. Rerunning the same command skips\n"
          "finished runs and resumes interrupted ones from their last.h5. Exit 1 if a run\n"
          "failed; 2 for a wrong grid, or finished runs of a changed CONFIG.\n"
          "\n"
          "options:\n"
          "  --grid sec.key=v1,v2,...   values of one config key (repeatable; any key but\n"
          "                             output.dir; a single value is a fixed override)\n"
          "  --jobs N                   train N runs at once (default 1), the threads split\n"
          "                             between them unless train.threads is set\n"
          "  --out DIR                  the sweep folder (default runs/<config name>-sweep)\n"
          "  --quiet, -q                print only the ranked table\n"
          "  --help, -h                 this help\n"
          "\n"
          "examples:\n"
          "  attncast sweep models/default.ini --grid model.attention=dot,gated \\\n"
          "      --grid train.lr=0.001,0.01 --jobs 2\n"
          "  attncast sweep models/default.ini --grid train.loss=mse,mae --grid train.epochs=20\n"
          "\n"
          "In an MPI build, `mpirun -np N attncast sweep ...` shares the runs out over N ranks\n"
          "(rank r trains runs r, r+N, ...); rank 0 writes results.csv (docs/mpi.md).\n",
          out);
}

static int parse_args(int argc, char **argv, sweep_args *a) {
    memset(a, 0, sizeof *a);
    a->jobs = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return -2;
        } else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
            a->quiet = true;
        } else if (!strcmp(arg, "--grid") || !strcmp(arg, "--jobs") || !strcmp(arg, "--out")) {
            if (i + 1 >= argc) {
                ac_cli_error("sweep: %s needs a value (see attncast sweep --help)", arg);
                return -1;
            }
            const char *value = argv[++i];
            if (!strcmp(arg, "--out")) {
                a->out = value;
            } else if (!strcmp(arg, "--jobs")) {
                if (ac_cli_parse_positive(arg, value, &a->jobs) != 0) return -1;
            } else if (a->n_grids == SWEEP_MAX_KEYS) {
                ac_cli_error("sweep: more than %d --grid options", SWEEP_MAX_KEYS);
                return -1;
            } else {
                a->grids[a->n_grids++] = value;
            }
        } else if (ac_cli_config_argument("sweep", arg, &a->config) != 0) {
            return -1;
        }
    }
    if (!a->config) {
        ac_cli_error("sweep: no config file given (usage: attncast sweep CONFIG --grid "
                     "section.key=v1,v2,...)");
        return -1;
    }
    if (a->n_grids == 0) {
        ac_cli_error("sweep: no --grid given (for example --grid model.attention=dot,gated)");
        return -1;
    }
    return 0;
}

/* ---- the grid ---- */

static char *trimmed(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) *--end = '\0';
    return s;
}

/* Cuts "section.key=v1,v2" into k; the values are checked later, against the config. */
static int parse_grid(const char *arg, sweep_key *k) {
    memset(k, 0, sizeof *k);
    k->text = malloc(strlen(arg) + 1);
    k->values = malloc((strlen(arg) / 2 + 1) * sizeof *k->values);
    if (!k->text || !k->values) {
        ac_cli_error("--grid: out of memory");
        return -1;
    }
    strcpy(k->text, arg);
    char *eq = strchr(k->text, '=');
    if (!eq || !strchr(k->text, '.') || strchr(k->text, '.') > eq) {
        ac_cli_error("--grid %s: expected section.key=v1,v2,...", arg);
        return -1;
    }
    *eq = '\0';
    k->key = trimmed(k->text);
    if (!*trimmed(eq + 1)) {
        ac_cli_error("--grid %s: no values after '=' (expected %s=v1,v2,...)", arg, k->key);
        return -1;
    }
    for (char *v = eq + 1;;) {
        char *comma = strchr(v, ',');
        if (comma) *comma = '\0';
        k->values[k->n_values] = trimmed(v);
        if (!*k->values[k->n_values]) {
            ac_cli_error("--grid %s: value %d is empty", arg, k->n_values + 1);
            return -1;
        }
        k->n_values++;
        if (!comma) break;
        v = comma + 1;
    }
    return 0;
}

/* Applies key=value to cfg; the library's message, said of --grid rather than --set. */
static int apply(ac_config *cfg, const sweep_key *k, int v) {
    char assignment[AC_CONFIG_TEXT + 160];
    snprintf(assignment, sizeof assignment, "%s=%s", k->key, k->values[v]);
    ac_error err;
    if (ac_config_set(cfg, assignment, &err) == AC_OK) return 0;
    const char *msg = err.msg;
    if (!strncmp(msg, "--set ", 6)) msg += 6;
    ac_cli_error("--grid %s", msg);
    return -1;
}

/* The combination's own config: the base with its values applied. */
static int combination_config(const ac_config *base, const sweep_key *keys, int n_keys,
                              const sweep_run *run, ac_config *cfg) {
    memcpy(cfg, base, sizeof *cfg);
    for (int k = 0; k < n_keys; k++)
        if (apply(cfg, &keys[k], run->choice[k]) != 0) return -1;
    return 0;
}

/* "attention-dot_lr-0.001": the key without its section (unless two keys share it), '-', the
 * value; anything outside [A-Za-z0-9._-] becomes '_'. */
static void run_name(const sweep_key *keys, int n_keys, const int *choice, char *out) {
    size_t len = 0;
    for (int k = 0; k < n_keys; k++) {
        const char *key = strchr(keys[k].key, '.') + 1;
        for (int j = 0; j < n_keys; j++)
            if (j != k && !strcmp(key, strchr(keys[j].key, '.') + 1)) key = keys[k].key;
        char part[SWEEP_NAME_MAX * 2];
        snprintf(part, sizeof part, "%s%s-%s", k ? "_" : "", key, keys[k].values[choice[k]]);
        for (const char *c = part; *c && len < SWEEP_NAME_MAX; c++) {
            bool safe = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                        (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
            out[len++] = safe ? *c : '_';
        }
    }
    out[len] = '\0';
}

/* Checks every key, value and combination against the config and lays out the runs. */
static int plan(const ac_config *base, const sweep_key *keys, int n_keys, const char *sweep_dir,
                int budget, sweep_run **runs_out, int *n_out) {
    long n_runs = 1;
    for (int k = 0; k < n_keys; k++) {
        if (!strcmp(keys[k].key, "output.dir")) {
            ac_cli_error("--grid output.dir: the sweep names each run's folder (--out sets the "
                         "sweep folder)");
            return -1;
        }
        for (int j = 0; j < k; j++)
            if (!strcmp(keys[j].key, keys[k].key)) {
                ac_cli_error("--grid %s is given twice; list all its values in one --grid",
                             keys[k].key);
                return -1;
            }
        for (int v = 0; v < keys[k].n_values; v++) {
            ac_config cfg;
            memcpy(&cfg, base, sizeof cfg);
            if (apply(&cfg, &keys[k], v) != 0) return -1;
        }
        n_runs *= keys[k].n_values;
        if (n_runs > MAX_RUNS) {
            ac_cli_error("sweep: more than %d combinations; split the grid", MAX_RUNS);
            return -1;
        }
    }
    sweep_run *runs = calloc((size_t)n_runs, sizeof *runs);
    if (!runs) {
        ac_cli_error("sweep: out of memory");
        return -1;
    }
    *runs_out = runs;
    *n_out = (int)n_runs;
    for (int i = 0; i < n_runs; i++) {
        sweep_run *r = &runs[i];
        for (int k = n_keys - 1, rest = i; k >= 0; k--) {
            r->choice[k] = rest % keys[k].n_values;
            rest /= keys[k].n_values;
        }
        r->pid = -1;
        r->err_fd = r->log_fd = -1;
        ac_config cfg;
        if (combination_config(base, keys, n_keys, r, &cfg) != 0) return -1;
        ac_error err;
        if (ac_config_check(&cfg, &err) != AC_OK) {
            run_name(keys, n_keys, r->choice, r->name);
            ac_cli_error("sweep: run %s: %s", r->name, err.msg);
            return -1;
        }
        r->threads = cfg.train.threads > 0 ? cfg.train.threads : budget;
        char base_name[SWEEP_NAME_MAX + 1];
        run_name(keys, n_keys, r->choice, base_name);
        snprintf(r->name, sizeof r->name, "%s", base_name);
        for (int j = 0, suffix = 2; j < i; j++)
            if (!strcmp(runs[j].name, r->name)) {
                snprintf(r->name, sizeof r->name, "%s-%d", base_name, suffix++);
                j = -1; /* check the new name against every earlier one */
            }
        r->dir = malloc(strlen(sweep_dir) + strlen(r->name) + 2);
        if (!r->dir) {
            ac_cli_error("sweep: out of memory");
            return -1;
        }
        sprintf(r->dir, "%s/%s", sweep_dir, r->name);
    }
    return 0;
}

/* ---- finished runs against the current config ---- */

/* The first line where two INI texts differ, as "section.key: <a> ..., <b> ..."; false when
 * they are the same. Both come from ac_config_to_ini, so the keys are in the same order. */
static bool first_difference(const char *a, const char *b, char *what, size_t n) {
    char section[64] = "";
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || strncmp(a, b, la) != 0) {
            const char *eq_a = memchr(a, '=', la), *eq_b = memchr(b, '=', lb);
            int key = eq_b ? (int)(eq_b - b) - 1 : (int)lb;
            const char *va = eq_a ? eq_a + 2 : "", *vb = eq_b ? eq_b + 2 : "";
            int len_a = eq_a ? (int)(a + la - va) : 0, len_b = eq_b ? (int)(b + lb - vb) : 0;
            snprintf(what, n, "%s.%.*s = %.*s there, %.*s now", section, key > 0 ? key : 0, b,
                     len_a > 0 ? len_a : 0, va, len_b > 0 ? len_b : 0, vb);
            return true;
        }
        if (la > 2 && a[0] == '[' && a[la - 1] == ']')
            snprintf(section, sizeof section, "%.*s", (int)la - 2, a + 1);
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    return false;
}

/* The run's stored config and the one the sweep would give it now, as INI texts. What
 * `attncast train` resolves itself (the folder, the threads, a dataset card's split and season,
 * the dates' frequency) is taken from the stored one unless the sweep's config sets it. */
static int run_config_texts(const ac_config *now_cfg, const sweep_run *r, char **stored_ini,
                            char **now_ini) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.ini", r->dir);
    ac_config *stored = malloc(sizeof *stored), *now = malloc(sizeof *now);
    ac_error err;
    int rc = -1;
    if (!stored || !now) {
        ac_cli_error("sweep: out of memory");
    } else if (ac_config_load(stored, path, &err) != AC_OK) {
        ac_cli_error("sweep: run %s is finished but its config cannot be read: %s", r->dir,
                     err.msg);
    } else {
        memcpy(now, now_cfg, sizeof *now);
        memcpy(now->output.dir, stored->output.dir, sizeof now->output.dir);
        now->train.threads = stored->train.threads;
        if (!now->data.split_set && now->data.split_rows[0] == 0) { /* the card's, resolved */
            memcpy(now->data.split, stored->data.split, sizeof now->data.split);
            now->data.split_set = stored->data.split_set;
            memcpy(now->data.split_rows, stored->data.split_rows, sizeof now->data.split_rows);
        }
        if (now->data.season == 0) now->data.season = stored->data.season;
        if (!now->data.frequency[0])
            memcpy(now->data.frequency, stored->data.frequency, sizeof now->data.frequency);
        *stored_ini = ac_config_to_ini(stored);
        *now_ini = ac_config_to_ini(now);
        rc = *stored_ini && *now_ini ? 0 : -1;
        if (rc) ac_cli_error("sweep: out of memory");
    }
    free(stored);
    free(now);
    return rc;
}

/* Refuses to reuse a finished run (one with metrics.json) trained with another config. */
static int check_finished_runs(const ac_config *base, const sweep_key *keys, int n_keys,
                               const char *sweep_dir, const sweep_run *runs, int n_runs) {
    for (int i = 0; i < n_runs; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/metrics.json", runs[i].dir);
        if (access(path, F_OK) != 0) continue;
        ac_config cfg;
        if (combination_config(base, keys, n_keys, &runs[i], &cfg) != 0) return -1;
        char *stored = NULL, *now = NULL, what[512];
        int rc = run_config_texts(&cfg, &runs[i], &stored, &now);
        if (rc == 0 && first_difference(stored, now, what, sizeof what)) {
            ac_cli_error("sweep: %s was finished with another config (%s); use a new --out, or "
                         "delete %s to start the sweep over",
                         runs[i].dir, what, sweep_dir);
            rc = -1;
        }
        free(stored);
        free(now);
        if (rc != 0) return -1;
    }
    return 0;
}

/* Caps the runs at once so that runs x threads fit this rank's share of the cores; warns once
 * when it does. */
static void cap_jobs(sweep_args *a, const sweep_run *runs, int n_runs, int local_ranks) {
    int threads = 1, cores = ac_threads_available() / local_ranks;
    if (cores < 1) cores = 1;
    for (int i = 0; i < n_runs; i++)
        if (runs[i].threads > threads) threads = runs[i].threads;
    int fit = cores / threads > 0 ? cores / threads : 1;
    if (a->jobs <= fit) return;
    fprintf(stderr,
            "attncast: warning: sweep: --jobs %d x %d thread(s) would oversubscribe %d core(s); "
            "running %d at a time\n",
            a->jobs, threads, cores, fit);
    a->jobs = fit;
}

/* ---- the verb ---- */

static int sweep(sweep_args args, ac_parallel *group);

int ac_cli_sweep(int argc, char **argv) {
    sweep_args args;
    int prc = parse_args(argc, argv, &args);
    if (prc == -2) return AC_EXIT_OK;
    if (prc != 0) return AC_EXIT_USAGE;
    ac_parallel *group = NULL;
    ac_error err;
    if (ac_parallel_start(&group, &argc, &argv, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    setenv("ATTNCAST_NO_MPI", "1", 1); /* the trainers a sweep starts are plain processes */
    args.first = ac_parallel_rank(group);
    args.stride = ac_parallel_size(group);
    int exit_code = sweep(args, group);
    /* every rank returns the same code after the gather; an early failure stops the job */
    if (exit_code != AC_EXIT_OK && exit_code != SWEEP_RUNS_FAILED)
        ac_parallel_abort(group, exit_code);
    else
        ac_parallel_stop(group);
    return exit_code == SWEEP_RUNS_FAILED ? AC_EXIT_FAILURE : exit_code;
}

/* The verb on this rank: rank 0 prints and writes the sweep's own files. Returns an exit code, or
 * SWEEP_RUNS_FAILED when every run was tried and some failed. */
static int sweep(sweep_args args, ac_parallel *group) {
    bool lead = ac_parallel_rank(group) == 0;

    int exit_code = AC_EXIT_USAGE;
    sweep_key keys[SWEEP_MAX_KEYS] = {0};
    sweep_run *runs = NULL;
    int n_runs = 0;
    ac_config *base = malloc(sizeof *base);
    char *sweep_dir = NULL;
    ac_error err;
    if (!base) {
        ac_cli_error("sweep: out of memory");
        goto done;
    }
    for (int k = 0; k < args.n_grids; k++)
        if (parse_grid(args.grids[k], &keys[k]) != 0) goto done;
    if (ac_config_load(base, args.config, &err) != AC_OK || ac_threads_init(0, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        goto done;
    }
    int budget = ac_threads_get() / ac_parallel_local_size(group) / args.jobs;
    if (budget < 1) budget = 1;
    const char *out = args.out;
    char default_dir[256];
    if (!out) {
        snprintf(default_dir, sizeof default_dir, "runs/%s-sweep", base->name);
        out = default_dir;
    }
    sweep_dir = malloc(strlen(out) + 1);
    if (!sweep_dir) goto done;
    strcpy(sweep_dir, out);
    if (plan(base, keys, args.n_grids, sweep_dir, budget, &runs, &n_runs) != 0 ||
        check_finished_runs(base, keys, args.n_grids, sweep_dir, runs, n_runs) != 0)
        goto done;
    cap_jobs(&args, runs, n_runs, ac_parallel_local_size(group));

    exit_code = AC_EXIT_FAILURE;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        ac_cli_error("sweep: cannot find the attncast binary (/proc/self/exe): %s",
                     strerror(errno));
        goto done;
    }
    exe[len] = '\0';
    if (lead && sweep_make_dir(sweep_dir) != 0) goto done;
    ac_parallel_barrier(group); /* the sweep folder exists */
    if (lead && !args.quiet) {
        printf("attncast sweep: %d run(s) of %s (", n_runs, args.config);
        for (int k = 0; k < args.n_grids; k++)
            printf("%s%s: %d", k ? " x " : "", keys[k].key, keys[k].n_values);
        printf("), %d at a time, %d thread(s) each", args.jobs, runs[0].threads);
        if (args.stride > 1) printf(", on each of %d MPI ranks", args.stride);
        printf("\nsweep folder: %s\n", sweep_dir);
        fflush(stdout);
    }
    if (sweep_run_all(exe, &args, keys, args.n_grids, runs, n_runs) != 0) goto done;
    sweep_gather_runs(group, runs, n_runs);
    if (!lead) {
        exit_code = AC_EXIT_OK; /* replaced by rank 0's below */
        goto agree;
    }
    if (sweep_write_results(sweep_dir, keys, args.n_grids, runs, n_runs) != 0 ||
        sweep_write_report(sweep_dir, args.config, keys, args.n_grids, runs, n_runs) != 0)
        goto done;
    if (!args.quiet) printf("\n");
    sweep_print_table(runs, n_runs);
    int failed = 0;
    for (int i = 0; i < n_runs; i++) failed += runs[i].status != RUN_OK;
    if (!args.quiet) printf("wrote %s/results.csv and report.md\n", sweep_dir);
    if (failed)
        ac_cli_error("sweep: %d of %d run(s) failed; see %s/results.csv and each run's train.log",
                     failed, n_runs, sweep_dir);
    exit_code = failed ? SWEEP_RUNS_FAILED : AC_EXIT_OK;
agree:
    ac_parallel_broadcast(group, &exit_code, sizeof exit_code);
done:
    for (int i = 0; i < n_runs; i++) free(runs[i].dir);
    free(runs);
    for (int k = 0; k < SWEEP_MAX_KEYS; k++) {
        free(keys[k].text);
        free(keys[k].values);
    }
    free(sweep_dir);
    free(base);
    return exit_code;
}
