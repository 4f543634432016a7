/* parallel_mpi.c - the parallel module over MPI (built with -DATTNCAST_MPI=ON; see
 * include/attncast/parallel.h). MPI starts only when a launcher started this process, so the
 * same binary run by hand is an ordinary single process that never touches MPI. A group of one
 * (mpirun -np 1) skips every collective call, so it computes exactly what a single process does. */
#include "attncast/parallel.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel/parallel_internal.h"

struct ac_parallel {
    int rank, size, local_size;
};

/* MPI counts are ints: larger buffers go in pieces of at most this many elements. */
#define MPI_PIECE ((size_t)INT_MAX)

bool ac_parallel_built_with_mpi(void) {
    return true;
}

ac_status ac_parallel_start(ac_parallel **group, int *argc, char ***argv, ac_error *err) {
    *group = NULL;
    if (ac_launcher_ranks() == 0) return AC_OK;
    /* A rank waiting in the allreduce yields its core instead of spinning on it (Open MPI spins
     * by default): a step's allreduce is well under 1% of its compute, and on this project's
     * shared 2-core machine one epoch of models/default.ini on 2 ranks ran at 218 windows/s
     * spinning against 271 yielding (one measurement each). The user's setting wins. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    int started = 0;
    MPI_Initialized(&started);
    if (!started && MPI_Init(argc, argv) != MPI_SUCCESS)
        return ac_error_set(err, AC_ERR_STATE, "MPI_Init failed");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    ac_parallel *g = calloc(1, sizeof *g);
    if (!g) {
        MPI_Abort(MPI_COMM_WORLD, 1);
        return ac_error_set(err, AC_ERR_NOMEM, "parallel: out of memory");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g->size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g->rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &g->local_size);
    MPI_Comm_free(&node);
    *group = g;
    return AC_OK;
}

void ac_parallel_stop(ac_parallel *group) {
    if (!group) return;
    free(group);
    MPI_Finalize();
}

void ac_parallel_abort(ac_parallel *group, int exit_code) {
    if (!group) return;
    fflush(stdout);
    fflush(stderr);
    if (group->size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
    ac_parallel_stop(group);
}

int ac_parallel_rank(const ac_parallel *group) {
    return group ? group->rank : 0;
}
int ac_parallel_size(const ac_parallel *group) {
    return group ? group->size : 1;
}
int ac_parallel_local_size(const ac_parallel *group) {
    return group ? group->local_size : 1;
}

void ac_parallel_sum_floats(ac_parallel *group, float *values, size_t n) {
    if (!group || group->size == 1) return;
    for (size_t done = 0; done < n; done += MPI_PIECE) {
        size_t piece = n - done < MPI_PIECE ? n - done : MPI_PIECE;
        MPI_Allreduce(MPI_IN_PLACE, values + done, (int)piece, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void ac_parallel_broadcast(ac_parallel *group, void *bytes, size_t n) {
    if (!group || group->size == 1) return;
    for (size_t done = 0; done < n; done += MPI_PIECE) {
        size_t piece = n - done < MPI_PIECE ? n - done : MPI_PIECE;
        MPI_Bcast((char *)bytes + done, (int)piece, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
}

bool ac_parallel_all_equal(ac_parallel *group, uint64_t value) {
    if (!group || group->size == 1) return true;
    uint64_t both[2] = {value, ~value}; /* max of ~value is ~(min of value) */
    MPI_Allreduce(MPI_IN_PLACE, both, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return both[0] == ~both[1];
}

void ac_parallel_gather(ac_parallel *group, const void *mine, size_t n, void *all) {
    if (!group || group->size == 1) {
        if (all && mine && all != mine) memcpy(all, mine, n);
        return;
    }
    if (n > MPI_PIECE) {
        fprintf(stderr, "attncast: parallel: gather of %zu bytes per rank is too large\n", n);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Gather(mine, (int)n, MPI_BYTE, all, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
}

void ac_parallel_barrier(ac_parallel *group) {
    if (group && group->size > 1) MPI_Barrier(MPI_COMM_WORLD);
}
