-- The planner's vocabulary: phrases that name incident data ("the first
-- alert's description", "a list of the hosts"), literal values, and the
-- conditions a prompt routes on ("new incidents", "status is critical").
-- Turning them into nodes is moonwire.generate.build's.
-- SPDX-License-Identifier: MIT

local text = require("moonwire.generate.text")

local ipairs, pairs, tonumber, tostring, type = ipairs, pairs, tonumber,
  tostring, type
local find, match, gsub, lower, sub = string.find, string.match, string.gsub,
  string.lower, string.sub
local format = string.format

local M = {}

-- ---- values -----------------------------------------------------------------

-- A value is {t = "path", path} (a variable, typed at a JSON value
-- position), {t = "lit", v} (a constant), {t = "text", parts} (a string:
-- literal text and {path} or {tpl} pieces), {t = "tpl", s} (template text
-- that renders a JSON value) or {t = "obj", fields} (nested object).

function M.path(p) return { t = "path", path = p } end
function M.lit(v) return { t = "lit", v = v } end
function M.tpl(s) return { t = "tpl", s = s } end
function M.textv(parts) return { t = "text", parts = parts } end

-- Tags as BigPanda sends them: incident_tags {tag_id, tag_value}, and
-- per alert tags {name, value}.
M.TAG_NAMES = {
  host = "host", hosts = "host", hostname = "host", hostnames = "host",
  server = "host", servers = "host", node = "host", nodes = "host",
  service = "service", services = "service", check = "check",
  checks = "check", environment = "environment", environments = "environment",
  env = "environment", application = "application", app = "application",
  applications = "application", region = "region", regions = "region",
  team = "team", teams = "team", cluster = "cluster", clusters = "cluster",
  datacenter = "datacenter", owner = "owner", component = "component",
}

---Template text for the list of a tag's values over every alert.
---@param tag string
function M.tag_list_tpl(tag)
  return format('[{{#each incident.incident_tags}}{{#if (eq tag_id "%s")}}'
    .. '{{json tag_value}},{{/if}}{{/each}}{{#each incident.alerts}}'
    .. '{{#each tags}}{{#if (eq name "%s")}}{{json value}},{{/if}}'
    .. '{{/each}}{{/each}}]', tag, tag)
end

---Template text for the first alert's value of a tag (text).
---@param tag string
function M.tag_first_tpl(tag)
  return format('{{#each incident.alerts.[0].tags}}{{#if (eq name "%s")}}'
    .. '{{value}}{{/if}}{{/each}}', tag)
end

local DESCRIPTION = "incident.alerts.[0].description"

