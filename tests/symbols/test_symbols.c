/* test_symbols — the symbolizer against real children (the workloads in tests/symbols/,
 * built -O2 -g without frame pointers), their modules from the maps module,
 * checked against binutils addr2line and c++filt run as subprocesses.
 *
 * usage: test_symbols CASE BUILDDIR   (cases: see main) */
#include <errno.h>
#include <inttypes.h>
#include <dirent.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "child.h"
#include "remprof/maps.h"
#include "remprof/reader.h"
#include "remprof/symbols.h"
#include "../../src/symbols/symbols_internal.h"

static const char *builddir;

struct target {
	struct child c;
	struct reader *r;
	struct maps *m;
	struct symbolizer *s;
	char line[512];
};

static void target_open(struct target *t, char *const argv[])
{
	child_start(&t->c, argv);
	child_line(&t->c, t->line, sizeof(t->line));
	CHECK(reader_open(&t->r, t->c.pid, READER_VMREADV) == 0);
	CHECK(maps_open(&t->m, t->c.pid, t->r) == 0);
	CHECK(symbolizer_open(&t->s, t->m) == 0);
}

static void target_close(struct target *t)
{
	symbolizer_close(t->s);
	maps_close(t->m);
	reader_close(t->r);
	child_stop(&t->c);
}

static char *path_in_build(const char *name)
{
	static char buf[8][4096];
	static int i;
	char *p = buf[i++ % 8];
	snprintf(p, sizeof(buf[0]), "%s/%s", builddir, name);
	return p;
}

static const char *base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p;
}

static const char *tool(const char *env, const char *dflt)
{
	const char *t = getenv(env);
	return t && *t ? t : dflt;
}

static void run(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "command failed: %s\n", cmd);
		exit(1);
	}
}

static void print_frames(uint64_t addr, const struct frame_info *f, int n)
{
	fprintf(stderr, "  0x%" PRIx64 ":\n", addr);
	for (int i = 0; i < n; i++)
		fprintf(stderr, "    %s%s (%s) %s:%d\n", f[i].inlined ? "[inl] " : "", f[i].function,
			f[i].module, f[i].file ? f[i].file : "-", f[i].line);
}

static const char *outermost(struct symbolizer *s, uint64_t addr)
{
	const struct frame_info *f;
	int n = symbolizer_lookup(s, addr, &f);
	CHECK(n >= 1);
	return f[n - 1].function;
}

/* Lookup addresses from fn's entry on, as long as they stay inside fn. */
static int scan_function(struct symbolizer *s, uint64_t fn, const char *name, uint64_t *addrs,
			 int max)
{
	int n = 0;
	for (uint64_t a = fn; n < max && strcmp(outermost(s, a), name) == 0; a++)
		addrs[n++] = a;
	CHECK(n > 4);
	return n;
}

/* ---- addr2line ------------------------------------------------------- */

struct a2l_frame {
	char function[1024];
	char file[1024];
	int line;
};

/* "file:line", "file:line (discriminator N)" (binutils), "file:line:col"
 * (elfutils), "??:0", "file:?". */
static void parse_pos(const char *s, struct a2l_frame *f)
{
	snprintf(f->file, sizeof(f->file), "%s", s);
	char *d = strstr(f->file, " (discriminator");
	if (d)
		*d = 0;
	f->line = 0;
	for (int i = 0; i < 2; i++) {
		char *colon = strrchr(f->file, ':');
		if (!colon || !colon[1] || strspn(colon + 1, "0123456789?") != strlen(colon + 1))
			break;
		f->line = atoi(colon + 1); /* the second round (elfutils) is the line */
		*colon = 0;
	}
}

/* Compare every address with `addr2line -a -f -i -C -e bin` (one run of
 * binutils' ADDR2LINE or, with eu, elfutils' EU_ADDR2LINE, which prints an
 * inlined function as "NAME inlined at FILE:LINE:COL in OUTER"). */
