-- pagerduty_event: sends an Events API v2 event (trigger, acknowledge or
-- resolve) keyed by a dedup key, so that every share of an incident acts
-- on the same PagerDuty alert. The routing key is the credential and is
-- kept out of traces. Built on the ctx API only.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local retry = require("lib.retry")

local type, tostring, tonumber, ipairs = type, tostring, tonumber, ipairs
local format, lower = string.format, string.lower
local concat = table.concat
local null = json.null

local M = {}

M.type = "pagerduty_event"
M.title = "PagerDuty event"
M.description = "Triggers, acknowledges or resolves a PagerDuty alert "
  .. "through the Events API v2, one alert per incident."

local SEVERITIES = { "critical", "error", "warning", "info" }

M.schema = {
  { name = "routing_key", kind = "template", secret = true,
    default = "{{integration.pagerduty_routing_secret}}",
    title = "Routing key",
    description = "The 32-character integration key of a PagerDuty\n"
      .. "service (Events API v2). The default reads the setting\n"
      .. "pagerduty_routing_secret: a name with \"secret\" in it is\n"
      .. "stored encrypted and never shown." },
  { name = "event_action", kind = "enum", default = "auto",
    enum = { "auto", "trigger", "acknowledge", "resolve" }, title = "Action",
    description = "What the event does to the alert. auto reads the\n"
      .. "status at status_path: resolve_on values resolve,\n"
      .. "acknowledge_on values acknowledge, anything else triggers." },
  { name = "status_path", kind = "path", default = "incident.status",
    title = "Status variable", description = "Where auto reads the status." },
  { name = "resolve_on", kind = "array", items = "string",
    default = { "ok", "resolved", "closed", "recovered" },
    title = "Statuses that resolve", description = "Compared ignoring case." },
  { name = "acknowledge_on", kind = "array", items = "string",
    default = { "acknowledged" }, title = "Statuses that acknowledge",
    description = "Compared ignoring case." },
  { name = "dedup_key", kind = "template", default = "{{metadata.incident_id}}",
    title = "Dedup key",
    description = "Names the alert: every share of an incident must send\n"
      .. "the same key (at most 255 characters). Empty: the saved\n"
      .. "external ID, or on a trigger a key PagerDuty makes up." },
  { name = "summary", kind = "template", required = true, title = "Summary",
    description = "The alert's title, e.g. {{incident.status}}:\n"
      .. "{{alerts.0.description}}. Cut to 1024 characters." },
  { name = "source", kind = "template", default = "moonwire", title = "Source",
    description = "The affected system, e.g. {{alerts.0.host}}." },
  { name = "severity", kind = "template", default = "{{incident.severity}}",
    title = "Severity",
    description = "critical, error, warning or info; high and major read\n"
      .. "as error, medium and minor as warning, low and ok as info." },
  { name = "fallback_severity", kind = "enum", enum = SEVERITIES,
    default = "warning", title = "Severity otherwise",
    description = "Used when severity renders to anything else." },
  { name = "component", kind = "template", title = "Component" },
  { name = "group", kind = "template", title = "Group" },
  { name = "class", kind = "template", title = "Class" },
  { name = "timestamp", kind = "template", title = "Timestamp",
    description = "ISO 8601, e.g. {{date incident.start}}." },
  { name = "custom_details", kind = "body", mode = "json",
    title = "Custom details",
    description = "A JSON object, or a json-mode template building one,\n"
      .. "shown with the alert: {\"alerts\": {{alerts.length}}}." },
  { name = "client", kind = "template", title = "Client name" },
  { name = "client_url", kind = "template", title = "Client URL",
    description = "A link back to the incident in your tool." },
  { name = "save_id", kind = "boolean", default = false,
    title = "Save the dedup key as the external ID",
    description = "Needed only when the dedup key is empty and PagerDuty\n"
      .. "makes one up: later shares then use the saved one." },
  { name = "output", kind = "variable", default = "pagerdutyEvent",
    title = "Output variable",
    description = "{status, message, dedup_key, event_action}." },
  { name = "base_url", kind = "template",
    default = "https://events.pagerduty.com", title = "Events API URL",
    description = "https://events.eu.pagerduty.com for EU accounts." },
  { name = "timeout_ms", kind = "integer", default = 15000, min = 100,
    max = 120000, title = "Timeout (ms)" },
  { name = "retries", kind = "integer", default = 3, min = 0, max = 5,
    title = "Retries",
    description = "Extra attempts on 429, 5xx, timeouts and unreachable\n"
      .. "hosts (safe: the dedup key merges a repeated event)." },
}

--- The ports run() may return: next on success, error on failure.
---@return string[]
function M.ports()
  return { "next", "error" }
end

