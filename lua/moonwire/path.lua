-- Variable paths: `createResponse.id`, `alerts[0].status`, `a.[odd key]`.
-- Parses once (cached) and looks values up in decoded JSON; what a path
-- means to a node is the node's business.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")

local type, tonumber, sub, find = type, tonumber, string.sub, string.find
local is_array = json.is_array

local M = {}

local cache = setmetatable({}, { __mode = "k" })
local parsed = {}

--- Splits a path into segments; numeric segments stay strings here and
--- are resolved against arrays at lookup time.
---@param path string
---@return string[]|nil segments
---@return string|nil err
function M.parse(path)
  local hit = parsed[path]
  if hit then return hit end
  if type(path) ~= "string" or path == "" then
    return nil, "a variable path must be a non-empty string"
  end
  local segs, i, n = {}, 1, #path
  while i <= n do
    local c = sub(path, i, i)
    if c == "[" then
      local close = find(path, "]", i + 1, true)
      if not close then
        return nil, "unclosed '[' at character " .. i .. " of path " .. path
      end
      segs[#segs + 1] = sub(path, i + 1, close - 1)
      i = close + 1
    elseif c == "." then
      if i == 1 or i == n or sub(path, i + 1, i + 1) == "." then
        return nil, "empty segment at character " .. i .. " of path " .. path
      end
      i = i + 1
    else
      local stop = find(path, "[.%[]", i) or n + 1
      segs[#segs + 1] = sub(path, i, stop - 1)
      i = stop
    end
  end
  parsed[path] = segs
  return segs
end

local function step(value, seg)
  if type(value) ~= "table" or json.is_bignum(value) then return nil end
  if is_array(value) then
    local k = tonumber(seg)
    if not k or k < 0 or k % 1 ~= 0 then return nil end
    return value[k + 1]
  end
  local v = value[seg]
  if v == nil and #value > 0 then
    local k = tonumber(seg)
    if k then v = value[k + 1] end
  end
  return v
end

--- Looks a path up; returns nil when any segment is missing.
---@param root table
---@param path string
function M.get(root, path)
  local segs = M.parse(path)
  if not segs then return nil end
  local v = root
  for i = 1, #segs do
    v = step(v, segs[i])
    if v == nil then return nil end
  end
  return v
end

--- Sets a value at a path, creating objects on the way.
---@param root table
---@param path string
---@param value any
---@return boolean|nil ok
---@return string|nil err
function M.set(root, path, value)
  local segs, err = M.parse(path)
  if not segs then return nil, err end
  local t = root
  for i = 1, #segs - 1 do
    local nxt = t[segs[i]]
    if type(nxt) ~= "table" then
      nxt = {}
      t[segs[i]] = nxt
    end
    t = nxt
  end
  t[segs[#segs]] = value
  return true
end

M._cache = cache
return M
