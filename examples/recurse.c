/* recurse — a 200-frame recursion (recurse_down) that ends in a hot leaf,
 * leaf_spin(): every sample's stack is 200+ frames deep and must unwind all
 * the way back to main.
 *
 * usage: recurse [SECONDS [DEPTH]]    (0 seconds: until killed; depth >= 1) */
#include "common.h"

__attribute__((noinline)) unsigned long leaf_spin(double deadline)
{
	unsigned long x = 1;
	do {
		for (int i = 0; i < 100000; i++) {
			x = x * 2862933555777941757UL + 3037000493UL;
			KEEP(x);
		}
	} while (!expired(deadline));
	return x;
}

/* The barrier on the result keeps GCC from turning the recursion into a loop
 * (tail-recursion elimination, also with an accumulator) and the call from
 * becoming a sibling call: each level keeps its own frame. */
__attribute__((noinline)) unsigned long recurse_down(int depth, double deadline)
{
	unsigned long r;
	if (depth <= 1)
		r = leaf_spin(deadline);
	else
		r = recurse_down(depth - 1, deadline);
	KEEP(r);
	return r + (unsigned long)depth;
}

int main(int argc, char **argv)
{
	const char *usage = "recurse [SECONDS [DEPTH]]";
	double deadline = deadline_after(arg_seconds(argc, argv, 1, usage));
	int depth = argc > 2 ? atoi(argv[2]) : 200;
	if (depth < 1) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	unsigned long r = recurse_down(depth, deadline);
	(void)r;
	return 0;
}
