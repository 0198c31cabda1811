#!/usr/bin/env bash
# windows.sh - eddy.window (lua/eddy/window.lua) through the binary: tumbling,
# sliding and session windows with each aggregate against hand-computed
# results, emit and offset options, a window over a window's results (time),
# out-of-order input within max_out_of_orderness_ms, late events on the side
# output `late`, allowed lateness updates, option errors, window state across
# a stop and a resume, and across kill -9.
#
# Every job here reads in.ndjson with event_time = "t" and keys by "k". The
# source's watermark is the largest t seen minus max_out_of_orderness_ms; an
# event below the watermark is late; a window [start, end) emits when the
# watermark reaches end, and at the end of the input (watermark +infinity)
# every pending window emits, in time order, keys in ascending order.
. "$(dirname "$0")/lib.sh"

STATE_N=0

# mkjob NAME: makes $T_TMP/NAME holding job.lua (from stdin); sets $J.
mkjob() {
  J=$T_TMP/$1
  mkdir -p "$J"
  cat >"$J/job.lua"
}

# op FILE: writes the operator script $J/FILE from stdin.
op() { cat >"$J/$1"; }

# winjob NAME BOUND: a job with one window operator, $J/win.lua, keyed by k;
# main output to out.ndjson, side output late to late.ndjson.
winjob() {
  mkjob "$1" <<EOF
local eddy = require("eddy")
local job = eddy.job{ name = "$1" }
local w = job:source("in", eddy.source.file{ path = "in.ndjson", event_time = "t",
                                             max_out_of_orderness_ms = $2 })
  :key_by("k")
  :process("win.lua", { on_error = "dead_letter" })
w:sink(eddy.sink.file{ path = "out.ndjson" })
w:side("late"):sink(eddy.sink.file{ path = "late.ndjson" })
job:dead_letter(eddy.sink.file{ path = "dead.ndjson" })
return job
EOF
}

# run_job: runs $J/job.lua from $J with a fresh state dir; $RC, $J/stdout, $J/stderr.
run_job() {
  STATE_N=$((STATE_N + 1))
  STATE=$T_TMP/state/$STATE_N
  (cd "$J" && "$EDDY" run job.lua --state-dir "$STATE") >"$J/stdout" 2>"$J/stderr"
  RC=$?
  [ "$RC" -eq 0 ] || sed 's/^/# stderr: /' "$J/stderr" | head -15
}

# lines FILE: the file's lines (empty when it does not exist).
lines() { cat "$J/$1" 2>/dev/null; }

# ---- tumbling: count over two keys ---------------------------------------------

winjob tumbling_count 0
op win.lua <<'EOF'
local window = require("eddy.window")
return window.tumbling{ size_ms = 10, aggregate = "count" }
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"a","t":1}
{"k":"b","t":2}
{"k":"a","t":3}
{"k":"a","t":9}
{"k":"b","t":10}
{"k":"a","t":12}
{"k":"b","t":15}
{"k":"a","t":25}
{"k":"b","t":40}
EOF
run_job
is "$RC" 0 "tumbling count: exit 0"
# a: [0,10) 1 3 9; [10,20) 12; [20,30) 25. b: [0,10) 2; [10,20) 10 15; [40,50) 40.
# [0,10) of both keys closes when b@10 moves the watermark to 10; [40,50) at the end.
is "$(lines out.ndjson)" "$(cat <<'EOF'
{"end":10,"key":"a","start":0,"value":3}
{"end":10,"key":"b","start":0,"value":1}
{"end":20,"key":"a","start":10,"value":1}
{"end":20,"key":"b","start":10,"value":2}
{"end":30,"key":"a","start":20,"value":1}
{"end":50,"key":"b","start":40,"value":1}
EOF
)" "tumbling count: one result per key and window, [start, end), in watermark order"
is "$(lines late.ndjson)" "" "tumbling count: in-order input has no late events"
"$EDDY" state "$STATE" >"$J/state.txt" 2>&1
is "$?:$(grep -c '"operator":"win"' "$J/state.txt")" "0:0" "tumbling count: every window's state is dropped once it fired"

# ---- tumbling: every built-in aggregate, a reduce, emit, offset ------------------

mkjob tumbling_aggs <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "tumbling_aggs" }
local keyed = job:source("in", eddy.source.file{ path = "in.ndjson", event_time = "t" })
  :key_by("k")
