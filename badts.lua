local eddy = require("eddy")
local job = eddy.job{ name = "badts", checkpoint = { interval_ms = 100, event_time_ms = 2000 } }
local s = job:source("in", eddy.source.file{ path = "badts.ndjson", event_time = "ts" })
job:dead_letter(eddy.sink.file{ path = "badts.dead" })
local p = s:key_by("k"):process("tick.lua")
p:sink(eddy.sink.file{ path = "badts.out" })
p:side("late"):sink(eddy.sink.file{ path = "badts.late" })
return job
