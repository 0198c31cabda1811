#!/usr/bin/env bash
# bad_input.sh - undecodable and over-long input lines, dead letters, on_error
# policies, JSON number fidelity, stop signals, the state dir lock and the
# limits.event_ms watchdog (SPEC 1, 2, 4 and the limits of 6).
# Operator scripts live in tests/e2e/jobs/bad_input/ops (named by absolute
# path through $OPS); jobs and data are generated in $T_TMP.
. "$(dirname "$0")/lib.sh"

export OPS
OPS=$(cd "$(dirname "$0")/jobs/bad_input/ops" && pwd)

# mkjob NAME: makes $T_TMP/NAME holding job.lua (from stdin); sets $J.
mkjob() {
  J=$T_TMP/$1
  mkdir -p "$J"
  { echo 'local OPS = assert(os.getenv("OPS"))'; cat; } >"$J/job.lua"
}

# run_job [ARGS...]: runs $J/job.lua from $J; $RC, $J/stdout, $J/stderr, $ERR.
run_job() {
  (cd "$J" && "$EDDY" run job.lua "$@") >"$J/stdout" 2>"$J/stderr"
  RC=$?
  ERR=$(cat "$J/stderr")
}

# pycheck NAME SCRIPT ARGS...: runs python3 SCRIPT (an assertion script) as one test.
pycheck() {
  local name=$1 script=$2 out; shift 2
  out=$(python3 -c "$script" "$@" 2>&1)
  local rc=$?
  ok $rc "$name"
  [ $rc -eq 0 ] || printf '%s\n' "$out" | tail -5 | sed 's/^/#   /'
}

# wait_up_to SECONDS CMD...
wait_up_to() {
  local n=$(($1 * 20)) i; shift
  for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}
has_line() { [ -f "$1" ] && grep -qx "$2" "$1"; }

# ---- bad lines in a JSON file ---------------------------------------------------

mkjob badjson <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "badjson" }
job:source("events", eddy.source.file{ path = "in.ndjson", format = "json", max_line_bytes = 64 })
  :map(function(ev) return ev.n end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
LONG=$(printf '{"long":"%s"}' "$(head -c 200 /dev/zero | tr '\0' x)")
{
  echo '{"n":1}'
  echo '{"n":2'              # truncated object
  echo '{"n":3}'
  echo 'this is not json'    # invalid JSON
  echo "$LONG"               # over max_line_bytes
  echo '{"n":4}'
  echo '{"n":5} trailing'    # garbage after the document
  printf '{"n":6}'           # last line without newline
} >"$J/in.ndjson"
# byte offsets of the starts of the bad lines (2nd, 4th, 5th, 7th)
offsets=$(awk '{ print off; off += length($0) + 1 }' "$J/in.ndjson" | sed -n '2p;4p;5p;7p' | tr '\n' ' ')
set -- $offsets
P_TRUNC=$1 P_INVALID=$2 P_LONG=$3 P_TRAIL=$4
run_job --state-dir "$T_TMP/state-badjson"
is "$RC" 0 "bad lines: exit 0"
is "$(cat "$J/out.txt")" "$(printf '%s\n' 1 3 4 6)" "bad lines: every good line is still processed, in order"
for p in "$P_TRUNC" "$P_INVALID" "$P_LONG" "$P_TRAIL"; do
  [[ "$ERR" =~ events[^$'\n']*[^0-9]$p([^0-9]|$) ]]
  ok $? "bad lines: stderr names the source and byte position $p"
done
contains "$ERR" "max_line_bytes" "bad lines: the over-long line is reported as such"
DL=$T_TMP/state-badjson/dead-letters.ndjson
[ -f "$DL" ]
ok $? "bad lines: dead letters go to <state dir>/dead-letters.ndjson by default"
is "$(grep -c . "$DL" 2>/dev/null)" 4 "bad lines: one dead letter per bad line"
pycheck "bad lines: each dead letter has raw, source and position (byte offset of the line)" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = [(int(sys.argv[2]), "{\"n\":2"), (int(sys.argv[3]), "this is not json"),
        (int(sys.argv[4]), sys.argv[6]), (int(sys.argv[5]), "{\"n\":5} trailing")]
assert len(recs) == 4, recs
for r, (pos, raw) in zip(recs, want):
    assert r.get("source") == "events", r
    assert r.get("position") == pos, (r, pos)
    assert isinstance(r.get("raw"), str), r
    if raw is not None:
        assert r["raw"] == raw, r
    assert isinstance(r.get("error"), str) and r["error"], r
' "$DL" "$P_TRUNC" "$P_INVALID" "$P_LONG" "$P_TRAIL" "$LONG"

# the same in a lines source: only the over-long line is bad
mkjob badlines <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "badlines" }
job:source("text", eddy.source.file{ path = "in.txt", format = "lines", max_line_bytes = 16 })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf '%s\n' short 'exactly sixteen!' 'this line is far too long for the limit' 'after' >"$J/in.txt"
run_job --state-dir "$T_TMP/state-badlines"
is "$RC" 0 "lines source with an over-long line: exit 0"
is "$(cat "$J/out.txt")" "$(printf '%s\n' short 'exactly sixteen!' after)" \
  "lines source: a line of max_line_bytes passes, a longer one is dropped, the rest goes on"
