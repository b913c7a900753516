-- oauth: obtains a client-credentials bearer token (cached and shared
-- across executions) and stores it as a variable for later requests.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")

local type, pairs, tostring = type, pairs, tostring
local null = json.null

local M = {
  type = "oauth",
  title = "OAuth",
  description = "Gets a Bearer token with the OAuth 2.0 client credentials "
    .. "grant; use it as {{token.access_token}} in later headers.",
}

M.schema = {
  { name = "token_url", kind = "template", mode = "url", required = true,
    title = "Token URL", description = "e.g. {{integration.base_url}}/oauth/token" },
  { name = "client_id", kind = "template", mode = "text", required = true,
    title = "Client ID", description = "e.g. {{integration.client_id}}" },
  { name = "client_secret", kind = "template", mode = "text", required = true,
    secret = true, title = "Client secret",
    description = "Better kept as a secret setting: {{integration.client_secret}}" },
  { name = "grant_type", kind = "enum", enum = { "client_credentials" },
    default = "client_credentials", title = "Grant type" },
  { name = "scope", kind = "template", mode = "text", title = "Scope",
    description = "Space-separated scopes; left out of the request when empty." },
  { name = "auth_method", kind = "enum", enum = { "basic", "post" }, default = "basic",
    title = "Client authentication",
    description = "basic: HTTP Basic header (client_secret_basic); post: "
      .. "credentials in the form body (client_secret_post). Never both." },
  { name = "encode_credentials", kind = "boolean", default = true,
    title = "Form-encode credentials before Basic",
    description = "RFC 6749 says yes; turn off for servers that do not decode." },
  { name = "extra", kind = "object", values = "string", title = "Extra form fields",
    description = "Provider-specific fields such as audience or resource." },
  { name = "output", kind = "variable", default = "token", title = "Output variable" },
  { name = "timeout_ms", kind = "integer", default = 15000, min = 1, max = 600000,
    title = "Timeout (ms)" },
}

function M.ports()
  return { "next", "error" }
end

function M.outputs(config)
  return { config.output or "token" }
end

local function render(ctx, config, name)
  local v = config[name]
  if v == nil or v == null then return nil end
  return ctx:render(tostring(v), { field = "config." .. name,
    mode = name == "token_url" and "url" or "text" })
end

function M.run(ctx, config)
  local o = { auth_method = config.auth_method, grant_type = config.grant_type,
    encode_credentials = config.encode_credentials, timeout_ms = config.timeout_ms }
  for _, name in ipairs({ "token_url", "client_id", "client_secret", "scope" }) do
    local v, err = render(ctx, config, name)
    if v == nil and err then return nil, err end
    o[name] = v
  end
  ctx:redact(o.client_secret)
  if o.client_id == "" or o.client_secret == "" then
    return nil, "client_id or client_secret rendered empty: set the "
      .. "integration settings the templates name"
  end
  if type(config.extra) == "table" then
    o.extra = {}
    for k, v in pairs(config.extra) do o.extra[k] = v end
  end
  local tok, err, cached = ctx:oauth_token(o)
  if not tok then
    return nil, "cannot get a token from " .. tostring(o.token_url) .. ": "
      .. (type(err) == "table" and (err.message or err.code) or tostring(err))
  end
  ctx:redact(tok.access_token)
  ctx:set(config.output or "token", tok, { secret = true })
  if cached then ctx:log("debug", "token reused from cache") end
  return "next"
end

return M
