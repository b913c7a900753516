#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The daemon benchmark's driver: target, daemon and load, each on its core;
# the figures of issue 3 and how they compare. Installing and building are
# run.sh's. A benchmark, not a test: it fails only on setup errors or
# accepted shares left unexecuted.
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")
ACCEPTED = "moonwire_shares_accepted_total"
COMMITS = "moonwire_db_commits_total"
CKPT_THREAD = 'moonwire_wal_checkpoints_total{by="thread"}'
CKPT_LOOP = 'moonwire_wal_checkpoints_total{by="loop"}'
CKPT_THREAD_NAME = "mw-checkpoint"

# Issue 3, "Done when": figure, comparison, bound, unit.
TARGETS = [
    ("executed_per_s_c64", ">=", 5000, "shares/s"),
    ("cpu_ms_per_share_c64", "<=", 0.2, "ms"),
    ("burst_accepted_per_s", ">=", 10000, "shares/s"),
    ("p99_ms_c64", "<", 20, "ms"),
    ("rss_idle_mb", "<", 20, "MB"),
    ("rss_peak_mb", "<", 40, "MB"),
]


def parse_args():
    ap = argparse.ArgumentParser(description="Moonwire daemon benchmark")
    ap.add_argument("--moonwire", default=os.path.join(ROOT, "build", "moonwire"))
    ap.add_argument("--work", required=True, help="scratch dir: pids, logs, data")
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument("--connections", default="1,64")
    ap.add_argument("--burst", type=int, default=50000, help="0 skips the burst")
    ap.add_argument("--lag", type=int, default=64,
                    help="an update names the incident created this many before")
    ap.add_argument("--payload", default=os.path.join(
        ROOT, "..", "shared", "data", "payloads", "bigpanda-incident-new.json"))
    ap.add_argument("--workflow", default=os.path.join(
        ROOT, "contrib", "examples", "create-update.json"))
    ap.add_argument("--daemon-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    ap.add_argument("--drain-timeout", type=float, default=120.0,
                    help="seconds to wait for the executions after the load")
    ap.add_argument("--json", help="also write the JSON report to this file")
    return ap.parse_args()


# ---- processes -------------------------------------------------------------


class Procs:
    """Every process started here, each in its own session, its pid
    written to WORK/pids so that run.sh can end it if this driver dies."""

    def __init__(self, work):
        self.work = work
        self.list = []

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.work, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True,
                             env=env)
        log.close()
        self.list.append((name, p))
        with open(os.path.join(self.work, "pids"), "a") as f:
            f.write("%d %s\n" % (p.pid, name))
        return p

    def stop_all(self):
        for _, p in reversed(self.list):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, p in reversed(self.list):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print("%s (pid %d) ignored SIGTERM; killing it" % (name, p.pid),
                      file=sys.stderr)
                p.kill()
                p.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited (%s) at start; see its log"
                               % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on port %d within %d s"
                       % (what, port, timeout))


# ---- HTTP and metrics ------------------------------------------------------


# Seconds an API call may take; count.py raises it for a daemon under
# valgrind on a loaded machine.
CALL_TIMEOUT = 10


def call(base, method, path, body=None, token=None):
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=body, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=CALL_TIMEOUT) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def must(answer, want, what):
    status, body = answer
    if status not in want:
        raise RuntimeError("%s: HTTP %d %s"
                           % (what, status, body[:300].decode(errors="replace")))
    return json.loads(body) if body else None


def metrics(base):
    """The daemon's /metrics as {name or name{labels}: value}."""
    _, text = call(base, "GET", "/metrics")
    out = {}
    for line in text.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def executed(m):
    return sum(v for k, v in m.items() if k.startswith("moonwire_executions_total"))


def failed(m):
    return m.get('moonwire_executions_total{status="failed"}', 0)


def outbound(m, status):
    return m.get('moonwire_outbound_requests_total{status="%s"}' % status, 0)


# ---- /proc -----------------------------------------------------------------


