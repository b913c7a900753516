-- Serves the built web editor (contrib/editor/dist) to browsers: its files
-- with their content types, index.html for every other page path (the app
-- routes itself), and a short page saying how to build it when it is not
-- built. The API under /api/ is moonwire.api's; this never answers there.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")

local open, getenv = io.open, os.getenv
local byte, char, find, gsub, lower, match, sub =
  string.byte, string.char, string.find, string.gsub, string.lower,
  string.match, string.sub
local tonumber, ipairs = tonumber, ipairs

local M = {}

local TYPES = {
  html = "text/html; charset=utf-8",
  js = "text/javascript; charset=utf-8",
  mjs = "text/javascript; charset=utf-8",
  css = "text/css; charset=utf-8",
  json = "application/json",
  map = "application/json",
  txt = "text/plain; charset=utf-8",
  svg = "image/svg+xml",
  png = "image/png",
  jpg = "image/jpeg",
  jpeg = "image/jpeg",
  gif = "image/gif",
  webp = "image/webp",
  ico = "image/x-icon",
  woff = "font/woff",
  woff2 = "font/woff2",
  wasm = "application/wasm",
  webmanifest = "application/manifest+json",
}

-- The app loads only its own scripts and styles and talks only to this
-- origin; React Flow positions nodes with style attributes.
local SECURITY = {
  "X-Content-Type-Options: nosniff",
  "Referrer-Policy: no-referrer",
  "X-Frame-Options: DENY",
  "Content-Security-Policy: default-src 'self'; script-src 'self'; "
    .. "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    .. "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
}

local NOT_BUILT = [[<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Moonwire</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Moonwire is running</h1>
<p>The web editor has not been built, so there is nothing to show here.
Build it from the source tree with</p>
<pre>bash scripts/editor.sh</pre>
<p>(it needs Node.js and npm), then reload this page. Or point
<code>MOONWIRE_EDITOR_DIR</code> at a built editor. The HTTP API works
without it at <code>/api/v1</code>.</p>
</body></html>
]]

-- Built assets carry a content hash in their names, so they never change.
local IMMUTABLE = "Cache-Control: public, max-age=31536000, immutable"
local REVALIDATE = "Cache-Control: no-cache"

local root_dir
local assets = {} -- path -> body, for the immutable files already read

--- Serves from `dir` from now on (specs; an embedding host).
---@param dir string
function M.use_dir(dir)
  root_dir, assets = dir, {}
end

--- The directory the editor is served from.
---@return string
function M.root()
  if not root_dir then
    local env = getenv("MOONWIRE_EDITOR_DIR")
    root_dir = (env and env ~= "") and env
      or (core.source_dir .. "/contrib/editor/dist")
  end
  return root_dir
end

local function headers(cache)
  local out = { cache }
  for _, h in ipairs(SECURITY) do out[#out + 1] = h end
  return out
end

local function read(file)
  local f = open(file, "rb")
  if not f then return nil end
  local body = f:read("*a") -- nil for a directory
  f:close()
  return body
end

local function unescape(s)
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

--- The request path as a relative file path inside the root, or nil when
--- it could reach outside it or names a hidden file. Decoded once, so an
--- encoded "%2e%2e" is judged as the ".." it stands for.
---@param path string
---@return string|nil
function M.safe_path(path)
  local p = unescape(match(path, "^[^?#]*"))
  if find(p, "%z") or find(p, "\\", 1, true) then return nil end
  local parts = {}
  for seg in p:gmatch("[^/]+") do
    if byte(seg, 1) == byte(".") then return nil end -- "..", ".git", ".env"
    parts[#parts + 1] = seg
  end
  return table.concat(parts, "/")
end

local function extension(rel)
  return lower(match(rel, "%.([%w]+)$") or "")
end

local function send_file(req, rel, body)
  local cache = sub(rel, 1, 7) == "assets/" and IMMUTABLE or REVALIDATE
  local ctype = TYPES[extension(rel)] or "application/octet-stream"
  core.reply(req.id, 200, body, ctype, headers(cache))
end

-- The app's page; without a built editor, a page saying so at "/" only,
-- and other paths are left to the API's JSON 404.
local function send_index(req)
  local body = read(M.root() .. "/index.html")
  if body then
    core.reply(req.id, 200, body, TYPES.html, headers(REVALIDATE))
  elseif req.path == "/" then
    core.reply(req.id, 200, NOT_BUILT, TYPES.html, headers(REVALIDATE))
  else
    return false
  end
  return true
end

--- Answers a browser's request for the editor. Leaves /api/ paths,
--- methods other than GET and HEAD, and paths it has nothing for (the
--- caller answers those with a JSON 404) to the caller.
---@param req table {method, path, id, headers}
---@return boolean answered
function M.serve(req)
  if req.method ~= "GET" and req.method ~= "HEAD" then return false end
  if req.path == "/api" or sub(req.path, 1, 5) == "/api/" then return false end
  local rel = M.safe_path(req.path)
  if not rel then return false end -- the caller answers 404
  if rel == "" or rel == "index.html" then return send_index(req) end
  local body = assets[rel] or read(M.root() .. "/" .. rel)
  if body then
    if sub(rel, 1, 7) == "assets/" then assets[rel] = body end
    send_file(req, rel, body)
    return true
  end
  if extension(rel) ~= "" then return false end -- a missing file
  return send_index(req) -- a page of the app: it routes itself
end

return M
