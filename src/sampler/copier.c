/* copier.c — the stack copy, done by a thread of its own so that the tracer
 * can give up waiting for it.
 *
 * process_vm_readv and /proc/PID/mem wait for the target's mmap_lock, and no
 * signal but a fatal one interrupts that wait; a sibling of the sampled thread
 * that holds the lock for write (mprotect over a large region, fork) keeps
 * the read waiting for tens of milliseconds (shared/measurements §3b), and
 * the sampled thread stopped all that time. So the tracer hands the copy to
 * this thread and waits for it at most until the --max-stop deadline; past
 * it the tracer resumes the thread and the late copy is thrown away when it
 * lands. The copier writes into its own buffer, so nothing the tracer owns
 * is written late, and the tracer takes the bytes out after the resume.
 *
 * The hand-off is one futex word. The copier is moved to the tracer's CPU
 * before each copy (a sleeping thread's affinity is just a mask to change),
 * so that waking it is a switch between two threads of one process on one
 * CPU, not an IPI; and it runs SCHED_FIFO where permitted, so that it gets
 * that CPU the moment the tracer waits, however many of the target's threads
 * are runnable there. It only ever copies or sleeps. */
#include "sampler_int.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { C_IDLE, C_REQUEST, C_DONE, C_QUIT };

/* A resident stack copies in a few µs; one still going after this waits. */
#define BOOST_AFTER_NS 200000ull

struct copier {
	pthread_t thread;
	_Atomic pid_t tid;
	int cpu;                   /* where it was last put, -1: anywhere */
	_Atomic uint32_t state;
	_Atomic int abandoned;     /* the tracer stopped waiting for this copy */
	struct reader *r;
	pid_t target_tid;
	uint64_t addr;
	size_t len;
	ssize_t result;
	uint8_t *buf;
	size_t cap;
};

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

static void set_state(struct copier *c, uint32_t v)
{
	atomic_store_explicit(&c->state, v, memory_order_release);
	futex(&c->state, FUTEX_WAKE_PRIVATE, 1, NULL);
}

static void *copier_main(void *arg)
{
	struct copier *c = arg;
	atomic_store(&c->tid, (pid_t)syscall(SYS_gettid));
	for (;;) {
		uint32_t st = atomic_load_explicit(&c->state, memory_order_acquire);
		if (st == C_QUIT)
			return NULL;
		if (st != C_REQUEST) {
			futex(&c->state, FUTEX_WAIT_PRIVATE, st, NULL);
			continue;
		}
		c->result = reader_copy(c->r, c->target_tid, c->addr, c->buf, c->len);
		/* A copy the tracer gave up on is dropped here: the copier is
		 * free again only now, and the tracer sees that. */
		if (atomic_exchange(&c->abandoned, 0)) {
			uint32_t expect = C_REQUEST;
			atomic_compare_exchange_strong(&c->state, &expect, C_IDLE);
			continue;
		}
		set_state(c, C_DONE);
	}
}

int sampler_copier_start(struct copier **out, size_t cap)
{
	struct copier *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cap = cap;
	if (!(c->buf = malloc(cap))) {
		free(c);
		return -ENOMEM;
	}
	/* The copier must not take the signals the tracer reads from its
	 * signalfd: it inherits the blocked mask of its creator, which is set. */
	int e = pthread_create(&c->thread, NULL, copier_main, c);
	if (e) {
		free(c->buf);
		free(c);
		return -e;
	}
	while (!atomic_load(&c->tid))
		sched_yield();
	c->cpu = -1;
	struct sched_param rt = { .sched_priority = 1 };
	sched_setscheduler(c->tid, SCHED_FIFO | SCHED_RESET_ON_FORK, &rt); /* best effort */
	*out = c;
	return 0;
}

void sampler_copier_stop(struct copier *c)
{
	if (!c)
		return;
	/* A copy still blocked on the target's mmap_lock ends when the lock
	 * is released; the join waits for that (it is bounded by the writer). */
	set_state(c, C_QUIT);
	pthread_join(c->thread, NULL);
	free(c->buf);
	free(c);
}

int sampler_copier_busy(const struct copier *c)
{
	return atomic_load_explicit(&c->state, memory_order_acquire) == C_REQUEST;
}

pid_t sampler_copier_tid(const struct copier *c)
{
	return atomic_load(&c->tid);
}

/* SCHED_FIFO for the calling thread (on), or back to the policy it had;
 * 1 if the policy was changed. A thread that is real-time already is left
 * alone. */
static int boost(int on)
{
	static __thread int saved_policy = -1;
	static __thread struct sched_param saved_param;
	if (on) {
		int policy = sched_getscheduler(0);
		if (policy < 0 || policy == SCHED_FIFO || policy == SCHED_RR)
			return 0;
		struct sched_param rt = { .sched_priority = 1 };
		sched_getparam(0, &saved_param);
		if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &rt) != 0)
			return 0;
		saved_policy = policy;
		return 1;
	}
	if (saved_policy >= 0)
		sched_setscheduler(0, saved_policy, &saved_param);
	saved_policy = -1;
	return 0;
}

ssize_t sampler_copier_copy(struct copier *c, struct reader *r, pid_t tid, uint64_t addr,
			    size_t len, uint64_t deadline_ns)
{
	uint64_t start = now_ns();
	if (sampler_copier_busy(c))
		return -EBUSY;
	/* Idle, or done with a copy given up on after it had finished: the
	 * copier waits, so the flag of the old copy can be cleared. */
	atomic_store(&c->abandoned, 0);
	int cpu = sched_getcpu();
	if (cpu >= 0 && cpu != c->cpu) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		c->cpu = sched_setaffinity(c->tid, sizeof(one), &one) == 0 ? cpu : -1;
	}
	c->r = r;
	c->target_tid = tid;
	c->addr = addr;
	c->len = len < c->cap ? len : c->cap;
	set_state(c, C_REQUEST);
	int boosted = 0;
	ssize_t got;
	for (;;) {
		uint32_t st = atomic_load_explicit(&c->state, memory_order_acquire);
		if (st == C_DONE) {
			atomic_store_explicit(&c->state, C_IDLE, memory_order_relaxed);
			got = c->result;
			break;
		}
		uint64_t now = now_ns();
		if (now >= deadline_ns) {
			atomic_store(&c->abandoned, 1);
			/* It may have finished between the load and the flag. */
			uint32_t expect = C_DONE;
			if (atomic_compare_exchange_strong(&c->state, &expect, C_IDLE)) {
				atomic_store(&c->abandoned, 0);
				got = c->result;
			} else {
				got = -ETIMEDOUT;
			}
			break;
		}
		/* A copy that is not done in BOOST_AFTER_NS is waiting for the
		 * lock: the rest of the wait runs SCHED_FIFO where permitted, so
		 * that the deadline wakes the tracer on time on a busy machine
		 * (a normal task can wait a time slice for its CPU). */
		uint64_t wait = deadline_ns - now;
		if (!boosted && wait > BOOST_AFTER_NS && now - start < BOOST_AFTER_NS)
			wait = BOOST_AFTER_NS - (now - start);
		else if (!boosted)
			boosted = boost(1);
		struct timespec ts = { (time_t)(wait / 1000000000u), (long)(wait % 1000000000u) };
		futex(&c->state, FUTEX_WAIT_PRIVATE, st, &ts);
	}
	if (boosted)
		boost(0);
	return got;
}

const uint8_t *sampler_copier_bytes(const struct copier *c)
{
	return c->buf;
}
