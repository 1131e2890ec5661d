"""Bad input gets a clear error: the documented exit code
(include/remprof/exitcode.h), exactly one line on stderr, and no output file."""

import contextlib
import os
import shutil
import subprocess
import sys
import time
import unittest

import e2e

EXIT_USAGE, EXIT_NO_TARGET, EXIT_TRACED, EXIT_BAD_TARGET, EXIT_BAD_INPUT = 2, 3, 5, 6, 7

# A tracer that is not remprof: PTRACE_SEIZE the pid given, say so, and hold on
# until killed (the kernel detaches when it dies).
SEIZER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
if libc.ptrace(0x4206, int(sys.argv[1]), None, None) != 0:   # PTRACE_SEIZE
    sys.exit("seize: " + os.strerror(ctypes.get_errno()))
print("seized", flush=True)
time.sleep(60)
"""


class Errors(e2e.TestCase):
    def record_fails(self, code, *args):
        self.calls = getattr(self, "calls", 0) + 1
        out = self.path("out%d.data" % self.calls)
        r = e2e.run_remprof(["record", "-o", out] + list(args), timeout=e2e.SLACK_S)
        self.assertOneLineError(r, code, out)

    def report_fails(self, code, *args):
        self.calls = getattr(self, "calls", 0) + 1
        out = self.path("report%d.out" % self.calls)
        r = e2e.run_remprof(["report"] + list(args) + ["-o", out], timeout=e2e.SLACK_S)
        self.assertOneLineError(r, code, out)

    @contextlib.contextmanager
    def tracer(self, argv, pid):
        """Another tracer of pid, for the duration of the with block. It must
        be gone before the target is killed: a traced child that dies is
        reported to its tracer first, and its parent cannot reap it until
        the tracer lets go."""
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while e2e.thread_status(pid)[pid][1] != p.pid:
                self.assertIsNone(p.poll(), "%s could not attach" % argv[0])
                self.assertLess(time.monotonic(), deadline,
                                "%s did not become the tracer of %d" % (argv[0], pid))
                time.sleep(0.05)
            yield p
        finally:
            p.kill()
            p.wait()

    def test_no_such_process(self):
        # A pid that just existed and is gone.
        p = subprocess.Popen(["true"])
        p.wait()
        self.assertFalse(os.path.exists("/proc/%d" % p.pid))
        self.record_fails(EXIT_NO_TARGET, "-p", p.pid, "-d", 1)

    def test_kernel_thread(self):
        with open("/proc/2/comm") as f:
            self.assertEqual(f.read().strip(), "kthreadd")
        self.record_fails(EXIT_BAD_TARGET, "-p", 2, "-d", 1)

    def test_zombie(self):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        self.addCleanup(os.waitpid, pid, 0)
        deadline = time.monotonic() + 5
        while e2e.process_state(pid) != "Z":
            self.assertLess(time.monotonic(), deadline, "the child did not become a zombie")
            time.sleep(0.01)
        self.record_fails(EXIT_BAD_TARGET, "-p", pid, "-d", 1)

    def test_traced_by_ptrace_seize(self):
        with e2e.Target("busy", 2, 0) as t:
            with self.tracer([sys.executable, "-c", SEIZER, str(t.pid)], t.pid):
                self.record_fails(EXIT_TRACED, "-p", t.pid, "-d", 1)

    @unittest.skipUnless(shutil.which("strace"), "strace is not installed")
    def test_traced_by_strace(self):
        with e2e.Target("busy", 2, 0) as t:
            with self.tracer(["strace", "-q", "-o", "/dev/null", "-p", str(t.pid)], t.pid):
                self.record_fails(EXIT_TRACED, "-p", t.pid, "-d", 1)

    def test_traced_thread_not_leader(self):
        """Only one thread is traced by someone else: still EXIT_TRACED, and
        remprof lets go of the threads it had already seized."""
        with e2e.Target("busy", 4, 0) as t:
            tid = max(e2e.thread_status(t.pid))
            with self.tracer([sys.executable, "-c", SEIZER, str(tid)], tid):
                self.record_fails(EXIT_TRACED, "-p", t.pid, "-d", 1)
                for other, (state, tracer) in e2e.thread_status(t.pid).items():
                    if other != tid:
                        self.assertEqual(tracer, 0,
                                         "thread %d left traced by %d" % (other, tracer))
                        self.assertNotIn(state, "tT")
            self.assertUntracedAndRunning(t)

    def test_unknown_flag(self):
        with e2e.Target("split", 0) as t:
            self.record_fails(EXIT_USAGE, "-p", t.pid, "--no-such-flag")
        r = e2e.run_remprof(["--no-such-flag"], timeout=e2e.SLACK_S)
        self.assertOneLineError(r, EXIT_USAGE)
        self.report_fails(EXIT_USAGE, self.path("x.data"), "--no-such-flag")

    def test_bad_frequency(self):
        with e2e.Target("split", 0) as t:
            for bad in ("0", "-5", "abc", "1000x", "", "99999999999"):
                with self.subTest(freq=bad):
                    self.record_fails(EXIT_USAGE, "-p", t.pid, "-F", bad, "-d", 1)
            self.assertUntracedAndRunning(t)

    def test_bad_values(self):
        with e2e.Target("split", 0) as t:
            # -d 1 after the bad value: were it accepted, remprof would
            # record for a second and succeed, and the test would say so.
            for args in (["-d", "0"], ["-d", "x"], ["--reader", "nope"],
                         ["--stack-size", "lots"], ["--stack-size", "1"], ["-p", "12x"],
                         ["-p", ""], ["-p", "-1"]):
                with self.subTest(args=args):
                    self.record_fails(EXIT_USAGE, "-p", t.pid, *args, "-d", 1)
        self.record_fails(EXIT_USAGE)                       # neither -p nor a command
        self.record_fails(EXIT_USAGE, "-p", os.getpid(), "--", "true")   # both

    def a_profile(self):
        """A real, valid profile file to break."""
        out = self.path("good.data")
        e2e.record(["-d", 0.5, "-o", out, "--", e2e.example("split"), 0.5], 1)
        e2e.folded(out)
        return out

    def test_report_missing_file(self):
        self.report_fails(EXIT_BAD_INPUT, self.path("does-not-exist.data"))

    def test_report_corrupt_file(self):
        good = self.a_profile()
        with open(good, "rb") as f:
            data = f.read()
        cases = {
            "empty": b"",
            "garbage": bytes(range(256)) * 64,
            "text": b"this is not a remprof profile\n",
            "truncated-half": data[: len(data) // 2],
            "truncated-by-1": data[:-1],
            "bad-magic": bytes([data[0] ^ 0xFF]) + data[1:],
        }
        for name, content in cases.items():
            with self.subTest(case=name):
                bad = self.path(name + ".data")
                with open(bad, "wb") as f:
                    f.write(content)
                self.report_fails(EXIT_BAD_INPUT, bad)

    def test_report_unknown_format(self):
        good = self.a_profile()
        self.report_fails(EXIT_USAGE, good, "--format", "xml")

    def test_help_and_version(self):
        for args in (["--help"], ["--version"], ["record", "--help"], ["report", "--help"]):
            with self.subTest(args=args):
                r = e2e.run_remprof(args, timeout=e2e.SLACK_S)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout.strip(), "nothing on stdout")
        r = e2e.run_remprof(["--help"], timeout=e2e.SLACK_S)
        self.assertIn("Exit codes", r.stdout)


if __name__ == "__main__":
    e2e.main()
