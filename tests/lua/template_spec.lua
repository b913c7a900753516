-- Behaviour of moonwire.template beyond Handlebars conformance: the json
-- output mode, missing-value modes, built-in helpers, errors with positions,
-- number formatting and the public API. Conformance is
-- template_conformance.lua's.
-- SPDX-License-Identifier: MIT

local template = require("moonwire.template")
local json = require("moonwire.json")

-- Renders source with vars given as JSON text (so arrays, null and big
-- numbers arrive as moonwire.json makes them).
local function render(source, vars_json, opts)
  local vars = vars_json and assert(json.decode(vars_json)) or {}
  return template.render(source, vars, opts)
end

local function json_render(source, vars_json, opts)
  local out, err = render(source, vars_json, opts)
  assert(out, err and tostring(err))
  return out
end

describe("template json mode", function()
  it("escapes quotes, backslashes and control characters inside strings",
    function()
      local out = json_render('{"s": "{{s}}"}',
        [[{"s": "say \"hi\"\\ then\n\ttab \u0001"}]])
      expect(out):to_be([[{"s": "say \"hi\"\\ then\n\ttab \u0001"}]])
      expect(json.decode(out).s):to_be('say "hi"\\ then\n\ttab \1')
    end)

  it("escapes U+2028 and U+2029 and keeps emoji as they are", function()
    local out = json_render('{"s": "{{s}}"}', '{"s": "a\\u2028b\\u2029c 🚨"}')
    expect(out):to_be('{"s": "a\\u2028b\\u2029c 🚨"}')
  end)

  it("never lets a value end the string early or inject members", function()
    local evil = [[{"s": "x\", \"admin\": true, \"y\": \""}]]
    local value = template.compile('{"s": "{{s}}"}'):render_value(
      json.decode(evil))
    expect(value.s):to_be('x", "admin": true, "y": "')
    expect(value.admin):to_be_nil()
  end)

  it("does not HTML-escape", function()
    expect(json_render('{"s": "{{s}}"}', '{"s": "<a & b>"}'))
      :to_be('{"s": "<a & b>"}')
  end)

  it("keeps the type of a value standing at a value position", function()
    local out = json_render(
      '{"s": {{s}}, "n": {{n}}, "b": {{b}}, "z": {{z}}, "o": {{o}}, '
      .. '"a": {{a}}, "e": {{e}}}',
      '{"s": "x", "n": 1.5, "b": false, "z": null, "o": {"k": [1]}, '
      .. '"a": [], "e": {}}')
    expect(out):to_be('{"s": "x", "n": 1.5, "b": false, "z": null, '
      .. '"o": {"k":[1]}, "a": [], "e": {}}')
  end)

  it("writes objects and arrays inside a string as escaped JSON text",
    function()
      expect(json_render('{"s": "{{o}}"}', '{"o": {"k": "v"}}'))
        :to_be('{"s": "{\\"k\\":\\"v\\"}"}')
    end)

  it("inserts triple-stash text raw, but encodes a table at a value "
    .. "position", function()
      local out = json_render('{"raw": {{{body}}}, "t": {{{o}}}, "s": '
        .. '"{{{q}}}"}', '{"body": "[1, 2]", "o": {"a": 1}, "q": "a-b"}')
      expect(out):to_be('{"raw": [1, 2], "t": {"a":1}, "s": "a-b"}')
    end)

  it("copies escapes written in the template verbatim", function()
    expect(json_render('{"s": "line\\n{{v}}\\t"}', '{"v": "x"}'))
      :to_be('{"s": "line\\nx\\t"}')
  end)

  it("tracks strings across blocks in source order", function()
    local out = json_render(
      '{"tags": [{{#each tags}}"{{name}}={{value}}",{{/each}}], '
      .. '"n": {{#if n}}{{n}}{{else}}0{{/if}}}',
      '{"tags": [{"name": "a\\"", "value": 1}], "n": 7}')
    expect(out):to_be('{"tags": ["a\\"=1"], "n": 7}')
  end)

  it("removes a trailing comma before ] or } outside strings", function()
    local out = json_render(
      '{"xs": [{{#each xs}}{{this}},{{/each}}], "s": ",]", '
      .. '{{#each o}}"{{@key}}": {{this}},{{/each}}}',
      '{"xs": [1, 2], "o": {"a": 1}}')
    expect(out):to_be('{"xs": [1,2], "s": ",]", "a": 1}')
  end)

  it("keeps big integers exact at a value position and in strings",
    function()
      local out = json_render('{"id": {{id}}, "s": "{{id}}", "ts": {{ts}}}',
        '{"id": 12345678901234567890, "ts": 1717236000123456789}')
      expect(out):to_be('{"id": 12345678901234567890, '
        .. '"s": "12345678901234567890", "ts": 1717236000123456789}')
    end)

  it("formats numbers the JavaScript way", function()
    expect(json_render('[{{a}}, {{b}}, {{c}}, {{d}}, {{e}}]',
      '{"a": 10, "b": 0.1, "c": 1e21, "d": -1.5e-7, "e": 123456789.125}'))
      :to_be('[10, 0.1, 1e+21, -1.5e-7, 123456789.125]')
  end)

  it("fails with the output position and an excerpt when the output is "
    .. "not JSON", function()
      local out, err = render('{\n  "a": {{a}} {{b}}\n}', '{"a": 1, "b": 2}')
      expect(out):to_be_nil()
      expect(err.line):to_be(2)
      expect(err.col):to_be(10)
      expect(err.message):to_contain("not valid JSON")
      expect(err.message):to_contain('"a": 1 2')
    end)

  it("yields valid JSON that reads back the same for any string content",
    function()
      local pieces = {'"', "\\", "\n", "\r", "\t", "\0", "\31", "{{",
        "}", "]", ",", "\226\128\168", "\240\159\154\168", "é", "'",
        "<", "&", "a", " ", "\\u0041"}
      local tpl = template.compile('{"s": "{{s}}", "v": {{s}}, '
        .. '"l": [{{#each l}}"{{this}}",{{/each}}]}')
      local seed = 7
      for _ = 1, 300 do
        local parts = {}
        for i = 1, 6 do
          seed = (seed * 1103515245 + 12345) % 2147483648
          parts[i] = pieces[seed % #pieces + 1]
        end
        local s = table.concat(parts)
        local value, err = tpl:render_value({s = s, l = json.array({s, s})})
        expect(err):to_be_nil()
        expect(value.s):to_be(s)
        expect(value.v):to_be(s)
        expect(value.l[2]):to_be(s)
      end
    end)

  it("render_value returns the decoded value", function()
    local tpl = template.compile('{"n": {{n}}, "l": [{{#each l}}{{.}},'
      .. '{{/each}}]}')
    local value = tpl:render_value(json.decode('{"n": 3, "l": ["x"]}'))
    expect(value.n):to_be(3)
    expect(value.l[1]):to_be("x")
    expect(json.is_array(value.l)):to_be_truthy()
  end)
end)

describe("template missing values", function()
  it("writes null at a value position and nothing in a string by default "
    .. "in json mode", function()
      expect(json_render('{"a": {{x.y}}, "b": "{{x.y}}"}'))
        :to_be('{"a": null, "b": ""}')
    end)

  it("writes nothing by default in text and html modes", function()
    expect(render("[{{x.y}}]", nil, {mode = "text"})):to_be("[]")
    expect(render("[{{x.y}}]", nil, {mode = "html"})):to_be("[]")
  end)

  it("fails naming the path and its position with missing = error",
    function()
      local out, err = render('{\n  "a": "{{incident.foo}}"\n}',
        '{"incident": {}}', {missing = "error"})
      expect(out):to_be_nil()
      expect(err.message):to_be("missing value: incident.foo (line 2, col 9)")
      expect(err.line):to_be(2)
      expect(err.col):to_be(9)
    end)

  it("does not count null as missing, nor values tested by #if", function()
    expect(render('{"a": {{a}}{{#if b}}, "b": 1{{/if}}}', '{"a": null}',
      {missing = "error"})):to_be('{"a": null}')
  end)

  it("writes nothing at a value position with missing = empty", function()
    local out = render("[{{a}}1]", nil, {missing = "empty"})
    expect(out):to_be("[1]")
  end)
end)

describe("template helpers", function()
  it("json writes raw JSON at a value position and escaped text in a "
    .. "string", function()
      expect(json_render('{"v": {{json o}}, "s": "{{json o}}"}',
        '{"o": {"a": [1, null]}}'))
        :to_be('{"v": {"a":[1,null]}, "s": "{\\"a\\":[1,null]}"}')
      expect(render("{{json s}}", '{"s": "x"}', {mode = "text"}))
        :to_be('"x"')
    end)

  it("default skips missing, null and empty values", function()
    expect(render("{{default a b}}|{{default c \"d\"}}|{{default e 0}}",
      '{"a": null, "b": "B", "c": ""}', {mode = "text"})):to_be("B|d|0")
  end)

  it("eq compares JSON values, a number equal to its decimal text", function()
    local out = render("{{eq 20 \"20\"}} {{eq 20 \"20.0\"}} {{eq a b}} "
      .. "{{eq x y}} {{ne 1 2}} {{eq n null}}",
      '{"a": [1, {"k": 2}], "b": [1, {"k": 2}], "x": true, "y": "true"}',
      {mode = "text"})
    expect(out):to_be("true false true false true true")
  end)

  it("compares numbers, numeric text and other text", function()
    local out = render("{{lt 2 10}} {{lt \"2\" \"10\"}} {{gt \"b\" \"a\"}} "
      .. "{{lte 3 3}} {{gte 1 \"x\"}}", nil, {mode = "text"})
    expect(out):to_be("true true true true false")
  end)

  it("and, or and not work as subexpressions and blocks", function()
    local out = render("{{#if (and a (or b c))}}A{{/if}}"
      .. "{{#if (not d)}}N{{/if}}{{#eq s \"ok\"}}E{{else}}e{{/eq}}",
      '{"a": 1, "c": "x", "d": [], "s": "ok"}', {mode = "text"})
    expect(out):to_be("ANE")
  end)

  it("or returns the first truthy argument", function()
    expect(render('{"who": {{or assignee "nobody"}}}', '{"assignee": ""}'))
      :to_be('{"who": "nobody"}')
  end)

  it("changes case, truncates by characters and replaces plain text",
    function()
      local out = render("{{upper s}} {{lower s}} {{truncate u 3 \"…\"}} "
        .. "{{truncate s 10}} {{replace p \".\" \"-\"}}",
        '{"s": "MiXed", "u": "héllo wörld", "p": "a.b.c"}', {mode = "text"})
      expect(out):to_be("MIXED mixed hél… MiXed a-b-c")
    end)

  it("joins arrays and concatenates values", function()
    expect(render("{{join tags \", \"}}|{{join tags}}|{{concat a \"-\" 1}}",
      '{"tags": ["db", "prod"], "a": "x"}', {mode = "text"}))
      :to_be("db, prod|db,prod|x-1")
  end)

  it("formats dates from epoch seconds, milliseconds and ISO text",
    function()
      local out = render("{{date s}}|{{date ms \"%Y-%m-%d %H:%M\"}}|"
        .. "{{date iso \"%d/%m/%Y %H:%M:%S\" \"+02:00\"}}|{{date s \"%s\"}}",
        '{"s": 1717236000, "ms": 1717236000000, '
        .. '"iso": "2024-06-01T23:30:00.5-01:00"}', {mode = "text"})
      expect(out):to_be("2024-06-01T10:00:00Z|2024-06-01 10:00|"
        .. "02/06/2024 02:30:00|1717236000")
    end)

  it("writes a fixed offset in the default date format", function()
    expect(render("{{date 0 null \"-05:30\"}}", nil, {mode = "text"}))
      :to_be("1969-12-31T18:30:00-05:30")
  end)

  it("fails on a date it cannot read, naming the place", function()
    local out, err = render("x\n {{date d}}", '{"d": "yesterday"}',
      {mode = "text"})
    expect(out):to_be_nil()
    expect(err.message):to_contain('cannot read "yesterday" as a date')
    expect(err.message):to_contain("(line 2, col 2)")
  end)

  it("refuses a time zone the tz database does not know", function()
    local _, err = render("{{date 0 null \"Europe/Pariss\"}}", nil,
      {mode = "text"})
    expect(err.message):to_contain('unknown time zone "Europe/Pariss"')
  end)

  it("lets users register helpers with hash, data and blocks", function()
    template.register_helper("spec_wrap", function(value, options)
      local inner = options.fn({v = value}, {blockParams = {value}})
      return "<" .. options.hash.tag .. ">" .. inner
        .. (options.data.index or "-")
    end)
    local out = render(
      "{{#each xs}}{{#spec_wrap this tag=\"b\" as |x|}}{{v}}/{{x}}"
      .. "{{/spec_wrap}};{{/each}}",
      '{"xs": ["p", "q"]}', {mode = "text"})
    expect(out):to_be("<b>p/p0;<b>q/q1;")
  end)

  it("encodes a table a user helper returns at a value position", function()
    template.register_helper("spec_pair", function(a, b)
      return json.array({a, b})
    end)
    expect(json_render('{"p": {{spec_pair 1 "x"}}}')):to_be('{"p": [1,"x"]}')
  end)

  it("reports an error raised by a user helper with its position",
    function()
      template.register_helper("spec_boom", function()
        error("boom", 0)
      end)
      local _, err = render("ok\n{{spec_boom 1}}", nil, {mode = "text"})
      expect(err.message):to_be("boom (line 2, col 1)")
    end)
end)

describe("template errors", function()
  it("reports parse errors with line and column", function()
    local tpl, err = template.compile("a\n  {{{b}}")
    expect(tpl):to_be_nil()
    expect(err.message):to_match("^Parse error")
    expect(err.line):to_be(2)
    expect(tostring(err)):to_match("^line 2, col %d+: Parse error")
  end)

  it("names an unclosed block and where it was opened", function()
    local _, err = template.compile("x\n{{#each alerts}}\n{{id}}")
    expect(err.message):to_contain("{{#each}} opened at line 2, col 1")
    expect(err.message):to_contain("never closed")
  end)

  it("names both blocks of a mismatched close", function()
    local _, err = template.compile("{{#if a}}{{#each b}}{{/if}}{{/each}}")
    expect(err.message):to_contain("{{/if}} does not match {{#each}}")
    expect(err.col):to_be(21)
  end)

  it("rejects #each without a list and ../ inside a path", function()
    local _, e1 = template.compile("{{#each}}x{{/each}}")
    expect(e1.message):to_be("Must pass iterator to #each")
    local _, e2 = template.compile("{{a/../b}}")
    expect(e2.message):to_contain("Invalid path")
  end)

  it("rejects an unknown helper called with arguments", function()
    local _, err = template.compile("{{x}}\n{{nope a}}")
    expect(err.message):to_be('Missing helper: "nope"')
    expect(err.line):to_be(2)
  end)

  it("puts the template name in the error text", function()
    local _, err = template.compile("{{#if}}", {name = "body"})
    expect(tostring(err)):to_match("^body: line 1, col 1: ")
  end)
end)

describe("template html and text modes", function()
  it("escapes & < > \" ' ` = in html mode only", function()
    local vars = '{"s": "&<>\\"\'`="}'
    expect(render("{{s}}", vars, {mode = "html"}))
      :to_be("&amp;&lt;&gt;&quot;&#x27;&#x60;&#x3D;")
    expect(render("{{s}}", vars, {mode = "text"})):to_be("&<>\"'`=")
    expect(render("{{{s}}}", vars, {mode = "html"})):to_be("&<>\"'`=")
  end)

  it("iterates object keys integer-like first, the others sorted",
    function()
      expect(render("{{#each o}}{{@key}} {{/each}}",
        '{"o": {"b": 1, "10": 1, "a": 1, "2": 1}}', {mode = "text"}))
        :to_be("2 10 a b ")
    end)

  it("prints arrays as JavaScript joins them and objects as JSON",
    function()
      expect(render("{{a}} {{o}}", '{"a": [1, null, "x"], "o": {"k": 1}}',
        {mode = "text"})):to_be('1,,x {"k":1}')
    end)
end)

describe("template API", function()
  it("caches compiled templates by source and options", function()
    local a = template.compile("{{x}}", {mode = "text"})
    expect(template.compile("{{x}}", {mode = "text"})):to_be(a)
    expect(template.compile("{{x}}", {mode = "html"}) ~= a):to_be_truthy()
  end)

  it("lists the variable paths a template reads", function()
    local tpl = template.compile(
      '{"id": "{{incident.id}}", "url": "{{integration.base_url}}", '
      .. '"a": [{{#each incident.alerts as |al|}}"{{status}}{{al.id}}'
      .. '{{../metadata.x}}",{{/each}}], "d": "{{default incident.x '
      .. '@root.y}}", "k": "{{tags.[host.name]}}"}')
    expect(template.references(tpl)):to_equal({
      "incident.id", "integration.base_url", "incident.alerts",
      "incident.alerts[].status", "incident.alerts[].id", "metadata.x",
      "incident.x", "y", "tags.[host.name]",
    })
  end)

  it("renders with a convenience call", function()
    expect(template.render("Hi {{n}}", {n = "Ann"}, {mode = "text"}))
      :to_be("Hi Ann")
  end)

  it("rejects unknown modes", function()
    expect(function()
      template.compile("x", {mode = "xml"})
    end):to_fail("mode must be json, text, html or url")
  end)
end)

-- render_value holds objects and arrays out of the text and puts copies
-- back (template/runtime.lua, put_back): it must give what decoding the
-- rendered text gives, and fall back to that wherever it cannot.
describe("template values", function()
  local vars_json = [[{"incident": {"id": "i-1", "alerts": [{"s": "a"},
    {"s": "b", "n": null, "big": 123456789012345678901, "e": []}],
    "tags": {}, "q": "say \"hi\""}, "list": [1, 2.5, "x"], "none": null,
    "forged": "\u0000mw0000000000000000:1"}]]

  local cases = {
    '{"incident": {{incident}}, "id": "{{incident.id}}"}',
    '{{incident}}',
    '[{{#each incident.alerts}}{{this}},{{/each}}]',
    '{"a": {{incident.alerts}}, "t": {{incident.tags}}, "l": {{list}}, '
      .. '"n": {{none}}, "m": {{missing}}}',
    '{"in": "{{incident.alerts}}", "raw": {{{list}}}, "f": {{forged}}}',
    '{"if": {{#if incident}}{{incident.alerts.[1]}}{{else}}null{{/if}}}',
    '{"trail": [{{list}}, {{list}},],}',
  }

  it("gives what decoding the rendered text gives", function()
    for _, src in ipairs(cases) do
      local vars = assert(json.decode(vars_json))
      local tpl = assert(template.compile(src))
      local text = assert(tpl:render(vars))
      local want = json.encode(assert(json.decode(
        require("moonwire.template.jsontext").drop_trailing_commas(text))))
      local got = tpl:render_value(vars)
      expect(json.encode(got)):to_be(want)
    end
  end)

  it("gives values of their own, not the variables' tables", function()
    local vars = assert(json.decode(vars_json))
    local v = template.compile('{"incident": {{incident}}}'):render_value(vars)
    v.incident.id = "changed"
    v.incident.alerts[1].s = "changed"
    expect(vars.incident.id):to_be("i-1")
    expect(vars.incident.alerts[1].s):to_be("a")
    expect(json.is_array(v.incident.alerts)):to_be(true)
    expect(json.is_bignum(v.incident.alerts[2].big)):to_be(true)
  end)

  it("shares the variables' tables when the caller allows it", function()
    local vars = assert(json.decode(vars_json))
    local tpl = template.compile('{"incident": {{incident}}, "l": {{list}}}')
    local v = tpl:render_value(vars, true)
    expect(v.incident):to_be(vars.incident)
    expect(v.l):to_be(vars.list)
    expect(tpl:render_value(vars).incident ~= vars.incident):to_be(true)
  end)

  it("keeps a payload string that looks like a held value a string", function()
    local vars = assert(json.decode(vars_json))
    local v = template.compile('{"f": {{forged}}, "l": {{list}}}')
      :render_value(vars)
    expect(v.f):to_be(vars.forged)
    expect(json.encode(v.l)):to_be('[1,2.5,"x"]')
  end)

  it("reports a value JSON cannot hold as the text render does", function()
    local vars = {obj = {fn = print}}
    local tpl = template.compile('{"o": {{obj}}}')
    local _, err1 = tpl:render(vars)
    local v, err2 = tpl:render_value(vars)
    expect(v):to_be_nil()
    expect(tostring(err2.message)):to_be(tostring(err1.message))
  end)

  it("renders as text when a helper of the node path sees the output",
    function()
      template.register_helper("spec_shout", function(options)
        return string.upper(options.fn())
      end)
      local vars = assert(json.decode(vars_json))
      local v = template.compile(
        '{"a": {{#spec_shout}}{{list}}{{/spec_shout}}}'):render_value(vars)
      expect(json.encode(v.a)):to_be('[1,2.5,"X"]')
      template.unregister_helper("spec_shout")
    end)
end)
