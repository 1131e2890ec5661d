/* sampler.c — the stop path.
 *
 * One loop over one epoll set: the perf task-clock ring of every thread (who
 * is due, on which CPU, for how much CPU time), a signalfd (SIGCHLD for ptrace
 * stops and exits; SIGINT/SIGTERM/SIGHUP to end) and timerfds (duration,
 * status ticks, idle-mode sampling). Due threads are interrupted together and
 * each stop is served as it arrives: GETREGSET, stack copy, resume. Snapshots
 * go to the consumer only once no interrupt is outstanding, so that unwinding
 * never runs while a thread waits for us. Triggers: trigger.c; where and at
 * which priority we run: strategy.c. */
#include "sampler_int.h"
#include "remprof/attach.h"
#include "remprof/proc.h"

#include <elf.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void end_run(struct sampler *s, enum sampler_end end)
{
	if (!s->ended) {
		s->ended = 1;
		s->res->end = end;
	}
}

static void fail_run(struct sampler *s, int err, const char *msg)
{
	if (s->ended && s->res->end == SAMPLER_END_ERROR)
		return;
	s->ended = 1;
	s->res->end = SAMPLER_END_ERROR;
	s->res->error = err;
	snprintf(s->res->error_msg, sizeof(s->res->error_msg), "%s", msg);
}

/* ---- threads ---------------------------------------------------------- */

static struct thr *find_thr(struct sampler *s, pid_t tid)
{
	for (size_t i = 0; i < s->nthr; i++)
		if (s->thr[i]->tid == tid)
			return s->thr[i];
	return NULL;
}

