#!/usr/bin/env bash
# sources_sinks.sh - sources (file, stdin, tcp, script, file follow) and sinks
# (file, stdout; json and lines formats), driving the real binary (SPEC 4).
. "$(dirname "$0")/lib.sh"

# mkjob NAME: makes $T_TMP/NAME, writes stdin to its job.lua, sets $J to the dir.
mkjob() {
  J=$T_TMP/$1
  mkdir -p "$J"
  cat >"$J/job.lua"
}

# fresh_state: sets $ST to a new, empty state dir path (so no run resumes an
# earlier one). Call it in the main shell, not in $(...).
STATE_N=0
fresh_state() { STATE_N=$((STATE_N + 1)); ST=$T_TMP/state/$STATE_N; }

# run_job [ARGS...]: runs $J/job.lua from $J with a fresh state dir; stdout in
# $J/stdout, stderr in $J/stderr, status in $RC.
run_job() {
  fresh_state
  (cd "$J" && "$EDDY" run job.lua --state-dir "$ST" "$@") >"$J/stdout" 2>"$J/stderr"
  RC=$?
}

# wait_up_to SECONDS CMD...: retries CMD every 0.05 s for at most SECONDS.
wait_up_to() {
  local n=$(($1 * 20)) i; shift
  for ((i = 0; i < n; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

# lines_in FILE N: FILE exists and has at least N lines.
lines_in() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }

# ---- file source (lines) -> file sink (lines) ------------------------------

mkjob lines <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "lines" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf 'alpha\n\n  spaced  words \nh\xc3\xa9llo \xe2\x98\x83\ttab\nlast\n' >"$J/in.txt"
echo "stale content from an earlier run" >"$J/out.txt"
run_job
is "$RC" 0 "file lines -> file lines: exit 0"
cmp -s "$J/in.txt" "$J/out.txt"
ok $? "file lines -> file lines: output bytes equal the input (empty line, spaces, UTF-8, tab)"
[ ! -s "$J/stdout" ]
ok $? "file sink job writes nothing to stdout"

# ---- a last line without newline; CRLF line ends --------------------------

printf 'one\ntwo\nthree' >"$J/in.txt"
run_job
is "$RC" 0 "input without trailing newline: exit 0"
is "$(od -An -c "$J/out.txt" | tr -s ' ')" "$(printf 'one\ntwo\nthree\n' | od -An -c | tr -s ' ')" \
  "input without trailing newline: the last line is delivered (newline-terminated)"

printf 'one\r\ntwo\r\n\r\nlast\r\n' >"$J/in.txt"
run_job
is "$RC" 0 "CRLF input: exit 0"
is "$(od -An -c "$J/out.txt" | tr -s ' ')" "$(printf 'one\ntwo\n\nlast\n' | od -An -c | tr -s ' ')" \
  "CRLF input: lines lose their \\r"

printf 'no newline\r' >"$J/in.txt"
run_job
is "$(od -An -c "$J/out.txt" | tr -s ' ')" "$(printf 'no newline\n' | od -An -c | tr -s ' ')" \
  "CR at the end of a final line without LF is dropped too"

# ---- file source (json) -> file sink (json) ---------------------------------

mkjob json <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "json" }
job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
  :sink(eddy.sink.file{ path = "out.ndjson", format = "json" })
return job
EOF
cat >"$J/in.ndjson" <<'EOF'
1
-7
9007199254740993
1.5
2.0
0.1
null
true
false
"text"
"quote \" backslash \\ newline \n tab \t"
"h\u00e9llo"
[1,2.5,null,"a",[],{}]
{"k":[]}
{"k":{}}
{"nested":{"deep":[{"x":1}]}}
EOF
cat >"$J/want.ndjson" <<'EOF'
1
-7
9007199254740993
1.5
2.0
0.1
null
true
false
"text"
"quote \" backslash \\ newline \n tab \t"
"héllo"
[1,2.5,null,"a",[],{}]
{"k":[]}
{"k":{}}
{"nested":{"deep":[{"x":1}]}}
EOF
run_job
is "$RC" 0 "file json -> file json: exit 0"
is "$(cat "$J/out.ndjson")" "$(cat "$J/want.ndjson")" "file json -> file json: exact output"
[ "$(tail -c1 "$J/out.ndjson" | od -An -c | tr -d ' ')" = '\n' ]
ok $? "file json sink ends every document with a newline"

# A multi-key object: compared as JSON (key order is not part of the contract).
echo '{"a":1,"b":1.5,"c":2.0,"d":null,"e":"x","f":[1,{"g":false}]}' >"$J/in.ndjson"
run_job
python3 - "$J/out.ndjson" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
v = json.loads(lines[0])
want = {"a": 1, "b": 1.5, "c": 2.0, "d": None, "e": "x", "f": [1, {"g": False}]}
assert v == want, v
assert type(v["a"]) is int and type(v["c"]) is float, v
EOF
ok $? "multi-key object round trips (int stays int, 2.0 stays float, null stays null)"

# ---- json source -> lines sink; lines source -> json sink ------------------

mkjob convert <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "convert" }
job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
  :map(function(ev) return ev.v end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
job:source("text", eddy.source.file{ path = "in.txt", format = "lines" })
  :sink(eddy.sink.file{ path = "out.ndjson", format = "json" })
return job
EOF
printf '%s\n' '{"v":"a string"}' '{"v":3}' '{"v":2.5}' '{"v":2.0}' '{"v":-1}' >"$J/in.ndjson"
printf '%s\n' 'plain' 'with "quotes" and \backslash' '' >"$J/in.txt"
run_job
is "$RC" 0 "json -> lines and lines -> json: exit 0"
is "$(cat "$J/out.txt")" "$(printf '%s\n' 'a string' 3 2.5 2.0 -1)" \
  "lines sink writes strings as they are and numbers as tostring does"
is "$(cat "$J/out.ndjson")" "$(printf '%s\n' '"plain"' '"with \"quotes\" and \\backslash"' '""')" \
  "json sink writes strings as escaped JSON strings"

# ---- stdin -> stdout ----------------------------------------------------------

mkjob stdin <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "stdin" }
job:source("in", eddy.source.stdin{ format = "lines" })
  :map(function(line) return "<" .. line .. ">" end)
  :process("log.lua")
  :sink(eddy.sink.stdout{ format = "lines" })
