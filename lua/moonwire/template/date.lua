-- Dates for the `date` helper: reading epoch numbers and ISO-8601 text,
-- time zones (UTC, fixed offsets, tz database names through moonwire.core)
-- and strftime-like formats, compiled once per format text. The helper's
-- argument handling is helpers.lua's.
-- SPDX-License-Identifier: MIT

local rt = require("moonwire.template.runtime")
local core_ok, core = pcall(require, "moonwire.core")

local type, tonumber, tostring, load, assert = type, tonumber, tostring,
  load, assert
local floor, abs, min = math.floor, math.abs, math.min
local find, sub, format, match = string.find, string.sub, string.format,
  string.match
local concat = table.concat

local NULL = rt.NULL
local tz_offset = core_ok and core.tz_offset or nil

local M = {}

-- Calendar ------------------------------------------------------------------

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

-- Reading moments -----------------------------------------------------------

-- Minutes east of UTC for "Z", "UTC", "+02:00", "-0530" or "+02".
local function offset_minutes(zone)
  if zone == nil or zone == NULL or zone == "" or zone == "Z"
    or zone == "UTC" or zone == "GMT" then
    return 0
  end
  if type(zone) ~= "string" then
    return nil
  end
  local sign, h, m = match(zone, "^([-+])(%d%d):?(%d?%d?)$")
  if not sign or (m ~= "" and #m ~= 2) then
    return nil
  end
  local minutes = tonumber(h) * 60 + (tonumber(m) or 0)
  return sign == "-" and -minutes or minutes
end

-- Seconds since the epoch of ISO-8601 text; no zone means UTC.
local function iso_seconds(v)
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
  mo, d, h, mi, s = tonumber(mo), tonumber(d), tonumber(h), tonumber(mi),
    tonumber(s)
  if not offset or mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23
    or mi > 59 or s > 60 then
    return nil
  end
  local ms = frac ~= "" and floor(tonumber("0." .. frac) * 1000) / 1000 or 0
  return days_from_civil(tonumber(y), mo, d) * 86400 + h * 3600 + mi * 60
    + s + ms - offset * 60
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
  Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

---Seconds since the epoch of an HTTP-date (RFC 9110, 5.6.7) in any of its
---three forms: "Sun, 06 Nov 1994 08:49:37 GMT", the obsolete
---"Sunday, 06-Nov-94 08:49:37 GMT" (a two-digit year is 1970-2069) and
---C's asctime "Sun Nov  6 08:49:37 1994". nil if v is none of them.
---@param v any
---@return number|nil
function M.http_seconds(v)
  if type(v) ~= "string" then
    return nil
  end
  local d, mon, y, h, mi, s = match(v,
    "^%s*%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT%s*$")
  if not d then
    d, mon, y, h, mi, s = match(v,
      "^%s*%a+, (%d%d)%-(%a%a%a)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT%s*$")
    if y then
      y = tonumber(y) + (tonumber(y) < 70 and 2000 or 1900)
    end
  end
  if not d then
    mon, d, h, mi, s, y = match(v,
      "^%s*%a%a%a (%a%a%a) +(%d%d?) (%d%d):(%d%d):(%d%d) (%d%d%d%d)%s*$")
  end
  local m = mon and MONTHS[mon]
  if not m then
    return nil
  end
  d, h, mi, s = tonumber(d), tonumber(h), tonumber(mi), tonumber(s)
  if d < 1 or d > 31 or h > 23 or mi > 59 or s > 60 then
    return nil
  end
  return days_from_civil(tonumber(y), m, d) * 86400 + h * 3600 + mi * 60 + s
end

---Seconds since the epoch of a date value: epoch seconds, ms, µs or ns
---(told apart by size), numeric text, or ISO-8601 text. nil if unreadable.
---@param v any
---@return number|nil
function M.epoch_seconds(v)
  local n = rt.as_number(v)
  if not n then
    return type(v) == "string" and iso_seconds(v) or nil
  end
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

-- Zones -----------------------------------------------------------------------

local function zone_text(offset, colon)
  local sign = offset < 0 and "-" or "+"
  local minutes = floor(abs(offset) / 60)
  return format(colon and "%s%02d:%02d" or "%s%02d%02d", sign,
    floor(minutes / 60), minutes % 60)
end

---The offset east of UTC in seconds of a zone at a moment, the zone's
---name for %Z, and whether it is a tz database zone; nil and a message for
---a zone that is neither UTC, a fixed offset nor a known name.
---@param zone any "UTC", "+02:00", "Europe/Paris", nil
---@param seconds number
---@return integer|nil offset
---@return string abbreviation or message
---@return boolean|nil named
function M.zone_at(zone, seconds)
  local minutes = offset_minutes(zone)
  if minutes then
    return minutes * 60, minutes == 0 and "UTC"
      or zone_text(minutes * 60, true), false
  end
  if type(zone) ~= "string" or not tz_offset then
    return nil, "not a time zone"
  end
  local offset, abbr = tz_offset(zone, floor(seconds))
  return offset, abbr, offset and true or nil
end

-- Formats ---------------------------------------------------------------------

local DAYS = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday",
  "Friday", "Saturday"}
