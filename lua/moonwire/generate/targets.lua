-- What the builtin planner knows of well-known targets (ServiceNow, Jira,
-- Slack, PagerDuty Events, Zendesk, Opsgenie, chat endpoints and plain
-- webhooks): how to recognize them, the body each expects, where the ID
-- comes back and how a record is updated. Prompt reading is the planner's.
-- SPDX-License-Identifier: MIT

local vocab = require("moonwire.generate.vocab")

local ipairs, tostring, type = ipairs, tostring, type
local find, gsub, lower, format = string.find, string.gsub, string.lower,
  string.format
local concat = table.concat

local M = {}

local path, lit, tpl, textv = vocab.path, vocab.lit, vocab.tpl, vocab.textv

M.TITLES = {
  servicenow = "ServiceNow", jira = "Jira", slack = "Slack",
  pagerduty = "PagerDuty Events", zendesk = "Zendesk", opsgenie = "Opsgenie",
  chat = "chat endpoint", webhook = "webhook",
}

-- Recognition by URL first, then by words near the URL.
local BY_URL = {
  { "servicenow", { "service%-now%.com", "/api/now/" } },
  { "jira", { "atlassian%.net", "/rest/api/%d/issue", "/rest/api/latest/issue" } },
  { "slack", { "slack%.com", "chat%.postmessage", "chat%.update", "hooks%.slack" } },
  { "pagerduty", { "events%.pagerduty", "/v2/enqueue", "/enqueue" } },
  { "zendesk", { "zendesk%.com", "/api/v2/tickets" } },
  { "opsgenie", { "opsgenie%.com", "/v2/alerts" } },
}
local BY_WORD = {
  { "servicenow", { "servicenow", "service now", "service%-now", "snow%f[%W]" } },
  { "jira", { "jira" } },
  { "slack", { "slack" } },
  { "pagerduty", { "pagerduty", "pager duty" } },
  { "zendesk", { "zendesk" } },
  { "opsgenie", { "opsgenie", "ops genie" } },
  { "chat", { "chat message", "chat", "teams message", "message to",
    "mattermost", "rocket%.chat", "discord", "notify the channel" } },
}

---The kind of target a URL (and the words around it) points at.
---@param url string|nil
---@param words string lower-case context
---@return string kind
function M.detect(url, words)
  local u = lower(url or "")
  for _, k in ipairs(BY_URL) do
    for _, p in ipairs(k[2]) do
      if find(u, p) then return k[1] end
    end
  end
  for _, k in ipairs(BY_WORD) do
    for _, p in ipairs(k[2]) do
      if find(words, p) then return k[1] end
    end
  end
  if find(u, "/chat") or find(u, "message") or find(u, "/notify") then
    return "chat"
  end
  return "webhook"
end

---Where a target is when the prompt names no URL.
---@param kind string
---@return string url template
---@return string|nil setting the integration setting the URL needs
function M.default_url(kind)
  local fixed = {
    slack = "https://slack.com/api/chat.postMessage",
    pagerduty = "https://events.pagerduty.com/v2/enqueue",
    opsgenie = "https://api.opsgenie.com/v2/alerts",
  }
  if fixed[kind] then return fixed[kind] end
  local rel = {
    servicenow = "/api/now/table/incident", jira = "/rest/api/2/issue",
    zendesk = "/api/v2/tickets.json",
  }
  if rel[kind] then return "{{integration.base_url}}" .. rel[kind], "base_url" end
  return "{{integration.webhook_url}}", "webhook_url"
end

---A well-known target's create path, when the prompt gives only its base
---URL ("ServiceNow at https://acme.service-now.com"); "the change_request
---table" names a ServiceNow table.
---@param kind string
---@param url string
---@param words string lower-case context
function M.complete_url(kind, url, words)
  if not url:match("^https?://[^/]+/?$") then return url end
  local base = (gsub(url, "/$", ""))
  if kind == "servicenow" then
    local tbl = words:match("([%w_]+)%s+table") or "incident"
    if tbl == "the" or tbl == "a" then tbl = "incident" end
    return base .. "/api/now/table/" .. tbl
  end
  local paths = { jira = "/rest/api/2/issue", zendesk = "/api/v2/tickets.json",
    opsgenie = "/v2/alerts", pagerduty = "/v2/enqueue",
    slack = "/api/chat.postMessage" }
  return paths[kind] and (base .. paths[kind]) or url
end

