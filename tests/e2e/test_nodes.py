#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# End-to-end tests of custom node types in a running daemon: modules
# dropped into its node directory and reloaded (API and SIGHUP) with no
# rebuild or restart; refused modules; a node type that disappears; the
# contrib nodes against the real target; hostile nodes beside healthy work.
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import ROOT, Daemon, Runner, Target, expect  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--moonwire", required=True)
opts = ap.parse_args()

R = Runner()
V1 = "/api/v1"
DONE = ("succeeded", "failed")
CONTRIB = os.path.join(ROOT, "contrib", "nodes")


# The cases run in order: later ones use the type and the integration the
# first ones install.
case = R.case


# A custom node as a user would write one: it posts a ticket to the
# target and saves its id, or adds a note to the saved ticket.
TICKET_NOTE = r'''
-- ticket_note: opens a ticket for an incident, then adds notes to it.
-- SPDX-License-Identifier: MIT
local M = {}
M.type = "ticket_note"
M.title = "Ticket note"
M.description = "Opens a ticket, then adds a note on later shares."
M.schema = {
  { name = "title", kind = "template", required = true, title = "Title" },
  { name = "priority", kind = "enum", enum = { "low", "high" },
    default = "low", title = "Priority" },
  { name = "api_key", kind = "string", secret = true, title = "API key" },
}
function M.ports() return { "next", "error" } end
function M.outputs() return { "ticket" } end
function M.run(ctx, config)
  local title, err = ctx:render(config.title)
  if not title then return nil, err end
  local base = ctx:get("integration.base_url")
  local id = ctx:get("externalId")
  local url = base .. "/tickets" .. (id and ("/" .. id .. "/notes") or "")
  local res, herr = ctx:http{ method = "POST", url = url,
    headers = { ["X-Api-Key"] = config.api_key },
    body = { title = title, priority = config.priority } }
  if not res then return nil, herr.message end
  if res.status >= 300 then return nil, "HTTP " .. res.status end
  ctx:set("ticket", res.json)
  if not id then
    local ok, serr = ctx:save_id(res.json.id, { unlock = true })
    if not ok then return nil, serr end
  end
  return "next"
end
return M
'''

# One small module per attack on the daemon.
HOSTILE = {
    "spin": ("while true do end", "instructions (its CPU bound)"),
    "spin_jit": ("local x = 0 for i = 1, 1e15 do x = x + i % 7 end",
                 "instructions (its CPU bound)"),
    "memory_bomb": ("local t = {} while true do t[#t + 1] = {1, 2, 3} end",
                    "memory bound"),
    "os_execute": ('os.execute("touch %s")', "'os'"),
    "error_table": ("error({ nope = true })", "table value"),
}

HOSTILE_MODULE = '''return {
  type = "%s", title = "Hostile", description = "An attack on the sandbox.",
  run = function(ctx, config)
    %s
    return "next"
  end,
}
'''


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def one_node(node_type, config=None):
    node = {"id": "n", "type": node_type}
    if config is not None:
        node["config"] = config
    return {"format": 1, "nodes": [node]}


def node_types(d):
    st, v, _ = d.api("GET", V1 + "/node-types")
    expect(st == 200, "GET node-types", st, v)
    return {t["type"]: t for t in v["node_types"]}, v["load_errors"]


def reload(d):
    st, v, _ = d.api("POST", V1 + "/node-types/reload", b"")
    expect(st == 200, "reload", st, v)
    return {t["type"]: t for t in v["node_types"]}, v["load_errors"]


def integration(d, name, doc, settings=None):
    """Creates an integration, imports doc, sets settings, activates it."""
    st, v, _ = d.api("POST", V1 + "/integrations", {"name": name})
    expect(st == 201, "create integration", st, v)
    iid, key = v["id"], v["app_key"]
    st, v, _ = d.api("PUT", "%s/integrations/%s/workflow" % (V1, iid), doc)
    expect(st == 201, "import " + name, st, v)
    patch = {"status": "active",
             "settings": dict(settings or {}, base_url=target.url)}
    st, v, _ = d.api("PATCH", "%s/integrations/%s" % (V1, iid), patch)
    expect(st == 200, "settings and status", st, v)
    return iid, key