return job
EOF
cat >"$J/log.lua" <<'EOF'
local M = {}
function M.process(ev, ctx)
  ctx:log("info", "LOGGED " .. ev)
  ctx:emit(ev)
end
return M
EOF
fresh_state
(cd "$J" && printf 'a\nb b\r\n\nlast' | "$EDDY" run job.lua --state-dir "$ST") >"$J/stdout" 2>"$J/stderr"
RC=$?
is "$RC" 0 "stdin -> stdout: exit 0 when stdin ends"
is "$(od -An -c "$J/stdout" | tr -s ' ')" "$(printf '<a>\n<b b>\n<>\n<last>\n' | od -An -c | tr -s ' ')" \
  "stdin -> stdout: stdout holds exactly the sink's lines"
contains "$(cat "$J/stderr")" "LOGGED <b b>" "ctx:log output goes to stderr"
! grep -q LOGGED "$J/stdout"
ok $? "no log line on stdout"

mkjob stdinjson <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "stdinjson" }
job:source("in", eddy.source.stdin{ format = "json" })
  :map(function(ev) return { n = ev.n * 2 } end)
  :sink(eddy.sink.stdout{ format = "json" })
return job
EOF
fresh_state
out=$(cd "$J" && printf '{"n":1}\n{"n":21}\n{"n":1.5}\n' | "$EDDY" run job.lua --state-dir "$ST" 2>"$J/stderr")
RC=$?
is "$RC" 0 "stdin json -> stdout json: exit 0"
is "$out" "$(printf '%s\n' '{"n":2}' '{"n":42}' '{"n":3.0}')" "stdin json -> stdout json: exact output"

fresh_state
out=$(cd "$J" && "$EDDY" run job.lua --state-dir "$ST" </dev/null 2>"$J/stderr")
RC=$?
is "$RC" 0 "empty stdin: exit 0"
is "$out" "" "empty stdin: no output"

