/* record.c — `remprof record`: attach (or launch), sample, and after each
 * batch of stops has been served — never while a thread waits — unwind,
 * symbolize and intern the stacks into a profile, written at the end. */
#include <errno.h>
#include <stdatomic.h>
#include <getopt.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "remprof/attach.h"
#include "remprof/doctor.h"
#include "remprof/handoff.h"
#include "remprof/lockwatch.h"
#include "remprof/maps.h"
#include "remprof/output.h"
#include "remprof/proc.h"
#include "remprof/profile.h"
#include "remprof/reader.h"
#include "remprof/sampler.h"
#include "remprof/symbols.h"
#include "remprof/unwind.h"

static const char record_usage[] =
	"usage: remprof record -p PID[,PID...] [options]\n"
	"       remprof record [options] -- COMMAND [ARGS...]\n"
	"\n"
	"Sample the stacks of every thread of the target processes and write a profile.\n"
	"\n"
	"  -p, --pid PID[,PID...]  attach to these running processes\n"
	"  -F, --freq HZ           samples per CPU-second of each thread (default 1000);\n"
	"                          with --idle, per wall-clock second\n"
	"  -d, --duration SECONDS  stop after this long (default: until the targets exit or\n"
	"                          remprof gets SIGINT, SIGTERM or SIGHUP)\n"
	"      --reader R          how the stack is copied: vmreadv (process_vm_readv),\n"
	"                          procmem (pread of /proc/PID/mem), peek (PTRACE_PEEKDATA,\n"
	"                          very slow), auto (default: procmem where this kernel\n"
	"                          reads /proc/PID/mem without the target's mmap_lock,\n"
	"                          vmreadv elsewhere; see remprof doctor)\n"
	"      --stack-size BYTES  copy at most this much stack per sample (default 64K;\n"
	"                          suffixes K and M)\n"
	"      --max-stop TIME     resume a sampled thread after at most TIME even when its\n"
	"                          stack copy waits for the target's mmap_lock (a sibling's\n"
	"                          mprotect or fork); the sample is then lost as \"read\n"
	"                          blocked\". Units us, ms, s (default 2ms); 0 = unbounded.\n"
	"                          peek copies (made by the tracing thread itself) are given\n"
	"                          up between two words: they can overrun TIME by one wait.\n"
	"      --idle              wall-clock sampling of every thread, so that blocked time\n"
	"                          shows under its blocking stack (interrupts sleeping threads;\n"
	"                          some blocking calls, e.g. epoll_wait, may see EINTR)\n"
	"  -o, --output FILE       the profile to write (default remprof.data)\n"
	"\n"
	"Every profile also records what sampling cost the target: per thread, the stop\n"
	"time, interrupt-to-stop latency and copy time (histograms), lost samples by\n"
	"reason, and, where tracefs and the mmap_lock tracepoints are available, the\n"
	"target's mmap_lock waits and remprof's own acquisitions of it per read.\n"
	"  -h, --help              this text\n"
	"\n"
	"With -- COMMAND, remprof starts the command, profiles it until it exits and\n"
	"exits with its status.\n"
	"\n";

struct record_options {
	pid_t *pids;
	size_t npids;
	unsigned freq_hz;
	double duration_s;
	enum reader_kind reader;
	size_t stack_size;
	int idle;
	uint64_t max_stop_ns;
	const char *output;
	char **command;
};

/* Lookup address -> the profile's frame ids for it (inline frames included),
 * so that a hot address costs one probe per sample instead of symbolizing and
 * hashing its strings again. */
struct frame_cache_entry {
	uint64_t addr;      /* 0 = empty */
	uint32_t first, n;  /* ids[first .. first + n) */
};

struct frame_cache {
	struct frame_cache_entry *slots;
	size_t cap, used;
	uint32_t *ids;
	size_t nids, ids_cap;
};

/* Everything one target process needs after a stop: its map, its unwinder
 * and its symbolizer, all caching across samples. */
struct target {
	pid_t pid;
	struct reader *reader;
	struct maps *maps;
	struct unwinder *unwinder;
	struct symbolizer *symbolizer;
	struct frame_cache frames;
	unsigned maps_generation;      /* of the map the cache was filled from */
	int opened;                    /* tried (on its first sample) */
};

