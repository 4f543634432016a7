/* bench.c - `attncast bench [--preset small|large|CONFIG] [--threads N] [--kinds K,...]
 * [--seconds S] [--rounds R] [--lookback L] [--ceiling-size N] [--cpu-clock] [--json]`: the speed
 * of the forecaster on generated data shaped like a preset, for each attention kind, beside this
 * machine's sgemm ceiling (an N^3 product, 1024 by default) measured in the same run (best
 * reading before each kind and after the last). Per kind: training windows/s (forward + backward
 * + Adam step, batch 32, after a warm-up), the achieved GFLOP/s (the model's matmul FLOPs per
 * training window x windows/s), the share of the training time spent inside cblas_sgemm and
 * sgemm's GFLOP/s on the model's own shapes (ac_blas_stats), single-window forecast latency
 * through the embedding API (median, p90), batch-256 no-grad windows/s, and the peak resident set
 * of a child process that ran only this kind (at the end of training and at the end). One window
 * is an L x C sample (C series in independent mode). With --rounds R each kind runs R times, the
 * kinds taking turns, and each figure keeps its best round. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attncast/attncast.h"
#include "attncast/checkpoint.h"
#include "attncast/embed.h"
#include "app/source.h"
#include "core/clock.h"
#include "core/thread_tuner.h"
#include "train/batch_slices.h"
#include "cli/cli.h"

#define BATCH         32
#define LATENCY_CALLS 200
#define POOL_BATCHES  8 /* generated training batches the timed loop cycles through */

static const char *const USAGE =
    "usage: attncast bench [--preset small|large|CONFIG] [--threads N] [--kinds K,...] "
    "[--seconds S] [--rounds R] [--lookback L] [--ceiling-size N] [--gemm B] [--trace-gemm FILE] "
    "[--cpu-clock] [--json]";

static const char *const HELP =
    "\n"
    "Trains and forecasts on generated data shaped like a preset, each attention kind in its\n"
    "own process, and prints per kind: training windows/s, the model's matmul GFLOP/s against\n"
    "the machine's sgemm ceiling, the share of a step inside sgemm, single-window forecast\n"
    "latency (median and p90), batch-256 throughput, backtest origins/s (forecasting only,\n"
    "one model, batches of 32), peak memory and FLOPs per window.\n"
    "\n"
    "options:\n"
    "  --preset P         small (shaped like exchange_rate, the default), large (like\n"
    "                     weather) or a config file, whose model and shapes are measured\n"
    "  --threads N        threads (default: ATTNCAST_THREADS or all cores)\n"
    "  --kinds K,...      only these attention kinds (additive, dot, gated, cosine)\n"
    "  --seconds S        seconds of timed training per kind (default 3)\n"
    "  --rounds R         measure every kind R times, the kinds taking turns, and keep each\n"
    "                     figure's best round (default 1; for a machine shared with others)\n"
    "  --lookback L       another lookback, same patching\n"
    "  --ceiling-size N   measure the sgemm ceiling on an N^3 product (default 1024)\n"
    "  --gemm B           the matrix products' backend: openblas or own (default: the\n"
    "                     build's, or ATTNCAST_GEMM)\n"
    "  --trace-gemm FILE  append each kind's matrix products (one training step, one batch-256\n"
    "                     and one single-window forecast) to FILE as CSV rows, for\n"
    "                     tools/gemm_compare (needs --threads 1)\n"
    "  --cpu-clock        time with the process CPU clock instead of the wall clock\n"
    "  --json             machine-readable output\n"
    "  --help, -h         this help\n"
    "\n"
    "examples:\n"
    "  attncast bench --preset small --threads 1\n"
    "  attncast bench --preset large --kinds dot,additive --lookback 336 --json\n";

/* The clock every timing reads: wall time, or with --cpu-clock the process's CPU time, which on a
 * busy machine measures the work of a 1-thread run without the time other processes took. */
static double (*bench_clock)(void) = ac_seconds;

/* --trace-gemm FILE: each kind's process appends the matrix products of one training step, one
 * batch-256 forecast and one single-window forecast to FILE, a CSV that tools/gemm_compare
 * replays on other libraries. */
static const char *trace_path;
#define TRACE_CAP 4096
static ac_gemm_call trace_calls[TRACE_CAP];
static int trace_count;

static void trace_start(void) {
    if (trace_path) ac_gemm_trace(trace_calls, TRACE_CAP, &trace_count);
}

