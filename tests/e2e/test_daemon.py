#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# End-to-end tests of `moonwire serve`: the real daemon on a loopback port
# against real target processes. The API from integration to trace, the
# delivery rules (order, the wait for a saved ID, retries, idempotency
# keys, recovery after kill -9) and a hostile-input barrage.
import argparse
import json
import os
import random
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (EXAMPLES, Daemon, Runner, Stub, Target,  # noqa: E402
                     expect, load_payload)

ap = argparse.ArgumentParser()
ap.add_argument("--moonwire", required=True)
ap.add_argument("--only", default="", help="run the cases whose name has this")
ap.add_argument("--seed", type=int, default=None, help="hostile-input seed")
opts = ap.parse_args()

R = Runner()
CREATE_UPDATE = os.path.join(EXAMPLES, "create-update.json")
OAUTH = os.path.join(EXAMPLES, "oauth-create-update.json")
V1 = "/api/v1"
DONE = ("succeeded", "failed")


def case(name):
    """R.case, skipped (not counted) when --only does not match."""
    if opts.only and opts.only not in name:
        return lambda fn: fn
    return R.case(name)


def workflow(path=CREATE_UPDATE):
    with open(path) as f:
        return json.load(f)


def node(doc, node_id):
    return next(n for n in doc["nodes"] if n["id"] == node_id)


