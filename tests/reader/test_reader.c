/* test_reader — every reader kind against a real child: known bytes, a short
 * read that ends at the end of a mapping, and an unmapped address. */
#include "remprof/reader.h"
#include "remprof/clock.h"
#include "../check.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

struct layout {
	uint64_t data;     /* 3 pages of pattern; the page after them is unmapped */
	uint64_t unmapped; /* a page that is not mapped */
};

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + 3);
}

/* The child maps 4 pages, fills the first 3 with a pattern, unmaps the 4th and
 * reports the addresses, then sleeps until killed. */
static pid_t start_child(struct layout *l)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		uint8_t *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(1);
		for (uint64_t i = 0; i < 3 * PAGE; i++)
			m[i] = pattern(i);
		munmap(m + 3 * PAGE, PAGE);
		struct layout mine = { (uint64_t)(uintptr_t)m, (uint64_t)(uintptr_t)(m + 3 * PAGE) };
		if (write(p[1], &mine, sizeof(mine)) != sizeof(mine))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	CHECK(read(p[0], l, sizeof(*l)) == sizeof(*l));
	close(p[0]);
	return pid;
}

static void check_kind(pid_t pid, enum reader_kind kind, const struct layout *l)
{
	struct reader *r;
	CHECK_EQ_INT(reader_open(&r, pid, kind), 0);
	static uint8_t buf[4 * PAGE];

	/* Known bytes, unaligned start and length. */
	ssize_t n = reader_copy(r, pid, l->data + 5, buf, 2 * PAGE + 11);
	CHECK_EQ_INT(n, 2 * PAGE + 11);
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] != pattern((uint64_t)i + 5)) {
			fprintf(stderr, "%s: byte %zd differs\n", reader_name(kind), i);
			exit(1);
		}

	/* Across the end of the mapping: a short read, not an error. */
	n = reader_copy(r, pid, l->data + 2 * PAGE + 100, buf, 2 * PAGE);
	CHECK_EQ_INT(n, PAGE - 100);
	CHECK_EQ_INT(buf[0], pattern(2 * PAGE + 100));
	CHECK_EQ_INT(buf[n - 1], pattern(3 * PAGE - 1));

	/* Nothing readable: -errno. */
	n = reader_copy(r, pid, l->unmapped, buf, 64);
	CHECK(n < 0);
	n = reader_copy(r, pid, 0, buf, 64);
	CHECK(n < 0);

	/* A deadline already past: peek gives up before its first word; the
	 * one-call kinds cannot give up and copy all of it. */
	n = reader_copy_until(r, pid, l->data, buf, PAGE, now_ns() - 1);
	CHECK_EQ_INT(n, kind == READER_PEEK ? -ETIMEDOUT : PAGE);
	n = reader_copy_until(r, pid, l->data, buf, PAGE, now_ns() + 60000000000ull);
	CHECK_EQ_INT(n, PAGE);
	CHECK_EQ_INT(buf[PAGE - 1], pattern(PAGE - 1));
	reader_close(r);
}

int main(void)
{
	CHECK_EQ_STR(reader_name(READER_PROCMEM), "procmem");
	CHECK_EQ_INT(reader_parse("vmreadv"), READER_VMREADV);
	CHECK_EQ_INT(reader_parse("peek"), READER_PEEK);
	CHECK_EQ_INT(reader_parse("bogus"), -1);

	struct layout l;
	pid_t pid = start_child(&l);

	check_kind(pid, READER_VMREADV, &l);
	check_kind(pid, READER_PROCMEM, &l);

	struct reader *r;
	CHECK_EQ_INT(reader_open(&r, pid, READER_AUTO), 0);
	CHECK_EQ_INT(reader_kind_of(r), READER_VMREADV);
	reader_close(r);

	/* PEEKDATA needs a stopped tracee. */
	CHECK(ptrace(PTRACE_SEIZE, pid, 0, 0) == 0);
	CHECK(ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0);
	int st;
	CHECK(waitpid(pid, &st, __WALL) == pid);
	CHECK(WIFSTOPPED(st));
	check_kind(pid, READER_PEEK, &l);
	CHECK(ptrace(PTRACE_DETACH, pid, 0, 0) == 0);

	CHECK_EQ_INT(reader_open(&r, 999999999, READER_PROCMEM), -ENOENT);

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 0;
}
