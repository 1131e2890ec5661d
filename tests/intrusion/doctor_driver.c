/* doctor_driver.c — runs cmd_doctor as `remprof doctor` would, until the
 * dispatcher in src/main.c links it: the two things main.c provides to every
 * command, then the command itself. */
#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"

int cmd_doctor(int argc, char **argv);

const char cli_exit_codes_help[] = "Exit codes: see remprof --help\n";

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
	return cmd_doctor(argc, argv);
}
