-- Runtime support shared by every compiled template: path lookup,
-- Handlebars truthiness, iteration order, values to text (JavaScript number
-- formatting) and the escaping of each output mode. Parsing, code generation
-- and helpers live in the sibling modules.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")

local type, rawget, getmetatable, setmetatable = type, rawget, getmetatable,
  setmetatable
local tostring, tonumber, select, pairs, error = tostring, tonumber, select,
  pairs, error
local floor, huge = math.floor, math.huge
local find, format, gsub, sub, byte = string.find, string.format,
  string.gsub, string.sub, string.byte
local sort, concat = table.sort, table.concat
local rep = string.rep

local NULL = json.null
local ARRAY_MT = getmetatable(json.array({}))
local BIGNUM_MT = json.bignum_mt
local json_encode, json_escape = json.encode, json.escape

local M = {}

M.NULL = NULL

-- Values a helper can return to control how they are inserted: SAFE text is
-- inserted as it is in every mode; JSON text is inserted as it is at a JSON
-- value position and escaped like any other string elsewhere.
local SAFE_MT = {__tostring = function(s) return s.text end}
local JSONTEXT_MT = {__tostring = function(s) return s.text end}

---Marks text as already escaped for the output: it is inserted verbatim.
---@param text string
---@return table
function M.safe(text)
  local s = setmetatable({text = tostring(text)}, SAFE_MT)
  return s
end

---Marks text as JSON: verbatim at a JSON value position, escaped elsewhere.
---@param text string
---@return table
function M.json_text(text)
  local s = setmetatable({text = text}, JSONTEXT_MT)
  return s
end

---True for a value that is a JSON array (marked by moonwire.json), or a
---plain Lua sequence built by a caller (JSON objects never have key 1).
---@param t any
---@return boolean
local function is_array(t)
  if type(t) ~= "table" then
    return false
  end
  local mt = getmetatable(t)
  if mt ~= nil then
    return mt == ARRAY_MT
  end
  return rawget(t, 1) ~= nil
end
M.is_array = is_array

-- A table that stands for a JSON object (not an array, a big number or a
-- marker): the only kind whose keys a path can read.
local function is_object(t)
  if type(t) ~= "table" then
    return false
  end
  local mt = getmetatable(t)
  return mt == nil or (mt ~= ARRAY_MT and mt ~= BIGNUM_MT
    and mt ~= SAFE_MT and mt ~= JSONTEXT_MT)
end
M.is_object = is_object

local function is_bignum(v)
  return type(v) == "table" and getmetatable(v) == BIGNUM_MT
end
M.is_bignum = is_bignum

---A number for number-like values: numbers, big numbers and decimal text;
---nil for anything else.
---@param v any
---@return number|nil
function M.as_number(v)
  if type(v) == "number" then
    return v
  elseif is_bignum(v) then
    return tonumber(tostring(v))
  elseif type(v) == "string"
    and find(v, "^%s*%-?%d*%.?%d+[eE]?[-+]?%d*%s*$") then
    return tonumber(v)
  end
  return nil
end

-- Path lookup ---------------------------------------------------------------

-- The functions below that generated code calls return a local, never a
-- call to a built-in: LuaJIT aborts a trace that starts in a function and
-- leaves it through such a tail call, and after a few aborts it stops
-- compiling the function and every loop that calls it.

---Reads key k (a string that is neither numeric nor "length") of t.
function M.get(t, k)
  local v
  if type(t) == "table" and getmetatable(t) ~= BIGNUM_MT then
    v = rawget(t, k)
  end
  return v
end

-- Number of characters of a UTF-8 string (continuation bytes not counted).
local function utf8_len(s)
  local _, cont = gsub(s, "[\128-\191]", "")
  return #s - cont
end
M.utf8_len = utf8_len