/* Stacks copied but not yet unwound, at most: 16 busy threads at 1 kHz with
 * 16 KiB copies fill it in a second (256 MB/s), one thread in 16 s. Past it
 * samples are dropped as "unwind backlog" rather than memory grown. */
#define UNWIND_BACKLOG_BYTES (256u << 20)

struct thread_slot {
	pid_t tid;
	uint32_t index;  /* in the profile */
};

struct recording {
	struct record_options *opt;
	struct profile *profile;
	struct sample_stats *stats;
	struct target *targets;
	size_t ntargets;
	struct thread_slot *threads;   /* open addressing, power-of-two size */
	size_t threads_cap, nthreads;
	uint32_t *frame_ids;           /* scratch: one stack's frames */
	uint64_t *pcs;
	int status_line;               /* a live status line on stderr */
	struct lockwatch *lockwatch;   /* NULL without tracefs / mmap_lock tracepoints */
	/* Samples are unwound on the handoff's thread, which owns everything
	 * above but opt, stats and lockwatch while the sampler runs: these two
	 * are its counts, added to stats at the end. */
	struct handoff *handoff;
	_Atomic uint64_t unwind_failed;
};

static int parse_pids(const char *s, struct record_options *o)
{
	char *copy = strdup(s), *save = NULL;
	size_t before = o->npids;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		errno = 0;
		long v = strtol(tok, &end, 10);
		if (errno || *end || v <= 0 || v > 0x3fffffff) {
			free(copy);
			return -1;
		}
		pid_t *np = realloc(o->pids, (o->npids + 1) * sizeof(*np));
		if (!np)
			abort();
		o->pids = np;
		o->pids[o->npids++] = (pid_t)v;
	}
	free(copy);
	return o->npids > before ? 0 : -1;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end || v < 256 || v > (64u << 20))
		return -1;
	*out = (size_t)v;
	return 0;
}

/* "2ms", "500us", "1.5s", "0": nanoseconds, or -1. */
static int parse_time(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v >= 0))
		return -1;
	double unit = !strcmp(end, "s") ? 1e9 : !strcmp(end, "ms") ? 1e6 :
		      !strcmp(end, "us") ? 1e3 : !strcmp(end, "ns") ? 1 : (*end || v != 0) ? -1 : 1;
	if (unit < 0 || v * unit > 3600e9)
		return -1;
	*out = (uint64_t)(v * unit);
	return 0;
}

