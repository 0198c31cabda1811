-- Small values to the main output, big ones to side "big", negatives to "neg".
local M = {}
function M.process(ev, ctx)
  if ev.v < 0 then
    ctx:emit(ev, "neg")
  elseif ev.v >= 100 then
    ctx:emit({ big = ev.v }, "big")
  else
    ctx:emit(ev)
  end
end
return M