static void compare_addr2line(struct symbolizer *s, const char *bin, uint64_t bias,
			      const uint64_t *addrs, int n, int eu)
{
	size_t cap = 256 + (size_t)n * 24;
	char *cmd = malloc(cap);
	CHECK(cmd);
	int len = snprintf(cmd, cap, "%s -a -f -i -C -e '%s'",
			   eu ? tool("EU_ADDR2LINE", "eu-addr2line") : tool("ADDR2LINE", "addr2line"), bin);
	for (int i = 0; i < n; i++)
		len += snprintf(cmd + len, cap - (size_t)len, " 0x%" PRIx64, addrs[i] - bias);
	FILE *p = popen(cmd, "r");
	CHECK(p);
	char fn[1024], pos[1024];
	CHECK(fgets(fn, sizeof(fn), p) && strncmp(fn, "0x", 2) == 0);
	int mismatches = 0;
	for (int i = 0; i < n; i++) {
		struct a2l_frame want[64];
		int nw = 0;
		/* the record ends at the next "0x..." address line or at EOF */
		while (fgets(fn, sizeof(fn), p) && strncmp(fn, "0x", 2) != 0) {
			CHECK(fgets(pos, sizeof(pos), p));
			fn[strcspn(fn, "\n")] = 0;
			pos[strcspn(pos, "\n")] = 0;
			char *at = strstr(fn, " inlined at ");
			if (at)
				*at = 0;
			CHECK(nw < 64);
			snprintf(want[nw].function, sizeof(want[nw].function), "%s", fn);
			parse_pos(pos, &want[nw]);
			nw++;
		}
		const struct frame_info *f;
		int nf = symbolizer_lookup(s, addrs[i], &f);
		int same = nf == nw;
		for (int k = 0; same && k < nf; k++)
			same = strcmp(f[k].function, want[k].function) == 0 &&
			       f[k].inlined == (k < nf - 1) && f[k].file &&
			       strcmp(f[k].file, want[k].file) == 0 &&
			       f[k].line == want[k].line;
		if (!same) {
			if (mismatches++ < 5) {
				fprintf(stderr, "mismatch with %s at 0x%" PRIx64 ":\n",
					eu ? "eu-addr2line" : "addr2line", addrs[i] - bias);
				for (int k = 0; k < nw; k++)
					fprintf(stderr, "  want %s %s:%d\n", want[k].function,
						want[k].file, want[k].line);
				print_frames(addrs[i], f, nf);
			}
		}
	}
	pclose(p);
	free(cmd);
	printf("%d addresses compared with %s, %d mismatches\n", n, eu ? "eu-addr2line" : "addr2line",
	       mismatches);
	CHECK_EQ_INT(mismatches, 0);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	CHECK(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- cases ----------------------------------------------------------- */

static char *c_child_argv[] = { NULL, NULL };

static void start_c_child(struct target *t)
{
	c_child_argv[0] = path_in_build("sym_child");
	target_open(t, c_child_argv);
}

/* Known functions by name, with their source file; an address outside every
 * module; the pid hook agrees with the maps-driven symbolizer. */
static void case_names(void)
{
	struct target t;
	start_c_child(&t);
	int fds = count_fds();
	struct symbolizer *again;
	CHECK(symbolizer_open(&again, t.m) == 0);
	CHECK(strcmp(outermost(again, field(t.line, "leaf")), "leaf_sum") == 0);
	symbolizer_close(again);
	CHECK_EQ_INT(count_fds(), fds); /* libdwfl closed the module files it was given */
	uint64_t leaf = field(t.line, "leaf"), outer = field(t.line, "outer");
	const struct frame_info *f;
	int n = symbolizer_lookup(t.s, leaf + 4, &f);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_STR(f[0].function, "leaf_sum");
	CHECK_EQ_STR(f[0].module, "sym_child");
	CHECK_EQ_STR(base_name(f[0].file), "sym_child.c");
	CHECK(f[0].line > 0 && !f[0].inlined);
	CHECK_EQ_STR(outermost(t.s, outer), "outer_with_inline");

	n = symbolizer_lookup(t.s, 0x10, &f);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_STR(f[0].function, "[unknown]+0x10");
	CHECK_EQ_STR(f[0].module, "[unknown]");
	CHECK(f[0].file == NULL && f[0].line == 0);

	/* libc's clock_gettime: no "@@GLIBC_2.17" symbol version in the name */
	const struct module *libc = NULL;
	for (size_t i = 0; i < maps_module_count(t.m); i++)
		if (strstr(maps_module_at(t.m, i)->path, "/libc.so"))
			libc = maps_module_at(t.m, i);
	CHECK(libc != NULL);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s -D --defined-only '%s' | grep -m1 ' clock_gettime@'",
		 tool("NM", "nm"), libc->path);
	FILE *nm = popen(cmd, "r");
	CHECK(nm && fgets(cmd, sizeof(cmd), nm));
	pclose(nm);
	const char *cg = outermost(t.s, libc->bias + strtoull(cmd, NULL, 16) + 4);
	printf("libc clock_gettime: %s\n", cg);
	CHECK(strstr(cg, "clock_gettime") && !strchr(cg, '@') && !strchr(cg, '+'));

	struct symbolizer *p;
	CHECK(symbolizer_open_pid(&p, t.c.pid) == 0);
	CHECK_EQ_STR(outermost(p, leaf + 4), "leaf_sum");
	CHECK_EQ_STR(outermost(p, outer), "outer_with_inline");
	symbolizer_close(p);
	CHECK(symbolizer_open_pid(&p, 0x7ffffff0) < 0);
	target_close(&t);
}

/* Every address of two functions: names, inline chains and file:line equal
 * to what binutils addr2line -f -i prints. */
static void case_addr2line(void)
{
	struct target t;
	start_c_child(&t);
	uint64_t addrs[2048];
	int n = scan_function(t.s, field(t.line, "leaf"), "leaf_sum", addrs, 1024);
	n += scan_function(t.s, field(t.line, "outer"), "outer_with_inline", addrs + n, 1024);
	compare_addr2line(t.s, path_in_build("sym_child"), field(t.line, "bias"), addrs, n, 0);
	compare_addr2line(t.s, path_in_build("sym_child"), field(t.line, "bias"), addrs, n, 1);
	target_close(&t);
}

/* helper_inl (always_inline) calling scale_inl, inlined into
 * outer_with_inline: their own frames, innermost first, marked inlined. */
static void case_inline(void)
{
	struct target t;
	start_c_child(&t);
	uint64_t addrs[1024];
	int n = scan_function(t.s, field(t.line, "outer"), "outer_with_inline", addrs, 1024);
	int found = 0;
	for (int i = 0; i < n && !found; i++) {
		const struct frame_info *f;
		int nf = symbolizer_lookup(t.s, addrs[i], &f);
		if (nf == 3 && strcmp(f[0].function, "scale_inl") == 0) {
			print_frames(addrs[i], f, nf);
			CHECK(f[0].inlined && f[1].inlined && !f[2].inlined);
			CHECK_EQ_STR(f[1].function, "helper_inl");
			CHECK_EQ_STR(f[2].function, "outer_with_inline");
			for (int k = 0; k < 3; k++) {
				CHECK_EQ_STR(base_name(f[k].file), "sym_child.c");
				CHECK(f[k].line > 0);
				CHECK_EQ_STR(f[k].module, "sym_child");
			}
			found = 1;
		}
	}
	CHECK(found);
	target_close(&t);
}

/* Names of every remsym:: function, exactly as c++filt prints the symbol. */
static void case_cxx(void)
{
	struct target t;
	char *argv[] = { path_in_build("sym_cxx"), NULL };
	target_open(&t, argv);
	uint64_t bias = field(t.line, "bias");
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "%s --defined-only '%s' | grep -E ' [TtWw] _Z[NZK]*6remsym' > %s/cxx.nm"
		 " && cut -d' ' -f3 %s/cxx.nm | %s > %s/cxx.filt",
		 tool("NM", "nm"), argv[0], builddir, builddir, tool("CXXFILT", "c++filt"), builddir);
	run(cmd);
	snprintf(cmd, sizeof(cmd), "%s/cxx.nm", builddir);
	FILE *nm = fopen(cmd, "r");
	snprintf(cmd, sizeof(cmd), "%s/cxx.filt", builddir);
	FILE *filt = fopen(cmd, "r");
	CHECK(nm && filt);
	char sym[2048], want[2048];
	int checked = 0, lambda = 0, op = 0, tmpl = 0;
	while (fgets(sym, sizeof(sym), nm)) {
		CHECK(fgets(want, sizeof(want), filt));
		want[strcspn(want, "\n")] = 0;
		uint64_t vaddr = strtoull(sym, NULL, 16);
		const char *got = outermost(t.s, vaddr + bias);
		if (strcmp(got, want) != 0)
			fprintf(stderr, "%s", sym);
		CHECK_EQ_STR(got, want);
		printf("  %s\n", got);
		checked++;
		lambda += strstr(want, "{lambda(") != NULL;
		op += strstr(want, "::operator") != NULL;
		tmpl += strstr(want, "Ring<long, 8>") != NULL;
	}
	fclose(nm);
	fclose(filt);
	CHECK(checked >= 8 && lambda >= 1 && op >= 3 && tmpl >= 2);
	target_close(&t);
}

