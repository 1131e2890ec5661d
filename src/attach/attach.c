/* attach.c — PTRACE_SEIZE every thread of a process (or of a command we
 * start), classify why that failed, and let go again. */
#include "remprof/attach.h"
#include "remprof/clock.h"
#include "remprof/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEIZE_OPTIONS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC)
/* How long attach_detach() waits for a thread to stop before giving up on
 * it. A thread that never stops (stuck in D state) is detached by the kernel
 * when we exit; waiting forever would only hang remprof. */
#define DETACH_WAIT_NS 2000000000ull

struct tidset {
	pid_t *v;
	int n, cap;
};

static int tidset_has(const struct tidset *s, pid_t tid)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i] == tid)
			return 1;
	return 0;
}

static int tidset_add(struct tidset *s, pid_t tid)
{
	if (tidset_has(s, tid))
		return 0;
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 16;
		pid_t *v = realloc(s->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = tid;
	return 0;
}

static void tidset_del(struct tidset *s, int i)
{
	s->v[i] = s->v[--s->n];
}

/* Act on one reported stop of a thread we are letting go: 1 when the thread
 * is gone from our care (detached or dead), 0 if it must be waited for again. */
static int detach_after_stop(pid_t tid, int status, struct tidset *s)
{
	if (WIFEXITED(status) || WIFSIGNALED(status))
		return 1;
	if (!WIFSTOPPED(status))
		return 0;
	int event = status >> 16, sig = WSTOPSIG(status);
	if (event == PTRACE_EVENT_CLONE) {
		/* The new thread is already traced by us; it must be let go too. */
		unsigned long child = 0;
		if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0 && child)
			tidset_add(s, (pid_t)child);
	}
	/* A signal-delivery-stop's signal is passed on; a group-stop (event
	 * stop with a stop signal) stays a group-stop after the detach. */
	ptrace(PTRACE_DETACH, tid, 0, (void *)(long)(event == 0 ? sig : 0));
	return 1;
}

/* Detach every thread in s: interrupt all, then serve their stops. */
static void detach_set(struct tidset *s)
{
	for (int i = 0; i < s->n; i++)
		ptrace(PTRACE_INTERRUPT, s->v[i], 0, 0);
	uint64_t deadline = now_ns() + DETACH_WAIT_NS;
	int interrupted = s->n;
	while (s->n > 0 && now_ns() < deadline) {
		int progress = 0;
		for (int i = 0; i < s->n; i++) {
			int status;
			pid_t r = waitpid(s->v[i], &status, __WALL | WNOHANG);
			if (r == 0)
				continue;
			progress = 1;
			if (r < 0 || detach_after_stop(s->v[i], status, s)) {
				tidset_del(s, i);
				i--;
			}
		}
		/* Threads added from clone events still need their interrupt. */
		for (; interrupted < s->n; interrupted++)
			ptrace(PTRACE_INTERRUPT, s->v[interrupted], 0, 0);
		if (!progress)
			nanosleep(&(struct timespec){ 0, 200000 }, NULL);
	}
}

int attach_detach(pid_t pid)
{
	pid_t *list;
	int n = proc_list_threads(pid, &list);
	if (n < 0)
		return n;
	struct tidset s = { 0 };
	/* TracerPid names the tracing thread; only it may detach. */
	pid_t me = gettid();
	for (int i = 0; i < n; i++) {
		struct proc_status st;
		if (proc_read_status(pid, list[i], &st) == 0 && st.tracer_pid == me)
			tidset_add(&s, list[i]);
	}
	free(list);
	detach_set(&s);
	free(s.v);
	return 0;
}

static enum attach_error classify_status(pid_t pid, int *detail)
{
	struct proc_status st;
	int e = proc_read_status(pid, pid, &st);
	if (e == -ENOENT || e == -ESRCH)
		return ATTACH_NO_SUCH_PROCESS;
	if (e < 0) {
		*detail = -e;
		return ATTACH_OTHER;
	}
	if (st.is_kernel_thread)
		return ATTACH_KERNEL_THREAD;
	if (st.tracer_pid != 0) {
		*detail = st.tracer_pid;
		return ATTACH_ALREADY_TRACED;
	}
	if (st.state == 'Z' || st.state == 'X') {
		/* A leader that called pthread_exit() is a zombie while its other
		 * threads run on: that process can still be profiled. */
		pid_t *tids;
		int n = proc_list_threads(pid, &tids);
		if (n >= 0)
			free(tids);
		if (n <= 1)
			return ATTACH_ZOMBIE;
	}
	return ATTACH_OK;
}