pycheck "lines source: the over-long line is dead-lettered with source and position" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1, recs
assert recs[0]["source"] == "text" and recs[0]["position"] == 23, recs
' "$T_TMP/state-badlines/dead-letters.ndjson"

# bad lines on stdin
mkjob badstdin <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "badstdin" }
job:source("pipe", eddy.source.stdin{ format = "json" })
  :map(function(ev) return ev.n end)
  :sink(eddy.sink.stdout{ format = "lines" })
return job
EOF
out=$(cd "$J" && printf '{"n":1}\n{oops}\n{"n":2}\n' | "$EDDY" run job.lua --state-dir "$T_TMP/state-badstdin" 2>"$J/stderr")
is "$?" 0 "bad line on stdin: exit 0"
is "$out" "$(printf '1\n2')" "bad line on stdin: good lines still processed, stdout holds only them"
pycheck "bad line on stdin: dead letter with raw, source and position" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1, recs
assert recs[0]["raw"] == "{oops}" and recs[0]["source"] == "pipe" and recs[0]["position"] == 8, recs
' "$T_TMP/state-badstdin/dead-letters.ndjson"

# default state dir: ./eddy-state/<job name> under the working directory
mkdir -p "$T_TMP/cwd"
(cd "$T_TMP/cwd" && "$EDDY" run "$T_TMP/badjson/job.lua") >/dev/null 2>&1
is "$?" 0 "bad lines without --state-dir: exit 0"
is "$(grep -c . "$T_TMP/cwd/eddy-state/badjson/dead-letters.ndjson" 2>/dev/null)" 4 \
  "default state dir is ./eddy-state/<job name>: dead letters there"

# job:dead_letter(sink) redirects them
mkjob dlsink <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "dlsink" }
job:source("events", eddy.source.file{ path = "../badjson/in.ndjson", format = "json", max_line_bytes = 64 })
  :map(function(ev) return ev.n end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
job:dead_letter(eddy.sink.file{ path = "dead/letters.ndjson" })
return job
EOF
mkdir -p "$J/dead"
run_job --state-dir "$T_TMP/state-dlsink"
is "$RC" 0 "job:dead_letter: exit 0"
is "$(grep -c . "$J/dead/letters.ndjson" 2>/dev/null)" 4 "job:dead_letter: the named file holds the 4 dead letters"
[ ! -s "$T_TMP/state-dlsink/dead-letters.ndjson" ]
ok $? "job:dead_letter: nothing in the default dead-letter file"
pycheck "job:dead_letter: records are complete" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["raw"] for r in recs if r["raw"]][:2] == ["{\"n\":2", "this is not json"], recs
assert all(r["source"] == "events" for r in recs), recs
' "$J/dead/letters.ndjson"

# ---- bytes that are not UTF-8: JSON output stays valid -------------------------
# The JSON writer puts U+FFFD (EF BF BD) for ill-formed UTF-8; a dead letter of
# undecodable input also keeps the exact bytes in raw_base64. Dead letters of
# input that never reached an operator have "operator" and "key" null.

mkjob utf8 <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "utf8" }
job:source("events", eddy.source.file{ path = "in.ndjson", format = "json" })
  :map(function(ev) return ev.bytes and { s = "\255\254", e = "\u{e9}" } or ev end)
  :sink(eddy.sink.file{ path = "out.ndjson" })
