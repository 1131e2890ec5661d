// SPDX-License-Identifier: GPL-2.0
/*
 * remprof kernel lab, guest program (b): count the mmap_lock acquisitions
 * that a remote read takes on the target's mm, per reader.
 *
 * A target process maps and fills a 64 KiB region and is then stopped with
 * PTRACE_SEIZE + PTRACE_INTERRUPT (as a sampler would stop it). With the
 * mmap_lock tracepoints enabled in tracefs, this program reads the region
 * with each reader (pread of /proc/PID/mem, process_vm_readv,
 * PTRACE_PEEKDATA word by word) and counts the mmap_lock_start_locking and
 * mmap_lock_acquire_returned events whose mm is the target's. The target's
 * mm (printed as a hashed pointer) is learnt first from an mprotect() the
 * target does itself while tracing. Only acquisitions made by this process
 * (the reader) count as the reader's; others on the same mm are reported
 * apart.
 *
 * Output: one JSON line per reader. Usage: lockcount [READS] [BYTES]
 * Needs tracefs at /sys/kernel/tracing (or $TRACEFS).
 */
#include "common.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static const char *tracefs = "/sys/kernel/tracing";

static void tfs_write(const char *file, const char *val)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tracefs, file);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		die(path);
	if (write(fd, val, strlen(val)) < 0)
		die(path);
	close(fd);
}

struct counts {
	unsigned long start, acquired, failed, released, other_mm;
	unsigned long acquired_other_pid;	/* on the target mm, not by us */
	unsigned long in_buffer, written;
};

/*
 * Parse the trace buffer. If *mm is empty, learn it from the first event of
 * task want_pid. Count the events on mm.
 */
