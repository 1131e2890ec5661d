/* folded.c — Brendan Gregg's collapsed stacks ("root;...;leaf count"), the
 * input of flamegraph.pl, inferno and speedscope.
 *
 * One line per distinct text: two stacks that differ only in a frame's line
 * number, or the same stack in two threads, become one line with the summed
 * count. Lines are sorted, so the output is the same for the same profile. */
#include "remprof/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct line {
	char *text;
	uint64_t count;
};

struct text {
	char *d;
	size_t len, cap;
};

static int text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t ncap = t->cap ? t->cap : 256;
		while (ncap < t->len + n + 1)
			ncap *= 2;
		char *nd = realloc(t->d, ncap);
		if (!nd)
			return -ENOMEM;
		t->d = nd;
		t->cap = ncap;
	}
	memcpy(t->d + t->len, s, n);
	t->len += n;
	t->d[t->len] = '\0';
	return 0;
}

/* A frame name as the format allows it: ';' separates frames and a newline
 * ends the line, so they (and other control characters) are replaced. */
static int add_frame_name(struct text *t, const char *name, const char *suffix)
{
	if (!*name)
		name = "[unknown]";
	size_t start = t->len;
	if (text_add(t, name, strlen(name)) < 0 || text_add(t, suffix, strlen(suffix)) < 0)
		return -ENOMEM;
	for (size_t i = start; i < t->len; i++) {
		unsigned char c = (unsigned char)t->d[i];
		if (c == ';')
			t->d[i] = ':';
		else if (c < 0x20 || c == 0x7f)
			t->d[i] = ' ';
	}
	return 0;
}

static char *stack_text(const struct profile *p, const struct profile_sample *s, int per_thread)
{
	struct text t = { 0 };
	const struct profile_stack *st = &p->stacks[s->stack];
	int err = 0;
	if (per_thread) {
		const struct profile_thread *th = &p->threads[s->thread];
		char alt[32];
		snprintf(alt, sizeof(alt), "[tid %d]", (int)th->tid);
		err = add_frame_name(&t, th->name[0] ? th->name : alt, "");
	}
	for (uint32_t i = 0; i < st->nframes && !err; i++) {
		const struct profile_frame *f = &p->frames[st->frames[i]];
		/* "_[i]" is how stackcollapse-perf.pl marks inlined frames;
		 * flamegraph.pl colours them apart. */
		if (t.len)
			err = text_add(&t, ";", 1);
		if (!err)
			err = add_frame_name(&t, f->function, f->inlined ? "_[i]" : "");
	}
	if (!err && !t.len)
		err = add_frame_name(&t, "[unknown]", "");
	if (err) {
		free(t.d);
		return NULL;
	}
	return t.d;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

/* Merged across threads, each stack's text is built once from its summed
 * count; per thread, once per (stack, thread). */
static int collect_lines(const struct profile *p, int per_thread, struct line *lines, size_t *n)
{
	uint64_t *per_stack = NULL;
	if (!per_thread) {
		per_stack = calloc(p->nstacks ? p->nstacks : 1, sizeof(*per_stack));
		if (!per_stack)
			return -ENOMEM;
		for (size_t i = 0; i < p->nsamples; i++)
			per_stack[p->samples[i].stack] += p->samples[i].count;
	}
	size_t items = per_thread ? p->nsamples : p->nstacks;
	for (size_t i = 0; i < items; i++) {
		uint64_t count = per_thread ? p->samples[i].count : per_stack[i];
		if (!count)
			continue;
		struct profile_sample one = { .stack = (uint32_t)i };
		lines[*n].text = stack_text(p, per_thread ? &p->samples[i] : &one, per_thread);
		lines[*n].count = count;
		if (!lines[(*n)++].text) {
			free(per_stack);
			return -ENOMEM;
		}
	}
	free(per_stack);
	return 0;
}

int output_folded(const struct profile *p, FILE *out, const struct output_options *o)
{
	int per_thread = o && o->per_thread;
	size_t max = p->nsamples > p->nstacks ? p->nsamples : p->nstacks;
	struct line *lines = calloc(max ? max : 1, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	size_t n = 0;
	int err = collect_lines(p, per_thread, lines, &n);
	if (!err) {
		qsort(lines, n, sizeof(*lines), by_text);
		for (size_t i = 0; i < n; ) {
			uint64_t count = 0;
			size_t j = i;
			for (; j < n && !strcmp(lines[j].text, lines[i].text); j++)
				count += lines[j].count;
			fprintf(out, "%s %llu\n", lines[i].text, (unsigned long long)count);
			i = j;
		}
		if (ferror(out))
			err = -EIO;
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i].text);
	free(lines);
	return err;
}
