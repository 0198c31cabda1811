#!/usr/bin/env bash
# Checkpoints and recovery: resume after a clean stop, triggers (interval,
# SIGUSR1, final), eddy state / eddy checkpoints, failed checkpoints that
# leave the previous one in effect, unserializable state, corrupted or
# foreign state dirs, sinks changed behind eddy's back.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP"
mkdir -p ops
cat > ops/count.lua <<'LUA'
local M = {}
function M.process(ev, ctx)
  local st = ctx.state
  st.n = (st.n or 0) + 1
  if ev.bad then st.cb = print end
  if ev.drop then ctx:clear() end
  ctx:emit({ k = ctx.key, n = st.n })
end
return M
LUA
# job NAME SOURCE-OPTS CHECKPOINT
job() {
  cat > "$1.lua" <<LUA
local eddy = require("eddy")
local job = eddy.job{ name = "$1", checkpoint = $3 }
job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" $2 })
  :key_by("k")
  :process("ops/count.lua")
  :sink(eddy.sink.file{ path = "$1.out" })
return job
LUA
}

# --- resume after a clean stop: counts continue, output is not repeated ---
job resume "" "{ interval_ms = 1000 }"
printf '{"k":"a"}\n{"k":"b"}\n{"k":"a"}\n' > in.ndjson
"$EDDY" run resume.lua --state-dir st1 2>err1
ok $? "first run exits 0"
contains "$(cat err1)" "checkpoint 1 (final)" "the first run ends with a final checkpoint"
is "$("$EDDY" state st1 | sort)" '{"key":"a","operator":"count","state":{"n":2}}
{"key":"b","operator":"count","state":{"n":1}}' "eddy state shows every key's state"
printf '{"k":"a"}\n{"k":"c"}\n' >> in.ndjson
"$EDDY" run resume.lua --state-dir st1 2>err2
ok $? "second run exits 0"
contains "$(cat err2)" "recovered from checkpoint 1" "the second run recovers"
is "$(cat resume.out)" '{"k":"a","n":1}
{"k":"b","n":1}
{"k":"a","n":2}
{"k":"a","n":3}
{"k":"c","n":1}' "the sink holds every event once, counts continue across runs"
is "$("$EDDY" state st1 --key a)" '{"key":"a","operator":"count","state":{"n":3}}' "eddy state --key filters"
is "$("$EDDY" state st1 --operator nope)" "" "eddy state --operator filters"
cps=$("$EDDY" checkpoints st1)
is "$(printf '%s\n' "$cps" | wc -l | tr -d ' ')" "2" "eddy checkpoints lists both checkpoints"
contains "$(printf '%s\n' "$cps" | tail -1)" '"in":{"dev":' "a checkpoint records the file source's identity"
contains "$(printf '%s\n' "$cps" | tail -1)" '"offset":50' "and its byte offset"
contains "$(printf '%s\n' "$cps" | tail -1)" '"sinks":{"resume":80}' "and the sink's committed length"
contains "$(printf '%s\n' "$cps" | tail -1)" '"trigger":"final"' "and its trigger"
logged=$(sed -n 's/.*checkpoint 1 (final): [0-9]* keys, \([0-9]*\) bytes.*/\1/p' err1)
is "$(printf '%s\n' "$cps" | head -1 | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p')" "$logged" \
  "eddy checkpoints gives the bytes the log gave (the record itself included)"
"$EDDY" run resume.lua --state-dir st1 2>/dev/null
is "$(wc -l < resume.out | tr -d ' ')" "5" "a run with nothing new changes nothing"

# --- ctx:clear() is written as a deletion ---
job clear "" "false"
printf '{"k":"a"}\n{"k":"b"}\n{"k":"a","drop":true}\n' > in.ndjson
"$EDDY" run clear.lua --state-dir st2 2>/dev/null
is "$("$EDDY" state st2)" '{"key":"b","operator":"count","state":{"n":1}}' "a cleared key is gone from the checkpoint"

# --- triggers: interval and SIGUSR1 on a running job ---
job live ", follow = true" "{ interval_ms = 100 }"
printf '{"k":"a"}\n' > in.ndjson
"$EDDY" run live.lua --state-dir st3 2>err3 &
pid=$!
wait_for grep -q "(interval)" err3
ok $? "interval_ms triggers checkpoints"
kill -USR1 $pid
wait_for grep -q "(signal)" err3
ok $? "SIGUSR1 triggers a checkpoint"
printf '{"k":"b"}\n' >> in.ndjson
wait_for grep -q '"k":"b"' live.out
ok $? "appended events are processed"
kill -TERM $pid; wait $pid
ok $? "SIGTERM: exit 0"
contains "$(tail -3 err3)" "" "(stderr captured)"
contains "$("$EDDY" checkpoints st3 | tail -1)" '"trigger":"final"' "SIGTERM ends with a final checkpoint"

# --- a failed checkpoint leaves the previous one in effect, the job goes on ---
job fault ", follow = true" "{ interval_ms = 100 }"
printf '{"k":"a"}\n' > in.ndjson
EDDY_FAULT_STORE_WRITES=3 "$EDDY" run fault.lua --state-dir st4 2>err4 &
pid=$!
wait_for grep -q "checkpoint 3 (interval): " err4
ok $? "checkpoints go on after a failed one"
contains "$(cat err4)" "failed: state write failed: IO error: No space left on device" "the failure is reported"
contains "$(cat err4)" "the previous checkpoint stays in effect" "and says the previous checkpoint holds"
printf '{"k":"a"}\n' >> in.ndjson
wait_for grep -q '"n":2' fault.out
kill -TERM $pid; wait $pid
ok $? "the job still exits 0"
is "$("$EDDY" state st4)" '{"key":"a","operator":"count","state":{"n":2}}' "state after recovery from a failure is complete"

