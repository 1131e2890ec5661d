/* report_driver.c — `report_driver report ARGS` runs cmd_report() as
 * `remprof report ARGS` would, linked with only the profile and output
 * modules, so that src/cli/report.c is tested end to end even while the
 * sampling side of the remprof binary does not build. cli_error() and the
 * exit-code table mirror src/main.c's (the test against the real binary
 * catches any drift). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const char cli_exit_codes_help[] = "Exit codes:\n  (see remprof --help)\n";

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

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "report"))
		return cli_error(EXIT_USAGE, "usage: report_driver report ARGS");
	return cmd_report(argc - 1, argv + 1);
}
