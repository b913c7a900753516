-- The daemon's share queue and executions: durable intake, per-incident
-- order, the wait for a saved external ID, recovery after a restart,
-- retention, and the counters /metrics reports. The HTTP side is in
-- moonwire.api; the walker (C) runs the executions.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")
local db = require("moonwire.db")
local runtime = require("moonwire.runtime")
local share = require("moonwire.share")

local pairs, ipairs, tostring, type, next = pairs, ipairs, tostring, type, next
local format = string.format
local null = json.null

local M = {}

local cfg = {}
local stopping = false

-- Per (integration, incident): the execution in flight and the shares
-- waiting behind it, in arrival order.
local lanes = {}
-- Shares ready to start once a slot frees (max_concurrent): a FIFO in
-- ready[head .. tail]. Explicit ends, because `#` on a table whose front
-- has been cleared may report any border, 0 included.
local ready, ready_head, ready_tail = {}, 1, 0
local running = 0
-- Shares stored and not started yet, in memory or in the database: the
-- queue depth /metrics reports, kept as a count so that a scrape costs
-- nothing however long the queue.
local pending = 0
-- A queued share keeps its JSON text when it is at most BODY_MAX bytes and
-- the bodies held stay under HELD_MAX, so that most shares start without
-- reading their row again.
local BODY_MAX, HELD_MAX = 16 * 1024, 2 * 1024 * 1024
local held = 0 -- bytes of share bodies held by jobs not started yet
-- Started jobs holding their lane -> the time (ms) they must let go by.
local holding = {}
local SWEEP_MS = 1000
-- In-memory state of unfinished shares, for GET /shares/{id}.
local share_state = {}
-- Loaded workflows per integration: { version, wf, graph, secrets }.
local workflows = {}
-- Integrations deleted since the start (ids are never reused).
local deleted = {}

M.metrics = {
  shares_accepted = 0, shares_duplicate = 0,
  shares_rejected = { unauthorized = 0, inactive = 0, invalid = 0, store = 0 },
  executions = { succeeded = 0, failed = 0 }, node_ms = {}, outbound = {},
}

local function log(level, fmt, ...)
  if core.log_enabled(level) then core.log(level, format(fmt, ...)) end
end

local function bump(t, k, n)
  t[k] = (t[k] or 0) + (n or 1)
end

-- ---- workflows ----------------------------------------------------------------

--- The loaded workflow of an integration, cached per version.
---@return table|nil entry {version, wf, graph}
---@return string|nil err
function M.workflow_for(integration_id)
  local cached = workflows[integration_id]
  if cached then return cached end
  local row = db.workflow_latest(integration_id)
  if not row then return nil, "the integration has no workflow yet" end
  local wf, errors = runtime.load_workflow(row.doc)
  if not wf then
    return nil, format("the stored workflow (version %d) no longer validates: %s",
      row.version, errors[1] and (errors[1].path .. ": " .. errors[1].message) or "?")
  end
  local graph, gerr = core.graph(wf)
  if not graph then return nil, gerr end
  cached = { version = row.version, wf = wf, graph = graph,
    secrets = M.secrets_of(integration_id, wf) }
  workflows[integration_id] = cached
  return cached
end

-- What the share path reads of an integration on every share (its row and
-- its settings, secrets opened), kept until the API changes it: every
-- change calls forget_workflow.
local integrations = {} -- id -> { row = , settings = }
local by_key = {}       -- app key hash -> id

--- Drops what is cached of an integration: its workflow, row, settings.
function M.forget_workflow(integration_id)
  workflows[integration_id] = nil
  integrations[integration_id] = nil
  for hash, id in pairs(by_key) do
    if id == integration_id then by_key[hash] = nil end
  end
end

--- After DELETE: shares of the integration still in line do not run, and
--- executions still running leave no trace.
function M.integration_deleted(integration_id)
  deleted[integration_id] = true
  M.forget_workflow(integration_id)
  M.recount()
end