# --- state that cannot be checkpointed ---
job unser "" "false"
printf '{"k":"u1","bad":true}\n' > in.ndjson
"$EDDY" run unser.lua --state-dir st5 2>err5
is "$?" "1" "a final checkpoint that cannot be written: exit 1"
contains "$(cat err5)" 'count: key "u1": state.cb: a function cannot be checkpointed' "the error names operator, key and path"

# --- corrupted and foreign state dirs: clear errors, nothing reset ---
cp -r st1 st6
for f in st6/db/*.ldb st6/db/*.log; do [ -s "$f" ] && head -c 64 /dev/urandom > "$f"; done
"$EDDY" run resume.lua --state-dir st6 2>err6
is "$?" "1" "a corrupted state dir: exit 1"
contains "$(cat err6)" "state dir st6" "the error says so and names the state dir"
"$EDDY" run resume.lua --state-dir st6 2>err6b
is "$?" "1" "and it is not silently reset: the next run fails the same way"
cp -r st1 st7
echo "2" > st7/LAST.tmp && echo 99 > st7/LAST
"$EDDY" run resume.lua --state-dir st7 2>err7
is "$?" "1" "a database behind its last completed checkpoint: exit 1"
contains "$(cat err7)" "checkpoint 99 completed but its database holds only up to 3" "with the ids"
"$EDDY" state nonexistent 2>err8
is "$?" "1" "eddy state on a missing dir: exit 1"
contains "$(cat err8)" "nonexistent" "and names it"

# --- a sink file shortened behind eddy's back ---
job shrink "" "false"
printf '{"k":"a"}\n{"k":"b"}\n' > in.ndjson
"$EDDY" run shrink.lua --state-dir st9 2>/dev/null
: > shrink.out
printf '{"k":"c"}\n' >> in.ndjson
"$EDDY" run shrink.lua --state-dir st9 2>err9
is "$?" "1" "a sink shorter than its checkpoint: exit 1"
contains "$(cat err9)" "changed outside eddy" "with a message saying so"

# --- signals reach a slow job between two events, not after the chunk ---
# Each event takes 0.2 s: the 30 lines arrive in one read, so without this
# the stop (or the checkpoint) waited for all of them.
for i in $(seq 1 30); do printf '{"k":"s%d"}\n' "$i"; done > slow.ndjson
cat > slow.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "slow", checkpoint = false }
job:source("in", eddy.source.file{ path = "slow.ndjson" })
  :map(function(ev) local t = os.clock() + 0.2; while os.clock() < t do end; return ev end)
  :sink(eddy.sink.file{ path = "slow.out" })
return job
LUA
"$EDDY" run slow.lua --state-dir st-slow 2>errslow &
pid=$!
sleep 1
kill -USR1 $pid
wait_for grep -q "(signal)" errslow
ok $? "SIGUSR1 checkpoints between two events of a long read"
sleep 0.5
kill -TERM $pid
wait $pid
ok $? "SIGTERM between two events: exit 0"
n=$(wc -l < slow.out | tr -d ' ')
[ "$n" -gt 0 ] && [ "$n" -lt 20 ]
ok $? "the stop came after the event in hand, not after the chunk ($n of 30 events)"
off=$("$EDDY" checkpoints st-slow | tail -1 | sed -n 's/.*"offset":\([0-9]*\).*/\1/p')
is "$off" "$(head -n "$n" slow.ndjson | wc -c | tr -d ' ')" "the final checkpoint is at the last event handled"
"$EDDY" run slow.lua --state-dir st-slow 2>/dev/null
is "$(cat slow.out)" "$(cat slow.ndjson)" "a second run finishes: every event once"

# --- with a slow operator, periodic checkpoints keep their schedule ---------
# 30 events of 0.1 s each arrive in one read: checkpoints every 200 ms are
# taken between two events of that read, not once at its end.
sed -e 's/name = "slow", checkpoint = false/name = "slow2", checkpoint = { interval_ms = 200 }/' \
    -e 's/os.clock() + 0.2/os.clock() + 0.1/' -e 's/slow.out/slow2.out/' slow.lua > slow2.lua
"$EDDY" run slow2.lua --state-dir st-slow2 2>errslow2
ok $? "a slow job with periodic checkpoints ends well"
n=$(grep -c "(interval)" errslow2)
[ "$n" -ge 3 ]
ok $? "periodic checkpoints were taken during the long read ($n of them)"
is "$(cat slow2.out)" "$(cat slow.ndjson)" "and every event reached the sink once"

# --- operator-wide ctx.state that is not a table: the checkpoint says so ---
printf 'x\n' > one.txt
cat > strstate.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "strstate" }
job:source("in", eddy.source.file{ path = "one.txt", format = "lines" })
  :map(function(l) return l end)
  :map("strstate_op.lua")
  :sink(eddy.sink.file{ path = "strstate.out", format = "lines" })
return job
LUA
printf 'local M = {}\nfunction M.process(l, ctx) ctx.state = "hello" return l end\nreturn M\n' > strstate_op.lua
"$EDDY" run strstate.lua --state-dir st-str 2>errstr
contains "$(cat errstr)" 'strstate_op: ctx.state is a string: it must be a table (or nil) to be checkpointed' \
  "operator-wide state that is not a table is refused by name, not silently dropped"
