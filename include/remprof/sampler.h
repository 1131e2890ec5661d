/* sampler.h — the stop path: decide which thread is due, stop it, copy its
 * registers and stack, resume it — and nothing else while it is stopped.
 *
 * Triggers: by default one per 1/F seconds of each thread's CPU time (a
 * per-thread perf task-clock event, read from its ring buffer; nothing is ever
 * delivered to the target), or with `idle` one per 1/F seconds of wall time for
 * every thread. Due threads are interrupted together and their stops served as
 * they arrive. Where the stop is issued from matters (shared/measurements
 * §0.2: ~15 µs from the thread's own CPU, ~125 µs from the other); see
 * `placement` below for why the sampler does not follow the thread by
 * default. */
#ifndef REMPROF_SAMPLER_H
#define REMPROF_SAMPLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>
#include "remprof/reader.h"
#include "remprof/stats.h"

struct snapshot {
	pid_t pid, tid;
	uint64_t time_ns;      /* CLOCK_MONOTONIC when the stop was seen */
	uint64_t weight_ns;    /* CPU time (wall time with idle) this sample stands for */
	struct user_regs_struct regs;
	uint64_t stack_addr;   /* regs.rsp */
	size_t stack_len;      /* valid bytes in stack[] */
	int partial;           /* the copy ended before the requested length */
	uint8_t *stack;
	/* What this sample cost the thread (CLOCK_MONOTONIC, ns). */
	uint64_t stop_ns;      /* interrupt sent -> thread resumed */
	uint64_t int_to_stop_ns; /* interrupt sent -> stop seen */
	uint64_t copy_ns;      /* the stack copy alone */
};

struct sampler_config {
	const pid_t *pids;     /* processes already attached with attach_process() */
	size_t npids;          /* or the one child from attach_spawn() (spawned != 0) */
	int spawned;
	unsigned freq_hz;      /* F */
	int idle;              /* wall-clock sampling of every thread */
	size_t stack_size;     /* copy cap, bytes */
	enum reader_kind reader;
	double duration_s;     /* 0 = until the targets exit or a signal arrives */
	/* Bound on the time from a stop being seen to its resume, however long
	 * the stack copy waits for the target's mmap_lock: past it the thread is
	 * resumed and the sample lost as LOST_READ_BLOCKED. 0 = unbounded.
	 * vmreadv and procmem copies are made by a copier thread that the
	 * tracer stops waiting for; peek copies (PTRACE_PEEKDATA must come from
	 * the tracing thread itself) are given up between two words, so they can
	 * overrun the bound by one wait for the lock. */
	uint64_t max_stop_ns;
	/* CLOCK_MONOTONIC time that no stop may outlast, given up the same way
	 * (a benchmark window's end, so that no stop spills into the window
	 * after it). 0 = none. */
	uint64_t stops_end_by_ns;
	/* placement: move to the due thread's CPU while the target is not
	 * over-subscribed. A bare stop then costs ~12 us here (stopbench) instead
	 * of ~25, but the sampling thread competes with the target for that CPU:
	 * as a normal task it wakes too late for half the triggers of a busy
	 * thread (measured in record, with unwinding already on a thread of its
	 * own), and as SCHED_FIFO it keeps them but the stops get slower (record
	 * p50 ~35 us against ~24 us unplaced). So it is for benchmarks of the
	 * bare stop only. no_realtime: never SCHED_FIFO, even for an
	 * over-subscribed target (for benchmarks too). */
	int placement;
	int no_realtime;
};

/* Everything the sampler reports, always after the thread involved was resumed. */
struct sampler_events {
	void *ctx;
	void (*sample)(void *ctx, const struct snapshot *s);
	void (*thread_new)(void *ctx, pid_t pid, pid_t tid);
	void (*thread_exit)(void *ctx, pid_t pid, pid_t tid);
	void (*exec)(void *ctx, pid_t pid);
	/* A few times a second, for a status line. May be NULL. */
	void (*tick)(void *ctx, const struct sample_stats *st, double elapsed_s);
	/* A sample of this thread was lost (counted in stats too). May be NULL. */
	void (*lost)(void *ctx, pid_t pid, pid_t tid, enum lost_reason why);
};

enum sampler_end {
	SAMPLER_END_DURATION,  /* -d expired */
	SAMPLER_END_SIGNAL,    /* SIGINT, SIGTERM or SIGHUP to remprof */
	SAMPLER_END_EXITED,    /* every target exited */
	SAMPLER_END_ERROR,
};

struct sampler_result {
	enum sampler_end end;
	int signal;            /* for SAMPLER_END_SIGNAL */
	int error;             /* -errno for SAMPLER_END_ERROR */
	char error_msg[256];   /* one line, for SAMPLER_END_ERROR */
	/* Wait status of pids[0]'s leader once its exit was reported to us
	 * (a spawned child, or any child of ours, is then reaped). */
	int child_status;
	int child_reaped;
	double elapsed_s;
};

/* Runs until the end condition, then detaches from every thread (also on
 * every error path). Blocks SIGINT/SIGTERM/SIGHUP/SIGCHLD in the calling thread
 * for its duration, and reaps ptrace events with waitpid(-1, __WALL): the
 * caller should have no other children it waits for meanwhile. A spawned
 * child is released (attach_release_child) once its trigger is armed.
 * freq_hz 0 and stack_size 0 mean the defaults (1000 Hz, 64 KiB).
 * Strategy, chosen anew a few times a second: while the busy threads do not
 * outnumber our CPUs, the calling thread moves to the due thread's CPU; when
 * they do (and in idle mode), it stays put and, when allowed (root or
 * CAP_SYS_NICE), runs at SCHED_FIFO priority 1, callbacks included, so that
 * a trigger preempts the thread it concerns at once instead of after its time
 * slice. Affinity and policy are restored at the end. Uses one perf fd per
 * target thread (the RLIMIT_NOFILE soft limit is raised to the hard one).
 * stats must be initialized by the caller. Returns 0, or res->error. */
int sampler_run(const struct sampler_config *cfg, const struct sampler_events *ev,
		struct sample_stats *stats, struct sampler_result *res);

#endif
