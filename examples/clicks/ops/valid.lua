-- Keeps click events with a user and a URL; a click without a user goes to
-- the "anonymous" side output instead.
local M = {}

function M.process(ev, ctx)
  if type(ev) ~= "table" or type(ev.url) ~= "string" then return false end
  if ev.user == nil then
    ctx:emit(ev, "anonymous")
    return false
  end
  return true
end

return M