/* Why PTRACE_SEIZE of tid failed with EPERM: another tracer, one of our own
 * auto-attached clones (ATTACH_OK), an exiting thread (ATTACH_ZOMBIE) or
 * plain permission. */
static enum attach_error classify_eperm(pid_t pid, pid_t tid, int *detail)
{
	struct proc_status st;
	if (proc_read_status(pid, tid, &st) != 0)
		return ATTACH_NO_SUCH_PROCESS;
	if (st.tracer_pid == gettid())
		return ATTACH_OK;
	if (st.tracer_pid != 0) {
		*detail = st.tracer_pid;
		return ATTACH_ALREADY_TRACED;
	}
	if (st.state == 'Z' || st.state == 'X')
		return ATTACH_ZOMBIE;
	return ATTACH_PERMISSION;
}

/* One pass over /proc/PID/task: seize what is new. Returns the number of
 * threads added, or -1 with *err set. */
static int seize_pass(pid_t pid, struct tidset *s, enum attach_error *err, int *detail)
{
	pid_t *list;
	int n = proc_list_threads(pid, &list);
	if (n < 0) {
		*err = (n == -ENOENT || n == -ESRCH) ? ATTACH_NO_SUCH_PROCESS : ATTACH_OTHER;
		*detail = -n;
		return -1;
	}
	int added = 0;
	for (int i = 0; i < n; i++) {
		pid_t tid = list[i];
		if (tidset_has(s, tid))
			continue;
		enum attach_error e = ATTACH_OK;
		if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)SEIZE_OPTIONS) != 0) {
			if (errno == ESRCH)
				continue; /* exited since the listing */
			if (errno != EPERM) {
				*detail = errno;
				e = ATTACH_OTHER;
			} else {
				e = classify_eperm(pid, tid, detail);
				if (e == ATTACH_ZOMBIE || e == ATTACH_NO_SUCH_PROCESS)
					continue; /* an exiting thread is no thread to sample */
			}
		}
		if (e == ATTACH_OK && tidset_add(s, tid) != 0) {
			/* tid is seized but cannot be recorded: let it go right away. */
			struct tidset one = { &tid, 1, 1 };
			detach_set(&one);
			e = ATTACH_OTHER;
			*detail = ENOMEM;
		}
		if (e != ATTACH_OK) {
			free(list);
			*err = e;
			return -1;
		}
		added++;
	}
	free(list);
	return added;
}

enum attach_error attach_process(pid_t pid, pid_t **tids, int *ntids, int *detail)
{
	*detail = 0;
	if (pid <= 0)
		return ATTACH_NO_SUCH_PROCESS;
	enum attach_error err = classify_status(pid, detail);
	if (err != ATTACH_OK)
		return err;
	struct tidset s = { 0 };
	/* Threads may be created while we seize the others; re-list until a
	 * pass finds nothing new. Threads created after a thread was seized are
	 * auto-attached through PTRACE_O_TRACECLONE. */
	int added;
	while ((added = seize_pass(pid, &s, &err, detail)) > 0)
		;
	if (added == 0 && s.n == 0) {
		err = classify_status(pid, detail);
		if (err == ATTACH_OK)
			err = ATTACH_NO_SUCH_PROCESS;
		added = -1;
	}
	if (added < 0) {
		detach_set(&s);
		free(s.v);
		return err;
	}
	*tids = s.v;
	*ntids = s.n;
	return ATTACH_OK;
}

