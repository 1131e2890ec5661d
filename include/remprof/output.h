/* output.h — a profile as text a person reads, or as data another tool reads. */
#ifndef REMPROF_OUTPUT_H
#define REMPROF_OUTPUT_H

#include <stdio.h>
#include "remprof/profile.h"

struct output_options {
	int per_thread;   /* folded: thread name as the root frame; text: always has a per-thread table */
	int max_rows;     /* text: rows of the top tables (0 = default) */
};

/* Top functions by self and total, per-thread breakdown, call tree. */
int output_text(const struct profile *p, FILE *out, const struct output_options *o);
/* Brendan Gregg's collapsed stacks: "root;...;leaf count", one line per unique stack. */
int output_folded(const struct profile *p, FILE *out, const struct output_options *o);
/* The short summary record prints at the end (top functions, samples, stop percentiles). */
int output_summary(const struct profile *p, FILE *out);
/* What sampling cost the target: stop/interrupt/copy percentiles, the stop
 * bound, mmap_lock waits and acquisitions; with per_thread, a row per thread. */
int output_intrusion(const struct profile *p, FILE *out, int per_thread);

#endif
