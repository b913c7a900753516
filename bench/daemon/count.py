#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Instructions per share: the daemon under callgrind takes in and runs a
# fixed number of shares, and the user-space instructions it spent are
# divided among them. Unlike CPU time, the count is the same from run to
# run whatever else the machine does, so it tells whether a change made
# the share path cheaper. It leaves out the kernel (see `strace -c`) and
# memory stalls; the timing benchmark (run.sh) has the real figures.
#
#   bench/daemon/count.py [--shares N] [--connections C] [--json FILE]
#
# Needs valgrind, nginx and wrk (run.sh installs the last two). Honours
# MOONWIRE_LUA_DIR, so a modified Lua tree can be compared against the
# same binary. A run of 2,000 shares takes about half a minute.
import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the timing benchmark's setup and metrics)

# Inclusive costs reported per share: what a change usually moves.
PARTS = [
    ("intake", "core/daemon.c:on_request"),
    ("json_encode", "core/json.c:l_encode"),
    ("json_decode", "core/json.c:l_decode"),
    ("sqlite_step", "sqlite3_step"),
    ("curl", "curl_multi_socket_action"),
    ("sha256", "core/host.c:l_sha256_hex"),
]


def parse_args():
    ap = argparse.ArgumentParser(description="instructions per share")
    ap.add_argument("--moonwire", default=os.path.join(ROOT, "build", "moonwire"))
    ap.add_argument("--shares", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--payload", default=os.path.join(
        ROOT, "..", "shared", "data", "payloads", "bigpanda-incident-new.json"))
    ap.add_argument("--workflow", default=os.path.join(
        ROOT, "contrib", "examples", "create-update.json"))
    ap.add_argument("--work", help="scratch dir (default: a fresh one in /tmp)")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    a.lag, a.load_cpu, a.daemon_cpu = 64, "1", "0"
    a.payload = os.path.abspath(a.payload)
    return a


def inclusive(path):
    """{function: inclusive Ir} from callgrind_annotate."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", path],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(\S+)", line)
        if m:
            name = m.group(2)
            costs.setdefault(name, int(m.group(1).replace(",", "")))
    return costs


def cost_of(costs, needle):
    return max((v for k, v in costs.items()
                if k.endswith(needle) or k.startswith("???:" + needle)
                or needle in k.split("[")[0]), default=0)


def run(a, procs):
    bench.CALL_TIMEOUT = 120  # valgrind slows every answer
    token = "count-" + os.urandom(8).hex()
    target_port = bench.start_target(procs, a)
    port = bench.free_port()
    env = dict(os.environ, MOONWIRE_ADMIN_TOKEN=token,
               MOONWIRE_LOG_LEVEL=os.environ.get("MOONWIRE_LOG_LEVEL", "warn"))
    out = os.path.join(a.work, "callgrind.out")
    daemon = procs.start("moonwire", [
        "taskset", "-c", a.daemon_cpu, "valgrind", "--tool=callgrind",
        "--instr-atstart=no", "--smc-check=all-non-file",
        "--callgrind-out-file=" + out, a.moonwire, "serve",
        "--listen", "127.0.0.1:%d" % port,
        "--data-dir", os.path.join(a.work, "data")], env=env)
    bench.wait_port(port, daemon, "moonwire serve under valgrind", timeout=120)
    base = "http://127.0.0.1:%d" % port
    key = bench.setup_integration(base, token, target_port, a.workflow)

    subprocess.run(["callgrind_control", "--instr=on", str(daemon.pid)],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    wrk = bench.start_wrk(a, procs, base, key, "count", a.connections, 3600,
                          a.shares)
    m = bench.metrics(base)
    while m[bench.ACCEPTED] < a.shares:
        if wrk.poll() is not None:
            raise RuntimeError("wrk ended early; see its log in " + a.work)
        time.sleep(0.2)
        m = bench.metrics(base)
    wrk.send_signal(signal.SIGINT)
    wrk.wait()
    while bench.executed(m) < a.shares:
        time.sleep(0.2)
        m = bench.metrics(base)
    wall = time.monotonic() - t0
    subprocess.run(["callgrind_control", "--dump", str(daemon.pid)],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    dumps = []
    deadline = time.monotonic() + 60
    while not dumps and time.monotonic() < deadline:
        time.sleep(0.5)
        dumps = [f for f in glob.glob(out + ".*") if os.path.getsize(f) > 0]
    if not dumps:
        raise RuntimeError("callgrind wrote no dump")
    time.sleep(1)
    costs = inclusive(max(dumps, key=os.path.getmtime))
    total = costs.get("PROGRAM", 0) or max(costs.values())
    n = a.shares
    report = {
        "shares": n, "connections": a.connections,
        "failed": int(bench.failed(m)),
        "instructions_per_share": round(total / n),
        "parts_per_share": {name: round(cost_of(costs, needle) / n)
                            for name, needle in PARTS},
        "wall_s": round(wall, 1),
        "lua_dir": os.environ.get("MOONWIRE_LUA_DIR", "(built in)"),
        "dump": max(dumps, key=os.path.getmtime),
    }
    return report


def main():
    a = parse_args()
    a.work = a.work or subprocess.run(["mktemp", "-d", "/tmp/mw-count.XXXXXX"],
                                      capture_output=True, text=True,
                                      check=True).stdout.strip()
    os.makedirs(a.work, exist_ok=True)
    procs = bench.Procs(a.work)
    try:
        report = run(a, procs)
    finally:
        procs.stop_all()
    print(json.dumps(report, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0 if not report["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
