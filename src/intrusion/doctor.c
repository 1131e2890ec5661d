/* doctor.c — gather what this machine allows (see doctor.h). */
#include "remprof/doctor.h"
#include "remprof/lockwatch.h"
#include "remprof/proc.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define PAGE 4096
#define PROBE_READS 64
#define FILL 0x5a

#define CAP_SYS_PTRACE_BIT 19
#define CAP_SYS_ADMIN_BIT 21
#define CAP_PERFMON_BIT 38

/* ---- a child of our own ---- */

struct child {
	pid_t pid;
	uint64_t page; /* a resident, page-aligned page of its stack, filled with FILL */
};

/* The child touches 16 KiB of its stack (so that at least three whole pages
 * are resident), sends a page-aligned address inside it, and sleeps until
 * killed; PDEATHSIG makes sure it never outlives us. */
static int child_start(struct child *c)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		volatile char stack[4 * PAGE];
		memset((char *)stack, FILL, sizeof(stack));
		uint64_t page = ((uint64_t)(uintptr_t)stack + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		if (write(fds[1], &page, sizeof(page)) != sizeof(page))
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	ssize_t n = read(fds[0], &c->page, sizeof(c->page));
	close(fds[0]);
	c->pid = pid;
	if (n != sizeof(c->page)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -ECHILD;
	}
	return 0;
}

static void child_stop(struct child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
}

/* ---- readers ---- */

static int read_vmreadv(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

static int read_procmem_fd(int fd, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len, (off_t)addr);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

static int open_procmem(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int read_procmem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	int fd = open_procmem(pid);
	if (fd < 0)
		return fd;
	int ret = read_procmem_fd(fd, addr, buf, len);
	close(fd);
	return ret;
}

/* The child's page must come back as FILL: a reader that "works" returns the
 * right bytes, not just a byte count. */
static int check_fill(int ret, const unsigned char *buf, size_t len)
{
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != FILL)
			return -EIO;
	return 0;
}

/* ---- ptrace on our child: the whole sample cycle, once ---- */

