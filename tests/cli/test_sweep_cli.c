/* test_sweep_cli.c - `attncast sweep` run as a subprocess on a tiny model and a generated CSV:
 * a 2x2 grid writes its run folders and results.csv; a sweep killed mid-run and rerun gives
 * the same results as an uninterrupted one; a sweep killed by SIGKILL, SIGTERM or SIGINT leaves
 * no `train` child running (the run folder's lock is free); --jobs 2 gives the same metrics as
 * --jobs 1; grid mistakes are one-line usage errors before any run starts; a run that fails at data
 * time is recorded as failed while the others finish; runs trained with different losses are
 * ranked by their validation MSE, not by their own losses; the trials run with --no-test, so no
 * train.log, metrics.json, results.csv or report.md of the sweep holds a test-split number; runs
 * of a card's row split are found finished when rerun. */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "data/sha256.h"
#include "support/testutil.h"

#define GRID "--grid model.attention=dot,gated --grid train.lr=0.001,0.01"

static char dir[256];
static char out[1 << 16];

static const char *RUNS[4] = {"attention-dot_lr-0.001", "attention-dot_lr-0.01",
                              "attention-gated_lr-0.001", "attention-gated_lr-0.01"};

static int sweep(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' sweep %s", dir, tu_bin(), args);
    return tu_run(cmd, out, sizeof out);
}

static bool exists(const char *sub, const char *run, const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s/%s", dir, sub, run, file);
    struct stat st;
    return stat(path, &st) == 0;
}

static void sleep_ms(long ms) {
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}, NULL);
}

/* Whether a trainer holds the lock of run folder sub/run right now. */
static bool trainer_running(const char *sub, const char *run) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s/.train.lock", dir, sub, run);
    int fd = open(path, O_RDWR);
    if (fd < 0) return false;
    bool held = flock(fd, LOCK_EX | LOCK_NB) != 0;
    close(fd);
    return held;
}

/* Waits (bounded) until no trainer holds sub/run; false if one still does after ms (times
 * tu_time_scale(), for valgrind). */
static bool trainer_gone(const char *sub, const char *run, long ms) {
    ms = (long)((double)ms * tu_time_scale());
    for (long t = 0; t < ms && trainer_running(sub, run); t += 10) sleep_ms(10);
    return !trainer_running(sub, run);
}

/* Starts `attncast sweep ARGS...` (args NULL-terminated) in dir, its output in log; its pid. */
static pid_t start_sweep(const char *log, const char *const *args) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(STDOUT_FILENO, STDERR_FILENO) < 0) _exit(126);
        char *argv[32] = {strdup(tu_bin()), strdup("sweep")};
        for (int i = 0; args[i] && i < 29; i++) argv[i + 2] = strdup(args[i]);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* The uninterrupted --jobs 1 reference sweep in s1 (rerunning it when done costs nothing). */
static void reference(void) {
    int rc = sweep("base.ini " GRID " --out s1 --quiet");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
}

/* results.csv of two sweep folders agree on every column but train_seconds, windows_per_s. */
static void expect_same_results(const char *a, const char *b) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cut -d, -f1-12,15 %s/results.csv > a.csv && cut -d, -f1-12,15 "
             "%s/results.csv > b.csv && diff a.csv b.csv",
             dir, a, b);
    if (tu_run(cmd, out, sizeof out) != 0) fail_msg("%s and %s differ:\n%s", a, b, out);
}

