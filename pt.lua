local eddy = require("eddy")
local job = eddy.job{ name = "pt", checkpoint = { interval_ms = 50 } }
job:source("in", eddy.source.file{ path = "pt.ndjson", follow = true })
  :key_by("k"):process("ptimer.lua"):sink(eddy.sink.file{ path = "pt.out" })
return job
