// SPDX-License-Identifier: GPL-2.0
/*
 * remprof kernel lab, guest program (a): /proc/PID/mem correctness stress.
 *
 * A target process keeps NREG regions of REGPAGES pages. Each region has two
 * slots (its home address and home + SLOTOFF); it lives in one of them. Every
 * 8-byte word of a region holds pat(A), where A is the address the word was
 * written at: (A << 16) | hash16(A). The target loops over the regions doing,
 * at random:
 *   - munmap + mmap MAP_FIXED + refill (fresh zero pages, then the pattern)
 *   - mremap the region to its other slot (the content keeps pat(old A))
 *   - mprotect a page range PROT_READ or PROT_NONE and back (split, merge)
 *   - MADV_DONTNEED a page range (zeros), later refilled
 *   - refill the whole region with the pattern of its current slot
 * The reader (this process) preads /proc/TARGET/mem at random word-aligned
 * offsets and lengths (crossing page and VMA boundaries) and checks every
 * word it gets back. At address A a word may only be:
 *   0, pat(A), or pat(partner(A)) where partner() is the same offset in the
 *   other slot of the same region (content moved by mremap).
 * or, for a word the target rewrote during the copy, a byte-wise mix of
 * those (counted as torn). Anything else (a bad hash, another page's pattern,
 * bytes of another process) is a violation. Errors (EIO after munmap) and short reads are
 * counted, not violations.
 *
 * Output: one JSON line on stdout. Exit status 0 iff violations == 0.
 *
 * Usage: stress [SECONDS] [READERS]
 * STRESS_INJECT=1 in the environment makes the target plant wrong words, to
 * check that the checker catches them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define NREG		4
#define REGPAGES	32
#define REGSZ		(REGPAGES * PAGE)
#define BASE		0x200000000000UL	/* 32 TiB, far from everything */
#define REGSTRIDE	0x40000000UL		/* 1 GiB between regions */
#define SLOTOFF		0x10000000UL		/* 256 MiB between the two slots */
#define MAXREAD		(3 * PAGE)

static uint64_t hash16(uint64_t a)
{
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdULL;
	a ^= a >> 29;
	return (a & 0xffff) | 1;	/* never 0, so pat() != 0 */
}

static uint64_t pat(uint64_t a)
{
	return (a << 16) | hash16(a);
}

static uint64_t slot_addr(int r, int s)
{
	return BASE + r * REGSTRIDE + s * SLOTOFF;
}