static void expect_error(int rc, const char *a, const char *b) {
    if (rc != 2) fail_msg("exit %d (wanted 2): %s", rc, out);
    if (tu_count_lines(out) != 1) fail_msg("not one line: %s", out);
    if (a && !strstr(out, a)) fail_msg("'%s' not in: %s", a, out);
    if (b && !strstr(out, b)) fail_msg("'%s' not in: %s", b, out);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "sweep-cli") != 0) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/series.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "date,a,b\n");
    for (int t = 0; t < 300; t++)
        fprintf(f, "2020-01-%04d,%.5f,%.5f\n", t, 5 + sin(t * 0.5236), cos(t * 0.2618));
    fclose(f);
    /* 12 short epochs: long enough for the kill to land inside a run. Slowed down (valgrind),
     * 3: an epoch takes seconds there, not milliseconds, and each of the 11 runs of the 2x2 grid
     * (s1, s2, s3) is ~9 epochs shorter */
    snprintf(path, sizeof path, "%s/base.ini", dir);
    f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f,
            "[data]\ncsv = series.csv\nlookback = 24\nhorizon = 6\n"
            "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\npatch_len = 6\n"
            "patch_stride = 3\n"
            "[train]\nepochs = %d\nbatch_size = 16\nseed = 3\nthreads = 1\npatience = 0\n",
            tu_time_scale() > 1 ? 3 : 12);
    fclose(f);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void test_grid_trains_every_combination_and_writes_results(void **state) {
    (void)state;
    int rc = sweep("base.ini " GRID " --out s1");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_non_null(strstr(out, "[4/4] attention-gated_lr-0.01 ... ok, val "));
    for (int i = 0; i < 4; i++) {
        if (!exists("s1", RUNS[i], "metrics.json")) fail_msg("no %s/metrics.json", RUNS[i]);
        assert_true(exists("s1", RUNS[i], "best.h5"));
        assert_true(exists("s1", RUNS[i], "train.log"));
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat '%s/s1/results.csv'", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_int_equal(tu_count_lines(out), 5);
    assert_non_null(strstr(out, "model.attention,train.lr,run,status,val_loss,val_mse,val_mae,"
                                "val_rmse,val_smape,val_mase,val_naive_mse,best_epoch,"
                                "train_seconds,windows_per_s,error\n"));
    assert_non_null(strstr(out, "\ndot,0.001,attention-dot_lr-0.001,ok,"));
    assert_non_null(strstr(out, "\ndot,0.01,attention-dot_lr-0.01,ok,"));
    assert_non_null(strstr(out, "\ngated,0.001,attention-gated_lr-0.001,ok,"));
    assert_non_null(strstr(out, "\ngated,0.01,attention-gated_lr-0.01,ok,"));
    assert_null(strstr(out, "failed"));
    /* report.md ranks the four runs and links their own reports */
    snprintf(cmd, sizeof cmd, "grep -c '^| [0-9] | \\[' '%s/s1/report.md'", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_int_equal(atoi(out), 4);
    for (int i = 0; i < 4; i++) assert_true(exists("s1", RUNS[i], "report.md"));
    /* the trials never saw the test split: train --no-test scored the validation split only */
    for (int i = 0; i < 4; i++) {
        char run[512];
        snprintf(run, sizeof run, "%s/s1/%s", dir, RUNS[i]);
        const char *log = tu_read_text(run, "train.log"); /* tu_read_text's buffer */
        if (strstr(log, "test split:") || !strstr(log, "\nval split:"))
            fail_msg("%s/train.log shows the test split, or no validation table:\n%s", run, log);
        cJSON *root = cJSON_Parse(tu_read_text(run, "metrics.json"));
        assert_non_null(root);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(root, "split")), "val");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "test_hidden")));
        cJSON_Delete(root);
        assert_false(exists("s1", RUNS[i], "test_forecasts.csv"));
    }
    snprintf(cmd, sizeof cmd, "cat '%s/s1/report.md'", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_null(strstr(out, "test MSE"));
    assert_non_null(strstr(out, "--no-test"));

    /* the same command again finds every run finished; --quiet prints only the table */
    snprintf(cmd, sizeof cmd, "cp '%s/s1/results.csv' '%s/first.csv'", dir, dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    rc = sweep("base.ini " GRID " --out s1 --quiet");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_int_equal(tu_count_lines(out), 5);
    assert_non_null(strstr(out, "val_loss"));
    snprintf(cmd, sizeof cmd, "cmp '%s/s1/results.csv' '%s/first.csv'", dir, dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
}

static void test_killed_sweep_reruns_to_the_same_results(void **state) {
    (void)state;
    reference();
    const char *args[] = {"base.ini",
                          "--grid",
                          "model.attention=dot,gated",
                          "--grid",
                          "train.lr=0.001,0.01",
                          "--out",
                          "s2",
                          "--jobs",
                          "1",
                          NULL};
    pid_t pid = start_sweep("killed.log", args);
    /* wait until the first run is done and the second has a checkpoint (bounded: 60 s, times
     * tu_time_scale()) */
    bool exited = false;
    for (int i = 0; i < 6000 * tu_time_scale(); i++) {
        if (exists("s2", RUNS[0], "metrics.json") && exists("s2", RUNS[1], "last.h5")) break;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            break;
        }
        sleep_ms(10);
    }
    if (exited) fail_msg("the sweep ended before it could be killed: nothing was tested");
    /* the sweep alone, as `kill -9 PID` would: its `train` child must not outlive it */
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    for (int i = 0; i < 4; i++)
        if (!trainer_gone("s2", RUNS[i], 5000)) fail_msg("%s still trains after the kill", RUNS[i]);
    int finished = 0;
    for (int i = 0; i < 4; i++) finished += exists("s2", RUNS[i], "metrics.json");
    if (finished == 4) fail_msg("every run finished: the kill did not land mid-sweep");
    bool resumable = !exists("s2", RUNS[1], "metrics.json") && exists("s2", RUNS[1], "last.h5");
    printf("[ info     ] sweep killed with %d of 4 runs finished%s\n", finished,
           resumable ? "; the second run left a last.h5 to resume from" : "");

    int rc = sweep("base.ini " GRID " --out s2 --jobs 1");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    for (int i = 0; i < finished; i++) assert_non_null(strstr(out, "finished before"));
    if (resumable) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "grep -c 'resuming from' '%s/s2/%s/train.log'", dir, RUNS[1]);
        if (tu_run(cmd, out, sizeof out) != 0) fail_msg("the second run did not resume");
    }
    expect_same_results("s1", "s2");
}

