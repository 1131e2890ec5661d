/* unwind.c — libunwind's remote API over a snapshot: the copied stack and
 * registers, the module file images (unwind tables and text never come from
 * the live target), and the reader only for what neither holds. */
#include "remprof/unwind.h"
#include "remprof/clock.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libunwind.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include "remprof/symbols.h"

/* Exported by libunwind but not declared in its public headers; perf's
 * unwind-libunwind-local.c declares it the same way. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);
#define dwarf_search_unwind_table UNW_OBJ(dwarf_search_unwind_table)

#define DW_EH_PE_absptr  0x00
#define DW_EH_PE_udata4  0x03
#define DW_EH_PE_sdata4  0x0b
#define DW_EH_PE_pcrel   0x10
#define DW_EH_PE_datarel 0x30

/* A PC in no known mapping re-reads /proc/PID/maps at most this often, so
 * that a target churning through mmap/munmap is not re-parsed per sample. */
#define REFRESH_MIN_INTERVAL_NS 50000000ull

struct unwinder {
	struct maps *maps;
	struct reader *r;
	unw_addr_space_t as;
	uint64_t last_refresh_ns;
	unsigned maps_gen;      /* maps_generation() the cached procedure info is for */
	/* libdwfl's unwinder, for stacks through code with only .debug_frame
	 * (unwinder_use_symbolizer); attached is 1 once its thread state is, -1
	 * if that failed. */
	struct symbolizer *sym;
	int attached;
	struct unwind_ctx *cur; /* the sample its callbacks serve */
};

/* Per-sample state handed to every accessor as `arg`. */
struct unwind_ctx {
	struct unwinder *u;
	const struct snapshot *s;
	uint64_t stack_vma_start, stack_vma_end; /* 0, 0 when unknown */
	const struct module_tables *synth;      /* being searched, for access_mem */
	int flags;
	int refreshed;
	int debug_frame_only;  /* a PC had no .eh_frame FDE but its module has .debug_frame */
};

/* One row of a binary-search table, as in .eh_frame_hdr and as libunwind's
 * remote lookup reads it: both relative to the table's segbase. */
struct table_entry {
	int32_t start_ip_offset;
	int32_t fde_offset;
};

/* A table we build ourselves (for .eh_frame without .eh_frame_hdr) lives in
 * our memory, but REMOTE_TABLE wants an address in the accessors' address
 * space. We give it one the target can never map: on x86_64 (4- or 5-level
 * paging) addresses from here up to the kernel half are non-canonical.
 * access_mem serves it while dwarf_search_unwind_table() runs. */
#define SYNTH_TABLE_ADDR 0x4000000000000000ull

/* What the unwinder keeps per module (module->unwind_data). */
struct module_tables {
	int status;             /* 0: di is usable; -UNW_ENOINFO: no table we can use */
	int has_debug_frame;
	unw_dyn_info_t di;
	struct table_entry *synth;   /* our own table, or NULL (.eh_frame_hdr's is used) */
	size_t nsynth;
};

/* ---- .eh_frame_hdr ---- */

static int find_eh_frame_hdr(const struct module *mod, GElf_Phdr *out)
{
	size_t nph;

	if (elf_getphdrnum(mod->elf, &nph) != 0)
		return -1;
	for (size_t i = 0; i < nph; i++)
		if (gelf_getphdr(mod->elf, (int)i, out) && out->p_type == PT_GNU_EH_FRAME)
			return 0;
	return -1;
}

/* The binary-search table of .eh_frame_hdr, as libunwind's REMOTE_TABLE
 * format wants it: entries (start_ip, fde) of 2 x int32 relative to the
 * header (DW_EH_PE_datarel | DW_EH_PE_sdata4, what every linker emits).
 * The table itself is read later through access_mem, i.e. from the image. */
