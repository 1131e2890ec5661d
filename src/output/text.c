/* text.c — the report a person reads: what was recorded, the top functions
 * by self and by total, the threads, and the call tree from the root.
 *
 * Every percentage is of the same whole: the summed sample weight (CPU
 * time; wall time with --idle), as perf weighs by period, so that a thread
 * sampled at a lower effective rate is not over-counted. Only a profile
 * without any weight falls back to sample counts (the header says which). */
#include "remprof/output.h"
#include "aggregate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_ROWS 20
/* Tree branches below this share of the whole are left out (and counted). */
#define TREE_MIN_PERCENT 0.5

static void format_duration(uint64_t ns, char *buf, size_t len)
{
	if (ns >= 1000000000ull)
		snprintf(buf, len, "%.3f s", (double)ns / 1e9);
	else if (ns >= 1000000ull)
		snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
}

static void print_header(const struct profile *p, const struct func_table *t, int by_weight,
			 FILE *out)
{
	char when[64] = "unknown", dur[32], weight[32];
	time_t secs = (time_t)(p->start_unix_ns / 1000000000ull);
	struct tm tm;
	if (p->start_unix_ns && gmtime_r(&secs, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	format_duration(p->duration_ns, dur, sizeof(dur));

	fprintf(out, "command:   %s\n", p->cmdline && *p->cmdline ? p->cmdline : "(unknown)");
	fputs("pids:     ", out);
	for (size_t i = 0; i < p->npids; i++)
		fprintf(out, " %d", (int)p->pids[i]);
	fprintf(out, "\nkernel:    %s\n", p->kernel[0] ? p->kernel : "(unknown)");
	fprintf(out, "reader:    %s\n", p->reader[0] ? p->reader : "(unknown)");
	fprintf(out, "rate:      %u Hz of %s, stack copies up to %u bytes\n", p->freq_hz,
		p->idle ? "wall-clock time (--idle)" : "each thread's CPU time", p->stack_size);
	fprintf(out, "recorded:  %s for %s by remprof %s\n", when, dur,
		p->version[0] ? p->version : "(unknown)");
	fprintf(out, "samples:   %llu, ", (unsigned long long)p->stats.samples);
	print_lost(&p->stats, out);
	fprintf(out, ", %llu partial reads, %llu threads seen\n",
		(unsigned long long)p->stats.partial_reads, (unsigned long long)p->stats.threads_seen);
	if (by_weight) {
		format_duration(t->grand_total, weight, sizeof(weight));
		fprintf(out, "weight:    %s of %s in %llu samples; percentages are of this weight\n",
			weight, p->idle ? "wall time" : "CPU time", (unsigned long long)t->grand_n);
	} else {
		fprintf(out, "weight:    none recorded; percentages are of the %llu samples\n",
			(unsigned long long)t->grand_n);
	}
}

static int print_top(const struct func_table *t, int by_total, int rows, FILE *out)
{
	uint32_t *order = func_table_sorted(t, by_total);
	if (!order)
		return -ENOMEM;
	fprintf(out, "\nTop functions by %s:\n", by_total ? "total" : "self");
	fprintf(out, "  %7s  %7s  %8s  %s\n", "self", "total", "samples", "function (module)");
	char name[512], mod[256];
	for (size_t i = 0; i < t->nfuncs && (int)i < rows; i++) {
		const struct func_stat *f = &t->funcs[order[i]];
		uint64_t v = by_total ? f->total : f->self;
		if (!v && !(by_total ? f->total_n : f->self_n))
			break;
		fprintf(out, "  %6.2f%%  %6.2f%%  %8llu  %s (%s)\n", percent(f->self, t->grand_total),
			percent(f->total, t->grand_total),
			(unsigned long long)(by_total ? f->total_n : f->self_n),
			func_display(f, name, sizeof(name)), printable(f->module, mod, sizeof(mod)));
	}
	free(order);
	return 0;
}

struct thread_sum {
	uint32_t thread;
	uint64_t n, weight, value;
};

static int by_thread_value(const void *a, const void *b, void *threads)
{
	const struct thread_sum *x = a, *y = b;
	const struct profile_thread *th = threads;
	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	pid_t tx = th[x->thread].tid, ty = th[y->thread].tid;
	return (tx > ty) - (tx < ty);
}

static int print_threads(const struct profile *p, const struct func_table *t, int by_weight,
			 FILE *out)
{
	struct thread_sum *ts = calloc(p->nthreads ? p->nthreads : 1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	for (size_t i = 0; i < p->nthreads; i++)
		ts[i].thread = (uint32_t)i;
	for (size_t i = 0; i < p->nsamples; i++) {
		struct thread_sum *s = &ts[p->samples[i].thread];
		s->n += p->samples[i].count;
		s->weight += p->samples[i].weight_ns;
		s->value += measure_of(&p->samples[i], by_weight);
	}
	qsort_r(ts, p->nthreads, sizeof(*ts), by_thread_value, p->threads);
	fprintf(out, "\nThreads:\n  %7s  %8s  %10s  %8s  %8s  %s\n", "%", "samples",
		p->idle ? "time" : "CPU time", "pid", "tid", "name");
	for (size_t i = 0; i < p->nthreads; i++) {
		const struct profile_thread *th = &p->threads[ts[i].thread];
		char w[32], name[256];
		format_duration(ts[i].weight, w, sizeof(w));
		fprintf(out, "  %6.2f%%  %8llu  %10s  %8d  %8d  %s\n", percent(ts[i].value, t->grand_total),
			(unsigned long long)ts[i].n, w, (int)th->pid, (int)th->tid,
			printable(th->name, name, sizeof(name)));
	}
	free(ts);
	return 0;
}

/* ---- call tree ---- */

#define NO_NODE UINT32_MAX

struct node {
	uint32_t func, parent;
	uint32_t first_child, next_sibling;
	uint64_t total, self;
};

struct tree {
	struct node *nodes;
	size_t n, cap;
	/* (parent, func) -> node + 1: a hot node can have thousands of
	 * children, too many to search one by one per sample. */
	uint32_t *slots;
	size_t nslots;
};

static size_t child_hash(uint32_t parent, uint32_t func, size_t nslots)
{
	uint64_t k = ((uint64_t)parent << 32 | func) * 0x9e3779b97f4a7c15ull;
	return (size_t)(k >> 32) & (nslots - 1);
}

static int tree_rehash(struct tree *tr, size_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	/* every node but the root is some parent's child */
	for (uint32_t p = 0; p < tr->n; p++)
		for (uint32_t c = tr->nodes[p].first_child; c != NO_NODE; c = tr->nodes[c].next_sibling) {
			size_t j = child_hash(p, tr->nodes[c].func, nslots);
			while (slots[j])
				j = (j + 1) & (nslots - 1);
			slots[j] = c + 1;
		}
	free(tr->slots);
	tr->slots = slots;
	tr->nslots = nslots;
	return 0;
}

static uint32_t tree_child(struct tree *tr, uint32_t parent, uint32_t func)
{
	if (tr->n * 2 >= tr->nslots && tree_rehash(tr, tr->nslots ? tr->nslots * 2 : 1024) < 0)
		return NO_NODE;
	size_t j = child_hash(parent, func, tr->nslots);
	for (; tr->slots[j]; j = (j + 1) & (tr->nslots - 1)) {
		uint32_t c = tr->slots[j] - 1;
		if (tr->nodes[c].func == func && tr->nodes[c].parent == parent)
			return c;
	}
	if (tr->n == tr->cap) {
		size_t ncap = tr->cap * 2;
		struct node *nn = realloc(tr->nodes, ncap * sizeof(*nn));
		if (!nn)
			return NO_NODE;
		tr->nodes = nn;
		tr->cap = ncap;
	}
	uint32_t c = (uint32_t)tr->n++;
	tr->nodes[c] = (struct node){ .func = func, .parent = parent, .first_child = NO_NODE,
				      .next_sibling = tr->nodes[parent].first_child };
	tr->nodes[parent].first_child = c;
	tr->slots[j] = c + 1;
	return c;
}

/* Node 0 is the root above every stack's outermost frame. */
static int tree_build(const struct profile *p, const struct func_table *t, int by_weight,
		      struct tree *tr)
{
	memset(tr, 0, sizeof(*tr));
	tr->nodes = malloc(256 * sizeof(*tr->nodes));
	if (!tr->nodes)
		return -ENOMEM;
	tr->cap = 256;
	tr->n = 1;
	tr->nodes[0] = (struct node){ .func = NO_NODE, .parent = NO_NODE, .first_child = NO_NODE,
				      .next_sibling = NO_NODE };
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_stack *st = &p->stacks[p->samples[i].stack];
		uint64_t v = measure_of(&p->samples[i], by_weight);
		uint32_t cur = 0;
		tr->nodes[0].total += v;
		for (uint32_t j = 0; j < st->nframes; j++) {
			cur = tree_child(tr, cur, t->func_of_frame[st->frames[j]]);
			if (cur == NO_NODE)
				return -ENOMEM;
			tr->nodes[cur].total += v;
		}
		tr->nodes[cur].self += v;
	}
	return 0;
}

static int by_node_total(const void *a, const void *b, void *nodes)
{
	const struct node *n = nodes;
	uint64_t x = n[*(const uint32_t *)a].total, y = n[*(const uint32_t *)b].total;
	return x != y ? (x > y ? -1 : 1) : 0;
}

struct visit {
	uint32_t node, depth;
};

/* Depth first with an explicit stack: a stack in a file may be deeper than
 * any C call stack should recurse. Children come largest first. */
static int tree_print(const struct tree *tr, const struct func_table *t, FILE *out)
{
	uint64_t min = (uint64_t)((double)t->grand_total * TREE_MIN_PERCENT / 100.0);
	struct visit *stack = malloc(tr->n * sizeof(*stack));
	uint32_t *kids = malloc(tr->n * sizeof(*kids));
	if (!stack || !kids) {
		free(stack);
		free(kids);
		return -ENOMEM;
	}
	size_t ndepth_first = 0;
	uint64_t pruned = 0;
	stack[ndepth_first++] = (struct visit){ 0, 0 };
	char name[512];
	while (ndepth_first) {
		struct visit v = stack[--ndepth_first];
		const struct node *nd = &tr->nodes[v.node];
		if (v.node) {
			const struct func_stat *f = &t->funcs[nd->func];
			fprintf(out, "  %6.2f%%  %6.2f%%  %*s%s\n", percent(nd->total, t->grand_total),
				percent(nd->self, t->grand_total), (int)(2 * (v.depth - 1)), "",
				func_display(f, name, sizeof(name)));
		}
		size_t nk = 0;
		for (uint32_t c = nd->first_child; c != NO_NODE; c = tr->nodes[c].next_sibling) {
			if (tr->nodes[c].total < min || !tr->nodes[c].total)
				pruned += tr->nodes[c].total;
			else
				kids[nk++] = c;
		}
		qsort_r(kids, nk, sizeof(*kids), by_node_total, tr->nodes);
		while (nk)
			stack[ndepth_first++] = (struct visit){ kids[--nk], v.depth + 1 };
	}
	if (pruned)
		fprintf(out, "  (branches below %.1f%% not shown: %.2f%% in all)\n", TREE_MIN_PERCENT,
			percent(pruned, t->grand_total));
	free(stack);
	free(kids);
	return 0;
}

static int print_tree(const struct profile *p, const struct func_table *t, int by_weight,
		      FILE *out)
{
	struct tree tr;
	int err = tree_build(p, t, by_weight, &tr);
	if (!err) {
		fprintf(out, "\nCall tree (root first):\n  %7s  %7s  %s\n", "total", "self", "function");
		err = tree_print(&tr, t, out);
	}
	free(tr.nodes);
	free(tr.slots);
	return err;
}

int output_text(const struct profile *p, FILE *out, const struct output_options *o)
{
	int rows = o && o->max_rows > 0 ? o->max_rows : DEFAULT_ROWS;
	int by_weight = profile_has_weights(p);
	struct func_table t;
	int err = func_table_build(p, &t);
	if (err)
		return err;
	print_header(p, &t, by_weight, out);
	if (!t.grand_n) {
		fputs("\nNo samples.\n", out);
	} else {
		err = print_top(&t, 0, rows, out);
		if (!err)
			err = print_top(&t, 1, rows, out);
		if (!err)
			err = print_threads(p, &t, by_weight, out);
		if (!err) {
			fputc('\n', out);
			err = output_intrusion(p, out, 1);
		}
		if (!err)
			err = print_tree(p, &t, by_weight, out);
	}
	func_table_free(&t);
	return err ? err : stream_status(out);
}
