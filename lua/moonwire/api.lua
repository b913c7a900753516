-- The JSON HTTP API under /api/v1: authentication, request checks, the
-- routes and their answers. Every answer is JSON; errors are
-- {"error": {"code", "message"}}, import problems {"errors": [...]}.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")
local db = require("moonwire.db")
local daemon = require("moonwire.daemon")
local runtime = require("moonwire.runtime")
local schema = require("moonwire.schema")
local share_mod = require("moonwire.share")

local type, tostring, tonumber, pairs, ipairs = type, tostring, tonumber, pairs, ipairs
local format, match, lower, find = string.format, string.match, string.lower,
  string.find
local null = json.null

local M = {}

local cfg = { admin_token = "" }
local started = core.time()

function M.configure(config)
  cfg = config
end

-- ---- answers ------------------------------------------------------------------

local INTERNAL = '{"error":{"code":"E_INTERNAL","message":"the answer could not '
  .. 'be encoded as JSON; see the log"}}'

--- Answers with value as JSON. `scrub`, when given, rewrites the text
--- before it leaves (daemon.scrub: secret values out of traces).
local function reply(req, status, value, headers, scrub)
  local body, err = "", nil
  if value ~= nil then body, err = json.encode(value, { pretty = false }) end
  if not body then
    core.log("error", format("%s %s: cannot encode the answer: %s", req.method,
      req.path, tostring(err)))
    return core.reply(req.id, 500, INTERNAL, "application/json")
  end
  if scrub then body = scrub(body) end
  core.reply(req.id, status, body, "application/json", headers)
end

local function fail(req, status, code, message, extra)
  local err = { code = code, message = message }
  for k, v in pairs(extra or {}) do err[k] = v end
  reply(req, status, { error = err })
end
M.fail = fail

-- ---- request checks -----------------------------------------------------------

local function bearer(req)
  local h = req.headers.authorization
  return h and match(h, "^[Bb]earer%s+(%S+)%s*$")
end

-- Compares without an early exit, so timing does not reveal a prefix.
local function same(a, b)
  if type(a) ~= "string" or type(b) ~= "string" or #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do diff = bit.bor(diff, bit.bxor(a:byte(i), b:byte(i))) end
  return diff == 0
end

local function is_admin(req)
  return same(bearer(req), cfg.admin_token)
end

local function json_content_type(req)
  local ct = req.headers["content-type"]
  if not ct or ct == "" then return true end
  local base = lower(match(ct, "^%s*([^;%s]+)") or "")
  return base == "application/json" or base:match("^[%w%.%-]+/[%w%.%-]+%+json$") ~= nil
end

local function json_body_type(req)
  local coding = req.headers["content-encoding"]
  if coding and lower(coding):match("^%s*(.-)%s*$") ~= "identity" then
    fail(req, 415, "E_CONTENT_ENCODING", format("send the body uncompressed: "
      .. "Content-Encoding %q is not supported", coding))
    return false
  end
  if json_content_type(req) then return true end
  fail(req, 415, "E_CONTENT_TYPE", format("send JSON: content type %q is not "
    .. "application/json or a +json type", req.headers["content-type"]))
  return false
end

--- Decodes the body as a JSON object; answers 415/400 itself and returns
--- nil when it cannot. The body must also encode back (no 1e999): it is
--- stored or echoed as JSON.
local function body_object(req)
  if not json_body_type(req) then return nil end
  local v, err = json.decode(req.body)
  if v == nil then
    fail(req, 400, "E_JSON", "the body is not valid JSON: " .. err)
    return nil
  end
  if type(v) ~= "table" or json.is_array(v) or json.is_bignum(v) then
    fail(req, 400, "E_NOT_OBJECT", "the body must be a JSON object")
    return nil
  end
  local ok, eerr = json.encode(v)
  if not ok then
    fail(req, 400, "E_JSON", "the body holds a value JSON cannot carry "
      .. "back: " .. tostring(eerr))
    return nil
  end
  return v
end

--- Checks that a share's body is a JSON object, as body_object does, but
--- without decoding it: a share is stored as sent and decoded when it
--- runs. Answers 415/400 itself and returns nil when it is not.
-- A share is stored inside larger documents (an execution's trace holds
-- it a few levels down), which the codec bounds at 200 levels.
local SHARE_MAX_DEPTH = 128