static int parse_options(int argc, char **argv, struct record_options *o)
{
	enum { OPT_READER = 256, OPT_STACK, OPT_IDLE, OPT_MAX_STOP };
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "freq", required_argument, NULL, 'F' },
		{ "duration", required_argument, NULL, 'd' },
		{ "reader", required_argument, NULL, OPT_READER },
		{ "stack-size", required_argument, NULL, OPT_STACK },
		{ "idle", no_argument, NULL, OPT_IDLE },
		{ "max-stop", required_argument, NULL, OPT_MAX_STOP },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct record_options){ .freq_hz = 1000, .reader = READER_AUTO,
				      .stack_size = 64 << 10, .max_stop_ns = 2000000,
				      .output = "remprof.data" };
	opterr = 0;
	optind = 1;
	int c;
	/* "+" stops at the first non-option, so COMMAND's own flags stay its own. */
	while ((c = getopt_long(argc, argv, "+p:F:d:o:h", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'p':
			if (parse_pids(optarg, o) < 0)
				return cli_error(EXIT_USAGE, "bad PID list '%s' (expected PID[,PID...])", optarg);
			break;
		case 'F': {
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v > 20000)
				return cli_error(EXIT_USAGE, "bad frequency '%s' (expected 1..20000 Hz)", optarg);
			o->freq_hz = (unsigned)v;
			break;
		}
		case 'd':
			errno = 0;
			o->duration_s = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(o->duration_s > 0) || o->duration_s > 1e7)
				return cli_error(EXIT_USAGE, "bad duration '%s' (expected seconds > 0)", optarg);
			break;
		case OPT_READER: {
			int k = reader_parse(optarg);
			if (k < 0)
				return cli_error(EXIT_USAGE, "unknown reader '%s' (vmreadv, procmem, peek, auto)", optarg);
			o->reader = (enum reader_kind)k;
			break;
		}
		case OPT_STACK:
			if (parse_size(optarg, &o->stack_size) < 0)
				return cli_error(EXIT_USAGE, "bad stack size '%s' (expected 256..64M bytes, e.g. 16K)", optarg);
			break;
		case OPT_IDLE:
			o->idle = 1;
			break;
		case OPT_MAX_STOP:
			if (parse_time(optarg, &o->max_stop_ns) < 0)
				return cli_error(EXIT_USAGE, "bad --max-stop '%s' (expected e.g. 2ms, 500us, 0)", optarg);
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'h':
			fputs(record_usage, stdout);
			fputs(cli_exit_codes_help, stdout);
			return -1;
		case ':':
			return cli_error(EXIT_USAGE, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_error(EXIT_USAGE, "unknown option '%s' (try: remprof record --help)",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->command = argv + optind;
	if (!o->npids == !o->command)
		return cli_error(EXIT_USAGE, o->npids ? "give either -p PID or -- COMMAND, not both"
					   : "nothing to record: give -p PID or -- COMMAND");
	return 0;
}

static int attach_error_exit(enum attach_error e)
{
	switch (e) {
	case ATTACH_NO_SUCH_PROCESS: return EXIT_NO_TARGET;
	case ATTACH_PERMISSION: return EXIT_PERMISSION;
	case ATTACH_ALREADY_TRACED: return EXIT_TRACED;
	case ATTACH_KERNEL_THREAD:
	case ATTACH_ZOMBIE: return EXIT_BAD_TARGET;
	default: return EXIT_FAILURE_INTERNAL;
	}
}

static int target_open(struct target *t, pid_t pid, enum reader_kind kind);

/* The target of pid, its map and caches opened on its first sample: after
 * the thread was resumed, so that opening files and reading symbol tables
 * never happens while the target is traced but not yet sampled. */
static struct target *target_of(struct recording *rec, pid_t pid)
{
	for (size_t i = 0; i < rec->ntargets; i++) {
		struct target *t = &rec->targets[i];
		if (t->pid != pid)
			continue;
		if (!t->opened) {
			t->opened = 1;
			int err = target_open(t, pid, rec->opt->reader);
			if (err < 0)
				fprintf(stderr, "remprof: warning: pid %d: cannot read its memory map: %s; "
					"its samples are lost\n", (int)pid, strerror(-err));
		}
		return t;
	}
	return NULL;
}

static void frame_cache_clear(struct frame_cache *c)
{
	free(c->slots);
	free(c->ids);
	memset(c, 0, sizeof(*c));
}

static struct frame_cache_entry *frame_cache_slot(struct frame_cache *c, uint64_t addr)
{
	size_t mask = c->cap - 1, i = (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 20) & mask;
	while (c->slots[i].addr && c->slots[i].addr != addr)
		i = (i + 1) & mask;
	return &c->slots[i];
}

static void frame_cache_grow(struct frame_cache *c)
{
	struct frame_cache old = *c;
	c->cap = old.cap ? old.cap * 2 : 1024;
	c->slots = calloc(c->cap, sizeof(*c->slots));
	if (!c->slots)
		abort();
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].addr)
			*frame_cache_slot(c, old.slots[i].addr) = old.slots[i];
	free(old.slots);
}

/* The frame ids of addr, symbolized and interned on first sight. */
static const uint32_t *frames_of(struct target *t, struct profile *p, uint64_t addr, uint32_t *n)
{
	struct frame_cache *c = &t->frames;
	/* A re-read map may put another module where an address pointed. */
	if (maps_generation(t->maps) != t->maps_generation) {
		frame_cache_clear(c);
		t->maps_generation = maps_generation(t->maps);
	}
	if ((c->used + 1) * 2 > c->cap)
		frame_cache_grow(c);
	uint64_t key = addr ? addr : 1;  /* 0 marks an empty slot */
	struct frame_cache_entry *e = frame_cache_slot(c, key);
	if (!e->addr) {
		const struct frame_info *fr;
		int k = symbolizer_lookup(t->symbolizer, addr, &fr);
		if (c->nids + (size_t)k > c->ids_cap) {
			c->ids_cap = (c->nids + (size_t)k) * 2 + 256;
			c->ids = realloc(c->ids, c->ids_cap * sizeof(*c->ids));
			if (!c->ids)
				abort();
		}
		e->addr = key;
		e->first = (uint32_t)c->nids;
		e->n = (uint32_t)k;
		for (int j = 0; j < k; j++)
			c->ids[c->nids++] = profile_intern_frame(p, fr[j].function, fr[j].module,
				fr[j].file, (uint32_t)fr[j].line, fr[j].inlined);
		c->used++;
	}
	*n = e->n;
	return c->ids + e->first;
}