---Reads any key: numeric keys index arrays from 0, "length" counts arrays
---and strings, everything else reads object members.
function M.getn(t, k)
  local tt = type(t)
  if tt == "string" then
    if k == "length" then
      return utf8_len(t)
    end
    return nil
  end
  if tt ~= "table" then
    return nil
  end
  if is_array(t) then
    if k == "length" then
      return #t
    end
    local i, v = tonumber(k), nil
    if i and i >= 0 and i == floor(i) then
      v = rawget(t, i + 1)
    end
    return v
  end
  if not is_object(t) then
    return nil
  end
  local v
  if type(k) == "number" then
    v = rawget(t, M.num(k))
  end
  if v == nil then
    v = rawget(t, k)
  end
  return v
end

---Mustache-style lookup of a path's first segment: the first context, from
---the innermost out, where the key holds neither nil nor null.
function M.deep(k, ...)
  for i = 1, select("#", ...) do
    local v = M.getn((select(i, ...)), k)
    if v ~= nil and v ~= NULL then
      return v
    end
  end
  return nil
end

-- Truthiness ----------------------------------------------------------------

---Handlebars #if: false, nil, null, "", 0, NaN and [] are false.
function M.truthy(v)
  if v == nil or v == false or v == NULL or v == "" or v == 0 or v ~= v then
    return false
  end
  if type(v) == "table" and is_array(v) then
    return #v > 0
  end
  return true
end

---#if with includeZero=true: as truthy, except that 0 counts as true.
function M.truthy_zero(v)
  return v == 0 or M.truthy(v)
end

---#with: empty means nil, null, false, "" or []; 0 is not empty.
function M.is_empty(v)
  return v ~= 0 and not M.truthy(v)
end

