-- wrk script for the daemon benchmark: POSTs real BigPanda incidents to
-- /api/v1/shares, half of them new incidents and half updates of an
-- earlier one, each body unique. Process handling is left to run.sh.
-- SPDX-License-Identifier: MIT
--
-- Arguments (after `--`): payload=FILE key=APPKEY tag=RUNTAG
--   lag=N     an update names the incident created N incidents earlier
--             (the same incident while fewer than N exist); default 64
--   limit=N   send N shares in all, then only GET /healthz until the
--             N answers are in (the burst); default unlimited
-- done() prints one line `WRKJSON {...}` for bench.py.

local floor, format = math.floor, string.format

local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

local opts = {}
local head, middle, tail   -- the payload split around its id and status
local headers = {}
local sent, answered, quota = 0, 0, nil
local tid = 0
local ping

local function read_file(path)
  local f = assert(io.open(path, "rb"), "cannot read " .. tostring(path))
  local text = f:read("*a")
  f:close()
  return text
end

-- Splits the payload around its first "id" and "status" values so that
-- a body is five string pieces joined, not a JSON encode per request.
local function split_payload(text)
  local a, b = text:find('"id"%s*:%s*"[^"]*"')
  local c, d = text:find('"status"%s*:%s*"[^"]*"', b)
  assert(a and c, "the payload needs a top-level \"id\" and \"status\"")
  return text:sub(1, a - 1), text:sub(b + 1, c - 1), text:sub(d + 1)
end

function init(args)
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then opts[k] = v end
  end
  tid = tonumber(wrk.thread:get("tid")) or 0
  local nthreads = tonumber(opts.threads) or 1
  head, middle, tail = split_payload(read_file(opts.payload))
  headers["Authorization"] = "Bearer " .. opts.key
  headers["Content-Type"] = "application/json"
  if opts.limit then
    local total = tonumber(opts.limit)
    -- Thread 0 takes the remainder, so the quotas add up to the limit.
    quota = floor(total / nthreads)
    if tid == 0 then quota = total - quota * (nthreads - 1) end
  end
  ping = wrk.format("GET", "/healthz")
end

local function body_for(n)
  local k = floor(n / 2)
  local status = "critical"
  if n % 2 == 1 then
    local lag = tonumber(opts.lag) or 64
    if k >= lag then k = k - lag end
    status = "ok"
  end
  local id = format("%s-t%d-%d", opts.tag or "bench", tid, k)
  -- updated_at carries n, so no two bodies are alike (deduplication).
  local rest = tail:gsub('"updated_at"%s*:%s*%d+', '"updated_at": ' .. n, 1)
  return head .. '"id": "' .. id .. '"' .. middle .. '"status": "'
    .. status .. '"' .. rest
end

-- wrk calls thread 0's request() once before the run, only to check
-- what it returns; that call gets a ping, so no share goes unsent.
local checked = false

function request()
  if tid == 0 and not checked then
    checked = true
    return ping
  end
  if quota and sent >= quota then return ping end
  local body = body_for(sent)
  sent = sent + 1
  return wrk.format("POST", "/api/v1/shares", headers, body)
end

-- Defined only for the burst: a response() callback costs wrk time.
-- Shares answer 202 (or an error), the pings 200. Stopping the thread
-- ends the requests; wrk itself sleeps out -d unless run.sh's driver
-- sends it SIGINT, which it does once the daemon has counted them all.
if os.getenv("MW_BENCH_LIMIT") then
  function response(status)
    if status ~= 200 then answered = answered + 1 end
    if quota and answered >= quota then wrk.thread:stop() end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(format('WRKJSON {"requests": %d, "duration_us": %d, '
    .. '"bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d}, "latency_us": {"mean": %.1f, '
    .. '"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max))
end
