-- http_request: sends one HTTP request, with templated URL, headers and
-- body, bounded retries, and the response stored as variables. A status
-- outside the success set takes the `error` port.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")

local type, tostring, tonumber, ipairs, pairs = type, tostring, tonumber, ipairs, pairs
local format, lower, floor, min, random = string.format, string.lower,
  math.floor, math.min, math.random
local null = json.null

local M = {
  type = "http_request",
  title = "HTTP request",
  description = "Sends an HTTP request to an external system and stores the "
    .. "response body, status and headers as variables.",
}

M.schema = {
  { name = "method", kind = "enum", default = "POST",
    enum = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" }, title = "Method" },
  { name = "url", kind = "template", mode = "url", required = true, title = "URL",
    description = "The endpoint, e.g. {{integration.base_url}}/tickets/{{externalId}}. "
      .. "Values in the path or query are percent-encoded; {{{triple}}} inserts as is." },
  { name = "headers", kind = "headers", title = "Headers",
    description = "A JSON object of header names and values (values may be "
      .. "templates), e.g. {\"Authorization\": \"Bearer {{token.access_token}}\"}." },
  { name = "body", kind = "body", mode = "json", title = "Body",
    description = "The request body. With a JSON content type (the default) "
      .. "it is a json-mode template; an object is sent as JSON." },
  { name = "transform_request", kind = "boolean", default = true,
    title = "Perform request transformation",
    description = "Render the URL, headers and body as templates first." },
  { name = "output", kind = "variable", default = "response", title = "Output variable",
    description = "The response body goes here (parsed when it is JSON); the "
      .. "status code under <output>Status, headers under <output>Headers." },
  { name = "success", kind = "array", items = "integer", title = "Success statuses",
    description = "Statuses that count as success; default: any 2xx." },
  { name = "timeout_ms", kind = "integer", default = 30000, min = 1, max = 600000,
    title = "Total timeout (ms)" },
  { name = "connect_timeout_ms", kind = "integer", default = 10000, min = 1,
    max = 600000, title = "Connect timeout (ms)" },
  { name = "retry", kind = "object", title = "Retries",
    description = "attempts (default 3), statuses (default [429, 502, 503, "
      .. "504]), backoff_ms (default 500), max_backoff_ms (default 30000)." },
}

function M.ports()
  return { "next", "error" }
end

function M.outputs(config)
  local out = config.output or "response"
  return { out, out .. "Status", out .. "Headers" }
end

-- The keys of `retry`, their bounds, and what a user reads when a value is
-- out of them.
local RETRY_FIELDS = {
  attempts = { 1, 10, "a whole number from 1 to 10" },
  backoff_ms = { 0, 600000, "a whole number of milliseconds up to 600000" },
  max_backoff_ms = { 0, 3600000, "a whole number of milliseconds up to 3600000" },
}

local function check_retry(r, errs)
  for k, v in pairs(r) do
    local f = RETRY_FIELDS[k]
    if k == "statuses" then
      if type(v) ~= "table" or not json.is_array(v) and next(v) ~= nil then
        errs[#errs + 1] = { path = "retry.statuses", message = "retry.statuses "
          .. "must be an array of HTTP statuses such as [429, 503]" }
      else
        for i, st in ipairs(v) do
          if type(st) ~= "number" or st % 1 ~= 0 or st < 100 or st > 599 then
            errs[#errs + 1] = { path = "retry.statuses[" .. (i - 1) .. "]",
              message = "an HTTP status must be a whole number from 100 to 599" }
          end
        end
      end
    elseif not f then
      errs[#errs + 1] = { path = "retry." .. tostring(k), message = "unknown "
        .. "retry setting; use attempts, statuses, backoff_ms or max_backoff_ms" }
    elseif type(v) ~= "number" or v % 1 ~= 0 or v < f[1] or v > f[2] then
      errs[#errs + 1] = { path = "retry." .. k, message = "retry." .. k
        .. " must be " .. f[3] }
    end
  end
end

function M.validate(config)
  local errs = {}
  if type(config.retry) == "table" then check_retry(config.retry, errs) end
  for i, st in ipairs(type(config.success) == "table" and config.success or {}) do
    if type(st) == "number" and (st < 100 or st > 599) then
      errs[#errs + 1] = { path = "success[" .. (i - 1) .. "]",
        message = "an HTTP status must be a whole number from 100 to 599" }
    end
  end
  return errs
end

local DEFAULT_RETRY = { attempts = 3, statuses = { 429, 502, 503, 504 },
  backoff_ms = 500, max_backoff_ms = 30000 }

-- Methods that may be sent again after a timeout without creating twice.
local IDEMPOTENT = { GET = true, HEAD = true, PUT = true, DELETE = true }
-- Transport failures where the request never reached the server.
local NEVER_SENT = { E_HTTP_CONNECT = true, E_HTTP_RESOLVE = true }

-- Policies by node config: a loaded workflow's config does not change.
local policies = setmetatable({}, { __mode = "k" })

local function retry_policy(config)
  local cached = policies[config]
  if cached then return cached end
  local r = type(config.retry) == "table" and config.retry or {}
  local statuses = {}
  local list = r.statuses ~= nil and r.statuses ~= null and r.statuses
    or DEFAULT_RETRY.statuses
  for _, s in ipairs(list) do statuses[tonumber(s) or -1] = true end
  cached = {
    attempts = math.max(1, tonumber(r.attempts) or DEFAULT_RETRY.attempts),
    statuses = statuses,
    backoff_ms = tonumber(r.backoff_ms) or DEFAULT_RETRY.backoff_ms,
    max_backoff_ms = tonumber(r.max_backoff_ms) or DEFAULT_RETRY.max_backoff_ms,
  }
  policies[config] = cached
  return cached
end

local function backoff_ms(policy, attempt, res)
  local wait = res and res.retry_after_ms -- ctx:http read Retry-After
  if not wait then
    local ceiling = min(policy.max_backoff_ms, policy.backoff_ms * 2 ^ (attempt - 1))
    wait = ceiling / 2 + random() * ceiling / 2
  end
  return min(wait, policy.max_backoff_ms)
end

local function is_success(config, status)
  if type(config.success) == "table" and #config.success > 0 then
    for _, s in ipairs(config.success) do
      if tonumber(s) == status then return true end
    end
    return false
  end
  return status >= 200 and status <= 299
end

local function content_type(headers)
  for k, v in pairs(headers) do
    if lower(k) == "content-type" then return lower(tostring(v)) end
  end
  return nil
end

-- Render options, made once.
local HEADERS_OPTS = { field = "config.headers" }
local BODY_JSON = { mode = "json", field = "config.body" }
local BODY_TEXT = { mode = "text", field = "config.body" }
local URL_OPTS = { mode = "url", field = "config.url" }

-- Header tables of configs whose headers hold no template: the same every
-- run, so made once per node config (build_body may add Content-Type to
-- one, which it would do on every run alike).
local fixed_headers = setmetatable({}, { __mode = "k" })

-- Headers as a table of strings, rendering values when templating is on.
local function build_headers(ctx, config)
  local fixed = fixed_headers[config]
  if fixed then return fixed end
  local h = config.headers
  if h == nil or h == null or h == "" then return {} end
  if type(h) == "string" then
    local v, err
    if config.transform_request then
      v, err = ctx:render_value(h, HEADERS_OPTS)
    else
      v, err = json.decode(h)
    end
    if type(v) ~= "table" or json.is_array(v) then
      return nil, "config.headers must be a JSON object of header values"
        .. (err and (": " .. tostring(err)) or "")
    end
    h = v
  end
  local out, rendered = {}, h ~= config.headers
  for k, v in pairs(h) do
    if v ~= null then
      v = type(v) == "string" and v or (json.encode(v) or tostring(v))
      if config.transform_request and type(h) == "table" and v:find("{{", 1, true) then
        local r, err = ctx:render(v, { field = "config.headers." .. k })
        if not r then return nil, err end
        v, rendered = r, true
      end
      out[k] = v
    end
  end
  if not rendered then fixed_headers[config] = out end
  return out
end

-- Node configs whose body is one {{variable}}: config -> its path, or
-- false.
local only_variable = setmetatable({}, { __mode = "k" })

local function build_body(ctx, config, headers)
  local b = config.body
  if b == nil or b == null then return nil end
  local ctype = content_type(headers)
  if ctype == nil and config.method ~= "GET" and config.method ~= "HEAD" then
    headers["Content-Type"] = "application/json"
    ctype = "application/json"
  end
  if type(b) == "table" then return json.encode(b) end
  b = tostring(b)
  if not config.transform_request then return b end
  -- A JSON body that is one variable ({{createPayload}}) is that value's
  -- JSON: no template pass and no second parse.
  local only = only_variable[config]
  if only == nil then
    only = b:match("^%s*{{%s*([%w_]+[%w_.]*)%s*}}%s*$") or false
    only_variable[config] = only
  end
  if only and ctype and ctype:find("json", 1, true) then
    local v = ctx:get(only)
    if v ~= nil then
      local text, eerr = json.encode(v)
      return text, eerr, v
    end
  end
  local is_json = ctype and ctype:find("json", 1, true)
  return ctx:render(b, is_json and BODY_JSON or BODY_TEXT)
end

local function describe_failure(method, url, res, err)
  if not res then
    return format("%s %s failed: %s", method, url, err.message or err.code)
  end
  local body = res.body or ""
  if #body > 300 then body = body:sub(1, 300) .. "..." end
  return format("%s %s answered HTTP %d%s", method, url, res.status,
    body ~= "" and (": " .. body) or "")
end

function M.run(ctx, config)
  local method = config.method or "POST"
  local url, err = config.url, nil
  if config.transform_request then
    url, err = ctx:render(config.url, URL_OPTS)
    if not url then return nil, err end
  end
  if not url:match("^[hH][tT][tT][pP][sS]?://[^/]") then
    return nil, string.format("the URL rendered as %q from %q is not an "
      .. "http(s) URL; is a setting it names (such as integration.base_url) "
      .. "missing?", url, config.url)
  end
  local headers, herr = build_headers(ctx, config)
  if not headers then return nil, herr end
  local body, berr, body_value = build_body(ctx, config, headers)
  if config.body ~= nil and config.body ~= null and body == nil then
    return nil, berr
  end

  local policy = retry_policy(config)
  local req = { method = method, url = url, headers = headers, body = body,
    body_value = body_value,
    timeout_ms = config.timeout_ms, connect_timeout_ms = config.connect_timeout_ms }
  local res, rerr
  for attempt = 1, policy.attempts do
    res, rerr = ctx:http(req)
    local again
    if res then
      again = policy.statuses[res.status] == true
    else
      again = NEVER_SENT[rerr.code] or (IDEMPOTENT[method] and rerr.code ~= "E_HTTP_URL"
        and rerr.code ~= "E_HTTP_HEADER")
    end
    if not again or attempt == policy.attempts then break end
    local wait = backoff_ms(policy, attempt, res)
    ctx:log("info", "attempt %d of %s %s got %s; retrying in %d ms", attempt,
      method, url, res and ("HTTP " .. res.status) or rerr.code, floor(wait))
    ctx:sleep(wait)
  end

  local out = config.output or "response"
  if res then
    local value = res.json
    if value == nil then value = res.body ~= "" and res.body or null end
    ctx:set(out, value)
    ctx:set(out .. "Status", res.status)
    ctx:set(out .. "Headers", res.headers)
  end
  if res and res.dry_run then return "next" end
  if not res or not is_success(config, res.status) then
    return nil, describe_failure(method, url, res, rerr)
  end
  if res.json_error then
    return nil, format("%s %s answered HTTP %d with a JSON content type, but "
      .. "its body does not parse (%s); the record may exist on the other side",
      method, url, res.status, res.json_error)
  end
  return "next"
end

return M