/* Appends the products traced since trace_start as rows "kind,phase,geometry...". */
static int trace_write(const char *kind, const char *phase, char *error, size_t n) {
    if (!trace_path) return 0;
    ac_gemm_trace(NULL, 0, NULL);
    FILE *f = fopen(trace_path, "a");
    if (!f) {
        snprintf(error, n, "--trace-gemm: cannot append to %s", trace_path);
        return -1;
    }
    int stored = trace_count < TRACE_CAP ? trace_count : TRACE_CAP;
    for (int i = 0; i < stored; i++) {
        const ac_gemm_call *c = &trace_calls[i];
        fprintf(f, "%s,%s,%d,%d,%d,%d,%d,%d,%d,%d,%g\n", kind, phase, c->trans_a, c->trans_b, c->M,
                c->N, c->K, c->lda, c->ldb, c->ldc, (double)c->beta);
    }
    int rc = fclose(f) == 0 && trace_count <= TRACE_CAP ? 0 : -1;
    if (rc) snprintf(error, n, "--trace-gemm: cannot write %s", trace_path);
    return rc;
}

/* What one kind's child process measures and sends back through a pipe. */
typedef struct bench_result {
    int ok;
    double train_wps, latency_median_us, latency_p90_us, batch256_wps, train_seconds;
    /* the timed training steps' cblas_sgemm work (ac_blas_stats): wall seconds inside it, its
     * FLOPs, and the steps' wall seconds */
    double blas_seconds, blas_flops, train_wall_seconds;
    double backtest_ops;       /* backtest origins per second: ac_forecast_windows, one model */
    double peak_rss_mib;       /* the child's own peak resident set */
    double train_peak_rss_mib; /* the same, when training ended */
    char error[AC_ERROR_MAX + 32];
} bench_result;

/* ---- presets ---- */

static ac_config preset_config(bool large) {
    ac_config c;
    ac_config_defaults(&c);
    snprintf(c.data.csv, sizeof c.data.csv, "generated");
    c.data.lookback = 96;
    c.data.horizon = 96;
    c.model.patch_len = 16;
    c.model.patch_stride = 8;
    c.model.channels = AC_CHANNELS_INDEPENDENT;
    c.model.revin = true;
    c.model.anchor = AC_ANCHOR_MEAN; /* as the PyTorch reference's presets (torch_compare.py) */
    c.model.d_model = large ? 128 : 64;
    c.model.heads = large ? 8 : 4;
    c.model.layers = large ? 3 : 2;
    c.model.d_ff = large ? 256 : 128;
    c.train.batch_size = BATCH;
    return c;
}

/* Matmul FLOPs of one forward pass over one window (2 per multiply-add); *attention gets the
 * part that grows with the square of the token count N (scores and A V). */
static double forward_flops(const ac_model_spec *s, double *attention) {
    double N = ac_model_spec_tokens(s), d = s->d_model, P = s->patch_len;
    double cin = ac_model_spec_in_width(s), cout = ac_model_spec_out_width(s);
    double series = s->channel_mode == AC_CHANNELS_INDEPENDENT ? s->channels : 1;
    double square = 2 * 2 * N * N * d;
    double layer = ac_attention_kind_projections(s->attention) * 2 * N * d * d + square +
                   2 * 2 * N * d * s->d_ff;
    double per_series = 2 * N * P * cin * d + s->layers * layer +
                        2 * N * d * s->horizon * cout * ac_model_spec_quantiles(s);
    if (attention) *attention = series * s->layers * square;
    return series * per_series;
}

/* Zeroed pages straight from the kernel, and back to it on release: the ceiling is read between
 * the kinds' child processes, whose peak memory would otherwise count what malloc kept of its
 * buffers (after the first free of a large block, glibc serves blocks that size from its heap and
 * keeps them). */
