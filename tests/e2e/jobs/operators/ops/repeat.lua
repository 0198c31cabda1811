-- Emits "v#i" for i = 1..v (v = 0 or no v drops the event).
local M = {}
function M.process(ev, ctx)
  for i = 1, ev.v or 0 do ctx:emit(ev.v .. "#" .. i) end
end
return M
