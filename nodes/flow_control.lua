-- flow_control: a switch on one variable. Each route names a port and the
-- values that select it; exactly one route is taken, `default` when none
-- matches or the variable is missing.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")

local type, tostring, ipairs = type, tostring, ipairs
local null = json.null

local M = {
  type = "flow_control",
  title = "Flow control",
  description = "Routes the execution by the value of one variable, like a "
    .. "switch statement. Numbers and booleans match their text form, so 20 "
    .. "matches \"20\" and true matches \"true\".",
}

M.schema = {
  { name = "source", kind = "path", required = true, title = "Source variable",
    description = "The variable to switch on, e.g. metadata.event_type." },
  { name = "routes", kind = "array", required = true, min = 1, title = "Routes",
    description = "Each route names its port and the values that select it.",
    items = {
      { name = "port", kind = "variable", required = true,
        description = "The port name; wire it to the next node on the canvas." },
      { name = "value", kind = "json",
        description = "One value that selects this route." },
      { name = "values", kind = "array", items = "json",
        description = "Several values that select this route." },
    } },
}

function M.ports(config)
  local ports = {}
  for _, r in ipairs(config.routes or {}) do
    if type(r) == "table" and type(r.port) == "string" then
      ports[#ports + 1] = r.port
    end
  end
  ports[#ports + 1] = "default"
  return ports
end

function M.outputs()
  return {}
end

function M.validate(config)
  local errs, seen = {}, {}
  for i, r in ipairs(type(config.routes) == "table" and config.routes or {}) do
    local at = "routes[" .. (i - 1) .. "]"
    if type(r) == "table" then
      if r.port == "default" then
        errs[#errs + 1] = { path = at .. ".port", message = "the port name "
          .. "\"default\" is reserved for the route taken when nothing matches" }
      elseif r.port and seen[r.port] then
        errs[#errs + 1] = { path = at .. ".port", message = "port \""
          .. tostring(r.port) .. "\" is used by two routes; give each a "
          .. "different name" }
      end
      if r.port then seen[r.port] = true end
      if type(r.values) == "table" and next(r.values) == nil then
        errs[#errs + 1] = { path = at .. ".values", message = "a route with no "
          .. "values can never be taken; list at least one value" }
      end
      if (r.value == nil) == (r.values == nil) then
        errs[#errs + 1] = { path = at, message = "give the route either "
          .. "\"value\" or \"values\" (exactly one of them)" }
      end
    end
  end
  return errs
end

--- The text a value is compared by: numbers in JSON form, booleans as
--- true/false, null as null; objects and arrays never match.
local function key(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then return json.encode(v) end
  if v == null then return "null" end
  if t == "table" and json.is_bignum(v) then return tostring(v) end
  return nil
end
M.match_key = key

function M.run(ctx, config)
  local actual = key(ctx:get(config.source))
  if actual == nil then return "default" end
  for _, r in ipairs(config.routes) do
    if r.value ~= nil and key(r.value) == actual then return r.port end
    for _, v in ipairs(r.values or {}) do
      if key(v) == actual then return r.port end
    end
  end
  return "default"
end

return M
