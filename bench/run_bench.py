#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Benchmark of `moonwire run`: N shares (half creates, half updates of the
# same incidents) through contrib/examples/create-update.json against the
# local target (shared/tools/target.py). Reports executions per second,
# CPU time per execution and the peak RSS of the moonwire process.
# A benchmark, not a test: it asserts only that every execution succeeded.
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from harness import EXAMPLES, Target, load_payload  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--moonwire", default="build/moonwire")
ap.add_argument("--shares", type=int, default=1000)
ap.add_argument("--workflow", default=os.path.join(EXAMPLES, "create-update.json"))
opts = ap.parse_args()

target = Target()
work = tempfile.mkdtemp(prefix="mw-bench-")
inc = load_payload("bigpanda-incident-new.json")
half = opts.shares // 2
shares = [{"incident": dict(inc, id="bench-%d" % i)} for i in range(half)]
shares += [{"incident": dict(inc, id="bench-%d" % i, status="ok")}
           for i in range(opts.shares - half)]
share_file = os.path.join(work, "shares.ndjson")
with open(share_file, "w") as f:
    for s in shares:
        f.write(json.dumps(s) + "\n")

before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.time()
p = subprocess.run([opts.moonwire, "run", opts.workflow, share_file,
                    "--db", os.path.join(work, "mw.db"),
                    "--set", "base_url=" + target.url],
                   capture_output=True, text=True)
wall = time.time() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
target.close()

lines = [json.loads(l) for l in p.stdout.splitlines()]
ok = sum(1 for l in lines if l.get("status") == "succeeded")
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(json.dumps({
    "shares": opts.shares, "succeeded": ok, "exit": p.returncode,
    "wall_s": round(wall, 3),
    "executions_per_s": round(ok / wall, 1),
    "cpu_ms_per_execution": round(cpu * 1000 / max(ok, 1), 3),
    "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
}, indent=2))
if ok != opts.shares:
    sys.stderr.write(p.stderr[-2000:])
    sys.exit(1)
