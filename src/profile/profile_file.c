/* profile_file.c — the native profile file (docs/profile-format.md): a
 * fixed header, then tagged, length-prefixed sections, each with its own
 * CRC32 and the whole body under one more. Little-endian fixed-width
 * integers throughout, written and read byte by byte so that neither the
 * host's endianness nor alignment matters.
 *
 * Loading trusts nothing: every length, count and index is checked against
 * what is left of the buffer or of the tables it points into before it is
 * used, and the profile is rebuilt through the interning functions, so a
 * loaded profile has the same invariants (no duplicate frame, stack, thread
 * or sample) as a recorded one. Any failure frees everything. */
#include "remprof/profile.h"
#include "profile_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAGIC "\x89RMPROF\n"
#define MAGIC_LEN 8
#define FORMAT_VERSION 1
#define HEADER_SIZE 32
#define SECTION_HEADER_SIZE 16
#define NO_STRING UINT32_MAX
/* Larger files are refused rather than read: no recording comes near it, and
 * it bounds what a bogus file can make us allocate. */
#define MAX_FILE_SIZE (1ull << 32)

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
enum section_tag {
	TAG_META = TAG('M', 'E', 'T', 'A'),
	TAG_STRS = TAG('S', 'T', 'R', 'S'),
	TAG_MODS = TAG('M', 'O', 'D', 'S'),
	TAG_FRMS = TAG('F', 'R', 'M', 'S'),
	TAG_STKS = TAG('S', 'T', 'K', 'S'),
	TAG_THRD = TAG('T', 'H', 'R', 'D'),
	TAG_SMPL = TAG('S', 'M', 'P', 'L'),
	TAG_STAT = TAG('S', 'T', 'A', 'T'),
	TAG_INTR = TAG('I', 'N', 'T', 'R'), /* optional: files before it have none */
};

/* Histogram ids in the STAT section (and per thread in INTR). */
enum { HIST_STOP, HIST_INT_TO_STOP, HIST_COPY, HIST_NIDS };
/* ... and those of the mmap_lock figures in INTR. */
enum { HIST_LOCK_TARGET_WAIT = 16, HIST_LOCK_SELF_WAIT };

/* ================= writing ================= */

struct buf {
	uint8_t *d;
	size_t len, cap;
	int oom;
};

static uint8_t *buf_room(struct buf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->len + n > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + n)
			ncap *= 2;
		uint8_t *nd = realloc(b->d, ncap);
		if (!nd) {
			b->oom = 1;
			return NULL;
		}
		b->d = nd;
		b->cap = ncap;
	}
	uint8_t *at = b->d + b->len;
	b->len += n;
	return at;
}

