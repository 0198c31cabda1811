#!/usr/bin/env bash
# Event time, watermarks and timers: event-time timers in order with
# out-of-order input, cancel, dedup, late events, idle sources, processing
# timers, timers across kill -9, event_time_ms checkpoints, misuse.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP"
cat > tick.lua <<'LUA'
-- one event timer per key at the end of each second its events fall in
local M = {}
function M.process(ev, ctx)
  ctx.state.n = (ctx.state.n or 0) + 1
  if ev.cancel then ctx:cancel_timer(ev.cancel, "event") end
  ctx:event_timer((ctx:timestamp() // 1000 + 1) * 1000 - 1)
  ctx:event_timer((ctx:timestamp() // 1000 + 1) * 1000 - 1) -- dedup
end
function M.on_timer(ts, ctx, kind)
  ctx:emit({ key = ctx.key, at = ts, kind = kind, n = ctx.state.n })
end
return M
LUA
# job NAME SOURCES-LUA: a job whose sources are built by SOURCES-LUA into s
job() {
  cat > "$1.lua" <<LUA
local eddy = require("eddy")
local job = eddy.job{ name = "$1", checkpoint = { interval_ms = 100, event_time_ms = 2000 } }
$2
local p = s:key_by("k"):process("tick.lua")
p:sink(eddy.sink.file{ path = "$1.out" })
p:side("late"):sink(eddy.sink.file{ path = "$1.late" })
return job
LUA
}
cat > ooo.ndjson <<'EOF2'
{"k":"a","ts":1000}
{"k":"b","ts":1500}
{"k":"a","ts":2500}
{"k":"a","ts":1200}
{"k":"b","ts":5000,"cancel":5999}
{"k":"a","ts":100}
{"k":"b","ts":4800}
EOF2
job ooo 'local s = job:source("in", eddy.source.file{ path = "ooo.ndjson", event_time = "ts", max_out_of_orderness_ms = 500 })'
"$EDDY" run ooo.lua --state-dir st1 2>err1
ok $? "an event-time job exits 0"
is "$(cat ooo.out)" '{"at":1999,"key":"a","kind":"event","n":2}
{"at":1999,"key":"b","kind":"event","n":1}
{"at":2999,"key":"a","kind":"event","n":2}
{"at":4999,"key":"b","kind":"event","n":3}
{"at":5999,"key":"b","kind":"event","n":3}' "timers fire in time order, keys in order, once per (key, time), as the watermark passes (the end of input fires the rest)"
is "$(cat ooo.late)" '{"k":"a","ts":1200}
{"k":"a","ts":100}' "events behind the watermark go to the late side output"
contains "$(cat err1)" "2 late" "late events are counted"
contains "$("$EDDY" checkpoints st1)" '"trigger":"event_time"' "event_time_ms triggers a checkpoint when the watermark crosses a multiple"

# events whose time cannot be read go to the dead letters with the reason;
# the others go on (a float time is cut to whole milliseconds)
printf '%s\n' '{"k":"a","ts":1000}' '{"k":"a","ts":"soon"}' '{"k":"a"}' \
  '{"k":"a","ts":1e300}' '{"k":"a","ts":-1e300}' '{"k":"a","ts":2000.7}' > badts.ndjson
job badts 'local s = job:source("in", eddy.source.file{ path = "badts.ndjson", event_time = "ts" })
job:dead_letter(eddy.sink.file{ path = "badts.dead" })'
"$EDDY" run badts.lua --state-dir st_badts 2>err_badts
ok $? "bad event times: exit 0"
is "$(cat badts.out)" '{"at":1999,"key":"a","kind":"event","n":2}
{"at":2999,"key":"a","kind":"event","n":2}' \
  "the events with a usable time are processed (2000.7 counts as 2000)"
is "$(grep -c '"error":"event_time: a number of milliseconds is needed, got string"' badts.dead)" 1 \
  "a string time is a dead letter that says why"
is "$(grep -c "\"error\":\"event_time: the event has no field 'ts'\"" badts.dead)" 1 \
  "a missing time field is a dead letter that says why"
is "$(grep -c 'is out of range for milliseconds' badts.dead)" 2 \
  "times beyond the 64-bit range (1e300, -1e300) are dead letters, not undefined casts"

# a cancel before the timer fires: b's 1999 timer is cancelled by an event at 1800
printf '{"k":"b","ts":1500}\n{"k":"b","ts":1800,"cancel":1999}\n{"k":"c","ts":9000}\n' > cancel.ndjson
job cancel 'local s = job:source("in", eddy.source.file{ path = "cancel.ndjson", event_time = "ts" })'
"$EDDY" run cancel.lua --state-dir st2 2>/dev/null
is "$(cat cancel.out)" '{"at":1999,"key":"b","kind":"event","n":2}
{"at":9999,"key":"c","kind":"event","n":1}' "a cancelled timer does not fire (the later registration re-adds it once)"

# without readers of "late", late events are dropped and counted
cat > nolate.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "nolate", checkpoint = false }
job:source("in", eddy.source.file{ path = "ooo.ndjson", event_time = "ts" })
  :key_by("k"):process("tick.lua"):sink(eddy.sink.file{ path = "nolate.out" })
return job
LUA
"$EDDY" run nolate.lua --state-dir st3 2>err3
ok $? "late events without a late sink: exit 0"
contains "$(cat err3)" "3 late" "they are dropped and counted (no out-of-orderness allowed here)"

# an idle source stops holding the watermark back
printf '{"k":"a","ts":1000}\n{"k":"a","ts":3000}\n' > busy.ndjson
: > quiet.ndjson
job idle 'local s = job:source("busy", eddy.source.file{ path = "busy.ndjson", event_time = "ts", follow = true }):union(job:source("quiet", eddy.source.file{ path = "quiet.ndjson", event_time = "ts", follow = true, idle_timeout_ms = 300 }))'
"$EDDY" run idle.lua --state-dir st4 2>err4 &
pid=$!
wait_for grep -q '"at":1999' idle.out
ok $? "with idle_timeout_ms the quiet source stops holding the watermark back: the timer fires"
kill -TERM $pid; wait $pid
ok $? "SIGTERM: exit 0"

# processing-time timers on a running job, and across kill -9
cat > ptimer.lua <<'LUA'
local M = {}
function M.process(ev, ctx)
  ctx:timer(ctx:now() + ev.after)
  ctx.state.armed = true
end
function M.on_timer(ts, ctx, kind)
  ctx:emit({ key = ctx.key, kind = kind, late_ms = ctx:now() - ts >= 0 })
end
return M
LUA
cat > pt.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "pt", checkpoint = { interval_ms = 50 } }
job:source("in", eddy.source.file{ path = "pt.ndjson", follow = true })
  :key_by("k"):process("ptimer.lua"):sink(eddy.sink.file{ path = "pt.out" })
return job
LUA
printf '{"k":"x","after":200}\n' > pt.ndjson
"$EDDY" run pt.lua --state-dir st5 2>err5 &
pid=$!
wait_for grep -q '"key":"x"' pt.out
ok $? "a processing-time timer fires while the job runs"
is "$(cat pt.out)" '{"key":"x","kind":"processing","late_ms":true}' "on_timer gets kind processing, not before its time"
printf '{"k":"y","after":1500}\n' >> pt.ndjson
wait_for grep -q "checkpoint .*(interval): 1 keys" err5
sleep 0.3
kill -9 $pid; wait $pid 2>/dev/null
sleep 1.5
"$EDDY" run pt.lua --state-dir st5 2>err6 &
pid=$!
wait_for grep -q '"key":"y"' pt.out
ok $? "a timer checkpointed before kill -9 and due while the job was down fires right after recovery"
kill -TERM $pid; wait $pid
is "$(grep -c '"key":"y"' pt.out)" "1" "it fires once"

# misuse: timers on an unkeyed stream
cat > unkeyed.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "unkeyed", restart = { strategy = "none" } }
job:source("in", eddy.source.file{ path = "ooo.ndjson" })
  :process(function(ev, ctx) ctx:event_timer(1) end)
return job
LUA
"$EDDY" run unkeyed.lua --state-dir st7 2>err7
is "$?" "1" "ctx:event_timer on an unkeyed stream fails the operator"
contains "$(cat err7)" "needs a keyed stream (key_by)" "with a message saying why"