/* One long run: the sweep is killed while its `train` child holds the run folder. */
static void test_signalled_sweep_leaves_no_trainer_running(void **state) {
    (void)state;
    const char *run = "epochs-3000";
    const char *args[] = {"base.ini", "--grid", "train.epochs=3000", "--out", "s5",
                          "--quiet",  NULL};
    int sigs[] = {SIGKILL, SIGTERM, SIGINT};
    for (int k = 0; k < 3; k++) {
        pid_t pid = start_sweep("signalled.log", args);
        bool started = false; /* the trainer holds the lock (bounded: 60 s, times the scale) */
        for (int i = 0; i < 6000 * tu_time_scale() && !(started = trainer_running("s5", run)); i++)
            sleep_ms(10);
        if (!started) fail_msg("no trainer started in s5/%s", run);
        assert_int_equal(kill(pid, sigs[k]), 0); /* the sweep alone */
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != sigs[k])
            fail_msg("signal %d: the sweep did not die of it (status 0x%x)", sigs[k], status);
        /* SIGTERM and SIGINT: the sweep waited for its child, so it is gone already */
        long grace = sigs[k] == SIGKILL ? 5000 : 0;
        if (!trainer_gone("s5", run, grace))
            fail_msg("signal %d: the trainer outlived the sweep", sigs[k]);
        assert_false(exists("s5", run, "metrics.json"));
        if (sigs[k] != SIGKILL) {
            char cmd[512];
            snprintf(cmd, sizeof cmd, "cat '%s/signalled.log'", dir);
            tu_run(cmd, out, sizeof out);
            const char *what = sigs[k] == SIGTERM ? "stopped by SIGTERM" : "stopped by SIGINT";
            if (!strstr(out, what)) fail_msg("'%s' not in: %s", what, out);
        }
    }
}

