/* libhot.so — the hot code dlopen_hot loads after it has started, so that a
 * profiler attached before the dlopen() must notice the new module. */
#include "common.h"

__attribute__((visibility("default"))) unsigned long hot_in_lib(double deadline);

__attribute__((noinline, visibility("default"))) unsigned long hot_in_lib(double deadline)
{
	unsigned long x = 1;
	do {
		for (int i = 0; i < 100000; i++) {
			x = x * 6364136223846793005UL + 1;
			KEEP(x);
		}
	} while (!expired(deadline));
	return x;
}
