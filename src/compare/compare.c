/* compare.c — load bench results and profiles, and print them side by side. */
#include "remprof/compare.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "remprof/profile.h"

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		abort();
	return d;
}

/* A profile is a bench result with one run and no target-side figures. */
static void result_from_profile(struct bench_result *r, const struct profile *p, const char *label)
{
	memset(r, 0, sizeof(*r));
	r->label = xstrdup(label);
	r->remprof_version = xstrdup(p->version);
	r->start_unix_ns = p->start_unix_ns;
	bench_result_add_fact(r, "kernel", p->kernel);
	struct bench_run *run = bench_result_add_run(r);
	snprintf(run->reader, sizeof(run->reader), "%s", p->reader);
	run->freq_hz = p->freq_hz;
	run->on_s = (double)p->duration_ns / 1e9;
	run->sampler = p->stats;
	run->work_ratio = NAN;
}

static int starts_with_brace(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int c;
	while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\t' || c == '\r')
		;
	fclose(f);
	return c == '{';
}

int compare_add_input(struct compare_set *set, const char *path, char *err, size_t errlen)
{
	struct compare_input in = { .path = xstrdup(path) };
	int rc;
	if (starts_with_brace(path)) {
		rc = bench_result_load(&in.result, path, err, errlen);
		if (rc == 0)
			in.label = xstrdup(in.result.label[0] ? in.result.label : path);
	} else {
		struct profile *p = NULL;
		rc = profile_load(&p, path, err, errlen);
		if (rc == 0) {
			char *copy = xstrdup(path);
			in.label = xstrdup(basename(copy));
			free(copy);
			in.from_profile = 1;
			result_from_profile(&in.result, p, in.label);
			profile_free(p);
		}
	}
	if (rc < 0) {
		free(in.path);
		return rc;
	}
	struct compare_input *v = realloc(set->inputs, (set->ninputs + 1) * sizeof(*v));
	if (!v)
		abort();
	set->inputs = v;
	set->inputs[set->ninputs++] = in;
	return 0;
}

void compare_set_free(struct compare_set *set)
{
	for (size_t i = 0; i < set->ninputs; i++) {
		free(set->inputs[i].path);
		free(set->inputs[i].label);
		bench_result_free(&set->inputs[i].result);
	}
	free(set->inputs);
	memset(set, 0, sizeof(*set));
}

/* ---- the table ---- */

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

static double pct_us(const struct hist *h, double p)
{
	return h->count ? us(hist_percentile(h, p)) : NAN;
}

static double lost_total(const struct bench_run *r)
{
	uint64_t n = 0;
	for (int i = 0; i < LOST_NREASONS; i++)
		n += r->sampler.lost[i];
	return (double)n;
}

struct row {
	const char *name;
	double (*value)(const struct bench_run *r);
};

#define ROW_HIST(fn, expr, p) \
	static double fn(const struct bench_run *r) { return pct_us(&(expr), p); }
ROW_HIST(stop_p50, r->sampler.stop_ns, 50)
ROW_HIST(stop_p99, r->sampler.stop_ns, 99)
ROW_HIST(stop_max, r->sampler.stop_ns, 100)
ROW_HIST(copy_p50, r->sampler.copy_ns, 50)
ROW_HIST(copy_p99, r->sampler.copy_ns, 99)
ROW_HIST(gap_on_p99, r->on.gap_ns, 99)
ROW_HIST(gap_on_p999, r->on.gap_ns, 99.9)
ROW_HIST(gap_on_max, r->on.gap_ns, 100)
ROW_HIST(gap_off_p999, r->off.gap_ns, 99.9)
ROW_HIST(wake_on_p99, r->on.wakeup_ns, 99)
ROW_HIST(wake_off_p99, r->off.wakeup_ns, 99)
ROW_HIST(mmap_on_p50, r->on.mmap_op_ns, 50)
ROW_HIST(mmap_on_p99, r->on.mmap_op_ns, 99)
ROW_HIST(mmap_off_p99, r->off.mmap_op_ns, 99)
ROW_HIST(lockwait_p99, r->lock.target_wait_ns, 99)
ROW_HIST(lockwait_max, r->lock.target_wait_ns, 100)

static double samples(const struct bench_run *r) { return (double)r->sampler.samples; }
static double samples_per_s(const struct bench_run *r)
{
	return r->on_s > 0 ? (double)r->sampler.samples / r->on_s : NAN;
}
static double work_ratio(const struct bench_run *r) { return r->work_ratio > 0 ? r->work_ratio : NAN; }
static double acq_per_read(const struct bench_run *r)
{
	return r->lock.available && r->lock.reads ? r->lock.acquisitions_per_read : NAN;
}
static double lock_waits(const struct bench_run *r)
{
	return r->lock.available ? (double)r->lock.target_waits : NAN;
}

