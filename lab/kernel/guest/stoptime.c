// SPDX-License-Identifier: GPL-2.0
/*
 * remprof kernel lab, guest program (c): how long a ptrace-sampled thread
 * stays stopped while a sibling thread holds the mmap lock for write.
 *
 * The target has two threads: the main thread spins behind a 96 KiB stack
 * pad (so [rsp, rsp + 16 KiB) is always mapped and resident), and, if CHURN
 * is 1, a sibling loops mprotect(PROT_READ) / mprotect(PROT_READ|PROT_WRITE)
 * over a large populated region, timing each call (that is about how long it
 * holds the mmap lock for write). The sampler (this process) seizes the main
 * thread only and, every PERIOD_US: PTRACE_INTERRUPT, waitpid, GETREGSET,
 * copy 16 KiB from rsp with READER, PTRACE_CONT. "stop" is the time from
 * PTRACE_INTERRUPT to the return of PTRACE_CONT, "copy" the copy alone.
 *
 * Usage: stoptime READER SECONDS CHURN [REGION_MB] [PERIOD_US]
 * Output: one JSON line.
 */
#include "common.h"
#include <elf.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/user.h>
#include <sys/wait.h>

#define MAXOPS 200000
#define COPY 16384

struct shared {
	volatile unsigned long spins;
	volatile int stop;
	unsigned long nops;
	double op_us[MAXOPS];
};

static struct shared *sh;
static size_t region_sz;

static void *churn(void *arg)
{
	char *r = arg;

	while (!sh->stop) {
		double t0 = now_us(), t1, t2;

		if (mprotect(r, region_sz, PROT_READ))
			die("mprotect");
		t1 = now_us();
		if (mprotect(r, region_sz, PROT_READ | PROT_WRITE))
			die("mprotect");
		t2 = now_us();
		if (sh->nops + 2 <= MAXOPS) {
			sh->op_us[sh->nops++] = t1 - t0;
			sh->op_us[sh->nops++] = t2 - t1;
		}
	}
	return NULL;
}

static volatile char *volatile pad_escape;

static void __attribute__((noinline)) spin(volatile char *pad)
{
	pad_escape = pad;
	for (;;)
		sh->spins++;
}

static void __attribute__((noinline)) padded(void)
{
	volatile char pad[96 * 1024];

	for (size_t i = 0; i < sizeof(pad); i += 512)
		pad[i] = 1;
	spin(pad);
}

int main(int argc, char **argv)
{
	int rd = argc > 1 ? reader_parse(argv[1]) : -1;
	double secs = argc > 2 ? atof(argv[2]) : 3;
	int do_churn = argc > 3 ? atoi(argv[3]) : 1;
	size_t mb = argc > 4 ? strtoul(argv[4], NULL, 0) : 64;
	long period = argc > 5 ? atol(argv[5]) : 5000;
	size_t maxn = (size_t)(secs * 1e6 / period) + 16, n = 0;
	double *stop_us, *copy_us, end;
	unsigned long errs = 0, spins0;
	char path[64], c;
	static char buf[COPY];
	int ready[2], memfd, st;
	pid_t pid;

	if (rd < 0 || rd == R_PEEK) {
		fprintf(stderr, "usage: stoptime procmem|vmreadv SECONDS CHURN [MB] [PERIOD_US]\n");
		return 2;
	}
	region_sz = mb << 20;
	stop_us = calloc(maxn, sizeof(double));
	copy_us = calloc(maxn, sizeof(double));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || !stop_us || !copy_us)
		die("alloc");
	if (pipe(ready))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		pthread_t t;
		char *r;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		r = mmap(NULL, region_sz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (r == MAP_FAILED)
			die("mmap region");
		for (size_t i = 0; i < region_sz; i += 4096)
			r[i] = 1;
		if (do_churn && pthread_create(&t, NULL, churn, r))
			die("pthread_create");
		if (write(ready[1], "r", 1) != 1)
			die("write");
		padded();
		_exit(0);
	}
	if (read(ready[0], &c, 1) != 1)
		die("target did not start");
	usleep(100000);	/* let the spinner reach spin() and the churn start */

	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL))
		die("PTRACE_SEIZE");
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	memfd = open(path, O_RDONLY);
	if (memfd < 0)
		die(path);

	spins0 = sh->spins;
	end = now_us() + secs * 1e6;
	while (now_us() < end && n < maxn) {
		struct user_regs_struct regs;
		struct iovec iov = { &regs, sizeof(regs) };
		double t0, t1, t2, t3;
		int sig = 0;
		ssize_t got;

		t0 = now_us();
		if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL))
			die("PTRACE_INTERRUPT");
		for (;;) {
			if (waitpid(pid, &st, __WALL) != pid)
				die("waitpid");
			if (!WIFSTOPPED(st))
				die("target died");
			if (st >> 16 == PTRACE_EVENT_STOP)
				break;
			/* a signal-delivery stop: pass the signal on */
			sig = WSTOPSIG(st);
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
		}
		t1 = now_us();
		if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov))
			die("GETREGSET");
		got = reader_copy(rd, pid, memfd, regs.rsp, buf, COPY);
		if (got != COPY && errs++ == 0)
			fprintf(stderr, "stoptime: copy at rsp %#llx: %zd (%s)\n",
				regs.rsp, got, got < 0 ? strerror(errno) : "short");
		t2 = now_us();
		if (ptrace(PTRACE_CONT, pid, NULL, NULL))
			die("PTRACE_CONT");
		t3 = now_us();
		stop_us[n] = t3 - t0;
		copy_us[n] = t2 - t1;
		n++;
		usleep(period);
	}
	sh->stop = 1;
	kill(pid, SIGKILL);
	waitpid(pid, &st, __WALL);

	printf("{\"test\":\"stoptime\",\"reader\":\"%s\",\"churn\":%d,"
	       "\"region_mb\":%zu,\"samples\":%zu,\"copy_errors\":%lu,"
	       "\"stop_us\":{\"p50\":%.0f,\"p99\":%.0f,\"max\":%.0f},",
	       reader_name(rd), do_churn, mb, n, errs,
	       percentile(stop_us, n, 50), percentile(stop_us, n, 99),
	       percentile(stop_us, n, 100));
	printf("\"copy_us\":{\"p50\":%.0f,\"p99\":%.0f,\"max\":%.0f},",
	       percentile(copy_us, n, 50), percentile(copy_us, n, 99),
	       percentile(copy_us, n, 100));
	printf("\"mprotect_us\":{\"n\":%lu,\"p50\":%.0f,\"p99\":%.0f,\"max\":%.0f},"
	       "\"target_spins\":%lu}\n", sh->nops,
	       percentile(sh->op_us, sh->nops, 50),
	       percentile(sh->op_us, sh->nops, 99),
	       percentile(sh->op_us, sh->nops, 100), sh->spins - spins0);
	return 0;
}
