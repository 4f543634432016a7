/* main.c - the attncast program: finds the verb and hands it the rest of the command line. */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attncast/attncast.h"
#include "cli/cli.h"

typedef struct verb {
    const char *name;
    int (*run)(int argc, char **argv); /* NULL: announced, not in this release */
    const char *summary;
} verb;

static const verb VERBS[] = {
    {"train", ac_cli_train,
     "train a forecaster from an INI config or a CSV, print test metrics vs baselines"},
    {"eval", ac_cli_eval, "evaluate a saved checkpoint on a split or another CSV"},
    {"backtest", ac_cli_backtest,
     "rolling-origin evaluation: forecast many origins, optionally retraining as it goes"},
    {"predict", ac_cli_predict, "forecast the next horizon from new data with a saved checkpoint"},
    {"calibrate", ac_cli_calibrate,
     "calibrate a checkpoint's conformal prediction intervals on validation windows"},
    {"info", ac_cli_info, "describe a checkpoint: config, parameters, training history"},
    {"explain", ac_cli_explain, "show which past steps the attention looked at for one window"},
    {"sweep", ac_cli_sweep, "run a grid of configs and tabulate their metrics"},
    {"plot", ac_cli_plot, "redraw a run's learning curves and forecast plots"},
    {"datasets", ac_cli_datasets, "list, fetch and describe the known datasets"},
    {"bench", ac_cli_bench, "measure training and forecasting speed against the hardware"},
    {"bench-ops", ac_cli_bench_ops, "measure the matmul op against raw cblas_sgemm"},
};
#define N_VERBS (sizeof VERBS / sizeof VERBS[0])

void ac_cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("attncast: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int ac_cli_config_argument(const char *verb_name, const char *arg, const char **config) {
    if (arg[0] == '-' && arg[1]) {
        ac_cli_error("%s: unknown option '%s' (see attncast %s --help)", verb_name, arg, verb_name);
        return -1;
    }
    if (*config) {
        ac_cli_error("%s: one config file expected, got '%s' and '%s'", verb_name, *config, arg);
        return -1;
    }
    *config = arg;
    return 0;
}

int ac_cli_single_operand(int argc, char **argv, const char *usage, const char *help) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("%s\n%s", usage, help);
        return AC_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        ac_cli_error("%s", usage);
        return AC_EXIT_USAGE;
    }
    return -1;
}

