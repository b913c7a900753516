-- Property tests of the json output mode with seeded random strings: quotes,
-- backslashes, control bytes, emoji, U+2028/9, invalid UTF-8, surrogate
-- escapes in the data's JSON source and 1 MB values, in string and value
-- positions. Every output must parse and give the input back (invalid UTF-8
-- as U+FFFD). Fixed-case behaviour is template_spec.lua's.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local template = require("moonwire.template")

local byte, char, sub, find, rep, format, upper = string.byte, string.char,
  string.sub, string.find, string.rep, string.format, string.upper
local concat = table.concat
local random, randomseed = math.random, math.randomseed

local SEED = tonumber(os.getenv("MOONWIRE_FUZZ_SEED") or "") or 20240601
local FFFD = "\239\191\189"

-- Oracle ----------------------------------------------------------------------

-- Length of the well-formed UTF-8 sequence at i (no overlongs, surrogates
-- or code points past U+10FFFF), or nil. Written apart from the C codec on
-- purpose: it is what the output is checked against.
local function sequence_at(s, i)
  local c = byte(s, i)
  local len, low, high
  if c < 0x80 then
    return 1
  elseif c >= 0xC2 and c <= 0xDF then
    len, low, high = 2, 0x80, 0x7FF
  elseif c >= 0xE0 and c <= 0xEF then
    len, low, high = 3, 0x800, 0xFFFF
  elseif c >= 0xF0 and c <= 0xF4 then
    len, low, high = 4, 0x10000, 0x10FFFF
  else
    return nil
  end
  local cp = c % (2 ^ (7 - len))
  for k = 1, len - 1 do
    local d = byte(s, i + k)
    if not d or d < 0x80 or d > 0xBF then
      return nil
    end
    cp = cp * 64 + d % 64
  end
  if cp < low or cp > high or (cp >= 0xD800 and cp <= 0xDFFF) then
    return nil
  end
  return len
end

-- s with each byte that starts no well-formed sequence replaced by U+FFFD.
local function utf8_fixed(s)
  local out, n, i = {}, 0, 1
  while true do
    local j = find(s, "[\128-\255]", i)
    if not j then
      break
    end
    local len = sequence_at(s, j)
    out[n + 1], out[n + 2] = sub(s, i, j - 1), len and sub(s, j, j + len - 1)
      or FFFD
    n, i = n + 2, j + (len or 1)
  end
  out[n + 1] = sub(s, i)
  return concat(out)
end

local function fail(seed, what, got, want)
  local at = 1
  while at <= #want and byte(got, at) == byte(want, at) do
    at = at + 1
  end
  error(format("seed %d: %s; first difference at byte %d: got %q, want %q",
    seed, what, at, sub(got, at, at + 20), sub(want, at, at + 20)), 0)
end

local function check_same(seed, what, got, want)
  if got ~= want then
    fail(seed, what, tostring(got), want)
  end
end

-- Renders in json mode and checks the text before decoding it: valid
-- UTF-8, no raw U+2028/U+2029, and JSON that moonwire.json accepts.
local function render(seed, source, vars)
  local tpl = assert(template.compile(source, {mode = "json"}))
  local out, err = tpl:render(vars)
  if not out then
    error(format("seed %d: render failed: %s", seed, tostring(err)), 0)
  end
  check_same(seed, "output is valid UTF-8", out, utf8_fixed(out))
  if find(out, "\226\128[\168\169]") then
    error(format("seed %d: raw U+2028 or U+2029 in the output", seed), 0)
  end
  local value, derr = json.decode(out)
  if value == nil then
    error(format("seed %d: output is not JSON: %s", seed, derr), 0)
  end
  return value, out
end

-- Generators ------------------------------------------------------------------

