/* handoff.c — the sampler's events, queued on the sampling thread and
 * handled in order on a thread of their own (handoff.h). */
#include "remprof/handoff.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum event_kind { EV_SAMPLE, EV_LOST, EV_THREAD_NEW, EV_THREAD_EXIT, EV_EXEC };

/* The thread is not woken for every event: a wake-up is a futex call on the
 * sampling thread and two context switches, as much again as the unwinding
 * of a sample. It is woken when WAKE_EVENTS are queued, and otherwise looks
 * every PICKUP_NS by itself. */
#define WAKE_EVENTS 64
#define PICKUP_NS 10000000ull

struct event {
	struct event *next;
	enum event_kind kind;
	pid_t pid, tid;
	enum lost_reason why;
	struct snapshot snap;  /* EV_SAMPLE: snap.stack points at stack[] */
	uint8_t stack[];
};

struct handoff {
	struct sampler_events events;          /* what the sampler calls */
	const struct sampler_events *consumer; /* what the thread calls */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct event *head, **tail;
	size_t queued;
	size_t bytes, max_bytes;               /* of the stacks queued */
	int waiting, quit;
	_Atomic uint64_t dropped;
};

/* Queue e, which holds `bytes` of stack; 0 if that would pass max_bytes
 * (e is then the caller's still). */
static int push(struct handoff *h, struct event *e, size_t bytes)
{
	e->next = NULL;
	pthread_mutex_lock(&h->lock);
	if (bytes && h->bytes + bytes > h->max_bytes) {
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	*h->tail = e;
	h->tail = &e->next;
	h->bytes += bytes;
	int wake = ++h->queued >= WAKE_EVENTS && h->waiting;
	pthread_mutex_unlock(&h->lock);
	if (wake)
		pthread_cond_signal(&h->wake);
	return 1;
}

static struct event *new_event(enum event_kind kind, pid_t pid, pid_t tid, size_t extra)
{
	struct event *e = malloc(sizeof(*e) + extra);
	if (e) {
		e->kind = kind;
		e->pid = pid;
		e->tid = tid;
	}
	return e;
}

static void queue_simple(struct handoff *h, enum event_kind kind, pid_t pid, pid_t tid,
			 enum lost_reason why)
{
	struct event *e = new_event(kind, pid, tid, 0);
	if (!e)
		return; /* a name or an exit less; nothing to stop for */
	e->why = why;
	push(h, e, 0);
}

static void on_sample(void *ctx, const struct snapshot *s)
{
	struct handoff *h = ctx;
	struct event *e = new_event(EV_SAMPLE, s->pid, s->tid, s->stack_len);
	if (e) {
		e->snap = *s;
		memcpy(e->stack, s->stack, s->stack_len);
		e->snap.stack = e->stack;
		if (push(h, e, s->stack_len))
			return;
		free(e);
	}
	atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
	queue_simple(h, EV_LOST, s->pid, s->tid, LOST_UNWIND_BACKLOG);
}

static void on_lost(void *ctx, pid_t pid, pid_t tid, enum lost_reason why)
{
	queue_simple(ctx, EV_LOST, pid, tid, why);
}

static void on_thread_new(void *ctx, pid_t pid, pid_t tid)
{
	queue_simple(ctx, EV_THREAD_NEW, pid, tid, 0);
}

static void on_thread_exit(void *ctx, pid_t pid, pid_t tid)
{
	queue_simple(ctx, EV_THREAD_EXIT, pid, tid, 0);
}

static void on_exec(void *ctx, pid_t pid)
{
	queue_simple(ctx, EV_EXEC, pid, pid, 0);
}

static void on_tick(void *ctx, const struct sample_stats *st, double elapsed_s)
{
	struct handoff *h = ctx;
	h->consumer->tick(h->consumer->ctx, st, elapsed_s);
}

static void handle(const struct sampler_events *c, const struct event *e)
{
	switch (e->kind) {
	case EV_SAMPLE:
		if (c->sample)
			c->sample(c->ctx, &e->snap);
		break;
	case EV_LOST:
		if (c->lost)
			c->lost(c->ctx, e->pid, e->tid, e->why);
		break;
	case EV_THREAD_NEW:
		if (c->thread_new)
			c->thread_new(c->ctx, e->pid, e->tid);
		break;
	case EV_THREAD_EXIT:
		if (c->thread_exit)
			c->thread_exit(c->ctx, e->pid, e->tid);
		break;
	case EV_EXEC:
		if (c->exec)
			c->exec(c->ctx, e->pid);
		break;
	}
}

static void wait_a_while(struct handoff *h)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + PICKUP_NS;
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	h->waiting = 1;
	pthread_cond_timedwait(&h->wake, &h->lock, &ts);
	h->waiting = 0;
}

/* Takes everything queued at once, so that the sampling thread meets the
 * lock free while a batch is handled. */
static void *handoff_main(void *arg)
{
	struct handoff *h = arg;
	for (;;) {
		pthread_mutex_lock(&h->lock);
		if (h->queued < WAKE_EVENTS && !h->quit)
			wait_a_while(h);
		struct event *batch = h->head;
		h->head = NULL;
		h->tail = &h->head;
		h->queued = 0;
		h->bytes = 0;
		int quit = h->quit;
		pthread_mutex_unlock(&h->lock);
		if (!batch && quit)
			return NULL;
		while (batch) {
			struct event *next = batch->next;
			handle(h->consumer, batch);
			free(batch);
			batch = next;
		}
	}
}

int handoff_start(struct handoff **out, const struct sampler_events *consumer, size_t max_bytes)
{
	struct handoff *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->consumer = consumer;
	h->max_bytes = max_bytes;
	h->tail = &h->head;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &attr);
	pthread_condattr_destroy(&attr);
	h->events = (struct sampler_events){
		.ctx = h, .sample = on_sample, .lost = on_lost, .thread_new = on_thread_new,
		.thread_exit = on_thread_exit, .exec = on_exec,
		.tick = consumer->tick ? on_tick : NULL,
	};
	/* No signal of remprof's is for this thread: SIGCHLD and the stop
	 * signals are read from the sampler's signalfd. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&h->thread, NULL, handoff_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		pthread_cond_destroy(&h->wake);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return -e;
	}
	*out = h;
	return 0;
}

const struct sampler_events *handoff_events(struct handoff *h)
{
	return &h->events;
}

uint64_t handoff_dropped(struct handoff *h)
{
	return atomic_load_explicit(&h->dropped, memory_order_relaxed);
}

uint64_t handoff_finish(struct handoff *h)
{
	pthread_mutex_lock(&h->lock);
	h->quit = 1;
	pthread_mutex_unlock(&h->lock);
	pthread_cond_signal(&h->wake);
	pthread_join(h->thread, NULL);
	uint64_t dropped = handoff_dropped(h);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return dropped;
}
