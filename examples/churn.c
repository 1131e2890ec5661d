/* churn — threads created and joined continuously, 4 at a time, each a short
 * busy loop (~5-10 ms of CPU: a few samples each at 1 kHz): a profiler must
 * follow threads that appear and vanish without losing track of the process
 * or leaving any of them stopped.
 *
 * usage: churn [SECONDS]    (0 or none: until killed); exits 0 when done */
#include <pthread.h>
#include <string.h>
#include "common.h"

#define WIDTH 4

__attribute__((noinline)) static void *churn_worker(void *arg)
{
	unsigned long x = (unsigned long)arg;
	for (int i = 0; i < 5000000; i++) {
		x = x * 6364136223846793005UL + 1;
		KEEP(x);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double deadline = deadline_after(arg_seconds(argc, argv, 1, "churn [SECONDS]"));
	unsigned long rounds = 0;

	while (!expired(deadline)) {
		pthread_t t[WIDTH];
		for (int i = 0; i < WIDTH; i++) {
			int e = pthread_create(&t[i], NULL, churn_worker, (void *)(rounds + i));
			if (e) {
				fprintf(stderr, "churn: pthread_create: %s\n", strerror(e));
				return 1;
			}
		}
		for (int i = 0; i < WIDTH; i++)
			pthread_join(t[i], NULL);
		rounds++;
	}
	return 0;
}
