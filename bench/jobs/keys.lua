-- Bench job: a keyed count over BENCH_INPUT ({"k":...} lines), no periodic
-- checkpoints: its final checkpoint writes every key (the dirty-key case).
local eddy = require("eddy")
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local job = eddy.job{ name = "bench-keys", checkpoint = false }
job:source("in", eddy.source.file{ path = os.getenv("BENCH_INPUT"), format = "json" })
  :key_by("k")
  :process(here .. "/ops/count_keys.lua")
return job