/* The frames of sum_twice<long> (with twice_inl<long> inlined) against
 * eu-addr2line -C -i. */
static void case_cxx_inline(void)
{
	struct target t;
	char *argv[] = { path_in_build("sym_cxx"), NULL };
	target_open(&t, argv);
	uint64_t bias = field(t.line, "bias");
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "%s --defined-only '%s' | grep ' _ZN6remsym9sum_twiceIlEET_PKS1_i$'",
		 tool("NM", "nm"), argv[0]);
	FILE *p = popen(cmd, "r");
	CHECK(p && fgets(cmd, sizeof(cmd), p));
	pclose(p);
	uint64_t fn = strtoull(cmd, NULL, 16) + bias;
	uint64_t addrs[1024];
	int n = scan_function(t.s, fn, "long remsym::sum_twice<long>(long const*, int)", addrs, 1024);
	int inl = 0;
	for (int i = 0; i < n; i++) {
		const struct frame_info *f;
		if (symbolizer_lookup(t.s, addrs[i], &f) > 1) {
			CHECK(f[0].inlined);
			/* static: no DW_AT_linkage_name, so DW_AT_name it is */
			CHECK_EQ_STR(f[0].function, "twice_inl<long int>");
			inl++;
		}
	}
	CHECK(inl > 0);
	/* binutils addr2line 2.40 misses this inlined instance (DWARF 5 range
	 * lists); elfutils' eu-addr2line is the reference here */
	compare_addr2line(t.s, argv[0], bias, addrs, n, 1);
	target_close(&t);
}

