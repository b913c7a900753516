-- Specs for moonwire.static, which serves the built editor: content
-- types, the page fallback, caching, path traversal, and the page shown
-- when the editor is not built. core.reply is replaced to catch answers;
-- what static leaves unanswered the API answers with its JSON 404.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local static = require("moonwire.static")

local answers = {}
core.reply = function(id, status, body, ctype, headers)
  answers[id] = { status = status, body = body, ctype = ctype,
    headers = table.concat(headers or {}, "\n") }
  return true
end

local next_id = 0
local function get(path, method)
  next_id = next_id + 1
  local served = static.serve({ id = next_id, method = method or "GET", path = path,
    headers = {} })
  return served and answers[next_id] or nil
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "/assets' '" .. dir .. "/sub'") == 0)
write(dir .. "/index.html", "<!doctype html><div id=\"root\"></div>")
write(dir .. "/assets/app-1a2b.js", "console.log(1)")
write(dir .. "/assets/app-1a2b.css", "body{}")
write(dir .. "/logo.svg", "<svg/>")
write(dir .. "/.env", "SECRET=1")
write(dir .. "/sub/.hidden", "x")

describe("moonwire.static with a built editor", function()
  it("answers / with index.html, revalidated", function()
    static.use_dir(dir)
    local a = get("/")
    expect(a.status):to_be(200)
    expect(a.ctype):to_be("text/html; charset=utf-8")
    expect(a.body):to_contain('id="root"')
    expect(a.headers):to_contain("Cache-Control: no-cache")
    expect(a.headers):to_contain("Content-Security-Policy: default-src 'self'")
  end)

  it("serves built files with their types; hashed assets are immutable", function()
    local js = get("/assets/app-1a2b.js")
    expect(js.ctype):to_be("text/javascript; charset=utf-8")
    expect(js.body):to_be("console.log(1)")
    expect(js.headers):to_contain("immutable")
    expect(get("/assets/app-1a2b.css").ctype):to_be("text/css; charset=utf-8")
    expect(get("/logo.svg").ctype):to_be("image/svg+xml")
  end)

  it("answers a page path of the app with index.html", function()
    local a = get("/integrations/int_1")
    expect(a.status):to_be(200)
    expect(a.body):to_contain('id="root"')
  end)

  it("leaves a missing file to the caller's 404", function()
    expect(get("/assets/gone.js")):to_be_nil()
  end)

  it("never leaves its directory nor shows hidden files", function()
    for _, p in ipairs({ "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2fetc%2fpasswd", "/.env", "/sub/.hidden", "/a%00b.js",
        "/assets\\..\\index.html" }) do
      expect(p .. " " .. tostring(get(p))):to_be(p .. " nil")
    end
  end)

  it("leaves the API and other methods to the caller", function()
    expect(get("/api/v1/nothing")):to_be_nil()
    expect(get("/api")):to_be_nil()
    expect(get("/", "POST")):to_be_nil()
  end)
end)

describe("moonwire.static without a built editor", function()
  it("says at / how to build it, and leaves other paths to the caller", function()
    static.use_dir(dir .. "/missing")
    local a = get("/")
    expect(a.status):to_be(200)
    expect(a.body):to_contain("scripts/editor.sh")
    expect(get("/integrations/x")):to_be_nil()
    os.execute("rm -rf '" .. dir .. "'") -- the last case: the files go
  end)
end)
