/* maps.h — the target's memory map and the ELF modules mapped into it.
 *
 * Parsed from /proc/PID/maps; files are opened through /proc/PID/map_files
 * (deleted or replaced files) or /proc/PID/root (containers), mapped read-only
 * once and kept open with libelf. The vDSO image is read from the target.
 * Shared by the unwinder (unwind tables, file bytes instead of live reads) and
 * the symbolizer. Nothing here is re-parsed per sample. */
#ifndef REMPROF_MAPS_H
#define REMPROF_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <libelf.h>
#include "remprof/reader.h"

struct module {
	char *path;            /* as /proc/PID/maps names it; "[vdso]" for the vDSO */
	char *open_path;       /* the path actually opened (map_files/root), or NULL for the vDSO */
	uint64_t start, end;   /* lowest start .. highest end of the file's mappings */
	uint64_t bias;         /* runtime address = ELF virtual address + bias */
	char build_id[41];     /* lowercase hex, "" if none */
	Elf *elf;              /* over image */
	const uint8_t *image;  /* the whole file (or vDSO), read-only */
	size_t image_size;
	int deleted;           /* "(deleted)" in maps */
	void *unwind_data;     /* owned by the unwinder: its per-module cache */
	void (*unwind_data_free)(void *);
};

struct maps;

/* 0 or -errno. r is used to read the vDSO image (and kept, not owned). */
int maps_open(struct maps **out, pid_t pid, struct reader *r);
/* Re-read /proc/PID/maps (after dlopen, exec). Modules whose file and range
 * are unchanged are kept (with their caches); 0 or -errno. */
int maps_refresh(struct maps *m);
/* The ELF module mapped at addr, or NULL. */
struct module *maps_find_module(struct maps *m, uint64_t addr);
/* The single mapping (VMA) containing addr: 0 and its bounds, or -ENOENT. */
int maps_find_mapping(const struct maps *m, uint64_t addr, uint64_t *start, uint64_t *end);
size_t maps_module_count(const struct maps *m);
struct module *maps_module_at(struct maps *m, size_t i);
/* Copy len bytes at runtime address addr from the module's file image
 * (translating through its program headers); bytes copied (short at the end
 * of a segment), or -EFAULT. Only read-only PT_LOAD segments are served: a
 * writable one (.data, GOT, RELRO) holds run-time values the file lacks. */
ssize_t maps_read_image(const struct module *mod, uint64_t addr, void *buf, size_t len);
/* How many times /proc/PID/maps was parsed (tests check the caching). */
unsigned maps_generation(const struct maps *m);
void maps_close(struct maps *m);

#endif