static const struct row rows[] = {
	{ "samples", samples },
	{ "samples/s (profiled time)", samples_per_s },
	{ "lost samples", lost_total },
	{ "stop p50 (us)", stop_p50 },
	{ "stop p99 (us)", stop_p99 },
	{ "stop max (us)", stop_max },
	{ "copy p50 (us)", copy_p50 },
	{ "copy p99 (us)", copy_p99 },
	{ "target gap p99, profiled (us)", gap_on_p99 },
	{ "target gap p99.9, profiled (us)", gap_on_p999 },
	{ "target gap max, profiled (us)", gap_on_max },
	{ "target gap p99.9, unprofiled (us)", gap_off_p999 },
	{ "timer wake-up p99, profiled (us)", wake_on_p99 },
	{ "timer wake-up p99, unprofiled (us)", wake_off_p99 },
	{ "mmap op p50, profiled (us)", mmap_on_p50 },
	{ "mmap op p99, profiled (us)", mmap_on_p99 },
	{ "mmap op p99, unprofiled (us)", mmap_off_p99 },
	{ "throughput profiled/unprofiled", work_ratio },
	{ "mmap_lock acquisitions per read", acq_per_read },
	{ "target mmap_lock waits", lock_waits },
	{ "target mmap_lock wait p99 (us)", lockwait_p99 },
	{ "target mmap_lock wait max (us)", lockwait_max },
};

static const struct bench_run *find_run(const struct bench_result *r, const char *reader, int writer)
{
	for (size_t i = 0; i < r->nruns; i++)
		if (!strcmp(r->runs[i].reader, reader) && r->runs[i].writer == writer)
			return &r->runs[i];
	return NULL;
}

/* One column per input, as wide as its widest label or kernel name (14 at
 * least, MAX_COLUMN at most), so that labels that differ only at their end
 * stay apart. */
#define MIN_COLUMN 14
#define MAX_COLUMN 40

static int column_width(const struct compare_set *set)
{
	int w = MIN_COLUMN;
	for (size_t i = 0; i < set->ninputs; i++) {
		const char *k = bench_result_fact(&set->inputs[i].result, "kernel");
		int n = (int)strlen(set->inputs[i].label), m = k ? (int)strlen(k) : 0;
		w = n > w ? n : w;
		w = m > w ? m : w;
	}
	return w < MAX_COLUMN ? w : MAX_COLUMN;
}

static void print_value(FILE *out, int w, double v)
{
	if (isnan(v))
		fprintf(out, " %*s", w, "-");
	else if (fabs(v) >= 100 || v == floor(v))
		fprintf(out, " %*.0f", w, v);
	else
		fprintf(out, " %*.3g", w, v);
}

static void print_group(const struct compare_set *set, const char *reader, int writer, FILE *out)
{
	const struct bench_run *runs[set->ninputs];
	int w = column_width(set);
	for (size_t i = 0; i < set->ninputs; i++)
		runs[i] = find_run(&set->inputs[i].result, reader, writer);
	fprintf(out, "\n== reader %s%s ==\n%-36s", reader,
		writer ? ", target holds mmap_lock for write (mprotect loop)" : "", "");
	for (size_t i = 0; i < set->ninputs; i++)
		fprintf(out, " %*.*s", w, w, set->inputs[i].label);
	if (set->ninputs > 1)
		fprintf(out, "   ratios to %.*s", w, set->inputs[0].label);
	fputc('\n', out);
	for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		double v[set->ninputs];
		int any = 0;
		for (size_t i = 0; i < set->ninputs; i++) {
			v[i] = runs[i] ? rows[k].value(runs[i]) : NAN;
			any |= !isnan(v[i]);
		}
		if (!any)
			continue;
		fprintf(out, "%-36s", rows[k].name);
		for (size_t i = 0; i < set->ninputs; i++)
			print_value(out, w, v[i]);
		for (size_t i = 1; i < set->ninputs; i++) {
			if (isnan(v[0]) || isnan(v[i]) || v[0] == 0)
				fprintf(out, " %7s", "-");
			else
				fprintf(out, " %6.2fx", v[i] / v[0]);
		}
		fputc('\n', out);
	}
}

void compare_print_table(const struct compare_set *set, FILE *out)
{
	int w = column_width(set);
	fprintf(out, "%-36s", "input");
	for (size_t i = 0; i < set->ninputs; i++)
		fprintf(out, " %*.*s", w, w, set->inputs[i].label);
	fputc('\n', out);
	fprintf(out, "%-36s", "kernel");
	for (size_t i = 0; i < set->ninputs; i++) {
		const char *k = bench_result_fact(&set->inputs[i].result, "kernel");
		fprintf(out, " %*.*s", w, w, k ? k : "?");
	}
	fputc('\n', out);
	/* Groups in first-seen order across all inputs. */
	for (size_t i = 0; i < set->ninputs; i++) {
		const struct bench_result *r = &set->inputs[i].result;
		for (size_t j = 0; j < r->nruns; j++) {
			int seen = 0;
			for (size_t a = 0; a <= i && !seen; a++) {
				const struct bench_result *q = &set->inputs[a].result;
				size_t limit = a == i ? j : q->nruns;
				for (size_t b = 0; b < limit && !seen; b++)
					seen = !strcmp(q->runs[b].reader, r->runs[j].reader) &&
					       q->runs[b].writer == r->runs[j].writer;
			}
			if (!seen)
				print_group(set, r->runs[j].reader, r->runs[j].writer, out);
		}
	}
}
