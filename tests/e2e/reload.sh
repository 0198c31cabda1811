#!/usr/bin/env bash
# Hot reload: a running job picks up a changed operator script (file watch
# and SIGHUP), keeps state, survives broken saves, migrates state when the
# version changes, and loses or repeats no event while reloading.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP"
mkdir -p ops
cat > ops/count.lua <<'LUA'
local M = {}
function M.process(ev, ctx)
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit({ k = ctx.key, n = ctx.state.n, v = 1 })
end
return M
LUA
cat > job.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "reload", checkpoint = { interval_ms = 100 } }
job:source("in", eddy.source.file{ path = "in.ndjson", follow = true })
  :key_by("k"):process("ops/count.lua"):sink(eddy.sink.file{ path = "out.ndjson" })
return job
LUA
: > in.ndjson
"$EDDY" run job.lua --state-dir st 2>err &
pid=$!
add() { printf '{"k":"%s"}\n' "$1" >> in.ndjson; }
lines() { wc -l < out.ndjson 2>/dev/null | tr -d ' '; }
# has_lines N / has_count PATTERN FILE N: for wait_for (evaluated each try)
has_lines() { [ "$(lines)" = "$1" ]; }
has_count() { [ "$(grep -c "$1" "$2")" -ge "$3" ]; }
add a; add a
wait_for has_lines 2
ok $? "the first version runs"

# save like an editor: write a temp file, rename it over the script
save() { cat > ops/.count.tmp; mv ops/.count.tmp ops/count.lua; }
save <<'LUA'
local M = {}
function M.process(ev, ctx)
  if ev.boom and once(ev.boom) then error("transient failure " .. ev.boom) end
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit({ k = ctx.key, n = ctx.state.n, v = 2 })
end
return M
LUA
wait_for grep -q "reloaded .*count.lua" err
ok $? "a saved script is reloaded"
add a
wait_for has_lines 3
is "$(tail -1 out.ndjson)" '{"k":"a","n":3,"v":2}' "the new version runs with the old state (count continues at 3)"

printf 'local M = {\nfunction M.process(ev, ctx) end\nreturn M\n' | save
wait_for grep -q "reload failed" err
ok $? "a syntax error does not stop the job"
contains "$(grep 'reload failed' err | tail -1)" "count.lua:2:" "the error names file:line"
add a
wait_for has_lines 4
is "$(tail -1 out.ndjson)" '{"k":"a","n":4,"v":2}' "the last good version keeps running"

printf 'error("broken at load")\n' | save
wait_for has_count 'reload failed' err 2
contains "$(grep 'reload failed' err | tail -1)" "broken at load" "a script that raises at top level is refused"
printf 'local M = {}\nreturn M\n' | save
wait_for has_count 'reload failed' err 3
contains "$(grep 'reload failed' err | tail -1)" "no process function" "a script without process is refused"
add a
wait_for has_lines 5
is "$(tail -1 out.ndjson)" '{"k":"a","n":5,"v":2}' "still the last good version"

# a version bump with migrate reshaping the state
save <<'LUA'
local M = { version = 2 }
function M.migrate(old, ctx, old_version)
  return { count = old.n, migrated_from = old_version, key = ctx.key }
end
function M.process(ev, ctx)
  ctx.state.count = ctx.state.count + 1
  ctx:emit({ k = ctx.key, n = ctx.state.count, v = 3 })
end
return M
LUA
wait_for grep -q "reloaded .*(version 2)" err
ok $? "version 2 is reloaded"
add a
wait_for has_lines 6
is "$(tail -1 out.ndjson)" '{"k":"a","n":6,"v":3}' "migrate reshaped the state: the count continues"
kill -USR1 $pid
wait_for grep -q "(signal)" err
is "$("$EDDY" checkpoints st >/dev/null 2>&1; echo x)" "x" "(checkpoint taken)"
sleep 0.2

# SIGHUP reloads (even without a file change)
kill -HUP $pid
wait_for has_count 'reloaded' err 3
ok $? "SIGHUP reloads every script"
kill -TERM $pid; wait $pid
ok $? "exit 0 after all that"
is "$("$EDDY" state st)" '{"key":"a","operator":"count","state":{"count":6,"key":"a","migrated_from":0}}' "eddy state shows the migrated state"
contains "$("$EDDY" checkpoints st | tail -1)" '"operators":{"count":{"hash":"' "checkpoints record the script's content hash"
contains "$("$EDDY" checkpoints st | tail -1)" '"version":2' "and its version"

