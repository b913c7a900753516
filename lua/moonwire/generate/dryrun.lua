-- Proves a generated workflow on sample shares before it is returned: a
-- first share, a later one, and a failing call when an error path is
-- wired. Requests are answered locally, nothing is saved, and secret
-- settings are placeholders, so the trace can be shown as it is.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local runtime = require("moonwire.runtime")

local ipairs, type, tostring, pcall, error = ipairs, type, tostring, pcall,
  error
local find, match, format, gmatch = string.find, string.match, string.format,
  string.gmatch

local M = {}

-- A made-up incident in the shape incident platforms send.
local SAMPLE = [[{
  "id": "dry-run-incident-1",
  "status": "critical",
  "severity": "critical",
  "active": true,
  "flapping": false,
  "start": 1717236000,
  "changed_at": 1717236100,
  "incident_tags": [{"tag_id": "team", "tag_value": "payments"}],
  "alerts": [{
    "id": "dry-run-alert-1",
    "status": "critical",
    "active": true,
    "description": "Disk usage above 90% on db-01",
    "source_system": "dry-run",
    "tags": [
      {"name": "host", "value": "db-01.example.invalid"},
      {"name": "service", "value": "billing"},
      {"name": "environment", "value": "production"},
      {"name": "check", "value": "disk"}
    ]
  }]
}]]

local INTEGRATION = "moonwire-generate-dry-run"

-- Every integration setting the workflow reads, with a stand-in value:
-- URLs for names that look like URLs, "<name>" otherwise.
local function placeholder_settings(doc, secrets)
  local text = json.encode(doc) or ""
  local out = {}
  for name in gmatch(text, "integration%.([%w_]+)") do
    if find(name, "url") or find(name, "base") or find(name, "endpoint")
        or find(name, "host") then
      out[name] = "https://dry-run.example.invalid"
    else
      out[name] = "<" .. name .. ">"
    end
  end
  for _, s in ipairs(secrets or {}) do out[s.name] = "<secret " .. s.name .. ">" end
  return out
end

-- Builds a JSON body holding "DRY-1" at each of the given paths.
local function body_with(paths)
  local root = {}
  for _, p in ipairs(paths) do
    local node = root
    local keys = {}
    for k in gmatch(p, "[^%.]+") do keys[#keys + 1] = k end
    for i, k in ipairs(keys) do
      if i == #keys then
        node[k] = "DRY-1"
      else
        node[k] = type(node[k]) == "table" and node[k] or {}
        node = node[k]
      end
    end
  end
  return json.encode(root)
end

-- What each http_request output must hold for the save_id nodes after it.
local function saved_paths(wf)
  local by_output = {}
  for _, n in ipairs(wf.nodes) do
    if n.type == "save_id" then
      local out, rest = match(n.config.external_id, "^([%w_]+)%.(.+)$")
      if out then
        by_output[out] = by_output[out] or {}
        local list = by_output[out]
        list[#list + 1] = rest
      end
    end
  end
  return by_output
end

local function stub(wf, exec, fail_node)
  local paths = saved_paths(wf)
  return function(req)
    local entry = exec.trace[#exec.trace]
    local node = entry and wf.by_id[entry.id]
    if node and node.id == fail_node then
      return { status = 500, headers = { ["content-type"] = "application/json" },
        body = '{"error": "dry run: simulated failure"}' }
    end
    local out = node and node.config.output
    local body = paths[out or ""] and body_with(paths[out]) or '{"ok": true}'
    return { status = req.method == "POST" and 201 or 200,
      headers = { ["content-type"] = "application/json" }, body = body }
  end
end

-- Token requests are shown but never cached: a dry run must not leave a
-- made-up token where real executions would find it.
local function dry_token(ctx, o)
  local res, err = ctx:http{ method = "POST", url = o.token_url,
    headers = { ["Content-Type"] = "application/x-www-form-urlencoded" },
    body = "grant_type=client_credentials" }
  if not res then return nil, err end
  return { access_token = "dry-run-token", token_type = "Bearer",
    expires_in = 3600 }
end

local function walk(wf, exec)
  local id, n = wf.start, 0
  while id and n < 200 do
    n = n + 1
    local node = wf.by_id[id]
    local port, status, err = runtime.run_node(exec, node.index)
    if status == "error" then
      local nxt = wf.next[id].error
      if not nxt then return false, err end
      id = nxt
    else
      id = wf.next[id][port]
    end
  end
  return true
end

local function run_one(wf, settings, scenario)
  local share = { incident = json.decode(SAMPLE), metadata = {
    event_type = scenario.event_type, firstTime = scenario.first } }
  local exec, err = runtime.prepare(wf, share, { live = true,
    integration = INTEGRATION, settings = settings, label = scenario.name })
  if not exec then return { scenario = scenario.name, status = "failed", error = err } end
  exec.id = 0
  if scenario.external_id then exec.vars.externalId = scenario.external_id end
  exec.http_stub = stub(wf, exec, scenario.fail_node)
  exec.save_link = function() end
  exec.sleep_stub = function() end
  local ok, werr = walk(wf, exec)
  return { scenario = scenario.name, status = ok and "succeeded" or "failed",
    error = werr, nodes = exec.trace }
end

local function scenarios(wf)
  local list = {
    { name = "new", first = true, event_type = "incident#new" },
    { name = "update", first = false, event_type = "incident#updated",
      external_id = "DRY-1" },
  }
  for _, n in ipairs(wf.nodes) do
    if n.type == "http_request" and wf.next[n.id].error then
      list[#list + 1] = { name = "failure of " .. n.id, first = true,
        event_type = "incident#new", fail_node = n.id }
      break
    end
  end
  return list
end

---Runs a loaded workflow on sample shares with answered requests.
---@param wf table a loaded workflow (runtime.load_workflow)
---@param opts table secrets: {{name}} of secret settings
---@return table trace one entry per scenario: scenario, status, error, nodes
---@return string[] problems what failed, as sentences
function M.run(wf, opts)
  local oauth = require("moonwire.oauth")
  local real = oauth.token
  local settings = placeholder_settings(wf.doc, opts and opts.secrets)
  local trace, problems = json.array({}), {}
  oauth.token = dry_token
  local ok, err = pcall(function()
    for _, sc in ipairs(scenarios(wf)) do
      local t = run_one(wf, settings, sc)
      trace[#trace + 1] = t
      if t.status ~= "succeeded" and not sc.fail_node then
        problems[#problems + 1] = format("The dry run of the %s share failed: %s",
          sc.name, tostring(t.error))
      end
    end
  end)
  oauth.token = real
  if not ok then error(err, 0) end
  return trace, problems
end

return M
