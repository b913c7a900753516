-- Built-in template helpers: values, comparisons and logic, strings and
-- dates. Each takes (args..., options) like a user helper. #if #unless #each
-- #with are compiled inline by codegen.lua; they are here only so that a
-- helper can call them.
-- SPDX-License-Identifier: MIT

local rt = require("moonwire.template.runtime")
local date = require("moonwire.template.date")

local type, select, tonumber = type, select, tonumber
local pairs, error = pairs, error
local find, sub, format, upper, lower = string.find, string.sub,
  string.format, string.upper, string.lower
local concat = table.concat

local NULL = rt.NULL
local text, truthy, is_array, is_object = rt.text, rt.truthy, rt.is_array,
  rt.is_object
local as_number = rt.as_number

local M = {}

local function fail(message)
  error({message = message}, 0)
end

-- Number of positional arguments in a helper call (the options table is
-- always last).
local function nargs(...)
  return select("#", ...) - 1
end

-- Values ----------------------------------------------------------------------

---{{json value}}: the JSON text of a value (null when missing).
function M.json(value)
  if value == nil then
    return rt.json_text("null")
  end
  return rt.json_text(rt.encode(value))
end

---{{default a b ...}}: the first argument that is neither missing, null
---nor "".
function M.default(...)
  local n = nargs(...)
  for i = 1, n do
    local v = select(i, ...)
    if v ~= nil and v ~= NULL and v ~= "" then
      return v
    end
  end
  return nil
end

---{{lookup obj key}}: obj[key], arrays indexed from 0.
function M.lookup(obj, key)
  return rt.getn(obj, key)
end

-- Comparisons ----------------------------------------------------------------

-- Text of a number-like value for comparison with text.
local function scalar_text(v)
  if type(v) == "number" or rt.is_bignum(v) then
    return text(v)
  end
  return nil
end

local equal

local function equal_tables(a, b)
  local aa, ba = is_array(a), is_array(b)
  if aa ~= ba or not (aa or is_object(a)) or not (ba or is_object(b)) then
    return false
  end
  if aa then
    if #a ~= #b then
      return false
    end
    for i = 1, #a do
      if not equal(a[i], b[i]) then
        return false
      end
    end
    return true
  end
  for k, v in pairs(a) do
    if not equal(v, b[k]) then
      return false
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false
    end
  end
  return true
end

-- Equality of JSON values, where missing equals null and a number equals
-- its decimal text as a template prints it (20 and "20").
function equal(a, b)
  if a == b then
    return true
  elseif a == nil or b == nil then
    return (a or NULL) == (b or NULL)
  end
  local ta, tb = type(a), type(b)
  local na, nb = scalar_text(a), scalar_text(b)
  if na or nb then
    return (na or (ta == "string" and a)) == (nb or (tb == "string" and b))
  end
  if ta == "table" and tb == "table" then
    return equal_tables(a, b)
  end
  return false
end

-- -1, 0 or 1, or nil when the values do not compare: numbers (and numeric
-- text) compare as numbers, other text byte by byte.
local function order(a, b)
  local x, y = as_number(a), as_number(b)
  if not (x and y) then
    if type(a) ~= "string" or type(b) ~= "string" then
      return nil
    end
    x, y = a, b
  end
  return x < y and -1 or (x > y and 1 or 0)
end

function M.eq(a, b)
  return equal(a, b)
end

function M.ne(a, b)
  return not equal(a, b)
end

function M.lt(a, b)
  local o = order(a, b)
  return o ~= nil and o < 0
end

function M.gt(a, b)
  local o = order(a, b)
  return o ~= nil and o > 0
end

function M.lte(a, b)
  local o = order(a, b)
  return o ~= nil and o <= 0
end

function M.gte(a, b)
  local o = order(a, b)
  return o ~= nil and o >= 0
end

---{{and a b ...}}: the first falsy argument, else the last one.
M["and"] = function(...)
  local n, v = nargs(...), true
  for i = 1, n do
    v = select(i, ...)
    if not truthy(v) then
      return v
    end
  end
  return v
end

---{{or a b ...}}: the first truthy argument, else the last one.
M["or"] = function(...)
  local n, v = nargs(...), false
  for i = 1, n do
    v = select(i, ...)
    if truthy(v) then
      return v
    end
  end
  return v
