/* test_parallel.c - the parallel module in a single process (both builds): alone without a
 * launcher, ATTNCAST_NO_MPI, the default build refusing to be one of several ranks (the library
 * and the real binary), and how a batch is cut into per-rank slices. The MPI runs themselves are
 * tests/parallel/test_parallel_cli.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/parallel.h"
#include "support/testutil.h"
#include "train/data_parallel.h"

static const char *const LAUNCHER_VARIABLES[] = {"OMPI_COMM_WORLD_SIZE",
                                                 "OMPI_COMM_WORLD_RANK",
                                                 "PMIX_SIZE",
                                                 "PMIX_RANK",
                                                 "PMI_SIZE",
                                                 "PMI_RANK",
                                                 "ATTNCAST_NO_MPI"};

static void clear_launcher(void) {
    for (size_t i = 0; i < sizeof LAUNCHER_VARIABLES / sizeof LAUNCHER_VARIABLES[0]; i++)
        unsetenv(LAUNCHER_VARIABLES[i]);
}

static void test_without_a_launcher_the_group_is_this_process(void **state) {
    (void)state;
    clear_launcher();
    ac_parallel *group = (ac_parallel *)&group; /* must be overwritten */
    ac_error err;
    assert_int_equal(ac_parallel_start(&group, NULL, NULL, &err), AC_OK);
    assert_null(group);
    assert_int_equal(ac_parallel_rank(group), 0);
    assert_int_equal(ac_parallel_size(group), 1);
    assert_int_equal(ac_parallel_local_size(group), 1);
    float values[3] = {1.5f, -2.0f, 3.25f};
    ac_parallel_sum_floats(group, values, 3);
    assert_true(values[0] == 1.5f && values[1] == -2.0f && values[2] == 3.25f);
    assert_true(ac_parallel_all_equal(group, 42));
    char all[4] = {0};
    ac_parallel_gather(group, "abc", 4, all);
    assert_string_equal(all, "abc");
    ac_parallel_barrier(group);
    ac_parallel_stop(group);
}

static void test_no_mpi_variable_makes_a_launched_process_run_alone(void **state) {
    (void)state;
    clear_launcher();
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    setenv("ATTNCAST_NO_MPI", "1", 1);
    ac_parallel *group = NULL;
    ac_error err;
    assert_int_equal(ac_parallel_start(&group, NULL, NULL, &err), AC_OK);
    assert_null(group);
    clear_launcher();
}

static void test_default_build_refuses_to_be_one_of_several_ranks(void **state) {
    (void)state;
    if (ac_parallel_built_with_mpi()) skip(); /* there it would join the job */
    clear_launcher();
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    ac_parallel *group = NULL;
    ac_error err;
    assert_int_equal(ac_parallel_start(&group, NULL, NULL, &err), AC_ERR_STATE);
    assert_non_null(strstr(err.msg, "built without MPI"));
    assert_non_null(strstr(err.msg, "one of 2 ranks"));
    assert_non_null(strstr(err.msg, "-DATTNCAST_MPI=ON"));
    clear_launcher();

    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd, "OMPI_COMM_WORLD_SIZE=3 OMPI_COMM_WORLD_RANK=0 '%s' train x.ini",
             tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_int_equal(tu_count_lines(out), 1);
    assert_non_null(strstr(out, "attncast: this attncast was built without MPI, so it cannot run "
                                "as one of 3 ranks"));
    snprintf(cmd, sizeof cmd,
             "OMPI_COMM_WORLD_SIZE=3 '%s' sweep x.ini --grid train.lr=0.1 --out /nonexistent/s",
             tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "built without MPI"));
}

static void test_batch_slices_cover_the_batch_in_order_evenly(void **state) {
    (void)state;
    for (int size = 1; size <= 5; size++)
        for (int n = 0; n <= 40; n++) {
            int next = 0, smallest = n, largest = 0;
            for (int rank = 0; rank < size; rank++) {
                ac_dp_slice s = ac_dp_slice_of(rank, size, n);
                assert_int_equal(s.first, next); /* contiguous, in rank order */
                assert_true(s.count >= 0);
                if (s.count < smallest) smallest = s.count;
                if (s.count > largest) largest = s.count;
                if (rank > 0) /* the lower ranks take the extra windows */
                    assert_true(s.count <= ac_dp_slice_of(rank - 1, size, n).count);
                next += s.count;
            }
            assert_int_equal(next, n);
            assert_true(largest - smallest <= 1);
            if (n > 0) assert_true(ac_dp_slice_of(0, size, n).count > 0);
        }
    ac_dp_slice whole = ac_dp_slice_of(0, 1, 32);
    assert_true(whole.first == 0 && whole.count == 32);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_a_launcher_the_group_is_this_process),
        cmocka_unit_test(test_no_mpi_variable_makes_a_launched_process_run_alone),
        cmocka_unit_test(test_default_build_refuses_to_be_one_of_several_ranks),
        cmocka_unit_test(test_batch_slices_cover_the_batch_in_order_evenly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
