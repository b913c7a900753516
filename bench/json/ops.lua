-- The codec's operations on one payload, N times each, for count.py to
-- run under callgrind; a workload, not a spec (it checks nothing).
-- SPDX-License-Identifier: MIT
--
-- JSON_BENCH_FILE: the payload; JSON_BENCH_N: repetitions (default 200);
-- JSON_BENCH_OPS: which, comma-separated (default all but "pretty", which
-- goes through l_encode as "encode" does and so is counted in a run apart).

local json = require("moonwire.json")

local path = assert(os.getenv("JSON_BENCH_FILE"), "JSON_BENCH_FILE not set")
local n = tonumber(os.getenv("JSON_BENCH_N") or "200")
local f = assert(io.open(path, "rb"))
local text = f:read("*a")
f:close()

local value = assert(json.decode(text))
local compact = json.encode(value)
local pretty = json.encode(value, { pretty = true })
local path_keys = { "incident", "id" }
local validate, decode, encode, copy = json.validate, json.decode,
  json.encode, json.copy
local lookup = json.lookup
local pretty_opts = { pretty = true }

-- Sizes first, for count.py: input, compact and pretty output.
print(string.format("BYTES %d %d %d", #text, #compact, #pretty))
local ops = {
  validate = function() assert(validate(text)) end,
  decode = function() decode(text) end,
  encode = function() encode(value) end,
  pretty = function() encode(value, pretty_opts) end,
  copy = function() copy(value) end,
  lookup = function() lookup(text, path_keys) end,
}
local wanted = os.getenv("JSON_BENCH_OPS") or "validate,decode,encode,copy,lookup"
for name in wanted:gmatch("[^,]+") do
  local op = assert(ops[name], "unknown op " .. name)
  for _ = 1, n do op() end
end
