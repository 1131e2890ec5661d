/* test_maps.c — maps against real children: a PIE's load bias, a library
 * dlopen()ed after maps_open, an executable deleted and replaced on disk,
 * the vDSO, and the stack mapping.
 *   test_maps CHILD LIBMAPSDL */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "remprof/maps.h"
#include "remprof/reader.h"
#include "testproc.h"

static const char *child_path, *lib_path;

static pid_t start_info_child(const char *path, uint64_t *fn, uint64_t *stack, uint64_t *vdso,
			      int *fds)
{
	char *argv[] = { (char *)path, "info", NULL }, line[256];
	pid_t pid = child_start(argv, &fds[0], &fds[1]);

	child_read_line(fds[1], line, sizeof(line));
	CHECK(sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64, fn, stack, vdso) == 3);
	return pid;
}

static void check_symbol(struct module *mod, const char *name, uint64_t runtime)
{
	const char *found = name, *at = NULL;
	uint64_t value = 0;

	CHECK(elf_symbol(mod->elf, 0, &found, &value, 0) == 0);
	CHECK_EQ_INT(value + mod->bias, runtime);
	CHECK(elf_symbol(mod->elf, runtime - mod->bias, &at, NULL, 1) == 0);
	CHECK_EQ_STR(at, name);
}

/* The [stack] line of /proc/PID/maps, read independently of maps.c. */
static void stack_line(pid_t pid, uint64_t *start, uint64_t *end)
{
	char fname[64], line[512];
	FILE *f;

	snprintf(fname, sizeof(fname), "/proc/%d/maps", (int)pid);
	f = fopen(fname, "r");
	CHECK(f);
	*start = *end = 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]"))
			CHECK(sscanf(line, "%" SCNx64 "-%" SCNx64, start, end) == 2);
	fclose(f);
	CHECK(*end > *start);
}

static void check_vdso(struct maps *m, uint64_t vdso)
{
	struct module *mod = maps_find_module(m, vdso);
	uint64_t value = 0;
	const char *name = "__vdso_clock_gettime";

	CHECK(mod);
	CHECK_EQ_STR(mod->path, "[vdso]");
	CHECK_EQ_INT(mod->start, vdso);
	CHECK(mod->open_path == NULL);
	CHECK(elf_kind(mod->elf) == ELF_K_ELF);
	CHECK(elf_symbol(mod->elf, 0, &name, &value, 0) == 0);
	CHECK(value + mod->bias >= mod->start && value + mod->bias < mod->end);
	CHECK(mod->build_id[0] == '\0' || strlen(mod->build_id) == 40);
	printf("vdso at %" PRIx64 ", build-id \"%s\"\n", mod->start, mod->build_id);
}

static void test_pie_vdso_stack(enum reader_kind kind)
{
	uint64_t fn, stack, vdso, s, e, ss, se;
	struct reader *r;
	struct maps *m;
	struct module *mod;
	uint8_t live[16], img[16];
	int fds[2];
	pid_t pid = start_info_child(child_path, &fn, &stack, &vdso, fds);
	GElf_Ehdr eh;

	CHECK(reader_open(&r, pid, kind) == 0);
	CHECK(maps_open(&m, pid, r) == 0);
	CHECK_EQ_INT(maps_generation(m), 1);
	CHECK(maps_module_count(m) >= 3);  /* the child, libc, ld.so, vdso */
	/* One module per loaded file, however its pages are mapped (RELRO and
	 * .data sharing a file page show up as two mappings at one offset). */
	for (size_t i = 0; i < maps_module_count(m); i++)
		for (size_t j = i + 1; j < maps_module_count(m); j++)
			CHECK(strcmp(maps_module_at(m, i)->path, maps_module_at(m, j)->path) != 0);

	mod = maps_find_module(m, fn);
	CHECK(mod);
	CHECK(strstr(mod->path, "maps_child") != NULL);
	CHECK(gelf_getehdr(mod->elf, &eh) && eh.e_type == ET_DYN);
	CHECK(mod->bias != 0);
	CHECK_EQ_INT(strlen(mod->build_id), 40);
	CHECK(!mod->deleted);
	check_symbol(mod, "maps_marker_function", fn);
	/* Text bytes from the file image equal the live ones. */
	CHECK_EQ_INT(maps_read_image(mod, fn, img, sizeof(img)), sizeof(img));
	if (kind != READER_PEEK) {
		CHECK_EQ_INT(reader_copy(r, pid, fn, live, sizeof(live)), sizeof(live));
		CHECK(memcmp(live, img, sizeof(img)) == 0);
	}

	check_vdso(m, vdso);

	CHECK(maps_find_mapping(m, stack, &s, &e) == 0);
	stack_line(pid, &ss, &se);
	CHECK_EQ_INT(s, ss);
	CHECK_EQ_INT(e, se);
	CHECK(maps_find_mapping(m, 0x1000, &s, &e) == -ENOENT);
	CHECK(maps_find_module(m, 0x1000) == NULL);
	CHECK(maps_find_module(m, stack) == NULL);

	maps_close(m);
	reader_close(r);
	child_kill(pid);
}

static int frees;
static void count_free(void *p)
{
	CHECK(p == &frees);
	frees++;
}