-- Phrases naming incident data, most specific first. `name` is the JSON
-- field a body gets when the prompt only names the data.
local REFS = {
  { name = "alert_count", path = "incident.alerts.length",
    pats = { "number of alerts", "alert count", "count of alerts",
      "how many alerts", "alerts count", "number of the alerts" } },
  { name = "external_id", path = "externalId", external = true,
    pats = { "external[%s_%-]?id", "that id", "saved id", "stored id",
      "remembered id", "same id", "linked id", "returned id", "its id",
      "ticket'?s? id", "sys_?id", "that key", "issue key", "ticket key",
      "thread ts", "that ts", "ticket number", "record id", "issue id",
      "alert id", "externalid" } },
  { name = "incident_id", path = "incident.id",
    pats = { "incident'?s? id", "incident_id", "id of the incident",
      "incident identifier", "bigpanda id", "^id$", "^the id$", "^ids?$",
      "dedup key", "alias" } },
  { name = "description", path = DESCRIPTION,
    pats = { "first alert'?s? description", "description of the first alert",
      "alert'?s? description", "description", "summary", "title", "headline",
      "subject", "^name$" } },
  { name = "event_type", path = "metadata.event_type",
    pats = { "event[%s_]?type", "type of event", "event name" } },
  { name = "severity", path = "incident.severity", pats = { "severity" } },
  { name = "state", path = "incident.status",
    pats = { "^state$", "new state", "current state", "^states$" } },
  { name = "status", path = "incident.status", pats = { "status" } },
  { name = "active", path = "incident.active", pats = { "active" } },
  { name = "flapping", path = "incident.flapping", pats = { "flapping" } },
  { name = "snoozed", path = "incident.snooze.snoozed", pats = { "snooze" } },
  { name = "start", path = "incident.start",
    pats = { "start time", "started", "start", "opened at", "creation time" } },
  { name = "end", path = "incident.end", pats = { "end time", "ended" } },
  { name = "changed_at", path = "incident.changed_at",
    pats = { "changed at", "change time", "last change" } },
  { name = "alert_tags", path = "incident.alerts.[0].tags",
    pats = { "alert tags" } },
  { name = "tags", path = "incident.incident_tags",
    pats = { "incident tags", "^tags$" } },
  { name = "alerts", path = "incident.alerts",
    pats = { "^alerts$", "all alerts", "alert list", "list of alerts" } },
  { name = "environments", path = "incident.environments",
    pats = { "environment ids" } },
  { name = "incident", path = "incident", whole = true,
    pats = { "^incident$", "payload", "whole incident", "full incident",
      "entire incident", "incident data", "incident object", "raw incident",
      "^it$", "^everything$", "incident body", "^data$", "^details$",
      "incident json", "^them$" } },
}

-- Words a reference may start with that do not change what it names.
local LEAD = { "the", "a", "an", "its", "their", "current", "latest", "new",
  "updated", "whole", "with", "plus", "also", "and", "include", "including",
  "containing", "as well as", "of" }

---Strips articles and fillers from the front and end of a phrase.
---@param s string lower-case
function M.bare(s)
  s = text.squash(s)
  local again = true
  while again do
    again = false
    for _, w in ipairs(LEAD) do
      local rest = match(s, "^" .. w .. "%s+(.*)$")
      if rest and rest ~= "" then s, again = rest, true end
    end
  end
  s = gsub(s, "%s+field$", "")
  s = gsub(s, "%s+value$", "")
  return (gsub(s, "[%s%.,]+$", ""))
end

local function tag_ref(s)
  local w = match(s, "list of ([%a]+)") or match(s, "^all ([%a]+)")
    or match(s, "^([%a]+) from .*tags") or match(s, "^([%a]+) tags?$")
    or match(s, "^([%a]+) names$") or match(s, "^([%a]+) list$")
  local tag = w and M.TAG_NAMES[w]
  if tag and (find(s, "list") or find(s, "all ") or w:sub(-1) == "s"
      or find(s, "tags")) then
    return { name = tag .. "s", value = M.tpl(M.tag_list_tpl(tag)), tag = tag,
      list = true }
  end
  tag = M.TAG_NAMES[s] or M.TAG_NAMES[match(s, "^([%a]+) name$") or ""]
    or M.TAG_NAMES[match(s, "^([%a]+) tag$") or ""]
  if tag then
    return { name = tag, tag = tag,
      value = M.textv({ { tpl = M.tag_first_tpl(tag) } }) }
  end
  return nil
end

---What a phrase names: {name, value, external?, whole?} or nil.
---@param phrase string
---@return table|nil
function M.ref(phrase)
  local s = gsub(lower(phrase), "[%(%)]", " ")
  s = gsub(gsub(s, "'s%f[%W]", ""), "s'%f[%W]", "s")
  s = M.bare(s)
  if s == "" or #s > 60 or find(s, "[<{\1\3]") then return nil end
  local words = select(2, gsub(s, "%S+", ""))
  if words > 8 or find(s, "%f[%w]when%f[%W]") or find(s, "%f[%w]if%f[%W]")
      or find(s, "%f[%w]for%s+%a+%s+incidents?") then
    return nil
  end
  s = gsub(s, "^list of the ", "list of ")
  s = gsub(s, "^a list of ", "list of ")
  local t = tag_ref(s)
  if t then return t end
  for _, r in ipairs(REFS) do
    for _, p in ipairs(r.pats) do
      if find(s, p) then
        return { name = r.name, value = M.path(r.path), external = r.external,
          whole = r.whole, path = r.path }
      end
    end
  end
  return nil
