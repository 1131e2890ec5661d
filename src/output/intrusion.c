/* intrusion.c — what sampling cost the target, in words and percentiles:
 * the stop bound, the stops and copies, the target's mmap_lock waits and
 * remprof's own acquisitions of it, and (in the report) each thread's share. */
#include "remprof/output.h"
#include "aggregate.h"

#include <stdlib.h>
#include <string.h>

static void percentiles(const char *what, const struct hist *h, FILE *out)
{
	static const double ps[] = { 50, 90, 99, 99.9 };
	static const char *const names[] = { "p50", "p90", "p99", "p99.9" };
	fprintf(out, "  %-22s", what);
	if (!h->count) {
		fputs(" none\n", out);
		return;
	}
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		fprintf(out, " %s %.1f", names[i], (double)hist_percentile(h, ps[i]) / 1e3);
	fprintf(out, " max %.1f  (n=%llu)\n", (double)h->max / 1e3, (unsigned long long)h->count);
}

static void stop_bound(const struct profile *p, FILE *out)
{
	if (p->stop_bounded == STOP_UNBOUNDED) {
		fputs("  stops not bounded (--max-stop 0)\n", out);
		return;
	}
	fprintf(out, "  stops bounded at %.3g ms (--max-stop): %llu samples lost as read blocked\n",
		(double)p->max_stop_ns / 1e6, (unsigned long long)p->stats.lost[LOST_READ_BLOCKED]);
	if (p->stop_bounded == STOP_BOUNDED_WORDS)
		fputs("  (peek gives up between two words: a stop can overrun the bound by one wait "
		      "for mmap_lock)\n", out);
}

static void lock_figures(const struct profile *p, FILE *out)
{
	const struct profile_lock *k = &p->lock;
	if (!k->available) {
		fprintf(out, "  mmap_lock: not traced%s%s\n", k->note[0] ? ": " : "", k->note);
		return;
	}
	fprintf(out, "  mmap_lock: the target waited %llu times for its lock (total %.3f ms)\n",
		(unsigned long long)k->target_waits, (double)k->target_wait_ns.sum / 1e6);
	percentiles("target lock wait", &k->target_wait_ns, out);
	fprintf(out, "  mmap_lock: remprof took the target's lock %llu times in %llu stack reads "
		"(%.2f per read)\n", (unsigned long long)k->self_acquisitions,
		(unsigned long long)k->reads,
		k->reads ? (double)k->self_acquisitions / (double)k->reads : 0.0);
	if (k->self_wait_ns.count)
		percentiles("remprof lock wait", &k->self_wait_ns, out);
	if (k->lost_events)
		fprintf(out, "  (the kernel dropped %llu lock events: the counts are lower bounds)\n",
			(unsigned long long)k->lost_events);
}

static uint64_t lost_of(const struct profile_thread_cost *c)
{
	uint64_t n = 0;
	for (int i = 0; i < LOST_NREASONS; i++)
		n += c->lost[i];
	return n;
}

static void thread_costs(const struct profile *p, FILE *out)
{
	if (!p->ncosts)
		return;
	fprintf(out, "\n  %-24s %8s %6s %10s %10s %10s %10s\n", "thread (tid)", "samples", "lost",
		"stop p50", "stop p99", "stop max", "copy p99");
	char name[128], label[160];
	for (size_t i = 0; i < p->ncosts; i++) {
		const struct profile_thread_cost *c = &p->costs[i];
		if (c->thread == PROFILE_NONE)
			snprintf(label, sizeof(label), "(other threads)");
		else
			snprintf(label, sizeof(label), "%s (%d)",
				 printable(p->threads[c->thread].name, name, sizeof(name)),
				 (int)p->threads[c->thread].tid);
		fprintf(out, "  %-24.24s %8llu %6llu %10.1f %10.1f %10.1f %10.1f\n", label,
			(unsigned long long)c->samples, (unsigned long long)lost_of(c),
			(double)hist_percentile(&c->stop_ns, 50) / 1e3,
			(double)hist_percentile(&c->stop_ns, 99) / 1e3, (double)c->stop_ns.max / 1e3,
			(double)hist_percentile(&c->copy_ns, 99) / 1e3);
	}
}

int output_intrusion(const struct profile *p, FILE *out, int per_thread)
{
	fputs("What sampling cost the target (us):\n", out);
	percentiles("stopped", &p->stats.stop_ns, out);
	percentiles("interrupt to stop", &p->stats.int_to_stop_ns, out);
	percentiles("stack copy", &p->stats.copy_ns, out);
	stop_bound(p, out);
	lock_figures(p, out);
	if (per_thread)
		thread_costs(p, out);
	return stream_status(out);
}
