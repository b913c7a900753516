-- `moonwire repl`: a Lua prompt inside the real runtime for node authors.
-- Load a share, run a node or step through a workflow, answer HTTP from
-- recorded responses or make real calls; results are pretty-printed with
-- secrets redacted. Line editing and the loop are in core/repl.c.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")
local runtime = require("moonwire.runtime")
local testing = require("moonwire.testing")

local format = string.format
local out = io.stdout

local M = { busy = false }

local state = { exec = nil, wf = nil, cursor = nil, answers = nil, settings = {} }
local env = setmetatable({ json = json }, { __index = _G })

local function show(v)
  if type(v) == "table" or v == json.null then
    local text = json.encode(v, { pretty = true })
    if text then
      return state.exec and runtime.scrub(state.exec, text) or text
    end
  end
  if type(v) == "string" then return format("%q", v) end
  return tostring(v)
end

local function say(...)
  out:write(format(...), "\n")
end

local function read_json(file)
  local f, err = io.open(file, "rb")
  if not f then error("cannot read " .. tostring(err), 0) end
  local text = f:read("*a")
  f:close()
  local v, jerr = json.decode(text)
  if v == nil then error(file .. " is not JSON: " .. jerr, 0) end
  return v
end

-- Hands the next HTTP request a recorded answer while any are queued.
local function stub(req)
  local a = table.remove(state.answers, 1)
  say("-- answered from a recording: %s %s -> %s", req.method, req.url,
    tostring(a.status or (a.error and a.error.code)))
  if a.error then return nil, a.error end
  local body = type(a.body) == "table" and json.encode(a.body) or a.body or ""
  return { status = a.status or 200, body = body,
    headers = a.headers or { ["content-type"] = "application/json" } }
end

local function current()
  if not state.exec then error("load a share first: share(\"file.json\")", 0) end
  return state.exec
end

-- ---- the commands (globals at the prompt) ----------------------------------

