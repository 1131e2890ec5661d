/* benchfile.h — the result of `remprof bench`: one JSON document with a
 * versioned schema (docs/bench-format.md), written by bench and read by
 * compare. Histograms travel whole (sparse buckets), so that compare can draw
 * distributions and compute any percentile, not only the printed ones. */
#ifndef REMPROF_BENCHFILE_H
#define REMPROF_BENCHFILE_H

#include <stddef.h>
#include <stdint.h>
#include "remprof/hist.h"
#include "remprof/stats.h"

#define BENCH_SCHEMA "remprof-bench"
#define BENCH_SCHEMA_VERSION 1

/* What the target measured of itself in one kind of window. */
struct bench_target {
	struct hist gap_ns;        /* gaps between consecutive clock reads in a tight loop */
	struct hist wakeup_ns;     /* timer wake-up lateness of a 1 ms periodic sleeper */
	struct hist mmap_op_ns;    /* one mmap + touch + munmap */
	double work_per_s;         /* tight-loop iterations per second of window */
};

struct bench_lock {
	int available;             /* tracefs + mmap_lock tracepoints were usable */
	uint64_t target_waits;     /* the target's threads waiting for their mmap_lock */
	struct hist target_wait_ns;
	uint64_t self_acquisitions;/* remprof taking the target's mmap_lock */
	uint64_t reads;            /* stack reads remprof did */
	double acquisitions_per_read;
	struct hist self_wait_ns;
};

struct bench_run {
	char reader[16];           /* "none" (no profiler), "vmreadv", "procmem", "peek" */
	int writer;                /* a target thread held mmap_lock for write for long */
	unsigned freq_hz;
	double on_s, off_s;        /* time spent in profiled / unprofiled windows */
	unsigned skipped_windows;  /* on windows left out: the previous one ran late */
	struct bench_target on, off;
	double work_ratio;         /* on.work_per_s / off.work_per_s */
	struct sample_stats sampler;
	struct bench_lock lock;
};

struct bench_fact {
	char *key, *value;
};

struct bench_result {
	char *label;
	char *remprof_version;
	uint64_t start_unix_ns;
	struct bench_fact *facts;  /* machine and kernel: uname, cpus, virtualization, config... */
	size_t nfacts;
	unsigned window_ms;
	int quick;
	struct bench_run *runs;
	size_t nruns;
};

void bench_result_add_fact(struct bench_result *r, const char *key, const char *value);
const char *bench_result_fact(const struct bench_result *r, const char *key);
struct bench_run *bench_result_add_run(struct bench_result *r);
void bench_result_free(struct bench_result *r);

/* Written to path.tmp and renamed. 0 or -errno. */
int bench_result_save(const struct bench_result *r, const char *path);
/* 0; -errno for I/O; -EINVAL for a document that is not a remprof-bench
 * result of a known version, with one line in err. */
int bench_result_load(struct bench_result *r, const char *path, char *err, size_t errlen);

#endif
