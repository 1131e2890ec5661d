#!/usr/bin/env python3
"""test_record_intrusion.py REMPROF JITTER — what `remprof record` says about
its own cost, against the jitter workload with a thread that loops mprotect
over a large populated region (so that the target's mmap_lock is held for
write for tens of milliseconds at a time):

- with --max-stop the stack copy is given up on at the bound: no copy in the
  profile took much longer than it, and the samples given up on are counted
  as "read blocked"; with --max-stop 0 the same copies wait for the writer;
  peek's copies end at most one lock wait past the bound;
- the profile carries the mmap_lock figures (tracepoints on this kernel);
- no tracefs instance is left behind after record ends, or after SIGINT or
  SIGTERM stops it; the target runs on, untraced."""
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

REMPROF, JITTER = sys.argv[1], sys.argv[2]
INSTANCES = "/sys/kernel/tracing/instances"


def instance_of(pid):
    """The tracefs instance of the remprof process pid, as lockwatch names it."""
    return os.path.isdir(os.path.join(INSTANCES, "remprof-%d" % pid))


def traced_or_stopped(pid):
    for status in glob.glob("/proc/%d/task/*/status" % pid):
        with open(status) as f:
            fields = dict(line.split(":\t", 1) for line in f if ":\t" in line)
        if fields.get("TracerPid", "0").strip() != "0" or fields["State"][0] in "tT":
            return status
    return None


class Writer:
    """jitter with one timer thread, one mmap thread and the mprotect writer."""

    def __enter__(self):
        r, w = os.pipe()
        self.proc = subprocess.Popen([JITTER, "-d", "60", "--timer", "1", "--mmap", "1",
                                      "--writer", "mprotect", "--region-mb", "512",
                                      "--ready-fd", str(w), "-o", os.devnull], pass_fds=(w,))
        os.close(w)
        assert os.read(r, 64).startswith(b"ready"), "jitter did not start"
        os.close(r)
        self.pid = self.proc.pid
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def report_text(path):
    r = subprocess.run([REMPROF, "report", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def max_us(text, what):
    m = re.search(r"^  %s +p50 .* max ([0-9.]+)  \(n=" % re.escape(what), text, re.M)
    assert m, "no '%s' line in:\n%s" % (what, text)
    return float(m.group(1))


class RecordIntrusion(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="remprof-intr-")

    def record(self, pid, *args):
        out = os.path.join(self.dir, "p%d.data" % len(os.listdir(self.dir)))
        r = subprocess.run([REMPROF, "record", "-p", str(pid), "-d", "3", "--reader", "procmem",
                            "-o", out] + list(args), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return out, r.stderr

    def test_max_stop_bounds_the_copy(self):
        with Writer() as w:
            bounded, summary = self.record(w.pid, "--max-stop", "2ms")
            unbounded, _ = self.record(w.pid, "--max-stop", "0")
            self.assertIsNone(traced_or_stopped(w.pid))
        text = report_text(bounded)
        self.assertIn("stops bounded at 2 ms (--max-stop)", text)
        m = re.search(r"(\d+) samples lost as read blocked", text)
        self.assertTrue(m and int(m.group(1)) > 0, text)
        self.assertIn("read blocked", summary)
        # The bound is on the copy; allow for the wake-ups around it.
        self.assertLess(max_us(text, "stack copy"), 2000 + 8000, text)
        # Without the bound the same kind of copy waits for the writer's
        # mprotect of 512 MiB (tens of ms here).
        text0 = report_text(unbounded)
        self.assertIn("stops not bounded (--max-stop 0)", text0)
        self.assertGreater(max_us(text0, "stack copy"), 10000, text0)
        # The mmap_lock figures: the writer makes the target wait, and
        # procmem takes the target's lock at least once per read.
        m = re.search(r"the target waited (\d+) times", text0)
        self.assertTrue(m and int(m.group(1)) > 0, text0)
        m = re.search(r"in (\d+) stack reads \(([0-9.]+) per read\)", text0)
        self.assertTrue(m and int(m.group(1)) > 0 and float(m.group(2)) >= 1.0, text0)

    def test_max_stop_bounds_peek_between_words(self):
        with Writer() as w:
            bounded, _ = self.record(w.pid, "--reader", "peek", "--max-stop", "2ms")
            self.assertIsNone(traced_or_stopped(w.pid))
        text = report_text(bounded)
        self.assertIn("stops bounded at 2 ms (--max-stop)", text)
        self.assertIn("peek gives up between two words", text)
        m = re.search(r"(\d+) samples lost as read blocked", text)
        self.assertTrue(m and int(m.group(1)) > 0, text)
        # Each word waits for the lock on its own: a copy ends at most one
        # wait (the longest remprof saw) past the bound, plus wake-ups.
        self.assertLess(max_us(text, "stack copy"), 2000 + max_us(text, "remprof lock wait") + 8000,
                        text)

    def test_no_tracing_state_left(self):
        # Only the instances of the remprof processes started here count:
        # other remprofs may run on the machine meanwhile.
        with Writer() as w:
            for sig in (None, signal.SIGINT, signal.SIGTERM):
                out = os.path.join(self.dir, "sig%s.data" % sig)
                args = [REMPROF, "record", "-p", str(w.pid), "-o", out] + (["-d", "2"] if sig is None else [])
                p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                deadline = time.time() + 10
                while not instance_of(p.pid) and p.poll() is None and time.time() < deadline:
                    time.sleep(0.02)
                self.assertTrue(instance_of(p.pid) or sig is None and p.poll() == 0,
                                "no tracefs instance while recording")
                if sig is not None:
                    time.sleep(0.5)
                    p.send_signal(sig)
                _, err = p.communicate(timeout=30)
                self.assertEqual(p.returncode, 0, err)
                self.assertFalse(instance_of(p.pid), "instance left after %s" % (sig or "the end"))
                self.assertTrue(os.path.exists(out))
            self.assertIsNone(traced_or_stopped(w.pid))
            self.assertIsNone(w.proc.poll(), "the target died")


if __name__ == "__main__":
    if not os.path.isdir(INSTANCES):
        print("no tracefs instances directory: skipped")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:])