static struct proc *find_proc(struct sampler *s, pid_t pid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

/* The array v of *cap elements of `size` bytes, doubled (`first` when
 * empty), *cap updated; NULL without memory (v and *cap left as they were). */
static void *grow(void *v, size_t *cap, size_t size, size_t first)
{
	size_t n = *cap ? *cap * 2 : first;
	void *p = realloc(v, n * size);
	if (p)
		*cap = n;
	return p;
}

static struct thr *add_thr(struct sampler *s, struct proc *p, pid_t tid)
{
	if (s->nthr == s->nthr_cap) {
		struct thr **v = grow(s->thr, &s->nthr_cap, sizeof(*v), 32);
		if (!v)
			return NULL;
		s->thr = v;
	}
	struct thr *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->tid = tid;
	t->p = p;
	t->perf_fd = -1;
	t->cpu = -1;
	t->last_sample_ns = now_ns();
	s->thr[s->nthr++] = t;
	p->nthreads++;
	s->st->threads_seen++;
	return t;
}

/* Register a thread; in CPU mode it gets its trigger. ESRCH from perf means
 * the thread is already gone (its exit report follows). */
static struct thr *track_thread(struct sampler *s, struct proc *p, pid_t tid, int *err)
{
	struct thr *t = add_thr(s, p, tid);
	*err = 0;
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	if (!s->cfg->idle) {
		int e = sampler_trigger_attach(s, t);
		if (e != 0 && e != -ESRCH)
			*err = e;
	}
	return t;
}

/* A snapshot buffer: reused from the spares, or new (then both arrays can
 * hold every buffer there is). NULL without memory. */
static struct snapshot *snap_get(struct sampler *s)
{
	if (s->nspare)
		return s->spare[--s->nspare];
	if (s->nbuffers == s->cap) {
		/* One capacity for both: pending grown first and kept if the
		 * spares cannot follow (it is then just larger than needed). */
		size_t cap = s->cap;
		struct snapshot **p = grow(s->pending, &cap, sizeof(*p), 64);
		if (!p)
			return NULL;
		s->pending = p;
		cap = s->cap;
		struct snapshot **q = grow(s->spare, &cap, sizeof(*q), 64);
		if (!q)
			return NULL;
		s->spare = q;
		s->cap = cap;
	}
	struct snapshot *sn = calloc(1, sizeof(*sn));
	if (sn && !(sn->stack = malloc(s->stack_size))) {
		free(sn);
		return NULL;
	}
	s->nbuffers += sn != NULL;
	return sn;
}

static void snap_put(struct sampler *s, struct snapshot *sn)
{
	s->spare[s->nspare++] = sn;
}

static void snap_free_all(struct sampler *s)
{
	for (size_t i = 0; i < s->nspare; i++) {
		free(s->spare[i]->stack);
		free(s->spare[i]);
	}
	free(s->spare);
	free(s->pending);
	free(s->exits);
}

/* Pending snapshots, then exit events, to the consumer, in order. With
 * `yield`, delivery stops after a snapshot as soon as anything is ready in
 * the epoll set (a trigger, a stop): the consumer unwinds at its own pace,
 * but a due thread is not kept waiting behind it (the trigger would be
 * coalesced, a stop delayed). Level-triggered epoll keeps the event. */
static void deliver(struct sampler *s, int yield)
{
	size_t i = 0;
	while (i < s->npending) {
		struct snapshot *sn = s->pending[i++];
		if (s->ev->sample)
			s->ev->sample(s->ev->ctx, sn);
		snap_put(s, sn);
		struct epoll_event e;
		if (yield && i < s->npending && epoll_wait(s->epfd, &e, 1, 0) > 0)
			break;
	}
	s->npending -= i;
	if (s->npending) {
		memmove(s->pending, s->pending + i, s->npending * sizeof(*s->pending));
		s->oldest_snap = s->pending[0]->time_ns;
		return;
	}
	for (size_t k = 0; k < s->nexits; k++)
		if (s->ev->thread_exit)
			s->ev->thread_exit(s->ev->ctx, s->exits[k].pid, s->exits[k].tid);
	s->nexits = 0;
}

static void deliver_all(struct sampler *s)
{
	deliver(s, 0);
}

static void queue_exit(struct sampler *s, pid_t pid, pid_t tid)
{
	if (s->nexits == s->cap_exits) {
		void *v = grow(s->exits, &s->cap_exits, sizeof(*s->exits), 64);
		if (!v) { /* rather early than never */
			if (s->ev->thread_exit)
				s->ev->thread_exit(s->ev->ctx, pid, tid);
			return;
		}
		s->exits = v;
	}
	s->exits[s->nexits].pid = pid;
	s->exits[s->nexits++].tid = tid;
}

/* Every lost sample goes through here, so the consumer can tell whose. */
void sampler_lose(struct sampler *s, const struct thr *t, enum lost_reason why, uint64_t n)
{
	s->st->lost[why] += n;
	for (uint64_t i = 0; s->ev->lost && i < n; i++)
		s->ev->lost(s->ev->ctx, t->p->pid, t->tid, why);
}

static void remove_thr(struct sampler *s, struct thr *t)
{
	if (t->outstanding) {
		sampler_lose(s, t, LOST_THREAD_EXITED, 1);
		s->outstanding--;
	}
	sampler_trigger_close(s, t);
	t->p->nthreads--;
	for (size_t i = 0; i < s->nthr; i++)
		if (s->thr[i] == t) {
			s->thr[i] = s->thr[--s->nthr];
			break;
		}
	free(t);
}

/* ---- the stop ----------------------------------------------------------- */

static void interrupt_thr(struct sampler *s, struct thr *t)
{
	if (t->due_count > 1)
		sampler_lose(s, t, LOST_TRIGGER_OVERRUN, t->due_count - 1);
	t->weight = t->due_weight;
	t->due_weight = 0;
	t->due_count = 0;
	t->due = 0;
	t->t_int = now_ns();
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) != 0) {
		sampler_lose(s, t, LOST_THREAD_EXITED, 1); /* its exit report follows */
		return;
	}
	t->outstanding = 1;
	s->outstanding++;
}

static int is_due(const struct thr *t)
{
	return t->due && !t->outstanding && !t->detaching;
}

/* While a copy given up on still waits for the target's mmap_lock, every
 * new copy would wait too: the target's threads are then left alone (not
 * stopped at all) and their samples counted as blocked. */
static int skip_blocked(struct sampler *s, struct thr *t)
{
	if (!t->p->copier || !sampler_copier_busy(t->p->copier))
		return 0;
	sampler_lose(s, t, LOST_READ_BLOCKED, t->due_count ? t->due_count : 1);
	t->due = 0;
	t->due_weight = 0;
	t->due_count = 0;
	return 1;
}

static int by_cpu(const void *a, const void *b)
{
	const struct thr *x = *(struct thr *const *)a, *y = *(struct thr *const *)b;
	return (x->cpu > y->cpu) - (x->cpu < y->cpu);
}

/* Interrupt every due thread, grouped by CPU, before serving any stop:
 * waiting for each in turn collapses the rate once threads outnumber CPUs. */
