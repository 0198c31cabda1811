-- Bench job: examples/wordcount on the generated text, reusing its operator
-- scripts by absolute path. BENCH_INPUT/BENCH_OUTPUT override the paths.
local eddy = require("eddy")
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local ops = here .. "/../../examples/wordcount/ops/"

-- BENCH_CHECKPOINT_MS: checkpoint interval (0: periodic checkpoints off;
-- "default": no checkpoint option, as examples/wordcount/job.lua ships)
local env = os.getenv("BENCH_CHECKPOINT_MS") or "1000"
local checkpoint
if env ~= "default" then
  local ms = assert(math.tointeger(tonumber(env)), "BENCH_CHECKPOINT_MS")
  checkpoint = ms > 0 and { interval_ms = ms } or false
end
local job = eddy.job{ name = "bench-wordcount", checkpoint = checkpoint }

job:source("text", eddy.source.file{
  path = os.getenv("BENCH_INPUT") or (here .. "/../data/words.txt"),
  format = "lines" })
  :flat_map(ops .. "split.lua")
  :key_by() -- each word is its own key
  :process(ops .. "count.lua")
  :sink(eddy.sink.file{
    path = os.getenv("BENCH_OUTPUT") or (here .. "/../out/eddy-wordcount.ndjson"),
    format = "json" })

return job