# ---- script source ----------------------------------------------------------

mkjob script <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "script" }
job:source("gen", eddy.source.script{ path = "gen.lua" })
  :sink(eddy.sink.file{ path = "out.ndjson", format = "json" })
job:source("slow", eddy.source.script{ path = "gen.lua", interval_ms = 5 })
  :map(function(ev) return ev.n end)
  :sink(eddy.sink.file{ path = "slow.txt", format = "lines" })
return job
EOF
# Emits 1..25, seven per poll; the last call emits 22..25 and returns false.
cat >"$J/gen.lua" <<'EOF'
local N = 25
return { poll = function(ctx)
  local i = ctx.state.i or 0
  for _ = 1, 7 do
    if i >= N then ctx.state.i = i; return false end
    i = i + 1
    ctx:emit({ n = i })
  end
  ctx.state.i = i
  return true
end }
EOF
run_job
is "$RC" 0 "script source: exit 0 when poll returns false"
is "$(cat "$J/out.ndjson")" "$(for i in $(seq 1 25); do echo "{\"n\":$i}"; done)" \
  "script source: all 25 events in order, including those emitted in the final poll"
is "$(cat "$J/slow.txt")" "$(seq 1 25)" "script source with interval_ms: all 25 events"

# ---- tcp source -------------------------------------------------------------

mkjob tcp <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "tcp", checkpoint = { interval_ms = 200 } }
job:source("net", eddy.source.tcp{ host = "127.0.0.1",
    port = math.tointeger(tonumber(os.getenv("EDDY_TEST_PORT"))), format = "lines" })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# listening_or_gone PORT PID: the port accepts connections, or PID has exited.
listening_or_gone() { port_open "$1" || ! kill -0 "$2" 2>/dev/null; }

PID=
for attempt in 1 2 3 4 5; do
  PORT=$((20000 + RANDOM % 20000))
  port_open "$PORT" && continue          # somebody else listens there
  fresh_state
  (cd "$J" && EDDY_TEST_PORT=$PORT exec "$EDDY" run job.lua --state-dir "$ST") \
    >"$J/stdout" 2>"$J/stderr" &
  PID=$!
  if wait_up_to 10 listening_or_gone "$PORT" "$PID" && kill -0 "$PID" 2>/dev/null; then
    break
  fi
  kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
  PID=
done
[ -n "$PID" ]
ok $? "tcp source: the job listens on port $PORT"

if [ -n "$PID" ]; then
  # Three clients connected at once, their lines interleaved.
  exec 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT" 7<>"/dev/tcp/127.0.0.1/$PORT"
  : >"$J/sent.txt"
  for i in $(seq 1 100); do
    for fd in 5 6 7; do
      line="client$fd line $i"
      echo "$line" >&"$fd"
      echo "$line" >>"$J/sent.txt"
    done
  done
  # and a bigger burst from one of them
  for i in $(seq 1 500); do echo "burst $i"; done | tee -a "$J/sent.txt" >&6
  # a client whose last line has no newline before it closes
  printf 'client7 unterminated' >&7
  echo 'client7 unterminated' >>"$J/sent.txt"
  exec 5>&- 6>&- 7>&-
  wait_up_to 5 lines_in "$J/out.txt" 801
  kill -TERM "$PID"
  wait "$PID"
  RC=$?
  is "$RC" 0 "tcp source: exit 0 after SIGTERM"
  is "$(sort "$J/out.txt" | md5sum)" "$(sort "$J/sent.txt" | md5sum)" \
    "tcp source: the sink holds every line from the 3 clients, the unterminated last one too (sorted compare)"
  is "$(grep 'client6' "$J/out.txt" | head -3)" "$(printf 'client6 line %s\n' 1 2 3)" \
    "tcp source: one client's lines keep their order"
else
  ok 1 "tcp source: skipped, no port"; ok 1 "tcp source: skipped"; ok 1 "tcp source: skipped"
fi

# ---- file source with follow = true -------------------------------------------

