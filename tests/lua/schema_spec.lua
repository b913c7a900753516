-- Specs for moonwire.schema: config checks and defaults, every kind, the
-- error paths and messages, secrets, module checks and describe(). The
-- field lists below mirror the built-in nodes but are fixtures of their own.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local schema = require("moonwire.schema")

local HTTP = {
  {name = "method", kind = "enum", default = "POST",
    enum = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}},
  {name = "url", kind = "template", required = true, mode = "text"},
  {name = "headers", kind = "headers"},
  {name = "body", kind = "json"},
  {name = "transform_request", kind = "boolean", default = true},
  {name = "output", kind = "variable", default = "response"},
  {name = "timeout_ms", kind = "integer", min = 1, max = 600000},
}

local FLOW = {
  {name = "source", kind = "path", required = true},
  {name = "routes", kind = "array", required = true, min = 1, items = {
    {name = "port", kind = "variable", required = true},
    {name = "value", kind = "json"},
    {name = "values", kind = "array", items = "json"},
  }},
}

local TRANSFORM = {
  {name = "template", kind = "template", required = true,
    mode_field = "mode"},
  {name = "mode", kind = "enum", enum = {"json", "text"}, default = "json"},
  {name = "output", kind = "variable", required = true},
}

local OAUTH = {
  {name = "token_url", kind = "template", required = true},
  {name = "client_id", kind = "template", required = true},
  {name = "client_secret", kind = "template", required = true,
    secret = true},
  {name = "extra", kind = "object", values = "string"},
  {name = "accounts", kind = "array", items = {
    {name = "user", kind = "string"},
    {name = "password", kind = "string", secret = true},
  }},
}

local function obj(text)
  return assert(json.decode(text))
end

