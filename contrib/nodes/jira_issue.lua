-- jira_issue: creates a Jira Cloud issue for an incident, then updates it
-- (fields, a comment, a transition) on later shares. Speaks REST API v3,
-- where descriptions and comments are Atlassian Document Format, or v2,
-- where they are plain text. Built on the ctx API only.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local retry = require("lib.retry")

local type, tostring, tonumber = type, tostring, tonumber
local ipairs, pairs, next = ipairs, pairs, next
local format, byte, sub = string.format, string.byte, string.sub
local floor, min = math.floor, math.min
local concat, sort = table.concat, table.sort
local null = json.null

local M = {}

M.type = "jira_issue"
M.title = "Jira issue"
M.description = "Creates a Jira issue for the incident, then updates it, "
  .. "comments on it or moves it through its workflow on later shares."

M.schema = {
  { name = "base_url", kind = "template", default = "{{integration.jira_url}}",
    title = "Site URL",
    description = "e.g. https://example.atlassian.net; the default reads\n"
      .. "integration.jira_url. With OAuth 2.0 (3LO):\n"
      .. "https://api.atlassian.com/ex/jira/CLOUD_ID." },
  { name = "api_version", kind = "enum", enum = { "3", "2" }, default = "3",
    title = "REST API version",
    description = "3: description and comments are sent as Atlassian\n"
      .. "Document Format; 2: as plain (wiki markup) text." },
  { name = "auth", kind = "enum", enum = { "basic", "bearer" },
    default = "basic", title = "Authentication",
    description = "basic: email and API token; bearer: api_token is an\n"
      .. "OAuth access token, e.g. {{token.access_token}}." },
  { name = "email", kind = "template", default = "{{integration.jira_email}}",
    title = "Account email", description = "For basic authentication." },
  { name = "api_token", kind = "template", secret = true,
    default = "{{integration.jira_api_token}}", title = "API token",
    description = "Keep it in a secret integration setting; the default\n"
      .. "reads integration.jira_api_token." },
  { name = "action", kind = "enum", enum = { "auto", "create", "update" },
    default = "auto", title = "Action",
    description = "auto: create when the incident has no saved issue,\n"
      .. "update it otherwise." },
  { name = "issue", kind = "template", title = "Issue to update",
    description = "An issue id or key, e.g. {{jiraIssue.key}}. Empty:\n"
      .. "the incident's saved issue." },
  { name = "project", kind = "template", title = "Project",
    description = "Project key (OPS) or id (10000). Needed to create." },
  { name = "issue_type", kind = "template", default = "Task",
    title = "Issue type", description = "A name (Task, Bug) or an id." },
  { name = "summary", kind = "template", title = "Summary",
    description = "One line, at most 255 characters (longer is cut,\n"
      .. "line breaks become spaces). Needed to create." },
  { name = "description", kind = "template", title = "Description",
    description = "Plain text; blank lines separate paragraphs. Sent as\n"
      .. "Atlassian Document Format in API v3." },
  { name = "priority", kind = "template", title = "Priority",
    description = "A priority name, e.g. {{#eq incident.severity\n"
      .. "\"critical\"}}Highest{{else}}Medium{{/eq}}. Empty: Jira's default." },
  { name = "labels", kind = "array", items = "template", title = "Labels",
    description = "Each a template; spaces become _. Added on update,\n"
      .. "never removed." },
  { name = "fields", kind = "body", mode = "json", title = "More fields",
    description = "A JSON object of further fields, or a json-mode\n"
      .. "template: {\"customfield_10010\": \"{{incident.id}}\"}." },
  { name = "update_fields", kind = "boolean", default = true,
    title = "Update fields on later shares",
    description = "Set summary, description, priority and more fields\n"
      .. "again on update. Off: only comment and transition." },
  { name = "comment", kind = "template", title = "Comment on update",
    description = "Added when the issue is updated, e.g. Status:\n"
      .. "{{incident.status}}. Empty: no comment." },
  { name = "transition", kind = "template", title = "Transition",
    description = "A transition id (e.g. 31) to apply after create or\n"
      .. "update; a template can choose: {{#eq incident.status \"ok\"}}\n"
      .. "31{{/eq}}. Empty: none. GET .../issue/KEY/transitions lists\n"
      .. "the ids." },
  { name = "save_id", kind = "boolean", default = true,
    title = "Save the issue as the external ID",
    description = "Link the new issue to the incident so later shares\n"
      .. "update it, and let shares that wait for it go on." },
  { name = "save_as", kind = "enum", enum = { "id", "key" }, default = "id",
    title = "Save",
    description = "id never changes; key (OPS-24) changes when the issue\n"
      .. "moves to another project." },
  { name = "output", kind = "variable", default = "jiraIssue",
    title = "Output variable",
    description = "{id, key, self, action, transition}." },
  { name = "timeout_ms", kind = "integer", default = 20000, min = 100,
    max = 120000, title = "Timeout (ms)" },
  { name = "retries", kind = "integer", default = 2, min = 0, max = 5,
    title = "Retries",
    description = "Extra attempts on 429 and unreachable hosts, and for\n"
      .. "updates also on 502-504 and timeouts. A create that may\n"
      .. "have reached Jira is never sent twice." },
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
  return { config.output or "jiraIssue" }
end

local function blank(v)
  return v == nil or v == null or (type(v) == "string" and not v:find("%S"))
end

--- Import-time checks the schema cannot express.
---@param config table the config, defaults applied
---@return table[] problems {path, message}
function M.validate(config)
  local errs = {}
  if config.action ~= "update" then
    for _, name in ipairs({ "project", "summary" }) do
      if blank(config[name]) then
        errs[#errs + 1] = { path = name, message = name .. " is needed to "
          .. "create an issue; give it, or set action to update" }
      end
    end
  end
  local f = config.fields
  if type(f) == "table" and (json.is_array(f) or f[1] ~= nil) then
    errs[#errs + 1] = { path = "fields", message = "fields must be a JSON "
      .. "object of field names and values, not an array" }
  end
  local t = config.transition
  if type(t) == "string" and not t:find("{{", 1, true) and t:find("%S")
      and not t:match("^%s*%d+%s*$") then
    errs[#errs + 1] = { path = "transition", message = format("%q is not a "
      .. "transition id; Jira's are numbers such as 31", t) }
  end
  return errs