mkjob follow <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "follow", checkpoint = { interval_ms = 200 } }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines", follow = true })
  :map(function(line) return "got " .. line end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf 'first\n' >"$J/in.txt"
fresh_state
(cd "$J" && exec "$EDDY" run job.lua --state-dir "$ST") >"$J/stdout" 2>"$J/stderr" &
PID=$!
has_line() { grep -qx "$2" "$1"; }
wait_for has_line "$J/out.txt" "got first"
ok $? "follow: the initial line reaches the sink"
printf 'second\nthi' >>"$J/in.txt"
wait_for has_line "$J/out.txt" "got second"
ok $? "follow: an appended line reaches the sink while the job runs"
sleep 0.2
printf 'rd\n' >>"$J/in.txt"
wait_for has_line "$J/out.txt" "got third"
ok $? "follow: a line appended in two pieces arrives whole"
for i in $(seq 1 50); do echo "more $i"; done >>"$J/in.txt"
wait_up_to 5 has_line "$J/out.txt" "got more 50"
kill -0 "$PID" 2>/dev/null
ok $? "follow: the job keeps running at the end of the file"
kill -TERM "$PID"
wait "$PID"
RC=$?
is "$RC" 0 "follow: exit 0 after SIGTERM"
is "$(cat "$J/out.txt")" "$(printf 'got %s\n' first second third; for i in $(seq 1 50); do echo "got more $i"; done)" \
  "follow: after SIGTERM the sink holds every line exactly once, in order"

# ---- a bounded and an unbounded source: the job runs on ----------------------

mkjob mixed <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "mixed", checkpoint = { interval_ms = 200 } }
local bounded = job:source("bounded", eddy.source.file{ path = "a.txt", format = "lines" })
local tail = job:source("tail", eddy.source.file{ path = "b.txt", format = "lines", follow = true })
bounded:union(tail):sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf 'a1\na2\n' >"$J/a.txt"
printf 'b1\n' >"$J/b.txt"
fresh_state
(cd "$J" && exec "$EDDY" run job.lua --state-dir "$ST") >"$J/stdout" 2>"$J/stderr" &
PID=$!
wait_for has_line "$J/out.txt" a2
wait_for has_line "$J/out.txt" b1
sleep 0.3
kill -0 "$PID" 2>/dev/null
ok $? "bounded + follow sources: the job keeps running after the bounded one is drained"
printf 'b2\n' >>"$J/b.txt"
wait_for has_line "$J/out.txt" b2
ok $? "bounded + follow sources: appended lines still arrive"
kill -TERM "$PID"; wait "$PID"
is "$?" 0 "bounded + follow sources: exit 0 after SIGTERM"
is "$(sort "$J/out.txt")" "$(printf '%s\n' a1 a2 b1 b2)" "bounded + follow sources: every line once"

# ---- lines sink and values it cannot write -------------------------------------

mkjob linesink <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "linesink" }
job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
job:dead_letter(eddy.sink.file{ path = "dead.ndjson" })
return job
EOF
printf '%s\n' '"text"' '{"t":1}' '7' '[1,2]' '0.5' >"$J/in.ndjson"
run_job
is "$RC" 0 "lines sink given tables: exit 0"
is "$(cat "$J/out.txt")" "$(printf '%s\n' text 7 0.5)" "lines sink: strings and numbers written, tables not"
python3 - "$J/dead.ndjson" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["event"] for r in recs] == [{"t": 1}, [1, 2]], recs
assert all(r["source"] == "in" and r.get("error") for r in recs), recs
EOF
ok $? "lines sink: each table goes to the dead-letter sink with its event"

# ---- follow = true across truncation and rotation (like tail -F) --------------

mkjob rotate <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "rotate", checkpoint = { interval_ms = 100 } }
job:source("in", eddy.source.file{ path = "rot.ndjson", format = "json", follow = true })
  :sink(eddy.sink.file{ path = "out.ndjson" })