static char tmpdir[512];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/symbols-tmp-XXXXXX", builddir);
	CHECK(mkdtemp(tmpdir) != NULL);
}

static void remove_tmpdir(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	run(cmd);
}

/* Run bin (a stripped sym_child), symbolize leaf_sum with REMPROF_DEBUGINFO_PATH
 * set to debugpath (NULL: unset), and return whether DWARF and .symtab were
 * found (function name and source line). */
static int finds_debuginfo(const char *bin, const char *debugpath, const char *stripped_name)
{
	if (debugpath)
		setenv("REMPROF_DEBUGINFO_PATH", debugpath, 1);
	else
		unsetenv("REMPROF_DEBUGINFO_PATH");
	struct target t;
	char *argv[] = { (char *)bin, NULL };
	target_open(&t, argv);
	const struct frame_info *f;
	uint64_t leaf = field(t.line, "leaf");
	int n = symbolizer_lookup(t.s, leaf + 4, &f);
	print_frames(leaf + 4, f, n);
	int found = strcmp(f[n - 1].function, "leaf_sum") == 0;
	if (found) {
		CHECK_EQ_STR(base_name(f[n - 1].file), "sym_child.c");
		CHECK(f[n - 1].line > 0);
	} else {
		/* a stripped PIE has no symbol for it at all */
		char want[256];
		snprintf(want, sizeof(want), "%s+0x%" PRIx64, stripped_name, leaf + 4 - field(t.line, "bias"));
		CHECK_EQ_STR(f[n - 1].function, want);
		CHECK(f[n - 1].file == NULL);
	}
	CHECK_EQ_STR(f[n - 1].module, stripped_name);
	target_close(&t);
	return found;
}

