#!/usr/bin/env bash
# Restart strategies in the same process, poison pills, exactly-once output
# across restarts.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP"
for i in $(seq 1 20); do printf '{"k":"k%d","i":%d}\n' $((i % 3)) "$i"; done > in.ndjson
printf '{"k":"k1","i":21,"bad":true}\n' >> in.ndjson
for i in $(seq 22 30); do printf '{"k":"k%d","i":%d}\n' $((i % 3)) "$i"; done >> in.ndjson
cat > op.lua <<'LUA'
-- fails on "bad" events; with FAIL_ONCE only the first time (a marker file)
local M = {}
function M.process(ev, ctx)
  if ev.bad then
    local marker = os.getenv("FAIL_ONCE")
    if not marker then error("cannot handle event " .. ev.i) end
    local f = io.open(marker)
    if not f then
      f = io.open(marker, "w"); f:write("x"); f:close()
      error("transient failure on event " .. ev.i)
    end
    f:close()
  end
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit({ k = ctx.key, i = ev.i, n = ctx.state.n })
end
return M
LUA
# job NAME RESTART-LUA [EXTRA-JOB-OPTIONS]
job() {
  cat > "$1.lua" <<LUA
local eddy = require("eddy")
local job = eddy.job{ name = "$1", checkpoint = { interval_ms = 20 }, restart = $2 ${3:-} }
job:source("in", eddy.source.file{ path = "in.ndjson" })
  :key_by("k"):process("op.lua"):sink(eddy.sink.file{ path = "$1.out" })
return job
LUA
}

job none '{ strategy = "none" }'
"$EDDY" run none.lua --state-dir st1 2>err1
is "$?" "1" "strategy none: the first failure ends the job with exit 1"
contains "$(cat err1)" "cannot handle event 21" "with the cause"

job fixed '{ strategy = "fixed-delay", attempts = 2, delay_ms = 30 }'
"$EDDY" run fixed.lua --state-dir st2 2>err2
is "$?" "1" "fixed-delay: exit 1 once the attempts are used up"
is "$(grep -c 'restart [0-9]* in 30 ms (fixed-delay)' err2)" "2" "each restart is logged with its delay"
contains "$(cat err2)" "restart strategy fixed-delay exhausted after 2 restarts" "the final message says the strategy is exhausted"
contains "$(cat err2)" "cannot handle event 21" "and names the cause"

job transient '{ strategy = "fixed-delay", attempts = 3, delay_ms = 10 }'
FAIL_ONCE="$T_TMP/marker" "$EDDY" run transient.lua --state-dir st3 2>err3
ok $? "a transient failure: the job restarts and finishes with exit 0"
contains "$(cat err3)" "restart 1 in 10 ms" "one restart"
is "$(wc -l < transient.out | tr -d ' ')" "30" "the sink holds every event once after the restart"
is "$(python3 -c '
import json
rows = [json.loads(l) for l in open("transient.out")]
print(" ".join(str(r["i"]) for r in rows))')" "$(seq -s ' ' 1 30)" "in order, none repeated"
is "$("$EDDY" state st3 --key k0)" '{"key":"k0","operator":"op","state":{"n":9}}' "state counts each event once"

# the same transient failure under the two other strategies: the output
# equals an uninterrupted run's
job reference '{ strategy = "none" }'
touch "$T_TMP/marker_ref" # the marker exists: event 21 does not fail
FAIL_ONCE="$T_TMP/marker_ref" "$EDDY" run reference.lua --state-dir st_ref 2>/dev/null
ok $? "the reference run (no failure) succeeds"
for spec in 'expo:{ strategy = "exponential-delay", initial_ms = 10, jitter = 0 }' \
            'rate:{ strategy = "failure-rate", max_failures = 1, interval_ms = 60000, delay_ms = 10 }'; do
  name=${spec%%:*}
  job "t_$name" "${spec#*:}"
  rm -f "$T_TMP/marker_$name"
  FAIL_ONCE="$T_TMP/marker_$name" "$EDDY" run "t_$name.lua" --state-dir "st_$name" 2>"err_$name"
  ok $? "$name: a transient failure restarts and the job finishes with exit 0"
  contains "$(cat "err_$name")" "restart 1 in 10 ms" "$name: one restart"
  cmp -s "t_$name.out" reference.out && [ -s reference.out ]
  ok $? "$name: the sink equals an uninterrupted run's"