---A section ({{#name}} that is no helper) shows its inverse for these.
function M.section_falsy(v)
  if v == nil or v == false or v == NULL then
    return true
  end
  return type(v) == "table" and is_array(v) and #v == 0
end

-- Iteration -----------------------------------------------------------------

-- JavaScript's own order for object keys: canonical array indices first,
-- ascending, then the others; Lua keeps no insertion order, so those others
-- come sorted.
local function index_key(k)
  if type(k) ~= "string" or not find(k, "^%d+$") then
    return nil
  end
  if #k > 1 and byte(k, 1) == 48 then
    return nil
  end
  local n = tonumber(k)
  return n < 4294967295 and n or nil
end

local function key_before(a, b)
  local ia, ib = index_key(a), index_key(b)
  if ia and ib then
    return ia < ib
  elseif ia or ib then
    return ia ~= nil
  end
  return tostring(a) < tostring(b)
end

---Object keys in iteration order.
---@param t table
---@return string[]
function M.keys(t)
  local ks, n = {}, 0
  for k in pairs(t) do
    n = n + 1
    ks[n] = k
  end
  sort(ks, key_before)
  return ks
end

---What #each walks: (false, #t) for an array, (keys, #keys) for an object,
---(false, 0) for anything else.
function M.iter(v)
  if type(v) ~= "table" then
    return false, 0
  end
  if is_array(v) then
    return false, #v
  end
  if not is_object(v) then
    return false, 0
  end
  local ks = M.keys(v)
  return ks, #ks
end

-- Values to text ------------------------------------------------------------

-- Shortest decimal digits that read back as x, with x's decimal exponent.
-- Any decimal of 15 digits or fewer survives a trip through a double, so a
-- normal x needs 15, 16 or 17; subnormals carry fewer digits.
-- LuaJIT rounds a tie away from zero where JavaScript takes the even digit,
-- so an odd last digit that came from an exact tie steps down by one.
local function shortest_digits(x)
  local s, p
  for prec = x < 2.2250738585072014e-308 and 0 or 14, 16 do
    s, p = format("%." .. prec .. "e", x), prec
    if tonumber(s) == x then
      break
    end
  end
  local int, frac, exp = s:match("^(%d)%.?(%d*)e([-+]%d+)$")
  local digits = int .. frac
  local last = byte(digits, -1) - 48
  if last % 2 == 1 then
    local exact = format("%." .. (p + 21) .. "e", x)
    if find(sub(exact, p + 3, p + 23), "^50*$") then
      local even = sub(digits, 1, -2) .. (last - 1)
      local back = sub(even, 1, 1) .. "." .. sub(even, 2) .. "e" .. exp
      if tonumber(back) == x then
        digits = even
      end
    end
  end
  return (gsub(digits, "0+$", "")), tonumber(exp)
end

---Formats a number the way JavaScript's Number-to-string does: integers
---without ".0", shortest round-trip digits, exponent form below 1e-6 and
---from 1e21 on.
---@param x number
---@return string
function M.num(x)
  if x ~= x then
    return "NaN"
  elseif x == huge then
    return "Infinity"
  elseif x == -huge then
    return "-Infinity"
  elseif x == 0 then
    return "0"
  end
  if x == floor(x) and x < 9007199254740992 and x > -9007199254740992 then
    local s = format("%d", x)
    return s
  end
  local sign = ""
  if x < 0 then
    sign, x = "-", -x
  end
  local d, e = shortest_digits(x)
  local k, n = #d, e + 1
  if k <= n and n <= 21 then
    return sign .. d .. rep("0", n - k)
  elseif n > 0 and n <= 21 then
    return sign .. sub(d, 1, n) .. "." .. sub(d, n + 1)
  elseif n > -6 and n <= 0 then
    return sign .. "0." .. rep("0", -n) .. d
  end
  local mant = k == 1 and d or (sub(d, 1, 1) .. "." .. sub(d, 2))
  local es = n - 1 < 0 and "-" or "+"
  return sign .. mant .. "e" .. es .. (n - 1 < 0 and 1 - n or n - 1)
end
local num = M.num

local function encode(v)
  local s, err = json_encode(v)
  if not s then
    error({message = "cannot write value as JSON: " .. tostring(err)}, 0)
  end
  return s
end
M.encode = encode

local text

-- An array as JavaScript's Array toString writes it: items joined by ",",
-- null as nothing.
local function array_text(t)
  local parts = {}
  for i = 1, #t do
    parts[i] = text(t[i])
  end
  return concat(parts, ",")
end

---The text of a value as a template prints it: "" for nil and null, JS
---number formatting, true/false, exact digits for big numbers, arrays as
---JavaScript joins them and objects as JSON text.
---@param v any
---@return string
function text(v)
  local t = type(v)
  if t == "string" then
    return v
  elseif t == "number" then
    return num(v)
  elseif v == nil or v == NULL then
    return ""
  elseif t == "boolean" then
    return v and "true" or "false"
  elseif t == "table" then
    local mt = getmetatable(v)
    if mt == SAFE_MT or mt == JSONTEXT_MT then
      return v.text
    elseif mt == BIGNUM_MT then
      return tostring(v)
    elseif is_array(v) then
      return array_text(v)
    end
    return encode(v)
  end
  return ""
end
M.text = text

-- Escaping per mode -------------------------------------------------------

local HTML_ESC = {
  ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
  ["'"] = "&#x27;", ["`"] = "&#x60;", ["="] = "&#x3D;",
}

-- Most values need no escaping, so the tests below run on every value.
-- Pattern matching is not compiled by the JIT; a byte loop is, and one
-- table lookup per byte keeps the loop on a single path through the trace
-- (a chain of comparisons would branch off on every other character).
local HTML_SPECIAL = {}
for c = 0, 255 do
  HTML_SPECIAL[c] = false
end
for c in ("&<>\"'`="):gmatch(".") do
  HTML_SPECIAL[byte(c)] = true
end

local function html_plain(s)
  for i = 1, #s do
    if HTML_SPECIAL[byte(s, i)] then
      return false
    end
  end
  return true
end

local function html_escape(s)
  if html_plain(s) then
    return s
  end
  return (gsub(s, "[&<>\"'`=]", HTML_ESC))
end
M.html_escape = html_escape

-- RFC 3986 unreserved characters pass; every other byte is %XX.
local function url_escape(s)
  return (gsub(s, "[^%w%-%._~]", function(c)
    return format("%%%02X", byte(c))
  end))
end
M.url_escape = url_escape

---{{x}} in a URL's path or query (url mode).
function M.uenc(v)
  local s = text(v)
  if s == "." or s == ".." then
    return (gsub(s, "%.", "%%2E")) -- a dot segment would climb the path
  end
  return url_escape(s)
end

---{{x}} in html mode.
function M.html(v)
  if type(v) == "table" and getmetatable(v) == SAFE_MT then
    return v.text
  end
  return html_escape(text(v))
end

-- Bytes that keep a string from being its own JSON string body: controls,
-- quote, backslash and everything past ASCII (UTF-8 to check, U+2028/9).
local JSON_SPECIAL = {}
for c = 0, 255 do
  JSON_SPECIAL[c] = c < 32 or c == 34 or c == 92 or c > 126
end

-- True for text that needs no call into the C escaper.
local function json_plain(s)
  for i = 1, #s do
    if JSON_SPECIAL[byte(s, i)] then
      return false
    end
  end
  return true
end

-- Body of a JSON string literal for s.
local function jescape(s)
  if not json_plain(s) then
    s = json_escape(s)
  end
  return s
end
M.json_escape = jescape

---{{x}} inside a JSON string literal of the template: objects and arrays
---as their JSON text.
function M.jstr(v)
  if type(v) == "string" then
    return jescape(v)
  elseif type(v) == "table" then
    local mt = getmetatable(v)
    if mt == SAFE_MT then
      return v.text
    elseif mt ~= JSONTEXT_MT and mt ~= BIGNUM_MT then
      return jescape(encode(v))
    end
  end
  return jescape(text(v))
end

-- Objects and arrays held out of a json-mode render for its value (see
-- hold_values): nil, or {n = count, [i] = value} while such a render runs.
local held

-- A held value is written as a JSON string no payload can forge: NUL, a
-- per-process random word, its number. Decoded, it reads PLACEHOLDER .. i.
local nonce
do
  local ok, core = pcall(require, "moonwire.core")
  nonce = ok and core.random_hex and core.random_hex(8)
    or format("%08x%08x", math.random(0, 0x7fffffff), os.time())
end
local PLACEHOLDER = "\0mw" .. nonce .. ":"
local PLACEHOLDER_JSON = "\\u0000mw" .. nonce .. ":"

local function hold(v)
  local n = held.n + 1
  held.n, held[n] = n, v
  return '"' .. PLACEHOLDER_JSON .. n .. '"'
end

-- A value at a JSON value position, keeping its type; `none` is what nil
-- becomes (the missing-value mode decides).
local function jvalue(v, none, raw_strings)
  local t = type(v)
  if t == "string" then
    return raw_strings and v or '"' .. jescape(v) .. '"'
  elseif t == "number" then
    if v ~= v or v == huge or v == -huge then
      return "null"
    end
    return num(v)
  elseif v == nil then
    return none
  elseif v == NULL then
    return "null"
  elseif t == "boolean" then
    return v and "true" or "false"
  elseif t == "table" then
    local mt = getmetatable(v)
    if mt == SAFE_MT or mt == JSONTEXT_MT then
      return v.text
    elseif mt == BIGNUM_MT then
      return tostring(v)
    end
    if held then return hold(v) end
    return encode(v)
  end
  return none
end

---Starts holding objects and arrays out of the text (see put_back); the
---caller ends it with end_hold, whatever happens. Returns what was held
---before, for end_hold to restore.
function M.begin_hold()
  local outer = held
  held = {n = 0}
  return outer
end

---Ends holding; returns the values held.
function M.end_hold(outer)
  local values = held
  held = outer
  return values
end

local copy = json.copy

-- A held value as it goes back: a copy (as if written and read back), or
-- the value itself when the caller allows values to share parts.
local function back(v, share)
  if share then return v end
  local c, err = copy(v)
  if c == nil then
    error({message = "cannot write value as JSON: " .. tostring(err)}, 0)
  end
  return c
end

-- Puts the held values back where their placeholders were in t. Returns
-- the number put back, or nil when a placeholder stands where no value
-- can (a key).
local function put_in(t, values, share)
  local count = 0
  for k, v in pairs(t) do
    if type(k) == "string" and byte(k, 1) == 0 and sub(k, 1, #PLACEHOLDER)
        == PLACEHOLDER then
      return nil
    end
    if type(v) == "string" then
      if byte(v, 1) == 0 and sub(v, 1, #PLACEHOLDER) == PLACEHOLDER then
        local i = tonumber(sub(v, #PLACEHOLDER + 1))
        if not values[i] then return nil end -- not held, or put back already
        t[k], values[i] = back(values[i], share), false
        count = count + 1
      end
    elseif type(v) == "table" and getmetatable(v) ~= BIGNUM_MT then
      local n = put_in(v, values, share)
      if not n then return nil end
      count = count + n
    end
  end
  return count
end

---Puts held values back into the decoded output of a render. Returns the
---value, or nil when the output does not hold each placeholder exactly
---once at a value position (a helper moved one, say): the caller then
---renders again without holding.
---@param value any the decoded output
---@param values table what end_hold returned
---@param share boolean|nil put the values themselves back, not copies
function M.put_back(value, values, share)
  if values.n == 0 then return value end
  if type(value) == "string" then
    if values.n == 1 and value == PLACEHOLDER .. 1 then
      return back(values[1], share)
    end
    return nil
  end
  if type(value) ~= "table" or getmetatable(value) == BIGNUM_MT then
    return nil
  end
  local count = put_in(value, values, share)
  if count ~= values.n then return nil end
  return value
end

---{{x}} at a JSON value position, nil written as null.
function M.jval_null(v)
  return jvalue(v, "null", false)
end

---{{x}} at a JSON value position, nil written as nothing.
function M.jval_empty(v)
  return jvalue(v, "", false)
end

---{{{x}}} at a JSON value position: strings raw, nil as null.
function M.jraw_null(v)
  return jvalue(v, "null", true)
end

---{{{x}}} at a JSON value position: strings raw, nil as nothing.
function M.jraw_empty(v)
  return jvalue(v, "", true)
end

-- Errors --------------------------------------------------------------------

local ERR_MT = {}
ERR_MT.__index = ERR_MT

function ERR_MT.__tostring(e)
  local s = e.message
  if e.line and not e.positioned then
    s = format("line %d, col %d: %s", e.line, e.col, s)
  end
  if e.name then
    s = e.name .. ": " .. s
  end
  return s
end

function ERR_MT.__concat(a, b)
  return tostring(a) .. tostring(b)
end

---Makes an error value {message, line, col}. `positioned` says the message
---already ends with "(line L, col C)", as render errors do.
---@param message string
---@param line integer|nil
---@param col integer|nil
---@param positioned boolean|nil
---@return table
function M.error(message, line, col, positioned)
  return setmetatable({message = message, line = line, col = col,
    positioned = positioned or nil}, ERR_MT)
end

function M.is_error(e)
  return getmetatable(e) == ERR_MT
end

---Line and column (in characters) of byte offset pos of s.
---@param s string
---@param pos integer
---@return integer line
---@return integer col
function M.line_col(s, pos)
  local line, start = 1, 1
  local i = find(s, "\n", 1, true)
  while i and i < pos do
    line, start = line + 1, i + 1
    i = find(s, "\n", i + 1, true)
  end
  return line, utf8_len(sub(s, start, pos - 1)) + 1
end

return M
