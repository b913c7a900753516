-- Workflow generation from a plain-language prompt: picks a provider
-- (builtin planner or an OpenAI-compatible model), makes sure the draft
-- passes import validation, keeps the prompt's secrets as secret settings,
-- dry-runs the draft and reports. `moonwire generate` and the API call in.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")
local runtime = require("moonwire.runtime")

local ipairs, pairs, type, tostring, pcall = ipairs, pairs, type, tostring, pcall
local setmetatable = setmetatable
local find, gsub, sub, format = string.find, string.gsub, string.sub,
  string.format
local concat = table.concat
local getenv = os.getenv

local M = {}

M.PROVIDERS = { "builtin", "openai" }

---@class mw.gen.Draft
---@field doc table the workflow document
---@field explanation string[]
---@field warnings string[]
---@field secrets table[] {name, value, what, raw}
---@field needs string[] settings the workflow reads that are not secrets
---@field provider string

-- ---- the builtin provider ---------------------------------------------------

-- The builtin planner places built-in node types only; a custom type the
-- prompt names ("use the slack_message node") is pointed out.
local function custom_types_named(prompt, warnings)
  local builtin_dir = runtime.node_dirs()[1]
  local low = prompt:lower()
  for name, file in pairs(runtime.origins()) do
    local custom = not builtin_dir or file:sub(1, #builtin_dir) ~= builtin_dir
    if custom and find(low, name:lower(), 1, true) then
      warnings[#warnings + 1] = format("The prompt names the node type %s; the "
        .. "builtin planner uses the built-in types only. Add it in the editor, "
        .. "or use the openai provider, which knows every installed type.", name)
    end
  end
end

---Drafts a workflow with the builtin planner. Never fails: a prompt it
---cannot read gives a partial draft and warnings.
---@param prompt string
---@return mw.gen.Draft
function M.builtin(prompt)
  local planner = require("moonwire.generate.planner")
  local build = require("moonwire.generate.build")
  local ok, plan = pcall(planner.plan, prompt)
  local err, doc, explain = not ok and plan or nil, nil, nil
  if ok then
    ok, doc, explain = pcall(build.workflow, plan, {
      description = M.one_line(prompt) })
    if not ok then err = doc end
  end
  if not ok then
    -- A planner fault must not cost the user a draft: report it.
    core.log("error", "generate: the builtin planner failed: " .. tostring(err))
    return { doc = M.skeleton(), explanation = {}, provider = "builtin",
      warnings = { "The builtin planner failed on this prompt (a bug; "
        .. "please report it with the prompt). This is a minimal draft." },
      secrets = {}, needs = { "webhook_url" } }
  end
  for _, n in ipairs(plan.notes) do explain[#explain + 1] = n end
  custom_types_named(prompt, plan.warnings)
  local needs = {}
  for name in pairs(plan.needs) do needs[#needs + 1] = name end
  table.sort(needs)
  return { doc = doc, explanation = explain, warnings = plan.warnings,
    secrets = plan.secrets, needs = needs, provider = "builtin" }
end

---The prompt on one line, cut to a length a description can hold.
---@param prompt string
function M.one_line(prompt)
  local s = gsub(gsub(prompt, "%s+", " "), "^ ", "")
  if #s > 300 then s = s:sub(1, 297) .. "..." end
  return s
end

-- ---- validity ---------------------------------------------------------------

-- The smallest useful workflow: POST the incident to a URL setting.
function M.skeleton()
  return {
    format = 1, name = "Generated workflow (partial draft)",
    description = "A starting point: posts each incident to the webhook_url setting.",
    nodes = json.array({
      { id = "build_payload", type = "transform", label = "Build the payload",
        config = { template = '{\n  "incident_id": {{incident.id}},\n'
          .. '  "status": {{incident.status}},\n  "incident": {{incident}}\n}',
          output = "sendPayload" } },
      { id = "send", type = "http_request", label = "Send the incident",
        config = { method = "POST", url = "{{integration.webhook_url}}",
          headers = { ["Content-Type"] = "application/json" },
          body = "{{sendPayload}}", output = "sendResponse" } },
    }),
    connections = json.array({ { from = "build_payload", port = "next", to = "send" } }),
  }
end

-- Loads the draft; a draft that does not validate is replaced by the
-- skeleton, and its errors become warnings.
local function ensure_valid(draft)
  local wf, errors = runtime.load_workflow(draft.doc)
  if wf then return wf end
  for _, e in ipairs(errors or {}) do
    draft.warnings[#draft.warnings + 1] = format("The draft did not validate "
      .. "(%s: %s); it was replaced by a minimal workflow.", e.path or "$",
      e.message or "?")
  end
  draft.doc = M.skeleton()
  draft.needs = { "webhook_url" }
  return assert(runtime.load_workflow(draft.doc))
end

-- ---- secrets ----------------------------------------------------------------

-- Replaces each literal occurrence of a secret in text outside template
-- tags (a tag names variables; it cannot hold a secret's value).
local function scrub_text(text, secrets, as_ref)
  local out, i = {}, 1
  while i <= #text do
    local a, b = find(text, "{{.-}}", i)
    local lit = sub(text, i, (a or #text + 1) - 1)
    for _, s in ipairs(secrets) do
      for _, value in ipairs({ s.value, s.raw }) do
        if #value >= 3 then
          local pat = gsub(value, "[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
          local repl = as_ref and ("{{integration." .. s.name .. "}}") or "[secret]"
          lit = gsub(lit, pat, (gsub(repl, "%%", "%%%%")))
        end
      end
    end
    out[#out + 1] = lit
    if not a then break end
    out[#out + 1] = sub(text, a, b)
    i = b + 1
  end
  return concat(out)
end

-- Replaces every literal occurrence of a secret in the strings of v.
-- Credentials by their look, for the ones the planner did not take as
-- secrets: Slack tokens, JWTs, Atlassian tokens, Bearer and Basic values,
-- and long random-looking words. They never leave in plain text.
local TOKEN_SHAPES = {
  "xox[abprs]%-[%w%-]+",
  "eyJ[%w_%-]+%.[%w_%-]+%.[%w_%-]*",
  "ATATT[%w_%-=]+",
  "[Bb]earer%s+[%w%._~%+/=%-]+",
  "[Bb]asic%s+[%w%+/=]+",
}

local function looks_random(word)
  if #word < 24 then return false end
  local classes = (find(word, "%l") and 1 or 0) + (find(word, "%u") and 1 or 0)
    + (find(word, "%d") and 1 or 0)
  return classes >= 3 and not find(word, "[/:]")
end

local function hide_tokens(text)
  for _, shape in ipairs(TOKEN_SHAPES) do
    text = gsub(text, shape, "[secret]")
  end
  return (gsub(text, "[%w_%-]+", function(word)
    if looks_random(word) then return "[secret]" end
  end))
end

local function scrub(v, secrets, as_ref)
  if type(v) == "string" then
    v = scrub_text(v, secrets, as_ref)
    if not as_ref and not find(v, "{{", 1, true) then v = hide_tokens(v) end
    return v
  end
  if type(v) ~= "table" or json.is_bignum(v) then return v end
  for k, x in pairs(v) do v[k] = scrub(x, secrets, as_ref) end
  return v
end
M.scrub = scrub

-- Stores the draft's secrets through opts.store_secret, or in the open
-- database; returns {name, what, stored} for each, never the value.
local function keep_secrets(draft, opts, warnings)
  local out = json.array({})
  for _, s in ipairs(draft.secrets or {}) do
    local ok, err = false, nil
    if opts.store_secret then
      ok, err = opts.store_secret(s.name, s.value)
    elseif core.has_store() then
      ok, err = core.setting_put(opts.integration or "default", s.name, s.value, true)
    else
      err = "no database is open (use --db FILE)"
    end
    if not ok then
      warnings[#warnings + 1] = format("The %s named in the prompt was not kept "
        .. "(%s): set the secret integration setting %s before running.",
        s.what, tostring(err or "not stored"), s.name)
    end
    out[#out + 1] = { name = s.name, what = s.what, stored = ok and true or false }
  end
  return out
end

-- ---- providers --------------------------------------------------------------

local function provider_name(opts)
  local p = opts.provider or getenv("MOONWIRE_GENERATE_PROVIDER") or "builtin"
  if p == "" then p = "builtin" end
  return p
end

local function draft_with(name, prompt, opts)
  if name == "builtin" then return M.builtin(prompt) end
  if name == "openai" then
    return require("moonwire.generate.openai").draft(prompt, opts)
  end
  return nil, format("unknown provider %q; known providers: %s", name,
    concat(M.PROVIDERS, ", "))
end

---Generates a workflow from a prompt. With the openai provider this
---waits on the network: call it inside a task (core.spawn) or give
---opts.http; the builtin provider never waits.
---opts: provider, integration, store_secret(name, value) -> ok, err,
---llm {url, model, api_key, timeout_ms, repair_rounds}, http (tests),
---dry_run (default true).
---@param prompt string
---@param opts table|nil
---@return table|nil result {workflow, explanation, warnings, trace, secrets, needs, provider}
---@return string|nil err for a bad prompt or an unknown provider
function M.generate(prompt, opts)
  opts = opts or {}
  if type(prompt) ~= "string" or not find(prompt, "%S") then
    return nil, "the prompt is empty: describe the integration in a sentence or two"
  end
  if #prompt > 20000 then
    return nil, "the prompt is too long (more than 20000 bytes)"
  end
  local draft, err = draft_with(provider_name(opts), prompt, opts)
  if not draft then return nil, err end
  local warnings = draft.warnings
  draft.doc = scrub(draft.doc, draft.secrets or {}, true)
  local wf = ensure_valid(draft)
  local trace = json.array({})
  if opts.dry_run ~= false then
    local ok, t, problems = pcall(require("moonwire.generate.dryrun").run, wf,
      { secrets = draft.secrets })
    if ok then
      trace = t
      for _, p in ipairs(problems) do warnings[#warnings + 1] = p end
    else
      warnings[#warnings + 1] = "The dry run could not be made: " .. tostring(t)
    end
  end
  local secrets = keep_secrets(draft, opts, warnings)
  local result = {
    workflow = draft.doc,
    explanation = concat(draft.explanation or {}, "\n"),
    warnings = json.array(warnings),
    trace = trace,
    secrets = secrets,
    needs = json.array(draft.needs or {}),
    provider = draft.provider,
  }
  return scrub(result, draft.secrets or {}, false)
end

---Starts generate() in a task of its own and calls done(result, err)
---when it ends; for callers on the event loop (the API, the CLI).
---@param prompt string
---@param opts table
---@param done fun(result: table|nil, err: string|nil)
function M.start(prompt, opts, done)
  return core.spawn(function()
    local ok, res, err = pcall(M.generate, prompt, opts)
    if not ok then res, err = nil, "generation failed: " .. tostring(res) end
    done(res, err)
  end)
end

-- ---- export and the command line --------------------------------------------

-- A catalog view in which secret fields holding only a setting reference
-- ("{{integration.client_secret}}") are kept on export: they name the
-- secret, they do not hold it, and the draft must run as printed.
local function export_catalog(doc)
  local catalog = runtime.catalog()
  local view, seen = setmetatable({}, { __index = catalog }), {}
  for _, node in ipairs(doc.nodes or {}) do
    local mod = catalog[node.type]
    local cfg = type(node.config) == "table" and node.config or {}
    if mod and not seen[node.type] then
      seen[node.type] = true
      local fields, changed = {}, false
      for i, f in ipairs(mod.schema) do
        local v = cfg[f.name]
        if f.secret and type(v) == "string"
            and find(v, "^%s*{{%s*integration%.[%w_]+%s*}}%s*$") then
          local copy = {}
          for k, x in pairs(f) do copy[k] = x end
          copy.secret = nil
          fields[i], changed = copy, true
        else
          fields[i] = f
        end
      end
      if changed then
        view[node.type] = setmetatable({ schema = fields }, { __index = mod })
      end
    end
  end
  return view
end

---The canonical export of a generated workflow (see export_catalog).
---@param doc table
---@return string
function M.export(doc)
  return require("moonwire.workflow").export(doc, export_catalog(doc))
end

local function print_result(res, opts)
  local err = io.stderr
  io.stdout:write(M.export(res.workflow))
  err:write(format("Generated with the %s provider.\n", res.provider))
  if res.explanation ~= "" then
    err:write("What it does:\n")
    for line in res.explanation:gmatch("[^\n]+") do err:write("  ", line, "\n") end
  end
  for _, s in ipairs(res.secrets) do
    if s.stored then
      err:write(format("Kept the %s as the secret setting %s of integration %q.\n",
        s.what, s.name, opts.integration or "default"))
    end
  end
  if #res.needs > 0 then
    err:write("Settings it reads: ", concat(res.needs, ", "), "\n")
  end
  for _, t in ipairs(res.trace) do
    local ids = {}
    for _, n in ipairs(t.nodes or {}) do ids[#ids + 1] = n.id .. ":" .. (n.port or "?") end
    err:write(format("Dry run (%s share): %s; %s\n", t.scenario, t.status,
      #ids > 0 and concat(ids, " -> ") or "no node ran"))
  end
  for _, w in ipairs(res.warnings) do err:write("warning: ", w, "\n") end
end

local function run_cli(prompt, opts)
  local res, err = M.generate(prompt, opts)
  if not res then
    io.stderr:write("moonwire generate: ", err, "\n")
    return 2
  end
  print_result(res, opts)
  return 0
end

---`moonwire generate [--provider NAME] [--db FILE] [--integration NAME]
---PROMPT...`: the workflow on standard output, the rest on standard
---error. Returns the exit code, or nil when the answer comes later (the
---openai provider waits on the network; moonwire.cli.exit_code is set).
---@param words string[]
---@param opts table provider, db, integration
function M.cli(words, opts)
  local prompt = concat(words, " ")
  if prompt == "-" then prompt = io.read("*a") or "" end
  if not find(prompt, "%S") then
    io.stderr:write("usage: moonwire generate [--provider builtin|openai] "
      .. "[--db FILE] [--integration NAME] PROMPT...\n"
      .. "       (PROMPT \"-\" reads the prompt from standard input)\n")
    return 2
  end
  local name = provider_name(opts)
  if name == "builtin" then return run_cli(prompt, opts) end
  if name ~= "openai" then
    io.stderr:write(format("moonwire generate: unknown provider %q; known "
      .. "providers: %s\n", name, concat(M.PROVIDERS, ", ")))
    return 2
  end
  local cli = require("moonwire.cli")
  cli.exit_code = 1
  core.spawn(function()
    local ok, rc = pcall(run_cli, prompt, opts)
    if not ok then
      io.stderr:write("moonwire generate: ", tostring(rc), "\n")
      rc = 1
    end
    cli.exit_code = rc
  end)
  return nil
end

return M