done

job poison '{ strategy = "fixed-delay", attempts = 10, delay_ms = 10 }' ', poison_after = 2'
"$EDDY" run poison.lua --state-dir st4 2>err4
ok $? "a poison pill does not loop: exit 0"
is "$(grep -c 'restart [0-9]* in' err4)" "2" "it caused poison_after (2) restarts"
contains "$(cat st4/dead-letters.ndjson)" '"error":"poison pill: this event failed operator op again after 2 restarts' "then went to the dead letters"
contains "$(cat st4/dead-letters.ndjson)" '"event":{"bad":true,"i":21,"k":"k1"}' "with the event"
is "$(wc -l < poison.out | tr -d ' ')" "29" "every other event is in the sink once"

job rate '{ strategy = "failure-rate", max_failures = 1, interval_ms = 60000, delay_ms = 10 }'
"$EDDY" run rate.lua --state-dir st5 2>err5
is "$?" "1" "failure-rate: more than max_failures in interval_ms: exit 1"
is "$(grep -c 'restart [0-9]* in' err5)" "1" "after one restart"

job expo '{ strategy = "exponential-delay", initial_ms = 20, max_ms = 60, multiplier = 2.0, jitter = 0 }' ', poison_after = 1000'
"$EDDY" run expo.lua --state-dir st6 2>err6 &
pid=$!
wait_for grep -q "restart 4 in 60 ms" err6
ok $? "exponential-delay restarts without end, delays capped at max_ms"
is "$(grep -o 'restart [0-9]* in [0-9]* ms' err6 | head -3 | tr '\n' ,)" "restart 1 in 20 ms,restart 2 in 40 ms,restart 3 in 60 ms," "delays grow by the multiplier"
kill -TERM $pid; wait $pid
rc=$?
# exit 1 when the signal lands in the wait before a restart (the job had
# failed), 0 when it lands while the rebuilt job runs (a clean stop)
[ "$rc" -eq 1 ] || [ "$rc" -eq 0 ]
ok $? "SIGTERM stops a restarting job (exit $rc)"

cat > bad.lua <<'LUA'
local eddy = require("eddy")
return eddy.job{ name = "bad", restart = { strategy = "sometimes" } }
LUA
"$EDDY" check bad.lua 2>err7
is "$?" "2" "an unknown strategy is a job-definition error"
contains "$(cat err7)" "strategy must be none, fixed-delay, exponential-delay or failure-rate" "with the choices"

# parameters that are not numbers in range, NaN included, are job errors
for bad in 'strategy = "exponential-delay", multiplier = 0/0' \
           'strategy = "exponential-delay", jitter = 0/0' \
           'strategy = "exponential-delay", multiplier = 0.5' \
           'strategy = "failure-rate", max_failures = 1000000000000000'; do
  printf 'local eddy = require("eddy")\nreturn eddy.job{ name = "bad", restart = { %s } }\n' "$bad" > badparam.lua
  "$EDDY" check badparam.lua 2>err8
  is "$?" "2" "restart { $bad } is a job-definition error"
  contains "$(cat err8)" "restart: a parameter is out of range" "restart { $bad }: the message names the ranges"
done

# error budget: every 5th event fails under on_error = "skip" (20%)
seq 1 200 | awk '{ printf "{\"i\":%d}\n", $1 }' > budget.ndjson
cat > every5.lua <<'LUA'
local M = {}
function M.process(ev, ctx)
  if ev.i % 5 == 0 then error("bad " .. ev.i) end
  return ev
