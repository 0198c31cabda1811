#!/usr/bin/env bash
# cli.sh - the eddy command line: help, version, usage errors, and `eddy check`
# / `eddy run` on valid and broken job files (SPEC section 1 and 2).
. "$(dirname "$0")/lib.sh"

D=$T_TMP/jobs
mkdir -p "$D/ops" "$T_TMP/elsewhere"
# Run from the job directory; one test below runs from elsewhere on purpose.
cd "$D" || exit 1

# run_eddy ARGS...: runs eddy, leaving stdout in $OUT, stderr in $ERR, status in $RC.
run_eddy() {
  "$EDDY" "$@" >"$T_TMP/out" 2>"$T_TMP/err"
  RC=$?
  OUT=$(cat "$T_TMP/out")
  ERR=$(cat "$T_TMP/err")
}

# ---- help, version, usage errors -----------------------------------------

run_eddy --help
is "$RC" 0 "--help exits 0"
contains "$OUT" "run" "--help on stdout mentions run"
contains "$OUT" "check" "--help on stdout mentions check"

run_eddy --version
is "$RC" 0 "--version exits 0"
[[ "$OUT" =~ ^eddy\ [0-9]+\.[0-9]+(\.[0-9]+)?([-+.][0-9A-Za-z.-]+)?$ ]]
ok $? "--version prints 'eddy <version>' (got: $OUT)"

run_eddy frobnicate
is "$RC" 2 "unknown command exits 2"
contains "$ERR" "frobnicate" "unknown command is named on stderr"
is "$OUT" "" "unknown command prints nothing on stdout"

run_eddy run
is "$RC" 2 "run without a job file exits 2"

run_eddy check
is "$RC" 2 "check without a job file exits 2"

run_eddy run "$D/no-such-job.lua" --state-dir "$T_TMP/st-missing"
is "$RC" 2 "run on a missing job file exits 2"
contains "$ERR" "no-such-job.lua" "missing job file is named"

# ---- a valid job -------------------------------------------------------

cat >"$D/ops/upper.lua" <<'EOF'
local M = {}
function M.process(ev, ctx) return ev:upper() end
return M
EOF
printf 'a\nb\n' >"$D/in.txt"

cat >"$D/good.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "good" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :map("ops/upper.lua")
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF

echo "previous run" >"$D/out.txt"
run_eddy check "$D/good.lua"
is "$RC" 0 "check on a valid job exits 0"
is "$(cat "$D/out.txt")" "previous run" "check runs nothing (an existing sink file is left as it was)"
[ ! -e "$D/eddy-state" ]
ok $? "check runs nothing (no state dir created)"
is "$OUT" "" "check prints nothing on stdout"

run_eddy run "$D/good.lua" --state-dir "$T_TMP/st-good"
is "$RC" 0 "run on the valid job exits 0"
is "$(cat "$D/out.txt" 2>/dev/null)" "$(printf 'A\nB')" "run on the valid job writes its sink"

run_eddy run "$D/good.lua" --bogus-option x
is "$RC" 2 "run with an unknown option exits 2"
contains "$ERR" "--bogus-option" "the unknown option is named"

run_eddy run "$D/good.lua" --log-level shouting
is "$RC" 2 "run with an unknown log level exits 2"

cat >"$D/ops/chatty.lua" <<'EOF'
local M = {}
function M.process(ev, ctx) ctx:log("info", "CHATTY " .. ev); return ev end
return M
EOF
sed 's#ops/upper.lua#ops/chatty.lua#; s#"good"#"chatty"#; s#out.txt#chatty.txt#' "$D/good.lua" >"$D/chatty.lua"
run_eddy run "$D/chatty.lua" --state-dir "$T_TMP/st-chatty"
is "$RC" 0 "run with the default log level: exit 0"
contains "$ERR" "CHATTY a" "default log level shows ctx:log info messages on stderr"
run_eddy run "$D/chatty.lua" --state-dir "$T_TMP/st-chatty2" --log-level error
is "$RC" 0 "run --log-level error: exit 0"
[[ "$ERR" != *CHATTY* ]]
ok $? "--log-level error hides info messages"
is "$(cat "$D/chatty.txt")" "$(printf 'a\nb')" "--log-level does not change the output"

