-- Raises on events with bad = true, passes the others on.
local M = {}
function M.process(ev, ctx)
  if ev.bad then error("explode: bad event " .. tostring(ev.id)) end
  return ev
end
return M
