local eddy = require("eddy")
local job = eddy.job{ name = "nolate", checkpoint = false }
job:source("in", eddy.source.file{ path = "ooo.ndjson", event_time = "ts" })
  :key_by("k"):process("tick.lua"):sink(eddy.sink.file{ path = "nolate.out" })
return job
