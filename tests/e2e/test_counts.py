"""remprof takes F samples per CPU-second of each thread, like perf: the
count follows the CPU time the target really used during the recording."""

import e2e

DURATION = 4


class Counts(e2e.TestCase):
    def record_counting(self, name, args, freq):
        """Samples recorded and the CPU seconds the target used while it was
        traced (utime + stime from /proc/PID/stat at attach and at detach)."""
        out = self.out = self.path("counts.data")
        with e2e.Target(name, *args) as t:
            self.summary, cpu_s = e2e.record_traced_cpu(
                t.pid, ["-p", t.pid, "-F", freq, "-d", DURATION, "-o", out], DURATION)
            self.assertUntracedAndRunning(t)
        stacks = e2e.folded(out)
        return e2e.total(stacks), cpu_s, stacks

    def check_rate(self, freq):
        samples, cpu_s, stacks = self.record_counting("split", [0], freq)
        expected = freq * cpu_s
        # A precondition, not a check of remprof: on a crowded machine the
        # target may get little CPU, and /proc counts it in 10 ms ticks.
        self.assertGreater(cpu_s, 0.3, "the target hardly ran (%.2f s CPU)" % cpu_s)
        self.assertLessEqual(abs(samples - expected), 0.15 * expected,
                             "%d samples at -F %d for %.2f CPU-seconds, expected %.0f ± 15%%\n%s"
                             % (samples, freq, cpu_s, expected, self.summary))

    def test_rate_1000hz(self):
        self.check_rate(1000)

    def test_rate_250hz(self):
        self.check_rate(250)

    def test_16_busy_threads(self):
        samples, cpu_s, stacks = self.record_counting("busy", [16, 0], 1000)
        expected = 1000 * cpu_s
        self.assertGreaterEqual(samples, 0.90 * expected,
                                "%d samples of 16 busy threads for %.2f CPU-seconds at 1 kHz, "
                                "expected at least 90%% of %.0f\n%s" % (samples, cpu_s, expected,
                                                                        self.summary))
        self.assertLessEqual(samples, 1.15 * expected,
                             "%d samples for %.2f CPU-seconds at 1 kHz: more than F x CPU time"
                             % (samples, cpu_s))
        self.assertShareAtLeast(stacks, "busy_spin", 0.95)
        # Each thread (named busy, busy-1 .. busy-15) got its share: the
        # scheduler is fair over seconds, so none may fall far below 1/16.
        per_thread = {}
        for frames, count in e2e.folded(self.out, "--per-thread"):
            per_thread[frames[0]] = per_thread.get(frames[0], 0) + count
        self.assertEqual(len(per_thread), 16, "threads in the profile: %s" % per_thread)
        for thread, count in per_thread.items():
            self.assertGreaterEqual(count, 0.25 * samples / 16,
                                    "thread %s has %d of %d samples" % (thread, count, samples))


if __name__ == "__main__":
    e2e.main()
