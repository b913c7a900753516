#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# End-to-end tests of `moonwire run` and `moonwire validate`: the real
# binary against a real target process on loopback. Every payload in
# shared/data/payloads creates one ticket, then updates it; OAuth tokens
# are reused until they expire; bad input fails cleanly.
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (EXAMPLES, PAYLOADS, Moonwire, Runner, Stub, Target,  # noqa
                     expect, free_port, load_payload)

ap = argparse.ArgumentParser()
ap.add_argument("--moonwire", required=True)
opts = ap.parse_args()

R = Runner()
CREATE_UPDATE = os.path.join(EXAMPLES, "create-update.json")
OAUTH = os.path.join(EXAMPLES, "oauth-create-update.json")


def example_with(mw, name, change):
    """A copy of create-update.json with `change(doc)` applied."""
    with open(CREATE_UPDATE) as f:
        doc = json.load(f)
    change(doc)
    return mw.write(name, doc)


def node(doc, node_id):
    return next(n for n in doc["nodes"] if n["id"] == node_id)


target = Target()


def each_payload_creates_then_updates(name):
    payload = load_payload(name)
    mw = Moonwire(opts.moonwire)
    share = mw.write("share.json", payload)
    target.reset()
    args = ["run", CREATE_UPDATE, share, "--db", mw.path("mw.db"),
            "--set", "integration.base_url=" + target.url]
    rc, lines, err = mw.run(*args)
    expect(rc == 0, "first share failed", lines, err)
    reqs = target.requests()
    expect([(r["method"], r["path"]) for r in reqs] == [("POST", "/tickets")],
           "expected exactly one POST /tickets", reqs)
    body = json.loads(reqs[0]["body"])
    expect(body["incident"] == payload, "the ticket must carry the incident "
           "unchanged (unicode, nulls, empty arrays)", body["incident"])
    if "status" in payload:
        expect(body["status"] == payload["status"], "status", body)
    if isinstance(payload.get("id"), str):
        expect(body["incident_id"] == payload["id"], "incident id", body)
    expect(lines[0]["status"] == "succeeded", "summary line", lines)
    expect([n["id"] for n in lines[0]["nodes"]] ==
           ["route", "build_create", "create", "save"], "path", lines)

    rc, lines, err = mw.run(*args)
    expect(rc == 0, "second share failed", lines, err)
    reqs = target.requests()
    expect(len(reqs) == 2 and reqs[1]["method"] == "PUT" and
           reqs[1]["path"] == "/tickets/EXT-1",
           "the next share must PUT /tickets/EXT-1", reqs)
    body = json.loads(reqs[1]["body"])
    expect(body["external_id"] == "EXT-1" and body["incident"] == payload,
           "update body", body)


for payload_file in sorted(os.listdir(PAYLOADS)):
    if payload_file.endswith(".json"):
        R.case("%s: first share creates one ticket, next one updates it"
               % payload_file)(lambda f=payload_file:
                               each_payload_creates_then_updates(f))


@R.case("envelope shares of several incidents run in order in one run")
def envelopes_in_one_run():
    mw = Moonwire(opts.moonwire)
    inc = load_payload("bigpanda-incident-new.json")
    other = dict(inc, id="other-incident")
    shares = [
        {"incident": inc, "metadata": {"event_type": "incident#new"}},
        {"incident": other},
        {"incident": inc, "metadata": {"event_type": "incident#updated"}},
        {"incident": dict(other, status="ok")},
    ]
    target.reset()
    rc, lines, err = mw.run("run", CREATE_UPDATE, mw.write("s.json", shares),
                            "--db", mw.path("mw.db"),
                            "--set", "base_url=" + target.url)
    expect(rc == 0 and len(lines) == 4, "four executions", lines, err)
    got = [(r["method"], r["path"]) for r in target.requests()]
    expect(got == [("POST", "/tickets"), ("POST", "/tickets"),
                   ("PUT", "/tickets/EXT-1"), ("PUT", "/tickets/EXT-2")],
           "creates then updates keyed by incident", got)
    expect(json.loads(target.requests()[3]["body"])["status"] == "ok",
           "the update carries the new status")


