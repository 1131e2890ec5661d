/* test_profile.c — interning, and the file format: a save/load round trip
 * compared field by field, every truncation and every single-bit flip of a
 * saved file refused, and corruption that still passes the checksums
 * (re-computed here) refused or loaded consistently — never a crash. */
#include "remprof/profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../check.h"

static char dir[64];

static char *path_in_dir(const char *name)
{
	static char buf[2][128];
	static int which;
	which ^= 1;
	snprintf(buf[which], sizeof(buf[which]), "%s/%s", dir, name);
	return buf[which];
}

static struct profile *make_profile(void)
{
	struct profile *p = profile_new();
	CHECK(p);
	pid_t pids[] = { 4242, 4343 };
	CHECK_EQ_INT(profile_set_facts(p, "./workload --spin 3", pids, 2), 0);
	snprintf(p->kernel, sizeof(p->kernel), "6.12.0-test");
	snprintf(p->reader, sizeof(p->reader), "procmem");
	p->freq_hz = 997;
	p->idle = 1;
	p->stack_size = 65536;
	p->start_unix_ns = 1790000000123456789ull;
	p->duration_ns = 2500000000ull;

	uint32_t f_main = profile_intern_frame(p, "main", "workload", "workload.c", 10, 0);
	uint32_t f_work = profile_intern_frame(p, "work(int)", "workload", "workload.c", 20, 0);
	uint32_t f_inl = profile_intern_frame(p, "helper", "workload", "helper.h", 3, 1);
	uint32_t f_libc = profile_intern_frame(p, "__libc_start_main", "libc.so.6", NULL, 0, 0);
	uint32_t s1[] = { f_libc, f_main, f_work };
	uint32_t s2[] = { f_libc, f_main, f_work, f_inl };
	uint32_t st1 = profile_intern_stack(p, s1, 3), st2 = profile_intern_stack(p, s2, 4);
	uint32_t t1 = profile_thread(p, 4242, 4242, "workload");
	uint32_t t2 = profile_thread(p, 4242, 4250, "worker-1");
	profile_add_sample(p, st1, t1, 1000000);
	profile_add_sample(p, st1, t1, 1000000);
	profile_add_sample(p, st2, t1, 2000000);
	profile_add_sample(p, st2, t2, 500000);
	profile_add_module(p, "/usr/bin/workload", "0123456789abcdef0123456789abcdef01234567",
			   0x555500000000ull, 0x555500010000ull);
	profile_add_module(p, "/usr/lib/x86_64-linux-gnu/libc.so.6", "", 0x7f0000000000ull,
			   0x7f0000200000ull);

	struct sample_stats *s = &p->stats;
	s->samples = 4;
	s->lost[LOST_THREAD_EXITED] = 2;
	s->lost[LOST_READ_FAILED] = 1;
	s->lost[LOST_TRIGGER_OVERRUN] = 7;
	s->partial_reads = 1;
	s->threads_seen = 2;
	s->cpu_time_ns = 4500000;
	for (uint64_t v = 1; v < 200000; v = v * 3 + 1) {
		hist_add(&s->stop_ns, v * 10);
		hist_add(&s->copy_ns, v);
	}
	hist_add(&s->int_to_stop_ns, 15000);

	p->max_stop_ns = 2000000;
	p->stop_bounded = 1;
	struct profile_lock *k = &p->lock;
	k->available = 1;
	k->target_acquisitions = 10;
	k->target_waits = 3;
	k->self_acquisitions = 8;
	k->reads = 2;
	k->events = 40;
	for (int i = 0; i < 3; i++)
		hist_add(&k->target_wait_ns, 1000u << i);
	hist_add(&k->self_wait_ns, 777);
	profile_add_cost(p, t1, -1, 30000, 20000, 4000);
	profile_add_cost(p, t1, -1, 31000, 21000, 4100);
	profile_add_cost(p, t1, LOST_READ_BLOCKED, 0, 0, 0);
	profile_add_cost(p, PROFILE_NONE, -1, 90000, 80000, 5000); /* "other threads" */
	return p;
}

