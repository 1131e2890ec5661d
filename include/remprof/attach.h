/* attach.h — become the ptrace tracer of every thread of a process, and let go.
 *
 * PTRACE_SEIZE only (no SIGSTOP, no PTRACE_ATTACH): the target never sees a
 * stop it did not ask for. New threads are followed through PTRACE_O_TRACECLONE,
 * exec through PTRACE_O_TRACEEXEC. No PTRACE_O_EXITKILL: if remprof dies the
 * kernel detaches and the target runs on. */
#ifndef REMPROF_ATTACH_H
#define REMPROF_ATTACH_H

#include <sys/types.h>

/* Why an attach failed, for the CLI to choose message and exit code. */
enum attach_error {
	ATTACH_OK,
	ATTACH_NO_SUCH_PROCESS,
	ATTACH_PERMISSION,
	ATTACH_ALREADY_TRACED,  /* tracer pid in *detail */
	ATTACH_KERNEL_THREAD,
	ATTACH_ZOMBIE,
	ATTACH_OTHER,           /* errno in *detail */
};

/* Seize every thread of pid (re-listing /proc/PID/task until no new thread
 * appears). On failure nothing stays attached. *tids and *ntids: the seized set
 * (malloc'ed). */
enum attach_error attach_process(pid_t pid, pid_t **tids, int *ntids, int *detail);

/* Start argv[0] as a child, seized before it execs; it runs once
 * attach_release_child() is called. Returns 0 or -errno (ENOENT/EACCES when
 * the command cannot be executed). */
int attach_spawn(char *const argv[], pid_t *child);
void attach_release_child(pid_t child);

/* Let go of every thread of pid that this process traces (for callers that
 * attached but will not run the sampler, which detaches by itself): each
 * thread is interrupted, its stop awaited (bounded) and detached, passing on a
 * signal it was about to receive. 0 or -errno. */
int attach_detach(pid_t pid);

/* One-line human explanation of an attach error, including what would fix it
 * (root or CAP_SYS_PTRACE, same user, Yama ptrace_scope, the tracer's name). */
void attach_describe(enum attach_error e, pid_t pid, int detail, char *buf, size_t len);

#endif