def accept(d, key, share):
    st, v, _ = d.api("POST", V1 + "/shares", share, token=key)
    expect(st == 202, "share accepted", st, v)
    return v["share_id"]


def wait_done(d, sids, timeout=30):
    """Waits until every share has finished; returns {sid: share}."""
    out, deadline = {}, time.time() + timeout
    while len(out) < len(sids):
        for sid in sids:
            if sid not in out:
                st, v, _ = d.api("GET", "%s/shares/%d" % (V1, sid))
                expect(st == 200, "GET share", st, v)
                if v["status"] in DONE:
                    out[sid] = v
        if len(out) < len(sids):
            expect(time.time() < deadline, "shares finish in %ss" % timeout,
                   [s for s in sids if s not in out][:5])
            time.sleep(0.05)
    return out


def execution_of(d, sid, timeout=30):
    s = wait_done(d, [sid], timeout)[sid]
    st, v, _ = d.api("GET", "%s/executions/%d" % (V1, s["execution_id"]))
    expect(st == 200, "GET execution", st, v)
    return v


def sent(path_prefix, method=None):
    return [r for r in target.requests() if r["path"].startswith(path_prefix)
            and (method is None or r["method"] == method)]


def incident(inc, status="critical", **more):
    return {"incident": dict({"id": inc, "status": status,
                              "severity": "critical",
                              "description": "CPU load 97% on app-node-01"},
                             **more)}


target = Target()
NODE_DIR = tempfile.mkdtemp(prefix="mw-nodes-")
D = Daemon(opts.moonwire, env={"MOONWIRE_NODE_PATH": NODE_DIR})
PID = D.proc.pid
STATE = {}


@case("a module dropped into the node directory of a running daemon "
      "appears in GET /node-types after POST /node-types/reload")
def drop_and_reload():
    types, _ = node_types(D)
    expect("ticket_note" not in types, "not there before", sorted(types))
    write(os.path.join(NODE_DIR, "ticket_note.lua"), TICKET_NOTE)
    types, errors = reload(D)
    expect("ticket_note" in types, "loaded on reload", sorted(types), errors)
    t = types["ticket_note"]
    expect(t["builtin"] is False and t["title"] == "Ticket note",
           "a user type", t)
    fields = {f["name"]: f for f in t["schema"]}
    expect(fields["title"]["required"] and fields["title"]["kind"] == "template",
           "title field", fields)
    expect(fields["priority"]["enum"] == ["low", "high"] and
           fields["priority"]["default"] == "low", "priority field", fields)
    expect(fields["api_key"]["secret"] is True, "secret field", fields)
    expect(t["ports"] == ["next", "error"] and t["outputs"] == ["ticket"],
           "ports and outputs", t)
    types, _ = node_types(D)
    expect("ticket_note" in types, "listed by GET too", sorted(types))
    expect(D.proc.pid == PID and D.starts == 1, "no restart", D.starts)


@case("a workflow using the new type imports; configs its schema refuses "
      "get every problem with its JSON path")