# SPEC 2: relative paths (scripts, data files) resolve against the job file's
# directory, whatever the working directory.
rm -f "$D/out.txt"
(cd "$T_TMP/elsewhere" && "$EDDY" check "$D/good.lua") >/dev/null 2>"$T_TMP/err"
ok $? "check from another directory resolves ops/ against the job dir ($(head -1 "$T_TMP/err"))"
(cd "$T_TMP/elsewhere" && "$EDDY" run "$D/good.lua" --state-dir "$T_TMP/st-good2") >/dev/null 2>"$T_TMP/err"
ok $? "run from another directory resolves ops/ and in.txt against the job dir"
is "$(cat "$D/out.txt" 2>/dev/null)" "$(printf 'A\nB')" "run from another directory writes the sink next to the job file"

# ---- broken jobs: each must give exit 2 with file:line from check and run ---

# expect_broken JOB NEEDLE... : check and run both exit 2 and stderr holds every needle.
expect_broken() {
  local job=$1 what=$2; shift 2
  local cmd needle
  for cmd in check run; do
    if [ "$cmd" = run ]; then
      run_eddy run "$D/$job" --state-dir "$T_TMP/st-$job"
    else
      run_eddy check "$D/$job"
    fi
    is "$RC" 2 "$cmd on $what exits 2"
    for needle in "$@"; do
      contains "$ERR" "$needle" "$cmd on $what: message contains '$needle'"
    done
  done
}

# job file with a syntax error on line 4
cat >"$D/syntax.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "syntax" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :map(function(ev) return ev end
  :sink(eddy.sink.stdout{})
return job
EOF
expect_broken syntax.lua "a job file with a syntax error" "syntax.lua:5"

# job file with an unknown source option on line 5
cat >"$D/badopt.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "badopt" }

local s = job:source("in",
  eddy.source.file{ path = "in.txt", formatt = "lines" })
s:sink(eddy.sink.stdout{})
return job
EOF
expect_broken badopt.lua "an unknown source option" "badopt.lua:5" "formatt"
# a DSL error names the job file's line itself: no traceback through eddy's
# own modules; an error of the job file's own code keeps its traceback
run_eddy check "$D/badopt.lua"
[[ "$ERR" != *"stack traceback"* && "$ERR" != *"eddy/init.lua"* ]]
ok $? "an unknown source option: no traceback through eddy's DSL"
cat >"$D/nilindex.lua" <<'EOF'
local eddy = require("eddy")
local settings = nil
local job = eddy.job{ name = settings.name }
return job
EOF
expect_broken nilindex.lua "a job file indexing nil" "nilindex.lua:3" "stack traceback"

# job file calling a stream method with a wrong argument on line 4
cat >"$D/badkey.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "badkey" }
local s = job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
local k = s:key_by(42)
k:sink(eddy.sink.stdout{})
return job
EOF
expect_broken badkey.lua "key_by with a number" "badkey.lua:4"

# job file that does not return a job
cat >"$D/noreturn.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "noreturn" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :sink(eddy.sink.stdout{})
EOF
expect_broken noreturn.lua "a job file returning nothing" "noreturn.lua"

# operator script with a syntax error on its line 3
cat >"$D/ops/broken.lua" <<'EOF'
local M = {}
function M.process(ev, ctx)
  return ev +
end
return M
EOF
cat >"$D/opsyntax.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "opsyntax" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :map("ops/broken.lua")
  :sink(eddy.sink.stdout{})
return job
EOF
expect_broken opsyntax.lua "an operator script with a syntax error" "broken.lua:4"

