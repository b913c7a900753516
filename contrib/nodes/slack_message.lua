-- slack_message: posts an incident to a Slack channel (chat.postMessage),
-- then edits that message (chat.update) or replies in its thread on later
-- shares. The message is saved as the external ID "CHANNEL/TS", ts kept as
-- the exact string Slack sent. Built on the ctx API only.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local retry = require("lib.retry")

local type, tostring, tonumber = type, tostring, tonumber
local format = string.format
local null = json.null

local M = {}

M.type = "slack_message"
M.title = "Slack message"
M.description = "Posts a message to a Slack channel, then updates it or "
  .. "replies in its thread on later shares of the incident."

M.schema = {
  { name = "token", kind = "template", secret = true,
    default = "{{integration.slack_token}}", title = "Bot token",
    description = "A bot token (xoxb-...) with the chat:write scope.\n"
      .. "Keep it in a secret integration setting and name it here;\n"
      .. "the default reads integration.slack_token." },
  { name = "channel", kind = "template", required = true, title = "Channel",
    description = "Channel ID (C0123456789) or name (#ops) to post in.\n"
      .. "Updates and replies go to the channel of the saved message." },
  { name = "text", kind = "template", required = true, title = "Text",
    description = "The message, in Slack mrkdwn, e.g.\n"
      .. ":rotating_light: {{incident.status}}: {{alerts.0.description}}.\n"
      .. "With blocks, it is the notification's fallback text." },
  { name = "blocks", kind = "body", mode = "json", title = "Blocks",
    description = "Block Kit layout: a JSON array of blocks, or a\n"
      .. "json-mode template that builds one. Optional." },
  { name = "action", kind = "enum", default = "auto",
    enum = { "auto", "post", "update", "reply" }, title = "Action",
    description = "post: a new message; update: edit the saved message;\n"
      .. "reply: answer in its thread; auto: post when the incident has\n"
      .. "no saved message yet, update it otherwise." },
  { name = "thread_ts", kind = "template", title = "Message ts",
    description = "The ts of the message to update or reply to, e.g.\n"
      .. "{{slackMessage.ts}}. Empty: the incident's saved message." },
  { name = "reply_broadcast", kind = "boolean", default = false,
    title = "Also send replies to the channel",
    description = "A thread reply also shows in the channel." },
  { name = "save_id", kind = "boolean", default = true,
    title = "Save the message as the external ID",
    description = "After a post, link CHANNEL/TS to the incident so later\n"
      .. "shares update the same message, and let shares that wait\n"
      .. "for it go on. Turn off when another node saves the ID." },
  { name = "output", kind = "variable", default = "slackMessage",
    title = "Output variable",
    description = "Slack's answer: ok, channel, ts (a string), message." },
  { name = "base_url", kind = "template", default = "https://slack.com/api",
    title = "API base URL",
    description = "Slack's Web API root; https://slack-gov.com/api for\n"
      .. "GovSlack, or a test server." },
  { name = "timeout_ms", kind = "integer", default = 15000, min = 100,
    max = 120000, title = "Timeout (ms)" },
  { name = "retries", kind = "integer", default = 2, min = 0, max = 5,
    title = "Retries",
    description = "Extra attempts when Slack rate-limits (429, after its\n"
      .. "Retry-After) or cannot be reached. A request Slack may have\n"
      .. "handled is never sent twice." },
}

--- The ports run() may return: next on success, error on failure.
---@return string[]
function M.ports()
  return { "next", "error" }
end

--- The variable run() sets, for the editor's variable picker.
---@param config table
---@return string[]
function M.outputs(config)
  return { config.output or "slackMessage" }
end

local TS = "^%d+%.%d+$"

local function is_literal(v)
  return type(v) == "string" and not v:find("{{", 1, true)
end

--- Import-time checks the schema cannot express.
---@param config table the config, defaults applied
---@return table[] problems {path, message}
function M.validate(config)
  local errs = {}
  if type(config.blocks) == "table" and not json.is_array(config.blocks)
      and config.blocks[1] == nil then
    errs[#errs + 1] = { path = "blocks", message = "blocks must be a JSON "
      .. "array of Block Kit blocks, not an object" }
  end
  local ts = config.thread_ts
  if is_literal(ts) and ts ~= "" and not ts:match(TS) then
    errs[#errs + 1] = { path = "thread_ts", message = format("%q is not a "
      .. "Slack message ts such as \"1717236012.000100\"", ts) }
  end
  return errs
