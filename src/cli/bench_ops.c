/* bench_ops.c - `attncast bench-ops`: the engine's matmul op against the raw product (ac_gemm
 * on the current backend, include/attncast/gemm.h: cblas_sgemm or the own kernels).
 *
 * For each shape (M x K) x (K x N) it times, in one run and interleaved round by round so that
 * machine noise hits both sides alike:
 *   forward:  ac_matmul (arena output, tape record, context reset)  vs one raw product
 *   training: ac_matmul + ac_backward                               vs the three products
 *             (C = AB, dA += dC B^T, dB += A^T dC) a hand-written backward would call
 * and reports GFLOP/s (2MNK flops per product) from the best round of each, plus the op's
 * overhead. The op's output is also checked against the raw product. --rows M gives every shape
 * M rows instead of its own (the tests use a small M, so that bench-ops finishes in seconds
 * under valgrind).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/attncast.h"
#include "core/clock.h"
#include "cli/cli.h"

typedef struct shape3 {
    int M, K, N;
} shape3;

static const shape3 SHAPES[] = {{3072, 64, 64}, {3072, 64, 256}, {3072, 256, 64}, {512, 512, 512}};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])
#define MAX_ROWS 65536 /* --rows: 128 MiB for the widest shape's A */

typedef struct bench_case {
    shape3 s;
    ac_ctx *ctx;
    ac_tensor *a, *b;
    float *c, *dc, *da, *db; /* raw buffers */
    float *ones;
} bench_case;

typedef enum { RAW_FWD, OP_FWD, RAW_TRAIN, OP_TRAIN, N_KINDS } kind;

static int run_once(bench_case *bc, kind k) {
    const shape3 s = bc->s;
    switch (k) {
    case RAW_FWD:
        ac_gemm(false, false, s.M, s.N, s.K, bc->a->data, s.K, bc->b->data, s.N, 0.0f, bc->c, s.N);
        return 0;
    case RAW_TRAIN:
        ac_gemm(false, false, s.M, s.N, s.K, bc->a->data, s.K, bc->b->data, s.N, 0.0f, bc->c, s.N);
        ac_gemm(false, true, s.M, s.K, s.N, bc->dc, s.N, bc->b->data, s.N, 1.0f, bc->da, s.K);
        ac_gemm(true, false, s.K, s.N, s.M, bc->a->data, s.K, bc->dc, s.N, 1.0f, bc->db, s.N);
        return 0;
    case OP_FWD:
    case OP_TRAIN: {
        ac_tensor *c = ac_matmul(bc->ctx, bc->a, bc->b, false, false);
        int rc = c ? 0 : -1;
        if (c && k == OP_TRAIN && ac_backward_seeded(bc->ctx, c, bc->ones) != AC_OK) rc = -1;
        ac_ctx_reset(bc->ctx);
        return rc;
    }
    case N_KINDS:
        break;
    }
    return -1;
}

/* Seconds per call: the best of `rounds` batches, each of `iters` calls. */
static double time_kind(bench_case *bc, kind k, int iters) {
    double t0 = ac_seconds();
    for (int i = 0; i < iters; i++)
        if (run_once(bc, k) != 0) return -1.0;
    return (ac_seconds() - t0) / iters;
}

static int setup(bench_case *bc, shape3 s, ac_rng *rng) {
    memset(bc, 0, sizeof *bc);
    bc->s = s;
    ac_error err;
    bc->ctx = ac_ctx_new(0, 0);
    bc->a = ac_tensor_new(2, (int[]){s.M, s.K}, true, &err);
    bc->b = ac_tensor_new(2, (int[]){s.K, s.N}, true, &err);
    /* Every buffer 64-byte aligned, as the engine's tensors are, so neither side gains from
     * alignment. */
    size_t mn = (size_t)s.M * s.N;
    bc->c = ac_aligned_zeros(mn * sizeof(float));
    bc->dc = ac_aligned_zeros(mn * sizeof(float));
    bc->ones = ac_aligned_zeros(mn * sizeof(float));
    bc->da = ac_aligned_zeros((size_t)s.M * s.K * sizeof(float));
    bc->db = ac_aligned_zeros((size_t)s.K * s.N * sizeof(float));
    if (!bc->ctx || !bc->a || !bc->b || !bc->c || !bc->dc || !bc->ones || !bc->da || !bc->db)
        return -1;
    for (int64_t i = 0; i < bc->a->size; i++) bc->a->data[i] = ac_rng_uniform_range(rng, -1, 1);
    for (int64_t i = 0; i < bc->b->size; i++) bc->b->data[i] = ac_rng_uniform_range(rng, -1, 1);
    for (size_t i = 0; i < mn; i++) bc->dc[i] = bc->ones[i] = 1.0f;
    return 0;
}

