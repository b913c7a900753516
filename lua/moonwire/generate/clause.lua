-- Shared reading helpers of the builtin planner: a clause's working text
-- (spans blanked once read, so no two readers take the same words), the
-- value written after a name, and the plan's warnings.
-- SPDX-License-Identifier: MIT

local ipairs, select, tonumber = ipairs, select, tonumber
local match, sub, gsub, lower, rep, format = string.match, string.sub,
  string.gsub, string.lower, string.rep, string.format

local M = {}

---Adds a warning to the plan once.
---@param plan table
---@param fmt string
function M.warn(plan, fmt, ...)
  local msg = select("#", ...) > 0 and format(fmt, ...) or fmt
  for _, w in ipairs(plan.warnings) do
    if w == msg then return end
  end
  plan.warnings[#plan.warnings + 1] = msg
end

-- Blanks a span of the clause's working text so later readers skip it.
---@param c table the clause
---@param a integer
---@param b integer
function M.consume(c, a, b)
  if not a or b < a then return end
  c.work = sub(c.work, 1, a - 1) .. rep(" ", b - a + 1) .. sub(c.work, b + 1)
  c.hits = (c.hits or 0) + 1
end

-- The original text of a span.
function M.orig(c, a, b) return sub(c.text, a, b) end

-- The original text of a span with consumed parts blanked.
function M.masked(c, a, b)
  local out = {}
  for i = a, b do
    local w = sub(c.work, i, i)
    out[#out + 1] = (w == " " and sub(c.low, i, i) ~= " ") and " " or sub(c.text, i, i)
  end
  return table.concat(out)
end

-- Words that may sit between a name and its value.
local FILLERS = { "is", "are", "of", "=", ":", "set to", "equal to", "as",
  "to", "be", "with", "value", "the", "called", "named" }

-- Reads the value that follows position i of the clause: a quote, or one
-- token. Returns the value (original case) and the position of its end.
---@param doc table the read prompt (for quotes)
---@param c table the clause
---@param i integer where the name ends
---@return string|nil value
---@return integer|nil last position of the value
function M.value_after(doc, c, i)
  local s = c.text
  local j = i
  local again = true
  while again do
    again = false
    local sp = match(s, "^[%s:=,%(]*()", j)
    j = sp
    for _, w in ipairs(FILLERS) do
      local low = lower(sub(s, j, j + #w))
      if low == w .. " " or (w == ":" or w == "=") and sub(s, j, j) == w then
        j = j + #w
        again = true
        break
      end
    end
  end
  local q, qe = match(s, "^\3(%d+)\4()", j)
  if q then return doc.quotes[tonumber(q)], qe - 1 end
  local tok, te = match(s, "^([^%s,;%)%(]+)()", j)
  if not tok then return nil end
  tok = gsub(tok, "[%.]+$", "")
  return tok, j + #tok - 1, te
end

return M
