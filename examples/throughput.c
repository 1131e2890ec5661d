/* throughput — a busy loop that reports its own throughput: every WINDOW_MS
 * it appends "<start ns> <end ns> <work units done>" (CLOCK_MONOTONIC) to FILE,
 * so bench/run-perf-compare can compare windows with and without a profiler
 * attached inside one run.
 *
 * usage: throughput FILE [SECONDS [WINDOW_MS]]    (0 seconds: until killed) */
#include <stdint.h>
#include "common.h"

/* One unit of work, ~10 µs: small enough that a window holds thousands. */
__attribute__((noinline)) unsigned long work_unit(unsigned long x)
{
	for (int i = 0; i < 8000; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		KEEP(x);
	}
	return x;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *usage = "throughput FILE [SECONDS [WINDOW_MS]]";
	if (argc < 2) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	double deadline = deadline_after(arg_seconds(argc, argv, 2, usage));
	long window_ms = argc > 3 ? atol(argv[3]) : 100;
	if (window_ms < 1) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	/* Line-buffered so that a reader sees every finished window, even if
	 * the workload is killed. */
	setvbuf(f, NULL, _IOLBF, 0);

	uint64_t window_ns = (uint64_t)window_ms * 1000000u;
	uint64_t start = now_ns(), units = 0;
	unsigned long x = 1;
	while (!expired(deadline)) {
		x = work_unit(x);
		units++;
		uint64_t t = now_ns();
		if (t - start >= window_ns) {
			fprintf(f, "%llu %llu %llu\n", (unsigned long long)start,
				(unsigned long long)t, (unsigned long long)units);
			start = t;
			units = 0;
		}
	}
	(void)x;
	fclose(f);
	return 0;
}
