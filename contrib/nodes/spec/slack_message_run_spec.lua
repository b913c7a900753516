-- SPDX-License-Identifier: MIT
-- slack_message run: the exact Web API calls it makes for post, update and
-- reply, what it saves, and how Slack's always-200 failures surface.
local json = require("moonwire.json")
local testing = require("moonwire.testing")

local share = { incident = { id = "inc-1", status = "critical",
  description = 'CPU "load" 97%\non app-node-01' } }
local settings = { slack_token = "xoxb-spec-token-0001" }
local posted = { status = 200, body = '{"ok": true, "channel": "C024BE91L", '
  .. '"ts": "1717236012.000100", "message": {"text": "x"}}' }

-- Runs the node once; `sent` keeps each request as it left the node
-- (before the trace is scrubbed), with its JSON body decoded.
local function run(config, opts)
  opts = opts or {}
  local peer = testing.fake_http(opts.answers or { posted })
  local sent, send = {}, peer.send
  peer.send = function(req)
    sent[#sent + 1] = { method = req.method, url = req.url,
      headers = req.headers, body = json.decode(req.body) }
    return send(req)
  end
  local exec = testing.exec(share, { settings = opts.settings or settings,
    http = peer, external_id = opts.external_id })
  for k, v in pairs(opts.vars or {}) do exec.vars[k] = v end
  if opts.dry_run then exec.live = false end
  local c = { channel = "#ops", text = ":rotating_light: {{incident.status}}" }
  for k, v in pairs(config or {}) do c[k] = v end
  local port, err, entry = testing.run(exec, "slack_message", c)
  return { port = port, err = err, entry = entry, exec = exec, sent = sent,
    peer = peer }
end

