/* jitter.c — the target of `remprof bench`: threads that feel every
 * interruption and every mmap_lock wait, and report them as histograms.
 *
 *   timer threads (cyclictest-style): wake every period with an absolute
 *     clock_nanosleep on CLOCK_MONOTONIC and record how late they woke; then
 *     spin for --busy-us reading the clock and record every gap between two
 *     consecutive reads of at least --gap-ns (a stop, a preemption, an IRQ).
 *   mmap threads: loop { mmap 4 KiB; touch; munmap } and time every op — each
 *     takes the mmap_lock for write, so it waits behind any reader holding it.
 *   a writer (optional): holds the mmap_lock for write for long, by mprotect
 *     over a large populated region of small pages, or by fork() with that
 *     region mapped — what makes a profiler's reads wait.
 *
 * usage: jitter [-d SEC] [-o FILE] [--timer N] [--mmap N]
 *               [--writer none|mprotect|fork] [--region-mb MB] [--writer-pause-ms MS]
 *               [--period-us US] [--busy-us US] [--gap-ns NS] [--ready-fd FD]
 *               [--window-ms MS]
 * With --window-ms, time from the ready moment t0 is cut into windows of MS,
 * even ones "off" and odd ones "on" (bench attaches the profiler in the odd
 * ones), and everything measured is also kept per kind of window, leaving out
 * WINDOW_EDGE_NS on both sides of every edge, where bench attaches and
 * detaches. The ready line then carries t0: "ready T0\n".
 * The JSON goes to FILE (written to FILE.tmp, then renamed) or to stdout.
 * SIGINT/SIGTERM end the run early; the histograms are still written. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "remprof/hist.h"

enum writer_kind { WRITER_NONE, WRITER_MPROTECT, WRITER_FORK };
static const char *const writer_names[] = { "none", "mprotect", "fork" };

struct config {
	double duration_s;
	const char *out;
	unsigned timer_threads, mmap_threads;
	enum writer_kind writer;
	unsigned region_mb, writer_pause_ms;
	unsigned period_us, busy_us, gap_ns;
	int ready_fd;
	unsigned window_ms;
};

/* Must match EDGE_MS in src/bench/bench.c: bench profiles an on window from
 * its start + edge to its end - edge. */
#define WINDOW_EDGE_NS (20 * 1000000ull)

/* What one worker measured in one kind of window (off, on). */
struct window_stats {
	struct hist a, b;
	uint64_t iterations, spin_ns;
};

/* Each thread fills its own histograms (no sharing on the hot path); main
 * merges them at the end. */
struct worker {
	pthread_t thread;
	const struct config *cfg;
	struct hist a, b;       /* timer: wake-up lateness, spin gaps; mmap/writer: op time */
	uint64_t periods, overruns, iterations, spin_ns;
	struct window_stats win[2];
};

static atomic_int stop;
static _Atomic uint64_t window_t0;  /* 0 until every thread runs */
static volatile sig_atomic_t signalled;
static char *region;
static size_t region_len;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec to_ts(uint64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
}

/* ---- windows ---- */

/* The kind of window at t: 0 off, 1 on, -1 none (no windows, before t0, or
 * near an edge); *until gets the moment that answer stops holding. */
static int window_at(const struct config *cfg, uint64_t t, uint64_t *until)
{
	uint64_t t0 = atomic_load_explicit(&window_t0, memory_order_relaxed);
	*until = UINT64_MAX;
	if (!cfg->window_ms)
		return -1;
	if (!t0 || t < t0) {
		*until = t + 1000000;  /* look again in a millisecond */
		return -1;
	}
	uint64_t w = (uint64_t)cfg->window_ms * 1000000, k = (t - t0) / w;
	uint64_t start = t0 + k * w;
	if (t < start + WINDOW_EDGE_NS) {
		*until = start + WINDOW_EDGE_NS;
		return -1;
	}
	if (t >= start + w - WINDOW_EDGE_NS) {
		*until = start + w + WINDOW_EDGE_NS;
		return -1;
	}
	*until = start + w - WINDOW_EDGE_NS;
	return (int)(k & 1);
}

static struct window_stats *window_of(struct worker *w, uint64_t t)
{
	uint64_t until;
	int k = window_at(w->cfg, t, &until);
	return k < 0 ? NULL : &w->win[k];
}

