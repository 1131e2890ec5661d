"""Never harm the target: however record ends — its duration, the target
exiting, SIGINT/SIGTERM/SIGHUP, or SIGKILL of remprof itself — every thread
of the target is left running and untraced."""

import os
import signal
import subprocess
import time

import e2e


class Safety(e2e.TestCase):
    def start_record(self, pid, out, *extra):
        p = subprocess.Popen([e2e.REMPROF, "record", "-p", str(pid), "-o", out] + list(extra),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        return p

    def wait(self, p):
        try:
            _, err = p.communicate(timeout=e2e.SLACK_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("remprof did not end within %d s" % e2e.SLACK_S)
        return p.returncode, err

    def test_after_duration(self):
        with e2e.Target("busy", 4, 0) as t:
            e2e.record(["-p", t.pid, "-d", 2, "-o", self.path("d.data")], 2)
            self.assertUntracedAndRunning(t)

    def end_by_signal(self, sig):
        out = self.path("sig.data")
        with e2e.Target("busy", 4, 0) as t:
            p = self.start_record(t.pid, out)
            time.sleep(1.5)
            if p.poll() is not None:
                self.fail("remprof ended early: %s" % p.stderr.read())
            p.send_signal(sig)
            code, err = self.wait(p)
            self.assertUntracedAndRunning(t)
        # Like perf record, a signal is the normal way to end an open-ended
        # recording: the profile is written and remprof succeeds.
        self.assertEqual(code, 0, "remprof exited %d after %s: %s" % (code, sig.name, err))
        self.assertGreater(e2e.total(e2e.folded(out)), 0)

    def test_sigint(self):
        self.end_by_signal(signal.SIGINT)

    def test_sigterm(self):
        self.end_by_signal(signal.SIGTERM)

    def test_sighup(self):
        self.end_by_signal(signal.SIGHUP)

    def test_sigkill(self):
        # Different moments in the recording: right after attach, and in the
        # middle of sampling, where a thread may be in a ptrace stop.
        with e2e.Target("busy", 4, 0) as t:
            for delay in (0.05, 0.3, 1.0, 1.7):
                p = self.start_record(t.pid, self.path("kill.data"))
                time.sleep(delay)
                p.kill()
                p.wait()
                self.assertUntracedAndRunning(t)
                self.remove_tracefs_instance(p.pid)

    @staticmethod
    def remove_tracefs_instance(pid):
        """A SIGKILLed remprof cannot remove the tracefs instance it made for
        the mmap_lock tracepoints; remove it, so that the test leaves the
        machine's tracing state as it found it."""
        for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
            path = "%s/instances/remprof-%d" % (root, pid)
            if os.path.isdir(path):
                os.rmdir(path)
                return

    def test_target_exits(self):
        out = self.path("exit.data")
        with e2e.Target("busy", 2, 2) as t:
            p = self.start_record(t.pid, out)
            code, err = self.wait(p)
            self.assertEqual(t.proc.wait(timeout=5), 0)
        self.assertEqual(code, 0, err)
        self.assertShareAtLeast(e2e.folded(out), "busy_spin", 0.95)

    def test_thread_churn(self):
        out = self.path("churn.data")
        # 8 s: it must still be running, for a while, after the recording.
        with e2e.Target("churn", 8) as t:
            e2e.record(["-p", t.pid, "-d", 3, "-o", out], 3)
            self.assertUntracedAndRunning(t, cpu_seconds=0.1)
            # ... and it runs to completion, unharmed.
            self.assertEqual(t.proc.wait(timeout=15), 0, "churn failed")
        self.assertShareAtLeast(e2e.folded(out), "churn_worker", 0.80)


if __name__ == "__main__":
    e2e.main()
