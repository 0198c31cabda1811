-- The word count in one flat_map call per line: split, count in a local
-- table, emit (bench/jobs/wordcount_variants.lua, "fused"). Keeps no
-- checkpointed state: for comparing costs only.
local M = {}
local counts = {}

function M.process(line, ctx)
  for word in line:gmatch("%a+") do
    word = word:lower()
    local n = (counts[word] or 0) + 1
    counts[word] = n
    ctx:emit({ word = word, count = n })
  end
end

return M
