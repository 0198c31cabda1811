#!/usr/bin/env bash
# limits.memory_mb: a job whose Lua heap outgrows the cap gets a clear
# error through on_error (or fails with exit 1), never a crash, even when
# the memory runs out inside the runtime's own Lua work.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP"
seq 1 200000 | awk '{ printf "{\"k\":\"key%d\",\"pad\":\"%0100d\"}\n", $1, $1 }' > in.ndjson
cat > hoard.lua <<'LUA'
local M = {}
function M.process(ev, ctx)
  ctx.state.pad = ev.pad .. ev.k        -- a new key and string per event
  ctx:emit(ev.k)
end
return M
LUA
cat > job_fail.lua <<LUA
local eddy = require("eddy")
local job = eddy.job{ name = "mem", limits = { memory_mb = 24 }, checkpoint = false,
  restart = { strategy = "none" } }
job:source("in", eddy.source.file{ path = "in.ndjson" })
  :key_by("k")
  :process("hoard.lua")
  :sink(eddy.sink.file{ path = "out_fail.ndjson" })
return job
LUA
"$EDDY" run job_fail.lua --state-dir st1 2>err1
rc=$?
is "$rc" "1" "a job whose state outgrows limits.memory_mb fails with exit 1 (not a crash)"
contains "$(cat err1)" "limits.memory_mb" "the message names limits.memory_mb"

# one poison event allocates far past the cap; the others are fine
printf '{"k":"a"}\n{"k":"b","big":true}\n{"k":"c"}\n' > small.ndjson
cat > spike.lua <<'LUA'
local M = {}
function M.process(ev, ctx)
  if ev.big then
    local t = {}
    for i = 1, 1e8 do t[i] = i end
  end
  ctx:emit(ev.k)
end
return M
LUA
cat > job_spike.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "spike", limits = { memory_mb = 32 }, checkpoint = false }
job:source("in", eddy.source.file{ path = "small.ndjson" })
  :process("spike.lua", { on_error = "dead_letter" })
  :sink(eddy.sink.file{ path = "spike.out", format = "lines" })
return job
LUA
"$EDDY" run job_spike.lua --state-dir st2 2>err2
is "$?" "0" "an event that runs out of memory under on_error = dead_letter: the job goes on, exit 0"
is "$(cat spike.out)" "a
c" "the other events are processed"
grep -q '"event":{"big":true,"k":"b"}' st2/dead-letters.ndjson && grep -q "limits.memory_mb" st2/dead-letters.ndjson
ok $? "the event is a dead letter whose error names limits.memory_mb"
