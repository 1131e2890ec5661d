/* test_doctor.c — doctor's facts on this machine, against a real child.
 * The expected fast-path answer is the stock kernel's (procmem takes
 * mmap_lock); on a kernel with the per-VMA remote-read fast path set
 * REMPROF_EXPECT_FASTPATH=1. */
#include "remprof/doctor.h"
#include "../check.h"
#include "children.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	const char *env = getenv("REMPROF_EXPECT_FASTPATH");
	int expect_takes = !(env && env[0] == '1');

	int takes = doctor_procmem_takes_mmap_lock();
	if (takes == -ENOENT) {
		fprintf(stderr, "no tracefs or mmap_lock tracepoints: skipped\n");
		return 77;
	}
	CHECK_EQ_INT(takes, expect_takes);

	struct doctor_lock_probe p;
	CHECK_EQ_INT(doctor_probe_mmap_lock(&p, 32), 0);
	fprintf(stderr, "per read of one page: procmem %.2f, vmreadv %.2f acquisitions\n",
		p.procmem_acq_per_read, p.vmreadv_acq_per_read);
	CHECK_EQ_INT(p.reads, 32);
	CHECK(p.vmreadv_acq_per_read >= 1.0); /* no fast path for vmreadv in either kernel */
	if (expect_takes)
		CHECK(p.procmem_acq_per_read >= 1.0);

	uint64_t addr;
	pid_t child = child_sleeper(&addr);
	static struct doctor_facts f;
	CHECK_EQ_INT(doctor_collect(&f, child), 0);
	CHECK_EQ_INT(f.target, 0);
	CHECK_EQ_INT(f.target_ptrace, 0);
	CHECK_EQ_INT(f.tracer_pid, 0);
	CHECK_EQ_INT(f.target_readers.vmreadv, 0);
	CHECK_EQ_INT(f.target_readers.procmem, 0);
	CHECK_EQ_INT(f.target_readers.peek, DOCTOR_UNTRIED);
	CHECK_EQ_INT(f.child_ptrace, 0);
	CHECK_EQ_INT(f.child_readers.vmreadv, 0);
	CHECK_EQ_INT(f.child_readers.procmem, 0);
	CHECK_EQ_INT(f.child_readers.peek, 0);
	CHECK_EQ_INT(f.procmem_takes_mmap_lock, expect_takes);
	CHECK(f.tracefs_dir[0] != '\0');
	CHECK_EQ_INT(f.mmap_lock_events, 1);
	CHECK(f.per_vma_lock >= 0 || f.per_vma_lock == -ENOENT);
	if (geteuid() == 0)
		CHECK(f.cap_sys_ptrace);

	/* Seizing by a helper that exits must leave the child untraced and running. */
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)child);
	FILE *fp = fopen(path, "r");
	CHECK(fp);
	int tracer = -1;
	while (fgets(line, sizeof(line), fp))
		sscanf(line, "TracerPid: %d", &tracer);
	fclose(fp);
	CHECK_EQ_INT(tracer, 0);
	child_kill(child);

	/* A pid that does not exist: machine facts still there. */
	CHECK_EQ_INT(doctor_collect(&f, 0x3ffffff0), -ESRCH);
	CHECK(f.kernel[0] != '\0');
	return 0;
}
