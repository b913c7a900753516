-- SPDX-License-Identifier: MIT
-- flow_control: schema and routing behaviour.
local testing = require("moonwire.testing")
local runtime = require("moonwire.runtime")
local schema = require("moonwire.schema")

local fc = runtime.catalog().flow_control
local share = { incident = { id = "i1", status = "critical", priority = 20,
  flapping = true }, metadata = { event_type = "incident#new" } }

local function route(config)
  return testing.run(testing.exec(share), "flow_control", config)
end

describe("flow_control schema", function()
  it("requires a source and at least one route", function()
    local _, errs = schema.check(fc.schema, {}, "$.config")
    expect(#errs >= 2).to_be(true)
  end)
  it("declares one port per route plus default", function()
    expect(fc.ports({ routes = { { port = "a", value = 1 }, { port = "b", value = 2 } } }))
      .to_equal({ "a", "b", "default" })
  end)
  it("refuses a route named default and duplicate ports", function()
    local errs = fc.validate({ routes = { { port = "default", value = 1 },
      { port = "x", value = 1 }, { port = "x", value = 2 } } })
    expect(#errs).to_be(2)
  end)
end)

describe("flow_control run", function()
  it("takes the route whose value matches", function()
    expect(route({ source = "metadata.event_type", routes = {
      { port = "new", value = "incident#new" },
      { port = "update", values = { "incident#updated", "incident#closed" } } } }))
      .to_be("new")
  end)
  it("matches the number 20 with the text \"20\"", function()
    expect(route({ source = "incident.priority", routes = {
      { port = "p20", value = "20" } } })).to_be("p20")
  end)
  it("matches true with the text \"true\"", function()
    expect(route({ source = "incident.flapping", routes = {
      { port = "yes", value = "true" } } })).to_be("yes")
  end)
  it("takes default when nothing matches", function()
    expect(route({ source = "incident.status", routes = {
      { port = "ok", value = "ok" } } })).to_be("default")
  end)
  it("takes default when the source variable is missing", function()
    expect(route({ source = "incident.nope.deeper", routes = {
      { port = "x", value = "" } } })).to_be("default")
  end)
end)
