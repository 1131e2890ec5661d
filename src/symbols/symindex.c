/* symindex.c — which ELF symbol a PC is in, without libdwfl's linear scan of
 * the whole symbol table on every call (dwfl_module_addrinfo: ~300-500 us
 * per address in libc.so.6 with the .symtab of libc6-dbg, 10,000 symbols).
 *
 * libdwfl's answer for an address depends only on which symbols start at or
 * before it, which sized symbols contain it, and which section it is in. So
 * it is the same for every address strictly between two consecutive
 * "boundaries" (symbol starts, sized symbol ends, section starts and ends):
 * one dwfl_module_addrinfo call per gap (usually per function) answers for
 * all of the gap's addresses, exactly as libdwfl would. An address right on a
 * boundary (exact-match rules apply there) always asks libdwfl. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <gelf.h>
#include "symbols_internal.h"

struct sym_index {
	Dwfl_Module *mod;
	uint64_t *bounds;       /* sorted, unique */
	size_t n;
	const char **gap;       /* gap[i]: answer for (bounds[i], bounds[i+1]) */
};

/* gap[i] when the answer is "no symbol" (NULL means not asked yet) */
static const char no_symbol[] = "";

struct bounds {
	uint64_t *v;
	size_t n, cap;
};

static int push(struct bounds *b, uint64_t a)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		uint64_t *v = realloc(b->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = a;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* More boundaries than needed only costs cache hits, never correctness, so
 * every symbol counts, whatever its type. */
static int symbol_bounds(Dwfl_Module *mod, struct bounds *b)
{
	int nsyms = dwfl_module_getsymtab(mod);
	for (int i = 0; i < nsyms; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		if (!dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL))
			continue;
		if (push(b, addr) < 0 || (sym.st_size && push(b, addr + sym.st_size) < 0))
			return -ENOMEM;
	}
	return 0;
}

/* Sizeless symbols only match addresses in their own section. */
static int section_bounds(Dwfl_Module *mod, struct bounds *b)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	Elf_Scn *scn = NULL;
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		if (!gelf_getshdr(scn, &shdr) || !(shdr.sh_flags & SHF_ALLOC))
			continue;
		if (push(b, shdr.sh_addr + bias) < 0 ||
		    push(b, shdr.sh_addr + shdr.sh_size + bias) < 0)
			return -ENOMEM;
	}
	return 0;
}

static struct sym_index *index_build(Dwfl_Module *mod)
{
	struct sym_index *x = calloc(1, sizeof(*x));
	struct bounds b = { 0 };
	Dwarf_Addr lo, hi;
	if (!x || symbol_bounds(mod, &b) < 0 || section_bounds(mod, &b) < 0 ||
	    !dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL) ||
	    push(&b, lo) < 0 || push(&b, hi) < 0)
		goto fail;
	qsort(b.v, b.n, sizeof(*b.v), cmp_u64);
	size_t n = 0;
	for (size_t i = 0; i < b.n; i++)
		if (n == 0 || b.v[i] != b.v[n - 1])
			b.v[n++] = b.v[i];
	x->gap = calloc(n, sizeof(*x->gap));
	if (!x->gap)
		goto fail;
	x->mod = mod;
	x->bounds = b.v;
	x->n = n;
	return x;
fail:
	free(b.v);
	free(x);
	return NULL;
}

static void index_free(struct sym_index *x)
{
	if (!x)
		return;
	free(x->bounds);
	free(x->gap);
	free(x);
}

void symindex_forget(struct symbolizer *s)
{
	for (size_t i = 0; i < s->nindex; i++)
		index_free(s->index[i]);
	free(s->index);
	s->index = NULL;
	s->nindex = 0;
}

static struct sym_index *index_of(struct symbolizer *s, Dwfl_Module *mod)
{
	for (size_t i = 0; i < s->nindex; i++)
		if (s->index[i]->mod == mod)
			return s->index[i];
	struct sym_index **v = realloc(s->index, (s->nindex + 1) * sizeof(*v));
	if (!v)
		return NULL;
	s->index = v;
	struct sym_index *x = index_build(mod);
	if (x)
		s->index[s->nindex++] = x;
	return x;
}

/* The i with bounds[i] < pc < bounds[i + 1], or -1 (on or outside the bounds). */
static long gap_of(const struct sym_index *x, uint64_t pc)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->bounds[mid] <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* lo: first bound > pc */
	if (lo == 0 || lo == x->n || x->bounds[lo - 1] == pc)
		return -1;
	return (long)(lo - 1);
}

/* name without an ELF symbol version: the .symtab of glibc's debug files
 * has "clock_gettime@@GLIBC_2.17", which would also keep a versioned C++
 * name from being demangled. */
static const char *intern_unversioned(struct symbolizer *s, const char *name)
{
	const char *at = strchr(name, '@');
	if (!at || at == name)
		return symbolizer_intern_name(s, name);
	char buf[4096];
	size_t len = (size_t)(at - name);
	if (len >= sizeof(buf))
		return symbolizer_intern_name(s, name);
	memcpy(buf, name, len);
	buf[len] = 0;
	return symbolizer_intern_name(s, buf);
}

static const char *ask_libdwfl(struct symbolizer *s, Dwfl_Module *mod, uint64_t pc)
{
	GElf_Off off;
	GElf_Sym sym;
	s->addrinfo_calls++;
	const char *name = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
	return name ? intern_unversioned(s, name) : no_symbol;
}

const char *symindex_name(struct symbolizer *s, Dwfl_Module *mod, uint64_t pc)
{
	struct sym_index *x = s->use_index ? index_of(s, mod) : NULL;
	long i = x ? gap_of(x, pc) : -1;
	const char *name;
	if (i < 0) {
		name = ask_libdwfl(s, mod, pc);
	} else {
		if (!x->gap[i])
			x->gap[i] = ask_libdwfl(s, mod, pc);
		name = x->gap[i];
	}
	return name == no_symbol ? NULL : name;
}