static void test_interning(void)
{
	struct profile *p = profile_new();
	CHECK(p);
	uint32_t a = profile_intern_frame(p, "f", "m", "f.c", 1, 0);
	CHECK_EQ_INT(profile_intern_frame(p, "f", "m", "f.c", 1, 0), a);
	/* every field takes part in equality */
	CHECK(profile_intern_frame(p, "f", "m", "f.c", 2, 0) != a);
	CHECK(profile_intern_frame(p, "f", "m", "f.c", 1, 1) != a);
	CHECK(profile_intern_frame(p, "f", "m", NULL, 1, 0) != a);
	CHECK(profile_intern_frame(p, "f", "m2", "f.c", 1, 0) != a);
	CHECK(profile_intern_frame(p, "g", "m", "f.c", 1, 0) != a);
	CHECK_EQ_INT(p->nframes, 6);
	uint32_t u = profile_intern_frame(p, NULL, NULL, NULL, 0, 0);
	CHECK_EQ_STR(p->frames[u].function, "[unknown]");
	CHECK_EQ_STR(p->frames[u].module, "[unknown]");

	/* many frames and stacks, to make the tables grow and rehash */
	uint32_t idx[3000];
	char name[32];
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "fn%d", i);
		idx[i] = profile_intern_frame(p, name, "m", NULL, 0, 0);
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "fn%d", i);
		CHECK_EQ_INT(profile_intern_frame(p, name, "m", NULL, 0, 0), idx[i]);
	}
	size_t nf = p->nframes;
	uint32_t st[3000];
	for (int i = 0; i < 3000; i++)
		st[i] = profile_intern_stack(p, idx, (uint32_t)i + 1);
	for (int i = 0; i < 3000; i++)
		CHECK_EQ_INT(profile_intern_stack(p, idx, (uint32_t)i + 1), st[i]);
	CHECK_EQ_INT(p->nstacks, 3000);
	CHECK_EQ_INT(p->nframes, nf);
	uint32_t rev[2] = { idx[1], idx[0] };
	CHECK(profile_intern_stack(p, rev, 2) != st[1]);
	uint32_t bad[1] = { 999999 };
	CHECK_EQ_INT(profile_intern_stack(p, bad, 1), PROFILE_NONE);

	uint32_t t = profile_thread(p, 1, 2, "a");
	CHECK_EQ_INT(profile_thread(p, 1, 2, "other"), t);
	CHECK(profile_thread(p, 1, 3, "a") != t);
	profile_thread_rename(p, t, "renamed");
	CHECK_EQ_STR(p->threads[t].name, "renamed");

	/* same (stack, thread) merges; another thread is another sample */
	profile_add_sample(p, st[0], t, 5);
	profile_add_sample(p, st[0], t, 7);
	profile_add_sample(p, st[0], t + 1, 1);
	profile_add_sample(p, PROFILE_NONE, t, 1);   /* ignored */
	profile_add_sample(p, st[0], PROFILE_NONE, 1);
	CHECK_EQ_INT(p->nsamples, 2);
	CHECK_EQ_INT(p->samples[0].count, 2);
	CHECK_EQ_INT(p->samples[0].weight_ns, 12);

	profile_add_module(p, "/lib/x", "ab", 1, 2);
	profile_add_module(p, "/lib/x", "ab", 1, 2);
	profile_add_module(p, "/lib/x", "ab", 1, 3);
	CHECK_EQ_INT(p->nmodules, 2);
	profile_free(p);
	profile_free(NULL);
}