static void build_id_of(const char *bin, char *out, size_t len)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s -n '%s' | sed -n 's/.*Build ID: *//p'", tool("READELF", "readelf"), bin);
	FILE *p = popen(cmd, "r");
	CHECK(p && fgets(out, (int)len, p));
	pclose(p);
	out[strcspn(out, "\n")] = 0;
	CHECK(strlen(out) > 8);
}

/* Stripped executable, its debug info under DIR/.build-id/xx/yyyy.debug. */
static void case_buildid(void)
{
	make_tmpdir();
	char id[128], cmd[8192], bin[600], dbg[600];
	build_id_of(path_in_build("sym_child"), id, sizeof(id));
	snprintf(bin, sizeof(bin), "%s/sym_child_s", tmpdir);
	snprintf(dbg, sizeof(dbg), "%s/debug", tmpdir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/.build-id/%.2s' && %s --only-keep-debug '%s' '%s/.build-id/%.2s/%s.debug'"
		 " && %s -s -o '%s' '%s'", dbg, id, tool("OBJCOPY", "objcopy"), path_in_build("sym_child"),
		 dbg, id, id + 2, tool("STRIP", "strip"), bin, path_in_build("sym_child"));
	run(cmd);
	CHECK(!finds_debuginfo(bin, NULL, "sym_child_s"));
	CHECK(finds_debuginfo(bin, dbg, "sym_child_s"));
	remove_tmpdir();
}

/* A listening socket on 127.0.0.1 and its port. */
static int listen_local(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 8) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A stripped executable with a build-id and no debug file anywhere, with
 * DEBUGINFOD_URLS pointing at a local socket: libdwfl would ask that server
 * for the debug info; the symbolizer must not let it. */
static void case_no_debuginfod(void)
{
	make_tmpdir();
	char cmd[8192], bin[600], env[128];
	snprintf(bin, sizeof(bin), "%s/sym_child_s", tmpdir);
	snprintf(cmd, sizeof(cmd), "%s -s -o '%s' '%s'", tool("STRIP", "strip"), bin,
		 path_in_build("sym_child"));
	run(cmd);
	int port, lfd = listen_local(&port);
	snprintf(env, sizeof(env), "http://127.0.0.1:%d", port);
	setenv("DEBUGINFOD_URLS", env, 1);
	setenv("DEBUGINFOD_TIMEOUT", "2", 1);
	snprintf(cmd, sizeof(cmd), "%s/cache", tmpdir);
	setenv("DEBUGINFOD_CACHE_PATH", cmd, 1);
	CHECK(!finds_debuginfo(bin, NULL, "sym_child_s"));
	CHECK(getenv("DEBUGINFOD_URLS") == NULL);
	int conn = accept(lfd, NULL, NULL);
	CHECK(conn < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
	close(lfd);
	remove_tmpdir();
}

/* Stripped executable without a build-id, with a .gnu_debuglink: found next
 * to the file (libdwfl's default path) and under DIR/<its directory>/. */
static void case_debuglink(void)
{
	make_tmpdir();
	char cmd[8192], bin[600], dbg[600];
	const char *src = path_in_build("sym_child_nobuildid");
	snprintf(bin, sizeof(bin), "%s/sym_child_l", tmpdir);
	snprintf(dbg, sizeof(dbg), "%s/debug", tmpdir);
	snprintf(cmd, sizeof(cmd), "%s -n '%s' | grep -q 'Build ID'", tool("READELF", "readelf"), src);
	CHECK(system(cmd) != 0);
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s --only-keep-debug '%s' sym_child_l.dbg && %s -s -o '%s' '%s'"
		 " && %s --add-gnu-debuglink=sym_child_l.dbg '%s'",
		 tmpdir, tool("OBJCOPY", "objcopy"), src, tool("STRIP", "strip"), bin, src,
		 tool("OBJCOPY", "objcopy"), bin);
	run(cmd);
	CHECK(finds_debuginfo(bin, NULL, "sym_child_l"));
	/* moved under a debug directory, as /usr/lib/debug/usr/bin/x.debug */
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s%s' && mv '%s/sym_child_l.dbg' '%s%s/'", dbg, tmpdir,
		 tmpdir, dbg, tmpdir);
	run(cmd);
	CHECK(!finds_debuginfo(bin, NULL, "sym_child_l"));
	CHECK(finds_debuginfo(bin, dbg, "sym_child_l"));
	remove_tmpdir();
}

