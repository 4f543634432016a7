/* gemm_internal.h - what the tests need of gemm.c beyond include/attncast/gemm.h. */
#ifndef ATTNCAST_GEMM_INTERNAL_H
#define ATTNCAST_GEMM_INTERNAL_H

#include <stdbool.h>

/* Makes the own kernels (their packing's transposes included) run the named version ("avx512",
 * "avx2", "portable") from now on, so that a test can check each on a machine that runs the
 * widest; NULL goes back to the widest. False (and no change) when this CPU cannot run the named
 * one. */
bool ac_gemm_force_isa(const char *name);

#endif
