/* strategy.c — where the sampler runs while it serves stops, and at which
 * priority: the two things that decide how long a stop takes here. */
#include "sampler_int.h"

#include <stdio.h>
#include <stdlib.h>

static int cpu_allowed(const struct sampler *s, int cpu)
{
	return cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &s->allowed);
}

/* Move ourselves to the due thread's CPU: a ptrace stop issued from the same
 * CPU needs no IPI and no halted-vCPU wake-up (~15 µs here, against ~125 µs
 * across CPUs; measurements §0.2). */
void sampler_move_to(struct sampler *s, int cpu)
{
	if (!s->place_on || !cpu_allowed(s, cpu) || cpu == s->cur_cpu)
		return;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) == 0)
		s->cur_cpu = cpu;
}

/* How stops are served depends on whether the target's busy threads
 * outnumber the CPUs, and on how crowded the machine is (measured with
 * tests/sampler/stopbench):
 *
 * - Quiet, and placement asked for (sampler_config.placement, benchmarks
 *   of the bare stop): move to the due thread's CPU and stay a normal task.
 *   A stop issued from the same CPU needs no IPI and no halted-vCPU wake-up
 *   (~12-20 µs p50, ~45 µs p99, against ~125 µs across CPUs, measurements
 *   §0.2). Without placement (the default): a normal task where the
 *   scheduler puts it, ~40 µs p50.
 * - Crowded by other processes, target not over-subscribed: a normal task,
 *   not pinned. Pinned to a crowded CPU we wait our turn there; as RT we
 *   preempt the thread and it loses its turn to the other tasks, taking
 *   its stop only a tick later (p99 5 ms against 50-80 µs).
 * - Target over-subscribed (or idle mode, where we cannot tell): stay where
 *   the scheduler puts us, at SCHED_FIFO priority 1. A normal task woken by
 *   a trigger does not preempt the running thread before its slice ends
 *   (EEVDF run-to-parity); by then the thread was switched out and waits
 *   behind every other runnable thread, triggers coalesce, and the rate
 *   collapses (27-55% of F with 16 spinners on 2 CPUs, against 94-99% as
 *   RT). Moving between CPUs would cost a migration per batch.
 *
 * Decided again at every status tick from the triggers of the last one. */
static void set_realtime(struct sampler *s, int on)
{
	if (on == s->rt_on || s->old_policy < 0)
		return;
	struct sched_param rt = { .sched_priority = 1 };
	if (on ? sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &rt) == 0
	       : sched_setscheduler(0, s->old_policy, &s->old_param) == 0)
		s->rt_on = on;
}

static void set_placement(struct sampler *s, int on)
{
	s->place_on = on;
	if (!on && s->cur_cpu >= 0) {
		sched_setaffinity(0, sizeof(s->allowed), &s->allowed);
		s->cur_cpu = -1;
	}
}

/* Runnable tasks on the whole machine now, other than us (the 4th field of
 * /proc/loadavg, "running/total"); 0 if unknown. */
static size_t others_running(void)
{
	FILE *f = fopen("/proc/loadavg", "re");
	unsigned long running = 0;
	if (f) {
		if (fscanf(f, "%*s %*s %*s %lu/", &running) != 1)
			running = 0;
		fclose(f);
	}
	return running > 0 ? running - 1 : 0;
}

static void choose(struct sampler *s, size_t busy)
{
	size_t ncpu = (size_t)CPU_COUNT(&s->allowed);
	int over = s->cfg->idle || busy > ncpu;
	int crowded = !over && others_running() > ncpu;
	set_realtime(s, over && !s->cfg->no_realtime);
	set_placement(s, !over && !crowded && s->cfg->placement);
}

void sampler_adapt(struct sampler *s)
{
	size_t busy = 0;
	for (size_t i = 0; i < s->nthr; i++) {
		busy += s->thr[i]->window_triggers > 0;
		s->thr[i]->window_triggers = 0;
	}
	choose(s, busy);
}

/* Until the first tick (FIRST_TICK_NS) knows better, the threads running
 * now count as the busy ones. SCHED_RESET_ON_FORK: no child of ours is RT. */
void sampler_strategy_init(struct sampler *s)
{
	s->old_policy = sched_getscheduler(0);
	sched_getparam(0, &s->old_param);
	/* Already RT (the user chose so): leave the policy alone. */
	if (s->old_policy < 0 || s->old_policy == SCHED_FIFO || s->old_policy == SCHED_RR)
		s->old_policy = -1;
	choose(s, s->running_at_start);
}

void sampler_strategy_end(struct sampler *s)
{
	set_realtime(s, 0);
}
