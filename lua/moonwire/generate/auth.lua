-- Credentials and headers in a prompt, for the builtin planner: OAuth
-- client credentials, basic auth, API keys and tokens, static headers.
-- Every secret value found becomes a secret setting the workflow names as
-- {{integration.<name>}}; the value never enters the workflow.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local text = require("moonwire.generate.text")
local vocab = require("moonwire.generate.vocab")
local clause = require("moonwire.generate.clause")

local ipairs, type = ipairs, type
local find, match, sub, gsub, lower = string.find, string.match, string.sub,
  string.gsub, string.lower
local find_any = vocab.find_any
local consume, orig, value_after = clause.consume, clause.orig, clause.value_after
local warn = clause.warn

local M = {}

---Records a secret taken from the prompt and returns the setting name
---that templates read it by.
---@param plan table
---@param base string setting name wanted
---@param value string
---@param what string what it is, for messages
---@param raw string|nil the text the prompt holds, when value is derived
function M.add_secret(plan, base, value, what, raw)
  if not M.plausible(raw or value) then return nil end
  for _, s in ipairs(plan.secrets) do
    if s.value == value then return s.name end
  end
  local name, n = base, 1
  local taken = {}
  for _, s in ipairs(plan.secrets) do taken[s.name] = true end
  while taken[name] do
    n = n + 1
    name = base .. "_" .. n
  end
  plan.secrets[#plan.secrets + 1] = { name = name, value = value, what = what,
    raw = raw }
  return name
end

-- Words that follow "password" or "token" in a prompt without being one.
local NOT_SECRETS = {}
for w in ([[is are the a an and or with for to of in on as set from it that
  this these header headers token key value field secret password client
  user username basic bearer auth oauth api credentials grant flow request
  body form get post put patch delete head new update updates closed
  resolved open send save store slack jira servicenow zendesk opsgenie
  pagerduty webhook]]):gmatch("%a+") do
  NOT_SECRETS[w] = true
end