@R.case("a 19-digit numeric id is saved and sent back exactly")
def big_ids():
    big = "7512345678901234567"

    def answer(method, path, body):
        if method == "POST":
            return 201, {"Content-Type": "application/json"}, \
                ('{"id": %s}' % big).encode()
        return 204, {}, b""
    stub = Stub(answer)
    mw = Moonwire(opts.moonwire)
    share = mw.write("s.json", load_payload("datadog-triggered.json"))
    args = ["run", CREATE_UPDATE, share, "--db", mw.path("mw.db"),
            "--set", "base_url=" + stub.url]
    rc, lines, err = mw.run(*args)
    expect(rc == 0, "create", lines, err)
    body = stub.seen[0][2].decode()
    expect('"id":"7512345678901234567"' in body.replace(" ", ""),
           "the incident's own 19-digit id survives", body)
    rc, lines, err = mw.run(*args)
    expect(rc == 0, "update with an empty 204 answer", lines, err)
    method, path, body = stub.seen[1]
    expect(method == "PUT" and path == "/tickets/" + big, "update URL", path)
    expect(('"external_id": %s' % big) in body.decode() or
           ('"external_id":%s' % big) in body.decode(), "typed exact id", body)
    stub.close()


@R.case("the OAuth example fetches one token for many shares, then a new "
        "one after expiry")
def oauth_reuse():
    t = Target(EXPIRES_IN=2, REQUIRE_TOKEN=1)
    try:
        mw = Moonwire(opts.moonwire)
        inc = load_payload("bigpanda-incident-new.json")
        shares = [{"incident": dict(inc, id="inc-%d" % i)} for i in range(5)]
        base = ["--db", mw.path("mw.db"), "--set", "base_url=" + t.url,
                "--set", "client_id=mw-client", "--set", "client_secret=s3cr3t"]
        rc, lines, err = mw.run("run", OAUTH, mw.write("a.json", shares), *base)
        expect(rc == 0, "five shares", lines, err)
        paths = [r["path"] for r in t.requests()]
        expect(paths.count("/oauth/token") == 1 and paths.count("/tickets") == 5,
               "one token for five tickets", paths)
        tok = [r for r in t.requests() if r["path"] == "/oauth/token"][0]
        expect(tok["headers"].get("authorization", "").startswith("Basic ") and
               tok["body"] == "grant_type=client_credentials",
               "client_secret_basic, no empty scope", tok)
        dump = json.dumps(lines)
        expect("s3cr3t" not in dump and "tok-1" not in dump,
               "no secret or token in the output", dump)
        time.sleep(2.2)
        rc, lines, err = mw.run("run", OAUTH, mw.write("b.json", shares[:1]), *base)
        expect(rc == 0, "share after expiry", lines, err)
        paths = [r["path"] for r in t.requests()]
        expect(paths.count("/oauth/token") == 1 + 1, "a new token", paths)
        last = t.requests()[-1]
        expect(last["headers"]["authorization"] == "Bearer tok-2", "new token used")
        rc, lines, err = mw.run("run", OAUTH, mw.write("c.json", shares[:1]),
                                "--db", mw.path("mw.db"),
                                "--set", "base_url=" + t.url,
                                "--set", "client_id=mw-client",
                                "--set", "client_secret=wrong")
        expect(rc == 1 and "invalid_client" in lines[0]["error"],
               "provider error in the result", lines)
    finally:
        t.close()


@R.case("503 with Retry-After: 0 twice, then success: one ticket, three "
        "attempts")
def retries():
    mw = Moonwire(opts.moonwire)
    target.reset()
    target.fail(503, 2, "/tickets")
    rc, lines, err = mw.run("run", CREATE_UPDATE,
                            mw.write("s.json", load_payload("bigpanda-incident-new.json")),
                            "--db", mw.path("mw.db"), "--set", "base_url=" + target.url)
    expect(rc == 0, "succeeds after retries", lines, err)
    posts = [r for r in target.requests() if r["path"] == "/tickets"]
    expect(len(posts) == 3, "three attempts reach the target", posts)


# ---- bad input ------------------------------------------------------------

def run_bad(mw, workflow, share=None, base=None, timeout=60):
    share = share or mw.write("s.json", load_payload("bigpanda-incident-new.json"))
    return mw.run("run", workflow, share, "--db", mw.path("mw.db"),
                  "--set", "base_url=" + (base or target.url), timeout=timeout)


@R.case("malformed workflow JSON: exit 1 with line and column")
def bad_workflow_json():
    mw = Moonwire(opts.moonwire)
    rc, lines, err = run_bad(mw, mw.write("w.json", '{"format": 1,\n "nodes": [}'))
    expect(rc == 1 and "line 2" in err and "column" in err, "error", err)


