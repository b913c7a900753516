-- The builtin provider's reading of a prompt: clause by clause, it finds
-- the requests (URL, method, target), the IDs to save and the conditions,
-- with auth and body fields read by .auth and .fields; resolve completes
-- the plan. Nodes are moonwire.generate.build's to make.
-- SPDX-License-Identifier: MIT

local text = require("moonwire.generate.text")
local vocab = require("moonwire.generate.vocab")
local targets = require("moonwire.generate.targets")
local clause = require("moonwire.generate.clause")
local auth = require("moonwire.generate.auth")
local fields = require("moonwire.generate.fields")

local ipairs, pairs, tonumber, type = ipairs, pairs, tonumber, type
local find, match, sub, gsub, lower = string.find, string.match, string.sub,
  string.gsub, string.lower
local find_any = vocab.find_any

local M = {}

local consume, masked, warn = clause.consume, clause.masked, clause.warn
M.warn = warn
M.add_secret = auth.add_secret

---@class mw.gen.Step
---@field url string template
---@field method string|nil
---@field kind string target kind
---@field conds table conditions, all of which must hold
---@field fields table {name, value, additive} named in the prompt
---@field save table|nil {field} or {payload_field}
---@field on_error mw.gen.Step[]|nil

-- ---- saving the ID ----------------------------------------------------------

local SAVE_VERBS = { "save", "saves", "saving", "store", "stores", "storing",
  "remember", "remembers", "keep", "keeps", "keeping", "persist", "retain",
  "hang on to", "hold on to", "hold onto", "capture", "record", "link",
  "track" }
-- Verbs that are also nouns ("create a record") count only before an ID.
local NOUNISH = { record = true, link = true, track = true, capture = true }
local ID_WORDS = { "result%.sys_id", "sys_?id", "dedup_key", "dedup key",
  "requestid", "request id", "ticket%.id", "ticket id", "issue key",
  "ticket key", "number", "alias", "%f[%w]ts%f[%W]", "timestamp",
  "%f[%w]key%f[%W]", "%f[%w]id%f[%W]", "identifier", "external id" }

local function id_soon(low, b)
  local near = sub(low, b + 1, b + 40)
  for _, w in ipairs(ID_WORDS) do
    if find(near, w) then return true end
  end
  return find(near, "[%a_]%.[%a_]") ~= nil
end

local function save_verb(low)
  for _, v in ipairs(SAVE_VERBS) do
    local init = 1
    while true do
      local a, b = find(low, "%f[%w]" .. v .. "%f[%W]", init)
      if not a then break end
      local noun = NOUNISH[v] and find(sub(low, 1, a - 1), "%f[%w]an?%s+$")
      if not noun and (not NOUNISH[v] or id_soon(low, b)) then return a, b end
      init = b + 1
    end
  end
  local a, b = find(low, "as the external id")
  if not a then a, b = find(low, "becomes? the external id") end
  if a then return 1, 0 end
  return nil
end

-- The response field a save phrase names ("result.sys_id", "ts", "id").
local function save_field(c, from)
  local s = sub(c.text, from)
  local dotted = match(s, "%f[%w_]([%a_][%w_]*%.[%a_][%w_%.]*)")
  if dotted and not find(lower(dotted), "^e%.g") then
    dotted = gsub(dotted, "^response%.", "")
    dotted = gsub(dotted, "^body%.", "")
    return dotted, true
  end
  local low = lower(s)
  for _, p in ipairs({ "([%w_]+)%s+field", "field%s+['\"]?([%w_]+)",
    "([%w_]+)%s+property", "property%s+([%w_]+)" }) do
    local f = match(low, p)
    local skip = { the = 1, response = 1, of = 1, from = 1, a = 1, id = 0,
      returned = 1, json = 1, that = 1 }
    if f and skip[f] ~= 1 then return f, true end
  end
  for _, w in ipairs(ID_WORDS) do
    local a, b = find(low, w)
    if a then return sub(low, a, b), false end
  end
  return nil
end

