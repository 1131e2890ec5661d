/* test_handoff — the handoff delivers the sampler's events in order, on a
 * thread of its own, with the snapshot's stack copied; tick stays on the
 * caller's thread; past the backlog bound samples are dropped and reported
 * as lost, in their place in the order. */
#include "remprof/handoff.h"
#include "../check.h"

#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { E_SAMPLE, E_LOST, E_NEW, E_EXIT, E_EXEC, E_TICK };

struct seen {
	int kind;
	pid_t pid, tid, thread;
	int why;
	uint8_t first_byte;
	size_t len;
};

static struct seen log_[64];
static int nlog;
static sem_t in_handler, release;
static int block_first_sample;

static pid_t self(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void note(int kind, pid_t pid, pid_t tid, int why, const struct snapshot *s)
{
	CHECK(nlog < 64);
	log_[nlog++] = (struct seen){ kind, pid, tid, self(), why, s ? s->stack[0] : 0,
				      s ? s->stack_len : 0 };
}

static void c_sample(void *ctx, const struct snapshot *s)
{
	(void)ctx;
	note(E_SAMPLE, s->pid, s->tid, 0, s);
	if (block_first_sample) {
		block_first_sample = 0;
		sem_post(&in_handler);
		sem_wait(&release);
	}
}

static void c_lost(void *ctx, pid_t pid, pid_t tid, enum lost_reason why)
{
	(void)ctx;
	note(E_LOST, pid, tid, (int)why, NULL);
}

static void c_new(void *ctx, pid_t pid, pid_t tid)
{
	(void)ctx;
	note(E_NEW, pid, tid, 0, NULL);
}

static void c_exit(void *ctx, pid_t pid, pid_t tid)
{
	(void)ctx;
	note(E_EXIT, pid, tid, 0, NULL);
}

static void c_exec(void *ctx, pid_t pid)
{
	(void)ctx;
	note(E_EXEC, pid, pid, 0, NULL);
}

static pid_t tick_thread;

static void c_tick(void *ctx, const struct sample_stats *st, double elapsed)
{
	(void)ctx, (void)st, (void)elapsed;
	tick_thread = self();
}

static const struct sampler_events consumer = {
	.sample = c_sample, .lost = c_lost, .thread_new = c_new, .thread_exit = c_exit,
	.exec = c_exec, .tick = c_tick,
};

static void send_sample(const struct sampler_events *ev, pid_t tid, uint8_t fill, size_t len)
{
	static uint8_t stack[4096];
	memset(stack, fill, len);
	struct snapshot s = { .pid = 1, .tid = tid, .stack = stack, .stack_len = len };
	ev->sample(ev->ctx, &s);
	memset(stack, 0xee, sizeof(stack)); /* the handoff must have its own copy */
}

static void test_order(void)
{
	struct handoff *h;
	nlog = 0;
	CHECK_EQ_INT(handoff_start(&h, &consumer, 1 << 20), 0);
	const struct sampler_events *ev = handoff_events(h);
	ev->thread_new(ev->ctx, 1, 10);
	send_sample(ev, 10, 0x11, 1000);
	ev->lost(ev->ctx, 1, 10, LOST_READ_BLOCKED);
	send_sample(ev, 10, 0x22, 3000);
	ev->exec(ev->ctx, 1);
	ev->thread_exit(ev->ctx, 1, 10);
	struct sample_stats st;
	sample_stats_init(&st);
	ev->tick(ev->ctx, &st, 1.0);
	CHECK_EQ_INT(tick_thread, self());
	CHECK_EQ_INT(handoff_finish(h), 0);

	static const int want[] = { E_NEW, E_SAMPLE, E_LOST, E_SAMPLE, E_EXEC, E_EXIT };
	CHECK_EQ_INT(nlog, 6);
	for (int i = 0; i < nlog; i++) {
		CHECK_EQ_INT(log_[i].kind, want[i]);
		CHECK(log_[i].thread != self());
		CHECK_EQ_INT(log_[i].thread, log_[0].thread);
	}
	CHECK_EQ_INT(log_[1].first_byte, 0x11);
	CHECK_EQ_INT(log_[1].len, 1000);
	CHECK_EQ_INT(log_[2].why, LOST_READ_BLOCKED);
	CHECK_EQ_INT(log_[3].first_byte, 0x22);
	CHECK_EQ_INT(log_[3].len, 3000);
}

/* The consumer is held in its first sample; 3 KiB may wait behind it. */
static void test_backlog(void)
{
	struct handoff *h;
	nlog = 0;
	block_first_sample = 1;
	CHECK_EQ_INT(handoff_start(&h, &consumer, 3000), 0);
	const struct sampler_events *ev = handoff_events(h);
	send_sample(ev, 20, 1, 1000);
	sem_wait(&in_handler);
	for (int i = 2; i <= 6; i++)
		send_sample(ev, 20 + i - 1, (uint8_t)i, 1000);
	CHECK_EQ_INT(handoff_dropped(h), 2);
	sem_post(&release);
	CHECK_EQ_INT(handoff_finish(h), 2);

	CHECK_EQ_INT(nlog, 6);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ_INT(log_[i].kind, E_SAMPLE);
		CHECK_EQ_INT(log_[i].first_byte, i + 1);
	}
	for (int i = 4; i < 6; i++) {
		CHECK_EQ_INT(log_[i].kind, E_LOST);
		CHECK_EQ_INT(log_[i].why, LOST_UNWIND_BACKLOG);
		CHECK_EQ_INT(log_[i].tid, 20 + i);
	}
}

int main(void)
{
	sem_init(&in_handler, 0, 0);
	sem_init(&release, 0, 0);
	test_order();
	test_backlog();
	return 0;
}
