/* lockwatch.c — mmap_lock waits and acquisitions from the kernel tracepoints,
 * in a private tracefs instance (see lockwatch.h). */
#include "remprof/lockwatch.h"
#include "remprof/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <tracefs.h>
#include <event-parse.h>

#define INSTANCE_PREFIX "remprof-"
#define MAX_MMS 64          /* distinct mms tracked; the target's and a few more */
#define TID_SLOTS 4096      /* per-thread pending state, open addressing */
/* Ring buffer per CPU: 4 MiB (~100k events, 300 ms of a busy mmap loop) on
 * small machines, less on big ones so that all CPUs together stay <= 64 MiB. */
#define BUFFER_KB_MAX 4096
#define BUFFER_KB_MIN 256
#define BUFFER_KB_TOTAL 65536

enum ev { EV_START, EV_ACQUIRE, EV_RELEASE, EV_N };
static const char *const ev_names[EV_N] = {
	"mmap_lock_start_locking", "mmap_lock_acquire_returned", "mmap_lock_released",
};

struct mm_stats {
	uint64_t mm;
	struct lockwatch_side target, self;
};

/* What one thread is in the middle of: a wait that began, a hold that began. */
struct tid_state {
	pid_t tid;           /* 0: free slot */
	uint64_t last_ts;
	uint64_t start_ts, start_mm;
	uint64_t acq_ts, acq_mm;
	bool waiting, holding;
	enum { TID_UNKNOWN, TID_SELF, TID_LISTED, TID_OTHER } kind; /* cached */
};

struct tid_set {
	pid_t *v;
	size_t n, cap;
};

struct lockwatch {
	struct tracefs_instance *inst;
	char name[32];
	int hold_fd;              /* an open file in the instance: marks it as ours */
	struct tep_handle *tep;
	int ev_id[EV_N];
	struct tep_format_field *f_mm[EV_N], *f_write[EV_N], *f_success;
	int newtask_id;           /* task:task_newtask, -1 if absent */
	struct tep_format_field *f_child, *f_flags;

	struct tid_set self, target;
	pid_t caller;
	uint64_t self_mm;         /* remprof's own mm: never a target */
	uint64_t target_mms[MAX_MMS];
	unsigned ntarget_mms;

	/* Calibration: while set, the caller's events teach mms instead of counting. */
	enum { CAL_NONE, CAL_SELF, CAL_TARGET } cal;

	struct mm_stats *mms[MAX_MMS];
	unsigned nmms;
	struct tid_state tids[TID_SLOTS];
	uint64_t events, reads;
};

/* ---- small sets ---- */

static bool set_has(const struct tid_set *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == tid)
			return true;
	return false;
}

static int set_add(struct tid_set *s, pid_t tid)
{
	if (set_has(s, tid))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		pid_t *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = tid;
	return 1;
}

static bool is_target_mm(const struct lockwatch *lw, uint64_t mm)
{
	for (unsigned i = 0; i < lw->ntarget_mms; i++)
		if (lw->target_mms[i] == mm)
			return true;
	return false;
}

static void learn_target_mm(struct lockwatch *lw, uint64_t mm)
{
	if (mm == lw->self_mm || is_target_mm(lw, mm) || lw->ntarget_mms == MAX_MMS)
		return;
	lw->target_mms[lw->ntarget_mms++] = mm;
}

static void side_init(struct lockwatch_side *s)
{
	memset(s, 0, sizeof(*s));
	hist_init(&s->wait_ns);
	hist_init(&s->hold_ns);
}

static void side_merge(struct lockwatch_side *dst, const struct lockwatch_side *src)
{
	dst->acquisitions += src->acquisitions;
	dst->write_acquisitions += src->write_acquisitions;
	dst->failed += src->failed;
	hist_merge(&dst->wait_ns, &src->wait_ns);
	hist_merge(&dst->hold_ns, &src->hold_ns);
}

/* Statistics are kept per mm because a target thread's events may teach us
 * its mm only after remprof's events on it were parsed; which mms are the
 * target's is decided when the results are asked for. */
