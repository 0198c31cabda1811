-- Counts clicks per user (the stream is keyed by "user").
local M = {}

function M.process(ev, ctx)
  local st = ctx.state
  st.clicks = (st.clicks or 0) + 1
  st.last_url = ev.url
  ctx:emit({ user = ctx.key, clicks = st.clicks })
end

return M
