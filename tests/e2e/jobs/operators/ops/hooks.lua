-- open and close hooks: both log to stderr; close writes a marker file (path
-- from $EDDY_TEST_MARKER) with the event count and the operator-wide state.
local M = {}
local seen = 0

function M.open(ctx)
  ctx:log("info", "HOOK open ran")
  seen = 0
end

function M.process(ev, ctx)
  seen = seen + 1
  ctx.state.total = (ctx.state.total or 0) + 1
  ctx:emit(ev)
end

function M.close(ctx)
  ctx:log("info", "HOOK close ran after " .. seen .. " events")
  local f = assert(io.open(os.getenv("EDDY_TEST_MARKER"), "w"))
  f:write("closed ", seen, " total ", tostring(ctx.state.total), "\n")
  f:close()
end

return M
