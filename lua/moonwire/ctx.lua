-- The `ctx` every node's run() receives: variables, templates, HTTP that
-- yields underneath, OAuth tokens, external IDs and logging. The walker
-- (C) performs the I/O; this module shapes requests, results and traces.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")
local path = require("moonwire.path")
local is_secret_header = require("moonwire.secrets").is_secret_header
local http_seconds = require("moonwire.template.date").http_seconds

local type, tostring, pairs, ipairs = type, tostring, pairs, ipairs
local format, lower, find = string.format, string.lower, string.find
local yield = coroutine.yield
local null = json.null

local Ctx = {}
Ctx.__index = Ctx
Ctx.__metatable = false

local M = { Ctx = Ctx }

-- What the runtime keeps about each ctx, out of the node's reach: a node
-- (a user module above all) sees the ctx methods, not the execution. The
-- ctx of a sandboxed node keeps it in `private`, a weak table. The ctx the
-- built-in nodes of an execution share, which no user code ever sees,
-- keeps it in a field of its own (OWN): the execution holds that ctx, and
-- a weak table whose value leads back to its key would keep both alive.
local private = setmetatable({}, { __mode = "k" })
local OWN = {}

local function state(ctx)
  return rawget(ctx, OWN) or private[ctx]
end


-- The node as ctx.node shows it, made once per workflow node for the
-- built-in types (which change nothing they are given).
local function node_view(node)
  local view = node.view
  if not view then
    view = { id = node.id, type = node.type, label = node.label }
    node.view = view
  end
  return view
end

--- The ctx for one node run. The built-in node types of an execution
--- share one ctx, moved on from node to node; a sandboxed node gets one
--- of its own, which nothing else sees.
---@param exec table the execution (runtime.prepare)
---@param node table the workflow node {id, type, config}
---@param entry table the node's trace entry, filled in as it runs
function M.new(exec, node, entry)
  local sandboxed = node.module == nil or node.module.sandboxed == true
  local ctx = not sandboxed and exec.ctx
  if ctx then
    ctx.node = node_view(node)
    rawget(ctx, OWN).entry = entry
    return ctx
  end
  ctx = setmetatable({
    node = sandboxed and { id = node.id, type = node.type, label = node.label }
      or node_view(node),
    integration = exec.vars.integration,
    incident_id = exec.incident_id,
    share_id = exec.share_id,
    live = exec.live,
  }, Ctx)
  local own = { exec = exec, entry = entry, sandboxed = sandboxed }
  if sandboxed then
    private[ctx] = own
  else
    rawset(ctx, OWN, own)
    exec.ctx = ctx
  end
  return ctx
end

--- Forgets which values were sent as request bodies: from here on, one
--- of them may be changed (by a set inside it, by a sandboxed node or a
--- template helper of the node path), so its text no longer stands for it.
function M.forget_sent(exec)
  exec.sent = nil
end

--- The execution behind a ctx, for runtime modules (oauth); nil for
--- anything that is not a ctx.
function M.exec_of(ctx)
  local p = type(ctx) == "table" and state(ctx)
  return p and p.exec
end

--- Reads a variable by path (`createResponse.id`); nil when missing.
---@param p string
function Ctx:get(p)
  return path.get(state(self).exec.vars, p)
end

--- Sets a variable (a name or a path) and records it as node output;
--- opts.secret keeps the value out of the trace.
---@param p string
---@param value any
---@param opts table|nil
function Ctx:set(p, value, opts)
  local exec = state(self).exec
  local ok, err = path.set(exec.vars, p, value)
  if not ok then error(err, 2) end
  -- a set inside a value may change one that was sent as a body
  if exec.sent and find(p, "[.%[]") then M.forget_sent(exec) end
  local out = state(self).entry.output or {}
  out[p] = (opts and opts.secret) and "[redacted]" or value
  state(self).entry.output = out
end

