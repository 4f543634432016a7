/* test_gemm_cli.c - the matrix-product backends from the command line: `--gemm` on bench and
 * bench-ops (a bad name is a one-line usage error; the own kernels give the op the same bits as
 * their raw product), `bench --trace-gemm` (one CSV row per product of a training step, a
 * batch-256 and a single-window forecast; it needs one thread and a file it can append to), and
 * tools/gemm_compare on such a trace (run when it was built: libxsmm installed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

static int setup(void **state) {
    (void)state;
    return tu_make_temp_dir(dir, sizeof dir, "gemm_cli");
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void test_a_bad_backend_name_is_a_usage_error(void **state) {
    (void)state;
    assert_int_equal(sh("'%s' bench --gemm blis", tu_bin()), 2);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "--gemm: expected openblas or own, got 'blis'"));
    assert_int_equal(sh("'%s' bench-ops --gemm", tu_bin()), 2);
    assert_non_null(strstr(out, "--gemm"));
    assert_int_equal(sh("ATTNCAST_GEMM=mkl '%s' --version", tu_bin()), 2);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "ATTNCAST_GEMM: expected openblas or own, got 'mkl'"));
    assert_int_equal(sh("ATTNCAST_GEMM=openblas '%s' --version", tu_bin()), 0);
    assert_non_null(strstr(out, "matrix products: openblas (own kernels: "));
}

static void test_bench_ops_on_the_own_kernels_gives_the_raw_bits(void **state) {
    (void)state;
    assert_int_equal(
        sh("'%s' bench-ops --gemm own --rounds 1 --threads 1 --rows 64 --json", tu_bin()), 0);
    cJSON *root = cJSON_Parse(out);
    if (!root) fail_msg("not JSON: %s", out);
    cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(root, "shapes")) {
        assert_true(cJSON_GetObjectItem(row, "max_abs_diff")->valuedouble == 0.0);
    }
    cJSON_Delete(root);
    assert_int_equal(sh("'%s' bench-ops --gemm own --rounds 1 --threads 1 --rows 64", tu_bin()), 0);
    assert_non_null(strstr(out, "(gemm own)"));
}

static void test_trace_needs_one_thread_and_a_writable_file(void **state) {
    (void)state;
    assert_int_equal(sh("'%s' bench --threads 2 --trace-gemm t.csv", tu_bin()), 2);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "--threads 1"));
    /* a path that cannot be written fails at once, in one line */
    assert_int_equal(
        sh("'%s' bench --threads 1 --trace-gemm no/such/dir/t.csv --seconds 600", tu_bin()), 1);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "cannot append to no/such/dir/t.csv"));
}

/* Counts the trace's rows of one phase, checking every row's shape on the way. */
static int rows_of_phase(const char *csv, const char *phase) {
    int n = 0;
    char line[256];
    for (const char *p = csv; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= sizeof line) fail_msg("trace line too long");
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (end ? 1 : 0);
        char kind[16], ph[16];
        int ta, tb, M, N, K, lda, ldb, ldc;
        float beta;
        if (sscanf(line, "%15[^,],%15[^,],%d,%d,%d,%d,%d,%d,%d,%d,%f", kind, ph, &ta, &tb, &M, &N,
                   &K, &lda, &ldb, &ldc, &beta) != 11)
            fail_msg("bad trace row: %s", line);
        assert_string_equal(kind, "dot");
        assert_true(M > 0 && N > 0 && K > 0 && ldc >= N);
        assert_true(lda >= (ta ? M : K) && ldb >= (tb ? K : N));
        assert_true(beta == 0.0f || beta == 1.0f);
        if (!strcmp(ph, phase)) n++;
    }
    return n;
}

static void test_trace_lists_every_product_and_gemm_compare_replays_it(void **state) {
    (void)state;
    assert_int_equal(sh("'%s' bench --preset small --threads 1 --seconds 0.05 --kinds dot "
                        "--ceiling-size 64 --gemm own --trace-gemm t.csv",
                        tu_bin()),
                     0);
    assert_non_null(strstr(out, "gemm own"));
    const char *csv = tu_read_text(dir, "t.csv");
    /* a training step makes its forward, recomputed and backward products; a forecast only the
     * forward's, the same for one window or 256 (in batches) */
    int train = rows_of_phase(csv, "train"), latency = rows_of_phase(csv, "latency"),
        batch = rows_of_phase(csv, "batch256");
    assert_true(latency > 0);
    assert_true(train > 2 * latency);
    assert_true(batch >= latency && batch % latency == 0);

    const char *tool = getenv("ATTNCAST_GEMM_COMPARE");
    if (!tool || !*tool) {
        printf("gemm_compare not built (libxsmm not installed): its replay is not checked\n");
        return;
    }
    assert_int_equal(sh("'%s' t.csv --rounds 1 --min-ms 0.01", tool), 0);
    assert_non_null(strstr(out, "| - | dot | train |"));
    assert_non_null(strstr(out, "| - | dot | latency |"));
    assert_non_null(strstr(out, "own kernels:"));
    assert_int_equal(sh("'%s' missing.csv", tool), 1);
    assert_non_null(strstr(out, "cannot read missing.csv"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_bad_backend_name_is_a_usage_error),
        cmocka_unit_test(test_bench_ops_on_the_own_kernels_gives_the_raw_bits),
        cmocka_unit_test(test_trace_needs_one_thread_and_a_writable_file),
        cmocka_unit_test(test_trace_lists_every_product_and_gemm_compare_replays_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
