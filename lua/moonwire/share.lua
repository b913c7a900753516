-- Shares as they arrive: an envelope {incident, metadata, ...} or a bare
-- incident object. Normalises both into execution variables and finds the
-- incident's identity; the store and the walker are left to others.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local path = require("moonwire.path")

local type, tostring, pairs, ipairs = type, tostring, pairs, ipairs
local null = json.null

local M = {}

-- Where a bare payload keeps the identity of the thing it reports, in the
-- order tried: BigPanda, its custom webhook body, Opsgenie, PagerDuty v3,
-- Alertmanager and Grafana group keys, Datadog.
M.identity_paths = {
  "id", "incident_id", "alert.alertId", "alert.alias", "event.data.id",
  "groupKey", "alert_id",
}

-- Identities are stored as text keys: "%" and NUL are escaped so that
-- every distinct id stays distinct.
local function scalar_text(v)
  local t = type(v)
  if t == "string" and v ~= "" then
    if not v:find("[%%%z]") then return v end -- the common case: as it is
    return (v:gsub("%%", "%%25"):gsub("%z", "%%00"))
  end
  if t == "number" then return json.encode(v) end
  if t == "table" and json.is_bignum(v) then return tostring(v) end
  return nil
end

-- FNV-1a over the canonical JSON text: a stable identity for payloads
-- that carry none of the known id fields.
local function content_key(value)
  local text = json.encode(value) or ""
  local h = 2166136261
  for i = 1, #text do
    h = bit.bxor(h, text:byte(i))
    h = bit.band(bit.tobit(h * 16777619), 0xffffffff)
  end
  return "content-" .. bit.tohex(h)
end

--- Finds the incident identity of a normalised share.
---@param vars table execution variables (incident, metadata, ...)
---@param key_path string|nil an integration's explicit `incident_key`
---@return string
function M.incident_id(vars, key_path)
  if key_path then
    local v = scalar_text(path.get(vars, key_path))
    if v then return v end
  end
  local incident = vars.incident
  for _, p in ipairs(M.identity_paths) do
    local v = scalar_text(path.get(incident, p))
    if v then return v end
  end
  return content_key(incident)
end

-- ---- identity from the JSON text ----------------------------------------------

local lookup = json.lookup
local INCIDENT = { "incident" }
local as_variable = {} -- identity path -> "incident.<path>"

-- keys: the path segments after prefix, or nil when a segment could index
-- an array (path.get would step into it; lookup reads only objects).
local function keys_of(prefix, segs, from)
  local keys = {}
  for i = 1, #prefix do keys[i] = prefix[i] end
  for i = from, #segs do
    if segs[i]:find("^%d+$") then return nil end
    keys[#keys + 1] = segs[i]
  end
  return keys
end

-- The scalar text at the variable path `p` of the share held in `text`,
-- whose incident is at `base` (the envelope's "incident", or the whole
-- text). false when the share has nothing there, nil when only a full
-- decode can tell.
local function text_at(text, base, p)
  local segs = path.parse(p)
  if not segs then return false end
  local head = segs[1]
  local keys
  if head == "incident" then
    keys = keys_of(base, segs, 2)
  elseif head == "metadata" and #segs == 1 then
    return false -- normalize makes it an object: never a scalar
  elseif #base > 0 then
    keys = keys_of({}, segs, 1) -- the envelope's own members
  else
    return false -- a bare incident's variables are incident and metadata
  end
  if not keys then return nil end
  local kind, v = lookup(text, keys)
  if kind == nil then return false end
  return scalar_text(v) or false
end

--- The incident identity of a share, read from its JSON text without
--- decoding it: what incident_id(normalize(decode(text))) returns, or nil
--- when only that can tell (an identity from the content, an "incident"
--- that is not an object, a path through an array). text must be JSON.
---@param text string
---@param key_path string|nil an integration's explicit `incident_key`
---@return string|nil
function M.incident_id_of_text(text, key_path)
  local kind = lookup(text, INCIDENT)
  local base
  if kind == "object" then
    base = INCIDENT
  elseif kind == nil or kind == "null" then
    base = {}
  else
    return nil
  end
  if key_path then
    local v = text_at(text, base, key_path)
    if v ~= false then return v end
  end
  for _, p in ipairs(M.identity_paths) do
    local var = as_variable[p]
    if not var then
      var = "incident." .. p
      as_variable[p] = var
    end
    local v = text_at(text, base, var)
    if v ~= false then return v end
  end
  return nil
end

local function shallow_copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- Turns a decoded share into execution variables.
---@param share any decoded JSON
---@return table|nil vars
---@return string|nil err
function M.normalize(share)
  if type(share) ~= "table" or json.is_array(share) or json.is_bignum(share) then
    return nil, "a share must be a JSON object (an incident, or an envelope "
      .. "with an \"incident\" object)"
  end
  local vars
  local inc = share.incident
  if type(inc) == "table" and not json.is_array(inc) then
    vars = shallow_copy(share)
  elseif inc ~= nil and inc ~= null then
    return nil, "the share's \"incident\" field must be an object"
  else
    vars = { incident = share }
  end
  local meta = vars.metadata
  if type(meta) ~= "table" or json.is_array(meta) then
    meta = {}
  else
    meta = shallow_copy(meta)
  end
  vars.metadata = meta
  return vars
end

return M
