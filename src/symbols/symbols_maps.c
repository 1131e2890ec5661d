/* symbols_maps.c — report the maps module's ELF modules to libdwfl, and
 * report them again when maps_refresh() changed the module list (dlopen,
 * dlclose, exec). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "symbols_internal.h"

/* Modules without a file (the vDSO) are reported by range alone; libdwfl
 * then asks here for their ELF, which is opened over our copy of the image. */
static int image_find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, char **file_name, Elf **elfp)
{
	(void)mod, (void)modname, (void)base;
	const struct sym_image *img = *userdata;
	*file_name = NULL;
	*elfp = img ? elf_memory(img->data, img->size) : NULL;
	return -1;
}

static struct sym_image *image_copy(struct symbolizer *s, const struct module *m)
{
	struct sym_image *img = calloc(1, sizeof(*img));
	if (!img || !(img->data = malloc(m->image_size))) {
		free(img);
		return NULL;
	}
	memcpy(img->data, m->image, m->image_size);
	img->size = m->image_size;
	img->next = s->images;
	s->images = img;
	return img;
}

static int same_module(const struct sym_reported *r, const struct module *m)
{
	/* the build-id tells a file rebuilt and loaded again at the same place */
	return r->start == m->start && r->end == m->end && r->bias == m->bias &&
	       strcmp(r->path, m->path) == 0 && strcmp(r->build_id, m->build_id) == 0;
}

static const struct sym_reported *find_reported(const struct symbolizer *s,
						const struct module *m)
{
	for (size_t i = 0; i < s->nreported; i++)
		if (same_module(&s->reported[i], m))
			return &s->reported[i];
	return NULL;
}

/* Called after every maps_refresh (the sampler refreshes periodically), so
 * in one pass: both lists are in the maps module's (address) order. */
static int same_modules(const struct symbolizer *s)
{
	size_t n = maps_module_count(s->maps);
	if (n != s->nreported)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!same_module(&s->reported[i], maps_module_at(s->maps, i)))
			return 0;
	return 1;
}

/* A file module: its ELF from open_path (map_files or /proc/PID/root, which
 * still work for deleted or containerised files) but under its own path, so
 * that libdwfl finds a .gnu_debuglink target next to the real file. libdwfl
 * takes the descriptor over when the report succeeds. */
static Dwfl_Module *report_file(struct symbolizer *s, const struct module *m)
{
	int fd = open(m->open_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* add_p_vaddr: base is the load bias (ignored for ET_EXEC) */
		Dwfl_Module *mod = dwfl_report_elf(s->dwfl, m->path, m->path, fd, m->bias, true);
		if (mod)
			return mod;
		close(fd);
	}
	/* Unreadable: still a named range, so its PCs read "file+0xOFF". */
	return dwfl_report_module(s->dwfl, m->path, m->start, m->end);
}

static Dwfl_Module *report_image(struct symbolizer *s, const struct module *m)
{
	Dwfl_Module *mod = dwfl_report_module(s->dwfl, m->path, m->start, m->end);
	void **userdata;
	if (mod && m->image && m->image_size && dwfl_module_info(mod, &userdata, NULL, NULL,
								 NULL, NULL, NULL, NULL))
		*userdata = image_copy(s, m);
	return mod;
}

/* A second module of the same file inside the range libdwfl derived for an
 * earlier one (from all of its PT_LOADs) is a split of that one load: the
 * first keeps the range, the second would only shadow it. (The maps module
 * of 2026-12-01 splits an executable where its RELRO mapping repeats the
 * file offset of the read-only one before it.) */
static int shadows_earlier(const struct module *m, const struct sym_reported *rep, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (rep[i].dwfl_end > m->start && m->end > rep[i].dwfl_start &&
		    strcmp(rep[i].path, m->path) == 0)
			return 1;
	return 0;
}

/* Report one module as rep[k]; one libdwfl already has is re-reported with
 * the very range libdwfl derived for it, which keeps it (and its parsed
 * DWARF). */
static int report_one(struct symbolizer *s, const struct module *m, const struct sym_reported *old,
		      struct sym_reported *reps, size_t k)
{
	struct sym_reported *rep = &reps[k];
	Dwfl_Module *mod;
	if (shadows_earlier(m, reps, k))
		mod = NULL;
	else if (old && old->dwfl_end)
		mod = dwfl_report_module(s->dwfl, m->path, old->dwfl_start, old->dwfl_end);
	else if (m->open_path)
		mod = report_file(s, m);
	else
		mod = report_image(s, m);
	*rep = (struct sym_reported){ .path = strdup(m->path), .start = m->start, .end = m->end,
				      .bias = m->bias };
	if (!rep->path)
		return -ENOMEM;
	memcpy(rep->build_id, m->build_id, sizeof(rep->build_id));
	rep->build_id[sizeof(rep->build_id) - 1] = 0;
	if (mod)
		dwfl_module_info(mod, NULL, &rep->dwfl_start, &rep->dwfl_end, NULL, NULL, NULL, NULL);
	return 0;
}

static void free_reported(struct sym_reported *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].path);
	free(r);
}

static int report_all(struct symbolizer *s)
{
	size_t n = maps_module_count(s->maps);
	struct sym_reported *rep = calloc(n ? n : 1, sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	int err = 0;
	size_t k = 0;
	symindex_forget(s);
	dwfl_report_begin(s->dwfl);
	while (k < n && err == 0) {
		const struct module *m = maps_module_at(s->maps, k);
		err = report_one(s, m, find_reported(s, m), rep, k);
		if (err == 0)
			k++;
	}
	/* Modules not reported again are dropped here. An overlap (two
	 * modules claiming one range) only loses those modules. */
	dwfl_report_end(s->dwfl, NULL, NULL);
	free_reported(s->reported, s->nreported);
	s->reported = rep;
	s->nreported = k;
	return err;
}

static void maps_sync(struct symbolizer *s)
{
	unsigned gen = maps_generation(s->maps);
	if (gen == s->maps_gen)
		return;
	s->maps_gen = gen;
	if (same_modules(s))
		return;
	report_all(s);
	/* An address may now belong to another module (or to none). */
	sym_cache_forget(&s->cache);
}

int symbolizer_open(struct symbolizer **out, struct maps *m)
{
	if (!m)
		return -EINVAL;
	struct symbolizer *s;
	int err = symbolizer_create(&s, image_find_elf);
	if (err < 0)
		return err;
	s->maps = m;
	s->maps_gen = maps_generation(m);
	err = report_all(s);
	if (err < 0) {
		symbolizer_close(s);
		return err;
	}
	s->sync = maps_sync;
	*out = s;
	return 0;
}
