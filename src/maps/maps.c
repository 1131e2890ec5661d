/* maps.c — /proc/PID/maps as a sorted table of mappings, and the ELF files
 * behind them as modules, each opened and mapped once. */
#include "remprof/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <elfutils/libdwelf.h>

#define DELETED_SUFFIX " (deleted)"

struct mapping {
	uint64_t start, end, offset;
	uint64_t inode;
	unsigned dev_major, dev_minor;
	char perms[5];
	char *path;             /* NULL for anonymous mappings */
};

/* A loadable segment, kept to translate runtime addresses to file offsets
 * without walking the program headers on every read. */
struct segment {
	uint64_t vaddr, filesz, offset;
	int writable;
};

/* struct module is the public part; the rest only this file needs. */
struct module_priv {
	struct module pub;
	uint64_t inode;
	unsigned dev_major, dev_minor;
	int mapped;             /* image is an mmap (file) rather than malloc (vDSO) */
	struct segment *segs;
	size_t nsegs;
};

struct maps {
	pid_t pid;
	struct reader *r;
	struct mapping *maps;   /* sorted by start, non-overlapping (the kernel's order) */
	size_t nmaps;
	struct module_priv **mods; /* sorted by start */
	size_t nmods;
	unsigned generation;
};

static struct module_priv *priv_of(const struct module *m)
{
	return (struct module_priv *)m;
}

/* ---- parsing /proc/PID/maps ---- */

static void mappings_free(struct mapping *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

static int parse_line(const char *line, struct mapping *out)
{
	unsigned long long start, end, off, ino;
	int pathpos = 0;

	memset(out, 0, sizeof(*out));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, out->perms, &off,
		   &out->dev_major, &out->dev_minor, &ino, &pathpos) < 7)
		return -EINVAL;
	out->start = start;
	out->end = end;
	out->offset = off;
	out->inode = ino;
	if (pathpos > 0 && line[pathpos] != '\0') {
		out->path = strdup(line + pathpos);
		if (!out->path)
			return -ENOMEM;
		out->path[strcspn(out->path, "\n")] = '\0';
		if (out->path[0] == '\0') {
			free(out->path);
			out->path = NULL;
		}
	}
	return 0;
}

