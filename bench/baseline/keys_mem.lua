-- The Lua values of the memory case on their own: N key strings "key<i>"
-- and N state tables { n = 1, last = i } built as count_keys.lua builds
-- them, held in an array whose own slots are measured and taken out.
-- Prints the bytes the values take, per key.  usage: keys_mem.lua N
local n = assert(tonumber(arg[1]))
local function heap() collectgarbage("collect"); return collectgarbage("count") * 1024 end
local base = heap()
local slots = {}
for i = 1, 2 * n do slots[i] = true end
local array = heap() - base
slots = nil
base = heap()
local hold = {}
for i = 1, n do
  local st = {}
  st.n = 1
  st.last = i
  hold[2 * i - 1] = string.format("key%d", i - 1)
  hold[2 * i] = st
end
print(string.format("%.1f", (heap() - base - array) / n))
