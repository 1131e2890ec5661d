/* report.c — `remprof report FILE`: a recorded profile as text or as folded
 * stacks, on stdout or atomically into a file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "remprof/output.h"
#include "remprof/profile.h"

static const char report_usage[] =
	"usage: remprof report FILE [--format text|folded] [--per-thread] [--rows N] [-o OUT]\n"
	"\n"
	"Turn a profile written by `remprof record` into:\n"
	"  text     header, top functions by self and by total, threads, call tree\n"
	"           (percentages are of sample weight: CPU time, or wall time with --idle)\n"
	"  folded   collapsed stacks \"root;...;leaf COUNT\" (COUNT = samples) for\n"
	"           flamegraph.pl, inferno or speedscope; inlined frames end in _[i]\n"
	"\n"
	"Options:\n"
	"  -f, --format F    text (default) or folded\n"
	"      --per-thread  folded: one root frame per thread name\n"
	"  -n, --rows N      text: rows in each top table (default 20)\n"
	"  -o, --output OUT  write to OUT (via OUT.tmp and rename; nothing left on error)\n"
	"  -h, --help        this help\n"
	"\n"
	"A missing, unreadable, truncated or corrupt FILE exits with 7.\n"
	"\n";

enum report_format { FORMAT_TEXT, FORMAT_FOLDED };

struct report_args {
	const char *input;
	const char *output;        /* NULL or "-": stdout */
	enum report_format format;
	struct output_options opts;
};

static int parse_rows(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > 1000000)
		return -1;
	*out = (int)v;
	return 0;
}

/* 0 to go on, or an exit code (EXIT_OK after --help). */
static int parse_args(int argc, char **argv, struct report_args *a, int *done)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "per-thread", no_argument, NULL, 'T' },
		{ "rows", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	opterr = 0; /* our own one-line messages */
	optind = 1;
	while ((c = getopt_long(argc, argv, ":f:n:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "text"))
				a->format = FORMAT_TEXT;
			else if (!strcmp(optarg, "folded"))
				a->format = FORMAT_FOLDED;
			else
				return cli_error(EXIT_USAGE, "unknown format '%s' (text or folded)", optarg);
			break;
		case 'T':
			a->opts.per_thread = 1;
			break;
		case 'n':
			if (parse_rows(optarg, &a->opts.max_rows) < 0)
				return cli_error(EXIT_USAGE, "bad --rows '%s' (a number from 1)", optarg);
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'h':
			fputs(report_usage, stdout);
			fputs(cli_exit_codes_help, stdout);
			*done = 1;
			return EXIT_OK;
		case ':':
			return cli_error(EXIT_USAGE, "option '%s' needs a value (try: remprof report --help)",
					 argv[optind - 1]);
		default:
			return cli_error(EXIT_USAGE, "unknown option '%s' (try: remprof report --help)",
					 argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_error(EXIT_USAGE, "%s (usage: remprof report FILE [--format text|folded] "
				 "[--per-thread] [-o OUT])",
				 optind == argc ? "no profile file given" : "more than one profile file given");
	a->input = argv[optind];
	return 0;
}

static int write_report(const struct profile *p, const struct report_args *a, FILE *out)
{
	if (a->format == FORMAT_FOLDED)
		return output_folded(p, out, &a->opts);
	return output_text(p, out, &a->opts);
}

/* Into OUT.tmp, then renamed over OUT: a reader of OUT sees the old file or
 * the whole new one, and a failure leaves nothing behind. */
static int report_to_file(const struct profile *p, const struct report_args *a)
{
	size_t n = strlen(a->output);
	char *tmp = malloc(n + 5);
	if (!tmp)
		return cli_error(EXIT_FAILURE_INTERNAL, "out of memory");
	memcpy(tmp, a->output, n);
	memcpy(tmp + n, ".tmp", 5);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		int e = errno;
		free(tmp);
		return cli_error(EXIT_OUTPUT, "cannot write %s: %s", a->output, strerror(e));
	}
	int err = write_report(p, a, f);
	if (fflush(f) == EOF && !err)
		err = -errno;
	if (!err && fsync(fileno(f)) < 0)
		err = -errno;
	if (fclose(f) == EOF && !err)
		err = -errno;
	if (!err && rename(tmp, a->output) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	free(tmp);
	if (err == -ENOMEM)
		return cli_error(EXIT_FAILURE_INTERNAL, "out of memory");
	if (err)
		return cli_error(EXIT_OUTPUT, "cannot write %s: %s", a->output, strerror(-err));
	return EXIT_OK;
}

static int report_to_stdout(const struct profile *p, const struct report_args *a)
{
	int err = write_report(p, a, stdout);
	if (fflush(stdout) == EOF && !err)
		err = -errno;
	if (err == -ENOMEM)
		return cli_error(EXIT_FAILURE_INTERNAL, "out of memory");
	if (err)
		return cli_error(EXIT_OUTPUT, "cannot write the report: %s", strerror(-err));
	return EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	struct report_args a = { .format = FORMAT_TEXT };
	int done = 0;
	int rc = parse_args(argc, argv, &a, &done);
	if (rc || done)
		return rc;

	struct profile *p = NULL;
	char err[256];
	int lr = profile_load(&p, a.input, err, sizeof(err));
	if (lr == -ENOMEM)
		return cli_error(EXIT_FAILURE_INTERNAL, "cannot read %s: out of memory", a.input);
	if (lr < 0)
		return cli_error(EXIT_BAD_INPUT, "cannot read profile %s: %s", a.input, err);

	if (a.output && strcmp(a.output, "-"))
		rc = report_to_file(p, &a);
	else
		rc = report_to_stdout(p, &a);
	profile_free(p);
	return rc;
}
