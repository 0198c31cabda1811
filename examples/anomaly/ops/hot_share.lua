-- Per sensor (the stream is keyed by "sensor"), counts each 10-second
-- window's readings and those above THRESHOLD; when the hot share exceeds
-- MAX_SHARE the window's record is an alert. Every window's record also
-- goes to the side output "windows".
--
-- The accumulator { n = readings, hot = readings above THRESHOLD } is all
-- the state a window keeps (ctx.state.w[start] of the sensor), so a
-- checkpoint stays small however many readings a window holds.
local window = require("eddy.window")

local THRESHOLD = 80.0   -- T: a reading above it is hot
local MAX_SHARE = 0.5    -- alert when more than this share of a window is hot

return window.tumbling{
  size_ms = 10000,
  aggregate = {
    init = function() return { n = 0, hot = 0 } end,
    add = function(acc, reading)
      acc.n = acc.n + 1
      if reading.temp > THRESHOLD then acc.hot = acc.hot + 1 end
    end,
  },
  emit = function(sensor, start, stop, acc, update, ctx)
    local rec = { sensor = sensor, start = start, ["end"] = stop,
                  readings = acc.n, hot = acc.hot, share = acc.hot / acc.n }
    ctx:emit(rec, "windows")
    if rec.share > MAX_SHARE then return rec end   -- nil: no alert
  end,
}
