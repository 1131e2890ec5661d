/* profile.c — the in-memory profile: arrays of frames, stacks, threads and
 * (stack, thread) samples, each interned through an open-addressing hash
 * table so that a million samples of the same hot stack cost one entry. */
#include "remprof/profile.h"
#include "profile_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A slot holds index + 1 (0 = empty) and the full hash, so that growing
 * never needs to look at the elements again. */
struct slot {
	uint32_t idx1;
	uint32_t hash;
};

struct table {
	struct slot *slots;
	size_t cap;   /* power of two, or 0 */
	size_t used;
};

struct profile_index {
	struct table frames, stacks, threads, samples;
	size_t frames_cap, stacks_cap, threads_cap, samples_cap, modules_cap;
};

typedef int (*eq_fn)(const struct profile *p, uint32_t idx, const void *key);

static const char unknown[] = "[unknown]";

/* 64-bit FNV-1a, folded to 32 bits at the end. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
	return hash_bytes(h, &v, sizeof(v));
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	/* The terminating NUL keeps ("ab","c") apart from ("a","bc"); a NULL
	 * string hashes like a lone 0xff, which no C string contains. */
	if (!s)
		return hash_bytes(h, "\xff", 1);
	return hash_bytes(h, s, strlen(s) + 1);
}

#define HASH_SEED 0xcbf29ce484222325ull

static uint32_t fold(uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32));
}

static int table_grow(struct table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct slot *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].idx1)
			continue;
		size_t j = t->slots[i].hash & (ncap - 1);
		while (ns[j].idx1)
			j = (j + 1) & (ncap - 1);
		ns[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

/* The slot holding an element equal to key, or the empty slot where it
 * belongs; NULL only when the table cannot grow. */
static struct slot *table_find(struct table *t, uint32_t hash, const struct profile *p,
			       eq_fn eq, const void *key)
{
	if ((t->used + 1) * 2 > t->cap && table_grow(t) < 0)
		return NULL;
	size_t j = hash & (t->cap - 1);
	for (;;) {
		struct slot *s = &t->slots[j];
		if (!s->idx1)
			return s;
		if (s->hash == hash && eq(p, s->idx1 - 1, key))
			return s;
		j = (j + 1) & (t->cap - 1);
	}
}

static void table_set(struct table *t, struct slot *s, uint32_t hash, uint32_t idx)
{
	s->idx1 = idx + 1;
	s->hash = hash;
	t->used++;
}

/* Room for one more element in an array of *cap; 0 or -ENOMEM. */
static int reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	if (n >= PROFILE_NONE - 1)
		return -ENOMEM;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *na = realloc(*arr, ncap * elem);
	if (!na)
		return -ENOMEM;
	*arr = na;
	*cap = ncap;
	return 0;
}

struct profile *profile_new(void)
{
	struct profile *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->index = calloc(1, sizeof(*p->index));
	if (!p->index) {
		free(p);
		return NULL;
	}
	snprintf(p->version, sizeof(p->version), "%s", REMPROF_VERSION);
	sample_stats_init(&p->stats);
	hist_init(&p->lock.target_wait_ns);
	hist_init(&p->lock.self_wait_ns);
	return p;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nframes; i++) {
		free(p->frames[i].function);
		free(p->frames[i].module);
		free(p->frames[i].file);
	}
	for (size_t i = 0; i < p->nstacks; i++)
		free(p->stacks[i].frames);
	for (size_t i = 0; i < p->nthreads; i++)
		free(p->threads[i].name);
	for (size_t i = 0; i < p->nmodules; i++)
		free(p->modules[i].path);
	free(p->frames);
	free(p->stacks);
	free(p->threads);
	free(p->modules);
	free(p->samples);
	free(p->cmdline);
	free(p->pids);
	free(p->costs);
	if (p->index) {
		free(p->index->frames.slots);
		free(p->index->stacks.slots);
		free(p->index->threads.slots);
		free(p->index->samples.slots);
		free(p->index);
	}
	free(p);
}

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* ---- frames ---- */

static int frame_eq(const struct profile *p, uint32_t idx, const void *key)
{
	const struct profile_frame *a = &p->frames[idx], *b = key;
	return a->line == b->line && a->inlined == b->inlined && str_eq(a->function, b->function) &&
	       str_eq(a->module, b->module) && str_eq(a->file, b->file);
}

