#!/usr/bin/env python3
"""test_bench.py — remprof bench --quick end to end, and compare on its result.

The result must validate against docs/bench-schema.json (checked here by a
small validator of the schema keywords that file uses: no jsonschema package
is needed), hold every reader with and without the write holder, and the
figures must make sense (samples were taken under every reader but "none").
compare then puts it beside a second result and a recorded profile; its SVG
must be well-formed XML and render to PNG with rsvg-convert."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

REMPROF = os.environ["REMPROF"]
SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                      "bench-schema.json")


def validate(value, schema, root, path="$"):
    """Raises AssertionError at the first place value breaks schema."""
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return validate(value, root["$defs"][name], root, path)
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool,
             "integer": int, "number": (int, float)}
    t = schema.get("type")
    if t:
        ok = isinstance(value, kinds[t]) and not (t in ("integer", "number") and isinstance(value, bool))
        assert ok, "%s: %r is not of type %s" % (path, value, t)
    if "const" in schema:
        assert value == schema["const"], "%s: %r != %r" % (path, value, schema["const"])
    if "enum" in schema:
        assert value in schema["enum"], "%s: %r not in %r" % (path, value, schema["enum"])
    if "minimum" in schema:
        assert value >= schema["minimum"], "%s: %r < %r" % (path, value, schema["minimum"])
    if isinstance(value, dict):
        for k in schema.get("required", []):
            assert k in value, "%s: missing %s" % (path, k)
        for k, v in value.items():
            sub = schema.get("properties", {}).get(k, schema.get("additionalProperties"))
            if isinstance(sub, dict):
                validate(v, sub, root, "%s.%s" % (path, k))
    if isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0), "%s: too few items" % path
        assert len(value) <= schema.get("maxItems", len(value)), "%s: too many items" % path
        for i, v in enumerate(value):
            if "items" in schema:
                validate(v, schema["items"], root, "%s[%d]" % (path, i))


def remprof(*args, timeout=120):
    return subprocess.run([REMPROF] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout)


class Bench(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="remprof-bench-test-")
        cls.result = os.path.join(cls.dir, "a.json")
        cls.run_ = remprof("bench", "--quick", "--label", "kernel-a", "-o", cls.result)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_quick_result_validates(self):
        self.assertEqual(self.run_.returncode, 0, self.run_.stderr)
        with open(self.result) as f:
            doc = json.load(f)
        with open(SCHEMA) as f:
            schema = json.load(f)
        validate(doc, schema, schema)
        self.assertEqual(doc["label"], "kernel-a")
        runs = {(r["reader"], r["writer"]): r for r in doc["runs"]}
        for reader in ("none", "vmreadv", "procmem", "peek"):
            for writer in (False, True):
                self.assertIn((reader, writer), runs)
                r = runs[(reader, writer)]
                self.assertGreater(r["on"]["gap_ns"]["count"] + r["on"]["wakeup_ns"]["count"], 0)
                self.assertGreater(r["off"]["mmap_op_ns"]["count"], 0)
                sampler = r["sampler"]
                if reader == "none":
                    self.assertEqual(sampler["samples"], 0)
                    continue
                # Every stop is a sample or a loss; "read blocked" counts the
                # stops given up on and the ones not made while a late copy
                # still waited.
                stops = sampler["stop_ns"]["count"]
                taken = sampler["samples"] + sampler["lost"]["read failed"]
                self.assertGreaterEqual(stops, taken, r)
                self.assertLessEqual(stops, taken + sampler["lost"]["read blocked"], r)
                # Behind the writer a stop may be given up at its window's end
                # (read blocked), but stops were made; without it samples.
                self.assertGreater(stops if writer else sampler["samples"], 0, r)
                # No stop outlasts its window (peek's by one lock wait at
                # most), so none spills into the unprofiled window after it.
                self.assertLess(sampler["stop_ns"]["max"], 2 * doc["window_ms"] * 1e6, r)
        # The table on stdout names every reader.
        for reader in ("none", "vmreadv", "procmem", "peek"):
            self.assertIn("== reader %s" % reader, self.run_.stdout)

    def test_compare_table_and_plot(self):
        self.assertEqual(self.run_.returncode, 0, self.run_.stderr)
        # A second result: the same document under another label, as a
        # second kernel's would be.
        with open(self.result) as f:
            doc = json.load(f)
        # (a label longer than the narrowest column: it must not be cut)
        doc["label"] = "kernel-b-6.12.117-patched"
        other = os.path.join(self.dir, "b.json")
        with open(other, "w") as f:
            json.dump(doc, f)
        # And a recorded profile, for its sampling statistics.
        profile = os.path.join(self.dir, "split.data")
        examples = os.environ["EXAMPLES"]
        rec = remprof("record", "-d", "1", "-o", profile, "--", os.path.join(examples, "split"), "2")
        self.assertEqual(rec.returncode, 0, rec.stderr)

        svg = os.path.join(self.dir, "plot.svg")
        r = remprof("compare", self.result, other, profile, "-o", svg)
        self.assertEqual(r.returncode, 0, r.stderr)
        for label in ("kernel-a", "kernel-b-6.12.117-patched", "split.data", "ratios to kernel-a", "stop p99 (us)",
                      "mmap_lock acquisitions per read"):
            self.assertIn(label, r.stdout)
        # Identical inputs: every ratio of b to a is 1.
        for line in r.stdout.splitlines():
            if line.startswith("stop p50 (us)"):
                self.assertIn(" 1.00x", line)
        tree = ET.parse(svg)
        self.assertTrue(tree.getroot().tag.endswith("svg"))
        with open(svg) as f:
            text = f.read()
        self.assertIn("percentile", text)
        self.assertIn("kernel-b", text)
        self.assertGreater(text.count("<polyline"), 8)
        png = os.path.join(self.dir, "plot.png")
        subprocess.run(["rsvg-convert", "-o", png, svg], check=True, timeout=60)
        with open(png, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_compare_errors(self):
        bad = os.path.join(self.dir, "bad.json")
        with open(bad, "w") as f:
            f.write('{"schema": "something-else", "version": 1}')
        r = remprof("compare", bad)
        self.assertEqual(r.returncode, 7)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("not a remprof bench result", r.stderr)
        r = remprof("compare")
        self.assertEqual(r.returncode, 2)
        r = remprof("compare", os.path.join(self.dir, "missing.json"))
        self.assertEqual(r.returncode, 7)
        r = remprof("bench", "--windows", "0")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]] + sys.argv[1:])