static void le32(uint8_t *at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		at[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *at, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		at[i] = (uint8_t)(v >> (8 * i));
}

static void put_u32(struct buf *b, uint32_t v)
{
	uint8_t *at = buf_room(b, 4);
	if (at)
		le32(at, v);
}

static void put_u64(struct buf *b, uint64_t v)
{
	uint8_t *at = buf_room(b, 8);
	if (at)
		le64(at, v);
}

static void put_str(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	put_u32(b, (uint32_t)n);
	uint8_t *at = buf_room(b, n);
	if (at && n)
		memcpy(at, s, n);
}

/* The string table: each distinct string once, referred to by index. */
struct strtab {
	const char **strs;
	size_t n, cap;
	uint32_t *slots; /* index + 1, 0 = empty */
	size_t nslots;
	int oom;
};

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int strtab_grow(struct strtab *t)
{
	size_t ns = t->nslots ? t->nslots * 2 : 256;
	uint32_t *slots = calloc(ns, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = str_hash(t->strs[i]) & (ns - 1);
		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = ns;
	return 0;
}

static uint32_t strtab_add(struct strtab *t, const char *s)
{
	if (!s)
		return NO_STRING;
	if (t->oom)
		return 0;
	if ((t->n + 1) * 2 > t->nslots && strtab_grow(t) < 0)
		goto oom;
	size_t j = str_hash(s) & (t->nslots - 1);
	for (; t->slots[j]; j = (j + 1) & (t->nslots - 1))
		if (!strcmp(t->strs[t->slots[j] - 1], s))
			return t->slots[j] - 1;
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 256;
		const char **nstrs = realloc(t->strs, ncap * sizeof(*nstrs));
		if (!nstrs)
			goto oom;
		t->strs = nstrs;
		t->cap = ncap;
	}
	t->strs[t->n] = s;
	t->slots[j] = (uint32_t)++t->n;
	return (uint32_t)t->n - 1;
oom:
	t->oom = 1;
	return 0;
}

static size_t section_begin(struct buf *b, uint32_t tag)
{
	size_t at = b->len;
	put_u32(b, tag);
	put_u32(b, 0); /* CRC, filled by section_end */
	put_u64(b, 0); /* length, filled by section_end */
	return at;
}

static void section_end(struct buf *b, size_t at, uint32_t *nsections)
{
	if (b->oom)
		return;
	size_t body = at + SECTION_HEADER_SIZE;
	uint64_t len = b->len - body;
	le32(b->d + at + 4, (uint32_t)crc32_z(0L, b->d + body, (z_size_t)len));
	le64(b->d + at + 8, len);
	(*nsections)++;
}

static void put_meta(struct buf *b, const struct profile *p)
{
	put_str(b, p->cmdline);
	put_str(b, p->kernel);
	put_str(b, p->reader);
	put_str(b, p->version);
	put_u32(b, p->freq_hz);
	put_u32(b, p->idle);
	put_u32(b, p->stack_size);
	put_u64(b, p->start_unix_ns);
	put_u64(b, p->duration_ns);
	put_u32(b, (uint32_t)p->npids);
	for (size_t i = 0; i < p->npids; i++)
		put_u32(b, (uint32_t)p->pids[i]);
}

/* Every string the tables refer to, in the order the sections use them. */
static void collect_strings(struct strtab *t, const struct profile *p)
{
	for (size_t i = 0; i < p->nmodules; i++) {
		strtab_add(t, p->modules[i].path);
		strtab_add(t, p->modules[i].build_id);
	}
	for (size_t i = 0; i < p->nframes; i++) {
		strtab_add(t, p->frames[i].function);
		strtab_add(t, p->frames[i].module);
		strtab_add(t, p->frames[i].file);
	}
	for (size_t i = 0; i < p->nthreads; i++)
		strtab_add(t, p->threads[i].name);
}

static void put_strs(struct buf *b, const struct strtab *t)
{
	put_u32(b, (uint32_t)t->n);
	for (size_t i = 0; i < t->n; i++)
		put_str(b, t->strs[i]);
}

static void put_tables(struct buf *b, const struct profile *p, struct strtab *t, uint32_t *nsec)
{
	size_t at = section_begin(b, TAG_MODS);
	put_u32(b, (uint32_t)p->nmodules);
	for (size_t i = 0; i < p->nmodules; i++) {
		put_u32(b, strtab_add(t, p->modules[i].path));
		put_u32(b, strtab_add(t, p->modules[i].build_id));
		put_u64(b, p->modules[i].start);
		put_u64(b, p->modules[i].end);
	}
	section_end(b, at, nsec);

	at = section_begin(b, TAG_FRMS);
	put_u32(b, (uint32_t)p->nframes);
	for (size_t i = 0; i < p->nframes; i++) {
		const struct profile_frame *f = &p->frames[i];
		put_u32(b, strtab_add(t, f->function));
		put_u32(b, strtab_add(t, f->module));
		put_u32(b, strtab_add(t, f->file));
		put_u32(b, f->line);
		put_u32(b, f->inlined ? 1 : 0);
	}
	section_end(b, at, nsec);

	at = section_begin(b, TAG_STKS);
	put_u32(b, (uint32_t)p->nstacks);
	for (size_t i = 0; i < p->nstacks; i++) {
		put_u32(b, p->stacks[i].nframes);
		for (uint32_t j = 0; j < p->stacks[i].nframes; j++)
			put_u32(b, p->stacks[i].frames[j]);
	}
	section_end(b, at, nsec);

	at = section_begin(b, TAG_THRD);
	put_u32(b, (uint32_t)p->nthreads);
	for (size_t i = 0; i < p->nthreads; i++) {
		put_u32(b, (uint32_t)p->threads[i].pid);
		put_u32(b, (uint32_t)p->threads[i].tid);
		put_u32(b, strtab_add(t, p->threads[i].name));
	}
	section_end(b, at, nsec);

	at = section_begin(b, TAG_SMPL);
	put_u32(b, (uint32_t)p->nsamples);
	for (size_t i = 0; i < p->nsamples; i++) {
		put_u32(b, p->samples[i].stack);
		put_u32(b, p->samples[i].thread);
		put_u64(b, p->samples[i].count);
		put_u64(b, p->samples[i].weight_ns);
	}
	section_end(b, at, nsec);
}

/* Histograms are 8 KiB of mostly zero buckets: only non-empty ones are kept. */
static void put_hist(struct buf *b, uint32_t id, const struct hist *h)
{
	uint32_t nonzero = 0;
	for (size_t i = 0; i < HIST_NBUCKETS; i++)
		nonzero += h->buckets[i] != 0;
	put_u32(b, id);
	put_u64(b, h->count);
	put_u64(b, h->sum);
	put_u64(b, h->min);
	put_u64(b, h->max);
	put_u32(b, nonzero);
	for (size_t i = 0; i < HIST_NBUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		put_u32(b, (uint32_t)i);
		put_u64(b, h->buckets[i]);
	}
}

static void put_stats(struct buf *b, const struct sample_stats *s)
{
	put_u64(b, s->samples);
	put_u64(b, s->partial_reads);
	put_u64(b, s->threads_seen);
	put_u64(b, s->cpu_time_ns);
	put_u32(b, LOST_NREASONS);
	for (int i = 0; i < LOST_NREASONS; i++)
		put_u64(b, s->lost[i]);
	put_u32(b, HIST_NIDS);
	put_hist(b, HIST_STOP, &s->stop_ns);
	put_hist(b, HIST_INT_TO_STOP, &s->int_to_stop_ns);
	put_hist(b, HIST_COPY, &s->copy_ns);
}

/* What sampling cost the target: the stop bound, the mmap_lock figures and
 * each thread's stops and losses. */
static void put_intr(struct buf *b, const struct profile *p)
{
	const struct profile_lock *k = &p->lock;
	put_u64(b, p->max_stop_ns);
	put_u32(b, p->stop_bounded);
	put_u32(b, k->available);
	put_str(b, k->note);
	put_u64(b, k->target_acquisitions);
	put_u64(b, k->target_waits);
	put_u64(b, k->self_acquisitions);
	put_u64(b, k->reads);
	put_u64(b, k->events);
	put_u64(b, k->lost_events);
	put_hist(b, HIST_LOCK_TARGET_WAIT, &k->target_wait_ns);
	put_hist(b, HIST_LOCK_SELF_WAIT, &k->self_wait_ns);
	put_u32(b, (uint32_t)p->ncosts);
	for (size_t i = 0; i < p->ncosts; i++) {
		const struct profile_thread_cost *c = &p->costs[i];
		put_u32(b, c->thread);
		put_u64(b, c->samples);
		put_u32(b, LOST_NREASONS);
		for (int r = 0; r < LOST_NREASONS; r++)
			put_u64(b, c->lost[r]);
		put_hist(b, HIST_STOP, &c->stop_ns);
		put_hist(b, HIST_INT_TO_STOP, &c->int_to_stop_ns);
		put_hist(b, HIST_COPY, &c->copy_ns);
	}
}

static int encode(const struct profile *p, struct buf *b)
{
	struct strtab t = { 0 };
	uint32_t nsec = 0;
	collect_strings(&t, p);
	buf_room(b, HEADER_SIZE);

	size_t at = section_begin(b, TAG_META);
	put_meta(b, p);
	section_end(b, at, &nsec);
	/* Before the tables that refer to it, so a streaming reader could
	 * decode in one pass; this reader does not rely on the order. */
	at = section_begin(b, TAG_STRS);
	put_strs(b, &t);
	section_end(b, at, &nsec);
	put_tables(b, p, &t, &nsec);
	at = section_begin(b, TAG_STAT);
	put_stats(b, &p->stats);
	section_end(b, at, &nsec);
	at = section_begin(b, TAG_INTR);
	put_intr(b, p);
	section_end(b, at, &nsec);

	int oom = b->oom || t.oom;
	free(t.strs);
	free(t.slots);
	if (oom)
		return -ENOMEM;
	memcpy(b->d, MAGIC, MAGIC_LEN);
	le32(b->d + 8, FORMAT_VERSION);
	le32(b->d + 12, nsec);
	le64(b->d + 16, b->len);
	le32(b->d + 24, (uint32_t)crc32_z(0L, b->d + HEADER_SIZE, (z_size_t)(b->len - HEADER_SIZE)));
	le32(b->d + 28, (uint32_t)crc32_z(0L, b->d, 28));
	return 0;
}

static int write_all(int fd, const uint8_t *d, size_t len)
{
	while (len) {
		ssize_t n = write(fd, d, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		d += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_file(const char *path, const uint8_t *d, size_t len)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 5);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".tmp", 5);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		int e = -errno;
		free(tmp);
		return e;
	}
	/* fsync before rename: after a crash the name points at the old file
	 * or the whole new one, never at an empty inode. */
	int err = write_all(fd, d, len);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

int profile_save(const struct profile *p, const char *path)
{
	struct buf b = { 0 };
	int err = encode(p, &b);
	if (!err && b.len > MAX_FILE_SIZE)
		err = -EFBIG;
	if (!err)
		err = write_file(path, b.d, b.len);
	free(b.d);
	return err;
}

/* ================= reading ================= */

struct cur {
	const uint8_t *p;
	size_t left;
	int bad;
};

static uint32_t rd32(const uint8_t *at)
{
	return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
}

static uint64_t rd64(const uint8_t *at)
{
	return (uint64_t)rd32(at) | (uint64_t)rd32(at + 4) << 32;
}

static const uint8_t *get_bytes(struct cur *c, size_t n)
{
	if (c->bad || n > c->left) {
		c->bad = 1;
		return NULL;
	}
	const uint8_t *at = c->p;
	c->p += n;
	c->left -= n;
	return at;
}

static uint32_t get_u32(struct cur *c)
{
	const uint8_t *at = get_bytes(c, 4);
	return at ? rd32(at) : 0;
}

static uint64_t get_u64(struct cur *c)
{
	const uint8_t *at = get_bytes(c, 8);
	return at ? rd64(at) : 0;
}

/* A count of records of at least min_size bytes each: refused (0 and bad)
 * when the rest of the section could not hold them, so that a corrupt
 * count never turns into a huge allocation. */
static uint32_t get_count(struct cur *c, size_t min_size)
{
	uint32_t n = get_u32(c);
	if (!c->bad && (uint64_t)n * min_size > c->left)
		c->bad = 1;
	return c->bad ? 0 : n;
}

/* Known sections; the first NREQUIRED must be present. */
enum { S_META, S_STRS, S_MODS, S_FRMS, S_STKS, S_THRD, S_SMPL, S_STAT, S_INTR, NSECTIONS };
#define NREQUIRED S_INTR

struct loader {
	struct profile *p;
	char *err;
	size_t errlen;
	char **strs;        /* the string table, NUL-terminated copies */
	uint32_t nstrs;
	struct cur sec[NSECTIONS];  /* payload of each known section, by known_tags[] order */
	int have[NSECTIONS];
};

static const uint32_t known_tags[NSECTIONS] = {
	TAG_META, TAG_STRS, TAG_MODS, TAG_FRMS, TAG_STKS, TAG_THRD, TAG_SMPL, TAG_STAT, TAG_INTR,
};
static const char *const section_names[NSECTIONS] = {
	"META", "STRS", "MODS", "FRMS", "STKS", "THRD", "SMPL", "STAT", "INTR",
};

__attribute__((format(printf, 2, 3)))
static int fail(struct loader *l, const char *fmt, ...)
{
	if (l->err && l->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(l->err, l->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A string of the table, or NULL (and a message) for a bad index. NO_STRING
 * is accepted only where allow_none says so. */
static int get_strref(struct loader *l, struct cur *c, int allow_none, const char **out,
		      const char *what)
{
	uint32_t i = get_u32(c);
	if (c->bad)
		return fail(l, "corrupt file: %s truncated", what);
	if (i == NO_STRING && allow_none) {
		*out = NULL;
		return 0;
	}
	if (i >= l->nstrs)
		return fail(l, "corrupt file: %s refers to string %u of %u", what, i, l->nstrs);
	*out = l->strs[i];
	return 0;
}

/* An inline string into a fixed buffer (or a malloc'ed copy if cap is 0). */
static int get_inline_str(struct loader *l, struct cur *c, char *fixed, size_t cap, char **dyn,
			  const char *what)
{
	uint32_t n = get_u32(c);
	const uint8_t *s = get_bytes(c, n);
	if (!s)
		return fail(l, "corrupt file: %s truncated", what);
	if (memchr(s, '\0', n))
		return fail(l, "corrupt file: %s contains a NUL byte", what);
	if (cap) {
		if (n >= cap)
			return fail(l, "corrupt file: %s is %u bytes (at most %zu)", what, n, cap - 1);
		memcpy(fixed, s, n);
		fixed[n] = '\0';
		return 0;
	}
	*dyn = strndup((const char *)s, n);
	return *dyn ? 0 : -ENOMEM;
}

static int load_meta(struct loader *l, struct cur *c)
{
	struct profile *p = l->p;
	int err;
	if ((err = get_inline_str(l, c, NULL, 0, &p->cmdline, "command line")) ||
	    (err = get_inline_str(l, c, p->kernel, sizeof(p->kernel), NULL, "kernel release")) ||
	    (err = get_inline_str(l, c, p->reader, sizeof(p->reader), NULL, "reader name")) ||
	    (err = get_inline_str(l, c, p->version, sizeof(p->version), NULL, "remprof version")))
		return err;
	p->freq_hz = get_u32(c);
	p->idle = get_u32(c);
	p->stack_size = get_u32(c);
	p->start_unix_ns = get_u64(c);
	p->duration_ns = get_u64(c);
	uint32_t n = get_count(c, 4);
	if (c->bad)
		return fail(l, "corrupt file: META section truncated");
	p->pids = malloc(n ? n * sizeof(pid_t) : 1);
	if (!p->pids)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		p->pids[i] = (pid_t)get_u32(c);
	p->npids = n;
	return 0;
}

static int load_strs(struct loader *l, struct cur *c)
{
	uint32_t n = get_count(c, 4);
	if (c->bad)
		return fail(l, "corrupt file: string table count is impossible");
	l->strs = calloc(n ? n : 1, sizeof(*l->strs));
	if (!l->strs)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		int err = get_inline_str(l, c, NULL, 0, &l->strs[i], "string table entry");
		if (err)
			return err;
		l->nstrs = i + 1;
	}
	return 0;
}

static int load_mods(struct loader *l, struct cur *c)
{
	uint32_t n = get_count(c, 24);
	if (c->bad)
		return fail(l, "corrupt file: module count is impossible");
	for (uint32_t i = 0; i < n; i++) {
		const char *path, *bid;
		int err;
		if ((err = get_strref(l, c, 0, &path, "module path")) ||
		    (err = get_strref(l, c, 0, &bid, "module build-id")))
			return err;
		uint64_t start = get_u64(c), end = get_u64(c);
		if (c->bad)
			return fail(l, "corrupt file: module %u truncated", i);
		if (strlen(bid) >= sizeof(l->p->modules[0].build_id))
			return fail(l, "corrupt file: module %u build-id is too long", i);
		if (end < start)
			return fail(l, "corrupt file: module %u ends before it starts", i);
		size_t before = l->p->nmodules;
		profile_add_module(l->p, path, bid, start, end);
		if (l->p->nmodules != before + 1)
			return fail(l, "corrupt file: module %u is a duplicate", i);
	}
	return 0;
}

static int load_frms(struct loader *l, struct cur *c)
{
	uint32_t n = get_count(c, 20);
	if (c->bad)
		return fail(l, "corrupt file: frame count is impossible");
	for (uint32_t i = 0; i < n; i++) {
		const char *fn, *mod, *file;
		int err;
		if ((err = get_strref(l, c, 0, &fn, "frame function")) ||
		    (err = get_strref(l, c, 0, &mod, "frame module")) ||
		    (err = get_strref(l, c, 1, &file, "frame file")))
			return err;
		uint32_t line = get_u32(c), flags = get_u32(c);
		if (c->bad)
			return fail(l, "corrupt file: frame %u truncated", i);
		uint32_t idx = profile_intern_frame(l->p, fn, mod, file, line, flags & 1);
		if (idx == PROFILE_NONE)
			return -ENOMEM;
		if (idx != i)
			return fail(l, "corrupt file: frame %u duplicates frame %u", i, idx);
	}
	return 0;
}

static int load_stks(struct loader *l, struct cur *c)
{
	uint32_t n = get_count(c, 4);
	if (c->bad)
		return fail(l, "corrupt file: stack count is impossible");
	uint32_t *frames = NULL;
	int err = 0;
	for (uint32_t i = 0; i < n && !err; i++) {
		uint32_t nf = get_count(c, 4);
		const uint8_t *raw = get_bytes(c, (size_t)nf * 4);
		if (!raw) {
			err = fail(l, "corrupt file: stack %u truncated", i);
			break;
		}
		uint32_t *nfr = realloc(frames, nf ? nf * sizeof(*frames) : 1);
		if (!nfr) {
			err = -ENOMEM;
			break;
		}
		frames = nfr;
		for (uint32_t j = 0; j < nf && !err; j++) {
			frames[j] = rd32(raw + 4 * j);
			if (frames[j] >= l->p->nframes)
				err = fail(l, "corrupt file: stack %u refers to frame %u of %zu", i,
					   frames[j], l->p->nframes);
		}
		if (err)
			break;
		uint32_t idx = profile_intern_stack(l->p, frames, nf);
		if (idx == PROFILE_NONE)
			err = -ENOMEM;
		else if (idx != i)
			err = fail(l, "corrupt file: stack %u duplicates stack %u", i, idx);
	}
	free(frames);
	return err;
}

static int load_thrd(struct loader *l, struct cur *c)
{
	uint32_t n = get_count(c, 12);
	if (c->bad)
		return fail(l, "corrupt file: thread count is impossible");
	for (uint32_t i = 0; i < n; i++) {
		pid_t pid = (pid_t)get_u32(c), tid = (pid_t)get_u32(c);
		const char *name;
		int err = get_strref(l, c, 0, &name, "thread name");
		if (err)
			return err;
		uint32_t idx = profile_thread(l->p, pid, tid, name);
		if (idx == PROFILE_NONE)
			return -ENOMEM;
		if (idx != i)
			return fail(l, "corrupt file: thread %u (tid %d) duplicates thread %u", i,
				    (int)tid, idx);
	}
	return 0;
}

static int load_smpl(struct loader *l, struct cur *c)
{
	uint32_t n = get_count(c, 24);
	if (c->bad)
		return fail(l, "corrupt file: sample count is impossible");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t stack = get_u32(c), thread = get_u32(c);
		uint64_t count = get_u64(c), weight = get_u64(c);
		if (c->bad)
			return fail(l, "corrupt file: sample %u truncated", i);
		if (stack >= l->p->nstacks)
			return fail(l, "corrupt file: sample %u refers to stack %u of %zu", i, stack,
				    l->p->nstacks);
		if (thread >= l->p->nthreads)
			return fail(l, "corrupt file: sample %u refers to thread %u of %zu", i,
				    thread, l->p->nthreads);
		uint32_t idx = profile_add_samples(l->p, stack, thread, count, weight);
		if (idx == PROFILE_NONE)
			return -ENOMEM;
		if (idx != i)
			return fail(l, "corrupt file: sample %u duplicates sample %u", i, idx);
	}
	return 0;
}

static int load_hist(struct loader *l, struct cur *c, struct hist *h, uint32_t id)
{
	h->count = get_u64(c);
	h->sum = get_u64(c);
	h->min = get_u64(c);
	h->max = get_u64(c);
	uint32_t n = get_count(c, 12);
	if (c->bad)
		return fail(l, "corrupt file: histogram %u truncated", id);
	memset(h->buckets, 0, sizeof(h->buckets));
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t b = get_u32(c);
		uint64_t v = get_u64(c);
		if (c->bad)
			return fail(l, "corrupt file: histogram %u truncated", id);
		if (b >= HIST_NBUCKETS || h->buckets[b] || !v)
			return fail(l, "corrupt file: histogram %u has a bad bucket %u", id, b);
		h->buckets[b] = v;
		total += v;
	}
	/* hist_percentile walks buckets up to count: they must agree. */
	if (total != h->count || (h->count && h->min > h->max))
		return fail(l, "corrupt file: histogram %u counts do not add up", id);
	return 0;
}

static int load_stat(struct loader *l, struct cur *c)
{
	struct sample_stats *s = &l->p->stats;
	s->samples = get_u64(c);
	s->partial_reads = get_u64(c);
	s->threads_seen = get_u64(c);
	s->cpu_time_ns = get_u64(c);
	uint32_t nlost = get_count(c, 8);
	/* Reasons added by a later remprof are skipped: this one cannot name them. */
	for (uint32_t i = 0; i < nlost; i++) {
		uint64_t v = get_u64(c);
		if (i < LOST_NREASONS)
			s->lost[i] = v;
	}
	uint32_t nh = get_count(c, 40);
	if (c->bad)
		return fail(l, "corrupt file: STAT section truncated");
	struct hist *spare = malloc(sizeof(*spare));
	if (!spare)
		return -ENOMEM;
	int seen[HIST_NIDS] = { 0 }, err = 0;
	for (uint32_t i = 0; i < nh && !err; i++) {
		uint32_t id = get_u32(c);
		struct hist *h = id == HIST_STOP	 ? &s->stop_ns
				 : id == HIST_INT_TO_STOP ? &s->int_to_stop_ns
				 : id == HIST_COPY	 ? &s->copy_ns
							 : spare;
		if (h != spare && seen[id]++)
			err = fail(l, "corrupt file: histogram %u appears twice", id);
		else
			err = load_hist(l, c, h, id);
	}
	free(spare);
	return err;
}

/* A histogram of INTR: its id must be the one expected at that place. */
static int load_hist_as(struct loader *l, struct cur *c, struct hist *h, uint32_t want)
{
	uint32_t id = get_u32(c);
	if (c->bad)
		return fail(l, "corrupt file: INTR section truncated");
	if (id != want)
		return fail(l, "corrupt file: INTR histogram %u where %u belongs", id, want);
	return load_hist(l, c, h, id);
}

static int load_cost(struct loader *l, struct cur *c, struct profile_thread_cost *k)
{
	memset(k, 0, sizeof(*k));
	k->thread = get_u32(c);
	k->samples = get_u64(c);
	uint32_t nlost = get_count(c, 8);
	for (uint32_t r = 0; r < nlost; r++) {
		uint64_t v = get_u64(c);
		if (r < LOST_NREASONS)
			k->lost[r] = v;
	}
	if (c->bad)
		return fail(l, "corrupt file: INTR section truncated");
	if (k->thread != PROFILE_NONE && k->thread >= l->p->nthreads)
		return fail(l, "corrupt file: thread cost of thread %u of %zu", k->thread, l->p->nthreads);
	int err;
	if ((err = load_hist_as(l, c, &k->stop_ns, HIST_STOP)) ||
	    (err = load_hist_as(l, c, &k->int_to_stop_ns, HIST_INT_TO_STOP)) ||
	    (err = load_hist_as(l, c, &k->copy_ns, HIST_COPY)))
		return err;
	if (k->stop_ns.count != k->samples)
		return fail(l, "corrupt file: thread cost counts do not add up");
	return 0;
}

static int load_intr(struct loader *l, struct cur *c)
{
	struct profile *p = l->p;
	struct profile_lock *k = &p->lock;
	p->max_stop_ns = get_u64(c);
	p->stop_bounded = get_u32(c);
	k->available = get_u32(c);
	int err = get_inline_str(l, c, k->note, sizeof(k->note), NULL, "lock note");
	if (err)
		return err;
	k->target_acquisitions = get_u64(c);
	k->target_waits = get_u64(c);
	k->self_acquisitions = get_u64(c);
	k->reads = get_u64(c);
	k->events = get_u64(c);
	k->lost_events = get_u64(c);
	if ((err = load_hist_as(l, c, &k->target_wait_ns, HIST_LOCK_TARGET_WAIT)) ||
	    (err = load_hist_as(l, c, &k->self_wait_ns, HIST_LOCK_SELF_WAIT)))
		return err;
	/* Each cost is at least its thread, count, lost count and three empty
	 * histograms: 4 + 8 + 4 + 3 * 40 bytes. */
	uint32_t n = get_count(c, 136);
	if (c->bad)
		return fail(l, "corrupt file: INTR section truncated");
	if (n > PROFILE_MAX_THREAD_COSTS + 1)
		return fail(l, "corrupt file: %u thread costs", n);
	p->costs = calloc(n ? n : 1, sizeof(*p->costs));
	if (!p->costs)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if ((err = load_cost(l, c, &p->costs[i])))
			return err;
		p->ncosts++;
		for (uint32_t j = 0; j < i; j++)
			if (p->costs[j].thread == p->costs[i].thread)
				return fail(l, "corrupt file: two costs of thread %u", p->costs[i].thread);
	}
	return 0;
}

