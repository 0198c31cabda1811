local eddy = require("eddy")
local job = eddy.job{ name = "idle", checkpoint = { interval_ms = 100, event_time_ms = 2000 } }
local s = job:source("busy", eddy.source.file{ path = "busy.ndjson", event_time = "ts", follow = true }):union(job:source("quiet", eddy.source.file{ path = "quiet.ndjson", event_time = "ts", follow = true, idle_timeout_ms = 300 }))
local p = s:key_by("k"):process("tick.lua")
p:sink(eddy.sink.file{ path = "idle.out" })
p:side("late"):sink(eddy.sink.file{ path = "idle.late" })
return job
