local M = {}
function M.process(ev, ctx) return ev.v ~= nil and ev.v % 2 == 0 end
return M
