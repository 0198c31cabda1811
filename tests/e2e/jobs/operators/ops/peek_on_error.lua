-- Counts events per key and fails on events with fail = true (after
-- counting); its on_error hook reads ctx.state (the failing key's) and
-- skips the event. The next key must still see its own state.
local M = {}

function M.process(ev, ctx)
  local st = ctx.state
  st.n = (st.n or 0) + 1
  if ev.fail then error("boom") end
  ctx:emit(ctx.key .. " " .. st.n)
end

function M.on_error(err, ev, ctx)
  ctx:log("info", "on_error sees n=" .. tostring(ctx.state.n))
  return "skip"
end

return M
