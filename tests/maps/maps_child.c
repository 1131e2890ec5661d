/* maps_child.c — the workload of test_maps: reports addresses the test
 * checks against what maps found, and dlopen()s a library when told to.
 *   maps_child info          print marker function, a stack address, AT_SYSINFO_EHDR
 *   maps_child dlopen LIB    wait for a line on stdin, dlopen LIB, print "loaded"
 *   maps_child exec          wait for a line on stdin, then exec "maps_child info"
 * then waits until killed. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

__attribute__((noinline)) int maps_marker_function(int x)
{
	return x * 3 + 1;
}

int main(int argc, char **argv)
{
	volatile int on_stack = 0;
	char line[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "dlopen") == 0) {
		printf("ready\n");
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		if (!dlopen(argv[2], RTLD_NOW))
			return 2;
		printf("loaded\n");
	} else if (argc >= 2 && strcmp(argv[1], "exec") == 0) {
		printf("ready\n");
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		execl("/proc/self/exe", argv[0], "info", (char *)NULL);
		return 3;
	} else {
		printf("%lx %lx %lx\n", (unsigned long)(uintptr_t)&maps_marker_function,
		       (unsigned long)(uintptr_t)&on_stack, getauxval(AT_SYSINFO_EHDR));
	}
	for (;;)
		pause();
	return on_stack + maps_marker_function(argc);
}