def import_against_schema():
    st, v, _ = D.api("POST", V1 + "/integrations", {"name": "notes"})
    expect(st == 201, "create", st, v)
    iid, key = v["id"], v["app_key"]
    url = "%s/integrations/%s/workflow" % (V1, iid)
    st, v, _ = D.api("PUT", url, one_node("ticket_note",
                                          {"priority": "urgent", "colour": 1}))
    expect(st == 422, "refused", st, v)
    got = {e["path"]: e["message"] for e in v["errors"]}
    for p in ("$.nodes[0].config.title", "$.nodes[0].config.priority",
              "$.nodes[0].config.colour"):
        expect(p in got, "an error at " + p, v["errors"])
    expect("low, high" in got["$.nodes[0].config.priority"],
           "the enum is named", got)
    st, v, _ = D.api("PUT", url, one_node("ticket_note", {
        "title": "{{incident.description}}", "priority": "high",
        "api_key": "note-key-12345"}))
    expect(st == 201, "a valid config imports", st, v)
    st, v, _ = D.api("PATCH", "%s/integrations/%s" % (V1, iid), {
        "status": "active", "settings": {"base_url": target.url}})
    expect(st == 200, "activate", st, v)
    STATE["notes"] = (iid, key)


@case("the new type runs on shares: the target gets the ticket, then "
      "the note to the saved id; the secret stays out of the trace")
def runs_on_share():
    iid, key = STATE["notes"]
    target.reset()
    ex = execution_of(D, accept(D, key, incident("note-1")))
    expect(ex["status"] == "succeeded", "succeeded", ex)
    reqs = sent("/tickets", "POST")
    expect(len(reqs) == 1 and reqs[0]["path"] == "/tickets", "created", reqs)
    body = json.loads(reqs[0]["body"])
    expect(body == {"title": "CPU load 97% on app-node-01",
                    "priority": "high"}, "the body", body)
    expect(reqs[0]["headers"].get("x-api-key") == "note-key-12345",
           "the key reached the target", reqs[0]["headers"])
    expect("note-key-12345" not in json.dumps(ex), "not in the trace", ex)
    ex = execution_of(D, accept(D, key, incident("note-1", "warning")))
    expect(ex["status"] == "succeeded", "second share", ex)
    reqs = sent("/tickets/", "POST")
    expect([r["path"] for r in reqs] == ["/tickets/EXT-1/notes"],
           "a note to the saved ticket", [r["path"] for r in reqs])


@case("SIGHUP reloads the node directory too")
def sighup_reload():
    src = TICKET_NOTE.replace('"ticket_note"', '"ticket_hup"')
    write(os.path.join(NODE_DIR, "ticket_hup.lua"), src)
    D.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "ticket_hup" not in node_types(D)[0]:
        expect(time.time() < deadline, "loaded after SIGHUP", D.read_log()[-2000:])
        time.sleep(0.05)
    os.remove(os.path.join(NODE_DIR, "ticket_hup.lua"))
    reload(D)


@case("duplicate and broken modules are refused with messages naming the "
      "file, and the valid ones keep working")
def refused_modules():
    files = {
        "ticket_note_copy.lua": TICKET_NOTE,
        "http_again.lua": TICKET_NOTE.replace('"ticket_note"', '"http_request"'),
        "broken.lua": "return { type = 'broken', run = function( end }",
        "bad_kind.lua": TICKET_NOTE.replace('"ticket_note"', '"bad_kind"')
                                   .replace('kind = "template"', 'kind = "strng"'),
        "no_table.lua": "return 42",
    }
    for name, text in files.items():
        write(os.path.join(NODE_DIR, name), text)
    try:
        types, errors = reload(D)
        by_file = {os.path.basename(e["file"]): e["message"] for e in errors}
        for name in files:
            expect(name in by_file, "%s is refused" % name, errors)
        expect("already defined by" in by_file["ticket_note_copy.lua"] and
               "ticket_note.lua" in by_file["ticket_note_copy.lua"],
               "the duplicate names the first file", by_file)
        expect("http_request.lua" in by_file["http_again.lua"],
               "a clash with a built-in names it", by_file)
        expect(":1:" in by_file["broken.lua"], "the syntax error's line",
               by_file)
        expect("strng" in by_file["bad_kind.lua"] and
               "Did you mean" in by_file["bad_kind.lua"], "the bad kind", by_file)
        expect("must return a table" in by_file["no_table.lua"], "not a table",
               by_file)
        expect("ticket_note" in types and
               types["http_request"]["builtin"] is True,
               "the valid ones stay", sorted(types))
        log = D.read_log()
        expect("broken.lua refused" in log, "refusals are logged", log[-3000:])
        iid, key = STATE["notes"]
        ex = execution_of(D, accept(D, key, incident("note-2")))
        expect(ex["status"] == "succeeded", "the valid type still runs", ex)
    finally:
        for name in files:
            os.remove(os.path.join(NODE_DIR, name))
        reload(D)


