-- Not keyed: one state for the whole operator; ctx.key is nil.
local M = {}
function M.process(ev, ctx)
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit(ctx.state.n .. " " .. tostring(ctx.key))
end
return M