for _, agg in ipairs({ "count", "sum", "min", "max", "avg", "reduce", "offset" }) do
  keyed:process(agg .. ".lua"):sink(eddy.sink.file{ path = agg .. ".ndjson" })
end
return job
EOF
for agg in count sum min max avg; do
  op $agg.lua <<EOF
return require("eddy.window").tumbling{ size_ms = 10, aggregate = "$agg", field = "v" }
EOF
done
# a reduce with a table accumulator changed in place, result and emit
op reduce.lua <<'EOF'
local window = require("eddy.window")
return window.tumbling{
  size_ms = 10,
  aggregate = {
    init = function() return { n = 0, vs = {} } end,
    add = function(acc, ev, ts) acc.n = acc.n + 1; acc.vs[acc.n] = ev.v .. "@" .. ts end,
    result = function(acc) return table.concat(acc.vs, " ") end,
  },
  emit = function(key, start, stop, value, update)
    return string.format("%s [%d,%d) %s %s", key, start, stop, value, tostring(update))
  end,
}
EOF
# windows [-3,7), [7,17), ...: offset_ms shifts the grid; field as a function
op offset.lua <<'EOF'
local window = require("eddy.window")
return window.tumbling{ size_ms = 10, offset_ms = 7, aggregate = "sum",
                        field = function(ev) return ev.v * 2 end,
                        emit = function(key, start, stop, value)
                          return { k = key, w = start .. ".." .. stop, sum2 = value }
                        end }
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"a","t":1,"v":5}
{"k":"b","t":3,"v":2.5}
{"k":"a","t":4,"v":-2}
{"k":"a","t":7,"v":10}
{"k":"b","t":8,"v":1}
{"k":"a","t":12,"v":7}
{"k":"b","t":31,"v":4}
EOF
run_job
is "$RC" 0 "tumbling aggregates: exit 0"
is "$(lines count.ndjson)" "$(cat <<'EOF'
{"end":10,"key":"a","start":0,"value":3}
{"end":10,"key":"b","start":0,"value":2}
{"end":20,"key":"a","start":10,"value":1}
{"end":40,"key":"b","start":30,"value":1}
EOF
)" "tumbling count"
is "$(lines sum.ndjson)" "$(cat <<'EOF'
{"end":10,"key":"a","start":0,"value":13}
{"end":10,"key":"b","start":0,"value":3.5}
{"end":20,"key":"a","start":10,"value":7}
{"end":40,"key":"b","start":30,"value":4}
EOF
)" "tumbling sum: integers stay integers, a float makes a float"
is "$(lines min.ndjson)" "$(cat <<'EOF'
{"end":10,"key":"a","start":0,"value":-2}
{"end":10,"key":"b","start":0,"value":1}
{"end":20,"key":"a","start":10,"value":7}
{"end":40,"key":"b","start":30,"value":4}
EOF
)" "tumbling min"
is "$(lines max.ndjson)" "$(cat <<'EOF'
{"end":10,"key":"a","start":0,"value":10}
{"end":10,"key":"b","start":0,"value":2.5}
{"end":20,"key":"a","start":10,"value":7}
{"end":40,"key":"b","start":30,"value":4}
EOF
)" "tumbling max"
is "$(lines avg.ndjson)" "$(cat <<'EOF'
{"end":10,"key":"a","start":0,"value":4.333333333333333}
{"end":10,"key":"b","start":0,"value":1.75}
{"end":20,"key":"a","start":10,"value":7.0}
{"end":40,"key":"b","start":30,"value":4.0}
EOF
)" "tumbling avg"
is "$(lines reduce.ndjson)" "$(cat <<'EOF'
"a [0,10) 5@1 -2@4 10@7 false"
"b [0,10) 2.5@3 1@8 false"
"a [10,20) 7@12 false"
"b [30,40) 4@31 false"
EOF
)" "tumbling with a reduce {init, add, result} and emit(key, start, end, value, update)"
# a: [-3,7) 1 4 -> (5-2)*2 = 6; [7,17) 7 12 -> 34. b: [-3,7) 3 -> 5.0; [7,17) 8 -> 2; [27,37) 31 -> 8
is "$(lines offset.ndjson)" "$(cat <<'EOF'
{"k":"a","sum2":6,"w":"-3..7"}
{"k":"b","sum2":5.0,"w":"-3..7"}
{"k":"a","sum2":34,"w":"7..17"}
{"k":"b","sum2":2,"w":"7..17"}
{"k":"b","sum2":8,"w":"27..37"}
EOF
)" "tumbling with offset_ms (windows start at 7 + 10n) and field as a function"

