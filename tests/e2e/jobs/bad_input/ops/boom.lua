-- Raises (two calls deep, for the traceback) on events with boom = true.
local M = {}

local function check(ev)
  if ev.boom then error("kaboom on event " .. ev.id) end
end

function M.process(ev, ctx)
  check(ev)
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit({ id = ev.id })
end

return M
