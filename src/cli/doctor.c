/* doctor.c — `remprof doctor [-p PID]`: what this machine and this process
 * allow, in plain words. The facts come from doctor_collect(); this file only
 * explains them and picks the exit code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "remprof/doctor.h"


static const char doctor_usage[] =
	"usage: remprof doctor [-p PID]\n"
	"\n"
	"Explain what this machine allows remprof to do: ptrace permission (on PID,\n"
	"and on a child remprof starts itself), Yama ptrace_scope, capabilities,\n"
	"perf_event_paranoid, which readers work, tracefs and the mmap_lock\n"
	"tracepoints, CONFIG_PER_VMA_LOCK, and an empirical check of whether a\n"
	"/proc/PID/mem read of a resident page takes the target's mmap_lock here.\n"
	"PID is never stopped: its ptrace permission is tried by a helper that\n"
	"seizes it and exits.\n"
	"\n"
	"  -p, --pid PID   also check this process\n"
	"  -h, --help      this text\n"
	"\n"
	"doctor exits 0 when the target (without -p: a child of remprof) can be\n"
	"profiled, 3 if PID does not exist, 4 if ptrace is not permitted, 5 if PID\n"
	"already has a tracer, 6 if PID is a kernel thread or a zombie, 1 if the\n"
	"checks themselves could not run.\n"
	"\n";

static const char *yes(int v)
{
	return v ? "yes" : "no";
}

/* "works", "fails: <reason>", or "not tried". */
static void print_result(const char *what, int r)
{
	if (r == DOCTOR_UNTRIED)
		printf("%s not tried", what);
	else if (r == 0)
		printf("%s works", what);
	else
		printf("%s fails (%s)", what, strerror(-r));
}

static void print_readers(const struct doctor_readers *r, const char *peek_note)
{
	printf("  readers: ");
	print_result("vmreadv", r->vmreadv);
	printf(", ");
	print_result("procmem", r->procmem);
	printf(", ");
	print_result("peek", r->peek);
	printf("%s\n", peek_note);
}

static const char *yama_words(int scope)
{
	switch (scope) {
	case -1: return "no Yama: classic ptrace permissions";
	case 0: return "classic: any process of the same user";
	case 1: return "restricted: only descendants, unless CAP_SYS_PTRACE";
	case 2: return "admin-only: CAP_SYS_PTRACE required";
	case 3: return "no attach at all until reboot";
	default: return "unknown value";
	}
}

/* What would make ptrace work, given why it failed. */
static void ptrace_hint(const struct doctor_facts *f, int err, int is_child)
{
	if (err == -EPERM && !is_child && f->tracer_pid)
		printf("    it already has a tracer (pid %d): detach that one first\n",
		       (int)f->tracer_pid);
	else if (f->yama_ptrace_scope == 3)
		printf("    Yama ptrace_scope is 3: no process can be traced until reboot\n");
	else if (f->yama_ptrace_scope == 2 && !f->cap_sys_ptrace)
		printf("    Yama ptrace_scope is 2: run as root or with CAP_SYS_PTRACE\n");
	else if (f->yama_ptrace_scope == 1 && !f->cap_sys_ptrace && !is_child)
		printf("    Yama ptrace_scope is 1: run as root or with CAP_SYS_PTRACE, or "
		       "sysctl kernel.yama.ptrace_scope=0, or start it with remprof record -- CMD\n");
	else if (!is_child && f->target_uid != f->euid && !f->cap_sys_ptrace)
		printf("    it runs as uid %u, remprof as uid %u: run as that user, as root, "
		       "or with CAP_SYS_PTRACE\n", (unsigned)f->target_uid, (unsigned)f->euid);
	else if (err == -EPERM || err == -EACCES)
		printf("    the kernel refused although the usual rules allow it: the process may be\n"
		       "    non-dumpable (setuid, prctl PR_SET_DUMPABLE 0), in another user namespace,\n"
		       "    or protected by an LSM (SELinux, AppArmor)\n");
}

static void print_permissions(const struct doctor_facts *f)
{
	printf("Permissions\n");
	printf("  capabilities: CAP_SYS_PTRACE %s, CAP_SYS_ADMIN %s, CAP_PERFMON %s (CapEff %016llx)\n",
	       yes(f->cap_sys_ptrace), yes(f->cap_sys_admin), yes(f->cap_perfmon),
	       (unsigned long long)f->cap_eff);
	printf("  Yama ptrace_scope: %d (%s)\n", f->yama_ptrace_scope, yama_words(f->yama_ptrace_scope));
	if (f->perf_event_paranoid == DOCTOR_UNTRIED)
		printf("  perf_event_paranoid: unknown (no perf events in this kernel)\n");
	else
		printf("  perf_event_paranoid: %d (%s)\n", f->perf_event_paranoid,
		       f->cap_perfmon || f->cap_sys_admin ? "does not apply: remprof has CAP_PERFMON/CAP_SYS_ADMIN"
		       : f->perf_event_paranoid <= 1 ? "per-thread CPU-time triggers allowed"
		       : f->perf_event_paranoid == 2 ? "user-space-only per-thread events allowed"
		       : "perf events not allowed: run as root or with CAP_PERFMON");
	printf("  a child remprof starts (record -- CMD): ");
	print_result("ptrace", f->child_ptrace);
	printf("\n");
	if (f->child_ptrace != 0 && f->child_ptrace != DOCTOR_UNTRIED)
		ptrace_hint(f, f->child_ptrace, 1);
	print_readers(&f->child_readers, "");
}

