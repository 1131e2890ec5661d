/* unwind_child.c — workloads with a known call chain for test_unwind, built
 * -O2 -fomit-frame-pointer -g so that only .eh_frame CFI can unwind them.
 * Each mode prints "ready" once it is in its hot loop's call chain:
 *   chain            main -> chain_a -> chain_b -> chain_c (spins)
 *   recurse N        main -> recurse x N -> hot_leaf (spins), 200+ bytes per frame
 *   thread N         the same in a pthread: recurse_thread_start -> recurse x N
 *   memset           main -> fill_loop -> memset (libc) of a big buffer, forever
 *   vdso             main -> clock_loop -> clock_gettime (vDSO), forever
 *   dlopen LIB       main -> (dlopen LIB after a line on stdin) -> mapsdl_spin
 *   signal           main -> sig_loop, interrupted by SIGUSR1 (sent by the test):
 *                    sig_handler (spins) -> signal trampoline -> sig_loop -> main
 * The asm statements after each call keep gcc from turning calls into jumps
 * (tail calls would legitimately drop frames from the chain). */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

static volatile int ready_printed;
static volatile int stop; /* never set: the loops only look like they could end */

static void say_ready(void)
{
	if (!ready_printed) {
		ready_printed = 1;
		printf("ready\n");
		fflush(stdout);
	}
}

__attribute__((noinline)) void chain_c(void)
{
	say_ready();
	for (volatile unsigned long i = 0;; i++)
		;
}

__attribute__((noinline)) void chain_b(void)
{
	chain_c();
	KEEP_FRAME();
}

__attribute__((noinline)) void chain_a(void)
{
	chain_b();
	KEEP_FRAME();
}

__attribute__((noinline)) void hot_leaf(void)
{
	say_ready();
	for (volatile unsigned long i = 0; !stop; i++)
		;
}

/* A frame of a few hundred bytes: 160 of them need ~45 KiB of stack copy. */
__attribute__((noinline)) int recurse(int n)
{
	volatile char pad[200];

	pad[0] = (char)n;
	if (n <= 1)
		hot_leaf();
	else
		recurse(n - 1);
	KEEP_FRAME();
	return pad[0];
}

static int depth;

__attribute__((noinline)) void *recurse_thread_start(void *arg)
{
	(void)arg;
	recurse(depth);
	KEEP_FRAME();
	return NULL;
}

__attribute__((noinline)) void fill_loop(void)
{
	size_t len = 8 << 20;
	char *buf = malloc(len);
	volatile size_t vlen = len;

	say_ready();
	for (unsigned i = 0; !stop; i++) {
		memset(buf, (int)i, vlen);
		__asm__ volatile("" :: "r"(buf) : "memory");   /* the stores are not dead */
	}
	free(buf);
}

__attribute__((noinline)) void clock_loop(void)
{
	struct timespec ts;

	say_ready();
	for (;;)
		clock_gettime(CLOCK_MONOTONIC, &ts);
}

static volatile int in_sig_loop;

/* Only a signal that interrupts the loop itself counts (the test resends). */
static void sig_handler(int sig)
{
	(void)sig;
	if (!in_sig_loop || write(1, "ready\n", 6) != 6)
		return;
	for (volatile unsigned long i = 0; !stop; i++)
		;
}

__attribute__((noinline)) void sig_loop(void)
{
	struct sigaction sa = { .sa_handler = sig_handler };

	sigaction(SIGUSR1, &sa, NULL);
	printf("armed\n");
	fflush(stdout);
	in_sig_loop = 1;
	for (volatile unsigned long i = 0; !stop; i++)
		;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "chain") == 0) {
		chain_a();
	} else if (argc >= 3 && strcmp(argv[1], "recurse") == 0) {
		recurse(atoi(argv[2]));
	} else if (argc >= 3 && strcmp(argv[1], "thread") == 0) {
		pthread_t t;
		depth = atoi(argv[2]);
		pthread_create(&t, NULL, recurse_thread_start, NULL);
		pthread_join(t, NULL);
	} else if (argc >= 2 && strcmp(argv[1], "memset") == 0) {
		fill_loop();
	} else if (argc >= 2 && strcmp(argv[1], "vdso") == 0) {
		clock_loop();
	} else if (argc >= 3 && strcmp(argv[1], "dlopen") == 0) {
		char line[16];
		void *h;
		void (*spin)(void);
		printf("loading\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin) || !(h = dlopen(argv[2], RTLD_NOW)))
			return 2;
		spin = (void (*)(void))dlsym(h, "mapsdl_spin");
		if (!spin)
			return 3;
		say_ready();
		spin();
	} else if (argc >= 2 && strcmp(argv[1], "signal") == 0) {
		sig_loop();
	} else {
		return 1;
	}
	KEEP_FRAME();
	return 0;
}
