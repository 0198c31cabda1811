-- Counts each word (the stream is keyed by the word itself) and emits the
-- running count.
local M = {}

function M.process(word, ctx)
  local st = ctx.state
  local n = (st.n or 0) + 1
  st.n = n
  ctx:emit({ word = word, count = n })
end

return M
