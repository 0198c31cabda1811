-- Bench job: examples/wordcount on the generated text, reusing its operator
-- scripts by absolute path. BENCH_INPUT/BENCH_OUTPUT override the paths.
local eddy = require("eddy")
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local ops = here .. "/../../examples/wordcount/ops/"

local job = eddy.job{ name = "bench-wordcount" }

job:source("text", eddy.source.file{
  path = os.getenv("BENCH_INPUT") or (here .. "/../data/words.txt"),
  format = "lines" })
  :flat_map(ops .. "split.lua")
  :key_by(function(word) return word end)
  :process(ops .. "count.lua")
  :sink(eddy.sink.file{
    path = os.getenv("BENCH_OUTPUT") or (here .. "/../out/eddy-wordcount.ndjson"),
    format = "json" })

return job
