/* symbols.c — one lookup address to its frames with libdwfl: the ELF symbol
 * (.symtab, .dynsym, or the separate debug file's), the DWARF line, and one
 * frame per inlined call, innermost first, as `addr2line -f -i` prints them.
 * Module reporting lives in symbols_maps.c (the maps module) and
 * symbols_pid.c (libdwfl's own /proc/PID/maps reader, for tests); the ELF
 * symbol search in symindex.c, the address cache in cache.c. */
#include <dwarf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elfutils/libdw.h>
#include "symbols_internal.h"

/* Deeper inline nests than this are cut (the outer frames are kept). */
#define MAX_FRAMES_PER_PC 64

/* What a lookup returns when even the arena is out of memory: a lookup
 * never fails. */
static const struct frame_info oom_frame = {
	.function = "[unknown]", .module = "[unknown]",
};

int symbolizer_create(struct symbolizer **out, int (*find_elf)(Dwfl_Module *, void **,
			const char *, Dwarf_Addr, char **, Elf **))
{
	struct symbolizer *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int err = sym_cache_init(&s->cache);
	if (err < 0) {
		free(s);
		return err;
	}
	/* A profiler must not go to the network from inside a lookup (seconds
	 * per module, and Debian's libdebuginfod-common sets DEBUGINFOD_URLS
	 * in every login shell). libdwfl's standard search asks debuginfod as
	 * its last resort whenever the variable is set, so clear it. */
	unsetenv("DEBUGINFOD_URLS");
	const char *path = getenv("REMPROF_DEBUGINFO_PATH");
	if (path && *path && !(s->debuginfo_path = strdup(path))) {
		symbolizer_close(s);
		return -ENOMEM;
	}
	s->use_index = 1;
	s->callbacks.find_elf = find_elf;
	s->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	s->callbacks.section_address = dwfl_offline_section_address;
	s->callbacks.debuginfo_path = s->debuginfo_path ? &s->debuginfo_path : NULL;
	s->dwfl = dwfl_begin(&s->callbacks);
	if (!s->dwfl) {
		symbolizer_close(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void symbolizer_close(struct symbolizer *s)
{
	if (!s)
		return;
	symindex_forget(s);
	if (s->dwfl)
		dwfl_end(s->dwfl);
	for (size_t i = 0; i < s->nreported; i++)
		free(s->reported[i].path);
	free(s->reported);
	while (s->images) {
		struct sym_image *next = s->images->next;
		free(s->images->data);
		free(s->images);
		s->images = next;
	}
	sym_cache_free(&s->cache);
	free(s->debuginfo_path);
	free(s);
}

unsigned long symbolizer_dwfl_lookups(const struct symbolizer *s)
{
	return s->dwfl_lookups;
}

unsigned long symbolizer_addrinfo_calls(const struct symbolizer *s)
{
	return s->addrinfo_calls;
}

void symbolizer_use_index(struct symbolizer *s, int on)
{
	s->use_index = on;
}

static const char *intern(struct symbolizer *s, const char *str)
{
	return str ? sym_cache_intern(&s->cache, str) : NULL;
}

const char *symbolizer_intern_name(struct symbolizer *s, const char *name)
{
	char *d = demangle(name);
	const char *r = intern(s, d ? d : name);
	free(d);
	return r;
}

static const char *intern_fmt(struct symbolizer *s, const char *prefix, uint64_t off)
{
	char buf[4096 + 32];
	snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, prefix, off);
	return intern(s, buf);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* The function a DWARF scope belongs to: the demangled linkage name where
 * there is one (so C++ names read as c++filt prints them), else DW_AT_name;
 * through DW_AT_abstract_origin for inlined and out-of-line instances. */
static const char *die_function_name(struct symbolizer *s, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *link = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	if (!link)
		link = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
	if (link)
		return symbolizer_intern_name(s, link);
	return intern(s, dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr)));
}

/* A source file name as addr2line prints it: relative DWARF names are
 * relative to the compilation directory. */
static const char *intern_path(struct symbolizer *s, const char *comp_dir, const char *file)
{
	if (!file || file[0] == '/' || !comp_dir || !comp_dir[0])
		return intern(s, file);
	char buf[8192];
	if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", comp_dir, file) >= sizeof(buf))
		return intern(s, file);
	return intern(s, buf);
}

/* Where an inlined subroutine was called from: its DW_AT_call_file (an index
 * into the CU's file table) and DW_AT_call_line. */
static void die_call_site(struct symbolizer *s, Dwarf_Die *cu, Dwarf_Die *die,
			  const char **file, int *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word fileno = 0, lineno = 0;
	Dwarf_Files *files;
	size_t nfiles;
	*file = NULL;
	*line = 0;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &lineno) == 0)
		*line = (int)lineno;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &fileno) == 0 &&
	    dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && fileno < nfiles)
		*file = intern_path(s, dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr)),
				    dwarf_filesrc(files, fileno, NULL, NULL));
}

/* The line-table row for addr itself: where the innermost frame is. */
static void pc_source(struct symbolizer *s, Dwfl_Module *mod, uint64_t addr,
		      const char **file, int *line)
{
	Dwfl_Line *l = dwfl_module_getsrc(mod, addr);
	const char *f = l ? dwfl_lineinfo(l, NULL, line, NULL, NULL, NULL) : NULL;
	*file = intern_path(s, f ? dwfl_line_comp_dir(l) : NULL, f);
	if (!*file)
		*line = 0;
}

/* Nesting deeper than this (inlines within inlines, blocks) is cut off. */
#define MAX_SCOPE_DEPTH 256