static void teardown(bench_case *bc) {
    ac_ctx_free(bc->ctx);
    ac_tensor_free(bc->a);
    ac_tensor_free(bc->b);
    free(bc->c);
    free(bc->dc);
    free(bc->ones);
    free(bc->da);
    free(bc->db);
}

/* Largest |op - raw| of the forward product: 0 expected (the same product). */
static double check_forward(bench_case *bc) {
    run_once(bc, RAW_FWD);
    ac_tensor *c = ac_matmul(bc->ctx, bc->a, bc->b, false, false);
    double worst = c ? 0.0 : INFINITY;
    for (int64_t i = 0; c && i < c->size; i++) {
        double d = fabs((double)c->data[i] - (double)bc->c[i]);
        if (d > worst) worst = d;
    }
    ac_ctx_reset(bc->ctx);
    return worst;
}

static void usage(FILE *out) {
    fputs("usage: attncast bench-ops [--threads N] [--rounds N] [--rows M] [--gemm B] [--json]\n"
          "\n"
          "Times the engine's matmul op (forward, and forward + backward) against the raw\n"
          "product of its backend at the shapes the forecaster uses, the two sides alternating\n"
          "round by round, each keeping its best; prints GFLOP/s and the op's overhead.\n"
          "\n"
          "options:\n"
          "  --threads N   threads (default: ATTNCAST_THREADS or all cores)\n"
          "  --rounds N    rounds per side (default 7)\n"
          "  --rows M      give every shape M rows (of A and C) instead of its own\n"
          "  --gemm B      the products' backend: openblas or own (default: the build's,\n"
          "                or ATTNCAST_GEMM)\n"
          "  --json        machine-readable rows\n"
          "  --help, -h    this help\n"
          "\n"
          "examples:\n"
          "  attncast bench-ops --threads 1\n"
          "  attncast bench-ops --rows 64 --rounds 1 --json\n",
          out);
}

