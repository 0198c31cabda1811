-- Counts events per key; an event with action "reset" clears the key.
local M = {}

function M.process(ev, ctx)
  if ev.action == "reset" then
    ctx:clear()
    ctx:emit({ key = ctx.key, reset = true })
    return
  end
  local n = (ctx.state.n or 0) + 1
  ctx.state.n = n
  ctx:emit({ key = ctx.key, n = n, keytype = math.type(ctx.key) or type(ctx.key) })
end

return M
