-- The daemon's tables and every statement on them: integrations, workflow
-- versions, the durable share queue and executions. Links, history and
-- settings stay with the C store (core/store.c), which `run` shares.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local format = string.format
local json = require("moonwire.json")

local null = json.null

local M = {}

local SCHEMA = {
  [[CREATE TABLE IF NOT EXISTS integrations(
      id TEXT PRIMARY KEY, name TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'inactive',
      app_key_hash TEXT NOT NULL UNIQUE,
      settings TEXT NOT NULL DEFAULT '{}',
      created_at REAL NOT NULL, updated_at REAL NOT NULL)]],
  [[CREATE TABLE IF NOT EXISTS workflows(
      integration_id TEXT NOT NULL, version INTEGER NOT NULL,
      doc TEXT NOT NULL, created_at REAL NOT NULL,
      PRIMARY KEY(integration_id, version))]],
  [[CREATE TABLE IF NOT EXISTS shares(
      id INTEGER PRIMARY KEY AUTOINCREMENT, integration_id TEXT NOT NULL,
      incident TEXT NOT NULL, body TEXT NOT NULL, digest TEXT NOT NULL,
      status TEXT NOT NULL, execution_id INTEGER, replay_of INTEGER,
      created_at REAL NOT NULL, updated_at REAL NOT NULL)]],
  [[CREATE INDEX IF NOT EXISTS shares_open ON shares(status)
      WHERE status = 'queued']],
  -- deduplication keeps recent digests in memory (core/recent.c): an
  -- index of random keys cost a random page write per share
  [[DROP INDEX IF EXISTS shares_digest]],
  [[CREATE TABLE IF NOT EXISTS executions(
      id INTEGER PRIMARY KEY AUTOINCREMENT, share_id INTEGER,
      integration_id TEXT NOT NULL, incident TEXT, status TEXT NOT NULL,
      error TEXT, trace TEXT NOT NULL, workflow_version INTEGER,
      replay_of INTEGER, live INTEGER NOT NULL DEFAULT 1,
      started_at REAL NOT NULL, finished_at REAL NOT NULL,
      duration_ms REAL NOT NULL)]],
  [[CREATE INDEX IF NOT EXISTS executions_integration
      ON executions(integration_id, id)]],
}

local function must(rows, err, ...)
  if not rows then error("database: " .. tostring(err), 2) end
  return rows, err, ...
end

-- ---- group commit -----------------------------------------------------------

-- The writes of one turn of the event loop share one transaction, which
-- commits at the end of the turn: one WAL append and one lock round for
-- every share that arrived in the turn, instead of one for each
-- statement. Whatever must not be said before the data is on disk (a
-- 202) waits for the commit with after_commit.
local batch_open = false
local waiting = {}

--- Commits the open batch and tells those waiting whether it held.
-- Transactions committed since the start, for /metrics.
M.commits = 0
-- Commits that failed (and were rolled back) since the start: whatever a
-- running execution wrote across one may be lost (daemon.finish_share).
M.failed_commits = 0

-- Failed commits are logged once and then at most every FAIL_LOG_MS
-- with their count; each asks for a WAL checkpoint (at most once a
-- second), so that once space is freed a WAL whose frames are all copied
-- starts over instead of needing to grow.
local FAIL_LOG_MS, KICK_MS = 10000, 1000
local fail_logged, fail_unlogged, kicked = -math.huge, 0, -math.huge
local failing = 0 -- commits failed in a row

local function commit_failed(err)
  local now = core.now_ms()
  M.failed_commits = M.failed_commits + 1
  failing = failing + 1
  fail_unlogged = fail_unlogged + 1
  if now - fail_logged >= FAIL_LOG_MS then
    core.log("error", "database commit failed: " .. tostring(err)
      .. (fail_unlogged > 1 and format(" (%d failed commits since the last "
        .. "line)", fail_unlogged) or ""))
    fail_logged, fail_unlogged = now, 0
  end
  if now - kicked >= KICK_MS and core.wal_checkpoint then
    kicked = now
    core.wal_checkpoint()
  end