static uint64_t rnd_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void fill(uint64_t start, uint64_t len)
{
	for (uint64_t a = start; a < start + len; a += 8)
		*(volatile uint64_t *)a = pat(a);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct opcount {
	unsigned long remap, mremap, mprotect, dontneed, refill;
};

static void die(const char *what)
{
	perror(what);
	_exit(2);
}

/* The target: mutate the regions until killed (or until the parent dies). */
static struct opcount *ops;	/* shared with the reader */

static void target(int readyfd)
{
	int slot[NREG];
	struct opcount *oc = ops;
	int inject = getenv("STRESS_INJECT") != NULL;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int r = 0; r < NREG; r++) {
		uint64_t a = slot_addr(r, 0);

		if (mmap((void *)a, REGSZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)a)
			die("mmap");
		fill(a, REGSZ);
		slot[r] = 0;
	}
	if (write(readyfd, "r", 1) != 1)
		die("write");
	close(readyfd);

	for (;;) {
		int r = rnd() % NREG;
		uint64_t a = slot_addr(r, slot[r]);
		uint64_t pg = rnd() % REGPAGES;
		uint64_t np = 1 + rnd() % (REGPAGES - pg);

		switch (rnd() % 8) {
		case 0:	/* unmap, map anew (zero-filled), refill */
			if (munmap((void *)a, REGSZ))
				die("munmap");
			if (mmap((void *)a, REGSZ, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != (void *)a)
				die("mmap fixed");
			fill(a, REGSZ);
			oc->remap++;
			break;
		case 1: { /* move to the other slot (content keeps pat(old)) */
			uint64_t b = slot_addr(r, !slot[r]);

			if (mremap((void *)a, REGSZ, REGSZ,
				   MREMAP_MAYMOVE | MREMAP_FIXED, (void *)b) != (void *)b)
				die("mremap");
			slot[r] = !slot[r];
			oc->mremap++;
			break;
		}
		case 2:	/* split a read-only range out, merge it back */
		case 3: {
			int prot = (rnd() & 1) ? PROT_READ : PROT_NONE;

			if (mprotect((void *)(a + pg * PAGE), np * PAGE, prot))
				die("mprotect");
			sched_yield();
			if (mprotect((void *)(a + pg * PAGE), np * PAGE,
				     PROT_READ | PROT_WRITE))
				die("mprotect back");
			oc->mprotect++;
			break;
		}
		case 4:
		case 5:	/* zap, sometimes refill right away */
			if (madvise((void *)(a + pg * PAGE), np * PAGE, MADV_DONTNEED))
				die("madvise");
			if (rnd() & 1)
				fill(a + pg * PAGE, np * PAGE);
			oc->dontneed++;
			break;
		default: /* rewrite with this slot's own pattern */
			fill(a + pg * PAGE, np * PAGE);
			if (inject)	/* checker self-test: a foreign word */
				*(volatile uint64_t *)(a + pg * PAGE) = pat(a + 8);
			oc->refill++;
			break;
		}
	}
}

static uint64_t partner(uint64_t a)
{
	uint64_t off = (a - BASE) % REGSTRIDE;

	return off >= SLOTOFF ? a - SLOTOFF : a + SLOTOFF;
}

/* Is v a legal value for the word at address a? */
static int legal(uint64_t a, uint64_t v)
{
	return v == 0 || v == pat(a) || v == pat(partner(a));
}

/*
 * The kernel copies with memcpy(), which is not atomic per word (under QEMU
 * TCG rep movsb goes byte by byte), so a word the target rewrites while we
 * read it can come back torn: some bytes old, some new. That is a legal
 * outcome of a racing read as long as every byte is that byte of a legal
 * value; a stale or foreign page would not pass this.
 */
static int legal_bytes(uint64_t a, uint64_t v)
{
	uint64_t c[3] = { 0, pat(a), pat(partner(a)) };

	for (int i = 0; i < 64; i += 8) {
		uint64_t b = (v >> i) & 0xff;

		if (b != ((c[0] >> i) & 0xff) && b != ((c[1] >> i) & 0xff) &&
		    b != ((c[2] >> i) & 0xff))
			return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 10;
	int readers = argc > 2 ? atoi(argv[2]) : 1;
	unsigned long reads = 0, bytes = 0, words = 0, errs = 0, shorts = 0;
	unsigned long zeros = 0, moved = 0, torn = 0, viol = 0;
	int pfd[2], rfd[2];
	char path[64], c;
	pid_t pid;
	int fd;

	ops = mmap(NULL, sizeof(*ops), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ops == MAP_FAILED)
		die("mmap ops");
	if (pipe(pfd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(pfd[0]);
		target(pfd[1]);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		die("target did not start");

	/* Reader processes beyond the first share the work; report via pipe. */
	if (pipe(rfd))
		die("pipe");
	for (int i = 0; i < readers; i++) {
		pid_t rp = i ? fork() : 0;

		if (rp < 0)
			die("fork reader");
		if (rp > 0)
			continue;
		rnd_state ^= (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL;
		snprintf(path, sizeof(path), "/proc/%d/mem", pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			die(path);

		static uint64_t buf[MAXREAD / 8];
		double end = now() + secs;
		unsigned long first_viol_printed = 0;

		while (now() < end) {
			for (int k = 0; k < 64; k++) {
				int r = rnd() % NREG, s = rnd() & 1;
				uint64_t a = slot_addr(r, s) + (rnd() % (REGSZ / 8)) * 8;
				size_t len = 8 * (1 + rnd() % (MAXREAD / 8));
				ssize_t n;

				if (a + len > slot_addr(r, s) + REGSZ)
					len = slot_addr(r, s) + REGSZ - a;
				n = pread(fd, buf, len, a);
				reads++;
				if (n < 0) {
					errs++;
					continue;
				}
				if ((size_t)n < len)
					shorts++;
				bytes += n;
				for (ssize_t w = 0; w < n / 8; w++) {
					uint64_t wa = a + w * 8, v = buf[w];

					words++;
					if (v == 0) {
						zeros++;
					} else if (v != pat(wa)) {
						if (legal(wa, v)) {
							moved++;
						} else if (legal_bytes(wa, v)) {
							torn++;
						} else {
							viol++;
							if (first_viol_printed++ < 5)
								fprintf(stderr,
									"VIOLATION at %#lx: %#lx (pat %#lx)\n",
									(unsigned long)wa,
									(unsigned long)v,
									(unsigned long)pat(wa));
						}
					}
				}
			}
		}
		if (i) {
			unsigned long v[9] = {reads, bytes, words, errs, shorts,
					      zeros, moved, viol, torn};

			if (write(rfd[1], v, sizeof(v)) != sizeof(v))
				die("write");
			_exit(0);
		}
	}
	for (int i = 1; i < readers; i++) {
		unsigned long v[9];

		if (read(rfd[0], v, sizeof(v)) != sizeof(v))
			die("read reader result");
		reads += v[0]; bytes += v[1]; words += v[2]; errs += v[3];
		shorts += v[4]; zeros += v[5]; moved += v[6]; viol += v[7];
		torn += v[8];
	}
	kill(pid, SIGKILL);
	while (wait(NULL) > 0)
		;
	printf("{\"test\":\"stress\",\"seconds\":%.1f,\"readers\":%d,\"reads\":%lu,"
	       "\"bytes\":%lu,\"words_checked\":%lu,\"read_errors\":%lu,"
	       "\"short_reads\":%lu,\"zero_words\":%lu,\"moved_words\":%lu,"
	       "\"torn_words\":%lu,\"violations\":%lu,\"target_ops\":{\"remap\":%lu,\"mremap\":%lu,"
	       "\"mprotect\":%lu,\"dontneed\":%lu,\"refill\":%lu}}\n",
	       secs, readers, reads, bytes, words, errs, shorts, zeros, moved,
	       torn, viol, ops->remap, ops->mremap, ops->mprotect, ops->dontneed,
	       ops->refill);
	return viol ? 1 : 0;
}
