-- Bench job: pass-through map over lines (case 1): every line goes through
-- an inline identity map to a lines sink. BENCH_INPUT/BENCH_OUTPUT override
-- the paths.
local eddy = require("eddy")
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

local job = eddy.job{ name = "bench-passthrough", checkpoint = false }

job:source("lines", eddy.source.file{
  path = os.getenv("BENCH_INPUT") or (here .. "/../data/lines.txt"),
  format = "lines" })
  :map(function(line) return line end)
  :sink(eddy.sink.file{
    path = os.getenv("BENCH_OUTPUT") or (here .. "/../out/eddy-passthrough.txt"),
    format = "lines" })

return job
