/* aggregate.c — per-function self and total from the interned stacks. */
#include "aggregate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int profile_has_weights(const struct profile *p)
{
	for (size_t i = 0; i < p->nsamples; i++)
		if (p->samples[i].weight_ns)
			return 1;
	return 0;
}

uint64_t measure_of(const struct profile_sample *s, int by_weight)
{
	return by_weight ? s->weight_ns : s->count;
}

double percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* A control character in a name would break the report's lines. */
static const char *sanitize(char *buf)
{
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	return buf;
}

const char *printable(const char *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s", s);
	return sanitize(buf);
}

const char *func_display(const struct func_stat *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", f->name, f->inlined ? " [inlined]" : "");
	return sanitize(buf);
}

int stream_status(FILE *out)
{
	return ferror(out) ? -EIO : 0;
}

static int frame_key_cmp(const struct profile_frame *a, const struct profile_frame *b)
{
	int c = strcmp(a->function, b->function);
	if (!c)
		c = strcmp(a->module, b->module);
	if (!c)
		c = (a->inlined > b->inlined) - (a->inlined < b->inlined);
	return c;
}

static int by_frame_key(const void *a, const void *b, void *frames)
{
	const struct profile_frame *fr = frames;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = frame_key_cmp(&fr[x], &fr[y]);
	return c ? c : (x > y) - (x < y);
}

/* Give every distinct (function, module, inlined) one funcs[] entry. */
static int assign_funcs(const struct profile *p, struct func_table *t)
{
	uint32_t *order = malloc((p->nframes ? p->nframes : 1) * sizeof(*order));
	t->func_of_frame = malloc((p->nframes ? p->nframes : 1) * sizeof(uint32_t));
	t->funcs = calloc(p->nframes ? p->nframes : 1, sizeof(*t->funcs));
	if (!order || !t->func_of_frame || !t->funcs) {
		free(order);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->nframes; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, p->nframes, sizeof(*order), by_frame_key, p->frames);
	for (size_t i = 0; i < p->nframes; i++) {
		const struct profile_frame *f = &p->frames[order[i]];
		if (i == 0 || frame_key_cmp(&p->frames[order[i - 1]], f))
			t->funcs[t->nfuncs++] = (struct func_stat){
				.name = f->function, .module = f->module, .inlined = (int)f->inlined };
		t->func_of_frame[order[i]] = (uint32_t)t->nfuncs - 1;
	}
	free(order);
	return 0;
}

int func_table_build(const struct profile *p, struct func_table *t)
{
	memset(t, 0, sizeof(*t));
	if (assign_funcs(p, t) < 0) {
		func_table_free(t);
		return -ENOMEM;
	}
	/* stamp[f] == sample index + 1: f already counted in this stack. */
	uint32_t *stamp = calloc(t->nfuncs ? t->nfuncs : 1, sizeof(*stamp));
	if (!stamp) {
		func_table_free(t);
		return -ENOMEM;
	}
	int by_weight = profile_has_weights(p);
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		const struct profile_stack *st = &p->stacks[s->stack];
		uint64_t v = measure_of(s, by_weight);
		t->grand_total += v;
		t->grand_n += s->count;
		if (!st->nframes)
			continue;
		struct func_stat *leaf = &t->funcs[t->func_of_frame[st->frames[st->nframes - 1]]];
		leaf->self += v;
		leaf->self_n += s->count;
		for (uint32_t j = 0; j < st->nframes; j++) {
			uint32_t f = t->func_of_frame[st->frames[j]];
			if (stamp[f] == i + 1)
				continue;
			stamp[f] = (uint32_t)i + 1;
			t->funcs[f].total += v;
			t->funcs[f].total_n += s->count;
		}
	}
	free(stamp);
	return 0;
}

void func_table_free(struct func_table *t)
{
	free(t->funcs);
	free(t->func_of_frame);
	memset(t, 0, sizeof(*t));
}

/* Ties by name, so that the output does not depend on the order of the file. */
static int func_name_cmp(const struct func_stat *x, const struct func_stat *y)
{
	int c = strcmp(x->name, y->name);
	if (!c)
		c = strcmp(x->module, y->module);
	return c ? c : x->inlined - y->inlined;
}

static int by_self(const void *a, const void *b, void *funcs)
{
	const struct func_stat *x = (const struct func_stat *)funcs + *(const uint32_t *)a;
	const struct func_stat *y = (const struct func_stat *)funcs + *(const uint32_t *)b;
	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return func_name_cmp(x, y);
}

static int by_total(const void *a, const void *b, void *funcs)
{
	const struct func_stat *x = (const struct func_stat *)funcs + *(const uint32_t *)a;
	const struct func_stat *y = (const struct func_stat *)funcs + *(const uint32_t *)b;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	return func_name_cmp(x, y);
}

uint32_t *func_table_sorted(const struct func_table *t, int total)
{
	uint32_t *v = malloc((t->nfuncs ? t->nfuncs : 1) * sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < t->nfuncs; i++)
		v[i] = (uint32_t)i;
	qsort_r(v, t->nfuncs, sizeof(*v), total ? by_total : by_self, t->funcs);
	return v;
}

/* "N lost", with the reasons in parentheses when there are any. */
void print_lost(const struct sample_stats *st, FILE *out)
{
	uint64_t lost = 0;
	for (int i = 0; i < LOST_NREASONS; i++)
		lost += st->lost[i];
	fprintf(out, "%llu lost", (unsigned long long)lost);
	const char *sep = " (";
	for (int i = 0; i < LOST_NREASONS; i++) {
		if (!st->lost[i])
			continue;
		fprintf(out, "%s%s %llu", sep, lost_reason_name((enum lost_reason)i),
			(unsigned long long)st->lost[i]);
		sep = ", ";
	}
	if (lost)
		fputc(')', out);
}
