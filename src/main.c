/* main.c — dispatch to a subcommand; nothing else. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const char cli_exit_codes_help[] =
	"Exit codes:\n"
	"  0    success\n"
	"  1    internal error\n"
	"  2    usage error (unknown flag, bad value)\n"
	"  3    no such process\n"
	"  4    permission denied (ptrace or perf_event_open)\n"
	"  5    the target already has a tracer\n"
	"  6    not profilable (kernel thread, zombie)\n"
	"  7    profile file truncated, corrupt or of an unknown version\n"
	"  8    cannot write the output\n"
	"  127  record -- COMMAND: the command could not be executed\n"
	"  record -- COMMAND otherwise exits with the command's status (128+N if killed by signal N).\n";

static const char usage[] =
	"usage: remprof COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  record   sample the stacks of running processes (or of a command) into a profile\n"
	"  report   turn a recorded profile into text or folded stacks\n"
	"  bench    the intrusion experiment: what each reader costs the target\n"
	"  compare  bench results or profiles side by side, with an SVG plot\n"
	"  doctor   what this machine and kernel allow remprof to do\n"
	"\n"
	"remprof COMMAND --help shows the options of a command; remprof --version the version.\n";

int cli_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("remprof: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
} commands[] = {
	{ "record", cmd_record },
	{ "report", cmd_report },
	{ "bench", cmd_bench },
	{ "compare", cmd_compare },
	{ "doctor", cmd_doctor },
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return fputs(usage, stderr), EXIT_USAGE;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		fputs("\n", stdout);
		fputs(cli_exit_codes_help, stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("remprof %s\n", REMPROF_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	return cli_error(EXIT_USAGE, "unknown command '%s' (try: remprof --help)", argv[1]);
}
