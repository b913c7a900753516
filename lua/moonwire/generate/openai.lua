-- The openai provider: asks an OpenAI-compatible chat-completions endpoint
-- (hosted, Ollama, llama.cpp) for a workflow, validates the answer and sends
-- the errors back for bounded repair rounds. Secrets leave the prompt before
-- it is sent; the builtin draft is the fallback when no answer validates.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local runtime = require("moonwire.runtime")
local wording = require("moonwire.generate.prompt")

local ipairs, type, tostring, tonumber = ipairs, type, tostring, tonumber
local pcall = pcall
local find, gsub, format = string.find, string.gsub, string.format
local getenv = os.getenv

local M = {}

M.DEFAULTS = {
  url = "https://api.openai.com/v1", model = "gpt-4o-mini",
  timeout_ms = 120000, repair_rounds = 2, json_mode = true,
}

---The provider's settings: opts.llm first, then the environment
---(MOONWIRE_LLM_URL, _MODEL, _API_KEY, _TIMEOUT_MS, _REPAIR_ROUNDS,
---_JSON_MODE), then defaults.
---@param opts table
function M.config(opts)
  local llm = opts.llm or {}
  local function pick(key, env)
    local v = llm[key]
    if v == nil or v == "" then v = getenv(env) end
    if v == nil or v == "" then v = M.DEFAULTS[key] end
    return v
  end
  local cfg = {
    url = pick("url", "MOONWIRE_LLM_URL"),
    model = pick("model", "MOONWIRE_LLM_MODEL"),
    api_key = pick("api_key", "MOONWIRE_LLM_API_KEY"),
    timeout_ms = tonumber(pick("timeout_ms", "MOONWIRE_LLM_TIMEOUT_MS")),
    repair_rounds = tonumber(pick("repair_rounds", "MOONWIRE_LLM_REPAIR_ROUNDS")),
    json_mode = pick("json_mode", "MOONWIRE_LLM_JSON_MODE"),
  }
  cfg.json_mode = cfg.json_mode ~= false and cfg.json_mode ~= "0"
    and cfg.json_mode ~= "false"
  local u = gsub(cfg.url, "/+$", "")
  cfg.endpoint = find(u, "/chat/completions$") and u or (u .. "/chat/completions")
  return cfg
end

-- Sends one request: through opts.http when given (specs), otherwise by
-- yielding to the event loop, which needs a task (core.spawn).
local function send(opts, req)
  if opts.http then return opts.http(req) end
  if not coroutine.running() then
    return nil, { message = "the openai provider needs the event loop: call "
      .. "generate() inside core.spawn (generate.start does)" }
  end
  local exec = { vars = {}, live = true, trace = json.array({}), id = 0 }
  local ctx = require("moonwire.ctx").new(exec, { id = "generate",
    type = "generate" }, {})
  return ctx:http(req)
end

local function call(cfg, opts, messages)
  local body = { model = cfg.model, temperature = 0,
    messages = json.array(messages) }
  if cfg.json_mode then body.response_format = { type = "json_object" } end
  local headers = { ["Content-Type"] = "application/json",
    Accept = "application/json" }
  if cfg.api_key then headers.Authorization = "Bearer " .. cfg.api_key end
  local res, err = send(opts, { method = "POST", url = cfg.endpoint,
    headers = headers, body = json.encode(body), timeout_ms = cfg.timeout_ms,
    connect_timeout_ms = 10000 })
  if not res then
    return nil, "cannot reach " .. cfg.endpoint .. ": "
      .. tostring(type(err) == "table" and (err.message or err.code) or err)
  end
  if res.status < 200 or res.status > 299 then
    return nil, format("%s answered HTTP %d: %s", cfg.endpoint, res.status,
      (res.body or ""):sub(1, 300))
  end
  local j = res.json or json.decode(res.body or "")
  local choice = type(j) == "table" and type(j.choices) == "table" and j.choices[1]
  local content = type(choice) == "table" and type(choice.message) == "table"
    and choice.message.content
  if type(content) ~= "string" then
    return nil, cfg.endpoint .. " answered without choices[0].message.content"
  end
  return content
