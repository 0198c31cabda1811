-- Counts each word (the stream is keyed by the word itself) and emits the
-- running count.
local M = {}

function M.process(word, ctx, state)
  local n = (state.n or 0) + 1
  state.n = n
  ctx:emit({ word = word, count = n })
end

return M
