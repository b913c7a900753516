-- Second pass of the builtin planner: gives each request the conditions
-- it runs under (carried across clauses, "otherwise", "only"), turns "if
-- it fails" requests into error paths, infers the create side of a
-- create/update pair, and settles methods, URLs and the ID to save.
-- SPDX-License-Identifier: MIT

local text = require("moonwire.generate.text")
local vocab = require("moonwire.generate.vocab")
local targets = require("moonwire.generate.targets")

local ipairs, pairs, type = ipairs, pairs, type
local find = string.find
local concat = table.concat

local M = {}

local warn = require("moonwire.generate.clause").warn

local function same(a, b)
  if a.source ~= b.source or #a.values ~= #b.values then return false end
  for i, v in ipairs(a.values) do
    if b.values[i] ~= v then return false end
  end
  return (a.negate or false) == (b.negate or false)
end

local function add_cond(list, c)
  for _, d in ipairs(list) do
    if same(d, c) then return end
  end
  list[#list + 1] = c
end

local function copy(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  return out
end

-- The conditions of a clause; several values said for one variable
-- ("critical or warning") are one condition with several values.
local function cond_list(found)
  local out, by_source = {}, {}
  for _, f in ipairs(found) do
    local c = f.cond
    local prev = by_source[c.source]
    if prev and not prev.phase and not c.phase and (prev.negate or false)
        == (c.negate or false) then
      local have = false
      for _, v in ipairs(prev.values) do have = have or v == c.values[1] end
      if not have then
        local merged = {}
        for k, v in pairs(prev) do merged[k] = v end
        merged.values = copy(prev.values)
        merged.values[#merged.values + 1] = c.values[1]
        merged.port = prev.port .. "_or_" .. c.port
        for i, o in ipairs(out) do
          if o == prev then out[i] = merged end
        end
        by_source[c.source] = merged
      end
    else
      add_cond(out, c)
      by_source[c.source] = by_source[c.source] or c
    end
  end
  return out
end

---The phase a step runs in: new, update, resolved, closed, or nil.
---@param step table
function M.phase(step)
  for _, c in ipairs(step.all_conds or step.conds) do
    if c.phase then return c.phase end
  end
  return nil
end
local phase_of = M.phase

-- "Otherwise" means: none of the last conditions' values on their switch.
local function otherwise_of(conds)
  local out = {}
  for _, c in ipairs(conds) do
    if not c.otherwise then
      out[#out + 1] = { source = c.source, values = c.values, port = c.port,
        rank = c.rank, otherwise = true, tag = c.tag, phase = nil }
    end
  end
  return out
end

-- Adds fields to steps; an item the step could not read that names one
-- of these fields ("with the priority") is understood after all.
local function apply_fields(steps, fields)
  for _, s in ipairs(steps) do
    for _, f in ipairs(fields) do
      s.fields[#s.fields + 1] = f
      local kept = {}
      for _, u in ipairs(s.unknown or {}) do
        if text.snake(vocab.bare(u:lower())) ~= f.name then kept[#kept + 1] = u end
      end
      s.unknown = kept
    end
  end
end

local function understood(c)
  return (c.hits or 0) > 0 or #c.steps > 0 or #c.conds > 0 or c.always
    or c.otherwise or c.nothing or c.save or c.mapped or c.method_only
end

-- The conditions a clause's requests run under: its own, those carried
-- from a clause that only stated them, or the opposite of the last ones
-- ("otherwise"), kept with its own conditions on other variables.
local function clause_conds(plan, st, c)
  local conds = cond_list(c.conds)
  if #conds == 0 and st.pending and #c.steps > 0 then conds = st.pending end
  if not c.otherwise then return conds end
  local own = {}
  for _, k in ipairs(conds) do
    local clash = false
    for _, l in ipairs(st.last_conds) do clash = clash or l.source == k.source end
    if not clash then own[#own + 1] = k end
  end
  conds = otherwise_of(st.last_conds)
  for _, k in ipairs(own) do conds[#conds + 1] = k end
  if c.nothing then
    for _, o in ipairs(conds) do plan.nothing[o.source] = true end
  end
  return conds
end

-- "Only critical incidents" gates every request; "ignore ok incidents"
-- gates with the opposite. Returns true for a clause that only ignores.
local function gates(plan, st, c)
  if c.only and #c.conds > 0 then
    for _, k in ipairs(cond_list(c.conds)) do add_cond(plan.gate, k) end
  end
  if not (c.nothing and not c.otherwise and #c.steps == 0 and #c.conds > 0) then
    return false
  end
  for _, k in ipairs(cond_list(c.conds)) do
    local neg = {}
    for key, v in pairs(k) do neg[key] = v end
    neg.negate, neg.phase = true, nil
    add_cond(plan.gate, neg)
  end
  st.last_conds = cond_list(c.conds)
  return true
end

-- The save phrase goes to the request whose URL comes before it, else to
-- the last request, else to the next one.
local function attach_save(st, c)
  if not c.save then return end
  local target
  for _, r in ipairs(c.steps) do
    if not r.implied and (not target or (r.at and r.at < c.save.at)) then
      target = r
    end
  end
  target = target or st.last
  if target then
    target.save_word = c.save
  else
    st.pending_save = c.save
  end
end

-- "If it fails, POST to B" makes B an error path of the last request;
-- "if creating the ticket at A fails, POST to B" of A. True when done.
local function attach_handlers(st, c, conds)
  if not c.failure then return false end
  local primary = #c.steps >= 2 and c.steps[1]
  if primary and c.fail_at and c.fail_at < (c.steps[2].at or 0) then
    primary.conds = copy(conds)
    st.last = primary
    table.remove(c.steps, 1)
  end
  if #c.steps > 0 and st.last then
    st.last.on_error = st.last.on_error or {}
    for _, s in ipairs(c.steps) do
      s.handler, s.conds = true, {}
      st.last.on_error[#st.last.on_error + 1] = s
    end
    return true
  end
  if st.last and c.nothing then
    st.last.ignore_errors = true
    return true
  end
  return false
end

local function take_steps(st, c, conds)
  for _, s in ipairs(c.steps) do
    local own = c.step_conds and c.step_conds[s]
    s.conds = own and cond_list(own) or copy(conds)
    s.explicit_always = c.always
    if st.pending_save and not s.implied then
      s.save_word, st.pending_save = st.pending_save, nil
    end
    if st.pending_fields then
      apply_fields({ s }, st.pending_fields)
      st.pending_fields = nil
    end
    st.last = s
  end
end

-- Headers, retries, a method or fields said in a clause of their own go
-- to the clause's requests, else to every request or the last one.
local function attach_extras(plan, st, c)
  local steps = #c.steps > 0 and c.steps or nil
  if c.headers then
    if steps then
      for _, s in ipairs(steps) do s.headers = c.headers end
    else
      for _, h in ipairs(c.headers) do plan.headers[#plan.headers + 1] = h end
    end
  end
  if c.retry or c.timeout_ms then
    for _, s in ipairs(steps or { st.last }) do
      s.retry, s.timeout_ms = c.retry or s.retry, c.timeout_ms or s.timeout_ms
    end
  end
  if c.method_only and st.last then st.last.method = c.method_only end
  if not c.mapped then return end
  if steps then
    apply_fields(steps, c.mapped)
  elseif find(c.low, "all requests") or find(c.low, "every request")
      or find(c.low, "both") then
    apply_fields(plan.steps, c.mapped)
  elseif st.last then
    apply_fields({ st.last }, c.mapped)
  else
    st.pending_fields = c.mapped
  end
end

local function check_understood(plan, doc, c)
  if understood(c) then return end
  if #require("moonwire.generate.planner").leftover(c) >= 2 then
    warn(plan, "Not understood, so left out: %s.",
      text.quote(text.restore(doc, c.text), 90))
  end
end

-- Clause by clause: conditions, handlers, saves, headers.
local function walk(plan, doc)
  local st = { last_conds = {} }
  for _, c in ipairs(doc.clauses) do
    local conds = clause_conds(plan, st, c)
    if not gates(plan, st, c) then
      attach_save(st, c)
      if not attach_handlers(st, c, conds) then take_steps(st, c, conds) end
      attach_extras(plan, st, c)
      if #c.conds > 0 and #c.steps == 0 and not c.save then
        st.pending = conds
      elseif #c.steps > 0 then
        st.pending = nil
      end
      if #conds > 0 and not c.failure then st.last_conds = conds end
      check_understood(plan, doc, c)
    end
    if c.event_words then plan.event_mode = true end
  end
end

local LATER = { update = true, resolved = true, closed = true }

-- Unconditioned requests in a prompt with update-side requests are the
-- create side: "Create a ServiceNow incident ... Updates should PATCH ...".
local function infer_create(plan)
  local later = false
  for _, s in ipairs(plan.steps) do
    if not s.handler and LATER[phase_of(s) or ""] then later = true end
  end
  if not later then return end
  local specific = {}
  for _, s in ipairs(plan.steps) do
    for _, c in ipairs(s.conds) do
      if c.phase == "resolved" or c.phase == "closed" then specific[#specific + 1] = c end
    end
  end
  for _, s in ipairs(plan.steps) do
    if s.kind == "pagerduty" and #s.conds == 0 and not s.handler then
      -- Events dedupe on dedup_key: trigger on every share except those
      -- that resolve.
      for _, o in ipairs(otherwise_of(specific)) do add_cond(s.conds, o) end
    elseif not s.handler and #s.conds == 0 and not s.explicit_always then
      s.conds[1] = vocab.new_cond()
    elseif not s.handler and not phase_of(s) and not s.explicit_always then
      local attr_only = true
      for _, c in ipairs(s.conds) do
        if c.otherwise then attr_only = false end
      end
      if attr_only and not s.implied then s.conds[#s.conds + 1] = vocab.new_cond() end
    end
  end
end

-- Phases as event types, when the prompt speaks of event types.
local function event_mode(plan)
  if not plan.event_mode then return end
  local map = { new = "incident#new", update = "incident#updated" }
  for _, s in ipairs(plan.steps) do
    for i, c in ipairs(s.conds) do
      if map[c.phase or ""] and c.source == "metadata.firstTime" then
        s.conds[i] = { source = "metadata.event_type", values = { map[c.phase] },
          port = c.port, rank = 2, phase = c.phase, otherwise = c.otherwise }
      end
    end
  end
end

local function apply_gate(plan)
  for _, s in ipairs(plan.steps) do
    if not s.handler then
      for _, g in ipairs(plan.gate) do
        local have = false
        for _, c in ipairs(s.conds) do
          if c.source == g.source then have = true end
        end
        if not have then s.conds[#s.conds + 1] = g end
      end
    end
  end
end

-- "Tickets: <url>. Create on new incidents (POST, save id)": the create
-- action is the declared endpoint's request, not a second one.
local function adopt_declared(plan, s)
  local d = plan.declared
  if not d or d.adopted or phase_of(s) ~= "new" or #d.conds > 0 then
    return false
  end
  d.adopted, s.dropped = true, true
  d.conds, d.method = s.conds, s.method or d.method
  d.save_word = d.save_word or s.save_word
  for _, f in ipairs(s.fields) do d.fields[#d.fields + 1] = f end
  return true
end

-- The request a step with no URL of its own makes, from the create side.
local function resolve_implied(plan, s)
  local create
  for _, o in ipairs(plan.steps) do
    if o ~= s and not o.implied and o.url and (phase_of(o) == "new" or not create) then
      create = o
    end
  end
  if not create then
    local kind = targets.detect(nil, s.clause.low)
    s.kind = kind
    local url, setting = targets.default_url(kind)
    s.url = url
    if setting then
      warn(plan, "No URL was given for %s; set the integration setting %s.",
        text.quote(text.restore(plan.doc, s.clause.text), 60), setting)
      plan.needs[setting] = true
    end
    return
  end
  s.kind = create.kind
  s.opts = s.opts or {}
  for k, v in pairs(create.opts or {}) do
    if s.opts[k] == nil then s.opts[k] = v end
  end
  local phase = phase_of(s) or "update"
  local req = targets.update_request(s.kind, create, phase)
  if s.same_url then
    local prev = create
    for _, o in ipairs(plan.all_steps) do
      if o == s then break end
      if o.url and not o.handler then prev = o end
    end
    req.url = prev.url
    req.method = prev == create and "POST" or prev.method
  end
  if s.kind == "webhook" and s.method == nil and not s.same_url then
    req.method = "PUT"
  end
  s.url = req.url
  s.method = s.method or req.method
  s.url_has_ext = find(s.url, "{{externalId}}", 1, true) ~= nil
  plan.notes[#plan.notes + 1] = "The " .. phase .. " request " .. (req.how
    or "goes to " .. s.url) .. " (no URL was named for it)."
end

local function default_method(s)
  local phase = phase_of(s)
  if not LATER[phase or ""] then return "POST" end
  if s.url_has_ext then
    if s.kind == "servicenow" then return "PATCH" end
    if s.kind == "jira" then
      return find(s.url, "/comment") and "POST" or "PUT"
    end
    if s.kind == "opsgenie" or s.kind == "slack" then return "POST" end
    return "PUT"
  end
  return "POST"
end

local function resolve_save(plan, s)
  local w = s.save_word
  if not w then return end
  local creates = not LATER[phase_of(s) or ""] and s.method ~= "DELETE"
    and s.method ~= "GET"
  if s.kind == "opsgenie" and creates and (find(w.word, "alias") or not w.exact) then
    -- Opsgenie answers with a request id only: the alias we sent is the ID.
    s.save = { payload_field = "alias" }
    return
  end
  if w.exact then
    s.save = { field = w.word }
  else
    s.save = { field = targets.id_field(s.kind, w.word) }
  end
end

-- Whether a step needs the saved ID: named in its URL or fields, or an
-- update of a target whose records are addressed by it.
local BY_ID = { servicenow = true, zendesk = true, jira = true, opsgenie = true,
  slack = true }

local function uses_external(s)
  if s.url_has_ext then return true end
  for _, f in ipairs(s.fields) do
    if f.ref and f.ref.external then return true end
  end
  return LATER[phase_of(s) or ""] and BY_ID[s.kind] or false
end

local function auto_save(plan)
  local saves, needs, create = false, false, nil
  for _, s in ipairs(plan.steps) do
    if s.save then saves = true end
    if not s.handler and LATER[phase_of(s) or ""] and uses_external(s) then
      needs = true
    end
    if not s.handler and phase_of(s) == "new" and not create then create = s end
  end
  if saves or not needs then return end
  if create then
    create.save_word = { word = "id", exact = false }
    resolve_save(plan, create)
    plan.notes[#plan.notes + 1] = "The create request's response ID ("
      .. (create.save.field or create.save.payload_field) .. ") is saved so "
      .. "that updates can name the record; say where the ID is if it is "
      .. "elsewhere."
  else
    warn(plan, "Updates name the external record, but no request creates it "
      .. "and saves its ID: {{externalId}} stays empty until one does.")
  end
end

local function resolve_oauth(plan)
  local o = plan.oauth
  if not o then return end
  if plan.oauth_post then o.auth_method = "post" end
  if not o.token_url then
    o.token_url = "{{integration.token_url}}"
    plan.needs.token_url = true
    warn(plan, "OAuth was asked for, but no token URL was named: set the "
      .. "integration setting token_url.")
  end
  if not o.client_id then
    o.client_id = "{{integration.client_id}}"
    plan.needs.client_id = true
    warn(plan, "No OAuth client id was named: set the integration setting "
      .. "client_id.")
  end
  if not o.secret then
    o.secret = "client_secret"
    plan.needs.client_secret = true
    warn(plan, "No OAuth client secret was named: set the secret integration "
      .. "setting client_secret.")
  end
end

-- Hosted Slack, Opsgenie and PagerDuty always need a credential; when the
-- prompt names none, the draft reads a setting and says so.
local function target_auth(plan)
  for _, s in ipairs(plan.all_steps) do
    local url = s.url or ""
    if s.kind == "pagerduty" and not plan.routing_key then
      plan.needs.routing_key = true
      warn(plan, "PagerDuty events need a routing key: set the secret "
        .. "integration setting routing_key.")
    elseif not (plan.api_key or plan.oauth or plan.basic) then
      local setting = (s.kind == "slack" and find(url, "slack%.com") and "slack_token")
        or (s.kind == "opsgenie" and find(url, "opsgenie%.com") and "api_key")
      if setting then
        plan.api_key, plan.api_key_for = setting, s.kind
        plan.needs[setting] = true
        warn(plan, "%s needs an API credential: set the secret integration "
          .. "setting %s.", targets.TITLES[s.kind], setting)
      end
    end
  end
end

-- A field named like a credential with a literal value ("secret_key
-- XYZ") keeps the value as a secret setting.
local function secret_fields(plan)
  local auth = require("moonwire.generate.auth")
  for _, s in ipairs(plan.all_steps) do
    for _, f in ipairs(s.fields) do
      local v = f.value
      if v and v.t == "lit" and type(v.v) == "string" and auth.secret_name(f.name) then
        local name = auth.add_secret(plan, f.name, v.v, "value of " .. f.name)
        if name then f.value = vocab.textv({ { path = "integration." .. name } }) end
      end
    end
  end
end

local function fallback_step(plan)
  local url = "{{integration.webhook_url}}"
  local step = { url = url, kind = "webhook", conds = {}, fields = {},
    unknown = {}, method = "POST", fallback = true, opts = {} }
  plan.steps[1], plan.all_steps[#plan.all_steps + 1] = step, step
  plan.needs.webhook_url = true
  warn(plan, "No request to make was found in the prompt. This partial draft "
    .. "POSTs each incident to the integration setting webhook_url; edit it, "
    .. "or name a URL and what to send.")
end

---Completes a plan read clause by clause (see planner.plan).
---@param plan table
---@param doc table
function M.resolve(plan, doc)
  plan.nothing, plan.needs = {}, plan.needs or {}
  walk(plan, doc)
  for _, s in ipairs(plan.steps) do
    if s.implied then adopt_declared(plan, s) end
  end
  local all, top = {}, {}
  for _, s in ipairs(plan.steps) do
    if not s.dropped then
      all[#all + 1] = s
      if not s.handler then top[#top + 1] = s end
    end
  end
  plan.all_steps, plan.steps = all, top
  infer_create(plan)
  event_mode(plan)
  apply_gate(plan)
  for _, s in ipairs(plan.all_steps) do
    if s.implied then resolve_implied(plan, s) end
  end
  for _, s in ipairs(plan.all_steps) do
    s.method = s.method or default_method(s)
    resolve_save(plan, s)
    for _, u in ipairs(s.unknown or {}) do
      warn(plan, "Not understood as a body field, so left out: %s.",
        text.quote(text.restore(doc, u)))
    end
  end
  auto_save(plan)
  secret_fields(plan)
  resolve_oauth(plan)
  target_auth(plan)
  if plan.needs_base then plan.needs.base_url = true end
  if #plan.steps == 0 then fallback_step(plan) end
  local kinds = {}
  for _, s in ipairs(plan.all_steps) do kinds[#kinds + 1] = s.kind end
  plan.kinds = concat(kinds, ",")
end

return M