static void compare_profiles(const struct profile *a, const struct profile *b)
{
	CHECK_EQ_STR(a->cmdline, b->cmdline);
	CHECK_EQ_INT(a->npids, b->npids);
	for (size_t i = 0; i < a->npids; i++)
		CHECK_EQ_INT(a->pids[i], b->pids[i]);
	CHECK_EQ_STR(a->kernel, b->kernel);
	CHECK_EQ_STR(a->reader, b->reader);
	CHECK_EQ_STR(a->version, b->version);
	CHECK_EQ_INT(a->freq_hz, b->freq_hz);
	CHECK_EQ_INT(a->idle, b->idle);
	CHECK_EQ_INT(a->stack_size, b->stack_size);
	CHECK(a->start_unix_ns == b->start_unix_ns);
	CHECK(a->duration_ns == b->duration_ns);
	CHECK(memcmp(&a->stats, &b->stats, sizeof(a->stats)) == 0);
	CHECK(a->max_stop_ns == b->max_stop_ns);
	CHECK_EQ_INT(a->stop_bounded, b->stop_bounded);
	CHECK(memcmp(&a->lock, &b->lock, sizeof(a->lock)) == 0);
	CHECK_EQ_INT(a->ncosts, b->ncosts);
	for (size_t i = 0; i < a->ncosts; i++)
		CHECK(memcmp(&a->costs[i], &b->costs[i], sizeof(a->costs[i])) == 0);

	CHECK_EQ_INT(a->nframes, b->nframes);
	for (size_t i = 0; i < a->nframes; i++) {
		CHECK_EQ_STR(a->frames[i].function, b->frames[i].function);
		CHECK_EQ_STR(a->frames[i].module, b->frames[i].module);
		CHECK((a->frames[i].file == NULL) == (b->frames[i].file == NULL));
		if (a->frames[i].file)
			CHECK_EQ_STR(a->frames[i].file, b->frames[i].file);
		CHECK_EQ_INT(a->frames[i].line, b->frames[i].line);
		CHECK_EQ_INT(a->frames[i].inlined, b->frames[i].inlined);
	}
	CHECK_EQ_INT(a->nstacks, b->nstacks);
	for (size_t i = 0; i < a->nstacks; i++) {
		CHECK_EQ_INT(a->stacks[i].nframes, b->stacks[i].nframes);
		for (uint32_t j = 0; j < a->stacks[i].nframes; j++)
			CHECK_EQ_INT(a->stacks[i].frames[j], b->stacks[i].frames[j]);
	}
	CHECK_EQ_INT(a->nthreads, b->nthreads);
	for (size_t i = 0; i < a->nthreads; i++) {
		CHECK_EQ_INT(a->threads[i].pid, b->threads[i].pid);
		CHECK_EQ_INT(a->threads[i].tid, b->threads[i].tid);
		CHECK_EQ_STR(a->threads[i].name, b->threads[i].name);
	}
	CHECK_EQ_INT(a->nmodules, b->nmodules);
	for (size_t i = 0; i < a->nmodules; i++) {
		CHECK_EQ_STR(a->modules[i].path, b->modules[i].path);
		CHECK_EQ_STR(a->modules[i].build_id, b->modules[i].build_id);
		CHECK(a->modules[i].start == b->modules[i].start);
		CHECK(a->modules[i].end == b->modules[i].end);
	}
	CHECK_EQ_INT(a->nsamples, b->nsamples);
	for (size_t i = 0; i < a->nsamples; i++) {
		CHECK_EQ_INT(a->samples[i].stack, b->samples[i].stack);
		CHECK_EQ_INT(a->samples[i].thread, b->samples[i].thread);
		CHECK(a->samples[i].count == b->samples[i].count);
		CHECK(a->samples[i].weight_ns == b->samples[i].weight_ns);
	}
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	CHECK(f);
	static uint8_t buf[1 << 16];
	*len = fread(buf, 1, sizeof(buf), f);
	CHECK(*len < sizeof(buf));
	fclose(f);
	uint8_t *d = malloc(*len);
	CHECK(d);
	memcpy(d, buf, *len);
	return d;
}