local function scan_save(plan, c)
  local a, b = save_verb(c.work)
  if not a then return nil end
  local field, exact = save_field(c, a)
  if not field then return nil end
  local e = #c.work
  local stop = find(c.work, "%f[%w]and%s+[%a]+", b + 1)
  if stop and not find(sub(c.work, stop), "^and%s+use") then e = stop - 1 end
  consume(c, a, e)
  return { word = field, exact = exact, at = a }
end

-- ---- methods and targets ----------------------------------------------------

local METHODS = { "POST", "PUT", "PATCH", "DELETE", "GET", "HEAD" }

local function methods_in(s)
  local found = {}
  for _, m in ipairs(METHODS) do
    local init = 1
    while true do
      local a, b = find(s, "%f[%a]" .. m .. "[a-z]*%f[%A]", init)
      if not a then break end
      local word = sub(s, a, b)
      if word == m or find(word, "^" .. m .. "[sed]") or find(word, "ting$")
          or find(word, "ing$") then
        found[#found + 1] = { a = a, b = b, m = m }
      end
      init = b + 1
    end
  end
  table.sort(found, function(x, y) return x.a < y.a end)
  return found
end

local VERB_METHODS = {
  { "%f[%w]delete%f[%W]", "DELETE" }, { "%f[%w]remove%f[%W]", "DELETE" },
  { "%f[%w]patch%f[%W]", "PATCH" }, { "%f[%w]put request", "PUT" },
  { "%f[%w]get request", "GET" }, { "%f[%w]fetch%f[%W]", "GET" },
}

-- The method for the URL at [ua, ub]: the nearest method word before it
-- (after the previous URL), else the first after it, else a verb.
local function method_for(c, lo, ua, ub, hi)
  local pre = methods_in(sub(c.text, lo, ua - 1))
  if #pre > 0 then
    local m = pre[#pre]
    consume(c, lo + m.a - 1, lo + m.b - 1)
    return m.m
  end
  local post = methods_in(sub(c.text, ub + 1, hi))
  if #post > 0 then
    consume(c, ub + post[1].a, ub + post[1].b)
    return post[1].m
  end
  local low = sub(c.work, lo, ua - 1)
  for _, v in ipairs(VERB_METHODS) do
    if find(low, v[1]) then return v[2] end
  end
  return nil
end

-- ---- actions ----------------------------------------------------------------

local function url_template(doc, plan, n)
  local u = doc.urls[n]
  local unknown = {}
  local parts = vocab.text_parts(u.text, true, unknown)
  local out = {}
  for _, p in ipairs(parts) do
    if type(p) == "string" then
      out[#out + 1] = p
    elseif p.path then
      out[#out + 1] = "{{" .. p.path .. "}}"
    else
      out[#out + 1] = p.tpl
    end
  end
  for _, p in ipairs(unknown) do
    warn(plan, "The placeholder %s in %s was not understood; it is left as "
      .. "written.", p, u.text)
  end
  local url = table.concat(out)
  if u.relative then
    plan.needs_base = true
    url = "{{integration.base_url}}" .. url
  end
  return url, url:find("{{externalId}}", 1, true) ~= nil
end

local function is_token_url(doc, c, m)
  if not c.oauth and not find(c.low, "token") then return false end
  local u = lower(doc.urls[m.n].text)
  local before = sub(c.low, math.max(1, m.a - 30), m.a - 1)
  return find(u, "token") or find(u, "oauth") or find(before, "token%s+%a*%s*$")
    or find(before, "token%s+from%s*$") or find(before, "token%s+[%a%s]*at%s*$")
    or find(before, "oauth")
end

local function new_step(plan, c, url, kind)
  local step = { url = url, kind = kind, conds = {}, fields = {}, clause = c,
    unknown = {}, index = #plan.steps + 1 }
  plan.steps[#plan.steps + 1] = step
  return step
end

local DECLARE_VERBS = { "%f[%w]send", "%f[%w]post", "%f[%w]forward",
  "%f[%w]push", "%f[%w]notify", "%f[%w]create", "%f[%w]open", "%f[%w]call",
  "%f[%w]deliver", "%f[%w]relay", "%f[%w]hit", "%f[%w]put", "%f[%w]patch",
  "%f[%w]delete", "%f[%w]update", "%f[%w]trigger", "%f[%w]page",
  "%f[%w]escalate", "%f[%w]report", "%f[%w]submit", "%f[%w]raise" }

local function scan_actions(plan, doc, c)
  local marks = text.url_marks(c.text)
  local steps = {}
  for i, m in ipairs(marks) do
    local lo = i > 1 and marks[i - 1].b + 1 or 1
    local hi = marks[i + 1] and marks[i + 1].a - 1 or #c.text
    if is_token_url(doc, c, m) then
      auth.oauth_of(plan).token_url = url_template(doc, plan, m.n)
      c.oauth = true
      consume(c, m.a, m.b)
    else
      local url, has_ext = url_template(doc, plan, m.n)
      local kind = targets.detect(doc.urls[m.n].text, sub(c.low, lo, hi))
      url = targets.complete_url(kind, url, c.low)
      local step = new_step(plan, c, url, kind)
      step.at, step.at_end = m.a, m.b
      step.url_has_ext = has_ext
      step.method = method_for(c, lo, m.a, m.b, hi)
      -- "Tickets: <url>." names an endpoint that later clauses act on.
      step.maybe_declared = not step.method
        and not find_any(sub(c.low, lo, m.a - 1), DECLARE_VERBS)
      step.opts = fields.target_opts(c, lo, hi)
      step.raw_url = doc.urls[m.n].text
      for _, r in ipairs(fields.object_phrase(doc, c, lo, m.a)) do
        step.fields[#step.fields + 1] = { name = r.name, value = r.value,
          ref = not r.text and r or nil, additive = r.whole or r.text,
          object = true }
      end
      for _, r in ipairs(fields.include_phrases(c, lo, hi)) do
        step.fields[#step.fields + 1] = { name = r.name, value = r.value,
          ref = r, additive = true }
      end
      consume(c, m.a, m.b)
      local ra, rb = fields.region_after(c, m.b, hi)
      if ra then
        fields.parse_region(doc, masked(c, ra, rb), step.fields, step.unknown, false)
        consume(c, ra, rb)
      end
      steps[#steps + 1] = step
    end
  end
  return steps
end

-- An action with no URL of its own, for a phase: "post updates into the
-- same thread", "close the ticket when it resolves".
local IMPLIED = { "%f[%w]post%f[%W]", "%f[%w]send%f[%W]", "%f[%w]put%f[%W]",
  "%f[%w]patch%f[%W]", "%f[%w]update%f[%W]", "%f[%w]close%f[%W]",
  "%f[%w]resolve%f[%W]", "%f[%w]comment%f[%W]", "%f[%w]notify%f[%W]",
  "%f[%w]delete%f[%W]", "%f[%w]forward%f[%W]", "%f[%w]add a note",
  "%f[%w]reply%f[%W]", "%f[%w]sending%f[%W]", "%f[%w]posts?%f[%W]",
  "%f[%w]mark%f[%W]", "%f[%w]go%f[%W]", "%f[%w]goes%f[%W]",
  "%f[%w]sent%f[%W]", "%f[%w]thread%f[%W]", "%f[%w]call%f[%W]" }

local function scan_implied(plan, doc, c)
  local a, b = find_any(c.work, IMPLIED)
  if not a then return nil end
  local step = new_step(plan, c, nil, nil)
  step.implied = true
  step.opts = fields.target_opts(c, 1, #c.text)
  local m = methods_in(sub(c.text, a))
  step.method = m[1] and m[1].m
  local low = c.work
  if find(low, "%f[%w]delete%f[%W]") then step.method = step.method or "DELETE" end
  if find(low, "same thread") or find(low, "same endpoint")
      or find(low, "same url") or find(low, "same channel")
      or find(low, "there%f[%W]") then
    step.same_url = true
  end
  local cue
  for _, k in ipairs(fields.CUES) do
    local x = find(low, "%f[%w]" .. k .. "%f[%W]", a)
    if x and (not cue or x < cue) then cue = x end
  end
  if cue then
    fields.parse_region(doc, masked(c, cue, #c.text), step.fields, step.unknown, false)
    consume(c, cue, #c.text)
  end
  -- "Post the incident description when it's new": what the verb names.
  local obj = match(sub(c.work, b + 1), "^%s*(.-)%s+when%s")
    or match(sub(c.work, b + 1), "^%s*(.-)%s+if%s")
    or match(sub(c.work, b + 1), "^%s*(.-)%s+and%s")
  local r = obj and vocab.ref(obj)
  if r and not r.external then
    step.fields[#step.fields + 1] = { name = r.name, value = r.value, ref = r,
      additive = r.whole }
  end
  local q = match(c.work, "\3%d+\4", a)
  if q and #step.fields == 0 then
    step.fields[1] = { name = "text", value = vocab.value(doc, q), additive = true }
  end
  consume(c, a, b)
  return step
end

-- A well-known target named without a URL: "open a Jira issue".
local NAMED_VERBS = { "create", "open", "raise", "file", "post", "send",
  "notify", "page", "trigger", "alert", "forward", "message" }

local function scan_named(plan, c)
  local kind = targets.detect(nil, c.low)
  if kind == "webhook" or kind == "chat" then return nil end
  local verb = false
  for _, v in ipairs(NAMED_VERBS) do
    if find(c.work, "%f[%w]" .. v .. "%f[%W]") then verb = true end
  end
  if not verb then return nil end
  local url, setting = targets.default_url(kind)
  local step = new_step(plan, c, url, kind)
  step.opts = fields.target_opts(c, 1, #c.text)
  step.method = method_for(c, 1, #c.text + 1, #c.text, #c.text)
  local ra, rb = fields.region_after(c, 0, #c.text)
  if ra then
    fields.parse_region(plan.doc, masked(c, ra, rb), step.fields, step.unknown, false)
    consume(c, ra, rb)
  end
  if setting then
    plan.needs[setting] = true
    warn(plan, "No URL was named for %s; the draft uses the integration "
      .. "setting %s.", targets.TITLES[kind], setting)
  end
  return step
end

-- With several URLs in a clause, each condition belongs to the request
-- whose stretch of text holds it ("POST to A for new incidents, PUT to B on
-- updates"); conditions before the first URL belong to all of them.
local function per_step_conds(c)
  local steps = {}
  for _, st in ipairs(c.steps) do
    if st.at then steps[#steps + 1] = st end
  end
  if #steps < 2 or #c.conds == 0 then return nil end
  local ends = {}
  for i = 1, #steps - 1 do
    local lo, hi = steps[i].at_end + 1, steps[i + 1].at - 1
    -- The last separator between the two URLs splits their text.
    local cut
    for _, p in ipairs({ ",", ";", "%s+and%s", "%s+then%s", "%s+but%s" }) do
      local init = lo
      while true do
        local a = find(c.low, p, init)
        if not a or a > hi then break end
        if not cut or a > cut then cut = a end
        init = a + 1
      end
    end
    ends[i] = cut or hi
  end
  ends[#steps] = #c.low
  local out, head = {}, {}
  for _, st in ipairs(steps) do out[st] = {} end
  for _, k in ipairs(c.conds) do
    if k.a < steps[1].at then
      head[#head + 1] = k
    else
      for i, st in ipairs(steps) do
        if k.a <= ends[i] then
          local list = out[st]
          list[#list + 1] = k
          break
        end
      end
    end
  end
  local seen = {}
  for i, st in ipairs(steps) do
    local from = i > 1 and ends[i - 1] + 1 or st.at
    if find_any(sub(c.low, from, ends[i]), vocab.OTHERWISE_PATS) then
      -- "... and everything else to B": none of the conditions before.
      local list = {}
      for _, k in ipairs(seen) do
        local o = {}
        for key, v in pairs(k.cond) do o[key] = v end
        o.otherwise, o.phase = true, nil
        list[#list + 1] = { a = k.a, b = k.b, cond = o }
      end
      out[st] = list
    else
      for _, k in ipairs(head) do
        local clash = false
        for _, own in ipairs(out[st]) do
          clash = clash or own.cond.source == k.cond.source
        end
        if not clash then table.insert(out[st], 1, k) end
      end
      for _, k in ipairs(out[st]) do seen[#seen + 1] = k end
    end
  end
  return out
end

-- ---- per clause -------------------------------------------------------------

local UNSUPPORTED = {
  { "e%-?mail", "sending e-mail" }, { "%f[%w]sms%f[%W]", "SMS" },
  { "phone call", "phone calls" }, { "%f[%w]xml%f[%W]", "XML bodies" },
  { "%f[%w]soap%f[%W]", "SOAP" }, { "attachment", "attachments" },
  { "%f[%w]wait%s+%d", "waiting" }, { "%f[%w]delay", "delays" },
  { "schedul", "schedules" }, { "every %d+ minutes", "schedules" },
  { "%f[%w]poll", "polling" }, { "for each alert", "one request per alert" },
  { "per alert", "one request per alert" },
  { "hmac", "signing requests" }, { "sign the request", "signing requests" },
  { "certificate", "client certificates" }, { "mtls", "client certificates" },
  { "form%-encoded", "form-encoded bodies" }, { "form data", "form-encoded bodies" },
  { "throttl", "throttling" }, { "rate limit", "rate limits" },
  { "%f[%w]loop%f[%W]", "loops" }, { "graphql", "GraphQL" },
}

-- Words that carry no instruction of their own.
local STOP = {}
for w in ([[a an the and or to of in on at for with by from it its this that
  these those is are be been being was were will would should must can could
  i we you my our your me us integration workflow please want need create
  make build set up setup which when if then also just each every all any
  new as so do does into using use via please there their them they has have
  checks check whether incident incidents share shared shares one ones
  moonwire bigpanda endpoint send sent data request requests call calls
  here way like following below above after before same only]]):gmatch("%a+") do
  STOP[w] = true
end

local function leftover(c)
  local words = {}
  for w in c.work:gmatch("[%a][%a'%-]+") do
    if not STOP[lower(w)] and #w > 2 then words[#words + 1] = w end
  end
  return words
end

local function scan_misc(plan, c)
  local n = match(c.work, "retr[yies]+%s+u?p?%s*t?o?%s*(%d+)%s+times")
    or match(c.work, "(%d+)%s+retries") or match(c.work, "(%d+)%s+attempts")
  if n then
    c.retry = tonumber(n)
    local a, b = find(c.work, "retr[yies]+[^,;]-times")
    if a then consume(c, a, b) end
  end
  local t, unit = match(c.work, "timeout%s+o?f?%s*(%d+)%s*(%a*)")
  if not t then unit, t = nil, match(c.work, "within%s+(%d+)%s+seconds") end
  if t then
    c.timeout_ms = tonumber(t) * ((unit or "s"):find("^m") and 1 or 1000)
  end
  for _, u in ipairs(UNSUPPORTED) do
    -- c.work: an e-mail address read as a user name is no e-mail to send
    if find(u[1] == "e%-?mail" and c.work or c.low, u[1]) then
      c.unsupported = true
      warn(plan, "The builtin planner does not do %s (in %s); that part "
        .. "is left out of the draft.", u[2], text.quote(text.restore(plan.doc,
        c.text)))
    end
  end
end

local function analyse(plan, doc, c)
  c.work = c.low
  auth.scan_headers(plan, doc, c)
  if find(c.low, "password") or find(c.low, "basic[%s%-]?auth")
      or find(c.low, "credentials%s+[^%s:]+:") or auth.email_credentials(c.low) then
    auth.scan_basic(plan, doc, c)
  end
  auth.scan_oauth(plan, doc, c)
  auth.scan_keys(plan, doc, c)
  scan_misc(plan, c)
  local mapped = {}
  if fields.scan_mapping(doc, c, mapped) then c.mapped = mapped end
  c.steps = scan_actions(plan, doc, c)
  c.save = scan_save(plan, c)
  local later = false
  for _, k in ipairs(vocab.conds(c.work)) do
    local ph = k.cond.phase
    if ph == "update" or ph == "resolved" or ph == "closed" then later = true end
  end
  c.fail_at = find_any(c.work, vocab.FAIL_PATS)
  c.failure = c.fail_at ~= nil
  if #c.steps == 0 and not c.failure and not later then
    local named = scan_named(plan, c)
    if named then c.steps[1] = named end
  end
  c.conds, c.always = vocab.conds(c.work)
  c.step_conds = per_step_conds(c)
  if #c.steps == 1 and c.steps[1].maybe_declared and #c.conds == 0 then
    plan.declared = c.steps[1]
  end
  c.otherwise = find_any(c.work, vocab.OTHERWISE_PATS) ~= nil
  c.nothing = find_any(c.work, vocab.NOTHING_PATS) ~= nil
  c.only = find(c.work, "%f[%w]only%f[%W]") ~= nil
  c.event_words = find(c.low, "event[%s_]?type") ~= nil
    or find(c.low, "incident#") ~= nil
  local new_on_declared = false
  for _, k in ipairs(c.conds) do
    if k.cond.phase == "new" then new_on_declared = plan.declared ~= nil end
  end
  if #c.steps == 0 and not c.nothing and (later or new_on_declared)
      and not c.unsupported then
    local implied = scan_implied(plan, doc, c)
    if implied then c.steps[1] = implied end
  end
  if #c.steps == 0 and #c.conds == 0 and not c.save and not c.failure then
    fields.scan_fields_only(doc, c)
  end
end

-- ---- the plan ---------------------------------------------------------------

-- "POST to A, keep the id and reply in the thread on updates": the part
-- after the last URL that states a condition of its own is a clause.
local SPLIT_VERBS = { "reply", "post", "send", "put", "patch", "update",
  "close", "resolve", "comment", "notify", "delete", "add", "mark" }

-- True when the second part states a condition the first does not.
local function differs(before, after)
  if #after == 0 then return false end
  for _, x in ipairs(after) do
    local same = false
    for _, y in ipairs(before) do
      same = same or (x.cond.source == y.cond.source and x.cond.port == y.cond.port)
    end
    if not same then return true end
  end
  return false
end

local function split_trailing(clauses)
  local out = {}
  for _, c in ipairs(clauses) do
    local marks = text.url_marks(c.text)
    local cut
    if #marks > 0 then
      local after = marks[#marks].b
      for _, v in ipairs(SPLIT_VERBS) do
        local a, b = find(c.low, ",?%s+and%s+" .. v .. "%f[%W]", after)
        -- "trigger for active incidents and resolve when ...": a value
        -- under a condition, not a request.
        local value_like = b and find_any(sub(c.low, b + 1, b + 12), { "^%s+when%f[%W]",
            "^%s+if%f[%W]", "^%s+for%f[%W]", "^%s+otherwise", "^%s+else" })
        if a and not value_like and (not cut or a < cut) then
          if differs(vocab.conds(sub(c.low, 1, a - 1)), vocab.conds(sub(c.low, a))) then
            cut = a
          end
        end
      end
    end
    if cut then
      local rest = match(sub(c.text, cut), "^,?%s+and%s+(.*)$")
      out[#out + 1] = { text = sub(c.text, 1, cut - 1), low = sub(c.low, 1, cut - 1),
        sentence = c.sentence, first = c.first }
      out[#out + 1] = { text = rest, low = lower(rest), sentence = c.sentence,
        first = false }
    else
      out[#out + 1] = c
    end
  end
  return out
end

---Reads a prompt into a plan.
---@param prompt string
---@return table plan
function M.plan(prompt)
  local doc = text.read(prompt)
  doc.clauses = split_trailing(doc.clauses)
  local plan = { doc = doc, steps = {}, secrets = {}, warnings = {},
    notes = {}, headers = {}, gate = {}, needs = {} }
  for _, c in ipairs(doc.clauses) do
    analyse(plan, doc, c)
  end
  require("moonwire.generate.resolve").resolve(plan, doc)
  return plan
end

M.leftover = leftover
return M
