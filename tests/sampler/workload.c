/* workload — real target processes for the sampler tests and stopbench.
 *
 *   workload busy N SEC     N spinning threads (the main thread sleeps); SEC 0 = forever
 *   workload sleep SEC      the main thread sleeps
 *   workload churn SEC      one spinner, plus threads created and joined continuously
 *   workload exit MS CODE   spin MS milliseconds, then exit(CODE)
 *   workload signals N      spin and count SIGRTMIN (queued, never merged): exit 0 once N
 *                           arrived, 1 if they have not after 8 s
 *   workload exec MS        spin MS milliseconds in a second thread, then exec "sleep 1"
 */
#include <pthread.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t usr1;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps a deep enough stack below the spinning frame that a 64 KiB copy
 * from SP stays inside the mapping. */
static void *spin(void *arg)
{
	volatile char pad[16384];
	pad[0] = 1;
	volatile unsigned long x = 0;
	for (;;)
		x = x * 6364136223846793005ul + (unsigned long)arg + (unsigned long)pad[0];
	return NULL;
}

static void *nothing(void *arg)
{
	return arg;
}

static void sleep_s(double sec)
{
	if (sec <= 0)
		for (;;)
			pause();
	struct timespec ts = { (time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9) };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void start_spinners(int n)
{
	pthread_t t;
	for (long i = 0; i < n; i++)
		pthread_create(&t, NULL, spin, (void *)i);
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void *exec_later(void *arg)
{
	sleep_s((double)(long)arg / 1000.0);
	execlp("sleep", "sleep", "1", (char *)NULL);
	_exit(126);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	/* A failed test must not leave spinners behind. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 3;
	const char *mode = argv[1];
	double a = atof(argv[2]);
	if (!strcmp(mode, "busy") && argc >= 4) {
		start_spinners((int)a);
		sleep_s(atof(argv[3]));
		return 0;
	}
	if (!strcmp(mode, "sleep")) {
		sleep_s(a);
		return 0;
	}
	if (!strcmp(mode, "churn")) {
		start_spinners(1);
		double end = now_s() + a;
		while (a <= 0 || now_s() < end) {
			pthread_t t;
			if (pthread_create(&t, NULL, nothing, NULL) == 0)
				pthread_join(t, NULL);
		}
		return 0;
	}
	if (!strcmp(mode, "exit") && argc >= 4) {
		double end = now_s() + a / 1000.0;
		volatile unsigned long x = 0;
		while (now_s() < end)
			x++;
		return atoi(argv[3]);
	}
	if (!strcmp(mode, "signals")) {
		signal(SIGRTMIN, on_usr1);
		double end = now_s() + 8;
		while (usr1 < (sig_atomic_t)a)
			if (now_s() > end)
				return 1;
		return 0;
	}
	if (!strcmp(mode, "exec")) {
		pthread_t t;
		pthread_create(&t, NULL, exec_later, (void *)(long)a);
		spin(NULL);
	}
	return 2;
}
