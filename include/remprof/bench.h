/* bench.h — the reproducible intrusion experiment behind `remprof bench`.
 *
 * The jitter workload (examples/jitter) runs with no profiler, then under each
 * reader, with and without a thread that holds mmap_lock for write for long.
 * Within every run the profiler is attached in alternating on/off windows, so
 * that the slow drift of a shared machine cancels out of the on/off ratios;
 * the workload attributes what it measures of itself to the window it fell in. */
#ifndef REMPROF_BENCH_H
#define REMPROF_BENCH_H

#include <stddef.h>
#include "remprof/benchfile.h"
#include "remprof/reader.h"

struct bench_options {
	const char *label;        /* NULL: the kernel release */
	int quick;                /* < 30 s instead of < 3 min */
	unsigned freq_hz;
	unsigned window_ms;       /* 0: 400 (quick: 200) */
	unsigned windows;         /* on windows per run; 0: 8 (quick: 3) */
	size_t stack_size;
	unsigned region_mb;       /* the writer's populated region; 0: 512 (quick: 256) */
	const char *jitter;       /* path of the workload; NULL: found next to remprof */
	/* Called with one line of progress (no newline); may be NULL. */
	void (*progress)(void *ctx, const char *line);
	void *ctx;
};

enum bench_status {
	BENCH_OK,
	BENCH_INTERRUPTED,        /* SIGINT/SIGTERM/SIGHUP: nothing is kept */
	BENCH_NO_WORKLOAD,        /* the jitter workload was not found or did not start */
	BENCH_ATTACH_FAILED,
	BENCH_FAILED,
};

/* Runs every run and fills *out (initialized by the caller to zeros). err gets
 * one line when the status is not BENCH_OK. */
enum bench_status bench_run(const struct bench_options *o, struct bench_result *out,
			    char *err, size_t errlen);

#endif
