-- Keyed count for the checkpoint and memory cases. close() logs the Lua
-- heap after a full collection (collectgarbage("count"), the allocator's
-- own count): bench/run turns it into bytes per key.
local M = {}
function M.process(ev, ctx)
  local st = ctx.state
  st.n = (st.n or 0) + 1
  st.last = ev.v
end
function M.close(ctx)
  collectgarbage("collect")
  ctx:log("info", string.format("lua heap %d bytes",
    math.floor(collectgarbage("count") * 1024)))
end
return M