# operator script whose top level raises an error on line 2
cat >"$D/ops/raises.lua" <<'EOF'
local M = {}
error("boom at load time")
function M.process(ev, ctx) return ev end
return M
EOF
sed 's#ops/broken.lua#ops/raises.lua#; s#opsyntax#opraises#' "$D/opsyntax.lua" >"$D/opraises.lua"
expect_broken opraises.lua "an operator script raising at load" "raises.lua:2" "boom at load time"

# operator script without a process function
cat >"$D/ops/noprocess.lua" <<'EOF'
local M = {}
function M.open(ctx) end
return M
EOF
sed 's#ops/broken.lua#ops/noprocess.lua#; s#opsyntax#opnoproc#' "$D/opsyntax.lua" >"$D/opnoproc.lua"
expect_broken opnoproc.lua "an operator script without process" "noprocess.lua" "process"

# missing operator script
sed 's#ops/broken.lua#ops/does_not_exist.lua#; s#opsyntax#opmissing#' "$D/opsyntax.lua" >"$D/opmissing.lua"
expect_broken opmissing.lua "a missing operator script" "does_not_exist.lua"

# a broken script given to a script source
cat >"$D/srcbroken.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "srcbroken" }
job:source("gen", eddy.source.script{ path = "ops/broken.lua" })
  :sink(eddy.sink.stdout{})
return job
EOF
expect_broken srcbroken.lua "a script source with a syntax error" "broken.lua:4"

# ---- a file sink needs a file of its own (SPEC 4) ----------------------------
# Two file sinks, a file sink and a file source, or a file sink and the
# dead-letter sink on one file: each writer would overwrite the other's bytes.
# Paths count as one file once normalised against the job dir, and when they
# are the same existing file (a symlink).
printf '{"a":1}\n{"a":2}\n' >"$D/in2.ndjson"
mkdir -p "$D/sub"
# twosinks JOB PATH2: a job whose second sink (line 6) writes PATH2, the first
# (line 5) all.ndjson
twosinks() {
  cat >"$D/$1" <<EOF
local eddy = require("eddy")
local job = eddy.job{ name = "twosinks" }
local s = job:source("in", eddy.source.file{ path = "in2.ndjson", format = "json" })
local long = s:map(function(ev) return { long = string.rep("x", 40), a = ev.a } end)
long:sink(eddy.sink.file{ path = "all.ndjson" })
s:map(function(ev) return { b = ev.a } end):sink(eddy.sink.file{ path = "$2" })
return job
EOF
}
for spelling in all.ndjson ./all.ndjson sub/../all.ndjson "$D/all.ndjson" "$D//sub/./../all.ndjson"; do
  twosinks twosinks.lua "$spelling"
  expect_broken twosinks.lua "two file sinks on all.ndjson (as $spelling)" \
    "twosinks.lua:6: sink" "$D/all.ndjson, which sink 'all' (" "twosinks.lua:5) writes too"
done
[ ! -e "$D/all.ndjson" ]
ok $? "two file sinks on one file: the run writes nothing"
printf 'x\n' >"$D/target.ndjson"
ln -s target.ndjson "$D/link.ndjson"
twosinks symlink.lua link.ndjson
sed -i 's#"all.ndjson"#"target.ndjson"#' "$D/symlink.lua"
expect_broken symlink.lua "a file sink on a symlink to another sink's file" \
  "symlink.lua:6:" "(as $D/target.ndjson)"
twosinks distinct.lua sub/all.ndjson
run_eddy check "$D/distinct.lua"
is "$RC" 0 "two file sinks on different files (all.ndjson, sub/all.ndjson) are valid"

cat >"$D/intoinput.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "intoinput" }
local s = job:source("in", eddy.source.file{ path = "in2.ndjson", format = "json" })
s:sink(eddy.sink.file{ path = "sub/../in2.ndjson" })
return job
EOF
expect_broken intoinput.lua "a file sink writing into the job's file source" \
  "intoinput.lua:4:" "$D/in2.ndjson, which source 'in' (" "intoinput.lua:3) reads"
