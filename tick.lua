-- one event timer per key at the end of each second its events fall in
local M = {}
function M.process(ev, ctx)
  ctx.state.n = (ctx.state.n or 0) + 1
  if ev.cancel then ctx:cancel_timer(ev.cancel, "event") end
  ctx:event_timer((ctx:timestamp() // 1000 + 1) * 1000 - 1)
  ctx:event_timer((ctx:timestamp() // 1000 + 1) * 1000 - 1) -- dedup
end
function M.on_timer(ts, ctx, kind)
  ctx:emit({ key = ctx.key, at = ts, kind = kind, n = ctx.state.n })
end
return M