static int tables_from_eh_frame_hdr(const struct module *mod, struct module_tables *t)
{
	GElf_Phdr ph;
	uint8_t h[12];
	uint32_t fde_count;
	uint64_t hdr;

	if (find_eh_frame_hdr(mod, &ph) != 0)
		return -UNW_ENOINFO;
	hdr = ph.p_vaddr + mod->bias;
	if (maps_read_image(mod, hdr, h, sizeof(h)) != (ssize_t)sizeof(h))
		return -UNW_ENOINFO;
	/* version 1; eh_frame_ptr pcrel|sdata4 (4 bytes); fde_count udata4; table datarel|sdata4 */
	if (h[0] != 1 || (h[1] & 0x0f) != DW_EH_PE_sdata4 || h[2] != DW_EH_PE_udata4 ||
	    h[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return -UNW_ENOINFO;
	memcpy(&fde_count, h + 8, sizeof(fde_count));
	if (fde_count == 0)
		return -UNW_ENOINFO;
	memset(&t->di, 0, sizeof(t->di));
	t->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	t->di.start_ip = mod->start;
	t->di.end_ip = mod->end;
	t->di.gp = 0;
	t->di.u.rti.name_ptr = 0;
	t->di.u.rti.segbase = hdr;
	t->di.u.rti.table_data = hdr + 12;
	t->di.u.rti.table_len = fde_count * 8 / sizeof(unw_word_t);
	return 0;
}

/* ---- .eh_frame without .eh_frame_hdr ---- */

/* Why libunwind does not read .debug_frame here: libunwind 1.6.2 searches it
 * only as UNW_INFO_FORMAT_TABLE, whose table_data must point to its private
 * struct unw_debug_frame_list, built by dwarf_find_debug_frame(), which
 * Debian's build does not export; dwarf_find_unwind_table() wants the private
 * struct elf_dyn_info and opens the file by path itself. A REMOTE_TABLE is
 * always parsed as .eh_frame (CIE pointers relative, CIE id 0), so .debug_frame
 * FDEs cannot go through it either. A stack through code with only
 * .debug_frame (built with -fno-asynchronous-unwind-tables) is therefore
 * unwound again by libdwfl's unwinder (dwfl_getthread_frames, at the end of
 * this file), which reads both. */

/* Bytes of a DW_EH_PE_* value format, 0 if we do not know it. */
static size_t encoded_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: return 8;             /* absptr */
	case 0x02: case 0x0a: return 2;  /* udata2, sdata2 */
	case 0x03: case 0x0b: return 4;  /* udata4, sdata4 */
	case 0x04: case 0x0c: return 8;  /* udata8, sdata8 */
	default: return 0;
	}
}

/* An FDE's initial_location: only the encodings compilers emit for .eh_frame
 * (absolute or pc-relative fixed-size values). 0 if it is another one. */
static int decode_pointer(uint8_t enc, const uint8_t *p, uint64_t field_addr, uint64_t *out)
{
	size_t n = encoded_size(enc);
	int64_t v;

	if (n == 0 || ((enc & 0x70) != 0 && (enc & 0x70) != DW_EH_PE_pcrel) || (enc & 0x80))
		return 0;
	if (n == 2) {
		int16_t x; uint16_t ux;
		memcpy(&x, p, 2); memcpy(&ux, p, 2);
		v = (enc & 0x08) ? x : ux;
	} else if (n == 4) {
		int32_t x; uint32_t ux;
		memcpy(&x, p, 4); memcpy(&ux, p, 4);
		v = (enc & 0x08) ? x : (int64_t)ux;
	} else {
		memcpy(&v, p, 8);
	}
	*out = (uint64_t)v + ((enc & 0x70) == DW_EH_PE_pcrel ? field_addr : 0);
	return 1;
}

/* The FDE pointer encoding of a CIE: the 'R' entry of its "z..." augmentation. */
static int cie_fde_encoding(const Dwarf_CIE *cie, uint8_t *enc)
{
	const char *a = cie->augmentation;
	const uint8_t *d = cie->augmentation_data;
	size_t pos = 0;

	*enc = DW_EH_PE_absptr;
	if (a[0] != 'z')
		return a[0] == '\0' ? 0 : -1;
	for (a++; *a; a++) {
		if (*a == 'R') {
			if (pos >= cie->augmentation_data_size)
				return -1;
			*enc = d[pos];
			return 0;
		} else if (*a == 'P') {
			size_t n = pos < cie->augmentation_data_size ? encoded_size(d[pos]) : 0;
			if (n == 0)
				return -1;
			pos += 1 + n;
		} else if (*a == 'L') {
			pos++;
		} else if (*a != 'S' && *a != 'B') {
			return -1;
		}
	}
	return 0;
}

static Elf_Scn *section_named(Elf *elf, const char *name, GElf_Shdr *sh)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;
		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct table_entry *x = a, *y = b;
	return (x->start_ip_offset > y->start_ip_offset) - (x->start_ip_offset < y->start_ip_offset);
}

struct cie_enc { Dwarf_Off off; int ok; uint8_t enc; };

