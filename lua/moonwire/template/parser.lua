-- Parser for Handlebars-style templates: source text to a syntax tree, with
-- Handlebars' whitespace rules (~ markers, standalone lines) applied to the
-- tree. It knows no helpers and no output modes; codegen.lua does.
-- SPDX-License-Identifier: MIT

local find, sub, byte, gsub, match = string.find, string.sub, string.byte,
  string.gsub, string.match
local error, pcall, type, ipairs = error, pcall, type, ipairs
local tonumber, tostring = tonumber, tostring
local line_col = require("moonwire.template.runtime").line_col

local M = {}

-- Syntax tree (every node carries `pos`, the byte offset where it starts):
--   program  {body = {node...}, chained = bool}
--   content  {type = "content", value, original}
--   comment  {type = "comment", strip}
--   mustache {type = "mustache", expr, escaped, strip}
--   block    {type = "block", expr, program, inverse, block_params, raw,
--             open_strip, inverse_strip, close_strip}
--   expr     {type = "sexpr", head, params, hash}: head is a path or literal
--   path     {type = "path", data, depth, parts, original, scoped}
--   literal  {type = "string"|"number"|"boolean"|"null"|"undefined", value}
--   hash     list of {key, value}
-- strip = {open = bool, close = bool}: a ~ inside the tag's left or right.

local function fail(p, message, at)
  error({message = message, pos = at or p.pos}, 0)
end

-- Expression lexer -----------------------------------------------------------

