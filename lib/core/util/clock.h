/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to gcdl: the clocks of reports and CPU accounting. */
#ifndef GCDL_CLOCK_H
#define GCDL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic wall time in seconds. */
static inline double
gcdl_clock_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread in ns (a vDSO-less clock: ~0.2 us a call,
 * so it is read per round or per poll, never per frame). */
static inline uint64_t
gcdl_clock_thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* GCDL_CLOCK_H */