# ---- sliding ------------------------------------------------------------------

mkjob sliding <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "sliding" }
local keyed = job:source("in", eddy.source.file{ path = "in.ndjson", event_time = "t" })
  :key_by("k")
keyed:process("sum.lua"):sink(eddy.sink.file{ path = "sum.ndjson" })
keyed:process("count.lua"):sink(eddy.sink.file{ path = "count.ndjson" })
keyed:process("min.lua"):sink(eddy.sink.file{ path = "min.txt", format = "lines" })
keyed:process("max.lua"):sink(eddy.sink.file{ path = "max.txt", format = "lines" })
return job
EOF
op sum.lua <<'EOF'
return require("eddy.window").sliding{ size_ms = 10, slide_ms = 5, aggregate = "sum", field = "v" }
EOF
op count.lua <<'EOF'
return require("eddy.window").sliding{ size_ms = 10, slide_ms = 4, aggregate = "count" }
EOF
for agg in min max; do
  op $agg.lua <<EOF
return require("eddy.window").sliding{ size_ms = 6, slide_ms = 3, aggregate = "$agg", field = "v",
  emit = function(k, s, e, v) return k .. " [" .. s .. "," .. e .. ") $agg " .. v end }
EOF
done
cat >"$J/in.ndjson" <<'EOF'
{"k":"x","t":1,"v":1}
{"k":"x","t":6,"v":2}
{"k":"x","t":12,"v":4}
{"k":"x","t":14,"v":8}
{"k":"x","t":27,"v":16}
EOF
run_job
is "$RC" 0 "sliding: exit 0"
# size 10, slide 5: 1 -> [-5,5) [0,10); 6 -> [0,10) [5,15); 12, 14 -> [5,15) [10,20);
# 27 -> [20,30) [25,35)
is "$(lines sum.ndjson)" "$(cat <<'EOF'
{"end":5,"key":"x","start":-5,"value":1}
{"end":10,"key":"x","start":0,"value":3}
{"end":15,"key":"x","start":5,"value":14}
{"end":20,"key":"x","start":10,"value":12}
{"end":30,"key":"x","start":20,"value":16}
{"end":35,"key":"x","start":25,"value":16}
EOF
)" "sliding sum (size 10, slide 5): each event in size/slide windows"
# size 10, slide 4 (not a divisor): 1 -> [-8,2) [-4,6) [0,10); 6 -> [0,10) [4,14);
# 12 -> [4,14) [8,18) [12,22); 14 -> [8,18) [12,22); 27 -> [20,30) [24,34)
is "$(lines count.ndjson)" "$(cat <<'EOF'
{"end":2,"key":"x","start":-8,"value":1}
{"end":6,"key":"x","start":-4,"value":1}
{"end":10,"key":"x","start":0,"value":2}
{"end":14,"key":"x","start":4,"value":2}
{"end":18,"key":"x","start":8,"value":2}
{"end":22,"key":"x","start":12,"value":2}
{"end":30,"key":"x","start":20,"value":1}
{"end":34,"key":"x","start":24,"value":1}
EOF
)" "sliding count (size 10, slide 4): windows overlap unevenly"
# size 6, slide 3: 1 -> [-3,3) [0,6); 6 -> [3,9) [6,12); 12 -> [9,15) [12,18);
# 14 -> [9,15) [12,18); 27 -> [24,30) [27,33)
is "$(lines min.txt)" "$(cat <<'EOF'
x [-3,3) min 1
x [0,6) min 1
x [3,9) min 2
x [6,12) min 2
x [9,15) min 4
x [12,18) min 4
x [24,30) min 16
x [27,33) min 16
EOF
)" "sliding min (size 6, slide 3), emit to a lines sink"
is "$(lines max.txt)" "$(cat <<'EOF'
x [-3,3) max 1
x [0,6) max 1
x [3,9) max 2
x [6,12) max 2
x [9,15) max 8
x [12,18) max 8
x [24,30) max 16
x [27,33) max 16
EOF
)" "sliding max (size 6, slide 3)"

# ---- cascade: per-10 counts summed per 30, on the windows' start --------------

