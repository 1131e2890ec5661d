#!/usr/bin/env python3
"""read_format.py TEST_PROFILE — read a profile by docs/profile-format.md
alone (not by the C code) and compare it with what test_profile's
make_profile() put in, so that the document and the writer cannot drift
apart."""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

MAGIC = b"\x89RMPROF\n"
HIST_SUB_BITS = 4


class Cursor:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]

    def string(self):
        n = self.take("I")
        s = self.data[self.at:self.at + n]
        assert len(s) == n and b"\0" not in s
        self.at += n
        return s.decode()


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == MAGIC, "magic"
    version, nsec, size, body_crc, header_crc = struct.unpack_from("<IIQII", data, 8)
    assert version == 1
    assert size == len(data)
    assert header_crc == zlib.crc32(data[:28]), "header CRC"
    assert body_crc == zlib.crc32(data[32:]), "body CRC"
    sections, at = {}, 32
    for _ in range(nsec):
        tag, crc, length = struct.unpack_from("<4sIQ", data, at)
        body = data[at + 16:at + 16 + length]
        assert zlib.crc32(body) == crc, tag
        assert tag not in sections
        sections[tag.decode()] = Cursor(body)
        at += 16 + length
    assert at == len(data), "bytes after the last section"
    return sections


def bucket_of(v):
    """hist_bucket_of() of include/remprof/hist.h."""
    sub = 1 << HIST_SUB_BITS
    if v < sub:
        return v
    shift = v.bit_length() - 1 - HIST_SUB_BITS
    return ((shift + 1) << HIST_SUB_BITS) + ((v >> shift) & (sub - 1))


def main():
    with tempfile.TemporaryDirectory(prefix="rp-format-") as d:
        path = os.path.join(d, "p.rpf")
        subprocess.run([sys.argv[1], "--write", path], check=True)
        s = read(path)
    assert set(s) == {"META", "STRS", "MODS", "FRMS", "STKS", "THRD", "SMPL", "STAT", "INTR"}, s.keys()

    m = s["META"]
    meta = [m.string() for _ in range(4)]
    assert meta[:3] == ["./workload --spin 3", "6.12.0-test", "procmem"], meta
    assert m.take("III") == (997, 1, 65536)
    assert m.take("QQ") == (1790000000123456789, 2500000000)
    n = m.take("I")
    assert [m.take("i") for _ in range(n)] == [4242, 4343]

    t = s["STRS"]
    strs = [t.string() for _ in range(t.take("I"))]
    NONE = 0xFFFFFFFF

    t = s["MODS"]
    mods = [t.take("IIQQ") for _ in range(t.take("I"))]
    assert [(strs[p], strs[b], lo, hi) for p, b, lo, hi in mods] == [
        ("/usr/bin/workload", "0123456789abcdef0123456789abcdef01234567",
         0x555500000000, 0x555500010000),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", "", 0x7f0000000000, 0x7f0000200000)]

    t = s["FRMS"]
    frames = []
    for _ in range(t.take("I")):
        fn, mod, file, line, flags = t.take("IIIII")
        frames.append((strs[fn], strs[mod], None if file == NONE else strs[file], line,
                       flags & 1))
    assert frames == [("main", "workload", "workload.c", 10, 0),
                      ("work(int)", "workload", "workload.c", 20, 0),
                      ("helper", "workload", "helper.h", 3, 1),
                      ("__libc_start_main", "libc.so.6", None, 0, 0)], frames

    t = s["STKS"]
    stacks = []
    for _ in range(t.take("I")):
        k = t.take("I")
        stacks.append([frames[t.take("I")][0] for _ in range(k)])
    assert stacks == [["__libc_start_main", "main", "work(int)"],
                      ["__libc_start_main", "main", "work(int)", "helper"]], stacks

    t = s["THRD"]
    threads = []
    for _ in range(t.take("I")):
        pid, tid, name = t.take("iiI")
        threads.append((pid, tid, strs[name]))
    assert threads == [(4242, 4242, "workload"), (4242, 4250, "worker-1")], threads

    t = s["SMPL"]
    samples = [t.take("IIQQ") for _ in range(t.take("I"))]
    assert samples == [(0, 0, 2, 2000000), (1, 0, 1, 2000000), (1, 1, 1, 500000)], samples

    t = s["STAT"]
    assert t.take("QQQQ") == (4, 1, 2, 4500000)
    lost = [t.take("Q") for _ in range(t.take("I"))]
    assert lost == [2, 1, 0, 7, 0, 0], lost
    values = []
    v = 1
    while v < 200000:
        values.append(v)
        v = v * 3 + 1
    want = {0: [x * 10 for x in values], 1: [15000], 2: values}
    for _ in range(t.take("I")):
        hid, count, total, lo, hi = t.take("IQQQQ")
        buckets = dict(t.take("IQ") for _ in range(t.take("I")))
        vals = want.pop(hid)
        assert (count, total, lo, hi) == (len(vals), sum(vals), min(vals), max(vals)), hid
        expect = {}
        for x in vals:
            expect[bucket_of(x)] = expect.get(bucket_of(x), 0) + 1
        assert buckets == expect, (hid, buckets, expect)
    assert not want, "histograms missing: %s" % want

    t = s["INTR"]
    max_stop, bounded, available = t.take("QII")
    note = t.string()
    counts = t.take("QQQQQQ")
    hists = [read_hist(t) for _ in range(2)]
    assert hists == [(16, 3), (17, 1)], hists
    ncosts = t.take("I")
    costs = []
    for _ in range(ncosts):
        thread, samples = t.take("IQ")
        lost = [t.take("Q") for _ in range(t.take("I"))]
        ids = [read_hist(t) for _ in range(3)]
        costs.append((thread, samples, lost, ids))
    assert t.at == len(t.data), "INTR has trailing bytes"
    intr = (max_stop, bounded, available, note, counts, costs)
    want_intr = (2000000, 1, 1, "", (10, 3, 8, 2, 40, 0),
                 [(0, 2, [0, 0, 0, 0, 1, 0], [(0, 2), (1, 2), (2, 2)]),
                  (0xffffffff, 1, [0] * 6, [(0, 1), (1, 1), (2, 1)])])
    assert intr == want_intr, intr
    return 0


def read_hist(t):
    """Skips one histogram of INTR; returns (id, count)."""
    hid, count, total, lo, hi = t.take("IQQQQ")
    for _ in range(t.take("I")):
        t.take("IQ")
    return (hid, count)


if __name__ == "__main__":
    sys.exit(main())