static void test_two_jobs_give_the_same_metrics_as_one(void **state) {
    (void)state;
    reference();
    int rc = sweep("base.ini " GRID " --out s3 --jobs 2");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_non_null(strstr(out, "2 at a time, 1 thread(s) each"));
    expect_same_results("s1", "s3");
}

static void test_grid_mistakes_are_usage_errors_before_any_run(void **state) {
    (void)state;
    expect_error(sweep("base.ini --grid model.atention=dot,gated --out bad"), "model.atention",
                 "model.attention");
    expect_error(sweep("base.ini --grid train.lr=0.01,abc --out bad"), "train.lr=abc", "--grid");
    expect_error(sweep("base.ini --grid train.lr= --out bad"), "train.lr", "no values");
    expect_error(sweep("base.ini --grid train.lr=0.1,,0.2 --out bad"), "train.lr", "empty");
    expect_error(sweep("base.ini --grid train.lr=0.1 --grid train.lr=0.2 --out bad"), "train.lr",
                 "twice");
    expect_error(sweep("base.ini --grid lr=0.1 --out bad"), "section.key", NULL);
    expect_error(sweep("base.ini --grid model.heads=2,3 --out bad"), "model.heads", "d_model");
    expect_error(sweep("base.ini --out bad"), "--grid", NULL);
    expect_error(sweep("--grid train.lr=0.1 --out bad"), "config", NULL);
    expect_error(sweep("missing.ini --grid train.lr=0.1 --out bad"), "missing.ini", NULL);
    expect_error(sweep("base.ini --grid train.lr=0.1 --jobs 0 --out bad"), "--jobs", NULL);
    expect_error(sweep("base.ini --grid train.lr=0.1 --frobnicate"), "--frobnicate", NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/bad", dir);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0); /* nothing was started */
    assert_int_equal(sweep("--help"), 0);
    assert_non_null(strstr(out, "--grid"));
}

static void test_run_that_fails_is_recorded_and_the_sweep_goes_on(void **state) {
    (void)state;
    /* 300 rows: a horizon of 500 does not fit the split, found when the data is read */
    int rc = sweep("base.ini --grid data.horizon=500,6 --grid train.epochs=2 --out s4");
    if (rc != 1) fail_msg("exit %d (wanted 1): %s", rc, out);
    assert_non_null(strstr(out, "[1/2] horizon-500_epochs-2 ... failed"));
    assert_non_null(strstr(out, "[2/2] horizon-6_epochs-2 ... ok"));
    assert_non_null(strstr(out, "attncast: sweep: 1 of 2 run(s) failed"));
    /* the ranked table puts the failed run last */
    assert_true(strstr(out, "\nhorizon-6_epochs-2 ") < strstr(out, "\nhorizon-500_epochs-2 "));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat '%s/s4/results.csv'", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_int_equal(tu_count_lines(out), 3);
    const char *failed = strstr(out, "\n500,2,horizon-500_epochs-2,failed,,,,,,,,,,,");
    if (!failed) fail_msg("no failed row: %s", out);
    if (!strstr(failed, "data.horizon")) fail_msg("no error in the failed row: %s", out);
    assert_non_null(strstr(out, "\n6,2,horizon-6_epochs-2,ok,"));
}

static void test_finished_runs_of_a_changed_base_config_are_refused(void **state) {
    (void)state;
    int rc = sweep("base.ini --grid train.epochs=2 --grid train.lr=0.001,0.01 --out s6 --quiet");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && sed 's/^seed = 3/seed = 4/' base.ini > changed.ini", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    expect_error(sweep("changed.ini --grid train.epochs=2 --grid train.lr=0.001,0.01 --out s6"),
                 "s6/epochs-2_lr-0.001 was finished with another config (train.seed = 3 there, 4 "
                 "now)",
                 "use a new --out, or delete s6");
    /* the unchanged config still finds them finished; a new --out trains the changed one */
    rc = sweep("base.ini --grid train.epochs=2 --grid train.lr=0.001,0.01 --out s6");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    assert_non_null(strstr(out, "[2/2] epochs-2_lr-0.01 ... finished before"));
    rc = sweep("changed.ini --grid train.epochs=2 --grid train.lr=0.001,0.01 --out s6b --quiet");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
}

