/* test_sampler — the sampler against real workloads (tests/sampler/workload).
 * usage: test_sampler WORKLOAD CASE; each case is its own meson test. */
#include "remprof/attach.h"
#include "remprof/proc.h"
#include "remprof/sampler.h"
#include "../check.h"
#include "../target.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *workload;

#define MAXT 4096
struct tally {
	pid_t tids[MAXT];
	uint64_t count[MAXT];
	size_t n;
	uint64_t samples, weight, bad, news, exits, execs, ticks;
	/* At the first and the latest status tick: the target's CPU time and
	 * what the sampler had counted, so rates exclude start-up and detach. */
	pid_t target;
	long long cpu[2];
	uint64_t tick_samples[2], tick_weight[2];
};

static uint64_t *slot(struct tally *t, pid_t tid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->tids[i] == tid)
			return &t->count[i];
	if (t->n == MAXT)
		return &t->count[0];
	t->tids[t->n] = tid;
	return &t->count[t->n++];
}

static void on_sample(void *ctx, const struct snapshot *s)
{
	struct tally *t = ctx;
	t->samples++;
	t->weight += s->weight_ns;
	(*slot(t, s->tid))++;
	if (s->stack_len == 0 || s->stack_addr != s->regs.rsp || s->weight_ns == 0 || s->pid <= 0)
		t->bad++;
}

static void on_new(void *ctx, pid_t pid, pid_t tid)
{
	(void)pid, (void)tid;
	((struct tally *)ctx)->news++;
}

static void on_exit_ev(void *ctx, pid_t pid, pid_t tid)
{
	(void)pid, (void)tid;
	((struct tally *)ctx)->exits++;
}

static void on_exec(void *ctx, pid_t pid)
{
	(void)pid;
	((struct tally *)ctx)->execs++;
}

static void on_tick(void *ctx, const struct sample_stats *st, double elapsed)
{
	(void)elapsed;
	struct tally *t = ctx;
	int i = t->ticks++ > 0;
	t->cpu[i] = proc_cpu_time_ns(t->target);
	t->tick_samples[i] = st->samples;
	t->tick_weight[i] = st->cpu_time_ns;
}

static struct sampler_events events(struct tally *t)
{
	memset(t, 0, sizeof(*t));
	return (struct sampler_events){ .ctx = t, .sample = on_sample, .thread_new = on_new,
					.thread_exit = on_exit_ev, .exec = on_exec, .tick = on_tick };
}

/* Helper threads in this process block what the sampler reads from its
 * signalfd, as a well-behaved caller's threads would. */
