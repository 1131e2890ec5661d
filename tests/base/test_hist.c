/* test_hist.c — bucket layout, percentiles and merging of struct hist. */
#include "remprof/hist.h"
#include "remprof/stats.h"
#include "../check.h"

static void test_buckets_cover_values(void)
{
	/* Every value falls in a bucket whose range contains it, and the
	 * relative width of a bucket never exceeds 1/16. */
	for (uint64_t v = 0; v < 100000; v += 7) {
		size_t b = hist_bucket_of(v);
		CHECK(b < HIST_NBUCKETS);
		CHECK(hist_bucket_low(b) <= v && v <= hist_bucket_high(b));
		if (v >= 16)
			CHECK((hist_bucket_high(b) - hist_bucket_low(b) + 1) * 16 <= hist_bucket_low(b) + 16);
	}
	size_t top = hist_bucket_of(UINT64_MAX);
	CHECK(top == HIST_NBUCKETS - 1);
	CHECK(hist_bucket_high(top) == UINT64_MAX);
	for (size_t i = 1; i < HIST_NBUCKETS; i++)
		CHECK_EQ_INT(hist_bucket_low(i), hist_bucket_high(i - 1) + 1);
}

static void test_percentiles(void)
{
	struct hist h;
	hist_init(&h);
	CHECK_EQ_INT(hist_percentile(&h, 50), 0);
	for (uint64_t v = 1; v <= 1000; v++)
		hist_add(&h, v * 1000);          /* 1 us .. 1 ms */
	CHECK_EQ_INT(h.count, 1000);
	CHECK_EQ_INT(h.min, 1000);
	CHECK_EQ_INT(h.max, 1000000);
	uint64_t p50 = hist_percentile(&h, 50), p99 = hist_percentile(&h, 99);
	CHECK(p50 >= 500000 && p50 <= 500000 + 500000 / 16);
	CHECK(p99 >= 990000 && p99 <= 1000000);
	CHECK_EQ_INT(hist_percentile(&h, 100), 1000000);
	CHECK(hist_percentile(&h, 0) >= 1000 && hist_percentile(&h, 0) < 1100);
}

static void test_merge(void)
{
	struct hist a, b;
	hist_init(&a);
	hist_init(&b);
	hist_add(&a, 5);
	hist_add(&b, 500);
	hist_add(&b, 7);
	hist_merge(&a, &b);
	CHECK_EQ_INT(a.count, 3);
	CHECK_EQ_INT(a.sum, 512);
	CHECK_EQ_INT(a.min, 5);
	CHECK_EQ_INT(a.max, 500);
	CHECK_EQ_INT(hist_percentile(&a, 50), 7);
}

static void test_lost_names(void)
{
	CHECK_EQ_STR(lost_reason_name(LOST_THREAD_EXITED), "thread exited");
	CHECK_EQ_STR(lost_reason_name(LOST_NREASONS), "unknown");
}

int main(void)
{
	test_buckets_cover_values();
	test_percentiles();
	test_merge();
	test_lost_names();
	return 0;
}
