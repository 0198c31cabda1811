#!/usr/bin/env bash
# metrics.sh - `eddy run --metrics`: /metrics and /health scraped while a
# job runs (counters move exactly as the input implies), a failed
# checkpoint and a restart seen in /health, bad HTTP clients (malformed,
# oversized, idle, too many) that never disturb processing, and the status
# line on a terminal (SPEC 9). HTTP over bash's /dev/tcp: no curl needed.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP"

# raw PORT REQUEST: sends REQUEST (printf %b escapes) and prints the answer.
raw() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
   printf '%b' "$2" >&3
   timeout 5 cat <&3) 2>/dev/null
}
get() { raw "$1" "GET $2 HTTP/1.1\r\nHost: localhost\r\n\r\n"; }
# status_of RESPONSE: the status code of an HTTP response.
status_of() { printf '%s\n' "$1" | head -1 | cut -d' ' -f2; }
body_of() { printf '%s\n' "$1" | sed '1,/^\r$/d'; }
# metric NAME: the value of one series (name with labels) from /metrics.
metric() { get "$PORT" /metrics | awk -v k="$1" '$1 == k { print $2 }'; }
# metric_is NAME VALUE: retries for 10 s until the series has VALUE.
metric_is() { [ "$(metric "$1")" == "$2" ]; }
wait_metric() { wait_for metric_is "$1" "$2"; }
# port_of LOG: the port the metrics server says it listens on.
port_of() { grep -o 'metrics: .*(port [0-9]*)' "$1" | grep -o '[0-9]*)$' | tr -d ')'; }
has_port() { [ -n "$(port_of "$1")" ]; }
SRC='eddy_events_in_total{source="in"}'
OPI='eddy_events_in_total{operator="count"}'
OPO='eddy_events_out_total{operator="count"}'
SNK='eddy_events_in_total{sink="out"}'

cat > count.lua <<'LUA'
-- counts lines per key; "skip me" is skipped, "dead" dead-lettered, and
-- "boom" fails the job once (a marker file remembers)
local M = {}
function M.process(ev, ctx)
  if ev == "skip me" or ev == "dead" then error("bad line: " .. ev) end
  if ev == "boom" then
    local marker = os.getenv("BOOM_MARKER")
    local f = io.open(marker)
    if not f then
      f = io.open(marker, "w"); f:write("x"); f:close()
      error("boom once")
    end
    f:close()
  end
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit(ev .. " " .. ctx.state.n)
end
function M.on_error(err, ev, ctx)
  if ev == "skip me" then return "skip" end
  if ev == "dead" then return "dead_letter" end
  return "fail"
end
return M
LUA
cat > job.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "m", checkpoint = { interval_ms = 100 },
  restart = { strategy = "fixed-delay", attempts = 3, delay_ms = 2000 } }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines", follow = true })
  :key_by(function(l) return l end)
  :process("count.lua")
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
LUA

# ---- counters follow the input ----------------------------------------------
seq 1 5 > in.txt
BOOM_MARKER="$T_TMP/boom" "$EDDY" run job.lua --state-dir st --metrics 127.0.0.1:0 2>err &
PID=$!
wait_for has_port err
ok $? "the metrics server logs its port (--metrics 127.0.0.1:0)"
PORT=$(port_of err)
PORT=${PORT:-1}
wait_metric "$SRC" 5
ok $? "/metrics: 5 lines read by the source"
is "$(metric "$OPI") $(metric "$OPO") $(metric "$SNK")" "5 5 5" "operator in, out and sink in: 5"
seq 6 12 >> in.txt
wait_metric "$SRC" 12
ok $? "7 more lines appended: the source counts 12"
wait_metric "$SNK" 12
ok $? "and the sink 12"
wait_metric 'eddy_state_keys{operator="count"}' 12
ok $? "12 keys in state"
printf 'skip me\ndead\n' >> in.txt
wait_metric "$OPI" 14
ok $? "two failing lines: the operator took 14 events"
is "$(metric "$OPO")" "12" "and emitted 12"
is "$(metric 'eddy_operator_errors_total{operator="count",policy="skip"}') $(metric 'eddy_operator_errors_total{operator="count",policy="dead_letter"}') $(metric 'eddy_operator_errors_total{operator="count",policy="fail"}')" \
  "1 1 0" "errors by policy: skip 1, dead_letter 1, fail 0"
is "$(metric eddy_dead_letters_total)" "1" "one dead letter"
M=$(get "$PORT" /metrics)
is "$(status_of "$M")" "200" "/metrics answers 200"
contains "$M" "Content-Type: text/plain; version=0.0.4" "in the Prometheus text format"
is "$(body_of "$M" | grep -vcE '^(# (HELP|TYPE) eddy_|eddy_[a-z_]+(\{[^}]*\})? [-+0-9.eInfNa]+\r?$)')" "0" \
  "every line is a HELP, TYPE or sample of an eddy_ metric"