end
return M
LUA
# budget NAME RATIO
budget() {
  cat > "$1.lua" <<LUA
local eddy = require("eddy")
local job = eddy.job{ name = "$1", restart = { strategy = "none" },
  max_error_ratio = $2, error_window_ms = 60000 }
job:source("in", eddy.source.file{ path = "budget.ndjson" })
  :map("every5.lua", { on_error = "skip" }):sink(eddy.sink.file{ path = "$1.out" })
return job
LUA
}
budget loose 0.3
"$EDDY" run loose.lua --state-dir st8 2>err8
ok $? "20% errors within max_error_ratio = 0.3: exit 0"
is "$(wc -l < loose.out | tr -d ' ')" "160" "the skipped events are left out"
budget tight 0.1
"$EDDY" run tight.lua --state-dir st9 2>err9
is "$?" "1" "20% errors past max_error_ratio = 0.1: the job fails"
contains "$(cat err9)" "error budget exceeded" "saying why"
contains "$(cat err9)" "max_error_ratio 0.1" "naming the option"

# --- stdout's reader goes away (eddy run job.lua | head): no restart loop ---
seq 1 200000 > many.txt
cat > pipe.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "pipe" }
job:source("in", eddy.source.file{ path = "many.txt", format = "lines" })
  :map(function(e) return { e = e } end)
  :sink(eddy.sink.stdout{})
return job
LUA
first=$( (timeout 60 "$EDDY" run pipe.lua --state-dir st-pipe 2>errpipe; echo "$?" > rcpipe) | head -1)
is "$first" '{"e":"1"}' "a stdout sink feeds a pipe"
is "$(cat rcpipe)" "1" "when the reader closes the pipe eddy exits 1, at once"
contains "$(cat errpipe)" "stdout was closed by its reader (broken pipe)" "saying why"
if grep -q "restart [0-9]" errpipe; then ok 1 "and tries no restart"; else ok 0 "and tries no restart"; fi

# --- poison pills tell timers apart: each key's timer has its own count ---
printf '{"k":"a","ts":100}\n{"k":"b","ts":200}\n' > timers.ndjson
cat > tonce.lua <<'LUA'
local M = {}
function M.process(ev, ctx) ctx:event_timer(ev.ts + 1) end
function M.on_timer(ts, ctx)
  local mark = "mark_" .. ctx.key
  local f = io.open(mark)
  if not f then
    f = io.open(mark, "w"); f:write("x"); f:close()
    error("first time for " .. ctx.key)
  end
  f:close()
  ctx:emit({ k = ctx.key, fired = ts })
end
return M
LUA
cat > tjob.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "tjob", poison_after = 1,
  restart = { strategy = "fixed-delay", attempts = 5, delay_ms = 10 } }
job:source("in", eddy.source.file{ path = "timers.ndjson", event_time = "ts" })
  :key_by("k"):process("tonce.lua"):sink(eddy.sink.file{ path = "tjob.out" })
return job
LUA
"$EDDY" run tjob.lua --state-dir st-t 2>errt
ok $? "two keys' timers each failing once: the job ends well"
is "$(cat tjob.out)" '{"fired":101,"k":"a"}
{"fired":201,"k":"b"}' "each timer is retried after its own first failure"
if grep -q "poison pill" errt; then ok 1 "no timer is taken for another's poison pill"; else ok 0 "no timer is taken for another's poison pill"; fi

# --- a timer's dead letter: no source, no position (null, as the SPEC lists them) ---
cat > tfail.lua <<'LUA'
local M = {}
function M.process(ev, ctx) ctx:event_timer(ev.ts + 1) end
function M.on_timer(ts, ctx) error("timer broke") end
return M
LUA
cat > tdl.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "tdl" }
job:source("in", eddy.source.file{ path = "timers.ndjson", event_time = "ts" })
  :key_by("k"):process("tfail.lua", { on_error = "dead_letter" })
  :sink(eddy.sink.file{ path = "tdl.out" })
job:dead_letter(eddy.sink.file{ path = "tdl.dead" })
return job
LUA
"$EDDY" run tdl.lua --state-dir st-tdl 2>/dev/null
ok $? "timers failing under dead_letter: exit 0"
python3 - tdl.dead <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 2, recs
for r in recs:
    assert r["source"] is None and r["position"] is None, r
    assert r["operator"] == "tfail" and r["key"] in ("a", "b"), r
    assert r["event"]["kind"] == "event" and "timer broke" in r["error"], r
PY
ok $? "a timer's dead letter has source and position null, and its key"
