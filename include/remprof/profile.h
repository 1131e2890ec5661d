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