def wait_until(fn, timeout, what):
    """Polls fn() until it returns something true; fails after timeout."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out after %ss waiting for %s"
                                 % (timeout, what))
        time.sleep(0.05)


def integration(d, name, doc=None, base=None, activate=True, settings=None):
    """Creates an integration, imports doc (create-update.json by default),
    sets base_url and activates it. Returns (id, app key)."""
    st, v, _ = d.api("POST", V1 + "/integrations", {"name": name})
    expect(st == 201 and v["status"] == "inactive" and
           v["app_key"].startswith("mwk_"), "create integration", st, v)
    iid, key = v["id"], v["app_key"]
    st, v, _ = d.api("PUT", "%s/integrations/%s/workflow" % (V1, iid),
                     doc if doc is not None else workflow())
    expect(st == 201, "import", st, v)
    patch = {"settings": dict(settings or {}, base_url=base or target.url)}
    if activate:
        patch["status"] = "active"
    st, v, _ = d.api("PATCH", "%s/integrations/%s" % (V1, iid), patch)
    expect(st == 200, "settings and status", st, v)
    return iid, key


def post(d, key, share):
    st, v, _ = d.api("POST", V1 + "/shares", share, token=key)
    return st, v


def accept(d, key, share):
    st, v = post(d, key, share)
    expect(st == 202 and isinstance(v.get("share_id"), int), "202", st, v)
    return v["share_id"]


def share_of(d, sid):
    st, v, _ = d.api("GET", "%s/shares/%d" % (V1, sid))
    expect(st == 200, "GET share %d" % sid, st, v)
    return v


def wait_done(d, sids, timeout=30):
    """Waits until every share has finished; returns {sid: share}."""
    out = {}

    def all_done():
        for sid in sids:
            if sid not in out:
                s = share_of(d, sid)
                if s["status"] not in DONE:
                    return False
                out[sid] = s
        return True
    wait_until(all_done, timeout, "shares %s to finish" % list(sids)[:10])
    return out


def execution(d, eid):
    st, v, _ = d.api("GET", "%s/executions/%d" % (V1, eid))
    expect(st == 200, "GET execution", st, v)
    return v


def trace_of(d, sid):
    s = wait_done(d, [sid])[sid]
    return execution(d, s["execution_id"])


def step(trace, node_id):
    return next(e for e in trace["trace"] if e["id"] == node_id)


def incident(inc, status, **more):
    return {"incident": dict({"id": inc, "status": status}, **more)}


target = Target()
D = Daemon(opts.moonwire)


# ---- integrations, shares, order --------------------------------------------

@case("shares of several incidents: exactly the expected creates and "
      "updates, in per-incident order, each with its idempotency key")
def several_incidents():
    iid, key = integration(D, "order")
    target.reset()
    incs = ["ord-a", "ord-b", "ord-c", "ord-d"]
    sent = {}
    for r in range(4):
        for inc in incs:
            sid = accept(D, key, incident(inc, "s%d" % r))
            sent[(inc, "s%d" % r)] = sid
    done = wait_done(D, sent.values())
    expect(all(s["status"] == "succeeded" for s in done.values()),
           "all succeeded", done)
    reqs = target.requests()
    expect(len(reqs) == 16, "16 requests: 4 creates, 12 updates", reqs)
    tickets = {}
    for inc in incs:
        mine = [r for r in reqs if json.loads(r["body"])["incident_id"] == inc]
        got = [(r["method"], json.loads(r["body"])["status"]) for r in mine]
        expect(got == [("POST", "s0"), ("PUT", "s1"), ("PUT", "s2"),
                       ("PUT", "s3")], "create then updates in order", inc, got)
        ext = {json.loads(r["body"])["external_id"] for r in mine[1:]}
        expect(len(ext) == 1, "updates go to one ticket", inc, ext)
        tickets[inc] = ext.pop()
        expect(all(r["path"] == "/tickets/" + tickets[inc] for r in mine[1:]),
               "update URLs", mine)
        for r in mine:
            status = json.loads(r["body"])["status"]
            want = "mw-%d-%s" % (sent[(inc, status)],
                                 "create" if r["method"] == "POST" else "update")
            expect(r["headers"].get("idempotency-key") == want,
                   "Idempotency-Key per (share, node)", want, r["headers"])
    expect(sorted(tickets.values()) == ["EXT-1", "EXT-2", "EXT-3", "EXT-4"],
           "one ticket per incident", tickets)


@case("deep shares: 128 levels run and read back, 129 are refused; "
      "compressed bodies get 415")
def deep_shares():
    iid, key = integration(D, "deep")
    auth = {"Authorization": "Bearer " + key}

    def nested(n):  # the share object itself is the first level
        return ('{"incident":{"id":"deep-%d","status":"new","x":' % n
                + '{"a":' * (n - 2) + '1' + '}' * (n - 2) + '}}')
    st, v, _ = D.api("POST", V1 + "/shares", nested(129), token="",
                     headers=auth)
    expect(st == 400 and v["error"]["code"] == "E_JSON"
           and "deeper than 128" in v["error"]["message"], "129 refused",
           st, v)
    st, v, _ = D.api("POST", V1 + "/shares", nested(128), token="",
                     headers=auth)
    expect(st == 202, "128 accepted", st, v)
    sid = v["share_id"]
    done = wait_done(D, [sid])
    expect(done[sid]["status"] == "succeeded", "ran", done)
    share = share_of(D, sid)
    expect(share["body"]["incident"]["id"] == "deep-128", "reads back")
    ex = execution(D, done[sid]["execution_id"])
    expect(len(ex["trace"]) > 0, "a whole trace", ex)
    for coding in ("gzip", "br, gzip"):
        st, v, _ = D.api("POST", V1 + "/shares", nested(3), token="",
                         headers=dict(auth, **{"Content-Encoding": coding}))
        expect(st == 415 and v["error"]["code"] == "E_CONTENT_ENCODING",
               "415 for " + coding, st, v)
    st, v, _ = D.api("POST", V1 + "/shares", nested(4), token="",
                     headers=dict(auth, **{"Content-Encoding": "identity"}))
    expect(st == 202, "identity is no encoding", st, v)


@case("integration bodies: misspelt fields refused, names in characters")
def integration_fields():
    st, v, _ = D.api("POST", V1 + "/integrations", {"name": "é" * 200})
    expect(st == 201, "200 two-byte characters make a name", st, v)
    iid = v["id"]
    st, v, _ = D.api("POST", V1 + "/integrations", {"name": "é" * 201})
    expect(st == 422 and v["error"]["code"] == "E_NAME", "201 do not", st, v)
    st, v, _ = D.api("POST", V1 + "/integrations", {"name": "x", "stat": 1})
    expect(st == 422 and v["error"]["code"] == "E_FIELD"
           and '"stat"' in v["error"]["message"], "unknown POST field", st, v)
    st, v, _ = D.api("PATCH", "%s/integrations/%s" % (V1, iid),
                     {"stauts": "active"})
    expect(st == 422 and v["error"]["code"] == "E_FIELD"
           and '"stauts"' in v["error"]["message"], "misspelt status", st, v)
    st, v, _ = D.api("GET", "%s/integrations/%s" % (V1, iid))
    expect(v["status"] == "inactive", "nothing changed", v)
    st, v, _ = D.api("POST", "%s/integrations/%s/test" % (V1, iid),
                     {"share": {"incident": {"id": "t"}}, "lvie": True})
    expect(st == 422 and '"lvie"' in v["error"]["message"],
           "a misspelt test field", st, v)
    st, v, _ = D.api("POST", V1 + "/generate",
                     {"prompt": "a webhook", "provder": "openai"})
    expect(st == 422 and '"provder"' in v["error"]["message"],
           "a misspelt generate field", st, v)


@case("incident ids past 2^53 stay apart")
def big_ids():
    iid, key = integration(D, "big-ids")
    target.reset()
    raw = ['{"incident":{"id":9007199254740993,"status":"new"}}',
           '{"incident":{"id":9007199254740992,"status":"new"}}']
    sids = []
    for text in raw:
        st, v = post(D, key, text)
        expect(st == 202, "accepted", st, v)
        sids.append(v["share_id"])
    done = wait_done(D, sids)
    expect(all(s["status"] == "succeeded" for s in done.values()), "ran", done)
    posts = [r["body"] for r in target.requests() if r["method"] == "POST"]
    expect(len(posts) == 2 and any("9007199254740993" in b for b in posts)
           and any("9007199254740992" in b for b in posts),
           "two creates, each with its own id", posts)


@case("an inactive integration answers 409 and runs nothing")
def inactive():
    iid, key = integration(D, "sleeper", activate=False)
    target.reset()
    st, v = post(D, key, incident("sleepy-1", "new"))
    expect(st == 409 and v["error"]["code"] == "E_INACTIVE" and
           "inactive" in v["error"]["message"], "409 saying so", st, v)
    D.api("PATCH", "%s/integrations/%s" % (V1, iid), {"status": "active"})
    sid = accept(D, key, incident("sleepy-2", "new"))
    wait_done(D, [sid])
    D.api("PATCH", "%s/integrations/%s" % (V1, iid), {"status": "inactive"})
    st, v = post(D, key, incident("sleepy-3", "new"))
    expect(st == 409, "409 once deactivated", st, v)
    time.sleep(0.3)
    got = [json.loads(r["body"])["incident_id"] for r in target.requests()]
    expect(got == ["sleepy-2"], "only the share accepted while active ran", got)
    st, v, _ = D.api("GET", "%s/executions?integration=%s" % (V1, iid))
    expect(st == 200 and len(v["executions"]) == 1, "one execution", v)
    st, v, _ = D.api("POST", V1 + "/integrations", {"name": "no workflow"})
    st, v, _ = D.api("PATCH", "%s/integrations/%s" % (V1, v["id"]),
                     {"status": "active"})
    expect(st == 409 and v["error"]["code"] == "E_NO_WORKFLOW",
           "no activation without a workflow", st, v)


@case("401 for an unknown or missing app key, and for an old key after "
      "rotation")
def app_keys():
    iid, key = integration(D, "keys")
    share = incident("keys-1", "new")
    for tok in ["mwk_unknown", "", D.TOKEN]:
        st, v = post(D, tok, share)
        expect(st == 401 and v["error"]["code"] == "E_APP_KEY", "401", tok,
               st, v)
    st, v, _ = D.api("POST", V1 + "/shares", share,
                     headers={"Authorization": "Basic " + key})
    expect(st == 401, "Basic is not Bearer", st, v)
    st, v, _ = D.api("GET", V1 + "/integrations", token=key)
    expect(st == 401 and v["error"]["code"] == "E_ADMIN_TOKEN",
           "an app key is no admin token", st, v)
    st, v, _ = D.api("POST", "%s/integrations/%s/app-key" % (V1, iid))
    expect(st == 200 and v["app_key"] != key, "rotated", st, v)
    st, _ = post(D, key, share)
    expect(st == 401, "the old key is refused", st)
    wait_done(D, [accept(D, v["app_key"], share)])
    st, v, _ = D.api("GET", "%s/integrations/%s" % (V1, iid))
    expect("app_key" not in v, "the key is shown only once", v)


@case("415, 400 and 413: clean JSON answers; BOM, +json and no content "
      "type accepted")
def ingress_checks():
    iid, key = integration(D, "ingress")
    auth = {"Authorization": "Bearer " + key}

    def send(body, ctype=None):
        h = dict(auth)
        if ctype:
            h["Content-Type"] = ctype
        st, v, hd = D.api("POST", V1 + "/shares", body, token="", headers=h)
        expect(hd.get("content-type", "").startswith("application/json"),
               "JSON answer", st, v, hd)
        return st, v
    st, v = send(b'{"id": "ct-1"}', "text/plain")
    expect(st == 415 and v["error"]["code"] == "E_CONTENT_TYPE", "415", st, v)
    st, v = send(b'{"id": "ct-1"}', "application/x-www-form-urlencoded")
    expect(st == 415, "form is not JSON", st, v)
    sids = []
    for i, (body, ctype) in enumerate([
            (b'{"id": "ct-2"}', None),
            (b'{"id": "ct-3"}', "application/vnd.pager+json; charset=utf-8"),
            (b'\xef\xbb\xbf{"id": "ct-4"}', "application/json"),
            (b'{"id": "ct-5"}', "Application/JSON")]):
        st, v = send(body, ctype)
        expect(st == 202, "accepted", body, ctype, st, v)
        sids.append(v["share_id"])
    st, v = send(b'{"id": "x",\n "status": nope}', "application/json")
    expect(st == 400 and v["error"]["code"] == "E_JSON" and
           "line 2" in v["error"]["message"] and
           "column" in v["error"]["message"], "parse position", st, v)
    for body in [b"[1, 2]", b'"text"', b"42", b"null", b""]:
        st, v = send(body, "application/json")
        expect(st == 400 and v["error"]["code"] in ("E_NOT_OBJECT", "E_JSON"),
               "not an object", body, st, v)
    st, v = send(b'{"a":' + b"[" * 10000 + b"]" * 10000 + b"}",
                 "application/json")
    expect(st == 400 and "nesting" in v["error"]["message"], "depth", st, v)
    st, v = send(b'{"incident": 5}', "application/json")
    expect(st == 400 and v["error"]["code"] == "E_SHARE", "incident", st, v)
    big = b'{"id": "big", "pad": "' + b"x" * (1 << 20) + b'"}'
    st, v = send(big, "application/json")
    expect(st == 413 and v["error"]["code"] == "E_BODY_TOO_LARGE", "413", st, v)
    done = wait_done(D, sids)
    expect(all(s["status"] == "succeeded" for s in done.values()), "ran", done)


# ---- workflows --------------------------------------------------------------

@case("a broken workflow: 422 listing every problem with its path; "
      "nothing stored")
def broken_workflow():
    iid, key = integration(D, "broken")
    doc = workflow()
    node(doc, "create")["type"] = "http_requets"
    del node(doc, "save")["config"]["external_id"]
    node(doc, "update")["config"]["timeout_ms"] = "soon"
    node(doc, "build_update")["config"]["template"] = '{"a": "{{#if x}}"}'
    doc["connections"].append({"from": "update", "port": "next",
                               "to": "nowhere"})
    doc["connections"].append({"from": "route", "port": "sideways",
                               "to": "save"})
    st, v, _ = D.api("PUT", "%s/integrations/%s/workflow" % (V1, iid), doc)
    expect(st == 422 and isinstance(v.get("errors"), list), "422", st, v)
    errs = v["errors"]
    expect(all(isinstance(e.get("path"), str) and e["path"].startswith("$") and
               isinstance(e.get("message"), str) and len(e["message"]) > 10
               for e in errs), "each with a path and a message", errs)
    paths = " ".join(e["path"] for e in errs)
    text = json.dumps(errs)
    for want in ["$.nodes[2].type", "$.nodes[3].config", "$.nodes[5].config",
                 "$.nodes[4].config", "$.connections[5]", "$.connections[6]"]:
        expect(want in paths, "a problem at " + want, errs)
    expect("http_requets" in text and "nowhere" in text and
           "sideways" in text, "names what is wrong", errs)
    st, v, _ = D.api("GET", "%s/integrations/%s/workflow/versions" % (V1, iid))
    expect([x["version"] for x in v["versions"]] == [1], "no new version", v)
    for bad in [[], "text", {"format": 99, "nodes": {}}, '{"format": 1e999}']:
        st, v, _ = D.api("PUT", "%s/integrations/%s/workflow" % (V1, iid), bad)
        expect(st in (400, 422), "refused", bad, st, v)


@case("export re-imports unchanged and holds no secrets; versions listed")
def export_reimport():
    t = Target()
    try:
        doc = workflow(OAUTH)
        node(doc, "auth")["config"].update(client_id="mw-client",
                                           client_secret="s3cr3t")
        iid, key = integration(D, "export", doc=doc, base=t.url,
                               settings={"api_key": "setting-secret-77"})
        st, text, hd = D.api("GET", "%s/integrations/%s/workflow" % (V1, iid),
                             raw=True)
        expect(st == 200 and hd.get("x-workflow-version") == "1", "export",
               st, hd)
        first = json.loads(text)
        raw = text.decode()
        expect("s3cr3t" not in raw and "client_secret" not in
               json.dumps(node(first, "auth")["config"]) and
               "setting-secret-77" not in raw, "no secret in the export", raw)
        st, v, _ = D.api("PUT", "%s/integrations/%s/workflow" % (V1, iid), text,
                         headers={"Content-Type": "application/json"})
        expect(st == 201 and v["version"] == 2, "re-import", st, v)
        for q in ["", "?version=2", "?version=1"]:
            st, again, _ = D.api("GET", "%s/integrations/%s/workflow%s"
                                 % (V1, iid, q), raw=True)
            expect(again == text, "the same bytes", q, again, text)
        st, v, _ = D.api("GET", "%s/integrations/%s/workflow/versions"
                         % (V1, iid))
        expect([x["version"] for x in v["versions"]] == [2, 1], "versions", v)
        st, v, _ = D.api("GET", "%s/integrations/%s/workflow?version=9"
                         % (V1, iid))
        expect(st == 404, "no version 9", st, v)
        st, v, _ = D.api("GET", "%s/integrations/%s" % (V1, iid))
        expect(v["secret_settings"] == ["api_key"] and
               "api_key" not in v["settings"] and v["workflow_version"] == 2,
               "secret settings named, never shown", v)
        # the re-imported workflow kept the stored client secret
        sid = accept(D, key, incident("exp-1", "new"))
        tr = trace_of(D, sid)
        expect(tr["status"] == "succeeded", "runs with the kept secret", tr)
        expect("s3cr3t" not in json.dumps(tr), "no secret in the trace", tr)
    finally:
        t.close()


@case("DELETE an integration: gone with its shares; those in line do not "
      "run")
def delete_integration():
    def slow(method, path, body):
        time.sleep(1)
        return 201, {"Content-Type": "application/json"}, b'{"id": "D-1"}'
    stub = Stub(slow)
    try:
        iid, key = integration(D, "doomed", base=stub.url)
        first = accept(D, key, incident("del-1", "new"))
        second = accept(D, key, incident("del-1", "again"))
        time.sleep(0.3)
        st, v, _ = D.api("DELETE", "%s/integrations/%s" % (V1, iid))
        expect(st == 204, "deleted", st, v)
        for p in ["/integrations/" + iid, "/shares/%d" % second]:
            st, v, _ = D.api("GET", V1 + p)
            expect(st == 404, "gone", p, st, v)
        st, v = post(D, key, incident("del-2", "new"))
        expect(st == 401, "its key is gone too", st, v)
        time.sleep(1.5)
        expect(len(stub.requests) == 1, "the waiting share did not run",
               stub.requests)
        st, v, _ = D.api("GET", "%s/executions?integration=%s" % (V1, iid))
        expect(v["executions"] == [], "no executions left", v)
        wait_done(D, [accept(D, integration(D, "after")[1],
                             incident("del-3", "new"))])
    finally:
        stub.close()


# ---- shares and executions --------------------------------------------------

@case("GET /shares/{id} and /executions: list, filters, trace with redacted "
      "input, output, port, duration and attempts")
def shares_and_executions():
    doc = workflow()
    node(doc, "create")["config"]["headers"].update({
        "Authorization": "Bearer literal-token-9z8y",
        "X-Team-Key": "{{integration.team_password}}",
        "X-Region": "{{integration.region_code}}"})
    iid, key = integration(D, "traces", doc=doc,
                           settings={"team_password": "pw-in-a-header"})
    st, v, _ = D.api("PATCH", "%s/integrations/%s" % (V1, iid),
                     {"secrets": {"region_code": "eu-secret-7"}})
    expect(st == 200 and v["secret_settings"] == ["region_code",
                                                  "team_password"] and
           "region_code" not in v["settings"], "explicit secrets", st, v)
    target.reset()
    sid = accept(D, key, incident("tr-1", "new"))
    s = wait_done(D, [sid])[sid]
    expect(s["status"] == "succeeded" and s["incident"] == "tr-1" and
           isinstance(s["execution_id"], int), "share view", s)
    got = target.requests()[0]["headers"]
    expect(got["authorization"] == "Bearer literal-token-9z8y" and
           got["x-team-key"] == "pw-in-a-header" and
           got["x-region"] == "eu-secret-7", "the target got them", got)
    tr = execution(D, s["execution_id"])
    expect(tr["share_id"] == sid and tr["integration_id"] == iid and
           tr["status"] == "succeeded" and tr["live"] is True, "header", tr)
    expect([e["id"] for e in tr["trace"]] ==
           ["route", "build_create", "create", "save"], "path", tr)
    for e in tr["trace"]:
        expect(isinstance(e["input"], dict) and isinstance(e["port"], str) and
               isinstance(e["duration_ms"], (int, float)) and
               isinstance(e["attempts"], int), "per node fields", e)
    create = step(tr, "create")
    expect(create["input"]["headers"]["Authorization"] == "[redacted]",
           "a literal credential is redacted", create["input"])
    expect(create["output"]["createResponse"]["id"] == "EXT-1" and
           create["output"]["createResponseStatus"] == 201 and
           create["port"] == "next" and create["attempts"] == 1, "create", create)
    dump = json.dumps(tr)
    for secret in ["literal-token-9z8y", "pw-in-a-header", "eu-secret-7"]:
        expect(secret not in dump, "no secret anywhere in the trace", secret,
               dump)

    # a failure keeps its reason and the failing node's error
    target.fail(500, 1, "/tickets")
    bad = accept(D, key, incident("tr-2", "new"))
    fs = wait_done(D, [bad])[bad]
    ft = execution(D, fs["execution_id"])
    expect(fs["status"] == "failed" and "HTTP 500" in ft["error"] and
           "HTTP 500" in step(ft, "create")["error"] and
           step(ft, "create")["port"] == "error", "failure", ft)

    def ids(q):
        st, v, _ = D.api("GET", V1 + "/executions" + q)
        expect(st == 200, "list", q, st, v)
        return [e["id"] for e in v["executions"]]
    mine = ids("?integration=" + iid)
    expect(mine == [ft["id"], tr["id"]], "newest first, this integration", mine)
    expect(ids("?integration=%s&status=failed" % iid) == [ft["id"]], "status")
    expect(ids("?integration=%s&status=succeeded" % iid) == [tr["id"]], "ok")
    expect(len(ids("?limit=1")) == 1 and ids("?integration=nope") == [],
           "limit and unknown integration")
    st, v, _ = D.api("GET", V1 + "/executions?integration=" + iid)
    expect("trace" not in v["executions"][0], "the list has no traces", v)
    for q in ["?limit=0", "?limit=abc", "?limit=2.5", "?status=bogus"]:
        st, v, _ = D.api("GET", V1 + "/executions" + q)
        expect(st == 400 and v["error"]["code"] == "E_QUERY", "bad query", q, v)
    for p in ["/shares/999999", "/executions/999999"]:
        st, v, _ = D.api("GET", V1 + p)
        expect(st == 404 and v["error"]["code"] == "E_NOT_FOUND", "404", p, v)


@case("a share near the body limit runs, and its stored trace is cut to "
      "size")
def big_trace():
    iid, key = integration(D, "big")
    target.reset()
    sid = accept(D, key, incident("big-1", "new", note="\u00e9t\u00e9 " * 60000))
    tr = trace_of(D, sid)
    expect(tr["status"] == "succeeded", "ran", tr.get("error"))
    sent = json.loads(target.requests()[0]["body"])
    expect(sent["incident"]["note"] == "\u00e9t\u00e9 " * 60000,
           "the target got all of it")
    out = step(tr, "build_create")["output"]["createPayload"]
    expect(out["cut"] is True and out["bytes"] > 300000 and
           len(out["excerpt"]) <= 1024, "an excerpt in the trace", out)
    st, raw, _ = D.api("GET", "%s/executions/%d" % (V1, tr["id"]), raw=True)
    expect(len(raw) < 300000, "a bounded trace", len(raw))


@case("replay runs the execution's share again as a new share")
def replay():
    iid, key = integration(D, "replay")
    target.reset()
    sid = accept(D, key, incident("rp-1", "new"))
    eid = wait_done(D, [sid])[sid]["execution_id"]
    st, v, _ = D.api("POST", "%s/executions/%d/replay" % (V1, eid))
    expect(st == 202 and v["replay_of"] == eid and v["share_id"] != sid,
           "replay accepted", st, v)
    again = wait_done(D, [v["share_id"]])[v["share_id"]]
    ex = execution(D, again["execution_id"])
    expect(ex["replay_of"] == eid and ex["status"] == "succeeded", "replay", ex)
    reqs = target.requests()
    expect([(r["method"], r["path"]) for r in reqs] ==
           [("POST", "/tickets"), ("PUT", "/tickets/EXT-1")],
           "the replay updates the ticket the first run created", reqs)
    expect(reqs[1]["headers"]["idempotency-key"] ==
           "mw-%d-update" % v["share_id"], "a replay has its own key", reqs)
    st, v, _ = D.api("POST", "%s/executions/999999/replay" % V1)
    expect(st == 404, "unknown execution", st, v)


@case("test runs: live false sends nothing and shows what would be sent; "
      "live true sends")
def test_runs():
    iid, key = integration(D, "tests")
    url = "%s/integrations/%s/test" % (V1, iid)
    target.reset()
    st, v, _ = D.api("POST", url, {"share": incident("tst-1", "new"),
                                   "live": False})
    expect(st == 200 and v["live"] is False, "dry run", st, v)
    time.sleep(0.2)
    expect(target.requests() == [], "no request left", target.requests())
    req = step(v, "create")["requests"][0]
    expect(req["dry_run"] is True and req["method"] == "POST" and
           req["url"] == target.url + "/tickets" and
           json.loads(req["body"])["incident_id"] == "tst-1",
           "what would be sent", req)

    st, v, _ = D.api("POST", url, {"share": incident("tst-2", "new"),
                                   "live": True})
    expect(st == 200 and v["status"] == "succeeded" and v["live"] is True,
           "live run", st, v)
    expect([(r["method"], r["path"]) for r in target.requests()] ==
           [("POST", "/tickets")], "one request", target.requests())

    other = workflow()
    node(other, "create")["config"]["url"] = "{{integration.base_url}}/custom"
    st, v, _ = D.api("POST", url, {"share": incident("tst-3", "new"),
                                   "workflow": other, "live": True})
    expect(st == 200 and target.requests()[-1]["path"] == "/custom",
           "a supplied workflow", st, v, target.requests())
    st, v, _ = D.api("GET", "%s/integrations/%s/workflow" % (V1, iid))
    expect("/custom" not in json.dumps(v), "the stored one is unchanged")

    for body, code in [({"share": 5}, 422), ({"share": {}, "live": "yes"}, 422),
                       ({"share": {}, "workflow": {"format": 1}}, 422),
                       ([], 400)]:
        st, v, _ = D.api("POST", url, body)
        expect(st == code, "refused", body, st, v)


@case("a live test run leaves what later shares of the incident do unchanged")
def test_run_no_side_effects():
    iid, key = integration(D, "tests-2")
    url = "%s/integrations/%s/test" % (V1, iid)
    target.reset()
    st, v, _ = D.api("POST", url, {"share": incident("tst-side", "new"),
                                   "live": True})
    expect(st == 200 and v["status"] == "succeeded", "live run", st, v)
    wait_done(D, [accept(D, key, incident("tst-side", "new"))])
    got = [(r["method"], r["path"]) for r in target.requests()]
    expect(got == [("POST", "/tickets"), ("POST", "/tickets")],
           "the first real share still creates its ticket", got)


@case("GET /node-types: schema, ports and outputs of every type")
def node_types():
    st, v, _ = D.api("GET", V1 + "/node-types")
    expect(st == 200, "node types", st, v)
    types = {t["type"]: t for t in v["node_types"]}
    expect({"flow_control", "transform", "oauth", "http_request",
            "save_id"} <= set(types), "built-ins", list(types))
    for t in types.values():
        expect(isinstance(t["schema"], list) and isinstance(t["ports"], list)
               and isinstance(t["outputs"], list) and t["title"], "shape", t)
    expect(types["http_request"]["ports"] == ["next", "error"] and
           "response" in types["http_request"]["outputs"], "http_request",
           types["http_request"])
    secret = [f["name"] for f in types["oauth"]["schema"] if f.get("secret")]
    expect(secret == ["client_secret"], "secret fields marked", secret)


@case("GET /integrations/{id}/variables?node=ID: share fields, settings, "
      "upstream outputs")
def variables():
    iid, key = integration(D, "vars", settings={"region": "eu"})
    wait_done(D, [accept(D, key, incident("var-1", "new",
                                          alerts=[{"host": "db1"}]))])

    def paths(q):
        st, v, _ = D.api("GET", "%s/integrations/%s/variables%s" % (V1, iid, q))
        expect(st == 200, "variables", q, st, v)
        return {x["path"]: x for x in v["variables"]}
    at_update = paths("?node=update")
    for p in ["incident.id", "incident.alerts[0].host", "integration.region",
              "integration.base_url", "updatePayload", "metadata.firstTime"]:
        expect(p in at_update, "available at update: " + p, sorted(at_update))
    expect(at_update["updatePayload"]["node"] == "build_update", "its node")
    expect("createResponse" not in at_update and
           "updateResponse" not in at_update, "not upstream", sorted(at_update))
    at_save = paths("?node=save")
    expect("createResponse" in at_save and "createPayload" in at_save and
           "updatePayload" not in at_save, "upstream of save", sorted(at_save))
    st, v, _ = D.api("GET", "%s/integrations/%s/variables?node=nope"
                     % (V1, iid))
    expect(st == 404, "unknown node", st, v)


@case("an identical share within the dedup window is accepted once")
def dedup():
    iid, key = integration(D, "dedup")
    target.reset()
    share = incident("dd-1", "new")
    st, a = post(D, key, share)
    st2, b = post(D, key, share)
    expect(st == st2 == 202 and a["share_id"] == b["share_id"] and
           b.get("duplicate") is True, "same share id", a, b)
    wait_done(D, [a["share_id"]])
    time.sleep(0.3)
    expect(len(target.requests()) == 1, "ran once", target.requests())


@case("dedup: per integration, and across a restart of the daemon")
def dedup_restart():
    d = Daemon(opts.moonwire)
    try:
        _, key_a = integration(d, "dedup-a")
        _, key_b = integration(d, "dedup-b")
        share = incident("dd-restart", "new")
        st, a = post(d, key_a, share)
        st2, b = post(d, key_b, share)
        expect(st == st2 == 202 and a["share_id"] != b["share_id"] and
               not b.get("duplicate"), "another integration's own share", a, b)
        d.restart()
        st3, c = post(d, key_a, share)
        expect(st3 == 202 and c["share_id"] == a["share_id"] and
               c.get("duplicate") is True, "same share id after the restart",
               a, c)
    finally:
        d.stop()
        d.check_log()


@case("retention: only the newest retention_count executions and "
      "finished shares stay")
def retention():
    d = Daemon(opts.moonwire, env={"MOONWIRE_RETENTION_COUNT": 5})
    try:
        _, key = integration(d, "retention")
        sids = [post(d, key, incident("ret-%d" % i, "new"))[1]["share_id"]
                for i in range(12)]
        wait_done(d, sids)

        def executions():
            st, v, _ = d.api("GET", V1 + "/executions?limit=100")
            expect(st == 200, "list executions", st, v)
            return sorted(e["id"] for e in v["executions"])
        before = executions()
        d.restart()  # retention runs a second after the start
        wait_until(lambda: len(executions()) <= 5, 10, "retention ran")
        kept = executions()
        expect(kept == before[-5:], "the newest executions stay", kept, before)
        st, v, _ = d.api("GET", "%s/shares/%d" % (V1, sids[0]))
        expect(st == 404, "an old finished share is gone", st, v)
        st, v, _ = d.api("GET", "%s/shares/%d" % (V1, sids[-1]))
        expect(st == 200 and v["status"] == "succeeded", "the last stays", st, v)
    finally:
        d.stop()
        d.check_log()


@case("/metrics: Prometheus counters move with the traffic")
def metrics():
    def scrape():
        st, text, hd = D.api("GET", "/metrics", token="")
        expect(st == 200 and hd["content-type"].startswith("text/plain"),
               "metrics", st, hd)
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out
    iid, key = integration(D, "metrics")
    before = scrape()
    wait_done(D, [accept(D, key, incident("met-1", "new"))])
    post(D, "mwk_bad", incident("met-2", "new"))
    after = scrape()

    def delta(name):
        return after.get(name, 0) - before.get(name, 0)
    expect(delta("moonwire_shares_accepted_total") == 1, "accepted", after)
    expect(delta('moonwire_shares_rejected_total{reason="unauthorized"}') == 1,
           "rejected", after)
    expect(delta('moonwire_executions_total{status="succeeded"}') == 1,
           "executions", after)
    expect(delta('moonwire_outbound_requests_total{status="201"}') == 1,
           "outbound", after)
    expect(delta('moonwire_node_duration_ms_count{type="http_request"}') == 1,
           "node durations", after)
    expect("moonwire_queue_depth" in after and
           "moonwire_executions_running" in after, "gauges", after)
    expect(delta("moonwire_db_commits_total") >= 1, "commits", after)
    for by in ("thread", "loop"):
        expect('moonwire_wal_checkpoints_total{by="%s"}' % by in after,
               "checkpoint counts", after)
    for name in ["/healthz", "/readyz"]:
        st, v, _ = D.api("GET", name, token="")
        expect(st == 200 and v["status"] in ("ok", "ready"), name, v)


@case("memory: the Lua heap stays level over thousands of shares")
def heap_level():
    iid, key = integration(D, "heap")

    def heap_after(batch, n):
        sids = [accept(D, key, incident("heap-%d-%d" % (batch, i // 2),
                                        "new" if i % 2 == 0 else "ok",
                                        seq=i))
                for i in range(n)]
        wait_done(D, sids[-1:], timeout=120)
        wait_done(D, sids, timeout=120)
        st, text, _ = D.api("GET", "/metrics", token="")
        for line in text.splitlines():
            if line.startswith("moonwire_lua_heap_bytes "):
                return float(line.split()[1])
        raise AssertionError("no heap gauge in /metrics")
    heap_after(0, 300)  # warm: templates compiled, caches filled
    first = heap_after(1, 1200)
    second = heap_after(2, 1200)
    # An execution's garbage is about 12 KB: a leak of it would add 14 MB
    # here; the collector's own swing is a few MB.
    expect(second - first < 8e6, "the heap grew by %d bytes over 1,200 "
           "shares" % (second - first), first, second)


# ---- delivery rules ---------------------------------------------------------

@case("lock: updates posted behind a slow create wait, then go to the saved "
      "ID in order")
def lock():
    def slow(method, path, body):
        if method == "POST":
            time.sleep(1.5)
            return 201, {"Content-Type": "application/json"}, b'{"id": "T-77"}'
        return 200, {"Content-Type": "application/json"}, b'{"ok": true}'
    stub = Stub(slow)
    try:
        iid, key = integration(D, "lock", base=stub.url)
        sids = [accept(D, key, incident("lock-1", s))
                for s in ("new", "acknowledged", "resolved")]
        time.sleep(0.5)
        states = [share_of(D, s)["status"] for s in sids]
        expect(states == ["running", "waiting", "waiting"],
               "the updates wait for the saved ID", states)
        done = wait_done(D, sids, timeout=20)
        expect(all(s["status"] == "succeeded" for s in done.values()), "ok",
               done)
        got = [(r["method"], r["path"], json.loads(r["body"])["status"])
               for r in stub.requests]
        expect(got == [("POST", "/tickets", "new"),
                       ("PUT", "/tickets/T-77", "acknowledged"),
                       ("PUT", "/tickets/T-77", "resolved")], "in order", got)
        expect(stub.requests[1]["time"] >= stub.requests[0]["answered"],
               "the first update left after the create was answered")
    finally:
        stub.close()


@case("retry: 503 with Retry-After: 0 twice, then success: one ticket, "
      "three attempts with one key")
def retry():
    iid, key = integration(D, "retry")
    target.reset()
    target.fail(503, 2, "/tickets")
    sid = accept(D, key, incident("rt-1", "new"))
    tr = trace_of(D, sid)
    expect(tr["status"] == "succeeded", "succeeded", tr)
    posts = [r for r in target.requests() if r["path"] == "/tickets"]
    expect(len(posts) == 3, "three attempts reached the target", posts)
    keys = {r["headers"].get("idempotency-key") for r in posts}
    expect(keys == {"mw-%d-create" % sid}, "the same key each time", keys)
    create = step(tr, "create")
    expect(create["attempts"] == 3 and
           [r["status"] for r in create["requests"]] == [503, 503, 201] and
           create["output"]["createResponse"]["id"] == "EXT-1",
           "three attempts in the trace, one ticket", create)
    # bodies are stored as a reference to build_create's output and come
    # back as the very bytes that were sent
    expect([r.get("body") for r in create["requests"]] ==
           [r["body"] for r in posts] and
           all("body_from" not in r for r in create["requests"]),
           "the trace shows the bodies sent", create["requests"], posts)
    built = step(tr, "build_create")["output"]["createPayload"]
    expect(built == json.loads(posts[-1]["body"]),
           "the built payload in the trace is what was sent", built, posts[-1])


@case("wait timeout: a lane held past MOONWIRE_WAIT_TIMEOUT_S lets the next "
      "share go")
def wait_timeout():
    def slow(method, path, body):
        if method == "POST":
            time.sleep(3)
            return 201, {"Content-Type": "application/json"}, b'{"id": "T-9"}'
        return 200, {"Content-Type": "application/json"}, b"{}"
    stub = Stub(slow)
    d = Daemon(opts.moonwire, env={"MOONWIRE_WAIT_TIMEOUT_S": 1})
    try:
        iid, key = integration(d, "timeout", base=stub.url)
        first = accept(d, key, incident("wt-1", "new"))
        second = accept(d, key, incident("wt-1", "acknowledged"))
        time.sleep(0.3)
        expect(share_of(d, second)["status"] == "waiting", "waits at first")
        wait_until(lambda: len(stub.requests) == 2, 2.5,
                   "the second share to run before the create is answered")
        expect(share_of(d, first)["status"] == "running", "still running")
        wait_done(d, [first, second], timeout=10)
        expect("go ahead" in d.read_log(), "logged", d.read_log()[-2000:])
        d.check_log()
    finally:
        d.stop()
        stub.close()


@case("a slow target holds up neither other incidents nor other integrations")
def no_head_of_line():
    def slow(method, path, body):
        time.sleep(2)
        return 201, {"Content-Type": "application/json"}, b'{"id": "S-1"}'
    stub = Stub(slow)
    try:
        slow_id, slow_key = integration(D, "slow", base=stub.url)
        fast_id, fast_key = integration(D, "fast")
        held = accept(D, slow_key, incident("hol-1", "new"))
        t0 = time.time()
        same = accept(D, slow_key, incident("hol-2", "new"))
        other = accept(D, fast_key, incident("hol-3", "new"))
        wait_done(D, [other], timeout=5)
        expect(time.time() - t0 < 1.5, "the other integration ran at once")
        wait_until(lambda: len(stub.requests) == 2, 1.5,
                   "the other incident's create to start at once")
        wait_done(D, [held, same], timeout=10)
    finally:
        stub.close()


# ---- crash ------------------------------------------------------------------

class Ticketing:
    """A target that honours Idempotency-Key (a repeated key gets the first
    answer and creates nothing), slow enough that executions are in
    flight when the daemon is killed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_key = {}
        self.n = 0
        self.stub = Stub(self.answer, with_headers=True)
        self.url = self.stub.url

    def answer(self, method, path, body, headers):
        time.sleep(random.uniform(0.005, 0.04))
        key = headers.get("idempotency-key")
        with self.lock:
            if key in self.by_key:
                return self.by_key[key]
            if method == "POST":
                self.n += 1
                data = json.dumps({"id": "T-%d" % self.n}).encode()
                res = (201, {"Content-Type": "application/json"}, data)
            else:
                res = (200, {"Content-Type": "application/json"}, b"{}")
            if key:
                self.by_key[key] = res
            return res


