/* symbols.h — addresses to function names, source lines and inline frames,
 * with elfutils libdwfl (.symtab/.dynsym, DWARF, separate debug info by
 * build-id and .gnu_debuglink) and libiberty's demangler. Cached per
 * (module, address); only ever called after the thread was resumed.
 *
 * Names, stable for reports and tests:
 *  - a known function: its ELF symbol (from .symtab, .dynsym or the separate
 *    debug file) without a symbol version ("clock_gettime", not
 *    "clock_gettime@@GLIBC_2.17"), demangled exactly as c++filt prints it
 *    (clones keep their " [clone .cold]" suffix); without any symbol table,
 *    its DWARF name;
 *  - an inlined function: the demangled DW_AT_linkage_name, else DW_AT_name
 *    (as eu-addr2line prints it);
 *  - an address in a module but in no symbol: "MODULE+0xOFFSET", MODULE the
 *    basename of the module's path, OFFSET (lowercase hex) from the module's
 *    load start (the lowest mapped address of its first PT_LOAD): for a PIE
 *    or shared library that is the ELF virtual address addr2line takes;
 *  - an address outside every module: "[unknown]+0xADDR", module "[unknown]".
 * File and line are as `addr2line -f -i` prints them: each frame's position
 * inside its own function, so the innermost frame has the address's line and
 * every frame after an inlined one has the call site of that inlined call.
 *
 * Debug info is looked up where libdwfl looks by default (":.debug:/usr/lib/debug":
 * next to the file, in .debug/ next to it, /usr/lib/debug/.build-id/xx/y.debug
 * and /usr/lib/debug/<dir>/<debuglink>), or, if the environment variable
 * REMPROF_DEBUGINFO_PATH is set when the symbolizer is opened, along that
 * path instead (same syntax: colon-separated; "" means the file's directory,
 * a relative entry a subdirectory of it, an absolute one a debug root with
 * .build-id/ and mirrored directories). debuginfod is never contacted:
 * symbolizer_open() unsets DEBUGINFOD_URLS in this process.
 *
 * Not thread-safe: one thread uses a symbolizer at a time. */
#ifndef REMPROF_SYMBOLS_H
#define REMPROF_SYMBOLS_H

#include <elfutils/libdwfl.h>
#include <stdint.h>
#include <sys/types.h>
#include "remprof/maps.h"

struct frame_info {
	const char *function;   /* demangled name, or "module+0xOFFSET" when unknown; never NULL */
	const char *module;     /* basename of the module's path, "[unknown]" outside every module */
	const char *file;       /* source file (relative DWARF names under the CU's
				 * compilation directory, as addr2line prints them), NULL without DWARF */
	int line;               /* 0 without DWARF */
	int inlined;            /* inlined into the frame that follows it */
};

struct symbolizer;

/* 0 or -errno. m is kept (not owned): after maps_refresh() changed the
 * module list (dlopen, dlclose, exec), the next lookup reports the modules
 * again and drops the address cache; frames returned before stay valid. */
int symbolizer_open(struct symbolizer **out, struct maps *m);
/* Frames for one lookup address: innermost inlined function first, the
 * containing real function last. Returns the count (>= 1); *frames stays valid
 * until symbolizer_close(). Never fails: an unknown address is one frame. */
int symbolizer_lookup(struct symbolizer *s, uint64_t addr, const struct frame_info **frames);
void symbolizer_close(struct symbolizer *s);
/* The libdwfl session, its modules brought up to date with the maps: for
 * libdwfl's own unwinder (unwind.c, for code with only .debug_frame). The
 * caller may attach a thread state to it, not report modules. */
Dwfl *symbolizer_dwfl(struct symbolizer *s);

/* C++ and Rust (legacy and v0) names demangled with libiberty: a malloc'ed
 * string, or NULL when name is not mangled. */
char *demangle(const char *name);

#endif
