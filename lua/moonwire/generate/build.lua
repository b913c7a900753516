-- Turns the builtin planner's plan into a workflow document: a decision
-- tree of flow_control nodes over the requests' conditions, and for each
-- request its transform, http_request and save_id nodes, with an OAuth
-- node before the first call of each path. Validation is the caller's.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local vocab = require("moonwire.generate.vocab")
local targets = require("moonwire.generate.targets")
local resolve = require("moonwire.generate.resolve")

local ipairs, pairs, type, tostring = ipairs, pairs, type, tostring
local find, gsub, format, rep = string.find, string.gsub, string.format,
  string.rep
local concat = table.concat

local M = {}

-- ---- templates from value trees ---------------------------------------------

local function text_body(parts)
  local out = {}
  for _, p in ipairs(parts) do
    if type(p) == "string" then
      out[#out + 1] = gsub(json.escape(p), "{{", "\\{{")
    elseif p.path then
      out[#out + 1] = "{{" .. p.path .. "}}"
    else
      out[#out + 1] = p.tpl
    end
  end
  return concat(out)
end

local emit

local function emit_obj(v, depth)
  if #v.fields == 0 then return "{}" end
  local pad = rep("  ", depth + 1)
  local lines = {}
  for _, f in ipairs(v.fields) do
    lines[#lines + 1] = pad .. json.encode(f[1]) .. ": " .. emit(f[2], depth + 1)
  end
  return "{\n" .. concat(lines, ",\n") .. "\n" .. rep("  ", depth) .. "}"
end

function emit(v, depth)
  depth = depth or 0
  if v.t == "path" then return "{{" .. v.path .. "}}" end
  if v.t == "lit" then return json.encode(v.v) end
  if v.t == "tpl" then return v.s end
  if v.t == "text" then return '"' .. text_body(v.parts) .. '"' end
  if v.t == "list" then
    local items = {}
    for i, x in ipairs(v.items) do items[i] = emit(x, depth + 1) end
    return "[" .. concat(items, ", ") .. "]"
  end
  return emit_obj(v, depth)
end

-- Sets keys (a path of names) in an object tree to value.
local function put(tree, keys, value)
  local node = tree
  for i, k in ipairs(keys) do
    local found
    for _, f in ipairs(node.fields) do
      if f[1] == k then found = f end
    end
    if i == #keys then
      if found then found[2] = value else node.fields[#node.fields + 1] = { k, value } end
      return
    end
    if not found or found[2].t ~= "obj" then
      local child = { t = "obj", fields = {} }
      if found then found[2] = child else node.fields[#node.fields + 1] = { k, child } end
      found = { k, child }
    end
    node = found[2]
  end
end

local TEXT_NAMES = { text = true, message = true }

-- Chat targets read the incident data named in the prompt as message text.
local function chat_text(step, fields)
  local parts = { "Incident ", { path = "incident.id" } }
  local n = 0
  for _, f in ipairs(fields) do
    if f.ref and not f.ref.external and f.ref.name ~= "incident_id"
        and not f.ref.whole then
      n = n + 1
      parts[#parts + 1] = n == 1 and ": " or ", "
      parts[#parts + 1] = gsub(f.ref.name, "_", " ") .. " "
      local v = f.value
      if v.t == "path" then
        parts[#parts + 1] = { path = v.path }
      elseif v.t == "text" then
        for _, p in ipairs(v.parts) do parts[#parts + 1] = p end
      else
        parts[#parts + 1] = { tpl = "{{json " .. (f.ref.path or "incident") .. "}}" }
      end
    end
  end
  if n == 0 then return nil end
  return vocab.textv(parts)
end

local ROLE = { new = "create", update = "update", resolved = "resolved",
  closed = "closed" }

local function failure_body(step, failed)
  local what = failed and format("%s %s failed", failed.method, failed.url)
    or "The request failed"
  local said
  for _, f in ipairs(step.fields) do
    if TEXT_NAMES[f.name] and f.value and f.value.t == "text" then said = f.value end
    if TEXT_NAMES[f.name] and f.value and f.value.t == "lit"
        and type(f.value.v) == "string" then
      said = vocab.textv({ f.value.v })
    end
  end
  if step.kind == "chat" or step.kind == "slack" then
    return targets.body(step.kind, "always", { channel = step.opts.channel,
      text = said or vocab.textv({ what .. ": incident ", { path = "incident.id" },
        " (", { path = "incident.status" }, ")" }) })
  end
  local fields = {
    { "incident_id", vocab.path("incident.id") },
    { "status", vocab.path("incident.status") },
    { "severity", vocab.path("incident.severity") },
    { "error", vocab.lit(what) },
    { "response_status", failed and vocab.path(failed.output .. "Status")
      or vocab.lit(json.null) },
  }
  if said then fields[#fields + 1] = { "message", said } end
  return { t = "obj", fields = fields }
end

---The body of a step's request as a value tree, or nil for none.
---@param plan table
---@param step table
function M.body(plan, step)
  if step.method == "DELETE" or step.method == "GET" or step.method == "HEAD" then
    if #step.fields == 0 then return nil end
  end
  if step.handler then return failure_body(step, step.failed) end
  local phase = ROLE[resolve.phase(step) or ""] or "always"
  local explicit = false
  for _, f in ipairs(step.fields) do
    if not f.additive then explicit = true end
  end
  local opts = { channel = step.opts and step.opts.channel,
    project = step.opts and step.opts.project,
    issuetype = step.opts and step.opts.issuetype,
    transition = step.opts and step.opts.transition, explicit = explicit }
  local chat = step.kind == "chat" or step.kind == "slack"
  if chat then opts.text = chat_text(step, step.fields) end
  local tree = targets.body(step.kind, phase, opts, step.url)
  if plan.routing_key and step.kind == "pagerduty" then
    put(tree, { "routing_key" }, vocab.textv({ { path = "integration."
      .. plan.routing_key } }))
  end
  for _, f in ipairs(step.fields) do
    local skip = chat and f.ref and not TEXT_NAMES[f.name] and f.name ~= "channel"
    if f.ref and f.ref.whole and step.kind ~= "webhook" then skip = true end
    if not skip and f.map then
      f.value = targets.mapping(f.map.source, f.map.pairs, f.map.default,
        step.kind == "servicenow")
    elseif not skip and f.value == nil and f.mapping then
      f.value = targets.default_mapping(step.kind, f.name)
    end
    if not skip and f.value then
      local name = f.name
      if chat and name == "message" then name = "text" end
      local value = targets.adapt(step.kind, name, f.value)
      put(tree, targets.place(step.kind, name, phase, step.url), value)
    end
  end
  return tree
end

-- ---- nodes ------------------------------------------------------------------

local function new_builder(plan)
  return { plan = plan, nodes = json.array({}),
    conns = json.array({}), ids = {}, outputs = {}, explain = {},
    oauth_nodes = 0 }
end

local function unique(set, base)
  local id, n = base, 1
  while set[id] do
    n = n + 1
    id = base .. "_" .. n
  end
  set[id] = true
  return id
end

local function add_node(b, ty, base, label, config)
  local id = unique(b.ids, base)
  b.nodes[#b.nodes + 1] = { id = id, type = ty, label = label, config = config }
  return id
end

local function connect(b, from, port, to)
  b.conns[#b.conns + 1] = { from = from, port = port, to = to }
end

local function connect_all(b, exits, to)
  for _, e in ipairs(exits) do connect(b, e[1], e[2], to) end
end

local NAMES = {
  new = { "create", "Create" }, update = { "update", "Update" },
  resolved = { "resolve", "Resolve" }, closed = { "close", "Close" },
}

local function step_names(step)
  if step.handler then return "failure", "Report the failure" end
  local ph = NAMES[resolve.phase(step) or ""]
  if ph then return ph[1], ph[2] end
  return "send", "Send"
end

local function headers_for(b, step)
  local plan = b.plan
  local h = {}
  h["Content-Type"] = step.kind == "slack" and "application/json; charset=utf-8"
    or "application/json"
  h["Accept"] = "application/json"
  if plan.oauth and step.kind ~= "pagerduty" then
    h["Authorization"] = "Bearer {{token.access_token}}"
  end
  if plan.basic then
    h["Authorization"] = "{{integration." .. plan.basic.setting .. "}}"
  end
  if plan.api_key and step.kind ~= "pagerduty"
      and (not plan.api_key_for or plan.api_key_for == step.kind) then
    local name = plan.api_key_header
    if name then
      h[name] = "{{integration." .. plan.api_key .. "}}"
    else
      local ah = targets.auth_header(step.kind, plan.api_key)
      if step.kind == "webhook" and not plan.bearer then
        ah = { "X-API-Key", "{{integration." .. plan.api_key .. "}}" }
      end
      if ah then h[ah[1]] = ah[2] end
    end
  end
  for _, x in ipairs(plan.headers) do h[x[1]] = x[2] end
  for _, x in ipairs(step.headers or {}) do h[x[1]] = x[2] end
  return h
end

local function emit_oauth(b)
  local o = b.plan.oauth
  local config = {
    token_url = o.token_url,
    client_id = o.client_id,
    client_secret = "{{integration." .. o.secret .. "}}",
    output = "token",
  }
  if o.scope then config.scope = o.scope end
  if o.auth_method then config.auth_method = o.auth_method end
  if o.audience then config.extra = { audience = o.audience } end
  b.oauth_nodes = b.oauth_nodes + 1
  local id = add_node(b, "oauth", "get_token", "Get an OAuth token", config)
  b.explain[#b.explain + 1] = format("%s: gets a client-credentials token from "
    .. "%s (client %s%s).", id, o.token_url, o.client_id,
    o.scope and (", scope " .. o.scope) or "")
  return id
end

local emit_seq

local function output_name(b, base)
  local name = unique(b.outputs, base .. "Response")
  return name, (gsub(name, "Response", "Payload", 1))
end

-- One request: [oauth] -> [transform] -> http_request -> [save_id]; the
-- error port leads to the step's failure handlers when there are any.
local function emit_step(b, step, have_token)
  local chain = {}
  if b.plan.oauth and not have_token then chain[1] = emit_oauth(b) end
  local short, verb = step_names(step)
  local title = targets.TITLES[step.kind] or step.kind
  local out, payload = output_name(b, short)
  step.output = out
  local body = M.body(b.plan, step)
  if body then
    chain[#chain + 1] = add_node(b, "transform", "build_" .. short,
      format("Build the %s payload", short),
      { template = emit(body), output = payload })
  end
  local config = { method = step.method, url = step.url,
    headers = headers_for(b, step), output = out }
  if body then config.body = "{{" .. payload .. "}}" end
  if step.retry then config.retry = { attempts = step.retry } end
  if step.timeout_ms then config.timeout_ms = step.timeout_ms end
  local http_id = add_node(b, "http_request", short,
    format("%s: %s %s", verb, step.method, title), config)
  chain[#chain + 1] = http_id
  b.explain[#b.explain + 1] = format("%s: %s %s (%s)%s.", http_id, step.method,
    step.url, title, step.handler and ", when the request before it fails" or "")
  if step.save then
    local path = step.save.field and (out .. "." .. step.save.field)
      or (payload .. "." .. step.save.payload_field)
    local save_id = add_node(b, "save_id", "save", "Save the external ID",
      { external_id = path, unlock = true })
    chain[#chain + 1] = save_id
    b.explain[#b.explain + 1] = format("%s: links %s to the incident as its "
      .. "external ID.", save_id, path)
  end
  for i = 2, #chain do connect(b, chain[i - 1], "next", chain[i]) end
  local exits = { { chain[#chain], "next" } }
  if step.ignore_errors then
    -- "If it fails, ignore it": the failure is noted, the execution goes on.
    local note = add_node(b, "transform", "note_failure", "Note the failure",
      { template = '{"failed": true, "status": {{' .. out .. 'Status}}}',
        output = out .. "Failure" })
    connect(b, http_id, "error", note)
    exits[#exits + 1] = { note, "next" }
  end
  if step.on_error and #step.on_error > 0 then
    for _, h in ipairs(step.on_error) do
      h.failed = { method = step.method, url = step.raw_url or step.url,
        output = out }
    end
    local e_entry, e_exits = emit_seq(b, step.on_error, true)
    connect(b, http_id, "error", e_entry)
    for _, e in ipairs(e_exits) do exits[#exits + 1] = e end
  end
  return chain[1], exits
end

function emit_seq(b, steps, have_token)
  local entry, exits
  for _, s in ipairs(steps) do
    local e, x = emit_step(b, s, have_token)
    have_token = have_token or b.plan.oauth ~= nil
    if exits then connect_all(b, exits, e) else entry = e end
    exits = x
  end
  return entry, exits or {}, have_token
end

-- ---- the decision tree ------------------------------------------------------

local function cond_on(step, source)
  for _, c in ipairs(step.conds) do
    if c.source == source then return c end
  end
  return nil
end

local function without(step, c)
  local copy = {}
  for k, v in pairs(step) do copy[k] = v end
  copy.conds = {}
  for _, d in ipairs(step.conds) do
    if d ~= c then copy.conds[#copy.conds + 1] = d end
  end
  copy.all_conds = step.all_conds or step.conds
  return copy
end

local function has_phase(step)
  for _, c in ipairs(step.all_conds or step.conds) do
    if c.phase then return true end
  end
  return false
end

local function choose_dim(steps)
  local best
  for _, s in ipairs(steps) do
    for _, c in ipairs(s.conds) do
      if not best or (c.rank or 5) < (best.rank or 5) then best = c end
    end
  end
  return best
end

local function port_name(c)
  local p = gsub(tostring(c.port or "match"), "[^%w_]", "_")
  if not find(p, "^[%a_]") then p = "v_" .. p end
  if p == "default" then p = "is_default" end
  return p
end

local emit_tree

local function route_key(c)
  local vals = {}
  for i, v in ipairs(c.values) do vals[i] = tostring(v) end
  return concat(vals, "\0")
end

-- Splits steps by their condition on the chosen switch. A step with no
-- condition on it runs on every route, except that steps of another phase
-- stay off the routes of a specific phase (closed, resolved): those win.
-- Values only excluded ("otherwise", "not ok") get a route left unwired.
local function split(steps, dim)
  local routes, by_key, default = {}, {}, {}
  local function route_for(c, wired)
    local key = route_key(c)
    local r = by_key[key]
    if not r then
      r = { cond = c, steps = {}, wired = wired }
      by_key[key] = r
      routes[#routes + 1] = r
    elseif wired and not r.wired then
      r.cond, r.wired = c, true
    end
    return r
  end
  for _, s in ipairs(steps) do
    local c = cond_on(s, dim.source)
    if c and not c.otherwise and not c.negate then route_for(c, true) end
  end
  for _, s in ipairs(steps) do
    local c = cond_on(s, dim.source)
    if c and (c.otherwise or c.negate) then route_for(c, false) end
  end
  local specific = dim.phase == "closed" or dim.phase == "resolved" or dim.event
  for _, s in ipairs(steps) do
    local c = cond_on(s, dim.source)
    if not c then
      if not (specific and has_phase(s)) then
        for _, r in ipairs(routes) do
          if r.wired then r.steps[#r.steps + 1] = s end
        end
      end
      default[#default + 1] = s
    elseif c.otherwise or c.negate then
      default[#default + 1] = without(s, c)
    else
      local r = by_key[route_key(c)]
      r.steps[#r.steps + 1] = without(s, c)
    end
  end
  return routes, default
end

local function flow_config(dim, routes)
  local rs, used = json.array({}), {}
  for _, r in ipairs(routes) do
    local port = port_name(r.cond)
    local base, n = port, 1
    while used[port] do
      n = n + 1
      port = base .. "_" .. n
    end
    used[port] = true
    r.port = r.wired and port or ("skip_" .. port)
    local route = { port = r.port }
    if #r.cond.values == 1 then
      route.value = r.cond.values[1]
    else
      route.values = json.array(r.cond.values)
    end
    rs[#rs + 1] = route
  end
  return { source = dim.source, routes = rs }
end

local function switch_label(dim)
  if dim.source == "metadata.firstTime" then return "New or update?" end
  if dim.tag then return "Tag " .. dim.tag .. "?" end
  local last = dim.source:match("([%w_]+)$") or dim.source
  return "Which " .. gsub(last, "_", " ") .. "?"
end

-- True when the routes cover every value the source can take (both
-- values of metadata.firstTime), so the default port is never taken.
local function total(dim, routes)
  if dim.source ~= "metadata.firstTime" then return false end
  local seen = {}
  for _, r in ipairs(routes) do
    for _, v in ipairs(r.cond.values) do seen[tostring(v)] = true end
  end
  return seen["true"] and seen["false"] or false
end

-- A flow_control over dim, each route leading to its own subtree.
local function emit_switch(b, steps, dim, have_token)
  local routes, default = split(steps, dim)
  local entry
  if dim.tag then
    entry = add_node(b, "transform", "collect_" .. dim.tag,
      "Collect the " .. dim.tag .. " tag values",
      { template = vocab.tag_list_tpl(dim.tag),
        output = dim.source:match("^([%w_]+)") })
  end
  local fc = add_node(b, "flow_control", "route", switch_label(dim),
    flow_config(dim, routes))
  local at = #b.explain + 1
  b.explain[at] = ""  -- filled in once the routes are known
  if entry then connect(b, entry, "next", fc) end
  local parts = {}
  local exits = {}
  for _, r in ipairs(routes) do
    local cond = r.wired and r.cond or { source = r.cond.source,
      values = r.cond.values, tag = r.cond.tag, phase = r.cond.phase }
    parts[#parts + 1] = format("%s when %s%s", r.port, vocab.describe(cond),
      r.wired and "" or " (nothing is sent)")
    if #r.steps > 0 and r.wired then
      local e, x = emit_tree(b, r.steps, have_token)
      connect(b, fc, r.port, e)
      for _, y in ipairs(x) do exits[#exits + 1] = y end
    end
  end
  if #default > 0 and not b.plan.nothing[dim.source] then
    local e, x = emit_tree(b, default, have_token)
    connect(b, fc, "default", e)
    for _, y in ipairs(x) do exits[#exits + 1] = y end
    parts[#parts + 1] = "default otherwise"
  else
    parts[#parts + 1] = "nothing is sent otherwise"
    b.unwired = b.unwired or not total(dim, routes)
  end
  b.explain[at] = format("%s: switches on %s: %s.", fc, dim.source,
    concat(parts, "; "))
  return entry or fc, exits
end

function emit_tree(b, steps, have_token)
  local prefix, rest = {}, {}
  for _, s in ipairs(steps) do
    if #s.conds == 0 and #rest == 0 then
      prefix[#prefix + 1] = s
    else
      rest[#rest + 1] = s
    end
  end
  if #rest == 0 then return emit_seq(b, prefix, have_token) end
  local entry, exits
  if #prefix > 0 then
    entry, exits, have_token = emit_seq(b, prefix, have_token)
  end
  if b.oauth_first and not have_token then
    local id = emit_oauth(b)
    if exits then connect_all(b, exits, id) else entry = id end
    exits, have_token = { { id, "next" } }, true
  end
  local e, x = emit_switch(b, rest, choose_dim(rest), have_token)
  if exits then connect_all(b, exits, e) else entry = e end
  return entry, x
end

-- ---- layout -----------------------------------------------------------------

local function layout(b, start)
  local next_of = {}
  for _, c in ipairs(b.conns) do
    next_of[c.from] = next_of[c.from] or {}
    local list = next_of[c.from]
    list[#list + 1] = c.to
  end
  local pos, lane = {}, 0
  local function visit(id, depth)
    if pos[id] then return end
    pos[id] = { x = depth * 260, y = lane * 140 }
    for i, to in ipairs(next_of[id] or {}) do
      if i > 1 then lane = lane + 1 end
      visit(to, depth + 1)
    end
  end
  visit(start, 0)
  return pos
end

local PHASE_WORDS = { new = "create", update = "update", resolved = "resolve",
  closed = "close" }

---A name for the workflow of a plan: its targets and what it does.
---@param plan table
function M.name(plan)
  if plan.steps[1] and plan.steps[1].fallback then
    return "Generated workflow (partial draft)"
  end
  local kinds, seen, verbs, vseen = {}, {}, {}, {}
  for _, s in ipairs(plan.all_steps or plan.steps) do
    local host = (s.url or ""):match("^https?://([^/:]+)") or ""
    local title = targets.TITLES[s.kind] or s.kind
    local what = s.kind == "webhook" and host ~= "" and host or title
    if not seen[what] and not s.handler then
      seen[what] = true
      kinds[#kinds + 1] = what
    end
    local verb = PHASE_WORDS[resolve.phase(s) or ""]
    if verb and not vseen[verb] then
      vseen[verb] = true
      verbs[#verbs + 1] = verb
    end
  end
  local name = "Send incidents to " .. concat(kinds, " and ")
  if #verbs > 0 then name = name .. " (" .. concat(verbs, ", ") .. ")" end
  return name
end

---Builds the workflow document of a plan.
---@param plan table from planner.plan
---@param opts table|nil name, description
---@return table doc
---@return string[] explanation lines
function M.workflow(plan, opts)
  opts = opts or {}
  local b
  for attempt = 1, 2 do
    b = new_builder(plan)
    b.oauth_first = attempt == 2
    local entry = emit_tree(b, plan.steps, false)
    b.start = entry
    if not (plan.oauth and b.oauth_nodes > 1 and not b.unwired) then break end
  end
  local doc = {
    format = 1,
    name = opts.name or M.name(plan),
    description = opts.description,
    nodes = b.nodes,
    connections = b.conns,
    editor = { positions = layout(b, b.start), generated_by = "moonwire generate" },
  }
  return doc, b.explain
end

return M