/* A library linked with -s, dlopen()ed after the symbolizer was opened:
 * maps_refresh() makes the symbolizer report it; its exported function is
 * named from .dynsym, the static one is "libsymstripped.so+0xOFF". */
static void case_stripped_lib(void)
{
	struct target t;
	char *argv[] = { path_in_build("sym_child"), path_in_build("libsymstripped.so"),
			 NULL };
	target_open(&t, argv);
	uint64_t leaf = field(t.line, "leaf");
	CHECK_EQ_STR(outermost(t.s, leaf), "leaf_sum");
	child_poke(&t.c);
	child_line(&t.c, t.line, sizeof(t.line));
	uint64_t base = field(t.line, "lib_base"), entry = field(t.line, "lib_entry");
	uint64_t hidden = field(t.line, "lib_hidden");
	/* not reported yet: the symbolizer works from the maps it was given */
	CHECK(strncmp(outermost(t.s, hidden + 2), "[unknown]+0x", 12) == 0);
	CHECK(maps_refresh(t.m) == 0);
	const struct frame_info *f;
	int n = symbolizer_lookup(t.s, hidden + 2, &f);
	print_frames(hidden + 2, f, n);
	char want[128];
	snprintf(want, sizeof(want), "libsymstripped.so+0x%" PRIx64, hidden + 2 - base);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_STR(f[0].function, want);
	CHECK_EQ_STR(f[0].module, "libsymstripped.so");
	CHECK(f[0].file == NULL && f[0].line == 0);
	n = symbolizer_lookup(t.s, entry + 1, &f);
	CHECK_EQ_STR(f[n - 1].function, "stripped_entry");
	CHECK(f[n - 1].file == NULL);
	CHECK_EQ_STR(outermost(t.s, leaf), "leaf_sum");
	target_close(&t);
}

/* The vDSO has no file: the symbolizer reports it from the maps module's
 * copy of the image. Its clock_gettime is found by name. */
static void case_vdso(void)
{
	struct target t;
	start_c_child(&t);
	struct module *vdso = NULL;
	for (size_t i = 0; i < maps_module_count(t.m); i++)
		if (strcmp(maps_module_at(t.m, i)->path, "[vdso]") == 0)
			vdso = maps_module_at(t.m, i);
	CHECK(vdso != NULL);
	int named = 0;
	for (uint64_t a = vdso->start; a < vdso->end; a += 4) {
		const struct frame_info *f;
		int n = symbolizer_lookup(t.s, a, &f);
		CHECK_EQ_STR(f[n - 1].module, "[vdso]");
		if (strstr(f[n - 1].function, "clock_gettime") && !strchr(f[n - 1].function, '+'))
			named++;
	}
	printf("%d vDSO addresses in clock_gettime\n", named);
	CHECK(named > 0);
	target_close(&t);
}

/* After exec, maps_refresh() brings the new program's modules: the
 * symbolizer drops the old ones and what it had cached for their addresses. */
static void case_exec(void)
{
	struct target t;
	char *argv[] = { path_in_build("sym_child"), "--exec", path_in_build("sym_cxx"), NULL };
	target_open(&t, argv);
	uint64_t leaf = field(t.line, "leaf");
	CHECK_EQ_STR(outermost(t.s, leaf), "leaf_sum");
	child_poke(&t.c);
	child_line(&t.c, t.line, sizeof(t.line)); /* sym_cxx's "bias=" */
	uint64_t bias = field(t.line, "bias");
	CHECK(maps_refresh(t.m) == 0);
	const struct frame_info *f;
	int n = symbolizer_lookup(t.s, leaf, &f);
	print_frames(leaf, f, n);
	CHECK(strcmp(f[n - 1].function, "leaf_sum") != 0);
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "%s --defined-only '%s' | grep ' _ZN6remsym10use_lambdaEl$'",
		 tool("NM", "nm"), path_in_build("sym_cxx"));
	FILE *p = popen(cmd, "r");
	CHECK(p && fgets(cmd, sizeof(cmd), p));
	pclose(p);
	n = symbolizer_lookup(t.s, strtoull(cmd, NULL, 16) + bias, &f);
	CHECK_EQ_STR(f[n - 1].function, "remsym::use_lambda(long)");
	CHECK_EQ_STR(f[n - 1].module, "sym_cxx");
	target_close(&t);
}

