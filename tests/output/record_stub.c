/* record_stub.c — stands in for src/cli/record.c in report_driver, so that
 * `remprof report` (the real main.c dispatcher and report.c) can be tested
 * end to end without the sampling modules. */
#include "cli/cli.h"

int cmd_record(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error(EXIT_FAILURE_INTERNAL, "record is not part of this test driver");
}