static int push_entry(struct module_tables *t, size_t *cap, int64_t start, int64_t fde)
{
	if (start < 0 || start > INT32_MAX || fde < 0 || fde > INT32_MAX)
		return 0;       /* outside the module: not ours to index */
	if (t->nsynth == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct table_entry *nv = realloc(t->synth, ncap * sizeof(*nv));
		if (!nv)
			return -UNW_ENOMEM;
		t->synth = nv;
		*cap = ncap;
	}
	t->synth[t->nsynth++] = (struct table_entry){ (int32_t)start, (int32_t)fde };
	return 0;
}

/* Index every FDE of .eh_frame (entries enumerated by libdw's
 * dwarf_next_cfi) into a sorted table relative to the module's start. */
static int index_eh_frame(const struct module *mod, Elf_Scn *scn, const GElf_Shdr *sh,
			  struct module_tables *t)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	const unsigned char *ident = (const unsigned char *)elf_getident(mod->elf, NULL);
	uint64_t sec = sh->sh_addr + mod->bias;
	struct cie_enc cies[64];
	size_t ncies = 0, cap = 0;
	Dwarf_Off off = 0, next;
	Dwarf_CFI_Entry e;

	if (!data || !ident)
		return -UNW_ENOINFO;
	while (dwarf_next_cfi(ident, data, 1, off, &next, &e) == 0) {
		if (dwarf_cfi_cie_p(&e)) {
			if (ncies < 64) {
				cies[ncies].off = off;
				cies[ncies].ok = cie_fde_encoding(&e.cie, &cies[ncies].enc) == 0;
				ncies++;
			}
		} else {
			size_t i;
			uint64_t start;
			const uint8_t *field = e.fde.start;
			for (i = 0; i < ncies && cies[i].off != e.fde.CIE_pointer; i++)
				;
			if (i < ncies && cies[i].ok &&
			    decode_pointer(cies[i].enc, field, sec + (uint64_t)(field -
					   (const uint8_t *)data->d_buf), &start) &&
			    push_entry(t, &cap, (int64_t)(start - mod->start),
				       (int64_t)(sec + off - mod->start)) != 0)
				return -UNW_ENOMEM;
		}
		off = next;
	}
	if (t->nsynth == 0)
		return -UNW_ENOINFO;
	qsort(t->synth, t->nsynth, sizeof(*t->synth), cmp_entry);
	memset(&t->di, 0, sizeof(t->di));
	t->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	t->di.start_ip = mod->start;
	t->di.end_ip = mod->end;
	t->di.u.rti.segbase = mod->start;
	t->di.u.rti.table_data = SYNTH_TABLE_ADDR;
	t->di.u.rti.table_len = t->nsynth * sizeof(*t->synth) / sizeof(unw_word_t);
	return 0;
}

static int tables_from_eh_frame(const struct module *mod, struct module_tables *t)
{
	GElf_Shdr sh;
	Elf_Scn *scn = section_named(mod->elf, ".eh_frame", &sh);

	if (!scn || sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC))
		return -UNW_ENOINFO;
	return index_eh_frame(mod, scn, &sh, t);
}

static void module_tables_free(void *p)
{
	struct module_tables *t = p;

	free(t->synth);
	free(t);
}

static struct module_tables *module_tables(struct module *mod)
{
	struct module_tables *t = mod->unwind_data;

	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->status = tables_from_eh_frame_hdr(mod, t);
	if (t->status != 0)
		t->status = tables_from_eh_frame(mod, t);
	GElf_Shdr sh;
	t->has_debug_frame = section_named(mod->elf, ".debug_frame", &sh) != NULL;
	mod->unwind_data = t;
	mod->unwind_data_free = module_tables_free;
	return t;
}

/* ---- module lookup, with one refresh for code mapped after attach ---- */

/* Re-reading the maps only helps for an address in no known mapping (a
 * library dlopen()ed since): an IP in a known anonymous mapping (JIT code)
 * or a file we could not open would stay unknown. */
static struct module *find_module(struct unwind_ctx *c, uint64_t ip)
{
	struct unwinder *u = c->u;
	struct module *mod = maps_find_module(u->maps, ip);
	uint64_t now, vs, ve;

	if (mod || c->refreshed || maps_find_mapping(u->maps, ip, &vs, &ve) == 0)
		return mod;
	c->refreshed = 1;
	now = now_ns();
	if (u->last_refresh_ns && now - u->last_refresh_ns < REFRESH_MIN_INTERVAL_NS)
		return NULL;
	u->last_refresh_ns = now;
	if (maps_refresh(u->maps) != 0)
		return NULL;
	return maps_find_module(u->maps, ip);
}

