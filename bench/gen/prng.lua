-- A small seeded PRNG (splitmix64) so generated data does not depend on the
-- Lua version's math.random. Integer arithmetic wraps mod 2^64 in Lua 5.4.
local M = {}

function M.new(seed)
  local s = seed
  local function next64()
    s = s + 0x9E3779B97F4A7C15
    local z = s
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    return z ~ (z >> 31)
  end
  -- uniform integer in [lo, hi] (the modulo bias is negligible for small ranges)
  return function(lo, hi)
    return lo + ((next64() >> 1) % (hi - lo + 1))
  end
end

return M