int ac_cli_bench_ops(int argc, char **argv) {
    int threads = 0, rounds = 7, m_rows = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return AC_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--gemm")) {
            if (ac_cli_parse_gemm(argv[i], i + 1 < argc ? argv[i + 1] : NULL) != 0)
                return AC_EXIT_USAGE;
            i++;
        } else if (!strcmp(argv[i], "--threads") || !strcmp(argv[i], "--rounds") ||
                   !strcmp(argv[i], "--rows")) {
            int *dst = !strcmp(argv[i], "--threads")  ? &threads
                       : !strcmp(argv[i], "--rounds") ? &rounds
                                                      : &m_rows;
            if (ac_cli_parse_positive(argv[i], i + 1 < argc ? argv[i + 1] : NULL, dst) != 0)
                return AC_EXIT_USAGE;
            if (dst == &m_rows && m_rows > MAX_ROWS) {
                ac_cli_error("bench-ops: --rows: expected at most %d, got %d", MAX_ROWS, m_rows);
                return AC_EXIT_USAGE;
            }
            i++;
        } else {
            ac_cli_error("bench-ops: unknown option '%s' (see attncast bench-ops --help)", argv[i]);
            return AC_EXIT_USAGE;
        }
    }
    ac_error err;
    if (ac_threads_init(threads, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_USAGE;
    }
    ac_rng rng;
    ac_rng_seed(&rng, 1234, 0);
    cJSON *rows = json ? cJSON_CreateArray() : NULL;
    if (!json) {
        printf("matmul op vs the raw product (gemm %s): %d thread(s), best of %d rounds, GFLOP/s\n",
               ac_gemm_backend_name(ac_gemm_get_backend()), ac_threads_get(), rounds);
        printf("%-20s %9s %9s %9s   %11s %11s %9s\n", "(MxK)x(KxN)", "raw", "op", "overhead",
               "raw x3", "op fwd+bwd", "overhead");
    }
    int status = AC_EXIT_OK;
    for (size_t si = 0; si < N_SHAPES; si++) {
        bench_case bc;
        shape3 s = SHAPES[si];
        if (m_rows > 0) s.M = m_rows;
        if (setup(&bc, s, &rng) != 0) {
            ac_cli_error("bench-ops: out of memory");
            teardown(&bc);
            return AC_EXIT_FAILURE;
        }
        double flops = 2.0 * s.M * s.N * s.K;
        /* Calibrate: enough calls for about 40 ms per batch. */
        double one = time_kind(&bc, RAW_TRAIN, 3);
        int iters = one > 0 ? (int)(0.04 / one) + 1 : 1;
        double best[N_KINDS];
        for (int k = 0; k < N_KINDS; k++) best[k] = INFINITY;
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < N_KINDS; k++) {
                int n = (k == RAW_FWD || k == OP_FWD) ? 3 * iters : iters;
                double t = time_kind(&bc, (kind)k, n);
                if (t < 0) {
                    ac_cli_error("bench-ops: %s", ac_ctx_error(bc.ctx));
                    teardown(&bc);
                    return AC_EXIT_FAILURE;
                }
                if (t < best[k]) best[k] = t;
            }
        double diff = check_forward(&bc);
        if (diff != 0.0) status = AC_EXIT_FAILURE;
        double g[N_KINDS] = {flops / best[RAW_FWD] * 1e-9, flops / best[OP_FWD] * 1e-9,
                             3 * flops / best[RAW_TRAIN] * 1e-9, 3 * flops / best[OP_TRAIN] * 1e-9};
        double ov_fwd = 100.0 * (best[OP_FWD] / best[RAW_FWD] - 1.0);
        double ov_train = 100.0 * (best[OP_TRAIN] / best[RAW_TRAIN] - 1.0);
        char label[64];
        snprintf(label, sizeof label, "(%dx%d)x(%dx%d)", s.M, s.K, s.K, s.N);
        if (json) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "shape", label);
            cJSON_AddNumberToObject(row, "sgemm_gflops", g[RAW_FWD]);
            cJSON_AddNumberToObject(row, "op_gflops", g[OP_FWD]);
            cJSON_AddNumberToObject(row, "op_overhead_pct", ov_fwd);
            cJSON_AddNumberToObject(row, "sgemm3_gflops", g[RAW_TRAIN]);
            cJSON_AddNumberToObject(row, "op_train_gflops", g[OP_TRAIN]);
            cJSON_AddNumberToObject(row, "op_train_overhead_pct", ov_train);
            cJSON_AddNumberToObject(row, "max_abs_diff", diff);
            cJSON_AddItemToArray(rows, row);
        } else {
            printf("%-20s %9.1f %9.1f %8.1f%%   %11.1f %11.1f %8.1f%%%s\n", label, g[RAW_FWD],
                   g[OP_FWD], ov_fwd, g[RAW_TRAIN], g[OP_TRAIN], ov_train,
                   diff != 0.0 ? "  RESULT DIFFERS" : "");
        }
        teardown(&bc);
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddNumberToObject(root, "threads", ac_threads_get());
        cJSON_AddNumberToObject(root, "rounds", rounds);
        cJSON_AddItemToObject(root, "shapes", rows);
        char *text = cJSON_Print(root);
        puts(text);
        free(text);
        cJSON_Delete(root);
    }
    return status;
}