/* ---- accessors ---- */

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			      int need_unwind_info, void *arg)
{
	struct unwind_ctx *c = arg;
	struct module *mod = find_module(c, ip);
	struct module_tables *t;

	if (!mod)
		return -UNW_ENOINFO;
	t = module_tables(mod);
	if (!t)
		return -UNW_ENOMEM;
	int ret = t->status;
	if (ret == 0) {
		c->synth = t->synth ? t : NULL;
		ret = dwarf_search_unwind_table(as, ip, &t->di, pi, need_unwind_info, arg);
		c->synth = NULL;
	}
	if (ret == -UNW_ENOINFO && t->has_debug_frame)
		c->debug_frame_only = 1;
	return ret;
}

/* Nothing to release: libunwind frees what dwarf_search_unwind_table gave it. */
static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	(void)as;
	(void)pi;
	(void)arg;
}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
	(void)as;
	(void)dilap;
	(void)arg;
	return -UNW_ENOINFO;
}

static int in_stack_vma(const struct unwind_ctx *c, uint64_t addr)
{
	return addr >= c->stack_vma_start && addr < c->stack_vma_end;
}

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp, int write,
			  void *arg)
{
	struct unwind_ctx *c = arg;
	const struct snapshot *s = c->s;
	struct module *mod;

	(void)as;
	if (write)
		return -UNW_EREADONLYREG;
	if (c->synth && addr >= SYNTH_TABLE_ADDR &&
	    addr - SYNTH_TABLE_ADDR + sizeof(*valp) <= c->synth->nsynth * sizeof(*c->synth->synth)) {
		memcpy(valp, (const uint8_t *)c->synth->synth + (addr - SYNTH_TABLE_ADDR),
		       sizeof(*valp));
		return 0;
	}
	if (addr >= s->stack_addr && addr - s->stack_addr + sizeof(*valp) <= s->stack_len) {
		memcpy(valp, s->stack + (addr - s->stack_addr), sizeof(*valp));
		return 0;
	}
	mod = maps_find_module(c->u->maps, addr);
	if (mod) {
		/* libunwind reads aligned words; the one holding a segment's last
		 * bytes may reach past it, and those bytes are never used. */
		ssize_t n = maps_read_image(mod, addr, valp, sizeof(*valp));
		if (n > 0) {
			if ((size_t)n < sizeof(*valp))
				memset((uint8_t *)valp + n, 0, sizeof(*valp) - (size_t)n);
			return 0;
		}
	}
	/* The thread runs again by now: the live stack beyond our copy holds
	 * other frames than the ones we are unwinding, so never read it. */
	if (in_stack_vma(c, addr))
		return -UNW_EINVAL;
	if (!c->u->r || reader_copy(c->u->r, s->tid, addr, valp, sizeof(*valp)) !=
			(ssize_t)sizeof(*valp))
		return -UNW_EINVAL;
	c->flags |= UNWIND_LIVE_READ;
	return 0;
}

static int reg_value(const struct user_regs_struct *r, unw_regnum_t reg, unw_word_t *v)
{
	switch (reg) {
	case UNW_X86_64_RAX: *v = r->rax; return 0;
	case UNW_X86_64_RDX: *v = r->rdx; return 0;
	case UNW_X86_64_RCX: *v = r->rcx; return 0;
	case UNW_X86_64_RBX: *v = r->rbx; return 0;
	case UNW_X86_64_RSI: *v = r->rsi; return 0;
	case UNW_X86_64_RDI: *v = r->rdi; return 0;
	case UNW_X86_64_RBP: *v = r->rbp; return 0;
	case UNW_X86_64_RSP: *v = r->rsp; return 0;
	case UNW_X86_64_R8:  *v = r->r8;  return 0;
	case UNW_X86_64_R9:  *v = r->r9;  return 0;
	case UNW_X86_64_R10: *v = r->r10; return 0;
	case UNW_X86_64_R11: *v = r->r11; return 0;
	case UNW_X86_64_R12: *v = r->r12; return 0;
	case UNW_X86_64_R13: *v = r->r13; return 0;
	case UNW_X86_64_R14: *v = r->r14; return 0;
	case UNW_X86_64_R15: *v = r->r15; return 0;
	case UNW_X86_64_RIP: *v = r->rip; return 0;
	default: return -UNW_EBADREG;
	}
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *valp, int write,
			  void *arg)
{
	struct unwind_ctx *c = arg;

	(void)as;
	if (write)
		return -UNW_EREADONLYREG;
	return reg_value(&c->s->regs, reg, valp);
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			    void *arg)
{
	(void)as;
	(void)reg;
	(void)val;
	(void)write;
	(void)arg;
	return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *cu, void *arg)
{
	(void)as;
	(void)cu;
	(void)arg;
	return -UNW_EINVAL;
}

