/* test_lockwatch.c — lockwatch against real children: remprof-side
 * acquisitions per read, target-side waits, and that no tracing state is left
 * behind (normal close, SIGTERM, SIGKILL + next open).
 * usage: test_lockwatch reads|waits|cleanup */
#include "remprof/lockwatch.h"
#include "../check.h"
#include "children.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SKIP 77
#define NREADS 100
#define READ_LEN 16384

static struct lockwatch_results res; /* 32 KiB: keep it off the stack */

static struct lockwatch *open_or_skip(pid_t pid)
{
	struct lockwatch *lw;
	int ret = lockwatch_open(&lw, &pid, 1, NULL, 0);
	if (ret == -ENOENT) {
		fprintf(stderr, "no tracefs or no mmap_lock tracepoints: skipped\n");
		exit(SKIP);
	}
	CHECK_EQ_INT(ret, 0);
	return lw;
}

static uint64_t self_acquisitions(struct lockwatch *lw)
{
	CHECK(lockwatch_poll(lw) >= 0);
	CHECK_EQ_INT(lockwatch_results(lw, &res), 0);
	CHECK_EQ_INT(res.target_mms, 1);
	return res.self.acquisitions;
}

struct reader_arg {
	pid_t pid;
	uint64_t addr;
	int failed;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	char buf[READ_LEN];
	for (int i = 0; i < NREADS; i++) {
		struct iovec l = { buf, READ_LEN }, r = { (void *)(uintptr_t)a->addr, READ_LEN };
		a->failed += process_vm_readv(a->pid, &l, 1, &r, 1, 0) != READ_LEN;
	}
	return NULL;
}

/* /proc/PID/mem takes the lock once per page (4 per 16 KiB here);
 * process_vm_readv once per call. */
static int test_reads(void)
{
	uint64_t addr;
	pid_t child = child_sleeper(&addr);
	struct lockwatch *lw = open_or_skip(child);
	char path[64], buf[READ_LEN];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)child);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);

	uint64_t a0 = self_acquisitions(lw);
	for (int i = 0; i < NREADS; i++)
		CHECK_EQ_INT(pread(fd, buf, READ_LEN, (off_t)addr), READ_LEN);
	lockwatch_count_reads(lw, NREADS);
	uint64_t a1 = self_acquisitions(lw);
	fprintf(stderr, "procmem: %llu acquisitions for %d reads of 16 KiB (%.2f per read)\n",
		(unsigned long long)(a1 - a0), NREADS, res.self_acq_per_read);
	CHECK(a1 - a0 >= 4 * NREADS);
	CHECK(res.self_acq_per_read >= 4.0);
	CHECK(res.self.wait_ns.count >= a1 - a0);

	for (int i = 0; i < NREADS; i++) {
		struct iovec l = { buf, READ_LEN }, r = { (void *)(uintptr_t)addr, READ_LEN };
		CHECK_EQ_INT(process_vm_readv(child, &l, 1, &r, 1, 0), READ_LEN);
	}
	uint64_t a2 = self_acquisitions(lw);
	fprintf(stderr, "vmreadv: %llu acquisitions for %d calls\n",
		(unsigned long long)(a2 - a1), NREADS);
	CHECK(a2 - a1 >= NREADS);
	/* The sleeping child itself takes no lock: nothing on the target side
	 * but what we caused. */
	CHECK_EQ_INT(res.target.write_acquisitions, 0);

	/* A thread remprof starts after open is remprof's, not the target's. */
	struct reader_arg ra = { child, addr, 0 };
	pthread_t th;
	CHECK_EQ_INT(pthread_create(&th, NULL, reader_thread, &ra), 0);
	CHECK_EQ_INT(pthread_join(th, NULL), 0);
	CHECK_EQ_INT(ra.failed, 0);
	uint64_t a3 = self_acquisitions(lw);
	fprintf(stderr, "reader thread: %llu acquisitions for %d calls\n",
		(unsigned long long)(a3 - a2), NREADS);
	CHECK(a3 - a2 >= NREADS);
	CHECK_EQ_INT(res.target.acquisitions, 0);

	/* A second target process, added later. */
	uint64_t addr2;
	pid_t child2 = child_sleeper(&addr2);
	CHECK_EQ_INT(lockwatch_add_pid(lw, child2, 0), 0);
	CHECK_EQ_INT(lockwatch_poll(lw) >= 0, 1);
	CHECK_EQ_INT(lockwatch_results(lw, &res), 0);
	CHECK_EQ_INT(res.target_mms, 2);
	uint64_t a4 = res.self.acquisitions;
	for (int i = 0; i < NREADS; i++) {
		struct iovec l = { buf, READ_LEN }, r = { (void *)(uintptr_t)addr2, READ_LEN };
		CHECK_EQ_INT(process_vm_readv(child2, &l, 1, &r, 1, 0), READ_LEN);
	}
	CHECK(lockwatch_poll(lw) >= 0);
	CHECK_EQ_INT(lockwatch_results(lw, &res), 0);
	CHECK(res.self.acquisitions - a4 >= NREADS);

	close(fd);
	lockwatch_close(lw);
	child_kill(child2);
	child_kill(child);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* A thread looping mprotect over a populated region holds the write lock for
 * ms; the other thread's mmap/munmap waits behind it. Both threads start
 * after lockwatch_open: event-fork must follow them. */
