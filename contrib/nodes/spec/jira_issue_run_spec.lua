-- SPDX-License-Identifier: MIT
-- jira_issue run: the exact REST calls for create and update in API v3
-- (ADF) and v2 (text), comments, transitions, what it saves, and errors.
local json = require("moonwire.json")
local testing = require("moonwire.testing")

local share = { incident = { id = "inc-1", status = "critical",
  severity = "critical", description = 'CPU "load" 97%\non app-node-01' } }
local settings = { jira_url = "https://example.atlassian.net/",
  jira_email = "ops@example.com", jira_api_token = "ATATT-spec-token" }
local created = { status = 201, body = { id = "10000", key = "OPS-24",
  self = "https://example.atlassian.net/rest/api/3/issue/10000" } }
local API3 = "https://example.atlassian.net/rest/api/3"

-- Runs the node once; `sent` keeps each request as it left the node,
-- before the trace is scrubbed.
local function run(config, opts)
  opts = opts or {}
  local peer = testing.fake_http(opts.answers or { created })
  local sent, send = {}, peer.send
  peer.send = function(req)
    sent[#sent + 1] = { method = req.method, url = req.url,
      headers = req.headers, body = req.body and json.decode(req.body) }
    return send(req)
  end
  local exec = testing.exec(share, { settings = opts.settings or settings,
    http = peer, external_id = opts.external_id })
  if opts.dry_run then exec.live = false end
  local c = { project = "OPS", summary = "{{incident.status}}: CPU load" }
  for k, v in pairs(config or {}) do c[k] = v end
  local port, err, entry = testing.run(exec, "jira_issue", c)
  return { port = port, err = err, entry = entry, exec = exec, sent = sent }
end

local function adf(...)
  local content = {}
  for i, inline in ipairs({ ... }) do
    content[i] = { type = "paragraph", content = inline }
  end
  return { type = "doc", version = 1, content = content }
end