static void spit(const char *path, const uint8_t *d, size_t len)
{
	FILE *f = fopen(path, "wb");
	CHECK(f);
	CHECK_EQ_INT(fwrite(d, 1, len, f), len);
	CHECK_EQ_INT(fclose(f), 0);
}

/* Load bytes as a file: the return code, and the message in err. The tens
 * of thousands of mutants go through a memfd (opened again by its /proc
 * path, as a user's file would be), not through the disk. */
static int load_bytes(const uint8_t *d, size_t len, struct profile **out, char *err, size_t errlen)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("mutant.rpf", MFD_CLOEXEC);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK_EQ_INT(ftruncate(fd, 0), 0);
	CHECK_EQ_INT(pwrite(fd, d, len, 0), len);
	return profile_load(out, path, err, errlen);
}

static void expect_invalid(const uint8_t *d, size_t len, const char *what, size_t at)
{
	struct profile *p = (struct profile *)&p; /* must be reset to NULL */
	char err[256] = "";
	int rc = load_bytes(d, len, &p, err, sizeof(err));
	if (rc != -EINVAL || p != NULL || !err[0] || strchr(err, '\n')) {
		fprintf(stderr, "%s at %zu: rc %d, err \"%s\"\n", what, at, rc, err);
		exit(1);
	}
}

static void test_round_trip(struct profile *p, const char *path)
{
	CHECK_EQ_INT(profile_save(p, path), 0);
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	CHECK(access(tmp, F_OK) != 0);   /* renamed away */

	struct profile *q = NULL;
	char err[256] = "x";
	CHECK_EQ_INT(profile_load(&q, path, err, sizeof(err)), 0);
	CHECK(q);
	CHECK_EQ_STR(err, "");
	compare_profiles(p, q);
	/* a loaded profile keeps interning: same keys, same indexes */
	CHECK_EQ_INT(profile_intern_frame(q, "helper", "workload", "helper.h", 3, 1), 2);
	profile_add_sample(q, 0, 0, 1);
	CHECK_EQ_INT(q->nsamples, p->nsamples);
	CHECK_EQ_INT(q->samples[0].count, p->samples[0].count + 1);
	profile_free(q);
}

static void test_truncations(const uint8_t *d, size_t len)
{
	for (size_t n = 0; n < len; n++)
		expect_invalid(d, n, "truncated", n);
}

static void test_bit_flips(const uint8_t *d, size_t len)
{
	uint8_t *m = malloc(len);
	CHECK(m);
	for (size_t bit = 0; bit < len * 8; bit++) {
		memcpy(m, d, len);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		expect_invalid(m, len, "bit flip", bit);
	}
	free(m);
}

static uint32_t rd32(const uint8_t *a)
{
	return (uint32_t)a[0] | (uint32_t)a[1] << 8 | (uint32_t)a[2] << 16 | (uint32_t)a[3] << 24;
}

