/* unwind.h — from a snapshot (registers + copied stack) to a call chain, with
 * libunwind's remote API over accessors that serve the copied stack first, the
 * module file images next, and the live target (through the reader) last.
 * The live stack beyond the copy is never read (the thread has moved on).
 *
 * Unwind tables: .eh_frame through .eh_frame_hdr, or a bare .eh_frame (we
 * index its FDEs ourselves). libunwind 1.6 takes .debug_frame only through
 * private structures (see unwind.c), so a stack through code with only
 * .debug_frame is unwound again by libdwfl's unwinder over the same memory,
 * given a symbolizer (unwinder_use_symbolizer). Procedure info is cached
 * across samples; a PC in no known mapping re-reads the maps (dlopen) at
 * most once per sample and 20 times a second. */
#ifndef REMPROF_UNWIND_H
#define REMPROF_UNWIND_H

#include <stdint.h>
#include "remprof/maps.h"
#include "remprof/reader.h"
#include "remprof/sampler.h"

#define UNWIND_MAX_FRAMES 1024

enum unwind_flags {
	UNWIND_TRUNCATED = 1 << 0, /* stopped before the outermost frame (no info, stack end, depth cap) */
	UNWIND_LIVE_READ = 1 << 1, /* needed a live read of the target */
};

struct unwinder;

int unwinder_open(struct unwinder **out, struct maps *m, struct reader *r);
/* Writes lookup addresses leaf first into pcs: the exact IP for frame 0 (and
 * after a signal frame), return address - 1 for callers, so that each points
 * into the calling instruction. Returns the frame count (>= 1), or -errno when
 * not even the first frame is usable. *flags gets enum unwind_flags. */
int unwind_snapshot(struct unwinder *u, const struct snapshot *s, uint64_t *pcs, int max,
		    int *flags);
void unwinder_close(struct unwinder *u);
/* libdwfl's unwinder (with sym's modules) for stacks that libunwind cannot
 * follow through code with only .debug_frame. sym is kept, not owned; it must
 * be over the same maps and outlive u. */
struct symbolizer;
void unwinder_use_symbolizer(struct unwinder *u, struct symbolizer *sym);

#endif
