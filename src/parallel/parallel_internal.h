/* parallel_internal.h - what the two builds of src/parallel share (see parallel.h). */
#ifndef ATTNCAST_PARALLEL_INTERNAL_H
#define ATTNCAST_PARALLEL_INTERNAL_H

/* The number of ranks a launcher started this process among, 1 when it launched this process
 * without saying how many, 0 when no launcher started it or ATTNCAST_NO_MPI is set (not 0). */
int ac_launcher_ranks(void);

#endif
