-- The node runtime: loads node types from the node path, prepares an
-- execution's variables from a share, runs one node inside the walker's
-- coroutine (run_node) and closes the execution (finish). The walker in
-- C decides which node runs next; the trace is kept here.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")
local share = require("moonwire.share")
local ctxmod = require("moonwire.ctx")

local type, tostring, pairs, ipairs, xpcall = type, tostring, pairs, ipairs, xpcall
local format = string.format
local now_ms = core.now_ms
local null = json.null

local M = {}

local state = {
  node_dirs = {},
  catalog = {},     -- type name -> module
  origins = {},     -- type name -> file
  load_errors = {}, -- { {file, message} }
}

-- ---- node types -------------------------------------------------------------

-- What a user node module may see: the language, not the machine.
local SAFE_GLOBALS = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
  "tonumber", "tostring", "type", "unpack", "xpcall", "rawequal",
}
local SAFE_LIBS = { "string", "table", "math" }

local function sandbox_env()
  local env = {}
  for _, k in ipairs(SAFE_GLOBALS) do env[k] = _G[k] end
  for _, lib in ipairs(SAFE_LIBS) do
    local copy = {}
    for k, v in pairs(_G[lib]) do copy[k] = v end
    env[lib] = copy
  end
  env.string.dump = nil
  env.json = json
  env.require = function(name)
    if name == "moonwire.json" then return json end
    if name == "moonwire.path" then return require("moonwire.path") end
    error(format("require(%q) is not available to node modules", tostring(name)), 2)
  end
  env._G = env
  return env
end