def cpu_seconds(pid):
    """utime + stime of a process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu_seconds(pid, name):
    """utime + stime of a process's threads called name (0 if none)."""
    total = 0.0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                head, _, rest = f.read().rpartition(")")
        except OSError:
            continue
        if head.partition("(")[2] == name:
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def cpu_times(cpu):
    """Seconds one CPU spent busy in this guest (user, nice, system, irq,
    softirq) and stolen by the hypervisor, since boot."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu%s " % cpu):
                v = [int(x) for x in line.split()[1:9]]
                return (v[0] + v[1] + v[2] + v[5] + v[6]) / CLK_TCK, v[7] / CLK_TCK
    return 0.0, 0.0


def mem_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


# ---- setup -----------------------------------------------------------------


def start_target(procs, a):
    port = free_port()
    os.makedirs(os.path.join(a.work, "nginx-tmp"), exist_ok=True)
    with open(os.path.join(HERE, "nginx.conf.in")) as f:
        conf = f.read().replace("@PORT@", str(port)).replace("@WORK@", a.work)
    path = os.path.join(a.work, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    nginx = procs.start("nginx", [
        "taskset", "-c", a.load_cpu, "nginx", "-c", path, "-p", a.work,
        "-e", os.path.join(a.work, "nginx-error.log")])
    wait_port(port, nginx, "nginx")
    return port


def start_daemon(procs, a, token):
    port = free_port()
    env = dict(os.environ, MOONWIRE_ADMIN_TOKEN=token,
               MOONWIRE_LOG_LEVEL=os.environ.get("MOONWIRE_LOG_LEVEL", "warn"))
    d = procs.start("moonwire", [
        "taskset", "-c", a.daemon_cpu, a.moonwire, "serve",
        "--listen", "127.0.0.1:%d" % port,
        "--data-dir", os.path.join(a.work, "data")], env=env)
    wait_port(port, d, "moonwire serve")
    return d, "http://127.0.0.1:%d" % port


def setup_integration(base, token, target_port, workflow):
    """Creates, imports, points at the target, activates; returns the key."""
    integ = must(call(base, "POST", "/api/v1/integrations", {"name": "bench"},
                      token), (201,), "create the integration")
    path = "/api/v1/integrations/" + integ["id"]
    with open(workflow, "rb") as f:
        must(call(base, "PUT", path + "/workflow", f.read(), token),
             (200, 201), "import the workflow")
    settings = {"base_url": "http://127.0.0.1:%d" % target_port}
    must(call(base, "PATCH", path, {"status": "active", "settings": settings},
              token), (200,), "activate the integration")
    return integ["app_key"]


# ---- one run ---------------------------------------------------------------


def start_wrk(a, procs, url, key, tag, conns, duration, limit):
    argv = ["taskset", "-c", a.load_cpu, "wrk", "-t1", "-c%d" % conns,
            "-d%ds" % duration, "--timeout", "10s", "--latency",
            "-s", os.path.join(HERE, "shares.lua"), url, "--",
            "payload=" + a.payload, "key=" + key, "tag=" + tag,
            "lag=%d" % a.lag, "threads=1"]
    env = dict(os.environ)
    if limit:
        argv.append("limit=%d" % limit)
        env["MW_BENCH_LIMIT"] = "1"
    return procs.start("wrk-" + tag, argv, env=env)


def wrk_result(a, tag, proc):
    with open(os.path.join(a.work, "wrk-%s.log" % tag)) as f:
        out = f.read()
    line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or not line:
        raise RuntimeError("wrk failed (%s): %s" % (proc.returncode, out[-2000:]))
    return json.loads(line[len("WRKJSON "):])


def drive(a, procs, daemon, base, key, name, conns, duration, limit):
    """Runs wrk to its end, sampling RSS. wrk sleeps out -d even once its
    thread stops, so a burst ends with SIGINT once the daemon has counted
    every share. Returns wrk's figures, the peak RSS and when the burst
    was all in (or None)."""
    tag = "%s-%d" % (name, int(time.time()))
    acc0 = metrics(base)[ACCEPTED]
    wrk = start_wrk(a, procs, base, key, tag, conns, duration, limit)
    peak, all_in = 0, None
    while wrk.poll() is None:
        peak = max(peak, mem_kb(daemon.pid)["VmRSS"])
        time.sleep(0.025)
        if limit and all_in is None and metrics(base)[ACCEPTED] - acc0 >= limit:
            all_in = time.monotonic()
            wrk.send_signal(signal.SIGINT)
    return wrk_result(a, tag, wrk), peak, all_in


def drain(a, daemon, base, m0, peak):
    """Waits until every share accepted since m0 has an execution."""
    m = metrics(base)
    accepted = m[ACCEPTED] - m0[ACCEPTED]
    deadline = time.monotonic() + a.drain_timeout
    while executed(m) - executed(m0) < accepted and time.monotonic() < deadline:
        peak = max(peak, mem_kb(daemon.pid)["VmRSS"])
        time.sleep(0.02)
        m = metrics(base)
    return m, accepted, peak


def phase(a, procs, daemon, base, key, name, conns, duration, limit=None):
    """One load run and the drain after it; returns its figures."""
    (busy0, steal0), m0 = cpu_times(a.daemon_cpu), metrics(base)
    cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
    ckpt0 = thread_cpu_seconds(daemon.pid, CKPT_THREAD_NAME)

    w, peak, all_in = drive(a, procs, daemon, base, key, name, conns,
                            duration, limit)
    t1 = time.monotonic()
    m, accepted, peak = drain(a, daemon, base, m0, peak)
    t2, cpu = time.monotonic(), cpu_seconds(daemon.pid) - cpu0
    ckpt = thread_cpu_seconds(daemon.pid, CKPT_THREAD_NAME) - ckpt0

    # Whatever else ran on the daemon's core skews every figure: say so.
    busy1, steal1 = cpu_times(a.daemon_cpu)
    others = max(0.0, busy1 - busy0 - cpu)
    done = executed(m) - executed(m0)
    ingress_s = (all_in - t0) if all_in else w["duration_us"] / 1e6
    return {
        "name": name, "connections": conns,
        "wrk_requests": w["requests"], "wrk_errors": w["errors"],
        "accepted": int(accepted), "executed": int(done),
        "failed": int(failed(m) - failed(m0)),
        "creates": int(outbound(m, "201") - outbound(m0, "201")),
        "updates": int(outbound(m, "200") - outbound(m0, "200")),
        "commits_per_share": round((m.get(COMMITS, 0) - m0.get(COMMITS, 0))
                                   / done, 3) if done else None,
        "wal_checkpoints_thread": int(m.get(CKPT_THREAD, 0)
                                      - m0.get(CKPT_THREAD, 0)),
        "wal_checkpoints_loop": int(m.get(CKPT_LOOP, 0) - m0.get(CKPT_LOOP, 0)),
        "ingress_s": round(ingress_s, 3),
        "accepted_per_s": round(accepted / ingress_s, 1),
        "end_to_end_s": round(t2 - t0, 3),
        "drain_after_ingress_s": round(t2 - t1, 3),
        "executed_per_s": round(done / (t2 - t0), 1),
        "cpu_s": round(cpu, 2),
        # of which the WAL checkpoint thread's (core/checkpoint.c)
        "cpu_s_checkpoint_thread": round(ckpt, 2),
        "cpu_ms_per_share": round(cpu * 1000 / done, 4) if done else None,
        # What one whole core would sustain at this CPU cost per share.
        "cpu_bound_per_s": round(done / cpu) if done and cpu > 0 else None,
        "daemon_core_busy_pct": round(100 * cpu / (t2 - t0), 1),
        "others_on_daemon_core_pct": round(100 * others / (t2 - t0), 1),
        "steal_on_daemon_core_pct": round(100 * (steal1 - steal0) / (t2 - t0), 1),
        "latency_ms": {k: round(v / 1000, 3) for k, v in w["latency_us"].items()},
        "rss_peak_sampled_mb": round(peak / 1024, 1),
        "rss_hwm_mb": round(mem_kb(daemon.pid)["VmHWM"] / 1024, 1),
        "all_executed": done >= accepted,
    }


# ---- report ----------------------------------------------------------------


def summarize(runs, idle_kb, mem):
    s = {"rss_idle_mb": round(idle_kb / 1024, 1),
         "rss_peak_mb": round(mem["VmHWM"] / 1024, 1),
         "rss_idle_after_load_mb": round(mem["VmRSS"] / 1024, 1)}
    for r in runs:
        if r["name"] == "burst":
            s["burst_accepted_per_s"] = r["accepted_per_s"]
            s["burst_all_executed_s"] = r["end_to_end_s"]
            s["burst_executed_per_s"] = r["executed_per_s"]
            continue
        n = r["connections"]
        for k in ("executed_per_s", "accepted_per_s", "cpu_ms_per_share",
                  "cpu_bound_per_s", "others_on_daemon_core_pct"):
            s["%s_c%d" % (k, n)] = r[k]
        s["p50_ms_c%d" % n] = r["latency_ms"]["p50"]
        s["p99_ms_c%d" % n] = r["latency_ms"]["p99"]
    return s


def verdicts(summary):
    ops = {">=": lambda v, b: v >= b, "<=": lambda v, b: v <= b,
           "<": lambda v, b: v < b}
    out = []
    for key, op, bound, unit in TARGETS:
        v = summary.get(key)
        out.append({"figure": key, "value": v,
                    "target": "%s %s %s" % (op, bound, unit),
                    "met": None if v is None else ops[op](v, bound)})
    return out


def print_table(runs, summary, checks):
    cols = ["run", "conns", "accepted", "acc/s", "exec/s", "e2e s", "drain s",
            "CPU ms/sh", "busy %", "p50 ms", "p99 ms", "RSS pk MB", "failed",
            "other %"]
    rows = [[r["name"], r["connections"], r["accepted"], r["accepted_per_s"],
             r["executed_per_s"], r["end_to_end_s"], r["drain_after_ingress_s"],
             r["cpu_ms_per_share"], r["daemon_core_busy_pct"],
             r["latency_ms"]["p50"], r["latency_ms"]["p99"],
             r["rss_peak_sampled_mb"], r["failed"],
             r["others_on_daemon_core_pct"]] for r in runs]
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *rows)]
    for row in [cols] + rows:
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths)))
    print("\nbusy %: the daemon's share of its core; other %: CPU that other "
          "processes took on that core\n(a busy machine skews every figure)")
    print("RSS idle %.1f MB, peak (VmHWM) %.1f MB\n"
          % (summary["rss_idle_mb"], summary["rss_peak_mb"]))
    for c in checks:
        mark = {True: "met", False: "MISSED", None: "n/a"}[c["met"]]
        print("  %-24s %12s   target %-18s %s"
              % (c["figure"], c["value"], c["target"], mark))


def describe_machine(a, load0):
    def git(*args):
        try:
            return subprocess.run(("git",) + args, capture_output=True,
                                  text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return ""
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": os.uname().release,
            "moonwire": os.path.abspath(a.moonwire),
            "repo_commit": git("rev-parse", "--short", "HEAD"),
            "repo_dirty": bool(git("status", "--porcelain",
                                   "--untracked-files=no")),
            "lua_dir": os.environ.get("MOONWIRE_LUA_DIR", "(built in)"),
            "loadavg_at_start": load0,
            "when": time.strftime("%Y-%m-%dT%H:%M:%S")}


# ---- main ------------------------------------------------------------------


def run_all(a, procs, load0):
    token = "bench-" + os.urandom(8).hex()
    target_port = start_target(procs, a)
    daemon, base = start_daemon(procs, a, token)
    key = setup_integration(base, token, target_port, a.workflow)
    time.sleep(2)
    idle_kb = mem_kb(daemon.pid)["VmRSS"]

    runs = []
    for n in [int(x) for x in a.connections.split(",") if x]:
        r = phase(a, procs, daemon, base, key, "c%d" % n, n, a.duration)
        print("%s: %d accepted, %.0f executed/s" % (r["name"], r["accepted"],
                                                    r["executed_per_s"]),
              file=sys.stderr, flush=True)
        runs.append(r)
    if a.burst:
        cap = max(60, a.burst // 500)
        runs.append(phase(a, procs, daemon, base, key, "burst", 64, cap,
                          limit=a.burst))

    time.sleep(2)
    summary = summarize(runs, idle_kb, mem_kb(daemon.pid))
    return {"machine": describe_machine(a, load0), "duration_s": a.duration,
            "payload": os.path.basename(a.payload), "runs": runs,
            "summary": summary, "targets": verdicts(summary)}


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def main():
    a = parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    procs = Procs(a.work)
    with open("/proc/loadavg") as f:
        load0 = f.read().split()[0]
    try:
        report = run_all(a, procs, load0)
    finally:
        procs.stop_all()
    print_table(report["runs"], report["summary"], report["targets"])
    print("\n" + json.dumps(report, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
    ok = all(r["all_executed"] and not r["failed"] for r in report["runs"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