static struct mm_stats *mm_stats_of(struct lockwatch *lw, uint64_t mm)
{
	for (unsigned i = 0; i < lw->nmms; i++)
		if (lw->mms[i]->mm == mm)
			return lw->mms[i];
	if (lw->nmms == MAX_MMS)
		return NULL;
	struct mm_stats *m = malloc(sizeof(*m));
	if (!m)
		return NULL;
	m->mm = mm;
	side_init(&m->target);
	side_init(&m->self);
	lw->mms[lw->nmms++] = m;
	return m;
}

static struct tid_state *tid_state_of(struct lockwatch *lw, pid_t tid)
{
	size_t h = ((uint32_t)tid * 2654435761u) % TID_SLOTS;
	for (size_t i = 0; i < TID_SLOTS; i++) {
		struct tid_state *t = &lw->tids[(h + i) % TID_SLOTS];
		if (t->tid == tid)
			return t;
		if (t->tid == 0) {
			memset(t, 0, sizeof(*t));
			t->tid = tid;
			return t;
		}
	}
	/* Thousands of live threads: forget the pending state of everyone
	 * rather than mismatch events (a few waits go uncounted). */
	memset(lw->tids, 0, sizeof(lw->tids));
	lw->tids[h].tid = tid;
	return &lw->tids[h];
}

/* ---- tracefs plumbing ---- */

const char *lockwatch_tracefs_dir(void)
{
	/* libtracefs mounts tracefs at /sys/kernel/tracing if it is not mounted
	 * (needs CAP_SYS_ADMIN), and caches the path. (Not
	 * tracefs_tracing_dir_is_mounted(): libtracefs 1.6 leaks its path.) */
	return tracefs_tracing_dir();
}

int lockwatch_available(void)
{
	const char *dir = lockwatch_tracefs_dir();
	if (!dir)
		return -ENOENT;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/events/mmap_lock/%s", dir, ev_names[EV_START]);
	struct stat st;
	return stat(path, &st) == 0;
}

/* Does process `pid` hold an open file inside instance `name`? Every live
 * lockwatch does (hold_fd), so an instance whose pid was reused by some other
 * process is recognised as stale too. */
static bool owner_holds_instance(pid_t pid, const char *name)
{
	char path[64], link[PATH_MAX], needle[NAME_MAX + 16];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return errno != ENOENT; /* EACCES: cannot tell, so assume it is alive */
	snprintf(needle, sizeof(needle), "/instances/%s/", name);
	bool found = false;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		char fdpath[PATH_MAX];
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		ssize_t n = readlink(fdpath, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strstr(link, needle) != NULL;
		}
	}
	closedir(d);
	return found;
}

static int remove_instance(const char *dir, const char *name)
{
	struct tracefs_instance *inst = tracefs_instance_alloc(dir, name);
	if (!inst)
		return -errno;
	int ret = tracefs_instance_destroy(inst) < 0 ? -errno : 0;
	tracefs_instance_free(inst);
	return ret;
}

