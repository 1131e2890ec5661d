/* benchfile.c — bench results to and from JSON (json-c). */
#include "remprof/benchfile.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		abort();
	return d;
}

void bench_result_add_fact(struct bench_result *r, const char *key, const char *value)
{
	struct bench_fact *f = realloc(r->facts, (r->nfacts + 1) * sizeof(*f));
	if (!f)
		abort();
	r->facts = f;
	r->facts[r->nfacts++] = (struct bench_fact){ xstrdup(key), xstrdup(value) };
}

const char *bench_result_fact(const struct bench_result *r, const char *key)
{
	for (size_t i = 0; i < r->nfacts; i++)
		if (!strcmp(r->facts[i].key, key))
			return r->facts[i].value;
	return NULL;
}

static void bench_target_init(struct bench_target *t)
{
	hist_init(&t->gap_ns);
	hist_init(&t->wakeup_ns);
	hist_init(&t->mmap_op_ns);
	t->work_per_s = 0;
}

struct bench_run *bench_result_add_run(struct bench_result *r)
{
	struct bench_run *runs = realloc(r->runs, (r->nruns + 1) * sizeof(*runs));
	if (!runs)
		abort();
	r->runs = runs;
	struct bench_run *run = &r->runs[r->nruns++];
	memset(run, 0, sizeof(*run));
	bench_target_init(&run->on);
	bench_target_init(&run->off);
	sample_stats_init(&run->sampler);
	hist_init(&run->lock.target_wait_ns);
	hist_init(&run->lock.self_wait_ns);
	return run;
}

void bench_result_free(struct bench_result *r)
{
	for (size_t i = 0; i < r->nfacts; i++) {
		free(r->facts[i].key);
		free(r->facts[i].value);
	}
	free(r->facts);
	free(r->runs);
	free(r->label);
	free(r->remprof_version);
	memset(r, 0, sizeof(*r));
}

/* ---- writing ---- */

static void put_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void put_double(json_object *o, const char *k, double v)
{
	json_object_object_add(o, k, json_object_new_double(v));
}

static void put_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

/* Percentiles are written for people and scripts; compare rebuilds the
 * histogram from the buckets. */
static json_object *hist_to_json(const struct hist *h)
{
	json_object *o = json_object_new_object();
	put_u64(o, "count", h->count);
	put_u64(o, "sum", h->sum);
	put_u64(o, "min", h->count ? h->min : 0);
	put_u64(o, "max", h->max);
	put_u64(o, "p50", hist_percentile(h, 50));
	put_u64(o, "p90", hist_percentile(h, 90));
	put_u64(o, "p99", hist_percentile(h, 99));
	put_u64(o, "p999", hist_percentile(h, 99.9));
	json_object *b = json_object_new_array();
	for (size_t i = 0; i < HIST_NBUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		json_object *pair = json_object_new_array();
		json_object_array_add(pair, json_object_new_uint64(i));
		json_object_array_add(pair, json_object_new_uint64(h->buckets[i]));
		json_object_array_add(b, pair);
	}
	json_object_object_add(o, "buckets", b);
	return o;
}

static json_object *stats_to_json(const struct sample_stats *s)
{
	json_object *o = json_object_new_object();
	put_u64(o, "samples", s->samples);
	json_object *lost = json_object_new_object();
	for (int i = 0; i < LOST_NREASONS; i++)
		put_u64(lost, lost_reason_name(i), s->lost[i]);
	json_object_object_add(o, "lost", lost);
	put_u64(o, "partial_reads", s->partial_reads);
	put_u64(o, "threads_seen", s->threads_seen);
	put_u64(o, "cpu_time_ns", s->cpu_time_ns);
	json_object_object_add(o, "stop_ns", hist_to_json(&s->stop_ns));
	json_object_object_add(o, "int_to_stop_ns", hist_to_json(&s->int_to_stop_ns));
	json_object_object_add(o, "copy_ns", hist_to_json(&s->copy_ns));
	return o;
}

static json_object *target_to_json(const struct bench_target *t)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "gap_ns", hist_to_json(&t->gap_ns));
	json_object_object_add(o, "wakeup_ns", hist_to_json(&t->wakeup_ns));
	json_object_object_add(o, "mmap_op_ns", hist_to_json(&t->mmap_op_ns));
	put_double(o, "work_per_s", t->work_per_s);
	return o;
}

static json_object *lock_to_json(const struct bench_lock *l)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "available", json_object_new_boolean(l->available));
	put_u64(o, "target_waits", l->target_waits);
	json_object_object_add(o, "target_wait_ns", hist_to_json(&l->target_wait_ns));
	put_u64(o, "self_acquisitions", l->self_acquisitions);
	put_u64(o, "reads", l->reads);
	put_double(o, "acquisitions_per_read", l->acquisitions_per_read);
	json_object_object_add(o, "self_wait_ns", hist_to_json(&l->self_wait_ns));
	return o;
}