# a reload under steady load loses and repeats nothing
cat > gen.lua <<'LUA'
return { poll = function(ctx)
  local i = ctx.state.i or 0
  if i >= 3000 then return false end
  for j = i + 1, i + 10 do ctx:emit({ k = "k" .. (j % 7), i = j }) end
  ctx.state.i = i + 10
end }
LUA
cat > ops/pass.lua <<'LUA'
local M = {}
function M.process(ev, ctx) ctx:emit({ i = ev.i, v = 1 }) end
return M
LUA
cat > load.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "load" }
job:source("gen", eddy.source.script{ path = "gen.lua", interval_ms = 2 })
  :key_by("k"):process("ops/pass.lua"):sink(eddy.sink.file{ path = "load.out" })
return job
LUA
"$EDDY" run load.lua --state-dir st2 2>err2 &
pid=$!
for v in 2 3 4 5; do
  sleep 0.1
  printf 'local M = {}\nfunction M.process(ev, ctx) ctx:emit({ i = ev.i, v = %d }) end\nreturn M\n' "$v" > ops/.p.tmp
  mv ops/.p.tmp ops/pass.lua
done
wait $pid
ok $? "the loaded job finishes"
is "$(python3 -c '
import json
rows = [json.loads(l) for l in open("load.out")]
ids = [r["i"] for r in rows]
print(len(ids), len(set(ids)), ids == sorted(ids), min(ids), max(ids))')" "3000 3000 True 1 3000" "every event once, in order, across reloads"
[ "$(grep -c 'reloaded' err2)" -ge 2 ]
ok $? "several reloads happened while it ran ($(grep -c 'reloaded' err2))"

# --- a restart resumes the code that ran, not a broken save on disk ---
# r.lua fails once per "boom" marker (a transient error), so each boom
# event costs one restart; with OPENFAIL present, open fails once.
mkdir -p rs && cd rs
cat > once.lua <<'LUA'
-- once(name): true the first time it is asked about name (a marker file)
return function(name)
  local f = io.open(name)
  if f then f:close() return false end
  f = io.open(name, "w"); f:write("x"); f:close()
  return true
end
LUA
cat > r.lua <<'LUA'
local M = {}
local once = dofile("once.lua")
function M.process(ev, ctx)
  if ev.boom and once(ev.boom) then error("transient failure " .. ev.boom) end
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit({ k = ctx.key, n = ctx.state.n, v = 1 })
end
return M
LUA
cat > job.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "rs", checkpoint = { interval_ms = 100 }, poison_after = 100,
  restart = { strategy = "fixed-delay", attempts = 10, delay_ms = 1500 } }
job:source("in", eddy.source.file{ path = "in.ndjson", follow = true })
  :key_by("k"):process("r.lua"):sink(eddy.sink.file{ path = "out.ndjson" })
return job
LUA
: > in.ndjson
"$EDDY" run job.lua --state-dir st 2>err &
pid=$!
add a
wait_for has_lines 1
printf 'local M = {\n' > .r.tmp && mv .r.tmp r.lua
wait_for grep -q "reload failed" err
printf '{"k":"a","boom":"m1"}\n' >> in.ndjson
wait_for has_count 'restart 1 in' err 1
wait_for grep -q "recovered from checkpoint" err
add a
wait_for has_lines 3
ok $? "a failure after a refused save restarts with the version that ran"
is "$(tail -1 out.ndjson)" '{"k":"a","n":3,"v":1}' "the running version goes on, state intact"
if grep -q "restart 1 failed" err; then ok 1 "the broken file on disk did not end the job"; else ok 0 "the broken file on disk did not end the job"; fi

# saved while the job waits to restart: taken after the restart
printf '{"k":"a","boom":"m2"}\n' >> in.ndjson
wait_for has_count 'restart 2 in' err 1
cat > .r.tmp <<'LUA'
local M = {}
local once = dofile("once.lua")
function M.open(ctx)
  local f = io.open("OPENFAIL")
  if f then f:close(); os.remove("OPENFAIL"); error("cannot open the lookup table") end
end
function M.process(ev, ctx)
  if ev.boom and once(ev.boom) then error("transient failure " .. ev.boom) end
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit({ k = ctx.key, n = ctx.state.n, v = 2 })
end
return M
LUA
mv .r.tmp r.lua
wait_for grep -q "reloaded .*r.lua" err
ok $? "a script saved during the restart delay is reloaded after the restart"
add a
wait_for has_lines 5
is "$(tail -1 out.ndjson)" '{"k":"a","n":5,"v":2}' "and runs (the boom event counted once too)"

# open failing at a restart: one more failure for the strategy, not the end
touch OPENFAIL
printf '{"k":"a","boom":"m3"}\n' >> in.ndjson
wait_for grep -q "restart 3 failed: .*cannot open the lookup table" err
ok $? "open failing at a restart is reported"
wait_for has_count 'restart 4 in' err 1
ok $? "and is one more failure for the strategy, which restarts again"
add a
wait_for has_lines 7
is "$(tail -1 out.ndjson)" '{"k":"a","n":7,"v":2}' "the job goes on after it"
kill -TERM $pid; wait $pid
ok $? "and stops cleanly"
cd ..
