/* child.h — run a test workload as a real child process for the symbols
 * tests: its stdout is read line by line, its stdin is the "go on" channel,
 * and closing stdin makes it exit (also when the test dies on a CHECK). */
#ifndef REMPROF_TESTS_SYMBOLS_CHILD_H
#define REMPROF_TESTS_SYMBOLS_CHILD_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"

struct child {
	pid_t pid;
	int in;     /* the child's stdin */
	FILE *out;  /* the child's stdout */
};

static inline void child_start(struct child *c, char *const argv[])
{
	int in[2], out[2];
	CHECK(pipe(in) == 0 && pipe(out) == 0);
	c->pid = fork();
	CHECK(c->pid >= 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	c->out = fdopen(out[0], "r");
	CHECK(c->out != NULL);
}

/* The next line the child prints; the test fails if it exits instead. */
static inline void child_line(struct child *c, char *buf, size_t len)
{
	CHECK(fgets(buf, (int)len, c->out) != NULL);
}

static inline void child_poke(struct child *c)
{
	CHECK(write(c->in, "x", 1) == 1);
}

static inline void child_stop(struct child *c)
{
	int status;
	close(c->in);
	fclose(c->out);
	CHECK(waitpid(c->pid, &status, 0) == c->pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The hex value after "key=" in line. */
static inline uint64_t field(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "%s=", key);
	const char *p = strstr(line, pat);
	CHECK(p != NULL);
	return strtoull(p + strlen(pat), NULL, 16);
}

#endif
