/* stopbench — how long the sampler keeps a thread stopped, per reader, on 1
 * and on 16 busy threads: the adaptive strategy, and with placement or
 * SCHED_FIFO ruled out ("place"/"RT" = allowed or not).
 * Not a test (it asserts nothing); run by hand:
 *   stopbench WORKLOAD [SECONDS] [READER...]
 * WORKLOAD is tests/sampler/workload from the same build. */
#include "remprof/attach.h"
#include "remprof/proc.h"
#include "remprof/sampler.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void nothing(void *ctx, const struct snapshot *s)
{
	(void)ctx, (void)s;
}

static double us(const struct hist *h, double p)
{
	return (double)hist_percentile(h, p) / 1e3;
}

static void bench(const char *workload, enum reader_kind reader, int threads, int placement,
		  int realtime, double seconds)
{
	char n[16];
	snprintf(n, sizeof(n), "%d", threads);
	char *argv[] = { (char *)workload, "busy", n, "0", NULL };
	pid_t pid;
	if (attach_spawn(argv, &pid) != 0) {
		fprintf(stderr, "stopbench: cannot start %s\n", workload);
		exit(1);
	}
	struct sampler_config cfg = {
		.pids = &pid, .npids = 1, .spawned = 1, .freq_hz = 1000, .stack_size = 16384,
		.reader = reader, .duration_s = seconds, .placement = placement,
		.no_realtime = !realtime,
	};
	struct sampler_events ev = { .sample = nothing };
	struct sample_stats st;
	struct sampler_result res;
	sample_stats_init(&st);
	int rc = sampler_run(&cfg, &ev, &st, &res);
	long long cpu = proc_cpu_time_ns(pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (rc != 0) {
		fprintf(stderr, "stopbench: %s\n", res.error_msg);
		exit(1);
	}
	printf("| %-7s | %2d | %-3s | %-3s | %6.3f | %8.1f / %8.1f / %8.1f | %8.1f / %8.1f | %6.1f / %6.1f |\n",
	       reader_name(reader), threads, placement ? "on" : "off", realtime ? "on" : "off",
	       cpu > 0 ? (double)st.samples / (1000.0 * (double)cpu / 1e9) : 0.0,
	       us(&st.stop_ns, 50), us(&st.stop_ns, 99), (double)st.stop_ns.max / 1e3,
	       us(&st.int_to_stop_ns, 50), us(&st.int_to_stop_ns, 99),
	       us(&st.copy_ns, 50), us(&st.copy_ns, 99));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: stopbench WORKLOAD [SECONDS] [READER...]\n");
		return 2;
	}
	double seconds = argc > 2 ? atof(argv[2]) : 2.0;
	enum reader_kind readers[8] = { READER_VMREADV, READER_PROCMEM, READER_PEEK };
	int nreaders = 3;
	if (argc > 3) {
		nreaders = 0;
		for (int i = 3; i < argc && nreaders < 8; i++)
			if (reader_parse(argv[i]) >= 0)
				readers[nreaders++] = (enum reader_kind)reader_parse(argv[i]);
	}
	printf("F=1000, 16 KiB copy, %.1f s per row; samples = samples / (F x CPU time); times in us\n\n",
	       seconds);
	printf("| reader  |  T | place | RT | samples | stop p50 / p99 / max | int->stop p50 / p99 | copy p50 / p99 |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	static const int modes[][2] = { { 1, 1 }, { 0, 1 }, { 1, 0 }, { 0, 0 } };
	for (int r = 0; r < nreaders; r++)
		for (int t = 0; t < 2; t++)
			for (int m = 0; m < 4; m++)
				bench(argv[1], readers[r], t ? 16 : 1, modes[m][0], modes[m][1], seconds);
	return 0;
}