local MONTHS = {"January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December"}

-- "00" to "99", so that the common fields need no string.format.
local PAD2 = {}
for i = 0, 99 do
  PAD2[i] = format("%02d", i)
end

local function year(y)
  if y >= 1000 and y <= 9999 then
    return tostring(y)
  end
  return format("%04d", y)
end

-- What compiled formats may call, besides the moment's parts.
local ENV = {
  PAD2 = PAD2, DAYS = DAYS, MONTHS = MONTHS, sub = sub, YEAR = year,
  ZONE = zone_text,
  MILLIS = function(frac)
    return format("%03d", floor(frac * 1000 + 0.5) % 1000)
  end,
  YDAY = function(days, y)
    return format("%03d", days - days_from_civil(y, 1, 1) + 1)
  end,
  SECONDS = function(seconds) return format("%d", floor(seconds)) end,
}

-- Each field as a Lua expression over the parts a compiled format takes.
local FIELDS = {
  Y = "YEAR(y)", y = "PAD2[y % 100]", m = "PAD2[m]", d = "PAD2[d]",
  e = "(d < 10 and ' ' .. d or PAD2[d])", H = "PAD2[H]",
  I = "PAD2[H % 12 == 0 and 12 or H % 12]", M = "PAD2[M]", S = "PAD2[S]",
  p = "(H < 12 and 'AM' or 'PM')", L = "MILLIS(frac)", j = "YDAY(days, y)",
  a = "sub(DAYS[(days + 4) % 7 + 1], 1, 3)", A = "DAYS[(days + 4) % 7 + 1]",
  b = "sub(MONTHS[m], 1, 3)", B = "MONTHS[m]", z = "ZONE(offset, false)",
  [":z"] = "ZONE(offset, true)", Z = "abbr", s = "SECONDS(seconds)",
  F = "YEAR(y) .. '-' .. PAD2[m] .. '-' .. PAD2[d]",
  T = "PAD2[H] .. ':' .. PAD2[M] .. ':' .. PAD2[S]", ["%"] = "'%'",
}

local PARAMS = "y, m, d, H, M, S, days, frac, seconds, offset, abbr"

-- Joins expressions with `..`, in groups, so that a long format stays
-- within what one Lua expression may hold.
local function joined(parts)
  local groups = {}
  for i = 1, #parts, 50 do
    groups[#groups + 1] = "(" .. concat(parts, " .. ", i,
      min(i + 49, #parts)) .. ")"
  end
  return concat(groups, " .. ")
end

-- A format compiled to one Lua function of the moment's parts (PARAMS)
-- that returns the text: straight-line code the JIT compiles well.
local function compile(fmt)
  local parts, i = {}, 1
  while true do
    local j = find(fmt, "%", i, true)
    if not j or j == #fmt then
      break
    end
    local code = sub(fmt, j + 1, j + 1)
    if code == ":" then -- %:z, or %: and the next character as they are
      code = sub(fmt, j + 1, j + 2)
    end
    parts[#parts + 1] = format("%q", sub(fmt, i, j - 1))
    parts[#parts + 1] = FIELDS[code] or format("%q", "%" .. code)
    i = j + 1 + #code
  end
  parts[#parts + 1] = format("%q", sub(fmt, i))
  local src = "return function(" .. PARAMS .. ") return " .. joined(parts)
    .. " end"
  return assert(load(src, "=date format", "t", ENV))()
end

-- Compiled formats by text; bounded, starting over when full.
local FORMAT_LIMIT = 256
local compiled, ncompiled = {}, 0

local function compiled_format(fmt)
  local fn = compiled[fmt]
  if not fn then
    if ncompiled >= FORMAT_LIMIT then
      compiled, ncompiled = {}, 0
    end
    fn = compile(fmt)
    compiled[fmt], ncompiled = fn, ncompiled + 1
  end
  return fn
end

---Formats a moment (epoch seconds) in a zone. The default format is ISO
---8601: with "Z" in UTC, with the offset in any other zone.
---@param seconds number
---@param fmt string|nil strftime-like, see docs/templates.md
---@param zone any
---@return string|nil text
---@return string|nil message when the zone is unknown
function M.format(seconds, fmt, zone)
  local offset, abbr, named = M.zone_at(zone, seconds)
  if not offset then
    return nil, abbr
  end
  if fmt == nil then
    fmt = (offset == 0 and not named) and "%Y-%m-%dT%H:%M:%SZ"
      or "%Y-%m-%dT%H:%M:%S%:z"
  end
  local local_s = seconds + offset
  local whole = floor(local_s)
  local days = floor(whole / 86400)
  local secs = whole - days * 86400
  local y, m, d = civil_from_days(days)
  local text = compiled_format(fmt)(y, m, d, floor(secs / 3600),
    floor(secs / 60) % 60, secs % 60, days, local_s - whole, seconds,
    offset, abbr)
  return text
end

return M