mkjob cascade <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "cascade" }
local per10 = job:source("in", eddy.source.file{ path = "in.ndjson", event_time = "t" })
  :key_by("k")
  :process("per10.lua")
per10:sink(eddy.sink.file{ path = "per10.ndjson" })
per10:key_by("key"):process("per30.lua"):sink(eddy.sink.file{ path = "per30.ndjson" })
return job
EOF
op per10.lua <<'EOF'
return require("eddy.window").tumbling{ size_ms = 10, aggregate = "count" }
EOF
# a result's timestamp is its window's end: time = "start" puts it in the
# downstream window that holds the upstream window
op per30.lua <<'EOF'
return require("eddy.window").tumbling{ size_ms = 30, aggregate = "sum", field = "value",
                                        time = "start" }
EOF
{ echo '{"k":"a","t":1}'; echo '{"k":"b","t":3}'; printf '{"k":"a","t":%d}\n' 5 12 25 28 29 31 65; } >"$J/in.ndjson"
run_job
is "$RC" 0 "cascade: exit 0"
is "$(lines per10.ndjson)" "$(cat <<'EOF'
{"end":10,"key":"a","start":0,"value":2}
{"end":10,"key":"b","start":0,"value":1}
{"end":20,"key":"a","start":10,"value":1}
{"end":30,"key":"a","start":20,"value":3}
{"end":40,"key":"a","start":30,"value":1}
{"end":70,"key":"a","start":60,"value":1}
EOF
)" "cascade: the per-10 counts"
is "$(lines per30.ndjson)" "$(cat <<'EOF'
{"end":30,"key":"a","start":0,"value":6}
{"end":30,"key":"b","start":0,"value":1}
{"end":60,"key":"a","start":30,"value":1}
{"end":90,"key":"a","start":60,"value":1}
EOF
)" "cascade: a second window keyed by the first's key, with time = \"start\", sums them per 30"

# ---- session --------------------------------------------------------------------

winjob session_max 0
op win.lua <<'EOF'
return require("eddy.window").session{ gap_ms = 10, aggregate = "max", field = "v" }
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"s","t":0,"v":3}
{"k":"s","t":5,"v":7}
{"k":"r","t":6,"v":1}
{"k":"s","t":14,"v":2}
{"k":"s","t":24,"v":1}
{"k":"r","t":30,"v":9}
{"k":"r","t":39,"v":4}
{"k":"s","t":40,"v":5}
EOF
run_job
is "$RC" 0 "session max: exit 0"
# s: 0 5 14 -> [0,24) (each less than 10 after the previous); 24 is exactly 10 after
# 14: a new session [24,34); 40 -> [40,50). r: 6 -> [6,16); 30 39 -> [30,49).
is "$(lines out.ndjson)" "$(cat <<'EOF'
{"end":16,"key":"r","start":6,"value":1}
{"end":24,"key":"s","start":0,"value":7}
{"end":34,"key":"s","start":24,"value":1}
{"end":49,"key":"r","start":30,"value":9}
{"end":50,"key":"s","start":40,"value":5}
EOF
)" "session max: sessions end gap_ms after their last event"

winjob session_merge 10
op win.lua <<'EOF'
return require("eddy.window").session{ gap_ms = 5, aggregate = "count" }
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"m","t":0}
{"k":"m","t":10}
{"k":"m","t":7}
{"k":"m","t":3}
{"k":"n","t":4}
{"k":"n","t":8}
{"k":"m","t":30}
EOF
run_job
is "$RC" 0 "session merge: exit 0"
# m: [0,5) and [10,15); 7 -> [7,12) joins [10,15) into [7,15); 3 -> [3,8) bridges
# [0,5) and [7,15) into [0,15), count 4. n: 4 8 -> [4,13). 30 moves the watermark to 20.
is "$(lines out.ndjson)" "$(cat <<'EOF'
{"end":13,"key":"n","start":4,"value":2}
{"end":15,"key":"m","start":0,"value":4}
{"end":35,"key":"m","start":30,"value":1}
EOF
)" "session count: out-of-order events merge sessions, one result per merged session"
is "$(lines late.ndjson)" "" "session merge: nothing late"