static int write_all(int fd, const void *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

/* In the child: wait until the parent has seized us, then exec. A failed
 * exec sends errno up the close-on-exec pipe. */
static void spawn_child(char *const argv[], int go_fd, int err_fd)
{
	char c;
	while (read(go_fd, &c, 1) < 0 && errno == EINTR)
		;
	/* remprof blocks SIGINT/SIGTERM/SIGHUP to read them from a signalfd;
	 * the command must not inherit that (a blocked mask survives exec). */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	int e = errno;
	write_all(err_fd, &e, sizeof(e));
	_exit(127);
}

int attach_spawn(char *const argv[], pid_t *child)
{
	if (!argv || !argv[0])
		return -EINVAL;
	int go[2], err[2];
	if (pipe2(go, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) != 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		return -e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(go[0]), close(go[1]), close(err[0]), close(err[1]);
		return -e;
	}
	if (pid == 0) {
		close(go[1]);
		close(err[0]);
		spawn_child(argv, go[0], err[1]);
	}
	close(go[0]);
	close(err[1]);
	int rc = 0;
	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)SEIZE_OPTIONS) != 0)
		rc = -errno;
	if (rc == 0 && write_all(go[1], "g", 1) != 0)
		rc = -EPIPE;
	close(go[1]);
	int child_errno = 0;
	ssize_t n;
	while ((n = read(err[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	close(err[0]);
	if (rc == 0 && n == (ssize_t)sizeof(child_errno))
		rc = -child_errno;
	if (rc != 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
			;
		return rc;
	}
	/* The exec succeeded: the child now reports PTRACE_EVENT_EXEC and stays
	 * in that stop, before the new program's first instruction, until it is
	 * released. */
	int status;
	while (waitpid(pid, &status, __WALL) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (!WIFSTOPPED(status))
		return -ECHILD;
	*child = pid;
	return 0;
}

void attach_release_child(pid_t child)
{
	ptrace(PTRACE_CONT, child, 0, 0);
}

static void read_tracer(pid_t tracer, char *comm, size_t len)
{
	struct proc_status st;
	if (proc_read_status(tracer, tracer, &st) == 0)
		snprintf(comm, len, "%s", st.comm);
	else
		snprintf(comm, len, "?");
}

/* Yama's ptrace_scope, or -1 without Yama. */
static int yama_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	if (!f)
		return -1;
	int v = -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* The real uid of pid from /proc/PID/status, or -1. */
static long target_uid(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long uid = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %ld", &uid) == 1)
			break;
	fclose(f);
	return uid;
}

static void describe_permission(pid_t pid, char *buf, size_t len)
{
	char yama[128] = "";
	int scope = yama_scope();
	if (scope >= 0)
		snprintf(yama, sizeof(yama), "; Yama ptrace_scope is %d%s", scope,
			 scope >= 1 ? " (0 allows tracing non-descendants: "
				      "sysctl kernel.yama.ptrace_scope=0)" : "");
	long uid = target_uid(pid);
	snprintf(buf, len,
		 "cannot attach to %d: Operation not permitted (run as root or with CAP_SYS_PTRACE, "
		 "or as the target's user: uid %ld, you are uid %ld%s)",
		 (int)pid, uid, (long)getuid(), yama);
}

void attach_describe(enum attach_error e, pid_t pid, int detail, char *buf, size_t len)
{
	char comm[64];
	switch (e) {
	case ATTACH_OK:
		snprintf(buf, len, "attached to %d", (int)pid);
		break;
	case ATTACH_NO_SUCH_PROCESS:
		snprintf(buf, len, "no such process: %d", (int)pid);
		break;
	case ATTACH_PERMISSION:
		describe_permission(pid, buf, len);
		break;
	case ATTACH_ALREADY_TRACED:
		read_tracer(detail, comm, sizeof(comm));
		snprintf(buf, len, "cannot attach to %d: it is already traced by %d (%s); "
			 "only one tracer at a time, detach that one first",
			 (int)pid, detail, comm);
		break;
	case ATTACH_KERNEL_THREAD:
		snprintf(buf, len, "cannot attach to %d: it is a kernel thread, "
			 "which has no user stack to sample", (int)pid);
		break;
	case ATTACH_ZOMBIE:
		snprintf(buf, len, "cannot attach to %d: it is a zombie (it exited and its "
			 "parent has not reaped it)", (int)pid);
		break;
	default:
		snprintf(buf, len, "cannot attach to %d: %s", (int)pid, strerror(detail));
		break;
	}
}