-- The single error a check produced; fails when there are more or none.
local function only_error(fields, config, path)
  local _, errs = schema.check(fields, config, path)
  if #errs ~= 1 then
    local lines = {}
    for i, e in ipairs(errs) do lines[i] = e.path .. ": " .. e.message end
    error(#errs .. " errors, expected 1:\n" .. table.concat(lines, "\n"), 2)
  end
  return errs[1]
end

-- A stand-in template engine: {{#if without {{/if}} does not compile.
local stub = {modes = {}}
function stub.compile(src, opts)
  stub.modes[#stub.modes + 1] = opts.mode or "none"
  local at = src:find("{{#if", 1, true)
  if at and not src:find("{{/if}}", 1, true) then
    local before = src:sub(1, at - 1)
    local _, nl = before:gsub("\n", "")
    local col = at - (before:match(".*\n()") or 1) + 1
    return nil, {message = "unclosed {{#if}} block", line = nl + 1,
      col = col}
  end
  return {}
end

local function with_stub(fn)
  stub.modes = {}
  schema.set_template_engine(stub)
  local ok, err = pcall(fn)
  schema.set_template_engine(nil)
  if not ok then error(err, 0) end
end

describe("schema.check", function()
  it("applies defaults to a copy and leaves the input alone", function()
    local input = obj('{"url": "https://x.test/"}')
    local out, errs = schema.check(HTTP, input)
    expect(#errs):to_be(0)
    expect(out.method):to_be("POST")
    expect(out.transform_request):to_be(true)
    expect(out.output):to_be("response")
    expect(input.method):to_be_nil()
    expect(out == input):to_be(false)
  end)

  it("keeps given values, including false and JSON null", function()
    local out, errs = schema.check(HTTP,
      obj('{"url": "u", "transform_request": false, "body": null}'))
    expect(#errs):to_be(0)
    expect(out.transform_request):to_be(false)
    expect(out.body):to_be(json.null)
  end)

  it("treats null in an optional field as absent", function()
    local out, errs = schema.check(HTTP, obj('{"url": "u", "output": null}'))
    expect(#errs):to_be(0)
    expect(out.output):to_be("response")
  end)

  it("treats a missing config as an empty object", function()
    local out, errs = schema.check({{name = "unlock", kind = "boolean",
      default = true}}, nil)
    expect(#errs):to_be(0)
    expect(out.unlock):to_be(true)
  end)

  it("reports a config that is not an object", function()
    local e = only_error(HTTP, obj("[1]"), "$.nodes[0].config")
    expect(e.path):to_be("$.nodes[0].config")
    expect(e.message):to_be("config must be a JSON object; got an array.")
  end)

  it("reports a missing required field by name and expected kind",
    function()
      local e = only_error(HTTP, obj("{}"), "$.nodes[2].config")
      expect(e.path):to_be("$.nodes[2].config.url")
      expect(e.code):to_be("missing")
      expect(e.message):to_be(
        "config.url is required and missing: give a template string.")
    end)

  it("reports null in a required field", function()
    local e = only_error(HTTP, obj('{"url": null}'))
    expect(e.path):to_be("$.url")
    expect(e.message):to_contain("not null")
  end)

  it("names the allowed values of an enum and the value found", function()
    local e = only_error(HTTP, obj('{"url": "u", "method": "FETCH"}'),
      "$.nodes[2].config")
    expect(e.path):to_be("$.nodes[2].config.method")
    expect(e.message):to_be("config.method must be one of GET, POST, PUT,"
      .. ' PATCH, DELETE, HEAD; got "FETCH".')
  end)

  it("suggests the enum value that differs only in case", function()
    local e = only_error(HTTP, obj('{"url": "u", "method": "post"}'))
    expect(e.message):to_contain('Did you mean "POST"?')
  end)

  it("names the expected kind and the value of the wrong kind", function()
    local e = only_error(HTTP, obj('{"url": "u", "timeout_ms": "30"}'))
    expect(e.path):to_be("$.timeout_ms")
    expect(e.message):to_be(
      'config.timeout_ms must be a whole number; got the string "30".')
  end)

  it("rejects a fraction where a whole number is due", function()
    local e = only_error(HTTP, obj('{"url": "u", "timeout_ms": 1.5}'))
    expect(e.message):to_contain("got the number 1.5")
  end)

  it("checks number bounds", function()
    local e = only_error(HTTP, obj('{"url": "u", "timeout_ms": 0}'))
    expect(e.message):to_be("config.timeout_ms must be at least 1; got 0.")
    e = only_error(HTTP, obj('{"url": "u", "timeout_ms": 700000}'))
    expect(e.message):to_contain("at most 600000")
  end)

  it("accepts integers beyond 2^53 as whole numbers", function()
    local out, errs = schema.check({{name = "id", kind = "integer"}},
      obj('{"id": 12345678901234567890}'))
    expect(#errs):to_be(0)
    expect(tostring(out.id)):to_be("12345678901234567890")
  end)

  it("reports an unknown field, with the close known one", function()
    local e = only_error(HTTP, obj('{"url": "u", "metod": "GET"}'),
      "$.nodes[1].config")
    expect(e.path):to_be("$.nodes[1].config.metod")
    expect(e.code):to_be("unknown_field")
    expect(e.message):to_be(
      'config.metod is not a known field. Did you mean "method"?')
  end)

  it("lists the known fields when no field is close", function()
    local e = only_error(FLOW, obj('{"source": "a", "routes": [{"port":'
      .. ' "p", "value": 1}], "zzz": 1}'))
    expect(e.message):to_contain("Known fields: source, routes.")
  end)

  it("quotes keys that are not plain names in paths", function()
    local e = only_error(HTTP, obj('{"url": "u", "odd key": 1}'))
    expect(e.path):to_be('$["odd key"]')
  end)
end)

describe("schema.check with variables and paths", function()
  it("accepts variable names and rejects others", function()
    local e = only_error(HTTP, obj('{"url": "u", "output": "create-resp"}'))
    expect(e.path):to_be("$.output")
    expect(e.message):to_contain("must be a variable name")
    expect(e.message):to_contain('got "create-resp"')
  end)

  it("accepts dotted, indexed and literal-segment paths", function()
    for _, p in ipairs({"createResponse.id", "alerts[0].name",
      "incident.tags.[odd key]", "a.b[1][2].c", "_x"}) do
      local _, errs = schema.check({{name = "p", kind = "path"}}, {p = p})
      expect(#errs):to_be(0)
    end
  end)

  it("rejects paths the runtime cannot parse", function()
    for _, p in ipairs({"", "a..b", "a.", ".a", "a[0"}) do
      local _, errs = schema.check({{name = "p", kind = "path"}}, {p = p})
      expect(#errs):to_be(1)
      expect(errs[1].message):to_contain("must be a variable path")
    end
  end)
end)

describe("schema.check with arrays and objects", function()
  it("checks array items against their field list, 0-based", function()
    local cfg = obj('{"source": "metadata.firstTime", "routes": ['
      .. '{"port": "new", "value": true}, {"port": "bad port"}]}')
    local e = only_error(FLOW, cfg, "$.nodes[0].config")
    expect(e.path):to_be("$.nodes[0].config.routes[1].port")
    expect(e.message):to_contain("config.routes[1].port must be")
  end)

  it("reports unknown fields inside items", function()
    local e = only_error(FLOW, obj('{"source": "a", "routes": [{"port": "p",'
      .. ' "vaule": 1}]}'))
    expect(e.path):to_be("$.routes[0].vaule")
    expect(e.message):to_contain('Did you mean "value"?')
  end)

  it("keeps arrays marked in the normalized copy", function()
    local out = schema.check(FLOW, obj('{"source": "a", "routes": [{"port":'
      .. ' "p", "values": [1, 2]}]}'))
    expect(json.is_array(out.routes)):to_be(true)
    expect(json.is_array(out.routes[1].values)):to_be(true)
  end)

  it("takes plain Lua lists as arrays and marks them", function()
    local out, errs = schema.check(FLOW, {source = "a",
      routes = {{port = "p", values = {1, 2}}}})
    expect(#errs):to_be(0)
    expect(json.is_array(out.routes)):to_be(true)
    expect(json.is_array(out.routes[1].values)):to_be(true)
  end)

  it("does not take a JSON object for an array", function()
    local e = only_error(FLOW, obj('{"source": "a", "routes": {}}'))
    expect(e.message):to_be(
      "config.routes must be a JSON array; got an object.")
  end)

  it("checks the number of items", function()
    local e = only_error(FLOW, obj('{"source": "a", "routes": []}'))
    expect(e.path):to_be("$.routes")
    expect(e.message):to_be(
      "config.routes must have at least 1 item(s); it has 0.")
  end)

  it("checks scalar items against a kind name", function()
    local fields = {{name = "tags", kind = "array", items = "string"}}
    local e = only_error(fields, obj('{"tags": ["a", 2]}'))
    expect(e.path):to_be("$.tags[1]")
    expect(e.message):to_be(
      "config.tags[1] must be a string; got the number 2.")
  end)

  it("checks object values against their kind", function()
    local e = only_error(OAUTH, obj('{"token_url": "t", "client_id": "i",'
      .. ' "client_secret": "s", "extra": {"audience": 5}}'))
    expect(e.path):to_be("$.extra.audience")
    expect(e.message):to_contain("config.extra.audience must be a string")
  end)

  it("accepts any JSON for the json kind", function()
    local fields = {{name = "v", kind = "json", required = true}}
    for _, text in ipairs({'{"v": null}', '{"v": [1]}', '{"v": {"a": 1}}',
      '{"v": "s"}', '{"v": false}'}) do
      local _, errs = schema.check(fields, obj(text))
      expect(#errs):to_be(0)
    end
  end)
end)

describe("schema.check with headers", function()
  it("accepts an object of string values", function()
    local _, errs = schema.check(HTTP, obj('{"url": "u", "headers":'
      .. ' {"Content-Type": "application/json"}}'))
    expect(#errs):to_be(0)
  end)

  it("accepts a string holding such an object", function()
    local _, errs = schema.check(HTTP, obj('{"url": "u", "headers":'
      .. ' "{\\"Accept\\": \\"application/json\\"}"}'))
    expect(#errs):to_be(0)
  end)

  it("rejects a header value that is not a string", function()
    local e = only_error(HTTP, obj('{"url": "u", "headers": {"X-N": 5}}'))
    expect(e.path):to_be('$.headers["X-N"]')
    expect(e.message):to_be(
      'config.headers: header "X-N" must have a string value; got the'
      .. " number 5.")
  end)

  it("rejects a header name with spaces", function()
    local e = only_error(HTTP, obj('{"url": "u", "headers": {"X Y": "1"}}'))
    expect(e.message):to_contain('header name "X Y"')
  end)

  it("rejects a string that is neither JSON nor a template", function()
    local e = only_error(HTTP, obj('{"url": "u", "headers": "Accept: */*"}'))
    expect(e.path):to_be("$.headers")
    expect(e.message):to_contain("not JSON")
  end)

  it("rejects a string holding JSON that is not an object", function()
    local e = only_error(HTTP, obj('{"url": "u", "headers": "[1]"}'))
    expect(e.message):to_contain("the string holds an array")
  end)

  it("compiles header values that hold templates as text", function()
    with_stub(function()
      local e = only_error(HTTP, obj('{"url": "u", "headers":'
        .. ' {"Authorization": "Bearer {{#if t}}x"}}'))
      expect(e.path):to_be("$.headers.Authorization")
      expect(e.message):to_contain("config.headers.Authorization does not"
        .. " compile")
      expect(stub.modes[2]):to_be("text")
    end)
  end)

  it("accepts a template string and compiles it as JSON", function()
    with_stub(function()
      local _, errs = schema.check(HTTP, obj('{"url": "u", "headers":'
        .. ' "{{#if a}}{}{{/if}}"}'))
      expect(#errs):to_be(0)
      expect(stub.modes[2]):to_be("json")
    end)
  end)
end)

describe("schema.check with templates", function()
  it("gives the line and column of a template that does not compile",
    function()
      with_stub(function()
        local cfg = {template = '{\n  "a": {{#if x}}1\n}', output = "o"}
        local e = only_error(TRANSFORM, cfg, "$.nodes[3].config")
        expect(e.path):to_be("$.nodes[3].config.template")
        expect(e.code):to_be("bad_template")
        expect(e.message):to_be("config.template does not compile"
          .. " (line 2, column 8): unclosed {{#if}} block.")
      end)
    end)

  it("compiles in the mode its mode field holds, or its default",
    function()
      with_stub(function()
        schema.check(TRANSFORM, {template = "t", output = "o"})
        schema.check(TRANSFORM, {template = "t", output = "o", mode = "text"})
        schema.check(HTTP, {url = "u"})
        expect(stub.modes):to_equal({"json", "text", "text"})
      end)
    end)

  it("does not compile when the mode field is invalid", function()
    with_stub(function()
      local e = only_error(TRANSFORM, {template = "t", output = "o",
        mode = "xml"})
      expect(e.path):to_be("$.mode")
      expect(#stub.modes):to_be(0)
    end)
  end)

  it("skips template checks when the engine is switched off", function()
    schema.set_template_engine(false)
    local _, errs = schema.check(TRANSFORM, {template = "{{#if", output = "o"})
    schema.set_template_engine(nil)
    expect(#errs):to_be(0)
  end)

  it("reports templates moonwire.template rejects, when it is present",
    function()
      if not pcall(require, "moonwire.template") then return end
      local e = only_error(TRANSFORM, {template = "{{#if x}}open",
        output = "o"})
      expect(e.code):to_be("bad_template")
      expect(e.message):to_contain("line 1")
    end)
end)

describe("schema secrets", function()
  local cfg = obj('{"token_url": "t", "client_id": "i", "client_secret":'
    .. ' "hunter2", "accounts": [{"user": "u", "password": "p"}]}')

  it("redacts secret fields, including inside array items", function()
    local out = schema.redact(OAUTH, cfg)
    expect(out.client_secret):to_be("[redacted]")
    expect(out.accounts[1].password):to_be("[redacted]")
    expect(out.accounts[1].user):to_be("u")
    expect(out.client_id):to_be("i")
    expect(cfg.client_secret):to_be("hunter2")
  end)

  it("strips secret fields for export", function()
    local out = schema.strip_secrets(OAUTH, cfg)
    expect(out.client_secret):to_be_nil()
    expect(out.accounts[1].password):to_be_nil()
    expect(json.is_array(out.accounts)):to_be(true)
    expect(out.token_url):to_be("t")
  end)

  it("restores stripped secrets from a previous config", function()
    local stripped = schema.strip_secrets(OAUTH, cfg)
    local out = schema.restore_secrets(OAUTH, stripped, cfg)
    expect(out.client_secret):to_be("hunter2")
  end)

  it("lets missing secrets pass when asked to", function()
    local stripped = schema.strip_secrets(OAUTH, cfg)
    local _, errs = schema.check(OAUTH, stripped)
    expect(#errs):to_be(1)
    expect(errs[1].path):to_be("$.client_secret")
    _, errs = schema.check(OAUTH, stripped, "$",
      {allow_missing_secrets = true})
    expect(#errs):to_be(0)
  end)
end)

describe("schema.check_module", function()
  local function good()
    return {
      type = "save_id", title = "Save ID", description = "Links an ID.",
      schema = {{name = "external_id", kind = "path", required = true}},
      ports = function() return {"next", "error"} end,
      outputs = function() return {} end,
      run = function() return "next" end,
    }
  end

  it("accepts a well-formed module", function()
    expect(#schema.check_module(good(), "nodes/save_id.lua")):to_be(0)
  end)

  it("names the origin in every message", function()
    local errs = schema.check_module("oops", "nodes/bad.lua")
    expect(#errs):to_be(1)
    expect(errs[1].message):to_be(
      'nodes/bad.lua: a node module must return a table; got the string'
      .. ' "oops".')
  end)

  it("reports bad names and missing functions", function()
    local mod = good()
    mod.type, mod.run, mod.ports = "Save-ID", nil, {"next"}
    local errs = schema.check_module(mod, "x.lua")
    expect(#errs):to_be(3)
    expect(errs[1].path):to_be("type")
    expect(errs[2].message):to_be("x.lua: run must be a function; got"
      .. " nothing.")
    expect(errs[3].path):to_be("ports")
  end)

  it("lets schema, ports, outputs and validate be absent", function()
    local mod = good()
    mod.schema, mod.ports, mod.outputs = nil, nil, nil
    expect(#schema.check_module(mod, "m.lua")):to_be(0)
  end)

  it("reports bad field specs with Lua paths", function()
    local mod = good()
    mod.schema = {
      {name = "a", kind = "strng"},
      {name = "a", kind = "enum"},
      {name = "c", kind = "integer", default = "x", requried = true},
      {name = "d", kind = "template", mode_field = "nope"},
    }
    local errs = schema.check_module(mod, "m.lua")
    local paths = {}
    for i, e in ipairs(errs) do paths[i] = e.path end
    expect(paths):to_equal({"schema[1].kind", "schema[2].name",
      "schema[2].enum", "schema[3]", "schema[3].default",
      "schema[4].mode_field"})
    expect(errs[1].message):to_contain('Did you mean "string"?')
    expect(errs[4].message):to_contain('Did you mean "required"?')
    expect(errs[5].message):to_contain("must be a whole number")
  end)

  it("checks the specs of array items", function()
    local mod = good()
    mod.schema = {{name = "r", kind = "array", items = {{kind = "string"}}}}
    local errs = schema.check_module(mod, "m.lua")
    expect(#errs):to_be(1)
    expect(errs[1].path):to_be("schema[1].items[1].name")
  end)
end)

describe("schema.describe", function()
  it("keeps order and array-ness for the API", function()
    local d = schema.describe(FLOW)
    expect(json.is_array(d)):to_be(true)
    expect(d[1].name):to_be("source")
    expect(d[1].required):to_be(true)
    expect(d[2].min):to_be(1)
    expect(json.is_array(d[2].items)):to_be(true)
    expect(d[2].items[3].items):to_be("json")
  end)

  it("marks enums as arrays and copies defaults", function()
    local d = schema.describe(HTTP)
    expect(json.is_array(d[1].enum)):to_be(true)
    expect(d[1].default):to_be("POST")
    expect(d[5].default):to_be(true)
    expect(d[1].secret):to_be(false)
  end)

  it("describes without the functions of a module", function()
    local text = json.encode(schema.describe(OAUTH))
    expect(text):to_contain('"secret":true')
  end)
end)