end

-- ---- the message to update or reply to -------------------------------------

-- The saved external ID as {channel, ts}. Numbers are refused: a ts read
-- as a number has lost its trailing digits and names no message.
local function saved_message(ctx)
  local id = ctx:get("externalId")
  if id == nil or id == null or id == "" then return nil end
  if type(id) ~= "string" then
    return nil, format("the saved external ID %s is a number; a Slack ts must "
      .. "be kept as a string (\"1717236012.000100\")", tostring(id))
  end
  local channel, ts = id:match("^([^/]+)/(%d+%.%d+)$")
  if channel then return { channel = channel, ts = ts } end
  if id:match(TS) then return { ts = id } end
  return nil, format("the saved external ID %q is not a Slack message "
    .. "(CHANNEL/TS); was it saved by another node? Give thread_ts, or let "
    .. "only one node of the workflow save the ID", id)
end

-- The message that update and reply act on: thread_ts when given, else
-- the saved one. Returns nil (and no error) when there is none.
local function target_message(ctx, config, channel)
  local ts, err = ctx:render(config.thread_ts or "", { field = "config.thread_ts" })
  if not ts then return nil, err end
  local saved, serr = saved_message(ctx)
  if ts ~= "" then
    if not ts:match(TS) then
      return nil, format("thread_ts rendered as %q, which is not a Slack "
        .. "message ts such as \"1717236012.000100\"", ts)
    end
    return { channel = saved and saved.channel or channel, ts = ts }
  end
  if serr then return nil, serr end
  if saved then saved.channel = saved.channel or channel end
  return saved
end

-- ---- the request ---------------------------------------------------------------

local function render_blocks(ctx, config)
  local b = config.blocks
  if b == nil or b == null or b == "" then return nil end
  if type(b) == "string" then
    local v, err = ctx:render_value(b, { field = "config.blocks" })
    if v == nil then return nil, err end
    b = v
  end
  if type(b) ~= "table" or not (json.is_array(b) or b[1] ~= nil) then
    return nil, "blocks must build a JSON array of Block Kit blocks"
  end
  return b
end

local function render_required(ctx, config, name)
  local v, err = ctx:render(config[name], { field = "config." .. name })
  if not v then return nil, err end
  if not v:match("%S") then
    return nil, format("%s rendered empty from %q; is a variable or setting "
      .. "it names missing?", name, config[name])
  end
  return v
end

-- The action (auto resolved), the Web API method and the body.
local function build_call(ctx, config)
  local channel, err = render_required(ctx, config, "channel")
  if not channel then return nil, err end
  local text, terr = render_required(ctx, config, "text")
  if not text then return nil, terr end
  local blocks, berr = render_blocks(ctx, config)
  if berr then return nil, berr end

  local action, msg = config.action, nil
  if action ~= "post" then
    local merr
    msg, merr = target_message(ctx, config, channel)
    if merr then return nil, merr end
    if action == "auto" then action = msg and "update" or "post" end
  end
  if action == "post" then
    return action, "chat.postMessage", { channel = channel, text = text,
      blocks = blocks }
  end
  if not msg then
    return nil, format("there is no message to %s: the incident has no saved "
      .. "Slack message and thread_ts is empty; post one first (action post "
      .. "or auto)", action)
  end
  if action == "update" then
    return action, "chat.update", { channel = msg.channel, ts = msg.ts,
      text = text, blocks = blocks }
  end
  return action, "chat.postMessage", { channel = msg.channel,
    thread_ts = msg.ts, text = text, blocks = blocks,
    reply_broadcast = config.reply_broadcast or nil }
end

local function base_url(ctx, config)
  local url, err = ctx:render(config.base_url, { field = "config.base_url" })
  if not url then return nil, err end
  url = url:gsub("/+$", "")
  if not url:match("^[hH][tT][tT][pP][sS]?://[^/]") then
    return nil, format("base_url rendered as %q, which is not an http(s) URL",
      url)
  end
  return url
end

