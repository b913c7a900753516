-- Config schemas of node types: checks and normalizes a node's config
-- against its field list, redacts or strips secret fields, checks that a
-- node module is well formed and describes a schema for the API and editor.
-- Workflow-level checks (ids, connections, the graph) are moonwire.workflow's.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local varpath = require("moonwire.path")

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local pcall, require, error = pcall, require, error
local setmetatable, getmetatable = setmetatable, getmetatable
local floor, huge, min = math.floor, math.huge, math.min
local concat, sort = table.concat, table.sort
local format = string.format
local null = json.null

local M = {}

---@class mw.FieldSpec
---@field name string
---@field kind string
---@field required? boolean
---@field default? any
---@field secret? boolean
---@field enum? any[]
---@field min? number
---@field max? number
---@field items? mw.FieldSpec[]|string
---@field values? string
---@field mode? "json"|"text"|"html"|"url"
---@field mode_field? string
---@field title? string
---@field description? string

---@class mw.Error
---@field path string    JSON path, 0-based indexes: $.nodes[0].config.url
---@field code string    stable code, a key of schema.messages
---@field message string a sentence the user can act on

-- Every message a config check can produce, by stable code. The %s slots
-- take text that is already quoted or described (see show and got below).
local MSG = {
  not_object = "%s must be a JSON object; got %s.",
  missing = "%s is required and missing: give %s.",
  null = "%s is required: give %s, not null.",
  wrong_kind = "%s must be %s; got %s.",
  not_in_enum = "%s must be one of %s; got %s.%s",
  too_small = "%s must be at least %s; got %s.",
  too_large = "%s must be at most %s; got %s.",
  too_few = "%s must have at least %d item(s); it has %d.",
  too_many = "%s must have at most %d item(s); it has %d.",
  too_short = "%s must be at least %d character(s) long; got %s.",
  too_long = "%s must be at most %d character(s) long; got %s.",
  bad_variable = "%s must be a variable name: a letter or _, then letters,"
    .. " digits or _; got %s.",
  bad_path = "%s must be a variable path such as createResponse.id,"
    .. " alerts[0].name or incident.tags.[odd key]; got %s: %s.",
  bad_template = "%s does not compile%s: %s",
  template_crash = "%s could not be checked: the template engine failed"
    .. " with: %s",
  bad_headers = "%s must be %s; %s.",
  bad_header_name = "%s has the header name %s, which is not a valid HTTP"
    .. " header name (letters, digits and !#$%%&'*+-.^_`|~ only).",
  bad_header_value = "%s: header %s must have a string value; got %s.",
  unknown_field = "%s is not a known field.%s",
  bad_module = "%s: %s",
}
M.messages = MSG

local VARIABLE = "^[A-Za-z_][A-Za-z0-9_]*$"
local HEADER_NAME = "^[%w!#$%%&'*+%-%.^_`|~]+$"
local MODES = {json = true, text = true, html = true, url = true}
local HEADERS_WHAT = "a JSON object of header names to string values, or"
  .. " a string holding one or a template that builds one"

-- Type tests -----------------------------------------------------------

local function is_bignum(v)
  return type(v) == "table" and json.is_bignum(v)
end

