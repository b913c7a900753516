-- OAuth 2.0 client-credentials tokens (RFC 6749 4.4): the token request,
-- a cache per (token URL, client id, scope) kept until shortly before
-- expiry, and one request in flight per key however many executions ask.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")

local type, tostring, tonumber, pairs = type, tostring, tonumber, pairs
local format, byte, gsub = string.format, string.byte, string.gsub
local yield = coroutine.yield
local null = json.null

local M = {}

-- Lifetime assumed when the provider sends no expires_in, in seconds.
M.DEFAULT_LIFETIME = 300
-- Refresh this long before expiry: 30 s, or a tenth of a short lifetime.
M.MAX_MARGIN = 30

local cache = {}

--- application/x-www-form-urlencoded (RFC 6749 appendix B).
---@param s string
function M.form_encode(s)
  return (gsub(tostring(s), "[^%w%-%._~ ]", function(c)
    return format("%%%02X", byte(c))
  end):gsub(" ", "+"))
end

local function form(fields)
  local names, parts = {}, {}
  for k in pairs(fields) do names[#names + 1] = k end
  table.sort(names, function(a, b)
    if a == "grant_type" then return b ~= "grant_type" end
    if b == "grant_type" then return false end
    return a < b
  end)
  for _, k in ipairs(names) do
    parts[#parts + 1] = M.form_encode(k) .. "=" .. M.form_encode(fields[k])
  end
  return table.concat(parts, "&")
end

local function provider_error(res)
  local j = res.json
  local msg = format("token endpoint answered HTTP %d", res.status)
  if type(j) == "table" and type(j.error) == "string" then
    msg = msg .. ": " .. j.error
    if type(j.error_description) == "string" then
      msg = msg .. " (" .. j.error_description .. ")"
    end
  elseif res.body ~= "" then
    msg = msg .. ": " .. res.body:sub(1, 200)
  end
  return { code = "E_OAUTH", message = msg, status = res.status,
    error = type(j) == "table" and j.error or nil,
    error_description = type(j) == "table" and j.error_description or nil }
end

-- Sends the token request; returns the token table or nil, err.
local function fetch(ctx, o)
  local fields = { grant_type = o.grant_type or "client_credentials" }
  if o.scope and o.scope ~= "" and o.scope ~= null then fields.scope = o.scope end
  for k, v in pairs(o.extra or {}) do
    if v ~= null then fields[k] = tostring(v) end
  end
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    Accept = "application/json",
  }
  if o.auth_method == "post" then
    fields.client_id, fields.client_secret = o.client_id, o.client_secret
  else
    local id, secret = o.client_id, o.client_secret
    if o.encode_credentials ~= false then
      id, secret = M.form_encode(id), M.form_encode(secret)
    end
    headers.Authorization = "Basic " .. core.base64(id .. ":" .. secret)
  end
  local res, err = ctx:http{
    method = "POST", url = o.token_url, headers = headers, body = form(fields),
    timeout_ms = o.timeout_ms,
  }
  if not res then return nil, err end
  if res.dry_run then
    return { access_token = "dry-run-token", token_type = "Bearer",
      expires_in = 0 }
  end
  if res.status < 200 or res.status > 299 then return nil, provider_error(res) end
  local j = res.json
  if type(j) ~= "table" or type(j.access_token) ~= "string" or j.access_token == "" then
    return nil, { code = "E_OAUTH", status = res.status,
      message = "token endpoint answered without an access_token" }
  end
  return j
end

local function lifetime(tok)
  local s = tonumber(tok.expires_in)
  if not s or s <= 0 then return M.DEFAULT_LIFETIME end
  return s
end

--- Returns a token for ctx's execution: from the cache, by waiting for a
--- request already in flight, or by asking the token endpoint.
---@param ctx table
---@param o table token_url, client_id, client_secret, scope, auth_method, extra
function M.token(ctx, o)
  local key = table.concat({ o.token_url or "", o.client_id or "",
    o.scope or "" }, "\0")
  local now = core.time()
  -- A dry run's made-up token never enters the shared cache.
  local cacheable = ctx.live
  local e = cache[key]
  if e and e.token and e.expires_at > now and cacheable then
    return e.token, nil, true
  end
  if e and e.waiters then
    local id = require("moonwire.ctx").exec_of(ctx).id
    e.waiters[#e.waiters + 1] = id
    yield("park")
    if e.token then return e.token, nil, true end
    return nil, e.err
  end
  e = { waiters = {} }
  cache[key] = e
  local tok, err = fetch(ctx, o)
  local waiters = e.waiters
  e.waiters = nil
  if tok and cacheable then
    local life = lifetime(tok)
    e.token = tok
    e.expires_at = now + life - math.min(M.MAX_MARGIN, life / 10)
  else
    e.err = err
    if cache[key] == e then cache[key] = nil end
  end
  for _, id in ipairs(waiters) do core.wake(id) end
  return tok, err, false
end

--- Forgets every cached token (tests, reloads).
function M.clear()
  cache = {}
end

return M