return job
EOF
# rec N...: one {"r":N} line per argument.
rec() { printf '{"r":%s}\n' "$@"; }
# checkpointed_after FILE N: FILE logs two interval checkpoints after its first
# N lines (checkpoints are written in the background: the second one began
# after the line N was logged).
checkpointed_after() {
  [ "$(tail -n +"$(($2 + 1))" "$1" | grep -c 'checkpoint [0-9]* (interval)')" -ge 2 ]
}
R=$J/rot.ndjson
rec 0 1 >"$R"
fresh_state
(cd "$J" && exec "$EDDY" run job.lua --state-dir "$ST") >"$J/stdout" 2>"$J/stderr" &
PID=$!
wait_for has_line "$J/out.ndjson" '{"r":1}'
ok $? "follow rotation: the first records are read"
: >"$R"
rec 2 >>"$R"
wait_for has_line "$J/out.ndjson" '{"r":2}'
ok $? "follow truncation: a record appended after the file was truncated is read"
sleep 0.2
rec 3 >>"$R"
wait_for has_line "$J/out.ndjson" '{"r":3}'
ok $? "follow truncation: later appends are read too"
contains "$(cat "$J/stderr")" "warn: source in: $R was truncated" \
  "follow truncation: a warning names the source and the path"
rec 4 >>"$R"
mv "$R" "$J/rot.1"
rec 5 >>"$J/rot.1"
wait_for has_line "$J/out.ndjson" '{"r":5}'
ok $? "follow rotation: the renamed file is read to its end, appends after the rename too"
wait_for grep -q "$R is gone" "$J/stderr"
ok $? "follow rotation: a missing path is logged"
sleep 0.3
is "$(grep -c 'is gone' "$J/stderr")" 1 "follow rotation: the missing path is polled quietly (one log line)"
rec 6 >"$R"
wait_for has_line "$J/out.ndjson" '{"r":6}'
ok $? "follow rotation: a new file at the path is read from its start"
contains "$(cat "$J/stderr")" "info: source in: $R was rotated" "follow rotation: an info line tells of it"
printf '{"r":7}' >>"$R" # no newline: the old file's last line
mv "$R" "$J/rot.2"
rec 8 >"$R"
wait_for has_line "$J/out.ndjson" '{"r":8}'
ok $? "follow rotation: a file replaced at once is picked up"
has_line "$J/out.ndjson" '{"r":7}'
ok $? "follow rotation: the old file's unterminated last line is read before the new file"
N=$(wc -l <"$J/stderr")
wait_for checkpointed_after "$J/stderr" "$N"
ok $? "follow rotation: a checkpoint is taken after the rotation"
kill -KILL "$PID"
wait "$PID" 2>/dev/null
rec 9 >>"$R"
(cd "$J" && exec "$EDDY" run job.lua --state-dir "$ST") >"$J/stdout" 2>"$J/stderr2" &
PID=$!
wait_for has_line "$J/out.ndjson" '{"r":9}'
ok $? "follow rotation: after a crash the job reads on"
contains "$(cat "$J/stderr2")" "resuming $R at byte 8" \
  "follow rotation: recovery resumes the new file at the checkpointed offset"
kill -TERM "$PID"
wait "$PID"
is "$?" 0 "follow rotation: exit 0 after SIGTERM"
is "$(cat "$J/out.ndjson")" "$(rec 0 1 2 3 4 5 6 7 8 9)" \
  "follow rotation: every record once, in order, across truncation, rotations and a crash"
cp=$("$EDDY" checkpoints "$ST" | tail -1)
contains "$cp" "\"inode\":$(stat -c %i "$R")," "follow rotation: the last checkpoint records the new file's inode"
contains "$cp" '"offset":16' "follow rotation: and the offset in it"

# ---- one file per file sink ----------------------------------------------------
# Two file sinks on one file wrote at their own offsets over each other's
# bytes: that is a job-definition error now (exit 2, nothing written).
mkjob samefile <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "samefile" }
local s = job:source("in", eddy.source.file{ path = "in2.ndjson", format = "json" })
local long = s:map(function(ev) return { long = string.rep("x", 30), a = ev.a } end)
long:sink(eddy.sink.file{ path = "all.ndjson" })
s:map(function(ev) return { b = ev.a } end):sink(eddy.sink.file{ path = "./all.ndjson" })
return job
EOF
printf '{"a":1}\n{"a":2}\n' >"$J/in2.ndjson"
run_job
is "$RC" 2 "two file sinks on one file: exit 2"
contains "$(cat "$J/stderr")" "job.lua:6: sink 'all_2' writes $J/all.ndjson, which sink 'all' (job.lua:5) writes too" \
  "two file sinks on one file: the second sink's line and the file are named"
