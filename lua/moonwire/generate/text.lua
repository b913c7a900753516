-- Reading a plain-language prompt for the builtin planner: URLs and quoted
-- text are lifted out and replaced by marks, then the text is cut into
-- sentences and clauses. What the words mean is the planner's business.
-- SPDX-License-Identifier: MIT

local tonumber, ipairs = tonumber, ipairs
local find, sub, gsub, lower, format = string.find, string.sub, string.gsub,
  string.lower, string.format
local match, gmatch = string.match, string.gmatch
local concat = table.concat

local M = {}

-- Marks stand in for lifted text: URL n is "\1n\2", quote n is "\3n\4".
-- They survive lower() and never occur in a prompt.
M.URL_MARK = "\1(%d+)\2"
M.QUOTE_MARK = "\3(%d+)\4"

local function url_mark(n) return "\1" .. n .. "\2" end
local function quote_mark(n) return "\3" .. n .. "\4" end

-- Where a placeholder such as <external id> or {ticket id} closes, when it
-- starts at i (which holds "<" or "{"); nil when it is not one.
local function placeholder_end(s, i)
  local open = sub(s, i, i)
  local close = open == "<" and ">" or "}"
  local j = find(s, close, i + 1, true)
  if not j or j - i > 40 then return nil end
  if find(sub(s, i + 1, j - 1), "[<>{}\n]") then return nil end
  if open == "{" and sub(s, j + 1, j + 1) == "}" then j = j + 1 end
  return j
end

-- The end of a URL starting at i: stops at white space, quotes and angle
-- brackets, except for placeholders that follow a "/", "=" or "?".
local function url_end(s, i)
  local n, j = #s, i
  while j <= n do
    local c = sub(s, j, j)
    if (c == "<" or c == "{") and find(sub(s, j - 1, j - 1), "[/=?:%-_.]") then
      local k = placeholder_end(s, j)
      if not k then break end
      j = k + 1
    elseif find(c, "[%s\"'<>`]") then
      break
    else
      j = j + 1
    end
  end
  local e = j - 1
  while e > i and find(sub(s, e, e), "[%.,;:!%?%)%]]") do e = e - 1 end
  return e
end