static float *pages_alloc(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void pages_free(float *p, size_t bytes) {
    if (p) munmap(p, bytes);
}

/* The machine's sgemm ceiling: GFLOP/s of an n^3 product (1024 unless --ceiling-size says), best
 * of a few. */
static double sgemm_ceiling(int n) {
    size_t bytes = (size_t)n * n * sizeof(float);
    float *a = pages_alloc(bytes), *b = pages_alloc(bytes), *c = pages_alloc(bytes);
    double best = 0;
    for (size_t i = 0; a && b && c && i < (size_t)n * n; i++)
        a[i] = b[i] = 0.001f * (float)(i % 997);
    for (int r = 0; a && b && c && r < 5; r++) {
        double t0 = bench_clock();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        double g = 2.0 * n * n * n / (bench_clock() - t0) * 1e-9;
        if (g > best) best = g;
    }
    pages_free(a, bytes);
    pages_free(b, bytes);
    pages_free(c, bytes);
    return best;
}

/* ---- one kind, in a child process ---- */

static void fill(float *p, size_t n, ac_rng *rng) {
    for (size_t i = 0; i < n; i++) p[i] = ac_rng_normal(rng);
}

/* A batch from the pool, handed to the slice threads. */
typedef struct pool_batch {
    const float *x, *y;
    size_t x_window, y_window; /* floats per window */
} pool_batch;

static void fill_from_pool(void *user, int first, int count, float *x, float *y, float *future) {
    (void)future; /* the bench models have no covariates */
    const pool_batch *b = user;
    memcpy(x, b->x + first * b->x_window, (size_t)count * b->x_window * sizeof(float));
    memcpy(y, b->y + first * b->y_window, (size_t)count * b->y_window * sizeof(float));
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void ignore_forecast(void *user, int t, const float *x, const float *y, const float *point,
                            const float *quantiles) {
    (void)user, (void)t, (void)x, (void)y, (void)point, (void)quantiles;
}

/* Backtest origins per second: ac_forecast_windows over BACKTEST_ORIGINS consecutive origins of
 * a generated series, in batches of BATCH (what `attncast backtest` does for each fold). */
#define BACKTEST_ORIGINS 512
static int backtest_speed(ac_forecaster *model, int L, int H, int C, double seconds, ac_rng *rng,
                          bench_result *out) {
    ac_series s = {.rows = L + BACKTEST_ORIGINS - 1 + H,
                   .channels = C,
                   .columns = C,
                   .lookback = L,
                   .horizon = H};
    s.scaled = malloc((size_t)s.rows * C * sizeof(float));
    if (!s.scaled) {
        snprintf(out->error, sizeof out->error, "out of memory");
        return -1;
    }
    fill(s.scaled, (size_t)s.rows * C, rng);
    ac_error err;
    int rounds = 0;
    double t0 = bench_clock();
    do {
        if (ac_forecast_windows(model, &s, L, BACKTEST_ORIGINS, 1, BATCH, ignore_forecast, NULL,
                                &err) != AC_OK) {
            snprintf(out->error, sizeof out->error, "backtest: %s", err.msg);
            free(s.scaled);
            return -1;
        }
        rounds++;
    } while (bench_clock() - t0 < seconds);
    out->backtest_ops = (double)BACKTEST_ORIGINS * rounds / (bench_clock() - t0);
    free(s.scaled);
    return 0;
}

static void measure_kind(const ac_config *cfg, int channels, double seconds, bench_result *out) {
    memset(out, 0, sizeof *out);
    const char *kind_name = ac_attention_kind_name(cfg->model.attention);
    ac_error err;
    ac_model_spec spec = ac_config_model_spec(cfg, channels);
    int L = spec.lookback, H = spec.horizon, C = channels;
    ac_rng rng;
    ac_rng_seed(&rng, 1, 0);
    ac_forecaster *model = ac_forecaster_new(&spec, &rng, &err);
    ac_batch_slices *slices = NULL;
    ac_optim_config oc = ac_optim_config_default(AC_OPT_ADAM);
    ac_optimizer *opt = model ? ac_optimizer_new(&oc, ac_forecaster_params(model),
                                                 ac_forecaster_param_count(model), &err)
                              : NULL;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    if (!model || !opt || !ctx) {
        snprintf(out->error, sizeof out->error, "%s", ctx ? err.msg : "out of memory");
        goto done;
    }
    ac_ctx_set_rng(ctx, &rng);
    int slice_count = ac_threads_get() < BATCH ? ac_threads_get() : BATCH;
    slices = slice_count > 1 ? ac_batch_slices_new(model, slice_count, &err) : NULL;
    if (slice_count > 1 && !slices) {
        snprintf(out->error, sizeof out->error, "%s", err.msg);
        goto done;
    }
    ac_tensor *const *ps = ac_forecaster_params(model);
    int np = ac_forecaster_param_count(model);
    /* training: warm-up steps, then as many steps as fit in `seconds`, over a pool of batches
     * drawn before the clock starts (a real run copies its windows from the loaded series) */
    size_t x_len = (size_t)BATCH * L * C, y_len = (size_t)BATCH * H * C;
    float *pool = malloc(POOL_BATCHES * (x_len + y_len) * sizeof(float));
    if (!pool) {
        snprintf(out->error, sizeof out->error, "out of memory");
        goto done;
    }
    fill(pool, POOL_BATCHES * (x_len + y_len), &rng);
    int steps = 0;
    double t0 = 0, step_start = 0, wall0 = 0;
    ac_thread_tuner tuner; /* as in training: 1 thread when that is faster now */
    ac_thread_tuner_init(&tuner);
    for (int i = 0;; i++) {
        if (i == 3) {
            t0 = bench_clock();
            wall0 = ac_seconds();
            ac_blas_stats_take(); /* count from here */
            ac_blas_stats_enable(true);
        }
        if (i == 2) trace_start(); /* the last warm-up step */
        step_start = ac_seconds();
        pool_batch batch = {.x = pool + (size_t)(i % POOL_BATCHES) * (x_len + y_len),
                            .x_window = (size_t)L * C,
                            .y_window = (size_t)H * C};
        batch.y = batch.x + x_len;
        if (slices) { /* as `train` does with more than one thread */
            float value;
            if (ac_batch_slices_step(slices, model, cfg->train.loss, 0, BATCH, BATCH,
                                     fill_from_pool, &batch, &rng, &value, &err) != AC_OK) {
                snprintf(out->error, sizeof out->error, "%s", err.msg);
                free(pool);
                goto done;
            }
        } else {
            ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){BATCH, L, C});
            ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){BATCH, H, C});
            if (x && y) fill_from_pool(&batch, 0, BATCH, x->data, y->data, NULL);
            ac_tensor *loss = ac_forecast_loss(ctx, &spec, cfg->train.loss,
                                               ac_forecaster_forward(ctx, model, x), y);
            if (!loss || ac_backward(ctx, loss) != AC_OK) {
                snprintf(out->error, sizeof out->error, "%s", ac_ctx_error(ctx));
                free(pool);
                goto done;
            }
        }
        ac_optimizer_step(opt, 1e-3f);
        ac_zero_grad(ps, np);
        ac_ctx_reset(ctx);
        if (i == 2 && trace_write(kind_name, "train", out->error, sizeof out->error) != 0) {
            free(pool);
            goto done;
        }
        ac_thread_tuner_step(&tuner, ac_seconds() - step_start);
        if (i >= 3) steps++;
        if (i >= 3 && bench_clock() - t0 >= seconds) break;
    }
    out->train_seconds = bench_clock() - t0;
    out->train_wall_seconds = ac_seconds() - wall0;
    ac_blas_stats_enable(false);
    ac_blas_stats blas = ac_blas_stats_take();
    out->blas_seconds = blas.seconds;
    out->blas_flops = blas.flops;
    ac_thread_tuner_finish(&tuner);
    free(pool);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->train_peak_rss_mib = ru.ru_maxrss / 1024.0; /* KiB on Linux */
    out->train_wps = BATCH * steps / out->train_seconds;
    /* batch-256 forecasts, no grad, of one batch drawn before the clock starts */
    ac_ctx_set_grad_enabled(ctx, false);
    float *windows = malloc((size_t)256 * L * C * sizeof(float));
    if (!windows) {
        snprintf(out->error, sizeof out->error, "out of memory");
        goto done;
    }
    fill(windows, (size_t)256 * L * C, &rng);
    int batches = 0;
    trace_start();
    t0 = bench_clock();
    do {
        ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){256, L, C});
        if (x) memcpy(x->data, windows, (size_t)x->size * sizeof(float));
        if (!ac_forecaster_forward(ctx, model, x)) {
            free(windows);
            snprintf(out->error, sizeof out->error, "%s", ac_ctx_error(ctx));
            goto done;
        }
        ac_ctx_reset(ctx);
        if (batches == 0 && trace_write(kind_name, "batch256", out->error, sizeof out->error)) {
            free(windows);
            goto done;
        }
        batches++;
    } while (bench_clock() - t0 < seconds / 2);
    free(windows);
    out->batch256_wps = 256.0 * batches / (bench_clock() - t0);
    if (backtest_speed(model, L, cfg->data.horizon, C, seconds / 2, &rng, out) != 0) goto done;
    /* latency through the embedding API, from a real checkpoint file */
    char path[64];
    snprintf(path, sizeof path, "/tmp/attncast-bench-%ld.h5", (long)getpid());
    double *mean = calloc((size_t)C, sizeof(double)), *sd = calloc((size_t)C, sizeof(double));
    char **names = calloc((size_t)C, sizeof(char *));
    char *name_buf = calloc((size_t)C, 16);
    for (int c = 0; mean && sd && names && name_buf && c < C; c++) {
        sd[c] = 1.0;
        names[c] = name_buf + 16 * c;
        snprintf(names[c], 16, "c%d", c);
    }
    ac_scaler scaler = {.channels = C, .columns = C, .mean = mean, .std = sd};
    ac_ckpt_contents contents = {
        .config = cfg, .model = model, .scaler = &scaler, .channel_names = names};
    ac_model *m = mean && sd && names && name_buf && ac_ckpt_write(path, &contents, &err) == AC_OK
                      ? ac_model_load(path, &err)
                      : NULL;
    remove(path);
    free(mean);
    free(sd);
    free(names);
    free(name_buf);
    if (!m) {
        snprintf(out->error, sizeof out->error, "latency: %s", err.msg);
        goto done;
    }
    float *window = malloc((size_t)L * C * sizeof(float)),
          *fc = malloc((size_t)H * C * sizeof(float));
    double us[LATENCY_CALLS];
    if (window && fc) {
        fill(window, (size_t)L * C, &rng);
        for (int i = 0; i < 5; i++) ac_model_forecast(m, window, fc, &err); /* warm-up */
        trace_start();
        ac_model_forecast(m, window, fc, &err);
        if (trace_write(kind_name, "latency", out->error, sizeof out->error) != 0) {
            free(window);
            free(fc);
            ac_model_free(m);
            goto done;
        }
        for (int i = 0; i < LATENCY_CALLS; i++) {
            double s0 = bench_clock();
            ac_model_forecast(m, window, fc, &err);
            us[i] = 1e6 * (bench_clock() - s0);
        }
        qsort(us, LATENCY_CALLS, sizeof us[0], compare_doubles);
        out->latency_median_us = us[LATENCY_CALLS / 2];
        out->latency_p90_us = us[LATENCY_CALLS * 9 / 10];
        out->ok = 1;
    }
    free(window);
    free(fc);
    ac_model_free(m);
