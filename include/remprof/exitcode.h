/* exitcode.h — the exit codes of every remprof command (listed in --help and docs/remprof.1.md). */
#ifndef REMPROF_EXITCODE_H
#define REMPROF_EXITCODE_H

enum remprof_exit {
	EXIT_OK = 0,
	EXIT_FAILURE_INTERNAL = 1, /* unexpected failure inside remprof */
	EXIT_USAGE = 2,            /* unknown flag, bad value, missing argument */
	EXIT_NO_TARGET = 3,        /* no such process, or it exited before attach */
	EXIT_PERMISSION = 4,       /* ptrace or perf_event_open not permitted */
	EXIT_TRACED = 5,           /* the target already has a tracer */
	EXIT_BAD_TARGET = 6,       /* kernel thread, zombie, or otherwise not profilable */
	EXIT_BAD_INPUT = 7,        /* profile file truncated, corrupt or of an unknown version */
	EXIT_OUTPUT = 8,           /* cannot write the output file */
	EXIT_CMD_NOT_FOUND = 127,  /* record -- COMMAND: the command could not be executed */
};

#endif