/* ---- the workers ---- */

/* The window is looked up only when the moment it changes has passed, so
 * that the loop stays a clock read and a compare. */
static void spin(struct worker *w, uint64_t until)
{
	uint64_t prev = now_ns(), start = prev, change;
	int k = window_at(w->cfg, prev, &change);
	uint64_t win_start = prev, win_iters = 0;
	while (prev < until) {
		uint64_t t = now_ns();
		if (t - prev >= w->cfg->gap_ns) {
			hist_add(&w->b, t - prev);
			if (k >= 0)
				hist_add(&w->win[k].b, t - prev);
		}
		prev = t;
		w->iterations++;
		win_iters++;
		if (t >= change) {
			if (k >= 0) {
				w->win[k].iterations += win_iters;
				w->win[k].spin_ns += t - win_start;
			}
			k = window_at(w->cfg, t, &change);
			win_start = t;
			win_iters = 0;
		}
	}
	if (k >= 0) {
		w->win[k].iterations += win_iters;
		w->win[k].spin_ns += prev - win_start;
	}
	w->spin_ns += prev - start;
}

static void *timer_main(void *arg)
{
	struct worker *w = arg;
	uint64_t period = (uint64_t)w->cfg->period_us * 1000;
	uint64_t busy = (uint64_t)w->cfg->busy_us * 1000;
	uint64_t next = now_ns() + period;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct timespec ts = to_ts(next);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		uint64_t woke = now_ns();
		hist_add(&w->a, woke - next);
		struct window_stats *ws = window_of(w, next);
		if (ws)
			hist_add(&ws->a, woke - next);
		w->periods++;
		spin(w, woke + busy);
		next += period;
		/* Late by more than a period: skip the missed wake-ups instead
		 * of firing them back to back (cyclictest does the same). */
		uint64_t t = now_ns();
		if (next <= t) {
			uint64_t missed = (t - next) / period + 1;
			w->overruns += missed;
			next += missed * period;
		}
	}
	return NULL;
}

static void *mmap_main(void *arg)
{
	struct worker *w = arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t t0 = now_ns();
		char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			continue;
		p[0] = 1;
		munmap(p, 4096);
		uint64_t dt = now_ns() - t0;
		hist_add(&w->a, dt);
		struct window_stats *ws = window_of(w, t0);
		if (ws)
			hist_add(&ws->a, dt);
	}
	return NULL;
}

/* fork() copies the page tables of the whole region under the write lock;
 * the child exits at once. */
static void writer_fork_once(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void *writer_main(void *arg)
{
	struct worker *w = arg;
	struct timespec pause = to_ts((uint64_t)w->cfg->writer_pause_ms * 1000000);
	int prot = PROT_READ;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t t0 = now_ns();
		if (w->cfg->writer == WRITER_MPROTECT) {
			/* Flipping protection rewrites every PTE of the region. */
			mprotect(region, region_len, prot);
			prot = prot == PROT_READ ? PROT_READ | PROT_WRITE : PROT_READ;
		} else {
			writer_fork_once();
		}
		hist_add(&w->a, now_ns() - t0);
		if (w->cfg->writer_pause_ms)
			nanosleep(&pause, NULL);
	}
	mprotect(region, region_len, PROT_READ | PROT_WRITE);
	return NULL;
}

/* Small pages, all populated: so that mprotect and fork have one PTE per
 * 4 KiB to deal with, and hold the lock long. */