@case("a stored workflow whose node type disappeared fails its shares "
      "with a clear reason; the daemon carries on, and recovers on return")
def type_disappears():
    iid, key = STATE["notes"]
    module = os.path.join(NODE_DIR, "ticket_note.lua")
    os.remove(module)
    try:
        types, _ = reload(D)
        expect("ticket_note" not in types, "gone", sorted(types))
        ex = execution_of(D, accept(D, key, incident("note-3")))
        expect(ex["status"] == "failed", "failed", ex)
        why = ex.get("error") or ""
        expect("no longer validates" in why and "ticket_note" in why and
               "$.nodes[0].type" in why, "the reason names the type", why)
        print("# " + why)
        st, v, _ = D.api("GET", "%s/integrations/%s/workflow" % (V1, iid))
        expect(st == 200 and v["nodes"][0]["type"] == "ticket_note",
               "its workflow can still be read", st, v)
        expect(D.alive() and D.api("GET", "/healthz")[0] == 200, "alive")
    finally:
        write(module, TICKET_NOTE)
        reload(D)
    ex = execution_of(D, accept(D, key, incident("note-4")))
    expect(ex["status"] == "succeeded", "back when the module is back", ex)


# ---- the contrib nodes, dropped in and run against the real target ------

def install_contrib():
    if STATE.get("contrib"):
        return
    for name in os.listdir(CONTRIB):
        if name.endswith(".lua"):
            shutil.copy(os.path.join(CONTRIB, name), NODE_DIR)
    shutil.copytree(os.path.join(CONTRIB, "lib"), os.path.join(NODE_DIR, "lib"),
                    dirs_exist_ok=True)
    types, errors = reload(D)
    secret = {"slack_message": "token", "pagerduty_event": "routing_key",
              "jira_issue": "api_token"}
    for t, field in secret.items():
        expect(t in types and not types[t]["builtin"], t + " loaded", errors)
        fields = {f["name"]: f for f in types[t]["schema"]}
        expect(fields[field]["secret"] is True and
               all(f.get("title") for f in fields.values()),
               t + ": the palette gets titles and the secret field", fields)
    STATE["contrib"] = True


@case("slack_message: posts, then edits the same message with its ts "
      "kept as the exact string")
def contrib_slack():
    install_contrib()
    _, key = integration(D, "slack", one_node("slack_message", {
        "channel": "#ops", "text": "{{incident.status}}: {{incident.description}}",
        "base_url": "{{integration.base_url}}"}),
        {"slack_token": "xoxb-e2e-token-42"})
    target.reset()
    ex = execution_of(D, accept(D, key, incident("slack-1")))
    expect(ex["status"] == "succeeded", "posted", ex)
    ex = execution_of(D, accept(D, key, incident("slack-1", "ok")))
    expect(ex["status"] == "succeeded", "updated", ex)
    reqs = sent("/chat.")
    expect([r["path"] for r in reqs] == ["/chat.postMessage", "/chat.update"],
           "post then update", [r["path"] for r in reqs])
    expect(reqs[0]["headers"]["authorization"] == "Bearer xoxb-e2e-token-42",
           "the bot token", reqs[0]["headers"])
    expect(json.loads(reqs[0]["body"]) == {
        "channel": "#ops", "text": "critical: CPU load 97% on app-node-01"},
        "the post", reqs[0]["body"])
    expect(json.loads(reqs[1]["body"]) == {
        "channel": "C1", "ts": "1717236000.000101",
        "text": "ok: CPU load 97% on app-node-01"}, "the update", reqs[1]["body"])
    expect('"ts": "1717236000.000101"' in reqs[1]["body"] or
           '"ts":"1717236000.000101"' in reqs[1]["body"], "ts as a string",
           reqs[1]["body"])
    expect("xoxb-e2e-token-42" not in json.dumps(ex), "token not traced", ex)


