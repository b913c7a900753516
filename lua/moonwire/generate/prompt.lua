-- The text the openai provider sends a model: the system prompt (format,
-- node catalog with every schema, variables, template rules, a worked
-- example) and the repair message listing validation errors. Calling the
-- model is moonwire.generate.openai's.
-- SPDX-License-Identifier: MIT

local ipairs, pairs, pcall, type, tostring = ipairs, pairs, pcall, type,
  tostring
local format, gsub, rep = string.format, string.gsub, string.rep
local concat, sort = table.concat, table.sort

local M = {}

local INTRO = [[
You write workflows for Moonwire, an outbound integration runtime. An
incident platform shares an incident with an integration; the integration's
workflow, a small graph of nodes, reshapes the incident and sends it to an
external system, then saves the external record's ID so that later shares of
the same incident update that record instead of creating a new one.

Answer with ONE JSON object and nothing else:
{"workflow": <the workflow document>,
 "explanation": "<a few sentences on what the workflow does>",
 "warnings": ["<each part of the request you could not express>"]}

The workflow document (format 1):
{"format": 1, "name": "...", "description": "...",
 "nodes": [{"id": "...", "type": "...", "label": "...", "config": {...}}],
 "connections": [{"from": "<node id>", "port": "<port>", "to": "<node id>"}]}
Rules the import validator checks:
- node ids use letters, digits, _ and - only, and are unique;
- config fields must match the node type's schema below: required fields
  present, kinds right, enum values allowed, no unknown fields;
- a connection leaves a node by one of its ports; each port is wired once;
- exactly one start node (no connection leads to it), no cycles, every
  node reachable from the start node. An unwired port ends the execution.
]]

local VARIABLES = [[
Variables templates and paths can read:
- incident: the shared incident (BigPanda shape): incident.id, .status
  (critical, warning, unknown, ok), .severity, .active (boolean),
  .start (epoch seconds), .incident_tags [{tag_id, tag_value}],
  .alerts [{description, status, source_system, tags [{name, value}]}];
  e.g. incident.alerts.[0].description.
- metadata.firstTime: true on the first share of an incident, false later;
  metadata.event_type: incident#new, incident#updated, incident#closed, ...;
  metadata.incident_id.
- externalId: the ID saved by save_id on an earlier share (missing on the
  first share).
- integration.<name>: integration settings, e.g. {{integration.base_url}}.
- the output of earlier nodes: a transform's output, an http_request's
  <output> (parsed JSON body), <output>Status, <output>Headers; an oauth
  node's token: {{token.access_token}}.

Templates are Handlebars-style: {{path}}, {{#if x}}..{{else}}..{{/if}},
{{#each list}}..{{/each}}, helpers eq, ne, and, or, not, default, json,
join, concat, upper, lower, truncate, replace, date. A transform template
in json mode is written as the JSON wanted: {{x}} standing alone as a value
keeps its type ("n": {{incident.alerts.length}}); inside a string it is
escaped ("title": "Incident {{incident.id}}"). An http_request body of
"{{payloadVar}}" sends a transform's output as JSON.

Conventions:
- new versus update: a flow_control on metadata.firstTime with routes
  {"port": "new", "value": true} and {"port": "update", "value": false};
- after the create request, a save_id node whose external_id is the path
  of the ID in the response (createResponse.id, createResponse.result.sys_id,
  createResponse.ts, createResponse.ticket.id, ...); updates use
  {{externalId}} in their URL or body;
- use the URLs of the request as written; an OAuth node comes before the
  requests that need its token, whose headers carry
  "Authorization": "Bearer {{token.access_token}}";
- secrets (client secrets, passwords, API keys, tokens) are never written
  out: the request names them as {{integration.<name>}} references; use
  those references exactly where the secret goes.
]]

local function field_line(f, depth)
  local bits = { f.kind }
  if f.required then bits[#bits + 1] = "required" end
  if f.secret then bits[#bits + 1] = "secret" end
  if f.enum then bits[#bits + 1] = "one of " .. concat(f.enum, "|") end
  if f.default ~= nil and type(f.default) ~= "table" then
    bits[#bits + 1] = "default " .. tostring(f.default)
  end
  local desc = f.description and (": " .. gsub(f.description, "%s+", " ")) or ""
  return format("%s- %s (%s)%s", rep("  ", depth), f.name,
    concat(bits, ", "), desc)
end

local function fields_text(fields, depth, out)
  for _, f in ipairs(fields) do
    out[#out + 1] = field_line(f, depth)
    if type(f.items) == "table" and not f.items.kind then
      fields_text(f.items, depth + 1, out)
    end
  end
end

---The node catalog as text: each type, its ports and its config fields.
---@param catalog table type name -> module
function M.catalog_text(catalog)
  local names = {}
  for name in pairs(catalog) do names[#names + 1] = name end
  sort(names)
  local out = { "Node types (config fields and ports):" }
  for _, name in ipairs(names) do
    local mod = catalog[name]
    local ok, ports = pcall(mod.ports, {})
    local port_text = ok and type(ports) == "table" and concat(ports, ", ") or "?"
    if name == "flow_control" then
      port_text = "one per route (its port name), then default"
    end
    out[#out + 1] = format("\n%s: %s Ports: %s.", name,
      gsub(mod.description or mod.title or "", "%s+", " "), port_text)
    fields_text(mod.schema or {}, 1, out)
  end
  return concat(out, "\n")
end

---The system prompt for a catalog, with a worked example document.
---@param catalog table
---@param example string|nil an example workflow's JSON text
function M.system(catalog, example)
  local parts = { INTRO, M.catalog_text(catalog), "", VARIABLES }
  if example then
    parts[#parts + 1] = "A complete example, for the request \"When an "
      .. "incident is new, POST it to https://tickets.example.com/api/tickets "
      .. "and save the id; on later shares PUT the status to "
      .. "https://tickets.example.com/api/tickets/<id>\":\n" .. example
  end
  return concat(parts, "\n")
end

M.EXAMPLE_PROMPT = "When an incident is new, POST it to "
  .. "https://tickets.example.com/api/tickets and save the id; on later "
  .. "shares PUT the status to https://tickets.example.com/api/tickets/<id>."

---The user message that asks for a repair.
---@param errors table validation errors {path, message}, or nil
---@param parse_error string|nil when the answer was not a JSON object
function M.repair(errors, parse_error)
  if parse_error then
    return "Your answer was not one JSON object (" .. parse_error .. "). "
      .. "Answer again with the JSON object only, as described."
  end
  local lines = { "The workflow does not pass Moonwire's import validator. "
    .. "Fix every problem below and answer with the whole corrected JSON "
    .. "object ({\"workflow\", \"explanation\", \"warnings\"}):" }
  for i, e in ipairs(errors) do
    if i > 30 then
      lines[#lines + 1] = format("- ... and %d more", #errors - 30)
      break
    end
    lines[#lines + 1] = format("- %s: %s", e.path or "$", e.message or "?")
  end
  return concat(lines, "\n")
end

return M
