/* compare.c — `remprof compare A B [...] [-o plot.svg]`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "remprof/compare.h"

static const char compare_usage[] =
	"usage: remprof compare FILE FILE... [-o PLOT.svg]\n"
	"\n"
	"Side by side: the figures of bench results (remprof bench -o) and of recorded\n"
	"profiles (their sampling statistics), from different kernels, readers or\n"
	"settings, with ratios to the first file.\n"
	"\n"
	"  -o, --output PLOT.svg  also draw the latency distributions (stop time, target\n"
	"                         gaps, wake-ups, mmap ops) per reader and file\n"
	"  -h, --help             this text\n"
	"\n";

/* The plot goes to PATH.tmp first, so a failure leaves nothing behind. */
static int write_plot(const struct compare_set *set, const char *path)
{
	size_t len = strlen(path) + 5;
	char tmp[len];
	snprintf(tmp, len, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	int err = compare_write_svg(set, f);
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int cmd_compare(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *plot = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			plot = optarg;
			break;
		case 'h':
			fputs(compare_usage, stdout);
			fputs(cli_exit_codes_help, stdout);
			return EXIT_OK;
		case ':':
			return cli_error(EXIT_USAGE, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_error(EXIT_USAGE, "unknown option '%s' (try: remprof compare --help)",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_error(EXIT_USAGE, "nothing to compare: give one or more result files");

	struct compare_set set = { 0 };
	for (int i = optind; i < argc; i++) {
		char err[512];
		if (compare_add_input(&set, argv[i], err, sizeof(err)) < 0) {
			compare_set_free(&set);
			return cli_error(EXIT_BAD_INPUT, "%s", err);
		}
	}
	compare_print_table(&set, stdout);
	int code = EXIT_OK;
	if (plot) {
		int err = write_plot(&set, plot);
		if (err < 0)
			code = cli_error(EXIT_OUTPUT, "cannot write %s: %s", plot, strerror(-err));
	}
	compare_set_free(&set);
	return code;
}
