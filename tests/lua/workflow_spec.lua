-- Specs for moonwire.workflow: loading format 1 documents, one small broken
-- workflow per problem (exact path, key part of the message), one with many
-- problems, parse errors and the canonical export. Node types are fixtures.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local schema = require("moonwire.schema")
local workflow = require("moonwire.workflow")

local function two_ports() return {"next", "error"} end
local function nothing() return {} end
local function go_next() return "next" end

local function fixture(ty, fields, extra)
  local mod = {
    type = ty, title = ty, description = "Fixture " .. ty .. ".",
    schema = fields, ports = two_ports, outputs = nothing, run = go_next,
  }
  for k, v in pairs(extra or {}) do mod[k] = v end
  return mod
end

-- flow_control's own checks: unique ports, none named default, and
-- exactly one of value or values in each route.
local function flow_validate(config)
  local problems, seen = {}, {}
  for i, route in ipairs(config.routes) do
    local at = "routes[" .. (i - 1) .. "]"
    if route.port == "default" then
      problems[#problems + 1] = {path = at .. ".port",
        message = 'A route may not be named "default": that port exists.'}
    elseif seen[route.port] then
      problems[#problems + 1] = {path = at .. ".port",
        message = "Port " .. route.port .. " is already used by " .. seen[
          route.port] .. "."}
    end
    seen[route.port] = seen[route.port] or at
    if (route.value == nil) == (route.values == nil) then
      problems[#problems + 1] = {path = at,
        message = "A route needs exactly one of value or values."}
    end
  end
  return problems
end

local function flow_ports(config)
  local ports = {}
  for i, route in ipairs(config.routes) do ports[i] = route.port end
  ports[#ports + 1] = "default"
  return ports
end

local CATALOG = {
  flow_control = fixture("flow_control", {
    {name = "source", kind = "path", required = true},
    {name = "routes", kind = "array", required = true, min = 1, items = {
      {name = "port", kind = "variable", required = true},
      {name = "value", kind = "json"},
      {name = "values", kind = "array", items = "json"},
    }},
  }, {ports = flow_ports, validate = flow_validate}),
  transform = fixture("transform", {
    {name = "template", kind = "template", required = true,
      mode_field = "mode"},
    {name = "mode", kind = "enum", enum = {"json", "text"},
      default = "json"},
    {name = "output", kind = "variable", required = true},
  }),
  http_request = fixture("http_request", {
    {name = "method", kind = "enum", default = "POST",
      enum = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}},
    {name = "url", kind = "template", required = true, mode = "text"},
    {name = "headers", kind = "headers"},
    {name = "body", kind = "json"},
    {name = "transform_request", kind = "boolean", default = true},
    {name = "output", kind = "variable", default = "response"},
    {name = "timeout_ms", kind = "integer", min = 1},
    {name = "connect_timeout_ms", kind = "integer", min = 1},
  }),
  oauth = fixture("oauth", {
    {name = "token_url", kind = "template", required = true},
    {name = "client_id", kind = "template", required = true},
    {name = "client_secret", kind = "template", required = true,
      secret = true},
    {name = "scope", kind = "string"},
    {name = "auth_method", kind = "enum", enum = {"basic", "post"},
      default = "basic"},
    {name = "extra", kind = "object", values = "string"},
    {name = "output", kind = "variable", default = "token"},
  }),
  save_id = fixture("save_id", {
    {name = "external_id", kind = "path", required = true},
    {name = "unlock", kind = "boolean", default = true},
  }),
  broken = fixture("broken", {}, {
    ports = function() error("ports exploded") end,
  }),
  bare = {type = "bare", title = "Bare", description = "No schema, no ports.",
    run = go_next},
}