static struct module *module_named(struct maps *m, const char *part)
{
	for (size_t i = 0; i < maps_module_count(m); i++)
		if (strstr(maps_module_at(m, i)->path, part))
			return maps_module_at(m, i);
	return NULL;
}

static void test_dlopen_after_open(void)
{
	char *argv[] = { (char *)child_path, "dlopen", (char *)lib_path, NULL }, line[64];
	int to, from;
	pid_t pid = child_start(argv, &to, &from);
	struct reader *r;
	struct maps *m;
	struct module *exe, *lib;
	const char *name = "mapsdl_marker";
	uint64_t value = 0;

	child_read_line(from, line, sizeof(line));
	CHECK_EQ_STR(line, "ready");
	CHECK(reader_open(&r, pid, READER_VMREADV) == 0);
	CHECK(maps_open(&m, pid, r) == 0);
	CHECK(module_named(m, "libmapsdl") == NULL);
	exe = module_named(m, "maps_child");
	CHECK(exe);
	exe->unwind_data = &frees;
	exe->unwind_data_free = count_free;

	CHECK(write(to, "go\n", 3) == 3);
	child_read_line(from, line, sizeof(line));
	CHECK_EQ_STR(line, "loaded");
	CHECK(maps_refresh(m) == 0);
	CHECK_EQ_INT(maps_generation(m), 2);
	lib = module_named(m, "libmapsdl");
	CHECK(lib);
	CHECK(elf_symbol(lib->elf, 0, &name, &value, 0) == 0);
	CHECK(maps_find_module(m, value + lib->bias) == lib);
	/* The unchanged executable kept its module and the unwinder's cache. */
	CHECK(module_named(m, "maps_child") == exe);
	CHECK(exe->unwind_data == &frees);
	CHECK_EQ_INT(frees, 0);
	maps_close(m);
	CHECK_EQ_INT(frees, 1);
	reader_close(r);
	child_kill(pid);
}

/* After exec the whole address space is new: refresh finds the new image. */
static void test_exec(void)
{
	char *argv[] = { (char *)child_path, "exec", NULL }, line[256];
	uint64_t fn, stack, vdso;
	int to, from;
	pid_t pid = child_start(argv, &to, &from);
	struct reader *r;
	struct maps *m;
	struct module *mod;

	child_read_line(from, line, sizeof(line));
	CHECK_EQ_STR(line, "ready");
	CHECK(reader_open(&r, pid, READER_VMREADV) == 0);
	CHECK(maps_open(&m, pid, r) == 0);
	frees = 0;
	mod = module_named(m, "maps_child");
	CHECK(mod);
	mod->unwind_data = &frees;
	mod->unwind_data_free = count_free;
	CHECK(write(to, "go\n", 3) == 3);
	child_read_line(from, line, sizeof(line));
	CHECK(sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64, &fn, &stack, &vdso) == 3);
	CHECK(maps_refresh(m) == 0);
	mod = maps_find_module(m, fn);
	CHECK(mod);
	check_symbol(mod, "maps_marker_function", fn);
	CHECK_EQ_STR(maps_find_module(m, vdso)->path, "[vdso]");
	/* ASLR moved the new image: the old module went with its cache. The
	 * kernel may, rarely, pick the same base; then it is rightly kept. */
	CHECK(frees == 1 || mod->unwind_data == &frees);
	maps_close(m);
	reader_close(r);
	child_kill(pid);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	CHECK(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		CHECK(write(out, buf, (size_t)n) == n);
	CHECK(n == 0);
	close(in);
	CHECK(close(out) == 0);
}

static void test_deleted_and_replaced(void)
{
	char dir[] = "/tmp/remprof-maps-XXXXXX", exe[64];
	uint64_t fn, stack, vdso;
	int fds[2], fd;
	struct reader *r;
	struct maps *m;
	struct module *mod;
	pid_t pid;

	CHECK(mkdtemp(dir));
	snprintf(exe, sizeof(exe), "%s/maps_child", dir);
	copy_file(child_path, exe);
	pid = start_info_child(exe, &fn, &stack, &vdso, fds);
	CHECK(unlink(exe) == 0);
	fd = open(exe, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	CHECK(fd >= 0);
	CHECK(write(fd, "not an ELF file\n", 16) == 16);
	close(fd);

	CHECK(reader_open(&r, pid, READER_VMREADV) == 0);
	CHECK(maps_open(&m, pid, r) == 0);
	mod = maps_find_module(m, fn);
	CHECK(mod);
	CHECK(mod->deleted);
	CHECK_EQ_STR(mod->path, exe);
	CHECK(mod->open_path && strstr(mod->open_path, "/map_files/"));
	check_symbol(mod, "maps_marker_function", fn);
	maps_close(m);
	reader_close(r);
	child_kill(pid);
	unlink(exe);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	CHECK(argc == 3);
	child_path = argv[1];
	lib_path = argv[2];
	test_pie_vdso_stack(READER_VMREADV);
	test_pie_vdso_stack(READER_PEEK);   /* the vDSO through a temporary reader */
	test_dlopen_after_open();
	test_exec();
	test_deleted_and_replaced();
	printf("maps: all passed\n");
	return 0;
}