job:source("text", eddy.source.file{ path = "in.txt", format = "lines",
                                     event_time = function(ev) return nil end })
  :sink(eddy.sink.file{ path = "text.ndjson" })
return job
EOF
{
  printf '{"a":"\xc3\x28"}\n'     # decodes (the decoder keeps the bytes)
  printf '{"bytes":true}\n'       # map returns "\255\254"
  printf '\xff\xfe bad\n'          # undecodable, not UTF-8
  printf 'not json\n'              # undecodable, UTF-8
} >"$J/in.ndjson"
printf '\xff\xfe bad\n' >"$J/in.txt" # a bad event time
run_job --state-dir "$T_TMP/state-utf8"
is "$RC" 0 "bytes that are not UTF-8: exit 0"
pycheck "json sink: ill-formed UTF-8 is written as U+FFFD, valid UTF-8 as it is" '
import json, sys
lines = open(sys.argv[1], "rb").read().splitlines()
recs = [json.loads(l.decode("utf-8")) for l in lines]
assert recs == [{"a": "\ufffd("}, {"e": "\u00e9", "s": "\ufffd\ufffd"}], recs
assert lines[1] == b"{\"e\":\"\xc3\xa9\",\"s\":\"\xef\xbf\xbd\xef\xbf\xbd\"}", lines
' "$J/out.ndjson"
pycheck "dead letters: valid JSON, raw with U+FFFD, raw_base64 with the exact bytes" '
import base64, json, sys
recs = [json.loads(l.decode("utf-8")) for l in open(sys.argv[1], "rb").read().splitlines()]
ev = [r for r in recs if "event" in r]
assert len(recs) == 3 and len(ev) == 1, recs
bad = [r for r in recs if r.get("raw") == "\ufffd\ufffd bad"]
good = [r for r in recs if r.get("raw") == "not json"]
assert len(bad) == 1 and len(good) == 1, recs
assert base64.b64decode(bad[0]["raw_base64"], validate=True) == b"\xff\xfe bad", bad
assert "raw_base64" not in good[0], good
assert ev[0]["event"] == "\ufffd\ufffd bad" and ev[0]["source"] == "text", ev
assert "event_time" in ev[0]["error"], ev
' "$T_TMP/state-utf8/dead-letters.ndjson"
pycheck "dead letters of undecodable input and bad event times: operator and key are null" '
import json, sys
recs = [json.loads(l.decode("utf-8")) for l in open(sys.argv[1], "rb").read().splitlines()]
assert len(recs) == 3, recs
for r in recs:
    assert "operator" in r and r["operator"] is None, r
    assert "key" in r and r["key"] is None, r
' "$T_TMP/state-utf8/dead-letters.ndjson"

# ---- operator errors and on_error ---------------------------------------------------

