/* plot.c — percentile-distribution plots as a self-contained SVG.
 *
 * The x axis counts "nines" (x = -log10(1 - p): p50 at 0.3, p99 at 2, p99.9
 * at 3), the y axis is log latency: the shape HdrHistogram made familiar, in
 * which a tail that a kernel change removes is a line that stops climbing. */
#include "remprof/compare.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define PANEL_W 1020
#define PANEL_H 330
#define MARGIN_L 80
#define MARGIN_R 340   /* room for the legend */
#define MARGIN_T 40
#define MARGIN_B 50
#define X_NINES 4.0    /* up to p99.99 */

struct metric {
	const char *title;
	const struct hist *(*pick)(const struct bench_run *r);
};

static const struct hist *pick_stop(const struct bench_run *r) { return &r->sampler.stop_ns; }
static const struct hist *pick_gap(const struct bench_run *r) { return &r->on.gap_ns; }
static const struct hist *pick_mmap(const struct bench_run *r) { return &r->on.mmap_op_ns; }
static const struct hist *pick_wake(const struct bench_run *r) { return &r->on.wakeup_ns; }

static const struct metric metrics[] = {
	{ "Sampled thread's stop time (interrupt sent to resumed)", pick_stop },
	{ "Target loop gaps while profiled", pick_gap },
	{ "Target timer wake-up latency while profiled", pick_wake },
	{ "Target mmap + touch + munmap latency while profiled", pick_mmap },
};

static const char *reader_color(const char *reader)
{
	if (!strcmp(reader, "vmreadv"))
		return "#1f77b4";
	if (!strcmp(reader, "procmem"))
		return "#ff7f0e";
	if (!strcmp(reader, "peek"))
		return "#2ca02c";
	return "#7f7f7f";  /* "none": the unprofiled baseline */
}

static const char *const dashes[] = { "", "8 4", "2 3", "10 3 2 3" };

static void xml_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(*s, out);
		}
	}
}

struct frame {
	double x0, y0, w, h;   /* plot area inside the panel */
	double lo, hi;         /* log10 of the y range in µs */
};

static double px(const struct frame *f, double nines)
{
	return f->x0 + f->w * nines / X_NINES;
}

static double py(const struct frame *f, double us)
{
	double l = log10(us < 0.01 ? 0.01 : us);
	return f->y0 + f->h * (1.0 - (l - f->lo) / (f->hi - f->lo));
}

static void axes(FILE *out, const struct frame *f, const char *title)
{
	fprintf(out, "<text x='%.0f' y='%.0f' font-size='15' font-weight='bold'>", f->x0, f->y0 - 14);
	xml_text(out, title);
	fputs("</text>\n", out);
	fprintf(out, "<rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' fill='none' stroke='#333'/>\n",
		f->x0, f->y0, f->w, f->h);
	static const struct { double nines; const char *label; } xt[] = {
		{ 0, "p0" }, { 0.30103, "p50" }, { 1, "p90" }, { 2, "p99" }, { 3, "p99.9" }, { 4, "p99.99" },
	};
	for (size_t i = 0; i < sizeof(xt) / sizeof(xt[0]); i++) {
		double x = px(f, xt[i].nines);
		fprintf(out, "<line x1='%.1f' y1='%.0f' x2='%.1f' y2='%.0f' stroke='#ddd'/>\n",
			x, f->y0, x, f->y0 + f->h);
		fprintf(out, "<text x='%.1f' y='%.0f' font-size='12' text-anchor='middle'>%s</text>\n",
			x, f->y0 + f->h + 16, xt[i].label);
	}
	fprintf(out, "<text x='%.0f' y='%.0f' font-size='12' text-anchor='middle'>percentile</text>\n",
		f->x0 + f->w / 2, f->y0 + f->h + 36);
	for (int d = (int)ceil(f->lo); d <= (int)floor(f->hi); d++) {
		double y = py(f, pow(10, d));
		static const char *const names[] = { "0.01", "0.1", "1", "10", "100", "1 ms", "10 ms", "100 ms", "1 s", "10 s" };
		fprintf(out, "<line x1='%.0f' y1='%.1f' x2='%.0f' y2='%.1f' stroke='#ddd'/>\n",
			f->x0, y, f->x0 + f->w, y);
		fprintf(out, "<text x='%.0f' y='%.1f' font-size='12' text-anchor='end'>%s</text>\n",
			f->x0 - 6, y + 4, d + 2 >= 0 && d + 2 < 10 ? names[d + 2] : "?");
	}
	fprintf(out, "<text x='%.0f' y='%.0f' font-size='12' text-anchor='middle' "
		"transform='rotate(-90 %.0f %.0f)'>latency (µs, log scale)</text>\n",
		f->x0 - 52, f->y0 + f->h / 2, f->x0 - 52, f->y0 + f->h / 2);
}