--- The variable run() sets, for the editor's variable picker.
---@param config table
---@return string[]
function M.outputs(config)
  return { config.output or "pagerdutyEvent" }
end

local MAX_DEDUP, MAX_SUMMARY = 255, 1024

--- Import-time checks the schema cannot express.
---@param config table the config, defaults applied
---@return table[] problems {path, message}
function M.validate(config)
  local errs = {}
  local key = config.dedup_key
  if type(key) == "string" and not key:find("{{", 1, true)
      and #key > MAX_DEDUP then
    errs[#errs + 1] = { path = "dedup_key", message = format("a dedup key "
      .. "has at most %d characters; this one has %d", MAX_DEDUP, #key) }
  end
  local cd = config.custom_details
  if type(cd) == "table" and (json.is_array(cd) or cd[1] ~= nil) then
    errs[#errs + 1] = { path = "custom_details", message = "custom_details "
      .. "must be a JSON object, not an array" }
  end
  return errs
end

-- ---- what to send ---------------------------------------------------------------

local function in_list(list, value)
  for _, v in ipairs(list or {}) do
    if lower(tostring(v)) == value then return true end
  end
  return false
end

-- event_action, with auto read from the share's status.
local function event_action(ctx, config)
  if config.event_action ~= "auto" then return config.event_action end
  local status = ctx:get(config.status_path)
  status = (status == nil or status == null) and "" or lower(tostring(status))
  if in_list(config.resolve_on, status) then return "resolve" end
  if in_list(config.acknowledge_on, status) then return "acknowledge" end
  return "trigger"
end

local function render(ctx, config, name)
  local src = config[name]
  if src == nil or src == null then return "" end
  local v, err = ctx:render(src, { field = "config." .. name })
  if not v then return nil, err end
  return (v:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function dedup_key(ctx, config, action)
  local key, err = render(ctx, config, "dedup_key")
  if not key then return nil, err end
  if key == "" then
    local saved = ctx:get("externalId")
    if type(saved) == "string" or type(saved) == "number" then
      key = tostring(saved)
    elseif json.is_bignum(saved) then
      key = tostring(saved)
    end
  end
  if #key > MAX_DEDUP then
    return nil, format("the dedup key has %d characters; PagerDuty takes at "
      .. "most %d", #key, MAX_DEDUP)
  end
  if key == "" and action ~= "trigger" then
    return nil, format("cannot %s: the dedup key is empty and the incident has "
      .. "no saved one; %s needs the key its trigger used", action, action)
  end
  return key
end

-- Cuts s to at most n bytes, on a UTF-8 character boundary.
local function cut(s, n)
  if #s <= n then return s end
  local b = s:byte(n + 1)
  while n > 0 and b and b >= 0x80 and b < 0xC0 do
    n = n - 1
    b = s:byte(n + 1)
  end
  return s:sub(1, n)
end

local SYNONYMS = {
  critical = "critical", error = "error", warning = "warning", info = "info",
  high = "error", major = "error", medium = "warning", minor = "warning",
  low = "info", ok = "info",
}

local function severity(ctx, config)
  local s, err = render(ctx, config, "severity")
  if not s then return nil, err end
  local known = SYNONYMS[lower(s)]
  if known then return known end
  ctx:log("info", "severity %q is not a PagerDuty severity; sending %s", s,
    config.fallback_severity)
  return config.fallback_severity
end

local function custom_details(ctx, config)
  local cd = config.custom_details
  if cd == nil or cd == null or cd == "" then return nil end
  if type(cd) == "string" then
    local v, err = ctx:render_value(cd, { field = "config.custom_details" })
    if v == nil then return nil, err end
    cd = v
  end
  if type(cd) ~= "table" or json.is_array(cd) or json.is_bignum(cd) then
    return nil, "custom_details must build a JSON object"
  end
  return cd
end

local OPTIONAL = { "component", "group", "class", "timestamp" }

-- The payload of a trigger: summary, source and severity are required.
local function payload(ctx, config)
  local summary, err = render(ctx, config, "summary")
  if not summary then return nil, err end
  if summary == "" then
    return nil, "the summary rendered empty; a trigger needs one"
  end
  local p = { summary = cut(summary, MAX_SUMMARY) }
  p.source, err = render(ctx, config, "source")
  if not p.source then return nil, err end
  if p.source == "" then p.source = "moonwire" end
  p.severity, err = severity(ctx, config)
  if not p.severity then return nil, err end
  for _, name in ipairs(OPTIONAL) do
    local v, verr = render(ctx, config, name)
    if not v then return nil, verr end
    if v ~= "" then p[name] = v end
  end
  p.custom_details, err = custom_details(ctx, config)
  if err then return nil, err end
  return p
end

local function event(ctx, config, action, key)
  local routing_key, err = render(ctx, config, "routing_key")
  if not routing_key then return nil, err end
  if routing_key == "" then
    return nil, "the routing key is empty: set the integration setting "
      .. "pagerduty_routing_secret, or name another one in routing_key"
  end
  ctx:redact(routing_key)
  local body = { routing_key = routing_key, event_action = action,
    dedup_key = key ~= "" and key or nil }
  if action ~= "trigger" then return body end
  local perr
  body.payload, perr = payload(ctx, config)
  if not body.payload then return nil, perr end
  for _, name in ipairs({ "client", "client_url" }) do
    local v, verr = render(ctx, config, name)
    if not v then return nil, verr end
    if v ~= "" then body[name] = v end
  end
  return body
end

-- ---- sending -----------------------------------------------------------------

-- Statuses PagerDuty asks to retry; the dedup key makes a repeat harmless.
local RETRY_STATUS = { [429] = true, [500] = true, [502] = true, [503] = true,
  [504] = true }

-- Without a dedup key a repeated trigger could open a second alert, so
-- only requests that never left are retried then; a request that cannot
-- be built is never retried.
local NEVER_SENT = { E_HTTP_CONNECT = true, E_HTTP_RESOLVE = true }
local NEVER_RETRY = { E_HTTP_URL = true, E_HTTP_HEADER = true, E_JSON = true }

local function retry_wait(res, err, attempt, keyed)
  if res then
    if not RETRY_STATUS[res.status] then return nil end
    local after = retry.after_ms(res)
    if after then return after end
  elseif NEVER_RETRY[err.code] or not (keyed or NEVER_SENT[err.code]) then
    return nil
  end
  return retry.backoff_ms(attempt)
end

local function send(ctx, config, req, keyed)
  return retry.send(ctx, req, config.retries, function(res, err, attempt)
    return retry_wait(res, err, attempt, keyed)
  end, req.url)
end

local function excerpt(s)
  s = s or ""
  return #s > 300 and (s:sub(1, 300) .. "...") or s
end

-- PagerDuty's reason: message, then each entry of errors[].
local function refusal(res)
  local v = res.json
  if type(v) ~= "table" then return excerpt(res.body) end
  local parts = { type(v.message) == "string" and v.message or nil }
  for _, e in ipairs(type(v.errors) == "table" and v.errors or {}) do
    parts[#parts + 1] = tostring(e)
  end
  if #parts == 0 then return excerpt(res.body) end
  return concat(parts, "; ")
end

local function failure(action, res, err)
  if not res then
    return format("PagerDuty %s failed: %s", action, err.message or err.code)
  end
  if res.status < 200 or res.status > 299 then
    return format("PagerDuty refused the %s event (HTTP %d): %s", action,
      res.status, refusal(res))
  end
  return nil
end

local function base_url(ctx, config)
  local url, err = render(ctx, config, "base_url")
  if not url then return nil, err end
  url = url:gsub("/+$", "")
  if not url:match("^[hH][tT][tT][pP][sS]?://[^/]") then
    return nil, format("base_url rendered as %q, which is not an http(s) URL",
      url)
  end
  return url
end

-- ---- run -----------------------------------------------------------------------

--- Enqueues one event and, when asked, saves its dedup key.
---@param ctx table the node's ctx
---@param config table the checked config
---@return string|nil port
---@return string|nil err
function M.run(ctx, config)
  local action = event_action(ctx, config)
  local key, kerr = dedup_key(ctx, config, action)
  if not key then return nil, kerr end
  local body, berr = event(ctx, config, action, key)
  if not body then return nil, berr end
  local base, uerr = base_url(ctx, config)
  if not base then return nil, uerr end

  local res, err = send(ctx, config, { method = "POST",
    url = base .. "/v2/enqueue", body = body, timeout_ms = config.timeout_ms,
    headers = { ["Content-Type"] = "application/json" } }, key ~= "")
  if res and res.dry_run then return "next" end
  local why = failure(action, res, err)
  if why then return nil, why end

  local answer = type(res.json) == "table" and res.json or {}
  if type(answer.dedup_key) == "string" and answer.dedup_key ~= "" then
    key = answer.dedup_key
  end
  ctx:set(config.output, { status = answer.status or null,
    message = answer.message or null, dedup_key = key ~= "" and key or null,
    event_action = action })
  if config.save_id and ctx.live and action == "trigger" and key ~= "" then
    local ok, serr = ctx:save_id(key, { unlock = true })
    if not ok then
      return nil, "cannot save the dedup key as the external ID: " .. serr
    end
  end
  ctx:log("info", "%s sent for dedup key %s", action, key)
  return "next"
end

return M