mkjob onerror <<'EOF'
local eddy = require("eddy")
local policy = os.getenv("POLICY")
if policy == "" then policy = nil end
local job = eddy.job{ name = "onerror", restart = { strategy = "none" } }
job:source("events", eddy.source.file{ path = "in.ndjson", format = "json" })
  :key_by("user")
  :process(OPS .. "/boom.lua", { on_error = policy })
  :map(function(ev) return ev.id end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
cat >"$J/in.ndjson" <<'EOF'
{"user":"ann","id":1}
{"user":"bob","id":2,"boom":true,"extra":[1,2.5,null]}
{"user":"ann","id":3}
{"user":"cid","id":4,"boom":true}
{"user":"bob","id":5}
EOF
# byte offset of line 2 (the first failing event)
P2=$(head -1 "$J/in.ndjson" | wc -c)

POLICY=skip run_job --state-dir "$T_TMP/state-skip"
is "$RC" 0 "on_error=skip: exit 0"
is "$(cat "$J/out.txt")" "$(printf '%s\n' 1 3 5)" "on_error=skip: failing events skipped, the job goes on"
[[ "$ERR" =~ 2\ skipped|skipped[^0-9]*2 ]]
ok $? "on_error=skip: the 2 skips are counted in the job's report"
[ ! -s "$T_TMP/state-skip/dead-letters.ndjson" ]
ok $? "on_error=skip: no dead letters"

POLICY=dead_letter run_job --state-dir "$T_TMP/state-dl"
is "$RC" 0 "on_error=dead_letter: exit 0"
is "$(cat "$J/out.txt")" "$(printf '%s\n' 1 3 5)" "on_error=dead_letter: the job goes on"
pycheck "on_error=dead_letter: records hold error, operator, key, source, position and event" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 2, recs
r = recs[0]
assert "kaboom on event 2" in r["error"], r
assert r["operator"] == "boom", r
assert r["key"] == "bob", r
assert r["source"] == "events", r
assert r["position"] == int(sys.argv[2]), r
assert r["event"] == {"user": "bob", "id": 2, "boom": True, "extra": [1, 2.5, None]}, r
assert type(r["event"]["id"]) is int, r
assert recs[1]["key"] == "cid" and recs[1]["event"]["id"] == 4, recs[1]
' "$T_TMP/state-dl/dead-letters.ndjson" "$P2"

POLICY= run_job --state-dir "$T_TMP/state-fail"
is "$RC" 1 "on_error default (fail): exit 1"
contains "$ERR" "boom" "fail: the message names the operator"
contains "$ERR" '"bob"' "fail: the message names the key"
contains "$ERR" "events" "fail: the message names the source"
contains "$ERR" "$P2" "fail: the message names the source position ($P2)"
contains "$ERR" "kaboom on event 2" "fail: the message holds the error"
contains "$ERR" "stack traceback" "fail: the message holds a Lua traceback"
contains "$ERR" "boom.lua:5" "fail: the traceback names the failing line"
! grep -qx 5 "$J/out.txt"
ok $? "fail: events after the failure are not processed"

POLICY=fail run_job --state-dir "$T_TMP/state-fail2"
is "$RC" 1 "on_error=fail: exit 1"

# ---- JSON values --------------------------------------------------------------------

mkjob values <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "values" }
local s = job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
s:sink(eddy.sink.file{ path = "same.ndjson", format = "json" })
s:map(function(ev)
    local t = math.type(ev.v) or type(ev.v)
    if ev.v == eddy.null then t = "eddy.null" end
    return { kind = t }
  end)
  :sink(eddy.sink.file{ path = "kinds.ndjson", format = "json" })
return job
EOF
cat >"$J/in.ndjson" <<'EOF'
{"v":1}
{"v":-42}
{"v":9007199254740993}
{"v":1.5}
{"v":2.0}
{"v":1e2}
{"v":null}
{"v":"caf\u00e9 \u2603 \ud83d\ude00 \"q\" \\ \/ \n"}
{"v":[1,2.0,null,{"w":null}]}
EOF
run_job --state-dir "$T_TMP/state-values"
is "$RC" 0 "JSON values: exit 0"
is "$(cat "$J/kinds.ndjson")" "$(printf '{"kind":"%s"}\n' integer integer integer float float float eddy.null string table)" \
  "JSON values: integers decode as Lua integers, 1.5/2.0/1e2 as floats, null as eddy.null"
is "$(sed -n '1,5p' "$J/same.ndjson")" "$(printf '%s\n' '{"v":1}' '{"v":-42}' '{"v":9007199254740993}' '{"v":1.5}' '{"v":2.0}')" \
  "JSON values: 1 stays 1, big integers keep every digit, 1.5 stays 1.5, 2.0 stays 2.0"
is "$(sed -n '7p' "$J/same.ndjson")" '{"v":null}' "JSON values: null round trips"
pycheck "JSON values: unicode escapes and the other escapes pass through; nested null and float kept" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 9, recs
assert recs[5]["v"] == 100.0 and type(recs[5]["v"]) is float, recs[5]
assert recs[7]["v"] == "caf\u00e9 \u2603 \U0001F600 \"q\" \\ / \n", repr(recs[7])
assert recs[8]["v"] == [1, 2.0, None, {"w": None}] and type(recs[8]["v"][1]) is float, recs[8]
' "$J/same.ndjson"

# ---- SIGINT / SIGTERM with a follow source -------------------------------------------

mkjob signals <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "signals" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines", follow = true })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
for sig in INT TERM; do
  printf 'x\ny\n' >"$J/in.txt"
  rm -f "$J/out.txt"
  (cd "$J" && exec "$EDDY" run job.lua --state-dir "$T_TMP/state-sig-$sig") >"$J/stdout" 2>"$J/stderr" &
  PID=$!
  wait_up_to 5 has_line "$J/out.txt" y
  sleep 0.2
  kill -0 "$PID" 2>/dev/null
  ok $? "SIG$sig: the follow job is still running before the signal"
  kill -"$sig" "$PID"
  wait "$PID"
  is "$?" 0 "SIG$sig: a running job with a follow source exits 0"
  is "$(cat "$J/out.txt" 2>/dev/null)" "$(printf 'x\ny')" "SIG$sig: the sink is flushed"