static int read_mappings(pid_t pid, struct mapping **out, size_t *nout)
{
	char fname[64], *line = NULL;
	size_t cap = 0, n = 0, linecap = 0;
	struct mapping *v = NULL;
	int err = 0;
	FILE *f;

	snprintf(fname, sizeof(fname), "/proc/%d/maps", (int)pid);
	f = fopen(fname, "re");
	if (!f)
		return -errno;
	while (getline(&line, &linecap, f) > 0) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct mapping *nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		err = parse_line(line, &v[n]);
		if (err == -EINVAL) {
			err = 0;
			continue;
		}
		if (err)
			break;
		n++;
	}
	free(line);
	fclose(f);
	if (err == 0 && n == 0)
		err = -ESRCH;   /* a zombie or kernel thread has an empty maps file */
	if (err) {
		mappings_free(v, n);
		return err;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* ---- modules ---- */

static void module_free(struct module_priv *p)
{
	if (!p)
		return;
	if (p->pub.unwind_data && p->pub.unwind_data_free)
		p->pub.unwind_data_free(p->pub.unwind_data);
	if (p->pub.elf)
		elf_end(p->pub.elf);
	if (p->pub.image) {
		if (p->mapped)
			munmap((void *)p->pub.image, p->pub.image_size);
		else
			free((void *)p->pub.image);
	}
	free(p->segs);
	free(p->pub.path);
	free(p->pub.open_path);
	free(p);
}

static void strip_deleted(char *path, int *deleted)
{
	size_t n = strlen(path), s = strlen(DELETED_SUFFIX);

	*deleted = n > s && strcmp(path + n - s, DELETED_SUFFIX) == 0;
	if (*deleted)
		path[n - s] = '\0';
}

/* map_files names the very file that is mapped, even if it was deleted or
 * replaced on disk since; it needs ptrace-read access (we are the tracer or
 * root). /proc/PID/root/PATH resolves PATH in the target's mount namespace
 * (containers); the bare PATH is the last resort. Those two are only taken
 * if they are still the mapped inode: a replaced library (a package upgrade)
 * would give the wrong unwind tables and symbols, silently. */
static int open_module_file(pid_t pid, const struct mapping *first, const char *path,
			    char **opened)
{
	char buf[4200];
	int fd = -1, err = -ENOENT;

	for (int i = 0; i < 3 && fd < 0; i++) {
		struct stat st;
		if (i == 0)
			snprintf(buf, sizeof(buf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
				 (int)pid, first->start, first->end);
		else if (i == 1)
			snprintf(buf, sizeof(buf), "/proc/%d/root%s", (int)pid, path);
		else
			snprintf(buf, sizeof(buf), "%s", path);
		fd = open(buf, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		if (i > 0 && (fstat(fd, &st) != 0 || st.st_ino != first->inode)) {
			close(fd);
			fd = -1;
			err = -ESTALE;
		}
	}
	if (fd < 0)
		return err;
	*opened = strdup(buf);
	if (!*opened) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

static int collect_segments(struct module_priv *p)
{
	size_t nph;

	if (elf_getphdrnum(p->pub.elf, &nph) != 0)
		return -EINVAL;
	p->segs = calloc(nph ? nph : 1, sizeof(*p->segs));
	if (!p->segs)
		return -ENOMEM;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(p->pub.elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		p->segs[p->nsegs++] = (struct segment){ ph.p_vaddr, ph.p_filesz, ph.p_offset,
							(ph.p_flags & PF_W) != 0 };
	}
	return p->nsegs ? 0 : -EINVAL;
}

/* The kernel maps each PT_LOAD at a page-aligned file offset; the mapping
 * whose offset matches a segment's page-aligned offset tells where that
 * segment's page-aligned vaddr landed. */
static int compute_bias(struct module_priv *p, const struct mapping *v, size_t first,
			size_t last)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);

	for (size_t i = first; i <= last; i++) {
		if (!v[i].path)
			continue;
		for (size_t s = 0; s < p->nsegs; s++) {
			if ((p->segs[s].offset & ~(pg - 1)) != v[i].offset)
				continue;
			p->pub.bias = v[i].start - (p->segs[s].vaddr & ~(pg - 1));
			return 0;
		}
	}
	return -EINVAL;
}

static void read_build_id(struct module_priv *p)
{
	const void *id;
	ssize_t n = dwelf_elf_gnu_build_id(p->pub.elf, &id);

	p->pub.build_id[0] = '\0';
	for (ssize_t i = 0; i < n && i < 20; i++)
		snprintf(p->pub.build_id + 2 * i, 3, "%02x", ((const uint8_t *)id)[i]);
}

/* Common tail of file and vDSO modules: the image is in place. */
static int module_index_image(struct module_priv *p)
{
	int err;

	p->pub.elf = elf_memory((char *)p->pub.image, p->pub.image_size);
	if (!p->pub.elf || elf_kind(p->pub.elf) != ELF_K_ELF)
		return -ENOEXEC;
	err = collect_segments(p);
	if (err)
		return err;
	read_build_id(p);
	return 0;
}

static int module_open_file(struct maps *m, const struct mapping *v, size_t first, size_t last,
			    struct module_priv **out)
{
	struct module_priv *p = calloc(1, sizeof(*p));
	struct stat st;
	void *img;
	int fd, err;

	if (!p)
		return -ENOMEM;
	p->pub.path = strdup(v[first].path);
	if (!p->pub.path) {
		err = -ENOMEM;
		goto fail;
	}
	strip_deleted(p->pub.path, &p->pub.deleted);
	p->pub.start = v[first].start;
	p->pub.end = v[last].end;
	p->inode = v[first].inode;
	p->dev_major = v[first].dev_major;
	p->dev_minor = v[first].dev_minor;
	fd = open_module_file(m->pid, &v[first], p->pub.path, &p->pub.open_path);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		err = -ENOEXEC;
		goto fail;
	}
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	p->pub.image = img;
	p->pub.image_size = (size_t)st.st_size;
	p->mapped = 1;
	if (memcmp(img, ELFMAG, SELFMAG) != 0) {
		err = -ENOEXEC;
		goto fail;
	}
	err = module_index_image(p);
	if (!err)
		err = compute_bias(p, v, first, last);
	if (err)
		goto fail;
	*out = p;
	return 0;
fail:
	module_free(p);
	return err;
}

/* The vDSO has no file: copy its image out of the target. PTRACE_PEEKDATA
 * needs a stopped thread, which we do not have here, so a peek reader is
 * replaced by a temporary vmreadv (or procmem) reader for this one copy. */
static int read_vdso(struct maps *m, const struct mapping *v, uint8_t *buf, size_t len)
{
	struct reader *tmp = NULL, *r = m->r;
	ssize_t got;

	if (!r || reader_kind_of(r) == READER_PEEK) {
		if (reader_open(&tmp, m->pid, READER_VMREADV) != 0 &&
		    reader_open(&tmp, m->pid, READER_PROCMEM) != 0)
			return -EIO;
		r = tmp;
	}
	got = reader_copy(r, m->pid, v->start, buf, len);
	reader_close(tmp);
	if (got < 0)
		return (int)got;
	return (size_t)got == len ? 0 : -EIO;
}

static int module_open_vdso(struct maps *m, const struct mapping *v, struct module_priv **out)
{
	struct module_priv *p = calloc(1, sizeof(*p));
	size_t len = v->end - v->start;
	uint8_t *img = malloc(len);
	int err;

	if (!p || !img) {
		free(p);
		free(img);
		return -ENOMEM;
	}
	p->pub.image = img;
	p->pub.image_size = len;
	p->pub.start = v->start;
	p->pub.end = v->end;
	p->pub.path = strdup("[vdso]");
	err = p->pub.path ? read_vdso(m, v, img, len) : -ENOMEM;
	if (!err)
		err = module_index_image(p);
	if (!err)
		err = compute_bias(p, &(struct mapping){ .start = v->start, .path = "" }, 0, 0);
	if (err) {
		module_free(p);
		return err;
	}
	*out = p;
	return 0;
}

/* ---- grouping mappings into modules ---- */

static int same_file(const struct mapping *a, const struct mapping *b)
{
	return a->path && b->path && a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor && strcmp(a->path, b->path) == 0;
}

/* Mappings [first, *last] belong to one load of one file: following mappings
 * of the same file at non-decreasing offsets, with anonymous ones (.bss) in
 * between. Equal offsets are one load too: RELRO and .data often share a
 * file page, which then appears twice (r--p and rw-p at the same offset). */
static size_t group_end(const struct mapping *v, size_t n, size_t first)
{
	size_t last = first;

	for (size_t i = first + 1; i < n; i++) {
		if (!v[i].path)
			continue;
		if (!same_file(&v[first], &v[i]) || v[i].offset < v[last].offset)
			break;
		last = i;
	}
	return last;
}

static struct module_priv *take_old(struct module_priv **old, size_t nold,
				    const struct mapping *first, uint64_t end)
{
	for (size_t i = 0; i < nold; i++) {
		struct module_priv *p = old[i];
		if (!p || p->pub.start != first->start || p->pub.end != end)
			continue;
		if (first->path[0] == '[' ? strcmp(first->path, "[vdso]") != 0 :
		    (p->inode != first->inode || p->dev_major != first->dev_major ||
		     p->dev_minor != first->dev_minor))
			continue;
		old[i] = NULL;
		return p;
	}
	return NULL;
}

static int push_module(struct module_priv ***mods, size_t *n, size_t *cap, struct module_priv *p)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct module_priv **nv = realloc(*mods, ncap * sizeof(**mods));
		if (!nv)
			return -ENOMEM;
		*mods = nv;
		*cap = ncap;
	}
	(*mods)[(*n)++] = p;
	return 0;
}

