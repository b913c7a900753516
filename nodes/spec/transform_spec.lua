-- SPDX-License-Identifier: MIT
-- transform: json-mode templates yield typed, valid JSON values.
local testing = require("moonwire.testing")
local json = require("moonwire.json")

local incident = json.decode([[{"id": "inc-1", "status": "critical",
  "count": 3, "active": true, "tags": [], "end": null,
  "description": "quote \" backslash \\ newline \n tab \t emoji 🚨",
  "big": 7512345678901234567}]])

local function transform(template, mode)
  local exec = testing.exec({ incident = incident })
  local port, err = testing.run(exec, "transform",
    { template = template, output = "out", mode = mode })
  return exec.vars.out, port, err
end

describe("transform run", function()
  it("escapes interpolations inside JSON strings", function()
    local v = transform('{"d": "{{incident.description}}"}')
    expect(v.d).to_be(incident.description)
  end)
  it("keeps the type of a placeholder standing alone as a value", function()
    local v = transform('{"n": {{incident.count}}, "b": {{incident.active}}, '
      .. '"a": {{incident.tags}}, "z": {{incident.end}}, "o": {{incident}}}')
    expect(v.n).to_be(3)
    expect(v.b).to_be(true)
    expect(json.is_array(v.a)).to_be(true)
    expect(v.z).to_be(json.null)
    expect(v.o.id).to_be("inc-1")
  end)
  it("keeps a 19-digit number exact", function()
    local v = transform('{"big": {{incident.big}}}')
    expect(json.encode(v)).to_be('{"big":7512345678901234567}')
  end)
  it("yields null for a missing value at a value position", function()
    local v = transform('{"impact": {{incident.impact}}}')
    expect(v.impact).to_be(json.null)
  end)
  it("renders text in text mode", function()
    local v = transform("Incident {{incident.id}} is {{incident.status}}", "text")
    expect(v).to_be("Incident inc-1 is critical")
  end)
  it("fails with the node and position when the template cannot parse", function()
    local _, port, err = transform('{"a": "{{#if x}}"}')
    expect(port).to_be_nil()
    expect(err).to_contain("line")
  end)
end)