end

M["not"] = function(v)
  return not truthy(v)
end

-- Strings --------------------------------------------------------------------

-- Helpers return locals rather than tail-calling built-ins: see the note
-- above runtime.get.
local function map_text(v, fn)
  if v == nil or v == NULL then
    return v
  end
  local s = fn(text(v))
  return s
end

function M.upper(v)
  return map_text(v, upper)
end

function M.lower(v)
  return map_text(v, lower)
end

---{{truncate s n [suffix]}}: the first n characters of s, then suffix if
---anything was cut.
function M.truncate(...)
  local s, limit, suffix = ...
  if nargs(...) < 3 then
    suffix = nil
  end
  if s == nil or s == NULL then
    return s
  end
  s = text(s)
  limit = tonumber(limit)
  if not limit then
    fail("truncate: the length must be a number")
  end
  if rt.utf8_len(s) <= limit then
    return s
  end
  local count, stop = 0, 0
  for start in s:gmatch("()[^\128-\191]") do
    if count == limit then
      stop = start - 1
      break
    end
    count = count + 1
  end
  return sub(s, 1, stop) .. (suffix and text(suffix) or "")
end

---{{replace s from to}}: every occurrence of the text `from` replaced.
function M.replace(s, from, to)
  if s == nil or s == NULL then
    return s
  end
  s, from, to = text(s), text(from), text(to)
  if from == "" then
    return s
  end
  local out, i = {}, 1
  while true do
    local j, e = find(s, from, i, true)
    if not j then
      break
    end
    out[#out + 1] = sub(s, i, j - 1)
    out[#out + 1] = to
    i = e + 1
  end
  out[#out + 1] = sub(s, i)
  s = concat(out)
  return s
end

---{{join list [sep]}}: the items' text joined by sep (default ",").
function M.join(...)
  local list, sep = ...
  if nargs(...) < 2 then
    sep = ","
  end
  if not is_array(list) then
    return list
  end
  local parts = {}
  for i = 1, #list do
    parts[i] = text(list[i])
  end
  local s = concat(parts, text(sep))
  return s
end

---{{concat a b ...}}: the arguments' text, joined.
function M.concat(...)
  local parts = {}
  for i = 1, nargs(...) do
    parts[i] = text((select(i, ...)))
  end
  local s = concat(parts)
  return s
end

-- Dates ----------------------------------------------------------------------

---{{date value [format] [zone]}}: formats epoch seconds, milliseconds or
---ISO-8601 text in UTC, a fixed offset ("+02:00") or a named zone
---("Europe/Paris"); see date.lua.
function M.date(...)
  local n, options = nargs(...), select(select("#", ...), ...)
  local value, fmt, zone = ...
  local hash = options and options.hash or {}
  fmt = n >= 2 and fmt or hash.format
  zone = n >= 3 and zone or hash.tz
  if value == nil or value == NULL then
    return value
  end
  local seconds = date.epoch_seconds(value)
  if not seconds then
    fail(format("date: cannot read %q as a date", text(value)))
  end
  local out = date.format(seconds, (fmt ~= nil and fmt ~= NULL)
    and text(fmt) or nil, zone)
  if not out then
    fail(format("date: unknown time zone %q; use UTC, an offset such as"
      .. " +02:00 or a tz database name such as Europe/Paris", text(zone)))
  end
  return out
end

-- Block helpers, for helpers that call them (templates inline these) --------

M["if"] = function(cond, options)
  if truthy(cond) or (cond == 0 and options.hash.includeZero) then
    return options.fn()
  end
  return options.inverse()
end

M.unless = function(cond, options)
  if truthy(cond) or (cond == 0 and options.hash.includeZero) then
    return options.inverse()
  end
  return options.fn()
end

M.with = function(value, options)
  if rt.is_empty(value) then
    return options.inverse()
  end
  return options.fn(value, {blockParams = {value}})
end

M.each = function(list, options)
  local keys, len = rt.iter(list)
  if len == 0 then
    return options.inverse()
  end
  local out = {}
  for i = 1, len do
    local key = keys and keys[i] or i - 1
    local item = keys and list[key] or list[i]
    out[i] = options.fn(item, {blockParams = {item, key}})
  end
  return concat(out)
end

return M
