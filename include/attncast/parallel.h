/* parallel.h - the processes of a data-parallel job: MPI ranks, or this process alone.
 *
 * Built with -DATTNCAST_MPI=ON and started by a launcher (`mpirun -np N attncast train ...`),
 * ac_parallel_start joins MPI_COMM_WORLD and the group has N ranks. In every other case (the
 * default build, a process started without a launcher, or ATTNCAST_NO_MPI set, which `attncast
 * sweep` sets for the trainers it starts) the group is this process alone: the handle is NULL
 * and every call below is trivial, so code written against this header runs unchanged without
 * MPI. The default build refuses to run as one of several ranks (each would train alone and they
 * would fight over one run folder).
 *
 * The calls that take a group are collective: every rank makes the same calls in the same order.
 * MPI errors are fatal (MPI_ERRORS_ARE_FATAL), and a rank that dies makes the launcher stop the
 * whole job, so a job never hangs on a missing rank. The caller owns the handle from
 * ac_parallel_start until ac_parallel_stop or ac_parallel_abort.
 */
#ifndef ATTNCAST_PARALLEL_H
#define ATTNCAST_PARALLEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attncast/error.h"

typedef struct ac_parallel ac_parallel;

/* True when this build can run as MPI ranks (-DATTNCAST_MPI=ON). */
bool ac_parallel_built_with_mpi(void);

/* Joins the job this process was launched into; *group is NULL when it runs alone. Fails when
 * a launcher started several ranks of a build without MPI, or MPI cannot start. */
ac_status ac_parallel_start(ac_parallel **group, int *argc, char ***argv, ac_error *err);
/* Leaves the job normally; every rank calls it (MPI_Finalize). Frees the handle. */
void ac_parallel_stop(ac_parallel *group);
/* Stops every rank of the job at once with exit_code (MPI_Abort), for a failure that the other
 * ranks may not share (they could be waiting in a collective call). Returns only when the
 * group is this process alone, after freeing the handle. */
void ac_parallel_abort(ac_parallel *group, int exit_code);

int ac_parallel_rank(const ac_parallel *group); /* 0 when alone */
int ac_parallel_size(const ac_parallel *group); /* 1 when alone */
/* The ranks of the job on this machine (they share its cores); 1 when alone. */
int ac_parallel_local_size(const ac_parallel *group);

/* Sums n floats over the ranks, in place on every rank (one MPI_Allreduce). */
void ac_parallel_sum_floats(ac_parallel *group, float *values, size_t n);
/* Copies rank 0's bytes to every rank. */
void ac_parallel_broadcast(ac_parallel *group, void *bytes, size_t n);
/* Whether value is the same on every rank (the answer is the same on every rank). */
bool ac_parallel_all_equal(ac_parallel *group, uint64_t value);
/* Rank 0 receives every rank's n bytes, rank-major, in all (size * n bytes; only rank 0's is
 * written, and the others may pass NULL). */
void ac_parallel_gather(ac_parallel *group, const void *mine, size_t n, void *all);
/* Waits until every rank has arrived. */
void ac_parallel_barrier(ac_parallel *group);

#endif