static int test_waits(void)
{
	int go;
	pid_t child = child_contender(64, &go);
	struct lockwatch *lw = open_or_skip(child);
	child_go(go);
	for (int i = 0; i < 15; i++) {
		sleep_ms(100);
		CHECK(lockwatch_poll(lw) >= 0);
	}
	CHECK_EQ_INT(lockwatch_results(lw, &res), 0);
	fprintf(stderr, "target: %llu waits, %llu write acquisitions, wait p50 %llu p99 %llu max %llu ns, "
		"sum %llu ns; %llu events, %llu lost\n",
		(unsigned long long)res.target.wait_ns.count,
		(unsigned long long)res.target.write_acquisitions,
		(unsigned long long)hist_percentile(&res.target.wait_ns, 50),
		(unsigned long long)hist_percentile(&res.target.wait_ns, 99),
		(unsigned long long)res.target.wait_ns.max,
		(unsigned long long)res.target.wait_ns.sum,
		(unsigned long long)res.events, (unsigned long long)res.lost);
	CHECK_EQ_INT(res.target_mms, 1);
	CHECK(res.target.wait_ns.count > 0);
	CHECK(res.target.write_acquisitions > 0);
	CHECK(res.target.hold_ns.count > 0);
	/* We did not read the child: remprof's side stays empty. */
	CHECK_EQ_INT(res.self.acquisitions, 0);
	lockwatch_close(lw);
	child_kill(child);
	return 0;
}

/* ---- cleanup ---- */

static char tracefs[PATH_MAX];

static int instance_exists(pid_t pid)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/instances/remprof-%d", tracefs, (int)pid);
	return access(path, F_OK) == 0;
}

/* No remprof-* instance of a dead process, and the top-level mmap_lock
 * events untouched (lockwatch never enables them). */
static void check_nothing_left(void)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/instances", tracefs);
	DIR *d = opendir(path);
	CHECK(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		int pid;
		if (sscanf(de->d_name, "remprof-%d", &pid) == 1) {
			fprintf(stderr, "instance %s remains\n", de->d_name);
			CHECK(kill(pid, 0) == 0);
		}
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/events/mmap_lock/enable", tracefs);
	FILE *f = fopen(path, "r");
	CHECK(f);
	int c = fgetc(f);
	fclose(f);
	CHECK_EQ_INT(c, '0');
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* What a remprof command does: open, poll until told to stop, close. */
static pid_t spawn_watcher(pid_t target)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_term };
		sigaction(SIGTERM, &sa, NULL);
		struct lockwatch *lw;
		if (lockwatch_open(&lw, &target, 1, NULL, 0) < 0)
			_exit(1);
		if (write(fds[1], "r", 1) != 1)
			_exit(1);
		while (!stop) {
			lockwatch_poll(lw);
			sleep_ms(10);
		}
		lockwatch_close(lw);
		_exit(0);
	}
	close(fds[1]);
	char c;
	CHECK(read(fds[0], &c, 1) == 1);
	close(fds[0]);
	CHECK(instance_exists(pid));
	return pid;
}

static int test_cleanup(void)
{
	const char *dir = lockwatch_tracefs_dir();
	if (!dir || lockwatch_available() <= 0)
		return SKIP;
	snprintf(tracefs, sizeof(tracefs), "%s", dir);
	uint64_t addr;
	pid_t child = child_sleeper(&addr);

	struct lockwatch *lw = open_or_skip(child);
	CHECK(instance_exists(getpid()));
	struct lockwatch *second;
	CHECK_EQ_INT(lockwatch_open(&second, &child, 1, NULL, 0), -EBUSY);
	CHECK(instance_exists(getpid())); /* the failed open left ours alone */
	lockwatch_close(lw);
	CHECK(!instance_exists(getpid()));
	check_nothing_left();
	pid_t gone = 0x3ffffff0;
	CHECK_EQ_INT(lockwatch_open(&lw, &gone, 1, NULL, 0), -ESRCH);
	CHECK(!instance_exists(getpid()));

	int status;
	pid_t w = spawn_watcher(child);
	CHECK_EQ_INT(kill(w, SIGTERM), 0);
	CHECK_EQ_INT(waitpid(w, &status, 0), w);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!instance_exists(w));
	check_nothing_left();

	w = spawn_watcher(child);
	CHECK_EQ_INT(kill(w, SIGKILL), 0);
	CHECK_EQ_INT(waitpid(w, &status, 0), w);
	CHECK(instance_exists(w)); /* nobody could clean up after SIGKILL... */
	lw = open_or_skip(child);  /* ...until the next open */
	CHECK(!instance_exists(w));
	lockwatch_close(lw);
	check_nothing_left();

	child_kill(child);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "reads"))
		return test_reads();
	if (argc == 2 && !strcmp(argv[1], "waits"))
		return test_waits();
	if (argc == 2 && !strcmp(argv[1], "cleanup"))
		return test_cleanup();
	fprintf(stderr, "usage: test_lockwatch reads|waits|cleanup\n");
	return 2;
}
