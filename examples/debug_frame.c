/* debug_frame — main -> outer_step -> middle_step -> leaf_spin, built with
 * -fno-asynchronous-unwind-tables: the call frame information of these
 * functions is in .debug_frame only (the .eh_frame there is the C runtime's),
 * which libunwind 1.6 cannot read remotely. Every sample must still unwind
 * from leaf_spin back to main.
 *
 * usage: debug_frame [SECONDS]    (0 seconds: until killed) */
#include "common.h"

__attribute__((noinline)) unsigned long leaf_spin(unsigned long x)
{
	for (int i = 0; i < 100000; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		KEEP(x);
	}
	return x;
}

/* The barriers on the results keep each call a call with a frame of its own
 * (no sibling calls, nothing folded into main). */
__attribute__((noinline)) unsigned long middle_step(unsigned long x)
{
	unsigned long r = leaf_spin(x);
	KEEP(r);
	return r + 1;
}

__attribute__((noinline)) unsigned long outer_step(unsigned long x)
{
	unsigned long r = middle_step(x);
	KEEP(r);
	return r ^ 3;
}

int main(int argc, char **argv)
{
	double deadline = deadline_after(arg_seconds(argc, argv, 1, "debug_frame [SECONDS]"));
	unsigned long x = (unsigned long)argc;
	do
		x = outer_step(x);
	while (!expired(deadline));
	KEEP(x);
	return 0;
}
