/* dlopen_hot — starts, sleeps ~0.5 s, then dlopen()s libhot.so from its own
 * directory and spins in hot_in_lib(): a module that did not exist when the
 * profiler attached.
 *
 * usage: dlopen_hot [SECONDS]    (0 or none: until killed; counted from start) */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv)
{
	double deadline = deadline_after(arg_seconds(argc, argv, 1, "dlopen_hot [SECONDS]"));
	char exe[PATH_MAX], lib[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		perror("dlopen_hot: /proc/self/exe");
		return 1;
	}
	exe[n] = '\0';
	snprintf(lib, sizeof(lib), "%s/libhot.so", dirname(exe));

	usleep(500 * 1000);
	void *h = dlopen(lib, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen_hot: %s\n", dlerror());
		return 1;
	}
	unsigned long (*hot)(double) = (unsigned long (*)(double))dlsym(h, "hot_in_lib");
	if (!hot) {
		fprintf(stderr, "dlopen_hot: %s\n", dlerror());
		return 1;
	}
	hot(deadline);
	dlclose(h);
	return 0;
}
