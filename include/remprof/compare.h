/* compare.h — bench results (and record profiles) from different kernels,
 * readers or settings, side by side: a table with ratios, and an SVG plot of
 * the latency distributions. */
#ifndef REMPROF_COMPARE_H
#define REMPROF_COMPARE_H

#include <stdio.h>
#include "remprof/benchfile.h"

/* One input file: a bench result, or a profile seen as a one-run result
 * (its sampling statistics only). */
struct compare_input {
	char *path;
	char *label;             /* the bench label, or the file name */
	int from_profile;
	struct bench_result result;
};

struct compare_set {
	struct compare_input *inputs;
	size_t ninputs;
};

/* Loads path (bench JSON or profile file) into the set. 0, or -errno with one
 * line in err (-EINVAL: neither a bench result nor a profile). */
int compare_add_input(struct compare_set *set, const char *path, char *err, size_t errlen);
void compare_set_free(struct compare_set *set);

/* For each (reader, writer) present in any input, a table with one column per
 * input and the ratio of each figure to the first input's. */
void compare_print_table(const struct compare_set *set, FILE *out);
/* Percentile-distribution plots (log latency over a "nines" axis) of the
 * sampled thread's stop time, the target's loop gaps and its mmap-op latency,
 * one line per input and reader. 0 or -errno. */
int compare_write_svg(const struct compare_set *set, FILE *out);

#endif