-- True for a Lua sequence: keys 1..n and nothing else.
local function is_list(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

-- Configs written in Lua (node specs, the REPL) hold plain lists with no
-- array mark. Decoded JSON never does (its object keys are strings), so
-- a non-empty sequence counts as an array; an empty {} stays an object.
local function is_array(v)
  if type(v) ~= "table" then return false end
  if json.is_array(v) then return true end
  return v[1] ~= nil and not is_bignum(v) and is_list(v)
end

local function is_object(v)
  return type(v) == "table" and not is_array(v) and not is_bignum(v)
end

local function is_string(v) return type(v) == "string" end
local function is_boolean(v) return type(v) == "boolean" end

local function is_number(v)
  return (type(v) == "number" and v == v) or is_bignum(v)
end

local function is_integer(v)
  if is_bignum(v) then return true end
  return type(v) == "number" and v == floor(v) and v > -huge and v < huge
end

local function is_json(v)
  local t = type(v)
  return v == null or t == "string" or t == "boolean" or t == "table"
    or is_number(v)
end

local function is_headers(v) return is_string(v) or is_object(v) end

---True for a JSON object: a table that is not an array (marked, or a
---plain non-empty Lua list) and not a big number.
---@param v any
---@return boolean
M.is_object = is_object

---True for a JSON array: marked with json.array, or a plain non-empty
---Lua list.
---@param v any
---@return boolean
M.is_array = is_array

-- Copies and paths ----------------------------------------------------

---A deep copy that keeps metatables, so array marks and big numbers
---survive; json.null is returned as is.
---@param v any
---@return any
local function copy(v)
  if v == null or type(v) ~= "table" or is_bignum(v) then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return setmetatable(out, getmetatable(v))
end
M.copy = copy

---Appends one step to a JSON path: `.name`, `["odd key"]` or `[index]`.
---@param base string a path such as "$.nodes[0]"
---@param key string|integer a key, or a 0-based array index
---@return string
function M.join(base, key)
  if type(key) == "number" then return base .. "[" .. key .. "]" end
  if key:match(VARIABLE) then return base .. "." .. key end
  return base .. '["' .. json.escape(key) .. '"]'
end
local join = M.join

-- Describing values in messages ---------------------------------------

-- Cuts s to about n bytes without splitting a UTF-8 sequence.
local function shorten(s, n)
  if #s <= n then return s end
  while n > 1 and s:byte(n + 1) and s:byte(n + 1) >= 0x80
    and s:byte(n + 1) < 0xC0 do
    n = n - 1
  end
  return s:sub(1, n) .. "..."
end

---How a value reads in a message: strings quoted, containers by shape.
---@param v any
---@return string
function M.show(v)
  if v == nil then return "nothing" end
  if v == null then return "null" end
  if type(v) == "string" then
    return '"' .. json.escape(shorten(v, 60)) .. '"'
  end
  if is_array(v) then return "an array" end
  if is_object(v) then return "an object" end
  return tostring(v)
end
local show = M.show

---Like show, but names the type of a scalar found where another was due:
---`the string "30"`, `the number 5`, `an array`.
---@param v any
---@return string
function M.got(v)
  if type(v) == "string" then return "the string " .. show(v) end
  if type(v) == "number" or is_bignum(v) then
    return "the number " .. show(v)
  end
  return show(v)
end
local got = M.got

local function list_text(list)
  local out = {}
  for i, v in ipairs(list or {}) do out[i] = tostring(v) end
  return concat(out, ", ")
end

-- Edit distance counting a swap of neighbours as one edit ("vaule" is
-- one from "value"). Long inputs are never close to anything.
local function distance(a, b)
  if #a > 64 or #b > 64 then return huge end
  local d = {}
  for i = 0, #a do d[i] = {[0] = i} end
  for j = 1, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1)
        and a:byte(i - 1) == b:byte(j) then
        v = min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[#a][#b]
end

---The candidate closest to word (ignoring case), if it is close enough
---to be a likely typo; nil otherwise.
---@param word string
---@param candidates string[]
---@return string|nil
function M.suggest(word, candidates)
  local best, best_d
  if type(word) ~= "string" then return nil end
  for _, c in ipairs(candidates) do
    c = tostring(c)
    local d = distance(word:lower(), c:lower())
    local limit = min(3, floor(#c / 3))
    local close = d <= (limit < 1 and 1 or limit) and d < #c and d < #word
    if close and (not best_d or d < best_d) then
      best, best_d = c, d
    end
  end
  return best
end

local function did_you_mean(word, candidates)
  local s = M.suggest(word, candidates)
  return s and format(' Did you mean "%s"?', s) or ""
end

---Ends text taken from elsewhere (an engine's or a module's message) as
---a sentence: with a full stop unless it has one.
---@param s any
---@return string
function M.sentence(s)
  s = tostring(s)
  return s:match("[%.!?]$") and s or s .. "."
end
local sentence = M.sentence

local function add(st, code, path, ...)
  st.errors[#st.errors + 1] = {
    path = path, code = code, message = format(MSG[code], ...),
  }
end

-- Templates ------------------------------------------------------------

-- nil: not looked up yet; false: absent or disabled; else the module.
local engine

---Chooses the template engine the checks compile with: a module with
---`compile(src, opts)`, false to skip template checks, or nil to go
---back to loading moonwire.template on first use. For tests and hosts.
---@param mod table|false|nil
function M.set_template_engine(mod)
  engine = mod
end

local function template_engine()
  if engine == nil then
    local ok, mod = pcall(require, "moonwire.template")
    if ok then
      engine = mod
    elseif tostring(mod):find("'moonwire.template' not found", 1, true) then
      engine = false
    else
      error(mod, 0)
    end
  end
  return engine or nil
end

-- Compiles src and reports a failure at path; a missing engine skips it.
local function compile(src, mode, path, label, st)
  local eng = template_engine()
  if not eng then return end

  local ok, tpl, err = pcall(eng.compile, src, {mode = mode})
  if not ok then
    return add(st, "template_crash", path, label, sentence(tpl))
  end
  if tpl then return end

  local where, text = "", err
  if type(err) == "table" then
    text = err.message
    if err.line then
      where = format(" (line %d, column %d)", err.line, err.col or 1)
    end
  end
  add(st, "bad_template", path, label, where, sentence(text))
end

-- A template's mode: its own, or the value of the sibling mode_field
-- (its default when absent). nil when the sibling holds no valid mode;
-- that sibling's own check reports it.
local function template_mode(spec, level)
  if not spec.mode_field or not level then return spec.mode end

  local v = level.config[spec.mode_field]
  local sib
  for _, f in ipairs(level.fields) do
    if f.name == spec.mode_field then sib = f end
  end
  if (v == nil or v == null) and sib then v = sib.default end
  if not MODES[v] then return nil end
  if sib and sib.enum then
    for _, e in ipairs(sib.enum) do
      if e == v then return v end
    end
    return nil
  end
  return v
end

-- Kinds ----------------------------------------------------------------

local check_value, check_object

local function check_enum(spec, v, path, label, st)
  for _, e in ipairs(spec.enum) do
    if e == v then return true end
  end
  local hint = type(v) == "string" and did_you_mean(v, spec.enum) or ""
  add(st, "not_in_enum", path, label, list_text(spec.enum), show(v), hint)
  return false
end

-- Comparisons with a bound; a big number lies beyond every ordinary one.
local function below(v, limit)
  if is_bignum(v) then return tostring(v):sub(1, 1) == "-" end
  return v < limit
end

local function above(v, limit)
  if is_bignum(v) then return tostring(v):sub(1, 1) ~= "-" end
  return v > limit
end

local function check_bounds(spec, v, path, label, st)
  local lo, hi = spec.min, spec.max
  if type(v) == "string" then
    if lo and #v < lo then add(st, "too_short", path, label, lo, show(v)) end
    if hi and #v > hi then add(st, "too_long", path, label, hi, show(v)) end
  elseif is_array(v) then
    if lo and #v < lo then add(st, "too_few", path, label, lo, #v) end
    if hi and #v > hi then add(st, "too_many", path, label, hi, #v) end
  elseif is_number(v) then
    if lo and below(v, lo) then
      add(st, "too_small", path, label, show(lo), show(v))
    end
    if hi and above(v, hi) then
      add(st, "too_large", path, label, show(hi), show(v))
    end
  end
end

local function refine_variable(_, v, path, label, st)
  if not v:match(VARIABLE) then
    add(st, "bad_variable", path, label, show(v))
  end
  return v
end

-- Paths are checked by the parser the runtime looks them up with, so
-- import accepts exactly what a node can resolve.
local function refine_path(_, v, path, label, st)
  local segs, err = varpath.parse(v)
  if not segs then add(st, "bad_path", path, label, show(v), err) end
  return v
end

local function refine_template(spec, v, path, label, st, level)
  local mode = template_mode(spec, level)
  if mode or not spec.mode_field then compile(v, mode, path, label, st) end
  return v
end

-- Checks header names and values. In an object field each value has its
-- own path, and a value with {{ is compiled as a text template; inside a
-- string (own_paths false) everything is reported at the field.
local function check_header_entries(obj, path, label, st, own_paths)
  local names = {}
  for k in pairs(obj) do names[#names + 1] = tostring(k) end
  sort(names)
  for _, k in ipairs(names) do
    local v = obj[k]
    local p = own_paths and join(path, k) or path
    if not k:match(HEADER_NAME) then
      add(st, "bad_header_name", p, label, show(k))
    end
    if type(v) ~= "string" then
      add(st, "bad_header_value", p, label, show(k), got(v))
    elseif own_paths and v:find("{{", 1, true) then
      compile(v, "text", p, join(label, k), st)
    end
  end
end

-- Headers: an object, a string holding a JSON object, or (when the node
-- templates its request) a template that renders one. A string that is
-- JSON is checked as JSON; one with {{ is also compiled.
local function refine_headers(spec, v, path, label, st)
  if is_object(v) then
    check_header_entries(v, path, label, st, true)
    return copy(v)
  end

  local ok, doc, err = pcall(json.decode, v)
  if not ok then doc, err = nil, doc end
  local templated = v:find("{{", 1, true) ~= nil
  if doc ~= nil and not is_object(doc) then
    add(st, "bad_headers", path, label, HEADERS_WHAT,
      "the string holds " .. show(doc))
  elseif doc ~= nil then
    check_header_entries(doc, path, label, st)
  elseif not templated then
    add(st, "bad_headers", path, label, HEADERS_WHAT,
      "got a string that is not JSON (" .. tostring(err) .. ")")
  end
  if templated then compile(v, spec.mode or "json", path, label, st) end
  return v
end

-- One element of an array field: `items` is a kind name, a single field
-- spec, or a field list for arrays of objects.
local function check_item(items, v, path, label, st)
  if items == nil then return copy(v) end
  if type(items) == "string" then
    return check_value({kind = items}, v, path, label, st)
  end
  if items.kind then return check_value(items, v, path, label, st) end
  return check_object(items, v, path, label, st)
end

local function refine_array(spec, v, path, label, st)
  local out = json.array({})
  for i = 1, #v do
    local p, l = join(path, i - 1), join(label, i - 1)
    out[i] = check_item(spec.items, v[i], p, l, st)
  end
  return out
end

local function refine_object(spec, v, path, label, st)
  if spec.values == nil then return copy(v) end

  local vspec = spec.values
  if type(vspec) == "string" then vspec = {kind = vspec} end
  local keys, out = {}, {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  for _, k in ipairs(keys) do
    out[k] = check_value(vspec, v[k], join(path, k), join(label, k), st)
  end
  return out
end

-- what: the expected value, as a phrase ("a whole number").
local KINDS = {
  string = {what = "a string", accepts = is_string},
  template = {what = "a template string", accepts = is_string,
    refine = refine_template},
  number = {what = "a number", accepts = is_number},
  integer = {what = "a whole number", accepts = is_integer},
  boolean = {what = "true or false", accepts = is_boolean},
  enum = {accepts = is_string},
  variable = {what = "a variable name", accepts = is_string,
    refine = refine_variable},
  path = {what = "a variable path", accepts = is_string,
    refine = refine_path},
  object = {what = "a JSON object", accepts = is_object,
    refine = refine_object},
  array = {what = "a JSON array", accepts = is_array, refine = refine_array},
  json = {what = "a JSON value", accepts = is_json},
  body = {what = "a template string, or a JSON object or array",
    accepts = function(v) return is_string(v) or is_object(v) or is_array(v) end,
    refine = function(spec, v, path, label, st, level)
      if is_string(v) then return refine_template(spec, v, path, label, st, level) end
      return copy(v)
    end},
  headers = {what = HEADERS_WHAT, accepts = is_headers,
    refine = refine_headers},
}

local function what(spec)
  if spec.kind == "enum" then return "one of " .. list_text(spec.enum) end
  return KINDS[spec.kind].what
end

-- Checks one present value against its spec; returns the normalized
-- value (nil when it is of the wrong kind). Unknown kinds pass: they are
-- check_module's to report.
function check_value(spec, v, path, label, st, level)
  local kind = KINDS[spec.kind]
  if not kind then return copy(v) end

  if not kind.accepts(v) then
    add(st, "wrong_kind", path, label, what(spec), got(v))
    return nil
  end
  if spec.enum and not check_enum(spec, v, path, label, st) then
    return v
  end
  check_bounds(spec, v, path, label, st)
  if kind.refine then return kind.refine(spec, v, path, label, st, level) end
  return copy(v)
end

-- A default as the normalized config holds it: a copy, arrays marked.
local function default_of(spec)
  local d = copy(spec.default)
  if spec.kind == "array" and type(d) == "table" and not is_array(d) then
    d = json.array(d)
  end
  return d
end

local function check_field(spec, config, level, path, label, st, out)
  local v = config[spec.name]
  local p, l = join(path, spec.name), join(label, spec.name)
  local absent = v == nil or (v == null and spec.kind ~= "json")

  if not absent then
    out[spec.name] = check_value(spec, v, p, l, st, level)
  elseif spec.required then
    if spec.secret and st.opts.allow_missing_secrets then return end
    if KINDS[spec.kind] then
      add(st, v == null and "null" or "missing", p, l, what(spec))
    end
  elseif spec.default ~= nil then
    out[spec.name] = default_of(spec)
  end
end

local function check_unknown(fields, config, path, label, st)
  local names, known, extra = {}, {}, {}
  for i, spec in ipairs(fields) do
    names[i], known[spec.name] = spec.name, true
  end
  for k in pairs(config) do
    if not known[k] then extra[#extra + 1] = tostring(k) end
  end
  sort(extra)
  for _, k in ipairs(extra) do
    local hint = did_you_mean(k, names)
    if hint == "" then
      hint = #names > 0 and " Known fields: " .. concat(names, ", ") .. "."
        or " This node type takes no config fields."
    end
    add(st, "unknown_field", join(path, k), join(label, k), hint)
  end
end

-- Checks an object against a field list; returns its normalized copy,
-- or nil when config is not an object.
function check_object(fields, config, path, label, st)
  if not is_object(config) then
    add(st, "not_object", path, label, got(config))
    return nil
  end

  local out, level = {}, {fields = fields, config = config}
  for _, spec in ipairs(fields) do
    check_field(spec, config, level, path, label, st, out)
  end
  check_unknown(fields, config, path, label, st)
  return out
end

---Checks a config against a field list and applies defaults.
---Paths in errors start at `path` and use 0-based array indexes; messages
---name fields from `opts.label` ("config" unless given), e.g.
---`config.routes[1].port`. A nil config counts as an empty object.
---@param fields mw.FieldSpec[]
---@param config table|nil
---@param path? string JSON path of the config, "$" unless given
---@param opts? {label?: string, allow_missing_secrets?: boolean}
---@return table|nil normalized a copy with defaults; nil if not an object
---@return mw.Error[] errors empty when the config is valid
function M.check(fields, config, path, opts)
  local st = {errors = {}, opts = opts or {}}
  if config == nil then config = {} end
  local out = check_object(fields, config, path or "$",
    st.opts.label or "config", st)
  return out, st.errors
end

-- Secrets --------------------------------------------------------------

-- Copies config, passing each present secret field's value through
-- on_secret (whose nil result drops the field). Descends into arrays of
-- objects so secrets in their items are found too.
-- A secret field that only names a setting ("{{integration.client_secret}}")
-- holds no secret: it stays in exports and traces, so that an exported
-- workflow imports and runs as it was.
local function is_setting_reference(v)
  return type(v) == "string"
    and v:match("^%s*{{~?%s*integration%.[%w_]+%s*~?}}%s*$") ~= nil
end

local function map_secrets(fields, config, on_secret)
  if not is_object(config) then return copy(config) end

  local specs, out = {}, {}
  for _, spec in ipairs(fields) do specs[spec.name] = spec end
  for k, v in pairs(config) do
    local spec = specs[k]
    local items = spec and spec.kind == "array" and spec.items
    if spec and spec.secret and is_setting_reference(v) then
      out[k] = v
    elseif spec and spec.secret then
      out[k] = on_secret(v)
    elseif type(items) == "table" and not items.kind and is_array(v) then
      local a = json.array({})
      for i = 1, #v do a[i] = map_secrets(items, v[i], on_secret) end
      out[k] = a
    else
      out[k] = copy(v)
    end
  end
  return out
end

---A copy of config with every secret field's value replaced by
---"[redacted]" (null stays null: it reveals nothing). For traces and logs.
---@param fields mw.FieldSpec[]
---@param config table
---@return table
function M.redact(fields, config)
  return map_secrets(fields, config, function(v)
    return v == null and null or "[redacted]"
  end)
end

---A copy of config without its secret fields. For export.
---@param fields mw.FieldSpec[]
---@param config table
---@return table
function M.strip_secrets(fields, config)
  return map_secrets(fields, config, function() return nil end)
end

---A copy of config where each top-level secret field that config lacks is
---taken from previous: for importing an export over a stored workflow.
---@param fields mw.FieldSpec[]
---@param config table
---@param previous table|nil the stored config of the same node
---@return table
function M.restore_secrets(fields, config, previous)
  local out = copy(config)
  if not is_object(out) or not is_object(previous) then return out end
  for _, spec in ipairs(fields) do
    local name = spec.name
    if spec.secret and out[name] == nil and previous[name] ~= nil then
      out[name] = copy(previous[name])
    end
  end
  return out
end

-- Module checks ----------------------------------------------------------

local SPEC_KEYS = {
  "name", "kind", "required", "default", "secret", "enum", "min", "max",
  "items", "values", "mode", "mode_field", "title", "description",
}
local SPEC_TYPES = {
  required = "boolean", secret = "boolean", min = "number", max = "number",
  title = "string", description = "string", mode_field = "string",
}
local SPEC_KEY_SET = {}
for _, k in ipairs(SPEC_KEYS) do SPEC_KEY_SET[k] = true end
local KIND_NAMES = {}
for k in pairs(KINDS) do KIND_NAMES[#KIND_NAMES + 1] = k end
sort(KIND_NAMES)

local function module_error(st, path, text, ...)
  add(st, "bad_module", path, st.origin, format(text, ...))
end

local function check_kind_name(st, kind, path)
  if type(kind) ~= "string" or not KINDS[kind] then
    module_error(st, path, "%s is %s, not a kind.%s Kinds: %s.", path,
      show(kind), did_you_mean(kind, KIND_NAMES), concat(KIND_NAMES, ", "))
    return false
  end
  return true
end

local check_field_list

local function check_spec_types(st, spec, at)
  for _, key in ipairs(SPEC_KEYS) do
    local t = SPEC_TYPES[key]
    if t and spec[key] ~= nil and type(spec[key]) ~= t then
      module_error(st, at .. "." .. key, "%s.%s must be a %s; got %s.",
        at, key, t, got(spec[key]))
    end
  end
  local extra = {}
  for k in pairs(spec) do
    if not SPEC_KEY_SET[k] then extra[#extra + 1] = tostring(k) end
  end
  sort(extra)
  for _, k in ipairs(extra) do
    module_error(st, at, "%s has the unknown key %s.%s", at, show(k),
      did_you_mean(k, SPEC_KEYS))
  end
end

local function check_spec_enum(st, spec, at)
  local e = spec.enum
  if e == nil and spec.kind ~= "enum" then return end
  if not is_list(e) or #e == 0 then
    module_error(st, at .. ".enum", "%s.enum must be a non-empty list of"
      .. " the allowed values.", at)
  end
end

local function check_spec_nested(st, spec, at)
  local items, values = spec.items, spec.values
  if type(items) == "string" then
    check_kind_name(st, items, at .. ".items")
  elseif type(items) == "table" and items.kind then
    check_field_list(st, {items}, at .. ".items", true)
  elseif items ~= nil then
    check_field_list(st, items, at .. ".items")
  end
  if type(values) == "table" and values.kind then
    check_field_list(st, {values}, at .. ".values", true)
  elseif values ~= nil then
    check_kind_name(st, values, at .. ".values")
  end
  if spec.mode ~= nil and not MODES[spec.mode] then
    module_error(st, at .. ".mode", "%s.mode must be json, text, html or url;"
      .. " got %s.", at, show(spec.mode))
  end
end

-- A default must itself be a valid value of its field.
local function check_spec_default(st, spec, at)
  if spec.default == nil or not KINDS[spec.kind] then return end
  local sub = {errors = {}, opts = {}}
  local level = {fields = {}, config = {}}
  check_value(spec, default_of(spec), at .. ".default", at .. ".default",
    sub, level)
  for _, e in ipairs(sub.errors) do
    module_error(st, e.path, "%s", e.message)
  end
end

local function check_spec(st, spec, at, names, anonymous)
  if type(spec) ~= "table" then
    return module_error(st, at, "%s must be a field spec table; got %s.",
      at, got(spec))
  end
  if not anonymous and (type(spec.name) ~= "string"
      or not spec.name:match(VARIABLE)) then
    module_error(st, at .. ".name", "%s.name must be a field name (a letter"
      .. " or _, then letters, digits or _); got %s.", at, show(spec.name))
  elseif not anonymous and names[spec.name] then
    module_error(st, at .. ".name", "%s.name %s is already used by %s.",
      at, show(spec.name), names[spec.name])
  elseif not anonymous then
    names[spec.name] = at
  end
  check_kind_name(st, spec.kind, at .. ".kind")
  check_spec_types(st, spec, at)
  check_spec_enum(st, spec, at)
  check_spec_nested(st, spec, at)
  check_spec_default(st, spec, at)
end

-- Checks a field list; anonymous lists (a single items/values spec) need
-- no names. Module paths are Lua paths, 1-based: schema[2].kind.
function check_field_list(st, fields, at, anonymous)
  if not is_list(fields) then
    return module_error(st, at, "%s must be a list of field specs; got %s.",
      at, got(fields))
  end
  local names = {}
  for i, spec in ipairs(fields) do
    check_spec(st, spec, format("%s[%d]", at, i), names, anonymous)
  end
  for i, spec in ipairs(fields) do
    local mf = type(spec) == "table" and spec.mode_field
    if type(mf) == "string" and not names[mf] then
      module_error(st, format("%s[%d].mode_field", at, i), "%s[%d]"
        .. ".mode_field names %s, which is not a field of this list.",
        at, i, show(mf))
    end
  end
end

local function check_module_keys(st, mod)
  local ty = mod.type
  if type(ty) ~= "string" or not ty:match("^[a-z][a-z0-9_]*$") then
    module_error(st, "type", "type must be a lowercase name (a-z, then a-z,"
      .. " 0-9 or _); got %s.", show(ty))
  end
  for _, key in ipairs({"title", "description"}) do
    if type(mod[key]) ~= "string" or mod[key] == "" then
      module_error(st, key, "%s must be a non-empty string; got %s.", key,
        show(mod[key]))
    end
  end
  if type(mod.run) ~= "function" then
    module_error(st, "run", "run must be a function; got %s.", show(mod.run))
  end
  for _, key in ipairs({"ports", "outputs", "validate"}) do
    local f = mod[key]
    if f ~= nil and type(f) ~= "function" then
      module_error(st, key, "%s must be a function when given; got %s.",
        key, show(f))
    end
  end
end

---Checks that a node module is well formed: its names, its functions and
---every field spec of its schema. `schema`, `ports`, `outputs` and
---`validate` may be absent (the loader supplies no fields, next/error,
---no outputs); present, they must be well formed. Error paths point
---into the module (Lua, 1-based: `schema[2].kind`); each message starts
---with origin.
---@param mod any what the module file returned
---@param origin? string where it came from, e.g. "nodes/oauth.lua"
---@return mw.Error[] errors empty when the module is well formed
function M.check_module(mod, origin)
  local st = {errors = {}, origin = origin or "node module"}
  if type(mod) ~= "table" then
    module_error(st, "", "a node module must return a table; got %s.",
      got(mod))
    return st.errors
  end
  check_module_keys(st, mod)
  if mod.schema ~= nil then check_field_list(st, mod.schema, "schema") end
  return st.errors
end

-- Describing ---------------------------------------------------------------

local DESCRIBED = {
  "name", "kind", "title", "description", "min", "max", "mode",
  "mode_field",
}

local function describe_nested(v)
  if type(v) ~= "table" then return v end
  if v.kind then return M.describe({v})[1] end
  return M.describe(v)
end

---A JSON-ready description of a field list for the API and the editor:
---an array (json.array) of objects, in schema order.
---@param fields mw.FieldSpec[]
---@return table
function M.describe(fields)
  local out = json.array({})
  for i, spec in ipairs(fields) do
    local d = {required = spec.required == true, secret = spec.secret == true}
    for _, key in ipairs(DESCRIBED) do d[key] = copy(spec[key]) end
    if spec.enum then d.enum = json.array(copy(spec.enum)) end
    if spec.default ~= nil then d.default = default_of(spec) end
    d.items = describe_nested(spec.items)
    d.values = describe_nested(spec.values)
    out[i] = d
  end
  return out
end

return M
