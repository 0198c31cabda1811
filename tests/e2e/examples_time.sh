#!/usr/bin/env bash
# examples_time.sh - runs examples/keyed_timeout and examples/anomaly (event
# time, timers, windows) on their committed input and checks every output
# file exactly; a second run must give the same bytes.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# example NAME: a fresh copy of examples/NAME in $T_TMP/NAME; sets $J.
example() {
  J=$T_TMP/$1
  rm -rf "$J"
  cp -r "$ROOT/examples/$1" "$J"
  rm -rf "$J/out" "$J/eddy-state"
}

# run_example: eddy run job.lua in $J with its default state dir; $RC.
run_example() {
  (cd "$J" && "$EDDY" run job.lua) >"$J/stdout" 2>"$J/stderr"
  RC=$?
  [ "$RC" -eq 0 ] || sed 's/^/# stderr: /' "$J/stderr" | head -15
}

# ---- keyed_timeout ------------------------------------------------------------

example keyed_timeout
(cd "$J" && "$EDDY" check job.lua) >/dev/null 2>"$J/check.err"
ok $? "keyed_timeout: eddy check accepts the job"
run_example
is "$RC" 0 "keyed_timeout: exit 0"
# ana's 10th event at +900 starts a cooldown (+1000 and +1100 ignored); ana's
# event at +1950 is past it, so the reset (at +1900) comes first; bo's timeout at
# +1700 fires when that event moves the watermark to +1750. bo's 10th event at
# +2550, one ignored at +2600, reset at +3550 by the watermark. Quiet users time
# out a second after their newest event; the end of input fires the last two.
is "$(cat "$J/out/events.ndjson")" "$(cat <<'EOF'
{"at":1700000000900,"count":10,"event":"limit","user":"ana"}
{"at":1700000001900,"event":"reset","ignored":2,"user":"ana"}
{"at":1700000001700,"count":4,"event":"timeout","user":"bo"}
{"at":1700000002550,"count":10,"event":"limit","user":"bo"}
{"at":1700000002950,"count":1,"event":"timeout","user":"ana"}
{"at":1700000003300,"count":3,"event":"timeout","user":"cy"}
{"at":1700000003550,"event":"reset","ignored":1,"user":"bo"}
{"at":1700000004000,"count":1,"event":"timeout","user":"ana"}
{"at":1700000005000,"count":1,"event":"timeout","user":"cy"}
EOF
)" "keyed_timeout: limit, reset and timeout records, exactly"
is "$(cat "$J/out/late.ndjson")" '{"action":"click","ts":1700000000300,"user":"bo"}' \
  "keyed_timeout: the event 800 ms behind the newest goes to out/late.ndjson"
contains "$(cat "$J/stderr")" "1 late" "keyed_timeout: the late event is counted"
"$EDDY" state "$J/eddy-state/keyed_timeout" >"$J/state.txt" 2>&1
is "$?:$(cat "$J/state.txt")" "0:" "keyed_timeout: every user's state is cleared at the end"
cp "$J/out/events.ndjson" "$T_TMP/kt1.ndjson"
rm -rf "$J/out" "$J/eddy-state"
run_example
is "$(cat "$J/out/events.ndjson")" "$(cat "$T_TMP/kt1.ndjson")" "keyed_timeout: a second run gives the same bytes"

# ---- anomaly --------------------------------------------------------------------

example anomaly
(cd "$J" && "$EDDY" check job.lua) >/dev/null 2>"$J/check.err"
ok $? "anomaly: eddy check accepts the job"
run_example
is "$RC" 0 "anomaly: exit 0"
# s1 [10s,20s): 81.2 83.0 84.4 of 5 hot. s2 [0s,10s): 4 of 5. s3 [10s,20s): 85.5
# 86.0 of 3. s2 [20s,30s) is 2 of 4: 0.5 is not above the bound. s3's 96.0 at
# 9.2 s arrives after 11 s, within the 2 s bound: it counts in [0s,10s) (2 of 5).
is "$(cat "$J/out/alerts.ndjson")" "$(cat <<'EOF'
{"end":1700000010000,"hot":4,"readings":5,"sensor":"s2","share":0.8,"start":1700000000000}
{"end":1700000020000,"hot":3,"readings":5,"sensor":"s1","share":0.6,"start":1700000010000}
{"end":1700000020000,"hot":2,"readings":3,"sensor":"s3","share":0.6666666666666666,"start":1700000010000}
EOF
)" "anomaly: alerts for the windows with more than half of the readings above 80"
is "$(cat "$J/out/windows.ndjson")" "$(cat <<'EOF'
{"end":1700000010000,"hot":0,"readings":5,"sensor":"s1","share":0.0,"start":1700000000000}
{"end":1700000010000,"hot":4,"readings":5,"sensor":"s2","share":0.8,"start":1700000000000}
{"end":1700000010000,"hot":2,"readings":5,"sensor":"s3","share":0.4,"start":1700000000000}
{"end":1700000020000,"hot":3,"readings":5,"sensor":"s1","share":0.6,"start":1700000010000}
{"end":1700000020000,"hot":0,"readings":4,"sensor":"s2","share":0.0,"start":1700000010000}
{"end":1700000020000,"hot":2,"readings":3,"sensor":"s3","share":0.6666666666666666,"start":1700000010000}
{"end":1700000030000,"hot":0,"readings":5,"sensor":"s1","share":0.0,"start":1700000020000}
{"end":1700000030000,"hot":2,"readings":4,"sensor":"s2","share":0.5,"start":1700000020000}
{"end":1700000030000,"hot":0,"readings":2,"sensor":"s3","share":0.0,"start":1700000020000}
EOF
)" "anomaly: every window's counts on the side output windows (80.0 itself is not hot)"
is "$(cat "$J/out/late.ndjson")" "$(cat <<'EOF'
{"sensor":"s3","temp":97.5,"ts":1700000005000}
{"sensor":"s1","temp":99.0,"ts":1700000017000}
EOF
)" "anomaly: readings behind the watermark go to out/late.ndjson and change no window"
"$EDDY" state "$J/eddy-state/anomaly" >"$J/state.txt" 2>&1
is "$?:$(cat "$J/state.txt")" "0:" "anomaly: no window state is left once every window reported"
cp "$J/out/alerts.ndjson" "$T_TMP/an1.ndjson"
rm -rf "$J/out" "$J/eddy-state"
run_example
is "$(cat "$J/out/alerts.ndjson")" "$(cat "$T_TMP/an1.ndjson")" "anomaly: a second run gives the same bytes"

[ "$T_FAILED" -eq 0 ]
