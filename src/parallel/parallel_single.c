/* parallel_single.c - the parallel module of the default build, without MPI: the group is
 * always this process alone (see include/attncast/parallel.h). */
#include "attncast/parallel.h"

#include <string.h>

#include "parallel/parallel_internal.h"

bool ac_parallel_built_with_mpi(void) {
    return false;
}

ac_status ac_parallel_start(ac_parallel **group, int *argc, char ***argv, ac_error *err) {
    (void)argc;
    (void)argv;
    *group = NULL;
    int ranks = ac_launcher_ranks();
    if (ranks > 1)
        return ac_error_set(err, AC_ERR_STATE,
                            "this attncast was built without MPI, so it cannot run as one of %d "
                            "ranks; rebuild with -DATTNCAST_MPI=ON (see docs/mpi.md) or run it "
                            "without mpirun",
                            ranks);
    return AC_OK;
}

void ac_parallel_stop(ac_parallel *group) {
    (void)group;
}
void ac_parallel_abort(ac_parallel *group, int exit_code) {
    (void)group;
    (void)exit_code;
}
int ac_parallel_rank(const ac_parallel *group) {
    (void)group;
    return 0;
}
int ac_parallel_size(const ac_parallel *group) {
    (void)group;
    return 1;
}
int ac_parallel_local_size(const ac_parallel *group) {
    (void)group;
    return 1;
}
void ac_parallel_sum_floats(ac_parallel *group, float *values, size_t n) {
    (void)group;
    (void)values;
    (void)n;
}
void ac_parallel_broadcast(ac_parallel *group, void *bytes, size_t n) {
    (void)group;
    (void)bytes;
    (void)n;
}
bool ac_parallel_all_equal(ac_parallel *group, uint64_t value) {
    (void)group;
    (void)value;
    return true;
}
void ac_parallel_gather(ac_parallel *group, const void *mine, size_t n, void *all) {
    (void)group;
    if (all && mine && all != mine) memcpy(all, mine, n);
}
void ac_parallel_barrier(ac_parallel *group) {
    (void)group;
}
