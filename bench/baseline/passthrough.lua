-- Bare lua5.4 pass-through: each line through an identity function and out.
-- usage: lua5.4 baseline/passthrough.lua IN OUT
local in_path, out_path = assert(arg[1]), assert(arg[2])
local out = assert(io.open(out_path, "w"))
out:setvbuf("full", 1 << 16)
local f = function(line) return line end
for line in io.lines(in_path) do
  out:write(f(line), "\n")
end
assert(out:close())
