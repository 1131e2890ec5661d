/* reader.c — copy bytes out of another process: process_vm_readv,
 * pread(/proc/PID/mem), PTRACE_PEEKDATA. */
#include "remprof/reader.h"
#include "remprof/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096u
/* process_vm_readv stops at the first iovec it cannot read completely, so
 * one iovec per page makes the short read end at the first unreadable page
 * instead of failing the whole copy. But the kernel takes the target's
 * mmap_lock once per remote iovec, so that is only the fallback: the whole
 * range as one iovec first (the usual case: the caller asks for what its
 * map says is there), per page only when that fails. */
#define VM_IOV_MAX 64

struct reader {
	pid_t pid;
	enum reader_kind kind;
	int memfd; /* /proc/PID/mem for READER_PROCMEM, else -1 */
};

static const char *const names[] = {
	[READER_VMREADV] = "vmreadv",
	[READER_PROCMEM] = "procmem",
	[READER_PEEK] = "peek",
	[READER_AUTO] = "auto",
};

const char *reader_name(enum reader_kind kind)
{
	return (unsigned)kind <= READER_AUTO ? names[kind] : "unknown";
}

int reader_parse(const char *name)
{
	for (int k = 0; k <= READER_AUTO; k++)
		if (name && !strcmp(name, names[k]))
			return k;
	return -1;
}

int reader_open(struct reader **out, pid_t pid, enum reader_kind kind)
{
	if ((unsigned)kind > READER_AUTO)
		return -EINVAL;
	struct reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->pid = pid;
	/* auto: process_vm_readv takes mmap_lock once per call (procmem once per
	 * page) and is the faster of the two at 64 KiB (measurements §1). */
	r->kind = kind == READER_AUTO ? READER_VMREADV : kind;
	r->memfd = -1;
	if (r->kind == READER_PROCMEM) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
		r->memfd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->memfd < 0) {
			int e = errno;
			free(r);
			return -e;
		}
	}
	*out = r;
	return 0;
}

static ssize_t copy_vmreadv_paged(struct reader *r, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		struct iovec local = { (char *)buf + done, 0 }, remote[VM_IOV_MAX];
		uint64_t a = addr + done;
		int n = 0;
		size_t batch = 0;
		while (n < VM_IOV_MAX && done + batch < len) {
			size_t chunk = PAGE - (size_t)((a + batch) % PAGE);
			if (chunk > len - done - batch)
				chunk = len - done - batch;
			remote[n].iov_base = (void *)(uintptr_t)(a + batch);
			remote[n].iov_len = chunk;
			batch += chunk;
			n++;
		}
		local.iov_len = batch;
		ssize_t got = process_vm_readv(r->pid, &local, 1, remote, (unsigned long)n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return done ? (ssize_t)done : (got < 0 ? -errno : -EFAULT);
		done += (size_t)got;
		if ((size_t)got < batch)
			break;
	}
	return (ssize_t)done;
}

static ssize_t copy_vmreadv(struct reader *r, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t got;
	do
		got = process_vm_readv(r->pid, &local, 1, &remote, 1, 0);
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)len)
		return got;
	if (got < 0 && errno != EFAULT)
		return -errno;
	return copy_vmreadv_paged(r, addr, buf, len);
}

static ssize_t copy_procmem(struct reader *r, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		/* pread's offset is signed: addresses above 2^63 are not user memory. */
		if (addr + done > (uint64_t)INT64_MAX)
			return done ? (ssize_t)done : -EIO;
		ssize_t got = pread(r->memfd, (char *)buf + done, len - done, (off_t)(addr + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return done ? (ssize_t)done : (got < 0 ? -errno : -EIO);
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/* Each PEEKDATA takes the target's mmap_lock on its own, so a copy behind a
 * writer waits once per word: the deadline is checked before every word (a
 * vDSO clock read beside a system call). */
static ssize_t copy_peek(pid_t tid, uint64_t addr, void *buf, size_t len, uint64_t deadline_ns)
{
	size_t done = 0;
	uint64_t word_addr = addr & ~(uint64_t)7;
	size_t skip = (size_t)(addr - word_addr);
	while (done < len) {
		if (deadline_ns && now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		errno = 0;
		long w = ptrace(PTRACE_PEEKDATA, tid, (void *)(uintptr_t)word_addr, NULL);
		if (errno)
			return done ? (ssize_t)done : -errno;
		size_t n = sizeof(w) - skip;
		if (n > len - done)
			n = len - done;
		memcpy((char *)buf + done, (char *)&w + skip, n);
		done += n;
		skip = 0;
		word_addr += sizeof(w);
	}
	return (ssize_t)done;
}

ssize_t reader_copy(struct reader *r, pid_t tid, uint64_t addr, void *buf, size_t len)
{
	return reader_copy_until(r, tid, addr, buf, len, 0);
}

ssize_t reader_copy_until(struct reader *r, pid_t tid, uint64_t addr, void *buf, size_t len,
			  uint64_t deadline_ns)
{
	if (len == 0)
		return 0;
	switch (r->kind) {
	case READER_VMREADV:
		return copy_vmreadv(r, addr, buf, len);
	case READER_PROCMEM:
		return copy_procmem(r, addr, buf, len);
	case READER_PEEK:
		return copy_peek(tid > 0 ? tid : r->pid, addr, buf, len, deadline_ns);
	default:
		return -EINVAL;
	}
}

void reader_close(struct reader *r)
{
	if (!r)
		return;
	if (r->memfd >= 0)
		close(r->memfd);
	free(r);
}

enum reader_kind reader_kind_of(const struct reader *r)
{
	return r->kind;
}
