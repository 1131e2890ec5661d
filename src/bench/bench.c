/* bench.c — run the jitter workload under each reader in alternating
 * profiled/unprofiled windows and collect both sides of the cost. */
#include "remprof/bench.h"
#include "remprof/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "remprof/attach.h"
#include "remprof/doctor.h"
#include "remprof/lockwatch.h"
#include "remprof/proc.h"
#include "remprof/sampler.h"

/* A window's edges are left out on both sides: attaching and detaching are
 * not what a window measures. */
#define EDGE_MS 20

static const char *const run_readers[] = { "none", "vmreadv", "procmem", "peek" };

struct bench {
	const struct bench_options *o;
	unsigned window_ms, windows, region_mb;
	char jitter[PATH_MAX];
	sigset_t stop_signals;
	char *err;
	size_t errlen;
	int interrupted;
};

static void say(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct bench *b, const char *fmt, ...)
{
	if (!b->o->progress)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	b->o->progress(b->o->ctx, line);
}

static int failf(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(struct bench *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->err, b->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Sleep until `deadline` (CLOCK_MONOTONIC ns) unless a stop signal comes;
 * returns -1 if one did. The signals stay blocked for the whole bench so
 * that none can arrive unseen between two waits. */
static int sleep_until(struct bench *b, uint64_t deadline)
{
	for (;;) {
		uint64_t t = now_ns();
		if (t >= deadline)
			return 0;
		struct timespec ts = { (time_t)((deadline - t) / 1000000000u),
				       (long)((deadline - t) % 1000000000u) };
		int sig = sigtimedwait(&b->stop_signals, NULL, &ts);
		if (sig > 0) {
			b->interrupted = 1;
			return -1;
		}
	}
}

/* The workload: $REMPROF_JITTER, or next to this remprof in the build tree
 * (build/src/remprof -> build/examples/jitter/remprof-jitter), or installed beside it
 * (bin/remprof -> libexec/remprof/remprof-jitter). */
static int find_jitter(struct bench *b)
{
	if (b->o->jitter) {
		snprintf(b->jitter, sizeof(b->jitter), "%s", b->o->jitter);
		return access(b->jitter, X_OK);
	}
	const char *env = getenv("REMPROF_JITTER");
	if (env) {
		snprintf(b->jitter, sizeof(b->jitter), "%s", env);
		return access(b->jitter, X_OK);
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -1;
	self[n] = '\0';
	const char *dir = dirname(self);
	static const char *const rel[] = { "../examples/jitter/remprof-jitter", "../libexec/remprof/remprof-jitter" };
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(b->jitter, sizeof(b->jitter), "%s/%s", dir, rel[i]);
		if (access(b->jitter, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* ---- machine facts ---- */

static const char *virtualization(void)
{
	static char vendor[128];
	FILE *f = fopen("/proc/cpuinfo", "r");
	int hypervisor = 0;
	char line[4096];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5) && strstr(line, " hypervisor")) {
			hypervisor = 1;
			break;
		}
	if (f)
		fclose(f);
	if (!hypervisor)
		return "none";
	f = fopen("/sys/class/dmi/id/sys_vendor", "r");
	if (f && fgets(vendor, sizeof(vendor), f)) {
		fclose(f);
		vendor[strcspn(vendor, "\n")] = '\0';
		return vendor;
	}
	if (f)
		fclose(f);
	return "yes (hypervisor flag)";
}

static void machine_facts(struct bench_result *r)
{
	struct utsname u;
	char buf[512];
	uname(&u);
	bench_result_add_fact(r, "kernel", u.release);
	snprintf(buf, sizeof(buf), "%s %s %s %s", u.sysname, u.release, u.version, u.machine);
	bench_result_add_fact(r, "uname", buf);
	snprintf(buf, sizeof(buf), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	bench_result_add_fact(r, "cpus", buf);
	bench_result_add_fact(r, "virtualization", virtualization());
	static const char *const options[] = { "CONFIG_PER_VMA_LOCK", "CONFIG_MMU_GATHER_RCU_TABLE_FREE" };
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		int rc = doctor_kernel_config(options[i]);
		bench_result_add_fact(r, options[i], rc > 0 ? "y" : rc == 0 ? "not set" : "unknown");
	}
	int takes = doctor_procmem_takes_mmap_lock();
	bench_result_add_fact(r, "procmem_fast_path",
			      takes == 0 ? "yes" : takes == 1 ? "no" : "unknown");
}

/* ---- the workload ---- */

struct workload {
	pid_t pid;
	uint64_t t0;          /* CLOCK_MONOTONIC start of window 0, from the workload */
	char json[PATH_MAX];
};

static int workload_start(struct bench *b, int writer, struct workload *w)
{
	char dur[32], win[32], region[32], fdarg[16];
	/* Both sides agree on the windows: 2 × windows of window_ms from t0,
	 * plus one spare window after the last. */
	snprintf(dur, sizeof(dur), "%.3f", (2.0 * b->windows + 1) * b->window_ms / 1000.0);
	snprintf(win, sizeof(win), "%u", b->window_ms);
	snprintf(region, sizeof(region), "%u", b->region_mb);
	snprintf(w->json, sizeof(w->json), "/tmp/remprof-bench-%d-jitter.json", (int)getpid());
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return failf(b, "pipe: %s", strerror(errno));
	snprintf(fdarg, sizeof(fdarg), "%d", ready[1]);
	pid_t pid = fork();
	if (pid < 0)
		return failf(b, "fork: %s", strerror(errno));
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &b->stop_signals, NULL);
		fcntl(ready[1], F_SETFD, 0);
		char *argv[] = { b->jitter, "-d", dur, "-o", w->json, "--timer", "1", "--mmap", "1",
				 "--window-ms", win, "--ready-fd", fdarg,
				 "--writer", writer ? "mprotect" : "none", "--region-mb", region, NULL };
		execv(b->jitter, argv);
		_exit(127);
	}
	close(ready[1]);
	char line[64] = "";
	ssize_t n = read(ready[0], line, sizeof(line) - 1);
	close(ready[0]);
	w->pid = pid;
	if (n <= 0) {
		waitpid(pid, NULL, 0);
		return failf(b, "the jitter workload %s did not start", b->jitter);
	}
	line[n] = '\0';
	if (!strncmp(line, "ready ", 6))
		w->t0 = strtoull(line + 6, NULL, 10);
	return w->t0 ? 0 : failf(b, "the jitter workload %s did not say when it started", b->jitter);
}

static void workload_kill(struct workload *w)
{
	if (w->pid > 0) {
		kill(w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
		w->pid = 0;
	}
	unlink(w->json);
}

/* ---- reading the workload's result ---- */

static void hist_from_jitter(json_object *o, struct hist *h)
{
	hist_init(h);
	json_object *b;
	if (!o || !json_object_object_get_ex(o, "buckets", &b))
		return;
	for (size_t i = 0; i < json_object_array_length(b); i++) {
		json_object *e = json_object_array_get_idx(b, i);
		size_t n = json_object_array_length(e);
		uint64_t low = json_object_get_uint64(json_object_array_get_idx(e, 0));
		uint64_t count = json_object_get_uint64(json_object_array_get_idx(e, n - 1));
		h->buckets[hist_bucket_of(low)] += count;
	}
	json_object *v;
#define FIELD(name) (json_object_object_get_ex(o, name, &v) ? json_object_get_uint64(v) : 0)
	h->count = FIELD("count");
	h->sum = FIELD("sum");
	h->min = h->count ? FIELD("min") : UINT64_MAX;
	h->max = FIELD("max");
#undef FIELD
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static void target_from_jitter(json_object *win, struct bench_target *t)
{
	hist_from_jitter(member(win, "spin_gap_ns"), &t->gap_ns);
	hist_from_jitter(member(win, "timer_wakeup_ns"), &t->wakeup_ns);
	hist_from_jitter(member(win, "mmap_op_ns"), &t->mmap_op_ns);
	double iters = (double)json_object_get_uint64(member(win, "spin_iterations"));
	double spin_ns = (double)json_object_get_uint64(member(win, "spin_ns"));
	t->work_per_s = spin_ns > 0 ? iters / (spin_ns / 1e9) : 0;
}

static int workload_collect(struct bench *b, struct workload *w, struct bench_run *run)
{
	int status;
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
	json_object *doc = json_object_from_file(w->json);
	unlink(w->json);
	json_object *windows = member(doc, "windows");
	if (!doc || !windows) {
		json_object_put(doc);
		return failf(b, "the jitter workload wrote no window histograms (exit status %d)", status);
	}
	target_from_jitter(member(windows, "on"), &run->on);
	target_from_jitter(member(windows, "off"), &run->off);
	run->work_ratio = run->off.work_per_s > 0 ? run->on.work_per_s / run->off.work_per_s : 0;
	json_object_put(doc);
	return 0;
}

/* ---- the profiler's side ---- */

static void merge_stats(struct sample_stats *dst, const struct sample_stats *src)
{
	dst->samples += src->samples;
	for (int i = 0; i < LOST_NREASONS; i++)
		dst->lost[i] += src->lost[i];
	dst->partial_reads += src->partial_reads;
	dst->reads += src->reads;
	if (src->threads_seen > dst->threads_seen)
		dst->threads_seen = src->threads_seen;
	dst->cpu_time_ns += src->cpu_time_ns;
	hist_merge(&dst->stop_ns, &src->stop_ns);
	hist_merge(&dst->int_to_stop_ns, &src->int_to_stop_ns);
	hist_merge(&dst->copy_ns, &src->copy_ns);
}

/* What the lock watch saw during one window: the difference of two totals. */
static void hist_add_difference(struct hist *dst, const struct hist *after, const struct hist *before)
{
	for (size_t i = 0; i < HIST_NBUCKETS; i++) {
		uint64_t d = after->buckets[i] - before->buckets[i];
		dst->buckets[i] += d;
		dst->count += d;
		if (d) {
			uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
			dst->sum += d * lo;
			if (lo < dst->min)
				dst->min = lo;
			if ((hi > after->max ? after->max : hi) > dst->max)
				dst->max = hi > after->max ? after->max : hi;
		}
	}
}

static void lock_add_window(struct bench_lock *l, const struct lockwatch_results *before,
			    const struct lockwatch_results *after)
{
	l->target_waits += after->target.wait_ns.count - before->target.wait_ns.count;
	hist_add_difference(&l->target_wait_ns, &after->target.wait_ns, &before->target.wait_ns);
	l->self_acquisitions += after->self.acquisitions - before->self.acquisitions;
	hist_add_difference(&l->self_wait_ns, &after->self.wait_ns, &before->self.wait_ns);
}

static void poll_lockwatch(void *ctx, const struct sample_stats *st, double elapsed)
{
	(void)st, (void)elapsed;
	if (ctx)
		lockwatch_poll(ctx);
}

static void ignore_sample(void *ctx, const struct snapshot *s)
{
	(void)ctx, (void)s;
}

/* One profiled window: attach, sample until `end`, detach. Behind the
 * writer no stop outlasts `window_end`: one whose copy still waits for the
 * writer's lock then is given up (read blocked), so that it does not spill
 * into the unprofiled window after it, nor eat the next profiled one. That
 * takes the copier thread (copier.c), whose hand-off costs ~5 µs a stop and,
 * with the target's threads on every CPU, a wake-up of the tracer that can
 * wait for a CPU (copy p99 ~0.5 ms instead of ~40 µs); without the writer
 * no copy waits long, so the copy is made by the tracer itself. */
static int profile_window(struct bench *b, struct workload *w, struct bench_run *run,
			  struct lockwatch *lw, uint64_t end, uint64_t window_end)
{
	pid_t *tids = NULL;
	int ntids = 0, detail = 0;
	enum attach_error e = attach_process(w->pid, &tids, &ntids, &detail);
	free(tids);
	if (e != ATTACH_OK) {
		char msg[256];
		attach_describe(e, w->pid, detail, msg, sizeof(msg));
		return failf(b, "%s", msg);
	}
	struct sampler_config cfg = {
		.pids = &w->pid, .npids = 1, .freq_hz = b->o->freq_hz, .stack_size = b->o->stack_size,
		.reader = (enum reader_kind)reader_parse(run->reader),
		.duration_s = (double)(end - now_ns()) / 1e9,
		.stops_end_by_ns = run->writer ? window_end : 0,
	};
	struct sampler_events ev = { .ctx = lw, .sample = ignore_sample, .tick = poll_lockwatch };
	struct sample_stats st;
	sample_stats_init(&st);
	struct sampler_result res = { 0 };
	sampler_run(&cfg, &ev, &st, &res);
	merge_stats(&run->sampler, &st);
	run->on_s += res.elapsed_s;
	if (res.end == SAMPLER_END_SIGNAL) {
		b->interrupted = 1;
		return -1;
	}
	if (res.end == SAMPLER_END_ERROR)
		return failf(b, "sampling failed: %s", res.error_msg);
	return 0;
}

static int windows(struct bench *b, struct workload *w, struct bench_run *run, struct lockwatch *lw)
{
	uint64_t win = (uint64_t)b->window_ms * 1000000u, edge = EDGE_MS * 1000000ull;
	int profiled = strcmp(run->reader, "none") != 0;
	for (unsigned k = 0; k < 2 * b->windows; k++) {
		uint64_t start = w->t0 + k * win, end = start + win;
		if (!(k & 1)) {
			run->off_s += (double)(win - 2 * edge) / 1e9;
			continue;
		}
		say(b, "%s%s: window %u of %u", run->reader, run->writer ? " +writer" : "",
		    k / 2 + 1, b->windows);
		if (sleep_until(b, start + edge) < 0)
			return -1;
		if (!profiled) {
			run->on_s += (double)(win - 2 * edge) / 1e9;
			continue;
		}
		/* A window that a slow detach (or a loaded machine) has already
		 * eaten is skipped, not stretched. */
		if (now_ns() + 10 * 1000000ull >= end - edge) {
			run->skipped_windows++;
			continue;
		}
		struct lockwatch_results before, after;
		if (lw) {
			lockwatch_poll(lw);
			lockwatch_results(lw, &before);
		}
		if (profile_window(b, w, run, lw, end - edge, end) < 0)
			return -1;
		if (lw) {
			lockwatch_poll(lw);
			lockwatch_results(lw, &after);
			lock_add_window(&run->lock, &before, &after);
		}
	}
	return 0;
}

static int one_run(struct bench *b, struct bench_run *run)
{
	struct workload w = { 0 };
	if (workload_start(b, run->writer, &w) < 0)
		return -1;
	struct lockwatch *lw = NULL;
	pid_t self = (pid_t)syscall(SYS_gettid);
	if (lockwatch_open(&lw, &w.pid, 1, &self, 1) == 0)
		run->lock.available = 1;
	int rc = windows(b, &w, run, lw);
	lockwatch_close(lw);
	if (rc < 0) {
		workload_kill(&w);
		return -1;
	}
	run->lock.reads = run->sampler.reads;
	run->lock.acquisitions_per_read =
		run->lock.reads ? (double)run->lock.self_acquisitions / (double)run->lock.reads : 0;
	return workload_collect(b, &w, run);
}

enum bench_status bench_run(const struct bench_options *o, struct bench_result *out,
			    char *err, size_t errlen)
{
	struct bench b = {
		.o = o, .err = err, .errlen = errlen,
		.window_ms = o->window_ms ? o->window_ms : o->quick ? 200 : 400,
		.windows = o->windows ? o->windows : o->quick ? 3 : 8,
		.region_mb = o->region_mb ? o->region_mb : o->quick ? 256 : 512,
	};
	if (find_jitter(&b) < 0) {
		snprintf(err, errlen, "cannot find the jitter workload (set REMPROF_JITTER to its path)");
		return BENCH_NO_WORKLOAD;
	}
	sigemptyset(&b.stop_signals);
	sigaddset(&b.stop_signals, SIGINT);
	sigaddset(&b.stop_signals, SIGTERM);
	sigaddset(&b.stop_signals, SIGHUP);
	sigset_t saved;
	sigprocmask(SIG_BLOCK, &b.stop_signals, &saved);

	char release[128];
	proc_kernel_release(release, sizeof(release));
	out->label = strdup(o->label ? o->label : release);
	out->remprof_version = strdup(REMPROF_VERSION);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	out->start_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	out->window_ms = b.window_ms;
	out->quick = o->quick;
	say(&b, "machine facts (and the /proc/PID/mem mmap_lock probe)");
	machine_facts(out);

	enum bench_status status = BENCH_OK;
	for (int writer = 0; writer <= 1 && status == BENCH_OK; writer++) {
		for (size_t i = 0; i < sizeof(run_readers) / sizeof(run_readers[0]); i++) {
			struct bench_run *run = bench_result_add_run(out);
			snprintf(run->reader, sizeof(run->reader), "%s", run_readers[i]);
			run->writer = writer;
			run->freq_hz = o->freq_hz;
			if (one_run(&b, run) < 0) {
				status = b.interrupted ? BENCH_INTERRUPTED : BENCH_FAILED;
				if (b.interrupted)
					snprintf(err, errlen, "interrupted; no result written");
				break;
			}
		}
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return status;
}
