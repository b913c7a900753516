-- SPDX-License-Identifier: MIT
-- slack_message schema: what an import accepts, refuses (with the JSON
-- path) and fills in, and what never leaves in a trace or an export.
local json = require("moonwire.json")
local runtime = require("moonwire.runtime")
local schema = require("moonwire.schema")
local workflow = require("moonwire.workflow")

local mod = runtime.catalog().slack_message

local function import(config)
  return runtime.load_workflow({ format = 1, nodes = {
    { id = "notify", type = "slack_message", config = config } } })
end

local function paths(errors)
  local out = {}
  for _, e in ipairs(errors or {}) do out[#out + 1] = e.path end
  table.sort(out)
  return table.concat(out, " ")
end

local minimal = { channel = "#ops", text = "{{incident.status}}" }

describe("slack_message schema", function()
  it("is a sandboxed node type loaded from the node path", function()
    expect(mod).to_be_truthy()
    expect(mod.sandboxed).to_be(true)
    expect(runtime.origins().slack_message).to_match("slack_message%.lua$")
  end)
  it("imports a minimal config and fills in the defaults", function()
    local wf, errors = import(minimal)
    expect(errors).to_be_nil()
    local c = wf.nodes[1].config
    expect(c.token).to_be("{{integration.slack_token}}")
    expect(c.action).to_be("auto")
    expect(c.save_id).to_be(true)
    expect(c.output).to_be("slackMessage")
    expect(c.base_url).to_be("https://slack.com/api")
  end)
  it("refuses a config without channel and text, naming both paths", function()
    local _, errors = import({})
    expect(paths(errors)).to_be("$.nodes[0].config.channel "
      .. "$.nodes[0].config.text")
  end)
  it("refuses an unknown action and lists the actions", function()
    local c = { channel = "#ops", text = "x", action = "edit" }
    local _, errors = import(c)
    expect(errors[1].path).to_be("$.nodes[0].config.action")
    expect(errors[1].message).to_contain("auto, post, update, reply")
  end)
  it("refuses a template that does not compile, with its position", function()
    local _, errors = import({ channel = "#ops", text = "{{#if x}}open" })
    expect(errors[1].path).to_be("$.nodes[0].config.text")
    expect(errors[1].message).to_contain("line 1")
  end)
  it("refuses blocks given as an object", function()
    local _, errors = import({ channel = "#ops", text = "x",
      blocks = { type = "section" } })
    expect(errors[1].path).to_be("$.nodes[0].config.blocks")
    expect(errors[1].message).to_contain("array of Block Kit blocks")
  end)
  it("refuses a literal thread_ts that is not a Slack ts", function()
    local _, errors = import({ channel = "#ops", text = "x",
      thread_ts = "1717236012" })
    expect(errors[1].path).to_be("$.nodes[0].config.thread_ts")
  end)
  it("refuses a retry count out of bounds", function()
    local _, errors = import({ channel = "#ops", text = "x", retries = 9 })
    expect(errors[1].path).to_be("$.nodes[0].config.retries")
    expect(errors[1].message).to_contain("at most 5")
  end)
  it("marks the token secret: redacted in traces, left out of exports", function()
    local c = { channel = "#ops", text = "x", token = "xoxb-literal-token" }
    local described = schema.describe(mod.schema)
    expect(described[1].name).to_be("token")
    expect(described[1].secret).to_be(true)
    expect(schema.redact(mod.schema, c).token).to_be("[redacted]")
    local text = workflow.export({ format = 1, nodes = {
      { id = "notify", type = "slack_message", config = c } } },
      runtime.catalog())
    expect(text:find("xoxb", 1, true)).to_be_nil()
  end)
  it("has next and error ports and declares its output", function()
    expect(json.encode(mod.ports({}))).to_be('["next","error"]')
    expect(mod.outputs({ output = "chat" })[1]).to_be("chat")
    expect(mod.outputs({})[1]).to_be("slackMessage")
  end)
end)
