/* doctor.h — what this machine and this process allow remprof to do.
 *
 * Facts are gathered, not guessed: ptrace and every reader are tried on a
 * child that doctor starts itself (a sleeping fork with a touched stack), and
 * on the target too when one is named (without stopping it: ptrace permission
 * is tried by a helper process that seizes the target and exits, which
 * detaches it; readers read a few bytes of its stack). Whether a
 * /proc/PID/mem read takes the target's mmap_lock is measured with lockwatch:
 * remprof's acquisitions of the child's mm during N reads of one resident page. */
#ifndef REMPROF_DOCTOR_H
#define REMPROF_DOCTOR_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

/* Result fields hold 0 when something works, -errno when it does not, and
 * DOCTOR_UNTRIED when it could not be tried (e.g. no target given). */
#define DOCTOR_UNTRIED INT_MIN

struct doctor_readers {
	int vmreadv;  /* process_vm_readv */
	int procmem;  /* pread on /proc/PID/mem */
	int peek;     /* PTRACE_PEEKDATA (needs a ptrace stop: only on the child) */
};

struct doctor_lock_probe {
	unsigned reads;              /* reads of one resident page, per reader */
	double procmem_acq_per_read; /* remprof's acquisitions of the child's mm per read */
	double vmreadv_acq_per_read;
	uint64_t lost;               /* trace events dropped (then the figures are lower bounds) */
};

struct doctor_facts {
	char kernel[128];            /* uname -r */
	uid_t uid, euid;

	/* The process named with -p (pid 0: none). */
	pid_t pid;
	int target;                  /* 0, -ESRCH no such process, or -errno reading /proc */
	char comm[64];
	char state;
	int is_kernel_thread;
	pid_t tracer_pid;            /* 0: nobody traces it */
	uid_t target_uid;
	int target_ptrace;           /* PTRACE_SEIZE by a helper of ours */
	struct doctor_readers target_readers;

	/* A child doctor starts itself: what remprof record -- CMD would face. */
	int child_ptrace;            /* SEIZE + INTERRUPT + wait + GETREGSET + DETACH */
	struct doctor_readers child_readers;

	/* Policy. */
	int yama_ptrace_scope;       /* 0..3, -1: no Yama */
	int perf_event_paranoid;     /* DOCTOR_UNTRIED if unreadable */
	uint64_t cap_eff;            /* CapEff of remprof itself */
	int cap_sys_ptrace, cap_sys_admin, cap_perfmon;

	/* Kernel features. */
	char tracefs_dir[PATH_MAX];  /* "" if there is no tracefs (or it cannot be mounted) */
	int mmap_lock_events;        /* 1 / 0, or -errno if no tracefs */
	int per_vma_lock;            /* CONFIG_PER_VMA_LOCK: 1 y, 0 not set, -ENOENT no config found */
	char config_source[PATH_MAX];/* where the kernel config was read */

	/* The empirical answer: 1 procmem takes mmap_lock (no per-VMA remote-read
	 * fast path), 0 it does not (fast path), -errno could not tell. */
	int procmem_takes_mmap_lock;
	struct doctor_lock_probe probe;
};

/* Gather everything; pid 0 for machine facts only. 0, or -ESRCH when pid does
 * not exist (the machine facts are filled anyway), or -errno when the child
 * could not be started. */
int doctor_collect(struct doctor_facts *f, pid_t pid);

/* The empirical check alone (what `--reader auto` uses): fork a child, read
 * one resident page of its stack `reads` times through each reader while
 * lockwatch counts our acquisitions of its mm. 0 or -errno (-ENOENT: no
 * tracefs / no mmap_lock tracepoints). */
int doctor_probe_mmap_lock(struct doctor_lock_probe *out, unsigned reads);
/* 1: a /proc/PID/mem read of a resident page takes the target's mmap_lock
 * here; 0: it does not (the per-VMA fast path); -errno: could not tell. */
int doctor_procmem_takes_mmap_lock(void);
/* A kernel config option (e.g. "CONFIG_PER_VMA_LOCK") of the running kernel,
 * from /proc/config.gz or /boot/config-RELEASE: 1 set (y or m), 0 not set,
 * -ENOENT no config to read. */
int doctor_kernel_config(const char *opt);

#endif
