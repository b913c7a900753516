-- Body fields in a prompt, for the builtin planner: the data a request
-- carries ("with the incident id, status and severity"), named fields and
-- their values ("urgency 1", "text says: ..."), values under conditions
-- and mappings ("priority mapped from severity (critical -> P1)").
-- SPDX-License-Identifier: MIT

local text = require("moonwire.generate.text")
local vocab = require("moonwire.generate.vocab")
local clause = require("moonwire.generate.clause")

local ipairs, tonumber = ipairs, tonumber
local find, match, sub, gsub, lower, upper, format = string.find, string.match,
  string.sub, string.gsub, string.lower, string.upper, string.format
local consume, masked = clause.consume, clause.masked

local M = {}

M.CUES = { "with", "containing", "including", "includes", "whose",
  "where", "that has", "that contains", "carrying", "in channel",
  "to channel", "in the channel", "to the channel", "on channel",
  "channel", "setting", "and set", "passing", "providing", "having",
  "by sending", "sending", "and include", "include", "and add", "adding",
  "plus", "body:", "payload:", "saying", "that says", "which says",
  "reading" }
local BODY_LEADS = { "a json body with", "a json body containing",
  "a body with", "a body containing", "a payload with",
  "a payload containing", "the body", "a body of", "a json body of",
  "body containing", "payload containing", "a json object with",
  "an object with", "json with", "fields", "the fields", "a message with",
  "the following fields", "the following" }

local TEXT_FIELDS = { text = 1, message = 1, summary = 1, title = 1,
  description = 1, body = 1, comment = 1, note = 1, subject = 1,
  short_description = 1, content = 1 }