static int check_header(struct loader *l, const uint8_t *d, size_t size)
{
	if (size == 0)
		return fail(l, "empty file, not a remprof profile");
	if (memcmp(d, MAGIC, size < MAGIC_LEN ? size : MAGIC_LEN))
		return fail(l, "not a remprof profile (bad magic)");
	if (size < HEADER_SIZE)
		return fail(l, "truncated file: %zu bytes, the header alone is %d", size, HEADER_SIZE);
	uint32_t version = rd32(d + 8);
	if (version > FORMAT_VERSION)
		return fail(l, "profile format version %u is newer than this remprof reads (%d); "
			    "use a newer remprof", version, FORMAT_VERSION);
	if (version == 0)
		return fail(l, "corrupt file: format version 0");
	if (rd32(d + 28) != (uint32_t)crc32_z(0L, d, 28))
		return fail(l, "corrupt file: header checksum mismatch");
	uint64_t want = rd64(d + 16);
	if (want != size)
		return fail(l, "%s file: %zu bytes, the header says %llu",
			    size < want ? "truncated" : "corrupt", size, (unsigned long long)want);
	if (rd32(d + 24) != (uint32_t)crc32_z(0L, d + HEADER_SIZE, (z_size_t)(size - HEADER_SIZE)))
		return fail(l, "corrupt file: checksum mismatch");
	return 0;
}

