#!/usr/bin/env python3
"""The jitter workload runs for 1 s with every kind of thread and writes valid
JSON histograms (then fork as writer, bad flags, SIGTERM ending it early).
usage: test_jitter.py JITTER TMPDIR"""
import json
import os
import signal
import subprocess
import sys
import tempfile

jitter = sys.argv[1]
HISTS = ("timer_wakeup_ns", "spin_gap_ns", "mmap_op_ns", "writer_op_ns")


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def check_hist(name, h):
    for key in ("count", "sum", "min", "max", "p50", "p90", "p99", "p999", "buckets"):
        if key not in h:
            fail(f"{name}: no {key}")
    total = sum(c for _, _, c in h["buckets"])
    if total != h["count"]:
        fail(f"{name}: buckets sum to {total}, count is {h['count']}")
    if h["count"] and not (h["min"] <= h["p50"] <= h["p90"] <= h["p99"] <= h["p999"] <= h["max"]):
        fail(f"{name}: percentiles out of order: {h}")
    lows = [lo for lo, _, _ in h["buckets"]]
    if lows != sorted(lows) or any(lo > hi for lo, hi, _ in h["buckets"]):
        fail(f"{name}: buckets out of order")
    if h["count"] and not (h["buckets"][0][0] <= h["min"] and h["max"] <= h["buckets"][-1][1]):
        fail(f"{name}: min/max outside the buckets")


def run(tmp, *args, expect=0):
    out = os.path.join(tmp, "jitter.json")
    p = subprocess.run([jitter, "-o", out, *args], capture_output=True, text=True, timeout=30)
    if p.returncode != expect:
        fail(f"jitter {' '.join(args)} exited {p.returncode}: {p.stderr}")
    if expect != 0:
        return None
    if os.path.exists(out + ".tmp"):
        fail("temporary file left behind")
    with open(out) as f:
        d = json.load(f)
    if d.get("workload") != "jitter" or d.get("version") != 1:
        fail(f"bad header: {d.get('workload')} {d.get('version')}")
    for name in HISTS:
        check_hist(name, d["histograms"][name])
    return d


with tempfile.TemporaryDirectory() as tmp:
    d = run(tmp, "-d", "1", "--timer", "2", "--mmap", "1", "--writer", "mprotect",
            "--region-mb", "16")
    h, c = d["histograms"], d["counters"]
    for name in ("timer_wakeup_ns", "mmap_op_ns", "writer_op_ns"):
        if h[name]["count"] == 0:
            fail(f"{name} is empty")
    if c["timer_periods"] != h["timer_wakeup_ns"]["count"] or c["spin_iterations"] == 0:
        fail(f"counters disagree: {c}")
    if d["config"]["timer_threads"] != 2 or d["config"]["writer"] != "mprotect":
        fail(f"config not recorded: {d['config']}")
    if d["elapsed_ns"] < 1e9 or d["interrupted"]:
        fail(f"ran {d['elapsed_ns']} ns, interrupted={d['interrupted']}")

    d = run(tmp, "-d", "0.3", "--timer", "0", "--mmap", "0", "--writer", "fork",
            "--region-mb", "8")
    if d["histograms"]["writer_op_ns"]["count"] == 0 or d["histograms"]["mmap_op_ns"]["count"]:
        fail("fork writer: wrong histograms")

    run(tmp, "--writer", "bogus", expect=2)
    run(tmp, "--busy-us", "2000", expect=2)
    run(tmp, "stray", expect=2)

    # SIGTERM ends the run early, and the histograms are still written.
    out = os.path.join(tmp, "term.json")
    r, w = os.pipe()
    p = subprocess.Popen([jitter, "-d", "20", "-o", out, "--ready-fd", str(w)], pass_fds=(w,))
    os.close(w)
    if os.read(r, 6) != b"ready\n":
        fail("no ready line")
    p.send_signal(signal.SIGTERM)
    if p.wait(timeout=10) != 0:
        fail(f"SIGTERMed jitter exited {p.returncode}")
    with open(out) as f:
        d = json.load(f)
    if not d["interrupted"]:
        fail("interrupted not recorded")
print("ok")
