-- Template helpers from the node path: a module that returns
-- {helpers = {...}} and no run registers helpers, loaded by the node
-- loader in the user-module sandbox and bounded like a node's run().
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local runtime = require("moonwire.runtime")
local template = require("moonwire.template")
local testing = require("moonwire.testing")

local builtin = core.nodes_dir
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir) == 0)

local function write(name, source)
  local f = assert(io.open(dir .. "/" .. name, "w"))
  f:write(source)
  f:close()
end

write("text_helpers.lua", [[
local json = require("moonwire.json")
return {
  helpers = {
    shout = function(s) return string.upper(tostring(s)) .. "!" end,
    quoted = function(s, options)
      return (options.hash.mark or '"') .. tostring(s) .. '"'
    end,
    twice = function(options) return options.fn() .. options.fn() end,
    encoded = function(v) return json.encode(v) end,
    host_os = function() return os.getenv("HOME") end,
    spin = function() while true do end end,
  },
}
]])
write("echo.lua", [[
return {
  type = "spec_echo", title = "Echo", description = "Returns next.",
  run = function() return "next" end,
}
]])
write("bad_helpers.lua", [[
return { helpers = { date = function() return "" end, n = 42 } }
]])
write("zz_duplicate_helpers.lua", [[
return { helpers = { shout = function() return "" end } }
]])
write("boom_helpers.lua",
  "local x = io.open('/etc/passwd') return { helpers = {} }\n")

local function text(source, vars)
  local out, err = template.render(source, vars or {}, {mode = "text"})
  return out or tostring(err)
end

local function load_error(name)
  for _, e in ipairs(runtime.load_errors()) do
    if e.file:find(name, 1, true) then return e.message end
  end
end

runtime.load_catalog({ builtin, dir })

describe("helpers from the node path", function()
  it("registers each function of a helper module as a template helper",
    function()
      expect(text("{{shout name}} {{quoted name mark='«'}}", { name = "ada" }))
        :to_be('ADA! «ada"')
      expect(text("{{#twice}}ab{{/twice}}")):to_be("abab")
    end)

  it("escapes what a helper returns as the output mode says", function()
    local out = template.render('{"s": "{{quoted s}}", "v": {{encoded v}}}',
      { s = "x", v = { 1 } })
    expect(out):to_be('{"s": "\\"x\\"", "v": "[1]"}')
  end)

  it("loads node types from the same directory alongside", function()
    expect(runtime.catalog().spec_echo ~= nil):to_be(true)
  end)

  it("serves the helpers to templates of built-in nodes", function()
    local exec = testing.exec({ incident = { id = "i", status = "ok" } })
    expect(testing.run(exec, "transform",
      { template = '{"s": "{{shout incident.status}}"}', output = "o" }))
      :to_be("next")
    expect(exec.vars.o.s):to_be("OK!")
  end)

  it("runs helpers in the sandbox of user modules", function()
    expect(text("{{host_os}}")):to_contain("os")
    expect(load_error("boom_helpers.lua")):to_contain("io")
  end)

  it("stops a helper that runs past the instruction bound", function()
    local saved = runtime.limits.instructions
    runtime.limits.instructions = 1000000
    local out = text("{{spin}}")
    runtime.limits.instructions = saved
    expect(out):to_contain("instructions")
    expect(text("{{shout 'still working'}}")):to_be("STILL WORKING!")
  end)

  it("refuses a module that replaces a built-in or holds no function",
    function()
      local why = load_error("bad_helpers.lua")
      expect(why):to_contain('helper "date" is built in')
      expect(why):to_contain('helper "n" is a number, not a function')
      expect(text("{{date 0}}")):to_be("1970-01-01T00:00:00Z")
    end)

  it("refuses a helper that another module defines already", function()
    expect(load_error("zz_duplicate_helpers.lua"))
      :to_contain('helper "shout" is already defined by ' .. dir
        .. "/text_helpers.lua")
  end)

  it("drops the helpers when the node path no longer has them", function()
    runtime.load_catalog({ builtin })
    os.execute("rm -rf " .. dir)
    local _, err = template.compile("{{shout x}}")
    expect(tostring(err)):to_contain('Missing helper: "shout"')
    expect(runtime.catalog().spec_echo):to_be_nil()
  end)
end)