---True when a value read after "password", "secret" or "key" can be one:
---3 characters or more, no lifted URL or quote, not a word of the prompt's
---grammar, and not a plain short lower-case word ("status").
---@param v string|nil
function M.plausible(v)
  if type(v) ~= "string" or #v < 3 or find(v, "[%z\1-\4]") then return false end
  local low = lower(v)
  if NOT_SECRETS[low] or vocab.ref(low) or vocab.STATUS_WORDS[low] then
    return false
  end
  return not (find(v, "^%l+$") and #v < 8)
end

local SECRET_NAMES = { "secret", "password", "passwd", "token", "api[%-_]?key",
  "routing[%-_]?key", "integration[%-_]?key", "auth", "credential",
  "private", "signature", "[%-_]key$", "^key$" }

local function secret_name(name)
  local n = lower(name)
  for _, p in ipairs(SECRET_NAMES) do
    if find(n, p) then return true end
  end
  return false
end
M.secret_name = secret_name

-- ---- auth and headers -------------------------------------------------------

function M.oauth_of(plan)
  plan.oauth = plan.oauth or {}
  return plan.oauth
end

---Reads OAuth client credentials: token URL words, id, secret, scope.
function M.scan_oauth(plan, doc, c)
  local low = c.work
  if find_any(low, { "credentials in the", "client_secret_post",
    "in the form body", "in the request body", "as form fields" })
      and find(low, "credential") or find(low, "client_secret_post") then
    plan.oauth_post = true
  end
  local said = find_any(low, { "oauth", "client[%s_%-]credentials",
    "token endpoint", "token url", "client[%s_%-]?id", "client[%s_%-]?secret" })
    or plan.oauth and find_any(low, { "%f[%w]secret%f[%W]", "%f[%w]scopes?%f[%W]",
      "%f[%w]audience%f[%W]" })
  if not said then return end
  local o = M.oauth_of(plan)
  local a, b = find(low, "client[%s_%-]?id")
  if a then
    local v, e = value_after(doc, c, b + 1)
    if v then o.client_id = v; consume(c, a, e) end
  end
  a, b = find(c.work, "client[%s_%-]?secret")
  if not a then a, b = find(c.work, "%f[%w]secret%f[%W]") end
  if a then
    local v, e = value_after(doc, c, b + 1)
    if v then
      o.secret = M.add_secret(plan, "client_secret", v, "OAuth client secret")
      consume(c, a, e)
    end
  end
  a, b = find(c.work, "%f[%w]scopes?%f[%W]")
  if a then
    local v, e = value_after(doc, c, b + 1)
    if v then o.scope = v; consume(c, a, e) end
  end
  a, b = find(c.work, "%f[%w]audience%f[%W]")
  if a then
    local v, e = value_after(doc, c, b + 1)
    if v then o.audience = v; consume(c, a, e) end
  end
  if find_any(c.work, { "in the body", "client_secret_post", "form body",
    "request body", "as form fields", "in the form", "post method" }) then
    o.auth_method = "post"
  end
  for _, p in ipairs({ "oauth ?2?%.?0?", "client[%s_%-]credentials grant",
    "client[%s_%-]credentials", "the bearer token", "bearer token",
    "access token", "the token", "a token", "token" }) do
    a, b = find(c.work, p)
    if a then consume(c, a, b) end
  end
  c.oauth = true
end

-- Secret-looking values named outright: "API key abc", "password hunter2".
function M.scan_keys(plan, doc, c)
  local a, b = find(c.work, "routing[%s_%-]?key")
  if not a then a, b = find(c.work, "integration[%s_%-]?key") end
  if a then
    local v, e = value_after(doc, c, b + 1)
    if v then
      plan.routing_key = M.add_secret(plan, "routing_key", v, "PagerDuty routing key")
      consume(c, a, e)
    end
  end
  a, b = find(c.work, "geniekey")
  if a then
    local v, e = value_after(doc, c, b + 1)
    if v then
      plan.api_key = M.add_secret(plan, "api_key", v, "Opsgenie API key")
      consume(c, a, e)
    end
  end
  a, b = find(c.work, "api[%s_%-]?key")
  if not a then a, b = find(c.work, "api[%s_%-]?token") end
  if not a then a, b = find(c.work, "%f[%w]bearer%s+token%f[%W]") end
  if a and not find(sub(c.work, b + 1, b + 12), "^%s*header") then
    local v, e = value_after(doc, c, b + 1)
    if v and #v >= 3 and not find(v, "^[%l]+$") then
      local hdr = match(sub(c.low, e + 1), "^%s+in%s+the%s+([%w%-]+)%s+header")
        or match(sub(c.low, e + 1), "^%s+as%s+the%s+([%w%-]+)%s+header")
      plan.api_key = M.add_secret(plan, "api_key", v, "API key")
      plan.api_key_header = hdr and orig(c, find(c.low, hdr, e + 1, true),
        find(c.low, hdr, e + 1, true) + #hdr - 1)
      plan.bearer = find(sub(c.low, a, b), "bearer") or find(sub(c.low, a, b), "token")
      consume(c, a, e)
    end
  end
end

---Where "email" or "e-mail address" names the user of basic auth.
---@param work string the clause's working text
---@return integer|nil start
---@return integer|nil end
function M.find_email_user(work)
  local a, b = find(work, "%f[%w]e%-?mail%s+address%f[%W]")
  if not a then a, b = find(work, "%f[%w]e%-?mail%f[%W]") end
  return a, b
end

---True when a clause gives an e-mail address with a token or password:
---the address is the user name of basic auth ("email:token").
---@param low string the clause's lower-case text
function M.email_credentials(low)
  local a, b = M.find_email_user(low)
  if not a or not find(low, "^[%s:=]*[^@%s,;]+@[^@%s,;]+", b + 1) then
    return false
  end
  return find_any(low, { "api[%s_%-]?token", "%f[%w]token%f[%W]",
    "%f[%w]password%f[%W]", "api[%s_%-]?key" }) ~= nil
end

---Reads basic auth: a user name and a password (or API token).
function M.scan_basic(plan, doc, c)
  local user, pass
  local a, b = find(c.work, "user[%s_]?name")
  if not a then a, b = find(c.work, "%f[%w]login%f[%W]") end
  if not a then a, b = find(c.work, "%f[%w]user%f[%W]") end
  if a then
    local v, e = value_after(doc, c, b + 1)
    if v then user = v; consume(c, a, e) end
  end
  if not user then
    -- Jira Cloud and the like: "email bob@corp.com and API token x".
    a, b = M.find_email_user(c.work)
    if a then
      local v, e = value_after(doc, c, b + 1)
      if v and find(v, "^[^@%s]+@[^@%s]+$") then user = v; consume(c, a, e) end
    end
  end
  a, b = find(c.work, "%f[%w]password%f[%W]")
  if not a then a, b = find(c.work, "%f[%w]passwd%f[%W]") end
  if not a then a, b = find(c.work, "api[%s_%-]?token") end
  if not a then a, b = find(c.work, "api[%s_%-]?key") end
  if not a and user then a, b = find(c.work, "%f[%w]token%f[%W]") end
  if a then
    local v, e = value_after(doc, c, b + 1)
    if v then pass = v; consume(c, a, e) end
  end
  if not pass then
    a, b = find(c.work, "credentials%s+")
    local creds = a and match(c.text, "^([^%s:]+:[^%s]+)", b + 1)
    if creds then
      user, pass = match(creds, "^([^:]+):(.+)$")
      pass = gsub(pass, "[%.,;]$", "")
      consume(c, a, b + #creds)
    end
  end
  local setting = pass and M.add_secret(plan, "basic_auth",
    "Basic " .. core.base64((user or "") .. ":" .. pass), "Basic credentials", pass)
  if setting then
    plan.basic = { user = user or "", setting = setting }
    if not user then
      warn(plan, "No user name was given for basic auth; the credentials "
        .. "hold an empty user name.")
    end
  end
  a, b = find(c.work, "basic[%s%-]?auth%a*")
  if a then consume(c, a, b) end
end

local KNOWN_HEADERS = { authorization = 1, accept = 1, ["content-type"] = 1,
  cookie = 1, ["user-agent"] = 1, from = 0 }

local function add_header(plan, c, name, value)
  local lname = lower(name)
  if lname == "authorization" and find(lower(value), "^bearer%s+[<{]") then
    return -- "Bearer <token>": the OAuth node's token, added anyway
  end
  if secret_name(name) or lname == "authorization" then
    local scheme, rest = match(value, "^(%a+)%s+(%S+)$")
    local base = lname == "authorization" and "api_token"
      or text.snake(gsub(lname, "^x%-", ""))
    if scheme and lname == "authorization" and lower(scheme) == "basic" then
      base = "basic_credentials"
    end
    local setting = M.add_secret(plan, base, rest or value, name .. " header")
    if not setting then return end
    value = (scheme and rest) and (scheme .. " {{integration." .. setting .. "}}")
      or ("{{integration." .. setting .. "}}")
  end
  c.headers = c.headers or {}
  c.headers[#c.headers + 1] = { name, value }
end

-- "X-Api-Key: abc", "header X-Source with value moonwire",
-- "Authorization: Bearer abc".
function M.scan_headers(plan, doc, c)
  local s = c.text
  local init = 1
  while true do
    local a, b, name, value = find(s, "([%a][%w%-]*)%s*:%s*([^%s,;]+)", init)
    if not a then break end
    init = b + 1
    local lname = lower(name)
    local headerish = find(lname, "%-") and not find(lname, "^%-")
      or KNOWN_HEADERS[lname] == 1
    if headerish and sub(c.work, a, a) ~= " " then
      local scheme = ({ bearer = 1, basic = 1, token = 1, geniekey = 1,
        apikey = 1 })[lower(value)]
      if scheme then
        local v2, e2 = match(s, "^%s+([^%s,;]+)()", b + 1)
        if v2 then value, b = value .. " " .. v2, e2 - 1 end
      end
      value = gsub(value, "[%.]+$", "")
      add_header(plan, c, name, value)
      consume(c, a, b)
      local ha, hb = find(c.work, "%f[%w]headers?%f[%W]")
      if ha then consume(c, ha, hb) end
    end
  end
  local a, b, name = find(c.work, "header%s+['\"]?([%a][%w%-]*)")
  if not (name and (find(name, "%-") or KNOWN_HEADERS[name])) then
    a, b, name = find(c.work, "([%a][%w%-]*)%s+header%f[%W]")
  end
  if a and name and (find(name, "%-") or KNOWN_HEADERS[name]) then
    -- "Authorization header for all calls: 'Bearer x'": the value follows
    -- a colon or an equals sign a few words on, else the name itself.
    local _, cue = find(sub(c.work, b + 1, b + 40), "^[^%.;:=]-[:=]")
    local v, e = value_after(doc, c, b + 1 + (cue or 0))
    if v then
      local na = find(c.low, name, a, true)
      add_header(plan, c, orig(c, na, na + #name - 1), v)
      consume(c, a, e)
    end
  end
end

return M