static void interrupt_due(struct sampler *s)
{
	struct thr *batch[256];
	size_t n;
	do { /* in chunks of 256; an interrupted thread is no longer due */
		n = 0;
		for (size_t i = 0; i < s->nthr && n < 256; i++)
			if (is_due(s->thr[i]) && !skip_blocked(s, s->thr[i]))
				batch[n++] = s->thr[i];
		qsort(batch, n, sizeof(batch[0]), by_cpu);
		for (size_t i = 0; i < n; i++) {
			if (i == 0 || batch[i]->cpu != batch[i - 1]->cpu)
				sampler_move_to(s, batch[i]->cpu);
			interrupt_thr(s, batch[i]);
		}
	} while (n == 256);
}

/* How much to copy from sp: up to the end of the cached stack mapping, or
 * stack_size when sp is outside it (then *miss is set). */
static size_t stack_len(const struct sampler *s, const struct thr *t, uint64_t sp, int *miss)
{
	*miss = !(t->stack_hi && sp >= t->stack_lo && sp < t->stack_hi);
	if (*miss)
		return s->stack_size;
	uint64_t avail = t->stack_hi - sp;
	return avail < s->stack_size ? (size_t)avail : s->stack_size;
}

/* After the resume: learn the mapping around sp. maps are re-read only when
 * the cached ones do not cover sp, and at most every MAPS_REFRESH_NS. */
static void refresh_stack(struct thr *t, uint64_t sp)
{
	struct proc *p = t->p;
	if (!p->maps)
		return;
	uint64_t lo, hi;
	if (maps_find_mapping(p->maps, sp, &lo, &hi) != 0) {
		uint64_t now = now_ns();
		if (now - p->maps_time < MAPS_REFRESH_NS || maps_refresh(p->maps) != 0)
			return;
		p->maps_time = now;
		if (maps_find_mapping(p->maps, sp, &lo, &hi) != 0)
			return;
	}
	t->stack_lo = lo;
	t->stack_hi = hi;
}

enum { RESUME_CONT, RESUME_LISTEN, RESUME_DETACH };

static int resume(pid_t tid, int how, int sig)
{
	static const enum __ptrace_request req[] = { PTRACE_CONT, PTRACE_LISTEN, PTRACE_DETACH };
	return (int)ptrace(req[how], tid, 0, (void *)(long)sig);
}

/* Serve one stop: registers, stack copy, resume; nothing else while the
 * thread waits. */
/* When a stop seen at `seen` must end, whatever its copy is waiting for;
 * 0 = never. */
static uint64_t give_up_at(const struct sampler_config *c, uint64_t seen)
{
	uint64_t by = c->max_stop_ns ? seen + c->max_stop_ns : 0;
	if (c->stops_end_by_ns && (!by || c->stops_end_by_ns < by))
		by = c->stops_end_by_ns;
	return by;
}

static void sample_stop(struct sampler *s, struct thr *t, int how, int sig)
{
	uint64_t seen = now_ns();
	struct snapshot *sn = snap_get(s);
	t->outstanding = 0;
	s->outstanding--;
	if (!sn) {
		resume(t->tid, how, sig);
		sampler_lose(s, t, LOST_READ_FAILED, 1);
		return;
	}
	struct iovec iov = { &sn->regs, sizeof(sn->regs) };
	if (ptrace(PTRACE_GETREGSET, t->tid, (void *)NT_PRSTATUS, &iov) != 0) {
		snap_put(s, sn);
		resume(t->tid, how, sig);
		sampler_lose(s, t, LOST_THREAD_EXITED, 1);
		return;
	}
	uint64_t sp = sn->regs.rsp;
	int miss;
	size_t want = stack_len(s, t, sp, &miss);
	uint64_t c0 = now_ns();
	s->st->reads++;
	struct copier *cp = t->p->copier;
	uint64_t give_up = give_up_at(s->cfg, seen);
	ssize_t got = cp ? sampler_copier_copy(cp, t->p->r, t->tid, sp, want, give_up)
			 : reader_copy_until(t->p->r, t->tid, sp, sn->stack, want, give_up);
	uint64_t c1 = now_ns();
	resume(t->tid, how, sig);
	uint64_t resumed = now_ns();

	hist_add(&s->st->int_to_stop_ns, seen - t->t_int);
	hist_add(&s->st->copy_ns, c1 - c0);
	hist_add(&s->st->stop_ns, resumed - t->t_int);
	if (miss)
		refresh_stack(t, sp);
	if (got == -ETIMEDOUT || got == -EBUSY) {
		snap_put(s, sn);
		sampler_lose(s, t, LOST_READ_BLOCKED, 1);
		return;
	}
	if (got <= 0) {
		snap_put(s, sn);
		sampler_lose(s, t, LOST_READ_FAILED, 1);
		return;
	}
	if (cp) /* after the resume: the thread does not wait for this */
		memcpy(sn->stack, sampler_copier_bytes(cp), (size_t)got);
	sn->stop_ns = resumed - t->t_int;
	sn->int_to_stop_ns = seen - t->t_int;
	sn->copy_ns = c1 - c0;
	if (miss) /* judge the short read against the mapping we now know */
		want = stack_len(s, t, sp, &miss);
	sn->pid = t->p->pid;
	sn->tid = t->tid;
	sn->time_ns = seen;
	sn->weight_ns = s->cfg->idle ? seen - t->last_sample_ns : t->weight;
	t->last_sample_ns = seen;
	sn->stack_addr = sp;
	sn->stack_len = (size_t)got;
	sn->partial = (size_t)got < want;
	s->st->partial_reads += (uint64_t)sn->partial;
	s->st->samples++;
	s->st->cpu_time_ns += sn->weight_ns;
	if (s->npending == 0)
		s->oldest_snap = seen;
	s->pending[s->npending++] = sn;
}

