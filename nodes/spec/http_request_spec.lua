-- SPDX-License-Identifier: MIT
-- http_request: what it sends, what it stores, how it fails and retries.
local testing = require("moonwire.testing")
local json = require("moonwire.json")

local share = { incident = { id = "inc-1", status = "critical",
  description = 'say "hi"\nbye' } }
local settings = { base_url = "http://127.0.0.1:9" }

local function run(config, answers)
  local peer = testing.fake_http(answers)
  local exec = testing.exec(share, { settings = settings, http = peer })
  local port, err, entry = testing.run(exec, "http_request", config)
  return port, err, peer, exec, entry
end

describe("http_request run", function()
  it("renders URL, headers and a json body, and stores the response", function()
    local port, _, peer, exec = run({
      method = "POST", url = "{{integration.base_url}}/tickets",
      headers = { ["X-Incident"] = "{{incident.id}}" },
      body = '{"text": "{{incident.description}}", "id": {{incident.id}}}',
      output = "createResponse",
    }, { { status = 201, body = { id = "EXT-1" } } })
    expect(port).to_be("next")
    local req = peer.requests[1]
    expect(req.url).to_be("http://127.0.0.1:9/tickets")
    expect(req.headers["X-Incident"]).to_be("inc-1")
    expect(req.headers["Content-Type"]).to_be("application/json")
    local body = json.decode(req.body)
    expect(body.text).to_be('say "hi"\nbye')
    expect(exec.vars.createResponse.id).to_be("EXT-1")
    expect(exec.vars.createResponseStatus).to_be(201)
  end)
  it("accepts an empty 204 answer", function()
    local port, _, _, exec = run({ method = "PUT", url = "http://x.test/t/1",
      body = "{}" }, { { status = 204, body = "" } })
    expect(port).to_be("next")
    expect(exec.vars.response).to_be(json.null)
  end)
  it("fails on a non-2xx status with the status and an excerpt", function()
    local port, err = run({ url = "http://x.test/t", body = "{}" },
      { { status = 500, body = "database down" } })
    expect(port).to_be_nil()
    expect(err).to_contain("HTTP 500")
    expect(err).to_contain("database down")
  end)
  it("retries 503 as the policy says, honouring Retry-After", function()
    local port, _, peer = run({ url = "http://x.test/t", body = "{}",
      retry = { attempts = 3 } }, {
      { status = 503, headers = { ["retry-after"] = "0" } },
      { status = 503, headers = { ["retry-after"] = "0" } },
      { status = 201, body = { id = 1 } } })
    expect(port).to_be("next")
    expect(#peer.requests).to_be(3)
  end)
  it("waits as long as a Retry-After date says, by the answer's Date", function()
    local port, _, peer, exec = run({ url = "http://x.test/t", body = "{}",
      retry = { attempts = 3, max_backoff_ms = 60000 } }, {
      { status = 503, headers = {
        date = "Sun, 06 Nov 1994 08:49:37 GMT",
        ["retry-after"] = "Sun, 06 Nov 1994 08:49:49 GMT" } },
      { status = 429, headers = {
        date = "Sunday, 06-Nov-94 08:49:50 GMT",
        ["retry-after"] = "Sun Nov  6 08:49:40 1994" } },
      { status = 201, body = { id = 1 } } })
    expect(port).to_be("next")
    expect(#peer.requests).to_be(3)
    expect(exec.slept[1]).to_be(12000)
    expect(exec.slept[2]).to_be(0) -- a date already past: at once
  end)
  it("backs off when Retry-After is unreadable", function()
    local _, _, peer, exec = run({ url = "http://x.test/t", body = "{}",
      retry = { attempts = 2, backoff_ms = 100, max_backoff_ms = 100 } }, {
      { status = 503, headers = { ["retry-after"] = "soon, please" } },
      { status = 201, body = { id = 1 } } })
    expect(#peer.requests).to_be(2)
    expect(exec.slept[1] >= 50 and exec.slept[1] <= 100).to_be(true)
  end)
  it("does not retry a POST that timed out", function()
    local _, err, peer = run({ url = "http://x.test/t", body = "{}" }, {
      { error = { code = "E_HTTP_TIMEOUT", message = "timed out" } } })
    expect(#peer.requests).to_be(1)
    expect(err).to_contain("timed out")
  end)
  it("keeps Authorization out of the trace", function()
    local _, _, _, _, entry = run({ url = "http://x.test/t", body = "{}",
      headers = { Authorization = "Bearer secret-token" } },
      { { status = 200, body = {} } })
    expect(json.encode(entry)).to_be(json.encode(entry):gsub("secret%-token", ""))
    expect(entry.requests[1].headers.Authorization).to_be("[redacted]")
  end)
  it("refuses a URL that is not http or https", function()
    local _, err = run({ url = "file:///etc/passwd" }, {})
    expect(err).to_contain("not an http")
  end)
end)