local function pick(list)
  return list[random(#list)]
end

local function control_byte()
  local c = random(0, 32)
  return char(c == 32 and 127 or c)
end

local INVALID = {
  "\128", "\191", "\192\175", "\193\191", "\245\128\128\128", "\255", "\254",
  "\226\130", "\240\159\152", "\237\160\128", "\237\191\191",
  "\224\128\128", "\240\128\128\128", "\244\144\128\128", "\195",
}

local MULTIBYTE = {
  "é", "ß", "€", "中文", "🚨", "😀", "👩‍💻", "🇫🇷",
  "\226\128\168", "\226\128\169",
  "\239\187\191", "\244\143\191\191", "\127",
}

local ASCII = {
  "a", "Z", "0", " ", "{", "}", "[", "]", ",", ":", "{{x}}", "}}}", "</script>",
  "&amp;", "'", "`", "=", "/", "*/", "--", "null", "true", "1e400", "-0",
}

local KINDS = {
  function() return pick(ASCII) end,
  function() return '"' end,
  function() return "\\" end,
  function() return '\\"' end,
  control_byte,
  function() return pick(MULTIBYTE) end,
  function() return pick(INVALID) end,
  function() return rep(pick(ASCII), random(1, 40)) end,
}

-- A random byte string of up to `pieces` pieces from every kind above.
local function random_string(pieces)
  local parts = {}
  for i = 1, random(0, pieces) do
    parts[i] = pick(KINDS)()
  end
  return concat(parts)
end

-- Pieces of a JSON string literal's source with the text each decodes to.
-- A piece that ends in a lone high surrogate ends with "." so that it
-- cannot pair with a low one that starts the next piece.
local ATOMS = {
  {"\\ud83d\\ude00", "😀"}, {"\\uD83D\\uDE80", "🚀"},
  {"\\ud800.", FFFD .. "."}, {"\\udfff", FFFD},
  {"\\ude00\\ud83d.", FFFD .. FFFD .. "."},
  {"\\ud83d\\u0041", FFFD .. "A"}, {"\\ud83d\\ud83d\\ude00", FFFD .. "😀"},
  {"\\u0000", "\0"}, {"\\u001f", "\31"}, {"\\u2028", "\226\128\168"},
  {"\\u00e9", "é"}, {'\\"', '"'}, {"\\\\", "\\"}, {"\\/", "/"},
  {"\\b\\f\\n\\r\\t", "\b\f\n\r\t"}, {"plain", "plain"}, {"🚨", "🚨"},
  {"\255", FFFD}, {"\237\160\128", FFFD .. FFFD .. FFFD}, {"{{x}}", "{{x}}"},
}

-- A JSON object's source {"s": "..."} made of random atoms, with the text
-- its member s decodes to.
local function random_source()
  local src, want = {}, {}
  for i = 1, random(0, 12) do
    local atom = pick(ATOMS)
    src[i], want[i] = atom[1], atom[2]
  end
  return '{"s": "' .. concat(src) .. '"}', concat(want)
end

-- Specs ---------------------------------------------------------------------

describe("template json mode with fuzzed values", function()
  it("keeps any string intact inside a JSON string and at a value position",
    function()
      local source = '{"in": "{{s}}", "at": {{s}}, "around": "<{{s}}|\\n>",'
        .. ' "list": [{{s}}, "{{s}}"]}'
      for i = 1, 2000 do
        local seed = SEED + i
        randomseed(seed)
        local s = random_string(30)
        local want = utf8_fixed(s)
        local v = render(seed, source, {s = s})
        check_same(seed, "in a string", v["in"], want)
        check_same(seed, "at a value position", v.at, want)
        check_same(seed, "between template text", v.around,
          "<" .. want .. "|\n>")
        check_same(seed, "in a list", v.list[1] .. v.list[2], want .. want)
      end
    end)

  it("writes strings decoded from escapes, surrogates included, back as the"
    .. " same text", function()
    for i = 1, 1000 do
      local seed = SEED + 10000 + i
      randomseed(seed)
      local src, want = random_source()
      local vars, derr = json.decode(src)
      if not vars then
        error(format("seed %d: data source refused: %s", seed, derr), 0)
      end
      check_same(seed, "decoded data", vars.s, want)
      local v = render(seed, '{"a": "{{s}}", "b": {{s}}, "c": {{json s}}}',
        vars)
      check_same(seed, "in a string", v.a, want)
      check_same(seed, "at a value position", v.b, want)
      check_same(seed, "through the json helper", v.c, want)
    end
  end)

  it("writes nested values with fuzzed keys as the same JSON, and as JSON"
    .. " text inside a string", function()
    for i = 1, 500 do
      local seed = SEED + 20000 + i
      randomseed(seed)
      local key, s = random_string(6), random_string(10)
      local value = {[key] = json.array({s, random(-1e6, 1e6), true,
        json.null, {}}), n = random() * 1e10, e = json.array()}
      local want = {[utf8_fixed(key)] = json.array({utf8_fixed(s),
        value[key][2], true, json.null, {}}), n = value.n, e = json.array()}
      local v = render(seed, '{"at": {{v}}, "in": "{{v}}"}', {v = value})
      expect(v.at):to_equal(want)
      expect(json.decode(v["in"])):to_equal(want)
    end
  end)

  it("drops only the trailing commas that stand outside strings", function()
    local source = '[{{#each xs}}"{{this}}", {{/each}}]'
    for i = 1, 500 do
      local seed = SEED + 30000 + i
      randomseed(seed)
      local xs, want = json.array(), json.array()
      for k = 1, random(0, 6) do
        xs[k] = random_string(4) .. pick({",", ",]", '\\",', ",}", ""})
        want[k] = utf8_fixed(xs[k])
      end
      expect(render(seed, source, {xs = xs})):to_equal(want)
    end
  end)

  it("keeps the output of string helpers valid JSON", function()
    local source = '{"upper": "{{upper s}}", "cut": "{{truncate s 7 "…"}}",'
      .. ' "swap": "{{replace s "a" "\\""}}", "both": {{concat s t}},'
      .. ' "join": "{{join xs s}}", "or": {{default s t}}}'
    for i = 1, 500 do
      local seed = SEED + 40000 + i
      randomseed(seed)
      local s, t = random_string(12), random_string(12)
      local v = render(seed, source, {s = s, t = t,
        xs = json.array({t, s})})
      check_same(seed, "upper", v.upper, utf8_fixed(upper(s)))
      check_same(seed, "concat", v.both, utf8_fixed(s .. t))
      check_same(seed, "join", v.join, utf8_fixed(t .. s .. s))
      if s == "" and t == "" then
        expect(v["or"]):to_be(json.null)
      else
        check_same(seed, "default", v["or"], utf8_fixed(s ~= "" and s or t))
      end
    end
  end)

  it("carries 1 MB values through string and value positions", function()
    for i = 1, 2 do
      local seed = SEED + 50000 + i
      randomseed(seed)
      local parts = {}
      while #parts < 20000 do
        parts[#parts + 1] = random_string(20)
      end
      local s = sub(concat(parts), 1, 1024 * 1024)
      local want = utf8_fixed(s)
      local v = render(seed, '{"in": "x{{s}}", "at": {{s}}}', {s = s})
      check_same(seed, "1 MB in a string", v["in"], "x" .. want)
      check_same(seed, "1 MB at a value position", v.at, want)
    end
  end)
end)

describe("json.validate", function()
  it("accepts exactly what json.decode accepts, with the same message",
    function()
      local base = assert(template.render('{"a": [{{s}}, 1.5e3, true, null],'
        .. ' "b": {"c": "{{s}}"}}', {s = 'x"\\\1🚨'}))
      local noise = {'"', "\\", ",", "]", "}", "{", "[", ":", "u", "0", "-",
        ".", "e", "\1", "\255", " ", "n", "tru"}
      for i = 1, 3000 do
        local seed = SEED + 60000 + i
        randomseed(seed)
        local at = random(1, #base + 1)
        local text = sub(base, 1, at - 1) .. pick(noise)
          .. sub(base, at + random(0, 2))
        local ok, verr = json.validate(text)
        local value, derr = json.decode(text)
        if (ok ~= nil) ~= (value ~= nil) or verr ~= derr then
          error(format("seed %d: validate says %s, decode says %s for %q",
            seed, tostring(verr or ok), tostring(derr or "ok"), text), 0)
        end
      end
    end)
end)
