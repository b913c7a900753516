-- Retries for the contrib nodes: the attempt loop, exponential backoff
-- with jitter, and Retry-After. Each node keeps its own rule for what may
-- be sent again; this module only runs the loop.
-- SPDX-License-Identifier: MIT

local M = {}

local floor, min, random = math.floor, math.min, math.random

--- Retry-After in milliseconds (capped at a minute), or nil: seconds or
--- an HTTP-date, as ctx:http read it.
---@param res table a response
function M.after_ms(res)
  local ms = res.retry_after_ms
  if ms then return min(ms, 60000) end
  return nil
end

--- Backoff before attempt+1: a random time in the upper half of
--- 500 ms x 2^(attempt-1), at most 30 s.
---@param attempt integer
function M.backoff_ms(attempt)
  local ceiling = min(30000, 500 * 2 ^ (attempt - 1))
  return ceiling / 2 + random() * ceiling / 2
end

--- Sends req up to retries+1 times. wait(res, err, attempt) says how long
--- to wait before the next attempt, or nil to stop. label names the call
--- in the log. Returns the last response, or nil and its error.
---@param ctx table
---@param req table
---@param retries integer
---@param wait fun(res: table|nil, err: table|nil, attempt: integer): number|nil
---@param label string
function M.send(ctx, req, retries, wait, label)
  local res, err
  for attempt = 1, retries + 1 do
    res, err = ctx:http(req)
    local ms = wait(res, err, attempt)
    if not ms or attempt > retries then break end
    ctx:log("info", "attempt %d to %s got %s; retrying in %d ms", attempt, label,
      res and ("HTTP " .. res.status) or err.code, floor(ms))
    ctx:sleep(ms)
  end
  return res, err
end

return M