done:
    ac_batch_slices_free(slices);
    ac_ctx_free(ctx);
    ac_optimizer_free(opt);
    ac_forecaster_free(model);
}

/* The share of the timed training steps' wall time spent inside cblas_sgemm (summed over
 * threads), and sgemm's own GFLOP/s there: the engine's products on the model's shapes. */
static double sgemm_time_fraction(const bench_result *r) {
    return r->train_wall_seconds > 0 ? r->blas_seconds / r->train_wall_seconds : 0.0;
}

static double sgemm_gflops(const bench_result *r) {
    return r->blas_seconds > 0 ? r->blas_flops / r->blas_seconds * 1e-9 : 0.0;
}

/* Runs measure_kind in a child process (so that its peak memory is this kind's alone). */
static void run_child(const ac_config *cfg, int channels, double seconds, bench_result *res) {
    memset(res, 0, sizeof *res);
    snprintf(res->error, sizeof res->error, "the benchmark process failed");
    int fds[2];
    if (pipe(fds) != 0) return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return;
    if (pid == 0) {
        close(fds[0]);
        bench_result r;
        measure_kind(cfg, channels, seconds, &r);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        r.peak_rss_mib = ru.ru_maxrss / 1024.0; /* KiB on Linux */
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    bench_result r;
    ssize_t got = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) == pid && got == (ssize_t)sizeof r) *res = r;
}