@R.case("unknown node type and missing fields are all reported")
def bad_workflow_fields():
    mw = Moonwire(opts.moonwire)

    def change(doc):
        node(doc, "create")["type"] = "http_requets"
        del node(doc, "save")["config"]["external_id"]
        node(doc, "update")["config"]["timeout_ms"] = "soon"
    rc, lines, err = run_bad(mw, example_with(mw, "w.json", change))
    expect(rc == 1 and "http_requets" in err and "external_id" in err and
           "timeout_ms" in err, "three problems named", err)
    rc, out, verr = mw.run("validate", mw.path("w.json"))
    expect(rc == 1 and verr.count("\n") >= 3, "validate lists them", verr)


@R.case("a template that does not parse fails validation with its position")
def bad_template():
    mw = Moonwire(opts.moonwire)

    def change(doc):
        node(doc, "build_create")["config"]["template"] = '{"a": "{{#if x}}"}'
    rc, lines, err = run_bad(mw, example_with(mw, "w.json", change))
    expect(rc == 1 and "build_create" in err and "line" in err, "error", err)


@R.case("a share that is not JSON fails that share only")
def bad_share():
    mw = Moonwire(opts.moonwire)
    target.reset()
    rc, lines, err = mw.run("run", CREATE_UPDATE, mw.write("bad.json", "{nope"),
                            mw.write("good.json", load_payload("bigpanda-incident-new.json")),
                            "--db", mw.path("mw.db"), "--set", "base_url=" + target.url)
    expect(rc == 1 and lines[0]["status"] == "failed" and
           "not JSON" in lines[0]["error"], "bad share reported", lines)
    expect(lines[1]["status"] == "succeeded", "the good share still runs", lines)
    rc, lines, err = mw.run("run", CREATE_UPDATE, mw.write("arr.json", "[1, 2]"),
                            "--db", mw.path("mw.db"), "--set", "base_url=" + target.url)
    expect(rc == 1 and "JSON object" in lines[0]["error"], "non-object share", lines)


@R.case("an unreachable target fails with a clear reason")
def unreachable():
    mw = Moonwire(opts.moonwire)
    rc, lines, err = run_bad(mw, CREATE_UPDATE, base="http://127.0.0.1:%d" % free_port())
    expect(rc == 1 and lines[0]["status"] == "failed", "failed", lines, err)
    expect("connect" in lines[0]["error"].lower(), "names the cause", lines)


@R.case("a target answering 500 fails with the status and a body excerpt")
def target_500():
    mw = Moonwire(opts.moonwire)
    target.reset()
    target.fail(500, 10, "/tickets")
    rc, lines, err = run_bad(mw, CREATE_UPDATE)
    expect(rc == 1 and "HTTP 500" in lines[0]["error"] and
           "injected failure" in lines[0]["error"], "status and body", lines)
    expect(len(target.requests()) == 1, "500 is not retried by default")
    target.reset()


@R.case("non-JSON and empty answers, and a dropped connection")
def odd_answers():
    mw = Moonwire(opts.moonwire)
    plain = Stub(lambda m, p, b: (201, {"Content-Type": "text/plain"}, b"created"))
    rc, lines, err = run_bad(mw, CREATE_UPDATE, base=plain.url)
    expect(rc == 1 and "save" in lines[0]["error"], "no id in a text answer "
           "fails at save_id", lines)
    dropped = Stub(lambda m, p, b: None)
    rc, lines, err = run_bad(Moonwire(opts.moonwire), CREATE_UPDATE, base=dropped.url)
    expect(rc == 1 and lines[0]["status"] == "failed", "dropped", lines)
    expect(len(dropped.seen) == 1, "a POST is never re-sent on its own",
           dropped.seen)
    plain.close()
    dropped.close()


@R.case("a target that never answers times out")
def hanging():
    mw = Moonwire(opts.moonwire)

    def slow(m, p, b):
        time.sleep(3)
        return 201, {}, b"{}"
    stub = Stub(slow)
    wf = example_with(mw, "w.json",
                      lambda d: node(d, "create")["config"].update(timeout_ms=500))
    t0 = time.time()
    rc, lines, err = run_bad(mw, wf, base=stub.url)
    expect(rc == 1 and "timed out" in lines[0]["error"].lower(), "timeout", lines)
    expect(time.time() - t0 < 3, "bounded by the node's timeout")
    stub.close()