is "$(cat "$D/in2.ndjson")" "$(printf '{"a":1}\n{"a":2}')" "the source file is left as it was"
cat >"$D/tworeaders.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "tworeaders" }
job:source("a", eddy.source.file{ path = "in2.ndjson", format = "json" })
  :union(job:source("b", eddy.source.file{ path = "./in2.ndjson", format = "json" }))
  :sink(eddy.sink.file{ path = "tworeaders.ndjson" })
return job
EOF
run_eddy run "$D/tworeaders.lua" --state-dir "$T_TMP/st-tworeaders"
is "$RC" 0 "two file sources may read one file"
is "$(grep -c . "$D/tworeaders.ndjson")" 4 "two file sources on one file: each reads it all"

cat >"$D/deadsink.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "deadsink" }
job:dead_letter(eddy.sink.file{ path = "dead.ndjson" })
local s = job:source("in", eddy.source.file{ path = "in2.ndjson", format = "json" })
s:sink(eddy.sink.file{ path = "./dead.ndjson" })
return job
EOF
expect_broken deadsink.lua "a file sink on the dead-letter sink's file" \
  "deadsink.lua:5:" "which the dead-letter sink (" "deadsink.lua:3) writes too"
# the dead-letter sink declared last: the error is at its line
sed -i '3d' "$D/deadsink.lua"
sed -i '4a job:dead_letter(eddy.sink.file{ path = "dead.ndjson" })' "$D/deadsink.lua"
expect_broken deadsink.lua "the dead-letter sink on a file sink's file" \
  "deadsink.lua:5: the dead-letter sink writes $D/dead.ndjson, which sink 'dead' (" "deadsink.lua:4) writes too"
# the default dead-letter file is <state dir>/dead-letters.ndjson: checked
# against the state dir the run uses (--state-dir, also for check)
cat >"$D/deaddefault.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "deaddefault" }
local s = job:source("in", eddy.source.file{ path = "in2.ndjson", format = "json" })
s:sink(eddy.sink.file{ path = "st-dd/dead-letters.ndjson" })
return job
EOF
for cmd in check run; do
  run_eddy $cmd "$D/deaddefault.lua" --state-dir st-dd
  is "$RC" 2 "$cmd: a file sink on the default dead-letter file exits 2"
  contains "$ERR" "deaddefault.lua:4: sink 'dead-letters' writes $D/st-dd/dead-letters.ndjson, which the dead-letter sink (by default <state dir>/dead-letters.ndjson) writes too" \
    "$cmd: a file sink on the default dead-letter file: message names the line and the file"
done
run_eddy run "$D/deaddefault.lua" --state-dir "$T_TMP/st-dd-other"
is "$RC" 0 "the same sink with another state dir runs"

# ---- a job without a name is named after its file (SPEC 1: state dir) -----
# jobA.lua and jobB.lua, both without a name, must not share ./eddy-state/job
N=$T_TMP/noname
mkdir -p "$N/ops"
cat >"$N/ops/count.lua" <<'EOF'
local M = {}
function M.process(ev, ctx)
  ctx.state.n = (ctx.state.n or 0) + 1
  return ev .. " " .. ctx.state.n
end
return M
EOF
for j in jobA jobB; do
  cat >"$N/$j.lua" <<EOF
local eddy = require("eddy")
local job = eddy.job{ checkpoint = false }
job:source("in", eddy.source.file{ path = "$j.txt", format = "lines" })
  :map("ops/count.lua")
  :sink(eddy.sink.file{ path = "$j.out", format = "lines" })
