/* testproc.h — what the maps and unwind tests share: starting a real child
 * workload with pipes, reading its lines, and naming addresses through the
 * ELF symbol tables of the modules maps found (libelf, not the symbolizer:
 * these tests must not depend on another module). */
#ifndef REMPROF_TESTS_TESTPROC_H
#define REMPROF_TESTS_TESTPROC_H

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"

/* fork + exec argv with the child's stdin/stdout on pipes. */
static inline pid_t child_start(char *const argv[], int *to_child, int *from_child)
{
	int in[2], out[2];
	pid_t pid;

	CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* no orphan spinning on if the test dies */
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to_child = in[1];
	*from_child = out[0];
	return pid;
}

/* One line from the child (without the newline); fails the test after 10 s. */
static inline void child_read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;
		CHECK(poll(&p, 1, 10000) == 1);
		CHECK(read(fd, &c, 1) == 1);
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
}

/* Also reaps traced threads: while we trace a thread of pid, its exit is
 * reported to us, and the leader is not reapable until we have waited for it. */
static inline void child_kill(pid_t pid)
{
	pid_t w;

	kill(pid, SIGKILL);
	while ((w = waitpid(-1, NULL, __WALL)) != pid)
		CHECK(w > 0 || errno == EINTR);
}

/* Look a symbol up in .symtab, then .dynsym. by_addr: the FUNC/OBJECT
 * containing vaddr (name into *name); otherwise the value of *name. */
static inline int elf_symbol(Elf *elf, uint64_t vaddr, const char **name, uint64_t *value,
			     int by_addr)
{
	for (int pass = 0; pass < 2; pass++) {
		Elf_Scn *scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *d;
			if (!gelf_getshdr(scn, &sh) ||
			    sh.sh_type != (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM))
				continue;
			d = elf_getdata(scn, NULL);
			for (size_t i = 0; d && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Sym s;
				const char *nm;
				if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF)
					continue;
				nm = elf_strptr(elf, sh.sh_link, s.st_name);
				if (!nm || !*nm)
					continue;
				if (by_addr && GELF_ST_TYPE(s.st_info) == STT_FUNC &&
				    vaddr >= s.st_value && vaddr < s.st_value + (s.st_size ? s.st_size : 1)) {
					*name = nm;
					return 0;
				}
				if (!by_addr && strcmp(nm, *name) == 0) {
					*value = s.st_value;
					return 0;
				}
			}
		}
	}
	return -ENOENT;
}

#endif