static void target_close(struct target *t)
{
	frame_cache_clear(&t->frames);
	symbolizer_close(t->symbolizer);
	unwinder_close(t->unwinder);
	maps_close(t->maps);
	reader_close(t->reader);
	t->symbolizer = NULL, t->unwinder = NULL, t->maps = NULL, t->reader = NULL;
}

static int target_open(struct target *t, pid_t pid, enum reader_kind kind)
{
	int err;
	t->pid = pid;
	if ((err = reader_open(&t->reader, pid, kind)) < 0 ||
	    (err = maps_open(&t->maps, pid, t->reader)) < 0 ||
	    (err = unwinder_open(&t->unwinder, t->maps, t->reader)) < 0 ||
	    (err = symbolizer_open(&t->symbolizer, t->maps)) < 0) {
		target_close(t);
		return err;
	}
	unwinder_use_symbolizer(t->unwinder, t->symbolizer);
	return 0;
}

/* The profile's index of a thread, named on first sight. */
static uint32_t thread_index(struct recording *rec, pid_t pid, pid_t tid)
{
	if (rec->nthreads * 2 >= rec->threads_cap) {
		size_t cap = rec->threads_cap ? rec->threads_cap * 2 : 64;
		struct thread_slot *n = calloc(cap, sizeof(*n));
		if (!n)
			abort();
		for (size_t i = 0; i < rec->threads_cap; i++) {
			if (!rec->threads[i].tid)
				continue;
			size_t j = (size_t)rec->threads[i].tid & (cap - 1);
			while (n[j].tid)
				j = (j + 1) & (cap - 1);
			n[j] = rec->threads[i];
		}
		free(rec->threads);
		rec->threads = n;
		rec->threads_cap = cap;
	}
	size_t j = (size_t)tid & (rec->threads_cap - 1);
	while (rec->threads[j].tid && rec->threads[j].tid != tid)
		j = (j + 1) & (rec->threads_cap - 1);
	if (!rec->threads[j].tid) {
		char name[64] = "";
		if (proc_thread_name(pid, tid, name, sizeof(name)) < 0)
			snprintf(name, sizeof(name), "%d", (int)tid);
		rec->threads[j].tid = tid;
		rec->threads[j].index = profile_thread(rec->profile, pid, tid, name);
		rec->nthreads++;
	}
	return rec->threads[j].index;
}

static void forget_thread(struct recording *rec, pid_t tid)
{
	/* A tid can be reused by a new thread with another name: drop the slot
	 * (re-inserting the rest of its cluster keeps the probing intact). */
	if (!rec->threads_cap)
		return;
	size_t mask = rec->threads_cap - 1, j = (size_t)tid & mask;
	while (rec->threads[j].tid && rec->threads[j].tid != tid)
		j = (j + 1) & mask;
	if (!rec->threads[j].tid)
		return;
	rec->threads[j].tid = 0;
	rec->nthreads--;
	for (size_t k = (j + 1) & mask; rec->threads[k].tid; k = (k + 1) & mask) {
		struct thread_slot s = rec->threads[k];
		rec->threads[k].tid = 0;
		size_t h = (size_t)s.tid & mask;
		while (rec->threads[h].tid)
			h = (h + 1) & mask;
		rec->threads[h] = s;
	}
}