/* Addresses all over every module of a C++ process (libstdc++, libc, ld.so,
 * the vDSO, gaps between them): always at least one complete frame, inline
 * chains end in a real function, the module named as the maps module names it. */
static void case_sweep(void)
{
	struct target t;
	char *argv[] = { path_in_build("sym_cxx"), NULL };
	target_open(&t, argv);
	int lookups = 0, named = 0;
	for (size_t i = 0; i < maps_module_count(t.m); i++) {
		const struct module *m = maps_module_at(t.m, i);
		uint64_t step = (m->end - m->start) / 3000 + 1;
		for (uint64_t a = m->start - 64; a < m->end + 64; a += step) {
			const struct frame_info *f;
			int n = symbolizer_lookup(t.s, a, &f);
			CHECK(n >= 1);
			for (int k = 0; k < n; k++) {
				CHECK(f[k].function && f[k].function[0] && f[k].module);
				CHECK_EQ_INT(f[k].inlined, k < n - 1);
				CHECK(f[k].line >= 0 && (f[k].file || f[k].line == 0));
			}
			if (a >= m->start && a < m->end && strcmp(f[n - 1].module, "[unknown]") != 0)
				CHECK_EQ_STR(f[n - 1].module, base_name(m->path));
			named += strchr(f[n - 1].function, '+') == NULL;
			lookups++;
		}
	}
	printf("%d lookups, %d named\n", lookups, named);
	CHECK(named > lookups / 4);
	target_close(&t);
}

/* symindex.c answers as dwfl_module_addrinfo itself would: random and
 * consecutive addresses in every module of a C++ process (libstdc++, libc:
 * no DWARF, thousands of symbols), looked up in another order through a
 * symbolizer that asks libdwfl for every address. */