@case("pagerduty_event: triggers, then resolves the same dedup key; the "
      "routing key is redacted in the trace")
def contrib_pagerduty():
    install_contrib()
    rkey = "0123456789abcdef0123456789abcdef"
    _, key = integration(D, "pagerduty", one_node("pagerduty_event", {
        "summary": "{{incident.description}}", "source": "app-node-01",
        "base_url": "{{integration.base_url}}"}),
        {"pagerduty_routing_secret": rkey})
    target.reset()
    ex = execution_of(D, accept(D, key, incident("pd-1")))
    expect(ex["status"] == "succeeded", "triggered", ex)
    ex = execution_of(D, accept(D, key, incident("pd-1", "ok")))
    expect(ex["status"] == "succeeded", "resolved", ex)
    bodies = [json.loads(r["body"]) for r in sent("/v2/enqueue", "POST")]
    expect([b["event_action"] for b in bodies] == ["trigger", "resolve"],
           "trigger then resolve", bodies)
    expect(all(b["routing_key"] == rkey and b["dedup_key"] == "pd-1"
               for b in bodies), "one key, one alert", bodies)
    expect(bodies[0]["payload"] == {"summary": "CPU load 97% on app-node-01",
                                    "source": "app-node-01",
                                    "severity": "critical"}, "payload", bodies)
    text = json.dumps(ex)
    expect(rkey not in text and "[redacted]" in text, "redacted", text[:2000])


@case("jira_issue: creates (API v2, Basic auth), then updates and comments "
      "on the saved issue")
def contrib_jira():
    install_contrib()
    _, key = integration(D, "jira", one_node("jira_issue", {
        "api_version": "2", "base_url": "{{integration.base_url}}",
        "project": "OPS", "summary": "{{incident.description}}",
        "comment": "Status: {{incident.status}}"}),
        {"jira_email": "ops@example.com", "jira_api_token": "ATATT-e2e"})
    target.reset()
    ex = execution_of(D, accept(D, key, incident("jira-1")))
    expect(ex["status"] == "succeeded", "created", ex)
    ex = execution_of(D, accept(D, key, incident("jira-1", "ok")))
    expect(ex["status"] == "succeeded", "updated", ex)
    reqs = sent("/rest/api/2/issue")
    got = [(r["method"], r["path"]) for r in reqs]
    expect(got[0] == ("POST", "/rest/api/2/issue") and
           got[1][0] == "PUT" and got[1][1].startswith("/rest/api/2/issue/1000")
           and got[2] == ("POST", got[1][1] + "/comment"), "the calls", got)
    basic = base64.b64encode(b"ops@example.com:ATATT-e2e").decode()
    expect(reqs[0]["headers"]["authorization"] == "Basic " + basic,
           "Basic auth", reqs[0]["headers"])
    expect(json.loads(reqs[0]["body"])["fields"]["project"] == {"key": "OPS"},
           "the project", reqs[0]["body"])
    expect(json.loads(reqs[2]["body"]) == {"body": "Status: ok"}, "comment",
           reqs[2]["body"])
    expect(basic not in json.dumps(ex) and "ATATT" not in json.dumps(ex),
           "credentials not traced")


# ---- hostile nodes beside healthy work -------------------------------------

@case("hostile nodes (loops, a JIT loop, a memory bomb, os.execute, a "
      "table error) are stopped with a clear error while another "
      "integration's shares keep succeeding")