return job
EOF
done
printf 'a1\na2\na3\n' >"$N/jobA.txt"
printf 'b1\nb2\n' >"$N/jobB.txt"
(cd "$N" && "$EDDY" run jobA.lua && "$EDDY" run ./jobB.lua) >/dev/null 2>"$T_TMP/err"
ok $? "two jobs without a name run one after the other"
[ -d "$N/eddy-state/jobA" ] && [ -d "$N/eddy-state/jobB" ] && [ ! -e "$N/eddy-state/job" ]
ok $? "their state dirs are ./eddy-state/jobA and ./eddy-state/jobB ($(ls "$N/eddy-state" 2>&1 | tr '\n' ' '))"
is "$(cat "$N/jobB.out" 2>/dev/null)" "$(printf 'b1 1\nb2 2')" "job B starts from nothing, not from job A's checkpoint"
is "$("$EDDY" state "$N/eddy-state/jobB" 2>&1)" '{"key":null,"operator":"count","state":{"n":2}}' "job B's state is its own"
(cd "$N" && "$EDDY" check jobA.lua) 2>&1 | grep -q "jobA.lua is valid"
ok $? "check on a job without a name"

# ---- operator names: defaults never take an explicit name (SPEC 2) --------
cat >"$D/opnames.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "opnames" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :map("ops/upper.lua"):map("ops/upper.lua"):map("ops/upper.lua", { name = "upper_2" })
  :sink(eddy.sink.file{ path = "opnames.txt", format = "lines" })
return job
EOF
run_eddy run "$D/opnames.lua" --state-dir "$T_TMP/st-opnames"
is "$RC" 0 "an explicit name a default would have taken: run exits 0"
is "$(grep -o 'operator upper[_0-9]*:' <<<"$ERR" | tr '\n' ' ')" "operator upper: operator upper_3: operator upper_2: " \
  "operators named upper, upper_3 (a default) and upper_2 (explicit), in order"
cat >"$D/opdup.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "opdup" }
local s = job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
local up = s:map("ops/upper.lua", { name = "up" })
up:map("ops/upper.lua", { name = "up" }):sink(eddy.sink.stdout{})
return job
EOF
expect_broken opdup.lua "two operators with one explicit name" \
  "opdup.lua:5: map: there is already an operator named 'up'"

# run on a broken job must not have produced any sink output on stdout
run_eddy run "$D/opsyntax.lua" --state-dir "$T_TMP/st-x"
is "$OUT" "" "run on a broken job prints nothing on stdout"

# ---- eddy state / eddy checkpoints on dirs without eddy state -------------------

mkdir -p "$T_TMP/empty"
for cmd in state checkpoints; do
  run_eddy "$cmd" "$T_TMP/empty"
  is "$RC" 1 "eddy $cmd on an empty dir exits 1"
  contains "$ERR" "no eddy state in $T_TMP/empty" "eddy $cmd on an empty dir: no eddy state"
  is "$(ls -A "$T_TMP/empty")" "" "eddy $cmd on an empty dir creates nothing in it"
done
run_eddy state "$T_TMP/not-there"
contains "$ERR" "no eddy state in $T_TMP/not-there" "eddy state on a missing dir: no eddy state"
[ ! -e "$T_TMP/not-there" ]
ok $? "eddy state on a missing dir creates nothing"

printf 'x\n' >"$T_TMP/regular"
run_eddy checkpoints "$T_TMP/regular"
is "$RC" 1 "eddy checkpoints on a regular file exits 1"
contains "$ERR" "no eddy state in $T_TMP/regular (not a directory)" \
  "eddy checkpoints on a regular file says it is not a directory"
[[ "$ERR" != *"locked"* ]]
ok $? "eddy checkpoints on a regular file does not claim a lock (got: $ERR)"

# a state dir whose db is a regular file: LevelDB's error, as it is
mkdir -p "$T_TMP/dbfile"
: >"$T_TMP/dbfile/db"
run_eddy state "$T_TMP/dbfile"
contains "$ERR" "no eddy state in $T_TMP/dbfile" "eddy state where db is a file: no eddy state"
run_eddy run "$D/good.lua" --state-dir "$T_TMP/dbfile"
is "$RC" 1 "run with a state dir whose db is a file exits 1"
contains "$ERR" "state dir $T_TMP/dbfile cannot be opened (IO error:" \
  "run with a state dir whose db is a file reports LevelDB's error"
