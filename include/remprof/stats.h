/* stats.h — what sampling cost, and what it lost: filled by the sampler (stop
 * path) and the record pipeline (unwinding), stored in the profile file. */
#ifndef REMPROF_STATS_H
#define REMPROF_STATS_H

#include <stdint.h>
#include "remprof/hist.h"

enum lost_reason {
	LOST_THREAD_EXITED,  /* the thread exited between trigger and stop */
	LOST_READ_FAILED,    /* the stack copy returned nothing */
	LOST_UNWIND_FAILED,  /* not even the first frame could be unwound */
	LOST_TRIGGER_OVERRUN,/* CPU-time triggers dropped (perf ring full / coalesced) */
	LOST_READ_BLOCKED,   /* the copy waited past --max-stop (target's mmap_lock held) */
	LOST_UNWIND_BACKLOG, /* copied, but dropped: the unwinding thread was too far behind */
	LOST_NREASONS
};

struct sample_stats {
	uint64_t samples;          /* stops served and stored */
	uint64_t lost[LOST_NREASONS];
	uint64_t partial_reads;    /* stored, but the stack copy ended early */
	uint64_t reads;            /* stack copies attempted (not kept in the profile file) */
	uint64_t threads_seen;
	uint64_t cpu_time_ns;      /* CPU time the samples stand for (sum of weights) */
	struct hist stop_ns;       /* interrupt sent -> thread resumed */
	struct hist int_to_stop_ns;/* interrupt sent -> stop seen by remprof */
	struct hist copy_ns;       /* the stack copy alone */
};

const char *lost_reason_name(enum lost_reason r);
void sample_stats_init(struct sample_stats *s);

#endif