static void series(FILE *out, const struct frame *f, const struct hist *h, const char *color,
		   const char *dash, int writer)
{
	fprintf(out, "<polyline fill='none' stroke='%s' stroke-width='%s' stroke-dasharray='%s' points='",
		color, writer ? "3" : "1.6", dash);
	for (int k = 0; k <= 160; k++) {
		double nines = X_NINES * k / 160.0;
		double p = 100.0 * (1.0 - pow(10, -nines));
		fprintf(out, "%.1f,%.1f ", px(f, nines), py(f, (double)hist_percentile(h, p) / 1e3));
	}
	fputs("'/>\n", out);
}

/* The y range (log10 µs) that holds every line of the metric. */
static int y_range(const struct compare_set *set, const struct metric *m, double *lo, double *hi)
{
	double mn = INFINITY, mx = -INFINITY;
	for (size_t i = 0; i < set->ninputs; i++) {
		const struct bench_result *r = &set->inputs[i].result;
		for (size_t j = 0; j < r->nruns; j++) {
			const struct hist *h = m->pick(&r->runs[j]);
			if (!h->count)
				continue;
			mn = fmin(mn, (double)hist_percentile(h, 0) / 1e3);
			mx = fmax(mx, (double)hist_percentile(h, 99.99) / 1e3);
		}
	}
	if (mx < mn)
		return 0;
	*lo = floor(log10(fmax(mn, 0.01)));
	*hi = ceil(log10(fmax(mx, 0.01)));
	if (*hi <= *lo)
		*hi = *lo + 1;
	return 1;
}

static void legend_entry(FILE *out, double x, double y, const char *color, const char *dash,
			 int writer, const char *label, const char *reader)
{
	fprintf(out, "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='%s' stroke-width='%s' "
		"stroke-dasharray='%s'/>\n", x, y, x + 28, y, color, writer ? "3" : "1.6", dash);
	fprintf(out, "<text x='%.0f' y='%.0f' font-size='12'>", x + 34, y + 4);
	xml_text(out, label);
	fprintf(out, " · %s%s</text>\n", reader, writer ? " +writer" : "");
}

static int panel(FILE *out, const struct compare_set *set, const struct metric *m, double top)
{
	struct frame f = { MARGIN_L, top + MARGIN_T, PANEL_W - MARGIN_L - MARGIN_R,
			   PANEL_H - MARGIN_T - MARGIN_B, 0, 1 };
	if (!y_range(set, m, &f.lo, &f.hi))
		return 0;
	axes(out, &f, m->title);
	double ly = f.y0 + 8;
	for (size_t i = 0; i < set->ninputs; i++) {
		const struct bench_result *r = &set->inputs[i].result;
		const char *dash = dashes[i % (sizeof(dashes) / sizeof(dashes[0]))];
		for (size_t j = 0; j < r->nruns; j++) {
			const struct bench_run *run = &r->runs[j];
			const struct hist *h = m->pick(run);
			if (!h->count)
				continue;
			const char *color = reader_color(run->reader);
			series(out, &f, h, color, dash, run->writer);
			if (ly < f.y0 + f.h + MARGIN_B - 10) {
				legend_entry(out, f.x0 + f.w + 16, ly, color, dash, run->writer,
					     set->inputs[i].label, run->reader);
				ly += 17;
			}
		}
	}
	return 1;
}

int compare_write_svg(const struct compare_set *set, FILE *out)
{
	size_t n = sizeof(metrics) / sizeof(metrics[0]);
	fprintf(out, "<?xml version='1.0' encoding='UTF-8'?>\n"
		"<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%zu' "
		"font-family='DejaVu Sans, Helvetica, Arial, sans-serif'>\n"
		"<rect width='100%%' height='100%%' fill='white'/>\n", PANEL_W, PANEL_H * n + 20);
	double top = 10;
	int drawn = 0;
	for (size_t k = 0; k < n; k++) {
		fputs("<g>\n", out);
		if (panel(out, set, &metrics[k], top)) {
			top += PANEL_H;
			drawn++;
		}
		fputs("</g>\n", out);
	}
	if (!drawn)
		fprintf(out, "<text x='20' y='40' font-size='14'>no latency histograms in the inputs</text>\n");
	fputs("</svg>\n", out);
	return ferror(out) ? -EIO : 0;
}