[[ "$ERR" != *"locked"* ]]
ok $? "run with a state dir whose db is a file does not claim a lock (got: $ERR)"

# a real lock conflict: a running job holds the state dir
cat >"$D/tail.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "tail" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines", follow = true })
  :sink(eddy.sink.file{ path = "tail.txt", format = "lines" })
return job
EOF
"$EDDY" run "$D/tail.lua" --state-dir "$T_TMP/st-tail" 2>/dev/null &
PID=$!
wait_for grep -qx b "$D/tail.txt"
run_eddy checkpoints "$T_TMP/st-tail"
is "$RC" 1 "eddy checkpoints on a running job's state dir exits 1"
contains "$ERR" "state dir $T_TMP/st-tail is locked by another eddy process (IO error: lock " \
  "eddy checkpoints on a running job's state dir: locked by another eddy process"
kill -TERM "$PID"
wait "$PID"
run_eddy checkpoints "$T_TMP/st-tail"
is "$RC" 0 "eddy checkpoints once the job stopped exits 0"

# ---- eddy state: NaN and infinities print as null --------------------------
# State may hold them (SPEC); JSON cannot, so `eddy state` writes null (an
# infinite key as "inf"/"-inf") instead of hiding the key behind an error.
# A json sink still refuses them (the event goes to the dead letters).

cat >"$D/ops/nan.lua" <<'EOF'
local M = {}
function M.process(ev, ctx)
  ctx.state.nan, ctx.state.inf, ctx.state.ninf, ctx.state.n = 0/0, math.huge, -math.huge, 1
  ctx.state.t = { [math.huge] = "big", x = -math.huge }
  ctx:emit({ v = 0/0 })
end
return M
EOF
cat >"$D/nanstate.lua" <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "nanstate" }
job:source("in", eddy.source.file{ path = "nan.txt", format = "lines" })
  :key_by()
  :process("ops/nan.lua", { name = "s" })
  :sink(eddy.sink.file{ path = "nan.out" })
return job
EOF
printf 'k\n' >"$D/nan.txt"
run_eddy run "$D/nanstate.lua" --state-dir "$T_TMP/st-nan"
is "$RC" 0 "a job keeping NaN and inf in its state runs"
run_eddy state "$T_TMP/st-nan"
is "$RC" 0 "eddy state on a state holding NaN/inf exits 0"
is "$OUT" '{"key":"k","operator":"s","state":{"inf":null,"n":1,"nan":null,"ninf":null,"t":{"inf":"big","x":null}}}' \
  "eddy state prints NaN and infinities as null, an infinite key as \"inf\""
python3 -c 'import json, sys; [json.loads(l) for l in sys.stdin]' <<<"$OUT"
ok $? "eddy state output parses as JSON"
is "$(cat "$D/nan.out")" "" "a json sink still refuses NaN"
contains "$(cat "$T_TMP/st-nan/dead-letters.ndjson" 2>/dev/null)" "cannot encode NaN/inf" \
  "and the event goes to the dead letters"

# ---- a job without a name, beside an eddy-state/job of earlier eddys ---------
mkdir -p "$T_TMP/old/eddy-state/job"
cat >"$T_TMP/old/jobA.lua" <<'LUA'
local eddy = require("eddy")
local job = eddy.job{}
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
LUA
printf 'x\n' >"$T_TMP/old/in.txt"
(cd "$T_TMP/old" && "$EDDY" run jobA.lua) 2>"$T_TMP/err-old"
is "$?" 0 "a job without a name runs beside an old eddy-state/job"
contains "$(cat "$T_TMP/err-old")" 'set name = "job" or run with --state-dir eddy-state/job' \
  "and is told where the state of unnamed jobs used to go"
(cd "$T_TMP/old" && "$EDDY" run jobA.lua) 2>"$T_TMP/err-old"
if grep -q "no name" "$T_TMP/err-old"; then ok 1 "once its own state dir exists, no more"; else ok 0 "once its own state dir exists, no more"; fi

[ "$T_FAILED" -eq 0 ]