static json_object *run_to_json(const struct bench_run *r)
{
	json_object *o = json_object_new_object();
	put_str(o, "reader", r->reader);
	json_object_object_add(o, "writer", json_object_new_boolean(r->writer));
	put_u64(o, "freq_hz", r->freq_hz);
	put_double(o, "on_s", r->on_s);
	put_double(o, "off_s", r->off_s);
	put_u64(o, "skipped_windows", r->skipped_windows);
	json_object_object_add(o, "on", target_to_json(&r->on));
	json_object_object_add(o, "off", target_to_json(&r->off));
	put_double(o, "work_ratio", r->work_ratio);
	json_object_object_add(o, "sampler", stats_to_json(&r->sampler));
	json_object_object_add(o, "mmap_lock", lock_to_json(&r->lock));
	return o;
}

int bench_result_save(const struct bench_result *r, const char *path)
{
	json_object *doc = json_object_new_object();
	put_str(doc, "schema", BENCH_SCHEMA);
	put_u64(doc, "version", BENCH_SCHEMA_VERSION);
	put_str(doc, "label", r->label);
	put_str(doc, "remprof_version", r->remprof_version);
	put_u64(doc, "start_unix_ns", r->start_unix_ns);
	put_u64(doc, "window_ms", r->window_ms);
	json_object_object_add(doc, "quick", json_object_new_boolean(r->quick));
	json_object *facts = json_object_new_object();
	for (size_t i = 0; i < r->nfacts; i++)
		put_str(facts, r->facts[i].key, r->facts[i].value);
	json_object_object_add(doc, "machine", facts);
	json_object *runs = json_object_new_array();
	for (size_t i = 0; i < r->nruns; i++)
		json_object_array_add(runs, run_to_json(&r->runs[i]));
	json_object_object_add(doc, "runs", runs);

	size_t len = strlen(path) + 5;
	char *tmp = malloc(len);
	snprintf(tmp, len, "%s.tmp", path);
	int err = 0;
	if (json_object_to_file_ext(tmp, doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0)
		err = errno ? -errno : -EIO;
	else if (rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	free(tmp);
	json_object_put(doc);
	return err;
}

/* ---- reading ---- */

struct loader {
	char *err;
	size_t errlen;
	int failed;
};

static void fail(struct loader *l, const char *what)
{
	if (!l->failed)
		snprintf(l->err, l->errlen, "%s", what);
	l->failed = 1;
}

static json_object *get(struct loader *l, json_object *o, const char *k, json_type type)
{
	json_object *v = NULL;
	if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, type)) {
		char msg[128];
		snprintf(msg, sizeof(msg), "missing or mistyped field '%s'", k);
		fail(l, msg);
		return NULL;
	}
	return v;
}

static uint64_t get_u64(struct loader *l, json_object *o, const char *k)
{
	json_object *v = get(l, o, k, json_type_int);
	return v ? json_object_get_uint64(v) : 0;
}

