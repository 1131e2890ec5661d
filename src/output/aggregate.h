/* aggregate.h — what the text report and the summary both compute from a
 * profile: the value percentages are taken of, and per-function self and
 * total. Private to src/output/. */
#ifndef REMPROF_OUTPUT_AGGREGATE_H
#define REMPROF_OUTPUT_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "remprof/profile.h"

/* A function as reports show it: frames differing only in file or line are
 * the same function; an inlined copy is shown apart ("f [inlined]"). */
struct func_stat {
	const char *name;
	const char *module;
	int inlined;
	uint64_t self, total;        /* in the profile's measure (see measure_of) */
	uint64_t self_n, total_n;    /* in samples */
};

struct func_table {
	struct func_stat *funcs;
	size_t nfuncs;
	uint32_t *func_of_frame;     /* frame index -> funcs[] index */
	uint64_t grand_total;        /* sum of all samples, in the measure */
	uint64_t grand_n;            /* number of samples */
};

/* Percentages are of sample weight (the CPU time, or with --idle the wall
 * time, each sample stands for) as perf uses the period; of sample counts
 * only when a profile carries no weights at all. */
uint64_t measure_of(const struct profile_sample *s, int by_weight);
int profile_has_weights(const struct profile *p);

/* 0 or -ENOMEM. Total counts a function once per stack, even when recursive. */
int func_table_build(const struct profile *p, struct func_table *t);
void func_table_free(struct func_table *t);
/* funcs[] indexes sorted by self (by_total = 0) or total, largest first;
 * malloc'ed, NULL on ENOMEM. */
uint32_t *func_table_sorted(const struct func_table *t, int by_total);

double percent(uint64_t part, uint64_t whole);
/* s into buf with control characters made spaces (they would break lines). */
const char *printable(const char *s, char *buf, size_t len);
/* "f" or "f [inlined]" into buf, printable. */
const char *func_display(const struct func_stat *f, char *buf, size_t len);
/* 0, or -EIO when the stream has failed. */
int stream_status(FILE *out);
/* "N lost" and, when N > 0, " (reason n, reason m)". */
void print_lost(const struct sample_stats *st, FILE *out);

#endif
