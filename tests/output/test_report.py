#!/usr/bin/env python3
"""`remprof report` end to end: test_report.py REMPROF WRITE_FIXTURE

REMPROF is the remprof binary (or tests/output/report_driver, the same
dispatcher and report.c without record); WRITE_FIXTURE saves the profile of
tests/output/fixture.h. Checks the outputs, the exit codes and one-line
errors, and that -o never leaves a partial or temporary file behind."""
import os
import re
import subprocess
import sys
import tempfile

REMPROF, WRITE_FIXTURE = sys.argv[1], sys.argv[2]
FAILURES = []

FOLDED = ("main;a 1\n"
          "main;a;b 6\n"
          "main;c;c;helper_[i] 4\n"
          "main;op:er ator 1\n")
FOLDED_PER_THREAD = ("main-thr;main;a 1\n"
                     "main-thr;main;a;b 3\n"
                     "main-thr;main;op:er ator 1\n"
                     "worker;main;a;b 3\n"
                     "worker;main;c;c;helper_[i] 4\n")


def run(*args):
    p = subprocess.run([REMPROF, "report", *args], capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr)


def check_error(result, code, needle, what):
    rc, out, err = result
    check(rc == code, f"{what}: exit {rc}, expected {code} (stderr {err!r})")
    check(err.startswith("remprof: ") and err.count("\n") == 1,
          f"{what}: not one 'remprof: ' line: {err!r}")
    check(needle in err, f"{what}: {needle!r} not in {err!r}")
    check(out == "", f"{what}: stdout not empty: {out!r}")


def main():
    with tempfile.TemporaryDirectory(prefix="rp-report-") as d:
        prof = os.path.join(d, "p.rpf")
        subprocess.run([WRITE_FIXTURE, prof], check=True)

        rc, out, err = run(prof, "--format", "folded")
        check(rc == 0 and err == "", f"folded: exit {rc}, stderr {err!r}")
        check(out == FOLDED, f"folded output:\n{out}")
        # the shape flamegraph.pl / inferno parse: frames without ';' or
        # newlines, a space, an integer count
        for line in out.splitlines():
            check(re.fullmatch(r"[^;\n]+(;[^;\n]+)* \d+", line), f"folded line {line!r}")

        rc, out, err = run("--per-thread", "-f", "folded", prof)
        check(rc == 0 and out == FOLDED_PER_THREAD, f"per-thread folded ({rc}):\n{out}{err}")

        rc, text, err = run(prof)
        check(rc == 0 and err == "", f"text: exit {rc}, stderr {err!r}")
        for needle in ["command:   ./app --run", "reader:    vmreadv",
                       "   60.00%   60.00%         6  b (app)",
                       "    0.00%   20.00%         4  c (app)",
                       "   20.00%   20.00%        helper [inlined]",
                       "   50.00%         7   10.000 ms       100       101  worker"]:
            check(needle in text, f"text lacks {needle!r}")

        # -o: the same bytes as stdout, nothing temporary left behind
        out_path = os.path.join(d, "report.txt")
        rc, out, err = run(prof, "-o", out_path)
        check(rc == 0 and out == "" and err == "", f"-o: exit {rc}, {out!r} {err!r}")
        with open(out_path) as f:
            check(f.read() == text, "-o output differs from stdout")
        check(sorted(os.listdir(d)) == ["p.rpf", "report.txt"], f"files: {os.listdir(d)}")
        rc, out, err = run(prof, "-f", "folded", "--output", out_path)
        with open(out_path) as f:
            check(rc == 0 and f.read() == FOLDED, "-o folded")

        # errors: usage 2, bad input 7, output 8; each one line
        check_error(run(prof, "--format", "pprofx"), 2, "unknown format 'pprofx'", "bad format")
        check_error(run(prof, "--bogus"), 2, "unknown option '--bogus'", "bad option")
        check_error(run(prof, "--format"), 2, "needs a value", "missing value")
        check_error(run(), 2, "no profile file given", "no file")
        check_error(run(prof, prof), 2, "more than one", "two files")
        check_error(run(prof, "--rows", "0"), 2, "bad --rows", "bad rows")
        missing = os.path.join(d, "missing.rpf")
        check_error(run(missing), 7, "No such file or directory", "missing file")
        check_error(run(d), 7, "Is a directory", "directory")

        with open(prof, "rb") as f:
            data = f.read()
        trunc = os.path.join(d, "trunc.rpf")
        with open(trunc, "wb") as f:
            f.write(data[: len(data) // 2])
        # a bad input must not touch an existing output
        with open(out_path, "w") as f:
            f.write("previous\n")
        check_error(run(trunc, "-o", out_path), 7, "truncated", "truncated file")
        with open(out_path) as f:
            check(f.read() == "previous\n", "truncated input replaced the output")
        bad = bytearray(data)
        bad[len(bad) // 2] ^= 0x10
        corrupt = os.path.join(d, "corrupt.rpf")
        with open(corrupt, "wb") as f:
            f.write(bad)
        check_error(run(corrupt), 7, "corrupt", "corrupt file")
        notprof = os.path.join(d, "notprof.txt")
        with open(notprof, "w") as f:
            f.write("main;a 1\n")
        check_error(run(notprof), 7, "not a remprof profile", "not a profile")

        no_dir = os.path.join(d, "no", "such", "out.txt")
        check_error(run(prof, "-o", no_dir), 8, "cannot write", "unwritable output")
        check(not os.path.exists(os.path.dirname(no_dir)), "created a directory")
        if os.path.exists("/dev/full"):
            p = subprocess.run([REMPROF, "report", prof], stdout=open("/dev/full", "w"),
                               stderr=subprocess.PIPE, text=True, timeout=20)
            check(p.returncode == 8 and p.stderr.startswith("remprof: cannot write"),
                  f"stdout on a full disk: {p.returncode} {p.stderr!r}")

        rc, out, err = run("--help")
        check(rc == 0 and "usage: remprof report FILE" in out and "Exit codes:" in out
              and "exits with 7" in out, f"--help ({rc}): {out!r}")
        leftovers = [n for n in os.listdir(d) if n.endswith(".tmp")]
        check(not leftovers, f"temporary files left: {leftovers}")

    if FAILURES:
        print(f"{len(FAILURES)} failure(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
