/* lockwatch.h — who waited for the target's mmap_lock, and how often remprof took it.
 *
 * Reads the kernel's mmap_lock tracepoints (mmap_lock_start_locking,
 * mmap_lock_acquire_returned, mmap_lock_released) in a private tracefs instance
 * named "remprof-<our pid>", restricted with set_event_pid to the target's
 * threads and remprof's own (plus the event-fork option, so threads the target
 * creates later are followed). Each event carries the mm it locks, so remprof's
 * acquisitions of the *target's* mm (a /proc/PID/mem read, a process_vm_readv,
 * reading /proc/PID/maps) are told apart from remprof locking its own mm.
 *
 * A wait is start_locking -> acquire_returned on the same thread; a hold is
 * acquire_returned -> released. A write lock downgraded to read shows as an
 * acquisition without a wait. Times are CLOCK_MONOTONIC ns (the instance uses
 * trace_clock "mono").
 *
 * How the mms are learned: at open, the calling thread mmaps a page (a write
 * lock on remprof's own mm) and makes a one-byte process_vm_readv at address 0
 * of each target (the kernel takes the target's read lock before it finds
 * nothing mapped there; the read fails harmlessly). Events on remprof's own mm
 * are then filtered out in the kernel. A target's mm is also learned from its
 * listed threads' own events (e.g. after an exec).
 *
 * Not thread-safe: one thread opens, polls, reads the results and closes.
 *
 * Nothing is left behind: lockwatch_close() removes the instance; an instance
 * left by a remprof that was SIGKILLed (its pid dead, or reused by a process
 * that does not hold it open) is removed by the next lockwatch_open(). A caller
 * that handles SIGINT/SIGTERM must call lockwatch_close() on its way out. */
#ifndef REMPROF_LOCKWATCH_H
#define REMPROF_LOCKWATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "remprof/hist.h"

struct lockwatch; /* opaque */

/* One side's use of the target's mm. */
struct lockwatch_side {
	uint64_t acquisitions;       /* acquire_returned with success (read or write) */
	uint64_t write_acquisitions; /* ... of which for write */
	uint64_t failed;             /* acquire_returned without success (trylock, killable) */
	struct hist wait_ns;         /* start_locking -> acquire_returned */
	struct hist hold_ns;         /* acquire_returned -> released */
};

struct lockwatch_results {
	unsigned target_mms;          /* distinct target mms known (0: none learned yet) */
	struct lockwatch_side target; /* the target's threads on the target's mm(s) */
	struct lockwatch_side self;   /* remprof's threads on the target's mm(s) */
	uint64_t reads;               /* as told through lockwatch_count_reads() */
	double self_acq_per_read;     /* self.acquisitions / reads; 0 if reads == 0 */
	uint64_t events;              /* mmap_lock events parsed */
	uint64_t lost;                /* events the kernel dropped (ring buffer overrun):
	                               * if non-zero, all counts are lower bounds */
};

/* Start watching. pids: the target processes (all their threads are
 * followed). self_tids: remprof's threads that touch the target (the calling
 * thread is always included). 0 or -errno: -ENOENT no tracefs or no mmap_lock tracepoints,
 * -EACCES/-EPERM not allowed to trace, -ESRCH a pid does not exist, -EBUSY
 * this process already has one open. */
int lockwatch_open(struct lockwatch **out, const pid_t *pids, size_t npids,
		   const pid_t *self_tids, size_t nself);
/* Follow one more thread: a target thread (or a new target process) if
 * `is_self` is 0, one of remprof's own threads otherwise. 0 or -errno. */
int lockwatch_add_pid(struct lockwatch *lw, pid_t tid, int is_self);
/* Drain the per-CPU buffers into the statistics. Call it periodically (every
 * 100 ms or so, off the stop path) so that the buffers do not overrun.
 * Returns the number of events parsed, or -errno. */
int lockwatch_poll(struct lockwatch *lw);
/* Tell how many target reads remprof did, for self_acq_per_read. */
void lockwatch_count_reads(struct lockwatch *lw, uint64_t reads);
/* Statistics so far (call lockwatch_poll first to include the latest). 0 or -errno. */
int lockwatch_results(struct lockwatch *lw, struct lockwatch_results *out);
/* Stop tracing and remove the instance. Accepts NULL. */
void lockwatch_close(struct lockwatch *lw);

/* Remove every "remprof-<pid>" instance whose owner is gone. Returns how
 * many were removed, or -errno (-ENOENT: no tracefs). lockwatch_open() calls it. */
int lockwatch_clean_stale(void);
/* The tracefs mount point ("/sys/kernel/tracing"), mounting it if it is not
 * mounted and we are permitted; NULL if there is none. */
const char *lockwatch_tracefs_dir(void);
/* 1 if the mmap_lock tracepoints exist, 0 if not, -errno if tracefs is missing. */
int lockwatch_available(void);

#endif
