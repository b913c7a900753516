-- Conformance of moonwire.template with handlebars.js and the Mustache spec:
-- runs every case of ../shared/data/templates in html mode, prints counts and
-- failures, and asserts that every case not listed as skipped passes. Run
-- from the repo root: build/moonwire test tests/lua/template_conformance.lua
-- SPDX-License-Identifier: MIT

local template = require("moonwire.template")
local json = require("moonwire.json")

local ROOT = os.getenv("MOONWIRE_SOURCE_DIR") or "."
local SHARED = os.getenv("MOONWIRE_SHARED") or (ROOT .. "/../shared")
local DATA = SHARED .. "/data/templates/"

-- Handlebars cases whose `note` flags a JavaScript artefact we do not copy.
-- (The other noted case, JavaScript number formatting, we do copy.)
local HANDLEBARS_SKIPPED = {
  ["each: integer-like keys are iterated first (JS object order)"] =
    "needs JSON document order for the non-integer keys (b before a); "
    .. "Lua tables keep none, so those keys iterate sorted",
}

-- Mustache spec tests we do not run, each with its reason. Handlebars has
-- neither set-delimiter tags nor (here) partials; its own test suite skips
-- the delimiter tests as well.
local NO_DELIMS = "set-delimiter tags {{= =}} are not supported"
local NO_PARTIALS = "partials {{> name}} are not supported"
local MUSTACHE_SKIPPED = {
  {"delimiters.json", "Pair Behavior", NO_DELIMS},
  {"delimiters.json", "Special Characters", NO_DELIMS},
  {"delimiters.json", "Sections", NO_DELIMS},
  {"delimiters.json", "Inverted Sections", NO_DELIMS},
  {"delimiters.json", "Partial Inheritence", NO_DELIMS},
  {"delimiters.json", "Post-Partial Behavior", NO_DELIMS},
  {"delimiters.json", "Surrounding Whitespace", NO_DELIMS},
  {"delimiters.json", "Outlying Whitespace (Inline)", NO_DELIMS},
  {"delimiters.json", "Standalone Tag", NO_DELIMS},
  {"delimiters.json", "Indented Standalone Tag", NO_DELIMS},
  {"delimiters.json", "Standalone Line Endings", NO_DELIMS},
  {"delimiters.json", "Standalone Without Previous Line", NO_DELIMS},
  {"delimiters.json", "Standalone Without Newline", NO_DELIMS},
  {"delimiters.json", "Pair with Padding", NO_DELIMS},
  {"partials.json", "Basic Behavior", NO_PARTIALS},
  {"partials.json", "Failed Lookup", NO_PARTIALS},
  {"partials.json", "Context", NO_PARTIALS},
  {"partials.json", "Recursion", NO_PARTIALS},
  {"partials.json", "Nested", NO_PARTIALS},
  {"partials.json", "Surrounding Whitespace", NO_PARTIALS},
  {"partials.json", "Inline Indentation", NO_PARTIALS},
  {"partials.json", "Standalone Line Endings", NO_PARTIALS},
  {"partials.json", "Standalone Without Previous Line", NO_PARTIALS},
  {"partials.json", "Standalone Without Newline", NO_PARTIALS},
  {"partials.json", "Standalone Indentation", NO_PARTIALS},
  {"partials.json", "Padding Whitespace", NO_PARTIALS},
}

local MUSTACHE_FILES = {"comments.json", "delimiters.json",
  "interpolation.json", "inverted.json", "partials.json", "sections.json"}

-- Test helpers the Handlebars cases describe in words ------------------------

-- "<type>:<String(value)>" with JavaScript's typeof names.
local function typed(v)
  if v == nil then
    return "undefined:undefined"
  elseif v == json.null then
    return "null:null"
  end
  local kind = type(v)
  if kind == "table" then
    kind = json.is_bignum(v) and "number" or "object"
  end
  return kind .. ":" .. template.to_text(v)
end

local function register_test_helpers()
  template.register_helper("echo", function(...)
    local n, out = select("#", ...) - 1, {}
    for i = 1, n do
      out[i] = typed((select(i, ...)))
    end
    return table.concat(out, " ")
  end)
  template.register_helper("hashecho", function(options)
    local keys, out = {}, {}
    for k in pairs(options.hash) do
      keys[#keys + 1] = k
    end
    table.sort(keys)
    for i, k in ipairs(keys) do
      out[i] = k .. "=" .. typed(options.hash[k])
    end
    return table.concat(out, " ")
  end)
  template.register_helper("raw", function(options)
    return options.fn()
  end)
end

-- Running --------------------------------------------------------------------

local function read_json(path)
  local f, err = io.open(path, "rb")
  if not f then
    error("cannot read " .. tostring(err))
  end
  local text = f:read("*a")
  f:close()
  return assert(json.decode(text))
end

-- Renders one case; returns nil when it behaved as expected, else a
-- sentence saying how it did not.
local function check(source, data, expected, want_error, opts)
  local out, err = template.render(source, data, opts)
  if want_error then
    if out then
      return "rendered " .. string.format("%q", out) .. ", expected error "
        .. want_error
    elseif not tostring(err.message):find(want_error, 1, true) then
      return "error " .. tostring(err) .. " does not contain " .. want_error
    end
    return nil
  end
  if not out then
    return "failed: " .. tostring(err)
  elseif out ~= expected then
    return string.format("got %q, expected %q", out, expected)
  end
  return nil
end

local counts = {run = 0, passed = 0, skipped = 0}
local failures = {}

-- Declares one spec per case; `skip` is the reason a case is not run.
local function case(label, skip, run)
  if skip then
    counts.skipped = counts.skipped + 1
    return
  end
  counts.run = counts.run + 1
  local problem = run()
  if problem then
    failures[#failures + 1] = label .. ": " .. problem
  else
    counts.passed = counts.passed + 1
  end
  it(label, function()
    expect(problem):to_be_nil()
  end)
end

register_test_helpers()

describe("template conformance: handlebars.js cases", function()
  local cases = read_json(DATA .. "handlebars-cases.json")
  for _, c in ipairs(cases) do
    case(c.name, HANDLEBARS_SKIPPED[c.name], function()
      local expected = c.expected ~= json.null and c.expected or nil
      local want_error = c.error ~= json.null and c.error or nil
      return check(c.template, c.data, expected, want_error, {mode = "html"})
    end)
  end
end)

-- Handlebars runs the Mustache spec in its compat mode (names are looked up
-- through the enclosing contexts), and so do we.
describe("template conformance: mustache spec", function()
  local skipped = {}
  for _, s in ipairs(MUSTACHE_SKIPPED) do
    skipped[s[1] .. "/" .. s[2]] = s[3]
  end
  for _, file in ipairs(MUSTACHE_FILES) do
    local spec = read_json(DATA .. "mustache-spec/" .. file)
    for _, t in ipairs(spec.tests) do
      local label = file .. "/" .. t.name
      local skip = skipped[label]
      skipped[label] = nil
      case(label, skip, function()
        return check(t.template, t.data, t.expected, nil,
          {mode = "html", compat = true})
      end)
    end
  end
  it("lists as skipped only tests that exist", function()
    expect(next(skipped)):to_be_nil()
  end)
end)

print(string.format("template conformance: %d run, %d passed, %d failed, "
  .. "%d skipped", counts.run, counts.passed, #failures, counts.skipped))
for _, f in ipairs(failures) do
  print("  FAIL " .. f)
end
