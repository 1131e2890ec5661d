/* cli.h — the subcommands (one file each, as in git's builtin/) and the few
 * things they share: the one-line error format and the exit codes. */
#ifndef REMPROF_CLI_H
#define REMPROF_CLI_H

#include "remprof/exitcode.h"

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* "remprof: <message>\n" on stderr; returns code so callers can
 * `return cli_error(EXIT_USAGE, "...")`. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit-code table printed by every --help. */
extern const char cli_exit_codes_help[];

#endif