done

# ---- two processes, one state dir --------------------------------------------------

# The same follow job started twice on one state dir: the second must refuse
# to run (and must not touch the first one's sink file).
printf 'x\n' >"$J/in.txt"
rm -f "$J/out.txt"
(cd "$J" && exec "$EDDY" run job.lua --state-dir "$T_TMP/state-shared") >"$J/stdout" 2>"$J/stderr" &
PID=$!
wait_up_to 5 has_line "$J/out.txt" x
(cd "$J" && "$EDDY" run job.lua --state-dir "$T_TMP/state-shared") >"$T_TMP/second.out" 2>"$T_TMP/second.err"
RC=$?
ERR=$(cat "$T_TMP/second.err")
[ "$RC" -ne 0 ]
ok $? "a second job on a locked state dir fails (exit $RC)"
contains "$ERR" "locked" "the second job says the state dir is locked"
contains "$ERR" "state-shared" "the message names the state dir"
is "$(cat "$J/out.txt")" x "the second job did not touch the sink file"
kill -0 "$PID" 2>/dev/null
ok $? "the first job is still running"
printf 'y\n' >>"$J/in.txt"
wait_up_to 5 has_line "$J/out.txt" y
is "$(cat "$J/out.txt")" "$(printf 'x\ny')" "the first job goes on undisturbed"
kill -TERM "$PID"; wait "$PID"
is "$?" 0 "the first job exits 0 on SIGTERM"
# once the first job is gone, the lock is free again
(cd "$J" && exec "$EDDY" run job.lua --state-dir "$T_TMP/state-shared") >"$J/stdout" 2>"$J/stderr" &
PID=$!
printf 'z\n' >>"$J/in.txt"
wait_up_to 5 has_line "$J/out.txt" z
kill -0 "$PID" 2>/dev/null
ok $? "after the first job ended, the state dir can be used again"
kill -TERM "$PID"; wait "$PID"
is "$?" 0 "the rerun exits 0 on SIGTERM"
is "$(cat "$J/out.txt")" "$(printf 'x\ny\nz')" "the rerun's sink holds every line once"

# ---- limits.event_ms -----------------------------------------------------------------

mkjob runaway <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "runaway", limits = { event_ms = 200 },
                      restart = { strategy = "none" } }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :map(OPS .. "/" .. os.getenv("SCRIPT"), { on_error = os.getenv("POLICY") })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf 'a\nspin\nb\n' >"$J/in.txt"
for script in spin.lua spin_pcall.lua; do
  SCRIPT=$script POLICY=fail timeout 60 bash -c 'cd "$1" && exec "$2" run job.lua --state-dir "$3"' _ \
    "$J" "$EDDY" "$T_TMP/state-runaway-$script" >"$J/stdout" 2>"$J/stderr"
  RC=$?
  ERR=$(cat "$J/stderr")
  is "$RC" 1 "runaway $script with limits.event_ms = 200: exit 1 (not hanging)"
  contains "$ERR" "limits.event_ms" "runaway $script: the message mentions limits.event_ms"
  contains "$ERR" "${script%.lua}" "runaway $script: the message names the operator"
done
SCRIPT=spin_pcall.lua POLICY=dead_letter timeout 60 bash -c 'cd "$1" && exec "$2" run job.lua --state-dir "$3"' _ \
  "$J" "$EDDY" "$T_TMP/state-runaway-dl" >"$J/stdout" 2>"$J/stderr"
is "$?" 0 "runaway with on_error=dead_letter: exit 0"
is "$(cat "$J/out.txt")" "$(printf 'a\nb')" "runaway with on_error=dead_letter: the other events go on"
pycheck "runaway with on_error=dead_letter: the event is dead-lettered with the limit error" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1 and recs[0]["event"] == "spin", recs
assert "limits.event_ms" in recs[0]["error"], recs
' "$T_TMP/state-runaway-dl/dead-letters.ndjson"

[ "$T_FAILED" -eq 0 ]
