-- Bench job: a steady script source and a keyed operator whose script the
-- bench rewrites (BENCH_DIR holds the operator script and the output).
local eddy = require("eddy")
local dir = os.getenv("BENCH_DIR")
local job = eddy.job{ name = "bench-reload", checkpoint = false }
job:source("gen", eddy.source.script{ path = dir .. "/gen.lua", interval_ms = 1 })
  :key_by("k")
  :process(dir .. "/op.lua")
  :sink(eddy.sink.file{ path = dir .. "/out.ndjson" })
return job