winjob session_reduce 0
op win.lua <<'EOF'
return require("eddy.window").session{
  gap_ms = 100,
  aggregate = {
    init = function() return {} end,
    add = function(acc, ev) acc[#acc + 1] = ev.page end,
    merge = function(a, b) for _, p in ipairs(b) do a[#a + 1] = p end; return a end,
    result = function(acc) return table.concat(acc, ">") end,
  },
}
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"u1","t":1000,"page":"home"}
{"k":"u1","t":1050,"page":"cart"}
{"k":"u2","t":1060,"page":"home"}
{"k":"u1","t":1149,"page":"pay"}
{"k":"u1","t":1300,"page":"home"}
EOF
run_job
is "$RC" 0 "session reduce: exit 0"
is "$(lines out.ndjson)" "$(cat <<'EOF'
{"end":1160,"key":"u2","start":1060,"value":"home"}
{"end":1249,"key":"u1","start":1000,"value":"home>cart>pay"}
{"end":1400,"key":"u1","start":1300,"value":"home"}
EOF
)" "session with a reduce {init, add, merge, result}: click paths per visit"

# ---- out of order within max_out_of_orderness_ms, late beyond it ------------------

winjob ooo 5
op win.lua <<'EOF'
return require("eddy.window").tumbling{ size_ms = 10, aggregate = "count" }
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"a","t":2,"n":1}
{"k":"a","t":11,"n":2}
{"k":"a","t":8,"n":3}
{"k":"a","t":14,"n":4}
{"k":"a","t":9,"n":5}
{"k":"a","t":16,"n":6}
{"k":"a","t":7,"n":7}
{"k":"a","t":30,"n":8}
{"k":"a","t":3,"n":9}
EOF
run_job
is "$RC" 0 "out of order: exit 0"
# watermark = max t - 5. 8 arrives at watermark 6 and 9 at watermark 9 (not below it):
# both count in [0,10); 16 moves the watermark to 11 and [0,10) closes with 3;
# 7 (watermark 11) and 3 (watermark 25) are late.
is "$(lines out.ndjson)" "$(cat <<'EOF'
{"end":10,"key":"a","start":0,"value":3}
{"end":20,"key":"a","start":10,"value":3}
{"end":40,"key":"a","start":30,"value":1}
EOF
)" "out-of-order events within max_out_of_orderness_ms land in their windows"
is "$(lines late.ndjson)" "$(printf '%s\n' '{"k":"a","n":7,"t":7}' '{"k":"a","n":9,"t":3}')" \
  "events below the watermark go to the side output late, unchanged"

# ---- allowed lateness -------------------------------------------------------------
#
# A window with allowed_lateness_ms sets accepts_late = true on its operator: the
# runtime must hand it the events below the watermark (instead of sending them to
# `late` before process) so that it can update the windows it still keeps.

winjob lateness 0
op win.lua <<'EOF'
return require("eddy.window").tumbling{ size_ms = 10, aggregate = "count", allowed_lateness_ms = 5 }
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"a","t":1}
{"k":"a","t":4}
{"k":"a","t":12}
{"k":"a","t":6}
{"k":"a","t":16}
{"k":"a","t":8}
{"k":"a","t":21}
{"k":"a","t":19}
EOF
run_job
is "$RC" 0 "allowed lateness (tumbling): exit 0"
# 12 closes [0,10) with 2; 6 is late but within 5 ms of the end: update to 3; 16
# moves the watermark past 10 + 5, so [0,10) is gone and 8 is too late; 21 closes
# [10,20) with 2, 19 updates it to 3; 21 alone in [20,30) at the end.
is "$(lines out.ndjson)" "$(cat <<'EOF'
{"end":10,"key":"a","start":0,"value":2}
{"end":10,"key":"a","start":0,"update":true,"value":3}
{"end":20,"key":"a","start":10,"value":2}
{"end":20,"key":"a","start":10,"update":true,"value":3}
{"end":30,"key":"a","start":20,"value":1}
EOF
)" "allowed lateness: a late event within it updates the fired window and emits update = true"
is "$(lines late.ndjson)" '{"k":"a","t":8}' "allowed lateness: an event past end + allowed_lateness_ms goes to late"