/* Build the module list for mappings v, reusing old modules (and their
 * caches) whose file and range did not change. A file that cannot be opened
 * or is not ELF is simply not a module. */
static int build_modules(struct maps *m, const struct mapping *v, size_t n,
			 struct module_priv **old, size_t nold, struct module_priv ***out,
			 size_t *nout)
{
	struct module_priv **mods = NULL, *p;
	size_t nmods = 0, cap = 0;

	for (size_t i = 0; i < n; i++) {
		size_t last = i;
		int is_vdso = v[i].path && strcmp(v[i].path, "[vdso]") == 0;

		if (!v[i].path || (v[i].path[0] != '/' && !is_vdso))
			continue;
		if (!is_vdso)
			last = group_end(v, n, i);
		p = take_old(old, nold, &v[i], v[last].end);
		if (!p && (is_vdso ? module_open_vdso(m, &v[i], &p) :
			   module_open_file(m, v, i, last, &p)) != 0)
			p = NULL;
		if (p && push_module(&mods, &nmods, &cap, p) != 0) {
			module_free(p);
			for (size_t k = 0; k < nmods; k++)
				module_free(mods[k]);
			free(mods);
			return -ENOMEM;
		}
		i = last;
	}
	*out = mods;
	*nout = nmods;
	return 0;
}

