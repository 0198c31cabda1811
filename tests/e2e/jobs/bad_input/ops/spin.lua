-- A runaway operator: spins forever on "spin".
local M = {}
function M.process(ev, ctx)
  if ev == "spin" then
    while true do end
  end
  return ev
end
return M
