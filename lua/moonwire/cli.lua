-- The Lua half of the command line: reading workflow and share files,
-- and the validate, render and test commands. Exit codes are returned to
-- the C driver (core/cli.c); nothing here exits the process.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local runtime = require("moonwire.runtime")

local format = string.format
local stderr, stdout = io.stderr, io.stdout

local M = {}

local function read_file(file)
  local f, err = io.open(file, "rb")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  if not text then return nil, "cannot read " .. file end
  return text
end

local function print_errors(file, errors)
  for _, e in ipairs(errors) do
    local where = e.node and format("%s (node %s)", e.path or "$", e.node) or e.path or "$"
    stderr:write(format("%s: %s: %s\n", file, where, e.message))
  end
end

--- Reads and validates a workflow file; prints every problem.
---@param file string
---@return table|nil wf
function M.load_workflow_file(file)
  local text, err = read_file(file)
  if not text then
    stderr:write(format("moonwire: cannot read workflow %s\n", err))
    return nil
  end
  local wf, errors = runtime.load_workflow(text)
  if not wf then
    print_errors(file, errors)
    stderr:write(format("%s: %d problem%s; nothing was run\n", file, #errors,
      #errors == 1 and "" or "s"))
    return nil
  end
  return wf
end

-- One share a line: each good line runs, each bad one is reported alone.
local function lines_of(file, text, out)
  local n = 0
  for line in text:gmatch("[^\n]+") do
    n = n + 1
    if line:match("%S") then
      local v, err = json.decode(line)
      out[#out + 1] = { label = format("%s:%d", file, n), value = v,
        error = v == nil and ("share is not JSON: " .. err) or nil }
    end
  end
end

-- One file may hold a share, a JSON array of shares, or one share a line.
local function shares_of(file, out)
  local text, err = read_file(file)
  if not text then
    out[#out + 1] = { label = file, error = "cannot read share: " .. err }
    return
  end
  local value, derr = json.decode(text)
  if value == nil and text:find("\n%s*[%[{]") then
    return lines_of(file, text, out)
  end
  if value == nil then
    out[#out + 1] = { label = file, error = "share is not JSON: " .. derr }
  elseif json.is_array(value) then
    if #value == 0 then
      out[#out + 1] = { label = file, error = "the file holds an empty list of shares" }
    end
    for i, v in ipairs(value) do
      out[#out + 1] = { label = format("%s[%d]", file, i - 1), value = v }
    end
  else
    out[#out + 1] = { label = file, value = value }
  end
end

--- Reads share files into { {label, value} | {label, error} }.
---@param files string[]
function M.read_shares(files)
  local out = {}
  for _, f in ipairs(files) do shares_of(f, out) end
  return out
end

--- `moonwire validate FILE...`: 0 when every file is valid, 1 otherwise.
function M.validate(files, opts)
  if #files == 0 then
    stderr:write("moonwire validate: name at least one workflow file\n")
    return 2
  end
  local bad = 0
  local report = {}
  for _, file in ipairs(files) do
    local text, err = read_file(file)
    local wf, errors
    if not text then
      errors = { { path = "$", message = "cannot read the file: " .. err } }
    else
      wf, errors = runtime.load_workflow(text)
    end
    if wf then
      if not opts.json then
        stdout:write(format("%s: valid (%d node%s)\n", file, #wf.nodes,
          #wf.nodes == 1 and "" or "s"))
      end
      report[#report + 1] = { file = file, valid = true, errors = json.array() }
    else
      bad = bad + 1
      if not opts.json then print_errors(file, errors) end
      report[#report + 1] = { file = file, valid = false,
        errors = json.array(errors) }
    end
  end
  if opts.json then
    stdout:write(json.encode(json.array(report), { pretty = true }), "\n")
  end
  return bad > 0 and 1 or 0
end

--- `moonwire render [--mode M] [--data FILE] [TEMPLATE]`.
local RENDER_MODES = { json = true, text = true, html = true, url = true }
local MISSING = { empty = true, null = true, error = true }

function M.render(files, opts)
  local template = require("moonwire.template")
  if opts.mode and not RENDER_MODES[opts.mode] then
    stderr:write("moonwire render: --mode must be json, text, html or url\n")
    return 2
  end
  if opts.missing and not MISSING[opts.missing] then
    stderr:write("moonwire render: --missing must be empty, null or error\n")
    return 2
  end
  local src, err
  if files[1] and files[1] ~= "-" then
    src, err = read_file(files[1])
  else
    src = io.read("*a")
  end
  if not src then
    stderr:write("moonwire render: cannot read template: ", err, "\n")
    return 1
  end
  local data = {}
  if opts.data then
    local text, derr = read_file(opts.data)
    if not text then
      stderr:write("moonwire render: cannot read data: ", derr, "\n")
      return 1
    end
    local v, jerr = json.decode(text)
    if v == nil then
      stderr:write(format("moonwire render: %s is not JSON: %s\n", opts.data, jerr))
      return 1
    end
    data = v
  end
  local tpl, cerr = template.compile(src, { mode = opts.mode or "text",
    missing = opts.missing, name = files[1] or "stdin" })
  if not tpl then
    stderr:write("moonwire render: ", tostring(cerr), "\n")
    return 1
  end
  local out, rerr = tpl:render(data)
  if not out then
    stderr:write("moonwire render: ", tostring(rerr), "\n")
    return 1
  end
  stdout:write(out)
  if out:sub(-1) ~= "\n" then stdout:write("\n") end
  return 0
end

--- `moonwire generate [--provider NAME] [--db FILE] PROMPT...`: the
--- workflow on standard output, explanation and warnings on standard
--- error (moonwire.generate).
function M.generate(words, opts)
  local ok, gen = pcall(require, "moonwire.generate")
  if not ok or type(gen.cli) ~= "function" then
    stderr:write("moonwire generate: workflow generation is not available "
      .. "in this build\n")
    return 2
  end
  return gen.cli(words, opts)
end

--- `moonwire settings [list | set NAME VALUE [--secret] | unset NAME]`:
--- the settings `run --db` gives templates as integration.NAME. A secret
--- is sealed at rest and never printed; VALUE "-" reads standard input.
function M.settings(words, opts)
  local core = require("moonwire.core")
  local integ = opts.integration or "default"
  local verb, name, value = words[1] or "list", words[2], words[3]
  if verb == "list" then
    local all, names = core.settings(integ), {}
    for n in pairs(all) do names[#names + 1] = n end
    table.sort(names)
    for _, n in ipairs(names) do
      stdout:write(format("%s=%s\n", n, all[n].secret and "[secret]" or all[n].value))
    end
    return 0
  end
  if verb == "set" and name and value then
    if value == "-" then value = (io.read("*l") or "") end
    local ok, err = core.setting_put(integ, name, value,
      opts.secret or runtime.is_secret_name(name) and true or false)
    if not ok then
      stderr:write("moonwire settings: ", err, "\n")
      return 1
    end
    return 0
  end
  if verb == "unset" and name then
    core.sql("DELETE FROM settings WHERE integration = ? AND name = ?", integ, name)
    return 0
  end
  stderr:write("usage: moonwire settings [list | set NAME VALUE [--secret] | "
    .. "unset NAME] [--db FILE] [--integration NAME]\n")
  return 2
end

--- `moonwire test [PATH...]`: runs spec files; 1 when any fails.
function M.test(paths, opts)
  return require("moonwire.spec").run(paths, opts)
end

return M
