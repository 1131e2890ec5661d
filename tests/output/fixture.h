/* fixture.h — a profile whose reports are known by hand (see the expected
 * lines in test_output.c and test_report.py). Weights in ms, 20 in all:
 *
 *   stack                         thread    count  weight
 *   main;a;b         (b line 5)   main-thr  3      6
 *   main;a;b         (b line 5)   worker    2      4
 *   main;a                        main-thr  1      2
 *   main;c;c;helper  (inlined)    worker    4      4
 *   main;"op;er\nator"            main-thr  1      2
 *   main;a;b         (b line 99)  worker    1      2
 */
#ifndef REMPROF_TESTS_OUTPUT_FIXTURE_H
#define REMPROF_TESTS_OUTPUT_FIXTURE_H

#include "remprof/profile.h"
#include "../check.h"

#define MS 1000000ull

static inline struct profile *make_known_profile(void)
{
	struct profile *p = profile_new();
	CHECK(p);
	pid_t pid = 100;
	CHECK_EQ_INT(profile_set_facts(p, "./app --run", &pid, 1), 0);
	snprintf(p->kernel, sizeof(p->kernel), "6.12.0-fixture");
	snprintf(p->reader, sizeof(p->reader), "vmreadv");
	p->freq_hz = 1000;
	p->stack_size = 32768;
	p->start_unix_ns = 1700000000ull * 1000000000ull;
	p->duration_ns = 3 * 1000 * MS;

	uint32_t m = profile_intern_frame(p, "main", "app", "app.c", 1, 0);
	uint32_t a = profile_intern_frame(p, "a", "app", "app.c", 3, 0);
	uint32_t b = profile_intern_frame(p, "b", "app", "app.c", 5, 0);
	uint32_t b99 = profile_intern_frame(p, "b", "app", "app.c", 99, 0);
	uint32_t c = profile_intern_frame(p, "c", "app", "app.c", 7, 0);
	uint32_t h = profile_intern_frame(p, "helper", "app", "helper.h", 2, 1);
	uint32_t w = profile_intern_frame(p, "op;er\nator", "libx.so", NULL, 0, 0);
	uint32_t s1[] = { m, a, b }, s2[] = { m, a }, s3[] = { m, c, c, h }, s4[] = { m, w };
	uint32_t s5[] = { m, a, b99 };
	uint32_t st1 = profile_intern_stack(p, s1, 3), st2 = profile_intern_stack(p, s2, 2);
	uint32_t st3 = profile_intern_stack(p, s3, 4), st4 = profile_intern_stack(p, s4, 2);
	uint32_t st5 = profile_intern_stack(p, s5, 3);
	uint32_t t1 = profile_thread(p, 100, 100, "main-thr");
	uint32_t t2 = profile_thread(p, 100, 101, "worker");
	for (int i = 0; i < 3; i++)
		profile_add_sample(p, st1, t1, 2 * MS);
	for (int i = 0; i < 2; i++)
		profile_add_sample(p, st1, t2, 2 * MS);
	profile_add_sample(p, st2, t1, 2 * MS);
	for (int i = 0; i < 4; i++)
		profile_add_sample(p, st3, t2, 1 * MS);
	profile_add_sample(p, st4, t1, 2 * MS);
	profile_add_sample(p, st5, t2, 2 * MS);

	p->stats.samples = 12;
	p->stats.lost[LOST_THREAD_EXITED] = 1;
	p->stats.lost[LOST_READ_FAILED] = 2;
	p->stats.partial_reads = 1;
	p->stats.threads_seen = 2;
	p->stats.cpu_time_ns = 20 * MS;
	for (uint64_t us = 1; us <= 1000; us++) {
		hist_add(&p->stats.stop_ns, us * 1000);
		hist_add(&p->stats.copy_ns, us * 100);
	}
	return p;
}

#endif
