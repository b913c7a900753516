# SPDX-License-Identifier: MIT
# Shared pieces of the end-to-end tests: the real target (shared/tools/
# target.py) and small stub servers on loopback, the real binary run once
# (`run`) or as a daemon (`serve`, with an API client), and a tiny case
# runner that prints TAP and "N passed, N failed".
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("MOONWIRE_SHARED", os.path.join(ROOT, "..", "shared"))
PAYLOADS = os.path.join(SHARED, "data", "payloads")
EXAMPLES = os.path.join(ROOT, "contrib", "examples")


class Target:
    """shared/tools/target.py on a free loopback port."""

    def __init__(self, **env):
        e = dict(os.environ)
        e.update({k: str(v) for k, v in env.items()})
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(SHARED, "tools", "target.py")],
            stdout=subprocess.PIPE, env=e, text=True)
        self.port = int(self.proc.stdout.readline())
        self.url = "http://127.0.0.1:%d" % self.port

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=body)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def requests(self):
        return self.call("GET", "/_requests")

    def reset(self):
        self.call("POST", "/_reset", b"")

    def fail(self, status, count, path):
        self.call("POST", "/_fail?status=%d&count=%d&path=%s"
                  % (status, count, path), b"")

    def close(self):
        self.proc.kill()
        self.proc.wait()


class Stub:
    """A loopback server whose every answer is decided by `handler`
    (a function of the request handler returning (status, headers, body)
    or None to drop the connection without answering). With
    with_headers=True the handler also gets the request headers (a dict
    with lower-case names). `seen` keeps (method, path, body); `requests`
    keeps dicts like target.py's /_requests, with arrival and answer
    times."""

    def __init__(self, handler, with_headers=False):
        outer = self
        self.seen = []
        self.requests = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.seen.append((self.command, self.path, body))
                headers = {k.lower(): v for k, v in self.headers.items()}
                rec = {"method": self.command, "path": self.path,
                       "headers": headers,
                       "body": body.decode("utf-8", "replace"),
                       "time": time.time()}
                outer.requests.append(rec)
                if with_headers:
                    res = handler(self.command, self.path, body, headers)
                else:
                    res = handler(self.command, self.path, body)
                rec["answered"] = time.time()
                if res is None:
                    self.close_connection = True
                    return
                status, headers, data = res
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request, client_address):
                pass    # a client that went away (a killed daemon)

        self.server = Server(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Moonwire:
    def __init__(self, binary):
        self.binary = os.path.abspath(binary)
        self.dir = tempfile.mkdtemp(prefix="mw-e2e-")

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, value):
        p = self.path(name)
        with open(p, "w", encoding="utf-8") as f:
            if isinstance(value, str):
                f.write(value)
            else:
                json.dump(value, f, ensure_ascii=False)
        return p

    def run(self, *args, timeout=60, env=None):
        """Runs moonwire; returns (exit code, parsed stdout lines, stderr)."""
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run([self.binary] + list(args), capture_output=True,
                           text=True, timeout=timeout, env=e, cwd=self.dir)
        for sign in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:"):
            if sign in p.stderr:
                raise AssertionError("sanitizer report from moonwire %s:\n%s"
                                     % (" ".join(args), p.stderr[-4000:]))
        lines = []
        for line in p.stdout.splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append(line)
        return p.returncode, lines, p.stderr


def load_payload(name):
    with open(os.path.join(PAYLOADS, name), encoding="utf-8") as f:
        return json.load(f)


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.n = 0

    def case(self, name):
        def wrap(fn):
            self.n += 1
            t0 = time.time()
            try:
                fn()
                self.passed += 1
                print("ok %d - %s (%.1fs)" % (self.n, name, time.time() - t0))
            except Exception:
                self.failed += 1
                print("not ok %d - %s" % (self.n, name))
                for line in traceback.format_exc().splitlines():
                    print("#   " + line)
            sys.stdout.flush()
            return fn
        return wrap

    def finish(self):
        print("1..%d" % self.n)
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def expect(cond, msg, *detail):
    if not cond:
        raise AssertionError(msg + "".join("\n  " + repr(d) for d in detail))


SANITIZER_SIGNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")


class Daemon:
    """`moonwire serve` on a kernel-chosen loopback port with a temporary
    data dir (kept across restart() so recovery can be tested) and the
    admin token in MOONWIRE_ADMIN_TOKEN. The log goes to a file that
    check_log() scans for sanitizer reports."""

    TOKEN = "e2e-admin-token-0123456789abcdef"

    def __init__(self, binary, env=None, data_dir=None):
        self.binary = os.path.abspath(binary)
        self.dir = data_dir or tempfile.mkdtemp(prefix="mw-daemon-")
        self.env = dict(env or {})
        self.proc = None
        self.port = None
        self.starts = 0
        self.start()

    def log_path(self):
        return os.path.join(self.dir, "daemon-%d.log" % self.starts)

    def start(self, timeout=20):
        e = dict(os.environ)
        e.update({"MOONWIRE_ADMIN_TOKEN": self.TOKEN,
                  "MOONWIRE_LOG_LEVEL": "info"})
        e.update({k: str(v) for k, v in self.env.items()})
        e.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        self.starts += 1
        self.log = open(self.log_path(), "w")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", "127.0.0.1:0",
             "--data-dir", os.path.join(self.dir, "data")],
            stdout=self.log, stderr=subprocess.STDOUT, env=e)
        deadline = time.time() + timeout
        self.port = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("moonwire serve exited with %s:\n%s"
                                     % (self.proc.returncode, self.read_log()))
            m = [l for l in self.read_log().splitlines()
                 if " listening on 127.0.0.1:" in l]
            if m:
                self.port = int(m[0].split("127.0.0.1:")[1].split()[0])
                break
            time.sleep(0.05)
        expect(self.port, "the daemon did not report its port", self.read_log())
        self.url = "http://127.0.0.1:%d" % self.port
        while time.time() < deadline:
            try:
                if self.api("GET", "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("no /healthz answer:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path(), errors="replace") as f:
            return f.read()

    def check_log(self):
        text = self.read_log()
        for sign in SANITIZER_SIGNS:
            expect(sign not in text, "sanitizer report in the daemon log",
                   text[-6000:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def api(self, method, path, body=None, token=None, headers=None,
            timeout=30, raw=False):
        """One request on a fresh connection. `body` is JSON-encoded unless
        it is bytes or str. `token` defaults to the admin token; pass ""
        to send none. Returns (status, parsed JSON or text, headers), or
        the body's bytes unparsed with raw=True."""
        import http.client
        h = {}
        tok = self.TOKEN if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        payload = None
        if body is not None:
            if isinstance(body, (bytes, str)):
                payload = body.encode() if isinstance(body, str) else body
            else:
                payload = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=payload, headers=h)
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if raw:
            return r.status, data, hdrs
        try:
            value = json.loads(data) if data else None
        except ValueError:
            value = data.decode("utf-8", "replace")
        return r.status, value, hdrs

    def stop(self, timeout=20):
        """SIGTERM, then SIGKILL if it does not exit in time; returns the
        exit code."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
        return self.proc.returncode

    def kill(self):
        """kill -9."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()

    def restart(self):
        self.stop()
        return self.start()
