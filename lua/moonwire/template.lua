-- The template engine's public face: compile (cached), render, render_value,
-- helper registration and the list of variables a template reads. The work
-- is done by moonwire/template/*.lua; JSON decoding is moonwire.json's.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local parser = require("moonwire.template.parser")
local codegen = require("moonwire.template.codegen")
local rt = require("moonwire.template.runtime")
local builtins = require("moonwire.template.helpers")
local jsontext = require("moonwire.template.jsontext")
local refs = require("moonwire.template.refs")

local load, pcall, type, tostring, setmetatable, pairs, error =
  load, pcall, type, tostring, setmetatable, pairs, error
local format, sub, gsub = string.format, string.sub, string.gsub
local max = math.max
local json_validate = json.validate

local M = {}

-- Helpers by name; `builtin` names those still bound to the built-in
-- function, which the compiler may inline or call without a full options
-- table.
local registry, builtin = {}, {}
for name, fn in pairs(builtins) do
  registry[name], builtin[name] = fn, true
end

-- What the generated code imports from the runtime (codegen.IMPORTS).
local imports = {
  GET = rt.get, GETN = rt.getn, DEEP = rt.deep, TRUTHY = rt.truthy,
  TRUTHYZ = rt.truthy_zero, EMPTY = rt.is_empty, SFALSY = rt.section_falsy,
  ISARR = rt.is_array, ITER = rt.iter, TEXT = rt.text, HTML = rt.html,
  UENC = rt.uenc, JSTR = rt.jstr, JVALN = rt.jval_null, JVALE = rt.jval_empty,
  JRAWN = rt.jraw_null, JRAWE = rt.jraw_empty, NULL = rt.NULL,
  CONCAT = table.concat,
  NOOP = function() return "" end,
  OPT0 = {hash = setmetatable({}, {__newindex = function()
    error("the options of a built-in helper are read-only", 2)
  end})},
  DATA = function(root, index, key, first, last)
    return {root = root, index = index, key = key, first = first,
      last = last}
  end,
}

-- Compiled templates by source and options. Bounded: when full it starts
-- over, which costs recompiling the templates still in use.
local CACHE_LIMIT = 1000
local cache, cached = {}, 0

local MODES = {json = true, text = true, html = true, url = true}
local MISSING = {empty = true, null = true, error = true}

local Template = {}
Template.__index = Template

local function named(err, name)
  err.name = name
  return err
end

local function compile_error(source, name, message, pos)
  local line, col = rt.line_col(source, pos or 1)
  return named(rt.error(message, line, col), name)
end

-- Raises the error of a {{path}} with no value under missing = "error".
local function missing_raiser(source, sites)
  return function(k)
    local s = sites[k]
    local line, col = rt.line_col(source, s.pos)
    error(rt.error(format("missing value: %s (line %d, col %d)", s.path, line,
      col), line, col, true), 0)
  end
end

local function normalize(opts)
  opts = opts or {}
  local mode = opts.mode or "json"
  if not MODES[mode] then
    error("template: mode must be json, text, html or url, not " .. tostring(mode),
      3)
  end
  local missing = opts.missing or (mode == "json" and "null" or "empty")
  if not MISSING[missing] then
    error("template: missing must be empty, null or error, not "
      .. tostring(missing), 3)
  end
  return mode, missing, opts.compat and true or false, opts.name
end

local function build(source, mode, missing, compat, name)
  local ast, perr = parser.parse(source)
  if not ast then
    return nil, compile_error(source, name, perr.message, perr.pos)
  end
  local code, sites, info = codegen.generate(ast, {mode = mode,
    missing = missing, compat = compat, helpers = registry, builtin = builtin})
  if not code then
    return nil, compile_error(source, name, sites.message, sites.pos)
  end
  local chunk, lerr = load(code, "=template:" .. (name or "?"), "t", {})
  if not chunk then
    local why = tostring(lerr):gsub("^.-:%d+: ", "")
    return nil, named(rt.error("template too large to compile (" .. why
      .. "): split it or nest fewer blocks"), name)
  end
  local state = {at = 0}
  local fn = chunk(imports, registry, state,
    missing_raiser(source, sites))
  return setmetatable({source = source, mode = mode, missing = missing,
    name = name, fn = fn, state = state, sites = sites, ast = ast,
    -- a value render may hold objects out of the text (_run): not when a
    -- helper of the node path sees the text
    holds = mode == "json" and not info.user_calls}, Template)
end

---Compiles a template. Results (and compile errors) are cached by source
---and options.
---@param source string
---@alias moonwire.TemplateMode "json"|"text"|"html"
---@alias moonwire.MissingMode "empty"|"null"|"error"
---@param opts? {mode?: moonwire.TemplateMode, missing?: moonwire.MissingMode,
---  name?: string, compat?: boolean}
---@return table|nil template
---@return table|nil err {message, line, col}; tostring: "line L, col C: ..."
function M.compile(source, opts)
  if type(source) ~= "string" then
    error("template.compile: source must be a string", 2)
  end
  local mode, missing, compat, name = normalize(opts)
  return M.compile_as(source, mode, missing, name, compat)
end

---compile with the options as arguments (no table to make per call, for
---the runtime's renders); missing defaults by mode as in compile.
---@param source string
---@param mode moonwire.TemplateMode
---@param missing moonwire.MissingMode|nil
---@param name string|nil
---@param compat boolean|nil
function M.compile_as(source, mode, missing, name, compat)
  if type(source) ~= "string" then
    error("template.compile: source must be a string", 2)
  end
  if not MODES[mode] or (missing ~= nil and not MISSING[missing]) then
    mode, missing = normalize({ mode = mode, missing = missing })
  end
  missing = missing or (mode == "json" and "null" or "empty")
  -- by source, then by a short key of the options: the source, however
  -- long, is looked up as it is rather than joined into a key
  local key = mode .. "\0" .. missing .. (compat and "\0c\0" or "\0\0")
    .. (name or "")
  local by_key = cache[source]
  local hit = by_key and by_key[key]
  if hit then
    return hit[1], hit[2]
  end
  local tpl, err = build(source, mode, missing, compat, name)
  if cached >= CACHE_LIMIT then
    cache, cached = {}, 0
    by_key = nil
  end
  if not by_key then
    by_key = {}
    cache[source] = by_key
  end
  by_key[key], cached = {tpl, err}, cached + 1
  return tpl, err
end

-- Turns whatever a render raised into an error value with a position.
function Template:_render_error(e)
  if rt.is_error(e) then
    return named(e, self.name)
  end
  local message = type(e) == "table" and e.message or tostring(e)
  local s = self.sites[self.state.at]
  if not s then
    return named(rt.error(tostring(message)), self.name)
  end
  local line, col = rt.line_col(self.source, s.pos)
  return named(rt.error(format("%s (line %d, col %d)", tostring(message),
    line, col), line, col, true), self.name)
end

-- The error for rendered output that is not JSON: where, why and a short
-- excerpt of the output around that place.
local function json_error(out, decode_err, name)
  local pos, why = jsontext.first_error(out)
  pos, why = pos or 1, why or tostring(decode_err)
  local line, col = rt.line_col(out, pos)
  local excerpt = gsub(sub(out, max(1, pos - 24), pos + 24), "%c", " ")
  return named(rt.error(format("rendered output is not valid JSON: %s at "
    .. "line %d, col %d of the output, near: %s", why, line, col, excerpt),
    line, col, true), name)
end

-- Renders; in json mode checks that the output is JSON, and decodes it
-- when `decode` asks for the value (checking alone builds no tables).
-- A render for its value writes each object or array at a value position
-- as a placeholder, decodes the rest and puts copies of those values back
-- (runtime.put_back): a payload's {{incident}} is not written as text and
-- read again. Returns the value, or nil when the output is not JSON or
-- the placeholders did not survive; _run then renders the plain way,
-- which also finds the error to report.
function Template:_value(vars, share)
  self.state.at = 0
  local outer = rt.begin_hold()
  local ok, out = pcall(self.fn, vars)
  local values = rt.end_hold(outer)
  if not ok then return nil end
  local value = json.decode(jsontext.drop_trailing_commas(out))
  if value == nil then return nil end
  local pok, put = pcall(rt.put_back, value, values, share)
  if pok then return put end
  return nil
end

function Template:_run(vars, decode, share)
  if vars == nil then
    vars = {}
  end
  if decode and self.holds then
    local value = self:_value(vars, share)
    if value ~= nil then return true, nil, value end
  end
  self.state.at = 0
  local ok, out = pcall(self.fn, vars)
  if not ok then
    return nil, self:_render_error(out)
  end
  if self.mode ~= "json" then
    return out, nil, out
  end
  out = jsontext.drop_trailing_commas(out)
  local value, derr
  if decode then
    value, derr = json.decode(out)
  else
    value, derr = json_validate(out)
  end
  if value == nil then
    return nil, json_error(out, derr, self.name)
  end
  return out, nil, value
end

---Renders the template with the given variables.
---@param vars any usually a table decoded by moonwire.json
---@return string|nil text
---@return table|nil err {message, line, col}
function Template:render(vars)
  local out, err = self:_run(vars, false)
  return out, err
end

---Renders and returns the value: in json mode the decoded JSON value, in
---the other modes the text. With `share`, objects and arrays of vars that
---the template writes at a value position ({{incident}}) are the value's
---own parts rather than copies: for callers that change no value in place.
---@param vars any
---@param share boolean|nil
---@return any value
---@return table|nil err
function Template:render_value(vars, share)
  local out, err, value = self:_run(vars, true, share)
  if out == nil then
    return nil, err
  end
  return value
end

---Adds or replaces a helper. fn(args..., options) where options has hash,
---fn(context, {blockParams = {...}}) and inverse (for blocks), data (root,
---index, key, first, last) and name. Clears the compile cache.
---@param name string
---@param fn function
-- How many helpers are not the built-in ones (user helpers from the node
-- path): their code may change the values a template hands them.
local user_helpers = 0

local function count_user_helpers()
  user_helpers = 0
  for name in pairs(registry) do
    if not builtin[name] then user_helpers = user_helpers + 1 end
  end
end

--- Whether any helper other than the built-in ones is registered.
function M.has_user_helpers()
  return user_helpers > 0
end

function M.register_helper(name, fn)
  if type(name) ~= "string" or not name:find("^[^%s]+$") then
    error("template.register_helper: name must be a non-empty word", 2)
  end
  if type(fn) ~= "function" then
    error("template.register_helper: helper must be a function", 2)
  end
  registry[name] = fn
  builtin[name] = builtins[name] == fn or nil
  count_user_helpers()
  cache, cached = {}, 0
end

---Removes a helper added by register_helper; a built-in one of that name
---comes back. Clears the compile cache.
---@param name string
function M.unregister_helper(name)
  registry[name] = builtins[name]
  builtin[name] = builtins[name] and true or nil
  count_user_helpers()
  cache, cached = {}, 0
end

---True when name is a built-in helper (`if`, `each`, `date`, ...).
---@param name string
---@return boolean
function M.is_builtin_helper(name)
  return builtins[name] ~= nil
end

---Compiles (cached) and renders in one step.
---@param source string
---@param vars any
---@param opts? table as for compile
---@return string|nil text
---@return table|nil err
function M.render(source, vars, opts)
  local tpl, err = M.compile(source, opts)
  if not tpl then
    return nil, err
  end
  return tpl:render(vars)
end

---The variable paths a template reads, root-relative, in order of first
---use, e.g. {"incident.id", "alerts[].status"}.
---@param tpl table a compiled template
---@return string[]
function M.references(tpl)
  return refs.collect(tpl.ast, registry)
end

---Marks helper output as already escaped (inserted verbatim in any mode).
M.safe = rt.safe

---The text a value prints as ({{{value}}} in text mode).
M.to_text = rt.text

return M