/* Find every section; known ones are remembered, unknown ones skipped
 * (a later remprof may add sections this one does not know). */
static int scan_sections(struct loader *l, const uint8_t *d, size_t size)
{
	uint32_t nsec = rd32(d + 12);
	struct cur c = { d + HEADER_SIZE, size - HEADER_SIZE, 0 };
	for (uint32_t i = 0; i < nsec; i++) {
		const uint8_t *h = get_bytes(&c, SECTION_HEADER_SIZE);
		if (!h)
			return fail(l, "corrupt file: section %u of %u is missing", i + 1, nsec);
		uint32_t tag = rd32(h), crc = rd32(h + 4);
		uint64_t len = rd64(h + 8);
		if (len > c.left)
			return fail(l, "corrupt file: section %u is longer than the file", i + 1);
		const uint8_t *body = get_bytes(&c, (size_t)len);
		if (crc != (uint32_t)crc32_z(0L, body, (z_size_t)len))
			return fail(l, "corrupt file: section %u checksum mismatch", i + 1);
		for (int k = 0; k < NSECTIONS; k++) {
			if (tag != known_tags[k])
				continue;
			if (l->have[k]++)
				return fail(l, "corrupt file: two %s sections", section_names[k]);
			l->sec[k] = (struct cur){ body, (size_t)len, 0 };
		}
	}
	if (c.left)
		return fail(l, "corrupt file: %zu bytes after the last section", c.left);
	for (int k = 0; k < NREQUIRED; k++)
		if (!l->have[k])
			return fail(l, "corrupt file: no %s section", section_names[k]);
	return 0;
}

