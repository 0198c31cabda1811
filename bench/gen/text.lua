-- Generates the word-count input: N lines of 3-9 words drawn uniformly from a
-- vocabulary of VOCAB (default 100000) distinct words of 2-9 lowercase
-- letters.
-- usage: lua5.4 gen/text.lua OUT [LINES] [SEED] [VOCAB]
package.path = arg[0]:match("^(.*)/[^/]*$") .. "/?.lua;" .. package.path
local prng = require("prng")

local out_path = assert(arg[1], "usage: text.lua OUT [LINES] [SEED] [VOCAB]")
local lines = tonumber(arg[2] or 1000000)
local rand = prng.new(tonumber(arg[3] or 42))

local VOCAB = tonumber(arg[4] or 100000)
local vocab, seen = {}, {}
local letters = {}
for i = 1, 26 do letters[i] = string.char(96 + i) end
while #vocab < VOCAB do
  local len = rand(2, 9)
  local t = {}
  for i = 1, len do t[i] = letters[rand(1, 26)] end
  local w = table.concat(t)
  if not seen[w] then
    seen[w] = true
    vocab[#vocab + 1] = w
  end
end

local f = assert(io.open(out_path, "w"))
f:setvbuf("full", 1 << 16)
local words = {}
for _ = 1, lines do
  local n = rand(3, 9)
  for i = 1, n do words[i] = vocab[rand(1, VOCAB)] end
  for i = n + 1, #words do words[i] = nil end
  f:write(table.concat(words, " "), "\n")
end
assert(f:close())
