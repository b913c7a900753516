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

local new_table = require("table.new")

local M = {}

local state = {
  node_dirs = {},
  catalog = {},     -- type name -> module
  origins = {},     -- type name -> file
  load_errors = {}, -- { {file, message} }
}

-- ---- node types -------------------------------------------------------------

-- ---- the sandbox of user node modules --------------------------------------

-- Bounds of one run() of a user module (MOONWIRE_NODE_INSTRUCTIONS and
-- MOONWIRE_NODE_MEMORY_MB, or node_instructions and node_memory_mb in the
-- daemon's config). The instruction count is the CPU bound: user modules
-- run interpreted (JIT off), so a count hook sees every loop, and
-- instructions, unlike seconds, do not depend on what else the machine
-- does. 50 million take about 0.2 s here.
M.limits = {
  instructions = 50000000,
  memory_mb = 64,       -- growth of the Lua heap while the node runs
  string_mb = 16,       -- largest string.rep / table.concat result
}

local HOOK_STEP = 100

-- The error a node over its bound gets. Sandboxed pcall and xpcall pass it
-- on, so a node cannot catch its way past its bound.
local Budget = {}
Budget.__index = Budget
Budget.__tostring = function(b) return b.message end

local function over_budget(message)
  return setmetatable({ message = message }, Budget)
end

local function is_budget(e)
  return getmetatable(e) == Budget
end

local function rethrow(ok, ...)
  if not ok and is_budget((...)) then error((...), 0) end
  return ok, ...
end

-- The hook functions arm_limits installs, to tell sandboxed code apart.
local sandbox_hooks = setmetatable({}, { __mode = "k" })

local function in_sandbox()
  local hook = debug.gethook()
  return hook ~= nil and sandbox_hooks[hook] == true
end

--- Arms the bounds on the running coroutine; returns the disarm function.
local function arm_limits()
  local limits = M.limits
  local count, heap0 = 0, collectgarbage("count")
  local max_heap = limits.memory_mb * 1024
  local function hook()
    count = count + HOOK_STEP
    if count > limits.instructions then
      error(over_budget(format("the node ran more than %d instructions (its CPU "
        .. "bound) and was stopped", limits.instructions)), 0)
    end
    if collectgarbage("count") - heap0 > max_heap then
      collectgarbage()
      if collectgarbage("count") - heap0 > max_heap then
        error(over_budget(format("the node used more than %d MB of memory (its "
          .. "memory bound) and was stopped", limits.memory_mb)), 0)
      end
    end
  end
  sandbox_hooks[hook] = true
  debug.sethook(hook, "", HOOK_STEP)
  return function() debug.sethook() end
end

--- fn under the sandbox's bounds, unless the caller's are armed already
--- (a user node calling back into its own module).
local function bounded(fn)
  if type(fn) ~= "function" then return fn end
  return function(...)
    if in_sandbox() then return fn(...) end
    local disarm = arm_limits()
    local res = { pcall(fn, ...) }
    disarm()
    if not res[1] then error(res[2], 0) end
    return unpack(res, 2, table.maxn(res))
  end
end

local function capped(fn, what)
  return function(...)
    local out = fn(...)
    if #out > M.limits.string_mb * 1048576 then
      error(over_budget(format("%s built a string larger than %d MB", what,
        M.limits.string_mb)), 0)
    end
    return out
  end
end

-- Any string value reaches the real string library through its metatable
-- ("x"):rep(n), so the guards sit on the library itself: string.dump is
-- gone for everyone (nothing in Moonwire needs it) and string.rep is
-- capped inside the sandbox.
local raw_rep = string.rep
string.dump = nil

local function safe_rep(s, n, sep)
  if in_sandbox() then
    local size = (#tostring(s) + #tostring(sep or "")) * (tonumber(n) or 0)
    if size > M.limits.string_mb * 1048576 then
      error(over_budget(format("string.rep would build %d bytes, more than %d MB",
        size, M.limits.string_mb)), 0)
    end
  end
  return raw_rep(s, n, sep)
end
string.rep = safe_rep

local function read_only(t, name)
  return setmetatable({}, {
    __index = t, __metatable = false,
    __newindex = function() error(name .. " is read-only", 2) end,
  })
end

-- What a user node module may see: the language, not the machine. No os,
-- io, debug, ffi, jit, load*, dofile, require outside the runtime's own
-- json and path, getfenv/setfenv, rawset/rawget, string.dump, coroutine.
local SAFE_GLOBALS = {
  "assert", "error", "ipairs", "next", "pairs", "select", "tonumber",
  "tostring", "type", "unpack", "rawequal", "setmetatable",
}
local SAFE_LIBS = { "string", "table", "math" }

local load_library

-- json as node modules see it: json.raw writes its text unchecked, so it
-- stays with the runtime.
local public_json = {}
for k, v in pairs(json) do
  if k ~= "raw" then public_json[k] = v end
end

-- dir: the node directory the module came from; `require` finds plain
-- Lua libraries below it (require("lib.retry") -> dir/lib/retry.lua),
-- loaded once per node module, in a sandbox of their own.
local function sandbox_env(dir, libs)
  local env = {}
  for _, k in ipairs(SAFE_GLOBALS) do env[k] = _G[k] end
  for _, lib in ipairs(SAFE_LIBS) do
    local copy = {}
    for k, v in pairs(_G[lib]) do copy[k] = v end
    env[lib] = copy
  end
  env.string.dump = nil
  env.string.rep = safe_rep
  env.table.concat = capped(table.concat, "table.concat")
  env.getmetatable = function(v)
    if type(v) == "string" then return nil end
    return getmetatable(v)
  end
  env.pcall = function(f, ...) return rethrow(pcall(f, ...)) end
  env.xpcall = function(f, handler, ...)
    return rethrow(xpcall(f, function(e)
      if is_budget(e) then return e end
      return handler(e)
    end, ...))
  end
  local json_ro = read_only(public_json, "json")
  local path_ro = read_only(require("moonwire.path"), "moonwire.path")
  env.json = json_ro
  env.require = function(name)
    if name == "moonwire.json" then return json_ro end
    if name == "moonwire.path" then return path_ro end
    if dir and type(name) == "string" and name:match("^[%w_]+%.[%w_.]*[%w_]$") then
      return load_library(dir, libs, name)
    end
    error(format("require(%q) is not available to node modules: only "
      .. "moonwire.json, moonwire.path and libraries in a subdirectory of the "
      .. "node directory (require(\"lib.name\"))", tostring(name)), 2)
  end
  env._G = env
  return env
end

load_library = function(dir, libs, name)
  if libs[name] ~= nil then
    if libs[name] == false then error("require loop through " .. name, 3) end
    return libs[name]
  end
  local file = dir .. "/" .. name:gsub("%.", "/") .. ".lua"
  local chunk, err = loadfile(file)
  if not chunk then error(format("require(%q): %s", name, err), 3) end
  setfenv(chunk, sandbox_env(dir, libs))
  jit.off(chunk, true)
  libs[name] = false
  local value = chunk()
  libs[name] = value == nil and true or value
  return libs[name]
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
  local f = io.open(file, "rb")
  local head = f and f:read(4)
  if f then f:close() end
  if head and head:sub(1, 1) == "\27" then
    return nil, "precompiled bytecode is not loaded; ship the Lua source"
  end
  local chunk, err = loadfile(file)
  if not chunk then return nil, err end
  local disarm
  if not builtin then
    setfenv(chunk, sandbox_env(file:match("^(.*)/[^/]*$") or ".", {}))
    jit.off(chunk, true)
    disarm = arm_limits()
  end
  local ok, mod = pcall(chunk)
  if disarm then disarm() end
  if not ok then return nil, tostring(mod) end
  if type(mod) == "table" and mod.helpers ~= nil and mod.run == nil then
    return mod -- template helpers, not a node type: load_catalog checks them
  end
  local errs = check_module(mod, file)
  if #errs > 0 then
    local msgs = {}
    for _, e in ipairs(errs) do msgs[#msgs + 1] = e.message end
    return nil, table.concat(msgs, "; ")
  end
  mod.sandboxed = not builtin
  if not builtin then
    mod.ports, mod.outputs = bounded(mod.ports), bounded(mod.outputs)
    mod.validate = bounded(mod.validate)
  end
  mod.ports = mod.ports or function() return { "next", "error" } end
  mod.outputs = mod.outputs or function() return {} end
  mod.schema = mod.schema or {}
  return mod
end

-- ---- template helpers from the node path ------------------------------------

-- A helper of a sandboxed module runs under the sandbox's bounds (bounded),
-- unless its caller's are armed already (a user node rendering a template).

-- Takes the helpers of a module that returns {helpers = {name = fn}} and
-- no run into `found` (name -> {fn, file}), or returns why it cannot: a
-- helper that is no function, replaces a built-in or is already defined.
local function take_helpers(found, mod, file, sandboxed)
  local template, why = require("moonwire.template"), {}
  if type(mod.helpers) ~= "table" then
    return "helpers must be a table of name = function"
  end
  for name, fn in pairs(mod.helpers) do
    if type(name) ~= "string" or not name:find("^[^%s]+$") then
      why[#why + 1] = format("helper name %s is not a word", tostring(name))
    elseif type(fn) ~= "function" then
      why[#why + 1] = format("helper %q is a %s, not a function", name,
        type(fn))
    elseif template.is_builtin_helper(name) then
      why[#why + 1] = format("helper %q is built in and cannot be replaced",
        name)
    elseif found[name] then
      why[#why + 1] = format("helper %q is already defined by %s", name,
        found[name].file)
    end
  end
  if #why > 0 then return table.concat(why, "; ") end
  for name, fn in pairs(mod.helpers) do
    found[name] = { fn = sandboxed and bounded(fn) or fn, file = file }
  end
end

-- Replaces the helpers of the previous load with those found now.
local function install_helpers(found)
  local template = require("moonwire.template")
  for name in pairs(state.helpers or {}) do template.unregister_helper(name) end
  for name, h in pairs(found) do template.register_helper(name, h.fn) end
  state.helpers = found
end

--- Loads every node type from the node path: the built-in directory first,
--- then the configured ones. A bad or duplicate module is reported and
--- skipped; the others load. A module that returns {helpers = {...}} and no
--- run adds template helpers instead of a node type.
---@param dirs string[]
function M.load_catalog(dirs)
  local catalog, origins, errors, helpers = {}, {}, {}, {}
  for i, dir in ipairs(dirs) do
    local names, lerr = core.list_dir(dir)
    if not names then
      errors[#errors + 1] = { file = dir, message = tostring(lerr)
        .. " (a directory on the node path)" }
      names = {}
    end
    table.sort(names)
    for _, name in ipairs(names) do
      if name:match("%.lua$") and not name:match("_spec%.lua$") then
        local file = dir .. "/" .. name
        local mod, err = load_module(file, i == 1)
        if mod and mod.helpers ~= nil and mod.run == nil then
          err = take_helpers(helpers, mod, file, i > 1)
          if err then errors[#errors + 1] = { file = file, message = err } end
        elseif not mod then
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
  install_helpers(helpers)
  for _, e in ipairs(errors) do
    core.log("warn", format("node module %s refused: %s", e.file, e.message))
  end
  state.catalog, state.origins, state.load_errors = catalog, origins, errors
  return catalog, errors
end

---@param opts table node_dirs
function M.init(opts)
  state.node_dirs = opts.node_dirs or {}
  M.limits.instructions = opts.node_instructions or M.limits.instructions
  M.limits.memory_mb = opts.node_memory_mb or M.limits.memory_mb
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

local secret_names = require("moonwire.secrets")
local is_secret_name = secret_names.is_secret_name
M.is_secret_name = is_secret_name

--- Replaces every secret the execution knows of in text.
function M.scrub(exec, text)
  if type(text) ~= "string" then return text end
  for _, secret in ipairs(exec.secrets or {}) do
    local at = text:find(secret, 1, true)
    while at do
      text = text:sub(1, at - 1) .. "[redacted]" .. text:sub(at + #secret)
      at = text:find(secret, at + 10, true)
    end
  end
  return text
end

local function shallow(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

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
  local settings = opts.settings_complete and shallow(opts.settings)
    or settings_table(integration, opts.settings)
  -- the identity comes from the share alone, as the daemon's intake
  -- finds it (share.incident_id_of_text)
  local incident_id = share.incident_id(vars, settings.incident_key)
  vars.integration = settings
  local meta = vars.metadata
  local history, link = { shares = 0, succeeded = 0 }, nil
  if core.has_store() then
    local herr, lerr
    link, lerr = core.link_get(integration, incident_id)
    if lerr then return nil, "cannot read the saved external ID: " .. lerr end
    -- a saved ID settles firstTime: the history is read only without one
    if link == nil then
      history, herr = core.history_get(integration, incident_id)
      if not history then return nil, "cannot read the share history: " .. herr end
    end
  end
  if link then vars.externalId = json.decode(link) end
  if meta.firstTime == nil then
    meta.firstTime = history.succeeded == 0 and link == nil
  end
  if meta.event_type == nil then
    meta.event_type = meta.firstTime and "incident#new" or "incident#updated"
  end
  if meta.incident_id == nil then meta.incident_id = incident_id end
  -- What the execution scrubs from what it records: the caller's list
  -- when it gives one (the daemon's holds every secret of the
  -- integration), shared until a node adds to it (Ctx:redact copies it
  -- first); else the secret settings and the settings named like secrets.
  local secrets = opts.secrets
  if not secrets then
    secrets = {}
    for _, rec in pairs(core.settings(integration)) do
      if rec.secret and #rec.value >= 4 then secrets[#secrets + 1] = rec.value end
    end
    for name, v in pairs(opts.settings or {}) do
      if type(v) == "string" and #v >= 4 and is_secret_name(name) then
        secrets[#secrets + 1] = v
      end
    end
  end
  -- made at the size it grows to (the walker, the daemon and the nodes
  -- add a score of fields), so that it is never rehashed
  local exec = new_table(0, 32)
  exec.wf, exec.vars, exec.integration = wf, vars, integration
  exec.secrets, exec.secrets_shared = secrets, opts.secrets ~= nil
  exec.incident_id, exec.live = incident_id, opts.live ~= false
  -- what firstTime reads is settled already: no history to record
  exec.not_first = history.succeeded > 0 or link ~= nil
  exec.label, exec.trace = opts.label, json.array(new_table(8, 0))
  exec.started_ms, exec.started_at = now_ms(), core.time()
  return exec
end


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
        copy[k] = (secret_names.is_secret_header(k) and literal) and "[redacted]" or v
      end
      config[f.name] = copy
    end
  end
  return config
end

-- A node's config as traces show it; computed once per loaded workflow,
-- since the config does not change between runs. Traces share the table.
local function redact(node)
  if node.redacted == nil then
    local schema = require("moonwire.schema")
    local fields = node.module.schema
    node.redacted = redact_headers(fields, schema.redact(fields, node.config))
  end
  return node.redacted
end

M.node_input = redact

local function error_text(err)
  if type(err) == "table" then
    return err.message or json.encode(err) or "error"
  end
  return tostring(err)
end

-- A node's error as its user reads it: the message, where it was raised;
-- the traceback goes to the debug log only.
local function handler(err)
  if is_budget(err) then return err.message end
  if type(err) == "string" then
    if core.log_enabled("debug") then core.log("debug", debug.traceback(err, 2)) end
    return err
  end
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

-- Durations are kept to the microsecond: what a clock read says below it
-- is noise, and a number of thousandths is written without printf.
local function round(ms)
  return math.floor(ms * 1000 + 0.5) / 1000
end

--- Runs node i of the execution; called by the walker inside the
--- execution's coroutine. Returns the port to follow, "ok" or "error", and
--- the error text.
---@param exec table
---@param i integer
function M.run_node(exec, i)
  local node = exec.wf.nodes[i]
  -- the daemon stores the workflow version instead of every node's input
  local entry = new_table(0, 8)
  entry.id, entry.type = node.id, node.type
  entry.input = not exec.inputs_by_version and redact(node) or nil
  exec.trace[#exec.trace + 1] = entry
  local ctx = ctxmod.new(exec, node, entry)
  -- a sandboxed node may change any value it can reach
  if node.module.sandboxed then ctxmod.forget_sent(exec) end
  local t0 = now_ms()
  local disarm = node.module.sandboxed and not exec.unbounded and arm_limits()
  local ok, port, err = xpcall(node.module.run, handler, ctx, node.config)
  if disarm then disarm() end
  entry.duration_ms = round(now_ms() - t0)
  if not ok then
    port, err = nil, port
  elseif port ~= nil and type(port) ~= "string" then
    port, err = nil, "run() returned a " .. type(port) .. " instead of a port name"
  elseif port ~= nil and not port_known(node, port) then
    port, err = nil, format("run() returned the port %q, which the node does "
      .. "not declare", port)
  end
  if entry.requests then
    for _, r in ipairs(entry.requests) do
      r.body, r.response = M.scrub(exec, r.body), M.scrub(exec, r.response)
      r.url, r.error = M.scrub(exec, r.url), M.scrub(exec, r.error)
    end
  end
  if port == nil then
    entry.error = M.scrub(exec, error_text(err or "run() returned no port"))
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
  exec.duration_ms = round(now_ms() - exec.started_ms)
  -- firstTime reads one fact of the history: whether an execution of the
  -- incident succeeded. Only a first success that saved no external ID
  -- (a link says as much) is written: later executions cost no write.
  if ok and not exec.not_first and exec.saved_id == nil and core.has_store()
      and exec.live and not exec.test then
    if exec.batch then exec.batch() end
    local hok, herr = core.history_add(exec.integration, exec.incident_id, ok)
    if not hok then core.log("error", "cannot record share history: " .. herr) end
  end
  if exec.on_finish then exec.on_finish(exec) end
end


--- The one-line summary `moonwire run` prints per execution.
---@param exec table
function M.summary(exec)
  local nodes = json.array()
  for _, e in ipairs(exec.trace) do
    nodes[#nodes + 1] = {
      id = e.id, type = e.type, port = e.port,
      duration_ms = round(e.duration_ms or 0), error = e.error,
      requests = not exec.live and e.requests or nil,
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
