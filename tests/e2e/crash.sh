#!/usr/bin/env bash
# Exactly-once after kill -9: a keyed count over a large file with a file
# sink and checkpoints every 100 ms is killed with SIGKILL at random moments
# (KILLS times, default 20), restarted each time with the same state dir,
# then allowed to finish. Its sink and `eddy state` must equal those of an
# uninterrupted run, byte for byte. `make soak` runs it with KILLS=200.
. "$(dirname "$0")/lib.sh"
KILLS=${KILLS:-20}
LINES=${LINES:-1000000}
RANDOM=${SEED:-42}
cd "$T_TMP"

awk -v n="$LINES" 'BEGIN { for (i = 1; i <= n; i++)
  printf "{\"k\":\"key%d\",\"v\":%d}\n", (i * 7919) % 5000, i }' > in.ndjson
mkdir -p ops
cat > ops/count.lua <<'LUA'
local M = {}
function M.process(ev, ctx)
  local st = ctx.state
  st.n = (st.n or 0) + 1
  st.sum = (st.sum or 0) + ev.v
  st.last = ev.v
  if st.n % 100 == 0 then st.hist = { ev.v, st.n, { nested = true } } end
  local x = 0
  for i = 1, 300 do x = x + i end -- some work, so a run lasts seconds
  ctx:emit({ k = ctx.key, n = st.n, sum = st.sum })
end
return M
LUA
cat > job.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "crash", checkpoint = { interval_ms = 100 } }
job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
  :key_by("k")
  :process("ops/count.lua")
  :sink(eddy.sink.file{ path = "out.ndjson" })
return job
LUA

"$EDDY" run job.lua --state-dir ref --log-level warn
ok $? "the uninterrupted run succeeds"
cp out.ndjson ref.out
"$EDDY" state ref > ref.state
ok $? "eddy state reads the reference run"
is "$(wc -l < ref.state)" "5000" "the reference state has 5000 keys"

rm -f out.ndjson
kill_runs job.lua crashed "$KILLS" "${MAX_CS:-30}"
kills=$KILLED
recovered=$(grep -c "recovered from checkpoint" crash.log)
echo "# $kills kills, $recovered recoveries"
"$EDDY" run job.lua --state-dir crashed --log-level warn
ok $? "the run after the kills finishes"
[ "$kills" -ge $((KILLS * 3 / 4)) ]
ok $? "the job was killed mid-run most of the time ($kills of $KILLS)"
[ "$recovered" -ge 3 ]
ok $? "restarts resumed from checkpoints ($recovered times)"
cmp -s ref.out out.ndjson
ok $? "the sink is byte-identical to the uninterrupted run's"
[ -s out.ndjson ] || ok 1 "sink is empty"
"$EDDY" state crashed > crashed.state
cmp -s ref.state crashed.state
ok $? "eddy state is identical to the uninterrupted run's"
if ! cmp -s ref.out out.ndjson; then
  diff <(sort ref.out | uniq -c | sort) <(sort out.ndjson | uniq -c | sort) | head -5 | sed 's/^/#   /'
fi