static int ptrace_cycle(struct child *c, int *peek)
{
	*peek = DOCTOR_UNTRIED;
	if (ptrace(PTRACE_SEIZE, c->pid, 0, 0) < 0)
		return -errno;
	int ret = 0, status;
	if (ptrace(PTRACE_INTERRUPT, c->pid, 0, 0) < 0 || waitpid(c->pid, &status, __WALL) < 0)
		ret = -errno;
	else if (!WIFSTOPPED(status))
		ret = -ECHILD;
	if (ret == 0) {
		struct user_regs_struct regs;
		struct iovec iov = { &regs, sizeof(regs) };
		if (ptrace(PTRACE_GETREGSET, c->pid, (void *)NT_PRSTATUS, &iov) < 0)
			ret = -errno;
		errno = 0;
		long word = ptrace(PTRACE_PEEKDATA, c->pid, (void *)(uintptr_t)c->page, 0);
		*peek = errno ? -errno : check_fill(0, (unsigned char *)&word, sizeof(word));
	}
	/* Detaching needs the stop we caused; if anything failed before it the
	 * child is killed by the caller anyway. */
	if (ptrace(PTRACE_DETACH, c->pid, 0, 0) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

static void probe_child(struct doctor_facts *f, struct child *c)
{
	unsigned char buf[PAGE];
	f->child_readers.vmreadv = check_fill(read_vmreadv(c->pid, c->page, buf, PAGE), buf, PAGE);
	f->child_readers.procmem = check_fill(read_procmem(c->pid, c->page, buf, PAGE), buf, PAGE);
	f->child_ptrace = ptrace_cycle(c, &f->child_readers.peek);
}

/* ---- the named target, without stopping it ---- */

/* A helper process seizes the target and exits: PTRACE_SEIZE does not stop
 * the target, and the helper's exit detaches it. Returns 0 or -errno. */
static int try_seize(pid_t pid)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -errno;
	pid_t h = fork();
	if (h < 0) {
		int err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (h == 0) {
		int err = ptrace(PTRACE_SEIZE, pid, 0, 0) < 0 ? errno : 0;
		_exit(write(fds[1], &err, sizeof(err)) == sizeof(err) ? 0 : 1);
	}
	close(fds[1]);
	int err = EIO;
	if (read(fds[0], &err, sizeof(err)) != sizeof(err))
		err = EIO;
	close(fds[0]);
	waitpid(h, NULL, 0);
	return -err;
}

/* Field 28 of /proc/PID/stat: the start of the stack, always mapped. */
static uint64_t start_stack(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	for (int field = 2; p && field < 28; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* "Uid:" / "CapEff:" style lines of /proc/PID/status. */
static int status_line(const char *pid, const char *key, char *out, size_t len)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -errno;
	int ret = -ENOENT;
	while (ret < 0 && fgets(line, sizeof(line), fp))
		if (!strncmp(line, key, strlen(key))) {
			snprintf(out, len, "%s", line + strlen(key));
			ret = 0;
		}
	fclose(fp);
	return ret;
}

static void probe_target(struct doctor_facts *f)
{
	struct proc_status st;
	f->target = proc_read_status(f->pid, f->pid, &st);
	if (f->target == -ENOENT)
		f->target = -ESRCH;
	if (f->target < 0)
		return;
	snprintf(f->comm, sizeof(f->comm), "%s", st.comm);
	f->state = st.state;
	f->is_kernel_thread = st.is_kernel_thread;
	f->tracer_pid = st.tracer_pid;
	char pidbuf[16], line[512];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)f->pid);
	if (status_line(pidbuf, "Uid:", line, sizeof(line)) == 0)
		f->target_uid = (uid_t)strtoul(line, NULL, 10);
	if (st.is_kernel_thread)
		return; /* no user memory, nothing to trace */
	f->target_ptrace = try_seize(f->pid);
	uint64_t addr = start_stack(f->pid);
	unsigned char word[8];
	f->target_readers.vmreadv = addr ? read_vmreadv(f->pid, addr, word, sizeof(word)) : -EACCES;
	f->target_readers.procmem = addr ? read_procmem(f->pid, addr, word, sizeof(word)) : -EACCES;
}

/* ---- policy and kernel features ---- */

static int read_int_file(const char *path, int dflt)
{
	FILE *fp = fopen(path, "re");
	int v;
	if (!fp)
		return dflt;
	if (fscanf(fp, "%d", &v) != 1)
		v = dflt;
	fclose(fp);
	return v;
}

static void probe_policy(struct doctor_facts *f)
{
	f->uid = getuid();
	f->euid = geteuid();
	f->yama_ptrace_scope = read_int_file("/proc/sys/kernel/yama/ptrace_scope", -1);
	f->perf_event_paranoid = read_int_file("/proc/sys/kernel/perf_event_paranoid", DOCTOR_UNTRIED);
	char line[512];
	if (status_line("self", "CapEff:", line, sizeof(line)) == 0)
		f->cap_eff = strtoull(line, NULL, 16);
	f->cap_sys_ptrace = (f->cap_eff >> CAP_SYS_PTRACE_BIT) & 1;
	f->cap_sys_admin = (f->cap_eff >> CAP_SYS_ADMIN_BIT) & 1;
	f->cap_perfmon = (f->cap_eff >> CAP_PERFMON_BIT) & 1;
}

/* One line of a kernel config: 1 "=y"/"=m", 0 "is not set", -1 other. */
static int config_line(const char *line, const char *opt)
{
	size_t n = strlen(opt);
	if (!strncmp(line, opt, n) && line[n] == '=')
		return line[n + 1] == 'y' || line[n + 1] == 'm';
	if (!strncmp(line, "# ", 2) && !strncmp(line + 2, opt, n) && line[n + 2] == ' ')
		return 0;
	return -1;
}

/* /proc/config.gz (CONFIG_IKCONFIG_PROC) first, gzip-compressed; then the
 * distribution's /boot/config-RELEASE. An option missing from a config that
 * was read is not set (Kconfig leaves out options whose dependencies fail). */
static int kernel_config(const char *opt, const char *release, char *source, size_t len)
{
	char path[PATH_MAX], line[512];
	gzFile gz = gzopen("/proc/config.gz", "rb");
	if (gz) {
		snprintf(source, len, "/proc/config.gz");
		int v = -1;
		while (v < 0 && gzgets(gz, line, sizeof(line)))
			v = config_line(line, opt);
		gzclose(gz);
		return v < 0 ? 0 : v;
	}
	snprintf(path, sizeof(path), "/boot/config-%s", release);
	FILE *fp = fopen(path, "re");
	if (!fp) {
		source[0] = '\0';
		return -ENOENT;
	}
	snprintf(source, len, "%s", path);
	int v = -1;
	while (v < 0 && fgets(line, sizeof(line), fp))
		v = config_line(line, opt);
	fclose(fp);
	return v < 0 ? 0 : v;
}

int doctor_kernel_config(const char *opt)
{
	char release[128], source[PATH_MAX];
	proc_kernel_release(release, sizeof(release));
	return kernel_config(opt, release, source, sizeof(source));
}

static void probe_kernel(struct doctor_facts *f)
{
	proc_kernel_release(f->kernel, sizeof(f->kernel));
	const char *dir = lockwatch_tracefs_dir();
	snprintf(f->tracefs_dir, sizeof(f->tracefs_dir), "%s", dir ? dir : "");
	f->mmap_lock_events = lockwatch_available();
	f->per_vma_lock = kernel_config("CONFIG_PER_VMA_LOCK", f->kernel, f->config_source,
					sizeof(f->config_source));
}

/* ---- the empirical mmap_lock check ---- */

static int count_acquisitions(struct lockwatch *lw, struct lockwatch_results *res,
			      uint64_t *out)
{
	int ret = lockwatch_poll(lw);
	if (ret < 0 || (ret = lockwatch_results(lw, res)) < 0)
		return ret;
	if (res->target_mms == 0)
		return -ENODATA; /* the child's mm was never seen: cannot attribute */
	*out = res->self.acquisitions;
	return 0;
}

static int probe_readers(struct lockwatch *lw, struct child *c, unsigned reads,
			 struct doctor_lock_probe *out, struct lockwatch_results *res)
{
	unsigned char buf[PAGE];
	uint64_t a0, a1, a2;
	int fd = open_procmem(c->pid);
	if (fd < 0)
		return fd;
	int ret = count_acquisitions(lw, res, &a0);
	for (unsigned i = 0; ret == 0 && i < reads; i++)
		ret = read_procmem_fd(fd, c->page, buf, PAGE);
	close(fd);
	if (ret < 0 || (ret = count_acquisitions(lw, res, &a1)) < 0)
		return ret;
	for (unsigned i = 0; ret == 0 && i < reads; i++)
		ret = read_vmreadv(c->pid, c->page, buf, PAGE);
	if (ret < 0 || (ret = count_acquisitions(lw, res, &a2)) < 0)
		return ret;
	out->reads = reads;
	out->procmem_acq_per_read = (double)(a1 - a0) / reads;
	out->vmreadv_acq_per_read = (double)(a2 - a1) / reads;
	out->lost = res->lost;
	return 0;
}

int doctor_probe_mmap_lock(struct doctor_lock_probe *out, unsigned reads)
{
	memset(out, 0, sizeof(*out));
	if (reads == 0)
		return -EINVAL;
	struct child c;
	int ret = child_start(&c);
	if (ret < 0)
		return ret;
	struct lockwatch *lw = NULL;
	struct lockwatch_results *res = malloc(sizeof(*res));
	if (!res)
		ret = -ENOMEM;
	else if ((ret = lockwatch_open(&lw, &c.pid, 1, NULL, 0)) == 0)
		ret = probe_readers(lw, &c, reads, out, res);
	lockwatch_close(lw);
	free(res);
	child_stop(&c);
	return ret;
}

/* Stock kernels take mmap_lock once per page a /proc/PID/mem read touches;
 * with the per-VMA fast path a resident page needs none. Half a lock per read
 * on average separates the two with a wide margin either way. Dropped trace
 * events would only lower the count, so "takes" is never a false positive. */
static int takes_lock(const struct doctor_lock_probe *p)
{
	if (p->procmem_acq_per_read >= 0.5)
		return 1;
	return p->lost ? -ENODATA : 0;
}

int doctor_procmem_takes_mmap_lock(void)
{
	struct doctor_lock_probe p;
	int ret = doctor_probe_mmap_lock(&p, PROBE_READS);
	return ret < 0 ? ret : takes_lock(&p);
}

int doctor_collect(struct doctor_facts *f, pid_t pid)
{
	memset(f, 0, sizeof(*f));
	f->pid = pid;
	f->target = f->target_ptrace = DOCTOR_UNTRIED;
	f->target_readers = (struct doctor_readers){ DOCTOR_UNTRIED, DOCTOR_UNTRIED, DOCTOR_UNTRIED };
	f->child_ptrace = DOCTOR_UNTRIED;
	f->child_readers = f->target_readers;
	probe_policy(f);
	probe_kernel(f);
	if (pid > 0)
		probe_target(f);

	struct child c;
	int ret = child_start(&c);
	if (ret < 0)
		return ret;
	probe_child(f, &c);
	child_stop(&c);

	ret = doctor_probe_mmap_lock(&f->probe, PROBE_READS);
	f->procmem_takes_mmap_lock = ret < 0 ? ret : takes_lock(&f->probe);
	return f->target == -ESRCH ? -ESRCH : 0;
}
