/* SPDX-License-Identifier: GPL-2.0 */
/* remprof kernel lab: small helpers shared by the guest programs. */
#ifndef LAB_COMMON_H
#define LAB_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	_exit(2);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v in place; pct in [0, 100]. */
static inline double percentile(double *v, size_t n, double pct)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(pct / 100.0 * (n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

enum reader { R_PROCMEM, R_VMREADV, R_PEEK };

static inline const char *reader_name(enum reader r)
{
	return r == R_PROCMEM ? "procmem" : r == R_VMREADV ? "vmreadv" : "peek";
}

static inline int reader_parse(const char *s)
{
	if (!strcmp(s, "procmem"))
		return R_PROCMEM;
	if (!strcmp(s, "vmreadv"))
		return R_VMREADV;
	if (!strcmp(s, "peek"))
		return R_PEEK;
	return -1;
}

/*
 * Copy len bytes at addr of thread tid into buf with the given reader.
 * memfd is an open /proc/PID/mem for R_PROCMEM. PEEK needs a ptrace-stopped
 * tid. Returns the number of bytes copied, or -1.
 */
static inline ssize_t reader_copy(enum reader r, pid_t tid, int memfd,
				  uint64_t addr, void *buf, size_t len)
{
	switch (r) {
	case R_PROCMEM:
		return pread(memfd, buf, len, addr);
	case R_VMREADV: {
		struct iovec l = { buf, len }, rv = { (void *)addr, len };

		return process_vm_readv(tid, &l, 1, &rv, 1, 0);
	}
	case R_PEEK:
		for (size_t off = 0; off + sizeof(long) <= len; off += sizeof(long)) {
			long w;

			errno = 0;
			w = ptrace(PTRACE_PEEKDATA, tid, (void *)(addr + off), NULL);
			if (w == -1 && errno)
				return off ? (ssize_t)off : -1;
			memcpy((char *)buf + off, &w, sizeof(w));
		}
		return len;
	}
	return -1;
}

#endif