---Where the created record's ID sits in the create response.
---@param kind string
function M.id_path(kind)
  return ({
    servicenow = "result.sys_id", jira = "key", slack = "ts",
    zendesk = "ticket.id", pagerduty = "dedup_key",
  })[kind] or "id"
end

---The response field a word of the prompt names, for a target.
---@param kind string
---@param word string lower-case: "id", "ticket id", "key", "ts", "sys_id" ...
function M.id_field(kind, word)
  word = gsub(word, "^the ", "")
  if find(word, "sys_?id") then
    return kind == "servicenow" and "result.sys_id" or "sys_id"
  end
  if find(word, "number") and kind == "servicenow" then return "result.number" end
  if find(word, "ticket") and kind == "zendesk" then return "ticket.id" end
  if find(word, "key$") and kind == "jira" then return "key" end
  if word == "ts" or find(word, "timestamp") then return "ts" end
  if find(word, "dedup") then return "dedup_key" end
  if find(word, "request") then return "requestId" end
  if word == "key" then return "key" end
  if kind == "jira" and (word == "id" or word == "issue id") then return "id" end
  return M.id_path(kind)
end

-- Replaces the last path segment of a create URL's collection with the
-- record: /tickets.json -> /tickets/{{externalId}}.json.
local function record_url(url)
  local base, query = url:match("^([^?]*)(.*)$")
  local stem, ext = base:match("^(.-)(%.json)$")
  if stem then return stem .. "/{{externalId}}" .. ext .. query end
  return (gsub(base, "/+$", "")) .. "/{{externalId}}" .. query
end

---The request that updates a record when the prompt names no URL for it.
---@param kind string
---@param create table {url, method} of the create request
---@param phase string "update", "resolved" or "closed"
---@return table {method, url, how}
function M.update_request(kind, create, phase)
  local url = create.url
  if kind == "servicenow" then
    return { method = "PATCH", url = record_url(url) }
  elseif kind == "jira" then
    return { method = "POST", url = record_url(url) .. "/comment",
      how = "adds a comment to the issue" }
  elseif kind == "zendesk" then
    return { method = "PUT", url = record_url(url) }
  elseif kind == "opsgenie" then
    local verb = (phase == "resolved" or phase == "closed") and "close" or "notes"
    return { method = "POST", url = (gsub(url, "/+$", "")) .. "/{{externalId}}/"
      .. verb .. "?identifierType=alias" }
  elseif kind == "slack" or kind == "pagerduty" or kind == "chat" then
    return { method = "POST", url = url, how = "posts to the same endpoint" }
  end
  return { method = "PUT", url = record_url(url) }
end

-- ---- bodies -----------------------------------------------------------------

local function obj(...)
  return { t = "obj", fields = { ... } }
end
local function f(name, value) return { name, value } end

local DESC = path("incident.alerts.[0].description")

local function title()
  return textv({ { tpl = "{{#if incident.alerts.[0].description}}"
    .. "{{incident.alerts.[0].description}}{{else}}Incident "
    .. "{{incident.id}}{{/if}}" } })
end

local function summary_text()
  return textv({ "BigPanda incident ", { path = "incident.id" }, " is ",
    { path = "incident.status" }, " (severity ", { path = "incident.severity" },
    "): ", { path = "incident.alerts.[0].description" } })
end

local function status_text()
  return textv({ "Incident ", { path = "incident.id" }, " is now ",
    { path = "incident.status" } })
end

