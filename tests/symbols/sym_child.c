/* sym_child — a target with known functions for tests/symbols: a plain leaf,
 * a function with an always_inline helper nested in a static inline one, and
 * (given a library path) a dlopen()ed library, loaded when the test asks.
 *
 * Prints "bias=0x.. leaf=0x.. outer=0x..", then waits. With a library path:
 * on a byte on stdin it dlopens the library and prints
 * "lib_base=0x.. lib_entry=0x.. lib_hidden=0x..". With "--exec PROGRAM", it
 * execs PROGRAM on that byte instead. Exits on EOF on stdin. */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KEEP(x) __asm__ volatile("" : "+r"(x))

volatile long sink;

__attribute__((noipa)) long leaf_sum(long n)
{
	long s = 0;
	for (long i = 0; i < n; i++) {
		s += i * i;
		KEEP(s);
	}
	return s;
}

static inline __attribute__((always_inline)) long scale_inl(long x)
{
	long y = x * 7;
	KEEP(y);
	return y ^ (x >> 3);
}

static inline __attribute__((always_inline)) long helper_inl(long x)
{
	long y = scale_inl(x) + 3;
	KEEP(y);
	return y * y;
}

__attribute__((noipa)) long outer_with_inline(long n)
{
	long s = 0;
	for (long i = 0; i < n; i++) {
		s += helper_inl(i);
		KEEP(s);
	}
	return s;
}

static int main_bias(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	*(ElfW(Addr) *)data = info->dlpi_addr; /* the first entry is the executable */
	return 1;
}

static int load_library(const char *path)
{
	void *h = dlopen(path, RTLD_NOW);
	if (!h)
		return -1;
	void *entry = dlsym(h, "stripped_entry");
	void *(*hidden)(void) = (void *(*)(void))dlsym(h, "stripped_hidden_addr");
	Dl_info info;
	if (!entry || !hidden || !dladdr(entry, &info))
		return -1;
	printf("lib_base=%p lib_entry=%p lib_hidden=%p\n", info.dli_fbase, entry, hidden());
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	ElfW(Addr) bias = 0;
	dl_iterate_phdr(main_bias, &bias);
	sink = leaf_sum(10) + outer_with_inline(10);
	printf("bias=%#lx leaf=%p outer=%p\n", (unsigned long)bias, (void *)leaf_sum,
	       (void *)outer_with_inline);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) == 1) {
		if (argc > 2 && strcmp(argv[1], "--exec") == 0)
			execv(argv[2], argv + 2);
		else if (argc > 1 && load_library(argv[1]) < 0)
			return 2;
	}
	return 0;
}
