-- Code generator: turns a parsed template into the source of one Lua chunk
-- that renders it with straight-line appends to a table buffer. Built-in
-- block helpers (#if, #unless, #each, #with, sections) are inlined; other
-- helpers are called through the registry. Parsing is parser.lua's.
-- SPDX-License-Identifier: MIT

local jsontext = require("moonwire.template.jsontext")

local format, rep, find = string.format, string.rep, string.find
local concat = table.concat
local error, type, tostring, pcall = error, type, tostring, pcall
local ipairs, setmetatable = ipairs, setmetatable
local unpack = unpack or table.unpack

local M = {}

-- Built-in helpers whose blocks compile inline.
local INLINE_BLOCKS = {["if"] = true, unless = true, each = true,
  with = true}

-- Names the generated chunk takes from the runtime table R.
local IMPORTS = {
  "GET", "GETN", "DEEP", "TRUTHY", "TRUTHYZ", "EMPTY", "SFALSY", "ISARR",
  "ITER", "TEXT", "HTML", "JSTR", "JVALN", "JVALE", "JRAWN", "JRAWE",
  "NULL", "DATA", "NOOP", "OPT0", "CONCAT", "UENC",
}
M.IMPORTS = IMPORTS

local function fail(message, pos)
  error({message = message, pos = pos}, 0)
end

local function q(s)
  return format("%q", s)
end

-- Emission --------------------------------------------------------------------

local function emit(g, line)
  g.out[#g.out + 1] = rep("  ", g.indent) .. line
end

local function flush(g)
  if g.text[1] then
    emit(g, "n = n + 1; b[n] = " .. q(concat(g.text)))
    g.text = {}
  end
end

local function append(g, expr)
  flush(g)
  emit(g, "n = n + 1; b[n] = " .. expr)
end

local function var(g, prefix)
  g.nvar = g.nvar + 1
  return prefix .. g.nvar
end

local function open(g, line)
  flush(g)
  emit(g, line)
  g.indent = g.indent + 1
end

local function close(g, line)
  flush(g)
  g.indent = g.indent - 1
  emit(g, line or "end")
end

-- A site is a template position the rendered code can name in an error.
local function site(g, pos, path)
  g.sites[#g.sites + 1] = {pos = pos, path = path}
  return #g.sites
end

-- Scopes ----------------------------------------------------------------------
-- A scope is what the compiler knows at a point of the template: the Lua
-- names of the context stack (root first), the @data frames pushed by
-- #each, and the block parameters in sight.

local function child(sc, ctx, frame, params)
  local s = {ctx = sc.ctx, frames = sc.frames, params = sc.params}
  if ctx then
    s.ctx = {unpack(sc.ctx)}
    s.ctx[#s.ctx + 1] = ctx
  end
  if frame then
    s.frames = {unpack(sc.frames)}
    s.frames[#s.frames + 1] = frame
  end
  if params then
    s.params = setmetatable(params, {__index = sc.params})
  end
  return s
end

local function block_params(names, values)
  if not names then
    return nil
  end
  local params = {}
  for i, name in ipairs(names) do
    params[name] = values[i] or "nil"
  end
  return params
end

-- Expressions -----------------------------------------------------------------

local function segment_lookup(base, part)
  if part == "length" or find(part, "^%d+$") then
    return "GETN(" .. base .. ", " .. q(part) .. ")"
  end
  return "GET(" .. base .. ", " .. q(part) .. ")"
end

local function data_path(sc, path)
  local name = path.parts[1]
  if name == "root" then
    return "c0", 2
  end
  local frame = sc.frames[#sc.frames - path.depth]
  return frame and frame[name] or "nil", 2
end

local function path_expr(g, sc, path)
  local parts, base, first = path.parts, nil, 1
  if path.data then
    base, first = data_path(sc, path)
  elseif not path.scoped and parts[1] and sc.params[parts[1]] then
    base, first = sc.params[parts[1]], 2
  else
    local level = #sc.ctx - path.depth
    if level < 1 then
      return "nil"
    end
    base = sc.ctx[level]
    if g.compat and not path.scoped and path.depth == 0 and parts[1] then
      local names = {}
      for i = level, 1, -1 do
        names[#names + 1] = sc.ctx[i]
      end
      base, first = "DEEP(" .. q(parts[1]) .. ", " .. concat(names, ", ")
        .. ")", 2
    end
  end
  if base == "nil" then
    return "nil"
  end
  for i = first, #parts do
    base = segment_lookup(base, parts[i])
  end
  return base
end

-- The name a helper call uses, when the head is one plain identifier or a
-- string literal.
local function helper_name(head)
  if head.type == "string" then
    return head.value
  elseif head.type == "path" and not head.data and head.depth == 0
    and not head.scoped and #head.parts == 1 then
    return head.parts[1]
  end
  return nil
end

-- A literal standing where a name is expected is a key to look up.
local function literal_as_path(head)
  if head.type == "path" then
    return head
  end
  local key = head.type == "string" and head.value or head.original
  return {type = "path", data = false, depth = 0, parts = {key},
    original = key, scoped = false, pos = head.pos}
end

local expr_code

local function args_code(g, sc, sexpr)
  local args = {}
  for i, param in ipairs(sexpr.params) do
    args[i] = expr_code(g, sc, param)
  end
  return args
end

local function hash_code(g, sc, sexpr)
  if not sexpr.hash then
    return nil
  end
  local fields = {}
  for i, pair in ipairs(sexpr.hash) do
    fields[i] = "[" .. q(pair.key) .. "] = " .. expr_code(g, sc, pair.value)
  end
  return "{" .. concat(fields, ", ") .. "}"
end

local function frame_data(sc)
  local frame = sc.frames[#sc.frames]
  if not frame then
    return "DATA(c0)"
  end
  return "DATA(c0, " .. frame.index .. ", " .. frame.key .. ", "
    .. frame.first .. ", " .. frame.last .. ")"
end

-- Options table passed to a helper; `extra` adds fields (fn, inverse).
local function options_code(g, sc, name, sexpr, extra)
  local hash = hash_code(g, sc, sexpr)
  if g.builtin[name] and not extra then
    return hash and "{hash = " .. hash .. "}" or "OPT0"
  end
  return "{hash = " .. (hash or "{}") .. ", data = " .. frame_data(sc)
    .. ", name = " .. q(name) .. ", fn = " .. (extra and extra.fn or "NOOP")
    .. ", inverse = " .. (extra and extra.inverse or "NOOP") .. "}"
end

local function check_helper(g, name, sexpr)
  if not name or not g.helpers[name] then
    fail(format('Missing helper: "%s"', name or sexpr.head.original or "?"),
      sexpr.pos)
  end
  if INLINE_BLOCKS[name] and g.builtin[name] then
    fail(format('"%s" is a block helper: write {{#%s ...}}', name, name),
      sexpr.pos)
  end
end

local function call_code(g, sc, name, sexpr, extra)
  check_helper(g, name, sexpr)
  g.calls = true
  g.user_calls = g.user_calls or not g.builtin[name]
  if name == "lookup" and g.builtin[name] and #sexpr.params == 2 then
    local args = args_code(g, sc, sexpr)
    return "GETN(" .. args[1] .. ", " .. args[2] .. ")"
  end
  local args = args_code(g, sc, sexpr)
  args[#args + 1] = options_code(g, sc, name, sexpr, extra)
  return "H[" .. q(name) .. "](" .. concat(args, ", ") .. ")"
end

-- Whether a sexpr is a helper call (true) or a value lookup (false).
local function is_call(g, sc, sexpr)
  if #sexpr.params > 0 or sexpr.hash then
    return true
  end
  local name = helper_name(sexpr.head)
  if sexpr.head.type ~= "path" or not name or sc.params[name] then
    return false
  end
  return g.helpers[name] ~= nil
end

function expr_code(g, sc, node)
  local t = node.type
  if t == "path" then
    return path_expr(g, sc, node)
  elseif t == "string" then
    return q(node.value)
  elseif t == "number" then
    return format("%.17g", node.value)
  elseif t == "boolean" then
    return node.value and "true" or "false"
  elseif t == "null" then
    return "NULL"
  elseif t == "undefined" then
    return "nil"
  end
  if not is_call(g, sc, node) then
    return path_expr(g, sc, literal_as_path(node.head))
  end
  return call_code(g, sc, helper_name(node.head), node)
end

-- Statements ------------------------------------------------------------------

local statements

-- The runtime function that writes a value for a {{...}} statement.
local function writer(g, node)
  local mode = g.mode
  if mode == "html" then
    return node.escaped and "HTML" or "TEXT"
  elseif mode == "url" then
    return (node.escaped and node.in_url_path) and "UENC" or "TEXT"
  elseif mode == "text" then
    return "TEXT"
  elseif node.in_string then
    return node.escaped and "JSTR" or "TEXT"
  end
  local as_null = g.missing ~= "empty"
  if node.escaped then
    return as_null and "JVALN" or "JVALE"
  end
  return as_null and "JRAWN" or "JRAWE"
end

-- Records which statement is running, for the position of helper errors.
local function emit_at(g, pos)
  flush(g)
  emit(g, "S.at = " .. site(g, pos))
end

-- True when an expression's arguments call helpers.
local function has_calls(sexpr)
  for _, param in ipairs(sexpr.params) do
    if param.type == "sexpr" then
      return true
    end
  end
  for _, pair in ipairs(sexpr.hash or {}) do
    if pair.value.type == "sexpr" then
      return true
    end
  end
  return false
end

local function mustache(g, sc, node)
  local sexpr = node.expr
  local write = writer(g, node)
  if is_call(g, sc, sexpr) then
    emit_at(g, node.pos)
    local value = call_code(g, sc, helper_name(sexpr.head), sexpr)
    return append(g, write .. "(" .. value .. ")")
  end
  local path = literal_as_path(sexpr.head)
  local value = path_expr(g, sc, path)
  if g.missing ~= "error" then
    return append(g, write .. "(" .. value .. ")")
  end
  flush(g)
  emit(g, "do local v = " .. value .. "; if v == nil then MISS("
    .. site(g, node.pos, path.original) .. ") end; n = n + 1; b[n] = "
    .. write .. "(v) end")
end

local function body(g, sc, program)
  if program then
    statements(g, sc, program.body)
  end
end

-- The {{else}} of an inline block: closes the open branch and writes the
-- inverse program in its place (nothing when the block has none).
local function else_part(g, sc, node)
  if node.inverse then
    close(g, "else")
    g.indent = g.indent + 1
    body(g, sc, node.inverse)
  end
end

-- {{#if}} and {{#unless}}: no new context.
local function if_block(g, sc, node, negate)
  local sexpr = node.expr
  if has_calls(sexpr) then
    emit_at(g, node.pos)
  end
  local name = helper_name(sexpr.head)
  if #sexpr.params ~= 1 then
    fail("#" .. name .. " requires exactly one argument", node.pos)
  end
  local value = expr_code(g, sc, sexpr.params[1])
  local test = "TRUTHY(" .. value .. ")"
  for _, pair in ipairs(sexpr.hash or {}) do
    if pair.key == "includeZero" then
      test = "(" .. expr_code(g, sc, pair.value) .. " and TRUTHYZ or TRUTHY)("
        .. value .. ")"
    end
  end
  open(g, "if " .. (negate and "not " or "") .. test .. " then")
  body(g, sc, node.program)
  else_part(g, sc, node)
  close(g)
end

local function with_block(g, sc, node)
  local sexpr = node.expr
  if #sexpr.params ~= 1 then
    fail("#with requires exactly one argument", node.pos)
  end
  if has_calls(sexpr) then
    emit_at(g, node.pos)
  end
  local c = var(g, "c")
  open(g, "do")
  emit(g, "local " .. c .. " = " .. expr_code(g, sc, sexpr.params[1]))
  open(g, "if not EMPTY(" .. c .. ") then")
  body(g, child(sc, c, nil, block_params(node.block_params, {c})),
    node.program)
  else_part(g, sc, node)
  close(g)
  close(g)
end

local function each_block(g, sc, node)
  local sexpr = node.expr
  if #sexpr.params == 0 then
    fail("Must pass iterator to #each", node.pos)
  end
  local e, ks, len, i, k, c = var(g, "e"), var(g, "ks"), var(g, "len"),
    var(g, "i"), var(g, "k"), var(g, "c")
  if has_calls(sexpr) then
    emit_at(g, node.pos)
  end
  open(g, "do")
  emit(g, "local " .. e .. " = " .. expr_code(g, sc, sexpr.params[1]))
  emit(g, format("local %s, %s = ITER(%s)", ks, len, e))
  open(g, format("if %s > 0 then", len))
  open(g, format("for %s = 1, %s do", i, len))
  emit(g, format("local %s, %s", k, c))
  emit(g, format("if %s then %s = %s[%s]; %s = %s[%s] else %s = %s - 1; "
    .. "%s = %s[%s] end", ks, k, ks, i, c, e, k, k, i, c, e, i))
  local frame = {index = "(" .. i .. " - 1)", key = k,
    first = "(" .. i .. " == 1)", last = format("(%s == %s)", i, len)}
  body(g, child(sc, c, frame, block_params(node.block_params, {c, k})),
    node.program)
  close(g)
  else_part(g, sc, node)
  close(g)
  close(g)
end

-- {{#name}} where name is no helper: Handlebars' section rules. true renders
-- once in the same context, false/nil/null/[] render the inverse, a
-- non-empty array renders once per item, anything else once with itself as
-- the context.
local function section_block(g, sc, node)
  local path = literal_as_path(node.expr.head)
  local e = var(g, "e")
  open(g, "do")
  emit(g, "local " .. e .. " = " .. path_expr(g, sc, path))
  if not node.program then
    open(g, "if SFALSY(" .. e .. ") then")
    body(g, sc, node.inverse)
    close(g)
    close(g)
    return
  end
  open(g, "if not SFALSY(" .. e .. ") then")
  local arr, len, i, c, x = var(g, "arr"), var(g, "len"), var(g, "i"),
    var(g, "c"), var(g, "x")
  emit(g, format("local %s = ISARR(%s)", arr, e))
  emit(g, format("local %s = %s and #%s or 1", len, arr, e))
  open(g, format("for %s = 1, %s do", i, len))
  emit(g, format("local %s = %s", c, e))
  emit(g, format("if %s then %s = %s[%s] elseif %s == true then %s = %s end",
    arr, c, e, i, e, c, sc.ctx[#sc.ctx]))
  local outer = sc.frames[#sc.frames] or {index = "nil", key = "nil",
    first = "nil", last = "nil"}
  local fi, ff, fl = x .. "i", x .. "f", x .. "l"
  emit(g, format("local %s, %s, %s = %s, %s, %s", fi, ff, fl, outer.index,
    outer.first, outer.last))
  emit(g, format("if %s then %s, %s, %s = %s - 1, %s == 1, %s == %s end",
    arr, fi, ff, fl, i, i, i, len))
  local frame = {index = fi, key = fi, first = ff, last = fl}
  if outer.key ~= outer.index then
    frame.key = format("(%s and %s or %s)", arr, fi, outer.key)
  end
  body(g, child(sc, c, frame, block_params(node.block_params, {c, fi})),
    node.program)
  close(g)
  else_part(g, sc, node)
  close(g)
  close(g)
end

-- The Lua source of options.fn / options.inverse for a helper's block: a
-- function (context, {blockParams = {...}}) -> string.
local function block_fn(g, sc, node, program)
  if not program then
    return "NOOP"
  end
  if node.raw then
    return "function() return " .. q(program.body[1].value) .. " end"
  end
  local saved_out, saved_indent, saved_text = g.out, g.indent, g.text
  g.out, g.indent, g.text = {}, saved_indent + 1, {}
  local c, o = var(g, "c"), var(g, "o")
  emit(g, format("local %s = %s; if %s == nil then %s = %s end", c, c, c, c,
    sc.ctx[#sc.ctx]))
  local values = {}
  for i in ipairs(node.block_params or {}) do
    values[i] = format("(%s and %s.blockParams and %s.blockParams[%d])",
      o, o, o, i)
  end
  emit(g, "local b, n = {}, 0")
  body(g, child(sc, c, nil, block_params(node.block_params, values)),
    program)
  flush(g)
  emit(g, "return CONCAT(b, \"\", 1, n)")
  local code = "function(" .. c .. ", " .. o .. ")\n" .. concat(g.out, "\n")
    .. "\n" .. rep("  ", saved_indent) .. "end"
  g.out, g.indent, g.text = saved_out, saved_indent, saved_text
  return code
end

-- A block whose helper is not inlined: user helpers get fn and inverse;
-- built-in value helpers (eq, and, ...) act as a condition.
local function helper_block(g, sc, node, name)
  local sexpr = node.expr
  if g.builtin[name] then
    emit_at(g, node.pos)
    local test = "TRUTHY(" .. call_code(g, sc, name, sexpr) .. ")"
    open(g, "if " .. test .. " then")
    body(g, sc, node.program)
    if node.inverse then
      close(g, "else")
      g.indent = g.indent + 1
      body(g, sc, node.inverse)
    end
    close(g)
    return
  end
  emit_at(g, node.pos)
  local extra = {fn = block_fn(g, sc, node, node.program),
    inverse = block_fn(g, sc, node, node.inverse)}
  append(g, "TEXT(" .. call_code(g, sc, name, sexpr, extra) .. ")")
end

local function block(g, sc, node)
  local sexpr = node.expr
  local name = helper_name(sexpr.head)
  local helper = name and g.helpers[name]
  if helper and INLINE_BLOCKS[name] and g.builtin[name] and not node.raw then
    if name == "if" or name == "unless" then
      return if_block(g, sc, node, name == "unless")
    elseif name == "with" then
      return with_block(g, sc, node)
    end
    return each_block(g, sc, node)
  elseif helper then
    return helper_block(g, sc, node, name)
  elseif #sexpr.params > 0 or sexpr.hash then
    check_helper(g, name, sexpr)
  end
  return section_block(g, sc, node)
end

function statements(g, sc, list)
  for _, node in ipairs(list) do
    local t = node.type
    if t == "content" then
      g.text[#g.text + 1] = node.value
    elseif t == "mustache" then
      mustache(g, sc, node)
    elseif t == "block" then
      block(g, sc, node)
    end
  end
end

-- URL positions --------------------------------------------------------------

-- Walks the literal text in source order and marks each {{...}} that comes
-- after the URL's path has begun (a "/" past "://", or "?" or "#"): those
-- values are percent-encoded, while a leading {{integration.base_url}} or
-- a host stays as written.
local function mark_url(list, state)
  for _, node in ipairs(list) do
    if node.type == "content" then
      state.text = state.text .. node.value
      local rest = state.text:gsub("^%a[%w+.-]*://", "", 1)
      state.in_path = rest:find("[/?#]") ~= nil
    elseif node.type == "mustache" then
      node.in_url_path = state.in_path
    elseif node.type == "block" then
      for _, part in ipairs({ node.program, node.inverse }) do
        if part then mark_url(part.body, state) end
      end
    end
  end
  return state
end

-- JSON positions -------------------------------------------------------------

-- Walks the literal text in source order and marks each {{...}} that stands
-- inside a JSON string literal of the template (node.in_string).
local function mark_json(list, state)
  for _, node in ipairs(list) do
    if node.type == "content" then
      state = jsontext.scan(state, node.value)
    elseif node.type == "mustache" then
      node.in_string = state ~= jsontext.OUTSIDE
    elseif node.type == "block" then
      local first, second = node.program, node.inverse
      if node.inverted then
        first, second = second, first
      end
      if first then
        state = mark_json(first.body, state)
      end
      if second then
        state = mark_json(second.body, state)
      end
    end
  end
  return state
end

---Generates the Lua source of a render function for a parsed template.
---The chunk takes (R, H, S, MISS) and returns the render function
---(root) -> string; R holds IMPORTS, H the helper registry, S a table whose
---`at` names the running statement's site, MISS(site) raises a
---missing-value error.
---@param program table parser output
---@param opts table {mode, missing, compat, helpers, builtin}
---@return string|nil source
---@return table sites list of {pos, path} (on failure: {message, pos})
---@return table info {user_calls}: whether it calls helpers that are not
---built in (whose code may see and change the text rendered)
function M.generate(program, opts)
  local g = {out = {}, text = {}, indent = 1, nvar = 0, sites = {},
    mode = opts.mode, missing = opts.missing, compat = opts.compat,
    helpers = opts.helpers, builtin = opts.builtin}
  if g.mode == "json" then
    mark_json(program.body, jsontext.OUTSIDE)
  elseif g.mode == "url" then
    mark_url(program.body, {text = "", in_path = false})
  end
  local sc = {ctx = {"c0"}, frames = {}, params = {}}
  local ok, err = pcall(statements, g, sc, program.body)
  if not ok then
    if type(err) ~= "table" then
      err = {message = tostring(err), pos = 1}
    end
    return nil, err
  end
  flush(g)
  local names = {}
  for i, name in ipairs(IMPORTS) do
    names[i] = format("local %s = R.%s", name, name)
  end
  local src = "local R, H, S, MISS = ...\n" .. concat(names, "\n") .. "\n"
    .. "return function(c0)\n  local b, n = {}, 0\n" .. concat(g.out, "\n")
    .. "\n  return CONCAT(b, \"\", 1, n)\nend\n"
  return src, g.sites, {user_calls = g.user_calls or false}
end

return M