/* Names are the symbolizer's job (libdwfl, with DWARF and demangling). */
static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			     unw_word_t *offp, void *arg)
{
	(void)as;
	(void)addr;
	(void)buf;
	(void)len;
	(void)offp;
	(void)arg;
	return -UNW_EINVAL;
}

static unw_accessors_t accessors = {
	.find_proc_info = acc_find_proc_info,
	.put_unwind_info = acc_put_unwind_info,
	.get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
	.access_mem = acc_access_mem,
	.access_reg = acc_access_reg,
	.access_fpreg = acc_access_fpreg,
	.resume = acc_resume,
	.get_proc_name = acc_get_proc_name,
};

/* ---- public ---- */

int unwinder_open(struct unwinder **out, struct maps *m, struct reader *r)
{
	struct unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->maps = m;
	u->r = r;
	u->as = unw_create_addr_space(&accessors, 0);
	if (!u->as) {
		free(u);
		return -ENOMEM;
	}
	/* Procedure info is cached across samples (the modules do not change
	 * under us without a refresh, which flushes it). */
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	unw_set_cache_size(u->as, 4096, 0);
	u->maps_gen = maps_generation(m);
	*out = u;
	return 0;
}

void unwinder_close(struct unwinder *u)
{
	if (!u)
		return;
	unw_destroy_addr_space(u->as);
	free(u);
}

/* Steps until the outermost frame (unw_step() == 0, or IP 0), an error, no
 * progress, or max frames. */
static int walk(unw_cursor_t *cur, uint64_t *pcs, int max, int *flags)
{
	int n = 0, exact = 1;
	unw_word_t ip, sp, prev_ip = 0, prev_sp = 0;

	for (;;) {
		if (unw_get_reg(cur, UNW_REG_IP, &ip) < 0 || unw_get_reg(cur, UNW_REG_SP, &sp) < 0) {
			*flags |= UNWIND_TRUNCATED;
			break;
		}
		if (ip == 0)
			break;
		if (n > 0 && ip == prev_ip && sp == prev_sp) {
			*flags |= UNWIND_TRUNCATED;
			break;
		}
		if (n == max) {
			*flags |= UNWIND_TRUNCATED;
			break;
		}
		/* A return address points after the call; -1 puts it inside the
		 * call instruction (and inside the caller's function). Frame 0, the
		 * frame a signal interrupted, and the signal trampoline itself (the
		 * kernel "returns" to its first byte, there was no call) hold the
		 * exact IP. */
		int sigframe = unw_is_signal_frame(cur) > 0;
		pcs[n++] = exact || sigframe ? ip : ip - 1;
		exact = sigframe;
		prev_ip = ip;
		prev_sp = sp;
		int ret = unw_step(cur);
		if (ret == 0)
			break;
		if (ret < 0) {
			*flags |= UNWIND_TRUNCATED;
			break;
		}
	}
	return n;
}

/* ---- libdwfl's unwinder, for code with only .debug_frame ---- */

/* Its callbacks serve the same snapshot as libunwind's accessors: one
 * thread, the snapshot's registers, memory through acc_access_mem. */
static pid_t dwfl_next_thread(Dwfl *dwfl, void *dwfl_arg, void **thread_argp)
{
	(void)dwfl;
	struct unwinder *u = dwfl_arg;
	if (*thread_argp)
		return 0;
	*thread_argp = u;
	return u->cur->s->tid;
}

static bool dwfl_get_thread(Dwfl *dwfl, pid_t tid, void *dwfl_arg, void **thread_argp)
{
	(void)dwfl;
	struct unwinder *u = dwfl_arg;
	*thread_argp = u;
	return tid == u->cur->s->tid;
}

static bool dwfl_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *dwfl_arg)
{
	(void)dwfl;
	struct unwinder *u = dwfl_arg;
	unw_word_t v;
	if (acc_access_mem(u->as, addr, &v, 0, u->cur) != 0)
		return false;
	*result = v;
	return true;
}

/* DWARF register numbers 0..16 of x86_64: rax rdx rcx rbx rsi rdi rbp rsp
 * r8..r15, and the return address column (the IP). */