static int decode(struct loader *l, const uint8_t *d, size_t size)
{
	int err = check_header(l, d, size);
	if (!err)
		err = scan_sections(l, d, size);
	/* In dependency order, whatever the order in the file. Bytes after the
	 * fields a decoder knows are ignored: a later version may append fields. */
	static int (*const steps[])(struct loader *, struct cur *) = {
		load_meta, load_strs, load_mods, load_frms, load_stks, load_thrd, load_smpl, load_stat,
	};
	static const int order[] = { S_META, S_STRS, S_MODS, S_FRMS, S_STKS, S_THRD, S_SMPL, S_STAT };
	for (size_t i = 0; !err && i < sizeof(order) / sizeof(order[0]); i++)
		err = steps[i](l, &l->sec[order[i]]);
	if (!err && l->have[S_INTR])
		err = load_intr(l, &l->sec[S_INTR]);
	if (err == -ENOMEM)
		fail(l, "out of memory");
	return err;
}

static int read_file(const char *path, uint8_t **out, size_t *size, struct loader *l)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : fail(l, "not a regular file");
	}
	if ((uint64_t)st.st_size > MAX_FILE_SIZE) {
		close(fd);
		return fail(l, "file is too large (%lld bytes) to be a profile", (long long)st.st_size);
	}
	size_t cap = (size_t)st.st_size, len = 0;
	uint8_t *d = malloc(cap ? cap : 1);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	/* Read to end of file rather than trust st_size: the file may change. */
	while (len < cap) {
		ssize_t n = read(fd, d + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;
			free(d);
			close(fd);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*out = d;
	*size = len;
	return 0;
}

int profile_load(struct profile **out, const char *path, char *err, size_t errlen)
{
	struct loader l = { .err = err, .errlen = errlen };
	uint8_t *d = NULL;
	size_t size = 0;
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	int rc = read_file(path, &d, &size, &l);
	if (rc < 0) {
		if (rc != -EINVAL && err && errlen)
			snprintf(err, errlen, "%s", strerror(-rc));
		return rc;
	}
	l.p = profile_new();
	rc = l.p ? decode(&l, d, size) : -ENOMEM;
	for (uint32_t i = 0; i < l.nstrs; i++)
		free(l.strs[i]);
	free(l.strs);
	free(d);
	if (rc < 0) {
		profile_free(l.p);
		if (rc == -ENOMEM && err && errlen)
			snprintf(err, errlen, "out of memory");
		return rc;
	}
	*out = l.p;
	return 0;
}