static int populate_region(const struct config *cfg)
{
	region_len = (size_t)cfg->region_mb << 20;
	region = mmap(NULL, region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return -errno;
	madvise(region, region_len, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < region_len; off += 4096)
		region[off] = 1;
	return 0;
}

/* ---- output ---- */

static void json_hist(FILE *f, const char *name, const struct hist *h, int last)
{
	fprintf(f, "    \"%s\": {\"count\": %llu, \"sum\": %llu, \"min\": %llu, \"max\": %llu, "
		"\"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"p999\": %llu,\n      \"buckets\": [",
		name, (unsigned long long)h->count, (unsigned long long)h->sum,
		(unsigned long long)(h->count ? h->min : 0), (unsigned long long)h->max,
		(unsigned long long)hist_percentile(h, 50), (unsigned long long)hist_percentile(h, 90),
		(unsigned long long)hist_percentile(h, 99), (unsigned long long)hist_percentile(h, 99.9));
	const char *sep = "";
	for (size_t i = 0; i < HIST_NBUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		fprintf(f, "%s[%llu, %llu, %llu]", sep, (unsigned long long)hist_bucket_low(i),
			(unsigned long long)hist_bucket_high(i), (unsigned long long)h->buckets[i]);
		sep = ", ";
	}
	fprintf(f, "]}%s\n", last ? "" : ",");
}

struct window_totals {
	struct hist wakeup, gap, mmap_op;
	uint64_t iterations, spin_ns;
};

struct totals {
	struct hist wakeup, gap, mmap_op, writer_op;
	uint64_t periods, overruns, iterations, spin_ns;
	struct window_totals win[2];
};

static void json_window(FILE *f, const char *name, const struct window_totals *w, int last)
{
	fprintf(f, "   \"%s\": {\"spin_iterations\": %llu, \"spin_ns\": %llu,\n", name,
		(unsigned long long)w->iterations, (unsigned long long)w->spin_ns);
	json_hist(f, "timer_wakeup_ns", &w->wakeup, 0);
	json_hist(f, "spin_gap_ns", &w->gap, 0);
	json_hist(f, "mmap_op_ns", &w->mmap_op, 1);
	fprintf(f, "   }%s\n", last ? "" : ",");
}

static void json_write(FILE *f, const struct config *cfg, const struct totals *t, uint64_t elapsed)
{
	fprintf(f, "{\n  \"workload\": \"jitter\",\n  \"version\": 1,\n  \"pid\": %d,\n", (int)getpid());
	fprintf(f, "  \"config\": {\"duration_s\": %g, \"timer_threads\": %u, \"mmap_threads\": %u, "
		"\"writer\": \"%s\", \"region_mb\": %u, \"writer_pause_ms\": %u, \"period_us\": %u, "
		"\"busy_us\": %u, \"gap_ns\": %u},\n",
		cfg->duration_s, cfg->timer_threads, cfg->mmap_threads, writer_names[cfg->writer],
		cfg->region_mb, cfg->writer_pause_ms, cfg->period_us, cfg->busy_us, cfg->gap_ns);
	fprintf(f, "  \"elapsed_ns\": %llu,\n  \"interrupted\": %s,\n", (unsigned long long)elapsed,
		signalled ? "true" : "false");
	fprintf(f, "  \"counters\": {\"timer_periods\": %llu, \"timer_overruns\": %llu, "
		"\"spin_iterations\": %llu, \"spin_ns\": %llu, \"mmap_ops\": %llu, \"writer_ops\": %llu},\n",
		(unsigned long long)t->periods, (unsigned long long)t->overruns,
		(unsigned long long)t->iterations, (unsigned long long)t->spin_ns,
		(unsigned long long)t->mmap_op.count, (unsigned long long)t->writer_op.count);
	fprintf(f, "  \"histograms\": {\n");
	json_hist(f, "timer_wakeup_ns", &t->wakeup, 0);
	json_hist(f, "spin_gap_ns", &t->gap, 0);
	json_hist(f, "mmap_op_ns", &t->mmap_op, 0);
	json_hist(f, "writer_op_ns", &t->writer_op, 1);
	if (cfg->window_ms) {
		fprintf(f, "  },\n  \"windows\": {\"window_ms\": %u, \"edge_ns\": %llu, \"t0_ns\": %llu,\n",
			cfg->window_ms, (unsigned long long)WINDOW_EDGE_NS,
			(unsigned long long)atomic_load(&window_t0));
		json_window(f, "off", &t->win[0], 0);
		json_window(f, "on", &t->win[1], 1);
	}
	fprintf(f, "  }\n}\n");
}

/* Write to FILE.tmp and rename, so that a reader never sees half a file. */
static int write_output(const struct config *cfg, const struct totals *t, uint64_t elapsed)
{
	if (!cfg->out) {
		json_write(stdout, cfg, t, elapsed);
		return fflush(stdout) == 0 ? 0 : -1;
	}
	size_t n = strlen(cfg->out) + 8;
	char *tmp = malloc(n);
	if (!tmp)
		return -1;
	snprintf(tmp, n, "%s.tmp", cfg->out);
	FILE *f = fopen(tmp, "w");
	int ret = -1;
	if (f) {
		json_write(f, cfg, t, elapsed);
		ret = ferror(f) | fclose(f) ? -1 : rename(tmp, cfg->out);
		if (ret)
			unlink(tmp);
	}
	free(tmp);
	return ret;
}

/* ---- main ---- */

static void on_signal(int sig)
{
	(void)sig;
	signalled = 1;
}

static const char usage[] =
	"usage: jitter [-d SEC] [-o FILE] [--timer N] [--mmap N] [--writer none|mprotect|fork]\n"
	"              [--region-mb MB] [--writer-pause-ms MS] [--period-us US] [--busy-us US]\n"
	"              [--gap-ns NS] [--ready-fd FD] [--window-ms MS]\n"
	"defaults: -d 10 --timer 1 --mmap 1 --writer none --region-mb 256 --writer-pause-ms 0\n"
	"          --period-us 1000 --busy-us 500 --gap-ns 1000; JSON to stdout without -o.\n"
	"--ready-fd FD: write \"ready\\n\" to FD once every thread runs (\"ready T0\\n\" with\n"
	"--window-ms: T0 is the CLOCK_MONOTONIC ns at which window 0 starts).\n";

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_opt(struct config *cfg, int c, const char *arg)
{
	unsigned fd;
	switch (c) {
	case 'd': {
		char *end;
		cfg->duration_s = strtod(arg, &end);
		return *end || !(cfg->duration_s > 0 && cfg->duration_s < 1e6) ? -1 : 0;
	}
	case 'o': cfg->out = arg; return 0;
	case 't': return parse_uint(arg, 256, &cfg->timer_threads);
	case 'm': return parse_uint(arg, 256, &cfg->mmap_threads);
	case 'r': return parse_uint(arg, 1 << 16, &cfg->region_mb) || !cfg->region_mb ? -1 : 0;
	case 'P': return parse_uint(arg, 100000, &cfg->writer_pause_ms);
	case 'p': return parse_uint(arg, 10000000, &cfg->period_us) || !cfg->period_us ? -1 : 0;
	case 'b': return parse_uint(arg, 10000000, &cfg->busy_us);
	case 'g': return parse_uint(arg, 1000000000, &cfg->gap_ns) || !cfg->gap_ns ? -1 : 0;
	case 'f': return parse_uint(arg, 1 << 20, &fd) ? -1 : (cfg->ready_fd = (int)fd, 0);
	case 'W': return parse_uint(arg, 3600000, &cfg->window_ms) ||
			 (cfg->window_ms && cfg->window_ms * 1000000ull <= 2 * WINDOW_EDGE_NS) ? -1 : 0;
	case 'w':
		for (int k = 0; k < 3; k++)
			if (!strcmp(arg, writer_names[k]))
				return cfg->writer = (enum writer_kind)k, 0;
		return -1;
	default: return -1;
	}
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' }, { "output", required_argument, NULL, 'o' },
		{ "timer", required_argument, NULL, 't' }, { "mmap", required_argument, NULL, 'm' },
		{ "writer", required_argument, NULL, 'w' }, { "region-mb", required_argument, NULL, 'r' },
		{ "writer-pause-ms", required_argument, NULL, 'P' },
		{ "period-us", required_argument, NULL, 'p' }, { "busy-us", required_argument, NULL, 'b' },
		{ "gap-ns", required_argument, NULL, 'g' }, { "ready-fd", required_argument, NULL, 'f' },
		{ "window-ms", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	*cfg = (struct config){ .duration_s = 10, .timer_threads = 1, .mmap_threads = 1,
				.writer = WRITER_NONE, .region_mb = 256, .period_us = 1000,
				.busy_us = 500, .gap_ns = 1000, .ready_fd = -1 };
	int c;
	while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			exit(0);
		}
		if (parse_opt(cfg, c, optarg) < 0) {
			if (c != '?')
				fprintf(stderr, "jitter: bad value '%s' for %s\n", optarg, argv[optind - 1]);
			fputs(usage, stderr);
			return -1;
		}
	}
	if (cfg->busy_us >= cfg->period_us) {
		fprintf(stderr, "jitter: --busy-us must be shorter than --period-us\n");
		return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "jitter: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static int start(struct worker *w, const struct config *cfg, void *(*fn)(void *))
{
	w->cfg = cfg;
	hist_init(&w->a);
	hist_init(&w->b);
	for (int k = 0; k < 2; k++) {
		hist_init(&w->win[k].a);
		hist_init(&w->win[k].b);
	}
	return pthread_create(&w->thread, NULL, fn, w);
}

static void wait_until(uint64_t deadline)
{
	while (!signalled && now_ns() < deadline) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

static void totals_init(struct totals *t)
{
	hist_init(&t->wakeup);
	hist_init(&t->gap);
	hist_init(&t->mmap_op);
	hist_init(&t->writer_op);
	t->periods = t->overruns = t->iterations = t->spin_ns = 0;
	for (int k = 0; k < 2; k++) {
		hist_init(&t->win[k].wakeup);
		hist_init(&t->win[k].gap);
		hist_init(&t->win[k].mmap_op);
		t->win[k].iterations = t->win[k].spin_ns = 0;
	}
}

/* Workers are started in the order timer, mmap, writer: the index tells the kind. */
static void collect(struct totals *t, const struct config *cfg, struct worker *w, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		pthread_join(w[k].thread, NULL);
		if (k < cfg->timer_threads) {
			hist_merge(&t->wakeup, &w[k].a);
			hist_merge(&t->gap, &w[k].b);
			for (int c = 0; c < 2; c++) {
				hist_merge(&t->win[c].wakeup, &w[k].win[c].a);
				hist_merge(&t->win[c].gap, &w[k].win[c].b);
				t->win[c].iterations += w[k].win[c].iterations;
				t->win[c].spin_ns += w[k].win[c].spin_ns;
			}
		} else if (k < cfg->timer_threads + cfg->mmap_threads) {
			hist_merge(&t->mmap_op, &w[k].a);
			for (int c = 0; c < 2; c++)
				hist_merge(&t->win[c].mmap_op, &w[k].win[c].a);
		} else {
			hist_merge(&t->writer_op, &w[k].a);
		}
		t->periods += w[k].periods;
		t->overruns += w[k].overruns;
		t->iterations += w[k].iterations;
		t->spin_ns += w[k].spin_ns;
	}
}

int main(int argc, char **argv)
{
	struct config cfg;
	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (cfg.writer != WRITER_NONE && populate_region(&cfg) < 0) {
		fprintf(stderr, "jitter: cannot map %u MiB: %s\n", cfg.region_mb, strerror(errno));
		return 1;
	}

	size_t n = cfg.timer_threads + cfg.mmap_threads + (cfg.writer != WRITER_NONE);
	struct worker *w = calloc(n ? n : 1, sizeof(*w));
	if (!w)
		return 1;
	size_t started = 0;
	int err = 0;
	for (unsigned k = 0; !err && k < cfg.timer_threads; k++)
		if (!(err = start(&w[started], &cfg, timer_main)))
			started++;
	for (unsigned k = 0; !err && k < cfg.mmap_threads; k++)
		if (!(err = start(&w[started], &cfg, mmap_main)))
			started++;
	if (!err && cfg.writer != WRITER_NONE && !(err = start(&w[started], &cfg, writer_main)))
		started++;
	if (err)
		fprintf(stderr, "jitter: cannot start a thread: %s\n", strerror(err));
	/* The bench driver attaches when this line arrives: everything runs. */
	uint64_t t0 = now_ns();
	atomic_store(&window_t0, t0);
	if (!err && cfg.ready_fd >= 0) {
		char line[48];
		int len = cfg.window_ms ? snprintf(line, sizeof(line), "ready %llu\n", (unsigned long long)t0)
					: snprintf(line, sizeof(line), "ready\n");
		if (write(cfg.ready_fd, line, (size_t)len) < 0)
			err = errno;
	}

	if (!err)
		wait_until(t0 + (uint64_t)(cfg.duration_s * 1e9));
	atomic_store(&stop, 1);
	struct totals t;
	totals_init(&t);
	collect(&t, &cfg, w, started);
	uint64_t elapsed = now_ns() - t0;
	free(w);
	if (err)
		return 1;
	if (write_output(&cfg, &t, elapsed) < 0) {
		fprintf(stderr, "jitter: cannot write %s: %s\n", cfg.out ? cfg.out : "stdout",
			strerror(errno));
		return 1;
	}
	return 0;
}
