/* split — one thread whose CPU time is split 60/40 between hot_sixty() and
 * hot_forty(): both run the same loop body, in 3 and 2 chunks per round, so
 * the ratio of time follows the ratio of work whatever the CPU's speed.
 *
 * usage: split [SECONDS]    (0 or none: until killed) */
#include "common.h"

/* The same work in both functions: inlined, so that the samples land in
 * hot_sixty/hot_forty themselves and not in a shared leaf. */
static inline __attribute__((always_inline)) unsigned long chunk(unsigned long x)
{
	for (int i = 0; i < 20000; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		KEEP(x);
	}
	return x;
}

__attribute__((noinline)) unsigned long hot_sixty(unsigned long x)
{
	for (int c = 0; c < 3; c++)
		x = chunk(x);
	return x;
}

__attribute__((noinline)) unsigned long hot_forty(unsigned long x)
{
	for (int c = 0; c < 2; c++)
		x = chunk(x);
	return x;
}

int main(int argc, char **argv)
{
	double deadline = deadline_after(arg_seconds(argc, argv, 1, "split [SECONDS]"));
	unsigned long x = 1;

	while (!expired(deadline)) {
		/* ~0.1 ms per round, so the clock check costs nothing measurable. */
		x = hot_sixty(x);
		x = hot_forty(x);
	}
	(void)x;
	return 0;
}