int ac_cli_parse_positive(const char *option, const char *text, int *out) {
    char *end = NULL;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || errno || end == text || *end != '\0' || v < 1 || v > INT_MAX) {
        ac_cli_error("%s: expected a positive whole number, got '%s'", option,
                     text ? text : "(nothing)");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int ac_cli_parse_gemm(const char *option, const char *text) {
    ac_gemm_backend backend;
    if (!ac_gemm_backend_parse(text, &backend)) {
        ac_cli_error("%s: expected openblas or own, got '%s'", option, text ? text : "(nothing)");
        return -1;
    }
    ac_gemm_set_backend(backend);
    return 0;
}

void ac_cli_append_shell_word(char *out, size_t n, const char *word) {
    size_t used = strlen(out);
    bool plain =
        word[0] != '\0' && strspn(word, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789_-./=,:+@%") == strlen(word);
    if (plain) {
        snprintf(out + used, n - used, " %s", word);
        return;
    }
    used += (size_t)snprintf(out + used, n - used, " '");
    for (const char *c = word; *c && used + 5 < n; c++)
        used += (size_t)(*c == '\'' ? snprintf(out + used, n - used, "'\\''")
                                    : snprintf(out + used, n - used, "%c", *c));
    if (used < n) snprintf(out + used, n - used, "'");
}

static void print_help(FILE *out) {
    fprintf(out,
            "attncast %s - attention-based time-series forecasters on the CPU\n\n"
            "usage: attncast VERB [options]      attncast VERB --help for a verb's options\n"
            "       attncast --version | --help\n\nverbs:\n",
            ac_version());
    for (size_t i = 0; i < N_VERBS; i++)
        fprintf(out, "  %-10s %s%s\n", VERBS[i].name, VERBS[i].summary,
                VERBS[i].run ? "" : " (coming)");
    fputs("\nexamples:\n"
          "  attncast train models/default.ini\n"
          "  attncast train --csv sensors.csv --set data.horizon=24\n"
          "  attncast predict runs/default-20261201-220431/best.h5 --input recent.csv\n"
          "\nenvironment:\n"
          "  ATTNCAST_THREADS        threads for OpenBLAS and attncast (default: all cores);\n"
          "                          train.threads and --threads win\n"
          "  ATTNCAST_DATA_MIRROR    a folder of dataset files used instead of downloading\n"
          "                          (still checksum-verified)\n"
          "  ATTNCAST_CACHE_DIR      where downloaded datasets are kept (default\n"
          "                          $XDG_CACHE_HOME/attncast, else ~/.cache/attncast)\n"
          "  ATTNCAST_DATASETS_DIR   the folder of dataset cards (default: datasets/ in the\n"
          "                          current folder, as at the root of the source tree)\n"
          "  ATTNCAST_ADAPT_THREADS  0: training keeps the configured thread count instead of\n"
          "                          one thread while that is faster\n"
          "  ATTNCAST_NO_MPI         set (not 0): an MPI build runs as one process under mpirun\n"
          "  ATTNCAST_DEBUG          set: HDF5 prints its own error stack too\n"
          "  OMP_WAIT_POLICY         unset: attncast sets PASSIVE (waiting threads sleep)\n"
          "\nexit status: 0 done, 1 the work failed (bad data, a failed run), 2 a wrong command\n"
          "line or config, 130/143 train stopped by SIGINT/SIGTERM after saving last.h5.\n"
          "Documentation: README.md and docs/ (docs/cli.md, docs/config.md).\n",
          out);
}

static void print_version(void) {
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    printf("attncast %s\n", ac_version());
    printf("OpenBLAS: %s\n", openblas_get_config());
    printf("matrix products: %s (own kernels: %s)\n", ac_gemm_backend_name(ac_gemm_get_backend()),
           ac_gemm_own_isa());
    printf("HDF5: %u.%u.%u\n", maj, min, rel);
    printf("cJSON: %s\n", cJSON_Version());
}

/* Threads that wait must sleep, not spin: libgomp's default spinning barriers keep a core busy
 * between parallel loops, stealing it from OpenBLAS's threads (measured: one epoch of
 * models/default.ini took 27 s on 2 threads against 5.5 s on 1; with passive waiting, 5.2 s).
 * libgomp reads OMP_WAIT_POLICY once, before main runs, so when the user has not chosen a policy
 * the program sets it and starts itself again, once. */
static void ensure_passive_waiting(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    /* The program's path, not /proc/self/exe itself: under valgrind that link is valgrind's own
     * tool (which refuses to run), while readlink answers with the program valgrind runs. */
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return;
    exe[len] = '\0';
    execv(exe, argv); /* returns only on failure: then run as we are */
}

int main(int argc, char **argv) {
    ensure_passive_waiting(argv);
    /* Past a file size limit (ulimit -f), a write should fail with EFBIG and be reported with the
     * file's name, the previous file kept, rather than SIGXFSZ killing the program mid-run. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        print_help(stderr);
        return AC_EXIT_USAGE;
    }
    const char *name = argv[1];
    const char *gemm = getenv("ATTNCAST_GEMM");
    if (gemm && *gemm && ac_cli_parse_gemm("ATTNCAST_GEMM", gemm) != 0) return AC_EXIT_USAGE;
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        print_help(stdout);
        return AC_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        print_version();
        return AC_EXIT_OK;
    }
    for (size_t i = 0; i < N_VERBS; i++) {
        if (strcmp(name, VERBS[i].name) != 0) continue;
        if (!VERBS[i].run) {
            ac_cli_error("'%s' is not in this release yet (%s); see docs/roadmap.md", name,
                         VERBS[i].summary);
            return AC_EXIT_USAGE;
        }
        return VERBS[i].run(argc - 1, argv + 1);
    }
    ac_cli_error("unknown verb '%s'; run 'attncast --help' for the list", name);
    return AC_EXIT_USAGE;
}