winjob lateness_new 0
op win.lua <<'EOF'
return require("eddy.window").tumbling{ size_ms = 10, aggregate = "sum", field = "v",
                                        allowed_lateness_ms = 15 }
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"b","t":25,"v":1}
{"k":"b","t":12,"v":10}
{"k":"b","t":13,"v":100}
{"k":"b","t":5,"v":1000}
EOF
run_job
is "$RC" 0 "allowed lateness, window never opened: exit 0"
# 12 is late for [10,20), which never had an event but is within 20 + 15: it opens
# and emits at once; 13 updates it; [0,10) is past 10 + 15 = 25: 5 is late.
is "$(lines out.ndjson)" "$(cat <<'EOF'
{"end":20,"key":"b","start":10,"value":10}
{"end":20,"key":"b","start":10,"update":true,"value":110}
{"end":30,"key":"b","start":20,"value":1}
EOF
)" "allowed lateness: a late event for a window that never opened emits it at once"
is "$(lines late.ndjson)" '{"k":"b","t":5,"v":1000}' "allowed lateness: too late for any window goes to late"

winjob lateness_sliding 0
op win.lua <<'EOF'
return require("eddy.window").sliding{ size_ms = 10, slide_ms = 5, aggregate = "count",
                                       allowed_lateness_ms = 3 }
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"c","t":4}
{"k":"c","t":13}
{"k":"c","t":7}
{"k":"c","t":2}
EOF
run_job
is "$RC" 0 "allowed lateness (sliding): exit 0"
# 4 -> [-5,5) [0,10). 13 (watermark 13) fires both; [-5,5) is gone at 8, [0,10)
# stays until 13 - so at watermark 13 it is gone too. 7 -> [0,10) gone, [5,15) open:
# counts there only. 2 -> [-5,5) and [0,10) both gone: late.
is "$(lines out.ndjson)" "$(cat <<'EOF'
{"end":5,"key":"c","start":-5,"value":1}
{"end":10,"key":"c","start":0,"value":1}
{"end":15,"key":"c","start":5,"value":2}
{"end":20,"key":"c","start":10,"value":1}
EOF
)" "allowed lateness (sliding): a late event counts in the windows still open"
is "$(lines late.ndjson)" '{"k":"c","t":2}' "allowed lateness (sliding): late for all its windows goes to late"

winjob lateness_session 0
op win.lua <<'EOF'
return require("eddy.window").session{ gap_ms = 10, aggregate = "count", allowed_lateness_ms = 30 }
EOF
cat >"$J/in.ndjson" <<'EOF'
{"k":"c","t":0}
{"k":"c","t":5}
{"k":"c","t":40}
{"k":"c","t":8}
{"k":"c","t":20}
{"k":"c","t":1}
{"k":"c","t":50}
{"k":"c","t":2}
EOF
run_job
is "$RC" 0 "allowed lateness (session): exit 0"
# 40 closes [0,15) with 2. 8 extends it to [0,18): an update, 3. 20 is a late
# session of its own, [20,30), complete already: emitted at once. 1 joins [0,18): 4.
# 50 moves the watermark to 50: [0,18) is gone (18 + 30 = 48), [40,50) closes.
# 2 would open [2,12), past 12 + 30: late. [50,60) at the end.
is "$(lines out.ndjson)" "$(cat <<'EOF'
{"end":15,"key":"c","start":0,"value":2}
{"end":18,"key":"c","start":0,"update":true,"value":3}
{"end":30,"key":"c","start":20,"value":1}
{"end":18,"key":"c","start":0,"update":true,"value":4}
{"end":50,"key":"c","start":40,"value":1}
{"end":60,"key":"c","start":50,"value":1}
EOF
)" "allowed lateness (session): late events extend and update fired sessions"
is "$(lines late.ndjson)" '{"k":"c","t":2}' "allowed lateness (session): too late goes to late"

# ---- errors -------------------------------------------------------------------