wait_for test "$(metric eddy_checkpoints_total)" -ge 1
ok $? "checkpoints are counted"
H=$(get "$PORT" /health)
is "$(status_of "$H")" "200" "/health answers 200"
contains "$H" '{"status":"ok","job":"m","running":true' "/health: status ok"
contains "$H" '"count":{"in":14,"out":12,"errors":2,"skipped":1,"dead_letters":1' "/health: per-operator counters"
contains "$H" '"restarts":0' "/health: no restart yet"
[[ "$(body_of "$H")" =~ \"last_id\":[1-9][0-9]*,\"last_age_seconds\":[0-9.]+, ]]
ok $? "/health: last checkpoint id and age"

# ---- reloads -------------------------------------------------------------------
RLOK='eddy_reloads_total{operator="count",result="ok"}'
RLKO='eddy_reloads_total{operator="count",result="failed"}'
kill -HUP $PID
wait_metric "$RLOK" 1
ok $? "SIGHUP: one successful reload counted"
cp count.lua count.good
printf 'local M = {\n' > count.bad && mv count.bad count.lua
wait_metric "$RLKO" 1
ok $? "a script with a syntax error: one failed reload counted"
cp count.good count.tmp && mv count.tmp count.lua
wait_metric "$RLOK" 2
ok $? "fixed again: two successful reloads"

# ---- bad clients do not disturb the job -------------------------------------
exec 7<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /metr' >&7 # a slowloris client: half a request, then nothing
is "$(status_of "$(raw "$PORT" 'hello there\r\n\r\n')")" "400" "garbage: 400"
is "$(status_of "$(raw "$PORT" '\x16\x03\x01\x00\xa5\x01\x00')")" "400" "a TLS hello: 400"
is "$(status_of "$(raw "$PORT" 'GET /metrics HTTP/2.0\r\n\r\n')")" "505" "HTTP/2.0: 505"
is "$(status_of "$(raw "$PORT" 'POST /metrics HTTP/1.1\r\n\r\n')")" "405" "POST: 405"
is "$(status_of "$(raw "$PORT" 'GET /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\nxxxx')")" "413" "a request body: 413"
is "$(status_of "$(get "$PORT" "/$(head -c 3000 /dev/zero | tr '\0' a)")")" "414" "a 3000-byte URI: 414"
BIG=$(head -c 20000 /dev/zero | tr '\0' a)
is "$(status_of "$(raw "$PORT" "GET /metrics HTTP/1.1\r\nX-Big: $BIG\r\n\r\n")")" "431" "a 20 kB header: 431"
is "$(status_of "$(get "$PORT" /nope)")" "404" "an unknown path: 404"
R=$(raw "$PORT" 'HEAD /metrics HTTP/1.1\r\n\r\n')
is "$(status_of "$R")$(body_of "$R")" "200" "HEAD: headers only"
seq 13 20 >> in.txt
wait_metric "$SRC" 22
ok $? "meanwhile the job went on: 8 more lines counted while the slow client waits"
is "$(metric eddy_http_rejected_total)" "6" "the 6 refused requests are counted"
ANS=$(timeout 10 cat <&7)
exec 7<&-
contains "$ANS" "408 Request Timeout" "the idle client is dropped with 408 after the timeout"
# more idle clients than the server takes at once: the extra ones get 503,
# the job does not notice
for fd in $(seq 10 49); do eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"; done
sleep 0.3
seq 21 25 >> in.txt
wait_for grep -q '^25 1$' out.txt
ok $? "40 idle clients connected: lines still reach the sink"
BUSY=$(timeout 5 cat <&49)
contains "$BUSY" "503 Service Unavailable" "a client over the cap gets 503"
for fd in $(seq 10 49); do eval "exec $fd<&-"; done
wait_metric "$SRC" 27
ok $? "once they are gone /metrics answers again with every line counted"

# ---- a restart ---------------------------------------------------------------
BEFORE=$(metric "$SRC")
echo boom >> in.txt
wait_for grep -q 'restart 1 in 2000 ms' err
ok $? "a failing line restarts the job in-process"
H=$(get "$PORT" /health)
is "$(status_of "$H")" "503" "/health answers 503 while the job waits to restart"
contains "$H" '"status":"restarting"' "with status restarting"
contains "$H" '"last_failure":"operator count failed' "and the failure"
wait_for grep -q '^boom 1$' out.txt
ok $? "after the restart the line goes through"
H=$(get "$PORT" /health)
contains "$H" '"status":"ok"' "/health: ok again, on the same port"
contains "$H" '"restarts":1,"restarts_by_cause":{"operator":1,' "/health: one restart, caused by an operator"
is "$(metric 'eddy_restarts_total{cause="operator"}')" "1" "/metrics: eddy_restarts_total{cause=\"operator\"} 1"
is "$(metric "$RLOK") $(metric "$RLKO")" "2 1" "operator counters of the graph before the restart are kept (reloads)"
AFTER=$(metric "$SRC")
[ "${AFTER:-0}" -gt "${BEFORE:-0}" ]
ok $? "counters keep counting across the restart ($BEFORE, then $AFTER with the replay)"
kill -TERM $PID; wait $PID
ok $? "SIGTERM: exit 0"
! grep -q 'metrics: .*' <(grep -i 'error' err)
ok $? "no metrics error in the log"

# ---- a failed checkpoint, on a fixed HOST:PORT -------------------------------
cat > fault.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "f", checkpoint = { interval_ms = 50 } }
job:source("in", eddy.source.file{ path = "in2.txt", format = "lines", follow = true })
  :sink(eddy.sink.file{ path = "out2.txt", format = "lines" })
return job
LUA
seq 1 3 > in2.txt
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for attempt in 1 2 3 4 5; do
  PORT=$((20000 + RANDOM % 20000))
  port_open "$PORT" && continue
  EDDY_FAULT_STORE_WRITES=3- "$EDDY" run fault.lua --state-dir st2 --metrics "127.0.0.1:$PORT" 2>err2 &
  PID=$!
  wait_for has_port err2 && kill -0 $PID 2>/dev/null && break
  kill $PID 2>/dev/null; wait $PID 2>/dev/null
done
contains "$(cat err2)" "(port $PORT)" "--metrics 127.0.0.1:$PORT listens there"
"$EDDY" run fault.lua --state-dir st2b --metrics "127.0.0.1:$PORT" 2>err2b
is "$?" "1" "a second job on the same port: exit 1"
contains "$(cat err2b)" "cannot listen on 127.0.0.1:$PORT" "saying it cannot listen there"
"$EDDY" run fault.lua --state-dir st2c --metrics "localhost:x" 2>err2c
is "$?" "2" "a bad --metrics address is a usage error (exit 2)"
contains "$(cat err2c)" "expected HOST:PORT" "saying what is expected"
wait_for grep -q 'checkpoint 2 (interval) failed' err2
ok $? "checkpoint writes fail (EDDY_FAULT_STORE_WRITES)"
H=$(get "$PORT" /health)
contains "$H" '"status":"degraded"' "/health: degraded after a failed checkpoint"
contains "$H" '"last_id":1,' "/health: the last completed checkpoint stays 1"
contains "$H" '"last_failed":true}' "/health: the last attempt failed"
F=$(metric eddy_checkpoints_failed_total)
[ "${F:-0}" -ge 1 ]
ok $? "/metrics: eddy_checkpoints_failed_total $F"
is "$(metric eddy_checkpoint_last_failed)" "1" "/metrics: eddy_checkpoint_last_failed 1"
kill -TERM $PID; wait $PID
is "$?" "1" "the final checkpoint fails too: exit 1"

# ---- the status line on a terminal -------------------------------------------
cat > gen.lua <<'LUA'
return { poll = function(ctx)
  local i = ctx.state.i or 0
  if i >= 1500 then return false end
  for _ = 1, 100 do i = i + 1; ctx:emit(i) end
  ctx.state.i = i
  return true
end }
LUA
cat > tty.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "tty", checkpoint = { interval_ms = 300 } }
job:source("gen", eddy.source.script{ path = "gen.lua", interval_ms = 100 })
  :sink(eddy.sink.file{ path = "out3.txt", format = "lines" })
