-- JSON text utilities for the json output mode: the lexer state the compiler
-- tracks over a template's literal text, the removal of trailing commas from
-- rendered output, and locating the first syntax error in output that the
-- JSON decoder refused. Decoding itself is moonwire.json's.
-- SPDX-License-Identifier: MIT

local find, sub, byte = string.find, string.sub, string.byte
local concat = table.concat
local ipairs = ipairs

local M = {}

-- Lexer states over literal text: outside any string, inside a string, and
-- inside a string right after a backslash.
M.OUTSIDE, M.IN_STRING, M.IN_ESCAPE = 0, 1, 2

---Advances the lexer state over one piece of literal template text.
---@param state integer one of OUTSIDE, IN_STRING, IN_ESCAPE
---@param text string
---@return integer state after the text
function M.scan(state, text)
  local i, n = 1, #text
  while i <= n do
    if state == M.IN_ESCAPE then
      state, i = M.IN_STRING, i + 1
    elseif state == M.IN_STRING then
      local j = find(text, '["\\]', i)
      if not j then
        return state
      end
      state = byte(text, j) == 92 and M.IN_ESCAPE or M.OUTSIDE
      i = j + 1
    else
      local j = find(text, '"', i, true)
      if not j then
        return state
      end
      state, i = M.IN_STRING, j + 1
    end
  end
  return state
end

local function blank(c)
  return c == 32 or c == 10 or c == 13 or c == 9
end

-- Whether a comma stands before some ] or } with only blanks between (in
-- a string or not): a cheap test that spares most outputs the full pass.
local function may_have_trailing_comma(s)
  for _, bracket in ipairs({"]", "}"}) do
    local j = find(s, bracket, 1, true)
    while j do
      local k = j - 1
      while k > 0 and blank(byte(s, k)) do
        k = k - 1
      end
      if byte(s, k) == 44 then
        return true
      end
      j = find(s, bracket, j + 1, true)
    end
  end
  return false
end

-- Whether only blanks stand between index i and a ] or }.
local function closes_after(s, i)
  local c = byte(s, i)
  while c and blank(c) do
    i = i + 1
    c = byte(s, i)
  end
  return c == 93 or c == 125
end

---Removes each comma that stands, outside strings, right before a closing
---bracket or brace (as an #each with a comma after every item leaves).
---@param s string
---@return string
function M.drop_trailing_commas(s)
  if not may_have_trailing_comma(s) then
    return s
  end
  local out, n, last = {}, 0, 1
  local in_string, i, len = false, 1, #s
  while i <= len do
    local c = byte(s, i)
    if in_string then
      if c == 92 then
        i = i + 1
      elseif c == 34 then
        in_string = false
      end
    elseif c == 34 then
      in_string = true
    elseif c == 44 and closes_after(s, i + 1) then
      out[n + 1] = sub(s, last, i - 1)
      n, last = n + 1, i + 1
    end
    i = i + 1
  end
  out[n + 1] = sub(s, last)
  return concat(out, "", 1, n + 1)
end

-- The validator below only runs once decoding failed, to say where. Each
-- function returns the index after what it read, or nil, error index and
-- reason.

local function skip_ws(s, i)
  return find(s, "[^ \t\r\n]", i) or #s + 1
end

local ESCAPES = '^["\\/bfnrt]'

local function read_string(s, i)
  i = i + 1
  while true do
    local j = find(s, '["\\%z\1-\31]', i)
    if not j then
      return nil, #s + 1, "unterminated string"
    end
    local c = byte(s, j)
    if c == 34 then
      return j + 1
    elseif c ~= 92 then
      return nil, j, "control character inside a string"
    elseif find(s, "^u%x%x%x%x", j + 1) then
      i = j + 6
    elseif find(s, ESCAPES, j + 1) then
      i = j + 2
    else
      return nil, j, "invalid escape in a string"
    end
  end
end

local function read_number(s, i)
  local _, e = find(s, "^-?0", i)
  if not e then
    _, e = find(s, "^-?[1-9]%d*", i)
  end
  if not e then
    return nil, i, "unexpected character"
  end
  local _, f = find(s, "^%.%d+", e + 1)
  e = f or e
  _, f = find(s, "^[eE][-+]?%d+", e + 1)
  return (f or e) + 1
end

local read_value

local function read_members(s, i, close)
  i = skip_ws(s, i + 1)
  if sub(s, i, i) == close then
    return i + 1
  end
  while true do
    local j, p, why
    if close == "}" then
      if sub(s, i, i) ~= '"' then
        return nil, i, "expected a member name in double quotes"
      end
      j, p, why = read_string(s, i)
      if not j then
        return nil, p, why
      end
      i = skip_ws(s, j)
      if sub(s, i, i) ~= ":" then
        return nil, i, "expected ':' after a member name"
      end
      i = i + 1
    end
    j, p, why = read_value(s, i)
    if not j then
      return nil, p, why
    end
    i = skip_ws(s, j)
    local c = sub(s, i, i)
    if c == close then
      return i + 1
    elseif c ~= "," then
      return nil, i, "expected ',' or '" .. close .. "'"
    end
    i = skip_ws(s, i + 1)
  end
end

function read_value(s, i)
  i = skip_ws(s, i)
  local c = sub(s, i, i)
  if c == "{" then
    return read_members(s, i, "}")
  elseif c == "[" then
    return read_members(s, i, "]")
  elseif c == '"' then
    return read_string(s, i)
  elseif c == "" then
    return nil, i, "unexpected end of text"
  end
  for _, word in ipairs({"true", "false", "null"}) do
    if sub(s, i, i + #word - 1) == word then
      return i + #word
    end
  end
  return read_number(s, i)
end

---Byte index and reason of the first JSON syntax error in s, or nil when s
---is one valid JSON value.
---@param s string
---@return integer|nil
---@return string|nil
function M.first_error(s)
  local j, p, why = read_value(s, 1)
  if not j then
    return p, why
  end
  j = skip_ws(s, j)
  if j <= #s then
    return j, "unexpected text after the JSON value"
  end
  return nil
end

return M
