/* clock.h — the one clock every measurement in remprof is taken on. */
#ifndef REMPROF_CLOCK_H
#define REMPROF_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in ns: stop times, deadlines, windows (a vDSO call). */
static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
