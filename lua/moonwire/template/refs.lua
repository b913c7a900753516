-- The variable paths a parsed template reads, resolved against the root
-- (for validation and the editor's variable list). Items of an #each read
-- as `list[].field`. Rendering is codegen.lua's.
-- SPDX-License-Identifier: MIT

local find, concat = string.find, table.concat
local unpack = unpack or table.unpack
local ipairs, setmetatable = ipairs, setmetatable

local M = {}

local function segment(part)
  if find(part, "^[%w_%$%-]+$") then
    return part
  end
  return "[" .. part .. "]"
end

local function join(prefix, parts, first)
  local out = {}
  if prefix ~= "" then
    out[1] = prefix
  end
  for i = first, #parts do
    out[#out + 1] = segment(parts[i])
  end
  return concat(out, ".")
end

-- The root-relative path of a path expression, or nil when it does not
-- lead to the variables (data such as @index, unknown helper contexts).
local function resolve(sc, path)
  local parts = path.parts
  if path.data then
    return parts[1] == "root" and join("", parts, 2) or nil
  end
  if not path.scoped and parts[1] and sc.params[parts[1]] ~= nil then
    local prefix = sc.params[parts[1]]
    return prefix and join(prefix, parts, 2) or nil
  end
  local prefix = sc.ctx[#sc.ctx - path.depth]
  return prefix and join(prefix, parts, 1) or nil
end

local function child(sc, prefix, params)
  local ctx = {unpack(sc.ctx)}
  ctx[#ctx + 1] = prefix
  return {ctx = ctx, params = setmetatable(params or {},
    {__index = sc.params})}
end

local function simple_name(head)
  if head.type == "path" and not head.data and head.depth == 0
    and not head.scoped and #head.parts == 1 then
    return head.parts[1]
  end
  return nil
end

local walk_list

local function record(w, path)
  if path and path ~= "" and not w.seen[path] then
    w.seen[path] = true
    w.list[#w.list + 1] = path
  end
end

local function walk_expr(w, sc, node)
  if node.type == "path" then
    return record(w, resolve(sc, node))
  elseif node.type ~= "sexpr" then
    return
  end
  local name = simple_name(node.head)
  local call = #node.params > 0 or node.hash
    or (name and sc.params[name] == nil and w.helpers[name])
  if not call then
    return walk_expr(w, sc, node.head)
  end
  for _, param in ipairs(node.params) do
    walk_expr(w, sc, param)
  end
  for _, pair in ipairs(node.hash or {}) do
    walk_expr(w, sc, pair.value)
  end
end

local function names_to(params, names, values)
  for i, name in ipairs(names or {}) do
    params[name] = values[i] or false
  end
  return params
end

local function walk_block(w, sc, node)
  local e = node.expr
  local name = simple_name(e.head)
  local inner = sc
  walk_expr(w, sc, e)
  if name == "each" and e.params[1] then
    local list = e.params[1].type == "path" and resolve(sc, e.params[1])
    local item = list and list .. "[]" or false
    inner = child(sc, item, names_to({}, node.block_params, {item}))
  elseif name == "with" and e.params[1] then
    local value = e.params[1].type == "path" and resolve(sc, e.params[1])
      or false
    inner = child(sc, value, names_to({}, node.block_params, {value}))
  elseif name == "if" or name == "unless" then
    inner = sc
  elseif name and w.helpers[name] then
    inner = child(sc, false, names_to({}, node.block_params, {}))
  elseif e.head.type == "path" then
    local value = resolve(sc, e.head) or false
    inner = child(sc, value, names_to({}, node.block_params, {value}))
  end
  if node.program then
    walk_list(w, inner, node.program.body)
  end
  if node.inverse then
    walk_list(w, sc, node.inverse.body)
  end
end

function walk_list(w, sc, list)
  for _, node in ipairs(list) do
    if node.type == "mustache" then
      walk_expr(w, sc, node.expr)
    elseif node.type == "block" then
      walk_block(w, sc, node)
    end
  end
end

---Lists the root-relative variable paths a template reads, in the order
---they first appear.
---@param program table parser output
---@param helpers table the helper registry (to tell helpers from paths)
---@return string[]
function M.collect(program, helpers)
  local w = {list = {}, seen = {}, helpers = helpers}
  walk_list(w, {ctx = {""}, params = {}}, program.body)
  return w.list
end

return M
