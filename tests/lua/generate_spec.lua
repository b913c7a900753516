-- Specs for moonwire.generate: the builtin planner on many phrasings of
-- each kind of request (each draft is run on sample shares with answered
-- requests), secrets, partial drafts, the dry run and the openai provider
-- against a scripted chat-completions peer.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local runtime = require("moonwire.runtime")
local generate = require("moonwire.generate")

local T = "http://t.test"

local INCIDENT = [[{"id": "inc-1", "status": "critical", "severity": "critical",
  "active": true, "incident_tags": [],
  "alerts": [{"description": "CPU load 97% on app-1", "source_system": "mon",
    "tags": [{"name": "host", "value": "app-1.example"},
             {"name": "service", "value": "checkout"},
             {"name": "environment", "value": "production"}]}]}]]

-- Generates without a database; secrets are kept in `kept`.
local function gen(prompt)
  local kept = {}
  local res, err = generate.generate(prompt, { dry_run = false,
    store_secret = function(name, value) kept[name] = value; return true end })
  assert(res, err)
  local wf, errors = runtime.load_workflow(res.workflow)
  assert(wf, errors and errors[1] and errors[1].message)
  return res, wf, kept
end

-- The answer a fake peer gives to a request: ids where targets put them.
local function answer(req)
  local u = req.url
  local body = '{"ok": true}'
  if u:find("/oauth/token") then
    body = '{"access_token": "tok-1", "expires_in": 3600}'
  elseif u:find("/api/now/table/%w+$") then
    body = '{"result": {"sys_id": "SYS-1"}}'
  elseif u:find("/rest/api/2/issue$") then
    body = '{"id": "10001", "key": "OPS-1"}'
  elseif u:find("chat%.postMessage") then
    body = '{"ok": true, "ts": "1717236000.000101"}'
  elseif u:find("tickets%.json$") then
    body = '{"ticket": {"id": 9001}}'
  elseif u:find("/tickets$") then
    body = '{"id": "EXT-1"}'
  end
  return { status = req.method == "POST" and 201 or 200,
    headers = { ["content-type"] = "application/json" }, body = body }
end