function env.help()
  say([[
  types()               the node types on the node path
  schema(type)          a node type's config fields
  share(file|table)     start an execution from a share
  set(name, value)      an integration setting (integration.NAME)
  workflow(file)        load a workflow (then step() through it)
  step()                run the next node of the workflow
  run(type, config)     run one node with a config against the share
  vars() / get(path)    the execution's variables
  render(template[, mode])  render a template against the variables
  answer{status=, body=, headers=}  answer the next HTTP request (repeatable)
  live()                forget recorded answers: real HTTP again
  trace()               the execution's trace so far]])
end

function env.types()
  local names = {}
  for name in pairs(runtime.catalog()) do names[#names + 1] = name end
  table.sort(names)
  for _, n in ipairs(names) do
    say("  %-16s %s", n, runtime.catalog()[n].title or "")
  end
end

function env.schema(type_name)
  local mod = runtime.catalog()[type_name]
  if not mod then error("no node type " .. tostring(type_name), 0) end
  say("%s: %s", mod.type, mod.description or "")
  for _, f in ipairs(mod.schema) do
    say("  %-20s %-9s%s%s%s%s", f.name, f.kind, f.required and " required" or "",
      f.secret and " secret" or "",
      f.default ~= nil and (" default " .. show(f.default)) or "",
      f.enum and (" one of " .. table.concat(f.enum, ", ")) or "")
    if f.description then say("  %20s %s", "", f.description) end
  end
  local ok, ports = pcall(mod.ports, {})
  if ok then say("  ports: %s", table.concat(ports, ", ")) end
end

function env.set(name, value)
  state.settings[name] = value
  if state.exec then state.exec.vars.integration[name] = value end
  if runtime.is_secret_name(name) and state.exec then
    state.exec.secrets[#state.exec.secrets + 1] = tostring(value)
  end
end

function env.share(src)
  local value = type(src) == "string" and read_json(src) or src
  state.exec = testing.exec(value, { settings = state.settings })
  for name, v in pairs(state.settings) do
    if runtime.is_secret_name(name) then
      state.exec.secrets[#state.exec.secrets + 1] = tostring(v)
    end
  end
  state.exec.http_stub = state.answers and #state.answers > 0 and stub or nil
  state.cursor = state.wf and state.wf.start
  say("-- execution ready: incident %s, event %s", state.exec.incident_id,
    tostring(state.exec.vars.metadata.event_type))
end

function env.workflow(file)
  local wf, errors = runtime.load_workflow(read_json(file))
  if not wf then
    for _, e in ipairs(errors) do say("  %s: %s", e.path, e.message) end
    error("the workflow has problems", 0)
  end
  state.wf, state.cursor = wf, wf.start
  say("-- %d nodes; next: %s", #wf.nodes, wf.start)
end

local function refresh_stub()
  local exec = current()
  exec.http_stub = state.answers and #state.answers > 0 and stub or nil
end

function env.step()
  local exec = current()
  if not state.wf then error("load a workflow first: workflow(\"file.json\")", 0) end
  if not state.cursor then return say("-- the execution has ended") end
  local node = state.wf.by_id[state.cursor]
  exec.wf = state.wf
  refresh_stub()
  local port, status, err = runtime.run_node(exec, node.index)
  local entry = exec.trace[#exec.trace]
  say("-- %s (%s) -> %s%s", node.id, node.type, port, err and ("  " .. err) or "")
  if entry.output then say("%s", show(entry.output)) end
  local nxt = state.wf.next[node.id] and state.wf.next[node.id][port]
  state.cursor = nxt
  say(nxt and ("-- next: " .. nxt) or (status == "error" and "-- the execution failed"
    or "-- the execution has ended"))
end

function env.run(type_name, config)
  local exec = current()
  refresh_stub()
  local port, err, entry = testing.run(exec, type_name, config or {})
  say("-- port: %s%s", tostring(port), err and ("  error: " .. err) or "")
  if entry and entry.output then say("%s", show(entry.output)) end
  if entry and entry.requests then say("%s", show(entry.requests)) end
end

function env.vars() say("%s", show(current().vars)) end
function env.get(path) return require("moonwire.path").get(current().vars, path) end
function env.trace() say("%s", show(current().trace)) end

function env.render(src, mode)
  local template = require("moonwire.template")
  local tpl, err = template.compile(src, { mode = mode or "text" })
  if not tpl then error(tostring(err), 0) end
  local text, rerr = tpl:render(current().vars)
  if not text then error(tostring(rerr), 0) end
  say("%s", text)
end

function env.answer(a)
  state.answers = state.answers or {}
  state.answers[#state.answers + 1] = a
  say("-- %d recorded answer(s) queued", #state.answers)
end

function env.live()
  state.answers = nil
  if state.exec then state.exec.http_stub = nil end
  say("-- HTTP requests go to the network")
end

-- ---- the loop's side ----------------------------------------------------------

function M.start(opts)
  say("moonwire %s repl: help() lists the commands; Ctrl-D leaves", core.version)
  local ok, err = pcall(function()
    if opts.workflow then env.workflow(opts.workflow) end
    if opts.share then env.share(opts.share) end
  end)
  if not ok then say("error: %s", tostring(err)) end
end

local function print_results(ok, ...)
  if not ok then
    say("error: %s", tostring((...)))
    return
  end
  for i = 1, select("#", ...) do say("%s", show((select(i, ...)))) end
end

--- Compiles and runs one input. Returns "incomplete" when the input needs
--- more lines, else "ok" (the chunk runs as a task; M.busy until done).
function M.eval(text)
  local chunk, err = loadstring("return " .. text, "=input")
  if not chunk then chunk, err = loadstring(text, "=input") end
  if not chunk then
    if err:find("<eof>", 1, true) then return "incomplete" end
    say("error: %s", err)
    return "ok"
  end
  setfenv(chunk, env)
  M.busy = true
  core.spawn(function()
    print_results(xpcall(chunk, function(e)
      return type(e) == "string" and e or show(e)
    end))
    M.busy = false
  end)
  return "ok"
end

function M.is_busy() return M.busy end

return M