/* ---- ptrace events ------------------------------------------------------ */

static void announce_new(struct sampler *s, struct thr *t)
{
	if (s->ev->thread_new)
		s->ev->thread_new(s->ev->ctx, t->p->pid, t->tid);
}

/* A tid we do not know reported a stop: a thread whose parent's clone event
 * is still queued, or a child process that clone() without CLONE_THREAD
 * attached to us. Ours are tracked, others let go. */
static struct thr *adopt(struct sampler *s, pid_t tid)
{
	struct proc_status st;
	struct proc *p = NULL;
	if (proc_read_status(tid, tid, &st) == 0)
		p = find_proc(s, st.tgid);
	if (!p || !p->r || s->ended)
		return NULL;
	int err;
	struct thr *t = track_thread(s, p, tid, &err);
	if (t)
		t->initial_pending = 1;
	return t;
}

static void on_clone(struct sampler *s, struct thr *parent)
{
	unsigned long child = 0;
	ptrace(PTRACE_GETEVENTMSG, parent->tid, 0, &child);
	resume(parent->tid, 0, 0);
	if (child && !find_thr(s, (pid_t)child))
		adopt(s, (pid_t)child);
}

/* PTRACE_EVENT_EXEC: every other thread of the process is gone, the exec'ing
 * thread now has the process id, and the address space is new. */
/* With a bound on stops and a reader other than peek (which gives up by
 * itself), copies go through a copier thread (copier.c). */
static int start_copier(struct sampler *s, struct proc *p)
{
	const struct sampler_config *c = s->cfg;
	if ((!c->max_stop_ns && !c->stops_end_by_ns) || !p->r || reader_kind_of(p->r) == READER_PEEK)
		return 0;
	return sampler_copier_start(&p->copier, s->stack_size);
}

static void restart_copier(struct sampler *s, struct proc *p)
{
	sampler_copier_stop(p->copier);
	p->copier = NULL;
	if (start_copier(s, p) != 0)
		p->copier = NULL; /* unbounded copies rather than none */
}

static void on_exec(struct sampler *s, struct thr *t)
{
	struct proc *p = t->p;
	deliver_all(s); /* they belong to the old image */
	for (size_t i = 0; i < s->nthr; i++) {
		struct thr *o = s->thr[i];
		if (o->p == p && o != t) {
			queue_exit(s, p->pid, o->tid);
			remove_thr(s, o);
			i--;
		}
	}
	if (t->outstanding) { /* the trap may still come; it is then just resumed */
		t->outstanding = 0;
		s->outstanding--;
		sampler_lose(s, t, LOST_THREAD_EXITED, 1);
	}
	sampler_trigger_close(s, t);
	t->stack_hi = 0;
	t->due = 0;
	t->due_weight = 0;
	t->due_count = 0;
	/* /proc/PID/mem is bound to the mm it was opened on; the maps (which
	 * keep the reader) describe the old image. Both are opened anew. */
	struct reader *r;
	if (reader_open(&r, p->pid, s->cfg->reader) == 0) {
		/* A late copy may still use the old reader: wait for it first
		 * (the old image is gone, so it ends). */
		restart_copier(s, p);
		maps_close(p->maps);
		p->maps = NULL;
		reader_close(p->r);
		p->r = r;
	}
	if (!s->cfg->idle)
		sampler_trigger_attach(s, t);
	resume(t->tid, RESUME_CONT, 0);
	maps_close(p->maps);
	if (maps_open(&p->maps, p->pid, p->r) == 0)
		p->maps_time = now_ns();
	else
		p->maps = NULL;
	deliver_all(s); /* the exits of the vanished threads */
	if (s->ev->exec)
		s->ev->exec(s->ev->ctx, p->pid);
}

