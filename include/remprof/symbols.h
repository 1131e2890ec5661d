/* symbols.h — addresses to function names, source lines and inline frames,
 * with elfutils libdwfl (.symtab/.dynsym, DWARF, separate debug info by
 * build-id and .gnu_debuglink) and libiberty's demangler. Cached per
 * (module, address); only ever called after the thread was resumed. */
#ifndef REMPROF_SYMBOLS_H
#define REMPROF_SYMBOLS_H

#include <stdint.h>
#include <sys/types.h>
#include "remprof/maps.h"

struct frame_info {
	const char *function;   /* demangled name, or "module+0xOFFSET" when unknown; never NULL */
	const char *module;     /* basename of the module's path, "[unknown]" outside every module */
	const char *file;       /* source file, NULL without DWARF */
	int line;               /* 0 without DWARF */
	int inlined;            /* inlined into the frame that follows it */
};

struct symbolizer;

int symbolizer_open(struct symbolizer **out, struct maps *m);
/* Frames for one lookup address: innermost inlined function first, the
 * containing real function last. Returns the count (>= 1); *frames stays valid
 * until symbolizer_close(). Never fails: an unknown address is one frame. */
int symbolizer_lookup(struct symbolizer *s, uint64_t addr, const struct frame_info **frames);
void symbolizer_close(struct symbolizer *s);

/* C++ and Rust (legacy and v0) names demangled with libiberty: a malloc'ed
 * string, or NULL when name is not mangled. */
char *demangle(const char *name);

#endif
