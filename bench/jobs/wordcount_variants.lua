-- Bench job: the word count written other ways, for comparing what each
-- part costs (bench/RESULTS.md, "Where the keyed count loses its time").
-- Output is byte for byte the example's. BENCH_VARIANT: "table" (split,
-- then one non-keyed count whose state is the table of counts) or "fused"
-- (one flat_map splits and counts). BENCH_INPUT, BENCH_OUTPUT as in
-- wordcount.lua; periodic checkpoints off.
local eddy = require("eddy")
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local variant = os.getenv("BENCH_VARIANT") or "table"
local job = eddy.job{ name = "bench-wordcount-" .. variant, checkpoint = false }
local text = job:source("text", eddy.source.file{
  path = os.getenv("BENCH_INPUT") or (here .. "/../data/words-5k.txt"),
  format = "lines" })
local counts
if variant == "table" then
  counts = text:flat_map(here .. "/../../examples/wordcount/ops/split.lua")
    :process(here .. "/ops/count_table.lua")
elseif variant == "fused" then
  counts = text:flat_map(here .. "/ops/split_count.lua")
else
  error("BENCH_VARIANT: table or fused, not " .. variant)
end
counts:sink(eddy.sink.file{
  path = os.getenv("BENCH_OUTPUT") or (here .. "/../out/eddy-wordcount-" .. variant .. ".ndjson"),
  format = "json" })
return job
