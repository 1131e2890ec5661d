/* reader.h — copy bytes out of another process's address space.
 *
 * Three kernel interfaces, chosen by the user because they behave differently
 * under the target's mmap_lock (see docs/): process_vm_readv(2), pread(2) on a
 * kept-open /proc/PID/mem, and PTRACE_PEEKDATA word by word (the caller must be
 * the tracer of `tid` and the thread must be stopped). */
#ifndef REMPROF_READER_H
#define REMPROF_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum reader_kind { READER_VMREADV, READER_PROCMEM, READER_PEEK, READER_AUTO };

struct reader; /* opaque; one per target process */

/* 0 or -errno. READER_AUTO resolves to a concrete kind (vmreadv for now). */
int reader_open(struct reader **out, pid_t pid, enum reader_kind kind);
/* Copy up to len bytes at addr. `tid` is the (stopped, traced) thread to use for
 * PEEKDATA; other kinds ignore it. Returns bytes copied (short at the first
 * unreadable byte; a partial read is not an error) or -errno if nothing could
 * be read. */
ssize_t reader_copy(struct reader *r, pid_t tid, uint64_t addr, void *buf, size_t len);
/* The same, given up with -ETIMEDOUT once CLOCK_MONOTONIC passes deadline_ns
 * (0 = never). Only peek can honour it, between two words, so it can overrun
 * by one wait for the target's mmap_lock; the other kinds are one system call
 * each, which only a copy made on another thread can give up on (the
 * sampler's copier). */
ssize_t reader_copy_until(struct reader *r, pid_t tid, uint64_t addr, void *buf, size_t len,
			  uint64_t deadline_ns);
void reader_close(struct reader *r);
enum reader_kind reader_kind_of(const struct reader *r);

const char *reader_name(enum reader_kind kind);
/* "vmreadv" etc. -> kind; -1 if unknown. */
int reader_parse(const char *name);

#endif
