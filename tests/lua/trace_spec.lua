-- The trace the daemon stores (daemon.trace_text): an output that was sent
-- as a request body is written as the text sent, and the request keeps a
-- reference to it; once a node may have changed that value, it is written
-- afresh.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local testing = require("moonwire.testing")
local daemon = require("moonwire.daemon")

local SHARE = '{"incident": {"id": "tr-1", "status": "critical", "tags": [1, 2]}}'

-- Builds a payload with transform, then sends it with http_request.
local function sent_exec()
  local peer = testing.fake_http({ { status = 201, body = { id = "EXT-1" } } })
  local exec = testing.exec(SHARE, { http = peer, settings = {
    base_url = "http://127.0.0.1:9" } })
  exec.share_id = 7
  assert(testing.run(exec, "transform", { output = "payload",
    template = '{"incident": {{incident}}, "n": 1}' }))
  assert(testing.run(exec, "http_request", { method = "POST",
    url = "{{integration.base_url}}/tickets", body = "{{payload}}",
    output = "resp" }))
  return exec, peer
end

local function entry(trace, id)
  for _, e in ipairs(trace) do
    if e.id == id then return e end
  end
end

describe("stored traces", function()
  it("write a sent output as the bytes sent and the body as a reference",
    function()
      local exec, peer = sent_exec()
      local trace = assert(json.decode(daemon.trace_text(exec, {})))
      local built = entry(trace, "spec_transform").output.payload
      expect(json.encode(built)):to_be(peer.requests[1].body)
      local req = entry(trace, "spec_http_request").requests[1]
      expect(req.body):to_be_nil()
      expect(req.body_from.node):to_be("spec_transform")
      -- the execution's own trace is left as it was
      expect(exec.trace[2].requests[1].body):to_be(peer.requests[1].body)
    end)

  it("write a sent output afresh once a set inside it changed it", function()
    local exec = sent_exec()
    local node = exec.wf.nodes[1]
    require("moonwire.ctx").new(exec, node, {}):set("payload.n", 2)
    local trace = assert(json.decode(daemon.trace_text(exec, {})))
    expect(entry(trace, "spec_transform").output.payload.n):to_be(2)
  end)

  it("scrub the secrets given", function()
    local exec = sent_exec()
    local text = daemon.trace_text(exec, { "critical" })
    expect(text:find("critical", 1, true)):to_be_nil()
    expect(text:find("[redacted]", 1, true) ~= nil):to_be(true)
  end)
end)

describe("an execution's secrets", function()
  it("are the integration's list, copied before a node adds to it", function()
    local runtime = require("moonwire.runtime")
    local ctxmod = require("moonwire.ctx")
    local shared = { "integration-secret" }
    local wf = assert(runtime.load_workflow({ format = 1, nodes = {
      { id = "a", type = "transform", config = { template = "1", output = "x" } },
    }, connections = json.array() }))
    for _ = 1, 2 do
      local exec = assert(runtime.prepare(wf, json.decode(SHARE), {
        integration = "spec", settings = {}, settings_complete = true,
        secrets = shared }))
      expect(exec.secrets):to_be(shared)
      ctxmod.new(exec, wf.nodes[1], {}):redact("a-token-of-this-run")
      expect(exec.secrets[2]):to_be("a-token-of-this-run")
    end
    expect(#shared):to_be(1)
  end)
end)
