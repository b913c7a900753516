-- HTTP-dates (RFC 9110, 5.6.7) as Retry-After and Date carry them: the
-- three forms, and the text that is none of them.
-- SPDX-License-Identifier: MIT

local date = require("moonwire.template.date")

-- 1994-11-06 08:49:37 UTC, the RFC's own example
local T = 784111777

describe("HTTP-date", function()
  it("reads the preferred form", function()
    expect(date.http_seconds("Sun, 06 Nov 1994 08:49:37 GMT")).to_be(T)
    expect(date.http_seconds("Thu, 01 Jan 1970 00:00:00 GMT")).to_be(0)
    expect(date.http_seconds("Tue, 29 Feb 2028 23:59:59 GMT"))
      .to_be(1835481599)
  end)
  it("reads the obsolete RFC 850 form, two-digit years around 1970", function()
    expect(date.http_seconds("Sunday, 06-Nov-94 08:49:37 GMT")).to_be(T)
    expect(date.http_seconds("Friday, 04-Dec-26 00:00:00 GMT"))
      .to_be(1796342400)
  end)
  it("reads asctime, with a one-digit day padded by a space", function()
    expect(date.http_seconds("Sun Nov  6 08:49:37 1994")).to_be(T)
    expect(date.http_seconds("Fri Dec 04 00:00:00 2026")).to_be(1796342400)
  end)
  it("refuses what is not an HTTP-date", function()
    for _, v in ipairs({ "", "120", "tomorrow", "2026-12-04T00:00:00Z",
      "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMT trailing" }) do
      expect(date.http_seconds(v)).to_be_nil()
    end
    expect(date.http_seconds(nil)).to_be_nil()
    expect(date.http_seconds(784111777)).to_be_nil()
  end)
end)