describe("slack_message run", function()
  it("posts a new message on the first share and saves CHANNEL/TS", function()
    local r = run()
    expect(r.err).to_be_nil()
    expect(r.port).to_be("next")
    expect(#r.sent).to_be(1)
    expect(r.sent[1].method).to_be("POST")
    expect(r.sent[1].url).to_be("https://slack.com/api/chat.postMessage")
    expect(r.sent[1].headers["Content-Type"])
      .to_be("application/json; charset=utf-8")
    expect(r.sent[1].headers.Authorization).to_be("Bearer xoxb-spec-token-0001")
    expect(r.entry.requests[1].headers.Authorization).to_be("[redacted]")
    expect(r.sent[1].body).to_equal({ channel = "#ops",
      text = ":rotating_light: critical" })
    expect(r.exec.links["inc-1"]).to_be('"C024BE91L/1717236012.000100"')
    expect(r.exec.vars.slackMessage.ts).to_be("1717236012.000100")
  end)
  it("edits the saved message on a later share, in its channel", function()
    local r = run({}, { external_id = "C024BE91L/1717236012.000100" })
    expect(r.port).to_be("next")
    expect(r.sent[1].url).to_be("https://slack.com/api/chat.update")
    expect(r.sent[1].body).to_equal({ channel = "C024BE91L",
      ts = "1717236012.000100", text = ":rotating_light: critical" })
    expect(next(r.exec.links)).to_be_nil()
  end)
  it("replies in the saved message's thread with action reply", function()
    local r = run({ action = "reply", text = "now {{incident.status}}",
      reply_broadcast = true }, { external_id = "C024BE91L/1717236012.000100" })
    expect(r.sent[1].url).to_be("https://slack.com/api/chat.postMessage")
    expect(r.sent[1].body).to_equal({ channel = "C024BE91L",
      thread_ts = "1717236012.000100", text = "now critical",
      reply_broadcast = true })
    expect(next(r.exec.links)).to_be_nil()
  end)
  it("updates the message named by thread_ts when there is none saved", function()
    local r = run({ thread_ts = "{{first.ts}}" },
      { vars = { first = { ts = "1717236099.000200" } } })
    expect(r.sent[1].url).to_be("https://slack.com/api/chat.update")
    expect(r.sent[1].body.ts).to_be("1717236099.000200")
    expect(r.sent[1].body.channel).to_be("#ops")
  end)
  it("posts a new message with action post even when one is saved", function()
    local r = run({ action = "post" },
      { external_id = "C024BE91L/1717236012.000100" })
    expect(r.sent[1].url).to_be("https://slack.com/api/chat.postMessage")
    expect(r.sent[1].body.thread_ts).to_be_nil()
  end)
  it("sends blocks built by a json template, escaped", function()
    local r = run({ blocks = '[{"type": "section", "text": {"type": '
      .. '"mrkdwn", "text": "{{incident.description}}"}}]' })
    expect(r.sent[1].body.blocks[1].text.text)
      .to_be(share.incident.description)
    expect(r.sent[1].body.text).to_be(":rotating_light: critical")
  end)
  it("treats HTTP 200 with ok false as a failure, with a hint", function()
    local r = run({}, { answers = { { status = 200,
      body = { ok = false, error = "not_in_channel" } } } })
    expect(r.port).to_be_nil()
    expect(r.err).to_contain("not_in_channel")
    expect(r.err).to_contain("/invite")
    expect(next(r.exec.links)).to_be_nil()
  end)
  it("retries a 429 once Retry-After has passed", function()
    local r = run({}, { answers = { { status = 429,
      headers = { ["retry-after"] = "2" }, body = { ok = false,
        error = "ratelimited" } }, posted } })
    expect(r.port).to_be("next")
    expect(#r.sent).to_be(2)
    expect(r.exec.slept[1]).to_be(2000)
  end)
  it("takes a Retry-After date, capped at a minute", function()
    local r = run({}, { answers = { { status = 429,
      headers = { date = "Wed, 02 Dec 2026 10:00:00 GMT",
        ["retry-after"] = "Wed, 02 Dec 2026 10:05:00 GMT" },
      body = { ok = false, error = "ratelimited" } }, posted } })
    expect(r.port).to_be("next")
    expect(r.exec.slept[1]).to_be(60000)
  end)
  it("does not resend a post that timed out", function()
    local r = run({}, { answers = { { error = { code = "E_HTTP_TIMEOUT",
      message = "timed out after 15000 ms" } } } })
    expect(#r.sent).to_be(1)
    expect(r.err).to_contain("timed out")
  end)
  it("refuses a saved ID that is a number: a ts must stay a string", function()
    local r = run({}, { external_id = 1717236012.0001 })
    expect(r.port).to_be_nil()
    expect(r.err).to_contain("kept as a string")
    expect(#r.sent).to_be(0)
  end)
  it("refuses a saved ID that another node saved", function()
    local r = run({ action = "update" }, { external_id = "OPS-24" })
    expect(r.err).to_contain("not a Slack message")
    expect(#r.sent).to_be(0)
  end)
  it("says which setting is missing when there is no token", function()
    local r = run({}, { settings = {} })
    expect(r.err).to_contain("slack_token")
    expect(#r.sent).to_be(0)
  end)
  it("keeps the token out of the trace", function()
    local r = run({ token = "xoxb-literal-9999" })
    expect(r.port).to_be("next")
    expect(json.encode(r.entry):find("xoxb", 1, true)).to_be_nil()
    expect(r.entry.input.token).to_be("[redacted]")
  end)
  it("saves nothing when save_id is off", function()
    local r = run({ save_id = false })
    expect(r.port).to_be("next")
    expect(next(r.exec.links)).to_be_nil()
  end)
  it("sends nothing and saves nothing in a dry run", function()
    local r = run({}, { dry_run = true })
    expect(r.port).to_be("next")
    expect(#r.sent).to_be(0)
    expect(r.entry.requests[1].dry_run).to_be(true)
    expect(next(r.exec.links)).to_be_nil()
  end)
end)