static void print_target(const struct doctor_facts *f)
{
	printf("\nTarget %d", (int)f->pid);
	if (f->target < 0) {
		printf(": %s\n", f->target == -ESRCH ? "no such process" : strerror(-f->target));
		return;
	}
	printf(" (%s), state %c, uid %u%s\n", f->comm, f->state, (unsigned)f->target_uid,
	       f->is_kernel_thread ? ", a kernel thread: nothing to profile" : "");
	if (f->is_kernel_thread)
		return;
	if (f->tracer_pid)
		printf("  already traced by pid %d\n", (int)f->tracer_pid);
	printf("  ptrace (PTRACE_SEIZE): %s\n",
	       f->target_ptrace == 0 ? "permitted" : strerror(-f->target_ptrace));
	if (f->target_ptrace != 0)
		ptrace_hint(f, f->target_ptrace, 0);
	print_readers(&f->target_readers, " (it needs a stop: tried on the child only)");
}

static void print_fast_path(const struct doctor_facts *f)
{
	const struct doctor_lock_probe *p = &f->probe;
	int r = f->procmem_takes_mmap_lock;
	if (r < 0) {
		printf("  /proc/PID/mem and mmap_lock: cannot tell (%s)%s\n", strerror(-r),
		       r == -ENOENT ? ": needs tracefs with the mmap_lock tracepoints" : "");
		return;
	}
	printf("  remprof's acquisitions of a child's mmap_lock per read of one resident page\n"
	       "  (%u reads each): /proc/PID/mem %.2f, process_vm_readv %.2f%s\n",
	       p->reads, p->procmem_acq_per_read, p->vmreadv_acq_per_read,
	       p->lost ? " (events were lost: lower bounds)" : "");
	printf("  => this kernel %s the per-VMA remote-read fast path: a /proc/PID/mem read %s\n",
	       r ? "has not" : "has",
	       r ? "takes the target's mmap_lock once per page" : "of resident memory takes no mmap_lock");
}

static void print_kernel(const struct doctor_facts *f)
{
	printf("\nKernel %s\n", f->kernel);
	if (f->tracefs_dir[0])
		printf("  tracefs: %s; mmap_lock tracepoints: %s\n", f->tracefs_dir,
		       f->mmap_lock_events > 0 ? "yes" : "no (the kernel lacks them)");
	else
		printf("  tracefs: not mounted and cannot be mounted (needs CAP_SYS_ADMIN); "
		       "lock waits will not be measured\n");
	if (f->per_vma_lock < 0)
		printf("  CONFIG_PER_VMA_LOCK: unknown (no /proc/config.gz or /boot/config-%s)\n",
		       f->kernel);
	else
		printf("  CONFIG_PER_VMA_LOCK: %s (from %s)\n", f->per_vma_lock ? "y" : "not set",
		       f->config_source);
	print_fast_path(f);
}

static int exit_code(const struct doctor_facts *f)
{
	if (f->pid == 0)
		return f->child_ptrace == 0 ? EXIT_OK : EXIT_PERMISSION;
	if (f->target == -ESRCH)
		return EXIT_NO_TARGET;
	if (f->target < 0 || f->is_kernel_thread || f->state == 'Z' || f->state == 'X')
		return EXIT_BAD_TARGET;
	if (f->tracer_pid)
		return EXIT_TRACED;
	return f->target_ptrace == 0 ? EXIT_OK : EXIT_PERMISSION;
}

static int parse_args(int argc, char **argv, pid_t *pid)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	opterr = 0; /* our own one-line errors, not getopt's */
	while ((c = getopt_long(argc, argv, ":p:h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'p':
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 0x3fffffff)
				return cli_error(EXIT_USAGE, "doctor: bad PID '%s'", optarg);
			*pid = (pid_t)v;
			break;
		case 'h':
			fputs(doctor_usage, stdout);
			fputs(cli_exit_codes_help, stdout);
			return -1;
		case ':':
			return cli_error(EXIT_USAGE, "doctor: %s needs a PID", argv[optind - 1]);
		default:
			return cli_error(EXIT_USAGE, "doctor: unknown option '%s' (try remprof doctor --help)",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_error(EXIT_USAGE, "doctor: unexpected argument '%s'", argv[optind]);
	return 0;
}

int cmd_doctor(int argc, char **argv)
{
	pid_t pid = 0;
	int ret = parse_args(argc, argv, &pid);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	struct doctor_facts *f = malloc(sizeof(*f));
	if (!f)
		return cli_error(EXIT_FAILURE_INTERNAL, "doctor: out of memory");
	ret = doctor_collect(f, pid);
	if (ret < 0 && ret != -ESRCH) {
		free(f);
		return cli_error(EXIT_FAILURE_INTERNAL, "doctor: cannot start a child to test with: %s",
				 strerror(-ret));
	}
	printf("remprof doctor: kernel %s, running as uid %u (euid %u)\n\n", f->kernel,
	       (unsigned)f->uid, (unsigned)f->euid);
	print_permissions(f);
	if (pid)
		print_target(f);
	print_kernel(f);
	ret = exit_code(f);
	free(f);
	return ret;
}