static void case_symindex(void)
{
	struct target t;
	char *argv[] = { path_in_build("sym_cxx"), NULL };
	target_open(&t, argv);
	struct symbolizer *slow;
	CHECK(symbolizer_open(&slow, t.m) == 0);
	symbolizer_use_index(slow, 0);
	enum { PER_MODULE = 1200, RUN = 300 };
	static uint64_t addrs[64 * (PER_MODULE + RUN)];
	size_t n = 0;
	uint64_t seed = 42;
	for (size_t i = 0; i < maps_module_count(t.m) && n + PER_MODULE + RUN <= 64 * (PER_MODULE + RUN); i++) {
		const struct module *m = maps_module_at(t.m, i);
		for (int k = 0; k < PER_MODULE; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			addrs[n++] = m->start + (seed >> 11) % (m->end - m->start);
		}
		uint64_t from = m->start + (m->end - m->start) / 3;
		for (int k = 0; k < RUN; k++)
			addrs[n++] = from + (uint64_t)k;
	}
	for (size_t i = n; i-- > 0;)
		(void)outermost(t.s, addrs[i]);
	int named = 0;
	for (size_t i = 0; i < n; i++) {
		const char *fast = outermost(t.s, addrs[i]), *want = outermost(slow, addrs[i]);
		if (strcmp(fast, want) != 0)
			fprintf(stderr, "0x%" PRIx64 ": %s, libdwfl says %s\n", addrs[i], fast, want);
		CHECK_EQ_STR(fast, want);
		named += strchr(fast, '+') == NULL;
	}
	printf("%zu addresses: %d named; dwfl_module_addrinfo calls %lu with the index, %lu without\n",
	       n, named, symbolizer_addrinfo_calls(t.s), symbolizer_addrinfo_calls(slow));
	CHECK(named > (int)n / 4);
	CHECK(symbolizer_addrinfo_calls(t.s) < symbolizer_addrinfo_calls(slow));
	symbolizer_close(slow);
	target_close(&t);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The second lookup of an address returns the same frames (same pointers)
 * without going to libdwfl. Prints what a lookup costs (not asserted). */
static void case_cache(void)
{
	struct target t;
	start_c_child(&t);
	uint64_t leaf = field(t.line, "leaf"), outer = field(t.line, "outer");
	const struct frame_info *a, *b;
	double t0 = now_us();
	int na = symbolizer_lookup(t.s, outer + 8, &a);
	double t1 = now_us();
	int nb = symbolizer_lookup(t.s, leaf + 4, &b);
	double t2 = now_us();
	CHECK_EQ_INT(symbolizer_dwfl_lookups(t.s), 2);
	const struct frame_info *a2, *b2;
	CHECK_EQ_INT(symbolizer_lookup(t.s, outer + 8, &a2), na);
	CHECK_EQ_INT(symbolizer_lookup(t.s, leaf + 4, &b2), nb);
	CHECK(a2 == a && b2 == b && a2[0].function == a[0].function);
	CHECK_EQ_INT(symbolizer_dwfl_lookups(t.s), 2);
	enum { N = 100000 };
	double t3 = now_us();
	for (int i = 0; i < N; i++)
		symbolizer_lookup(t.s, (i & 1) ? leaf + 4 : outer + 8, &a2);
	double t4 = now_us();
	CHECK_EQ_INT(symbolizer_dwfl_lookups(t.s), 2);
	/* a maps refresh that changes nothing keeps the cache */
	CHECK(maps_refresh(t.m) == 0);
	CHECK(symbolizer_lookup(t.s, leaf + 4, &b2) == nb && b2 == b);
	CHECK_EQ_INT(symbolizer_dwfl_lookups(t.s), 2);
	/* one function's addresses are one symbol gap, answered by the
	 * addrinfo call for leaf + 4 already */
	unsigned long calls = symbolizer_addrinfo_calls(t.s);
	for (int i = 0; i < 8; i++)
		CHECK_EQ_STR(outermost(t.s, leaf + 8 + (uint64_t)i), "leaf_sum");
	CHECK_EQ_INT(symbolizer_addrinfo_calls(t.s), calls);
	CHECK_EQ_INT(symbolizer_dwfl_lookups(t.s), 2 + 8);
	/* warm: the module is loaded, the addresses are new (each one a miss) */
	enum { M = 64 };
	double t5 = now_us();
	for (int i = 0; i < M; i++)
		symbolizer_lookup(t.s, outer + 16 + (uint64_t)i, &a2);
	double t6 = now_us();
	CHECK_EQ_INT(symbolizer_dwfl_lookups(t.s), 2 + 8 + M);
	printf("lookup cost: first in the process (loads symbols and DWARF of the module) %.1f us,"
	       " first of a second function %.1f us, uncached %.2f us, cached %.3f us\n",
	       t1 - t0, t2 - t1, (t6 - t5) / M, (t4 - t3) / N);
	target_close(&t);
}

int main(int argc, char **argv)
{
	static const struct { const char *name; void (*fn)(void); } cases[] = {
		{ "names", case_names }, { "addr2line", case_addr2line }, { "inline", case_inline },
		{ "cxx", case_cxx }, { "cxx_inline", case_cxx_inline }, { "buildid", case_buildid },
		{ "debuglink", case_debuglink }, { "stripped_lib", case_stripped_lib },
		{ "cache", case_cache }, { "no_debuginfod", case_no_debuginfod },
		{ "vdso", case_vdso }, { "exec", case_exec },
		{ "sweep", case_sweep }, { "symindex", case_symindex },
	};
	CHECK(argc == 3);
	builddir = argv[2];
	unsetenv("REMPROF_DEBUGINFO_PATH");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(argv[1], cases[i].name) == 0) {
			cases[i].fn();
			return 0;
		}
	}
	fprintf(stderr, "unknown case %s\n", argv[1]);
	return 1;
}