describe("jira_issue run", function()
  it("creates an issue in API v3 with an ADF description and saves its id", function()
    local r = run({ description = "{{incident.description}}\n\nFrom Moonwire",
      priority = "Highest", labels = { "moonwire", "sev {{incident.severity}}" } })
    expect(r.err).to_be_nil()
    expect(r.port).to_be("next")
    expect(#r.sent).to_be(1)
    expect(r.sent[1].method).to_be("POST")
    expect(r.sent[1].url).to_be(API3 .. "/issue")
    expect(r.sent[1].headers.Authorization)
      .to_be("Basic b3BzQGV4YW1wbGUuY29tOkFUQVRULXNwZWMtdG9rZW4=")
    expect(r.entry.requests[1].headers.Authorization).to_be("[redacted]")
    expect(r.sent[1].headers.Accept).to_be("application/json")
    expect(r.sent[1].body).to_equal({ fields = {
      project = { key = "OPS" }, issuetype = { name = "Task" },
      summary = "critical: CPU load",
      description = adf(
        { { type = "text", text = 'CPU "load" 97%' }, { type = "hardBreak" },
          { type = "text", text = "on app-node-01" } },
        { { type = "text", text = "From Moonwire" } }),
      priority = { name = "Highest" },
      labels = { "moonwire", "sev_critical" } } })
    expect(r.exec.links["inc-1"]).to_be('"10000"')
    expect(r.exec.vars.jiraIssue.key).to_be("OPS-24")
    expect(r.exec.vars.jiraIssue.action).to_be("create")
  end)
  it("creates in API v2 with a plain-text description", function()
    local r = run({ api_version = "2", description = "line one\nline two",
      project = "10001", issue_type = "10002" })
    expect(r.sent[1].url)
      .to_be("https://example.atlassian.net/rest/api/2/issue")
    expect(r.sent[1].body).to_equal({ fields = {
      project = { id = "10001" }, issuetype = { id = "10002" },
      summary = "critical: CPU load", description = "line one\nline two" } })
  end)
  it("saves the key instead of the id when asked", function()
    local r = run({ save_as = "key" })
    expect(r.exec.links["inc-1"]).to_be('"OPS-24"')
  end)
  it("puts the summary on one line of at most 255 characters", function()
    local r = run({ summary = "a\r\nb " .. string.rep("ü", 300) })
    local s = r.sent[1].body.fields.summary
    expect(s:sub(1, 4)).to_be("a b ")
    expect(#s).to_be(4 + 251 * 2)
  end)
  it("merges more fields from a json template", function()
    local r = run({ fields = '{"customfield_10010": "{{incident.id}}"}' })
    expect(r.sent[1].body.fields.customfield_10010).to_be("inc-1")
  end)
  it("updates the saved issue, adds labels and comments on it", function()
    local r = run({ labels = { "moonwire" }, comment = "Now {{incident.status}}" },
      { external_id = "10000", answers = { { status = 204, body = "" },
        { status = 201, body = { id = "1" } } } })
    expect(r.err).to_be_nil()
    expect(#r.sent).to_be(2)
    expect(r.sent[1].method).to_be("PUT")
    expect(r.sent[1].url).to_be(API3 .. "/issue/10000")
    expect(r.sent[1].body).to_equal({
      fields = { summary = "critical: CPU load" },
      update = { labels = { { add = "moonwire" } } } })
    expect(r.sent[2].method).to_be("POST")
    expect(r.sent[2].url).to_be(API3 .. "/issue/10000/comment")
    expect(r.sent[2].body).to_equal({ body = adf(
      { { type = "text", text = "Now critical" } }) })
    expect(next(r.exec.links)).to_be_nil()
    expect(r.exec.vars.jiraIssue.id).to_be("10000")
  end)
  it("only comments when update_fields is off (v2: a text comment)", function()
    local r = run({ api_version = "2", update_fields = false,
      comment = "Now {{incident.status}}" }, { external_id = "OPS-24",
      answers = { { status = 201, body = {} } } })
    expect(#r.sent).to_be(1)
    expect(r.sent[1].url)
      .to_be("https://example.atlassian.net/rest/api/2/issue/OPS-24/comment")
    expect(r.sent[1].body).to_equal({ body = "Now critical" })
  end)
  it("moves the issue with the transition that renders", function()
    local r = run({ update_fields = false,
      transition = '{{#eq incident.status "critical"}}31{{/eq}}' },
      { external_id = "OPS-24", answers = { { status = 204, body = "" } } })
    expect(r.sent[1].url).to_be(API3 .. "/issue/OPS-24/transitions")
    expect(r.sent[1].body).to_equal({ transition = { id = "31" } })
    expect(r.exec.vars.jiraIssue.transition).to_be("31")
  end)
  it("creates, then transitions the new issue by its key", function()
    local r = run({ transition = "21" }, { answers = { created,
      { status = 204, body = "" } } })
    expect(r.sent[2].url).to_be(API3 .. "/issue/OPS-24/transitions")
  end)
  it("updates the issue named by issue, else the saved one", function()
    local r = run({ issue = "{{incident.ticket}}", update_fields = false,
      comment = "x" }, { external_id = "10000" })
    expect(r.sent[1].url).to_be(API3 .. "/issue/10000/comment")
    local r2 = run({ issue = "OPS-7", update_fields = false, comment = "x" },
      { external_id = "10000" })
    expect(r2.sent[1].url).to_be(API3 .. "/issue/OPS-7/comment")
  end)
  it("refuses a saved ID that is no issue id or key", function()
    local r = run({}, { external_id = "C024BE91L/1717236012.000100" })
    expect(r.port).to_be_nil()
    expect(r.err).to_contain("not a Jira issue id")
    expect(r.err).to_contain("another node")
    expect(#r.sent).to_be(0)
  end)
  it("refuses an update when there is no issue", function()
    local r = run({ action = "update" })
    expect(r.err).to_contain("no issue to update")
  end)
  it("reports Jira's field errors on a 400", function()
    local r = run({}, { answers = { { status = 400, body = {
      errorMessages = {},
      errors = { priority = "Priority name 'P0' is not valid" } } } } })
    expect(r.port).to_be_nil()
    expect(r.err).to_contain("HTTP 400")
    expect(r.err).to_contain("priority: Priority name 'P0' is not valid")
  end)
  it("hints at the credentials on a 401, at the site on a 404", function()
    local r = run({}, { answers = { { status = 401, body = "" } } })
    expect(r.err).to_contain("jira_api_token")
    r = run({}, { answers = { { status = 404, body = "" } } })
    expect(r.err).to_contain("check base_url")
  end)
  it("retries an update on 503 but never a create", function()
    local r = run({}, { external_id = "10000", answers = {
      { status = 503, body = "" }, { status = 204, body = "" } } })
    expect(r.port).to_be("next")
    expect(#r.sent).to_be(2)
    local c = run({}, { answers = { { status = 503, body = "" }, created } })
    expect(c.port).to_be_nil()
    expect(#c.sent).to_be(1)
  end)
  it("with auth bearer needs a token but no email", function()
    local cfg = { auth = "bearer", api_token = "{{integration.oauth_token}}" }
    local site = "https://api.atlassian.com/ex/jira/abc"
    local r = run(cfg, { settings = { jira_url = site } })
    expect(r.err).to_contain("API token is empty")
    r = run(cfg, { settings = { jira_url = site, oauth_token = "eyJ-abc" } })
    expect(r.port).to_be("next")
    expect(r.sent[1].url).to_be(site .. "/rest/api/3/issue")
  end)
  it("keeps the token and the Basic credentials out of the trace", function()
    local r = run()
    local text = json.encode(r.entry)
    expect(text:find("ATATT", 1, true)).to_be_nil()
    expect(text:find("b3BzQGV4YW1wbGUuY29t", 1, true)).to_be_nil()
  end)
  it("says which setting is missing when there is no site URL", function()
    local r = run({}, { settings = { jira_api_token = "ATATT-x",
      jira_email = "a@b.c" } })
    expect(r.err).to_contain("jira_url")
    expect(#r.sent).to_be(0)
  end)
  it("sends nothing and saves nothing in a dry run", function()
    local r = run({}, { dry_run = true })
    expect(r.port).to_be("next")
    expect(#r.sent).to_be(0)
    expect(r.entry.requests[1].url).to_be(API3 .. "/issue")
    expect(next(r.exec.links)).to_be_nil()
  end)
end)
