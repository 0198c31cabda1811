-- Generates the click input: N NDJSON lines
--   {"user":"u<0..9999>","url":"/p<0..99>","ts":<increasing ms>}
-- usage: lua5.4 gen/clicks.lua OUT [LINES] [SEED]
package.path = arg[0]:match("^(.*)/[^/]*$") .. "/?.lua;" .. package.path
local prng = require("prng")

local out_path = assert(arg[1], "usage: clicks.lua OUT [LINES] [SEED]")
local lines = tonumber(arg[2] or 1000000)
local rand = prng.new(tonumber(arg[3] or 7))

local f = assert(io.open(out_path, "w"))
f:setvbuf("full", 1 << 16)
local fmt = string.format
local ts = 1700000000000
for _ = 1, lines do
  ts = ts + rand(0, 20)
  f:write(fmt('{"user":"u%d","url":"/p%d","ts":%d}\n',
              rand(0, 9999), rand(0, 99), ts))
end
assert(f:close())