static int is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* PTRACE_EVENT_STOP: our interrupt's trap, a new thread's first stop, or a
 * group-stop (stop signal in WSTOPSIG), which must be resumed with
 * PTRACE_LISTEN so the thread stays stopped as its process asked. */
static void on_event_stop(struct sampler *s, struct thr *t, int sig)
{
	int group = is_stop_signal(sig);
	int first = t->initial_pending;
	t->initial_pending = 0;
	/* Without an outstanding interrupt this is a new thread's first stop
	 * or the stale trap of an interrupt already served at a
	 * signal-delivery-stop: swallowed, just resumed. */
	if (t->outstanding)
		sample_stop(s, t, group ? RESUME_LISTEN : RESUME_CONT, 0);
	else
		resume(t->tid, group ? RESUME_LISTEN : RESUME_CONT, 0);
	if (first)
		announce_new(s, t);
}

static void on_thread_exit(struct sampler *s, struct thr *t, int status)
{
	struct proc *p = t->p;
	pid_t tid = t->tid;
	remove_thr(s, t);
	if (tid == p->pid && p == &s->procs[0]) {
		s->res->child_status = status;
		s->res->child_reaped = 1;
	}
	queue_exit(s, p->pid, tid);
}

static void on_status(struct sampler *s, pid_t tid, int status)
{
	struct thr *t = find_thr(s, tid);
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (t)
			on_thread_exit(s, t, status);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	int event = status >> 16, sig = WSTOPSIG(status);
	if (!t && !(t = adopt(s, tid))) {
		ptrace(PTRACE_DETACH, tid, 0, (void *)(long)(event == 0 ? sig : 0));
		return;
	}
	switch (event) {
	case PTRACE_EVENT_STOP:
		on_event_stop(s, t, sig);
		break;
	case PTRACE_EVENT_CLONE:
		on_clone(s, t);
		break;
	case PTRACE_EVENT_EXEC:
		on_exec(s, t);
		break;
	case 0:
		/* Signal-delivery-stop: the signal goes on unchanged. If our
		 * interrupt is outstanding, this stop is as good as its trap
		 * (a stale interrupt: the signal came first). The trap itself
		 * still comes (JOBCTL_TRAP_STOP stays set) and, finding no
		 * interrupt outstanding, is swallowed; an interrupt sent
		 * meanwhile merges with it, one bit, one trap. */
		if (t->outstanding)
			sample_stop(s, t, RESUME_CONT, sig);
		else
			resume(tid, RESUME_CONT, sig);
		break;
	default:
		resume(tid, 0, 0);
		break;
	}
}

static void serve_stops(struct sampler *s)
{
	int status;
	pid_t tid;
	while ((tid = waitpid(-1, &status, __WALL | WNOHANG)) > 0)
		on_status(s, tid, status);
}

/* ---- setup and teardown ------------------------------------------------- */

