local M = {}
function M.process(ev, ctx)
  local st = ctx.state
  st.n = (st.n or 0) + 1
  st.last = ev.v
end
return M
