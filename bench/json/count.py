#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Instructions per byte of each JSON codec operation, under callgrind:
# runs ops.lua inside `moonwire test` once per payload and divides the
# inclusive cost of each Lua entry (l_decode, l_encode, ...) by the
# repetitions and the bytes. Counts, unlike times, repeat from run to run.
#
#   bench/json/count.py [--n N] [--moonwire PATH] [PAYLOAD...]
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PAYLOADS = os.path.join(ROOT, "..", "shared", "data", "payloads")
DEFAULT = ["bigpanda-incident-new.json",
           "bigpanda-incident-updated-many-alerts.json",
           "bigpanda-incident-unicode.json",
           "pagerduty-v3-incident-triggered.json"]
# entry, label, which size it is divided by (0 input, 1 compact output)
OPS = [("l_validate", "validate", 0), ("l_decode", "decode", 0),
       ("l_encode", "encode", 1), ("l_copy", "copy", 1),
       ("l_lookup", "lookup", 0)]


def inclusive(path):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", path],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(.*?\)\s+\S*?:(\w+)\b", line)
        if m:
            costs.setdefault(m.group(2), int(m.group(1).replace(",", "")))
    return costs


def run(moonwire, payload, n, pretty=False):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        env = dict(os.environ, JSON_BENCH_FILE=payload, JSON_BENCH_N=str(n),
                   JSON_BENCH_OPS="pretty" if pretty else
                   "validate,decode,encode,copy,lookup")
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
             moonwire, "test", os.path.join(HERE, "ops.lua")],
            env=env, capture_output=True, text=True, check=True)
        sizes = [int(x) for x in
                 re.search(r"BYTES (\d+) (\d+) (\d+)", proc.stdout).groups()]
        return sizes, inclusive(out)


def main():
    ap = argparse.ArgumentParser(description="JSON instructions per byte")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--moonwire", default=os.path.join(ROOT, "build", "moonwire"))
    ap.add_argument("payloads", nargs="*")
    a = ap.parse_args()
    names = a.payloads or [os.path.join(PAYLOADS, p) for p in DEFAULT]
    print("%-44s %6s %6s %6s %9s %6s %6s" % ("payload (bytes in/compact)",
          "valid", "decode", "encode", "enc.pty", "copy", "lookup"))
    for p in names:
        sizes, costs = run(a.moonwire, os.path.abspath(p), a.n)
        cells = [costs.get(fn, 0) / a.n / sizes[which] for fn, _, which in OPS]
        _, pcosts = run(a.moonwire, os.path.abspath(p), a.n, pretty=True)
        cells.insert(3, pcosts.get("l_encode", 0) / a.n / sizes[2])
        label = "%s (%d/%d)" % (os.path.basename(p)[:30], sizes[0], sizes[1])
        print("%-44s %6.2f %6.2f %6.2f %9.2f %6.2f %6.2f" % ((label,) + tuple(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