local function check_module(mod, file)
  local ok, schema = pcall(require, "moonwire.schema")
  if ok and schema.check_module then return schema.check_module(mod, file) end
  local errs = {}
  if type(mod) ~= "table" then
    return { { path = file, message = "the module must return a table" } }
  end
  if type(mod.type) ~= "string" or not mod.type:match("^[a-z][a-z0-9_]*$") then
    errs[#errs + 1] = { path = file, message = "type must be a lower-case name" }
  end
  if type(mod.run) ~= "function" then
    errs[#errs + 1] = { path = file, message = "run must be a function" }
  end
  return errs
end

local function load_module(file, builtin)
  local chunk, err = loadfile(file)
  if not chunk then return nil, err end
  if not builtin then setfenv(chunk, sandbox_env()) end
  local ok, mod = pcall(chunk)
  if not ok then return nil, tostring(mod) end
  local errs = check_module(mod, file)
  if #errs > 0 then
    local msgs = {}
    for _, e in ipairs(errs) do msgs[#msgs + 1] = e.message end
    return nil, table.concat(msgs, "; ")
  end
  mod.ports = mod.ports or function() return { "next", "error" } end
  mod.outputs = mod.outputs or function() return {} end
  mod.schema = mod.schema or {}
  return mod
end

--- Loads every node type from the node path: the built-in directory first,
--- then the configured ones. A bad or duplicate module is reported and
--- skipped; the others load.
---@param dirs string[]
function M.load_catalog(dirs)
  local catalog, origins, errors = {}, {}, {}
  for i, dir in ipairs(dirs) do
    local names = core.list_dir(dir) or {}
    table.sort(names)
    for _, name in ipairs(names) do
      if name:match("%.lua$") and not name:match("_spec%.lua$") then
        local file = dir .. "/" .. name
        local mod, err = load_module(file, i == 1)
        if not mod then
          errors[#errors + 1] = { file = file, message = err }
        elseif catalog[mod.type] then
          errors[#errors + 1] = { file = file, message = format(
            "node type %q is already defined by %s", mod.type, origins[mod.type]) }
        else
          catalog[mod.type], origins[mod.type] = mod, file
        end
      end
    end
  end
  for _, e in ipairs(errors) do
    core.log("warn", format("node module %s refused: %s", e.file, e.message))
  end
  state.catalog, state.origins, state.load_errors = catalog, origins, errors
  return catalog, errors
end

---@param opts table node_dirs
function M.init(opts)
  state.node_dirs = opts.node_dirs or {}
  M.load_catalog(state.node_dirs)
end

function M.catalog() return state.catalog end
function M.node_dirs() return state.node_dirs end
function M.load_errors() return state.load_errors end
function M.origins() return state.origins end

-- ---- workflows ----------------------------------------------------------------

--- Validates a workflow (JSON text or decoded table) against the catalog.
---@return table|nil wf
---@return table|nil errors list of {path, message}
function M.load_workflow(doc)
  local workflow = require("moonwire.workflow")
  if type(doc) == "string" then return workflow.parse(doc, state.catalog) end
  return workflow.load(doc, state.catalog)
end

-- ---- executions -----------------------------------------------------------------

local function settings_table(integration, overrides)
  local s = {}
  for name, rec in pairs(core.settings(integration)) do s[name] = rec.value end
  for name, v in pairs(overrides or {}) do s[name] = v end
  return s
end

--- Builds an execution: variables from the share, the settings, what the
--- store knows of the incident (first time, saved external ID).
---@param wf table a loaded workflow
---@param value any the decoded share
---@param opts table integration, settings, live, label
---@return table|nil exec
---@return string|nil err
function M.prepare(wf, value, opts)
  local vars, err = share.normalize(value)
  if not vars then return nil, err end
  local integration = opts.integration or "default"
  vars.integration = settings_table(integration, opts.settings)
  local incident_id = share.incident_id(vars, vars.integration.incident_key)
  local meta = vars.metadata
  local history = core.has_store() and core.history_get(integration, incident_id)
    or { shares = 0, succeeded = 0 }
  local link = core.has_store() and core.link_get(integration, incident_id)
  if link then vars.externalId = json.decode(link) end
  if meta.firstTime == nil then
    meta.firstTime = history.succeeded == 0 and link == nil
  end
  if meta.event_type == nil then
    meta.event_type = meta.firstTime and "incident#new" or "incident#updated"
  end
  if meta.incident_id == nil then meta.incident_id = incident_id end
  return {
    wf = wf, vars = vars, integration = integration,
    incident_id = incident_id, live = opts.live ~= false,
    label = opts.label, trace = json.array(), started_ms = now_ms(),
    started_at = core.time(),
  }
end

-- Header names whose literal values are credentials.
local SECRET_HEADERS = {
  authorization = true, ["proxy-authorization"] = true, cookie = true,
  ["x-api-key"] = true, ["api-key"] = true,
}

-- A headers field written as an object may hold a literal credential;
-- a value built by a template ("Bearer {{token.access_token}}") names no
-- secret and stays visible, which is what makes a trace useful.
local function redact_headers(schema_fields, config)
  for _, f in ipairs(schema_fields) do
    local h = f.kind == "headers" and config[f.name]
    if type(h) == "table" then
      local copy = {}
      for k, v in pairs(h) do
        local literal = type(v) == "string" and not v:find("{{", 1, true)
        copy[k] = (SECRET_HEADERS[tostring(k):lower()] and literal) and "[redacted]" or v
      end
      config[f.name] = copy
    end
  end
  return config
end

local function redact(node)
  local schema = require("moonwire.schema")
  local fields = node.module.schema
  return redact_headers(fields, schema.redact(fields, node.config))
end

local function error_text(err)
  if type(err) == "table" then
    return err.message or json.encode(err) or "error"
  end
  return tostring(err)
end

local function handler(err)
  if type(err) == "string" then return debug.traceback(err, 2) end
  if err == nil then return "the node raised an error with no message (nil)" end
  if type(err) == "table" and err.message then return err.message end
  return "the node raised a " .. type(err) .. " value: " .. tostring(err)
end

local function port_known(node, port)
  for _, p in ipairs(node.ports or node.module.ports(node.config)) do
    if p == port then return true end
  end
  return false
end

--- Runs node i of the execution; called by the walker inside the
--- execution's coroutine. Returns the port to follow, "ok" or "error", and
--- the error text.
---@param exec table
---@param i integer
function M.run_node(exec, i)
  local node = exec.wf.nodes[i]
  local entry = { id = node.id, type = node.type, input = redact(node) }
  exec.trace[#exec.trace + 1] = entry
  local ctx = ctxmod.new(exec, node, entry)
  local t0 = now_ms()
  local ok, port, err = xpcall(node.module.run, handler, ctx, node.config)
  entry.duration_ms = now_ms() - t0
  if not ok then
    port, err = nil, port
  elseif port ~= nil and type(port) ~= "string" then
    port, err = nil, "run() returned a " .. type(port) .. " instead of a port name"
  elseif port ~= nil and not port_known(node, port) then
    port, err = nil, format("run() returned the port %q, which the node does "
      .. "not declare", port)
  end
  if port == nil then
    entry.error = error_text(err or "run() returned no port")
    entry.port = "error"
    return "error", "error", format("node %s (%s) failed: %s", node.id,
      node.type, entry.error)
  end
  entry.port = port
  return port, "ok"
end

--- Closes an execution: status, duration, and the incident's history.
---@param exec table
---@param ok boolean
---@param reason string|nil
function M.finish(exec, ok, reason)
  exec.status = ok and "succeeded" or "failed"
  exec.error = reason
  exec.duration_ms = now_ms() - exec.started_ms
  if core.has_store() and exec.live then
    local hok, herr = core.history_add(exec.integration, exec.incident_id, ok)
    if not hok then core.log("error", "cannot record share history: " .. herr) end
  end
  if exec.on_finish then exec.on_finish(exec) end
end

local function round(ms)
  return math.floor(ms * 1000 + 0.5) / 1000
end

--- The one-line summary `moonwire run` prints per execution.
---@param exec table
function M.summary(exec)
  local nodes = json.array()
  for _, e in ipairs(exec.trace) do
    nodes[#nodes + 1] = {
      id = e.id, type = e.type, port = e.port,
      duration_ms = round(e.duration_ms or 0), error = e.error,
    }
  end
  return {
    share = exec.label, incident = exec.incident_id, status = exec.status,
    error = exec.error, duration_ms = round(exec.duration_ms or 0),
    nodes = nodes,
  }
end

M.null = null
return M
