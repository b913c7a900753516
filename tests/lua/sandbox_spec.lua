-- SPDX-License-Identifier: MIT
-- The hostile-node suite: one small user module per attack. Each is
-- refused at load or stopped with a clear error within its bound, and the
-- runtime goes on serving other executions.
local core = require("moonwire.core")
local runtime = require("moonwire.runtime")
local testing = require("moonwire.testing")

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir) == 0)

local function module_source(body)
  return ([[
return {
  type = "%s", title = "Hostile", description = "A test of the sandbox.",
  schema = {},
  run = function(ctx, config)
    %s
    return "next"
  end,
}]])
end

local cases = {
  os_execute = 'os.execute("touch /tmp/pwned")',
  io_open = 'io.open("/etc/passwd")',
  ffi = 'require("ffi")',
  load_bytecode = 'load(string.char(27) .. "LJ")',
  loadstring = 'loadstring("return 1")()',
  string_dump = 'string.dump(function() end)',
  debug_lib = 'debug.getinfo(1)',
  getfenv = 'getfenv(ctx.get).x = 1',
  setfenv = 'setfenv(1, {})',
  rawset_json = 'rawset(json, "decode", nil)',
  write_json = 'json.decode = function() end',
  string_meta = 'getmetatable("").__index.dump(function() end)',
  loop = 'while true do end',
  jit_loop = 'local x = 0 for i = 1, 1e15 do x = x + i % 7 end',
  pcall_loop = 'while true do pcall(function() while true do end end) end',
  recursion = 'local function f(n) return f(n + 1) + 1 end f(1)',
  memory_bomb = 'local t = {} while true do t[#t + 1] = {1, 2, 3, 4} end',
  huge_string = 'local s = string.rep("x", 2^31)',
  concat_bomb = 'local s = "x" while true do s = s .. s end',
  error_table = 'error({ nope = true })',
  error_nil = 'error(nil)',
  internals = 'local mt = getmetatable(ctx) mt.__index.http = nil',
  string_method_rep = 'local s = ("x"):rep(2^30)',
  string_method_dump = 'local d = ("").dump(function() end)',
}

local names = {}
for name, body in pairs(cases) do
  names[#names + 1] = name
  local f = assert(io.open(dir .. "/hostile_" .. name .. ".lua", "w"))
  f:write(module_source(body):format("hostile_" .. name, body))
  f:close()
end
table.sort(names)
local loops = assert(io.open(dir .. "/loops.lua", "w"))
loops:write([[
return { type = "loops", title = "Loops", description = "ports never return",
  schema = {}, ports = function() while true do end end,
  run = function() return "next" end }]])
loops:close()
local bc = assert(io.open(dir .. "/bytecode.lua", "w"))
bc:write(string.char(27) .. "LJ\2\0garbage")
bc:close()

local builtin = core.nodes_dir
runtime.load_catalog({ builtin, dir })

describe("user node sandbox", function()
  it("refuses a precompiled bytecode module at load, naming the file", function()
    local found
    for _, e in ipairs(runtime.load_errors()) do
      if e.file:find("bytecode.lua", 1, true) then found = e.message end
    end
    expect(found).to_contain("bytecode")
  end)
  for _, name in ipairs(names) do
    it("stops " .. name .. " with a clear error", function()
      local t0 = core.now_ms()
      local exec = testing.exec({ incident = { id = "i" } })
      local port, err = testing.run(exec, "hostile_" .. name, {})
      expect(port).to_be_nil()
      expect(type(err)).to_be("string")
      -- the bounds count instructions and bytes, not seconds: this only
      -- catches a node that was never stopped (a loaded machine is slow)
      expect(core.now_ms() - t0 < 60000).to_be(true)
    end)
  end
  it("bounds a module's ports() as well as its run()", function()
    local wf, errors = runtime.load_workflow({ format = 1,
      nodes = { { id = "a", type = "loops", config = {} } }, connections = {} })
    expect(wf).to_be_nil()
    expect(require("moonwire.json").encode(errors)).to_contain("instructions")
  end)
  it("leaves the runtime working for other executions", function()
    local exec = testing.exec({ incident = { id = "i", status = "ok" } })
    expect(testing.run(exec, "transform",
      { template = '{"s": "{{incident.status}}"}', output = "o" })).to_be("next")
    expect(exec.vars.o.s).to_be("ok")
    expect(require("moonwire.json").decode("[1]")[1]).to_be(1)
  end)
  it("stops a loop within its bound and says which bound", function()
    local _, err = testing.run(testing.exec({ incident = { id = "i" } }),
      "hostile_loop", {})
    expect(err).to_contain("instructions")
  end)
  it("stops a memory bomb by its memory bound", function()
    local _, err = testing.run(testing.exec({ incident = { id = "i" } }),
      "hostile_memory_bomb", {})
    expect(err).to_contain("memory")
  end)
  it("drops the hostile modules again", function()
    runtime.load_catalog({ builtin })
    os.execute("rm -rf " .. dir)
    expect(runtime.catalog().hostile_loop).to_be_nil()
  end)
end)
