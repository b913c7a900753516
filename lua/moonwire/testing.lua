-- Helpers for node specs (`moonwire test`): build an execution from a
-- share without a database, run one node against it, and answer its HTTP
-- requests from a table instead of the network, recording what was sent.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local runtime = require("moonwire.runtime")

local M = {}

--- A fake HTTP peer: `answers` is a list of responses handed out in order
--- ({status=, headers=, body=} or {error={code=, message=}}); every
--- request is kept in `.requests`.
---@param answers table[]
function M.fake_http(answers)
  local peer = { requests = {}, answers = answers or {} }
  function peer.send(req)
    peer.requests[#peer.requests + 1] = req
    local a = table.remove(peer.answers, 1) or { status = 200, body = "{}" }
    if a.error then return nil, a.error end
    local body = a.body
    if type(body) == "table" then body = json.encode(body) end
    local headers = a.headers or { ["content-type"] = "application/json" }
    return { status = a.status or 200, headers = headers, body = body or "" }
  end
  return peer
end

--- Builds an execution from a share (a table or JSON text).
--- opts: settings, integration, http (a fake_http peer), external_id,
--- first_time.
---@param share table|string
---@param opts table|nil
function M.exec(share, opts)
  opts = opts or {}
  if type(share) == "string" then share = assert(json.decode(share)) end
  local wf = { nodes = {} }
  local exec = assert(runtime.prepare(wf, share, {
    integration = opts.integration or "spec", settings = opts.settings,
    live = true, label = "spec",
  }))
  if opts.external_id ~= nil then exec.vars.externalId = opts.external_id end
  if opts.first_time ~= nil then exec.vars.metadata.firstTime = opts.first_time end
  exec.http_stub = opts.http and opts.http.send
    or function() return nil, { code = "E_SPEC", message = "no HTTP in this spec" } end
  exec.secrets = exec.secrets or {}
  exec.slept = {}
  exec.sleep_stub = function(ms) exec.slept[#exec.slept + 1] = ms end
  exec.links = {}
  exec.save_link = function(_, incident, text) exec.links[incident] = text end
  exec.id = 0
  return exec
end

--- Runs one node of `type` with `config` (defaults applied and checked by
--- the schema) against the execution. Returns the port (or nil), the
--- error text and the node's trace entry.
---@param exec table
---@param type_name string
---@param config table
function M.run(exec, type_name, config)
  local mod = runtime.catalog()[type_name]
  assert(mod, "no node type " .. tostring(type_name))
  local schema = require("moonwire.schema")
  local normalized, errors = schema.check(mod.schema, config, "$.config")
  if errors and #errors > 0 then
    return nil, errors[1].path .. ": " .. errors[1].message
  end
  local ok, problems = pcall(mod.validate or function() return {} end, normalized)
  if not ok then return nil, "validate() failed: " .. tostring(problems) end
  if type(problems) == "table" and problems[1] then
    return nil, "$.config." .. tostring(problems[1].path) .. ": "
      .. tostring(problems[1].message)
  end
  local node = { id = "spec_" .. type_name, type = type_name,
    config = normalized, module = mod }
  exec.wf.nodes[#exec.wf.nodes + 1] = node
  local port, status, err = runtime.run_node(exec, #exec.wf.nodes)
  local entry = exec.trace[#exec.trace]
  if status == "error" then return nil, err, entry end
  return port, nil, entry
end

return M