def finished_in(log):
    return {int(m.group(1)) for m in
            re.finditer(r" share (\d+) incident=\S+ execution=\S+ "
                        r"(succeeded|failed)", log)}


@case("crash: kill -9 while shares are posted and run; after the restart "
      "every accepted share ran, twice only if unfinished, with one key")
def crash():
    tk = Ticketing()
    d = Daemon(opts.moonwire)
    try:
        iid, key = integration(d, "crash", base=tk.url)
        accepted = {}   # share id -> (incident, seq)
        stop = threading.Event()

        def poster(t):
            for seq in range(400):
                inc = "crash-%d-%d" % (t, seq % 5)
                if stop.is_set():
                    return
                try:
                    st, v = post(d, key, incident(inc, "seq-%d" % seq))
                except Exception:
                    return
                if st == 202:
                    accepted[v["share_id"]] = (inc, seq)
        threads = [threading.Thread(target=poster, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        wait_until(lambda: len(accepted) >= 150, 30, "150 accepted shares")
        time.sleep(0.1)
        d.kill()
        stop.set()
        for th in threads:
            th.join(30)
        first_log = d.read_log()
        done_before = finished_in(first_log)
        expect(len(done_before) < len(accepted), "some shares were unfinished",
               len(done_before), len(accepted))

        d.start()
        expect(re.search(r"recovered \d+ unfinished share", d.read_log()),
               "recovery logged", d.read_log()[-2000:])
        done = wait_done(d, sorted(accepted), timeout=90)
        failed = [s for s in done.values() if s["status"] != "succeeded"]
        expect(not failed, "every accepted share succeeded", failed[:5])
        rerun = finished_in(d.read_log()) & done_before
        expect(not rerun, "shares finished before the kill did not run again",
               sorted(rerun)[:10])

        reqs = tk.stub.requests
        expect(all(r["headers"].get("idempotency-key") for r in reqs),
               "every request has a key")
        by_share, count = {}, {}
        for r in reqs:
            k = r["headers"]["idempotency-key"]
            count[k] = count.get(k, 0) + 1
            sid = int(k.split("-")[1])
            by_share.setdefault(sid, []).append(r)
        missing = sorted(set(accepted) - set(by_share))
        expect(not missing, "every accepted share reached the target",
               missing[:10])
        twice = {k for k, n in count.items() if n > 1}
        bad = {k for k in twice if int(k.split("-")[1]) in done_before}
        expect(not bad, "only unfinished shares reach the target twice", bad)
        for sid, rs in by_share.items():
            keys = {r["headers"]["idempotency-key"] for r in rs}
            expect(len(rs) == 1 or sid not in done_before,
                   "a finished share was sent once", sid, rs)
            expect(len(keys) == 1 or sid not in done_before, "one key", keys)

        # per incident: one ticket, shares in the order they were accepted
        per_inc = {}
        for r in reqs:
            sid = int(r["headers"]["idempotency-key"].split("-")[1])
            if sid in accepted:
                per_inc.setdefault(accepted[sid][0], []).append((sid, r))
        for inc, rs in per_inc.items():
            creates = {r["headers"]["idempotency-key"] for _, r in rs
                       if r["method"] == "POST"}
            expect(len(creates) == 1, "one create per incident", inc, creates)
            firsts = []
            for sid, _ in rs:
                if sid not in firsts:
                    firsts.append(sid)
            expect(firsts == sorted(firsts), "per-incident order", inc, firsts)
        print("# crash: %d accepted, %d finished before the kill, %d keys "
              "sent twice" % (len(accepted), len(done_before), len(twice)))
        d.check_log()
    finally:
        d.stop()
        tk.stub.close()


# ---- hostile input ----------------------------------------------------------

def read_response(sock, method, buf):
    """Reads one HTTP response from sock (buf: bytes already read). Returns
    (status, headers, body, rest) or None when the peer closed first."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None, buf
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    if method == "HEAD":
        n = 0
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return (status, headers, rest[:n]), rest[n:]


class Hostile:
    """Sends crafted bytes on fresh connections and checks each answer."""

    def __init__(self, d, rng):
        self.d = d
        self.rng = rng
        self.sent = 0
        self.closed = 0
        self.by_status = {}
        self.accepted = []      # share ids a hostile request got accepted

    def exchange(self, data, methods, shut=False, garbage=False, timeout=15):
        """Sends data; expects one answer per method in `methods` (or a
        clean close when garbage is true). Returns the answers."""
        s = socket.create_connection(("127.0.0.1", self.d.port),
                                     timeout=timeout)
        answers = []
        try:
            try:
                s.sendall(data)
                if shut:
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass
            buf = b""
            for m in methods:
                try:
                    res, buf = read_response(s, m, buf)
                except ConnectionResetError:
                    res = None
                if res is None:
                    break
                answers.append(res)
        finally:
            s.close()
        self.sent += len(methods)
        for (status, headers, body), m in zip(answers, methods):
            if m != "HEAD":
                self.check(status, headers, body, data)
        if len(answers) < len(methods):
            self.closed += len(methods) - len(answers)
            expect(garbage or answers and answers[-1][0] >= 400,
                   "no answer and no error before the close", data[:300],
                   answers)
        return answers

    def check(self, status, headers, body, data):
        self.by_status[status] = self.by_status.get(status, 0) + 1
        # 505: a mangled request line naming another HTTP version is the
        # client's fault, told with the one 5xx status meant for it
        expect(status < 500 or status == 505, "a 5xx answer", status,
               body[:500], data[:300])
        ctype = headers.get("content-type", "")
        if status == 200 and ctype.startswith("text/plain"):
            return      # /metrics
        if status == 200 and ctype.startswith("text/html"):
            expect(b" /api/" not in data.split(b"\r\n", 1)[0],
                   "an API path answered with a page", data[:300])
            return      # the editor's pages, outside /api/
        if status == 204 or not body:
            expect(status < 400, "an error with no body", status, data[:300])
            return
        expect(ctype.startswith("application/json"), "JSON content type",
               status, headers, data[:300])
        v = json.loads(body)
        if status >= 400:
            expect(isinstance(v, dict) and (
                isinstance(v.get("error"), dict) and
                isinstance(v["error"].get("code"), str) and
                isinstance(v["error"].get("message"), str) or
                isinstance(v.get("errors"), list)), "a JSON error", v)
        elif status == 202 and isinstance(v, dict) and "share_id" in v:
            self.accepted.append(v["share_id"])

    def request(self, method, path, body=b"", headers=None, close=True):
        h = {"Host": "127.0.0.1"}
        h.update(headers or {})
        if body or method in ("POST", "PUT", "PATCH"):
            h.setdefault("Content-Length", str(len(body)))
        if close:
            h.setdefault("Connection", "close")
        lines = ["%s %s HTTP/1.1" % (method, path)]
        lines += ["%s: %s" % kv for kv in h.items()]
        head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
        return head + b"\r\n\r\n" + body

    def send(self, method, path, body=b"", headers=None, **kw):
        return self.exchange(self.request(method, path, body, headers),
                             [method], **kw)


def mutations(rng, text, n):
    """n broken variants of a JSON text."""
    out = []
    junk = [b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"\x00", b"\xff",
            b"\xc3", b"\xed\xa0\x80", b"NaN", b"Infinity", b"-", b"1e999",
            b"/*", b"'", b"\n", b"\\u00", b'"\\ud800"', b"tru", b"nul"]
    for _ in range(n):
        b = bytearray(text)
        kind = rng.randrange(5)
        if kind == 0 and len(b) > 1:
            b = b[:rng.randrange(1, len(b))]
        elif kind == 1:
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 2:
            at = rng.randrange(len(b) + 1)
            b[at:at] = rng.choice(junk)
        elif kind == 3:
            b = bytearray(rng.randbytes(rng.randint(1, 200)))
        else:
            b = b + b"," + rng.choice(junk)
        out.append(bytes(b))
    return out


WEIRD = [None, True, False, 0, -1, 1.5, 1e308, 2 ** 64, "", "x" * 5000,
         "\u0000", "\ud7ff\u2028", [], {}, [[[]]], {"a": {"b": []}},
         [None], -2 ** 63]


def wrong_types(valid):
    """valid with each field (two levels deep) replaced by odd values."""
    out = []
    for k in list(valid):
        for w in WEIRD:
            v = dict(valid)
            v[k] = w
            out.append(v)
        if isinstance(valid[k], dict):
            for k2 in list(valid[k]):
                for w in WEIRD[::3]:
                    v = json.loads(json.dumps(valid))
                    v[k][k2] = w
                    out.append(v)
    for w in WEIRD:
        out.append(w)
    return out


def wrong_nodes(doc, rng):
    """doc with one node key, config field or connection field at a time
    replaced by odd values."""
    out = []

    def variant(change):
        v = json.loads(json.dumps(doc))
        change(v)
        out.append(v)
    for i, n in enumerate(doc["nodes"]):
        fields = [("node", k) for k in n] + [("config", k) for k in n["config"]]
        for where, k in fields:
            for w in rng.sample(WEIRD, 6):
                def change(v, i=i, where=where, k=k, w=w):
                    target_ = v["nodes"][i]
                    (target_ if where == "node" else target_["config"])[k] = w
                variant(change)
    for i, c in enumerate(doc["connections"]):
        for k in c:
            for w in rng.sample(WEIRD, 4):
                def change(v, i=i, k=k, w=w):
                    v["connections"][i][k] = w
                variant(change)
    return out


@case("hostile input: over 1,000 malformed, oversized, deep or wrongly typed "
      "requests; no crash, JSON errors, accepted shares still run")
def hostile():
    seed = opts.seed if opts.seed is not None else random.randrange(1 << 30)
    print("# hostile-input seed %d" % seed)
    rng = random.Random(seed)
    t = Target()
    d = Daemon(opts.moonwire, env={"MOONWIRE_IDLE_TIMEOUT_S": 2})
    try:
        iid, key = integration(d, "hostile", base=t.url)
        victim, _ = integration(d, "victim", base=t.url)
        before = [accept(d, key, incident("h-%d" % (i % 4), "pre-%d" % i))
                  for i in range(12)]
        eid = wait_done(d, before[:1])[before[0]]["execution_id"]
        H = Hostile(d, rng)
        admin = {"Authorization": "Bearer " + d.TOKEN,
                 "Content-Type": "application/json"}
        app = {"Authorization": "Bearer " + key,
               "Content-Type": "application/json"}
        wf = json.dumps(workflow()).encode()
        # (method, path, auth headers, a valid body)
        json_eps = [
            ("POST", V1 + "/integrations", admin, {"name": "h"}),
            ("PATCH", "%s/integrations/%s" % (V1, victim), admin,
             {"name": "v", "status": "inactive", "settings": {"a": "b"}}),
            ("PUT", "%s/integrations/%s/workflow" % (V1, victim), admin,
             json.loads(wf)),
            ("POST", "%s/integrations/%s/test" % (V1, victim), admin,
             {"share": {"id": "t"}, "live": False}),
            ("POST", V1 + "/shares", app,
             {"incident": {"id": "hs", "status": "x"},
              "metadata": {"event_type": "incident#new"}}),
        ]
        paths = [V1 + "/integrations", "%s/integrations/%s" % (V1, victim),
                 "%s/integrations/%s/app-key" % (V1, victim),
                 "%s/integrations/%s/workflow" % (V1, victim),
                 "%s/integrations/%s/workflow/versions" % (V1, victim),
                 "%s/integrations/%s/test" % (V1, victim),
                 "%s/integrations/%s/variables" % (V1, iid),
                 V1 + "/shares", "%s/shares/%d" % (V1, before[0]),
                 V1 + "/executions", "%s/executions/%d" % (V1, eid),
                 "%s/executions/%d/replay" % (V1, eid), V1 + "/node-types",
                 V1 + "/node-types/reload", "/healthz", "/readyz", "/metrics"]

        def alive():
            expect(d.alive(), "the daemon died", d.read_log()[-4000:])
            st, v, _ = d.api("GET", "/healthz", token="", timeout=10)
            expect(st == 200, "healthz", st, v)

        # 1. broken JSON on every JSON endpoint
        for method, path, h, valid in json_eps:
            for body in mutations(rng, json.dumps(valid).encode(), 50):
                H.send(method, path, body, h)
        alive()
        # 2. wrongly typed fields
        for method, path, h, valid in json_eps:
            for v in wrong_types(valid):
                H.send(method, path, json.dumps(v).encode(), h)
        alive()
        # 2b. wrongly typed node fields, connections and configs
        for doc in (workflow(), workflow(OAUTH)):
            for v in wrong_nodes(doc, rng):
                H.send("PUT", "%s/integrations/%s/workflow" % (V1, victim),
                       json.dumps(v).encode(), admin)
                if rng.random() < 0.2:
                    H.send("POST", "%s/integrations/%s/test" % (V1, victim),
                           json.dumps({"share": {"id": "t"}, "workflow": v,
                                       "live": False}).encode(), admin)
        alive()
        # 3. deep nesting, 10k levels and more
        deep = [b"[" * 10000 + b"]" * 10000,
                b'{"a":' * 10000 + b"1" + b"}" * 10000,
                b'{"incident": ' + b"[" * 20000 + b"]" * 20000 + b"}",
                b'{"share": {"id": 1, "x": ' + b"{\"k\":" * 12000 + b"0" +
                b"}" * 12000 + b"}}",
                b"[" * 300000]
        for method, path, h, valid in json_eps:
            for body in deep:
                H.send(method, path, body, h)
        alive()
        # 4. oversized bodies: sent, announced, chunked
        big = b'{"name": "' + b"x" * (1 << 20) + b'"}'
        for method, path, h, valid in json_eps:
            H.send(method, path, big, h)
            H.send(method, path, b"{", dict(h, **{"Content-Length":
                                                  "1000000000000"}))
            chunks = b"".join(b"%x\r\n%s\r\n" % (65536, b"y" * 65536)
                              for _ in range(20)) + b"0\r\n\r\n"
            H.exchange(H.request(method, path, chunks, dict(
                h, **{"Transfer-Encoding": "chunked"})).replace(
                    b"Content-Length: %d\r\n" % len(chunks), b""), [method])
        alive()
        # 5. every method on every path
        for path in paths:
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                           "TRACE", "HEAD", "PROPFIND", "PURGE"]:
                if method == "DELETE" and path.endswith(victim):
                    continue
                H.send(method, path, b"{}" if method in ("POST", "PUT",
                                                         "PATCH") else b"",
                       admin)
        H.send("DELETE", "%s/integrations/%s" % (V1, victim), b"", admin)
        alive()
        # 6. bad ids, traversal, odd targets and queries
        bad_ids = ["..", "%2e%2e", "..%2f..%2fetc%2fpasswd", "a" * 7000, "%00",
                   "\u00e9t\u00e9", "int_'%20OR%201=1--", "%ff%fe", "<x>",
                   "-1", "0", "1e9", "99999999999999999999999", "1.5", "0x10",
                   "%31", " ", "%20", "\\", "~", "*", "null", "[]", "{}"]
        for bid in bad_ids:
            for tpl in ["/integrations/%s", "/integrations/%s/workflow",
                        "/integrations/%s/test", "/integrations/%s/variables",
                        "/shares/%s", "/executions/%s",
                        "/executions/%s/replay"]:
                method = "POST" if tpl.endswith(("test", "replay")) else "GET"
                H.send(method, V1 + tpl % bid, b"{}" if method == "POST"
                       else b"", admin)
        for p in ["/", "*", "//api//v1//shares", V1 + "/shares/1/../1",
                  "/api/v1/../../../etc/passwd", "/api/v2/shares", "/api",
                  V1, V1 + "/", "http://127.0.0.1/healthz",
                  "/healthz?%%%%", "/metrics?" + "a=1&" * 1000,
                  "/" + "a/" * 4000, "/%00", "/healthz#frag"]:
            H.send("GET", p, b"", admin)
        for q in ["limit=-5", "limit=1e400", "limit=nan", "limit=0x10",
                  "limit=", "status=%27;DROP%20TABLE%20shares;--",
                  "integration=%00", "status=running", "limit=1&limit=2",
                  "=&=&&", "%ZZ=1", "a" * 6000, "limit=1.0",
                  "integration=" + "%25" * 300]:
            H.send("GET", V1 + "/executions?" + q, b"", admin)
            H.send("GET", "%s/integrations/%s/variables?node=%s" %
                   (V1, iid, q), b"", admin)
            H.send("GET", "%s/integrations/%s/workflow?version=%s" %
                   (V1, iid, q), b"", admin)
        alive()
        # 7. bad headers
        share = json.dumps(incident("hh", "x")).encode()
        S = V1 + "/shares"
        odd_headers = [
            {"X-Big": "v" * 100000}, {"Authorization": "Bearer " + "k" * 20000},
            {"Authorization": "Bearer"}, {"Authorization": "Basic Zm9vOmJhcg=="},
            {"Authorization": "Bearer  %s  " % key},
            {"Authorization": "bearer\t" + key},
            {"Authorization": "Bearer \udcff\udcfe"},
            {"Content-Type": "application/json; charset=latin1"},
            {"Content-Type": "text/html"}, {"Content-Type": "application/jsonx"},
            {"Content-Type": ""}, {"Content-Type": "application/+json"},
            {"Content-Type": ";;;"}, {"Content-Type": "\udcff"},
            {"Content-Length": "-1"}, {"Content-Length": "abc"},
            {"Content-Length": "99999999999999999999999"},
            {"Content-Length": "1, 2"}, {"Transfer-Encoding": "gzip"},
            {"Transfer-Encoding": "chunked"},
            {"Expect": "100-continue"}, {"Connection": "keep-alive, Upgrade",
                                         "Upgrade": "websocket"},
            {"Host": ""}, {"Host": "a" * 9000},
        ]
        for h in odd_headers:
            # a request these make incomplete may end in a clean close
            open_ended = {"Transfer-Encoding", "Content-Length"} & set(h)
            hh = dict(app)
            hh.update(h)
            H.send("POST", S, share, hh, shut=bool(open_ended),
                   garbage=open_ended)
            H.send("GET", V1 + "/integrations", b"", dict(admin, **h),
                   shut=bool(open_ended), garbage=open_ended)
        many = {"X-H%d" % i: "v" for i in range(150)}
        H.send("POST", S, share, dict(app, **many))
        raw_heads = [
            b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Content-Length: 6\r\n\r\n{}{}{}" % S.encode(),
            b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % S.encode(),
            b"POST %s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\n{}\r\n0\r\n\r\n" % S.encode(),
            b"POST %s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"ffffffffffffffffff\r\n{}\r\n" % S.encode(),
            b"GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nX: a\x00b\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\n: empty\r\n\r\n",
            b"GET /healthz HTTP/2.0\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n",
            b"GET /healthz HTTP/1.0\r\n\r\n", b"GET /healthz\r\n\r\n",
            b"GET  /healthz  HTTP/1.1\r\n\r\n", b"get /healthz HTTP/1.1\r\n\r\n",
            b"GET /he\x00althz HTTP/1.1\r\n\r\n",
            b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
            b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"FOO /healthz HTTP/1.1\r\n\r\n",
            b"GET /healthz HTTP/1.1\nHost: x\n\n",
        ]
        for raw in raw_heads:
            # an answer, or a close (at the latest after the idle timeout)
            H.exchange(raw, ["GET"], garbage=True)
        alive()
        # 8. garbage that is not HTTP: an error or a clean close
        garbage = [rng.randbytes(rng.randint(1, 4096)) for _ in range(60)]
        garbage += [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
                    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"\r\n" * 5000,
                    b"\x00" * 1000, b"A" * 70000, b"GET / HTTP/1.1\r\n" * 300,
                    b"\xff\xfe\xfd", b"\r\n\r\n\r\n", b" ", b"\x04"]
        for g in garbage:
            H.exchange(g, ["GET"], shut=True, garbage=True)
        alive()
        # 9. pipelined requests, answered in order
        for round_ in range(20):
            batch, methods, expected = b"", [], []
            for i in range(10):
                kind = rng.randrange(5)
                last = i == 9
                if kind == 0:
                    batch += H.request("GET", "/healthz", close=last)
                    methods.append("GET")
                    expected.append(200)
                elif kind == 1:
                    batch += H.request("POST", S, b"{nope", app, close=last)
                    methods.append("POST")
                    expected.append(400)
                elif kind == 2:
                    batch += H.request("GET", V1 + "/nothing", b"", admin,
                                       close=last)
                    methods.append("GET")
                    expected.append(404)
                elif kind == 3:
                    body = json.dumps(incident("pipe-%d" % round_,
                                               "p%d" % i)).encode()
                    batch += H.request("POST", S, body, app, close=last)
                    methods.append("POST")
                    expected.append(202)
                else:
                    batch += H.request("DELETE", "/healthz", close=last)
                    methods.append("DELETE")
                    expected.append(405)
            got = H.exchange(batch, methods)
            expect([a[0] for a in got] == expected,
                   "pipelined answers in order", [a[0] for a in got], expected)
        half = (H.request("GET", "/healthz", close=False) +
                b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n" +
                H.request("GET", "/healthz"))
        got = H.exchange(half, ["GET", "GET", "GET"])
        expect([a[0] for a in got][:2] == [200, 400], "stops at the bad one",
               got)
        alive()
        # 10. slowloris: stalled and dripping requests under a 2 s idle
        # timeout; others are served meanwhile
        partial = [b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                   b"\r\n{" % S.encode(), b"GET /heal", b"GET /healthz HTTP/1.1"
                   b"\r\nX-A: b", b"P"]
        socks = []
        for i in range(24):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            s.sendall(partial[i % len(partial)])
            socks.append((s, time.time()))
        t0 = time.time()
        st, v, _ = d.api("GET", "/healthz", token="", timeout=5)
        expect(st == 200 and time.time() - t0 < 1, "served while stalled")
        for s, started in socks:
            try:
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (socket.timeout, ConnectionResetError):
                data = None
            H.sent += 1
            took = time.time() - started
            expect(data is not None and took < 6, "a stalled request is "
                   "closed after the idle timeout", took)
            if data:
                res, _ = read_response(FakeSock(data), "GET", b"")
                H.check(*res, partial[0])
            s.close()
        alive()
        # 11. the hostile shares that were accepted, and those before,
        # all run
        print("# hostile: %d requests, %d closed without an answer, "
              "statuses %s" % (H.sent, H.closed, sorted(H.by_status.items())))
        expect(H.sent >= 1000, "at least 1,000 requests", H.sent)
        done = wait_done(d, before + H.accepted, timeout=120)
        expect(all(s["status"] == "succeeded" for s in
                   (done[x] for x in before)), "the shares accepted before ran",
               [done[x] for x in before])
        ran = [json.loads(r["body"]).get("status") for r in t.requests()]
        for i in range(12):
            expect("pre-%d" % i in ran, "pre-%d reached the target" % i, ran)
        d.check_log()
        expect(d.stop() == 0, "SIGTERM: a clean exit", d.read_log()[-3000:])
        d.check_log()
    finally:
        d.stop()
        t.close()


class FakeSock:
    def __init__(self, data):
        self.data = data

    def recv(self, n):
        out, self.data = self.data[:n], self.data[n:]
        return out


@case("request targets: the absolute form means its path; * is refused; "
      "HTTP/2.0 text gets 505; a header sent twice that may come once, 400")
def request_targets():
    for target_, want in ((b"http://elsewhere.test/healthz", 200),
                          (b"HTTPS://elsewhere.test/healthz", 200),
                          (b"ftp://elsewhere.test/healthz", 400),
                          (b"/healthz#top", 400),
                          (b"*", 400)):
        s = socket.create_connection(("127.0.0.1", D.port), timeout=10)
        s.sendall(b"GET " + target_ + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        res, _ = read_response(s, "GET", b"")
        s.close()
        expect(res and res[0] == want and res[2].startswith(b"{"),
               "a JSON %d for %s" % (want, target_), res)
    s = socket.create_connection(("127.0.0.1", D.port), timeout=10)
    s.sendall(b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
    res, _ = read_response(s, "GET", b"")
    s.close()
    expect(res and res[0] == 505 and b"E_HTTP_VERSION" in res[2],
           "HTTP/2.0 in HTTP/1 clothes gets 505", res)
    for twice in (b"Authorization: Bearer a\r\nAuthorization: Bearer b\r\n",
                  b"Content-Type: application/json\r\n"
                  b"content-type: text/plain\r\n"):
        s = socket.create_connection(("127.0.0.1", D.port), timeout=10)
        s.sendall(b"POST /api/v1/shares HTTP/1.1\r\nHost: x\r\n" + twice
                  + b"Content-Length: 2\r\n\r\n{}")
        res, _ = read_response(s, "POST", b"")
        s.close()
        expect(res and res[0] == 400 and b"more than once" in res[2],
               "a header that may come once, twice: 400", twice, res)


@case("a client that half-closes after sending its request still gets the "
      "answer")
def half_close():
    iid, key = integration(D, "half-close")
    lost = []
    for i in range(40):
        if i % 2:
            body = json.dumps(incident("half-%d" % i, "new")).encode()
            req = (b"POST /api/v1/shares HTTP/1.1\r\nHost: x\r\n"
                   b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s"
                   % (key.encode(), len(body), body))
        else:
            req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        s = socket.create_connection(("127.0.0.1", D.port), timeout=10)
        s.sendall(req)
        s.shutdown(socket.SHUT_WR)
        res, _ = read_response(s, "GET", b"")
        s.close()
        if res is None or res[0] not in (200, 202):
            lost.append((i, res))
    expect(not lost, "%d of 40 answers were dropped" % len(lost), lost[:5])


@case("slowloris: a request dripping a byte a second is cut off")
def drip():
    d = Daemon(opts.moonwire, env={"MOONWIRE_IDLE_TIMEOUT_S": 2})
    try:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        req = b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 100
        t0 = time.time()
        cut = False
        answer = b""
        for i in range(len(req)):
            try:
                s.sendall(req[i:i + 1])
            except OSError:
                cut = True
                break
            if select.select([s], [], [], 0.5)[0]:
                try:
                    answer = s.recv(4096)
                except OSError:
                    pass
                cut = True      # an answer, or the close
                break
            if time.time() - t0 > 8:
                break
        s.close()
        expect(cut, "still open after %.0f s with the idle timeout at 2 s"
               % (time.time() - t0))
        if answer:
            res, _ = read_response(FakeSock(answer), "GET", b"")
            expect(res and res[0] == 408 and b'"error"' in res[2],
                   "a JSON 408", answer)
        st, v, _ = d.api("GET", "/healthz", token="")
        expect(st == 200, "still serving")
        d.check_log()
    finally:
        d.stop()


def small_disk():
    """A 24 MiB tmpfs to fill, or None (with a note) when this process
    cannot mount one."""
    if os.geteuid() != 0:
        print("# not root: no small filesystem to fill; skipped")
        return None
    root = tempfile.mkdtemp(prefix="mw-full-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs",
                       root], capture_output=True).returncode != 0:
        print("# cannot mount a tmpfs; skipped")
        os.rmdir(root)
        return None
    return root


def fill(root):
    filler = os.path.join(root, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def unmount(root):
    subprocess.run(["umount", root], capture_output=True)
    os.rmdir(root)


@case("a full disk: refused shares never run, accepted ones all do")
def disk_full():
    root = small_disk()
    if not root:
        return
    d = None
    try:
        d = Daemon(opts.moonwire, data_dir=root)
        iid, key = integration(d, "full")
        target.reset()
        filler = fill(root)
        answers = {}
        pad = "y" * 3000
        for i in range(12):
            st, v = post(d, key, incident("full-%d" % i, "new", pad=pad))
            answers[i] = (st, v)
        refused = [i for i, (st, _) in answers.items() if st == 503]
        taken = {i: v["share_id"] for i, (st, v) in answers.items()
                 if st == 202}
        expect(refused, "a full disk refuses shares", answers)
        expect(all(answers[i][1]["error"]["code"] == "E_STORE"
                   for i in refused), "with E_STORE", answers)
        time.sleep(1.0)
        sent = {json.loads(r["body"])["incident_id"]
                for r in target.requests()}
        expect(not any("full-%d" % i in sent for i in refused),
               "no refused share reached the target", refused, sent)
        os.unlink(filler)
        for i in refused:  # the sender tries again
            st, v = post(d, key, incident("full-%d" % i, "new", pad=pad))
            expect(st == 202, "accepted once there is room", st, v)
            expect(v["share_id"] not in taken.values(), "a fresh share id",
                   v, taken)
            taken[i] = v["share_id"]
        done = wait_done(d, taken.values(), timeout=60)
        expect(all(s["status"] == "succeeded" for s in done.values()),
               "every accepted share ran", done)
        sent = [json.loads(r["body"])["incident_id"]
                for r in target.requests() if r["method"] == "POST"]
        expect(sorted(set(sent)) == sorted("full-%d" % i for i in range(12)),
               "each incident created", sent)
        st, text, _ = d.api("GET", "/metrics", token="")
        expect("moonwire_shares_accepted_total %d" % len(taken) in text,
               "only stored shares counted as accepted", text[:600])
        d.check_log()
    finally:
        if d:
            d.stop()
        unmount(root)


@case("a full disk while shares run: their outcomes are retried, in order")
def disk_full_running():
    root = small_disk()
    if not root:
        return
    answered = []

    def slow(method, path, body):
        if method == "POST":
            time.sleep(1.0)
            answered.append(body)
            return 201, {"Content-Type": "application/json"}, \
                b'{"id": "T-%d"}' % len(answered)
        return 200, {"Content-Type": "application/json"}, b'{"ok": true}'
    stub = Stub(slow)
    d = None
    try:
        d = Daemon(opts.moonwire, data_dir=root)
        iid, key = integration(d, "full-running", base=stub.url)
        sids = [accept(d, key, incident("run-%d" % i, "new"))
                for i in range(3)]
        sids.append(accept(d, key, incident("run-0", "resolved")))
        time.sleep(0.3)  # the creates are in flight
        filler = fill(root)
        time.sleep(2.5)  # they finish; their outcomes cannot be committed
        states = [share_of(d, s)["status"] for s in sids]
        expect(states[:3] == ["queued"] * 3 or "running" in states[:3],
               "unrecorded outcomes are queued to run again", states)
        expect(states[3] == "waiting", "the update still waits", states)
        expect("its outcome was not stored" in d.read_log(), "logged")
        os.unlink(filler)
        done = wait_done(d, sids, timeout=60)
        expect(all(s["status"] == "succeeded" for s in done.values()),
               "all ran once there was room", done)
        keys = [r["headers"].get("idempotency-key") for r in stub.requests
                if r["method"] == "POST"]
        expect(set(keys) == {"mw-%d-create" % s for s in sids[:3]},
               "creates again with the same keys", keys)
        puts = [r for r in stub.requests if r["method"] == "PUT"]
        creates0 = [r for r in stub.requests if r["method"] == "POST" and
                    json.loads(r["body"])["incident_id"] == "run-0"]
        expect(len(puts) == 1 and
               puts[0]["time"] >= max(r["answered"] for r in creates0),
               "the update went after its incident's last create", puts)
        d.check_log()
    finally:
        if d:
            d.stop()
        stub.close()
        unmount(root)


@case("a second daemon on the same data dir is refused; the first goes on")
def data_dir_lock():
    iid, key = integration(D, "data-dir-lock")
    e = dict(os.environ)
    e.update({"MOONWIRE_ADMIN_TOKEN": D.TOKEN,
              "ASAN_OPTIONS": "detect_leaks=0"})
    p = subprocess.run([D.binary, "serve", "--listen", "127.0.0.1:0",
                        "--data-dir", os.path.join(D.dir, "data")],
                       capture_output=True, text=True, env=e, timeout=20)
    expect(p.returncode != 0, "the second daemon exits non-zero",
           p.stdout + p.stderr)
    expect("in use by another moonwire serve" in p.stdout + p.stderr,
           "the error names the cause", p.stdout + p.stderr)
    db = os.path.join(D.dir, "data", "moonwire.db")
    p = subprocess.run([D.binary, "settings", "--db", db, "--integration",
                        iid], capture_output=True, text=True, env=e,
                       timeout=20)
    expect(p.returncode != 0 and "running moonwire serve" in p.stderr,
           "the CLI refuses the daemon's database", p.stdout + p.stderr)
    alias = os.path.join(D.dir, "alias.db")
    os.symlink(db, alias)
    p = subprocess.run([D.binary, "settings", "--db", alias, "--integration",
                        iid], capture_output=True, text=True, env=e,
                       timeout=20)
    expect(p.returncode != 0 and "running moonwire serve" in p.stderr,
           "also through a symbolic link", p.stdout + p.stderr)
    hard = os.path.join(D.dir, "hard.db")
    os.link(db, hard)
    p = subprocess.run([D.binary, "settings", "--db", hard, "--integration",
                        iid], capture_output=True, text=True, env=e,
                       timeout=20)
    expect(p.returncode != 0 and "running moonwire serve" in p.stderr,
           "and through a hard link", p.stdout + p.stderr)
    sid = accept(D, key, incident("lock-dir-1", "new"))
    wait_done(D, [sid])
    expect(share_of(D, sid)["status"] == "succeeded", "the first still runs")


@case("max_connections: past the cap a client waits for a free slot")
def max_connections():
    d = Daemon(opts.moonwire, env={"MOONWIRE_MAX_CONNECTIONS": 4})
    held = []
    try:
        for _ in range(3):  # with the one below, the cap
            held.append(socket.create_connection(("127.0.0.1", d.port), 10))
        st, v, _ = d.api("GET", "/metrics", token="")
        expect(st == 200 and "moonwire_connections_max 4" in v,
               "the cap in /metrics", v[-800:] if isinstance(v, str) else v)
        # api() closes its connection; hold the fourth open
        held.append(socket.create_connection(("127.0.0.1", d.port), 10))
        time.sleep(0.3)
        late = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        late.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        late.settimeout(1.0)
        try:
            early = late.recv(100)
        except socket.timeout:
            early = b""
        expect(early == b"", "no answer while 4 connections are open", early)
        held.pop().close()
        late.settimeout(10)
        res, _ = read_response(late, "GET", b"")
        late.close()
        expect(res and res[0] == 200, "answered once one closed", res)
        expect("max_connections" in d.read_log(), "the pause is logged")
        d.check_log()
    finally:
        for s in held:
            s.close()
        d.stop()


@case("listen: an IPv6 address in brackets; a bad address is named")
def listen_addresses():
    e = dict(os.environ)
    e.update({"MOONWIRE_ADMIN_TOKEN": D.TOKEN,
              "ASAN_OPTIONS": "detect_leaks=0"})
    data = os.path.join(D.dir, "listen-data")
    p = subprocess.run([D.binary, "serve", "--listen", "::1:80",
                        "--data-dir", data], capture_output=True, text=True,
                       env=e, timeout=20)
    out = p.stdout + p.stderr
    expect(p.returncode != 0 and '"::1:80" is not HOST:PORT' in out
           and "[::1]:8080" in out, "a bare IPv6 address is refused", out)
    if not os.path.exists("/proc/net/if_inet6"):
        print("# no IPv6 on this machine: [::1] not tried")
        return
    log = open(os.path.join(D.dir, "listen-v6.log"), "w+")
    proc = subprocess.Popen([D.binary, "serve", "--listen", "[::1]:0",
                             "--data-dir", data], stdout=log,
                            stderr=subprocess.STDOUT, env=e)
    try:
        port = None
        deadline = time.time() + 20
        while port is None and time.time() < deadline:
            log.seek(0)
            m = re.search(r"listening on \[::1\]:(\d+)", log.read())
            port = m and int(m.group(1))
            time.sleep(0.05)
        expect(port, "the log names the bound [::1] address")
        s = socket.create_connection(("::1", port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        res, _ = read_response(s, "GET", b"")
        s.close()
        expect(res and res[0] == 200, "/healthz over IPv6", res)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@case("SIGTERM stops the daemon cleanly")
def sigterm():
    D.check_log()
    expect(D.stop() == 0, "exit code 0", D.read_log()[-3000:])
    expect("stopped" in D.read_log(), "logged")
    D.check_log()


try:
    code = R.finish()
finally:
    D.stop()
    target.close()
sys.exit(code)