static int timer_fd(struct sampler *s, int tag, uint64_t first_ns, uint64_t interval_ns)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct itimerspec its = {
		.it_value = { (time_t)(first_ns / 1000000000ull), (long)(first_ns % 1000000000ull) },
		.it_interval = { (time_t)(interval_ns / 1000000000ull),
				 (long)(interval_ns % 1000000000ull) },
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)tag };
	if (timerfd_settime(fd, 0, &its, NULL) != 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static void fail_perf(struct sampler *s, int err)
{
	char msg[256];
	if (err == -EACCES || err == -EPERM)
		snprintf(msg, sizeof(msg),
			 "perf_event_open not permitted (kernel.perf_event_paranoid = %d): run as "
			 "root or with CAP_PERFMON, lower it, or use --idle (wall-clock sampling)",
			 sampler_paranoid_level());
	else
		snprintf(msg, sizeof(msg), "perf_event_open (task-clock) failed: %s; try --idle",
			 strerror(-err));
	fail_run(s, err, msg);
}

static int open_procs(struct sampler *s)
{
	const struct sampler_config *c = s->cfg;
	s->procs = calloc(c->npids ? c->npids : 1, sizeof(*s->procs));
	if (!s->procs)
		return -ENOMEM;
	for (size_t i = 0; i < c->npids; i++) {
		struct proc *p = &s->procs[s->nprocs++];
		p->pid = c->pids[i];
		int e = reader_open(&p->r, p->pid, c->reader);
		if (e == -ENOENT || e == -ESRCH)
			continue; /* exited before we began: nothing to sample */
		if (e != 0) {
			fail_run(s, e, "cannot open the target's memory for reading");
			return e;
		}
		if (maps_open(&p->maps, p->pid, p->r) == 0)
			p->maps_time = now_ns();
		else
			p->maps = NULL;
		if ((e = start_copier(s, p)) != 0) {
			fail_run(s, e, "cannot start the copier thread");
			return e;
		}
	}
	return 0;
}

/* Every thread listed now is ours: seized by attach_process() or
 * auto-attached since. */
static int track_initial(struct sampler *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];
		pid_t *tids;
		int n = p->r ? proc_list_threads(p->pid, &tids) : -ENOENT;
		if (n < 0)
			continue; /* exited already; nothing to sample */
		for (int k = 0; k < n; k++) {
			int err;
			if (find_thr(s, tids[k]))
				continue;
			track_thread(s, p, tids[k], &err);
			struct proc_status ps;
			if (proc_read_status(p->pid, tids[k], &ps) == 0 && ps.state == 'R')
				s->running_at_start++;
			if (err) {
				free(tids);
				if (err == -ENOMEM)
					fail_run(s, err, "out of memory");
				else
					fail_perf(s, err);
				return err;
			}
		}
		free(tids);
	}
	return 0;
}

static int setup(struct sampler *s)
{
	const struct sampler_config *c = s->cfg;
	if (!c->idle)
		sampler_raise_fd_limit();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &s->oldmask);
	if (sched_getaffinity(0, sizeof(s->allowed), &s->allowed) != 0)
		CPU_ZERO(&s->allowed);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->epfd < 0 || s->sigfd < 0) {
		fail_run(s, -errno, "cannot create epoll/signalfd");
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_SIGNAL };
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &ev);
	if (open_procs(s) != 0 || track_initial(s) != 0)
		return -1;
	int ok = (s->tickfd = timer_fd(s, TAG_TICK, FIRST_TICK_NS, TICK_NS)) >= 0;
	if (ok && c->duration_s > 0) {
		uint64_t d = (uint64_t)(c->duration_s * 1e9);
		ok = (s->durfd = timer_fd(s, TAG_DURATION, d ? d : 1, 0)) >= 0;
	}
	if (ok && c->idle)
		ok = (s->idlefd = timer_fd(s, TAG_IDLE, s->period_ns, s->period_ns)) >= 0;
	if (!ok) {
		fail_run(s, -EMFILE, "cannot create timers");
		return -1;
	}
	if (c->spawned && c->npids > 0)
		attach_release_child(c->pids[0]);
	s->released = 1;
	return 0;
}

/* Detach a thread at a stop it just reported. A sample that was due is
 * still taken there: the thread is stopped anyway. */
static void detach_at(struct sampler *s, struct thr *t, int status)
{
	int event = status >> 16, sig = WSTOPSIG(status);
	int dsig = event == 0 ? sig : 0;
	if (event == PTRACE_EVENT_CLONE) {
		unsigned long child = 0;
		ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &child);
		struct thr *c = child ? find_thr(s, (pid_t)child) : NULL;
		if (child && !c)
			c = add_thr(s, t->p, (pid_t)child);
		if (c && !c->detaching) {
			c->detaching = 1; /* its first stop is due; no interrupt needed */
			c->initial_pending = 0;
		}
	}
	if (t->outstanding && (event == PTRACE_EVENT_STOP || event == 0))
		sample_stop(s, t, RESUME_DETACH, dsig);
	else
		resume(t->tid, RESUME_DETACH, dsig);
	if (t->outstanding) {
		t->outstanding = 0;
		s->outstanding--;
		sampler_lose(s, t, LOST_THREAD_EXITED, 1);
	}
	t->gone = 1;
}

