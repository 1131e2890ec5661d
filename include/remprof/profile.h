/* profile.h — a recorded profile: the interned frames and stacks with their
 * per-thread counts and weights, the target's facts, and the sampling
 * statistics; and its one native file format (docs/profile-format.md). */
#ifndef REMPROF_PROFILE_H
#define REMPROF_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "remprof/stats.h"

struct profile_frame {
	char *function;
	char *module;
	char *file;      /* NULL when unknown */
	uint32_t line;
	uint32_t inlined;
};

struct profile_stack {
	uint32_t nframes;
	uint32_t *frames; /* indexes into frames[], root first */
};

struct profile_thread {
	pid_t pid, tid;
	char *name;
};

struct profile_module {
	char *path;
	char build_id[41];
	uint64_t start, end;
};

struct profile_sample {   /* one (stack, thread) pair */
	uint32_t stack;
	uint32_t thread;
	uint64_t count;
	uint64_t weight_ns;
};

/* What sampling cost one thread: its stops, and the samples it lost. Kept in
 * full for the first PROFILE_MAX_THREAD_COSTS threads sampled; later ones are
 * added up into one entry whose thread is PROFILE_NONE ("other threads"), so
 * that thread churn cannot grow a profile by 24 KiB per thread. */
#define PROFILE_MAX_THREAD_COSTS 256

struct profile_thread_cost {
	uint32_t thread;          /* index into threads[], or PROFILE_NONE */
	uint64_t samples;
	uint64_t lost[LOST_NREASONS];
	struct hist stop_ns, int_to_stop_ns, copy_ns;
};

/* The target's mmap_lock as the kernel's tracepoints saw it while recording. */
struct profile_lock {
	uint32_t available;       /* 0: not traced; note says why */
	char note[160];
	uint64_t target_acquisitions;
	uint64_t target_waits;    /* the target's threads waiting for their mmap_lock */
	struct hist target_wait_ns;
	uint64_t self_acquisitions; /* remprof taking the target's mmap_lock */
	uint64_t reads;           /* stack reads remprof did */
	struct hist self_wait_ns;
	uint64_t events, lost_events; /* lost_events > 0: the counts are lower bounds */
};

/* How stops were bounded by --max-stop. */
enum profile_stop_bound {
	STOP_UNBOUNDED,      /* --max-stop 0 */
	STOP_BOUNDED,        /* the copier thread is given up on at the bound */
	STOP_BOUNDED_WORDS,  /* peek: given up between two words, so a stop can
			      * overrun the bound by one wait for mmap_lock */
};

struct profile {
	/* facts */
	char *cmdline;
	pid_t *pids;
	size_t npids;
	char kernel[128];
	char reader[16];
	char version[32];       /* remprof version that recorded it */
	uint32_t freq_hz;
	uint32_t idle;
	uint32_t stack_size;
	uint64_t start_unix_ns;
	uint64_t duration_ns;
	struct sample_stats stats;
	uint64_t max_stop_ns;     /* --max-stop; 0 = unbounded */
	uint32_t stop_bounded;    /* enum profile_stop_bound */
	struct profile_lock lock;
	struct profile_thread_cost *costs; size_t ncosts;

	struct profile_frame *frames;   size_t nframes;
	struct profile_stack *stacks;   size_t nstacks;
	struct profile_thread *threads; size_t nthreads;
	struct profile_module *modules; size_t nmodules;
	struct profile_sample *samples; size_t nsamples;

	struct profile_index *index;    /* interning hash tables (private) */
};

struct profile *profile_new(void);
void profile_free(struct profile *p);

/* Returned by the interning functions when memory runs out (and by
 * profile_intern_stack for a frame index that does not exist); the adders
 * ignore it, so a caller may pass it on without checking. */
#define PROFILE_NONE UINT32_MAX

/* Interning: equal input gives the same index. Strings are copied. A frame
 * is equal in every field (function, module, file, line, inlined); a NULL
 * function or module is stored as "[unknown]". Threads are keyed by
 * (pid, tid). profile_add_sample adds one sample (count 1, weight_ns) to the
 * (stack, thread) pair, creating it on first use. */
uint32_t profile_intern_frame(struct profile *p, const char *function, const char *module,
			      const char *file, uint32_t line, int inlined);
uint32_t profile_intern_stack(struct profile *p, const uint32_t *frames_root_first, uint32_t n);
uint32_t profile_thread(struct profile *p, pid_t pid, pid_t tid, const char *name);
void profile_thread_rename(struct profile *p, uint32_t thread, const char *name);
void profile_add_sample(struct profile *p, uint32_t stack, uint32_t thread, uint64_t weight_ns);
/* An exact duplicate (path, build-id, range) is stored once. */
/* Account one served stop (or, with lost >= 0, one lost sample of that
 * reason) to the thread's cost. durations may be NULL for a lost sample. */
void profile_add_cost(struct profile *p, uint32_t thread, int lost, uint64_t stop_ns,
		      uint64_t int_to_stop_ns, uint64_t copy_ns);
void profile_add_module(struct profile *p, const char *path, const char *build_id,
			uint64_t start, uint64_t end);
/* Command line and PIDs (copied); 0 or -ENOMEM. */
int profile_set_facts(struct profile *p, const char *cmdline, const pid_t *pids, size_t npids);

/* Written to path.tmp and renamed, so a reader never sees half a file.
 * 0 or -errno. */
int profile_save(const struct profile *p, const char *path);
/* 0, or -errno for I/O (ENOENT...), or -EINVAL for a truncated, corrupt or
 * unknown-version file, with one line in err. Never a partial profile. */
int profile_load(struct profile **out, const char *path, char *err, size_t errlen);

#endif
