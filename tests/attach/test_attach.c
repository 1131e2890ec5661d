/* test_attach — seize and detach real processes, and every error class. */
#include "remprof/attach.h"
#include "remprof/proc.h"
#include "../check.h"
#include "../target.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
}

static volatile int spin_forever = 1;

static void *spinner(void *arg)
{
	(void)arg;
	while (spin_forever)
		;
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* Thread churn: threads created and joined continuously. */
static void *churn_once(void *arg)
{
	return arg;
}

static pid_t start_threads(int nspin, int nsleep, int churn)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid)
		return pid;
	pthread_t t;
	for (int i = 0; i < nspin; i++)
		pthread_create(&t, NULL, spinner, NULL);
	for (int i = 0; i < nsleep; i++)
		pthread_create(&t, NULL, sleeper, NULL);
	for (;;) {
		if (churn) {
			pthread_create(&t, NULL, churn_once, NULL);
			pthread_join(t, NULL);
		} else {
			pause();
		}
	}
}

static int count_threads(pid_t pid)
{
	pid_t *tids;
	int n = proc_list_threads(pid, &tids);
	if (n > 0)
		free(tids);
	return n;
}

static void wait_threads(pid_t pid, int n)
{
	for (int i = 0; i < 200 && count_threads(pid) < n; i++)
		msleep(10);
	CHECK(count_threads(pid) >= n);
}

static void test_seize_detach(void)
{
	pid_t pid = start_threads(2, 3, 0);
	wait_threads(pid, 6);
	pid_t *tids;
	int n, detail;
	CHECK_EQ_INT(attach_process(pid, &tids, &n, &detail), ATTACH_OK);
	CHECK_EQ_INT(n, 6);
	for (int i = 0; i < n; i++) {
		struct proc_status st;
		CHECK_EQ_INT(proc_read_status(pid, tids[i], &st), 0);
		CHECK_EQ_INT(st.tracer_pid, getpid());
	}
	free(tids);
	CHECK_EQ_INT(attach_detach(pid), 0);
	check_untraced_running(pid, 0);
	kill_reap(pid);
}

static void test_churn(void)
{
	pid_t pid = start_threads(1, 0, 1);
	msleep(100);
	for (int round = 0; round < 5; round++) {
		pid_t *tids;
		int n, detail;
		CHECK_EQ_INT(attach_process(pid, &tids, &n, &detail), ATTACH_OK);
		CHECK(n >= 2);
		free(tids);
		msleep(20);
		CHECK_EQ_INT(attach_detach(pid), 0);
		msleep(20);
		check_untraced_running(pid, 0);
	}
	kill_reap(pid);
}

static void test_errors(void)
{
	pid_t *tids;
	int n, detail;
	char msg[512];

	CHECK_EQ_INT(attach_process(0x3fffffff, &tids, &n, &detail), ATTACH_NO_SUCH_PROCESS);
	CHECK_EQ_INT(attach_process(2, &tids, &n, &detail), ATTACH_KERNEL_THREAD);
	attach_describe(ATTACH_KERNEL_THREAD, 2, 0, msg, sizeof(msg));
	CHECK(strstr(msg, "kernel thread"));

	pid_t z = fork();
	CHECK(z >= 0);
	if (z == 0)
		_exit(0);
	struct proc_status st = { 0 };
	for (int i = 0; i < 200 && (proc_read_status(z, z, &st) != 0 || st.state != 'Z'); i++)
		msleep(5);
	CHECK_EQ_INT(attach_process(z, &tids, &n, &detail), ATTACH_ZOMBIE);
	waitpid(z, NULL, 0);

	/* Already traced: a second process seizes the target first. */
	pid_t target = start_threads(0, 0, 0);
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t tracer = fork();
	CHECK(tracer >= 0);
	if (tracer == 0) {
		char ok = ptrace(PTRACE_SEIZE, target, 0, 0) == 0 ? 'y' : 'n';
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char ok;
	CHECK(read(p[0], &ok, 1) == 1 && ok == 'y');
	CHECK_EQ_INT(attach_process(target, &tids, &n, &detail), ATTACH_ALREADY_TRACED);
	CHECK_EQ_INT(detail, tracer);
	attach_describe(ATTACH_ALREADY_TRACED, target, detail, msg, sizeof(msg));
	CHECK(strstr(msg, "already traced"));
	kill_reap(tracer);
	kill_reap(target);

	/* Permission: an unprivileged user may not trace root's process. */
	target = start_threads(0, 0, 0);
	pid_t probe = fork();
	CHECK(probe >= 0);
	if (probe == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(77);
		_exit(attach_process(target, &tids, &n, &detail) == ATTACH_PERMISSION ? 0 : 1);
	}
	int status;
	CHECK(waitpid(probe, &status, 0) == probe);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) != 77)
		CHECK_EQ_INT(WEXITSTATUS(status), 0);
	attach_describe(ATTACH_PERMISSION, target, 0, msg, sizeof(msg));
	CHECK(strstr(msg, "CAP_SYS_PTRACE"));
	kill_reap(target);
}

static void test_spawn(void)
{
	pid_t child = 0;
	char *missing[] = { "/nonexistent/remprof-no-such-command", NULL };
	CHECK_EQ_INT(attach_spawn(missing, &child), -ENOENT);
	char *noexec[] = { "/etc/passwd", NULL };
	CHECK_EQ_INT(attach_spawn(noexec, &child), -EACCES);

	char *cmd[] = { "sh", "-c", "exit 7", NULL };
	CHECK_EQ_INT(attach_spawn(cmd, &child), 0);
	struct proc_status st;
	CHECK_EQ_INT(proc_read_status(child, child, &st), 0);
	CHECK_EQ_INT(st.tracer_pid, getpid());
	CHECK(st.state == 't');
	attach_release_child(child);
	int status;
	for (;;) {
		CHECK(waitpid(child, &status, __WALL) == child);
		if (WIFEXITED(status))
			break;
		CHECK(WIFSTOPPED(status));
		ptrace(PTRACE_CONT, child, 0, 0);
	}
	CHECK_EQ_INT(WEXITSTATUS(status), 7);
}

int main(void)
{
	test_seize_detach();
	test_churn();
	test_errors();
	test_spawn();
	return 0;
}