static void detach_status(struct sampler *s, pid_t tid, int status)
{
	struct thr *t = find_thr(s, tid);
	if (t && t->gone)
		t = NULL;
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (t)
			on_thread_exit(s, t, status);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	if (t)
		detach_at(s, t, status);
	else /* a new thread or foreign child whose clone event we missed */
		ptrace(PTRACE_DETACH, tid, 0,
		       (void *)(long)((status >> 16) == 0 ? WSTOPSIG(status) : 0));
}

static size_t attached_count(const struct sampler *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nthr; i++)
		n += !s->thr[i]->gone;
	return n;
}

/* Let go of every thread: interrupt each (a running tracee cannot be
 * detached), then detach each at the stop it reports, passing along a
 * signal it was about to get. A thread that does not stop within
 * DETACH_WAIT_NS is left to the kernel, which detaches it when we exit. */
static void detach_all(struct sampler *s)
{
	deliver_all(s);
	for (size_t i = 0; i < s->nthr; i++) {
		struct thr *t = s->thr[i];
		sampler_trigger_close(s, t);
		t->detaching = 1;
		/* A spawned child that was never released sits in its exec stop,
		 * already reported: detach it right there. */
		if (!s->released && s->cfg->spawned && t->tid == s->cfg->pids[0] &&
		    ptrace(PTRACE_DETACH, t->tid, 0, 0) == 0) {
			t->gone = 1;
			continue;
		}
		/* Threads with an interrupt outstanding get no second one. */
		if (!t->outstanding && !t->initial_pending &&
		    ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) != 0 &&
		    waitpid(t->tid, NULL, __WALL | WNOHANG) < 0 && errno == ECHILD)
			t->gone = 1; /* not our tracee (any more): nothing to wait for */
	}
	uint64_t deadline = now_ns() + DETACH_WAIT_NS;
	while (attached_count(s) > 0 && now_ns() < deadline) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid > 0) {
			detach_status(s, tid, status);
			continue;
		}
		if (tid < 0 && errno == ECHILD)
			break; /* no tracee left at all */
		struct pollfd pf = { s->sigfd, POLLIN, 0 };
		if (poll(&pf, 1, 20) > 0) {
			struct signalfd_siginfo si;
			while (read(s->sigfd, &si, sizeof(si)) == sizeof(si))
				;
		}
	}
	/* Only now, with every thread let go, the last snapshots. */
	deliver_all(s);
}

static void teardown(struct sampler *s)
{
	detach_all(s);
	while (s->nthr > 0)
		remove_thr(s, s->thr[s->nthr - 1]);
	free(s->thr);
	snap_free_all(s);
	for (size_t i = 0; i < s->nprocs; i++) {
		sampler_copier_stop(s->procs[i].copier); /* before its reader */
		maps_close(s->procs[i].maps);
		reader_close(s->procs[i].r);
	}
	free(s->procs);
	int fds[] = { s->durfd, s->tickfd, s->idlefd, s->sigfd, s->epfd };
	/* (timer_fd() leaves -errno in a field on failure; only fds >= 0 close) */
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (s->cur_cpu >= 0 && CPU_COUNT(&s->allowed) > 0)
		sched_setaffinity(0, sizeof(s->allowed), &s->allowed);
	/* Signals that arrived meanwhile stay consumed: SIGCHLD was drained and
	 * a SIGINT ended the run already. */
	pthread_sigmask(SIG_SETMASK, &s->oldmask, NULL);
}

/* ---- the loop ----------------------------------------------------------- */

/* One read takes every pending signal (they are few: SIGCHLD coalesces),
 * so that a stop costs no second read to find the queue empty. */
static void on_signalfd(struct sampler *s)
{
	struct signalfd_siginfo si[8];
	int chld = 0;
	ssize_t n = read(s->sigfd, si, sizeof(si));
	for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(si[0]); i++) {
		if (si[i].ssi_signo == SIGCHLD)
			chld = 1;
		else if (!s->ended) {
			s->res->signal = (int)si[i].ssi_signo;
			end_run(s, SAMPLER_END_SIGNAL);
		}
	}
	if (chld)
		serve_stops(s);
}