int lockwatch_clean_stale(void)
{
	const char *dir = lockwatch_tracefs_dir();
	if (!dir)
		return -ENOENT;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/instances", dir);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		if (strncmp(de->d_name, INSTANCE_PREFIX, strlen(INSTANCE_PREFIX)))
			continue;
		long pid = strtol(de->d_name + strlen(INSTANCE_PREFIX), &end, 10);
		if (*end || pid <= 0 || pid > INT_MAX)
			continue;
		bool alive = kill((pid_t)pid, 0) == 0 || errno == EPERM;
		if (alive && owner_holds_instance((pid_t)pid, de->d_name))
			continue;
		if (remove_instance(dir, de->d_name) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

static int write_file(struct lockwatch *lw, const char *file, const char *val)
{
	return tracefs_instance_file_write(lw->inst, file, val) < 0 ? -(errno ? errno : EIO) : 0;
}

/* set_event_pid takes a space-separated list; appending keeps the others. */
static int follow_tids(struct lockwatch *lw, const pid_t *tids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%d ", (int)tids[i]);
		if (tracefs_instance_file_append(lw->inst, "set_event_pid", buf) < 0)
			return -(errno ? errno : EIO);
	}
	return 0;
}

/* All threads of process pid, into the filter and the target set. Listed
 * twice: a thread created between the listing and the filter write would be
 * missed by event-fork, the second listing catches it. */
static int follow_process(struct lockwatch *lw, pid_t pid)
{
	for (int round = 0; round < 2; round++) {
		pid_t *tids = NULL;
		int n = proc_list_threads(pid, &tids);
		if (n < 0)
			return n == -ENOENT ? -ESRCH : n; /* ENOENT means "no tracefs" here */
		for (int i = 0; i < n; i++) {
			int added = set_add(&lw->target, tids[i]);
			int ret = added > 0 ? follow_tids(lw, &tids[i], 1) : added;
			if (ret < 0) {
				free(tids);
				return ret;
			}
		}
		free(tids);
	}
	return 0;
}

/* Parse one tracefs text file (top level) into tep. */
static int parse_format(struct tep_handle *tep, const char *file, const char *sys)
{
	int len = 0;
	char *buf = tracefs_instance_file_read(NULL, file, &len);
	if (!buf)
		return -ENOENT;
	int ret = sys ? (tep_parse_event(tep, buf, (size_t)len, sys) == 0 ? 0 : -EINVAL)
		      : (tep_parse_header_page(tep, buf, (unsigned long)len, sizeof(long)) == 0 ? 0 : -EINVAL);
	free(buf);
	return ret;
}

/* Only the ring-buffer header and our three formats: what
 * tracefs_local_events_system() would add (all of kallsyms, ~100k symbols)
 * costs a tenth of a second and megabytes we never use. */
static struct tep_handle *load_formats(void)
{
	struct tep_handle *tep = tep_alloc();
	if (!tep)
		return NULL;
	enum tep_endian endian = tep_is_bigendian() ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN;
	tep_set_file_bigendian(tep, endian);
	tep_set_local_bigendian(tep, endian);
	tep_set_long_size(tep, sizeof(long));
	tep_set_page_size(tep, (int)sysconf(_SC_PAGESIZE));
	int ret = parse_format(tep, "events/header_page", NULL);
	for (int e = 0; ret == 0 && e < EV_N; e++) {
		char file[128];
		snprintf(file, sizeof(file), "events/mmap_lock/%s/format", ev_names[e]);
		ret = parse_format(tep, file, "mmap_lock");
	}
	if (ret < 0) {
		tep_free(tep);
		return NULL;
	}
	parse_format(tep, "events/task/task_newtask/format", "task"); /* optional */
	return tep;
}

static int find_events(struct lockwatch *lw)
{
	lw->tep = load_formats();
	if (!lw->tep)
		return -ENOENT;
	for (int e = 0; e < EV_N; e++) {
		struct tep_event *ev = tep_find_event_by_name(lw->tep, "mmap_lock", ev_names[e]);
		if (!ev)
			return -ENOENT;
		lw->ev_id[e] = ev->id;
		/* Fields are looked up by name: their offsets differ between
		 * kernels (memcg_path before 6.14, memcg_id after). */
		lw->f_mm[e] = tep_find_field(ev, "mm");
		lw->f_write[e] = tep_find_field(ev, "write");
		if (!lw->f_mm[e] || !lw->f_write[e])
			return -ENOENT;
		if (e == EV_ACQUIRE && !(lw->f_success = tep_find_field(ev, "success")))
			return -ENOENT;
	}
	struct tep_event *nt = tep_find_event_by_name(lw->tep, "task", "task_newtask");
	lw->newtask_id = -1;
	if (nt && (lw->f_child = tep_find_field(nt, "pid")) &&
	    (lw->f_flags = tep_find_field(nt, "clone_flags")))
		lw->newtask_id = nt->id;
	return 0;
}

/* ---- event processing ---- */

static void on_calibration(struct lockwatch *lw, enum ev e, uint64_t mm, bool write)
{
	if (e != EV_ACQUIRE)
		return;
	/* Only remprof's own mm is ever write-locked by the caller (mmap). */
	if (lw->cal == CAL_SELF && write) {
		lw->self_mm = mm;
		/* Learned: stop now, as reading may itself lock our mm again
		 * (an allocator that mmaps its buffers) and feed the buffer
		 * for as long as we read it. */
		tracefs_iterate_stop(lw->inst);
	}
	else if (lw->cal == CAL_TARGET && !write && lw->self_mm && mm != lw->self_mm)
		learn_target_mm(lw, mm);
}

static void on_start(struct tid_state *t, uint64_t ts, uint64_t mm)
{
	t->waiting = true;
	t->start_ts = ts;
	t->start_mm = mm;
}

static void on_acquire(struct tid_state *t, struct lockwatch_side *s, uint64_t ts,
		       uint64_t mm, bool write, bool success)
{
	if (t->waiting && t->start_mm == mm)
		hist_add(&s->wait_ns, ts - t->start_ts);
	t->waiting = false;
	if (!success) {
		s->failed++;
		return;
	}
	s->acquisitions++;
	s->write_acquisitions += write;
	/* A downgrade (write -> read) arrives as a second acquisition while
	 * holding: the write hold ends here and the read hold begins. */
	if (t->holding && t->acq_mm == mm)
		hist_add(&s->hold_ns, ts - t->acq_ts);
	t->holding = true;
	t->acq_ts = ts;
	t->acq_mm = mm;
}

static void on_release(struct tid_state *t, struct lockwatch_side *s, uint64_t ts, uint64_t mm)
{
	if (t->holding && t->acq_mm == mm)
		hist_add(&s->hold_ns, ts - t->acq_ts);
	t->holding = false;
}

/* remprof's threads: those it named, and any other thread of this process
 * (one it started after open: event-fork follows it in the kernel, and it
 * must not count as the target). Listed target threads teach the target's
 * mm; other threads (new target threads, their children) are the target side
 * but do not teach mms. */
static int classify(struct lockwatch *lw, pid_t tid)
{
	if (set_has(&lw->self, tid))
		return TID_SELF;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	if (access(path, F_OK) == 0) {
		set_add(&lw->self, tid);
		return TID_SELF;
	}
	return set_has(&lw->target, tid) ? TID_LISTED : TID_OTHER;
}

/* A thread inherits its creator's side: remprof's new threads are remprof's,
 * a listed target's new threads teach the target's mm. This is decided when
 * the thread is born because a short-lived thread is gone from /proc by the
 * time its events are read. A new process is neither. */
static int on_newtask(struct lockwatch *lw, struct tep_record *rec)
{
	unsigned long long child = 0, flags = 0;
	if (tep_read_number_field(lw->f_child, rec->data, &child) < 0 ||
	    tep_read_number_field(lw->f_flags, rec->data, &flags) < 0)
		return 0;
	pid_t parent = tep_data_pid(lw->tep, rec);
	struct tid_state *p = tid_state_of(lw, parent);
	if (p->kind == TID_UNKNOWN)
		p->kind = classify(lw, parent);
	int kind = !(flags & CLONE_THREAD) ? TID_OTHER : p->kind == TID_SELF ? TID_SELF
		   : p->kind == TID_LISTED ? TID_LISTED : TID_OTHER;
	struct tid_state *c = tid_state_of(lw, (pid_t)child);
	memset(c, 0, sizeof(*c)); /* a reused tid starts afresh */
	c->tid = (pid_t)child;
	c->kind = kind;
	if (kind == TID_SELF)
		set_add(&lw->self, (pid_t)child);
	else if (kind == TID_LISTED)
		set_add(&lw->target, (pid_t)child);
	return 0;
}

static int on_event(struct tep_event *event, struct tep_record *rec, int cpu, void *ctx)
{
	struct lockwatch *lw = ctx;
	(void)cpu;
	if (event->id == lw->newtask_id)
		return on_newtask(lw, rec);
	int e;
	for (e = 0; e < EV_N && lw->ev_id[e] != event->id; e++)
		;
	if (e == EV_N)
		return 0;
	unsigned long long mm = 0, write = 0, success = 1;
	if (tep_read_number_field(lw->f_mm[e], rec->data, &mm) < 0 ||
	    tep_read_number_field(lw->f_write[e], rec->data, &write) < 0)
		return 0;
	if (e == EV_ACQUIRE && tep_read_number_field(lw->f_success, rec->data, &success) < 0)
		return 0;
	pid_t tid = tep_data_pid(lw->tep, rec);
	lw->events++;

	if (lw->cal != CAL_NONE && tid == lw->caller) {
		on_calibration(lw, (enum ev)e, mm, write);
		return 0;
	}
	struct tid_state *t = tid_state_of(lw, tid);
	if (t->kind == TID_UNKNOWN)
		t->kind = classify(lw, tid);
	bool self = t->kind == TID_SELF;
	if (t->kind == TID_LISTED)
		learn_target_mm(lw, mm);
	/* Per-CPU buffers are read one page at a time, so an event can be seen
	 * after a later one of the same thread (it migrated between the two);
	 * such a straggler would pair with the wrong partner: drop it. */
	if (rec->ts < t->last_ts)
		return 0;
	t->last_ts = rec->ts;
	struct mm_stats *m = mm_stats_of(lw, mm);
	if (!m)
		return 0;
	struct lockwatch_side *s = self ? &m->self : &m->target;
	if (e == EV_START)
		on_start(t, rec->ts, mm);
	else if (e == EV_ACQUIRE)
		on_acquire(t, s, rec->ts, mm, write, success);
	else
		on_release(t, s, rec->ts, mm);
	return 0;
}

int lockwatch_poll(struct lockwatch *lw)
{
	uint64_t before = lw->events;
	if (tracefs_iterate_raw_events(lw->tep, lw->inst, NULL, 0, on_event, lw) < 0)
		return -(errno ? errno : EIO);
	return (int)(lw->events - before);
}

/* Learn an mm by making the caller lock it once while nothing else counts
 * the caller's events: our own mm through an mmap (a write lock), a target's
 * through a one-byte process_vm_readv at address 0 — the kernel takes the read
 * lock before it finds that nothing is mapped there, and the read fails
 * harmlessly with EFAULT. */
static void calibrate_self(struct lockwatch *lw)
{
	lw->cal = CAL_SELF;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	lockwatch_poll(lw);
	lw->cal = CAL_NONE;
	if (!lw->self_mm)
		return;
	/* From now on the kernel drops the events on our own mm: they are
	 * never the target's, they are most of the volume of a busy remprof,
	 * and without this, polling would trace its own buffer allocations. */
	char filter[64];
	snprintf(filter, sizeof(filter), "mm != 0x%llx", (unsigned long long)lw->self_mm);
	write_file(lw, "events/mmap_lock/filter", filter);
}

static void calibrate_target(struct lockwatch *lw, pid_t pid)
{
	char byte;
	struct iovec local = { &byte, 1 }, remote = { NULL, 1 };
	/* Count what the caller did before, so that it is not taken for
	 * calibration. */
	lockwatch_poll(lw);
	lw->cal = CAL_TARGET;
	(void)process_vm_readv(pid, &local, 1, &remote, 1, 0);
	lockwatch_poll(lw);
	lw->cal = CAL_NONE;
}

/* ---- the interface ---- */

static int setup_instance(struct lockwatch *lw)
{
	snprintf(lw->name, sizeof(lw->name), INSTANCE_PREFIX "%d", (int)getpid());
	if (tracefs_instance_exists(lw->name))
		return -EBUSY;
	lw->inst = tracefs_instance_create(lw->name);
	if (!lw->inst)
		return -(errno ? errno : EIO);
	lw->hold_fd = tracefs_instance_file_open(lw->inst, "tracing_on", O_RDONLY);
	if (lw->hold_fd < 0)
		return -(errno ? errno : EIO);
	long ncpu = sysconf(_SC_NPROCESSORS_CONF), kb = BUFFER_KB_TOTAL / (ncpu > 0 ? ncpu : 1);
	char buffer_kb[16];
	snprintf(buffer_kb, sizeof(buffer_kb), "%ld",
		 kb > BUFFER_KB_MAX ? BUFFER_KB_MAX : kb < BUFFER_KB_MIN ? BUFFER_KB_MIN : kb);
	int ret;
	if ((ret = write_file(lw, "trace_clock", "mono")) < 0 ||
	    (ret = write_file(lw, "buffer_size_kb", buffer_kb)) < 0)
		return ret;
	if (tracefs_option_enable(lw->inst, TRACEFS_OPTION_EVENT_FORK) < 0)
		return -(errno ? errno : EIO);
	return find_events(lw);
}

int lockwatch_open(struct lockwatch **out, const pid_t *pids, size_t npids,
		   const pid_t *self_tids, size_t nself)
{
	*out = NULL;
	int avail = lockwatch_available();
	if (avail <= 0)
		return avail < 0 ? avail : -ENOENT;
	lockwatch_clean_stale();

	struct lockwatch *lw = calloc(1, sizeof(*lw));
	if (!lw)
		return -ENOMEM;
	lw->hold_fd = -1;
	lw->caller = gettid();
	int ret = setup_instance(lw);
	if (ret < 0)
		goto fail;
	ret = set_add(&lw->self, lw->caller);
	for (size_t i = 0; ret >= 0 && i < nself; i++)
		ret = set_add(&lw->self, self_tids[i]);
	if (ret < 0 || (ret = follow_tids(lw, lw->self.v, lw->self.n)) < 0)
		goto fail;
	for (size_t i = 0; i < npids; i++)
		if ((ret = follow_process(lw, pids[i])) < 0)
			goto fail;
	if (tracefs_event_enable(lw->inst, "mmap_lock", NULL) < 0 ||
	    (lw->newtask_id >= 0 && tracefs_event_enable(lw->inst, "task", "task_newtask") < 0)) {
		ret = -(errno ? errno : EIO);
		goto fail;
	}
	calibrate_self(lw);
	for (size_t i = 0; i < npids; i++)
		calibrate_target(lw, pids[i]);
	*out = lw;
	return 0;
fail:
	lockwatch_close(lw);
	return ret;
}

int lockwatch_add_pid(struct lockwatch *lw, pid_t tid, int is_self)
{
	if (is_self) {
		int added = set_add(&lw->self, tid);
		return added > 0 ? follow_tids(lw, &tid, 1) : added;
	}
	struct proc_status st;
	int ret = proc_read_status(tid, tid, &st);
	if (ret < 0)
		return ret;
	bool new_process = st.tgid == tid && !set_has(&lw->target, tid);
	if ((ret = follow_process(lw, st.tgid)) < 0)
		return ret;
	for (size_t i = 0; i < TID_SLOTS; i++)
		lw->tids[i].kind = TID_UNKNOWN; /* a listed thread now teaches mms */
	if (new_process)
		calibrate_target(lw, tid);
	return 0;
}

void lockwatch_count_reads(struct lockwatch *lw, uint64_t reads)
{
	lw->reads += reads;
}

/* Events the kernel dropped because we did not drain fast enough. */
static uint64_t lost_events(struct lockwatch *lw)
{
	uint64_t lost = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	for (long cpu = 0; cpu < ncpu; cpu++) {
		char file[64];
		snprintf(file, sizeof(file), "per_cpu/cpu%ld/stats", cpu);
		char *text = tracefs_instance_file_read(lw->inst, file, NULL);
		const char *p = text ? strstr(text, "overrun:") : NULL;
		if (p)
			lost += strtoull(p + strlen("overrun:"), NULL, 10);
		free(text);
	}
	return lost;
}

int lockwatch_results(struct lockwatch *lw, struct lockwatch_results *out)
{
	memset(out, 0, sizeof(*out));
	side_init(&out->target);
	side_init(&out->self);
	for (unsigned i = 0; i < lw->nmms; i++) {
		if (!is_target_mm(lw, lw->mms[i]->mm))
			continue;
		side_merge(&out->target, &lw->mms[i]->target);
		side_merge(&out->self, &lw->mms[i]->self);
	}
	out->target_mms = lw->ntarget_mms;
	out->reads = lw->reads;
	out->self_acq_per_read = lw->reads ? (double)out->self.acquisitions / (double)lw->reads : 0;
	out->events = lw->events;
	out->lost = lost_events(lw);
	return 0;
}

void lockwatch_close(struct lockwatch *lw)
{
	if (!lw)
		return;
	if (lw->inst) {
		/* Disable first so that nothing is traced while the instance is
		 * torn down; rmdir then removes the buffers and the filter. */
		tracefs_event_disable(lw->inst, "mmap_lock", NULL);
		tracefs_event_disable(lw->inst, "task", "task_newtask");
		if (lw->hold_fd >= 0)
			close(lw->hold_fd);
		tracefs_instance_destroy(lw->inst);
		tracefs_instance_free(lw->inst);
	}
	if (lw->tep)
		tep_free(lw->tep);
	for (unsigned i = 0; i < lw->nmms; i++)
		free(lw->mms[i]);
	free(lw->self.v);
	free(lw->target.v);
	free(lw);
}
