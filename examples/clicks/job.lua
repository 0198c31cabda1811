-- Per-user click counts over NDJSON click events.
--
-- Input: one JSON object per line, e.g. {"user":"u42","url":"/home","ts":1700000000000}
-- Output: {"user":"u42","clicks":3} each time a user clicks; clicks without
-- a user go to a side output; lines that are not JSON go to the dead letters
-- (eddy-state/clicks/dead-letters.ndjson).
local eddy = require("eddy")

local job = eddy.job{ name = "clicks" }

local valid = job:source("clicks", eddy.source.file{
  path = "clicks.ndjson", format = "json" })
  :filter("ops/valid.lua")

valid
  :key_by("user")
  :process("ops/count.lua", { on_error = "dead_letter" })
  :sink(eddy.sink.file{ path = "out/user_counts.ndjson" })

valid:side("anonymous"):sink(eddy.sink.file{ path = "out/anonymous.ndjson" })

return job