static int has_pc_attr(Dwarf_Die *die)
{
	return dwarf_hasattr(die, DW_AT_low_pc) || dwarf_hasattr(die, DW_AT_ranges);
}

/* The child of parent whose code contains pc: a function, an inlined call or
 * a block. Namespaces, and blocks without an address range of their own, are
 * looked through (C++ definitions may sit inside a namespace). */
static int child_at_pc(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *out, int depth)
{
	Dwarf_Die child;
	if (depth > 16 || dwarf_child(parent, &child) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&child);
		switch (tag) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
		case DW_TAG_lexical_block:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
		case DW_TAG_entry_point:
			if (dwarf_haspc(&child, pc) == 1) {
				*out = child;
				return 1;
			}
			if (tag == DW_TAG_lexical_block && !has_pc_attr(&child) &&
			    child_at_pc(&child, pc, out, depth + 1))
				return 1;
			break;
		case DW_TAG_namespace:
		case DW_TAG_module:
			if (child_at_pc(&child, pc, out, depth + 1))
				return 1;
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

/* The DIEs whose code contains addr, outermost first (from just inside the
 * CU), through the concrete tree (the inlined instances). This descends
 * only into the DIEs that contain the PC: dwarf_getscopes would also search
 * the whole CU for an inlined instance's abstract definition and continue in
 * its scopes (losing the functions it was inlined into), and costs about
 * 80 us per address here instead of a few. */
static int pc_scopes(Dwfl_Module *mod, uint64_t addr, Dwarf_Die *cu, Dwarf_Die *scopes, int max)
{
	Dwarf_Addr bias;
	Dwarf_Die *die = dwfl_module_addrdie(mod, addr, &bias);
	if (!die)
		return 0;
	*cu = *die;
	int n = 0;
	Dwarf_Die *parent = cu;
	while (n < max && child_at_pc(parent, addr - bias, &scopes[n], 0))
		parent = &scopes[n++];
	return n;
}

/* Frames for the inlined calls around addr, innermost first, into f[0..max).
 * Each frame gets the source position inside its own function (like
 * addr2line -i): the innermost addr's line, each outer one the call site of
 * the frame inside it. *file and *line are left at the position for the real
 * function that contains them all; *outer its DWARF name (or NULL). */
static int inline_frames(struct symbolizer *s, Dwfl_Module *mod, uint64_t addr,
			 struct frame_info *f, int max, const char **file, int *line,
			 const char **outer)
{
	Dwarf_Die cu, scopes[MAX_SCOPE_DEPTH];
	int nscopes = pc_scopes(mod, addr, &cu, scopes, MAX_SCOPE_DEPTH);
	int n = 0;
	*outer = NULL;
	for (int i = nscopes - 1; i >= 0; i--) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag == DW_TAG_subprogram) {
			*outer = die_function_name(s, &scopes[i]);
			break;
		}
		if (tag != DW_TAG_inlined_subroutine)
			continue;
		/* Past max, the innermost frames are the ones dropped: keep
		 * shifting so the chain still ends at the real function. */
		if (n == max) {
			memmove(f, f + 1, sizeof(*f) * (size_t)(max - 1));
			n--;
		}
		f[n] = (struct frame_info){ .function = die_function_name(s, &scopes[i]),
					    .file = *file, .line = *line, .inlined = 1 };
		if (!f[n].function)
			f[n].function = intern(s, "[inlined]");
		n++;
		die_call_site(s, &cu, &scopes[i], file, line);
	}
	return n;
}

/* All frames for addr into f (room for MAX_FRAMES_PER_PC); the count. */
static int resolve(struct symbolizer *s, uint64_t addr, struct frame_info *f)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	if (!mod) {
		f[0] = (struct frame_info){ .function = intern_fmt(s, "[unknown]", addr),
					    .module = intern(s, "[unknown]") };
		return 1;
	}
	Dwarf_Addr start = 0;
	const char *name = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	const char *module = intern(s, base_name(name ? name : "[unknown]"));

	const char *file, *outer;
	int line;
	pc_source(s, mod, addr, &file, &line);
	int n = inline_frames(s, mod, addr, f, MAX_FRAMES_PER_PC - 1, &file, &line, &outer);

	/* The ELF symbol names the real function (as perf does: "foo.cold" is
	 * where the PC is); DWARF only when the symbol tables are gone. */
	const char *function = symindex_name(s, mod, addr);
	if (!function)
		function = outer;
	if (!function)
		function = intern_fmt(s, module ? module : "[unknown]", addr - start);
	f[n++] = (struct frame_info){ .function = function, .file = file, .line = line };
	for (int i = 0; i < n; i++)
		f[i].module = module;
	return n;
}

/* A frame with a NULL function or module means the arena ran out. */
static int frames_complete(const struct frame_info *f, int n)
{
	for (int i = 0; i < n; i++)
		if (!f[i].function || !f[i].module)
			return 0;
	return 1;
}

Dwfl *symbolizer_dwfl(struct symbolizer *s)
{
	if (s->sync)
		s->sync(s);
	return s->dwfl;
}

int symbolizer_lookup(struct symbolizer *s, uint64_t addr, const struct frame_info **frames)
{
	if (s->sync)
		s->sync(s);
	int n = sym_cache_find(&s->cache, addr, frames);
	if (n > 0)
		return n;
	s->dwfl_lookups++;
	struct frame_info f[MAX_FRAMES_PER_PC];
	n = resolve(s, addr, f);
	const struct frame_info *stored = frames_complete(f, n) ?
		sym_cache_insert(&s->cache, addr, f, n) : NULL;
	if (!stored) {
		*frames = &oom_frame;
		return 1;
	}
	*frames = stored;
	return n;
}