--- Marks a value as secret for this execution: it is replaced by
--- "[redacted]" wherever it would show in errors and traces.
---@param value string
function Ctx:redact(value)
  if type(value) == "string" and #value >= 4 then
    local exec = state(self).exec
    local list = exec.secrets
    if exec.secrets_shared then
      -- the list is the integration's (runtime.prepare): this value is
      -- the execution's alone
      local own = {}
      for i = 1, #list do own[i] = list[i] end
      list, exec.secrets, exec.secrets_shared = own, own, false
    end
    list[#list + 1] = value
  end
end

--- All variables (read-only by convention).
function Ctx:vars()
  return state(self).exec.vars
end

local function template_error(self, what, err)
  local where = ""
  if type(err) == "table" and err.line then
    where = format(" (line %d, column %d)", err.line, err.col or 0)
  end
  local msg = type(err) == "table" and (err.message or tostring(err)) or tostring(err)
  return format("template%s of node %s%s: %s", what and (" " .. what) or "",
    self.node.id, where, msg)
end

local NO_OPTS = {}

--- Renders a template to text. opts.mode: "text" (default), "json", "html";
--- opts.field names the config field for errors.
---@param src string
---@param opts table|nil
---@return string|nil text
---@return string|nil err
function Ctx:render(src, opts)
  local template = require("moonwire.template")
  local exec = state(self).exec
  if exec.sent and template.has_user_helpers() then M.forget_sent(exec) end
  opts = opts or NO_OPTS
  local tpl, err = template.compile_as(src, opts.mode or "text", opts.missing,
    opts.field)
  if not tpl then return nil, template_error(self, opts.field, err) end
  local out, rerr = tpl:render(exec.vars)
  if not out then return nil, template_error(self, opts.field, rerr) end
  return out
end

--- Renders a json-mode template and returns the decoded value.
---@param src string
---@param opts table|nil
function Ctx:render_value(src, opts)
  local template = require("moonwire.template")
  local exec = state(self).exec
  if exec.sent and template.has_user_helpers() then M.forget_sent(exec) end
  opts = opts or NO_OPTS
  local tpl, err = template.compile_as(src, "json", opts.missing, opts.field)
  if not tpl then return nil, template_error(self, opts.field, err) end
  -- values may share parts when no code of the node path can change one
  local share = exec.wf ~= nil and exec.wf.builtin_only
    and not template.has_user_helpers()
  local v, rerr = tpl:render_value(exec.vars, share)
  if v == nil then return nil, template_error(self, opts.field, rerr) end
  return v
end

--- Logs a line tagged with the node; never pass secrets.
function Ctx:log(level, fmt, ...)
  if not core.log_enabled(level) then return end
  local exec = state(self).exec
  local msg = select("#", ...) > 0 and format(fmt, ...) or tostring(fmt)
  msg = require("moonwire.runtime").scrub(exec, msg)
  core.log(level, format("[node:%s:%s] share=%s incident=%s %s", self.node.type,
    self.node.id, tostring(exec.share_id or "-"), tostring(exec.incident_id), msg))
end

--- Pauses this execution (other executions go on).
---@param ms number
function Ctx:sleep(ms)
  local stub = state(self).exec.sleep_stub
  if stub then return stub(ms) end
  yield("sleep", ms)
end

-- ---- HTTP ---------------------------------------------------------------

-- Adds one header to the request's lines and to what the trace shows.
local function add_header(lines, shown, name, value)
  name, value = tostring(name), tostring(value)
  if find(name, "[%c:]") or name == "" or find(value, "[\r\n%z]") then
    return nil, format("header %q has a name or value with a line break, "
      .. "a colon or a control character", name)
  end
  lines[#lines + 1] = name .. ": " .. value
  shown[name] = is_secret_header(name) and "[redacted]" or value
  return true
end

-- The request's header lines and what the trace shows of them: a list
-- of {name, value} in its order, a map's lines sorted (so the same map
-- always goes out the same way). extra_name and extra_value add one
-- header more (the idempotency key).
local function header_lines(headers, extra_name, extra_value)
  local lines, shown = {}, {}
  local listed = headers and (json.is_array(headers) or headers[1] ~= nil)
  if listed then
    for _, h in ipairs(headers) do
      local ok, err = add_header(lines, shown, h.name or h[1], h.value or h[2])
      if not ok then return nil, nil, err end
    end
  elseif headers then
    for k, v in pairs(headers) do
      if v ~= null then
        local ok, err = add_header(lines, shown, k, v)
        if not ok then return nil, nil, err end
      end
    end
  end
  if extra_name then add_header(lines, shown, extra_name, extra_value) end
  if not listed then table.sort(lines) end
  return lines, shown
end

local function has_key_ci(headers, name)
  if type(headers) ~= "table" then return false end
  for k, v in pairs(headers) do
    local key = type(k) == "string" and k or (type(v) == "table" and (v.name or v[1]))
    if type(key) == "string" and lower(key) == name then return true end
  end
  return false
end

local function has_header(lines, name)
  local prefix = lower(name) .. ":"
  for _, l in ipairs(lines) do
    if lower(l):sub(1, #prefix) == prefix then return true end
  end
  return false
end

local function excerpt(s, n)
  n = n or 2048
  if #s <= n then return s end
  return s:sub(1, n) .. format("... (%d more bytes)", #s - n)
end

-- Retry-After (RFC 9110, 10.2.3) in milliseconds: delay seconds, or an
-- HTTP-date counted from the answer's own Date when it has one (the
-- target's clock, whatever ours says), else from our clock. nil when
-- absent or unreadable.
local function retry_after_ms(headers)
  local v = headers["retry-after"]
  if type(v) ~= "string" then return nil end
  local secs = v:match("^%s*(%d+%.?%d*)%s*$")
  if secs then return tonumber(secs) * 1000 end
  local at = http_seconds(v)
  if not at then return nil end
  local now = http_seconds(headers["date"]) or core.time()
  return at > now and (at - now) * 1000 or 0
end

local function decode_body(res)
  local ctype = lower(res.headers["content-type"] or "")
  local body = res.body
  local first = body:match("^%s*(.)")
  if body == "" then return end
  if find(ctype, "json", 1, true) or first == "{" or first == "[" then
    local v, err = json.decode(body)
    if v ~= nil then
      res.json = v
    elseif find(ctype, "json", 1, true) then
      res.json_error = err
    end
  end
end

--- Sends an HTTP request; yields until the response (or failure) is in.
--- req: method, url, headers (map or list of {name, value}), body (string,
--- or a table sent as JSON), timeout_ms, connect_timeout_ms.
--- Returns res {status, headers (lower-case names), body, json,
--- retry_after_ms} or nil, err {code, message}. A non-2xx status is a
--- response, not an error.
---@param req table
function Ctx:http(req)
  local method = (req.method or "GET"):upper()
  local url = req.url
  if type(url) ~= "string" or not url:match("^[hH][tT][tT][pP][sS]?://[^/%s]") then
    return nil, { code = "E_HTTP_URL",
      message = format("URL %q is not an http:// or https:// URL", tostring(url)) }
  end
  if find(url, "[%s%c]") then
    return nil, { code = "E_HTTP_URL",
      message = format("URL %q contains spaces or control characters", url) }
  end
  local body = req.body
  local exec = state(self).exec
  local headers = req.headers
  -- Every request a node sends for a share carries a key that is the same
  -- on every attempt and every re-run of that share, so that a target can
  -- tell a repeat from a new request.
  local key
  if exec.share_id and method ~= "GET" and method ~= "HEAD"
      and not has_key_ci(headers, "idempotency-key") then
    key = format("mw-%s-%s", tostring(exec.share_id), self.node.id)
  end
  local lines, shown, herr = header_lines(headers, key and "Idempotency-Key", key)
  if not lines then return nil, { code = "E_HTTP_HEADER", message = herr } end
  if type(body) == "table" then
    local text, err = json.encode(body)
    if not text then return nil, { code = "E_JSON", message = err } end
    body = text
    if not has_header(lines, "content-type") then
      lines[#lines + 1] = "Content-Type: application/json"
      shown["Content-Type"] = "application/json"
    end
  elseif body ~= nil and type(body) ~= "string" then
    body = tostring(body)
  end

  local record = {
    method = method, url = url, headers = shown,
    body = body and excerpt(body) or nil,
  }
  local entry = state(self).entry
  entry.requests = entry.requests or json.array()
  entry.requests[#entry.requests + 1] = record
  -- A body that is the JSON of a value (req.body_value) may be stored as a
  -- reference to the output holding that value, and that output's trace
  -- takes the text already written (daemon.save_execution).
  if type(req.body_value) == "table" and type(body) == "string"
      and not state(self).sandboxed then
    local sent = exec.sent or { records = {}, texts = {} }
    exec.sent = sent
    if record.body == body then sent.records[record] = req.body_value end
    sent.texts[req.body_value] = body
  end

  if not state(self).exec.live then
    record.dry_run = true
    return { status = 0, headers = {}, body = "", dry_run = true }
  end
  local send = state(self).exec.http_stub
  if send then
    local raw = {}
    for _, l in ipairs(lines) do
      local name, value = l:match("^([^:]+): (.*)$")
      raw[name] = value
    end
    local res, err = send({ method = method, url = url, headers = raw, body = body })
    if not res then record.error = err and err.message; return nil, err end
    res.headers = res.headers or {}
    res.body = res.body or ""
    record.status = res.status
    res.retry_after_ms = retry_after_ms(res.headers)
    decode_body(res)
    return res
  end
  local res, err = yield("http", {
    method = method, url = url, headers = lines, body = body,
    timeout_ms = req.timeout_ms, connect_timeout_ms = req.connect_timeout_ms,
    max_body = req.max_body,
  })
  if not res then
    record.error = err.message
    record.duration_ms = err.duration_ms
    return nil, err
  end
  record.status = res.status
  record.duration_ms = res.duration_ms
  record.response = excerpt(res.body, 1024)
  res.retry_after_ms = retry_after_ms(res.headers)
  decode_body(res)
  return res
end

-- ---- OAuth and external IDs -------------------------------------------------

--- Returns a client-credentials token, shared and cached (moonwire.oauth).
---@param opts table token_url, client_id, client_secret, scope, auth_method, extra
function Ctx:oauth_token(opts)
  return require("moonwire.oauth").token(self, opts)
end

--- Links the external ID to this incident; later shares see it as the
--- variable `externalId`. opts.unlock releases shares waiting on the ID.
---@param value any
---@param opts table|nil
function Ctx:save_id(value, opts)
  local exec = state(self).exec
  if value == nil or value == null or value == "" then
    return nil, "the external ID is missing or empty"
  end
  local vt = type(value)
  if vt == "table" and not json.is_bignum(value) then
    return nil, "the external ID must be a string or a number, not an "
      .. (json.is_array(value) and "array" or "object")
  end
  local text, err = json.encode(value)
  if not text then return nil, err end
  if exec.save_link then
    exec.save_link(exec.integration, exec.incident_id, text)
  elseif core.has_store() then
    if exec.batch then exec.batch() end
    local ok, serr = core.link_put(exec.integration, exec.incident_id, text)
    if not ok then return nil, serr end
  elseif exec.live then
    return nil, "no database is open to save the external ID in"
  end
  exec.vars.externalId = value
  exec.saved_id = value
  state(self).entry.saved_id = value
  if opts and opts.unlock and exec.on_unlock then exec.on_unlock(exec) end
  return true
end

return M
