/* bench.c — `remprof bench [--quick] [--label L] [-o result.json]`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "remprof/bench.h"
#include "remprof/compare.h"

static const char bench_usage[] =
	"usage: remprof bench [--quick] [--label L] [-o RESULT.json] [options]\n"
	"\n"
	"The intrusion experiment: runs the bundled jitter workload with no profiler,\n"
	"then sampled through each reader (vmreadv, procmem, peek), without and with a\n"
	"thread that holds mmap_lock for write for long (mprotect over a large populated\n"
	"region). The profiler is attached in alternating on/off windows inside each run,\n"
	"so that the drift of a shared machine cancels out of the ratios. Records the\n"
	"target's loop gaps, timer wake-up and mmap-op latency, the sampled threads'\n"
	"stop times, lost samples and mmap_lock waits and acquisitions per read.\n"
	"Stops are not bounded, so that waits show, except behind the writer by the end\n"
	"of their window: a copy still waiting then is given up (read blocked), so that\n"
	"no stop spills into the unprofiled window after it.\n"
	"\n"
	"      --quick            a short run (under 30 s) instead of the default (under 3 min)\n"
	"      --label L          name this result (default: the kernel release)\n"
	"  -o, --output FILE      write the JSON result (docs/bench-format.md)\n"
	"  -F, --freq HZ          sampling rate (default 1000)\n"
	"      --window-ms MS     length of one on or off window (default 400; quick 200)\n"
	"      --windows N        profiled windows per run (default 8; quick 3)\n"
	"      --stack-size BYTES stack copied per sample (default 16384)\n"
	"      --region-mb MB     the write holder's populated region (default 512; quick 256)\n"
	"  -h, --help             this text\n"
	"\n"
	"Environment: REMPROF_JITTER, the path of the workload if it is not found next to\n"
	"remprof.\n"
	"\n";

static void progress(void *ctx, const char *line)
{
	int tty = *(int *)ctx;
	fprintf(stderr, tty ? "\r\033[Kbench: %s" : "bench: %s\n", line);
	fflush(stderr);
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	enum { OPT_QUICK = 256, OPT_LABEL, OPT_WINDOW, OPT_WINDOWS, OPT_STACK, OPT_REGION };
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "kernel-label", required_argument, NULL, OPT_LABEL },
		{ "output", required_argument, NULL, 'o' },
		{ "freq", required_argument, NULL, 'F' },
		{ "window-ms", required_argument, NULL, OPT_WINDOW },
		{ "windows", required_argument, NULL, OPT_WINDOWS },
		{ "stack-size", required_argument, NULL, OPT_STACK },
		{ "region-mb", required_argument, NULL, OPT_REGION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int tty = isatty(STDERR_FILENO);
	struct bench_options o = { .freq_hz = 1000, .stack_size = 16384, .progress = progress, .ctx = &tty };
	const char *output = NULL;
	unsigned stack;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:F:h", longopts, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case OPT_QUICK: o.quick = 1; break;
		case OPT_LABEL: o.label = optarg; break;
		case 'o': output = optarg; break;
		case 'F': if (parse_uint(optarg, 1, 20000, &o.freq_hz)) bad = "frequency (1..20000 Hz)"; break;
		case OPT_WINDOW: if (parse_uint(optarg, 100, 60000, &o.window_ms)) bad = "window (100..60000 ms)"; break;
		case OPT_WINDOWS: if (parse_uint(optarg, 1, 1000, &o.windows)) bad = "window count (1..1000)"; break;
		case OPT_STACK:
			if (parse_uint(optarg, 256, 1 << 20, &stack)) bad = "stack size (256..1048576 bytes)";
			o.stack_size = stack;
			break;
		case OPT_REGION: if (parse_uint(optarg, 1, 16384, &o.region_mb)) bad = "region (1..16384 MB)"; break;
		case 'h':
			fputs(bench_usage, stdout);
			fputs(cli_exit_codes_help, stdout);
			return EXIT_OK;
		case ':':
			return cli_error(EXIT_USAGE, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_error(EXIT_USAGE, "unknown option '%s' (try: remprof bench --help)",
					 argv[optind - 1]);
		}
		if (bad)
			return cli_error(EXIT_USAGE, "bad %s: '%s'", bad, optarg);
	}
	if (optind < argc)
		return cli_error(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);

	struct bench_result r = { 0 };
	char err[512] = "";
	enum bench_status st = bench_run(&o, &r, err, sizeof(err));
	if (tty)
		fputs("\r\033[K", stderr);
	if (st != BENCH_OK) {
		bench_result_free(&r);
		return cli_error(st == BENCH_INTERRUPTED ? 128 + 2 :
				 st == BENCH_ATTACH_FAILED ? EXIT_PERMISSION : EXIT_FAILURE_INTERNAL,
				 "bench: %s", err);
	}
	struct compare_input in = { .label = r.label, .result = r };
	struct compare_set one = { .inputs = &in, .ninputs = 1 };
	compare_print_table(&one, stdout);
	int code = EXIT_OK;
	if (output) {
		int e = bench_result_save(&r, output);
		if (e < 0)
			code = cli_error(EXIT_OUTPUT, "cannot write %s: %s", output, strerror(-e));
		else
			fprintf(stderr, "remprof: wrote %s\n", output);
	}
	bench_result_free(&r);
	return code;
}
