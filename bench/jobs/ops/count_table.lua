-- The word count without per-key state: one non-keyed operator whose state
-- is the table of counts (bench/jobs/wordcount_variants.lua, "table").
local M = {}

function M.process(word, ctx, state)
  local n = (state[word] or 0) + 1
  state[word] = n
  ctx:emit({ word = word, count = n })
end

return M
