/* hist.c — log-linear histograms (see hist.h for the bucket layout). */
#include "remprof/hist.h"

#include <string.h>

#define SUB (1u << HIST_SUB_BITS)

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

size_t hist_bucket_of(uint64_t v)
{
	if (v < SUB)
		return (size_t)v;
	int msb = 63 - __builtin_clzll(v);          /* >= HIST_SUB_BITS */
	int shift = msb - HIST_SUB_BITS;
	size_t mantissa = (size_t)(v >> shift) & (SUB - 1);
	return ((size_t)(shift + 1) << HIST_SUB_BITS) + mantissa;
}

uint64_t hist_bucket_low(size_t i)
{
	if (i < SUB)
		return i;
	size_t shift = (i >> HIST_SUB_BITS) - 1;
	return (uint64_t)(SUB + (i & (SUB - 1))) << shift;
}

uint64_t hist_bucket_high(size_t i)
{
	if (i + 1 >= HIST_NBUCKETS)
		return UINT64_MAX;
	return hist_bucket_low(i + 1) - 1;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->buckets[hist_bucket_of(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (size_t i = 0; i < HIST_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	if (h->count == 0)
		return 0;
	/* The rank of the p-th percentile, 1-based, at least 1. */
	uint64_t rank = (uint64_t)((p / 100.0) * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (size_t i = 0; i < HIST_NBUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t hi = hist_bucket_high(i);
			return hi > h->max ? h->max : (hi < h->min ? h->min : hi);
		}
	}
	return h->max;
}
