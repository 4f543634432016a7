/* launcher.c - what both builds of the parallel module ask the environment: was this process
 * started by an MPI launcher, as one of how many ranks. */
#include <stdlib.h>

#include "parallel/parallel_internal.h"

/* Variables the common launchers set in every rank: Open MPI's mpirun, then PMIx and PMI
 * (MPICH's hydra, Slurm's srun). */
static const char *const SIZE_VARIABLES[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"};
static const char *const RANK_VARIABLES[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};

int ac_launcher_ranks(void) {
    const char *off = getenv("ATTNCAST_NO_MPI");
    if (off && *off && *off != '0') return 0;
    for (size_t i = 0; i < sizeof SIZE_VARIABLES / sizeof SIZE_VARIABLES[0]; i++) {
        const char *v = getenv(SIZE_VARIABLES[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    for (size_t i = 0; i < sizeof RANK_VARIABLES / sizeof RANK_VARIABLES[0]; i++)
        if (getenv(RANK_VARIABLES[i])) return 1; /* launched; the size is not told */
    return 0;
}
