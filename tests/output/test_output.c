/* test_output.c — the text, folded and summary output of the known profile
 * in fixture.h: exact folded lines, the expected percentages in the text,
 * the tree pruned below 0.5%, and the sample-count fallback. */
#include "remprof/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

/* Run one writer into memory; the returned text is malloc'ed. */
static char *render(int (*fn)(const struct profile *, FILE *, const struct output_options *),
		    const struct profile *p, const struct output_options *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f);
	CHECK_EQ_INT(fn(p, f, o), 0);
	CHECK_EQ_INT(fclose(f), 0);
	return buf;
}

static int summary_fn(const struct profile *p, FILE *f, const struct output_options *o)
{
	(void)o;
	return output_summary(p, f);
}

static void expect_in(const char *hay, const char *needle)
{
	if (!strstr(hay, needle)) {
		fprintf(stderr, "expected to find\n[%s]\nin\n%s\n", needle, hay);
		exit(1);
	}
}

static void test_folded(const struct profile *p)
{
	struct output_options o = { 0 };
	char *s = render(output_folded, p, &o);
	/* merged across threads and across b's two lines; ';' and the newline
	 * in a name replaced; inlined marked as stackcollapse-perf does */
	CHECK_EQ_STR(s, "main;a 1\n"
			"main;a;b 6\n"
			"main;c;c;helper_[i] 4\n"
			"main;op:er ator 1\n");
	free(s);
	o.per_thread = 1;
	s = render(output_folded, p, &o);
	CHECK_EQ_STR(s, "main-thr;main;a 1\n"
			"main-thr;main;a;b 3\n"
			"main-thr;main;op:er ator 1\n"
			"worker;main;a;b 3\n"
			"worker;main;c;c;helper_[i] 4\n");
	free(s);
}

static void test_text(const struct profile *p)
{
	struct output_options o = { 0 };
	char *s = render(output_text, p, &o);
	expect_in(s, "command:   ./app --run\n");
	expect_in(s, "pids:      100\n");
	expect_in(s, "kernel:    6.12.0-fixture\n");
	expect_in(s, "reader:    vmreadv\n");
	expect_in(s, "rate:      1000 Hz of each thread's CPU time");
	expect_in(s, "for 3.000 s");
	expect_in(s, "samples:   12, 3 lost (thread exited 1, read failed 2), 1 partial reads");
	expect_in(s, "20.000 ms of CPU time in 12 samples");

	const char *self = strstr(s, "Top functions by self:");
	const char *total = strstr(s, "Top functions by total:");
	const char *threads = strstr(s, "Threads:");
	const char *tree = strstr(s, "Call tree (root first):");
	CHECK(self && total && threads && tree && self < total && total < threads && threads < tree);
	/* self table: largest first */
	expect_in(self, "Top functions by self:\n     self    total   samples  function (module)\n"
			"   60.00%   60.00%         6  b (app)\n"
			"   20.00%   20.00%         4  helper [inlined] (app)\n"
			"   10.00%   70.00%         1  a (app)\n");
	/* c recurses (main;c;c;helper) and still counts once: 20%, not 40% */
	expect_in(total, "    0.00%  100.00%        12  main (app)\n"
			 "   10.00%   70.00%         7  a (app)\n");
	expect_in(total, "    0.00%   20.00%         4  c (app)\n");
	expect_in(threads, "        %   samples    CPU time       pid       tid  name\n"
			   "   50.00%         5   10.000 ms       100       100  main-thr\n"
			   "   50.00%         7   10.000 ms       100       101  worker\n");
	expect_in(tree, "  100.00%    0.00%  main\n"
			"   70.00%   10.00%    a\n"
			"   60.00%   60.00%      b\n"
			"   20.00%    0.00%    c\n"
			"   20.00%    0.00%      c\n"
			"   20.00%   20.00%        helper [inlined]\n"
			"   10.00%   10.00%    op;er ator\n");
	CHECK(!strstr(s, "not shown"));
	free(s);

	o.max_rows = 1;
	s = render(output_text, p, &o);
	CHECK(!strstr(s, "helper [inlined] (app)"));
	free(s);
}