[ ! -e "$J/all.ndjson" ]
ok $? "two file sinks on one file: nothing is written"
sed -i 's#"./all.ndjson"#"b.ndjson"#' "$J/job.lua"
run_job
is "$RC" 0 "file sinks on files of their own: exit 0"
X30=$(printf 'x%.0s' {1..30})
is "$(cat "$J/all.ndjson" "$J/b.ndjson")" \
  "$(printf '{"a":1,"long":"%s"}\n{"a":2,"long":"%s"}\n{"b":1}\n{"b":2}' "$X30" "$X30")" \
  "file sinks on files of their own: each file holds its own lines intact"

# ---- follow = true on a file that does not exist yet: wait, like tail -F -----
mkjob later <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "later", checkpoint = { interval_ms = 100 } }
job:source("in", eddy.source.file{ path = "later.txt", format = "lines", follow = true })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
fresh_state
(cd "$J" && exec "$EDDY" run job.lua --state-dir "$ST") >"$J/stdout" 2>"$J/stderr" &
PID=$!
wait_for grep -q "later.txt does not exist yet: waiting for it" "$J/stderr"
ok $? "follow on a missing file: the job starts and says it waits"
kill -0 "$PID" 2>/dev/null
ok $? "follow on a missing file: and keeps running"
printf 'one\ntwo\n' >"$J/later.txt"
wait_for has_line "$J/out.txt" "two"
ok $? "follow on a missing file: once it appears its lines arrive"
printf 'three\n' >>"$J/later.txt"
wait_for has_line "$J/out.txt" "three"
ok $? "follow on a missing file: and it is tailed from then on"
kill -TERM "$PID"
wait "$PID"
is "$?" 0 "follow on a missing file: exit 0 after SIGTERM"
is "$(cat "$J/out.txt")" "$(printf 'one\ntwo\nthree')" "follow on a missing file: every line once"

# ---- follow: a rotation while eddy is down (after a kill -9) -----------------
# The lines the old file got after the last checkpoint are read from where
# it was renamed to, then the new file from its start: nothing is lost.
mkjob rotdown <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "rotdown", checkpoint = { interval_ms = 50 } }
job:source("in", eddy.source.file{ path = "app.log", format = "lines", follow = true })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf 'a1\na2\n' >"$J/app.log"
fresh_state
(cd "$J" && exec "$EDDY" run job.lua --state-dir "$ST") >"$J/stdout" 2>"$J/stderr" &
PID=$!
wait_for has_line "$J/out.txt" "a2"
wait_for grep -q "checkpoint [0-9]* (interval)" "$J/stderr"
sleep 0.2
kill -9 "$PID"
wait "$PID" 2>/dev/null
printf 'a3\na4\n' >>"$J/app.log"   # after the last checkpoint, before the rotation
mv "$J/app.log" "$J/app.log.1"
printf 'b1\nb2\n' >"$J/app.log"
(cd "$J" && exec "$EDDY" run job.lua --state-dir "$ST") >"$J/stdout" 2>"$J/stderr2" &
PID=$!
wait_for has_line "$J/out.txt" "b2"
ok $? "follow, rotated while down: the new file is read"
contains "$(cat "$J/stderr2")" "app.log was rotated to $J/app.log.1 since the checkpoint: reading its rest first" \
  "follow, rotated while down: the checkpoint's file is found under its new name"
kill -TERM "$PID"
wait "$PID"
is "$(cat "$J/out.txt")" "$(printf '%s\n' a1 a2 a3 a4 b1 b2)" \
  "follow, rotated while down: the old file's last lines and the new file's, each once, in order"

[ "$T_FAILED" -eq 0 ]
