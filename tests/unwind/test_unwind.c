/* test_unwind.c — unwind real snapshots of real children (built -O2
 * -fomit-frame-pointer, so only CFI works) and check the chains by naming
 * each PC through the module's ELF symbol table.
 *   test_unwind CHILD LIBMAPSDL CHILD_WITHOUT_EH_FRAME_HDR
 * The snapshots are taken here the way the sampler takes them (seize,
 * interrupt, regs, 64 KiB from rsp, continue): the sampler is another module. */
#include <dirent.h>
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <time.h>
#include "remprof/clock.h"
#include "remprof/maps.h"
#include "remprof/reader.h"
#include "remprof/unwind.h"
#include "../maps/testproc.h"

#define STACK_COPY (64 * 1024)
#define MAXF 512

static const char *child_path, *lib_path, *nohdr_path;

/* ---- snapshots ---- */

static void seize(pid_t tid)
{
	CHECK(ptrace(PTRACE_SEIZE, tid, 0, 0) == 0);
}

/* Stop tid, copy registers and up to 64 KiB of stack, let it run again. */
static void snapshot_take(pid_t pid, pid_t tid, struct snapshot *s)
{
	struct iovec regs = { &s->regs, sizeof(s->regs) }, local, remote;
	int status;
	ssize_t n;

	CHECK(ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0);
	for (;;) {
		CHECK(waitpid(tid, &status, __WALL) == tid);
		CHECK(WIFSTOPPED(status));
		if (status >> 16 == PTRACE_EVENT_STOP)
			break;
		/* A signal-delivery stop: hand the signal on and wait for ours. */
		CHECK(ptrace(PTRACE_CONT, tid, 0, WSTOPSIG(status)) == 0);
	}
	CHECK(ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &regs) == 0);
	s->pid = pid;
	s->tid = tid;
	s->stack_addr = s->regs.rsp;
	local = (struct iovec){ s->stack, STACK_COPY };
	remote = (struct iovec){ (void *)(uintptr_t)s->regs.rsp, STACK_COPY };
	n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	CHECK(ptrace(PTRACE_CONT, tid, 0, 0) == 0);
	CHECK(n > 0);
	s->stack_len = (size_t)n;
	s->partial = n < STACK_COPY;
}

/* ---- a target under test ---- */

struct target {
	pid_t pid;
	int to, from;
	struct reader *r;
	struct maps *m;
	struct unwinder *u;
	struct snapshot s;
	uint64_t pcs[MAXF];
	const char *names[MAXF];
	const char *mods[MAXF];
	int n, flags;
	uint64_t unwind_ns[4096];
	size_t nunwinds;
};

