/* sampler_int.h — what the files of src/sampler/ share: the state of a run
 * (targets, threads, the epoll set) and the functions that cross files.
 * Private to the module; the interface is include/remprof/sampler.h. */
#ifndef REMPROF_SAMPLER_INT_H
#define REMPROF_SAMPLER_INT_H

#include "remprof/sampler.h"
#include "remprof/clock.h"
#include "remprof/maps.h"

#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#define DEFAULT_FREQ 1000u
#define DEFAULT_STACK (64u * 1024u)
#define RING_PAGES 2               /* 1 header page + 1 data page: ~100 records */
#define TICK_NS 250000000ull       /* status ticks */
#define FIRST_TICK_NS 50000000ull  /* the first comes early: sampler_adapt() */
/* Deliver stored snapshots at the latest this long after the oldest was
 * taken, even while an interrupt is still outstanding: an over-subscribed
 * thread can take a scheduler tick (4 ms at HZ=250) or more to stop. */
#define FLUSH_NS 4000000ull
/* maps are re-read for an unknown stack at most this often per process. */
#define MAPS_REFRESH_NS 20000000ull
#define DETACH_WAIT_NS 3000000000ull

/* epoll tags; perf fds carry PERF_TAG | tid. */
enum { TAG_SIGNAL = 1, TAG_DURATION, TAG_TICK, TAG_IDLE };
#define PERF_TAG (1ull << 32)

struct copier;

struct proc {
	pid_t pid;
	struct reader *r;
	struct copier *copier;     /* with --max-stop: copies that can be given up on */
	struct maps *maps;         /* NULL if unreadable: then stack_size is copied */
	uint64_t maps_time;        /* when maps were last read */
	int nthreads;
};

struct thr {
	pid_t tid;
	struct proc *p;
	int perf_fd;               /* -1 in idle mode */
	struct perf_event_mmap_page *ring;
	uint64_t due_weight;       /* CPU time of triggers not yet sampled */
	unsigned due_count;        /* triggers not yet sampled */
	unsigned window_triggers;  /* triggers since the last status tick */
	int due;
	int cpu;                   /* CPU of the latest trigger, -1 unknown */
	int outstanding;           /* PTRACE_INTERRUPT sent, stop not served */
	int initial_pending;       /* auto-attached, its first stop not seen yet */
	int detaching;
	int gone;                  /* detached (teardown frees it) */
	uint64_t t_int;            /* when the interrupt was sent */
	uint64_t weight;           /* of the outstanding sample (CPU mode) */
	uint64_t last_sample_ns;   /* idle mode: weight = wall time since */
	uint64_t stack_lo, stack_hi; /* cached stack mapping; hi == 0: unknown */
};

struct sampler {
	const struct sampler_config *cfg;
	const struct sampler_events *ev;
	struct sample_stats *st;
	struct sampler_result *res;
	struct proc *procs;
	size_t nprocs;
	struct thr **thr;
	size_t nthr, nthr_cap;
	int epfd, sigfd, durfd, tickfd, idlefd;
	sigset_t oldmask;
	cpu_set_t allowed;         /* remprof's own CPUs, restored at the end */
	int cur_cpu;               /* CPU we are pinned to, -1 if not pinned */
	int exclude_kernel;
	uint64_t period_ns, stack_size;
	uint64_t t0, last_tick;
	int outstanding;
	/* Snapshots wait here until no interrupt is outstanding; so do exit
	 * events, so that a thread's samples reach the consumer before its end. */
	struct snapshot **pending, **spare;
	size_t npending, nspare, nbuffers, cap; /* both arrays hold cap */
	uint64_t oldest_snap;
	struct { pid_t pid, tid; } *exits;
	size_t nexits, cap_exits;
	int released;              /* the spawned child was let run */
	int old_policy;            /* scheduling policy to restore, -1: unchanged */
	int rt_on, place_on;       /* current serving strategy: strategy.c */
	size_t running_at_start;   /* threads in state R when we began */
	struct sched_param old_param;
	int ended;
};

/* trigger.c: the per-thread perf task-clock event and its ring. */
int sampler_trigger_attach(struct sampler *s, struct thr *t);
void sampler_trigger_close(struct sampler *s, struct thr *t);
void sampler_trigger_drain(struct sampler *s, struct thr *t);
void sampler_raise_fd_limit(void);
int sampler_paranoid_level(void);

/* sampler.c: count a lost sample of thread t (and tell the consumer whose). */
void sampler_lose(struct sampler *s, const struct thr *t, enum lost_reason why, uint64_t n);

/* copier.c: a stack copy the tracer can stop waiting for. */
int sampler_copier_start(struct copier **out, size_t cap);
void sampler_copier_stop(struct copier *c);
/* Bytes copied into the copier's buffer (sampler_copier_bytes), -errno,
 * -ETIMEDOUT past deadline_ns (the copy goes on and is dropped when it ends),
 * or -EBUSY while an earlier copy that was given up on still waits. */
ssize_t sampler_copier_copy(struct copier *c, struct reader *r, pid_t tid, uint64_t addr,
			    size_t len, uint64_t deadline_ns);
int sampler_copier_busy(const struct copier *c);
pid_t sampler_copier_tid(const struct copier *c);
const uint8_t *sampler_copier_bytes(const struct copier *c);

/* strategy.c: where and at which priority stops are served. */
void sampler_move_to(struct sampler *s, int cpu);
void sampler_adapt(struct sampler *s);
void sampler_strategy_init(struct sampler *s);
void sampler_strategy_end(struct sampler *s);

#endif
