-- Counts clicks per user (the stream is keyed by "user") and emits the
-- running count.
local M = {}

function M.process(ev, ctx)
  local st = ctx.state
  local n = (st.clicks or 0) + 1
  st.clicks = n
  ctx:emit({ user = ctx.key, clicks = n })
end

return M