def hostile_beside_healthy():
    pwned = os.path.join(NODE_DIR, "pwned")
    for name, (body, _) in HOSTILE.items():
        if "%s" in body:
            body = body % pwned
        write(os.path.join(NODE_DIR, "hostile_%s.lua" % name),
              HOSTILE_MODULE % ("hostile_" + name, body))
    try:
        types, errors = reload(D)
        keys = {}
        for name in HOSTILE:
            expect("hostile_" + name in types, name + " loads", errors)
            keys[name] = integration(D, "hostile " + name,
                                     one_node("hostile_" + name))[1]
        _, good = integration(D, "healthy", one_node("ticket_note", {
            "title": "{{incident.description}}"}))
        t0 = time.time()
        bad, ok = {}, []
        for round_ in range(2):
            for name, k in keys.items():
                bad.setdefault(name, []).append(
                    accept(D, k, incident("h-%s-%d" % (name, round_))))
                for i in range(3):
                    ok.append(accept(D, good, incident("ok-%d-%s-%d"
                                                       % (round_, name, i))))
        done = wait_done(D, ok + sum(bad.values(), []), timeout=60)
        elapsed = time.time() - t0
        expect(all(done[s]["status"] == "succeeded" for s in ok),
               "every healthy share succeeded",
               [done[s] for s in ok if done[s]["status"] != "succeeded"])
        for name, sids in bad.items():
            for sid in sids:
                ex = execution_of(D, sid)
                why = ex.get("error") or ""
                expect(ex["status"] == "failed" and HOSTILE[name][1] in why,
                       "%s stopped with a clear error" % name, why)
                expect(ex["duration_ms"] < 10000, name + " within its bound",
                       ex["duration_ms"])
        expect(not os.path.exists(pwned), "os.execute did nothing")
        expect(D.alive() and D.api("GET", "/healthz")[0] == 200, "alive")
        print("# %d healthy and %d hostile shares in %.1fs"
              % (len(ok), sum(len(v) for v in bad.values()), elapsed))
    finally:
        for name in HOSTILE:
            os.remove(os.path.join(NODE_DIR, "hostile_%s.lua" % name))
        reload(D)


@case("serve --node-path DIR on the command line loads DIR's modules")
def node_path_flag():
    d2 = tempfile.mkdtemp(prefix="mw-serve-")
    nodes = os.path.join(d2, "nodes")
    os.mkdir(nodes)
    write(os.path.join(nodes, "ticket_note.lua"), TICKET_NOTE)
    env = dict(os.environ, MOONWIRE_ADMIN_TOKEN=Daemon.TOKEN)
    env.pop("MOONWIRE_NODE_PATH", None)
    log = open(os.path.join(d2, "log"), "w")
    p = subprocess.Popen([os.path.abspath(opts.moonwire), "serve", "--listen",
                          "127.0.0.1:0", "--data-dir", os.path.join(d2, "data"),
                          "--node-path", nodes], stdout=log,
                         stderr=subprocess.STDOUT, env=env)
    try:
        port, deadline = None, time.time() + 20
        while port is None:
            expect(p.poll() is None and time.time() < deadline, "started",
                   open(log.name).read())
            for line in open(log.name).read().splitlines():
                if " listening on 127.0.0.1:" in line:
                    port = int(line.split("127.0.0.1:")[1].split()[0])
            time.sleep(0.05)
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s/node-types" % (port, V1),
            headers={"Authorization": "Bearer " + Daemon.TOKEN})
        with urllib.request.urlopen(req, timeout=10) as r:
            v = json.loads(r.read())
        expect(any(t["type"] == "ticket_note" for t in v["node_types"]),
               "loaded", v)
    finally:
        p.terminate()
        p.wait(20)
        log.close()
        shutil.rmtree(d2, ignore_errors=True)


code = R.finish()
D.stop()
D.check_log()
target.close()
shutil.rmtree(NODE_DIR, ignore_errors=True)
sys.exit(code)
