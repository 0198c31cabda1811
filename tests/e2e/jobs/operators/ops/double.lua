local M = {}
function M.process(ev, ctx)
  if ev.v == nil then return nil end   -- dropped
  return { v = ev.v * 2 }
end
return M
