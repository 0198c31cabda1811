-- keyed_timeout: the classic keyed process function (Flink's "count with
-- timeout"), in eddy.
--
-- Input (events.ndjson): one JSON object per user action, with its time in
-- ms since the epoch, e.g. {"user":"ana","action":"click","ts":1700000000900}
--
-- ops/count_timeout.lua counts events per user:
--   * a user's 10th event emits {"user":..,"event":"limit","count":10,"at":ts},
--     clears the user's state and starts a one-second cooldown; one second
--     later a timer emits {"user":..,"event":"reset","at":..,"ignored":n}
--     (n: the user's events during the cooldown, which count for nothing)
--     and counting starts over;
--   * a user quiet for a second gets {"user":..,"event":"timeout","count":n,
--     "at":..} and starts over.
-- Events more than max_out_of_orderness_ms behind the newest one are late:
-- they go to out/late.ndjson.
--
-- "A second later" is event time (ctx:event_timer), so the output depends
-- only on the input: run it twice, or after a crash, and get the same bytes.
-- ops/count_timeout.lua says how to use processing time instead.
--
--   eddy run job.lua && cat out/events.ndjson out/late.ndjson
local eddy = require("eddy")

local job = eddy.job{ name = "keyed_timeout" }

local counted = job:source("events", eddy.source.file{
    path = "events.ndjson", format = "json",
    event_time = "ts", max_out_of_orderness_ms = 200 })
  :key_by("user")
  :process("ops/count_timeout.lua")

counted:sink(eddy.sink.file{ path = "out/events.ndjson" })
counted:side("late"):sink(eddy.sink.file{ path = "out/late.ndjson" })

return job
