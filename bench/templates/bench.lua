-- The Moonwire side of the template benchmark: times ticket.hbs in json,
-- text and html modes (and json decoded to a value) inside the real
-- runtime (`moonwire test` loads it) and prints one result line as a TAP
-- comment for run.sh to read.
-- SPDX-License-Identifier: MIT

local core = require("moonwire.core")
local json = require("moonwire.json")
local template = require("moonwire.template")

local getenv, max, unpack = os.getenv, math.max, unpack
local now_ms = core.now_ms

local function read(file)
  local f = assert(io.open(file, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local function write(file, text)
  local f = assert(io.open(file, "wb"))
  f:write(text)
  f:close()
end

-- Renders/s of fn: a warm-up, then `rounds` timed rounds of about
-- `seconds` each; the best round counts (as in bench.js): other
-- work on the machine only ever slows a round down.
local function measure(fn, seconds, rounds)
  local budget, rates = seconds * 1000, {}
  for r = 0, rounds do
    local t0, n, dt = now_ms(), 0, 0
    repeat
      fn()
      n = n + 1
      dt = now_ms() - t0
    until dt >= budget
    if r > 0 then
      rates[r] = n / (dt / 1000)
    end
  end
  return max(unpack(rates))
end

-- What is timed: a name for the report, the mode, and the method called
-- (render checks json output; render_value also decodes it, as the
-- transform node needs).
local CASES = {
  {"json", "json", "render"}, {"text", "text", "render"},
  {"html", "html", "render"}, {"json_value", "json", "render_value"},
}

local function bench_case(case, source, data, opts)
  local name, mode, method = case[1], case[2], case[3]
  local tpl = assert(template.compile(source, {mode = mode, name = "ticket"}))
  local render = tpl[method]
  if method == "render" then
    write(opts.out .. "/moonwire." .. name, assert(tpl:render(data)))
  end
  return measure(function() return render(tpl, data) end, opts.seconds,
    opts.rounds)
end

describe("template benchmark", function()
  it("renders the ticket template in every mode", function()
    local opts = {out = getenv("BENCH_OUT") or "/tmp",
      seconds = tonumber(getenv("BENCH_SECONDS") or "1"),
      rounds = tonumber(getenv("BENCH_ROUNDS") or "5")}
    local source = read(getenv("BENCH_TEMPLATE")
      or "bench/templates/ticket.hbs")
    local data = assert(json.decode(read(assert(getenv("BENCH_DATA"),
      "set BENCH_DATA to the data file (run.sh does)"))))
    local result = {engine = "moonwire", version = core.version}
    for _, case in ipairs(CASES) do
      result[case[1]] = bench_case(case, source, data, opts)
    end
    io.stdout:write("# bench ", json.encode(result), "\n")
  end)
end)
