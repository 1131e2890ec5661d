#!/usr/bin/env python3
"""remprof doctor through its command function: exit codes and the plain-words
answer, against a real child process.
usage: test_doctor_cli.py REMPROF doctor     (the real binary)"""
import os
import subprocess
import sys
import time

driver = sys.argv[1:]
expect_fast = os.environ.get("REMPROF_EXPECT_FASTPATH") == "1"


def run(*args):
    p = subprocess.run([*driver, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def fail(msg, out=""):
    print("FAIL:", msg, "\n", out, file=sys.stderr)
    sys.exit(1)


rc, out, err = run()
if rc != 0:
    fail(f"doctor exited {rc}", out + err)
for needle in ("Yama ptrace_scope", "CAP_SYS_PTRACE", "perf_event_paranoid",
               "CONFIG_PER_VMA_LOCK", "vmreadv works", "procmem works", "peek works"):
    if needle not in out:
        fail(f"'{needle}' missing", out)
if "mmap_lock tracepoints: yes" in out:
    want = "has the per-VMA" if expect_fast else "has not the per-VMA"
    if want not in out:
        fail(f"expected '{want}'", out)

child = subprocess.Popen(["sleep", "30"])
try:
    time.sleep(0.1)
    rc, out, err = run("-p", str(child.pid))
    if rc != 0 or f"Target {child.pid} (sleep)" not in out or "permitted" not in out:
        fail(f"doctor -p {child.pid} exited {rc}", out + err)
    if child.poll() is not None:
        fail("the target died")
    status = open(f"/proc/{child.pid}/status").read()
    if "TracerPid:\t0" not in status:
        fail("the target was left traced", status)
finally:
    child.kill()
    child.wait()

rc, out, err = run("-p", str(child.pid))  # reaped: no such process
if rc != 3:
    fail(f"doctor -p <dead pid> exited {rc}, expected 3", out + err)
rc, out, err = run("-p", "2")  # kthreadd
if rc != 6:
    fail(f"doctor -p 2 (a kernel thread) exited {rc}, expected 6", out + err)
rc, out, err = run("--bogus")
if rc != 2 or not err.startswith("remprof: "):
    fail(f"doctor --bogus exited {rc}, expected 2", err)
rc, out, err = run("--help")
if rc != 0 or "usage: remprof doctor" not in out:
    fail("--help", out)
print("ok")
