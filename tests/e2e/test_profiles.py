"""Known profiles come out as known: shares, deep stacks, C++ names, and a
library dlopen()ed while remprof was attached."""

import re

import e2e

DURATION = 3


class Profiles(e2e.TestCase):
    def record_example(self, name, *args, **kw):
        out = self.path(name + ".data")
        with e2e.Target(name, *args, **kw) as t:
            e2e.record(["-p", t.pid, "-F", 1000, "-d", DURATION, "-o", out], DURATION)
            self.assertUntracedAndRunning(t)
        return e2e.folded(out)

    def test_split_60_40(self):
        stacks = self.record_example("split", 0)
        self.assertShare(stacks, "hot_sixty", 0.60, 0.05)
        self.assertShare(stacks, "hot_forty", 0.40, 0.05)

    def test_split_text_report(self):
        """The text report's percentages (by CPU time) say 60/40 too."""
        out = self.path("split.data")
        with e2e.Target("split", 0) as t:
            e2e.record(["-p", t.pid, "-F", 1000, "-d", DURATION, "-o", out], DURATION)
        text = e2e.report(out)
        for function, expected in (("hot_sixty", 60), ("hot_forty", 40)):
            # "  self%  total%  samples  function (module)" rows; the total
            # column of a function that calls nothing else but inlined code.
            row = r"^\s*[\d.]+%\s+([\d.]+)%\s+\d+\s+" + function + r" \(split\)$"
            m = re.search(row, text, re.M)
            self.assertIsNotNone(m, "no row for %s in the text report:\n%s" % (function, text))
            self.assertLessEqual(abs(float(m.group(1)) - expected), 5,
                                 "text report: %s at %s%%, expected %d%% ± 5\n%s" % (
                                     function, m.group(1), expected, text))

    def test_recursion_unwinds_to_main(self):
        stacks = self.record_example("recurse", 0, 200)
        n = e2e.total(stacks)
        deep = 0
        for frames, count in stacks:
            # Root first: the start function, then main, then 200 levels.
            starts = {"main", "__libc_start_call_main"} & set(frames)
            if starts and frames.count("recurse_down") >= 200 and "leaf_spin" in frames:
                deep += count
        self.assertGreaterEqual(deep, 0.99 * n,
                                "only %d of %d samples unwind from leaf_spin through 200 "
                                "recurse_down frames to main\n%s" % (deep, n, e2e.describe(stacks)))

    def test_debug_frame_only_unwinds_to_main(self):
        stacks = self.record_example("debug_frame", 0)
        n = e2e.total(stacks)
        chain = ["main", "outer_step", "middle_step", "leaf_spin"]
        full = sum(count for frames, count in stacks
                   if frames[-4:] == chain and "__libc_start_call_main" in frames)
        self.assertGreaterEqual(full, 0.99 * n,
                                "only %d of %d samples unwind from leaf_spin to main through "
                                "code with only .debug_frame\n%s" % (full, n, e2e.describe(stacks)))

    def test_cxx_names_as_cxxfilt_prints_them(self):
        stacks = self.record_example("cxx", 0)
        # `nm cxx | c++filt`, g++ 12 (Debian 12); the lambda is operator() of
        # the closure type, scoped in the function that defines it.
        for name in ("ns::Matrix<double>::multiply(ns::Matrix<double> const&) const",
                     "ns::run_lambda(int)::{lambda(double)#1}::operator()(double) const",
                     "ns::operator+(ns::Vec3 const&, ns::Vec3 const&)"):
            # Each has about a third of the CPU time (perf agrees).
            self.assertShare(stacks, name, 0.33, 0.15)

    def test_dlopened_library(self):
        out = self.path("dlopen.data")
        with e2e.Target("dlopen_hot", 0, settle=0.05) as t:
            with open("/proc/%d/maps" % t.pid) as f:
                self.assertNotIn("libhot.so", f.read(),
                                 "precondition: libhot.so must be loaded after remprof attached")
            e2e.record(["-p", t.pid, "-d", DURATION, "-o", out], DURATION)
            self.assertUntracedAndRunning(t)
        stacks = e2e.folded(out)
        # The program sleeps until it has loaded the library: nearly all of
        # its CPU time, and so of the samples, is in hot_in_lib.
        self.assertShareAtLeast(stacks, "hot_in_lib", 0.90)


if __name__ == "__main__":
    e2e.main()
