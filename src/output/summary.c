/* summary.c — the few lines `remprof record` ends with: where the time
 * went (top functions by self), what was sampled and lost, and what the
 * sampling cost the target (stop and copy time percentiles). */
#include "remprof/output.h"
#include "aggregate.h"

#include <errno.h>
#include <stdlib.h>

#define SUMMARY_ROWS 10

static void print_samples(const struct sample_stats *st, FILE *out)
{
	fprintf(out, "samples: %llu taken, ", (unsigned long long)st->samples);
	print_lost(st, out);
	fprintf(out, ", %llu partial reads, %llu threads seen\n",
		(unsigned long long)st->partial_reads, (unsigned long long)st->threads_seen);
}

int output_summary(const struct profile *p, FILE *out)
{
	struct func_table t;
	int err = func_table_build(p, &t);
	if (err)
		return err;
	uint32_t *order = func_table_sorted(&t, 0);
	if (!order) {
		func_table_free(&t);
		return -ENOMEM;
	}
	fputs("Top functions by self:\n", out);
	char name[512], mod[256];
	size_t shown = 0;
	for (size_t i = 0; i < t.nfuncs && shown < SUMMARY_ROWS; i++) {
		const struct func_stat *f = &t.funcs[order[i]];
		if (!f->self_n)
			break;
		fprintf(out, "  %6.2f%%  %s (%s)\n", percent(f->self, t.grand_total),
			func_display(f, name, sizeof(name)), printable(f->module, mod, sizeof(mod)));
		shown++;
	}
	if (!shown)
		fputs("  (no samples)\n", out);
	print_samples(&p->stats, out);
	output_intrusion(p, out, 0);
	free(order);
	func_table_free(&t);
	return stream_status(out);
}