end

-- Placeholders written in a prompt's text or URL: <id>, {status}, {{x}}.
local PLACEHOLDER = "([<{]+)([^<>{}]+)([>}]+)"

---A placeholder's variable path. `in_url` reads a bare id as the saved
---external ID; elsewhere it is the incident's.
---@param name string
---@param in_url boolean
function M.placeholder_path(name, in_url)
  local s = M.bare(lower(name))
  if find(s, "^incident") or find(s, "^bigpanda") then return "incident.id" end
  if find(s, "^[%w_%.%[%]]+$") and find(s, "%.") then return name end
  local r = M.ref(s)
  if r and r.external then return "externalId" end
  if in_url and (s == "id" or find(s, "id$") or find(s, "key$")
      or find(s, "ts$") or find(s, "number$") or find(s, "alias")) then
    return "externalId"
  end
  if r and not r.value.tpl then return r.path end
  return nil
end

---Turns text with placeholders into text parts; unknown placeholders
---stay as written and are reported through `unknown`.
---@param s string
---@param in_url boolean
---@param unknown table|nil list that collects placeholders not understood
function M.text_parts(s, in_url, unknown)
  local parts, i = {}, 1
  while true do
    local a, b, open, name, close = find(s, PLACEHOLDER, i)
    if not a then break end
    local p
    if open == "{{" and close == "}}" then
      p = M.bare(name) ~= "" and { tpl = "{{" .. name .. "}}" }
    else
      local path = #open == #close and M.placeholder_path(name, in_url)
      p = path and { path = path }
      if not p and path == nil then
        local r = not in_url and M.ref(name)
        if r and r.value.t == "text" then p = r.value.parts[1] end
      end
    end
    if p then
      if a > i then parts[#parts + 1] = sub(s, i, a - 1) end
      parts[#parts + 1] = p
    else
      if unknown then unknown[#unknown + 1] = sub(s, a, b) end
      parts[#parts + 1] = sub(s, i, b)
    end
    i = b + 1
  end
  if i <= #s then parts[#parts + 1] = sub(s, i) end
  return parts
end

---Parses a value as written after a field name: a quote, a number, a
---channel, a reference to incident data, or literal words.
---@param doc table the read prompt (for quotes)
---@param s string marked text, original case
---@return table|nil value
---@return table|nil ref when the value names incident data
function M.value(doc, s)
  s = text.squash(s)
  s = gsub(s, "^[:=]%s*", "")
  local low = lower(s)
  for _, lead in ipairs({ "set to", "equal to", "equals", "to be", "to",
    "as", "of", "is", "=", ":", "being", "with value", "with" }) do
    local n = #lead
    if sub(low, 1, n + 1) == lead .. " " then
      s, low = sub(s, n + 2), sub(low, n + 2)
    end
  end
  local q = match(s, "^\3(%d+)\4$")
  if q then
    return M.textv(M.text_parts(doc.quotes[tonumber(q)], false))
  end
  if match(s, "^%-?%d+%.?%d*$") and #s < 16 then
    if match(s, "^0%d") then return M.lit(s) end
    return M.lit(tonumber(s))
  end
  if low == "true" or low == "false" then return M.lit(low == "true") end
  if low == "null" then return M.lit(require("moonwire.json").null) end
  if find(s, "[<{]") then return M.textv(M.text_parts(s, false)) end
  local r = M.ref(low)
  if r then return r.value, r end
  if s ~= "" and not find(s, "[\1\3]") then return M.lit(s) end
  return nil
end

-- ---- conditions -------------------------------------------------------------

-- A condition: {source = path, values = {...}, port = name, rank = n,
-- negate = bool, tag = name}. rank orders the switches: lower first.
-- Phases ("new", "update") become metadata.firstTime, or the event type
-- when the prompt speaks of event types.

local function cond(source, values, port, rank, extra)
  local c = { source = source, values = values, port = port, rank = rank }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

function M.new_cond() return cond("metadata.firstTime", { true }, "new", 9,
  { phase = "new" }) end
function M.update_cond() return cond("metadata.firstTime", { false }, "update",
  9, { phase = "update" }) end
function M.closed_cond() return cond("metadata.event_type", { "incident#closed" },
  "closed", 2, { phase = "closed" }) end
function M.resolved_cond() return cond("incident.status", { "ok" }, "resolved",
  3, { phase = "resolved" }) end

M.STATUS_WORDS = { critical = true, warning = true, ok = true, unknown = true,
  info = true, error = true, major = true, minor = true, high = true,
  low = true, medium = true, warn = true, crit = true }

local EVENT_WORDS = {
  snoozed = "incident#snoozed", commented = "incident#commented",
  reopened = "incident#reopen", flapping = "incident#become-flapping",
  ["tag is added"] = "incident-tag#upserted",
  ["tags change"] = "incident-tag#upserted",
  ["tag is removed"] = "incident-tag#removed",
  ["manually shared"] = "manual", ["manual share"] = "manual",
}

local NEW_PATS = {
  "%f[%w]new incidents?%f[%W]", "%f[%w]new ones?%f[%W]", "%f[%w]new alerts?%f[%W]",
  "%f[%w]new %a+ incidents?%f[%W]", "%f[%w]first appears", "%f[%w]appears for the",
  "%f[%w]new shares?%f[%W]", "%f[%w]is new%f[%W]", "%f[%w]are new%f[%W]",
  "%f[%w]it's new%f[%W]", "%f[%w]first share", "%f[%w]first time",
  "%f[%w]first shared", "%f[%w]first event", "%f[%w]first notification",
  "%f[%w]newly %a+", "%f[%w]on creation%f[%W]", "incident#new",
  "%f[%w]initial share", "%f[%w]not been shared before",
  "%f[%w]for the first", "^new%f[%W]", "%f[%w]brand new",
  "%f[%w]is created%f[%W]", "%f[%w]are created%f[%W]", "%f[%w]gets created",
  "%f[%w]is opened%f[%W]", "%f[%w]is triggered%f[%W]", "%f[%w]is raised%f[%W]",
  "%f[%w]when created%f[%W]", "%f[%w]on create%f[%W]", "%f[%w]first seen",
  "%f[%w]new incident shares?", "%f[%w]never seen", "%f[%w]no external id yet",
  "%f[%w]not linked yet", "%f[%w]doesn't exist yet", "%f[%w]does not exist yet",
  "%f[%w]first shares?%f[%W]",
}
local UPDATE_PATS = {
  "%f[%w]updates%f[%W]", "%f[%w]is an update", "%f[%w]updated%f[%W]",
  "%f[%w]update%f[%W]", "incident#updated", "%f[%w]later shares?",
  "%f[%w]subsequent", "%f[%w]following shares?", "%f[%w]next shares?",
  "%f[%w]afterwards%f[%W]", "%f[%w]after that%f[%W]", "%f[%w]re%-?shared",
  "%f[%w]reshares?%f[%W]", "%f[%w]again%f[%W]", "%f[%w]existing%f[%W]",
  "%f[%w]already%f[%W]", "%f[%w]changes%f[%W]", "%f[%w]changed%f[%W]",
  "%f[%w]later on%f[%W]", "%f[%w]every later", "%f[%w]on later",
  "%f[%w]repeat shares?", "%f[%w]other shares%f[%W]",
  "%f[%w]each later", "%f[%w]later%f[%W]", "%f[%w]follow%-?%s?ups?%f[%W]",
  "%f[%w]further shares?", "%f[%w]additional shares?", "%f[%w]next time",
  "%f[%w]any other share", "%f[%w]shared again", "%f[%w]re%-shares?",
}
local CLOSED_PATS = {
  "%f[%w]closed%f[%W]", "%f[%w]closes%f[%W]", "incident#closed",
  "%f[%w]close event", "%f[%w]on close%f[%W]", "%f[%w]gets? closed",
}
local RESOLVED_PATS = {
  "%f[%w]resolved%f[%W]", "%f[%w]resolves%f[%W]", "%f[%w]recover",
  "%f[%w]back to ok", "%f[%w]becomes? ok", "%f[%w]goes? ok",
  "%f[%w]status is ok", "%f[%w]status becomes ok", "%f[%w]changes to ok",
  "%f[%w]is ok%f[%W]", "%f[%w]is back to normal", "%f[%w]returns to ok",
  "%f[%w]cleared%f[%W]", "%f[%w]clears%f[%W]", "%f[%w]turns ok",
  "%f[%w]status ok%f[%W]", "%f[%w]ok status",
}
-- "Whenever" and the like give way to a phase said in the same clause:
-- "whenever an incident is created" is about new incidents.
local WEAK_ALWAYS_PATS = {
  "%f[%w]whenever%f[%W]", "%f[%w]every time", "%f[%w]each time",
  "%f[%w]any incident", "%f[%w]each incident",
}
local ALWAYS_PATS = {
  "%f[%w]every incident", "%f[%w]all incidents",
  "%f[%w]every share", "%f[%w]each share",
  "%f[%w]always%f[%W]", "%f[%w]regardless", "%f[%w]all shares",
  "%f[%w]in all cases", "%f[%w]every update and", "%f[%w]all events",
  "%f[%w]every event", "%f[%w]new and updated", "%f[%w]new or updated",
  "%f[%w]creates? and updates?",
}
M.OTHERWISE_PATS = {
  "^otherwise", "^else%f[%W]", "%f[%w]in all other cases", "%f[%w]anything else",
  "%f[%w]everything else", "%f[%w]all others", "%f[%w]other incidents",
  "%f[%w]for the rest", "^if not%f[%W]", "%f[%w]any other", "%f[%w]all other",
  "%f[%w]other statuses", "%f[%w]other severities", "%f[%w]the rest%f[%W]",
}
M.NOTHING_PATS = {
  "do nothing", "ignore", "drop it", "drop them", "skip", "send nothing",
  "don't send", "do not send", "nothing", "no request", "don't do anything",
  "do not do anything", "discard", "stop%f[%W]",
}
M.FAIL_PATS = {
  "%f[%w]fails%f[%W]", "%f[%w]failed%f[%W]", "%f[%w]failure", "%f[%w]on error",
  "%f[%w]errors? out", "%f[%w]in case of an? error", "%f[%w]in case of error",
  "%f[%w]cannot be", "%f[%w]can't be", "%f[%w]could not be", "%f[%w]couldn't",
  "%f[%w]unable to", "%f[%w]does not succeed", "%f[%w]doesn't succeed",
  "%f[%w]non%-2xx", "%f[%w]unsuccessful", "%f[%w]is down%f[%W]",
  "%f[%w]unreachable", "%f[%w]times out", "%f[%w]returns an error",
  "%f[%w]responds with an error", "%f[%w]answers with an error",
  "%f[%w]returns? a 5%d%d", "%f[%w]gets? an error", "%f[%w]an error occurs",
  "%f[%w]goes wrong", "%f[%w]does not work", "%f[%w]doesn't work",
  "%f[%w]error response", "%f[%w]if it errors", "%f[%w]when it errors",
  "%f[%w]error status", "%f[%w]fail%f[%W]", "%f[%w]in case it fails",
}

-- Finds the first match of any pattern: its start and end, or nil.
local function find_any(s, pats)
  local best_a, best_b
  for _, p in ipairs(pats) do
    local a, b = find(s, p)
    if a and (not best_a or a < best_a) then best_a, best_b = a, b end
  end
  return best_a, best_b
end
M.find_any = find_any

local function status_values(s)
  local vals = {}
  for w in s:gmatch("[%a]+") do
    if M.STATUS_WORDS[w] then
      local v = w == "warn" and "warning" or w == "crit" and "critical" or w
      vals[#vals + 1] = v
    end
  end
  return vals
end

-- The text after a status word with the rest of its list skipped: in
-- "critical or warning severity", what follows "critical" is "severity".
local function after_list(after)
  while true do
    local w, rest = match(after, "^[%s,/]*%f[%w]or%s+(%a+)(.*)$")
    if not w then w, rest = match(after, "^[%s,/]*%f[%w]and%s+(%a+)(.*)$") end
    if not w then w, rest = match(after, "^%s*[,/]%s*(%a+)(.*)$") end
    if not w or not M.STATUS_WORDS[gsub(w, "s$", "")] then return after end
    after = rest
  end
end

-- A status word with no variable of its own near it takes the one of the
-- list or the value before it in the text: "route by severity: critical
-- incidents POST to A, warning ones POST to B".
local function inherit_vars(found)
  table.sort(found, function(x, y) return x.a < y.a end)
  local var
  for _, f in ipairs(found) do
    if f.explicit then
      var = f.cond.source
    elseif var and (f.cond.values[1] ~= "ok" or var ~= "incident.severity") then
      f.cond.source = var
    end
  end
end

-- "status is critical", "critical incidents", "severity is warning or
-- critical", "not ok": conditions on incident.status or .severity.
local function status_conds(s, out)
  local v = "critical|warning|ok|unknown|info|error|major|minor|high|low|medium"
  local words = {}
  local found = {}
  for w in v:gmatch("[^|]+") do words[#words + 1] = w end
  for _, w in ipairs(words) do
    local a = 1
    while true do
      local x, y = find(s, "%f[%w]" .. w .. "s?%f[%W]", a)
      if not x then break end
      a = y + 1
      local before = sub(s, math.max(1, x - 40), x - 1)
      local after = sub(s, y + 1, y + 30)
      local subject = match(before, "(%a+)%s*[^%a]*%s*$")
      local statusish = find(before, "status[%s%a=:']*$")
        or find(before, "severity[%s%a=:']*$")
        or find(after, "^%s*incidents?") or find(after, "^%s*ones?%f[%W]")
        or find(after, "^%s*alerts?") or find(after, "^%s*status")
        or find(after, "^%s*severity") or find(after, "^%s*or%s")
        or find(before, "%f[%w]is%s+$") or find(before, "%f[%w]are%s+$")
        or find(before, "%f[%w]or%s+$") or find(before, "%f[%w]only%s+$")
        or find(before, "%f[%w]if%s+$") or find(before, "%f[%w]when%s+$")
        or find(before, "%f[%w]for%s+$") or find(before, "%f[%w]on%s+$")
        or find(before, "%f[%w]becomes%s+$") or find(before, "%f[%w]to%s+$")
        or (find(before, "^%s*$") and x == 1)
      if statusish and subject ~= "urgency" and subject ~= "priority" then
        local var = "incident.status"
        local rest = after_list(sub(s, y + 1, y + 80))
        local sev = find(before, "severity[^%.]*$") or find(rest, "^%s*severity")
        local stat = find(before, "status[^%.]*$") or find(rest, "^%s*status")
        if sev and not find(before, "status[^%.]*$") then
          var = "incident.severity"
        end
        local neg = find(before, "%f[%w]not%s+$") or find(before, "n't%s+$")
          or find(before, "other than%s+$") or find(before, "except%s+$")
          or find(before, "%f[%w]not%s+[%a]+%s+$")
        local f = { a = x, b = y, explicit = (sev or stat) and true or nil,
          cond = cond(var, { w }, w, 4, { negate = neg and true or nil }) }
        found[#found + 1] = f
        out[#out + 1] = f
      end
    end
  end
  inherit_vars(found)
end

-- "environment tag is production", "tag service=checkout", "tagged
-- team:payments", "in production".
local function tag_conds(s, out)
  local function add(a, b, name, value)
    local tag = M.TAG_NAMES[name] or name
    out[#out + 1] = { a = a, b = b, cond = cond("tag_" .. text.snake(tag) .. "[0]",
      { value }, text.snake(value), 5, { tag = tag }) }
  end
  local pats = {
    "tag%s+['\"]?([%w_%-%.]+)['\"]?%s+is%s+['\"]?([%w_%-%.]+)",
    "tag%s+named%s+([%w_%-%.]+)%s+is%s+([%w_%-%.]+)",
    "tag%s+([%w_%-%.]+)%s*[=:]%s*([%w_%-%.]+)",
    "tag%s+([%w_%-%.]+)%s+equals%s+([%w_%-%.]+)",
    "tag%s+([%w_%-%.]+)%s+with value%s+([%w_%-%.]+)",
    "([%w_%-]+)%s+tag%s+is%s+['\"]?([%w_%-%.]+)",
    "([%w_%-]+)%s+tag%s+equals%s+([%w_%-%.]+)",
    "([%w_%-]+)%s+tag%s*[=:]%s*([%w_%-%.]+)",
    "([%w_%-]+)%s+tag%s+of%s+([%w_%-%.]+)",
    "tagged%s+w?i?t?h?%s*([%w_%-]+)%s*[=:]%s*([%w_%-%.]+)",
    "tagged%s+w?i?t?h?%s*([%w_%-]+)%s+([%w_%-%.]+)",
  }
  for _, p in ipairs(pats) do
    local a, b, name, value = find(s, p)
    if a and not M.STATUS_WORDS[name] then return add(a, b, name, value) end
  end
  for name in pairs(M.TAG_NAMES) do
    local a, b, value = find(s, "%f[%w]" .. name .. "%s+is%s+['\"]?([%w_%-%.]+)")
    if a and value ~= "not" and value ~= "the" and value ~= "a" then
      return add(a, b, name, value)
    end
    a, b, value = find(s, "%f[%w]" .. name .. "%s*=%s*([%w_%-%.]+)")
    if a then return add(a, b, name, value) end
  end
  local a, b, env = find(s, "%f[%w]in%s+(production)%f[%W]")
  if not a then a, b, env = find(s, "%f[%w]in%s+(staging)%f[%W]") end
  if a then add(a, b, "environment", env) end
end

local function event_conds(s, out)
  local phases = { ["incident#new"] = 1, ["incident#updated"] = 1,
    ["incident#closed"] = 1 }
  for a, ev, b in s:gmatch("()(incident[%-%a]*#[%a%-]+)()") do
    if phases[ev] then goto continue end
    local port = text.snake(match(ev, "#(.+)$"))
    out[#out + 1] = { a = a, b = b - 1, cond = cond("metadata.event_type",
      { ev }, port, 2, { event = true }) }
    ::continue::
  end
  for w, ev in pairs(EVENT_WORDS) do
    local a, b = find(s, "%f[%w]" .. w .. "%f[%W]")
    if a then
      out[#out + 1] = { a = a, b = b, cond = cond("metadata.event_type", { ev },
        text.snake(match(ev, "#(.+)$") or ev), 2, { event = true }) }
    end
  end
end

local function active_conds(s, out)
  local a, b = find_any(s, { "no longer active", "not active", "inactive",
    "isn't active", "is not active" })
  if a then
    out[#out + 1] = { a = a, b = b, cond = cond("incident.active", { false },
      "inactive", 3) }
    return
  end
  a, b = find_any(s, { "%f[%w]active incidents?", "%f[%w]is active",
    "%f[%w]are active", "%f[%w]still active", "%f[%w]while active",
    "%f[%w]active ones" })
  if a then
    out[#out + 1] = { a = a, b = b, cond = cond("incident.active", { true },
      "active", 3) }
  end
end

local function phase_conds(s, out)
  local a, b = find_any(s, CLOSED_PATS)
  if a then out[#out + 1] = { a = a, b = b, cond = M.closed_cond() } end
  a, b = find_any(s, RESOLVED_PATS)
  if a then out[#out + 1] = { a = a, b = b, cond = M.resolved_cond() } end
  a, b = find_any(s, NEW_PATS)
  if a then out[#out + 1] = { a = a, b = b, cond = M.new_cond() } end
  local ua, ub = find_any(s, UPDATE_PATS)
  if ua then out[#out + 1] = { a = ua, b = ub, cond = M.update_cond() } end
  -- Terse lists: "close DELETE /tickets/{id}".
  if #out == 0 and find(s, "^%s*close%f[%W]") then
    out[#out + 1] = { a = 1, b = 5, cond = M.closed_cond() }
  end
end

---The conditions a piece of text states, each {a, b, cond}, in order.
---`always` is true when it says "every incident" or the like.
---@param s string lower-case, marks allowed
---@return table conds
---@return boolean always
function M.conds(s)
  local out = {}
  local always = find_any(s, ALWAYS_PATS) ~= nil
  if not always then
    phase_conds(s, out)
    always = #out == 0 and find_any(s, WEAK_ALWAYS_PATS) ~= nil
  end
  status_conds(s, out)
  tag_conds(s, out)
  event_conds(s, out)
  active_conds(s, out)
  table.sort(out, function(x, y) return x.a < y.a end)
  -- "closed" and "resolved" both hold "updated"-like words: keep the
  -- specific phase only.
  local specific = false
  for _, c in ipairs(out) do
    if c.cond.phase == "closed" or c.cond.phase == "resolved"
        or c.cond.event then
      specific = true
    end
  end
  local kept = {}
  for _, c in ipairs(out) do
    local redundant = specific and c.cond.phase == "update"
    if c.cond.phase == "resolved" then
      for _, d in ipairs(out) do
        if d.cond.source == "incident.status" and not d.cond.phase
            and d.cond.values[1] == "ok" then
          redundant = true
        end
      end
    end
    if c.cond.source == "incident.active" and c.cond.values[1] == false then
      for _, d in ipairs(out) do
        if d.cond.phase == "resolved" then redundant = true end
      end
    end
    if not redundant then kept[#kept + 1] = c end
  end
  return kept, always
end

---A Handlebars expression true when the condition holds, for #if; nil
---for conditions a template cannot test (tags).
---@param c table
function M.cond_expr(c)
  if c.tag then return nil end
  local vals = c.values
  local e
  if #vals == 1 and type(vals[1]) == "boolean" then
    e = vals[1] and c.source or ("(not " .. c.source .. ")")
  else
    local parts = {}
    for i, v in ipairs(vals) do
      parts[i] = format('(eq %s "%s")', c.source, tostring(v))
    end
    e = #parts == 1 and parts[1] or ("(or " .. table.concat(parts, " ") .. ")")
  end
  if c.negate then e = "(not " .. e .. ")" end
  return e
end

---Words for a condition, for explanations: `status is critical`.
---@param c table
function M.describe(c)
  if c.phase == "new" then return "the first share of an incident" end
  if c.phase == "update" then return "later shares (updates)" end
  if c.phase == "closed" then return "an incident#closed share" end
  if c.phase == "resolved" then return "a resolved incident (status ok)" end
  local vals = {}
  for i, v in ipairs(c.values) do vals[i] = tostring(v) end
  local what = c.tag and ("tag " .. c.tag) or c.source
  return format("%s %s %s", what, c.negate and "is not" or "is",
    table.concat(vals, " or "))
end

return M
