/* target.h — what the C tests check of a target process after remprof let
 * go of it, and how they end it. Header-only; needs base_lib (proc.h). */
#ifndef REMPROF_TESTS_TARGET_H
#define REMPROF_TESTS_TARGET_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "remprof/proc.h"
#include "check.h"

/* Every thread of pid untraced, and not stopped (a group-stop 'T' allowed
 * with allow_stopped: a target that was SIGSTOPped stays so). */
static inline void check_untraced_running(pid_t pid, int allow_stopped)
{
	pid_t *tids;
	int n = proc_list_threads(pid, &tids);
	CHECK(n > 0);
	for (int i = 0; i < n; i++) {
		struct proc_status st;
		if (proc_read_status(pid, tids[i], &st) != 0)
			continue; /* exited meanwhile */
		if (st.tracer_pid != 0 || st.state == 't' || (!allow_stopped && st.state == 'T')) {
			fprintf(stderr, "thread %d: TracerPid %d state %c\n", tids[i],
				st.tracer_pid, st.state);
			exit(1);
		}
	}
	free(tids);
}

static inline void kill_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

#endif
