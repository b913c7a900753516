-- A share's identity read from its JSON text (the daemon's intake) must be
-- the identity the runtime finds in the decoded share, for every payload
-- shape, or say that only a decode can tell. Also json.lookup, which it
-- reads the text with.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")
local share = require("moonwire.share")

local function from_value(text, key_path)
  local vars = assert(share.normalize(assert(json.decode(text))))
  return share.incident_id(vars, key_path)
end

-- The text answer, where there is one, equals the decoded answer.
local function agrees(text, key_path)
  local fast = share.incident_id_of_text(text, key_path)
  local slow = from_value(text, key_path)
  if fast ~= nil and fast ~= slow then
    error(string.format("text %q: %q from the text, %q decoded", text,
      tostring(fast), tostring(slow)), 2)
  end
  return fast, slow
end

local function read(file)
  local f = assert(io.open(file, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

describe("share identity from the text", function()
  it("agrees with the decoded share on every shared payload", function()
    local dir = (os.getenv("MOONWIRE_SHARED") or core.source_dir .. "/../shared")
      .. "/data/payloads"
    local names = assert(core.list_dir(dir))
    local read_fast = 0
    for _, name in ipairs(names) do
      if name:match("%.json$") then
        local text = read(dir .. "/" .. name)
        local value = assert(json.decode(text))
        -- a file may hold one share or a list of them
        local shares = json.is_array(value) and value or { value }
        for _, v in ipairs(shares) do
          local one = json.encode(v)
          if agrees(one) then read_fast = read_fast + 1 end
          agrees(one, "incident.status")
          agrees(one, "metadata.source")
        end
      end
    end
    expect(read_fast > 5):to_be(true)
  end)

  it("reads envelopes, bare incidents and a null incident", function()
    expect(agrees('{"incident": {"id": "in-1"}, "id": "outer"}')):to_be("in-1")
    expect(agrees('{"id": "bare-1", "status": "ok"}')):to_be("bare-1")
    expect(agrees('{"incident": null, "id": "n-1"}')):to_be("n-1")
    expect(agrees('{"alert": {"alertId": "og-7"}}')):to_be("og-7")
    expect(agrees('{"incident": {"event": {"data": {"id": "pd-3"}}}}'))
      :to_be("pd-3")
  end)

  it("follows the decoder: last of repeated keys, escapes, numbers", function()
    expect(agrees('{"id": "first", "id": "last"}')):to_be("last")
    expect(agrees('{"\\u0069d": "esc\\u00e9"}')):to_be("esc\u{e9}")
    expect(agrees('{"id": 12.50}')):to_be("12.5")
    expect(agrees('{"id": 12345678901234567890}')):to_be("12345678901234567890")
    expect(agrees('{"id": "a%b\\u0000c"}')):to_be("a%25b%00c")
    expect(agrees('{"id": "", "incident_id": "second"}')):to_be("second")
    expect(agrees('{"id": true, "incident_id": "x"}')):to_be("x")
  end)

  it("reads an integration's incident_key where the share has it", function()
    local text = '{"incident": {"id": "i"}, "metadata": {"ref": "m-9"}, '
      .. '"extra": {"k": 5}}'
    expect(agrees(text, "metadata.ref")):to_be("m-9")
    expect(agrees(text, "extra.k")):to_be("5")
    expect(agrees(text, "incident.id")):to_be("i")
    expect(agrees(text, "metadata.none")):to_be("i")
    expect(agrees('{"id": "b", "ref": "r"}', "incident.ref")):to_be("r")
    expect(agrees('{"id": "b", "ref": "r"}', "ref")):to_be("b")
    expect(agrees('{"incident": {"id": "i"}, "metadata": "flat"}', "metadata"))
      :to_be("i")
  end)

  it("agrees on random shares with repeated keys and hostile strings",
    function()
      math.randomseed(20261204)
      local keys = { '"id"', '"incident"', '"incident_id"', '"alert"',
        '"alertId"', '"metadata"', '"x"', '"\\u0069d"', '"groupKey"' }
      local strings = { '"a"', '""', '"q\\"}]"', '"\\\\"', '"{[\\"x"',
        '"\\u00e9"', '"%"', '"\\u0000"' }
      local gen
      local function scalar()
        local r = math.random(6)
        if r == 1 then return strings[math.random(#strings)] end
        if r == 2 then return tostring(math.random(-5, 99999)) end
        if r == 3 then return "1.25e2" end
        if r == 4 then return "null" end
        if r == 5 then return "true" end
        return "123456789012345678901"
      end
      gen = function(depth)
        local r = math.random(depth > 2 and 2 or 4)
        if r <= 2 then return scalar() end
        local parts = {}
        if r == 3 then
          for i = 1, math.random(0, 3) do parts[i] = gen(depth + 1) end
          return "[" .. table.concat(parts, ", ") .. "]"
        end
        for i = 1, math.random(0, 5) do
          parts[i] = keys[math.random(#keys)] .. ": " .. gen(depth + 1)
        end
        return "{" .. table.concat(parts, ",\n ") .. "}"
      end
      local read_fast = 0
      for _ = 1, 600 do
        local parts = {}
        for i = 1, math.random(1, 5) do
          parts[i] = keys[math.random(#keys)] .. ": " .. gen(1)
        end
        local text = "{" .. table.concat(parts, ", ") .. "}"
        if share.normalize(json.decode(text)) then
          if agrees(text) then read_fast = read_fast + 1 end
          agrees(text, "metadata.id")
          agrees(text, "incident.alert.alertId")
        end
      end
      expect(read_fast > 100):to_be(true)
    end)

  it("leaves to the decoder what only it can tell", function()
    -- a path through an array, a content identity, an incident that is no
    -- object (which the decoder refuses)
    local fast, slow = agrees('{"list": [{"id": "a"}]}', "incident.list.0.id")
    expect(fast):to_be_nil()
    expect(slow):to_be("a")
    fast, slow = agrees('{"no_id": 1}')
    expect(fast):to_be_nil()
    expect(slow:match("^content%-")):to_be_truthy()
    expect(share.incident_id_of_text('{"incident": [1]}')):to_be_nil()
    expect(share.incident_id_of_text('{"incident": "x"}')):to_be_nil()
  end)
end)

describe("json.lookup", function()
  it("names containers, reads scalars, and finds nothing where nothing is",
    function()
      local text = '{"a": {"b": [1, 2], "c": null, "d": "x"}, "e": 1.5}'
      expect(json.lookup(text, { "a" })):to_be("object")
      expect(json.lookup(text, { "a", "b" })):to_be("array")
      local kind, v = json.lookup(text, { "a", "c" })
      expect(kind):to_be("null")
      expect(v):to_be(json.null)
      kind, v = json.lookup(text, { "e" })
      expect(kind .. " " .. v):to_be("number 1.5")
      expect(select("#", json.lookup(text, { "a", "z" }))):to_be(0)
      expect(select("#", json.lookup(text, { "e", "z" }))):to_be(0)
    end)

  it("skips strings that hold quotes, brackets and backslashes", function()
    local text = '{"s": "a\\"]}{[\\\\", "t": ["]", {"u": "}"}], "id": "z"}'
    local kind, v = json.lookup(text, { "id" })
    expect(kind .. " " .. v):to_be("string z")
  end)

  it("refuses keys that are not strings", function()
    expect(function() json.lookup("{}", { 1 }) end):to_fail("must be strings")
  end)
end)