-- Lifts http(s) URLs, and bare paths after a method or "to"/"at", into
-- urls[n] = {text = ..., relative = bool}.
local function lift_urls(s, urls)
  local out, i = {}, 1
  while true do
    local a = find(s, "[hH][tT][tT][pP][sS]?://", i)
    if not a then break end
    local e = url_end(s, a)
    out[#out + 1] = sub(s, i, a - 1)
    urls[#urls + 1] = { text = sub(s, a, e) }
    out[#out + 1] = url_mark(#urls)
    i = e + 1
  end
  out[#out + 1] = sub(s, i)
  s = concat(out)
  -- "{TARGET}/tickets", "{base_url}/x": a base URL left as a placeholder.
  s = gsub(s, "%{%s*[%w_]+%s*%}(/[^%s\"'`]*)", function(p)
    local e = url_end(p, 1)
    urls[#urls + 1] = { text = sub(p, 1, e), relative = true }
    return url_mark(#urls) .. sub(p, e + 1)
  end)
  -- Bare paths: "POST /tickets", "send it to /hooks/x".
  return (gsub(s, "(%f[%w][%a]+%s+)(/[%w_%-%.~{<][^%s\"'`]*)", function(w, p)
    local word = lower(match(w, "%a+"))
    local ok = ({ to = 1, at = 1, into = 1, post = 1, put = 1, patch = 1,
      delete = 1, get = 1, endpoint = 1, path = 1, url = 1, on = 1 })[word]
    if not ok then return nil end
    local e = url_end(p, 1)
    urls[#urls + 1] = { text = sub(p, 1, e), relative = true }
    return w .. url_mark(#urls) .. sub(p, e + 1)
  end))
end

local QUOTES = {
  { '"', '"' }, { "\226\128\156", "\226\128\157" }, { "`", "`" },
  { "\226\128\152", "\226\128\153" },
}

-- Lifts quoted text into quotes[n]. A single quote counts only when it
-- follows a space or a colon, so "alert's" stays a word.
local function lift_quotes(s, quotes)
  for _, q in ipairs(QUOTES) do
    s = gsub(s, q[1] .. "([^\n]-)" .. q[2], function(body)
      if #body == 0 or #body > 400 then return nil end
      quotes[#quotes + 1] = body
      return quote_mark(#quotes)
    end)
  end
  s = gsub(" " .. s .. " ", "([%s:=%(])'([^'\n]+)'([%s%.,;:!%?%)])",
    function(pre, body, post)
      quotes[#quotes + 1] = body
      return pre .. quote_mark(#quotes) .. post
    end)
  return sub(s, 2, -2)
end

-- Sentences end at . ! ? ; followed by white space (or the end), and at
-- blank lines and bullets.
local function sentences_of(s)
  s = gsub(s, "\r", "")
  s = gsub(s, "\n%s*[%-%*•]%s+", ". ")
  s = gsub(s, "\n%s*%d+[%.%)]%s+", ". ")
  s = gsub(s, "\n", " ")
  local out, start = {}, 1
  for stop in gmatch(s, "()[%.!%?;]%s") do
    -- Not inside parentheses: "(client id a; secret b)" is one aside.
    local before = sub(s, start, stop - 1)
    local _, opens = gsub(before, "%(", "")
    local _, closes = gsub(before, "%)", "")
    if opens <= closes then
      out[#out + 1] = before
      start = stop + 1
    end
  end
  out[#out + 1] = gsub(sub(s, start), "[%.!%?;]+%s*$", "")
  local kept = {}
  for _, t in ipairs(out) do
    t = gsub(gsub(t, "^%s+", ""), "%s+$", "")
    if find(t, "%S") then kept[#kept + 1] = t end
  end
  return kept
end

-- Clause breaks inside a sentence: ", then", "; otherwise", ", and if" ...
local BREAKS = {
  ",%s+and%s+then%s+", ",%s+then%s+", "%s+and%s+then%s+",
  ",?%s+otherwise,?%s+", ",%s+else,?%s+", ",%s+and%s+if%s+", ",%s+but%s+if%s+",
  ",%s+and%s+when%s+", ",%s+if%s+", ",%s+when%s+", ",%s+and%s+for%s+",
  ",%s+but%s+", "%s+then%s+", ",%s+for%s+", ",%s+update%s+on%s+",
  ",%s+update%s+when%s+", ",%s+close%s+on%s+", ",%s+close%s+when%s+",
}
-- Breaks that count only when the next part has a URL of its own:
-- "POST to A for new incidents, for updates PUT to B".
local NEEDS_URL = { [",%s+for%s+"] = true, [",%s+when%s+"] = true }
-- The word a break keeps at the front of the next clause.
local KEEP = { "otherwise", "else", "if", "when", "for", "update", "close" }

local function clauses_of(sentence)
  local cuts = {}
  local low = lower(sentence)
  for _, pat in ipairs(BREAKS) do
    local init = 1
    while true do
      local a, b = find(low, pat, init)
      if not a then break end
      local piece = sub(low, a, b)
      local keep
      for _, w in ipairs(KEEP) do
        if find(piece, "%f[%a]" .. w .. "%f[%A]") then keep = w end
      end
      local from = keep and (a + find(piece, keep, 1, true) - 1) or b + 1
      local ok = not NEEDS_URL[pat] or find(sub(sentence, b + 1), "\1")
      -- "..., otherwise 3": a default value, not a clause.
      if (keep == "otherwise" or keep == "else")
          and not find(sub(low, b + 1), "%S+%s+%S") then
        ok = false
      end
      if a > 1 and ok then cuts[#cuts + 1] = { a = a, from = from } end
      init = b + 1
    end
  end
  table.sort(cuts, function(x, y) return x.a < y.a end)
  local out, start = {}, 1
  for _, c in ipairs(cuts) do
    if c.a > start then
      out[#out + 1] = sub(sentence, start, c.a - 1)
      start = c.from
    end
  end
  out[#out + 1] = sub(sentence, start)
  return out
end

---@class mw.gen.Clause
---@field text string the clause, URLs and quotes as marks
---@field low string the same, lower-cased
---@field sentence integer its sentence, from 1
---@field first boolean the first clause of its sentence

---Reads a prompt: lifts URLs and quotes, cuts sentences and clauses.
---@param prompt string
---@return table doc {prompt, text, urls, quotes, clauses}
function M.read(prompt)
  local urls, quotes = {}, {}
  local s = lift_urls(prompt, urls)
  s = lift_quotes(s, quotes)
  local clauses = {}
  for si, sentence in ipairs(sentences_of(s)) do
    for ci, c in ipairs(clauses_of(sentence)) do
      c = gsub(gsub(c, "^[%s,:]+", ""), "[%s,:]+$", "")
      if find(c, "%S") then
        clauses[#clauses + 1] = { text = c, low = lower(c), sentence = si,
          first = ci == 1 }
      end
    end
  end
  return { prompt = prompt, text = s, urls = urls, quotes = quotes,
    clauses = clauses }
end

---Puts lifted URLs and quotes back into a piece of marked text.
---@param doc table from read()
---@param s string
---@return string
function M.restore(doc, s)
  s = gsub(s, M.URL_MARK, function(n) return doc.urls[tonumber(n)].text end)
  return (gsub(s, M.QUOTE_MARK, function(n)
    return '"' .. doc.quotes[tonumber(n)] .. '"'
  end))
end

---The URL numbers in a piece of marked text, in order, with positions.
---@param s string
---@return table list of {n, a, b}
function M.url_marks(s)
  local out = {}
  for a, n, b in gmatch(s, "()\1(%d+)\2()") do
    out[#out + 1] = { n = tonumber(n), a = a, b = b - 1 }
  end
  return out
end

---Collapses runs of white space and trims.
---@param s string
function M.squash(s)
  return (gsub(gsub(gsub(s, "%s+", " "), "^ ", ""), " $", ""))
end

---A short quotation of s for messages.
---@param s string
---@param n integer|nil
function M.quote(s, n)
  n = n or 70
  s = M.squash(s)
  if #s > n then s = sub(s, 1, n - 3) .. "..." end
  return format("%q", s)
end

---Turns words into a snake_case name: "Short description" -> short_description.
---@param s string
function M.snake(s)
  s = gsub(lower(s), "[^%w]+", "_")
  return (gsub(gsub(s, "^_+", ""), "_+$", ""))
end

return M
