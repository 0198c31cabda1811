-- anomaly: per-sensor temperature readings over tumbling 10-second windows
-- in event time; an alert when more than half of a window's readings are
-- above 80 degrees.
--
-- Input (readings.ndjson): {"sensor":"s1","ts":1700000000500,"temp":71.2}
-- with ts in ms since the epoch. Readings may arrive up to 2 s out of order
-- (max_out_of_orderness_ms); later ones are late.
--
-- Output:
--   out/alerts.ndjson  {"sensor":..,"start":..,"end":..,"readings":n,"hot":h,
--                       "share":h/n} for each window whose share of hot
--                       readings is above the bound (ops/hot_share.lua)
--   out/windows.ndjson the same record for every window, alert or not
--   out/late.ndjson    readings behind the watermark, as they came
--
-- A window [start, end) reports when the watermark reaches its end; at the
-- end of the file the watermark jumps to +infinity and the last windows
-- report.
--
--   eddy run job.lua && cat out/alerts.ndjson
local eddy = require("eddy")

local job = eddy.job{ name = "anomaly" }

local windows = job:source("readings", eddy.source.file{
    path = "readings.ndjson", format = "json",
    event_time = "ts", max_out_of_orderness_ms = 2000 })
  :key_by("sensor")
  :process("ops/hot_share.lua")

windows:sink(eddy.sink.file{ path = "out/alerts.ndjson" })
windows:side("windows"):sink(eddy.sink.file{ path = "out/windows.ndjson" })
windows:side("late"):sink(eddy.sink.file{ path = "out/late.ndjson" })

return job