local function auth_header(ctx, config)
  local token, err = ctx:render(config.token, { field = "config.token" })
  if not token then return nil, err end
  if not token:match("%S") then
    return nil, "the Slack token is empty: set the secret integration setting "
      .. "slack_token, or name another one in token"
  end
  ctx:redact(token)
  return "Bearer " .. token
end

-- ---- sending -----------------------------------------------------------------

-- Transport failures where the request never reached Slack.
local NEVER_SENT = { E_HTTP_CONNECT = true, E_HTTP_RESOLVE = true }

-- How long to wait before the next attempt, or nil not to retry: a 429
-- was not processed, and an unreachable host was never sent anything.
local function retry_wait(res, err, attempt)
  if res and res.status == 429 then
    local after = retry.after_ms(res)
    if after then return after end
  elseif res or not NEVER_SENT[err.code] then
    return nil
  end
  return retry.backoff_ms(attempt)
end

local function send(ctx, config, req)
  return retry.send(ctx, req, config.retries, retry_wait, req.url)
end

-- What to do about Slack's commonest error codes.
local HINTS = {
  channel_not_found = "check the channel, and that the bot can see it",
  not_in_channel = "invite the bot to the channel (/invite @your-bot)",
  invalid_auth = "the token is not valid; check integration.slack_token",
  not_authed = "no token reached Slack",
  account_inactive = "the token's bot or user has been deactivated",
  missing_scope = "the token needs the chat:write scope",
  message_not_found = "the saved message was deleted; use action post",
  cant_update_message = "only messages this bot posted can be edited",
  edit_window_closed = "the workspace no longer allows editing it; use "
    .. "action reply",
  msg_too_long = "shorten the text",
  invalid_blocks = "the blocks are not valid Block Kit",
  no_text = "the text is empty",
}

local function excerpt(s)
  s = s or ""
  return #s > 300 and (s:sub(1, 300) .. "...") or s
end

-- nil when the answer is a success; else the reason, for the user.
local function failure(method, res, err)
  if not res then
    return format("Slack %s failed: %s", method, err.message or err.code)
  end
  if res.status ~= 200 then
    return format("Slack %s answered HTTP %d: %s", method, res.status,
      excerpt(res.body))
  end
  local v = res.json
  if type(v) ~= "table" then
    return format("Slack %s answered something that is not JSON: %s",
      method, excerpt(res.body))
  end
  if v.ok ~= true then
    local code = type(v.error) == "string" and v.error or "unknown_error"
    local hint = HINTS[code]
    return format("Slack %s refused the message: %s%s", method, code,
      hint and (" (" .. hint .. ")") or "")
  end
  return nil
end

-- ---- run -----------------------------------------------------------------------

local function save_message(ctx, answer)
  local channel, ts = answer.channel, answer.ts
  if type(channel) ~= "string" or type(ts) ~= "string" or not ts:match(TS) then
    return nil, "Slack answered ok but without the channel and ts of the "
      .. "message, so there is nothing to save"
  end
  local ok, err = ctx:save_id(channel .. "/" .. ts, { unlock = true })
  if not ok then
    return nil, "cannot save the Slack message as the external ID: "
      .. tostring(err)
  end
  return true
end

--- Posts, updates or replies, and saves a new message when asked.
---@param ctx table the node's ctx
---@param config table the checked config
---@return string|nil port
---@return string|nil err
function M.run(ctx, config)
  local action, method, body = build_call(ctx, config)
  if not action then return nil, method end
  local base, berr = base_url(ctx, config)
  if not base then return nil, berr end
  local auth, aerr = auth_header(ctx, config)
  if not auth then return nil, aerr end

  local res, err = send(ctx, config, {
    method = "POST", url = base .. "/" .. method, body = body,
    timeout_ms = config.timeout_ms,
    headers = { Authorization = auth,
      ["Content-Type"] = "application/json; charset=utf-8" },
  })
  if res and res.dry_run then return "next" end
  local why = failure(method, res, err)
  if why then return nil, why end

  ctx:set(config.output, res.json)
  if action == "post" and config.save_id and ctx.live then
    local ok, serr = save_message(ctx, res.json)
    if not ok then return nil, serr end
  end
  ctx:log("info", "%s: message %s in %s", action, tostring(res.json.ts),
    tostring(res.json.channel))
  return "next"
end

return M
