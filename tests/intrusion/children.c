/* children.c — the child workloads (see children.h). */
#include "children.h"
#include "../check.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

pid_t child_sleeper(uint64_t *addr)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		die_with_parent();
		volatile char stack[16384];
		memset((char *)stack, 0x5a, sizeof(stack));
		uint64_t a = (uint64_t)(uintptr_t)stack;
		if (write(fds[1], &a, sizeof(a)) != sizeof(a))
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	CHECK(read(fds[0], addr, sizeof(*addr)) == sizeof(*addr));
	close(fds[0]);
	return pid;
}

static size_t region_len;
static char *region;

static void *mprotect_loop(void *arg)
{
	(void)arg;
	for (;;) {
		mprotect(region, region_len, PROT_READ);
		mprotect(region, region_len, PROT_READ | PROT_WRITE);
	}
	return NULL;
}

static void *mmap_loop(void *arg)
{
	(void)arg;
	for (;;) {
		char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			p[0] = 1;
			munmap(p, 4096);
		}
	}
	return NULL;
}

pid_t child_contender(unsigned mb, int *go_fd)
{
	int fds[2], ready[2];
	CHECK(pipe(fds) == 0 && pipe(ready) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		die_with_parent();
		close(fds[1]);
		region_len = (size_t)mb << 20;
		region = mmap(NULL, region_len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (region == MAP_FAILED)
			_exit(1);
		/* Small pages make mprotect walk every PTE: a long write hold. */
		madvise(region, region_len, MADV_NOHUGEPAGE);
		memset(region, 1, region_len);
		char c;
		if (write(ready[1], "r", 1) != 1 || read(fds[0], &c, 1) != 1)
			_exit(1);
		pthread_t a, b;
		pthread_create(&a, NULL, mprotect_loop, NULL);
		pthread_create(&b, NULL, mmap_loop, NULL);
		pthread_join(a, NULL);
		_exit(0);
	}
	close(fds[0]);
	close(ready[1]);
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	*go_fd = fds[1];
	return pid;
}

void child_go(int go_fd)
{
	CHECK(write(go_fd, "g", 1) == 1);
	close(go_fd);
}

void child_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