/* A dataset card's row split is resolved into each run's config.ini (data.split_rows); rerun,
 * the sweep finds those runs finished, not changed. */
static void test_runs_of_a_card_with_a_row_split_are_found_finished(void **state) {
    (void)state;
    char path[512], sha[65];
    ac_error err;
    snprintf(path, sizeof path, "%s/series.csv", dir);
    assert_int_equal(ac_sha256_file(path, sha, &err), AC_OK);
    snprintf(path, sizeof path, "%s/cards", dir);
    mkdir(path, 0755);
    char card[512];
    snprintf(card, sizeof card,
             "[dataset]\nname = rows\nfile = series.csv\nurl = https://invalid.example/s.csv\n"
             "sha256 = %s\nsplit_rows = 200,40,40\nseason = 12\n",
             sha);
    assert_int_equal(tu_write_file(path, "rows.ini", card), 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && sed 's/^csv = series.csv/dataset = rows/' base.ini > rows.ini", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    const char *args = "rows.ini --grid train.epochs=1 --grid train.lr=0.001 --out s8";
    for (int pass = 0; pass < 2; pass++) {
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && ATTNCAST_DATASETS_DIR='%s/cards' ATTNCAST_DATA_MIRROR='%s' '%s' "
                 "sweep %s",
                 dir, dir, dir, tu_bin(), args);
        int rc = tu_run(cmd, out, sizeof out);
        if (rc != 0) fail_msg("pass %d: exit %d: %s", pass, rc, out);
    }
    assert_non_null(strstr(out, "epochs-1_lr-0.001 ... finished before"));
    snprintf(path, sizeof path, "%s/s8/epochs-1_lr-0.001", dir);
    assert_non_null(strstr(tu_read_text(path, "config.ini"), "\nsplit_rows = 200,40,40\n"));
}

static void test_jobs_beyond_the_cores_are_capped_with_one_warning(void **state) {
    (void)state;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores >= 64) skip();
    int rc = sweep("base.ini --grid train.epochs=1 --grid train.lr=0.001,0.01,0.1 --jobs 64 "
                   "--out s7");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    char want[256];
    snprintf(want, sizeof want,
             "attncast: warning: sweep: --jobs 64 x 1 thread(s) would oversubscribe %ld core(s); "
             "running %ld at a time\n",
             cores, cores);
    const char *at = strstr(out, want);
    if (!at) fail_msg("'%s' not in: %s", want, out);
    assert_null(strstr(at + strlen(want), "warning")); /* once */
    snprintf(want, sizeof want, "%ld at a time, 1 thread(s) each", cores);
    if (!strstr(out, want)) fail_msg("'%s' not in: %s", want, out);
}

/* A number from a run's metrics.json: "key" or "object.key". */
static double run_number(const char *sub, const char *run, const char *object, const char *key) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat '%s/%s/%s/metrics.json'", dir, sub, run);
    if (tu_run(cmd, out, sizeof out) != 0) fail_msg("%s/%s: no metrics.json", sub, run);
    cJSON *root = cJSON_Parse(out);
    const cJSON *v = root ? cJSON_GetObjectItem(root, object ? object : key) : NULL;
    if (object) v = cJSON_GetObjectItem(v, key);
    if (!cJSON_IsNumber(v)) fail_msg("%s/%s: metrics.json has no number %s", sub, run, key);
    double x = v->valuedouble;
    cJSON_Delete(root);
    return x;
}