static void start_helper(pthread_t *th, void *(*fn)(void *))
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	pthread_create(th, NULL, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void msleep(int ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
}

static pid_t spawn(const char *a1, const char *a2, const char *a3)
{
	char *argv[] = { (char *)workload, (char *)a1, (char *)a2, (char *)a3, NULL };
	pid_t pid = 0;
	CHECK_EQ_INT(attach_spawn(argv, &pid), 0);
	return pid;
}

/* fork+exec without tracing (for targets attached later). */
static pid_t start_plain(const char *a1, const char *a2, const char *a3)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl(workload, workload, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int nthreads(pid_t pid)
{
	pid_t *tids;
	int n = proc_list_threads(pid, &tids);
	if (n > 0)
		free(tids);
	return n;
}

static enum reader_kind reader_kind = READER_AUTO;

static struct sampler_result run(pid_t pid, int spawned, unsigned freq, int idle, double dur,
				 struct tally *t, struct sample_stats *st)
{
	struct sampler_config cfg = {
		.pids = &pid, .npids = 1, .spawned = spawned, .freq_hz = freq, .idle = idle,
		.stack_size = 0, .reader = reader_kind, .duration_s = dur,
	};
	struct sampler_events ev = events(t);
	t->target = pid;
	struct sampler_result res;
	sample_stats_init(st);
	int rc = sampler_run(&cfg, &ev, st, &res);
	if (rc != 0)
		fprintf(stderr, "sampler_run: %d %s\n", rc, res.error_msg);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(t->bad, 0);
	CHECK_EQ_INT(t->samples, st->samples);
	CHECK_EQ_INT(t->weight, st->cpu_time_ns);
	CHECK_EQ_INT(st->stop_ns.count, st->samples + st->lost[LOST_READ_FAILED]);
	fprintf(stderr, "samples %llu (lost: exited %llu read %llu overrun %llu) weight %.3f s, "
		"stop p50 %.1f p99 %.1f us, %d threads seen\n",
		(unsigned long long)st->samples, (unsigned long long)st->lost[LOST_THREAD_EXITED],
		(unsigned long long)st->lost[LOST_READ_FAILED],
		(unsigned long long)st->lost[LOST_TRIGGER_OVERRUN], (double)st->cpu_time_ns / 1e9,
		hist_percentile(&st->stop_ns, 50) / 1e3, hist_percentile(&st->stop_ns, 99) / 1e3,
		(int)st->threads_seen);
	return res;
}

/* Samples vs F x CPU time, and the sum of weights vs the CPU time, between
 * the first and the last status tick (the target's CPU time from /proc). */
static void check_rate(const struct tally *t, unsigned freq, double lo, double hi)
{
	CHECK(t->ticks >= 3);
	double cpu = (double)(t->cpu[1] - t->cpu[0]);
	double samples = (double)(t->tick_samples[1] - t->tick_samples[0]);
	double weight = (double)(t->tick_weight[1] - t->tick_weight[0]);
	CHECK(cpu > 0);
	double expect = (double)freq * cpu / 1e9;
	fprintf(stderr, "cpu %.3f s between ticks: samples/expected %.3f, weight/cpu %.3f\n",
		cpu / 1e9, samples / expect, weight / cpu);
	CHECK(samples >= lo * expect);
	CHECK(samples <= hi * expect);
	CHECK(weight >= 0.85 * cpu);
	CHECK(weight <= 1.15 * cpu);
}

static void case_busy1(void)
{
	struct tally t;
	struct sample_stats st;
	pid_t pid = spawn("busy", "1", "0");
	struct sampler_result res = run(pid, 1, 1000, 0, 2.0, &t, &st);
	CHECK_EQ_INT(res.end, SAMPLER_END_DURATION);
	check_untraced_running(pid, 0);
	check_rate(&t, 1000, 0.85, 1.15);
	/* The main thread sleeps in pause(): it is never interrupted (but its
	 * start-up, a millisecond or so of CPU, may be sampled). */
	CHECK(*slot(&t, pid) <= 5);
	CHECK_EQ_INT(st.threads_seen, 2);
	CHECK(t.ticks >= 4);
	CHECK_EQ_INT(st.lost[LOST_READ_FAILED], 0);
	kill_reap(pid);
}

static void case_busy16(int idle)
{
	struct tally t;
	struct sample_stats st;
	pid_t pid = spawn("busy", "16", "0");
	while (nthreads(pid) < 1)
		msleep(1);
	struct sampler_result res = run(pid, 1, 1000, idle, 2.0, &t, &st);
	CHECK_EQ_INT(res.end, SAMPLER_END_DURATION);
	check_untraced_running(pid, 0);
	if (idle) {
		/* Weights are wall time here; only the count is compared. */
		double cpu = (double)(t.cpu[1] - t.cpu[0]);
		double expect = 1000.0 * cpu / 1e9;
		double samples = (double)(t.tick_samples[1] - t.tick_samples[0]);
		fprintf(stderr, "idle: samples/expected %.3f\n", samples / expect);
		CHECK(t.ticks >= 3 && cpu > 0);
		CHECK(samples >= 0.9 * expect);
	} else {
		check_rate(&t, 1000, 0.9, 1.15);
	}
	kill_reap(pid);
}

static void case_sleeping(void)
{
	struct tally t;
	struct sample_stats st;
	pid_t pid = spawn("sleep", "0", NULL);
	run(pid, 1, 1000, 0, 1.0, &t, &st);
	CHECK(st.samples <= 5); /* its start-up only */
	/* idle: the same sleeping thread at ~F per wall second */
	pid_t *tids;
	int n, detail;
	CHECK_EQ_INT(attach_process(pid, &tids, &n, &detail), ATTACH_OK);
	free(tids);
	run(pid, 0, 1000, 1, 1.0, &t, &st);
	fprintf(stderr, "idle sleeping: %llu samples in 1 s\n", (unsigned long long)st.samples);
	CHECK(st.samples >= 700 && st.samples <= 1100);
	CHECK(st.cpu_time_ns >= 700000000ull && st.cpu_time_ns <= 1100000000ull);
	check_untraced_running(pid, 0);
	kill_reap(pid);
}

static void case_churn(void)
{
	struct tally t;
	struct sample_stats st;
	pid_t pid = spawn("churn", "0", NULL);
	struct sampler_result res = run(pid, 1, 1000, 0, 2.0, &t, &st);
	CHECK_EQ_INT(res.end, SAMPLER_END_DURATION);
	fprintf(stderr, "churn: %llu new, %llu exits\n", (unsigned long long)t.news,
		(unsigned long long)t.exits);
	CHECK(t.news >= 100);
	CHECK(t.exits >= 100);
	CHECK(st.samples > 100);
	msleep(50);
	check_untraced_running(pid, 0);
	/* and once more in idle mode, where every thread is interrupted */
	pid_t *tids;
	int n, detail;
	CHECK_EQ_INT(attach_process(pid, &tids, &n, &detail), ATTACH_OK);
	free(tids);
	res = run(pid, 0, 1000, 1, 1.0, &t, &st);
	CHECK_EQ_INT(res.end, SAMPLER_END_DURATION);
	msleep(50);
	check_untraced_running(pid, 0);
	kill_reap(pid);
}

static void case_exit(void)
{
	struct tally t;
	struct sample_stats st;
	pid_t pid = spawn("exit", "500", "3");
	struct sampler_result res = run(pid, 1, 1000, 0, 10.0, &t, &st);
	CHECK_EQ_INT(res.end, SAMPLER_END_EXITED);
	CHECK(res.child_reaped);
	CHECK(WIFEXITED(res.child_status) && WEXITSTATUS(res.child_status) == 3);
	CHECK(res.elapsed_s < 5);
	CHECK(st.samples > 50);
}

/* A process running the sampler is SIGKILLed mid-run: the kernel detaches,
 * the target runs on, untraced. */
static void case_sigkill(void)
{
	pid_t target = start_plain("busy", "4", "0");
	while (nthreads(target) < 5)
		msleep(5);
	for (int trial = 0; trial < 3; trial++) {
		pid_t prof = fork();
		CHECK(prof >= 0);
		if (prof == 0) {
			pid_t *tids;
			int n, detail;
			if (attach_process(target, &tids, &n, &detail) != ATTACH_OK)
				_exit(1);
			struct tally t;
			struct sample_stats st;
			run(target, 0, 1000, trial == 2, 30.0, &t, &st);
			_exit(0);
		}
		msleep(400 + 150 * trial);
		kill(prof, SIGKILL);
		int status;
		CHECK(waitpid(prof, &status, 0) == prof);
		CHECK(WIFSIGNALED(status));
		msleep(20);
		check_untraced_running(target, 0);
		long long c0 = proc_cpu_time_ns(target);
		msleep(200);
		long long c1 = proc_cpu_time_ns(target);
		fprintf(stderr, "trial %d: target ran %.0f ms of CPU in 200 ms after the kill\n", trial,
			(double)(c1 - c0) / 1e6);
		CHECK(c1 > c0 + 20000000ll);
		int st_exit;
		CHECK_EQ_INT(waitpid(target, &st_exit, WNOHANG), 0); /* still alive */
	}
	kill_reap(target);
}

static pid_t signal_target;

static void *send_signals(void *arg)
{
	(void)arg;
	msleep(100);
	for (int i = 0; i < 300; i++) {
		sigqueue(signal_target, SIGRTMIN, (union sigval){ i });
		nanosleep(&(struct timespec){ 0, 300000 }, NULL);
	}
	return NULL;
}

/* Every signal-delivery-stop's signal is passed on: all 300 arrive. */
static void case_signals(void)
{
	struct tally t;
	struct sample_stats st;
	signal_target = spawn("signals", "300", NULL);
	pthread_t th;
	start_helper(&th, send_signals);
	struct sampler_result res = run(signal_target, 1, 1000, 0, 10.0, &t, &st);
	pthread_join(th, NULL);
	CHECK_EQ_INT(res.end, SAMPLER_END_EXITED);
	CHECK(res.child_reaped);
	CHECK(WIFEXITED(res.child_status));
	CHECK_EQ_INT(WEXITSTATUS(res.child_status), 0);
}

/* A SIGSTOPped target stays stopped (group-stop + PTRACE_LISTEN), resumes on
 * SIGCONT, and is left stopped if the run ends while it is stopped. */
static pid_t stop_target;

static void *stop_cont(void *arg)
{
	(void)arg;
	msleep(300);
	kill(stop_target, SIGSTOP);
	msleep(300);
	kill(stop_target, SIGCONT);
	msleep(300);
	kill(stop_target, SIGSTOP);
	return NULL;
}

static void case_groupstop(void)
{
	struct tally t;
	struct sample_stats st;
	stop_target = start_plain("busy", "2", "0");
	while (nthreads(stop_target) < 3)
		msleep(5);
	pid_t *tids;
	int n, detail;
	CHECK_EQ_INT(attach_process(stop_target, &tids, &n, &detail), ATTACH_OK);
	free(tids);
	pthread_t th;
	start_helper(&th, stop_cont);
	struct sampler_result res = run(stop_target, 0, 1000, 1, 1.3, &t, &st);
	pthread_join(th, NULL);
	CHECK_EQ_INT(res.end, SAMPLER_END_DURATION);
	/* stopped, untraced */
	check_untraced_running(stop_target, 1);
	/* A detached thread re-enters the group-stop on its own, once it runs. */
	struct proc_status ps;
	for (int i = 0; i < 200; i++) {
		CHECK_EQ_INT(proc_read_status(stop_target, stop_target, &ps), 0);
		if (ps.state == 'T')
			break;
		msleep(5);
	}
	CHECK_EQ_INT(ps.state, 'T');
	kill(stop_target, SIGCONT);
	msleep(50);
	check_untraced_running(stop_target, 0);
	long long c0 = proc_cpu_time_ns(stop_target);
	msleep(200);
	CHECK(proc_cpu_time_ns(stop_target) > c0);
	kill_reap(stop_target);
}

static void case_exec(void)
{
	struct tally t;
	struct sample_stats st;
	pid_t pid = spawn("exec", "500", NULL);
	struct sampler_result res = run(pid, 1, 1000, 0, 10.0, &t, &st);
	CHECK_EQ_INT(res.end, SAMPLER_END_EXITED);
	CHECK_EQ_INT(t.execs, 1);
	CHECK(res.child_reaped);
	CHECK(WIFEXITED(res.child_status) && WEXITSTATUS(res.child_status) == 0);
	/* 500 ms of spinning before the exec: even a thread that gets a tenth of a
	 * CPU on a crowded machine is sampled (the count itself is test_busy1's). */
	CHECK(st.samples > 10);
}

static void case_signal_end(void)
{
	struct tally t;
	struct sample_stats st;
	pid_t pid = spawn("busy", "2", "0");
	pid_t me = getpid();
	pid_t killer = fork();
	if (killer == 0) {
		msleep(500);
		kill(me, SIGTERM);
		_exit(0);
	}
	struct sampler_result res = run(pid, 1, 1000, 0, 10.0, &t, &st);
	CHECK_EQ_INT(res.end, SAMPLER_END_SIGNAL);
	CHECK_EQ_INT(res.signal, SIGTERM);
	check_untraced_running(pid, 0);
	kill_reap(pid);
	waitpid(killer, NULL, 0);
}

/* Every reader through the sampler: samples with full stacks, nothing lost
 * to reads (the workload keeps 16 KiB of stack below its spinning frame). */
static void case_readers(void)
{
	static const enum reader_kind kinds[] = { READER_VMREADV, READER_PROCMEM, READER_PEEK };
	for (size_t k = 0; k < 3; k++) {
		struct tally t;
		struct sample_stats st;
		reader_kind = kinds[k];
		pid_t pid = spawn("busy", "1", "0");
		struct sampler_result res = run(pid, 1, 200, 0, 0.7, &t, &st);
		CHECK_EQ_INT(res.end, SAMPLER_END_DURATION);
		CHECK(st.samples >= 20);
		CHECK_EQ_INT(st.lost[LOST_READ_FAILED], 0);
		kill_reap(pid);
	}
}

int main(int argc, char **argv)
{
	CHECK(argc == 3);
	workload = argv[1];
	const char *c = argv[2];
	if (!strcmp(c, "busy1"))
		case_busy1();
	else if (!strcmp(c, "busy16"))
		case_busy16(0);
	else if (!strcmp(c, "idle16"))
		case_busy16(1);
	else if (!strcmp(c, "sleeping"))
		case_sleeping();
	else if (!strcmp(c, "churn"))
		case_churn();
	else if (!strcmp(c, "exit"))
		case_exit();
	else if (!strcmp(c, "sigkill"))
		case_sigkill();
	else if (!strcmp(c, "signals"))
		case_signals();
	else if (!strcmp(c, "groupstop"))
		case_groupstop();
	else if (!strcmp(c, "exec"))
		case_exec();
	else if (!strcmp(c, "sigterm"))
		case_signal_end();
	else if (!strcmp(c, "readers"))
		case_readers();
	else
		CHECK(!"unknown case");
	return 0;
}