end

-- ---- small text tools ----------------------------------------------------------

local function render(ctx, config, name)
  local src = config[name]
  if src == nil or src == null then return "" end
  local v, err = ctx:render(src, { field = "config." .. name })
  if not v then return nil, err end
  return (v:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- The first n characters of a UTF-8 string.
local function first_chars(s, n)
  local i, count = 1, 0
  while i <= #s and count < n do
    local b = byte(s, i)
    i = i + (b >= 0xF0 and 4 or b >= 0xE0 and 3 or b >= 0xC0 and 2 or 1)
    count = count + 1
  end
  return sub(s, 1, i - 1)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = { floor(n / 262144), floor(n / 4096) % 64, floor(n / 64) % 64,
      n % 64 }
    for k = 1, 4 do q[k] = sub(B64, q[k] + 1, q[k] + 1) end
    if not b then q[3] = "=" end
    if not c then q[4] = "=" end
    out[#out + 1] = concat(q)
  end
  return concat(out)
end

-- Plain text as an Atlassian Document Format document: blank lines part
-- paragraphs, single line breaks become hard breaks.
local function adf(text)
  local content = json.array()
  text = text:gsub("\r\n?", "\n")
  for para in (text .. "\n\n"):gmatch("(.-)\n[ \t]*\n+") do
    local inline = json.array()
    for line in (para .. "\n"):gmatch("(.-)\n") do
      if #inline > 0 then inline[#inline + 1] = { type = "hardBreak" } end
      if line:find("%S") then
        inline[#inline + 1] = { type = "text", text = line }
      end
    end
    if #inline > 0 then
      content[#content + 1] = { type = "paragraph", content = inline }
    end
  end
  return { type = "doc", version = 1, content = content }
end

local function rich_text(config, text)
  if config.api_version == "2" then return text end
  return adf(text)
end

-- ---- the connection ------------------------------------------------------------

local function api_root(ctx, config)
  local url, err = render(ctx, config, "base_url")
  if not url then return nil, err end
  url = url:gsub("/+$", "")
  if not url:match("^[hH][tT][tT][pP][sS]?://[^/]") then
    return nil, format("base_url rendered as %q, which is not an http(s) URL; "
      .. "set the integration setting jira_url or give base_url", url)
  end
  return url .. "/rest/api/" .. config.api_version
end

local function auth_header(ctx, config)
  local token, err = render(ctx, config, "api_token")
  if not token then return nil, err end
  if token == "" then
    return nil, "the API token is empty: set the secret integration setting "
      .. "jira_api_token, or name another one in api_token"
  end
  ctx:redact(token)
  if config.auth == "bearer" then return "Bearer " .. token end
  local email, eerr = render(ctx, config, "email")
  if not email then return nil, eerr end
  if email == "" then
    return nil, "the account email is empty: set the integration setting "
      .. "jira_email, or give email"
  end
  local basic = base64(email .. ":" .. token)
  ctx:redact(basic)
  return "Basic " .. basic
end

-- The issue to update: `issue` when it renders, else the saved ID; false
-- when there is none.
local function issue_ref(ctx, config)
  local v, err = render(ctx, config, "issue")
  if not v then return nil, err end
  local from = "issue"
  if v == "" then
    local saved = ctx:get("externalId")
    if blank(saved) then return false end
    v, from = tostring(saved), "the saved external ID"
  end
  if v:match("^%d+$") or v:match("^[A-Za-z][A-Za-z0-9_]*%-%d+$") then
    return v
  end
  return nil, format("%s %q is not a Jira issue id (10000) or key (OPS-24)%s",
    from, v, from == "issue" and "" or "; was it saved by another node? Let "
      .. "only one node of the workflow save the ID, or give issue")
end

-- ---- calls -----------------------------------------------------------------------

local NEVER_SENT = { E_HTTP_CONNECT = true, E_HTTP_RESOLVE = true }
local TRANSIENT_STATUS = { [502] = true, [503] = true, [504] = true }
local TRANSIENT_ERROR = { E_HTTP_TIMEOUT = true, E_HTTP_CONNECTION_LOST = true,
  E_HTTP_EMPTY_REPLY = true }

-- How long to wait before another attempt, or nil. `safe`: the request
-- may be repeated (a PUT), so gateway errors and timeouts retry too.
local function retry_wait(res, err, attempt, safe)
  if res then
    if res.status == 429 then
      local after = retry.after_ms(res)
      if after then return after end
    elseif not (safe and TRANSIENT_STATUS[res.status]) then
      return nil
    end
  elseif not (NEVER_SENT[err.code] or safe and TRANSIENT_ERROR[err.code]) then
    return nil
  end
  return retry.backoff_ms(attempt)
end

local function excerpt(s)
  s = s or ""
  return #s > 300 and (s:sub(1, 300) .. "...") or s
end

-- Jira's reason: errorMessages, then each field's message.
local function jira_reason(res)
  local v = res.json
  if type(v) ~= "table" then return excerpt(res.body) end
  local parts = {}
  for _, m in ipairs(type(v.errorMessages) == "table" and v.errorMessages or {}) do
    parts[#parts + 1] = tostring(m)
  end
  local errs = type(v.errors) == "table" and v.errors or {}
  local names = {}
  for k in pairs(errs) do names[#names + 1] = tostring(k) end
  sort(names)
  for _, k in ipairs(names) do parts[#parts + 1] = k .. ": " .. tostring(errs[k]) end
  if #parts == 0 then return excerpt(res.body) end
  return concat(parts, "; ")
end

local HINTS = {
  [401] = " (check the email and API token: integration.jira_email and "
    .. "jira_api_token)",
  [403] = " (the account may not do this in the project)",
  [404] = " (no such issue, or the account cannot see it)",
}

local function hint(status, path)
  if status == 404 and path == "/issue" then
    return " (no Jira REST API there: check base_url and api_version)"
  end
  return HINTS[status] or ""
end

-- One call: `what` names it in errors. Returns the response, or nil and
-- the reason.
local function call(j, what, method, path, body)
  local req = { method = method, url = j.api .. path, body = body,
    timeout_ms = j.config.timeout_ms,
    headers = { Authorization = j.auth, Accept = "application/json" } }
  local res, err = retry.send(j.ctx, req, j.config.retries,
    function(r, e, attempt) return retry_wait(r, e, attempt, method == "PUT") end,
    what)
  if not res then
    return nil, format("cannot %s: %s %s failed: %s", what, method, req.url,
      err.message or err.code)
  end
  if res.dry_run or (res.status >= 200 and res.status <= 299) then return res end
  return nil, format("cannot %s: Jira answered HTTP %d: %s%s", what,
    res.status, jira_reason(res), hint(res.status, path))
end

-- ---- building the fields ----------------------------------------------------------

local function id_or_name(v, key)
  if v:match("^%d+$") then return { id = v } end
  return { [key] = v }
end

local function extra_fields(ctx, config)
  local f = config.fields
  if blank(f) then return {} end
  if type(f) == "string" then
    local v, err = ctx:render_value(f, { field = "config.fields" })
    if v == nil then return nil, err end
    f = v
  end
  if type(f) ~= "table" or json.is_array(f) or json.is_bignum(f) then
    return nil, "fields must build a JSON object of field names and values"
  end
  return f
end

local function labels(ctx, config)
  local out = json.array()
  for i, src in ipairs(config.labels or {}) do
    local v, err = ctx:render(src, { field = "config.labels[" .. (i - 1) .. "]" })
    if not v then return nil, err end
    v = v:gsub("^%s+", ""):gsub("%s+$", ""):gsub("%s+", "_")
    if v ~= "" then out[#out + 1] = v end
  end
  return out
end

-- summary, description, priority and the extra fields, as set on create
-- and on update.
local function common_fields(ctx, config, fields)
  local summary, err = render(ctx, config, "summary")
  if not summary then return nil, err end
  summary = summary:gsub("%s*[\r\n]+%s*", " ")
  if summary ~= "" then fields.summary = first_chars(summary, 255) end
  local text, derr = render(ctx, config, "description")
  if not text then return nil, derr end
  if text ~= "" then fields.description = rich_text(config, text) end
  local priority, perr = render(ctx, config, "priority")
  if not priority then return nil, perr end
  if priority ~= "" then fields.priority = id_or_name(priority, "name") end
  local extra, xerr = extra_fields(ctx, config)
  if not extra then return nil, xerr end
  for k, v in pairs(extra) do fields[k] = v end
  return fields
end

local function create_body(ctx, config)
  local project, err = render(ctx, config, "project")
  if not project then return nil, err end
  local itype, ierr = render(ctx, config, "issue_type")
  if not itype then return nil, ierr end
  if project == "" or itype == "" then
    return nil, "project and issue_type must not render empty to create an "
      .. "issue"
  end
  local fields, ferr = common_fields(ctx, config, {
    project = id_or_name(project, "key"), issuetype = id_or_name(itype, "name"),
  })
  if not fields then return nil, ferr end
  if not fields.summary then
    return nil, "the summary rendered empty; Jira needs one to create an issue"
  end
  local l, lerr = labels(ctx, config)
  if not l then return nil, lerr end
  if #l > 0 then fields.labels = l end
  return { fields = fields }
end

local function update_body(ctx, config)
  local fields, err = common_fields(ctx, config, {})
  if not fields then return nil, err end
  local l, lerr = labels(ctx, config)
  if not l then return nil, lerr end
  local body = {}
  if next(fields) then body.fields = fields end
  if #l > 0 then
    local adds = json.array()
    for i, v in ipairs(l) do adds[i] = { add = v } end
    body.update = { labels = adds }
  end
  return body
end

-- ---- the steps -----------------------------------------------------------------

local function create(j)
  local body, err = create_body(j.ctx, j.config)
  if not body then return nil, err end
  local res, cerr = call(j, "create the issue", "POST", "/issue", body)
  if not res then return nil, cerr end
  if res.dry_run then return { action = "create", dry_run = true } end
  local v = type(res.json) == "table" and res.json or {}
  if type(v.id) ~= "string" and type(v.id) ~= "number" then
    return nil, format("Jira answered HTTP %d to the create but sent no issue "
      .. "id: %s", res.status, excerpt(res.body))
  end
  return { action = "create", id = tostring(v.id), key = v.key or null,
    self = v.self or null }
end

local function update(j, issue)
  local config, ctx = j.config, j.ctx
  if config.update_fields then
    local body, err = update_body(ctx, config)
    if not body then return nil, err end
    if next(body) then
      local ok, uerr = call(j, "update issue " .. issue, "PUT",
        "/issue/" .. issue, body)
      if not ok then return nil, uerr end
    end
  end
  local text, cerr = render(ctx, config, "comment")
  if not text then return nil, cerr end
  if text ~= "" then
    local ok, err = call(j, "comment on issue " .. issue, "POST",
      "/issue/" .. issue .. "/comment", { body = rich_text(config, text) })
    if not ok then return nil, err end
  end
  local rec = { action = "update" }
  rec[issue:match("^%d+$") and "id" or "key"] = issue
  return rec
end

local function transition(j, issue)
  local id, err = render(j.ctx, j.config, "transition")
  if not id then return nil, err end
  if id == "" then return null end
  if not id:match("^%d+$") then
    return nil, format("transition rendered as %q, which is not a transition "
      .. "id (a number such as 31)", id)
  end
  local ok, terr = call(j, "move issue " .. issue .. " with transition " .. id,
    "POST", "/issue/" .. issue .. "/transitions", { transition = { id = id } })
  if not ok then return nil, terr end
  return id
end

local function save(ctx, config, rec)
  local value = rec[config.save_as]
  if blank(value) then value = rec.id end
  local ok, err = ctx:save_id(value, { unlock = true })
  if not ok then
    return nil, "cannot save the issue as the external ID: " .. tostring(err)
  end
  return true
end

-- The connection and the action, auto resolved.
local function prepare(ctx, config)
  local api, err = api_root(ctx, config)
  if not api then return nil, err end
  local auth, aerr = auth_header(ctx, config)
  if not auth then return nil, aerr end
  local issue, ierr = issue_ref(ctx, config)
  if issue == nil then return nil, ierr end
  local action = config.action
  if action == "auto" then action = issue and "update" or "create" end
  if action == "update" and not issue then
    return nil, "there is no issue to update: the incident has no saved issue "
      .. "and issue is empty; create one first (action create or auto)"
  end
  return { ctx = ctx, config = config, api = api, auth = auth,
    action = action, issue = issue }
end

--- Creates or updates the issue, applies a transition, saves a new id.
---@param ctx table the node's ctx
---@param config table the checked config
---@return string|nil port
---@return string|nil err
function M.run(ctx, config)
  local j, err = prepare(ctx, config)
  if not j then return nil, err end

  local rec, rerr
  if j.action == "create" then
    rec, rerr = create(j)
  else
    rec, rerr = update(j, j.issue)
  end
  if not rec then return nil, rerr end
  if rec.dry_run then return "next" end

  local issue = rec.key ~= nil and rec.key ~= null and rec.key or rec.id
  local tid, terr = transition(j, issue)
  if tid == nil then return nil, terr end
  rec.transition = tid
  ctx:set(config.output, rec)

  if j.action == "create" and config.save_id and ctx.live then
    local ok, serr = save(ctx, config, rec)
    if not ok then return nil, serr end
  end
  ctx:log("info", "%s issue %s", j.action, tostring(issue))
  return "next"
end

return M
