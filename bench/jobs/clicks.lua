-- Bench job: per-user click counts (examples/clicks without the filter).
-- Input/output default to bench/data and bench/out; BENCH_INPUT/BENCH_OUTPUT
-- override them (bench/run uses them for profiling on a smaller input).
local eddy = require("eddy")
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

-- BENCH_CHECKPOINT_MS: checkpoint interval (0: periodic checkpoints off)
local ms = tonumber(os.getenv("BENCH_CHECKPOINT_MS") or "1000")
local job = eddy.job{ name = "bench-clicks",
  checkpoint = ms > 0 and { interval_ms = math.tointeger(ms) } or false }

job:source("clicks", eddy.source.file{
  path = os.getenv("BENCH_INPUT") or (here .. "/../data/clicks.ndjson"),
  format = "json" })
  :key_by("user")
  :process(here .. "/ops/count_clicks.lua")
  :sink(eddy.sink.file{
    path = os.getenv("BENCH_OUTPUT") or (here .. "/../out/eddy-clicks.ndjson"),
    format = "json" })

return job
