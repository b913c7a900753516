-- Built-in template helpers: values, comparisons and logic, strings and
-- dates. Each takes (args..., options) like a user helper. #if #unless #each
-- #with are compiled inline by codegen.lua; they are here only so that a
-- helper can call them.
-- SPDX-License-Identifier: MIT

local rt = require("moonwire.template.runtime")

local type, select, tonumber, tostring = type, select, tonumber, tostring
local pairs, error = pairs, error
local floor, abs = math.floor, math.abs
local find, sub, format, upper, lower, gsub, match = string.find, string.sub,
  string.format, string.upper, string.lower, string.gsub, string.match
local concat = table.concat

local NULL = rt.NULL
local text, truthy, is_array, is_object = rt.text, rt.truthy, rt.is_array,
  rt.is_object

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

-- A number for number-like values: numbers, big numbers and decimal text.
local function as_number(v)
  if type(v) == "number" then
    return v
  elseif rt.is_bignum(v) then
    return tonumber(tostring(v))
  elseif type(v) == "string"
    and find(v, "^%s*%-?%d*%.?%d+[eE]?[-+]?%d*%s*$") then
    return tonumber(v)
  end
  return nil
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

local function map_text(v, fn)
  if v == nil or v == NULL then
    return v
  end
  return fn(text(v))
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
  return concat(out)
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
  return concat(parts, text(sep))
end

---{{concat a b ...}}: the arguments' text, joined.
function M.concat(...)
  local parts = {}
  for i = 1, nargs(...) do
    parts[i] = text((select(i, ...)))
  end
  return concat(parts)
end

-- Dates ----------------------------------------------------------------------

-- Days since 1970-01-01 of a proleptic Gregorian date, and back.
local function days_from_civil(y, m, d)
  if m <= 2 then
    y = y - 1
  end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524)
    - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  return m <= 2 and y + 1 or y, m, d
end

-- Minutes east of UTC for "Z", "UTC", "+02:00", "-0530" or "+02".
local function offset_minutes(zone)
  if zone == nil or zone == NULL or zone == "" or zone == "Z"
    or zone == "UTC" or zone == "GMT" then
    return 0
  end
  local sign, h, m = match(zone, "^([-+])(%d%d):?(%d?%d?)$")
  if not sign or (m ~= "" and #m ~= 2) then
    return nil
  end
  local minutes = tonumber(h) * 60 + (tonumber(m) or 0)
  return sign == "-" and -minutes or minutes
end

-- Seconds since the epoch for epoch seconds, ms, µs or ns (told apart by
-- size) or ISO-8601 text.
local function epoch_seconds(v)
  local n = as_number(v)
  if n then
    local size = abs(n)
    if size >= 1e17 then
      return n / 1e9
    elseif size >= 1e14 then
      return n / 1e6
    elseif size >= 1e11 then
      return n / 1e3
    end
    return n
  end
  if type(v) ~= "string" then
    return nil
  end
  local y, mo, d, rest = match(v, "^%s*(%d%d%d%d)%-(%d%d)%-(%d%d)(.-)%s*$")
  if not y then
    return nil
  end
  local h, mi, s, frac, zone = 0, 0, 0, "", "Z"
  if rest ~= "" then
    h, mi, rest = match(rest, "^[Tt ](%d%d):(%d%d)(.*)$")
    if not h then
      return nil
    end
    s = match(rest, "^:(%d%d)") or 0
    rest = s ~= 0 and sub(rest, 4) or rest
    frac = match(rest, "^[.,](%d+)") or ""
    rest = sub(rest, frac ~= "" and #frac + 2 or 1)
    zone = rest ~= "" and rest or "Z"
  end
  local offset = offset_minutes(zone == "z" and "Z" or zone)
  if not offset then
    return nil
  end
  mo, d, h, mi, s = tonumber(mo), tonumber(d), tonumber(h), tonumber(mi),
    tonumber(s)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or s > 60 then
    return nil
  end
  local ms = frac ~= "" and floor(tonumber("0." .. frac) * 1000) / 1000 or 0
  return days_from_civil(tonumber(y), mo, d) * 86400 + h * 3600 + mi * 60
    + s + ms - offset * 60
end

local DAYS = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday",
  "Friday", "Saturday"}
local MONTHS = {"January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December"}

local function zone_text(offset, colon)
  local sign = offset < 0 and "-" or "+"
  offset = abs(offset)
  return format(colon and "%s%02d:%02d" or "%s%02d%02d", sign,
    floor(offset / 60), offset % 60)
end

-- The strftime-like fields of a moment shifted by `offset` minutes.
local function fields(seconds, offset)
  local local_s = seconds + offset * 60
  local whole = floor(local_s)
  local days = floor(whole / 86400)
  local secs = whole - days * 86400
  local y, m, d = civil_from_days(days)
  local H, M, S = floor(secs / 3600), floor(secs / 60) % 60, secs % 60
  local yday = days - days_from_civil(y, 1, 1) + 1
  local wday = (days + 4) % 7
  local I = H % 12 == 0 and 12 or H % 12
  return {
    Y = format("%04d", y), y = format("%02d", y % 100),
    m = format("%02d", m), d = format("%02d", d), e = format("%2d", d),
    H = format("%02d", H), I = format("%02d", I), M = format("%02d", M),
    S = format("%02d", S), p = H < 12 and "AM" or "PM",
    L = format("%03d", floor((local_s - whole) * 1000 + 0.5) % 1000),
    j = format("%03d", yday), a = sub(DAYS[wday + 1], 1, 3),
    A = DAYS[wday + 1], b = sub(MONTHS[m], 1, 3), B = MONTHS[m],
    z = zone_text(offset, false), Z = offset == 0 and "UTC"
      or zone_text(offset, true),
    s = format("%d", floor(seconds)), ["%"] = "%",
    F = format("%04d-%02d-%02d", y, m, d),
    T = format("%02d:%02d:%02d", H, M, S),
  }
end

---{{date value [format] [zone]}}: formats epoch seconds, milliseconds or
---ISO-8601 text; zone is "UTC" or a fixed offset such as "+02:00".
function M.date(...)
  local n, options = nargs(...), select(select("#", ...), ...)
  local value, fmt, zone = ...
  local hash = options and options.hash or {}
  fmt = n >= 2 and fmt or hash.format
  zone = n >= 3 and zone or hash.tz
  if value == nil or value == NULL then
    return value
  end
  local seconds = epoch_seconds(value)
  if not seconds then
    fail(format("date: cannot read %q as a date", text(value)))
  end
  local offset = offset_minutes(zone)
  if not offset then
    fail(format("date: time zone %q is not supported; use UTC or a fixed"
      .. " offset such as +02:00", text(zone)))
  end
  if fmt == nil or fmt == NULL then
    fmt = offset == 0 and "%Y-%m-%dT%H:%M:%SZ" or "%Y-%m-%dT%H:%M:%S%:z"
  end
  local f = fields(seconds, offset)
  return (gsub(text(fmt), "%%(:?)(.)", function(colon, c)
    if colon == ":" then
      return c == "z" and zone_text(offset, true) or nil
    end
    return f[c]
  end))
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