--- Settings as templates see them: stored plain settings, then secrets.
function M.settings_of(integ)
  local c = integrations[integ.id]
  if c and c.row == integ and c.settings then return c.settings end
  local s = json.decode(integ.settings) or {}
  for name, rec in pairs(core.settings(integ.id)) do s[name] = rec.value end
  if c and c.row == integ then c.settings = s end
  return s
end

--- The integration's row, from the cache when it is there.
function M.integration(id)
  local c = integrations[id]
  if c then return c.row end
  local row = db.integration_get(id)
  if row then integrations[id] = { row = row } end
  return row
end

--- The integration an app key (by its hash) belongs to, or nil.
function M.integration_by_key(hash)
  local id = by_key[hash]
  if id and integrations[id] then return integrations[id].row end
  local row = db.integration_by_key(hash)
  if row then
    by_key[hash] = row.id
    integrations[row.id] = integrations[row.id] or { row = row }
    return integrations[row.id].row
  end
  return nil
end

-- Shorter values are too likely to occur by chance to be cut from a trace.
local MIN_SECRET = 4

local function add_forms(out, v)
  if type(v) ~= "string" or #v < MIN_SECRET then return end
  out[#out + 1] = v
  local quoted = json.encode(v)
  if quoted and quoted:sub(2, -2) ~= v then out[#out + 1] = quoted:sub(2, -2) end
  local form = v:gsub("[^%w%-%._~]", function(c) return format("%%%02X", c:byte()) end)
  if form ~= v then out[#out + 1] = form end
end

--- The secret values an execution of the integration may carry: secret
--- settings and the literal secret fields of the workflow's nodes, each
--- also as it reads inside JSON text and in a form body.
---@param integration_id string
---@param wf table|nil a loaded workflow
---@return string[]
function M.secrets_of(integration_id, wf)
  local out = {}
  for _, rec in pairs(core.settings(integration_id)) do
    if rec.secret then add_forms(out, rec.value) end
  end
  for _, node in ipairs(wf and wf.nodes or {}) do
    for _, f in ipairs(node.module and node.module.schema or {}) do
      local v = f.secret and node.config[f.name]
      if type(v) == "string" and not v:find("{{", 1, true) then add_forms(out, v) end
    end
  end
  table.sort(out, function(a, b) return #a > #b end)
  return out
end

--- Replaces every secret value in text with [redacted]. Node modules keep
--- secrets out of traces already; this catches a secret that a template
--- put in a URL, a body or an ordinary header.
---@param text string
---@param secrets string[] from secrets_of
function M.scrub(text, secrets)
  for _, v in ipairs(secrets) do
    local at = text:find(v, 1, true)
    while at do
      text = text:sub(1, at - 1) .. "[redacted]" .. text:sub(at + #v)
      at = text:find(v, at + 10, true)
    end
  end
  return text
end

-- ---- executions ---------------------------------------------------------------

local function record_metrics(exec)
  bump(M.metrics.executions, exec.status)
  for _, e in ipairs(exec.trace) do
    local m = M.metrics.node_ms[e.type] or { count = 0, sum = 0 }
    m.count, m.sum = m.count + 1, m.sum + (e.duration_ms or 0)
    M.metrics.node_ms[e.type] = m
    for _, r in ipairs(e.requests or {}) do
      bump(M.metrics.outbound, r.status and tostring(r.status) or "error")
    end
  end
end

-- A stored trace past MAX_TRACE bytes has its node outputs over
-- MAX_OUTPUT bytes cut to an excerpt, so that retention_count bounds the
-- database whatever the size of the shares.
local MAX_TRACE, MAX_OUTPUT, EXCERPT = 256 * 1024, 16 * 1024, 1024

-- The first n bytes of text, not cutting a UTF-8 sequence in two.
local function head(text, n)
  while n > 0 and n < #text do
    local b = text:byte(n + 1)
    if b < 0x80 or b >= 0xC0 then break end
    n = n - 1
  end
  return text:sub(1, n)
end

local function shrink(trace)
  for _, e in ipairs(trace) do
    for k, v in pairs(type(e.output) == "table" and e.output or {}) do
      local text = json.encode(v) or ""
      if #text > MAX_OUTPUT then
        e.output[k] = { cut = true, bytes = #text, excerpt = head(text, EXCERPT) }
      end
    end
  end
  return json.encode(trace)
end

-- A node's input config is the same in every execution of a workflow
-- version, so executions of shares record none (exec.inputs_by_version);
-- node_inputs puts them back when a trace is read. This halves the bytes
-- written per execution.

local inputs_cache = setmetatable({}, { __mode = "v" })

--- The redacted input config of each node of a stored workflow version:
--- { [node id] = config }, or nil when the version is gone.
function M.node_inputs(integration_id, version)
  local key = tostring(integration_id) .. "\0" .. tostring(version)
  local hit = inputs_cache[key]
  if hit then return hit end
  local row = db.workflow_version(integration_id, version)
  if not row then return nil end
  local doc = json.decode(row.doc)
  local wf = doc and runtime.load_workflow(doc)
  local out = {}
  if wf then
    for _, node in ipairs(wf.nodes) do out[node.id] = runtime.node_input(node) end
  else
    -- the node types changed since: the stored config, secrets removed
    local text = require("moonwire.workflow").export(doc or {}, runtime.catalog())
    for _, node in ipairs((json.decode(text) or {}).nodes or {}) do
      if type(node) == "table" and node.id then out[node.id] = node.config end
    end
  end
  inputs_cache[key] = out
  return out
end

-- A request body that is the JSON of an output of an earlier node (the
-- common "body": "{{createPayload}}") is stored as a reference to that
-- output: the same bytes come back by encoding it when the trace is read
-- (api.lua, restore_bodies). A third less to write per execution. Returns
-- the records changed and their bodies, to put back.
local function bodies_by_reference(sent, trace)
  if not sent then return nil end
  local from = {}
  for _, e in ipairs(trace) do
    if type(e.output) == "table" then
      for k, v in pairs(e.output) do
        if type(v) == "table" then from[v] = { node = e.id, output = k } end
      end
    end
  end
  local changed = {}
  for record, value in pairs(sent.records) do
    if from[value] and record.body then
      changed[record] = record.body
      record.body, record.body_from = nil, from[value]
    end
  end
  return changed
end

local function put_bodies_back(changed)
  for record, body in pairs(changed or {}) do
    record.body, record.body_from = body, nil
  end
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- The trace to encode, with each output that was sent as a request body
-- given as the text sent (json.raw): that value is not encoded twice.
-- The entries changed are copies; the execution's trace stays as it was.
local function with_sent_texts(trace, sent)
  if not sent then return trace end
  local out
  for i, e in ipairs(trace) do
    local o, o2 = e.output, nil
    if type(o) == "table" then
      for k, v in pairs(o) do
        local text = sent.texts[v]
        if text then
          o2 = o2 or copy(o)
          o2[k] = json.raw(text)
        end
      end
    end
    if o2 then
      out = out or json.array(copy(trace))
      out[i] = copy(e)
      out[i].output = o2
    end
  end
  return out or trace
end

--- The JSON text stored as a finished execution's trace: outputs sent as
--- request bodies spliced in as sent, those bodies kept as references,
--- cut to size, the secrets (secrets_of) scrubbed.
---@param exec table
---@param secrets string[]
---@return string
function M.trace_text(exec, secrets)
  local stored = exec.trace
  local changed = bodies_by_reference(exec.sent, stored)
  local trace, err = json.encode(with_sent_texts(stored, exec.sent))
  if trace and #trace > MAX_TRACE then
    -- outputs may be cut to an excerpt: bodies must stand on their own
    put_bodies_back(changed)
    changed = nil
    trace, err = shrink(stored)
  end
  put_bodies_back(changed)
  if not trace then
    trace = json.encode(json.array({ { error = "trace not encodable: " .. err } }))
  end
  return M.scrub(trace, secrets)
end

--- Stores a finished execution and returns its id.
function M.save_execution(exec)
  local secrets = exec.secrets or M.secrets_of(exec.integration, exec.wf)
  local trace = M.trace_text(exec, secrets)
  if exec.error then exec.error = M.scrub(exec.error, secrets) end
  return db.execution_insert(exec, trace, core.time())
end

local pump

local function lane_key(integration_id, incident)
  return integration_id .. "\0" .. incident
end

local pump_armed = false

local function push_ready(job)
  ready_tail = ready_tail + 1
  ready[ready_tail] = job
end

local function arm_pump()
  if not pump_armed then
    pump_armed = true
    core.after(0, pump)
  end
end

-- A lane's `busy` is the share that holds it: started, or next in line in
-- `ready`. Shares arriving while it is held wait in `queue`. The holder
-- lets go when its execution ends, when save_id unlocks, or when the wait
-- times out, whichever comes first.
local function release(lane, job)
  holding[job] = nil
  if lane.busy ~= job then return end
  local nxt = lane.queue[lane.head]
  lane.busy = nxt
  if nxt then
    lane.queue[lane.head], lane.head = nil, lane.head + 1
    push_ready(nxt)
    share_state[nxt.id] = "queued"
    arm_pump()
  elseif lanes[lane.key] == lane then
    lanes[lane.key] = nil
  end
end

-- Started shares that still hold their lane, and when they must let go
-- (wait_timeout_s). One sweep a second checks them, instead of a timer
-- per share.
local sweep_armed = false

local function sweep()
  local now = core.now_ms()
  sweep_armed = false
  for job, deadline in pairs(holding) do
    if now >= deadline then
      log("warn", "share %d: its incident's lane has been held %d s; later "
        .. "shares of incident %s go ahead", job.id, cfg.wait_timeout_s or 300,
        job.incident)
      release(job.lane, job)
    end
  end
  if next(holding) ~= nil and not stopping then
    sweep_armed = true
    core.after(SWEEP_MS, sweep)
  end
end

local function hold(job)
  holding[job] = core.now_ms() + (cfg.wait_timeout_s or 300) * 1000
  if not sweep_armed then
    sweep_armed = true
    core.after(SWEEP_MS, sweep)
  end
end

-- Stores the execution and the share's outcome; false (logged) when the
-- writes fail.
local function record(job, exec)
  local ok, eid = pcall(M.save_execution, exec)
  if not ok then
    log("error", "share %d: cannot store its execution: %s", job.id, tostring(eid))
    eid = nil
  end
  local fok, ferr = pcall(db.share_finish, job.id, exec.status, eid, core.time())
  if not fok then
    log("error", "share %d: cannot record its outcome: %s", job.id, tostring(ferr))
    return false
  end
  return true, eid
end

local leave_memory -- the queue window, below

-- A share whose outcome did not reach the disk (a full disk, an I/O
-- error) is run again, as after a crash, with the same idempotency keys:
-- it keeps its lane meanwhile, so later shares of its incident wait, and
-- it waits longer each time (RERUN_MS doubling, at most a minute).
local RERUN_MS = 2000

local function rerun_later(job)
  job.reruns = (job.reruns or 0) + 1
  local wait = math.min(60000, RERUN_MS * 2 ^ (job.reruns - 1))
  log("error", "share %d: its outcome was not stored; it runs again in "
    .. "%d s", job.id, wait / 1000)
  share_state[job.id] = "queued"
  core.after(wait, function()
    if stopping then return end -- still queued in the database
    pending = pending + 1
    push_ready(job)
    arm_pump()
  end)
end

local function finish_share(job, exec)
  running = running - 1
  record_metrics(exec)
  if deleted[job.integration_id] then
    -- what the execution linked or counted goes with the integration
    share_state[job.id] = nil
    pcall(db.integration_forget, job.integration_id)
    log("info", "share %d: its integration was deleted while it ran; "
      .. "nothing recorded", job.id)
    release(job.lane, job)
    leave_memory()
    return arm_pump()
  end
  local ok, eid = record(job, exec)
  if not ok then return rerun_later(job) end
  -- the lane goes on, and the outcome is told, once it is on disk; and
  -- only if nothing the execution wrote before (a saved ID) was lost in
  -- a commit that failed while it ran
  db.after_commit(function(committed)
    if not committed or db.failed_commits ~= job.epoch then
      return rerun_later(job)
    end
    share_state[job.id] = nil
    local level = exec.status == "failed" and "warn" or "info"
    if core.log_enabled(level) then
      log(level, "share %d incident=%s execution=%s %s%s", job.id, job.incident,
        tostring(eid), exec.status, exec.error and (": " .. exec.error) or "")
    end
    release(job.lane, job)
    leave_memory()
    arm_pump()
  end)
end

local function fail_early(job, reason)
  running = running + 1
  local exec = { trace = json.array(), status = "failed", error = reason,
    integration = job.integration_id, incident_id = job.incident,
    share_id = job.id, started_at = core.time(), duration_ms = 0, live = true }
  finish_share(job, exec)
end

-- The integration went away with its shares and executions: the job
-- leaves its lane and records nothing.
local function drop(job)
  share_state[job.id] = nil
  log("info", "share %d: its integration was deleted; not run", job.id)
  release(job.lane, job)
  leave_memory()
  arm_pump()
end

-- An execution's hooks (runtime.lua), the same functions for every share.
-- The lane is let go once the saved ID is on disk: a later share of the
-- incident must find it.
local function unlock_job(exec)
  local job = exec.job
  db.after_commit(function(committed)
    if committed then release(job.lane, job) end
  end)
end
local function finish_job(exec) finish_share(exec.job, exec) end

local function start_share(job)
  job.epoch = db.failed_commits -- finish_share
  local body = job.body
  if body then held, job.body = held - #body, nil end
  local integ = not deleted[job.integration_id] and M.integration(job.integration_id)
  if not integ then return drop(job) end
  local entry, werr = M.workflow_for(job.integration_id)
  if not entry then return fail_early(job, werr) end
  local row = body and job or db.share_for_run(job.id)
  if not row then return fail_early(job, "the share is no longer stored") end
  local value = json.decode(body or row.body)
  local exec, perr = runtime.prepare(entry.wf, value, {
    integration = job.integration_id, settings = M.settings_of(integ),
    settings_complete = true, secrets = entry.secrets,
    live = true, label = tostring(job.id),
  })
  if not exec then return fail_early(job, perr) end
  exec.share_id, exec.workflow_version = job.id, entry.version
  exec.inputs_by_version = true
  exec.replay_of = row.replay_of ~= null and row.replay_of or nil
  exec.job, exec.batch = job, db.begin_batch
  exec.on_unlock, exec.on_finish = unlock_job, finish_job
  running = running + 1
  share_state[job.id] = "running"
  hold(job)
  local ok, err = core.start(entry.graph, exec)
  if not ok then
    running = running - 1
    fail_early(job, err)
  end
end

--- Starts ready shares while slots are free. Runs from the loop.
-- Starts per pass: the loop goes back to its sockets between passes, so
-- answers and responses are not held up behind a long run of starts.
local STARTS_PER_PASS = 32

pump = function()
  pump_armed = false
  local limit = cfg.max_concurrent or 512
  local started = 0
  while not stopping and running < limit and ready_head <= ready_tail do
    if started == STARTS_PER_PASS then return arm_pump() end
    local job = ready[ready_head]
    ready[ready_head] = nil
    ready_head = ready_head + 1
    started = started + 1
    pending = pending - 1
    local ok, err = pcall(start_share, job)
    if not ok then
      -- a fault of ours: the share fails with it and its lane goes on
      log("error", "share %d: %s", job.id, tostring(err))
      pcall(fail_early, job, "internal error: " .. tostring(err))
    end
  end
  if ready_head > ready_tail then ready, ready_head, ready_tail = {}, 1, 0 end
end

-- The queue in memory holds at most QUEUE_WINDOW shares; the others wait
-- in the database (status queued) and are read in, oldest first, as room
-- frees. Memory stays flat however long the queue, and per-incident order
-- holds because shares only ever enter memory in id order.
local QUEUE_WINDOW = 1024
-- Shares are read in at most REFILL at a time.
local REFILL = 256
local in_memory = 0   -- shares placed in lanes and not yet finished
local backlog = false -- queued shares in the database not yet in memory
local loaded_upto = 0 -- the highest share id placed in memory

local place

local function refill()
  if not backlog or in_memory > QUEUE_WINDOW / 2 then return end
  local room = math.min(REFILL, QUEUE_WINDOW - in_memory)
  local rows = db.shares_queued_after(loaded_upto, room, BODY_MAX)
  for _, r in ipairs(rows) do
    place(r.id, r.integration_id, r.incident, r.body, r.replay_of)
  end
  if #rows < room then backlog = false end
end

leave_memory = function()
  in_memory = in_memory - 1
  refill()
end

--- Queues an accepted (already stored) share behind its incident's lane,
--- or leaves it in the database when the window is full. body: the
--- share's JSON text, when the caller has it (saves reading it again).
function M.schedule(id, integration_id, incident, body)
  pending = pending + 1
  if backlog or in_memory >= QUEUE_WINDOW then
    backlog = true
    return
  end
  place(id, integration_id, incident, body)
end

place = function(id, integration_id, incident, body, replay_of)
  in_memory = in_memory + 1
  if id > loaded_upto then loaded_upto = id end
  local key = lane_key(integration_id, incident)
  local lane = lanes[key]
  if not lane then
    -- queue[head .. tail]: a FIFO, so a long line costs O(1) a share
    lane = { key = key, queue = {}, head = 1, tail = 0 }
    lanes[key] = lane
  end
  local job = { id = id, integration_id = integration_id, incident = incident,
    lane = lane }
  if body and body ~= null and #body <= BODY_MAX and held + #body <= HELD_MAX then
    job.body, job.replay_of, held = body, replay_of or null, held + #body
  end
  if lane.busy then
    lane.tail = lane.tail + 1
    lane.queue[lane.tail] = job
    share_state[id] = "waiting"
  else
    lane.busy = job
    push_ready(job)
    share_state[id] = "queued"
    arm_pump()
  end
end

function M.share_status(id)
  return share_state[id]
end

-- ---- intake -------------------------------------------------------------------

--- Stores a share in the turn's batch. Returns the share id, nil (or nil
--- and what is wrong with it), whether it was a duplicate of one accepted
--- moments ago, and its incident; M.admit queues it once committed.
---@param integ table the integration row
---@param body string the share's JSON text, valid JSON
function M.accept(integ, body)
  local settings = M.settings_of(integ)
  -- Most shares name their incident where the text can be read without
  -- decoding it; the others are decoded, which also finds what is wrong.
  local incident = share.incident_id_of_text(body, settings.incident_key)
  if not incident then
    local vars, err = share.normalize(json.decode(body))
    if not vars then return nil, err end
    incident = share.incident_id(vars, settings.incident_key)
  end
  local digest = core.sha256_hex(body)
  local now = core.time()
  local window = cfg.dedup_window_s or 10
  local key = integ.id .. "\0" .. digest
  if window > 0 then
    -- remembered in memory (core/recent.c); the row confirms the match
    local seen = core.recent_find(key, now - window)
    if seen and db.share_has_digest(seen, integ.id, digest) then
      M.metrics.shares_duplicate = M.metrics.shares_duplicate + 1
      return seen, nil, true
    end
  end
  local id = db.share_insert(integ.id, incident, body, digest, now)
  -- remembered now, so that a repeat in this same turn is found: should
  -- the commit fail, the row it names is missing and matches nothing
  if window > 0 then core.recent_add(key, id, now, window) end
  return id, nil, false, incident
end

--- After the commit that stored a share accepted by M.accept: counts and
--- queues it. Not before: a share whose commit failed was refused, and
--- must neither run nor count.
function M.admit(integ, id, incident, body)
  M.metrics.shares_accepted = M.metrics.shares_accepted + 1
  M.schedule(id, integ.id, incident, body)
end

-- ---- lifecycle ------------------------------------------------------------------

-- Retention runs once a minute, in steps of PRUNE_IDS ids from the oldest
-- row up, each step its own loop turn: a backlog of a million expired
-- executions is deleted without holding up intake for more than a step.
-- It walks on while steps are inside the count cut or still find rows
-- past the age; ids follow time closely enough for that to end it.
local PRUNE_IDS, PRUNE_EVERY_MS = 256, 60000

local prune

local function prune_step(lo, stop_at, before, exec_cut, share_cut)
  if stopping then return end
  local ok, n = pcall(db.prune_range, lo, lo + PRUNE_IDS, before, exec_cut,
    share_cut)
  if not ok then
    log("error", "retention: %s", tostring(n))
  elseif lo + PRUNE_IDS <= stop_at
      and (n > 0 or lo + PRUNE_IDS <= math.max(exec_cut, share_cut)) then
    return core.after(0, function()
      prune_step(lo + PRUNE_IDS, stop_at, before, exec_cut, share_cut)
    end)
  end
  core.after(PRUNE_EVERY_MS, prune)
end

prune = function()
  if stopping then return end
  local keep = cfg.retention_count or 10000
  local before = core.time() - (cfg.retention_days or 7) * 86400
  local ok, elo, ehi = pcall(db.id_range, "executions")
  local sok, slo, shi = pcall(db.id_range, "shares")
  if not (ok and sok) then
    log("error", "retention: %s", tostring(ok and slo or elo))
    return core.after(PRUNE_EVERY_MS, prune)
  end
  if not elo and not slo then return core.after(PRUNE_EVERY_MS, prune) end
  prune_step(math.min(elo or math.huge, slo or math.huge),
    math.max(ehi or 0, shi or 0) + 1, before,
    (ehi or 0) - keep, (shi or 0) - keep)
end

function M.config() return cfg end
function M.running() return running end
function M.queue_depth()
  return pending
end

--- Counts the shares not started yet afresh: after a deletion took some
--- of them from the database.
function M.recount()
  local n = ready_tail - ready_head + 1
  for _, lane in pairs(lanes) do n = n + lane.tail - lane.head + 1 end
  if backlog then n = n + db.shares_queued_count_after(loaded_upto) end
  pending = n
end

-- The collector starts a cycle when the heap has doubled since the last
-- one (Lua's default). The live heap under a sustained load of shares is
-- 3-6 MB; measured at 64 connections (bench/daemon), a pause of 150 spent
-- 15% of the daemon's time collecting and 0.217 CPU ms per share with a
-- peak RSS of 32 MB, 200 took 0.192 ms and 36 MB, 250 took 0.169 ms and
-- 38 MB, too close to the 40 MB bound. An earlier, allocation-heavier
-- build let the heap run away past 1 GB at 300.
local GC_PAUSE = 200

-- After a restart the shares of the last dedup window are remembered
-- again, so that a sender's retry across the restart is still answered
-- with the first share's id.
local RECENT_MAX = 262144 -- core/recent.h: MW_RECENT_MAX

local function remember_recent()
  local window = cfg.dedup_window_s or 10
  if window <= 0 then return end
  local now = core.time()
  db.each_share_since(now - window, RECENT_MAX, function(r)
    core.recent_add(r.integration_id .. "\0" .. r.digest, r.id, r.created_at, window)
  end)
end

--- Called by the C driver once the server listens.
function M.start(config)
  cfg = config
  collectgarbage("setpause", GC_PAUSE)
  db.init()
  require("moonwire.api").configure(config)
  remember_recent()
  local open = db.shares_queued_count()
  if open > 0 then
    log("info", "recovered %d unfinished share(s) from the last run", open)
    pending = open
    backlog = true
    refill()
  end
  core.after(1000, prune)
  log("info", "moonwire %s ready on port %d", core.version, config.port)
end

--- After the loop has ended: commit what the last turn wrote.
function M.shutdown()
  db.flush()
end

function M.stop()
  stopping = true
end

function M.reload()
  runtime.load_catalog(runtime.node_dirs())
  workflows = {}
end

return M
