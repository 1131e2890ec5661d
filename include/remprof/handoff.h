/* handoff.h — the sampler's events, handled on a thread of their own.
 *
 * The sampler reports a sample after the thread was resumed, but on the
 * sampling thread: whatever the consumer then does with it (unwinding,
 * symbolizing, the first look at a large library's debug information) is
 * time in which the next trigger or stop waits, and on the target's CPU it
 * is time taken from the target. A handoff takes the events on the sampling
 * thread — a sample costs a malloc and a copy of its stack — and calls the
 * consumer's handlers on its own thread, in the order the events came.
 *
 * tick is not handed off: the consumer's tick is called on the sampling
 * thread, with the sampler's statistics, as without a handoff. Everything the
 * other handlers touch belongs to the handoff's thread until handoff_finish. */
#ifndef REMPROF_HANDOFF_H
#define REMPROF_HANDOFF_H

#include <stddef.h>
#include <stdint.h>
#include "remprof/sampler.h"

struct handoff;

/* Start the thread. A sample that arrives while more than max_bytes of
 * stacks wait is dropped: counted in handoff_finish() and reported to the
 * consumer's lost handler (on its thread) as LOST_UNWIND_BACKLOG. The
 * returned events are valid until handoff_finish. 0 or -errno. */
int handoff_start(struct handoff **out, const struct sampler_events *consumer, size_t max_bytes);
const struct sampler_events *handoff_events(struct handoff *h);
/* Samples dropped so far (any thread). */
uint64_t handoff_dropped(struct handoff *h);
/* Wait until every event was handled, end the thread and free h; the
 * samples dropped. */
uint64_t handoff_finish(struct handoff *h);

#endif
