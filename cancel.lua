local eddy = require("eddy")
local job = eddy.job{ name = "cancel", checkpoint = { interval_ms = 100, event_time_ms = 2000 } }
local s = job:source("in", eddy.source.file{ path = "cancel.ndjson", event_time = "ts" })
local p = s:key_by("k"):process("tick.lua")
p:sink(eddy.sink.file{ path = "cancel.out" })
p:side("late"):sink(eddy.sink.file{ path = "cancel.late" })
return job