end

-- The JSON object in a model's answer, fences and chatter around it
-- stripped.
local function parse_answer(content)
  local s = gsub(content, "^%s*```%a*%s*", "")
  s = gsub(s, "%s*```%s*$", "")
  local first, last = find(s, "{", 1, true), nil
  for i = #s, 1, -1 do
    if s:sub(i, i) == "}" then last = i break end
  end
  if not first or not last then return nil, "no JSON object in the answer" end
  local v, err = json.decode(s:sub(first, last))
  if type(v) ~= "table" then return nil, "not JSON: " .. tostring(err) end
  if type(v.workflow) == "table" then return v end
  if v.nodes ~= nil or v.format ~= nil then return { workflow = v } end
  return nil, "the object has no \"workflow\""
end

local function lines_of(v)
  local out = {}
  if type(v) == "string" then
    for l in v:gmatch("[^\n]+") do out[#out + 1] = l end
  elseif type(v) == "table" then
    for _, x in ipairs(v) do
      if type(x) == "string" then out[#out + 1] = x end
    end
  end
  return out
end

-- The prompt with each secret replaced by the setting that will hold it.
local function redact(prompt, secrets)
  for _, s in ipairs(secrets) do
    for _, lit in ipairs({ s.value, s.raw }) do
      local pat = gsub(lit, "[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
      prompt = gsub(prompt, pat, "{{integration." .. s.name .. "}}")
    end
  end
  return prompt
end

local function needs_of(doc, secrets)
  local secret, seen, out = {}, {}, {}
  for _, s in ipairs(secrets) do secret[s.name] = true end
  for name in (json.encode(doc) or ""):gmatch("integration%.([%w_]+)") do
    if not secret[name] and not seen[name] then
      seen[name] = true
      out[#out + 1] = name
    end
  end
  table.sort(out)
  return out
end

local function fallback(draft, why)
  table.insert(draft.warnings, 1, "The openai provider gave no usable workflow ("
    .. why .. "); this is the builtin planner's draft instead.")
  return draft
end

local function example_text()
  local gen = require("moonwire.generate")
  local ok, ex = pcall(gen.builtin, wording.EXAMPLE_PROMPT)
  if not ok then return nil end
  return gen.export(ex.doc)
end

---Drafts a workflow with an OpenAI-compatible model.
---@param prompt string
---@param opts table llm {url, model, api_key, timeout_ms, repair_rounds}, http
---@return table draft (see moonwire.generate)
function M.draft(prompt, opts)
  local builtin = require("moonwire.generate").builtin(prompt)
  local cfg = M.config(opts)
  local messages = {
    { role = "system", content = wording.system(runtime.catalog(), example_text()) },
    { role = "user", content = redact(prompt, builtin.secrets) },
  }
  local last_errors
  for round = 0, cfg.repair_rounds do
    local content, err = call(cfg, opts, messages)
    if not content then return fallback(builtin, err) end
    local answer, perr = parse_answer(content)
    local wf, errors
    if answer then wf, errors = runtime.load_workflow(answer.workflow) end
    if wf then
      local explanation = lines_of(answer.explanation)
      explanation[#explanation + 1] = format("Drafted by %s at %s%s.", cfg.model,
        cfg.endpoint, round > 0 and format(", valid after %d repair round%s",
        round, round == 1 and "" or "s") or "")
      local warnings = lines_of(answer.warnings)
      return { doc = answer.workflow, explanation = explanation,
        warnings = warnings, secrets = builtin.secrets, provider = "openai",
        needs = needs_of(answer.workflow, builtin.secrets) }
    end
    last_errors = errors or { { path = "$", message = perr } }
    messages[#messages + 1] = { role = "assistant", content = content }
    messages[#messages + 1] = { role = "user", content = wording.repair(errors, perr) }
  end
  local first = last_errors[1] or {}
  return fallback(builtin, format("its answer still did not validate after %d "
    .. "repair round%s, e.g. %s: %s", cfg.repair_rounds,
    cfg.repair_rounds == 1 and "" or "s", tostring(first.path or "$"),
    tostring(first.message or "?")))
end

return M
