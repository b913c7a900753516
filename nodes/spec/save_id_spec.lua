-- SPDX-License-Identifier: MIT
-- save_id: links the id found at a path; refuses missing or composite ids.
local testing = require("moonwire.testing")
local json = require("moonwire.json")

local function exec_with(response)
  local exec = testing.exec({ incident = { id = "inc-9" } })
  exec.vars.createResponse = response
  return exec
end

describe("save_id run", function()
  it("saves a string id and exposes it as externalId", function()
    local exec = exec_with({ id = "EXT-1" })
    expect(testing.run(exec, "save_id", { external_id = "createResponse.id" }))
      .to_be("next")
    expect(exec.links["inc-9"]).to_be('"EXT-1"')
    expect(exec.vars.externalId).to_be("EXT-1")
  end)
  it("keeps a 19-digit numeric id exact", function()
    local exec = exec_with(json.decode('{"result": {"sys_id": 7512345678901234567}}'))
    testing.run(exec, "save_id", { external_id = "createResponse.result.sys_id" })
    expect(exec.links["inc-9"]).to_be("7512345678901234567")
  end)
  it("fails with the path when the id is missing", function()
    local port, err = testing.run(exec_with({}), "save_id",
      { external_id = "createResponse.id" })
    expect(port).to_be_nil()
    expect(err).to_contain("createResponse.id")
  end)
  it("refuses an object as an id", function()
    local _, err = testing.run(exec_with({ id = { a = 1 } }), "save_id",
      { external_id = "createResponse.id" })
    expect(err).to_contain("string or a number")
  end)
end)