check_err() { # NAME WANT SCRIPT(stdin)
  local name=$1 want=$2
  winjob "err_$name" 0
  op win.lua
  echo '{"k":"a","t":1}' >"$J/in.ndjson"
  (cd "$J" && "$EDDY" check job.lua) >"$J/stdout" 2>"$J/stderr"
  is "$?" 2 "eddy check: $name: exit 2"
  contains "$(cat "$J/stderr")" "$want" "eddy check: $name: names the script's line and the problem"
}
check_err missing_size "win.lua:2: eddy.window.tumbling: size_ms is required" <<'EOF'
local window = require("eddy.window")
local op = window.tumbling{ aggregate = "count" }
return op
EOF
check_err unknown_option "operator win: eddy.window.sliding: unknown option 'slide'" <<'EOF'
return require("eddy.window").sliding{ size_ms = 10, slide = 5 }
EOF
check_err unknown_aggregate "aggregate must be \"count\", \"sum\", \"min\", \"max\", \"avg\"" <<'EOF'
return require("eddy.window").tumbling{ size_ms = 10, aggregate = "median" }
EOF
check_err session_merge "operator win: eddy.window.session: a custom aggregate needs merge" <<'EOF'
return require("eddy.window").session{ gap_ms = 10, aggregate = { add = function(a) return (a or 0) + 1 end } }
EOF
check_err slide "slide_ms (20) must not exceed size_ms (10)" <<'EOF'
return require("eddy.window").sliding{ size_ms = 10, slide_ms = 20 }
EOF
check_err fractional "size_ms must be an integer number of milliseconds, got 1.5" <<'EOF'
return require("eddy.window").tumbling{ size_ms = 1.5 }
EOF

# a source without event_time: the window cannot place the event
mkjob notime <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "notime" }
job:source("in", eddy.source.file{ path = "in.ndjson" })
  :key_by("k")
  :process("win.lua", { on_error = "dead_letter" })
  :sink(eddy.sink.file{ path = "out.ndjson" })
job:dead_letter(eddy.sink.file{ path = "dead.ndjson" })
return job
EOF
op win.lua <<'EOF'
return require("eddy.window").tumbling{ size_ms = 10 }
EOF
echo '{"k":"a","t":1}' >"$J/in.ndjson"
run_job
is "$RC" 0 "no event time: exit 0 (on_error = dead_letter)"
contains "$(lines dead.ndjson)" "the event has no timestamp" "no event time: the dead letter says why"

# a value that is not a number
winjob notnumber 0
op win.lua <<'EOF'
return require("eddy.window").tumbling{ size_ms = 10, aggregate = "sum", field = "v" }
EOF
printf '%s\n' '{"k":"a","t":1,"v":1}' '{"k":"a","t":2,"v":"x"}' '{"k":"a","t":3,"v":2}' >"$J/in.ndjson"
run_job
is "$RC" 0 "sum of a non-number: exit 0 (on_error = dead_letter)"
contains "$(lines dead.ndjson)" "field 'v' of the event is not a number (got string)" "sum of a non-number: dead letter"
is "$(lines out.ndjson)" '{"end":10,"key":"a","start":0,"value":3}' "sum of a non-number: the other events still count"

# ---- window state across a stop and a resume --------------------------------------

# Run 1 tails the file (follow = true, so the watermark never reaches +infinity)
# and stops on SIGTERM with sessions still open: their accumulators and timers go
# into the final checkpoint. Run 2 reads the rest of the file to its end. The two
# runs together write what one run over the whole file writes.
mkjob resume <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "resume" }
local w = job:source("in", eddy.source.file{ path = "in.ndjson", event_time = "t",
                                             follow = os.getenv("FOLLOW") == "1" })
  :key_by("k")
  :process("win.lua")
w:sink(eddy.sink.file{ path = "out.ndjson" })
w:side("late"):sink(eddy.sink.file{ path = "late.ndjson" })
return job
EOF
op win.lua <<'EOF'
return require("eddy.window").session{ gap_ms = 10, aggregate = "sum", field = "v" }
EOF
# three keys, an event of each key every 9 ms (one session), a pause of 100 ms
# after the 40th event, then a second session each. After the 30th event comes a
# late event: once it is on the late side, run 1 has read its part of the file.
gen() { awk -v from="$1" -v to="$2" 'BEGIN { for (i = from; i < to; i++)
  printf "{\"k\":\"k%d\",\"t\":%d,\"v\":%d}\n", i % 3, i * 3 + (i >= 40 ? 100 : 0), i }'; }
{ gen 0 30; echo '{"k":"z","t":0,"v":0}'; } >"$J/in.ndjson"
gen 30 60 >"$T_TMP/part2.ndjson"
(cd "$J" && FOLLOW=1 exec "$EDDY" run job.lua --state-dir "$T_TMP/state/resume") >"$J/stdout" 2>"$J/stderr" &
pid=$!
wait_for test -s "$J/late.ndjson"
ok $? "resume: run 1 reads the first part (the late marker arrived)"
kill -TERM "$pid"
wait "$pid"
is "$?" 0 "resume: run 1 stops on SIGTERM with exit 0"
is "$(lines out.ndjson)" "" "resume: no session closed in run 1"
"$EDDY" state "$T_TMP/state/resume" --operator win >"$J/state.txt" 2>&1
is "$(grep -c '"state":{"[0-9]*":{"a":[0-9]*,"e":[0-9]*}}' "$J/state.txt")" 3 \
  "resume: three keys hold an open session in the checkpoint: {start: {a = sum, e = end}}"