static void on_sample(void *ctx, const struct snapshot *s)
{
	struct recording *rec = ctx;
	/* What the stop cost counts whether or not the stack unwinds. */
	profile_add_cost(rec->profile, thread_index(rec, s->pid, s->tid), -1, s->stop_ns,
			 s->int_to_stop_ns, s->copy_ns);
	struct target *t = target_of(rec, s->pid);
	if (!t || !t->unwinder) {
		atomic_fetch_add_explicit(&rec->unwind_failed, 1, memory_order_relaxed);
		return;
	}
	int flags = 0;
	int n = unwind_snapshot(t->unwinder, s, rec->pcs, UNWIND_MAX_FRAMES, &flags);
	if (n <= 0) {
		atomic_fetch_add_explicit(&rec->unwind_failed, 1, memory_order_relaxed);
		return;
	}
	/* Leaf first from the unwinder (and innermost inline first from the
	 * symbolizer); the profile keeps stacks root first. */
	uint32_t nf = 0;
	for (int i = 0; i < n; i++) {
		uint32_t k;
		const uint32_t *ids = frames_of(t, rec->profile, rec->pcs[i], &k);
		for (uint32_t j = 0; j < k && nf < UNWIND_MAX_FRAMES * 4; j++)
			rec->frame_ids[nf++] = ids[j];
	}
	for (uint32_t i = 0; i < nf / 2; i++) {
		uint32_t tmp = rec->frame_ids[i];
		rec->frame_ids[i] = rec->frame_ids[nf - 1 - i];
		rec->frame_ids[nf - 1 - i] = tmp;
	}
	uint32_t stack = profile_intern_stack(rec->profile, rec->frame_ids, nf);
	profile_add_sample(rec->profile, stack, thread_index(rec, s->pid, s->tid), s->weight_ns);
}

static void on_lost(void *ctx, pid_t pid, pid_t tid, enum lost_reason why)
{
	struct recording *rec = ctx;
	profile_add_cost(rec->profile, thread_index(rec, pid, tid), (int)why, 0, 0, 0);
}

static void on_thread_exit(void *ctx, pid_t pid, pid_t tid)
{
	(void)pid;
	forget_thread(ctx, tid);
}

/* After exec the process is a new program: start its map and caches anew. */
static void on_exec(void *ctx, pid_t pid)
{
	struct recording *rec = ctx;
	struct target *t = target_of(rec, pid);
	if (!t)
		return;
	target_close(t);
	t->opened = 0; /* opened again on its next sample */
	free(rec->profile->cmdline);
	rec->profile->cmdline = proc_cmdline(pid);
}

static void on_tick(void *ctx, const struct sample_stats *st, double elapsed_s)
{
	struct recording *rec = ctx;
	if (rec->lockwatch)
		lockwatch_poll(rec->lockwatch); /* before the kernel's buffers overrun */
	if (!rec->status_line)
		return;
	uint64_t lost = atomic_load_explicit(&rec->unwind_failed, memory_order_relaxed);
	if (rec->handoff)
		lost += handoff_dropped(rec->handoff);
	for (int i = 0; i < LOST_NREASONS; i++)
		lost += st->lost[i];
	fprintf(stderr, "\r\033[K[%6.1fs] %8llu samples  %6.0f/s  lost %llu  stop p99 %.0f us",
		elapsed_s, (unsigned long long)st->samples,
		elapsed_s > 0 ? (double)st->samples / elapsed_s : 0.0, (unsigned long long)lost,
		(double)hist_percentile(&st->stop_ns, 99) / 1e3);
	fflush(stderr);
}

static uint64_t unix_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record_facts(struct recording *rec)
{
	struct profile *p = rec->profile;
	struct record_options *o = rec->opt;
	char *cmd = proc_cmdline(o->pids[0]);
	profile_set_facts(p, cmd ? cmd : "", o->pids, o->npids);
	free(cmd);
	proc_kernel_release(p->kernel, sizeof(p->kernel));
	snprintf(p->reader, sizeof(p->reader), "%s",
		 reader_name(rec->targets[0].reader ? reader_kind_of(rec->targets[0].reader) : o->reader));
	snprintf(p->version, sizeof(p->version), "%s", REMPROF_VERSION);
	p->freq_hz = o->freq_hz;
	p->idle = (uint32_t)o->idle;
	p->stack_size = (uint32_t)o->stack_size;
	p->start_unix_ns = unix_now_ns();
	p->max_stop_ns = o->max_stop_ns;
	p->stop_bounded = !o->max_stop_ns		   ? STOP_UNBOUNDED
			  : strcmp(p->reader, "peek") ? STOP_BOUNDED
						      : STOP_BOUNDED_WORDS;
}

/* The mmap_lock tracepoints, for the intrusion figures; without them the
 * recording goes on and the profile says why. */
static void lockwatch_start(struct recording *rec)
{
	struct record_options *o = rec->opt;
	pid_t self = (pid_t)syscall(SYS_gettid);
	int err = lockwatch_open(&rec->lockwatch, o->pids, o->npids, &self, 1);
	if (err == 0)
		return;
	rec->lockwatch = NULL;
	snprintf(rec->profile->lock.note, sizeof(rec->profile->lock.note), "%s",
		 err == -ENOENT ? "no tracefs or no mmap_lock tracepoints on this kernel"
		 : err == -EACCES || err == -EPERM ? "not permitted to use tracefs (needs root)"
						   : strerror(-err));
	if (o->command)
		fprintf(stderr, "remprof: mmap_lock waits not recorded: %s\n", rec->profile->lock.note);
}

