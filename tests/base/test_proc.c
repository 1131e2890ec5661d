/* test_proc.c — /proc facts about a real multi-threaded child. */
#include "remprof/proc.h"
#include "../check.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "proc-worker");
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	int ready[2];
	CHECK(pipe(ready) == 0);
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		pthread_t t[3];
		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], NULL, sleeper, NULL);
		sleep(0);
		usleep(100000);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	char c;
	CHECK(read(ready[0], &c, 1) == 1);

	pid_t *tids = NULL;
	int n = proc_list_threads(child, &tids);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(tids[0], child);      /* sorted; the leader has the lowest tid */
	char name[64];
	CHECK_EQ_INT(proc_thread_name(child, tids[1], name, sizeof(name)), 0);
	CHECK_EQ_STR(name, "proc-worker");

	struct proc_status st;
	CHECK_EQ_INT(proc_read_status(child, tids[2], &st), 0);
	CHECK_EQ_INT(st.tgid, child);
	CHECK_EQ_INT(st.tracer_pid, 0);
	CHECK(st.state == 'S');
	CHECK(!st.is_kernel_thread);
	CHECK_EQ_INT(proc_read_status(2, 2, &st), 0);   /* kthreadd */
	CHECK(st.is_kernel_thread);
	CHECK(proc_read_status(child, 1, &st) < 0);      /* not a thread of child */

	char *cmd = proc_cmdline(child);
	CHECK(cmd && strstr(cmd, "test_proc"));
	free(cmd);
	CHECK(proc_cpu_time_ns(child) >= 0);
	free(tids);

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	CHECK(proc_list_threads(child, &tids) < 0);
	return 0;
}