/* best = the better of each figure of best and r: training (with the sgemm figures of its
 * round), batch-256 and backtest speed the highest, latency the lowest, peak memory the highest
 * (the one that must be provided for). */
static void keep_best(bench_result *best, const bench_result *r) {
    if (r->train_wps > best->train_wps) {
        best->train_wps = r->train_wps;
        best->train_seconds = r->train_seconds;
        best->blas_seconds = r->blas_seconds;
        best->blas_flops = r->blas_flops;
        best->train_wall_seconds = r->train_wall_seconds;
    }
    if (r->latency_median_us < best->latency_median_us)
        best->latency_median_us = r->latency_median_us;
    if (r->latency_p90_us < best->latency_p90_us) best->latency_p90_us = r->latency_p90_us;
    if (r->batch256_wps > best->batch256_wps) best->batch256_wps = r->batch256_wps;
    if (r->backtest_ops > best->backtest_ops) best->backtest_ops = r->backtest_ops;
    if (r->peak_rss_mib > best->peak_rss_mib) best->peak_rss_mib = r->peak_rss_mib;
    if (r->train_peak_rss_mib > best->train_peak_rss_mib)
        best->train_peak_rss_mib = r->train_peak_rss_mib;
}

int ac_cli_bench(int argc, char **argv) {
    const char *preset = "small", *kinds_arg = NULL;
    int threads = 0, lookback = 0, ceiling_size = 1024, rounds = 1;
    double seconds = 3.0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("%s\n%s", USAGE, HELP);
            return AC_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--gemm")) {
            if (ac_cli_parse_gemm(a, i + 1 < argc ? argv[i + 1] : NULL) != 0) return AC_EXIT_USAGE;
            i++;
        } else if (!strcmp(a, "--cpu-clock")) {
            bench_clock = ac_cpu_seconds;
        } else if (!strcmp(a, "--preset") || !strcmp(a, "--threads") || !strcmp(a, "--kinds") ||
                   !strcmp(a, "--seconds") || !strcmp(a, "--lookback") || !strcmp(a, "--rounds") ||
                   !strcmp(a, "--ceiling-size") || !strcmp(a, "--trace-gemm")) {
            if (i + 1 >= argc) {
                ac_cli_error("bench: %s needs a value", a);
                return AC_EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--preset"))
                preset = v;
            else if (!strcmp(a, "--trace-gemm"))
                trace_path = v;
            else if (!strcmp(a, "--kinds"))
                kinds_arg = v;
            else if (!strcmp(a, "--threads")) {
                if (ac_cli_parse_positive(a, v, &threads) != 0) return AC_EXIT_USAGE;
            } else if (!strcmp(a, "--lookback")) {
                if (ac_cli_parse_positive(a, v, &lookback) != 0) return AC_EXIT_USAGE;
            } else if (!strcmp(a, "--rounds")) {
                if (ac_cli_parse_positive(a, v, &rounds) != 0) return AC_EXIT_USAGE;
                if (rounds > 20) {
                    ac_cli_error("bench: --rounds: expected at most 20, got %d", rounds);
                    return AC_EXIT_USAGE;
                }
            } else if (!strcmp(a, "--ceiling-size")) {
                if (ac_cli_parse_positive(a, v, &ceiling_size) != 0) return AC_EXIT_USAGE;
                if (ceiling_size > 8192) {
                    ac_cli_error("bench: --ceiling-size: expected at most 8192, got %d",
                                 ceiling_size);
                    return AC_EXIT_USAGE;
                }
            } else {
                char *end = NULL;
                seconds = strtod(v, &end);
                if (!end || *end || !(seconds > 0 && seconds <= 600)) {
                    ac_cli_error("bench: --seconds: expected a number of seconds in (0, 600], got "
                                 "'%s'",
                                 v);
                    return AC_EXIT_USAGE;
                }
            }
        } else {
            ac_cli_error("bench: unknown option '%s' (%s)", a, USAGE);
            return AC_EXIT_USAGE;
        }
    }
    ac_error err;
    ac_config cfg;
    int channels;
    bool from_config = strcmp(preset, "small") != 0 && strcmp(preset, "large") != 0;
    bool kinds[AC_ATTN_COUNT];
    for (int k = 0; k < AC_ATTN_COUNT; k++) kinds[k] = true;
    if (from_config && access(preset, R_OK) != 0) {
        ac_cli_error("bench: --preset '%s' is not small, large or a readable config file", preset);
        return AC_EXIT_USAGE;
    }
    if (from_config) {
        ac_data_source src;
        if (ac_config_load(&cfg, preset, &err) != AC_OK || ac_config_check(&cfg, &err) != AC_OK ||
            ac_data_source_open(&src, &cfg, &err) != AC_OK) {
            ac_cli_error("bench: %s", err.msg);
            return AC_EXIT_USAGE;
        }
        channels = src.table->cols;
        ac_data_source_close(&src);
        for (int k = 0; k < AC_ATTN_COUNT; k++) kinds[k] = k == (int)cfg.model.attention;
    } else {
        cfg = preset_config(!strcmp(preset, "large"));
        channels = !strcmp(preset, "large") ? 21 : 8;
    }
    if (lookback > 0) {
        cfg.data.lookback = lookback;
        ac_model_spec probe = ac_config_model_spec(&cfg, channels);
        if (lookback < cfg.model.patch_len || ac_model_spec_tokens(&probe) < 1) {
            ac_cli_error("bench: --lookback %d is shorter than the patch length %d", lookback,
                         cfg.model.patch_len);
            return AC_EXIT_USAGE;
        }
    }
    if (kinds_arg) {
        for (int k = 0; k < AC_ATTN_COUNT; k++) kinds[k] = false;
        char list[256];
        snprintf(list, sizeof list, "%s", kinds_arg);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            int k = 0;
            while (k < AC_ATTN_COUNT && strcmp(t, ac_attention_kind_name((ac_attention_kind)k)))
                k++;
            if (k == AC_ATTN_COUNT) {
                char names[256] = "";
                for (int j = 0; j < AC_ATTN_COUNT; j++)
                    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                             j ? ", " : "", ac_attention_kind_name((ac_attention_kind)j));
                ac_cli_error("bench: --kinds: '%s' is not an attention kind (%s)", t, names);
                return AC_EXIT_USAGE;
            }
            kinds[k] = true;
        }
    }
    if (ac_threads_init(threads, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_USAGE;
    }
    if (trace_path && rounds > 1) {
        ac_cli_error("bench: --trace-gemm traces one round's products: drop --rounds");
        return AC_EXIT_USAGE;
    }
    if (trace_path && ac_threads_get() != 1) {
        ac_cli_error("bench: --trace-gemm traces one thread's products: add --threads 1");
        return AC_EXIT_USAGE;
    }
    FILE *trace = trace_path ? fopen(trace_path, "a") : NULL; /* a bad path fails now, not later */
    if (trace_path && (!trace || fclose(trace) != 0)) {
        ac_cli_error("bench: --trace-gemm: cannot append to %s", trace_path);
        return AC_EXIT_FAILURE;
    }
    /* The ceiling is read before each kind and after the last, and the best reading is the
     * one every row is measured against: a reading taken while another process held the core
     * would flatter every row. The table is printed once it is known. */
    double ceiling = sgemm_ceiling(ceiling_size);
    int status = AC_EXIT_OK;
    bench_result results[AC_ATTN_COUNT];
    double train_flops[AC_ATTN_COUNT], square_share[AC_ATTN_COUNT];
    for (int round = 0; round < rounds; round++)
        for (int k = 0; k < AC_ATTN_COUNT; k++) {
            if (!kinds[k]) continue;
            cfg.model.attention = (ac_attention_kind)k;
            ac_model_spec spec = ac_config_model_spec(&cfg, channels);
            double square = 0.0, again = sgemm_ceiling(ceiling_size);
            if (again > ceiling) ceiling = again;
            train_flops[k] = 3.0 * forward_flops(&spec, &square);
            square_share[k] = 3.0 * square / train_flops[k];
            bench_result r;
            run_child(&cfg, channels, seconds, &r);
            if (!r.ok) {
                ac_cli_error("bench: %s: %s", ac_attention_kind_name((ac_attention_kind)k),
                             r.error);
                status = AC_EXIT_FAILURE;
                kinds[k] = false;
                continue;
            }
            if (round == 0)
                results[k] = r;
            else
                keep_best(&results[k], &r);
        }
    double last = sgemm_ceiling(ceiling_size);
    if (last > ceiling) ceiling = last;
    if (!json) {
        ac_model_spec shape = ac_config_model_spec(&cfg, channels);
        printf("attncast bench: preset %s (L %d, H %d, C %d, N %d tokens, d_model %d, %d heads, %d "
               "layers, d_ff %d, batch %d), %d thread(s), gemm %s (%s), best of %d round(s)\nsgemm "
               "ceiling (%d^3, best reading before each kind and after the last): %.1f GFLOP/s\n",
               preset, cfg.data.lookback, cfg.data.horizon, channels, ac_model_spec_tokens(&shape),
               cfg.model.d_model, cfg.model.heads, cfg.model.layers, cfg.model.d_ff, BATCH,
               ac_threads_get(), ac_gemm_backend_name(ac_gemm_get_backend()), ac_gemm_own_isa(),
               rounds, ceiling_size, ceiling);
        printf("%-9s %11s %9s %8s %7s %10s %11s %11s %12s %10s %9s %11s %6s\n", "kind",
               "train win/s", "GFLOP/s", "ceiling%", "sgemm%", "sgemm GF/s", "latency us", "p90 us",
               "b256 win/s", "bt orig/s", "peak MiB", "MFLOP/win", "N^2 %");
        for (int k = 0; k < AC_ATTN_COUNT; k++) {
            if (!kinds[k]) continue;
            const bench_result *r = &results[k];
            double gflops = train_flops[k] * r->train_wps * 1e-9;
            printf("%-9s %11.1f %9.1f %7.0f%% %6.0f%% %10.1f %11.1f %11.1f %12.1f %10.1f %9.1f "
                   "%11.2f %5.1f%%\n",
                   ac_attention_kind_name((ac_attention_kind)k), r->train_wps, gflops,
                   100.0 * gflops / ceiling, 100.0 * sgemm_time_fraction(r), sgemm_gflops(r),
                   r->latency_median_us, r->latency_p90_us, r->batch256_wps, r->backtest_ops,
                   r->peak_rss_mib, train_flops[k] * 1e-6, 100.0 * square_share[k]);
        }
    }
    /* The JSON is built once every child has exited: a forked child that ends with _exit would
     * otherwise leave the parent's JSON objects behind, unreachable (valgrind: definitely lost). */
    if (json) {
        cJSON *rows = cJSON_CreateArray();
        for (int k = 0; k < AC_ATTN_COUNT; k++) {
            if (!kinds[k]) continue;
            const bench_result *r = &results[k];
            double gflops = train_flops[k] * r->train_wps * 1e-9;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "kind", ac_attention_kind_name((ac_attention_kind)k));
            cJSON_AddNumberToObject(o, "train_windows_per_s", r->train_wps);
            cJSON_AddNumberToObject(o, "train_gflops", gflops);
            cJSON_AddNumberToObject(o, "ceiling_fraction", gflops / ceiling);
            double share = sgemm_time_fraction(r);
            cJSON_AddNumberToObject(o, "train_sgemm_time_fraction", share);
            cJSON_AddNumberToObject(o, "train_sgemm_gflops", sgemm_gflops(r));
            cJSON_AddNumberToObject(o, "train_sgemm_flops_per_window",
                                    r->blas_flops / (r->train_wps * r->train_seconds));
            /* the ceiling fraction if everything but sgemm took no time */
            cJSON_AddNumberToObject(o, "ceiling_fraction_sgemm_only",
                                    share > 0 ? gflops / share / ceiling : 0.0);
            cJSON_AddNumberToObject(o, "latency_median_us", r->latency_median_us);
            cJSON_AddNumberToObject(o, "latency_p90_us", r->latency_p90_us);
            cJSON_AddNumberToObject(o, "batch256_windows_per_s", r->batch256_wps);
            cJSON_AddNumberToObject(o, "backtest_origins_per_s", r->backtest_ops);
            cJSON_AddNumberToObject(o, "peak_rss_mib", r->peak_rss_mib);
            cJSON_AddNumberToObject(o, "train_peak_rss_mib", r->train_peak_rss_mib);
            cJSON_AddNumberToObject(o, "train_flops_per_window", train_flops[k]);
            cJSON_AddNumberToObject(o, "attention_square_flop_fraction", square_share[k]);
            cJSON_AddItemToArray(rows, o);
        }
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "preset", preset);
        cJSON_AddNumberToObject(root, "threads", ac_threads_get());
        cJSON_AddNumberToObject(root, "channels", channels);
        cJSON_AddNumberToObject(root, "lookback", cfg.data.lookback);
        cJSON_AddNumberToObject(root, "sgemm_ceiling_size", ceiling_size);
        cJSON_AddNumberToObject(root, "rounds", rounds);
        cJSON_AddNumberToObject(root, "sgemm_ceiling_gflops", ceiling);
        cJSON_AddStringToObject(root, "gemm", ac_gemm_backend_name(ac_gemm_get_backend()));
        cJSON_AddStringToObject(root, "gemm_isa", ac_gemm_own_isa());
        cJSON_AddItemToObject(root, "kinds", rows);
        char *text = cJSON_Print(root);
        if (text) puts(text);
        free(text);
        cJSON_Delete(root);
    }
    return status;
}