@R.case("values from a share are percent-encoded in the URL path")
def url_encoding():
    mw = Moonwire(opts.moonwire)
    target.reset()
    first = dict(load_payload("bigpanda-incident-new.json"), id="enc-1")
    args = ["--db", mw.path("mw.db"), "--set", "base_url=" + target.url]
    mw.run("run", CREATE_UPDATE, mw.write("a.json", first), *args)
    hostile = Stub(lambda m, p, b: (201, {"Content-Type": "application/json"},
                                    b'{"id": "../../admin?x=1#f"}'))
    mw2 = Moonwire(opts.moonwire)
    a2 = ["--db", mw2.path("mw.db"), "--set", "base_url=" + hostile.url]
    mw2.run("run", CREATE_UPDATE, mw2.write("a.json", first), *a2)
    rc, lines, err = mw2.run("run", CREATE_UPDATE, mw2.write("a.json", first), *a2)
    expect(rc == 0, "update", lines, err)
    expect(hostile.seen[1][1] == "/tickets/..%2F..%2Fadmin%3Fx%3D1%23f",
           "the saved id stays one path segment", hostile.seen)
    hostile.close()


@R.case("a bad line in a one-share-per-line file fails that line only")
def ndjson_bad_line():
    mw = Moonwire(opts.moonwire)
    target.reset()
    text = '{"id": "a1"}\n{"id": "a2", BROKEN\n{"id": "a3"}\n'
    rc, lines, err = mw.run("run", CREATE_UPDATE, mw.write("f.ndjson", text),
                            "--db", mw.path("mw.db"), "--set", "base_url=" + target.url)
    expect(rc == 1 and [l["status"] for l in lines] ==
           ["succeeded", "failed", "succeeded"], "per line", lines)
    expect(lines[1]["share"].endswith(":2"), "names the line", lines)


@R.case("retry settings are checked at validation")
def retry_checked():
    mw = Moonwire(opts.moonwire)
    wf = example_with(mw, "w.json", lambda d: node(d, "create")["config"].update(
        retry={"attempts": 1000000000, "backoff_ms": -5, "bogus": 1}))
    rc, out, err = mw.run("validate", wf)
    expect(rc == 1 and "retry.attempts" in err and "retry.backoff_ms" in err and
           "retry.bogus" in err, "three problems", err)


@R.case("a dry run sends nothing and prints what it would have sent")
def dry_run():
    mw = Moonwire(opts.moonwire)
    target.reset()
    rc, lines, err = mw.run("run", CREATE_UPDATE,
                            mw.write("s.json", load_payload("bigpanda-incident-new.json")),
                            "--db", mw.path("mw.db"), "--set", "base_url=" + target.url,
                            "--dry-run")
    expect(rc == 0, "dry run succeeds", lines, err)
    expect(target.requests() == [], "nothing sent", target.requests())
    req = [n for n in lines[0]["nodes"] if n["id"] == "create"][0]["requests"][0]
    expect(req["method"] == "POST" and req["url"].endswith("/tickets") and
           '"incident_id"' in req["body"], "the request is shown", req)


@R.case("a secret echoed back by a server is redacted in errors")
def secret_scrubbed():
    echo = Stub(lambda m, p, b: (400, {"Content-Type": "text/plain"}, b))
    mw = Moonwire(opts.moonwire)

    def change(doc):
        doc["nodes"].insert(0, {"id": "auth", "type": "oauth", "config": {
            "token_url": "{{integration.base_url}}/oauth/token",
            "client_id": "cid", "client_secret": "{{integration.client_secret}}",
            "auth_method": "post"}})
        doc["connections"].insert(0, {"from": "auth", "port": "next", "to": "route"})
    wf = example_with(mw, "w.json", change)
    rc, lines, err = mw.run("run", wf, mw.write("s.json", {"incident": {"id": "x"}}),
                            "--db", mw.path("mw.db"), "--set", "base_url=" + echo.url,
                            "--set", "client_secret=TOPSECRET99")
    expect(rc == 1 and "TOPSECRET99" not in json.dumps(lines) + err and
           "[redacted]" in lines[0]["error"], "redacted", lines, err)
    echo.close()


@R.case("incident ids that differ only after a NUL byte stay apart")
def nul_ids():
    mw = Moonwire(opts.moonwire)
    target.reset()
    shares = [{"incident": {"id": "nul\u0000a"}}, {"incident": {"id": "nul\u0000b"}}]
    text = "[" + ",".join(json.dumps(x).replace("\\\\u0000", "\\u0000") for x in shares) + "]"
    rc, lines, err = mw.run("run", CREATE_UPDATE, mw.write("s.json", text),
                            "--db", mw.path("mw.db"), "--set", "base_url=" + target.url)
    got = [(r["method"], r["path"]) for r in target.requests()]
    expect(got == [("POST", "/tickets"), ("POST", "/tickets")], "two creates", got)


try:
    code = R.finish()
finally:
    target.close()
sys.exit(code)
