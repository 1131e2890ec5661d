"""record -- COMMAND: remprof starts the command, records it until it exits,
and exits with its status."""

import os
import signal
import subprocess
import time

import e2e


class Command(e2e.TestCase):
    def test_exit_status_and_profile(self):
        out = self.path("cmd.data")
        r = e2e.run_remprof(["record", "-o", out, "--", e2e.example("busy"), 2, 1.5, 7],
                            timeout=1.5 + e2e.SLACK_S)
        self.assertEqual(r.returncode, 7, r.stderr)
        stacks = e2e.folded(out)
        self.assertShareAtLeast(stacks, "busy_spin", 0.95)
        # 2 threads x ~1.5 s at the default 1 kHz: far more than a handful.
        self.assertGreater(e2e.total(stacks), 500, e2e.describe(stacks))

    def test_success(self):
        out = self.path("split.data")
        r = e2e.run_remprof(["record", "-F", 1000, "-o", out, "--", e2e.example("split"), 2],
                            timeout=2 + e2e.SLACK_S)
        self.assertEqual(r.returncode, 0, r.stderr)
        stacks = e2e.folded(out)
        self.assertShare(stacks, "hot_sixty", 0.60, 0.05)
        self.assertShare(stacks, "hot_forty", 0.40, 0.05)

    def test_killed_command(self):
        """A command killed by signal N makes remprof exit 128+N."""
        out = self.path("killed.data")
        p = subprocess.Popen([e2e.REMPROF, "record", "-o", out, "--", e2e.example("busy"), "1", "0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            child = None
            deadline = time.monotonic() + 5
            while child is None and time.monotonic() < deadline:
                child = self.busy_child(p.pid)
                time.sleep(0.05)
            self.assertIsNotNone(child, "remprof did not start the command")
            time.sleep(1)
            os.kill(child, signal.SIGTERM)
            _, err = p.communicate(timeout=e2e.SLACK_S)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        self.assertShareAtLeast(e2e.folded(out), "busy_spin", 0.95)

    @staticmethod
    def busy_child(pid):
        """The child of remprof running examples/busy, or None yet."""
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    for c in f.read().split():
                        with open("/proc/%s/comm" % c) as g:
                            if g.read().strip() == "busy":
                                return int(c)
            except FileNotFoundError:
                pass
        return None

    def test_command_not_found(self):
        out = self.path("none.data")
        r = e2e.run_remprof(["record", "-o", out, "--", self.path("no-such-command")],
                            timeout=e2e.SLACK_S)
        self.assertOneLineError(r, 127, out)


if __name__ == "__main__":
    e2e.main()
