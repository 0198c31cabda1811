local eddy = require("eddy")
local job = eddy.job{ name = "ooo", checkpoint = { interval_ms = 100, event_time_ms = 2000 } }
local s = job:source("in", eddy.source.file{ path = "ooo.ndjson", event_time = "ts", max_out_of_orderness_ms = 500 })
local p = s:key_by("k"):process("tick.lua")
p:sink(eddy.sink.file{ path = "ooo.out" })
p:side("late"):sink(eddy.sink.file{ path = "ooo.late" })
return job
