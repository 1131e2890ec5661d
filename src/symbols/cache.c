/* cache.c — per-address frame cache and string arena of the symbolizer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "symbols_internal.h"

#define CHUNK_SIZE (64 * 1024)

struct sym_slot {
	uint64_t addr;
	const struct frame_info *frames; /* NULL: empty slot */
	int n;
};

struct sym_chunk {
	struct sym_chunk *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

static uint64_t hash_addr(uint64_t a)
{
	/* splitmix64 finalizer: neighbouring PCs must not cluster */
	a ^= a >> 30;
	a *= 0xbf58476d1ce4e5b9ULL;
	a ^= a >> 27;
	a *= 0x94d049bb133111ebULL;
	return a ^ (a >> 31);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static void *arena_alloc(struct sym_cache *c, size_t len)
{
	len = (len + 15) & ~(size_t)15;
	struct sym_chunk *k = c->chunks;
	if (!k || k->size - k->used < len) {
		size_t size = len > CHUNK_SIZE ? len : CHUNK_SIZE;
		k = malloc(sizeof(*k) + size);
		if (!k)
			return NULL;
		k->next = c->chunks;
		k->used = 0;
		k->size = size;
		c->chunks = k;
	}
	void *p = k->data + k->used;
	k->used += len;
	return p;
}

int sym_cache_init(struct sym_cache *c)
{
	memset(c, 0, sizeof(*c));
	c->cap = 1024;
	c->slots = calloc(c->cap, sizeof(*c->slots));
	c->str_cap = 256;
	c->strs = calloc(c->str_cap, sizeof(*c->strs));
	if (!c->slots || !c->strs) {
		sym_cache_free(c);
		return -ENOMEM;
	}
	return 0;
}

int sym_cache_find(const struct sym_cache *c, uint64_t addr, const struct frame_info **frames)
{
	size_t mask = c->cap - 1;
	for (size_t i = hash_addr(addr) & mask;; i = (i + 1) & mask) {
		const struct sym_slot *sl = &c->slots[i];
		if (!sl->frames)
			return 0;
		if (sl->addr == addr) {
			*frames = sl->frames;
			return sl->n;
		}
	}
}

static void slot_put(struct sym_slot *slots, size_t cap, const struct sym_slot *v)
{
	size_t mask = cap - 1;
	size_t i = hash_addr(v->addr) & mask;
	while (slots[i].frames)
		i = (i + 1) & mask;
	slots[i] = *v;
}

/* Keep the load factor under 1/2 so that probes stay short. */
static int slots_grow(struct sym_cache *c)
{
	size_t cap = c->cap * 2;
	struct sym_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].frames)
			slot_put(slots, cap, &c->slots[i]);
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
	return 0;
}

const struct frame_info *sym_cache_insert(struct sym_cache *c, uint64_t addr,
					  const struct frame_info *frames, int n)
{
	if ((c->used + 1) * 2 > c->cap && slots_grow(c) < 0)
		return NULL;
	struct frame_info *copy = arena_alloc(c, sizeof(*copy) * (size_t)n);
	if (!copy)
		return NULL;
	memcpy(copy, frames, sizeof(*copy) * (size_t)n);
	struct sym_slot v = { .addr = addr, .frames = copy, .n = n };
	slot_put(c->slots, c->cap, &v);
	c->used++;
	return copy;
}

static int strs_grow(struct sym_cache *c)
{
	size_t cap = c->str_cap * 2, mask = cap - 1;
	const char **strs = calloc(cap, sizeof(*strs));
	if (!strs)
		return -ENOMEM;
	for (size_t i = 0; i < c->str_cap; i++) {
		if (!c->strs[i])
			continue;
		size_t j = hash_str(c->strs[i]) & mask;
		while (strs[j])
			j = (j + 1) & mask;
		strs[j] = c->strs[i];
	}
	free(c->strs);
	c->strs = strs;
	c->str_cap = cap;
	return 0;
}

const char *sym_cache_intern(struct sym_cache *c, const char *str)
{
	if ((c->str_used + 1) * 2 > c->str_cap && strs_grow(c) < 0)
		return NULL;
	size_t mask = c->str_cap - 1;
	size_t i = hash_str(str) & mask;
	for (; c->strs[i]; i = (i + 1) & mask)
		if (strcmp(c->strs[i], str) == 0)
			return c->strs[i];
	size_t len = strlen(str) + 1;
	char *copy = arena_alloc(c, len);
	if (!copy)
		return NULL;
	memcpy(copy, str, len);
	c->strs[i] = copy;
	c->str_used++;
	return copy;
}

void sym_cache_forget(struct sym_cache *c)
{
	memset(c->slots, 0, c->cap * sizeof(*c->slots));
	c->used = 0;
}

void sym_cache_free(struct sym_cache *c)
{
	free(c->slots);
	free(c->strs);
	while (c->chunks) {
		struct sym_chunk *next = c->chunks->next;
		free(c->chunks);
		c->chunks = next;
	}
	memset(c, 0, sizeof(*c));
}