end

function M.flush()
  if not batch_open then return end
  batch_open = false
  M.commits = M.commits + 1
  local ok, err = core.sql_commit()
  if not ok then
    core.sql_rollback()
    commit_failed(err)
  elseif failing > 0 then
    core.log("info", format("database commits succeed again, after %d "
      .. "failed", failing))
    failing, fail_unlogged, fail_logged = 0, 0, -math.huge
  end
  local list = waiting
  waiting = {}
  for _, fn in ipairs(list) do
    local cok, cerr = pcall(fn, ok, err)
    if not cok then core.log("error", "after commit: " .. tostring(cerr)) end
  end
end

--- Opens the turn's batch, when none is open yet.
function M.begin_batch()
  if batch_open then return end
  must(core.sql_begin())
  batch_open = true
  core.after(0, M.flush, true) -- urgent: answers wait for it
end

--- Calls fn(ok, err) once what was written so far is committed.
function M.after_commit(fn)
  if batch_open then
    waiting[#waiting + 1] = fn
  else
    fn(true)
  end
end

-- INSERT, UPDATE, DELETE and REPLACE join the batch; reads need none.
local WRITE = { [73] = true, [85] = true, [68] = true, [82] = true }

-- Runs one statement: rows, changed row count, last inserted id.
local function q(sql, ...)
  if WRITE[sql:byte(1)] then M.begin_batch() end
  return must(core.sql(sql, ...))
end

local function one(sql, ...)
  return q(sql, ...)[1]
end

-- Columns added after a table was first created: table, column, type.
local ADDED = {
  { "shares", "replay_of", "INTEGER" },
}

function M.init()
  -- Not locking_mode=EXCLUSIVE: a second connection, on a thread of its
  -- own, checkpoints the WAL (core/checkpoint.c). One daemon to a data
  -- dir is kept by a flock on the dir (store.c, mw_store_lock_dir).
  for _, stmt in ipairs(SCHEMA) do q(stmt) end
  for _, a in ipairs(ADDED) do
    local have = false
    for _, col in ipairs(q("PRAGMA table_info(" .. a[1] .. ")")) do
      have = have or col.name == a[2]
    end
    if not have then
      q("ALTER TABLE " .. a[1] .. " ADD COLUMN " .. a[2] .. " " .. a[3])
    end
  end
end

--- Runs fn all or nothing, inside the turn's batch (a savepoint).
function M.transaction(fn)
  M.begin_batch()
  must(core.sql("SAVEPOINT mw_tx"))
  local ok, err = pcall(fn)
  if ok then
    must(core.sql("RELEASE mw_tx"))
  else
    core.sql("ROLLBACK TO mw_tx")
    core.sql("RELEASE mw_tx")
    error(err, 0)
  end
end

-- ---- integrations -------------------------------------------------------------

function M.integration_create(id, name, key_hash, now)
  q("INSERT INTO integrations(id, name, status, app_key_hash, settings,"
    .. " created_at, updated_at) VALUES(?, ?, 'inactive', ?, '{}', ?, ?)",
    id, name, key_hash, now, now)
end

function M.integration_get(id)
  return one("SELECT * FROM integrations WHERE id = ?", id)
end

function M.integration_by_key(key_hash)
  return one("SELECT * FROM integrations WHERE app_key_hash = ?", key_hash)
end

function M.integration_list()
  return q("SELECT * FROM integrations ORDER BY created_at, id")
end

function M.integration_update(id, name, status, settings, now)
  q("UPDATE integrations SET name = ?, status = ?, settings = ?,"
    .. " updated_at = ? WHERE id = ?", name, status, settings, now, id)
end

function M.integration_set_key(id, key_hash, now)
  q("UPDATE integrations SET app_key_hash = ?, updated_at = ? WHERE id = ?",
    key_hash, now, id)
end

--- Drops what the store (core/store.c) keeps for an integration: links,
--- history and settings.
function M.integration_forget(id)
  q("DELETE FROM links WHERE integration = ?", id)
  q("DELETE FROM history WHERE integration = ?", id)
  q("DELETE FROM settings WHERE integration = ?", id)
end

function M.integration_delete(id)
  M.transaction(function()
    q("DELETE FROM workflows WHERE integration_id = ?", id)
    q("DELETE FROM executions WHERE integration_id = ?", id)
    q("DELETE FROM shares WHERE integration_id = ?", id)
    q("DELETE FROM integrations WHERE id = ?", id)
    M.integration_forget(id)
  end)
end

--- Removes one setting of an integration (plain or secret) from the
--- store's settings table.
function M.setting_delete(integration_id, name)
  q("DELETE FROM settings WHERE integration = ? AND name = ?", integration_id, name)
end

-- ---- workflows ----------------------------------------------------------------

function M.workflow_latest(integration_id)
  return one("SELECT * FROM workflows WHERE integration_id = ?"
    .. " ORDER BY version DESC LIMIT 1", integration_id)
end

function M.workflow_version(integration_id, version)
  return one("SELECT * FROM workflows WHERE integration_id = ? AND version = ?",
    integration_id, version)
end

function M.workflow_add(integration_id, doc_text, now)
  local last = M.workflow_latest(integration_id)
  local version = (last and last.version or 0) + 1
  q("INSERT INTO workflows(integration_id, version, doc, created_at)"
    .. " VALUES(?, ?, ?, ?)", integration_id, version, doc_text, now)
  return version
end

function M.workflow_versions(integration_id)
  return q("SELECT version, created_at, length(doc) AS bytes FROM workflows"
    .. " WHERE integration_id = ? ORDER BY version DESC", integration_id)
end

-- ---- shares -------------------------------------------------------------------

-- The statements run for every share are built once: core.sql finds its
-- prepared statement by the text, and a text made anew on each call
-- would cost a concatenation and an interning first.
local SHARE_INSERT = "INSERT INTO shares(integration_id, incident, body, digest,"
  .. " status, replay_of, created_at, updated_at)"
  .. " VALUES(?, ?, ?, ?, 'queued', ?, ?, ?)"

--- Stores a share as queued; replay_of names the execution it replays.
function M.share_insert(integration_id, incident, body, digest, now, replay_of)
  local _, _, id = q(SHARE_INSERT, integration_id, incident, body, digest,
    replay_of or null, now, now)
  return id
end

--- Whether share id is stored for the integration with this digest.
function M.share_has_digest(id, integration_id, digest)
  return one("SELECT 1 AS yes FROM shares WHERE id = ? AND integration_id = ?"
    .. " AND digest = ?", id, integration_id, digest) ~= nil
end

--- Calls fn(row) for the shares created at or after `since` (epoch s),
--- newest first, at most `limit` of them. Walks back by id, so it reads
--- only the rows it returns (and one more).
function M.each_share_since(since, limit, fn)
  local before, seen = math.huge, 0
  while seen < limit do
    local rows = q("SELECT id, integration_id, digest, created_at FROM shares"
      .. " WHERE id < ? ORDER BY id DESC LIMIT 512", before)
    for _, r in ipairs(rows) do
      if r.created_at < since or seen >= limit then return end
      fn(r)
      seen, before = seen + 1, r.id
    end
    if #rows < 512 then return end
  end
end

function M.share_get(id)
  return one("SELECT id, integration_id, incident, status, execution_id,"
    .. " replay_of, created_at, updated_at FROM shares WHERE id = ?", id)
end

function M.share_for_run(id)
  return one("SELECT body, replay_of FROM shares WHERE id = ?", id)
end

function M.share_body(id)
  local r = one("SELECT body FROM shares WHERE id = ?", id)
  return r and r.body
end

function M.share_finish(id, status, execution_id, now)
  q("UPDATE shares SET status = ?, execution_id = ?, updated_at = ? WHERE id = ?",
    status, execution_id, now, id)
end

--- Queued shares with an id above `after`, oldest first, at most `limit`;
--- with the body and replay_of when the body is at most body_max bytes.
local QUEUED_AFTER = "SELECT id, integration_id, incident,"
  .. " CASE WHEN length(CAST(body AS BLOB)) <= ? THEN body END AS body,"
  .. " replay_of FROM shares WHERE status = 'queued' AND id > ?"
  .. " ORDER BY id LIMIT ?"

function M.shares_queued_after(after, limit, body_max)
  return q(QUEUED_AFTER, body_max or 0, after, limit)
end

function M.shares_queued_count()
  return one("SELECT count(*) AS n FROM shares WHERE status = 'queued'").n
end

function M.shares_queued_count_after(after)
  return one("SELECT count(*) AS n FROM shares WHERE status = 'queued'"
    .. " AND id > ?", after).n
end

-- ---- executions ---------------------------------------------------------------

local EXECUTION_INSERT = "INSERT INTO executions(share_id, integration_id,"
  .. " incident, status, error, trace, workflow_version, replay_of, live,"
  .. " started_at, finished_at, duration_ms)"
  .. " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

--- Stores a finished execution: its share_id, integration, incident_id,
--- status, error, workflow_version, replay_of, live, started_at and
--- duration_ms, with the trace text given. Returns the execution's id.
---@param exec table a finished execution (runtime.finish)
---@param trace string
---@param finished_at number epoch seconds
function M.execution_insert(exec, trace, finished_at)
  local _, _, id = q(EXECUTION_INSERT, exec.share_id, exec.integration,
    exec.incident_id, exec.status, exec.error or null, trace,
    exec.workflow_version, exec.replay_of or null, exec.live and 1 or 0,
    exec.started_at, finished_at, exec.duration_ms)
  return id
end

function M.execution_get(id)
  return one("SELECT * FROM executions WHERE id = ?", id)
end

function M.execution_list(integration_id, status, limit)
  local sql = "SELECT id, share_id, integration_id, incident, status, error,"
    .. " workflow_version, replay_of, live, started_at, finished_at, duration_ms"
    .. " FROM executions WHERE (? IS NULL OR integration_id = ?)"
    .. " AND (? IS NULL OR status = ?) ORDER BY id DESC LIMIT ?"
  return q(sql, integration_id, integration_id, status, status, limit)
end

function M.executions_by_status()
  return q("SELECT status, count(*) AS n FROM executions GROUP BY status")
end

function M.recent_share_bodies(integration_id, limit)
  return q("SELECT body FROM shares WHERE integration_id = ?"
    .. " ORDER BY id DESC LIMIT ?", integration_id, limit)
end

--- The lowest and highest id of a table of the daemon (executions or
--- shares), or nil when it is empty. Both are read off the rowid b-tree.
function M.id_range(tbl)
  local r = one("SELECT min(id) AS lo, max(id) AS hi FROM " .. tbl)
  if r.lo == null then return nil end
  return r.lo, r.hi
end

--- Retention over the ids [lo, hi): deletes the executions, and the
--- finished shares, that are older than `before` (epoch s) or whose id
--- is at most the table's cut (the newest `keep` ids stay). Returns how
--- many rows went.
function M.prune_range(lo, hi, before, exec_cut, share_cut)
  local _, n1 = q("DELETE FROM executions WHERE id >= ? AND id < ?"
    .. " AND (id <= ? OR finished_at < ?)", lo, hi, exec_cut, before)
  local _, n2 = q("DELETE FROM shares WHERE id >= ? AND id < ?"
    .. " AND status != 'queued' AND (id <= ? OR updated_at < ?)",
    lo, hi, share_cut, before)
  return n1 + n2
end

return M
