-- Named time zones: moonwire.core.tz_offset over the system tz database
-- (listed transitions, the footer rule past 2037, historic offsets) and the
-- date helper's use of it across DST changes. Expected values were checked
-- against Python's zoneinfo on the same tz database.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local template = require("moonwire.template")

-- {zone, moment, offset east of UTC in seconds, abbreviation, is_dst}
local CASES = {
  {"Europe/Paris", 1711846799, 3600, "CET", false},   -- 2024-03-31 01:59:59
  {"Europe/Paris", 1711846800, 7200, "CEST", true},   -- then 03:00:00
  {"Europe/Paris", 1729990799, 7200, "CEST", true},   -- 2024-10-27 02:59:59
  {"Europe/Paris", 1729990800, 3600, "CET", false},   -- then 02:00:00 again
  {"America/New_York", 1710053999, -18000, "EST", false},
  {"America/New_York", 1710054000, -14400, "EDT", true},
  {"America/New_York", 1730613599, -14400, "EDT", true},
  {"America/New_York", 1730613600, -18000, "EST", false},
  -- A southern summer spans the new year.
  {"Australia/Sydney", 1712419199, 39600, "AEDT", true},
  {"Australia/Sydney", 1712419200, 36000, "AEST", false},
  {"Australia/Sydney", 1728143999, 36000, "AEST", false},
  {"Australia/Sydney", 1728144000, 39600, "AEDT", true},
  -- 2100: past the listed transitions, from the TZ rule of the footer.
  {"Europe/Paris", 4109878799, 3600, "CET", false},
  {"Europe/Paris", 4109878800, 7200, "CEST", true},
  {"Europe/Paris", 4128627599, 7200, "CEST", true},
  {"Europe/Paris", 4128627600, 3600, "CET", false},
  {"America/New_York", 4108690800, -14400, "EDT", true},
  {"America/New_York", 4129250400, -18000, "EST", false},
  {"Australia/Sydney", 4110451199, 39600, "AEDT", true},
  {"Australia/Sydney", 4110451200, 36000, "AEST", false},
  {"Australia/Sydney", 4126176000, 39600, "AEDT", true},
  -- Before the first transition; zones without DST.
  {"Europe/Paris", -2208988800, 561, "PMT", false},   -- 1900, Paris Mean Time
  {"Asia/Kolkata", 1719835200, 19800, "IST", false},
  {"UTC", 1719835200, 0, "UTC", false},
  {"Etc/GMT+5", 1719835200, -18000, "-05", false},
}

describe("core.tz_offset", function()
  it("gives the offset, abbreviation and DST flag on both sides of each"
    .. " change", function()
      for _, c in ipairs(CASES) do
        local offset, abbr, dst = core.tz_offset(c[1], c[2])
        local got = string.format("%s@%d: %s %s %s", c[1], c[2],
          tostring(offset), tostring(abbr), tostring(dst))
        expect(got):to_be(string.format("%s@%d: %d %s %s", c[1], c[2], c[3],
          c[4], tostring(c[5])))
      end
    end)

  it("returns nil and a message for an unknown zone", function()
    local offset, err = core.tz_offset("Mars/Olympus_Mons", 0)
    expect(offset):to_be_nil()
    expect(err):to_contain('unknown time zone "Mars/Olympus_Mons"')
  end)

  it("refuses names that could leave the zone directory", function()
    for _, name in ipairs({"../etc/passwd", "/etc/localtime", "Europe/",
      "Europe//Paris", "", "Europe/.Paris"}) do
      local offset, err = core.tz_offset(name, 0)
      expect(offset):to_be_nil()
      expect(err):to_contain("is not a time zone name")
    end
  end)

  it("refuses a directory or a file that is not TZif", function()
    expect(core.tz_offset("Europe", 0)):to_be_nil()
    local _, err = core.tz_offset("leapseconds", 0)
    expect(err):to_contain("is not a TZif file")
  end)
end)

describe("date helper with a named zone", function()
  local function date(args, t)
    local out, err = template.render("{{date t " .. args .. "}}", {t = t},
      {mode = "text"})
    assert(out, err and tostring(err))
    return out
  end

  local FULL = '"%Y-%m-%d %H:%M:%S %Z %z"'

  it("jumps from 02:00 to 03:00 when summer time starts", function()
    expect(date(FULL .. ' "Europe/Paris"', 1711846799))
      :to_be("2024-03-31 01:59:59 CET +0100")
    expect(date(FULL .. ' "Europe/Paris"', 1711846800))
      :to_be("2024-03-31 03:00:00 CEST +0200")
  end)

  it("shows the repeated hour twice when summer time ends", function()
    expect(date(FULL .. ' "America/New_York"', 1730611800))
      :to_be("2024-11-03 01:30:00 EDT -0400")
    expect(date(FULL .. ' "America/New_York"', 1730615400))
      :to_be("2024-11-03 01:30:00 EST -0500")
  end)

  it("writes the offset in the default format, even when it is zero",
    function()
      expect(date('null "Europe/Paris"', 1719835200))
        :to_be("2024-07-01T14:00:00+02:00")
      expect(date('null "Europe/London"', 1704110400))
        :to_be("2024-01-01T12:00:00+00:00")
      expect(date('"%Z"', 1704110400)):to_be("UTC")
    end)

  it("reads ISO text and milliseconds, and takes the zone as tz=", function()
    expect(date('"%F %T %Z" tz="Australia/Sydney"', "2024-10-05T15:59:59Z"))
      :to_be("2024-10-06 01:59:59 AEST")
    expect(date('"%F %T %Z" tz="Australia/Sydney"', 1728144000000))
      :to_be("2024-10-06 03:00:00 AEDT")
    expect(date('"%H:%M %:z" "Asia/Kolkata"', "2024-07-01 12:00:00+02:00"))
      :to_be("15:30 +05:30")
  end)

  it("keeps fixed offsets and UTC as they were", function()
    expect(date('null "+02:00"', 0)):to_be("1970-01-01T02:00:00+02:00")
    expect(date('null "UTC"', 0)):to_be("1970-01-01T00:00:00Z")
  end)
end)
