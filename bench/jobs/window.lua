-- Bench job: a tumbling one-minute count per user over the clicks (event
-- time from "ts"), with eddy.window.
local eddy = require("eddy")
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local job = eddy.job{ name = "bench-window", checkpoint = { interval_ms = 1000 } }
job:source("clicks", eddy.source.file{
  path = os.getenv("BENCH_INPUT") or (here .. "/../data/clicks.ndjson"),
  format = "json", event_time = "ts", max_out_of_orderness_ms = 1000 })
  :key_by("user")
  :process(here .. "/ops/window_count.lua")
  :sink(eddy.sink.file{ path = os.getenv("BENCH_OUTPUT") or (here .. "/../out/eddy-window.ndjson") })
return job