cat "$T_TMP/part2.ndjson" >>"$J/in.ndjson"
(cd "$J" && FOLLOW=0 "$EDDY" run job.lua --state-dir "$T_TMP/state/resume") >"$J/stdout" 2>"$J/stderr"
is "$?" 0 "resume: run 2 reads the rest and exits 0"
mv "$J/out.ndjson" "$T_TMP/resumed.ndjson"
rm -f "$J/late.ndjson"
(cd "$J" && FOLLOW=0 "$EDDY" run job.lua --state-dir "$T_TMP/state/once") >"$J/stdout" 2>"$J/stderr"
# k0: t 0, 9, .., 117 (v 0, 3, .., 39: sum 273), then t 226 .. 271 (v 42 .. 57: 297)
is "$(cat "$T_TMP/resumed.ndjson")" "$(cat <<'EOF'
{"end":121,"key":"k1","start":3,"value":247}
{"end":124,"key":"k2","start":6,"value":260}
{"end":127,"key":"k0","start":0,"value":273}
{"end":281,"key":"k0","start":226,"value":297}
{"end":284,"key":"k1","start":220,"value":343}
{"end":287,"key":"k2","start":223,"value":350}
EOF
)" "resume: the sessions span both runs, with the right sums"
is "$(cat "$T_TMP/resumed.ndjson")" "$(cat "$J/out.ndjson")" \
  "resume: stop + resume writes exactly what one uninterrupted run writes"

# ---- kill -9 ----------------------------------------------------------------------

# Sliding windows with a table accumulator, checkpoints every 50 ms, killed with
# SIGKILL at random moments and restarted: the output is the uninterrupted run's.
mkjob crash <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "crash", checkpoint = { interval_ms = 50 } }
job:source("in", eddy.source.file{ path = "in.ndjson", event_time = "t",
                                   max_out_of_orderness_ms = 50 })
  :key_by("k")
  :process("win.lua")
  :sink(eddy.sink.file{ path = "out.ndjson" })
return job
EOF
op win.lua <<'EOF'
return require("eddy.window").sliding{
  size_ms = 1000, slide_ms = 250,
  aggregate = {
    init = function() return { n = 0, lo = math.maxinteger, hi = math.mininteger } end,
    add = function(acc, ev)
      acc.n = acc.n + 1
      acc.lo = math.min(acc.lo, ev.v)
      acc.hi = math.max(acc.hi, ev.v)
    end,
  },
}
EOF
awk 'BEGIN { srand(7); for (i = 0; i < 200000; i++)
  printf "{\"k\":\"k%d\",\"t\":%d,\"v\":%d}\n", int(rand() * 50), i * 2 - int(rand() * 40), int(rand() * 1000) }' >"$J/in.ndjson"
(cd "$J" && "$EDDY" run job.lua --state-dir "$T_TMP/state/crash-ref") >/dev/null 2>"$J/stderr"
ok $? "kill -9: the uninterrupted run exits 0"
mv "$J/out.ndjson" "$T_TMP/crash-ref.ndjson"
kills=0
for i in 1 2 3 4 5; do
  (cd "$J" && exec "$EDDY" run job.lua --state-dir "$T_TMP/state/crash") >/dev/null 2>>"$J/stderr" &
  pid=$!
  sleep "0.$((RANDOM % 5 + 1))"
  kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
  wait "$pid" 2>/dev/null
done
(cd "$J" && "$EDDY" run job.lua --state-dir "$T_TMP/state/crash") >/dev/null 2>>"$J/stderr"
ok $? "kill -9: the last run exits 0 (after $kills kills)"
cmp -s "$J/out.ndjson" "$T_TMP/crash-ref.ndjson"
ok $? "kill -9: window results after $kills kills are byte for byte the uninterrupted run's ($(grep -c . "$T_TMP/crash-ref.ndjson") lines)"

[ "$T_FAILED" -eq 0 ]