-- A stand-in template engine for when moonwire.template is not there:
-- {{#if without {{/if}} does not compile.
local stub = {}
function stub.compile(src)
  local at = src:find("{{#if", 1, true)
  if at and not src:find("{{/if}}", 1, true) then
    return nil, {message = "unclosed {{#if}} block", line = 1, col = at}
  end
  return {}
end

local function with_engine(fn)
  if not pcall(require, "moonwire.template") then
    schema.set_template_engine(stub)
  end
  local ok, err = pcall(fn)
  schema.set_template_engine(nil)
  if not ok then error(err, 0) end
end

local function load(text)
  return workflow.load(assert(json.decode(text)), CATALOG)
end

local function listing(errs)
  local lines = {}
  for i, e in ipairs(errs or {}) do lines[i] = e.path .. ": " .. e.message end
  return table.concat(lines, "\n")
end

-- Pieces the broken workflows are built from.
local SAVE = '{"id": "save", "type": "save_id", "config": {"external_id":'
  .. ' "r.id"}}'
local function node(id, ty, config)
  return string.format('{"id": "%s", "type": "%s", "config": %s}', id,
    ty or "save_id", config or '{"external_id": "r.id"}')
end
local function wire(from, to, port)
  return string.format('{"from": "%s", "port": "%s", "to": "%s"}', from,
    port or "next", to)
end
local function doc(nodes, conns, extra)
  return '{"format": 1, "nodes": [' .. table.concat(nodes, ", ")
    .. '], "connections": [' .. table.concat(conns or {}, ", ") .. "]"
    .. (extra or "") .. "}"
end

local ROUTE = node("route", "flow_control", '{"source": "metadata.firstTime",'
  .. ' "routes": [{"port": "new", "value": true}, {"port": "update",'
  .. ' "value": false}]}')

-- One small broken workflow per problem: the path of its error and a key
-- part of the message; n is the number of errors when it is not 1.
local CASES = {
  {"a document that is not an object", "[]",
    "$", "A workflow must be a JSON object; got an array."},
  {"a missing format", '{"nodes": [' .. SAVE .. "]}",
    "$.format", 'add "format": 1'},
  {"an unsupported format", '{"format": 2, "nodes": [' .. SAVE .. "]}",
    "$.format", "Format 2 is not supported"},
  {"an unknown top-level key", doc({SAVE}, {}, ', "conections": []'),
    "$.conections", 'Did you mean "connections"?'},
  {"nodes that are not an array", '{"format": 1, "nodes": {}}',
    "$.nodes", "nodes must be a JSON array; got an object."},
  {"a missing nodes key", '{"format": 1}',
    "$.nodes", 'has no "nodes"'},
  {"an empty nodes array", doc({}),
    "$.nodes", "has no nodes"},
  {"a node that is not an object", doc({SAVE, '"save2"'}),
    "$.nodes[1]", 'Each node must be a JSON object; got the string "save2".'},
  {"a node without an id", doc({'{"type": "save_id", "config":'
    .. ' {"external_id": "r.id"}}'}),
    "$.nodes[0].id", 'The node has no "id"'},
  {"a node id with bad characters", doc({node("save it")}),
    "$.nodes[0].id", 'Node id "save it" may use only letters'},
  {"a duplicate node id", doc({node("a"), node("a")}),
    "$.nodes[1].id", "already used by the node at $.nodes[0]"},
  {"an unknown node type", doc({node("a", "save_di")}),
    "$.nodes[0].type", 'Did you mean "save_id"? Known types: bare, broken,'
    .. " flow_control, http_request, oauth, save_id, transform."},
  {"a node without a type", doc({'{"id": "a"}'}),
    "$.nodes[0].type", 'Node "a" has no "type"'},
  {"an unknown node key", doc({'{"id": "a", "type": "save_id", "lable":'
    .. ' "x", "config": {"external_id": "r.id"}}'}),
    "$.nodes[0].lable", 'Did you mean "label"?'},
  {"a label that is not a string", doc({'{"id": "a", "type": "save_id",'
    .. ' "label": 5, "config": {"external_id": "r.id"}}'}),
    "$.nodes[0].label", "label must be a string; got the number 5."},
  {"a config value outside its enum", doc({node("create", "http_request",
    '{"url": "https://x.test", "method": "FETCH"}')}),
    "$.nodes[0].config.method", "config.method must be one of GET, POST,"
    .. ' PUT, PATCH, DELETE, HEAD; got "FETCH".'},
  {"a missing required config field", doc({'{"id": "a", "type":'
    .. ' "save_id"}'}),
    "$.nodes[0].config.external_id", "config.external_id is required"},
  {"an unknown config field", doc({node("a", "save_id",
    '{"external_id": "r.id", "unlok": false}')}),
    "$.nodes[0].config.unlok", 'Did you mean "unlock"?'},
  {"a config that is not an object", doc({node("a", "save_id", "[]")}),
    "$.nodes[0].config", "config must be a JSON object; got an array."},
  {"a duplicate route port", doc({node("route", "flow_control",
    '{"source": "a.b", "routes": [{"port": "x", "value": 1}, {"port": "x",'
    .. ' "value": 2}]}')}),
    "$.nodes[0].config.routes[1].port", "already used by routes[0]"},
  {"a route named default", doc({node("route", "flow_control",
    '{"source": "a.b", "routes": [{"port": "default", "value": 1}]}')}),
    "$.nodes[0].config.routes[0].port", 'may not be named "default"'},
  {"a route with both value and values", doc({node("route",
    "flow_control", '{"source": "a.b", "routes": [{"port": "x", "value":'
    .. ' 1, "values": [2]}]}')}),
    "$.nodes[0].config.routes[0]", "exactly one of value or values"},
  {"a node type whose ports() fails", doc({node("b", "broken", "{}")}),
    "$.nodes[0]", "ports exploded"},
  {"connections that are not an array", '{"format": 1, "nodes": [' .. SAVE
    .. '], "connections": {}}',
    "$.connections", "connections must be a JSON array"},
  {"a connection that is not an object", doc({SAVE}, {"7"}),
    "$.connections[0]", "Each connection must be a JSON object"},
  {"an unknown connection key", doc({node("a"), node("b")},
    {'{"from": "a", "port": "next", "to": "b", "via": "x"}'}),
    "$.connections[0].via", "Known keys: from, port, to."},
  {"a connection to a missing node", doc({node("a"), node("b")},
    {wire("a", "b"), wire("b", "c")}),
    "$.connections[1].to", 'goes to node "c", which does not exist.'},
  {"a connection from a missing node", doc({node("a"), node("b")},
    {wire("a", "b"), wire("ghost", "b", "error")}),
    "$.connections[1].from", 'leaves node "ghost", which does not exist.'},
  {"a connection without a port", doc({node("a"), node("b")},
    {'{"from": "a", "to": "b"}'}),
    "$.connections[0].port", "Its ports are: next, error."},
  {"a port the node does not have", doc({ROUTE, node("b"), node("c")},
    {wire("route", "b", "nwe"), wire("route", "c", "update")}),
    "$.connections[0].port", 'Node "route" (flow_control) has no port "nwe".'
    .. ' Did you mean "new"? Its ports are: new, update, default.'},
  {"a port wired twice", doc({node("a"), node("b"), node("c")},
    {wire("a", "b"), wire("a", "c")}),
    "$.connections[1].port", 'Port "next" of node "a" is already wired at'
    .. " $.connections[0]"},
  {"several start nodes", doc({node("a"), node("b"), node("c")},
    {wire("a", "c")}),
    "$.nodes", 'The workflow has 2 start nodes ("a", "b")'},
  {"no start node", doc({node("a"), node("b")},
    {wire("a", "b"), wire("b", "a")}),
    "$.nodes", "has no start node", 2},
  {"a cycle", doc({node("a"), node("b"), node("c")},
    {wire("a", "b"), wire("b", "c"), wire("c", "b")}),
    "$.connections[2]", 'Connections form a cycle: "b" -> "c" -> "b".'},
  {"a node wired to itself", doc({node("a"), node("b")},
    {wire("a", "b"), wire("b", "b")}),
    "$.connections[1]", 'cycle: "b" -> "b".'},
  {"an unreachable node", doc({node("a"), node("b"), node("c")},
    {wire("b", "c"), wire("c", "b")}),
    "$.nodes[1]", 'Node "b" cannot be reached from the start node "a"', 3},
}

describe("workflow.load reports", function()
  for _, case in ipairs(CASES) do
    local title, text, path, says, n = case[1], case[2], case[3], case[4],
      case[5] or 1
    it(title, function()
      local wf, errs = load(text)
      expect(wf):to_be_nil()
      local found
      for _, e in ipairs(errs) do
        if e.path == path and e.message:find(says, 1, true) then found = e end
      end
      if not found or #errs ~= n then
        error("wanted " .. n .. " error(s), one at " .. path .. " saying "
          .. says .. "; got:\n" .. listing(errs), 0)
      end
    end)
  end

  it("a template that does not compile, with line and column", function()
    with_engine(function()
      local _, errs = load(doc({node("t", "transform",
        '{"template": "{\\"a\\": {{#if x}}1", "output": "o"}')}))
      expect(#errs):to_be(1)
      expect(errs[1].path):to_be("$.nodes[0].config.template")
      expect(errs[1].code):to_be("bad_template")
      expect(errs[1].message):to_match("line %d+, column %d+")
    end)
  end)

  it("an unknown key with an odd name after the known ones", function()
    local _, errs = load('{"nodes": [' .. SAVE .. '], "x y": 1}')
    expect(errs[1].path):to_be("$.format")
    expect(errs[2].path):to_be('$["x y"]')
  end)

  it("a type's own problems beside the schema's, in one answer", function()
    -- a flow_control route with both value and values (its own check)
    -- and a source that is no path (the schema's)
    local _, errs = load(doc({node("f", "flow_control",
      '{"source": 5, "routes": [{"port": "a", "value": 1, "values": [2]}]}')}))
    local paths = {}
    for _, e in ipairs(errs) do paths[#paths + 1] = e.path end
    expect(#errs):to_be(2)
    expect(paths[1]):to_be("$.nodes[0].config.source")
    expect(paths[2]):to_contain("$.nodes[0].config.routes[0]")
  end)

  it("the node a config error belongs to", function()
    local _, errs = load(doc({node("create", "http_request", "{}")}))
    expect(errs[1].node):to_be("create")
  end)

  it("every problem of a badly broken workflow, in document order",
    function()
      local text = '{"format": 3, "nme": "x", "nodes": ['
        .. node("a", "http_request", '{"url": "u", "method": "GTE"}') .. ", "
        .. node("a") .. ", "
        .. node("c", "transfrom") .. ", "
        .. ROUTE .. ", "
        .. '{"id": "e f", "type": "save_id", "config": {"unlock": 1}}'
        .. '], "connections": ['
        .. wire("a", "route") .. ", "
        .. wire("route", "c", "new") .. ", "
        .. wire("route", "e f", "new") .. ", "
        .. wire("route", "zz", "update") .. ", "
        .. wire("c", "route") .. "]}"
      local _, errs = load(text)
      local paths = {}
      for i, e in ipairs(errs) do paths[i] = e.path end
      expect(paths):to_equal({
        "$.format",
        "$.nodes[0].config.method",
        "$.nodes[1].id",
        "$.nodes[2].type",
        "$.nodes[4].id",
        "$.nodes[4].config.external_id",
        "$.nodes[4].config.unlock",
        "$.connections[1]",
        "$.connections[2].port",
        "$.connections[3].to",
        "$.nme",
      })
      expect(errs[8].message):to_contain('"c" -> "route" -> "c"')
      expect(errs[9].message):to_contain("already wired")
    end)
end)

describe("workflow.parse", function()
  it("reports a JSON syntax error at $ with line and column", function()
    local wf, errs = workflow.parse('{"format": 1,\n  "nodes": [,]}', CATALOG)
    expect(wf):to_be_nil()
    expect(#errs):to_be(1)
    expect(errs[1].path):to_be("$")
    expect(errs[1].code):to_be("not_json")
    expect(errs[1].message):to_contain("line 2")
    expect(errs[1].message):to_contain("column")
  end)

  it("reports text that is not a string", function()
    local _, errs = workflow.parse(nil, CATALOG)
    expect(errs[1].path):to_be("$")
  end)
end)

-- The example at the end of docs/workflow-format.md.
local function doc_example()
  local here = debug.getinfo(1, "S").source:match("^@(.*)$") or ""
  local root = here:match("^(.*)/tests/lua/[^/]*$") or "."
  local f = assert(io.open(root .. "/docs/workflow-format.md", "r"))
  local text = f:read("*a")
  f:close()
  local at = assert(text:find("## Full example", 1, true))
  return assert(text:match("```json\n(.-\n)```", at))
end

describe("workflow.load on the documented example", function()
  local wf, errs

  it("accepts it", function()
    with_engine(function()
      wf, errs = workflow.parse(doc_example(), CATALOG)
    end)
    if not wf then error(listing(errs), 0) end
  end)

  it("finds the start node and the wiring", function()
    expect(wf.start):to_be("get_token")
    expect(wf.next.route.new):to_be("build_create")
    expect(wf.next.route.update):to_be("build_update")
    expect(wf.next.create.next):to_be("save")
    expect(wf.next.save):to_equal({})
    expect(wf.ports.route):to_equal({"new", "update", "default"})
  end)

  it("keeps nodes in document order with normalized configs", function()
    expect(#wf.nodes):to_be(7)
    expect(wf.nodes[2].id):to_be("route")
    expect(wf.nodes[2].index):to_be(2)
    expect(wf.nodes[2].path):to_be("$.nodes[1]")
    expect(wf.nodes[2].label):to_be("New or update?")
    expect(wf.by_id.update.config.transform_request):to_be(true)
    expect(wf.by_id.build_update.config.mode):to_be("json")
    expect(wf.by_id.save.module):to_be(CATALOG.save_id)
    expect(wf.name):to_be("Tickets for incidents")
    expect(wf.format):to_be(1)
  end)
end)

describe("workflow.load on the documented example with built-in nodes",
  function()
    it("accepts it when the runtime's catalog is there", function()
      local ok, runtime = pcall(require, "moonwire.runtime")
      local catalog = ok and runtime.catalog and runtime.catalog()
      if not catalog or not catalog.http_request then return end
      local wf, errs = workflow.parse(doc_example(), catalog)
      if not wf then error(listing(errs), 0) end
      expect(wf.start):to_be("get_token")
    end)
  end)

describe("workflow.load on a long cycle", function()
  it("names the first ten nodes and counts the rest", function()
    local nodes, conns = {node("start")}, {wire("start", "n1")}
    for i = 1, 15 do
      nodes[#nodes + 1] = node("n" .. i)
      conns[#conns + 1] = wire("n" .. i, "n" .. (i % 15 + 1))
    end
    local _, errs = load(doc(nodes, conns))
    expect(#errs):to_be(1)
    expect(errs[1].message):to_contain('"n10" -> (5 more) -> "n1".')
  end)
end)

describe("workflow.load with a type that has no schema or ports()",
  function()
    it("takes an empty config and wires next and error", function()
      local wf, errs = load(doc({node("a", "bare", "{}"), node("b")},
        {wire("a", "b", "next")}))
      if not wf then error(listing(errs), 0) end
      expect(wf.ports.a):to_equal({"next", "error"})
      expect(wf.next.a.next):to_be("b")
    end)
  end)

describe("workflow.export", function()
  it("writes keys in the canonical order with a 2-space indent", function()
    local text = '{"editor": {"z": 1, "a": []}, "connections": [{"to": "b",'
      .. ' "port": "next", "from": "a"}], "nodes": [{"config": {"unlock":'
      .. ' false, "external_id": "r.id"}, "label": "A", "type": "save_id",'
      .. ' "id": "a"}, {"type": "save_id", "id": "b", "config": {}}],'
      .. ' "format": 1}'
    local out = workflow.export(json.decode(text), CATALOG)
    expect(out):to_be(table.concat({
      "{",
      '  "format": 1,',
      '  "nodes": [',
      "    {",
      '      "id": "a",',
      '      "type": "save_id",',
      '      "label": "A",',
      '      "config": {',
      '        "external_id": "r.id",',
      '        "unlock": false',
      "      }",
      "    },",
      "    {",
      '      "id": "b",',
      '      "type": "save_id",',
      '      "config": {}',
      "    }",
      "  ],",
      '  "connections": [',
      "    {",
      '      "from": "a",',
      '      "port": "next",',
      '      "to": "b"',
      "    }",
      "  ],",
      '  "editor": {',
      '    "a": [],',
      '    "z": 1',
      "  }",
      "}",
      "",
    }, "\n"))
  end)

  it("orders route fields by the item schema", function()
    local out = workflow.export(json.decode(doc({node("r", "flow_control",
      '{"routes": [{"value": 1, "port": "x"}], "source": "a"}')})), CATALOG)
    expect(out):to_contain('"source": "a",\n        "routes"')
    expect(out):to_contain('"port": "x",\n            "value": 1')
  end)

  it("removes secret fields that hold a secret", function()
    local doc = json.decode(doc_example())
    for _, n in ipairs(doc.nodes) do
      if n.config.client_secret then n.config.client_secret = "hunter2-literal" end
    end
    local out = workflow.export(doc, CATALOG)
    expect(out:find("client_secret", 1, true)):to_be_nil()
    expect(out:find("hunter2", 1, true)):to_be_nil()
    expect(out):to_contain('"client_id": "{{integration.client_id}}"')
    expect(out):to_contain('"editor": {')
  end)

  it("keeps a secret field that only names a setting", function()
    local out = workflow.export(json.decode(doc_example()), CATALOG)
    expect(out):to_contain('"client_secret": "{{integration.client_secret}}"')
  end)

  it("is byte-identical after export, import and export", function()
    with_engine(function()
      local first = workflow.export(json.decode(doc_example()), CATALOG)
      local wf, errs = workflow.parse(first, CATALOG,
        {allow_missing_secrets = true})
      if not wf then error(listing(errs), 0) end
      expect(workflow.export(wf.doc, CATALOG)):to_be(first)
    end)
  end)

  it("keeps odd values exactly across a round trip", function()
    local text = doc({node("a")}, {}, ', "editor": {"big": 12345678901234567'
      .. '890, "s": "caf\\u00e9 \\"q\\" \\\\ \\n", "n": null, "e": {},'
      .. ' "l": [1.5, -2, true, []]}')
    local first = workflow.export(json.decode(text), CATALOG)
    local again = workflow.export(json.decode(first), CATALOG)
    expect(again):to_be(first)
    expect(first):to_contain("12345678901234567890")
    expect(first):to_contain('"e": {}')
  end)
end)