-- Characters that cannot appear in an identifier, and those that may follow
-- one (Handlebars' ID and LOOKAHEAD classes).
local ID = "^[^%s!\"#%%&'%(%)%*%+,%./;<=>@%[\\%]%^`{|}~]+"
local ID_NEXT = "^[=~}%s/%.%)|]"
local LITERAL_NEXT = "^[~}%s%)]"

local function skip_space(p)
  p.pos = find(p.src, "[^%s]", p.pos) or #p.src + 1
end

-- Reads the token at p.pos; returns kind, value, extra and moves p.pos.
-- Kinds: id (extra = true for a [literal] segment), sep, string, number,
-- boolean, null, undefined, data, open_sexpr, close_sexpr, equals,
-- open_params, pipe, close (extra = right strip), close_triple, close_raw,
-- eof.
local function token(p)
  skip_space(p)
  local s, i = p.src, p.pos
  local c = sub(s, i, i)
  if c == "" then
    return "eof"
  elseif c == "(" or c == ")" then
    p.pos = i + 1
    return c == "(" and "open_sexpr" or "close_sexpr"
  elseif c == "}" then
    if sub(s, i, i + 3) == "}}}}" then
      p.pos = i + 4
      return "close_raw"
    elseif sub(s, i, i + 2) == "}}}" or sub(s, i, i + 3) == "}~}}" then
      p.pos = find(s, "}}", i + 1, true) + 2
      return "close_triple", nil, sub(s, i + 1, i + 1) == "~"
    elseif sub(s, i, i + 1) == "}}" then
      p.pos = i + 2
      return "close", nil, false
    end
  elseif c == "~" and sub(s, i + 1, i + 2) == "}}" then
    p.pos = i + 3
    return "close", nil, true
  elseif c == "=" then
    p.pos = i + 1
    return "equals"
  elseif c == "." then
    if sub(s, i + 1, i + 1) == "." then
      p.pos = i + 2
      return "id", ".."
    elseif find(s, ID_NEXT, i + 1) then
      p.pos = i + 1
      return "id", "."
    end
    p.pos = i + 1
    return "sep", "."
  elseif c == "/" then
    p.pos = i + 1
    return "sep", "/"
  elseif c == '"' or c == "'" then
    local j = i + 1
    while true do
      local q = find(s, "[\\" .. c .. "]", j)
      if not q then
        fail(p, "Parse error: unterminated string literal", i)
      elseif byte(s, q) == 92 and sub(s, q + 1, q + 1) == c then
        j = q + 2
      elseif byte(s, q) == 92 then
        j = q + 1
      else
        p.pos = q + 1
        return "string", (gsub(sub(s, i + 1, q - 1), "\\" .. c, c))
      end
    end
  elseif c == "@" then
    p.pos = i + 1
    return "data"
  elseif c == "[" then
    local j = i + 1
    while true do
      local q = find(s, "[\\%]]", j)
      if not q then
        fail(p, "Parse error: unterminated [literal] segment", i)
      elseif byte(s, q) == 92 then
        j = q + 2
      else
        p.pos = q + 1
        return "id", (gsub(sub(s, i + 1, q - 1), "\\([\\%]])", "%1")), true
      end
    end
  elseif c == "|" then
    p.pos = i + 1
    return "pipe"
  end
  for _, word in ipairs({"true", "false", "null", "undefined"}) do
    local after = i + #word
    if sub(s, i, after - 1) == word and find(s, LITERAL_NEXT, after) then
      p.pos = after
      if word == "true" or word == "false" then
        return "boolean", word == "true"
      end
      return word
    end
  end
  local num = match(s, "^%-?%d+%.%d+", i) or match(s, "^%-?%d+", i)
  if num and find(s, LITERAL_NEXT, i + #num) then
    p.pos = i + #num
    return "number", num
  end
  local _, e = find(s, "^as%s+|", i)
  if e then
    p.pos = e + 1
    return "open_params"
  end
  _, e = find(s, ID, i)
  if e and find(s, ID_NEXT, e + 1) then
    p.pos = e + 1
    return "id", sub(s, i, e)
  end
  fail(p, "Parse error: unexpected '" .. c .. "'", i)
end

local function peek(p)
  local save = p.pos
  local kind, value, extra = token(p)
  local after = p.pos
  p.pos = save
  return kind, value, extra, after
end

-- Expressions ---------------------------------------------------------------

-- Reads the segments of a path whose first token (kind id) was just read.
local function read_path(p, first, literal, start, data)
  local segs = {{name = first, literal = literal}}
  while find(p.src, "^[%./]", p.pos) and not find(p.src, "^%.[%s}~%)|=]", p.pos)
  do
    p.pos = p.pos + 1
    local kind, value, lit = token(p)
    if kind ~= "id" then
      fail(p, "Parse error: expected a name after '.' or '/'")
    end
    segs[#segs + 1] = {name = value, literal = lit}
  end
  local original = sub(p.src, start, p.pos - 1)
  local parts, depth, scoped = {}, 0, false
  for _, seg in ipairs(segs) do
    local name = seg.name
    if not seg.literal and (name == ".." or name == "." or name == "this") then
      if #parts > 0 then
        fail(p, "Invalid path: " .. original, start)
      end
      if name == ".." then
        depth = depth + 1
      end
      scoped = true
    else
      parts[#parts + 1] = name
    end
  end
  return {type = "path", data = data, depth = depth, parts = parts,
    original = original, scoped = scoped, pos = start}
end

local read_sexpr

-- Reads one operand: a path, @data path, literal or (subexpression).
local function read_operand(p)
  skip_space(p)
  local start = p.pos
  local kind, value, extra = token(p)
  if kind == "id" then
    return read_path(p, value, extra, start, false)
  elseif kind == "data" then
    local k, v, lit = token(p)
    if k ~= "id" then
      fail(p, "Parse error: expected a name after '@'")
    end
    local path = read_path(p, v, lit, start + 1, true)
    path.original = "@" .. path.original
    path.pos = start
    return path
  elseif kind == "open_sexpr" then
    local e = read_sexpr(p, start)
    if token(p) ~= "close_sexpr" then
      fail(p, "Parse error: expected ')'")
    end
    return e
  elseif kind == "string" or kind == "boolean" then
    return {type = kind, value = value, pos = start,
      original = sub(p.src, start, p.pos - 1)}
  elseif kind == "number" then
    return {type = kind, value = tonumber(value), original = value,
      pos = start}
  elseif kind == "null" or kind == "undefined" then
    return {type = kind, original = kind, pos = start}
  end
  p.pos = start
  return nil
end

-- Reads `head param* key=value*` up to (not including) the closing token.
function read_sexpr(p, start)
  local head = read_operand(p)
  if not head then
    fail(p, "Parse error: expected a name or a value")
  end
  if head.type == "sexpr" then
    fail(p, "Parse error: a subexpression cannot be called", head.pos)
  end
  local params, hash = {}, nil
  while true do
    local kind, value, _, after = peek(p)
    if kind == "id" and find(p.src, "^%s*=", after) then
      token(p)
      token(p)
      local v = read_operand(p)
      if not v then
        fail(p, "Parse error: expected a value after '" .. value .. "='")
      end
      hash = hash or {}
      hash[#hash + 1] = {key = value, value = v}
    else
      local operand = read_operand(p)
      if not operand then
        break
      end
      if hash then
        fail(p, "Parse error: arguments must come before key=value pairs",
          operand.pos)
      end
      params[#params + 1] = operand
    end
  end
  return {type = "sexpr", head = head, params = params, hash = hash,
    pos = start}
end

local function read_block_params(p)
  if peek(p) ~= "open_params" then
    return nil
  end
  token(p)
  local names = {}
  while true do
    local kind, value = token(p)
    if kind == "pipe" then
      break
    elseif kind ~= "id" then
      fail(p, "Parse error: expected a name or '|' in block parameters")
    end
    names[#names + 1] = value
  end
  if #names == 0 then
    fail(p, "Parse error: empty block parameters")
  end
  return names
end

local CLOSE_LENGTH = {close = 2, close_triple = 3, close_raw = 4}

-- Reads the closing token a tag needs; returns its right strip flag. A
-- longer run of braces closes a shorter tag and leaves the rest as text, so
-- that {"id": {{id}}} works (handlebars.js reports a parse error there).
local function expect_close(p, want, opener)
  local at = p.pos
  local kind, _, strip = token(p)
  if kind ~= want and CLOSE_LENGTH[kind] and not strip
    and CLOSE_LENGTH[kind] > CLOSE_LENGTH[want] then
    p.pos = find(p.src, "}", at, true) + CLOSE_LENGTH[want]
    return false
  end
  if kind ~= want then
    local closer = ({close = "}}", close_triple = "}}}",
      close_raw = "}}}}"})[want]
    fail(p, "Parse error: expected '" .. closer .. "' to close '" .. opener
      .. "'")
  end
  return strip or false
end

-- Tags ------------------------------------------------------------------------

local parse_program

local function tag_name(expr)
  return expr.head.original or ""
end

local function read_raw_block(p, start)
  p.pos = start + 4
  local expr = read_sexpr(p, p.pos)
  expect_close(p, "close_raw", "{{{{")
  local s, body_start, depth, k = p.src, p.pos, 1, p.pos
  local name = tag_name(expr)
  while true do
    local q = find(s, "{{{{", k, true)
    if not q then
      fail(p, "Parse error: raw block {{{{" .. name .. "}}}} is never closed",
        start)
    end
    local close_name, e = match(s, "^{{{{/%s*([^%s}]+)%s*}}}}()", q)
    if close_name then
      depth = depth - 1
      if depth == 0 then
        if close_name ~= name then
          fail(p, "Parse error: {{{{/" .. close_name .. "}}}} does not match"
            .. " {{{{" .. name .. "}}}}", q)
        end
        p.pos = e
        local text = sub(s, body_start, q - 1)
        local content = {type = "content", value = text, original = text,
          pos = body_start}
        local none = {open = false, close = false}
        return {type = "block", raw = true, expr = expr, pos = start,
          program = {body = {content}}, open_strip = none,
          close_strip = none}
      end
      k = e
    else
      depth = depth + 1
      k = q + 4
    end
  end
end

local function read_comment(p, start, i, left)
  local s = p.src
  if sub(s, i, i + 2) == "!--" then
    local _, e, tilde = find(s, "%-%-(~?)}}", i + 3)
    if not e then
      fail(p, "Parse error: comment {{!-- is never closed", start)
    end
    p.pos = e + 1
    return {type = "comment", pos = start,
      strip = {open = left, close = tilde == "~"}}
  end
  local q = find(s, "}}", i + 1, true)
  if not q then
    fail(p, "Parse error: comment {{! is never closed", start)
  end
  p.pos = q + 2
  return {type = "comment", pos = start,
    strip = {open = left, close = q - 1 > i and byte(s, q - 1) == 126}}
end

local UNSUPPORTED = {
  [">"] = "partials ({{> name}}) are not supported",
  ["="] = "changing delimiters ({{=<% %>=}}) is not supported",
  ["*"] = "decorators ({{* name}}) are not supported",
}

-- Reads the tag starting at p.pos ("{{"); returns a statement node or a
-- control marker {kind = "else"|"chain"|"close", ...}.
local function read_tag(p)
  local s, start = p.src, p.pos
  if sub(s, start, start + 3) == "{{{{" then
    return read_raw_block(p, start)
  end
  local i = start + 2
  local left = sub(s, i, i) == "~"
  if left then
    i = i + 1
  end
  local c = sub(s, i, i)
  if c == "!" then
    return read_comment(p, start, i, left)
  elseif UNSUPPORTED[c] then
    fail(p, "Parse error: " .. UNSUPPORTED[c], start)
  elseif c == "#" and find(s, "^[>*]", i + 1) then
    fail(p, "Parse error: " .. UNSUPPORTED[sub(s, i + 1, i + 1)], start)
  end

  local _, e = find(s, "^%s*else%s*~?}}", i)
  if e then
    p.pos = e + 1
    return {kind = "else", pos = start,
      strip = {open = left, close = byte(s, e - 2) == 126}}
  end
  _, e = find(s, "^%^%s*~?}}", i)
  if e then
    p.pos = e + 1
    return {kind = "else", pos = start,
      strip = {open = left, close = byte(s, e - 2) == 126}}
  end

  local kind, opener = "mustache", "{{"
  _, e = find(s, "^%s*else%s", i)
  if e then
    kind, p.pos = "chain", e
  elseif c == "{" or c == "&" or c == "#" or c == "/" or c == "^" then
    kind = ({["{"] = "triple", ["&"] = "mustache", ["#"] = "open",
      ["/"] = "close", ["^"] = "inverted"})[c]
    opener, p.pos = "{{" .. c, i + 1
  else
    p.pos = i
  end

  if kind == "close" then
    local path = read_operand(p)
    if not path or path.type == "sexpr" then
      fail(p, "Parse error: expected a block name after '{{/'")
    end
    local right = expect_close(p, "close", opener)
    return {kind = "close", path = path, pos = start,
      strip = {open = left, close = right}}
  end

  local expr = read_sexpr(p, p.pos)
  local params
  if kind == "open" or kind == "inverted" or kind == "chain" then
    params = read_block_params(p)
  end
  local right = expect_close(p, kind == "triple" and "close_triple" or "close",
    opener)
  local strip = {open = left, close = right}
  if kind == "mustache" or kind == "triple" then
    return {type = "mustache", expr = expr, pos = start, strip = strip,
      escaped = kind == "mustache" and c ~= "&"}
  end
  return {kind = kind, expr = expr, block_params = params, pos = start,
    strip = strip}
end

-- Statements ----------------------------------------------------------------

-- Text up to the next tag, honouring \{{ (a literal tag) and \\{{ (a
-- backslash, then a tag).
local function read_content(p)
  local s, i = p.src, p.pos
  if p.escaped then
    p.escaped = false
    local k = #s + 1
    local q = find(s, "{{", i + 2, true)
    if q then
      k = q
      if q - 2 >= i + 2 and sub(s, q - 2, q - 1) == "\\\\" then
        k = q - 2
      elseif q - 1 >= i + 2 and byte(s, q - 1) == 92 then
        k = q - 1
      end
    end
    p.pos = k
    return sub(s, i, k - 1)
  end
  local j = find(s, "{{", i, true)
  if not j then
    p.pos = #s + 1
    return sub(s, i)
  end
  local text = sub(s, i, j - 1)
  if sub(text, -2) == "\\\\" then
    text = sub(text, 1, -2)
  elseif sub(text, -1) == "\\" then
    text = sub(text, 1, -2)
    p.escaped = true
  end
  p.pos = j
  return text
end

local function where(p, pos)
  local line, col = line_col(p.src, pos)
  return "line " .. line .. ", col " .. col
end

local function describe_open(p, block)
  return "{{#" .. tag_name(block.expr) .. "}} opened at " .. where(p, block.pos)
end

-- Parses the rest of a block whose opening tag was read: its program, any
-- {{else}} / {{else if}} parts and the close tag, which it returns.
local function parse_block_tail(p, block, chained)
  local body, ctl = parse_program(p)
  block.program = {body = body}
  if ctl.kind == "else" then
    block.inverse_strip = ctl.strip
    body, ctl = parse_program(p)
    block.inverse = {body = body}
    if ctl.kind == "else" or ctl.kind == "chain" then
      fail(p, "Parse error: a second {{else}} in " .. describe_open(p, block),
        ctl.pos)
    end
  elseif ctl.kind == "chain" then
    block.inverse_strip = ctl.strip
    local child = {type = "block", expr = ctl.expr, pos = ctl.pos,
      block_params = ctl.block_params, open_strip = ctl.strip}
    ctl = parse_block_tail(p, child, true)
    block.inverse = {body = {child}, chained = true}
  end
  if ctl.kind == "eof" and chained then
    return ctl
  elseif ctl.kind == "eof" then
    fail(p, "Parse error: " .. describe_open(p, block) .. " is never closed",
      block.pos)
  end
  if not chained and ctl.path.original ~= tag_name(block.expr) then
    fail(p, "Parse error: {{/" .. ctl.path.original .. "}} does not match "
      .. describe_open(p, block), ctl.pos)
  end
  block.close_strip = ctl.strip
  block.inverse_strip = block.inverse_strip or {open = false, close = false}
  if block.inverted then
    block.program, block.inverse = block.inverse, block.program
  end
  return ctl
end

-- Parses statements until a control tag or the end; returns the body and
-- the control marker ({kind = "eof"} at the end).
function parse_program(p)
  local body = {}
  while true do
    if p.pos > #p.src then
      return body, {kind = "eof"}
    end
    if p.escaped or sub(p.src, p.pos, p.pos + 1) ~= "{{" then
      local at = p.pos
      local text = read_content(p)
      if text ~= "" then
        body[#body + 1] = {type = "content", value = text, original = text,
          pos = at}
      end
    else
      local node = read_tag(p)
      if node.kind == "open" or node.kind == "inverted" then
        local block = {type = "block", expr = node.expr, pos = node.pos,
          block_params = node.block_params, open_strip = node.strip,
          inverted = node.kind == "inverted"}
        parse_block_tail(p, block, false)
        body[#body + 1] = block
      elseif node.kind then
        return body, node
      else
        body[#body + 1] = node
      end
    end
  end
end

-- Whitespace control ----------------------------------------------------------
-- Handlebars' rules: a ~ strips all whitespace on its side; a block tag,
-- {{else}} or comment alone on its line takes that line's indentation and
-- line break with it.

local function prev_blank(body, i, root)
  i = i or #body + 1
  local prev = body[i - 1]
  if not prev then
    return root
  elseif prev.type ~= "content" then
    return false
  end
  local text = prev.original
  if body[i - 2] or not root then
    return find(text, "\n%s*$") ~= nil
  end
  return find(text, "^%s*$") ~= nil or find(text, "\n%s*$") ~= nil
end

local function next_blank(body, i, root)
  i = i or 0
  local nxt = body[i + 1]
  if not nxt then
    return root
  elseif nxt.type ~= "content" then
    return false
  end
  local text = nxt.original
  if body[i + 2] or not root then
    return find(text, "^%s*\n") ~= nil
  end
  return find(text, "^%s*\n") ~= nil or find(text, "^%s*$") ~= nil
end

-- Strips the start of the content after body[i] (body[1] if i is nil): all
-- whitespace if `all`, else blanks up to and including one line break.
local function omit_right(body, i, all)
  local node = body[(i or 0) + 1]
  if not node or node.type ~= "content" or (not all and node.right_stripped)
  then
    return
  end
  local before = node.value
  node.value = gsub(before, all and "^%s+" or "^[ \t]*\r?\n?", "")
  node.right_stripped = node.value ~= before
end

-- Strips the end of the content before body[i] (the last node if i is nil).
local function omit_left(body, i, all)
  local node = body[(i or #body + 1) - 1]
  if not node or node.type ~= "content" or (not all and node.left_stripped)
  then
    return false
  end
  local before = node.value
  node.value = gsub(before, all and "%s+$" or "[ \t]+$", "")
  node.left_stripped = node.value ~= before
  return node.left_stripped
end

local visit_program

local function visit_block(block)
  if block.program then
    visit_program(block.program, false)
  end
  if block.inverse then
    visit_program(block.inverse, false)
  end
  local program = block.program or block.inverse
  local inverse = block.program and block.inverse
  local first, last = inverse, inverse
  if inverse and inverse.chained then
    first = inverse.body[1].program
    while last.chained do
      last = last.body[#last.body].program
    end
  end
  local info = {
    open = block.open_strip.open, close = block.close_strip.close,
    open_standalone = next_blank(program.body),
    close_standalone = prev_blank((first or program).body),
  }
  if block.open_strip.close then
    omit_right(program.body, nil, true)
  end
  if inverse then
    if block.inverse_strip.open then
      omit_left(program.body, nil, true)
    end
    if block.inverse_strip.close then
      omit_right(first.body, nil, true)
    end
    if block.close_strip.open then
      omit_left(last.body, nil, true)
    end
    if prev_blank(program.body) and next_blank(first.body) then
      omit_left(program.body)
      omit_right(first.body)
    end
  elseif block.close_strip.open then
    omit_left(program.body, nil, true)
  end
  return info
end

local function strip_info(node)
  if node.type == "block" then
    return visit_block(node)
  elseif node.type == "mustache" then
    return node.strip
  elseif node.type == "comment" then
    return {inline_standalone = true, open = node.strip.open,
      close = node.strip.close}
  end
  return nil
end

function visit_program(program, root)
  local body = program.body
  for i = 1, #body do
    local node = body[i]
    local info = strip_info(node)
    if info then
      local before, after = prev_blank(body, i, root), next_blank(body, i, root)
      if info.close then
        omit_right(body, i, true)
      end
      if info.open then
        omit_left(body, i, true)
      end
      if info.inline_standalone and before and after then
        omit_right(body, i)
        omit_left(body, i)
      end
      if info.open_standalone and before then
        omit_right((node.program or node.inverse).body)
        omit_left(body, i)
      end
      if info.close_standalone and after then
        omit_right(body, i)
        omit_left((node.inverse or node.program).body)
      end
    end
  end
end

---Parses template source into a syntax tree with whitespace rules applied.
---@param src string
---@return table|nil program
---@return table|nil err {message = string, pos = integer}
function M.parse(src)
  local p = {src = src, pos = 1, escaped = false}
  local ok, body, ctl = pcall(parse_program, p)
  if not ok then
    if type(body) ~= "table" then
      return nil, {message = "Parse error: " .. tostring(body), pos = p.pos}
    end
    return nil, body
  end
  if ctl.kind == "else" or ctl.kind == "chain" then
    return nil, {message = "Parse error: {{else}} outside a block",
      pos = ctl.pos}
  elseif ctl.kind == "close" then
    return nil, {message = "Parse error: {{/" .. ctl.path.original
      .. "}} closes no open block", pos = ctl.pos}
  end
  local program = {body = body}
  visit_program(program, true)
  return program
end

return M