static double get_double(struct loader *l, json_object *o, const char *k)
{
	json_object *v = NULL;
	if (o && json_object_object_get_ex(o, k, &v) &&
	    (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return json_object_get_double(v);
	char msg[128];
	snprintf(msg, sizeof(msg), "missing or mistyped field '%s'", k);
	fail(l, msg);
	return 0;
}

static const char *get_str(struct loader *l, json_object *o, const char *k)
{
	json_object *v = get(l, o, k, json_type_string);
	return v ? json_object_get_string(v) : "";
}

static int get_bool(struct loader *l, json_object *o, const char *k)
{
	json_object *v = get(l, o, k, json_type_boolean);
	return v ? json_object_get_boolean(v) : 0;
}

static void hist_from_json(struct loader *l, json_object *o, struct hist *h)
{
	hist_init(h);
	if (!o || !json_object_is_type(o, json_type_object)) {
		fail(l, "a histogram is not an object");
		return;
	}
	json_object *b = get(l, o, "buckets", json_type_array);
	uint64_t total = 0;
	for (size_t i = 0; b && i < json_object_array_length(b); i++) {
		json_object *pair = json_object_array_get_idx(b, i);
		if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2) {
			fail(l, "a histogram bucket is not an [index, count] pair");
			return;
		}
		uint64_t idx = json_object_get_uint64(json_object_array_get_idx(pair, 0));
		uint64_t n = json_object_get_uint64(json_object_array_get_idx(pair, 1));
		if (idx >= HIST_NBUCKETS) {
			fail(l, "a histogram bucket index is out of range");
			return;
		}
		h->buckets[idx] += n;
		total += n;
	}
	h->count = get_u64(l, o, "count");
	h->sum = get_u64(l, o, "sum");
	h->min = h->count ? get_u64(l, o, "min") : UINT64_MAX;
	h->max = get_u64(l, o, "max");
	if (total != h->count)
		fail(l, "a histogram's buckets do not add up to its count");
}

static void stats_from_json(struct loader *l, json_object *o, struct sample_stats *s)
{
	sample_stats_init(s);
	s->samples = get_u64(l, o, "samples");
	json_object *lost = get(l, o, "lost", json_type_object);
	for (int i = 0; lost && i < LOST_NREASONS; i++) {
		json_object *v;
		if (json_object_object_get_ex(lost, lost_reason_name(i), &v))
			s->lost[i] = json_object_get_uint64(v);
	}
	s->partial_reads = get_u64(l, o, "partial_reads");
	s->threads_seen = get_u64(l, o, "threads_seen");
	s->cpu_time_ns = get_u64(l, o, "cpu_time_ns");
	hist_from_json(l, get(l, o, "stop_ns", json_type_object), &s->stop_ns);
	hist_from_json(l, get(l, o, "int_to_stop_ns", json_type_object), &s->int_to_stop_ns);
	hist_from_json(l, get(l, o, "copy_ns", json_type_object), &s->copy_ns);
}

static void target_from_json(struct loader *l, json_object *o, struct bench_target *t)
{
	hist_from_json(l, get(l, o, "gap_ns", json_type_object), &t->gap_ns);
	hist_from_json(l, get(l, o, "wakeup_ns", json_type_object), &t->wakeup_ns);
	hist_from_json(l, get(l, o, "mmap_op_ns", json_type_object), &t->mmap_op_ns);
	t->work_per_s = get_double(l, o, "work_per_s");
}

static void lock_from_json(struct loader *l, json_object *o, struct bench_lock *k)
{
	k->available = get_bool(l, o, "available");
	k->target_waits = get_u64(l, o, "target_waits");
	hist_from_json(l, get(l, o, "target_wait_ns", json_type_object), &k->target_wait_ns);
	k->self_acquisitions = get_u64(l, o, "self_acquisitions");
	k->reads = get_u64(l, o, "reads");
	k->acquisitions_per_read = get_double(l, o, "acquisitions_per_read");
	hist_from_json(l, get(l, o, "self_wait_ns", json_type_object), &k->self_wait_ns);
}

static void run_from_json(struct loader *l, json_object *o, struct bench_run *r)
{
	snprintf(r->reader, sizeof(r->reader), "%s", get_str(l, o, "reader"));
	r->writer = get_bool(l, o, "writer");
	r->freq_hz = (unsigned)get_u64(l, o, "freq_hz");
	r->on_s = get_double(l, o, "on_s");
	r->off_s = get_double(l, o, "off_s");
	r->skipped_windows = (unsigned)get_u64(l, o, "skipped_windows");
	target_from_json(l, get(l, o, "on", json_type_object), &r->on);
	target_from_json(l, get(l, o, "off", json_type_object), &r->off);
	r->work_ratio = get_double(l, o, "work_ratio");
	stats_from_json(l, get(l, o, "sampler", json_type_object), &r->sampler);
	lock_from_json(l, get(l, o, "mmap_lock", json_type_object), &r->lock);
}

static void result_from_json(struct loader *l, json_object *doc, struct bench_result *r)
{
	r->label = xstrdup(get_str(l, doc, "label"));
	r->remprof_version = xstrdup(get_str(l, doc, "remprof_version"));
	r->start_unix_ns = get_u64(l, doc, "start_unix_ns");
	r->window_ms = (unsigned)get_u64(l, doc, "window_ms");
	r->quick = get_bool(l, doc, "quick");
	json_object *facts = get(l, doc, "machine", json_type_object);
	if (facts) {
		json_object_object_foreach(facts, k, v)
			bench_result_add_fact(r, k, json_object_get_string(v));
	}
	json_object *runs = get(l, doc, "runs", json_type_array);
	for (size_t i = 0; runs && !l->failed && i < json_object_array_length(runs); i++)
		run_from_json(l, json_object_array_get_idx(runs, i), bench_result_add_run(r));
}

int bench_result_load(struct bench_result *r, const char *path, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	fclose(f);
	json_object *doc = json_object_from_file(path);
	if (!doc) {
		snprintf(err, errlen, "%s: not valid JSON (%s)", path, json_util_get_last_err());
		return -EINVAL;
	}
	struct loader l = { err, errlen, 0 };
	const char *schema = get_str(&l, doc, "schema");
	uint64_t version = get_u64(&l, doc, "version");
	if (l.failed || strcmp(schema, BENCH_SCHEMA) != 0) {
		snprintf(err, errlen, "%s: not a remprof bench result", path);
		json_object_put(doc);
		return -EINVAL;
	}
	if (version != BENCH_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: bench result version %llu; this remprof reads version %d",
			 path, (unsigned long long)version, BENCH_SCHEMA_VERSION);
		json_object_put(doc);
		return -EINVAL;
	}
	result_from_json(&l, doc, r);
	json_object_put(doc);
	if (l.failed) {
		char what[200];
		snprintf(what, sizeof(what), "%s", err);
		snprintf(err, errlen, "%s: corrupt bench result: %s", path, what);
		bench_result_free(r);
		return -EINVAL;
	}
	return 0;
}
