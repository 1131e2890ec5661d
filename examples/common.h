/* common.h — the little the example workloads share: a run-for-N-seconds
 * argument, a clock, and a compiler barrier that keeps busy loops honest. */
#ifndef REMPROF_EXAMPLES_COMMON_H
#define REMPROF_EXAMPLES_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Keeps the optimizer from folding a loop into a closed form or vectorizing
 * it away, without a memory access per iteration: every iteration must really
 * run so that time spent matches iterations executed. */
#define KEEP(x) __asm__ volatile("" : "+r"(x))

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Parses a duration in seconds; 0 (or no argument) means "until killed". */
static inline double arg_seconds(int argc, char **argv, int i, const char *usage)
{
	if (argc <= i)
		return 0;
	char *end;
	double d = strtod(argv[i], &end);
	if (*end || d < 0) {
		fprintf(stderr, "usage: %s\n", usage);
		exit(2);
	}
	return d;
}

/* Deadline for a duration from arg_seconds(); 0 = never. */
static inline int expired(double deadline)
{
	return deadline > 0 && now_s() >= deadline;
}

static inline double deadline_after(double seconds)
{
	return seconds > 0 ? now_s() + seconds : 0;
}

#endif
