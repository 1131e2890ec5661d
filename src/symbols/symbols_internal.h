/* symbols_internal.h — what the files of src/symbols/ share, and the hooks
 * the tests in tests/symbols/ use. Not part of the interface. */
#ifndef REMPROF_SYMBOLS_INTERNAL_H
#define REMPROF_SYMBOLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <elfutils/libdwfl.h>
#include "remprof/symbols.h"

/* The cache: an open-addressing map from lookup address to its frames, and
 * an arena that owns the frame arrays and the (interned) strings. Strings and
 * frames live until sym_cache_free(), even across sym_cache_forget(), because
 * symbolizer_lookup() promises them until symbolizer_close(). */
struct sym_cache {
	struct sym_slot *slots;
	size_t cap, used;
	const char **strs;          /* interned strings, open addressing */
	size_t str_cap, str_used;
	struct sym_chunk *chunks;   /* arena */
};

int sym_cache_init(struct sym_cache *c);
/* The frame count cached for addr (and *frames), or 0 when not cached. */
int sym_cache_find(const struct sym_cache *c, uint64_t addr, const struct frame_info **frames);
/* Copy n frames (whose strings must already be interned) into the arena and
 * index them under addr; returns the stored copy, or NULL without memory. */
const struct frame_info *sym_cache_insert(struct sym_cache *c, uint64_t addr,
					  const struct frame_info *frames, int n);
/* The arena's copy of str (one copy per distinct string), or NULL without memory. */
const char *sym_cache_intern(struct sym_cache *c, const char *str);
/* Drop the address index (the modules changed); the strings stay valid. */
void sym_cache_forget(struct sym_cache *c);
void sym_cache_free(struct sym_cache *c);

/* A vDSO (or any module without a file) reported from a copy of its image. */
struct sym_image {
	struct sym_image *next;
	void *data;
	size_t size;
};

/* One module as last reported to libdwfl, to see whether a maps refresh
 * changed anything (maps_generation() counts parses, not changes). */
struct sym_reported {
	char *path;
	uint64_t start, end, bias;
	char build_id[41];
	Dwarf_Addr dwfl_start, dwfl_end; /* the range libdwfl derived, to re-report it as is */
};

struct symbolizer {
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks;   /* libdwfl keeps a pointer to it */
	char *debuginfo_path;       /* REMPROF_DEBUGINFO_PATH, or NULL: libdwfl's default */
	/* Brings the reported modules up to date before a lookup; NULL when the
	 * module list is fixed at open. */
	void (*sync)(struct symbolizer *s);
	struct maps *maps;
	unsigned maps_gen;
	struct sym_reported *reported;
	size_t nreported;
	struct sym_image *images;
	struct sym_cache cache;
	struct sym_index **index;   /* symindex.c, per Dwfl_Module */
	size_t nindex;
	int use_index;              /* 0 only in tests: ask libdwfl for every address */
	unsigned long dwfl_lookups; /* lookups that went to libdwfl (cache misses) */
	unsigned long addrinfo_calls; /* dwfl_module_addrinfo calls */
};

/* The ELF symbol for pc, demangled and interned, or NULL when there is
 * none (or without memory); what dwfl_module_addrinfo answers. */
const char *symindex_name(struct symbolizer *s, Dwfl_Module *mod, uint64_t pc);
/* Drop the indexes: call before libdwfl may free or reuse modules. */
void symindex_forget(struct symbolizer *s);
/* A mangled name demangled, anything else as it is; interned (or NULL). */
const char *symbolizer_intern_name(struct symbolizer *s, const char *name);

/* Allocate s, its cache and a Dwfl with find_elf as the ELF callback. */
int symbolizer_create(struct symbolizer **out, int (*find_elf)(Dwfl_Module *, void **,
			const char *, Dwarf_Addr, char **, Elf **));

/* Test hook: symbolize pid's modules as libdwfl itself reads them from
 * /proc/PID/maps (dwfl_linux_proc_report), without the maps module. The
 * module list is read once, at open. 0 or -errno. */
int symbolizer_open_pid(struct symbolizer **out, pid_t pid);

/* How many lookups were resolved through libdwfl (the rest came from the cache). */
unsigned long symbolizer_dwfl_lookups(const struct symbolizer *s);
/* How many of those asked dwfl_module_addrinfo (the rest: symindex.c). */
unsigned long symbolizer_addrinfo_calls(const struct symbolizer *s);
/* Tests: 0 makes every uncached lookup ask dwfl_module_addrinfo. */
void symbolizer_use_index(struct symbolizer *s, int on);

#endif