/* train.loss = mse, mae on a series whose noise is skewed (exponential) and, in the validation
 * and test rows, twice as large: the errors are above 1 (scaled), so the MAE run's own loss
 * (an MAE) is below the MSE run's (an MSE), while the MSE run, which forecasts the mean rather
 * than the median, has the lower validation MSE. Ranking by each run's loss would put loss-mae
 * first; the sweep must put loss-mse first. */
static void test_runs_of_different_losses_are_ranked_by_validation_mse(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/skew.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "date,a\n");
    uint64_t x = 88172645463325252ull;
    for (int t = 0; t < 600; t++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        double u = (double)(x >> 11) / 9007199254740992.0;
        fprintf(f, "2020-01-%04d,%.5f\n", t,
                sin(t * 0.5236) - (t < 420 ? 2.0 : 4.0) * log(1.0 - u));
    }
    fclose(f);
    assert_int_equal(tu_write_file(dir, "skew.ini",
                                   "[data]\ncsv = skew.csv\nlookback = 24\nhorizon = 6\n"
                                   "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\n"
                                   "patch_len = 6\npatch_stride = 3\n"
                                   "[train]\nepochs = 6\nlr = 0.01\nbatch_size = 16\nseed = 3\n"
                                   "threads = 1\npatience = 0\n"),
                     0);
    int rc = sweep("skew.ini --grid train.loss=mse,mae --out s9 --quiet");
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    char table[4096];
    snprintf(table, sizeof table, "%.*s", (int)sizeof table - 1, out);
    /* the construction: the two orders disagree */
    double loss_mse = run_number("s9", "loss-mse", NULL, "best_val_loss");
    double loss_mae = run_number("s9", "loss-mae", NULL, "best_val_loss");
    double mse_of_mse = run_number("s9", "loss-mse", "val", "mse");
    double mse_of_mae = run_number("s9", "loss-mae", "val", "mse");
    if (!(loss_mae < loss_mse && mse_of_mse < mse_of_mae))
        fail_msg("the series no longer separates the orders: losses mse %g, mae %g; validation "
                 "MSEs %g, %g",
                 loss_mse, loss_mae, mse_of_mse, mse_of_mae);
    /* the MSE run's validation MSE is its validation loss */
    assert_true(fabs(mse_of_mse - loss_mse) < 1e-6 * loss_mse);
    /* the table, report.md and results.csv follow the validation MSE */
    char *first = strstr(table, "\nloss-mse "), *second = strstr(table, "\nloss-mae ");
    if (!first || !second || first > second) fail_msg("not ranked by validation MSE:\n%s", table);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "grep '^| 1 |' '%s/s9/report.md'", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "loss-mse"));
    snprintf(cmd, sizeof cmd, "cut -d, -f1,5 '%s/s9/results.csv'", dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    char want[256];
    snprintf(want, sizeof want, "train.loss,val_mse\nmse,%.9g\nmae,%.9g\n", mse_of_mse, mse_of_mae);
    assert_string_equal(out, want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_trains_every_combination_and_writes_results),
        cmocka_unit_test(test_killed_sweep_reruns_to_the_same_results),
        cmocka_unit_test(test_signalled_sweep_leaves_no_trainer_running),
        cmocka_unit_test(test_two_jobs_give_the_same_metrics_as_one),
        cmocka_unit_test(test_grid_mistakes_are_usage_errors_before_any_run),
        cmocka_unit_test(test_run_that_fails_is_recorded_and_the_sweep_goes_on),
        cmocka_unit_test(test_finished_runs_of_a_changed_base_config_are_refused),
        cmocka_unit_test(test_runs_of_a_card_with_a_row_split_are_found_finished),
        cmocka_unit_test(test_jobs_beyond_the_cores_are_capped_with_one_warning),
        cmocka_unit_test(test_runs_of_different_losses_are_ranked_by_validation_mse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