/* ---- public ---- */

int maps_refresh(struct maps *m)
{
	struct mapping *v = NULL;
	struct module_priv **mods;
	size_t n = 0, nmods = 0;
	int err = read_mappings(m->pid, &v, &n);

	if (err)
		return err;
	err = build_modules(m, v, n, m->mods, m->nmods, &mods, &nmods);
	if (err) {
		mappings_free(v, n);
		return err;
	}
	for (size_t i = 0; i < m->nmods; i++)
		module_free(m->mods[i]);   /* the ones not taken over */
	free(m->mods);
	mappings_free(m->maps, m->nmaps);
	m->maps = v;
	m->nmaps = n;
	m->mods = mods;
	m->nmods = nmods;
	m->generation++;
	return 0;
}

int maps_open(struct maps **out, pid_t pid, struct reader *r)
{
	struct maps *m;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->pid = pid;
	m->r = r;
	err = maps_refresh(m);
	if (err) {
		free(m);
		return err;
	}
	*out = m;
	return 0;
}

void maps_close(struct maps *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nmods; i++)
		module_free(m->mods[i]);
	free(m->mods);
	mappings_free(m->maps, m->nmaps);
	free(m);
}

struct module *maps_find_module(struct maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nmods;

	while (lo < hi) {   /* first module with start > addr */
		size_t mid = lo + (hi - lo) / 2;
		if (m->mods[mid]->pub.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= m->mods[lo - 1]->pub.end)
		return NULL;
	return &m->mods[lo - 1]->pub;
}

int maps_find_mapping(const struct maps *m, uint64_t addr, uint64_t *start, uint64_t *end)
{
	size_t lo = 0, hi = m->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= m->maps[lo - 1].end)
		return -ENOENT;
	*start = m->maps[lo - 1].start;
	*end = m->maps[lo - 1].end;
	return 0;
}

size_t maps_module_count(const struct maps *m)
{
	return m->nmods;
}

struct module *maps_module_at(struct maps *m, size_t i)
{
	return i < m->nmods ? &m->mods[i]->pub : NULL;
}

/* Only read-only segments: a writable one (data, GOT, RELRO before it is
 * sealed) holds run-time values that differ from the file's bytes. */
ssize_t maps_read_image(const struct module *mod, uint64_t addr, void *buf, size_t len)
{
	const struct module_priv *p = priv_of(mod);
	uint64_t vaddr = addr - mod->bias;

	for (size_t i = 0; i < p->nsegs; i++) {
		const struct segment *s = &p->segs[i];
		uint64_t off, avail;
		if (s->writable || vaddr < s->vaddr || vaddr - s->vaddr >= s->filesz)
			continue;
		off = s->offset + (vaddr - s->vaddr);
		if (off >= mod->image_size)
			return -EFAULT;
		avail = s->filesz - (vaddr - s->vaddr);
		if (avail > mod->image_size - off)
			avail = mod->image_size - off;
		if (len > avail)
			len = avail;
		memcpy(buf, mod->image + off, len);
		return (ssize_t)len;
	}
	return -EFAULT;
}

unsigned maps_generation(const struct maps *m)
{
	return m->generation;
}
