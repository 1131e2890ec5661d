/* trigger.c — who is due: one perf task-clock event per target thread
 * (sample_period = 1/F s of the thread's CPU time), read from a small ring.
 * Nothing is ever delivered to the target by it (unlike perf's sigtrap,
 * which kills targets when the profiler dies: measurements §6). */
#include "sampler_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int perf_open(struct sampler *s, pid_t tid)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.sample_period = s->period_ns;
	a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD;
	a.wakeup_events = 1;
	a.exclude_hv = 1;
	a.use_clockid = 1;
	a.clockid = CLOCK_MONOTONIC;
	for (;;) {
		a.exclude_kernel = (unsigned)s->exclude_kernel;
		int fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd >= 0)
			return fd;
		/* perf_event_paranoid 2 forbids counting kernel time of others. */
		if (errno == EACCES && !s->exclude_kernel) {
			s->exclude_kernel = 1;
			continue;
		}
		return -errno;
	}
}

void sampler_trigger_close(struct sampler *s, struct thr *t)
{
	if (t->ring)
		munmap(t->ring, RING_PAGES * (size_t)sysconf(_SC_PAGESIZE));
	if (t->perf_fd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, t->perf_fd, NULL);
		close(t->perf_fd);
	}
	t->ring = NULL;
	t->perf_fd = -1;
}

/* The task-clock trigger of a thread; 0 or -errno. */
int sampler_trigger_attach(struct sampler *s, struct thr *t)
{
	int fd = perf_open(s, t->tid);
	if (fd < 0)
		return fd;
	size_t len = RING_PAGES * (size_t)sysconf(_SC_PAGESIZE);
	void *ring = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = PERF_TAG | (uint32_t)t->tid };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int e = errno;
		munmap(ring, len);
		close(fd);
		return -e;
	}
	t->perf_fd = fd;
	t->ring = ring;
	return 0;
}

static void ring_copy(const struct perf_event_mmap_page *ring, uint64_t off, void *dst, size_t len)
{
	const uint8_t *data = (const uint8_t *)ring + ring->data_offset;
	uint64_t size = ring->data_size;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)dst)[i] = data[(off + i) % size];
}

static void note_trigger(struct thr *t, int cpu, uint64_t period)
{
	t->due = 1;
	t->due_weight += period;
	t->due_count++;
	t->window_triggers++;
	t->cpu = cpu;
}

/* Drain a thread's ring: each sample record says the thread is due. */
void sampler_trigger_drain(struct sampler *s, struct thr *t)
{
	struct perf_event_mmap_page *ring = t->ring;
	if (!ring)
		return;
	uint64_t head = __atomic_load_n(&ring->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = ring->data_tail;
	while (tail < head) {
		struct perf_event_header h;
		ring_copy(ring, tail, &h, sizeof(h));
		if (h.size < sizeof(h))
			break;
		uint8_t rec[256];
		size_t len = h.size < sizeof(rec) ? h.size : sizeof(rec);
		ring_copy(ring, tail, rec, len);
		if (h.type == PERF_RECORD_SAMPLE && len >= sizeof(h) + 32) {
			/* TID (pid, tid) | TIME | CPU (cpu, res) | PERIOD */
			uint32_t cpu;
			uint64_t period;
			memcpy(&cpu, rec + sizeof(h) + 16, sizeof(cpu));
			memcpy(&period, rec + sizeof(h) + 24, sizeof(period));
			note_trigger(t, (int)cpu, period);
		} else if (h.type == PERF_RECORD_LOST && len >= sizeof(h) + 16) {
			uint64_t lost;
			memcpy(&lost, rec + sizeof(h) + 8, sizeof(lost));
			sampler_lose(s, t, LOST_TRIGGER_OVERRUN, lost);
		}
		tail += h.size;
	}
	__atomic_store_n(&ring->data_tail, tail, __ATOMIC_RELEASE);
}

/* One perf fd per target thread: a target with a thousand threads would hit
 * the usual soft limit of 1024, so it is raised to the hard limit. */
void sampler_raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int sampler_paranoid_level(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
	int v = -99;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -99;
		fclose(f);
	}
	return v;
}