static void parse_trace(char *mm, size_t mmsz, int want_pid, struct counts *c)
{
	char path[256], line[1024];
	FILE *f;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/trace", tracefs);
	f = fopen(path, "r");
	if (!f)
		die(path);
	while (fgets(line, sizeof(line), f)) {
		char *ev, *m, *br, *dash;
		char tok[64];
		int pid;

		if (line[0] == '#') {
			sscanf(line, "# entries-in-buffer/entries-written: %lu/%lu",
			       &c->in_buffer, &c->written);
			continue;
		}
		ev = strstr(line, "mmap_lock_");
		m = strstr(line, " mm=");
		br = strstr(line, " [");
		if (!ev || !m || !br)
			continue;
		*br = 0;
		dash = strrchr(line, '-');
		pid = dash ? atoi(dash + 1) : -1;
		if (sscanf(m + 4, "%63s", tok) != 1)
			continue;
		/*
	 * Hashed pointers print as "(____ptrval____)" until the kernel has
	 * entropy, which a TCG guest may never get: boot with no_hash_pointers.
	 */
	if (strstr(mm, "ptrval"))
		fprintf(stderr, "lockcount: mm pointers are not printed (boot with no_hash_pointers); counts include the reader's own mm\n");
	if (!mm[0]) {
			if (pid == want_pid)
				snprintf(mm, mmsz, "%s", tok);
			else
				continue;
		}
		if (strcmp(tok, mm)) {
			c->other_mm++;
			continue;
		}
		if (getenv("LOCKCOUNT_DUMP"))
			fprintf(stderr, "trace: %s] %s", line, br + 1);
		if (!strncmp(ev, "mmap_lock_start_locking", 23))
			c->start++;
		else if (!strncmp(ev, "mmap_lock_acquire_returned", 26)) {
			if (!strstr(ev, "success=true"))
				c->failed++;
			else if (pid == getpid())
				c->acquired++;
			else
				c->acquired_other_pid++;
		} else if (!strncmp(ev, "mmap_lock_released", 18))
			c->released++;
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	int nreads = argc > 1 ? atoi(argv[1]) : 20;
	size_t len = argc > 2 ? strtoul(argv[2], NULL, 0) : 16384;
	size_t regsz = 65536;
	int ready[2], cmd[2], st;
	char path[64], mm[64] = "", c;
	struct counts cnt;
	uint64_t region;
	pid_t pid;
	int memfd;
	char *buf;

	if (getenv("TRACEFS"))
		tracefs = getenv("TRACEFS");
	if (len > regsz)
		len = regsz;
	buf = malloc(len);
	memset(buf, 0, len);	/* fault our own buffer in before tracing */
	if (pipe(ready) || pipe(cmd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char *r = mmap(NULL, regsz, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (r == MAP_FAILED)
			die("mmap");
		memset(r, 0x5a, regsz);
		region = (uint64_t)r;
		if (write(ready[1], &region, sizeof(region)) != sizeof(region))
			die("write");
		if (read(cmd[0], &c, 1) != 1)
			_exit(0);
		if (mprotect(r, 4096, PROT_READ | PROT_WRITE))
			die("mprotect");
		if (write(ready[1], "k", 1) != 1)
			die("write");
		for (;;)
			pause();
	}
	if (read(ready[0], &region, sizeof(region)) != sizeof(region))
		die("target did not start");

	tfs_write("tracing_on", "0");
	tfs_write("buffer_size_kb", "16384");
	tfs_write("events/mmap_lock/enable", "1");
	tfs_write("trace", "");
	tfs_write("tracing_on", "1");
	if (write(cmd[1], "m", 1) != 1 || read(ready[0], &c, 1) != 1)
		die("target mprotect");
	tfs_write("tracing_on", "0");
	parse_trace(mm, sizeof(mm), pid, &cnt);
	/*
	 * Hashed pointers print as "(____ptrval____)" until the kernel has
	 * entropy, which a TCG guest may never get: boot with no_hash_pointers.
	 */
	if (strstr(mm, "ptrval"))
		fprintf(stderr, "lockcount: mm pointers are not printed (boot with no_hash_pointers); counts include the reader's own mm\n");
	if (!mm[0]) {
		fprintf(stderr, "lockcount: no mmap_lock event from the target; tracepoints missing?\n");
		kill(pid, SIGKILL);
		printf("{\"test\":\"lockcount\",\"error\":\"no mmap_lock events\"}\n");
		return 3;
	}

	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) ||
	    ptrace(PTRACE_INTERRUPT, pid, NULL, NULL))
		die("ptrace seize/interrupt");
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st))
		die("waitpid");

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	memfd = open(path, O_RDONLY);
	if (memfd < 0)
		die(path);

	for (int r = R_PROCMEM; r <= R_PEEK; r++) {
		unsigned long bad = 0, pages = 0;
		double t0, t1;

		tfs_write("trace", "");
		tfs_write("tracing_on", "1");
		t0 = now_us();
		for (int i = 0; i < nreads; i++) {
			/* a different page-aligned window each time */
			uint64_t a = region +
				(i % ((regsz - len) / 4096 + 1)) * 4096UL;

			if (reader_copy(r, pid, memfd, a, buf, len) != (ssize_t)len)
				bad++;
			else if ((unsigned char)buf[0] != 0x5a ||
				 (unsigned char)buf[len - 1] != 0x5a)
				bad++;
		}
		t1 = now_us();
		tfs_write("tracing_on", "0");
		parse_trace(mm, sizeof(mm), pid, &cnt);
		pages = (len + 4095) / 4096;
		printf("{\"test\":\"lockcount\",\"reader\":\"%s\",\"reads\":%d,"
		       "\"bytes_per_read\":%zu,\"bad_reads\":%lu,"
		       "\"start_locking\":%lu,\"acquired\":%lu,\"acquire_failed\":%lu,"
		       "\"released\":%lu,\"acq_per_read\":%.3f,\"acq_per_page\":%.3f,"
		       "\"acq_per_word\":%.4f,\"acquired_by_other_tasks\":%lu,"
		       "\"other_mm_events\":%lu,"
		       "\"trace_lost\":%lu,\"us_per_read\":%.1f,\"target_mm\":\"%s\"}\n",
		       reader_name(r), nreads, len, bad, cnt.start, cnt.acquired,
		       cnt.failed, cnt.released, (double)cnt.acquired / nreads,
		       (double)cnt.acquired / (nreads * pages),
		       (double)cnt.acquired / (nreads * (len / sizeof(long))),
		       cnt.acquired_other_pid, cnt.other_mm, cnt.written - cnt.in_buffer,
		       (t1 - t0) / nreads, mm);
		fflush(stdout);
	}
	tfs_write("events/mmap_lock/enable", "0");
	tfs_write("trace", "");
	kill(pid, SIGKILL);
	waitpid(pid, &st, __WALL);
	return 0;
}