---A template choosing a value by a variable's value: pairs is a list of
---{when, value}; `default` is used when none matches.
---@param source string
---@param pairs_ table
---@param default any
---@param as_text boolean|nil numbers become text ("1"), as ServiceNow wants
function M.mapping(source, pairs_, default, as_text)
  local json = require("moonwire.json")
  local function enc(v)
    if as_text and type(v) == "number" then v = tostring(v) end
    return json.encode(v)
  end
  local parts = {}
  for i, p in ipairs(pairs_) do
    parts[#parts + 1] = format('{{%sif (eq %s "%s")}}%s', i == 1 and "#" or "else ",
      source, tostring(p[1]), enc(p[2]))
  end
  if #parts == 0 then return lit(default) end
  local d = default == nil and "null" or enc(default)
  parts[#parts + 1] = "{{else}}" .. d .. "{{/if}}"
  return tpl(concat(parts))
end
local mapping = M.mapping

local SEV = "incident.severity"
local function snow_level()
  return mapping(SEV, { { "critical", "1" }, { "warning", "2" } }, "3")
end

-- Default mappings for "map severity to priority" when the prompt gives
-- no pairs.
function M.default_mapping(kind, field)
  if kind == "zendesk" then
    return mapping(SEV, { { "critical", "urgent" }, { "warning", "high" } }, "normal")
  elseif kind == "opsgenie" then
    return mapping(SEV, { { "critical", "P1" }, { "warning", "P3" } }, "P5")
  elseif kind == "pagerduty" then
    return mapping(SEV, { { "critical", "critical" }, { "warning", "warning" } },
      "info")
  elseif kind == "servicenow" then
    return snow_level()
  elseif field == "priority" or field == "urgency" or field == "impact" then
    return mapping(SEV, { { "critical", 1 }, { "warning", 2 } }, 3)
  end
  return mapping(SEV, { { "critical", "high" }, { "warning", "medium" } }, "low")
end

local function snow_body(phase)
  if phase == "resolved" or phase == "closed" then
    return obj(f("state", lit(phase == "closed" and "7" or "6")),
      f("close_code", lit("Solved (Permanently)")),
      f("close_notes", status_text()))
  elseif phase == "update" then
    return obj(f("state", mapping("incident.status", { { "ok", "6" } }, "2")),
      f("work_notes", status_text()))
  end
  return obj(f("short_description", title()), f("description", summary_text()),
    f("urgency", snow_level()), f("impact", snow_level()),
    f("correlation_id", path("incident.id")))
end

local function jira_body(phase, opts, url)
  if phase ~= "create" and find(url or "", "/transitions") then
    return obj(f("transition", obj(f("id", lit(opts.transition or "31")))))
  end
  if phase ~= "create" and not find(url or "", "/comment") then
    local add = obj(f("add", obj(f("body", status_text()))))
    return obj(f("update", obj(f("comment", { t = "list", items = { add } }))))
  end
  if phase ~= "create" then return obj(f("body", status_text())) end
  return obj(f("fields", obj(
    f("project", obj(f("key", opts.project and lit(opts.project)
      or textv({ { path = "integration.jira_project" } })))),
    f("issuetype", obj(f("name", lit(opts.issuetype or "Task")))),
    f("summary", title()), f("description", summary_text()))))
end

local function slack_body(phase, opts, url)
  local channel = opts.channel and lit(opts.channel)
    or textv({ { path = "integration.slack_channel" } })
  local b = obj(f("channel", channel), f("text", opts.text or summary_text()))
  if phase ~= "create" and phase ~= "always" then
    local key = find(url or "", "chat%.update") and "ts" or "thread_ts"
    b.fields[#b.fields + 1] = f(key, path("externalId"))
  end
  return b
end

local function pagerduty_body(phase)
  local action
  if phase == "resolved" or phase == "closed" then
    action = lit("resolve")
  else
    action = textv({ { tpl = "{{#if (eq incident.active false)}}resolve"
      .. "{{else}}trigger{{/if}}" } })
  end
  return obj(f("routing_key", textv({ { path = "integration.routing_key" } })),
    f("event_action", action), f("dedup_key", path("incident.id")),
    f("payload", obj(f("summary", title()),
      f("source", textv({ { tpl = "{{#if incident.alerts.[0].source_system}}"
        .. "{{incident.alerts.[0].source_system}}{{else}}BigPanda{{/if}}" } })),
      f("severity", M.default_mapping("pagerduty")),
      f("custom_details", obj(f("incident_id", path("incident.id")),
        f("status", path("incident.status")))))))
end

local function zendesk_body(phase)
  if phase == "create" or phase == "always" then
    return obj(f("ticket", obj(f("subject", title()),
      f("comment", obj(f("body", summary_text()))),
      f("priority", M.default_mapping("zendesk")), f("type", lit("incident")),
      f("external_id", path("incident.id")))))
  end
  local status = (phase == "resolved" or phase == "closed") and lit("solved")
    or mapping("incident.status", { { "ok", "solved" } }, "open")
  return obj(f("ticket", obj(f("status", status),
    f("comment", obj(f("body", status_text()), f("public", lit(false)))))))
end

local function opsgenie_body(phase)
  if phase == "create" or phase == "always" then
    return obj(f("message", textv({ { tpl = "{{truncate "
      .. "(default incident.alerts.[0].description (concat \"Incident \" "
      .. "incident.id)) 130}}" } })),
      f("alias", path("incident.id")), f("description", summary_text()),
      f("priority", M.default_mapping("opsgenie")), f("source", lit("BigPanda")),
      f("details", obj(f("incident_id", path("incident.id")),
        f("status", path("incident.status")))))
  end
  return obj(f("note", status_text()), f("source", lit("BigPanda")))
end

local function webhook_body(phase, opts)
  local b = obj()
  local fl = b.fields
  if phase ~= "create" and phase ~= "always" then
    fl[#fl + 1] = f("external_id", path("externalId"))
  end
  fl[#fl + 1] = f("incident_id", path("incident.id"))
  if opts.explicit then return b end
  fl[#fl + 1] = f("title", title())
  fl[#fl + 1] = f("status", path("incident.status"))
  fl[#fl + 1] = f("severity", path("incident.severity"))
  fl[#fl + 1] = f("event_type", path("metadata.event_type"))
  fl[#fl + 1] = f("incident", path("incident"))
  return b
end

---The default body of a request to a target.
---@param kind string
---@param phase string "create", "always", "update", "resolved", "closed"
---@param opts table channel, project, issuetype, text, explicit
---@param url string|nil
function M.body(kind, phase, opts, url)
  if kind == "servicenow" then return snow_body(phase) end
  if kind == "jira" then return jira_body(phase, opts, url) end
  if kind == "slack" then return slack_body(phase, opts, url) end
  if kind == "pagerduty" then return pagerduty_body(phase) end
  if kind == "zendesk" then return zendesk_body(phase) end
  if kind == "opsgenie" then return opsgenie_body(phase) end
  if kind == "chat" then
    local b = obj(f("text", opts.text or status_text()))
    if opts.channel then table.insert(b.fields, 1, f("channel", lit(opts.channel))) end
    return b
  end
  return webhook_body(phase, opts)
end

-- Where a field the prompt names goes in a target's body.
local TOP = {
  pagerduty = { routing_key = 1, event_action = 1, dedup_key = 1, client = 1,
    client_url = 1, links = 1, images = 1, payload = 1 },
  pagerduty_payload = { summary = 1, source = 1, severity = 1, timestamp = 1,
    component = 1, group = 1, class = 1, custom_details = 1 },
  opsgenie = { message = 1, alias = 1, description = 1, responders = 1,
    visibleTo = 1, actions = 1, tags = 1, details = 1, entity = 1, source = 1,
    priority = 1, user = 1, note = 1 },
}

---The path of keys a named field takes in a target's body.
---@param kind string
---@param name string
---@param phase string
---@param url string|nil
function M.place(kind, name, phase, url)
  if name:find("%.") then
    local keys = {}
    for k in name:gmatch("[^%.]+") do keys[#keys + 1] = k end
    return keys
  end
  if kind == "jira" and phase == "create" and name ~= "fields" then
    return { "fields", name }
  elseif kind == "jira" and not find(url or "", "/comment")
      and not find(url or "", "/transitions") and name ~= "fields"
      and name ~= "update" then
    return { "fields", name }
  elseif kind == "zendesk" and name ~= "ticket" then
    return { "ticket", name }
  elseif kind == "pagerduty" and not TOP.pagerduty[name] then
    if TOP.pagerduty_payload[name] then return { "payload", name } end
    return { "payload", "custom_details", name }
  elseif kind == "opsgenie" and phase == "create" and not TOP.opsgenie[name] then
    return { "details", name }
  end
  return { name }
end

---Adapts a field the prompt names to a target: ServiceNow's state is a
---number kept as text, so "the new state" becomes a mapping.
---@param kind string
---@param name string
---@param value table
function M.adapt(kind, name, value)
  if kind == "servicenow" and name == "state" and value.t == "path" then
    return mapping("incident.status", { { "ok", "6" } }, "2")
  end
  if kind == "servicenow" and value.t == "lit" and type(value.v) == "number" then
    return lit(tostring(value.v))
  end
  return value
end

---Headers a target needs besides JSON ones, given an API key setting.
---@param kind string
---@param setting string|nil the secret setting holding the key or token
---@return table|nil {name, value}
function M.auth_header(kind, setting)
  if not setting then return nil end
  local ref = "{{integration." .. setting .. "}}"
  if kind == "opsgenie" then return { "Authorization", "GenieKey " .. ref } end
  if kind == "pagerduty" then return nil end
  return { "Authorization", "Bearer " .. ref }
end

return M