static bool dwfl_set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	const struct user_regs_struct *r = &((struct unwinder *)thread_arg)->cur->s->regs;
	Dwarf_Word regs[17] = { r->rax, r->rdx, r->rcx, r->rbx, r->rsi, r->rdi, r->rbp, r->rsp,
				r->r8,  r->r9,  r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
				r->rip };
	return dwfl_thread_state_registers(thread, 0, 17, regs) &&
	       (dwfl_thread_state_register_pc(thread, r->rip), true);
}

static const Dwfl_Thread_Callbacks dwfl_thread_callbacks = {
	.next_thread = dwfl_next_thread,
	.get_thread = dwfl_get_thread,
	.memory_read = dwfl_memory_read,
	.set_initial_registers = dwfl_set_initial_registers,
};

struct dwfl_walk {
	uint64_t *pcs;
	int n, max;
};

static int dwfl_frame(Dwfl_Frame *state, void *arg)
{
	struct dwfl_walk *w = arg;
	Dwarf_Addr pc;
	bool activation;
	if (w->n == w->max || !dwfl_frame_pc(state, &pc, &activation) || pc == 0)
		return DWARF_CB_ABORT;
	/* As in walk(): a return address less one lands inside the call. */
	w->pcs[w->n++] = activation ? pc : pc - 1;
	return DWARF_CB_OK;
}

/* The stack unwound by libdwfl; 0 if it could not be. */
static int walk_dwfl(struct unwinder *u, struct unwind_ctx *c, uint64_t *pcs, int max)
{
	Dwfl *dwfl = symbolizer_dwfl(u->sym);
	if (!dwfl || u->attached < 0)
		return 0;
	if (!u->attached)
		u->attached = dwfl_attach_state(dwfl, NULL, c->s->pid, &dwfl_thread_callbacks, u)
			      ? 1 : -1;
	if (u->attached < 0)
		return 0;
	struct dwfl_walk w = { pcs, 0, max };
	u->cur = c;
	dwfl_getthread_frames(dwfl, c->s->tid, dwfl_frame, &w);
	u->cur = NULL;
	return w.n;
}

void unwinder_use_symbolizer(struct unwinder *u, struct symbolizer *sym)
{
	u->sym = sym;
	u->attached = 0;
}

int unwind_snapshot(struct unwinder *u, const struct snapshot *s, uint64_t *pcs, int max,
		    int *flags)
{
	struct unwind_ctx c = { .u = u, .s = s };
	unw_cursor_t cur;
	int n;

	*flags = 0;
	if (max <= 0)
		return -EINVAL;
	if (max > UNWIND_MAX_FRAMES)
		max = UNWIND_MAX_FRAMES;
	/* Cached procedure info may belong to a module that went away (exec,
	 * dlclose), whoever refreshed the maps (we, or the caller after an
	 * exec). Flushed here, never under a live cursor. */
	if (maps_generation(u->maps) != u->maps_gen) {
		unw_flush_cache(u->as, 0, 0);
		u->maps_gen = maps_generation(u->maps);
	}
	if (maps_find_mapping(u->maps, s->regs.rsp, &c.stack_vma_start, &c.stack_vma_end) != 0)
		c.stack_vma_start = c.stack_vma_end = 0;
	if (unw_init_remote(&cur, u->as, &c) < 0) {
		/* Still report the one PC we know. */
		pcs[0] = s->regs.rip;
		*flags = UNWIND_TRUNCATED;
		return s->regs.rip ? 1 : -EINVAL;
	}
	n = walk(&cur, pcs, max, &c.flags);
	if (c.debug_frame_only && u->sym) {
		/* libunwind guessed through a .debug_frame-only frame: libdwfl's
		 * stack, where it went further (it reads the same memory). */
		uint64_t again[UNWIND_MAX_FRAMES];
		int flags_before = c.flags;
		int m = walk_dwfl(u, &c, again, max);
		if (m > n) {
			memcpy(pcs, again, (size_t)m * sizeof(*pcs));
			n = m;
			c.flags = (flags_before | c.flags) & ~UNWIND_TRUNCATED;
			c.flags |= m == max ? UNWIND_TRUNCATED : 0;
		}
	}
	*flags = c.flags;
	if (n == 0) {
		if (!s->regs.rip)
			return -EINVAL;
		pcs[0] = s->regs.rip;
		*flags |= UNWIND_TRUNCATED;
		n = 1;
	}
	return n;
}