static void on_tick(struct sampler *s, int fd)
{
	uint64_t n;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	/* A SIGCHLD can be lost before our mask was in place; sweep anyway. */
	serve_stops(s);
	sampler_adapt(s);
	if (s->ev->tick)
		s->ev->tick(s->ev->ctx, s->st, (double)(now_ns() - s->t0) / 1e9);
}

static void on_idle_tick(struct sampler *s)
{
	uint64_t n;
	if (read(s->idlefd, &n, sizeof(n)) != sizeof(n))
		return;
	for (size_t i = 0; i < s->nthr; i++)
		s->thr[i]->due = 1;
}

static void dispatch(struct sampler *s, uint64_t tag, uint32_t events)
{
	if (tag & PERF_TAG) {
		struct thr *t = find_thr(s, (pid_t)(tag & 0xffffffffu));
		if (!t)
			return;
		sampler_trigger_drain(s, t);
		/* POLLHUP: the thread exited; its exit report comes via waitpid. */
		if (events & (EPOLLHUP | EPOLLERR))
			sampler_trigger_close(s, t);
		return;
	}
	uint64_t n;
	switch (tag) {
	case TAG_SIGNAL:
		on_signalfd(s);
		break;
	case TAG_DURATION:
		if (read(s->durfd, &n, sizeof(n)) == sizeof(n))
			end_run(s, SAMPLER_END_DURATION);
		break;
	case TAG_TICK:
		on_tick(s, s->tickfd);
		break;
	case TAG_IDLE:
		on_idle_tick(s);
		break;
	}
}

/* A process-directed SIGCHLD goes to any thread that does not block it; if
 * the caller has such threads, a stop can come without one. While interrupts
 * are outstanding, waitpid is swept at least every SWEEP_MS. */
#define SWEEP_MS 5

static int wait_timeout_ms(const struct sampler *s)
{
	int ms = s->outstanding ? SWEEP_MS : -1;
	if (s->npending == 0)
		return ms;
	uint64_t age = now_ns() - s->oldest_snap;
	int flush = age >= FLUSH_NS ? 0 : (int)((FLUSH_NS - age) / 1000000ull) + 1;
	return ms < 0 || flush < ms ? flush : ms;
}

static void run_loop(struct sampler *s)
{
	struct epoll_event evs[64];
	serve_stops(s); /* stops queued between attach and now */
	while (!s->ended) {
		int n = epoll_wait(s->epfd, evs, 64, wait_timeout_ms(s));
		if (n < 0 && errno != EINTR) {
			fail_run(s, -errno, "epoll_wait failed");
			break;
		}
		for (int i = 0; i < n; i++)
			dispatch(s, evs[i].data.u64, evs[i].events);
		if (n == 0 && s->outstanding)
			serve_stops(s);
		interrupt_due(s);
		if ((s->npending || s->nexits) &&
		    (s->outstanding == 0 || now_ns() - s->oldest_snap >= FLUSH_NS))
			deliver(s, 1);
		if (s->nthr == 0)
			end_run(s, SAMPLER_END_EXITED);
	}
}

int sampler_run(const struct sampler_config *cfg, const struct sampler_events *ev,
		struct sample_stats *stats, struct sampler_result *res)
{
	struct sampler s;
	memset(&s, 0, sizeof(s));
	memset(res, 0, sizeof(*res));
	s.cfg = cfg;
	s.ev = ev;
	s.st = stats;
	s.res = res;
	s.epfd = s.sigfd = s.durfd = s.tickfd = s.idlefd = -1;
	s.cur_cpu = -1;
	s.period_ns = 1000000000ull / (cfg->freq_hz ? cfg->freq_hz : DEFAULT_FREQ);
	s.stack_size = cfg->stack_size ? cfg->stack_size : DEFAULT_STACK;
	s.t0 = now_ns();
	s.old_policy = -1;
	if (setup(&s) == 0) {
		sampler_strategy_init(&s);
		run_loop(&s);
	}
	sampler_strategy_end(&s);
	teardown(&s);
	/* Safety net for error paths that ended before every thread was tracked:
	 * whatever is still traced by us is let go here. */
	for (size_t i = 0; i < cfg->npids; i++)
		attach_detach(cfg->pids[i]);
	res->elapsed_s = (double)(now_ns() - s.t0) / 1e9;
	return res->end == SAMPLER_END_ERROR ? res->error : 0;
}
