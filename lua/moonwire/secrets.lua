-- What counts as a credential by its name: setting names (client_secret,
-- api_key, *token, ...) and header names (Authorization, X-Api-Key, ...).
-- One list, used by the API, the runtime, traces and exports alike.
-- SPDX-License-Identifier: MIT

local M = {}

local find, lower, tostring = string.find, string.lower, tostring

--- Header names whose values are credentials (lower case).
M.HEADERS = {
  authorization = true, ["proxy-authorization"] = true, cookie = true,
  ["x-api-key"] = true, ["api-key"] = true,
}

--- True for a setting or field name that names a credential.
---@param name any
---@return boolean
function M.is_secret_name(name)
  local n = lower(tostring(name))
  return (find(n, "secret", 1, true) or find(n, "password", 1, true)
    or find(n, "token", 1, true) or find(n, "api_?key") or find(n, "private", 1, true)
    or find(n, "routing_key", 1, true) or find(n, "credential", 1, true)) ~= nil
end

--- True for a header name whose value is a credential.
---@param name any
---@return boolean
function M.is_secret_header(name)
  return M.HEADERS[lower(tostring(name))] == true
end

return M
