/* busy — N threads (the main one included) that do nothing but spin in
 * busy_spin(): CPU-time sampling must give every one of them F samples per
 * CPU-second. Threads are named busy-1..busy-(N-1) (main stays "busy") so that
 * a per-thread report can tell them apart.
 *
 * usage: busy N [SECONDS [STATUS]]    (0 seconds: until killed); exits STATUS
 * (default 0) when the time is up, so `record -- busy ...` can check it. */
#include <pthread.h>
#include <string.h>
#include "common.h"

static double deadline;

__attribute__((noinline)) static void *busy_spin(void *arg)
{
	unsigned long x = (unsigned long)arg;
	do {
		for (int i = 0; i < 100000; i++) {
			x = x * 6364136223846793005UL + 1;
			KEEP(x);
		}
	} while (!expired(deadline));
	return NULL;
}

int main(int argc, char **argv)
{
	const char *usage = "busy N [SECONDS [STATUS]]";
	int n = argc > 1 ? atoi(argv[1]) : 0;
	if (n < 1 || n > 1024) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	deadline = deadline_after(arg_seconds(argc, argv, 2, usage));
	int status = argc > 3 ? atoi(argv[3]) : 0;

	pthread_t *t = calloc(n, sizeof(*t));
	if (!t)
		return 1;
	for (int i = 1; i < n; i++) {
		int e = pthread_create(&t[i], NULL, busy_spin, (void *)(long)i);
		if (e) {
			fprintf(stderr, "busy: pthread_create: %s\n", strerror(e));
			return 1;
		}
		char name[16];
		snprintf(name, sizeof(name), "busy-%d", i);
		pthread_setname_np(t[i], name);
	}
	busy_spin(NULL);
	for (int i = 1; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
	return status;
}
