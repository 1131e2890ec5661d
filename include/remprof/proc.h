/* proc.h — small facts about processes and threads from /proc. */
#ifndef REMPROF_PROC_H
#define REMPROF_PROC_H

#include <stddef.h>
#include <sys/types.h>

struct proc_status {
	char state;       /* 'R', 'S', 'D', 'T', 't', 'Z', 'X', ... */
	pid_t tgid;
	pid_t tracer_pid; /* TracerPid: 0 if untraced */
	int is_kernel_thread;
	char comm[64];
};

/* 0 or -errno (ENOENT: no such process/thread). tid may be a pid. */
int proc_read_status(pid_t pid, pid_t tid, struct proc_status *out);
/* Thread ids of pid (from /proc/PID/task). Returns count (>= 0) or -errno;
 * *tids is malloc'ed and owned by the caller. */
int proc_list_threads(pid_t pid, pid_t **tids);
/* The thread's name (/proc/PID/task/TID/comm) into buf; 0 or -errno. */
int proc_thread_name(pid_t pid, pid_t tid, char *buf, size_t len);
/* The command line, arguments joined by spaces; malloc'ed, NULL on error. */
char *proc_cmdline(pid_t pid);
/* Kernel release (uname -r) into buf. */
void proc_kernel_release(char *buf, size_t len);
/* CPU time (utime + stime) of the whole process, in ns; -errno on error. */
long long proc_cpu_time_ns(pid_t pid);

#endif