-- Splits a region into items at commas, semicolons and "and"/"with",
-- leaving quotes alone (they are marks).
local function items_of(s)
  s = gsub(s, "%s+and%s+", ",")
  s = gsub(s, "%s+with%s+", ",")
  s = gsub(s, "%s+plus%s+", ",")
  s = gsub(s, "%s+as well as%s+", ",")
  s = gsub(s, "%s*&%s*", ",")
  local out = {}
  for item in s:gmatch("[^,;]+") do
    item = text.squash(item)
    if item ~= "" then out[#out + 1] = item end
  end
  return out
end

local function strip_leads(item)
  item = gsub(item, "^%s*[%a]+%s*:%s*", function(w)
    local lw = lower(gsub(w, "[%s:]", ""))
    return (lw == "with" or lw == "body" or lw == "payload" or lw == "fields"
      or lw == "containing" or lw == "including") and "" or nil
  end)
  local low = lower(item)
  local changed = true
  while changed do
    changed = false
    for _, l in ipairs(BODY_LEADS) do
      if sub(low, 1, #l + 1) == l .. " " then
        item, low = sub(item, #l + 2), sub(low, #l + 2)
        changed = true
      end
    end
    for _, l in ipairs({ "and", "also", "with", "plus", "include",
      "including", "containing", "sending", "setting", "set", "add", "adding",
      "whose", "where", "in", "on", "to", "by", "having", "carrying",
      "that has", "that contains", "providing", "passing", "a", "an" }) do
      if sub(low, 1, #l + 1) == l .. " " then
        item, low = sub(item, #l + 2), sub(low, #l + 2)
        changed = true
      end
    end
  end
  return item
end

-- Assignment cues between a field name and its value.
local ASSIGN = { "%s*=%s*", "%s*:%s*", "%s+set%s+to%s+", "%s+says:?%s+",
  "%s+containing%s+",
  "%s+saying%s+", "%s+reads:?%s+", "%s+to%s+be%s+", "%s+equal%s+to%s+",
  "%s+equals%s+", "%s+being%s+", "%s+as%s+", "%s+of%s+", "%s+to%s+",
  "%s+is%s+" }

-- A single token that reads as a literal value (R0UT1NG, 1, #ops, OPS).
local function literal_token(tok)
  if find(tok, "^\3%d+\4$") or find(tok, "^%-?%d+%.?%d*$") then return true end
  if find(tok, "^[#@]") then return true end
  if find(tok, "%d") or find(tok, "%u") or find(tok, "_") then return true end
  return ({ trigger = 1, resolve = 1, acknowledge = 1, ["true"] = 1,
    ["false"] = 1, high = 1, low = 1, medium = 1, urgent = 1, normal = 1,
    incident = 1, task = 1, bug = 1, open = 1, solved = 1, closed = 1 })[
    lower(tok)] ~= nil
end

-- "trigger for active incidents" -> value "trigger" under a condition.
local function conditional(rest)
  local v, kw, cond_text = match(rest, "^(%S+)%s+(for)%s+(.+)$")
  if not v then v, kw, cond_text = match(rest, "^(%S+)%s+(when)%s+(.+)$") end
  if not v then v, kw, cond_text = match(rest, "^(%S+)%s+(if)%s+(.+)$") end
  if not v then
    local ov = match(rest, "^(%S+)%s+otherwise$") or match(rest, "^otherwise%s+(%S+)$")
      or match(rest, "^(%S+)%s+else$")
    if ov then return { value = ov, otherwise = true } end
    return nil
  end
  local conds = vocab.conds(kw .. " " .. lower(cond_text))
  if #conds == 0 then return nil end
  local expr = vocab.cond_expr(conds[1].cond)
  if not expr then return nil end
  return { value = v, expr = expr, cond = conds[1].cond,
    named = find(lower(cond_text), "status") or find(lower(cond_text), "severity") }
end

-- Field names that take a plain word as value: "status resolved".
local FIELD_WORDS = { status = 1, state = 1, priority = 1, severity = 1,
  urgency = 1, impact = 1, type = 1, category = 1, resolution = 1,
  action = 1, event_action = 1, channel = 1, project = 1, assignee = 1,
  team = 1, group = 1, queue = 1, source = 1, component = 1 }
local STOP_VALUES = { the = 1, a = 1, an = 1, ["and"] = 1, ["of"] = 1,
  field = 1, value = 1, too = 1, also = 1 }

-- name + value: "urgency 1", "short_description set to X", "text says: Y".
local function assignment(item)
  -- "field called source ...", "summary field that reads ..."
  item = gsub(gsub(item, "^[Ff]ield%s+called%s+", ""), "^[Ff]ield%s+named%s+", "")
  item = gsub(item, "^([%a_][%w_]*)%s+field%s*([:=])", "%1%2")
  item = gsub(item, "^([%a_][%w_]*)%s+field%s+", "%1 ")
  item = gsub(item, "^([%a_][%w_]*)%s+that%s+(%a+s)%f[%W]", "%1 %2")
  item = gsub(item, "^([%a_][%w_]*)%s+which%s+(%a+s)%f[%W]", "%1 %2")
  local name, rest
  for _, cue in ipairs(ASSIGN) do
    local n, r = match(item, "^([%a_][%w_%.%-]*)" .. cue .. "(.+)$")
    if not n then
      n, r = match(item, "^([%a][%a]+%s[%a]+)" .. cue .. "(.+)$")
      if n and (vocab.ref(n) or not find(cue, "[=:]") and cue ~= "%s+set%s+to%s+") then
        n = nil
      end
    end
    if n and not (cue == "%s+to%s+" or cue == "%s+of%s+" or cue == "%s+as%s+"
        or cue == "%s+is%s+") or n and (find(n, "_") or TEXT_FIELDS[lower(n)]) then
      name, rest = n, r
      break
    end
  end
  if not name then
    local n, tok = match(item, "^([%a_][%w_%.%-]*)%s+(%S+)$")
    local field_word = n and (vocab.ref(n) or FIELD_WORDS[lower(n)])
    if n and (literal_token(tok) or field_word and not STOP_VALUES[lower(tok)])
        and not vocab.ref(tok) then
      name, rest = n, tok
    end
  end
  if not name then
    local n, r = match(item, "^([%a_][%w_]*_[%w_]*)%s+(.+)$")
    if n then name, rest = n, r end
  end
  if not name then
    local n, r = match(item, "^([%a_][%w_]*)%s+(.+)$")
    if n and not vocab.ref(n) and conditional(r) then name, rest = n, r end
  end
  if not name then return nil end
  local lname = lower(name)
  if lname == "the" or lname == "a" or lname == "an" then return nil end
  return text.snake(name) == lname and name or text.snake(name), rest
end

local function conditional_value(alts)
  local json = require("moonwire.json")
  local parts = {}
  local all_text = true
  for _, a in ipairs(alts) do
    if tonumber(a.value) then all_text = false end
  end
  local function lit(v)
    if all_text then return v end
    return tonumber(v) and v or json.encode(v)
  end
  local n = 0
  for _, a in ipairs(alts) do
    if a.expr then
      n = n + 1
      parts[#parts + 1] = format("{{%sif %s}}%s", n == 1 and "#" or "else ",
        a.expr, lit(a.value))
    end
  end
  for _, a in ipairs(alts) do
    if a.otherwise then parts[#parts + 1] = "{{else}}" .. lit(a.value) end
  end
  if n == 0 then return nil end
  if #parts == n and #alts == 2 and n == 2 then
    parts[2] = "{{else}}" .. lit(alts[2].value)
  end
  parts[#parts + 1] = "{{/if}}"
  local s = table.concat(parts)
  if all_text then return vocab.textv({ { tpl = s } }) end
  return vocab.tpl(s)
end

-- "map severity to priority: critical -> 1, warning -> 2, otherwise 3",
-- "priority mapped from severity (critical=P1 ...)".
local MAP_PATS = {
  { "%f[%w]map%a*%s+([%a_%s']-)%s+to%s+([%a_][%a_%s]-)%s*[:%(,;%-=]", false },
  { "%f[%w]map%a*%s+([%a_%s']-)%s+to%s+([%a_][%a_%s]-)%s*$", false },
  { "%f[%w]([%a_]+)%s+mapped%s+from%s+([%a_%s']-)%f[%s%p]", true },
  { "%f[%w]([%a_]+)%s+based%s+on%s+([%a_%s']-)%f[%s%p]", true },
  { "%f[%w]([%a_]+)%s+derived%s+from%s+([%a_%s']-)%f[%s%p]", true },
  { "%f[%w]([%a_]+)%s+from%s+t?h?e?%s*([%a_]+)%s*%(", true },
}

-- The field a mapping fills: "a priority" -> priority, "the ServiceNow
-- urgency field" -> urgency.
local function map_target(s)
  local last
  for w in s:gmatch("[%a_]+") do
    if w ~= "field" and w ~= "value" and w ~= "a" and w ~= "an" and w ~= "the" then
      last = w
    end
  end
  return last
end

---Reads a mapping ("map severity to priority: critical -> 1, ...") into
---a field of step_fields; true when the clause holds one.
---@param doc table the read prompt
---@param c table the clause
---@param step_fields table receives {name, map | mapping, additive}
---@return boolean
function M.scan_mapping(doc, c, step_fields)
  local a, b, src, dst
  for _, p in ipairs(MAP_PATS) do
    local x, y, one, two = find(c.work, p[1])
    if x then
      a, b = x, y
      if p[2] then dst, src = one, two else src, dst = one, two end
      break
    end
  end
  if not a then return false end
  local ref = vocab.ref(src)
  dst = map_target(dst)
  if not ref or ref.value.t ~= "path" or not dst then return false end
  local pairs_, default = {}, nil
  local e = b
  local rest = gsub(sub(c.text, b + 1, math.min(#c.text, b + 200)),
    "\226\134\146", "->")
  for _, from, to, pb in rest:gmatch("()([%w_%-]+)%s*[%-=]*>?%s*[:=]?%s*"
      .. "t?o?%s*['\"]?([%w_%-%.]+)['\"]?()") do
    local lf = lower(from)
    if lf == "otherwise" or lf == "else" or lf == "default" or lf == "others" then
      default = to
      e = b + pb - 1
    elseif (vocab.STATUS_WORDS[lf] or lf == "ok") and lower(to) ~= "and" then
      pairs_[#pairs_ + 1] = { lf, tonumber(to) or to }
      e = b + pb - 1
    end
  end
  local f = { name = text.snake(dst), additive = true }
  if #pairs_ > 0 then
    f.map = { source = ref.path, pairs = pairs_,
      default = default and (tonumber(default) or default) }
  else
    f.mapping = true
  end
  step_fields[#step_fields + 1] = f
  consume(c, a, e)
  return true
end

---Parses a region of body fields into step_fields; items it cannot read
---go to `unknown`. `additive` marks named data as adding to the target's
---default body rather than replacing it.
---@param doc table
---@param region string marked text, original case
---@param step_fields table
---@param unknown string[]
---@param additive boolean
function M.parse_region(doc, region, step_fields, unknown, additive)
  local low = lower(region)
  local ta, tb = find(low, "%f[%w]te?xt%s*:?%s*says:?%s*")
  if not ta then ta, tb = find(low, "%f[%w]message%s+says:?%s*") end
  if not ta then ta, tb = find(low, "%f[%w]saying:?%s+") end
  if not ta then ta, tb = find(low, "%f[%w]text%s*:%s*") end
  if not ta then ta, tb = find(low, "%f[%w]text%s+\3") end
  if not ta then ta, tb = find(low, "%f[%w]message%s*:%s*") end
  if ta then
    local rest = sub(region, tb + 1)
    if find(lower(sub(region, ta, tb)), "text%s+\3$") then rest = sub(region, tb) end
    local v = vocab.value(doc, rest)
    if v then
      step_fields[#step_fields + 1] = { name = "text", value = v,
        additive = true }
    end
    region = sub(region, 1, ta - 1)
  end
  local last
  for _, raw in ipairs(items_of(region)) do
    local item = strip_leads(raw)
    local filler = ({ ["with"] = 1, ["and"] = 1, ["the"] = 1, ["a"] = 1,
      ["using"] = 1, ["by"] = 1, ["in"] = 1, ["to"] = 1, ["via"] = 1 })[lower(item)]
    if filler then item = "" end
    local name, rest = assignment(item)
    local ref = vocab.ref(item)
    local cond = rest and conditional(rest)
    local more = last and not name and conditional(item)
    if more then
      -- "1 when the severity is critical, 2 when it is warning": "it" is
      -- the variable of the first alternative.
      local first = last.alts[1].cond
      if more.cond and first and not more.named and more.cond.source ~= first.source
          and more.cond.source == "incident.status" then
        more.cond.source = first.source
        more.expr = vocab.cond_expr(more.cond)
      end
      last.alts[#last.alts + 1] = more
    elseif ref and (not name or vocab.ref(name) and not rest:find("%S%s+%S")
        and not literal_token(rest) and not (FIELD_WORDS[lower(name)]
        and not vocab.ref(rest) and not STOP_VALUES[lower(rest)])) then
      step_fields[#step_fields + 1] = { name = ref.name, value = ref.value,
        ref = ref, additive = additive or ref.whole }
      last = nil
    elseif name and cond then
      last = { name = name, alts = { cond }, additive = true }
      step_fields[#step_fields + 1] = last
    elseif name and rest then
      local v, vref = vocab.value(doc, rest)
      if v then
        step_fields[#step_fields + 1] = { name = name, value = v, ref = vref,
          additive = true }
      else
        unknown[#unknown + 1] = item
      end
      last = nil
    elseif item ~= "" and not find(lower(item), "^[%a]+ed$")
        and not find(item, "^%s*$") then
      unknown[#unknown + 1] = item
    end
  end
  for _, f in ipairs(step_fields) do
    if f.alts then f.value = conditional_value(f.alts) end
  end
end

-- The object of the last verb before a URL: "PUT the new status to".
local OBJECT_VERBS = { "post", "put", "patch", "send", "forward", "push",
  "deliver", "submit", "notify", "relay", "publish", "transmit", "report",
  "create", "open", "raise", "file", "update", "pass", "mirror", "sync",
  "ship", "emit", "fire", "hit", "call", "write", "log", "delete", "close",
  "resolve", "include", "transform", "posting", "sending", "forwarding" }

---The data named as the object of the verb before a URL ("PUT the new
---status to"), and quoted message text ("post 'Resolved' to").
---@param doc table
---@param c table the clause
---@param lo integer where the URL's stretch of text starts
---@param ua integer where the URL mark starts
---@return table refs
function M.object_phrase(doc, c, lo, ua)
  local pre = sub(c.work, lo, ua - 1)
  local best
  for _, v in ipairs(OBJECT_VERBS) do
    local init = 1
    while true do
      local a, b = find(pre, "%f[%w]" .. v .. "%f[%W]", init)
      if not a then break end
      if not best or a > best.a then best = { a = a, b = b } end
      init = b + 1
    end
  end
  local refs = {}
  local function add(phrase)
    for _, item in ipairs(items_of(phrase)) do
      local r = vocab.ref(item)
      if r then refs[#refs + 1] = r end
    end
  end
  local ta, tb, obj = find(pre, "transform%s+(.-)%s+and%s")
  if ta then add(obj) end
  if best then
    local rest = sub(pre, best.b + 1)
    local q = match(rest, "^%s*[%a%s]-(\3%d+\4)")
    if q then
      local v = vocab.value(doc, q)
      if v then refs[#refs + 1] = { name = "text", value = v, text = true } end
    end
    obj = match(rest, "^%s*(.-)%s+to%s+.*$") or match(rest, "^%s*(.-)%s+at%s+.*$")
      or match(rest, "^%s*(.-)%s+into%s+.*$") or match(rest, "^%s*(.-)%s+via%s+.*$")
      or match(rest, "^%s*(.-)%s+on%s+.*$") or match(rest, "^%s*(.-)%s+using%s+.*$")
      or match(rest, "^%s*(.-)%s+with%s*$") or match(rest, "^%s*(.-)%s+over%s+.*$")
    if obj and obj ~= "" then add(obj) end
  end
  return refs
end

---The data an "include X in the payload" phrase names.
---@param c table
---@param lo integer
---@param hi integer
---@return table refs
function M.include_phrases(c, lo, hi)
  local refs = {}
  local s = sub(c.work, lo, hi)
  for _, where in ipairs({ "payload", "body", "message", "request", "json" }) do
    for body in s:gmatch("%f[%w]include%a*%s+(.-)%s+in%s+t?h?e?%s*[%a ]-"
        .. where .. "%f[%W]") do
      for _, item in ipairs(items_of(body)) do
        local r = vocab.ref(item)
        if r then refs[#refs + 1] = r end
      end
    end
  end
  return refs
end

---Where the body fields after a URL are: from the first cue ("with",
---"containing", "whose" ...) to the end of the URL's stretch, stopping at
---a save, "using", "then", or a condition on the whole request.
---@param c table
---@param ub integer where the URL mark ends (0 for the clause start)
---@param hi integer where the URL's stretch ends
---@return integer|nil first
---@return integer|nil last
function M.region_after(c, ub, hi)
  local seg = sub(c.work, ub + 1, hi)
  local best
  for _, cue in ipairs(M.CUES) do
    local a = find(seg, "%f[%w]" .. gsub(cue, "([%:])", "%%%1") .. "%f[%W]")
    if a and (not best or a < best) then best = a end
  end
  -- "(POST <url>, alias = incident id, priority P1)": the rest of the
  -- parenthesis holding the URL.
  local open_before = ub > 0 and match(sub(c.work, 1, ub), "%(([^%)]*)$")
  local comma = open_before and find(seg, "^[^%)]-,")
  if comma and (not best or comma < best) then
    local close = find(seg, "%)", comma)
    return ub + comma + 1, ub + (close and close - 1 or #seg)
  end
  if not best then return nil end
  local stop = #seg
  for _, p in ipairs({ "%s+and%s+save", "%s+and%s+store", "%s+and%s+remember",
    "%s+and%s+keep", "%s+and%s+record", "%s+and%s+capture", "%s+and%s+link",
    "%s+using%s+", "%s+then%s+", "%s+and%s+use%s" }) do
    local a = find(seg, p, best)
    if a and a - 1 < stop then stop = a - 1 end
  end
  -- A condition on the whole request ends the fields, unless the fields
  -- already hold conditional values ("1 when the severity is critical").
  for x, word in seg:gmatch("()%s+(%a+)%s") do
    if x > best and (word == "when" or word == "if" or word == "once")
        and x - 1 < stop then
      local before = match(sub(seg, best, x - 1), "([^,]-)$") or ""
      before = gsub(before, "^.*%f[%w]and%s+", "")
      before = gsub(before, "^.*%f[%w]with%s+", "")
      if vocab.ref(before) then stop = x - 1 end
    end
  end
  local first_cond = find(seg, "%s+when%s", best) or find(seg, "%s+if%s", best)
  for _, p in ipairs({ "%s+when%s+it%s", "%s+when%s+it's%s", "%s+if%s+it%s",
    "%s+if%s+it's%s", "%s+for%s+new%s", "%s+for%s+updates", "%s+on%s+updates",
    "%s+for%s+all%s", "%s+for%s+every%s", "%s+only%s+if%s",
    "%s+only%s+when%s" }) do
    local a = find(seg, p, best)
    if a and a - 1 < stop and (not first_cond or first_cond >= a) then
      stop = a - 1
    end
  end
  return ub + best, ub + stop
end

---A target's own words: "channel #ops", "project OPS", "issue type Bug",
---"transition 31".
---@param c table
---@param lo integer
---@param hi integer
---@return table {channel, project, issuetype, transition}
function M.target_opts(c, lo, hi)
  local s = sub(c.text, lo, hi)
  local o = {}
  o.channel = match(s, "[Cc]hannel%s+([#@]?[%w_%-%.]+)") or match(s, "(#[%w_%-]+)")
  if o.channel and not find(o.channel, "^[#@C]") and #o.channel < 3 then
    o.channel = nil
  end
  o.project = match(s, "[Pp]roject%s+[Kk]?e?y?%s*([%u][%u%d_]+)")
  o.issuetype = match(s, "[Ii]ssue%s*[Tt]ype%s+(%a+)") or match(s, "as%s+an?%s+(Bug)")
  o.transition = match(s, "[Tt]ransition%s+[Ii]?[Dd]?%s*(%d+)")
  return o
end

---Reads a clause that only names body fields, a method or message text
---into c.mapped / c.method_only.
---@param doc table
---@param c table
function M.scan_fields_only(doc, c)
  local low = c.work
  local m = match(low, "^%s*method%s*:?%s*(%a+)%s*$")
  if m and ({ get = 1, post = 1, put = 1, patch = 1, delete = 1 })[m] then
    c.method_only = upper(m)
    consume(c, 1, #c.text)
    return
  end
  local lead = match(low, "^%s*([%a_][%w_]*_[%w_]*)%s") or match(low, "^%s*set%s")
    or match(low, "^%s*also%s") or match(low, "^%s*include%s")
    or match(low, "^%s*add%s") or match(low, "^%s*the body")
    or match(low, "^%s*the payload") or match(low, "^%s*use%s")
    or match(low, "^%s*body%s*:") or match(low, "^%s*payload%s*:")
    or match(low, "^%s*fields%s*:")
  local text_lead = match(low, "^%s*text%s*:") or match(low, "^%s*message%s*:")
    or match(low, "^%s*summary%s*:") or match(low, "^%s*title%s*:")
  if not lead and not text_lead then return end
  local fields, unknown = {}, {}
  local region = masked(c, 1, #c.text)
  if text_lead then
    local name, rest = match(region, "^%s*(%a+)%s*:%s*(.-)%s*$")
    local v = vocab.value(doc, rest)
    if v then
      c.mapped = { { name = lower(name) == "message" and "text" or lower(name),
        value = v, additive = true } }
      consume(c, 1, #c.text)
    end
    return
  end
  region = gsub(region, "%f[%w][Ss]et%s+([%w_]+)%s+to%s+", "%1 = ")
  region = gsub(region, "%f[%w][Uu]se%s+(.-)%s+as%s+t?h?e?%s*([%w_]+)", "%2 = %1")
  region = gsub(region, "^%s*%a+%s*:%s*", "")
  M.parse_region(doc, region, fields, unknown, true)
  if #fields > 0 then
    for _, f in ipairs(fields) do f.additive = true end
    c.mapped = c.mapped or {}
    for _, f in ipairs(fields) do c.mapped[#c.mapped + 1] = f end
    consume(c, 1, #c.text)
  end
end

return M
