local eddy = require("eddy")
local job = eddy.job{ name = "unkeyed", restart = { strategy = "none" } }
job:source("in", eddy.source.file{ path = "ooo.ndjson" })
  :process(function(ev, ctx) ctx:event_timer(1) end)
return job