-- Runs a loaded workflow on one share; returns the requests sent as
-- "METHOD URL" strings, their bodies, and the execution.
local function simulate(wf, kept, opts)
  opts = opts or {}
  local incident = json.decode(INCIDENT)
  for k, v in pairs(opts.incident or {}) do incident[k] = v end
  local share = { incident = incident, metadata = {
    event_type = opts.event or "incident#new", firstTime = opts.first ~= false } }
  local exec = assert(runtime.prepare(wf, share, { live = true,
    integration = "spec-generate", settings = kept }))
  exec.id = 0
  if opts.external_id then exec.vars.externalId = opts.external_id end
  local sent, bodies = {}, {}
  exec.http_stub = function(req)
    sent[#sent + 1] = req.method .. " " .. req.url
    bodies[#bodies + 1] = req.body or ""
    if opts.fail and req.url:find(opts.fail, 1, true) then
      return { status = 500, headers = {}, body = "" }
    end
    return answer(req)
  end
  exec.save_link = function() end
  exec.sleep_stub = function() end
  require("moonwire.oauth").clear()
  local id = wf.start
  while id do
    local port, status = runtime.run_node(exec, wf.by_id[id].index)
    id = wf.next[id][status == "error" and "error" or port]
  end
  return sent, bodies, exec
end

local function scenario(wf, kept, name)
  if name == "new" then return simulate(wf, kept) end
  if name == "update" then
    return simulate(wf, kept, { first = false, event = "incident#updated",
      external_id = "EXT-1" })
  end
  if name == "resolved" then
    return simulate(wf, kept, { first = false, event = "incident#updated",
      external_id = "EXT-1", incident = { status = "ok", active = false } })
  end
  if name == "closed" then
    return simulate(wf, kept, { first = false, event = "incident#closed",
      external_id = "EXT-1" })
  end
  if name == "warning" then
    return simulate(wf, kept, { incident = { status = "warning",
      severity = "warning" } })
  end
  return simulate(wf, kept, { fail = "/tickets" })
end

local function sends(prompt, expected)
  local _, wf, kept = gen(prompt)
  for name, want in pairs(expected) do
    local sent = scenario(wf, kept, name)
    expect(table.concat(sent, ", ")):to_be(table.concat(want, ", "))
  end
end

local function body_of(prompt, name)
  local _, wf, kept = gen(prompt)
  local _, bodies = scenario(wf, kept, name or "new")
  return bodies[#bodies] or ""
end

-- The workflow's nodes of a type, in order.
local function nodes_of(doc, typ)
  local out = {}
  for _, n in ipairs(doc.nodes) do
    if n.type == typ then out[#out + 1] = n end
  end
  return out
end

-- The URL of the first request reached from a node's port, through the
-- transforms before it; nil when the port is unwired.
local function request_after(doc, from, port)
  local by_id = {}
  for _, n in ipairs(doc.nodes) do by_id[n.id] = n end
  local at, p = from, port
  for _ = 1, #doc.nodes do
    local to
    for _, e in ipairs(doc.connections) do
      if e.from == at and e.port == p then to = e.to end
    end
    if not to then return nil end
    local n = by_id[to]
    if n.type == "http_request" then return n.config.url end
    expect(n.type):to_be("transform")
    at, p = to, "next"
  end
  return nil
end

-- A flow_control node's routes as "port=v1|v2" words, in order.
local function routes_of(node)
  local out = {}
  for i, r in ipairs(node.config.routes) do
    local vals = r.values or { r.value }
    local words = {}
    for j, v in ipairs(vals) do words[j] = tostring(v) end
    out[i] = r.port .. "=" .. table.concat(words, "|")
  end
  return table.concat(out, ", ")
end

describe("generate routing", function()
  it("routes new and update shares on metadata.firstTime", function()
    local _, wf = gen("For new incidents POST " .. T .. "/tickets and save the "
      .. "id; for updates PUT " .. T .. "/tickets/<id>.")
    expect(wf.nodes[1].config.source):to_be("metadata.firstTime")
    sends("For new incidents POST " .. T .. "/tickets and save the id; for "
      .. "updates PUT " .. T .. "/tickets/<id>.",
      { new = { "POST " .. T .. "/tickets" },
        update = { "PUT " .. T .. "/tickets/EXT-1" } })
  end)

  it("reads the first share in many words", function()
    for _, phrase in ipairs({ "When an incident is first shared",
      "On the first share", "For brand new incidents", "If the incident is new",
      "Whenever an incident is created", "New incidents:" }) do
      sends(phrase .. ", POST " .. T .. "/tickets and keep the id. On later "
        .. "shares PATCH " .. T .. "/tickets/{id}.",
        { new = { "POST " .. T .. "/tickets" },
          update = { "PATCH " .. T .. "/tickets/EXT-1" } })
    end
  end)

  it("routes on the event type when the prompt names event types", function()
    local _, wf = gen("On incident#new POST " .. T .. "/tickets and save the id; "
      .. "on incident#updated PUT " .. T .. "/tickets/<external id>.")
    expect(wf.nodes[1].config.source):to_be("metadata.event_type")
  end)

  it("lets a closing share win over the update path", function()
    sends("New incidents: POST " .. T .. "/tickets, save the id. Updates: PUT "
      .. T .. "/tickets/<id>. When the incident is closed, DELETE "
      .. T .. "/tickets/<id>.",
      { closed = { "DELETE " .. T .. "/tickets/EXT-1" },
        update = { "PUT " .. T .. "/tickets/EXT-1" } })
  end)

  it("routes on status values, with nothing sent otherwise", function()
    sends("If the status is critical, POST to " .. T .. "/pager. If it is "
      .. "warning, POST to " .. T .. "/chat. Otherwise do nothing.",
      { new = { "POST " .. T .. "/pager" }, warning = { "POST " .. T .. "/chat" },
        resolved = {} })
  end)

  it("reads severity and several values", function()
    sends("Send incidents whose severity is critical or warning to " .. T
      .. "/alerts.", { new = { "POST " .. T .. "/alerts" },
      warning = { "POST " .. T .. "/alerts" } })
    sends("Send incidents with status critical or warning to " .. T
      .. "/alerts.", { new = { "POST " .. T .. "/alerts" }, resolved = {} })
  end)

  it("reads 'critical or warning severity' as one gate on severity", function()
    local p = "Send to PagerDuty events v2 at " .. T .. "/v2/enqueue with routing "
      .. "key R0UTKEYsecret999. Trigger when active, resolve when not active. "
      .. "Only for critical or warning severity."
    local res = gen(p)
    local doc = res.workflow
    local switches = nodes_of(doc, "flow_control")
    expect(#switches):to_be(1)
    expect(switches[1].config.source):to_be("incident.severity")
    local route = switches[1].config.routes
    expect(#route):to_be(1)
    expect(route[1].value):to_be_nil()
    expect(table.concat(route[1].values, ",")):to_be("critical,warning")
    expect(#nodes_of(doc, "http_request")):to_be(1)
    expect(request_after(doc, switches[1].id, route[1].port))
      :to_be(T .. "/v2/enqueue")
    expect(request_after(doc, switches[1].id, "default")):to_be_nil()
    sends(p, { new = { "POST " .. T .. "/v2/enqueue" },
      warning = { "POST " .. T .. "/v2/enqueue" } })
  end)

  it("routes on severity with the variable said once for the list", function()
    local p = "route by severity: critical incidents POST to " .. T .. "/crit, "
      .. "warning ones POST to " .. T .. "/warn, otherwise do nothing"
    local res = gen(p)
    local doc = res.workflow
    local switches = nodes_of(doc, "flow_control")
    expect(#switches):to_be(1)
    local sw = switches[1]
    expect(sw.config.source):to_be("incident.severity")
    expect(routes_of(sw)):to_be("critical=critical, warning=warning")
    expect(request_after(doc, sw.id, "critical")):to_be(T .. "/crit")
    expect(request_after(doc, sw.id, "warning")):to_be(T .. "/warn")
    expect(request_after(doc, sw.id, "default")):to_be_nil()
    for _, e in ipairs(doc.connections) do
      local n
      for _, m in ipairs(doc.nodes) do
        if m.id == e.from then n = m end
      end
      expect(n.type == "http_request" and e.port == "next"):to_be(false)
    end
    sends(p, { new = { "POST " .. T .. "/crit" }, warning = { "POST " .. T .. "/warn" } })
  end)

  it("gates on 'only' and lets 'ignore' exclude values", function()
    sends("Only forward critical incidents to " .. T .. "/pager.",
      { new = { "POST " .. T .. "/pager" }, warning = {} })
    sends("Ignore incidents whose status is ok; send the rest to " .. T .. "/x.",
      { new = { "POST " .. T .. "/x" }, resolved = {} })
  end)

  it("routes on tags of the incident and its alerts", function()
    sends("If the environment tag is production, POST to " .. T .. "/prod; "
      .. "otherwise POST to " .. T .. "/dev.", { new = { "POST " .. T .. "/prod" } })
    sends("Forward incidents tagged service=billing to " .. T .. "/billing.",
      { new = {} })
  end)

  it("sends every share when the prompt says so", function()
    sends("Send every incident to " .. T .. "/hooks as a JSON POST.",
      { new = { "POST " .. T .. "/hooks" }, update = { "POST " .. T .. "/hooks" } })
  end)
end)

describe("generate requests", function()
  it("keeps URLs as written, trailing punctuation aside", function()
    sends("POST every incident to " .. T .. "/a/b?x=1.",
      { new = { "POST " .. T .. "/a/b?x=1" } })
  end)

  it("reads placeholders in URLs as the saved ID or the incident id", function()
    sends("New: POST " .. T .. "/t and save the id. Updates: PUT " .. T
      .. "/t/{externalId} and POST " .. T .. "/log/<incident id>.",
      { update = { "PUT " .. T .. "/t/EXT-1", "POST " .. T .. "/log/inc-1" } })
  end)

  it("puts bare paths under the base_url setting", function()
    local res = gen("POST new incidents to /api/tickets.")
    expect(json.encode(res.workflow)):to_contain("{{integration.base_url}}/api/tickets")
    expect(json.encode(res.needs)):to_contain("base_url")
  end)

  it("takes the method named nearest the URL", function()
    sends("Send a PATCH to " .. T .. "/x with the status.",
      { new = { "PATCH " .. T .. "/x" } })
    sends("Webhook: " .. T .. "/hook. Method: PUT.", { new = { "PUT " .. T .. "/hook" } })
  end)

  it("saves the ID where the prompt says it is", function()
    local cases = {
      { "save the id", "createResponse.id" },
      { "save result.sys_id", "createResponse.result.sys_id" },
      { "remember the key", "createResponse.key" },
      { "keep the ts field as the external id", "createResponse.ts" },
      { "store ticket.id", "createResponse.ticket.id" },
      { "remember the alert id from data.id", "createResponse.data.id" },
    }
    for _, c in ipairs(cases) do
      local _, wf = gen("New incidents: POST " .. T .. "/x and " .. c[1]
        .. ". Updates: PUT " .. T .. "/x/<id>.")
      local found
      for _, n in ipairs(wf.nodes) do
        if n.type == "save_id" then found = n.config.external_id end
      end
      expect(found):to_be(c[2])
    end
  end)

  it("saves the create response's ID when updates need it", function()
    local res, wf = gen("Open a ServiceNow incident for new incidents at " .. T
      .. "/api/now/table/incident; PATCH it when the incident is updated.")
    local save
    for _, n in ipairs(wf.nodes) do
      if n.type == "save_id" then save = n.config.external_id end
    end
    expect(save):to_be("createResponse.result.sys_id")
    expect(res.explanation):to_contain("result.sys_id")
  end)

  it("wires 'if it fails' requests to the error port", function()
    local _, wf, kept = gen("POST the incident to " .. T .. "/tickets. If it "
      .. "fails, notify " .. T .. "/alerts.")
    local sent = scenario(wf, kept, "failure")
    expect(table.concat(sent, ", ")):to_be("POST " .. T .. "/tickets, POST "
      .. T .. "/alerts")
    expect(table.concat(scenario(wf, kept, "new"), ", ")):to_be("POST " .. T
      .. "/tickets")
  end)

  it("takes the failing request from 'if creating X fails'", function()
    local _, wf, kept = gen("If creating the ticket at " .. T .. "/tickets "
      .. "fails, POST the incident to " .. T .. "/backup.")
    expect(table.concat(scenario(wf, kept, "new"), ", ")):to_be("POST " .. T
      .. "/tickets")
  end)

  it("applies retries and timeouts", function()
    local _, wf = gen("POST to " .. T .. "/x, retry up to 5 times, with a "
      .. "timeout of 10 seconds.")
    local http
    for _, n in ipairs(wf.nodes) do
      if n.type == "http_request" then http = n.config end
    end
    expect(http.retry.attempts):to_be(5)
    expect(http.timeout_ms):to_be(10000)
  end)
end)

describe("generate bodies", function()
  it("sends the fields named, typed", function()
    local b = json.decode(body_of("POST to " .. T .. "/events with the incident "
      .. "id, the number of alerts and a list of the hosts from the alert tags."))
    expect(b.incident_id):to_be("inc-1")
    expect(b.alert_count):to_be(1)
    expect(b.hosts[1]):to_be("app-1.example")
  end)

  it("writes message text with placeholders", function()
    local b = body_of("Post a chat message to " .. T .. "/chat whose text says: "
      .. "Incident <id> is <status>.")
    expect(b):to_contain("Incident inc-1 is critical")
    b = body_of("Post a message to " .. T .. "/chat with the text "
      .. "\"{{incident.id}} went {{incident.status}}\".")
    expect(b):to_contain("inc-1 went critical")
  end)

  it("maps severity to priority with the pairs given", function()
    local p = "Send to " .. T .. "/t with priority mapped from severity "
      .. "(critical -> P1, warning -> P2, otherwise P3)."
    expect(json.decode(body_of(p)).priority):to_be("P1")
    expect(json.decode(body_of(p, "warning")).priority):to_be("P2")
    expect(json.decode(body_of("Map the severity to a priority: critical=1, "
      .. "warning=2, else 3. POST " .. T .. "/t.")).priority):to_be(1)
  end)

  it("reads values under conditions", function()
    local p = "POST " .. T .. "/e with event_action trigger for active incidents "
      .. "and resolve when the incident is no longer active."
    expect(json.decode(body_of(p)).event_action):to_be("trigger")
    expect(json.decode(body_of(p, "resolved")).event_action):to_be("resolve")
    p = "POST to " .. T .. "/t with a priority field: 1 when the severity is "
      .. "critical, 2 when it is warning, 3 otherwise."
    expect(json.decode(body_of(p, "warning")).priority):to_be(2)
  end)

  it("takes fields from a sentence of their own", function()
    local b = json.decode(body_of("POST " .. T .. "/x. caller_id set to bigpanda. "
      .. "Use the incident id as correlation_id."))
    expect(b.caller_id):to_be("bigpanda")
    expect(b.correlation_id):to_be("inc-1")
  end)

  it("includes the external ID in update payloads", function()
    expect(body_of("If it is new, send it to " .. T .. "/tickets and save the "
      .. "id. If it is an update, include the external ID in the update "
      .. "payload and send it to " .. T .. "/tickets/update.", "update"))
      :to_contain("EXT-1")
  end)
end)

describe("generate well-known targets", function()
  it("ServiceNow: short_description, string urgency, state on update", function()
    local p = "Create a ServiceNow incident at " .. T .. "/api/now/table/incident "
      .. "with urgency 1, save result.sys_id, and PATCH " .. T
      .. "/api/now/table/incident/<sys_id> with the new state on updates."
    local b = json.decode(body_of(p))
    expect(b.short_description):to_be("CPU load 97% on app-1")
    expect(b.urgency):to_be("1")
    expect(json.decode(body_of(p, "resolved")).state):to_be("6")
  end)

  it("Jira: project and issue type, comment on update", function()
    local p = "Create a Jira issue in project OPS as a Bug at " .. T
      .. "/rest/api/2/issue and save the key. On updates add a comment via "
      .. "POST " .. T .. "/rest/api/2/issue/<key>/comment."
    local b = json.decode(body_of(p))
    expect(b.fields.project.key):to_be("OPS")
    expect(b.fields.issuetype.name):to_be("Bug")
    sends(p, { update = { "POST " .. T .. "/rest/api/2/issue/EXT-1/comment" } })
  end)

  it("Slack: channel, text and the thread on updates", function()
    local p = "Post to Slack at " .. T .. "/chat.postMessage in channel #ops, "
      .. "save the ts and reply in the same thread on updates."
    expect(json.decode(body_of(p)).channel):to_be("#ops")
    expect(json.decode(body_of(p, "update")).thread_ts):to_be("EXT-1")
  end)

  it("Slack without a URL reads the token from a setting", function()
    local res = gen("Send a Slack message to #incidents for every incident.")
    local text = json.encode(res.workflow)
    expect(text):to_contain("https://slack.com/api/chat.postMessage")
    expect(text):to_contain("Bearer {{integration.slack_token}}")
    expect(json.encode(res.warnings)):to_contain("slack_token")
  end)

  it("PagerDuty: routing key kept secret, trigger and resolve", function()
    local p = "Trigger a PagerDuty event at " .. T .. "/v2/enqueue with routing "
      .. "key RK-42; resolve it when the incident is resolved."
    local res, wf, kept = gen(p)
    expect(kept.routing_key):to_be("RK-42")
    expect(json.encode(res.workflow):find("RK-42", 1, true)):to_be_nil()
    local _, bodies = scenario(wf, kept, "new")
    local b = json.decode(bodies[1])
    expect(b.event_action):to_be("trigger")
    expect(b.routing_key):to_be("RK-42")
    expect(b.dedup_key):to_be("inc-1")
    _, bodies = scenario(wf, kept, "resolved")
    expect(json.decode(bodies[1]).event_action):to_be("resolve")
  end)

  it("Zendesk: ticket body and the .json record URL", function()
    local p = "Open a Zendesk ticket at " .. T .. "/api/v2/tickets.json and "
      .. "remember ticket.id; on updates PUT the status."
    expect(json.decode(body_of(p)).ticket.subject):to_be("CPU load 97% on app-1")
    sends(p, { update = { "PUT " .. T .. "/api/v2/tickets/EXT-1.json" } })
  end)

  it("Opsgenie: alias, GenieKey and close by alias", function()
    local p = "Create an Opsgenie alert at " .. T .. "/v2/alerts with API key "
      .. "abc-123, and close it when the incident is resolved."
    local res, wf, kept = gen(p)
    expect(json.encode(res.workflow)):to_contain("GenieKey {{integration.api_key}}")
    expect(kept.api_key):to_be("abc-123")
    local sent = scenario(wf, kept, "resolved")
    expect(sent[1]):to_be("POST " .. T .. "/v2/alerts/EXT-1/close?identifierType=alias")
  end)
end)

describe("generate auth and secrets", function()
  local oauth = "Get a token from " .. T .. "/oauth/token with client id mw-client "
    .. "and client secret s3cr3t (scope tickets.write), then POST the incident "
    .. "to " .. T .. "/tickets using the bearer token."

  it("builds an OAuth node with the secret as a setting reference", function()
    local res, wf, kept = gen(oauth)
    local node = wf.nodes[1]
    expect(node.type):to_be("oauth")
    expect(node.config.token_url):to_be(T .. "/oauth/token")
    expect(node.config.client_id):to_be("mw-client")
    expect(node.config.scope):to_be("tickets.write")
    expect(node.config.client_secret):to_be("{{integration.client_secret}}")
    expect(kept.client_secret):to_be("s3cr3t")
    local sent = scenario(wf, kept, "new")
    expect(sent[2]):to_be("POST " .. T .. "/tickets")
    expect(json.encode(res)):to_be(json.encode(res))
    expect(json.encode(res):find("s3cr3t", 1, true)):to_be_nil()
  end)

  it("sends OAuth credentials in the body when asked", function()
    local _, wf = gen(oauth .. " Send the credentials in the request body.")
    expect(wf.nodes[1].config.auth_method):to_be("post")
  end)

  it("keeps the secret reference in the printed workflow", function()
    local res = gen(oauth)
    local text = generate.export(res.workflow)
    expect(text):to_contain('"client_secret": "{{integration.client_secret}}"')
    local again = runtime.load_workflow(text)
    expect(again ~= nil):to_be(true)
  end)

  it("turns static and secret headers into headers and settings", function()
    local res, _, kept = gen("Every request must carry the header X-Api-Key: "
      .. "abc123 and the header X-Source: moonwire. POST " .. T .. "/x.")
    local text = json.encode(res.workflow)
    expect(text):to_contain('"X-Api-Key":"{{integration.api_key}}"')
    expect(text):to_contain('"X-Source":"moonwire"')
    expect(kept.api_key):to_be("abc123")
  end)

  it("builds basic auth credentials into a secret setting", function()
    local res, _, kept = gen("Use basic auth with username bot and password "
      .. "hunter22 and POST every incident to " .. T .. "/events.")
    expect(kept.basic_auth):to_be("Basic Ym90Omh1bnRlcjIy")
    expect(json.encode(res.workflow)):to_contain("{{integration.basic_auth}}")
    expect(json.encode(res):find("hunter22", 1, true)):to_be_nil()
  end)

  it("reads an e-mail address and API token as Jira Cloud basic auth", function()
    local tok = "ATATT3xFfGF0SuperSecretJiraTok"
    local res, _, kept = gen("Create a Jira issue at " .. T .. "/rest/api/2/issue "
      .. "authenticating with email bob@corp.com and API token " .. tok
      .. ", and save the key.")
    local core = require("moonwire.core")
    expect(kept.basic_auth):to_be("Basic " .. core.base64("bob@corp.com:" .. tok))
    expect(kept.api_key):to_be_nil()
    local text = json.encode(res.workflow)
    expect(text):to_contain('"Authorization":"{{integration.basic_auth}}"')
    expect(text:find("Bearer", 1, true)):to_be_nil()
    expect(json.encode(res):find(tok, 1, true)):to_be_nil()
    local warnings = json.encode(res.warnings)
    expect(warnings:find("e-mail", 1, true)):to_be_nil()
    expect(warnings:find("email", 1, true)):to_be_nil()
  end)

  it("says where a secret could not be kept", function()
    local res = generate.generate("Use the bearer token xyz-1 and POST to "
      .. T .. "/x.", { dry_run = false, store_secret = function()
        return nil, "no store" end })
    expect(json.encode(res.warnings)):to_contain("api_key")
    expect(res.secrets[1].stored):to_be(false)
    expect(json.encode(res):find("xyz-1", 1, true)):to_be_nil()
  end)
end)

describe("generate partial drafts", function()
  it("gives a valid draft and a warning for a prompt it cannot read", function()
    local res = gen("Make me a sandwich with extra pickles.")
    expect(#res.warnings > 0):to_be(true)
    expect(json.encode(res.workflow)):to_contain("webhook_url")
  end)

  it("warns about what it does not do", function()
    local res = gen("POST to " .. T .. "/x. If it fails, send an email to ops.")
    expect(json.encode(res.warnings)):to_contain("e-mail")
  end)

  it("never fails on odd input", function()
    local odd = { "...", "http://", "POST", "{TARGET}", "<>{}[]", "ñandú 🚀 " .. T,
      string.rep("send it to " .. T .. "/x and ", 200), "if if if when otherwise",
      "save the id", "For updates PUT " .. T .. "/t/<id>.", "\0\1\2" }
    for _, p in ipairs(odd) do gen(p) end
  end)

  it("gives a valid draft that its dry run passes for word salad", function()
    local words = {}
    for w in ([[new update closed resolved critical warning ok status if when
      otherwise only ignore every and then , . ; : POST PUT PATCH DELETE send
      create save the id key ts result.sys_id token oauth client secret s3cr3t
      header X-Api-Key: abc Authorization: Bearer basic password map priority
      -> P1 = 1 with containing text says "Incident <id>" <external id> {id}
      tag environment service=checkout incident#closed fails retry 3 times
      slack servicenow jira zendesk opsgenie pagerduty routing key channel #ops
      http://t.test/a http://t.test/b/<id> /rel/path event_action trigger
      resolve active no longer hosts number of alerts description alert's
      urgency state use as set to include in payload]]):gmatch("%S+") do
      words[#words + 1] = w
    end
    math.randomseed(7)
    for _ = 1, 150 do
      local p = {}
      for j = 1, math.random(1, 30) do p[j] = words[math.random(#words)] end
      local res = generate.generate(table.concat(p, " "),
        { store_secret = function() return true end })
      for _, w in ipairs(res.warnings) do
        expect(w:find("planner failed") or w:find("did not validate")
          or w:find("dry run")):to_be_nil()
      end
    end
  end)

  it("refuses an empty prompt", function()
    local res, err = generate.generate("   ")
    expect(res):to_be_nil()
    expect(err):to_contain("empty")
  end)
end)

describe("generate dry run", function()
  it("attaches a trace per sample share", function()
    local res = generate.generate("For new incidents POST " .. T .. "/t and save "
      .. "the id. If it fails, POST " .. T .. "/alerts.",
      { store_secret = function() return true end })
    expect(#res.trace):to_be(3)
    expect(res.trace[1].scenario):to_be("new")
    expect(res.trace[1].status):to_be("succeeded")
    expect(res.trace[3].nodes[#res.trace[3].nodes].id):to_be("failure")
  end)

  it("leaves the OAuth token cache and real tokens alone", function()
    local oauth = require("moonwire.oauth")
    local before = oauth.token
    local res = generate.generate("Get a token from " .. T .. "/oauth/token with "
      .. "client id a and client secret bbb-1, then POST to " .. T .. "/x.",
      { store_secret = function() return true end })
    expect(oauth.token):to_be(before)
    local trace = json.encode(res.trace)
    expect(trace):to_contain(T .. "/oauth/token")
    expect(trace:find("bbb-1", 1, true)):to_be_nil()
  end)
end)

-- ---- the openai provider ----------------------------------------------------

local VALID = {
  format = 1, name = "From the model",
  nodes = json.array({
    { id = "send", type = "http_request", config = { method = "POST",
      url = T .. "/x", headers = { ["X-Key"] = "{{integration.api_key}}" },
      output = "sendResponse" } },
  }),
}

local function llm(answers)
  local peer = { requests = {} }
  function peer.http(req)
    peer.requests[#peer.requests + 1] = req
    local a = table.remove(answers, 1)
    if a == nil then return nil, { message = "no more answers" } end
    if type(a) == "number" then return { status = a, headers = {}, body = "" } end
    local body = json.encode({ choices = json.array({ { message = {
      role = "assistant", content = a } } }) })
    return { status = 200, headers = {}, body = body, json = json.decode(body) }
  end
  return peer
end

local function ask(prompt, peer, rounds)
  return generate.generate(prompt, { provider = "openai", http = peer.http,
    dry_run = false, store_secret = function() return true end,
    llm = { url = "http://llm.test/v1", model = "m", api_key = "sk-1",
      repair_rounds = rounds } })
end

describe("generate openai provider", function()
  it("sends the catalog and the prompt, and takes a valid answer", function()
    local peer = llm({ json.encode({ workflow = VALID, explanation = "Posts." }) })
    local res = ask("POST to " .. T .. "/x", peer)
    expect(res.provider):to_be("openai")
    expect(res.workflow.name):to_be("From the model")
    local req = peer.requests[1]
    expect(req.url):to_be("http://llm.test/v1/chat/completions")
    expect(req.headers.Authorization):to_be("Bearer sk-1")
    local body = json.decode(req.body)
    expect(body.model):to_be("m")
    expect(body.response_format.type):to_be("json_object")
    expect(body.messages[1].content):to_contain("save_id")
  end)

  it("sends validation errors back for a repair round", function()
    local broken = json.decode(json.encode(VALID))
    broken.connections = json.array({ { from = "send", port = "next", to = "nope" } })
    local peer = llm({ "```json\n" .. json.encode({ workflow = broken }) .. "\n```",
      json.encode(VALID) })
    local res = ask("POST to " .. T .. "/x", peer)
    expect(#peer.requests):to_be(2)
    local msgs = json.decode(peer.requests[2].body).messages
    expect(msgs[#msgs].content):to_contain("$.connections[0].to")
    expect(res.explanation):to_contain("1 repair round")
  end)

  it("falls back to the builtin draft after the last round", function()
    local peer = llm({ "not json", "still not", "nope" })
    local res = ask("POST every incident to " .. T .. "/hooks", peer, 2)
    expect(#peer.requests):to_be(3)
    expect(res.provider):to_be("builtin")
    expect(res.warnings[1]):to_contain("builtin")
  end)

  it("falls back when the endpoint answers an error", function()
    local res = ask("POST every incident to " .. T .. "/hooks", llm({ 500 }))
    expect(res.provider):to_be("builtin")
    expect(res.warnings[1]):to_contain("HTTP 500")
  end)

  it("never sends the prompt's secrets to the model", function()
    local peer = llm({ json.encode({ workflow = VALID }) })
    ask("POST to " .. T .. "/x with the header X-Key: s3cr3t-v4l", peer)
    expect(peer.requests[1].body:find("s3cr3t-v4l", 1, true)):to_be_nil()
    expect(peer.requests[1].body):to_contain("{{integration.")
  end)

  it("replaces a secret the model writes out with its setting", function()
    local leaky = json.decode(json.encode(VALID))
    leaky.nodes[1].config.headers["X-Key"] = "s3cr3t-v4l"
    local res = ask("POST to " .. T .. "/x with the header X-Key: s3cr3t-v4l",
      llm({ json.encode({ workflow = leaky }) }))
    expect(json.encode(res.workflow)):to_contain("{{integration.")
    expect(json.encode(res):find("s3cr3t-v4l", 1, true)):to_be_nil()
  end)

  it("reads its settings from the environment when not configured", function()
    local cfg = require("moonwire.generate.openai").config({})
    expect(cfg.endpoint):to_match("/chat/completions$")
    expect(cfg.repair_rounds >= 0):to_be(true)
  end)
end)