return job
LUA
timeout 60 script -qfec "'$EDDY' run tty.lua --state-dir st3" /dev/null > tty.txt 2>&1
ok $? "a job under script(1) (stderr is a terminal) ends with exit 0"
tr '\r' '\n' < tty.txt | sed 's/\x1b\[K//g' > tty.lines
grep -qE '^eddy tty \| [0-9.k]+ ev/s \| [0-9.k]+ events \| (no ckpt yet|ckpt [0-9]+, [0-9.]+s ago)' tty.lines
ok $? "the status line shows events/s, events and checkpoint age"
echo "# $(grep 'ev/s' tty.lines | tail -1)"
grep -q $'\r\x1b\[Keddy info: checkpoint' tty.txt
ok $? "the line is erased before a log line"
! grep -qE 'ev/s.*eddy (info|warn|error):' tty.lines
ok $? "log lines never share a line with the status"
is "$(wc -l < out3.txt | tr -d ' ')" "1500" "and the job's output is complete"
"$EDDY" run tty.lua --state-dir st3b 2>plain.txt
! grep -q 'ev/s' plain.txt
ok $? "not a terminal: no status line, plain log lines"
contains "$(cat plain.txt)" "eddy info: checkpoint" "one per checkpoint"
sed 's/eddy.sink.file{ path = "out3.txt", format = "lines" }/eddy.sink.stdout{ format = "lines" }/' tty.lua > tty_stdout.lua
timeout 60 script -qfec "'$EDDY' run tty_stdout.lua --state-dir st3c" /dev/null > tty2.txt 2>&1
! grep -q 'ev/s' tty2.txt && grep -q '^1500' tty2.txt
ok $? "a stdout sink on the same terminal: no status line to run into its lines"
