-- A small spec runner for `moonwire test`: describe/it blocks, expect()
-- assertions, TAP output and a closing "N passed, N failed" line. Specs
-- run inside the real runtime, so they use the real json, templates and
-- node modules.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")

local format, type, tostring, pairs = string.format, type, tostring, pairs

local M = {}

local function show(v)
  if type(v) == "string" then return format("%q", v) end
  if type(v) == "table" or v == json.null then
    local s = json.encode(v)
    if s then return s end
  end
  return tostring(v)
end

local function deep_equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  if json.is_array(a) ~= json.is_array(b) and (next(a) == nil or next(b) == nil) then
    return false
  end
  for k, v in pairs(a) do
    if not deep_equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end
M.deep_equal = deep_equal

local Expect = {}
Expect.__index = Expect

local function fail(msg)
  error({ spec_failure = msg }, 3)
end

function Expect:to_be(x)
  if self.v ~= x then fail(format("expected %s to be %s", show(self.v), show(x))) end
end
function Expect:to_equal(x)
  if not deep_equal(self.v, x) then
    fail(format("expected %s to equal %s", show(self.v), show(x)))
  end
end
function Expect:to_match(pat)
  if type(self.v) ~= "string" or not self.v:match(pat) then
    fail(format("expected %s to match %q", show(self.v), pat))
  end
end
function Expect:to_contain(sub)
  if type(self.v) ~= "string" or not self.v:find(sub, 1, true) then
    fail(format("expected %s to contain %q", show(self.v), sub))
  end
end
function Expect:to_be_nil()
  if self.v ~= nil then fail(format("expected %s to be nil", show(self.v))) end
end
function Expect:to_be_truthy()
  if not self.v then fail(format("expected %s to be truthy", show(self.v))) end
end
function Expect:to_be_falsy()
  if self.v then fail(format("expected %s to be falsy", show(self.v))) end
end
function Expect:to_fail(sub)
  local ok, err = pcall(self.v)
  if ok then fail("expected the function to raise an error") end
  local msg = type(err) == "table" and (err.message or show(err)) or tostring(err)
  if sub and not msg:find(sub, 1, true) then
    fail(format("expected the error %q to contain %q", msg, sub))
  end
end

-- expect(v):to_be(x) and expect(v).to_be(x) both work.
local function expect(v)
  local e = setmetatable({ v = v }, Expect)
  local proxy = {}
  return setmetatable(proxy, { __index = function(_, name)
    local m = Expect[name]
    if not m then error("expect() has no assertion " .. tostring(name), 2) end
    return function(first, ...)
      if rawequal(first, proxy) then return m(e, ...) end
      return m(e, first, ...)
    end
  end })
end

local function spec_files(paths)
  local files = {}
  for _, p in ipairs(paths) do
    local names = core.list_dir(p)
    if names then
      table.sort(names)
      for _, n in ipairs(names) do
        if n:match("_spec%.lua$") then files[#files + 1] = p .. "/" .. n end
      end
    else
      files[#files + 1] = p
    end
  end
  return files
end

--- Runs the spec files (directories are searched for *_spec.lua).
---@param paths string[]
---@return integer exit code: 0 when every test passed
function M.run(paths, opts)
  if #paths == 0 then paths = { "tests/lua" } end
  local passed, failed, n = 0, 0, 0
  local out = io.stdout
  for _, file in ipairs(spec_files(paths)) do
    local stack, tests = {}, {}
    local env = setmetatable({
      expect = expect,
      describe = function(name, fn)
        stack[#stack + 1] = name
        fn()
        stack[#stack] = nil
      end,
      it = function(name, fn)
        local parts = {}
        for i, s in ipairs(stack) do parts[i] = s end
        parts[#parts + 1] = name
        tests[#tests + 1] = { name = table.concat(parts, " "), fn = fn }
      end,
    }, { __index = _G })
    local chunk, err = loadfile(file)
    if chunk then
      setfenv(chunk, env)
      local ok, lerr = pcall(chunk)
      if not ok then chunk, err = nil, tostring(lerr) end
    end
    if not chunk then
      n, failed = n + 1, failed + 1
      out:write(format("not ok %d - %s: cannot load: %s\n", n, file, err))
    end
    for _, t in ipairs(tests) do
      n = n + 1
      local ok, terr = xpcall(t.fn, function(e)
        if type(e) == "table" and e.spec_failure then return e.spec_failure end
        return debug.traceback(tostring(e), 2)
      end)
      if ok then
        passed = passed + 1
        out:write(format("ok %d - %s\n", n, t.name))
      else
        failed = failed + 1
        out:write(format("not ok %d - %s\n", n, t.name))
        for line in tostring(terr):gmatch("[^\n]+") do
          out:write("#   ", line, "\n")
        end
      end
    end
  end
  out:write(format("1..%d\n%d passed, %d failed\n", n, passed, failed))
  return failed > 0 and 1 or 0
end

return M
