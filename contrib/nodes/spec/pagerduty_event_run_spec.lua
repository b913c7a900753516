-- SPDX-License-Identifier: MIT
-- pagerduty_event run: the exact events it enqueues for trigger,
-- acknowledge and resolve, the dedup key that ties them, and retries.
local json = require("moonwire.json")
local testing = require("moonwire.testing")

local KEY = "0123456789abcdef0123456789abcdef"
local settings = { pagerduty_routing_secret = KEY }
local accepted = { status = 202, body = { status = "success",
  message = "Event processed", dedup_key = "inc-1" } }

local function incident(status, severity)
  return { incident = { id = "inc-1", status = status, severity = severity,
    description = "CPU load 97%" } }
end

-- Runs the node once; `sent` keeps each request as it left the node,
-- before the trace is scrubbed of the routing key.
local function run(config, opts)
  opts = opts or {}
  local peer = testing.fake_http(opts.answers or { accepted })
  local sent, send = {}, peer.send
  peer.send = function(req)
    sent[#sent + 1] = { method = req.method, url = req.url,
      headers = req.headers, body = json.decode(req.body) }
    return send(req)
  end
  local exec = testing.exec(opts.share or incident("critical", "critical"),
    { settings = opts.settings or settings, http = peer,
      external_id = opts.external_id })
  local c = { summary = "{{incident.description}}", source = "app-node-01" }
  for k, v in pairs(config or {}) do c[k] = v end
  local port, err, entry = testing.run(exec, "pagerduty_event", c)
  return { port = port, err = err, entry = entry, exec = exec, sent = sent }
end

describe("pagerduty_event run", function()
  it("triggers an alert keyed by the incident", function()
    local r = run()
    expect(r.err).to_be_nil()
    expect(r.port).to_be("next")
    expect(r.sent[1].method).to_be("POST")
    expect(r.sent[1].url).to_be("https://events.pagerduty.com/v2/enqueue")
    expect(r.sent[1].headers["Content-Type"]).to_be("application/json")
    expect(r.sent[1].body).to_equal({ routing_key = KEY,
      event_action = "trigger", dedup_key = "inc-1",
      payload = { summary = "CPU load 97%", source = "app-node-01",
        severity = "critical" } })
    expect(r.exec.vars.pagerdutyEvent.dedup_key).to_be("inc-1")
    expect(r.exec.vars.pagerdutyEvent.event_action).to_be("trigger")
  end)
  it("resolves the same alert when the incident is ok, with no payload", function()
    local r = run({}, { share = incident("ok", "critical") })
    expect(r.sent[1].body).to_equal({ routing_key = KEY,
      event_action = "resolve", dedup_key = "inc-1" })
  end)
  it("acknowledges on an acknowledged status, ignoring case", function()
    local r = run({}, { share = incident("Acknowledged", "critical") })
    expect(r.sent[1].body.event_action).to_be("acknowledge")
  end)
  it("sends the configured action whatever the status", function()
    local r = run({ event_action = "resolve" })
    expect(r.sent[1].body.event_action).to_be("resolve")
  end)
  it("maps severities onto PagerDuty's four, with a fallback", function()
    expect(run({}, { share = incident("critical", "High") })
      .sent[1].body.payload.severity).to_be("error")
    expect(run({}, { share = incident("critical", "unknown") })
      .sent[1].body.payload.severity).to_be("warning")
    expect(run({ fallback_severity = "info" },
      { share = incident("critical", "odd") }).sent[1].body.payload.severity)
      .to_be("info")
  end)
  it("sends the optional payload fields that render", function()
    local r = run({ component = "checkout", group = "", class = "cpu",
      custom_details = '{"status": "{{incident.status}}", "n": 2}',
      client = "Moonwire", client_url = "https://tool.test/i/{{incident.id}}" })
    local b = r.sent[1].body
    expect(b.payload.component).to_be("checkout")
    expect(b.payload.group).to_be_nil()
    expect(b.payload.class).to_be("cpu")
    expect(b.payload.custom_details).to_equal({ status = "critical", n = 2 })
    expect(b.client).to_be("Moonwire")
    expect(b.client_url).to_be("https://tool.test/i/inc-1")
  end)
  it("cuts a long summary to 1024 bytes", function()
    local r = run({ summary = string.rep("é", 600) })
    expect(#r.sent[1].body.payload.summary).to_be(1024)
  end)
  it("keeps the key PagerDuty made up, and saves it when asked", function()
    local r = run({ dedup_key = "", save_id = true }, { answers = { {
      status = 202, body = { status = "success", dedup_key = "pd-made-42" } } } })
    expect(r.sent[1].body.dedup_key).to_be_nil()
    expect(r.exec.vars.pagerdutyEvent.dedup_key).to_be("pd-made-42")
    expect(r.exec.links["inc-1"]).to_be('"pd-made-42"')
  end)
  it("resolves with the saved key when the dedup key is empty", function()
    local r = run({ dedup_key = "" }, { share = incident("ok"),
      external_id = "pd-made-42" })
    expect(r.sent[1].body.dedup_key).to_be("pd-made-42")
  end)
  it("refuses to resolve without any dedup key", function()
    local r = run({ dedup_key = "" }, { share = incident("ok") })
    expect(r.port).to_be_nil()
    expect(r.err).to_contain("needs the key its trigger used")
    expect(#r.sent).to_be(0)
  end)
  it("saves nothing unless asked", function()
    local r = run()
    expect(next(r.exec.links)).to_be_nil()
  end)
  it("retries 429 and 5xx answers, honouring Retry-After", function()
    local r = run({}, { answers = {
      { status = 429, headers = { ["retry-after"] = "1" } },
      { status = 503, body = "" }, accepted } })
    expect(r.port).to_be("next")
    expect(#r.sent).to_be(3)
    expect(r.exec.slept[1]).to_be(1000)
  end)
  it("retries a timeout when the event has a dedup key", function()
    local r = run({}, { answers = { { error = { code = "E_HTTP_TIMEOUT",
      message = "timed out" } }, accepted } })
    expect(r.port).to_be("next")
    expect(#r.sent).to_be(2)
  end)
  it("does not retry a timed-out trigger without a dedup key", function()
    local r = run({ dedup_key = "" }, { answers = { { error = {
      code = "E_HTTP_TIMEOUT", message = "timed out" } }, accepted } })
    expect(r.port).to_be_nil()
    expect(#r.sent).to_be(1)
  end)
  it("fails with PagerDuty's reasons on a 400", function()
    local r = run({}, { answers = { { status = 400, body = {
      status = "invalid event", message = "Event object is invalid",
      errors = { "'payload.source' is missing or blank" } } } } })
    expect(r.port).to_be_nil()
    expect(r.err).to_contain("HTTP 400")
    expect(r.err).to_contain("payload.source")
  end)
  it("keeps the routing key out of the trace", function()
    local r = run()
    expect(json.encode(r.entry):find(KEY, 1, true)).to_be_nil()
    expect(r.entry.requests[1].body).to_contain("[redacted]")
  end)
  it("says which setting is missing when there is no routing key", function()
    local r = run({}, { settings = {} })
    expect(r.err).to_contain("pagerduty_routing_secret")
    expect(#r.sent).to_be(0)
  end)
end)
