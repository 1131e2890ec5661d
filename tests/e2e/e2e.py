"""e2e.py — what the end-to-end tests share: start the example workloads,
run the real remprof binary against them, read its reports, and look at the
target through /proc to see that it was left running and untraced.

The binary and the examples are found through $REMPROF and $EXAMPLES, which
tests/e2e/meson.build sets. Every process a test starts is killed when the
test ends, also when it fails."""

import os
import subprocess
import tempfile
import time
import unittest

REMPROF = os.environ.get("REMPROF", "")
EXAMPLES = os.environ.get("EXAMPLES", "")
# Seconds a remprof command may take beyond what it was asked to do (attach,
# symbolization, writing the file) before the test calls it hung.
SLACK_S = 15


def example(name):
    return os.path.join(EXAMPLES, name)


class Target:
    """An example workload as a child process; killed (and reaped) on exit."""

    def __init__(self, name, *args, settle=0.2):
        self.proc = subprocess.Popen([example(name)] + [str(a) for a in args],
                                     stdout=subprocess.DEVNULL)
        self.pid = self.proc.pid
        # Let it get past the dynamic loader and into its hot loop.
        time.sleep(settle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def run_remprof(args, timeout, **kw):
    """Runs remprof to completion; a hang is killed and fails the test."""
    try:
        return subprocess.run([REMPROF] + [str(a) for a in args], capture_output=True,
                              text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("remprof %s did not finish in %d s" % (" ".join(map(str, args)),
                                                                   timeout)) from e


def record(args, duration=None):
    """`remprof record ARGS`; expects success and returns the result."""
    r = run_remprof(["record"] + list(args), timeout=(duration or 5) + SLACK_S)
    if r.returncode != 0:
        raise AssertionError("remprof record %s exited %d: %s" % (" ".join(map(str, args)),
                                                                  r.returncode, r.stderr))
    return r


def tracer_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return 0


def record_traced_cpu(pid, args, duration):
    """`remprof record ARGS` against pid; returns (result, CPU seconds the
    target used while remprof was its tracer). The recording is the time the
    target is traced — remprof's own start-up before the attach and its exit
    after the detach are not — as seen by polling TracerPid every 5 ms."""
    p = subprocess.Popen([REMPROF, "record"] + [str(a) for a in args],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + duration + SLACK_S
        before = after = None
        while after is None and time.monotonic() < deadline:
            traced = tracer_of(pid) == p.pid
            if before is None and traced:
                before = cpu_ticks(pid)
            elif before is not None and not traced:
                after = cpu_ticks(pid)
            elif p.poll() is not None:
                break
            time.sleep(0.005)
        _, err = p.communicate(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired as e:
        raise AssertionError("remprof record did not finish in time") from e
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if p.returncode != 0:
        raise AssertionError("remprof record exited %d: %s" % (p.returncode, err))
    if before is None or after is None:
        raise AssertionError("did not see remprof attach and detach (TracerPid of %d)" % pid)
    return err, (after - before) / ticks_per_s()


def report(path, *args):
    r = run_remprof(["report", path] + list(args), timeout=SLACK_S)
    if r.returncode != 0:
        raise AssertionError("remprof report %s exited %d: %s" % (path, r.returncode, r.stderr))
    return r.stdout


def parse_folded(text):
    """Collapsed stacks ("root;...;leaf COUNT" per line) as [(frames, count)]."""
    stacks = []
    for line in text.splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise AssertionError("not a folded-stack line: %r" % line)
        stacks.append((stack.split(";"), int(count)))
    return stacks


def folded(path, *args):
    return parse_folded(report(path, "--format", "folded", *args))


def total(stacks):
    return sum(c for _, c in stacks)


def share(stacks, function):
    """Fraction of all samples whose stack contains `function` (inclusive:
    an inline frame below it, e.g. an always_inline helper, still counts)."""
    n = total(stacks)
    if n == 0:
        raise AssertionError("the profile has no samples")
    return sum(c for frames, c in stacks if function in frames) / n


def describe(stacks, top=8):
    """The heaviest stacks, for failure messages."""
    rows = sorted(stacks, key=lambda s: -s[1])[:top]
    return "\n".join("%6d %s" % (c, ";".join(f)) for f, c in rows)


def cpu_ticks(pid):
    """utime + stime of the whole process, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def ticks_per_s():
    return os.sysconf("SC_CLK_TCK")


def thread_status(pid):
    """{tid: (State letter, TracerPid)} for every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                fields = dict(l.split(":", 1) for l in f if ":" in l)
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread exited while we looked (ENOENT, or ESRCH mid-read)
        out[int(tid)] = (fields["State"].split()[0], int(fields["TracerPid"]))
    return out


def process_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rpartition(")")[2].split()[0]


class TestCase(unittest.TestCase):
    """A temporary directory per test, and the checks every test uses."""

    def setUp(self):
        if not REMPROF or not os.access(REMPROF, os.X_OK):
            self.fail("$REMPROF is not an executable: %r" % REMPROF)
        if not EXAMPLES or not os.path.isdir(EXAMPLES):
            self.fail("$EXAMPLES is not a directory: %r" % EXAMPLES)
        self._tmp = tempfile.TemporaryDirectory(prefix="remprof-e2e-")
        self.tmp = self._tmp.name
        self.addCleanup(self._tmp.cleanup)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def assertShare(self, stacks, function, expected, tolerance):
        got = share(stacks, function)
        self.assertLessEqual(abs(got - expected), tolerance,
                             "%s has %.1f%% of the samples, expected %.0f%% ± %.0f\n%s" % (
                                 function, 100 * got, 100 * expected, 100 * tolerance,
                                 describe(stacks)))

    def assertShareAtLeast(self, stacks, function, minimum):
        got = share(stacks, function)
        self.assertGreaterEqual(got, minimum,
                                "%s has %.1f%% of the samples, expected at least %.0f%%\n%s" % (
                                    function, 100 * got, 100 * minimum, describe(stacks)))

    def assertUntracedAndRunning(self, target, cpu_seconds=0.2, within_s=3.0):
        """Every thread of the target has no tracer and is not stopped, and
        the process keeps using CPU: remprof let go of it."""
        pid = target.pid
        self.assertIsNone(target.proc.poll(), "the target exited (status %s)" % target.proc.poll())
        for tid, (state, tracer) in thread_status(pid).items():
            self.assertEqual(tracer, 0, "thread %d is still traced by %d" % (tid, tracer))
            self.assertNotIn(state, "tT", "thread %d is stopped (state %s)" % (tid, state))
        before, deadline = cpu_ticks(pid), time.monotonic() + within_s
        need = cpu_seconds * ticks_per_s()
        while cpu_ticks(pid) - before < need:
            self.assertIsNone(target.proc.poll(), "the target exited")
            if time.monotonic() > deadline:
                self.fail("the target used less than %.1f s of CPU in %.0f s after remprof "
                          "ended: threads %s" % (cpu_seconds, within_s, thread_status(pid)))
            time.sleep(0.05)

    def assertOneLineError(self, result, code, *outputs):
        """The documented exit code, exactly one "remprof: ..." line on
        stderr, and none of the output files left behind."""
        self.assertEqual(result.returncode, code,
                         "exit code %d, expected %d; stderr: %r" % (result.returncode, code,
                                                                   result.stderr))
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr, got %r" % result.stderr)
        self.assertTrue(lines[0].startswith("remprof: "), lines[0])
        for out in outputs:
            for leftover in (out, out + ".tmp"):
                self.assertFalse(os.path.exists(leftover), "%s was left behind" % leftover)


def main():
    unittest.main(verbosity=2)
