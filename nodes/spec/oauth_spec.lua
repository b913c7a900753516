-- SPDX-License-Identifier: MIT
-- oauth: the token request on the wire, caching and provider errors.
local testing = require("moonwire.testing")
local oauth = require("moonwire.oauth")
local core = require("moonwire.core")

local settings = { base_url = "http://auth.test", client_id = "client-abc",
  client_secret = "s3cr3t!" }
local config = { token_url = "{{integration.base_url}}/oauth2/token",
  client_id = "{{integration.client_id}}",
  client_secret = "{{integration.client_secret}}" }

local function run(cfg, answers)
  oauth.clear()
  local peer = testing.fake_http(answers)
  local exec = testing.exec({ incident = { id = "i" } },
    { settings = settings, http = peer })
  local port, err, entry = testing.run(exec, "oauth", cfg)
  return port, err, peer, exec, entry
end

local ok_token = { status = 200, body = { access_token = "tok-1",
  token_type = "Bearer", expires_in = 3600 } }

describe("oauth run", function()
  it("uses client_secret_basic with form-encoded credentials by default", function()
    local port, _, peer, exec = run(config, { ok_token })
    expect(port).to_be("next")
    local req = peer.requests[1]
    expect(req.body).to_be("grant_type=client_credentials")
    expect(req.headers.Authorization).to_be("Basic Y2xpZW50LWFiYzpzM2NyM3QlMjE=")
    expect(exec.vars.token.access_token).to_be("tok-1")
    expect(core.base64("client-abc:s3cr3t%21")).to_be("Y2xpZW50LWFiYzpzM2NyM3QlMjE=")
  end)
  it("sends credentials in the body with client_secret_post, never both", function()
    local cfg = { auth_method = "post", scope = "read:incidents write" }
    for k, v in pairs(config) do cfg[k] = v end
    local _, _, peer = run(cfg, { ok_token })
    local req = peer.requests[1]
    expect(req.headers.Authorization).to_be_nil()
    expect(req.body).to_be("grant_type=client_credentials&client_id=client-abc"
      .. "&client_secret=s3cr3t%21&scope=read%3Aincidents+write")
  end)
  it("reuses a cached token", function()
    oauth.clear()
    local peer = testing.fake_http({ ok_token })
    for _ = 1, 3 do
      local exec = testing.exec({ incident = { id = "i" } },
        { settings = settings, http = peer })
      expect(testing.run(exec, "oauth", config)).to_be("next")
    end
    expect(#peer.requests).to_be(1)
  end)
  it("reports the provider's error and description", function()
    local port, err = run(config, { { status = 401, body = {
      error = "invalid_client", error_description = "bad secret" } } })
    expect(port).to_be_nil()
    expect(err).to_contain("invalid_client")
    expect(err).to_contain("bad secret")
  end)
  it("keeps the token out of the trace", function()
    local _, _, _, _, entry = run(config, { ok_token })
    expect(entry.output.token).to_be("[redacted]")
  end)
end)
