#!/usr/bin/env bash
# A union of two file sources replays in the same order after kill -9 (and
# after SIGUSR1 checkpoints in the middle of a read): an operator whose
# output depends on the order (it numbers the events it sees) writes the
# same bytes as an uninterrupted run. Files are read in turns that end at
# the same file offsets whatever offset reading resumed from.
. "$(dirname "$0")/lib.sh"
KILLS=${KILLS:-12}
RANDOM=${SEED:-7}
cd "$T_TMP"

awk 'BEGIN { for (i = 1; i <= 60000; i++) printf "{\"s\":\"a\",\"i\":%d}\n", i }' > a.ndjson
awk 'BEGIN { for (i = 1; i <= 40000; i++)
  printf "{\"s\":\"b\",\"i\":%d,\"pad\":\"%s\"}\n", i, substr("xxxxxxxxxxxxxxxxxxxx", 1, i % 20) }' > b.ndjson
cat > seq.lua <<'LUA'
local M = {}
function M.process(ev, ctx)
  ctx.state.n = (ctx.state.n or 0) + 1
  local x = 0
  for i = 1, 3000 do x = x + i end -- some work, so a run lasts a while
  return { n = ctx.state.n, s = ev.s, i = ev.i }
end
return M
LUA
cat > job.lua <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "union", checkpoint = { interval_ms = 50 } }
local a = job:source("a", eddy.source.file{ path = "a.ndjson" })
local b = job:source("b", eddy.source.file{ path = "b.ndjson" })
a:union(b):map("seq.lua"):sink(eddy.sink.file{ path = "out.ndjson" })
return job
LUA

"$EDDY" run job.lua --state-dir ref --log-level warn
ok $? "the uninterrupted run succeeds"
cp out.ndjson ref.out
is "$(wc -l < ref.out | tr -d ' ')" "100000" "it saw every event of both files"
grep -q '"s":"a"' ref.out && grep -q '"s":"b"' ref.out
ok $? "both sources feed the union"

# SIGUSR1 in the middle of reads: checkpoints between two events, and the
# sources still take their turns in the same order
rm -f out.ndjson
"$EDDY" run job.lua --state-dir usr1 --log-level warn &
pid=$!
for i in 1 2 3 4 5 6; do sleep 0.05; kill -USR1 "$pid" 2>/dev/null; done
wait "$pid"
ok $? "a run with SIGUSR1s succeeds"
cmp -s ref.out out.ndjson
ok $? "SIGUSR1 checkpoints do not change the union's order"

rm -f out.ndjson
kill_runs job.lua crashed "$KILLS" 30 usr1
recovered=$(grep -c "recovered from checkpoint" crash.log)
echo "# $KILLED kills, $recovered recoveries"
"$EDDY" run job.lua --state-dir crashed --log-level warn
ok $? "the run after the kills finishes"
[ "$recovered" -ge 3 ]
ok $? "restarts resumed from checkpoints ($recovered times)"
cmp -s ref.out out.ndjson
ok $? "the union's sink is byte-identical to the uninterrupted run's"
if ! cmp -s ref.out out.ndjson; then
  cmp ref.out out.ndjson | sed 's/^/#   /'
fi

[ "$T_FAILED" -eq 0 ]
