/* clock.h - the monotonic clock used for timings (epochs, windows/s, benchmarks). */
#ifndef ATTNCAST_CLOCK_H
#define ATTNCAST_CLOCK_H

/* Seconds since an arbitrary fixed point, from CLOCK_MONOTONIC. */
double ac_seconds(void);

/* CPU seconds this process has used (all its threads), from CLOCK_PROCESS_CPUTIME_ID. */
double ac_cpu_seconds(void);

#endif
