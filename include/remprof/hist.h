/* hist.h — log-linear (HDR-style) histograms of nanosecond durations.
 *
 * Values below 2^HIST_SUB_BITS are exact; above, each power of two is split into
 * 2^HIST_SUB_BITS linear buckets, so any recorded value is known to within 1/16
 * (6.25%) — enough for p99.9 of a stop time, at a fixed 8 KiB per histogram. */
#ifndef REMPROF_HIST_H
#define REMPROF_HIST_H

#include <stdint.h>
#include <stddef.h>

#define HIST_SUB_BITS 4
#define HIST_NBUCKETS ((64 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t buckets[HIST_NBUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t value);
void hist_merge(struct hist *dst, const struct hist *src);
/* p in [0, 100]; returns the upper bound of the bucket holding that rank
 * (clamped to max), or 0 for an empty histogram. */
uint64_t hist_percentile(const struct hist *h, double p);
/* Index <-> value range of a bucket (for serialization and plotting). */
size_t hist_bucket_of(uint64_t value);
uint64_t hist_bucket_low(size_t index);
uint64_t hist_bucket_high(size_t index);

#endif