static void test_pruning_and_counts(void)
{
	struct profile *p = profile_new();
	CHECK(p);
	uint32_t r = profile_intern_frame(p, "root", "m", NULL, 0, 0);
	uint32_t big = profile_intern_frame(p, "big", "m", NULL, 0, 0);
	uint32_t tiny = profile_intern_frame(p, "tiny", "m", NULL, 0, 0);
	uint32_t s1[] = { r, big }, s2[] = { r, tiny };
	uint32_t t = profile_thread(p, 1, 1, "");
	profile_add_sample(p, profile_intern_stack(p, s1, 2), t, 999);
	profile_add_sample(p, profile_intern_stack(p, s2, 2), t, 1);
	struct output_options o = { .per_thread = 1 };
	char *s = render(output_text, p, &o);
	const char *tree = strstr(s, "Call tree");
	CHECK(tree);
	CHECK(!strstr(tree, "tiny"));
	expect_in(tree, "   99.90%   99.90%    big\n");
	expect_in(tree, "(branches below 0.5% not shown: 0.10% in all)");
	expect_in(s, "    0.10%    0.10%         1  tiny (m)\n");
	free(s);
	/* an unnamed thread gets its tid as the root frame */
	s = render(output_folded, p, &o);
	CHECK_EQ_STR(s, "[tid 1];root;big 1\n[tid 1];root;tiny 1\n");
	free(s);
	profile_free(p);

	/* no weights at all: percentages of sample counts, and the header says so */
	p = profile_new();
	r = profile_intern_frame(p, "only", "m", NULL, 0, 0);
	t = profile_thread(p, 1, 1, "x");
	uint32_t st = profile_intern_stack(p, &r, 1);
	for (int i = 0; i < 4; i++)
		profile_add_sample(p, st, t, 0);
	s = render(output_text, p, &o);
	expect_in(s, "percentages are of the 4 samples");
	expect_in(s, "  100.00%  100.00%         4  only (m)\n");
	free(s);
	profile_free(p);

	p = profile_new();
	s = render(output_text, p, &o);
	expect_in(s, "No samples.");
	free(s);
	s = render(output_folded, p, &o);
	CHECK_EQ_STR(s, "");
	free(s);
	s = render(summary_fn, p, NULL);
	expect_in(s, "(no samples)");
	expect_in(s, "  stopped                none\n");
	expect_in(s, "  mmap_lock: not traced\n");
	free(s);
	profile_free(p);
}

static void test_summary(const struct profile *p)
{
	char *s = render(summary_fn, p, NULL);
	expect_in(s, "Top functions by self:\n"
		     "   60.00%  b (app)\n"
		     "   20.00%  helper [inlined] (app)\n");
	expect_in(s, "samples: 12 taken, 3 lost (thread exited 1, read failed 2), 1 partial reads, "
		     "2 threads seen\n");
	/* 1..1000 us, buckets within 1/16: p99 and p99.9 clamp to the max */
	expect_in(s, "  stopped                p50 ");
	expect_in(s, " p99.9 1000.0 max 1000.0  (n=1000)\n");
	expect_in(s, "  stack copy             p50 ");
	expect_in(s, " max 100.0  (n=1000)\n");
	expect_in(s, "  stops not bounded (--max-stop 0)\n");
	free(s);
}

static void test_write_error(const struct profile *p)
{
	/* a stream that fails: the writer reports it instead of succeeding */
	FILE *f = fopen("/dev/full", "w");
	CHECK(f);
	setvbuf(f, NULL, _IONBF, 0);
	struct output_options o = { 0 };
	CHECK_EQ_INT(output_text(p, f, &o), -EIO);
	CHECK_EQ_INT(output_folded(p, f, &o), -EIO);
	CHECK_EQ_INT(output_summary(p, f), -EIO);
	fclose(f);
}


/* Sum of the counts of folded output; checks each line's shape and that
 * lines are unique and sorted. */
static unsigned long long folded_sum(char *s, int per_thread, const struct profile *p)
{
	unsigned long long sum = 0;
	char *prev = NULL;
	for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
		char *sp = strrchr(line, ' ');
		CHECK(sp && sp[1]);
		char *end;
		unsigned long long c = strtoull(sp + 1, &end, 10);
		CHECK(*end == '\0' && c > 0);
		sum += c;
		*sp = '\0';
		CHECK(!strstr(line, ";;") && line[0] != ';');
		if (prev)
			CHECK(strcmp(prev, line) < 0);
		if (per_thread) {
			int found = 0;
			size_t n = strcspn(line, ";");
			for (size_t i = 0; i < p->nthreads; i++)
				found |= strlen(p->threads[i].name) == n &&
					 !strncmp(p->threads[i].name, line, n);
			CHECK(found);
		}
		prev = line;
	}
	return sum;
}

/* Random profiles (empty stacks, deep recursion, shared names): folded
 * counts add up to the samples, and the text report's self column to 100%. */
