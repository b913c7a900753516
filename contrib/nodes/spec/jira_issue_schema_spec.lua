-- SPDX-License-Identifier: MIT
-- jira_issue schema: defaults, refusals with their JSON paths (including
-- the checks of its own validate) and the API token kept secret.
local runtime = require("moonwire.runtime")
local schema = require("moonwire.schema")
local workflow = require("moonwire.workflow")

local mod = runtime.catalog().jira_issue

local function import(config)
  return runtime.load_workflow({ format = 1, nodes = {
    { id = "ticket", type = "jira_issue", config = config } } })
end

local function paths(errors)
  local out = {}
  for _, e in ipairs(errors or {}) do out[#out + 1] = e.path end
  table.sort(out)
  return table.concat(out, " ")
end

local minimal = { project = "OPS", summary = "{{incident.status}}" }

describe("jira_issue schema", function()
  it("is a sandboxed node type loaded from the node path", function()
    expect(mod).to_be_truthy()
    expect(mod.sandboxed).to_be(true)
  end)
  it("imports project and summary and fills in the rest", function()
    local wf, errors = import(minimal)
    expect(errors).to_be_nil()
    local c = wf.nodes[1].config
    expect(c.base_url).to_be("{{integration.jira_url}}")
    expect(c.api_version).to_be("3")
    expect(c.auth).to_be("basic")
    expect(c.api_token).to_be("{{integration.jira_api_token}}")
    expect(c.issue_type).to_be("Task")
    expect(c.action).to_be("auto")
    expect(c.update_fields).to_be(true)
    expect(c.save_as).to_be("id")
    expect(c.output).to_be("jiraIssue")
  end)
  it("needs project and summary to create, and says so at each path", function()
    local _, errors = import({})
    expect(paths(errors)).to_be("$.nodes[0].config.project "
      .. "$.nodes[0].config.summary")
    expect(errors[1].message).to_contain("set action to update")
  end)
  it("needs neither for an update-only node", function()
    local _, errors = import({ action = "update", comment = "x" })
    expect(errors).to_be_nil()
  end)
  it("refuses an API version it does not speak", function()
    local _, errors = import({ project = "OPS", summary = "x",
      api_version = "4" })
    expect(errors[1].path).to_be("$.nodes[0].config.api_version")
    expect(errors[1].message).to_contain("3, 2")
  end)
  it("refuses labels that are not a list", function()
    local _, errors = import({ project = "OPS", summary = "x",
      labels = "moonwire" })
    expect(errors[1].path).to_be("$.nodes[0].config.labels")
  end)
  it("refuses a literal transition that is not an id", function()
    local _, errors = import({ project = "OPS", summary = "x",
      transition = "Done" })
    expect(errors[1].path).to_be("$.nodes[0].config.transition")
    expect(errors[1].message).to_contain("numbers such as 31")
  end)
  it("refuses more fields given as an array", function()
    local _, errors = import({ project = "OPS", summary = "x",
      fields = { "a" } })
    expect(errors[1].path).to_be("$.nodes[0].config.fields")
  end)
  it("marks the API token secret: redacted and never exported", function()
    local c = { project = "OPS", summary = "x", api_token = "ATATT-literal" }
    expect(schema.redact(mod.schema, c).api_token).to_be("[redacted]")
    local text = workflow.export({ format = 1, nodes = {
      { id = "ticket", type = "jira_issue", config = c } } }, runtime.catalog())
    expect(text:find("ATATT", 1, true)).to_be_nil()
  end)
  it("has next and error ports and declares its output", function()
    expect(table.concat(mod.ports({}), ",")).to_be("next,error")
    expect(mod.outputs({ output = "ticket" })[1]).to_be("ticket")
  end)
end)