static void wr32(uint8_t *a, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		a[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *a, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		a[i] = (uint8_t)(v >> (8 * i));
}

/* Make every checksum and the header's size agree with the bytes again, so
 * that the structural checks behind the checksums get exercised. */
static void fix_checksums(uint8_t *d, size_t len)
{
	size_t off = 32;
	uint32_t n = rd32(d + 12);
	for (uint32_t i = 0; i < n && off + 16 <= len; i++) {
		uint64_t sl = rd32(d + off + 8) | (uint64_t)rd32(d + off + 12) << 32;
		if (sl > len - off - 16)
			break;
		wr32(d + off + 4, (uint32_t)crc32(0, d + off + 16, (uInt)sl));
		off += 16 + sl;
	}
	wr64(d + 16, len);
	wr32(d + 24, (uint32_t)crc32(0, d + 32, (uInt)(len - 32)));
	wr32(d + 28, (uint32_t)crc32(0, d, 28));
}

/* A loaded profile must be internally consistent whatever was in the file. */
static void check_consistent(const struct profile *p)
{
	for (size_t i = 0; i < p->nstacks; i++)
		for (uint32_t j = 0; j < p->stacks[i].nframes; j++)
			CHECK(p->stacks[i].frames[j] < p->nframes);
	for (size_t i = 0; i < p->nsamples; i++) {
		CHECK(p->samples[i].stack < p->nstacks);
		CHECK(p->samples[i].thread < p->nthreads);
	}
	for (size_t i = 0; i < p->nframes; i++)
		CHECK(p->frames[i].function && p->frames[i].module);
}

static void test_checksummed_corruption(const uint8_t *d, size_t len)
{
	uint8_t *m = malloc(len);
	CHECK(m);
	srand(12345);
	int refused = 0, loaded = 0;
	for (int round = 0; round < 6000; round++) {
		memcpy(m, d, len);
		int nflips = 1 + rand() % 3;
		for (int k = 0; k < nflips; k++) {
			/* past the fixed header: it is re-written by fix_checksums */
			size_t at = 32 + (size_t)rand() % (len - 32);
			if (rand() % 2)
				m[at] ^= (uint8_t)(1u << (rand() % 8));
			else
				m[at] = (uint8_t)rand();
		}
		fix_checksums(m, len);
		struct profile *p = NULL;
		char err[256] = "";
		int rc = load_bytes(m, len, &p, err, sizeof(err));
		if (rc == 0) {
			check_consistent(p);
			profile_free(p);
			loaded++;
		} else {
			CHECK_EQ_INT(rc, -EINVAL);
			CHECK(p == NULL && err[0]);
			refused++;
		}
	}
	/* Most random damage hits a length, count or index. */
	CHECK(refused > 1000);
	fprintf(stderr, "file of %zu bytes; re-checksummed corruption: %d refused, %d loaded\n", len,
		refused, loaded);
	free(m);
}

/* Offset of the first section with this tag, or 0. */
static size_t find_section(const uint8_t *d, size_t len, const char *tag)
{
	size_t off = 32;
	while (off + 16 <= len) {
		if (!memcmp(d + off, tag, 4))
			return off;
		off += 16 + (rd32(d + off + 8) | (uint64_t)rd32(d + off + 12) << 32);
	}
	return 0;
}

static void expect_message(uint8_t *m, size_t len, const char *needle)
{
	struct profile *p = NULL;
	char err[256] = "";
	CHECK_EQ_INT(load_bytes(m, len, &p, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle)) {
		fprintf(stderr, "expected \"%s\" in \"%s\"\n", needle, err);
		exit(1);
	}
}

static void test_specific_errors(const uint8_t *d, size_t len)
{
	uint8_t *m = malloc(2 * len + 64);
	CHECK(m);

	memcpy(m, d, len);
	m[1] = 'X';
	expect_message(m, len, "not a remprof profile");
	expect_message(m, 0, "empty file");
	memcpy(m, d, len);
	expect_message(m, 5, "truncated file: 5 bytes");
	expect_message(m, len - 1, "truncated file");
	expect_message((uint8_t *)"main;a 1\n", 9, "not a remprof profile");

	memcpy(m, d, len);
	wr32(m + 8, 2);
	fix_checksums(m, len);
	expect_message(m, len, "version 2 is newer");

	/* a stack pointing past the frame table */
	memcpy(m, d, len);
	size_t s = find_section(m, len, "STKS");
	CHECK(s);
	wr32(m + s + 16 + 8, 77);   /* count, nframes of stack 0, then frame 0 */
	fix_checksums(m, len);
	expect_message(m, len, "refers to frame 77");

	/* a sample pointing past the thread table */
	memcpy(m, d, len);
	s = find_section(m, len, "SMPL");
	CHECK(s);
	wr32(m + s + 16 + 4 + 4, 9);
	fix_checksums(m, len);
	expect_message(m, len, "refers to thread 9");

	/* a huge count must not turn into a huge allocation */
	memcpy(m, d, len);
	s = find_section(m, len, "FRMS");
	CHECK(s);
	wr32(m + s + 16, 0xfffffff0u);
	fix_checksums(m, len);
	expect_message(m, len, "frame count");

	/* an unknown section (from a later remprof) is skipped */
	memcpy(m, d, len);
	memcpy(m + len, "XTRA", 4);
	wr64(m + len + 8, 8);
	memcpy(m + len + 16, "12345678", 8);
	wr32(m + 12, rd32(m + 12) + 1);
	fix_checksums(m, len + 24);
	struct profile *p = NULL;
	char err[256];
	CHECK_EQ_INT(load_bytes(m, len + 24, &p, err, sizeof(err)), 0);
	struct profile *orig = make_profile();
	compare_profiles(orig, p);
	profile_free(orig);
	profile_free(p);

	/* ...but a known section twice is corruption */
	size_t meta = find_section(d, len, "META");
	uint64_t ml = rd32(d + meta + 8);
	CHECK(ml + 16 <= len + 64);
	memcpy(m, d, len);
	memcpy(m + len, d + meta, 16 + ml);
	wr32(m + 12, rd32(m + 12) + 1);
	fix_checksums(m, len + 16 + ml);
	expect_message(m, len + 16 + ml, "two META sections");
	free(m);
}

static void test_io_errors(const struct profile *p)
{
	struct profile *q = (struct profile *)&q;
	char err[256] = "";
	CHECK_EQ_INT(profile_load(&q, path_in_dir("missing.rpf"), err, sizeof(err)), -ENOENT);
	CHECK(q == NULL);
	CHECK(strstr(err, "No such file"));
	CHECK_EQ_INT(profile_load(&q, dir, err, sizeof(err)), -EISDIR);
	/* nothing written, nothing left behind, when the directory is missing */
	CHECK_EQ_INT(profile_save(p, path_in_dir("no/such/dir.rpf")), -ENOENT);
	/* over an existing file: replaced whole */
	spit(path_in_dir("old.rpf"), (const uint8_t *)"old", 3);
	CHECK_EQ_INT(profile_save(p, path_in_dir("old.rpf")), 0);
	CHECK_EQ_INT(profile_load(&q, path_in_dir("old.rpf"), err, sizeof(err)), 0);
	profile_free(q);
}

static void test_empty_profile(void)
{
	struct profile *p = profile_new();
	CHECK(p);
	CHECK_EQ_INT(profile_save(p, path_in_dir("empty.rpf")), 0);
	struct profile *q = NULL;
	char err[256];
	CHECK_EQ_INT(profile_load(&q, path_in_dir("empty.rpf"), err, sizeof(err)), 0);
	CHECK_EQ_STR(q->cmdline, "");
	compare_profiles(q, q);
	CHECK_EQ_INT(q->nsamples, 0);
	CHECK_EQ_STR(q->version, REMPROF_VERSION);
	profile_free(p);
	profile_free(q);
}

int main(int argc, char **argv)
{
	/* test_profile --write PATH: save make_profile() for read_format.py,
	 * which reads it by docs/profile-format.md alone. */
	if (argc == 3 && !strcmp(argv[1], "--write")) {
		struct profile *p = make_profile();
		int rc = profile_save(p, argv[2]);
		profile_free(p);
		return rc == 0 ? 0 : 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/rp-profile-XXXXXX");
	CHECK(mkdtemp(dir));

	test_interning();
	struct profile *p = make_profile();
	const char *path = path_in_dir("p.rpf");
	test_round_trip(p, path);
	size_t len;
	uint8_t *d = slurp(path, &len);
	test_truncations(d, len);
	test_bit_flips(d, len);
	test_checksummed_corruption(d, len);
	test_specific_errors(d, len);
	test_io_errors(p);
	test_empty_profile();
	profile_free(p);
	free(d);

	const char *names[] = { "p.rpf", "old.rpf", "empty.rpf" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path_in_dir(names[i]));
	CHECK_EQ_INT(rmdir(dir), 0);
	return 0;
}