static void test_random_profiles(void)
{
	srand(777);
	for (int round = 0; round < 40; round++) {
		struct profile *p = profile_new();
		CHECK(p);
		uint32_t fr[24];
		char name[32];
		for (int i = 0; i < 24; i++) {
			snprintf(name, sizeof(name), "f%d", i % 9);
			fr[i] = profile_intern_frame(p, name, i % 2 ? "m1" : "m2", NULL, (uint32_t)i,
						     i % 5 == 0);
		}
		uint32_t th[4];
		for (int i = 0; i < 4; i++) {
			snprintf(name, sizeof(name), "t%d", i % 3);
			th[i] = profile_thread(p, 1, 10 + i, name);
		}
		unsigned long long want = 0;
		uint64_t w_all = 0, w_framed = 0;
		for (int k = 0; k < 150; k++) {
			uint32_t st[40], n = (uint32_t)(rand() % 40);
			for (uint32_t j = 0; j < n; j++)
				st[j] = fr[rand() % 24];
			uint32_t sidx = profile_intern_stack(p, st, n);
			int times = 1 + rand() % 4;
			for (int t = 0; t < times; t++) {
				uint64_t w = (uint64_t)(rand() % 3000);
				profile_add_sample(p, sidx, th[rand() % 4], w);
				w_all += w;
				w_framed += n ? w : 0;
			}
			want += (unsigned long long)times;
		}
		struct output_options o = { 0 };
		char *s = render(output_folded, p, &o);
		CHECK(folded_sum(s, 0, p) == want);
		free(s);
		o.per_thread = 1;
		s = render(output_folded, p, &o);
		CHECK(folded_sum(s, 1, p) == want);
		free(s);
		s = render(output_text, p, &o);
		free(s);
		/* The self column adds up to the share of samples with a frame (a
		 * stack without frames has weight but no function), give or take
		 * 0.005% of rounding per row. */
		o.max_rows = 1000;
		s = render(output_text, p, &o);
		const char *self = strstr(s, "function (module)\n");
		const char *total = strstr(s, "Top functions by total:");
		CHECK(self && total);
		double sum = 0;
		int rows = 0;
		for (const char *l = strchr(self, '\n') + 1; l < total; l = strchr(l, '\n') + 1)
			if (*l == ' ')
				sum += strtod(l, NULL), rows++;
		double expect = 100.0 * (double)w_framed / (double)w_all;
		CHECK(rows >= 9 && sum > expect - 0.005 * rows - 1e-9 && sum < expect + 0.005 * rows + 1e-9);
		free(s);
		s = render(summary_fn, p, NULL);
		free(s);
		profile_free(p);
	}
}

static int intrusion_fn(const struct profile *p, FILE *f, const struct output_options *o)
{
	(void)o;
	return output_intrusion(p, f, 1);
}

/* The cost figures: the bound, the lock counts and one row per thread. */
static void test_intrusion(void)
{
	struct profile *p = profile_new();
	CHECK(p);
	snprintf(p->reader, sizeof(p->reader), "procmem");
	p->max_stop_ns = 2000000;
	p->stop_bounded = 1;
	p->stats.lost[LOST_READ_BLOCKED] = 4;
	p->lock.available = 1;
	p->lock.self_acquisitions = 40;
	p->lock.reads = 10;
	p->lock.target_waits = 2;
	hist_add(&p->lock.target_wait_ns, 3000000);
	hist_add(&p->lock.target_wait_ns, 1000000);
	uint32_t t = profile_thread(p, 7, 8, "worker");
	profile_add_cost(p, t, -1, 20000, 15000, 3000);
	profile_add_cost(p, t, LOST_READ_BLOCKED, 0, 0, 0);
	profile_add_cost(p, PROFILE_NONE, -1, 50000, 40000, 4000);
	char *s = render(intrusion_fn, p, NULL);
	expect_in(s, "  stops bounded at 2 ms (--max-stop): 4 samples lost as read blocked\n");
	expect_in(s, "  mmap_lock: the target waited 2 times for its lock (total 4.000 ms)\n");
	expect_in(s, "  mmap_lock: remprof took the target's lock 40 times in 10 stack reads (4.00 per read)\n");
	expect_in(s, "  worker (8)                      1      1 ");
	expect_in(s, "  (other threads)                 1      0 ");
	free(s);
	p->lock.available = 0;
	snprintf(p->lock.note, sizeof(p->lock.note), "no tracefs");
	snprintf(p->reader, sizeof(p->reader), "peek");
	p->stop_bounded = STOP_BOUNDED_WORDS;
	s = render(intrusion_fn, p, NULL);
	expect_in(s, "  mmap_lock: not traced: no tracefs\n");
	expect_in(s, "  stops bounded at 2 ms (--max-stop): 4 samples lost as read blocked\n"
		     "  (peek gives up between two words: a stop can overrun the bound by one wait "
		     "for mmap_lock)\n");
	free(s);
	p->stop_bounded = STOP_UNBOUNDED;
	s = render(intrusion_fn, p, NULL);
	expect_in(s, "  stops not bounded (--max-stop 0)\n");
	free(s);
	profile_free(p);
}

int main(void)
{
	test_intrusion();
	struct profile *p = make_known_profile();
	test_folded(p);
	test_text(p);
	test_summary(p);
	test_write_error(p);
	test_pruning_and_counts();
	test_random_profiles();
	profile_free(p);
	return 0;
}