static void lockwatch_finish(struct recording *rec)
{
	struct lockwatch *lw = rec->lockwatch;
	if (!lw)
		return;
	struct sample_stats *st = rec->stats;
	struct profile_lock *k = &rec->profile->lock;
	struct lockwatch_results r;
	lockwatch_poll(lw);
	lockwatch_count_reads(lw, st->reads);
	if (lockwatch_results(lw, &r) == 0) {
		k->available = 1;
		k->target_acquisitions = r.target.acquisitions;
		k->target_waits = r.target.wait_ns.count;
		k->target_wait_ns = r.target.wait_ns;
		k->self_acquisitions = r.self.acquisitions;
		k->self_wait_ns = r.self.wait_ns;
		k->reads = r.reads;
		k->events = r.events;
		k->lost_events = r.lost;
	}
	lockwatch_close(lw);
	rec->lockwatch = NULL;
}

static void record_modules(struct recording *rec)
{
	for (size_t i = 0; i < rec->ntargets; i++) {
		struct maps *m = rec->targets[i].maps;
		if (!m)
			continue;
		for (size_t j = 0; j < maps_module_count(m); j++) {
			const struct module *mod = maps_module_at(m, j);
			profile_add_module(rec->profile, mod->path, mod->build_id, mod->start, mod->end);
		}
	}
}

/* Attach to every -p target; on failure nothing stays attached. */
static int attach_all(struct record_options *o)
{
	for (size_t i = 0; i < o->npids; i++) {
		pid_t *tids = NULL;
		int ntids = 0, detail = 0;
		enum attach_error e = attach_process(o->pids[i], &tids, &ntids, &detail);
		free(tids);
		if (e != ATTACH_OK) {
			char msg[512];
			attach_describe(e, o->pids[i], detail, msg, sizeof(msg));
			/* Targets attached so far are let go by the sampler-less path:
			 * detach them now. */
			for (size_t j = 0; j < i; j++)
				attach_detach(o->pids[j]);
			return cli_error(attach_error_exit(e), "%s", msg);
		}
	}
	return 0;
}

static int exit_status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EXIT_FAILURE_INTERNAL;
}

/* --reader auto: the cheapest correct reader for this kernel. procmem goes
 * through __access_remote_vm(), which kernels with the per-VMA-lock fast
 * path serve without the target's mmap_lock; elsewhere it takes the lock
 * once per page and process_vm_readv (once per call) is the better one. */
static enum reader_kind resolve_auto(void)
{
	return doctor_procmem_takes_mmap_lock() == 0 ? READER_PROCMEM : READER_VMREADV;
}

/* The targets' maps and caches, before attaching: reading ELF files and
 * symbol tables then costs the target nothing (it is not traced yet), and
 * the first samples are not held up behind it. A target that cannot be
 * opened now (it may not exist: attach says so in its one line) is tried
 * again on its first sample. */
static void open_targets_early(struct recording *rec)
{
	struct record_options *o = rec->opt;
	rec->ntargets = o->npids;
	rec->targets = calloc(o->npids, sizeof(*rec->targets));
	for (size_t i = 0; i < o->npids; i++) {
		struct target *t = &rec->targets[i];
		t->pid = o->pids[i];
		t->opened = target_open(t, t->pid, o->reader) == 0;
	}
}