static void target_start(struct target *t, char *const argv[], const char *first_line)
{
	char line[64];

	memset(t, 0, sizeof(*t));
	t->s.stack = malloc(STACK_COPY);
	CHECK(t->s.stack);
	t->pid = child_start(argv, &t->to, &t->from);
	child_read_line(t->from, line, sizeof(line));
	CHECK_EQ_STR(line, first_line);
	CHECK(reader_open(&t->r, t->pid, READER_VMREADV) == 0);
	CHECK(maps_open(&t->m, t->pid, t->r) == 0);
	CHECK(unwinder_open(&t->u, t->m, t->r) == 0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void target_stop(struct target *t, const char *what)
{
	if (t->nunwinds) {
		uint64_t sum = 0;
		for (size_t i = 0; i < t->nunwinds; i++)
			sum += t->unwind_ns[i];
		qsort(t->unwind_ns, t->nunwinds, sizeof(uint64_t), cmp_u64);
		printf("%-10s unwind cost per sample over %zu samples: mean %.1f us, p50 %.1f us, "
		       "p99 %.1f us, max %.1f us (first %.1f us cold)\n", what, t->nunwinds,
		       sum / 1e3 / (double)t->nunwinds, t->unwind_ns[t->nunwinds / 2] / 1e3,
		       t->unwind_ns[t->nunwinds * 99 / 100] / 1e3,
		       t->unwind_ns[t->nunwinds - 1] / 1e3, t->unwind_ns[4095] / 1e3);
	}
	unwinder_close(t->u);
	maps_close(t->m);
	reader_close(t->r);
	child_kill(t->pid);
	free(t->s.stack);
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Snapshot tid, unwind it, and name every frame. */
static void sample(struct target *t, pid_t tid)
{
	uint64_t t0;

	snapshot_take(t->pid, tid, &t->s);
	t0 = now_ns();
	t->n = unwind_snapshot(t->u, &t->s, t->pcs, MAXF, &t->flags);
	if (t->nunwinds < 4095)
		t->unwind_ns[t->nunwinds++] = now_ns() - t0;
	if (t->nunwinds == 1)
		t->unwind_ns[4095] = t->unwind_ns[0];
	CHECK(t->n >= 1 && t->n <= MAXF);
	for (int i = 0; i < t->n; i++) {
		struct module *mod = maps_find_module(t->m, t->pcs[i]);
		t->names[i] = "?";
		t->mods[i] = mod ? basename_of(mod->path) : "?";
		if (mod)
			elf_symbol(mod->elf, t->pcs[i] - mod->bias, &t->names[i], NULL, 1);
	}
}

static void print_chain(const struct target *t)
{
	fprintf(stderr, "  %d frames, flags %#x:", t->n, t->flags);
	for (int i = 0; i < t->n && i < 12; i++)
		fprintf(stderr, " %s(%s)", t->names[i], t->mods[i]);
	fprintf(stderr, "%s\n", t->n > 12 ? " ..." : "");
}

static int frame_index(const struct target *t, const char *name, int from)
{
	for (int i = from; i < t->n; i++)
		if (strcmp(t->names[i], name) == 0)
			return i;
	return -1;
}

static pid_t other_thread(pid_t pid)
{
	char dir[64];
	struct dirent *d;
	pid_t tid = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	dp = opendir(dir);
	CHECK(dp);
	while ((d = readdir(dp)))
		if (atoi(d->d_name) > 0 && atoi(d->d_name) != pid)
			tid = atoi(d->d_name);
	closedir(dp);
	CHECK(tid > 0);
	return tid;
}

/* ---- tests ---- */

/* Whether the executable has a PT_GNU_EH_FRAME (.eh_frame_hdr). */
static int has_eh_frame_hdr(struct target *t)
{
	struct module *mod = maps_find_module(t->m, t->s.regs.rip);
	size_t nph;

	CHECK(mod && elf_getphdrnum(mod->elf, &nph) == 0);
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(mod->elf, (int)i, &ph) && ph.p_type == PT_GNU_EH_FRAME)
			return 1;
	}
	return 0;
}

/* path: the normal child, or one linked --no-eh-frame-hdr (bare .eh_frame). */
static void test_chain(const char *path)
{
	char *argv[] = { (char *)path, "chain", NULL };
	struct target t;
	const char *want[] = { "chain_c", "chain_b", "chain_a", "main" };

	target_start(&t, argv, "ready");
	seize(t.pid);
	usleep(10000);
	for (int k = 0; k < 50; k++) {
		sample(&t, t.pid);
		if (t.n < 5 || (t.flags & (UNWIND_TRUNCATED | UNWIND_LIVE_READ)))
			print_chain(&t);
		CHECK(t.n >= 5);
		for (int i = 0; i < 4; i++)
			CHECK_EQ_STR(t.names[i], want[i]);
		/* Frame 0 is the exact IP, callers are return address - 1. */
		CHECK_EQ_INT(t.pcs[0], t.s.regs.rip);
		CHECK_EQ_STR(t.names[t.n - 1], "_start");   /* the outermost frame */
		CHECK(!(t.flags & UNWIND_TRUNCATED));
		CHECK(!(t.flags & UNWIND_LIVE_READ));        /* stack + file images suffice */
	}
	CHECK_EQ_INT(has_eh_frame_hdr(&t), path != nohdr_path);
	target_stop(&t, path == nohdr_path ? "no-hdr" : "chain");
}

/* hot_leaf, then depth x recurse, then `outer`: the whole recursion. */
static int reaches(const struct target *t, int depth, const char *outer)
{
	int i = 0;

	if (strcmp(t->names[0], "hot_leaf") != 0)
		return 0;
	for (i = 1; i <= depth; i++)
		if (i >= t->n || strcmp(t->names[i], "recurse") != 0)
			return 0;
	return i < t->n && strcmp(t->names[i], outer) == 0 && !(t->flags & UNWIND_TRUNCATED);
}

static void test_recursion(int threaded)
{
	char *argv[] = { (char *)child_path, threaded ? "thread" : "recurse", "160", NULL };
	const char *outer = threaded ? "recurse_thread_start" : "main";
	struct target t;
	int ok = 0, total = 200;
	pid_t tid;

	target_start(&t, argv, "ready");
	tid = threaded ? other_thread(t.pid) : t.pid;
	seize(tid);
	usleep(10000);
	for (int k = 0; k < total; k++) {
		sample(&t, tid);
		if (reaches(&t, 160, outer))
			ok++;
		else
			print_chain(&t);
	}
	printf("%s: %d of %d samples unwound through 160 recursive frames to %s (%d frames)\n",
	       threaded ? "thread" : "recurse", ok, total, outer, t.n);
	CHECK(ok * 100 >= total * 99);
	if (threaded)   /* past the start function into libc's thread start */
		CHECK(strstr(t.mods[t.n - 1], "libc.so") != NULL);
	target_stop(&t, threaded ? "thread" : "recurse");
}

static void test_in_libc(void)
{
	char *argv[] = { (char *)child_path, "memset", NULL };
	struct target t;
	int in_libc = 0, ok = 0;

	target_start(&t, argv, "ready");
	seize(t.pid);
	usleep(10000);
	for (int k = 0; k < 100; k++) {
		int f;
		sample(&t, t.pid);
		if (strstr(t.mods[0], "libc.so") == NULL) {
			if (k < 3) print_chain(&t);
			continue;
		}
		in_libc++;
		f = frame_index(&t, "fill_loop", 1);
		if (f > 0 && f + 1 < t.n && strcmp(t.names[f + 1], "main") == 0 &&
		    !(t.flags & UNWIND_TRUNCATED))
			ok++;
		else
			print_chain(&t);
	}
	printf("libc: %d of %d samples in libc, %d unwound into fill_loop -> main\n", in_libc,
	       100, ok);
	CHECK(in_libc >= 50);
	CHECK(ok * 100 >= in_libc * 99);
	target_stop(&t, "libc");
}

static void test_in_vdso(void)
{
	char *argv[] = { (char *)child_path, "vdso", NULL };
	struct target t;
	int in_vdso = 0, ok = 0;

	target_start(&t, argv, "ready");
	seize(t.pid);
	usleep(10000);
	for (int k = 0; k < 2000 && in_vdso < 30; k++) {
		int f;
		sample(&t, t.pid);
		if (strcmp(t.mods[0], "[vdso]") != 0)
			continue;
		in_vdso++;
		f = frame_index(&t, "clock_loop", 1);
		if (f > 0 && f + 1 < t.n && strcmp(t.names[f + 1], "main") == 0 &&
		    !(t.flags & UNWIND_TRUNCATED))
			ok++;
		else
			print_chain(&t);
	}
	printf("vdso: %d samples in the vDSO, %d unwound out of it into clock_loop -> main\n",
	       in_vdso, ok);
	CHECK(in_vdso >= 10);
	CHECK(ok * 100 >= in_vdso * 99);
	target_stop(&t, "vdso");
}

static void test_dlopen_after_open(void)
{
	char *argv[] = { (char *)child_path, "dlopen", (char *)lib_path, NULL };
	struct target t;
	char line[64];
	unsigned gen;

	target_start(&t, argv, "loading");
	gen = maps_generation(t.m);
	seize(t.pid);
	CHECK(write(t.to, "go\n", 3) == 3);
	child_read_line(t.from, line, sizeof(line));
	CHECK_EQ_STR(line, "ready");
	usleep(10000);
	for (int k = 0; k < 20; k++) {
		sample(&t, t.pid);
		if (t.n < 2 || strcmp(t.names[0], "mapsdl_spin") != 0)
			print_chain(&t);
		CHECK_EQ_STR(t.mods[0], "libmapsdl.so");
		CHECK_EQ_STR(t.names[0], "mapsdl_spin");
		CHECK_EQ_STR(t.names[1], "main");
		CHECK(!(t.flags & UNWIND_TRUNCATED));
	}
	/* Refreshed once for the new library, not per sample. */
	CHECK_EQ_INT(maps_generation(t.m), gen + 1);
	target_stop(&t, "dlopen");
}

/* Through the kernel's signal frame: handler -> trampoline -> interrupted code. */
static void test_signal_frame(void)
{
	char *argv[] = { (char *)child_path, "signal", NULL };
	struct target t;
	char line[64];

	target_start(&t, argv, "armed");
	for (int k = 0; k < 500; k++) {
		struct pollfd p = { .fd = t.from, .events = POLLIN };
		CHECK(kill(t.pid, SIGUSR1) == 0);
		if (poll(&p, 1, 20) == 1)
			break;
	}
	child_read_line(t.from, line, sizeof(line));
	CHECK_EQ_STR(line, "ready");
	seize(t.pid);
	usleep(10000);
	for (int k = 0; k < 20; k++) {
		sample(&t, t.pid);
		if (t.n < 4 || strcmp(t.names[2], "sig_loop") != 0)
			print_chain(&t);
		CHECK(t.n >= 4);
		CHECK_EQ_STR(t.names[0], "sig_handler");
		CHECK(strstr(t.mods[1], "libc.so") != NULL);   /* __restore_rt */
		CHECK_EQ_STR(t.names[2], "sig_loop");
		CHECK_EQ_STR(t.names[3], "main");
		CHECK(!(t.flags & UNWIND_TRUNCATED));
	}
	target_stop(&t, "signal");
}

int main(int argc, char **argv)
{
	CHECK(argc == 4);
	child_path = argv[1];
	lib_path = argv[2];
	nohdr_path = argv[3];
	CHECK(elf_version(EV_CURRENT) != EV_NONE);
	test_chain(child_path);
	test_chain(nohdr_path);
	test_recursion(0);
	test_recursion(1);
	test_in_libc();
	test_in_vdso();
	test_dlopen_after_open();
	test_signal_frame();
	printf("unwind: all passed\n");
	return 0;
}