local function share_text(req)
  if not json_body_type(req) then return nil end
  local ok, err = json.validate(req.body, SHARE_MAX_DEPTH)
  if not ok then
    fail(req, 400, "E_JSON", "the body is not valid JSON: " .. err)
    return nil
  end
  -- after white space, or a byte-order mark and white space
  local body = req.body
  if not (find(body, "^[ \t\r\n]*{") or find(body, "^\239\187\191[ \t\r\n]*{")) then
    fail(req, 400, "E_NOT_OBJECT", "the body must be a JSON object")
    return nil
  end
  return true
end

local function unescape(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h)
    return string.char(tonumber(h, 16))
  end))
end

--- The query string as a table; the first of repeated names wins.
local function query_params(req)
  local params = {}
  for k, v in (req.query or ""):gmatch("([^&=]+)=?([^&]*)") do
    k = unescape(k)
    if params[k] == nil then params[k] = unescape(v) end
  end
  return params
end

-- ---- integrations ---------------------------------------------------------------

local function integration_view(row, app_key)
  local settings = json.decode(row.settings) or {}
  local secrets = {}
  for name, rec in pairs(core.settings(row.id)) do
    if rec.secret then secrets[#secrets + 1] = name end
  end
  table.sort(secrets)
  local wf = db.workflow_latest(row.id)
  return {
    id = row.id, name = row.name, status = row.status, settings = settings,
    secret_settings = json.array(secrets), app_key = app_key,
    workflow_version = wf and wf.version or null,
    created_at = row.created_at, updated_at = row.updated_at,
  }
end

local function check_name(req, name)
  -- characters, not bytes: UTF-8 continuation bytes do not count
  if type(name) ~= "string" or not name:match("%S")
      or #name - select(2, name:gsub("[\128-\191]", "")) > 200 then
    fail(req, 422, "E_NAME", "\"name\" must be a non-empty string of at most "
      .. "200 characters")
    return false
  end
  return true
end

-- Refuses a key of body b outside allowed (a set of names): a misspelt
-- field silently ignored would look like a change that did not happen.
local function check_fields(req, b, allowed, list)
  for k in pairs(b) do
    if not allowed[k] then
      fail(req, 422, "E_FIELD", format("unknown field %q: the body takes %s",
        tostring(k), list))
      return false
    end
  end
  return true
end

local CREATE_FIELDS = { name = true }
local PATCH_FIELDS = { name = true, status = true, settings = true, secrets = true }

local function new_key()
  return "mwk_" .. core.random_hex(24)
end

local function create_integration(req)
  local b = body_object(req)
  if not b or not check_fields(req, b, CREATE_FIELDS, '"name"')
      or not check_name(req, b.name) then
    return
  end
  local id = "int_" .. core.random_hex(8)
  local key = new_key()
  db.integration_create(id, b.name, core.sha256_hex(key), core.time())
  reply(req, 201, integration_view(db.integration_get(id), key))
end

local function list_integrations(req)
  local out = json.array()
  for _, row in ipairs(db.integration_list()) do out[#out + 1] = integration_view(row) end
  reply(req, 200, { integrations = out })
end

local function find_integration(req, id)
  local row = db.integration_get(id)
  if not row then
    fail(req, 404, "E_NOT_FOUND", format("no integration with id %q", id))
  end
  return row
end

local is_secret_name = require("moonwire.secrets").is_secret_name

local function check_settings(req, field, settings)
  if type(settings) ~= "table" or json.is_array(settings)
      or json.is_bignum(settings) then
    fail(req, 422, "E_SETTINGS", format("%q must be an object of setting names "
      .. "and string, number or boolean values", field))
    return false
  end
  for k, v in pairs(settings) do
    if type(k) ~= "string" or not k:match("^[%w_%-]+$") or #k > 200 then
      fail(req, 422, "E_SETTINGS", format("setting name %q may use only letters, "
        .. "digits, _ and - (at most 200 of them)", tostring(k)))
      return false
    end
    if v ~= null and type(v) ~= "string" and type(v) ~= "number"
        and type(v) ~= "boolean" and not json.is_bignum(v) then
      fail(req, 422, "E_SETTINGS", format("%s.%s must be a string, number, "
        .. "boolean or null (to remove it)", field, k))
      return false
    end
  end
  return true
end

-- Applies PATCH settings and secrets to the stored plain settings (a
-- table, changed in place) and the secret store. One name lives in one
-- place: storing it as plain drops the secret, and the other way round.
local function apply_settings(id, settings, plain, secret)
  local function put(k, v, is_secret)
    if v == null then
      settings[k] = nil
      db.setting_delete(id, k)
    elseif is_secret or is_secret_name(k) then
      settings[k] = nil
      local ok, err = core.setting_put(id, k, tostring(v), true)
      if not ok then error({ secret_error = err }, 0) end
    else
      db.setting_delete(id, k)
      settings[k] = v
    end
  end
  for k, v in pairs(plain or {}) do put(k, v, false) end
  for k, v in pairs(secret or {}) do put(k, v, true) end
end

--- PATCH: name, status (active|inactive), settings and secrets (objects
--- of setting names; null removes one). A setting whose name looks
--- secret (password, token, api_key...) is kept as a secret even when
--- sent under settings. Everything is checked before anything changes.
local function patch_integration(req, id)
  local row = find_integration(req, id)
  if not row then return end
  local b = body_object(req)
  if not b or not check_fields(req, b, PATCH_FIELDS,
      '"name", "status", "settings" and "secrets"') then
    return
  end
  if b.name ~= nil and not check_name(req, b.name) then return end
  if b.status ~= nil and b.status ~= "active" and b.status ~= "inactive" then
    return fail(req, 422, "E_STATUS", "\"status\" must be \"active\" or \"inactive\"")
  end
  for _, field in ipairs({ "settings", "secrets" }) do
    if b[field] ~= nil and not check_settings(req, field, b[field]) then return end
  end
  local name, status = b.name or row.name, b.status or row.status
  if status == "active" and not db.workflow_latest(id) then
    return fail(req, 409, "E_NO_WORKFLOW", "import a workflow before activating "
      .. "the integration")
  end
  local settings = json.decode(row.settings) or {}
  local ok, err = pcall(db.transaction, function()
    apply_settings(id, settings, b.settings, b.secrets)
    db.integration_update(id, name, status, json.encode(settings), core.time())
  end)
  if not ok then
    if type(err) == "table" and err.secret_error then
      return fail(req, 500, "E_SECRET_KEY", "the secret was not stored: "
        .. tostring(err.secret_error) .. " (check secret_key_file)")
    end
    error(err, 0)
  end
  daemon.forget_workflow(id)
  reply(req, 200, integration_view(db.integration_get(id)))
end

local function rotate_key(req, id)
  if not find_integration(req, id) then return end
  local key = new_key()
  db.integration_set_key(id, core.sha256_hex(key), core.time())
  daemon.forget_workflow(id)
  reply(req, 200, integration_view(db.integration_get(id), key))
end

local function delete_integration(req, id)
  if not find_integration(req, id) then return end
  db.integration_delete(id)
  daemon.integration_deleted(id)
  reply(req, 204)
end

-- ---- workflows ------------------------------------------------------------------

local function import_errors(errors)
  local out = json.array()
  for _, e in ipairs(errors) do
    out[#out + 1] = { path = e.path, message = e.message, code = e.code,
      node = e.node }
  end
  return out
end

-- An export has no secret fields; imported over the stored workflow, each
-- node of the same id and type keeps the secrets it had.
local function keep_secrets(id, doc)
  local last = db.workflow_latest(id)
  local old = last and json.decode(last.doc)
  if type(old) ~= "table" or type(old.nodes) ~= "table"
      or type(doc.nodes) ~= "table" or not json.is_array(doc.nodes) then
    return doc
  end
  local before, catalog = {}, runtime.catalog()
  for _, n in ipairs(old.nodes) do
    if type(n) == "table" and n.id ~= nil then before[n.id] = n end
  end
  for i, n in ipairs(doc.nodes) do
    local prev = type(n) == "table" and before[n.id]
    local mod = prev and catalog[n.type]
    if mod and prev.type == n.type and type(n.config) == "table"
        and not json.is_array(n.config) then
      local copy = {}
      for k, v in pairs(n) do copy[k] = v end
      copy.config = schema.restore_secrets(mod.schema, n.config, prev.config)
      doc.nodes[i] = copy
    end
  end
  return doc
end

local function put_workflow(req, id)
  if not find_integration(req, id) then return end
  local doc = body_object(req)
  if not doc then return end
  doc = keep_secrets(id, doc)
  local wf, errors = runtime.load_workflow(doc)
  if not wf then return reply(req, 422, { errors = import_errors(errors) }) end
  local version = db.workflow_add(id, json.encode(doc), core.time())
  daemon.forget_workflow(id)
  reply(req, 201, { integration = id, version = version, nodes = #wf.nodes })
end

local function get_workflow(req, id)
  if not find_integration(req, id) then return end
  local p = query_params(req)
  local row
  if p.version then
    local v = tonumber(p.version)
    if not v or v ~= math.floor(v) or v < 1 then
      return fail(req, 400, "E_QUERY", format("version %q is not a version "
        .. "number (1, 2, ...)", p.version))
    end
    row = db.workflow_version(id, v)
  else
    row = db.workflow_latest(id)
  end
  if not row then
    return fail(req, 404, "E_NO_WORKFLOW", "the integration has no workflow"
      .. (p.version and (" version " .. p.version) or ""))
  end
  local text = require("moonwire.workflow").export(json.decode(row.doc),
    runtime.catalog())
  core.reply(req.id, 200, text, "application/json",
    { "X-Workflow-Version: " .. row.version })
end

local function list_versions(req, id)
  if not find_integration(req, id) then return end
  reply(req, 200, { versions = json.array(db.workflow_versions(id)) })
end

-- ---- shares ---------------------------------------------------------------------

local function reject(reason)
  local r = daemon.metrics.shares_rejected
  r[reason] = r[reason] + 1
end

local function post_share(req)
  local key = bearer(req)
  local integ = key and daemon.integration_by_key(core.sha256_hex(key))
  if not integ then
    reject("unauthorized")
    return fail(req, 401, "E_APP_KEY", "unknown or missing app key: send "
      .. "Authorization: Bearer <app key>")
  end
  if integ.status ~= "active" then
    reject("inactive")
    return fail(req, 409, "E_INACTIVE", format("integration %q is inactive: it "
      .. "accepts no shares until it is activated", integ.name))
  end
  if not share_text(req) then return reject("invalid") end
  local body = req.body
  local ok, id, err, dup, incident = pcall(daemon.accept, integ, body)
  if not ok then
    reject("store")
    core.log("error", "cannot store a share: " .. tostring(id))
    return fail(req, 503, "E_STORE", "the share could not be stored; it was "
      .. "not accepted: send it again later")
  end
  if not id then
    reject("invalid")
    return fail(req, 400, "E_SHARE", err)
  end
  -- Durable before 202: the answer waits for the turn's commit.
  db.after_commit(function(committed, cerr)
    if committed then
      if dup then return reply(req, 202, { share_id = id, duplicate = true }) end
      local aok, aerr = pcall(daemon.admit, integ, id, incident, body)
      if not aok then -- stored all the same: it runs at the next start
        core.log("error", format("share %d is stored but could not be "
          .. "queued: %s", id, tostring(aerr)))
      end
      -- the answer to every accepted share: no encoder pass
      return core.reply(req.id, 202, format('{"share_id":%d}', id),
        "application/json")
    end
    reject("store")
    fail(req, 503, "E_STORE", "the share could not be stored (" .. tostring(cerr)
      .. "); it was not accepted: send it again later")
  end)
end

local function get_share(req, id)
  local row = db.share_get(tonumber(id) or -1)
  if not row then return fail(req, 404, "E_NOT_FOUND", "no share " .. id) end
  row.status = daemon.share_status(row.id) or row.status
  local text = db.share_body(row.id)
  row.body = text and json.decode(text) or null
  reply(req, 200, row)
end

-- ---- executions -----------------------------------------------------------------

-- Each trace entry gets `attempts`: the requests the node sent (retries
-- included), 0 for nodes that send none.
local function with_attempts(trace)
  for _, e in ipairs(trace) do
    if type(e) == "table" and e.attempts == nil then
      e.attempts = type(e.requests) == "table" and #e.requests or 0
    end
  end
  return trace
end

-- Request bodies stored as a reference to an earlier node's output
-- (daemon.save_execution) are that output's JSON again.
local function restore_bodies(trace)
  local outputs = {}
  for _, e in ipairs(trace) do
    if type(e) == "table" then
      if type(e.id) == "string" and type(e.output) == "table" then
        outputs[e.id] = e.output
      end
      for _, r in ipairs(type(e.requests) == "table" and e.requests or {}) do
        local from = type(r) == "table" and r.body_from
        if type(from) == "table" then
          local value = (outputs[from.node] or {})[from.output]
          r.body = value ~= nil and json.encode(value) or nil
          r.body_from = nil
        end
      end
    end
  end
end

local function execution_view(row, with_trace)
  local v = {}
  for k, val in pairs(row) do v[k] = val end
  v.live = row.live == 1
  v.trace = nil
  if with_trace then
    local trace = json.decode(row.trace)
    v.trace = type(trace) == "table" and with_attempts(trace) or json.array()
    restore_bodies(v.trace)
    local inputs = row.workflow_version ~= null
      and daemon.node_inputs(row.integration_id, row.workflow_version)
    for _, e in ipairs(v.trace) do
      if type(e) == "table" and e.input == nil and inputs then e.input = inputs[e.id] end
    end
  end
  return v
end

-- An execution is stored once it has ended.
local EXEC_STATUS = { succeeded = true, failed = true }

local function list_executions(req)
  local p = query_params(req)
  local limit = tonumber(p.limit or 50)
  if not limit or limit ~= math.floor(limit) or limit < 1 then
    return fail(req, 400, "E_QUERY", format("limit %q must be a whole number "
      .. "from 1 to 1000", tostring(p.limit)))
  end
  if p.status and not EXEC_STATUS[p.status] then
    return fail(req, 400, "E_QUERY", format("status %q is neither succeeded "
      .. "nor failed", p.status))
  end
  limit = math.min(limit, 1000)
  local out = json.array()
  for _, row in ipairs(db.execution_list(p.integration, p.status, limit)) do
    out[#out + 1] = execution_view(row)
  end
  reply(req, 200, { executions = out })
end

local function get_execution(req, id)
  local row = db.execution_get(tonumber(id) or -1)
  if not row then return fail(req, 404, "E_NOT_FOUND", "no execution " .. id) end
  reply(req, 200, execution_view(row, true))
end

local function replay_execution(req, id)
  local row = db.execution_get(tonumber(id) or -1)
  if not row then return fail(req, 404, "E_NOT_FOUND", "no execution " .. id) end
  local integ = db.integration_get(row.integration_id)
  local body = row.share_id ~= null and db.share_body(row.share_id)
  if not integ or not body then
    return fail(req, 409, "E_REPLAY", "the share of this execution is no longer kept")
  end
  if integ.status ~= "active" then
    return fail(req, 409, "E_INACTIVE", format("integration %q is inactive: "
      .. "activate it before replaying its executions", integ.name))
  end
  local sid = db.share_insert(integ.id, row.incident, body,
    core.sha256_hex(body .. core.random_hex(4)), core.time(), row.id)
  -- queued and answered once stored, as a share posted to /shares
  db.after_commit(function(committed, cerr)
    if not committed then
      return fail(req, 503, "E_STORE", "the replay could not be stored ("
        .. tostring(cerr) .. "); send it again later")
    end
    daemon.schedule(sid, integ.id, row.incident)
    reply(req, 202, { share_id = sid, replay_of = row.id })
  end)
end

-- ---- test runs ------------------------------------------------------------------

local TEST_FIELDS = { share = true, workflow = true, live = true }

local function run_test(req, id)
  local integ = find_integration(req, id)
  if not integ then return end
  local b = body_object(req)
  if not b or not check_fields(req, b, TEST_FIELDS,
      '"share", "workflow" and "live"') then
    return
  end
  if type(b.share) ~= "table" or json.is_array(b.share) then
    return fail(req, 422, "E_SHARE", "\"share\" must be a JSON object")
  end
  if b.live ~= nil and type(b.live) ~= "boolean" then
    return fail(req, 422, "E_LIVE", "\"live\" must be true or false")
  end
  local wf, graph, errors, err
  if b.workflow ~= nil then
    wf, errors = runtime.load_workflow(b.workflow)
    if not wf then return reply(req, 422, { errors = import_errors(errors) }) end
    graph, err = core.graph(wf)
    if not graph then return fail(req, 422, "E_WORKFLOW", err) end
  else
    local entry
    entry, err = daemon.workflow_for(id)
    if not entry then return fail(req, 409, "E_NO_WORKFLOW", err) end
    wf, graph = entry.wf, entry.graph
  end
  local exec, perr = runtime.prepare(wf, b.share, { integration = id,
    settings = daemon.settings_of(integ), live = b.live == true, label = "test" })
  if not exec then return fail(req, 422, "E_SHARE", perr) end
  exec.test = true
  -- A test links no ID and releases no lane.
  exec.save_link = function() end
  local secrets = daemon.secrets_of(id, wf)
  exec.on_finish = function(e)
    local trace = with_attempts(e.trace)
    -- a value a node built too deep for JSON (over 200 levels) is told,
    -- as a stored execution tells it, not answered with a 500
    local ok, eerr = json.encode(trace)
    if not ok then
      trace = json.array({ { error = "the trace cannot be shown: " .. eerr } })
    end
    reply(req, 200, { status = e.status, error = e.error, live = e.live,
      duration_ms = e.duration_ms, trace = trace }, nil,
      function(text) return daemon.scrub(text, secrets) end)
  end
  local ok, serr = core.start(graph, exec)
  if not ok then fail(req, 500, "E_START", serr) end
end

-- ---- catalog, variables, health ---------------------------------------------------

local function node_types(req)
  local out = json.array()
  local names = {}
  for name in pairs(runtime.catalog()) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local mod = runtime.catalog()[name]
    local ok_p, ports = pcall(mod.ports, {})
    local ok_o, outputs = pcall(mod.outputs, {})
    out[#out + 1] = { type = name, title = mod.title or name,
      description = mod.description or "", schema = schema.describe(mod.schema),
      ports = json.array(ok_p and ports or {}),
      outputs = json.array(ok_o and outputs or {}),
      builtin = (runtime.origins()[name] or ""):find(core.nodes_dir, 1, true) == 1 }
  end
  local problems = json.array()
  for _, e in ipairs(runtime.load_errors()) do
    problems[#problems + 1] = { file = e.file, message = e.message }
  end
  reply(req, 200, { node_types = out, load_errors = problems })
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function collect_paths(value, prefix, out, depth)
  if depth > 6 or #out > 2000 then return end
  if type(value) == "table" and not json.is_bignum(value) then
    if json.is_array(value) then
      if value[1] ~= nil then collect_paths(value[1], prefix .. "[0]", out, depth + 1) end
    else
      for k, v in pairs(value) do
        collect_paths(v, prefix == "" and k or (prefix .. "." .. k), out, depth + 1)
      end
    end
  end
  if prefix ~= "" then out[#out + 1] = prefix end
end

-- The ids of the nodes from which node_id can be reached: those that may
-- have run before it and set variables.
local function upstream_of(wf, node_id)
  local parents, upstream, stack = {}, {}, { node_id }
  for from, ports in pairs(wf.next) do
    for _, to in pairs(ports) do
      parents[to] = parents[to] or {}
      parents[to][#parents[to] + 1] = from
    end
  end
  while #stack > 0 do
    for _, parent in ipairs(parents[table.remove(stack)] or {}) do
      if not upstream[parent] then
        upstream[parent] = true
        stack[#stack + 1] = parent
      end
    end
  end
  return upstream
end

-- Paths seen in the integration's recent shares, sorted.
local function share_paths(id)
  local paths, seen, out = {}, {}, {}
  for _, row in ipairs(db.recent_share_bodies(id, 20)) do
    local vars = share_mod.normalize(json.decode(row.body) or {})
    if vars then collect_paths(vars, "", paths, 0) end
  end
  for _, path in ipairs(paths) do
    if not seen[path] then seen[path], out[#out + 1] = true, path end
  end
  table.sort(out)
  return out
end

--- GET variables?node=ID: what a template at that node can read: share
--- fields seen lately, what Moonwire adds, settings, upstream outputs.
local function variables(req, id)
  local integ = find_integration(req, id)
  if not integ then return end
  local p = query_params(req)
  local entry = daemon.workflow_for(id)
  if p.node and not (entry and entry.wf.by_id[p.node]) then
    return fail(req, 404, "E_NOT_FOUND", format("the integration's workflow has "
      .. "no node %q", p.node))
  end
  local seen, out = {}, json.array()
  local function add(path, source, node)
    if seen[path] then return end
    seen[path] = true
    out[#out + 1] = { path = path, source = source, node = node }
  end
  for _, path in ipairs(share_paths(id)) do add(path, "share") end
  for _, m in ipairs({ "metadata.firstTime", "metadata.event_type",
      "metadata.incident_id", "externalId" }) do add(m, "moonwire") end
  for _, name in ipairs(sorted_keys(daemon.settings_of(integ))) do
    add("integration." .. name, "setting")
  end
  if p.node then
    local upstream = upstream_of(entry.wf, p.node)
    for _, node in ipairs(entry.wf.nodes) do
      if upstream[node.id] then
        local ok, outs = pcall(node.module.outputs, node.config)
        for _, o in ipairs(ok and outs or {}) do add(o, "node", node.id) end
      end
    end
  end
  reply(req, 200, { variables = out })
end

--- Prometheus text: one HELP and TYPE per family, labels in sorted order.
local function metrics(req)
  local m, out = daemon.metrics, {}
  local function family(name, kind, help)
    out[#out + 1] = format("# HELP %s %s", name, help)
    out[#out + 1] = format("# TYPE %s %s", name, kind)
  end
  local function labelled(name, label, t)
    for _, k in ipairs(sorted_keys(t)) do
      out[#out + 1] = format('%s{%s="%s"} %d', name, label, k, t[k])
    end
  end
  family("moonwire_shares_accepted_total", "counter", "Shares stored and queued.")
  out[#out + 1] = "moonwire_shares_accepted_total " .. m.shares_accepted
  family("moonwire_shares_duplicate_total", "counter",
    "Shares answered with the id of an identical one inside the dedup window.")
  out[#out + 1] = "moonwire_shares_duplicate_total " .. m.shares_duplicate
  family("moonwire_shares_rejected_total", "counter", "Shares refused, by reason.")
  labelled("moonwire_shares_rejected_total", "reason", m.shares_rejected)
  family("moonwire_queue_depth", "gauge", "Shares stored but not started yet.")
  out[#out + 1] = "moonwire_queue_depth " .. daemon.queue_depth()
  local open, max_open = 0, 0
  if core.connections then open, max_open = core.connections() end
  family("moonwire_connections_open", "gauge", "Inbound connections open.")
  out[#out + 1] = "moonwire_connections_open " .. open
  family("moonwire_connections_max", "gauge",
    "The most inbound connections open at once (max_connections, within the open-file limit).")
  out[#out + 1] = "moonwire_connections_max " .. max_open
  family("moonwire_executions_running", "gauge", "Executions in progress.")
  out[#out + 1] = "moonwire_executions_running " .. daemon.running()
  family("moonwire_db_commits_total", "counter",
    "Database transactions committed (each holds the writes of a loop turn).")
  out[#out + 1] = "moonwire_db_commits_total " .. db.commits
  local passes, catch_ups = core.wal_checkpoints()
  family("moonwire_wal_checkpoints_total", "counter",
    "WAL checkpoints: passes of the checkpoint thread, and catch-ups the loop ran itself.")
  out[#out + 1] = format('moonwire_wal_checkpoints_total{by="thread"} %d', passes)
  out[#out + 1] = format('moonwire_wal_checkpoints_total{by="loop"} %d', catch_ups)
  family("moonwire_lua_heap_bytes", "gauge", "Memory held by the Lua heap.")
  out[#out + 1] = format("moonwire_lua_heap_bytes %d", collectgarbage("count") * 1024)
  family("moonwire_executions_total", "counter", "Finished executions, by status.")
  labelled("moonwire_executions_total", "status", m.executions)
  family("moonwire_node_duration_ms", "summary", "Time spent in nodes, by type.")
  for _, t in ipairs(sorted_keys(m.node_ms)) do
    local v = m.node_ms[t]
    out[#out + 1] = format('moonwire_node_duration_ms_sum{type="%s"} %.3f', t, v.sum)
    out[#out + 1] = format('moonwire_node_duration_ms_count{type="%s"} %d', t, v.count)
  end
  family("moonwire_outbound_requests_total", "counter",
    "Requests sent by nodes, by response status (error: no response).")
  labelled("moonwire_outbound_requests_total", "status", m.outbound)
  core.reply(req.id, 200, table.concat(out, "\n") .. "\n",
    "text/plain; version=0.0.4")
end

-- ---- generation ------------------------------------------------------------------

-- Secrets named in a prompt become the integration's secret settings.
local function secret_keeper(integ)
  return function(name, value)
    local ok, err = core.setting_put(integ.id, name, tostring(value), true)
    if not ok then return nil, err end
    daemon.forget_workflow(integ.id)
    local settings = json.decode(integ.settings) or {}
    if settings[name] ~= nil then
      settings[name] = nil
      integ.settings = json.encode(settings)
      db.integration_update(integ.id, integ.name, integ.status, integ.settings,
        core.time())
    end
    return true
  end
end

local GENERATE_FIELDS = { prompt = true, provider = true, integration = true }

local function post_generate(req)
  local b = body_object(req)
  if not b or not check_fields(req, b, GENERATE_FIELDS,
      '"prompt", "provider" and "integration"') then
    return
  end
  if type(b.prompt) ~= "string" then
    return fail(req, 422, "E_PROMPT", "\"prompt\" must be a string describing "
      .. "the integration")
  end
  local opts = { provider = b.provider or cfg.generate_provider,
    llm = { url = cfg.llm_url, model = cfg.llm_model, api_key = cfg.llm_api_key,
      timeout_ms = cfg.llm_timeout_ms } }
  if b.integration ~= nil then
    local integ = find_integration(req, tostring(b.integration))
    if not integ then return end
    opts.integration = integ.id
    opts.store_secret = secret_keeper(integ)
  else
    opts.store_secret = function()
      return nil, "no integration was named, so the secret was not kept: pass "
        .. "\"integration\" to keep it as that integration's secret setting"
    end
  end
  require("moonwire.generate").start(b.prompt, opts, function(res, err)
    if not res then return fail(req, 400, "E_GENERATE", tostring(err)) end
    reply(req, 200, res)
  end)
end

-- ---- routing --------------------------------------------------------------------

local ID = "([%w_%-]+)"
local routes = {
  { "POST", "^/api/v1/shares$", post_share, "key" },
  { "GET", "^/healthz$", function(req) reply(req, 200, { status = "ok" }) end, "none" },
  { "GET", "^/readyz$", function(req)
      reply(req, 200, { status = "ready", uptime_s = core.time() - started })
    end, "none" },
  { "GET", "^/metrics$", metrics, "none" },
  { "POST", "^/api/v1/integrations$", create_integration },
  { "GET", "^/api/v1/integrations$", list_integrations },
  { "GET", "^/api/v1/integrations/" .. ID .. "$", function(req, id)
      local row = find_integration(req, id)
      if row then reply(req, 200, integration_view(row)) end
    end },
  { "PATCH", "^/api/v1/integrations/" .. ID .. "$", patch_integration },
  { "DELETE", "^/api/v1/integrations/" .. ID .. "$", delete_integration },
  { "POST", "^/api/v1/integrations/" .. ID .. "/app%-key$", rotate_key },
  { "PUT", "^/api/v1/integrations/" .. ID .. "/workflow$", put_workflow },
  { "GET", "^/api/v1/integrations/" .. ID .. "/workflow$", get_workflow },
  { "GET", "^/api/v1/integrations/" .. ID .. "/workflow/versions$", list_versions },
  { "POST", "^/api/v1/integrations/" .. ID .. "/test$", run_test },
  { "GET", "^/api/v1/integrations/" .. ID .. "/variables$", variables },
  { "GET", "^/api/v1/shares/(%d+)$", get_share },
  { "GET", "^/api/v1/executions$", list_executions },
  { "GET", "^/api/v1/executions/(%d+)$", get_execution },
  { "POST", "^/api/v1/executions/(%d+)/replay$", replay_execution },
  { "GET", "^/api/v1/node%-types$", node_types },
  { "POST", "^/api/v1/generate$", post_generate },
  { "POST", "^/api/v1/node%-types/reload$", function(req)
      daemon.reload()
      node_types(req)
    end },
}

-- Routes whose pattern is a plain path, by path and then method: most
-- calls (POST /api/v1/shares above all) are found without trying every
-- pattern.
local exact = {}
for _, r in ipairs(routes) do
  local path = r[2]:match("^%^(.*)%$$")
  path = path and path:gsub("%%%-", "-")
  if path and not path:find("[%^%$%(%)%%%.%[%]%*%+%?]") then
    exact[path] = exact[path] or {}
    exact[path][r[1]] = exact[path][r[1]] or r
  end
end

local function dispatch(req, r, ...)
  if r[4] == nil and not is_admin(req) then
    return fail(req, 401, "E_ADMIN_TOKEN", "this call needs the admin "
      .. "token: send Authorization: Bearer <admin token>")
  end
  return r[3](req, ...)
end

--- Entry point from the C server for every request.
function M.handle(req)
  if find(req.path, "#", 1, true) then -- a browser never sends its fragment
    return fail(req, 400, "E_TARGET", "a request target carries no #fragment")
  end
  if req.path:byte(1) ~= 47 then -- not "/"
    -- the absolute form a proxy may send ("http://host/path") means its
    -- path; anything else ("*") names no resource here
    local scheme, p = req.path:match("^([%a][%w+.-]*)://[^/]*(.*)$")
    scheme = scheme and lower(scheme)
    if scheme ~= "http" and scheme ~= "https" then p = nil end
    if p == "" then p = "/" end
    if not p or p:byte(1) ~= 47 then
      return fail(req, 400, "E_TARGET", format("the request target %q is not "
        .. "a path", req.path))
    end
    req.path = p
  end
  local plain = exact[req.path]
  local r = plain and plain[req.method]
  if r then return dispatch(req, r) end
  local allowed = {}
  for _, route in ipairs(routes) do
    r = route
    local caps = { match(req.path, r[2]) }
    if caps[1] ~= nil then
      allowed[#allowed + 1] = r[1] == "GET" and "GET, HEAD" or r[1]
      if r[1] == req.method or (r[1] == "GET" and req.method == "HEAD") then
        return dispatch(req, r, unpack(caps))
      end
    end
  end
  if #allowed > 0 then
    local allow = table.concat(allowed, ", ")
    return reply(req, 405, { error = { code = "E_METHOD", message = format(
      "%s is not allowed on %s; use %s", req.method, req.path, allow) } },
      { "Allow: " .. allow })
  end
  if (req.method == "GET" or req.method == "HEAD") and not req.path:find("^/api/") then
    local ok, static = pcall(require, "moonwire.static")
    if ok and static.serve(req) then return end
  end
  fail(req, 404, "E_NOT_FOUND", format("no such endpoint: %s %s", req.method, req.path))
end

return M