static int run(struct recording *rec)
{
	struct record_options *o = rec->opt;
	int spawned = o->command != NULL;
	if (o->reader == READER_AUTO)
		o->reader = resolve_auto();
	/* The tracefs instance before attaching: the target is traced only
	 * once everything that takes time is ready. Its note is printed once
	 * the attach succeeded (an attach error is the one line then). */
	if (!spawned) {
		lockwatch_start(rec);
		open_targets_early(rec);
	}

	if (spawned) {
		pid_t child;
		int err = attach_spawn(o->command, &child);
		if (err < 0)
			return cli_error(EXIT_CMD_NOT_FOUND, "cannot run '%s': %s", o->command[0],
					 strerror(-err));
		o->pids = malloc(sizeof(*o->pids));
		o->pids[0] = child;
		o->npids = 1;
	} else {
		int code = attach_all(o);
		if (code)
			return code;
	}

	if (!rec->targets) {
		rec->ntargets = o->npids;
		rec->targets = calloc(o->npids, sizeof(*rec->targets));
		for (size_t i = 0; i < o->npids; i++)
			rec->targets[i].pid = o->pids[i];
	}
	record_facts(rec);
	if (spawned)
		lockwatch_start(rec);
	else if (rec->profile->lock.note[0])
		fprintf(stderr, "remprof: mmap_lock waits not recorded: %s\n", rec->profile->lock.note);

	struct sampler_config cfg = {
		.pids = o->pids, .npids = o->npids, .spawned = spawned, .freq_hz = o->freq_hz,
		.idle = o->idle, .stack_size = o->stack_size, .reader = o->reader,
		.duration_s = o->duration_s, .max_stop_ns = o->max_stop_ns,
	};
	struct sampler_events ev = {
		.ctx = rec, .sample = on_sample, .thread_exit = on_thread_exit, .exec = on_exec,
		.tick = on_tick, .lost = on_lost,
	};
	struct sampler_result res = { 0 };
	/* Unwinding on a thread of its own; on the sampling thread if that
	 * thread cannot be had. */
	if (handoff_start(&rec->handoff, &ev, UNWIND_BACKLOG_BYTES) != 0)
		rec->handoff = NULL;
	/* A spawned child is released by the sampler once its trigger is armed. */
	sampler_run(&cfg, rec->handoff ? handoff_events(rec->handoff) : &ev, rec->stats, &res);
	if (rec->handoff) {
		rec->stats->lost[LOST_UNWIND_BACKLOG] += handoff_finish(rec->handoff);
		rec->handoff = NULL;
	}
	rec->stats->lost[LOST_UNWIND_FAILED] += rec->unwind_failed;
	if (rec->status_line)
		fputs("\r\033[K", stderr);
	lockwatch_finish(rec);

	if (res.end == SAMPLER_END_ERROR)
		return cli_error(res.error == -EPERM || res.error == -EACCES ? EXIT_PERMISSION
								     : EXIT_FAILURE_INTERNAL,
				 "%s", res.error_msg[0] ? res.error_msg : strerror(-res.error));

	rec->profile->duration_ns = (uint64_t)(res.elapsed_s * 1e9);
	rec->profile->stats = *rec->stats;
	record_modules(rec);
	int err = profile_save(rec->profile, o->output);
	if (err < 0)
		return cli_error(EXIT_OUTPUT, "cannot write %s: %s", o->output, strerror(-err));
	output_summary(rec->profile, stderr);
	fprintf(stderr, "remprof: wrote %s\n", o->output);
	if (spawned)
		return res.child_reaped ? exit_status_of(res.child_status) : EXIT_OK;
	return EXIT_OK;
}

int cmd_record(int argc, char **argv)
{
	struct record_options opt;
	int code = parse_options(argc, argv, &opt);
	if (code) {
		free(opt.pids); /* the -p list parsed before the bad option */
		return code < 0 ? EXIT_OK : code;
	}

	/* From here on SIGINT, SIGTERM and SIGHUP wait for the sampler, which
	 * reads them from a signalfd and ends the recording in order: one that
	 * came during the set-up (attaching, the tracefs instance) must not kill
	 * remprof half-way. They stay blocked to the end: one that arrives while
	 * the profile is written is dropped with the process. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);

	struct sample_stats stats;
	sample_stats_init(&stats);
	struct recording rec = {
		.opt = &opt, .profile = profile_new(), .stats = &stats,
		.frame_ids = malloc(UNWIND_MAX_FRAMES * 4 * sizeof(uint32_t)),
		.pcs = malloc(UNWIND_MAX_FRAMES * sizeof(uint64_t)),
		.status_line = isatty(STDERR_FILENO),
	};
	code = run(&rec);
	lockwatch_close(rec.lockwatch); /* on paths that did not finish it */

	for (size_t i = 0; i < rec.ntargets; i++)
		target_close(&rec.targets[i]);
	free(rec.targets);
	free(rec.threads);
	free(rec.frame_ids);
	free(rec.pcs);
	free(opt.pids);
	profile_free(rec.profile);
	return code;
}