static uint32_t frame_hash(const struct profile_frame *f)
{
	uint64_t h = hash_str(HASH_SEED, f->function);
	h = hash_str(h, f->module);
	h = hash_str(h, f->file);
	h = hash_u64(h, ((uint64_t)f->line << 1) | f->inlined);
	return fold(h);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

uint32_t profile_intern_frame(struct profile *p, const char *function, const char *module,
			      const char *file, uint32_t line, int inlined)
{
	/* The key borrows the caller's strings; only a new entry copies them. */
	struct profile_frame key = {
		.function = (char *)(function ? function : unknown),
		.module = (char *)(module ? module : unknown),
		.file = (char *)file,
		.line = line,
		.inlined = inlined != 0,
	};
	uint32_t h = frame_hash(&key);
	struct profile_index *ix = p->index;
	struct slot *s = table_find(&ix->frames, h, p, frame_eq, &key);
	if (!s)
		return PROFILE_NONE;
	if (s->idx1)
		return s->idx1 - 1;
	if (reserve((void **)&p->frames, &ix->frames_cap, p->nframes, sizeof(*p->frames)) < 0)
		return PROFILE_NONE;
	struct profile_frame f = {
		.function = strdup(key.function),
		.module = strdup(key.module),
		.file = dup_or_null(file),
		.line = line,
		.inlined = key.inlined,
	};
	if (!f.function || !f.module || (file && !f.file)) {
		free(f.function);
		free(f.module);
		free(f.file);
		return PROFILE_NONE;
	}
	uint32_t idx = (uint32_t)p->nframes++;
	p->frames[idx] = f;
	table_set(&ix->frames, s, h, idx);
	return idx;
}

/* ---- stacks ---- */

static int stack_eq(const struct profile *p, uint32_t idx, const void *key)
{
	const struct profile_stack *a = &p->stacks[idx], *b = key;
	return a->nframes == b->nframes &&
	       (b->nframes == 0 || !memcmp(a->frames, b->frames, b->nframes * sizeof(uint32_t)));
}

uint32_t profile_intern_stack(struct profile *p, const uint32_t *frames, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (frames[i] >= p->nframes)
			return PROFILE_NONE;
	struct profile_stack key = { .nframes = n, .frames = (uint32_t *)frames };
	uint32_t h = fold(hash_bytes(hash_u64(HASH_SEED, n), frames, n * sizeof(uint32_t)));
	struct profile_index *ix = p->index;
	struct slot *s = table_find(&ix->stacks, h, p, stack_eq, &key);
	if (!s)
		return PROFILE_NONE;
	if (s->idx1)
		return s->idx1 - 1;
	if (reserve((void **)&p->stacks, &ix->stacks_cap, p->nstacks, sizeof(*p->stacks)) < 0)
		return PROFILE_NONE;
	uint32_t *copy = malloc(n ? n * sizeof(uint32_t) : 1);
	if (!copy)
		return PROFILE_NONE;
	if (n)
		memcpy(copy, frames, n * sizeof(uint32_t));
	uint32_t idx = (uint32_t)p->nstacks++;
	p->stacks[idx] = (struct profile_stack){ .nframes = n, .frames = copy };
	table_set(&ix->stacks, s, h, idx);
	return idx;
}

/* ---- threads ---- */

static int thread_eq(const struct profile *p, uint32_t idx, const void *key)
{
	const struct profile_thread *a = &p->threads[idx], *b = key;
	return a->pid == b->pid && a->tid == b->tid;
}

uint32_t profile_thread(struct profile *p, pid_t pid, pid_t tid, const char *name)
{
	struct profile_thread key = { .pid = pid, .tid = tid };
	uint32_t h = fold(hash_u64(HASH_SEED, ((uint64_t)(uint32_t)pid << 32) | (uint32_t)tid));
	struct profile_index *ix = p->index;
	struct slot *s = table_find(&ix->threads, h, p, thread_eq, &key);
	if (!s)
		return PROFILE_NONE;
	if (s->idx1)
		return s->idx1 - 1;
	if (reserve((void **)&p->threads, &ix->threads_cap, p->nthreads, sizeof(*p->threads)) < 0)
		return PROFILE_NONE;
	key.name = strdup(name ? name : "");
	if (!key.name)
		return PROFILE_NONE;
	uint32_t idx = (uint32_t)p->nthreads++;
	p->threads[idx] = key;
	table_set(&ix->threads, s, h, idx);
	return idx;
}

void profile_thread_rename(struct profile *p, uint32_t thread, const char *name)
{
	if (thread >= p->nthreads || !name)
		return;
	char *n = strdup(name);
	if (!n)
		return; /* keep the old name rather than lose the thread's */
	free(p->threads[thread].name);
	p->threads[thread].name = n;
}

/* ---- samples ---- */

struct sample_key {
	uint32_t stack, thread;
};

static int sample_eq(const struct profile *p, uint32_t idx, const void *key)
{
	const struct sample_key *k = key;
	return p->samples[idx].stack == k->stack && p->samples[idx].thread == k->thread;
}

uint32_t profile_add_samples(struct profile *p, uint32_t stack, uint32_t thread,
			     uint64_t count, uint64_t weight_ns)
{
	if (stack >= p->nstacks || thread >= p->nthreads)
		return PROFILE_NONE;
	struct sample_key key = { stack, thread };
	uint32_t h = fold(hash_u64(HASH_SEED, ((uint64_t)stack << 32) | thread));
	struct profile_index *ix = p->index;
	struct slot *s = table_find(&ix->samples, h, p, sample_eq, &key);
	if (!s)
		return PROFILE_NONE;
	if (!s->idx1) {
		if (reserve((void **)&p->samples, &ix->samples_cap, p->nsamples,
			    sizeof(*p->samples)) < 0)
			return PROFILE_NONE;
		uint32_t idx = (uint32_t)p->nsamples++;
		p->samples[idx] = (struct profile_sample){ .stack = stack, .thread = thread };
		table_set(&ix->samples, s, h, idx);
	}
	struct profile_sample *smp = &p->samples[s->idx1 - 1];
	smp->count += count;
	smp->weight_ns += weight_ns;
	return s->idx1 - 1;
}

void profile_add_sample(struct profile *p, uint32_t stack, uint32_t thread, uint64_t weight_ns)
{
	profile_add_samples(p, stack, thread, 1, weight_ns);
}

/* ---- modules and facts ---- */

void profile_add_module(struct profile *p, const char *path, const char *build_id,
			uint64_t start, uint64_t end)
{
	if (!path)
		return;
	if (!build_id)
		build_id = "";
	/* Modules are few (tens), and added once per maps refresh. */
	for (size_t i = 0; i < p->nmodules; i++) {
		const struct profile_module *m = &p->modules[i];
		if (m->start == start && m->end == end && !strcmp(m->path, path) &&
		    !strncmp(m->build_id, build_id, sizeof(m->build_id) - 1))
			return;
	}
	if (reserve((void **)&p->modules, &p->index->modules_cap, p->nmodules,
		    sizeof(*p->modules)) < 0)
		return;
	struct profile_module m = { .path = strdup(path), .start = start, .end = end };
	if (!m.path)
		return;
	snprintf(m.build_id, sizeof(m.build_id), "%s", build_id);
	p->modules[p->nmodules++] = m;
}

int profile_set_facts(struct profile *p, const char *cmdline, const pid_t *pids, size_t npids)
{
	char *c = strdup(cmdline ? cmdline : "");
	pid_t *v = malloc(npids ? npids * sizeof(*v) : 1);
	if (!c || !v) {
		free(c);
		free(v);
		return -ENOMEM;
	}
	if (npids)
		memcpy(v, pids, npids * sizeof(*v));
	free(p->cmdline);
	free(p->pids);
	free(p->costs);
	p->cmdline = c;
	p->pids = v;
	p->npids = npids;
	return 0;
}

static struct profile_thread_cost *cost_new(struct profile *p, uint32_t thread)
{
	struct profile_thread_cost *v = realloc(p->costs, (p->ncosts + 1) * sizeof(*v));
	if (!v)
		return NULL;
	p->costs = v;
	struct profile_thread_cost *c = &p->costs[p->ncosts++];
	memset(c, 0, sizeof(*c));
	c->thread = thread;
	hist_init(&c->stop_ns);
	hist_init(&c->int_to_stop_ns);
	hist_init(&c->copy_ns);
	return c;
}

/* The entry of thread, or the "other threads" one once the table is full.
 * A linear search: it is bounded by PROFILE_MAX_THREAD_COSTS + 1 and the
 * record pipeline caches the answer per thread. */
struct profile_thread_cost *profile_cost_of(struct profile *p, uint32_t thread)
{
	struct profile_thread_cost *others = NULL;
	for (size_t i = 0; i < p->ncosts; i++) {
		if (p->costs[i].thread == thread)
			return &p->costs[i];
		if (p->costs[i].thread == PROFILE_NONE)
			others = &p->costs[i];
	}
	if (p->ncosts - (others != NULL) < PROFILE_MAX_THREAD_COSTS)
		return cost_new(p, thread);
	return others ? others : cost_new(p, PROFILE_NONE);
}

void profile_add_cost(struct profile *p, uint32_t thread, int lost, uint64_t stop_ns,
		      uint64_t int_to_stop_ns, uint64_t copy_ns)
{
	struct profile_thread_cost *c = profile_cost_of(p, thread);
	if (!c)
		return;
	if (lost >= 0 && lost < LOST_NREASONS) {
		c->lost[lost]++;
		return;
	}
	c->samples++;
	hist_add(&c->stop_ns, stop_ns);
	hist_add(&c->int_to_stop_ns, int_to_stop_ns);
	hist_add(&c->copy_ns, copy_ns);
}
