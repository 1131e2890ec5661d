/* profile_internal.h — what profile_file.c needs of profile.c beyond
 * profile.h: adding an already aggregated sample (a loaded file stores
 * count and weight per (stack, thread), not single samples). */
#ifndef REMPROF_PROFILE_INTERNAL_H
#define REMPROF_PROFILE_INTERNAL_H

#include "remprof/profile.h"

/* Index of the (stack, thread) sample the counts were added to, or
 * PROFILE_NONE (bad index, out of memory). */
uint32_t profile_add_samples(struct profile *p, uint32_t stack, uint32_t thread,
			     uint64_t count, uint64_t weight_ns);

#endif
