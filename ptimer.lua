local M = {}
function M.process(ev, ctx)
  ctx:timer(ctx:now() + ev.after)
  ctx.state.armed = true
end
function M.on_timer(ts, ctx, kind)
  ctx:emit({ key = ctx.key, kind = kind, late_ms = ctx:now() - ts >= 0 })
end
return M
