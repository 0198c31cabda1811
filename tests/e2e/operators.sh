#!/usr/bin/env bash
# operators.sh - map, filter, flat_map (inline and scripts), key_by (field and
# function), keyed process state, ctx.key, ctx:clear(), union, side outputs,
# chains, operator names, open/close hooks (SPEC 2 and 3).
# Operator scripts live in tests/e2e/jobs/operators/ops; job files and data are
# generated in $T_TMP and name the scripts by absolute path ($OPS).
. "$(dirname "$0")/lib.sh"

export OPS
OPS=$(cd "$(dirname "$0")/jobs/operators/ops" && pwd)
STATE_N=0

# mkjob NAME: makes $T_TMP/NAME holding job.lua (from stdin); sets $J.
mkjob() {
  J=$T_TMP/$1
  mkdir -p "$J"
  { echo 'local OPS = assert(os.getenv("OPS"))'; cat; } >"$J/job.lua"
}

# run_job: runs $J/job.lua from $J with a fresh state dir; $RC, $J/stdout, $J/stderr.
run_job() {
  STATE_N=$((STATE_N + 1))
  (cd "$J" && "$EDDY" run job.lua --state-dir "$T_TMP/state/$STATE_N") >"$J/stdout" 2>"$J/stderr"
  RC=$?
  [ "$RC" -eq 0 ] || sed 's/^/# stderr: /' "$J/stderr" | head -15
}

# ---- map / filter / flat_map with inline functions ---------------------------

mkjob inline <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "inline" }
local nums = job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
nums:map(function(ev) if ev.v % 3 == 0 then return nil end return ev.v * 10 end)
  :sink(eddy.sink.file{ path = "map.txt", format = "lines" })
nums:filter(function(ev) return ev.v > 4 end)
  :map(function(ev) return ev.v end)
  :sink(eddy.sink.file{ path = "filter.txt", format = "lines" })
-- 0 and "" are truthy in Lua: kept; false and nil drop.
nums:filter(function(ev) if ev.v == 1 then return 0 elseif ev.v == 2 then return "" elseif ev.v == 3 then return false end end)
  :map(function(ev) return ev.v end)
  :sink(eddy.sink.file{ path = "truthy.txt", format = "lines" })
nums:flat_map(function(ev, ctx) for i = 1, ev.v % 3 do ctx:emit(ev.v .. "." .. i) end end)
  :sink(eddy.sink.file{ path = "flat.txt", format = "lines" })
return job
EOF
seq 1 7 | sed 's/.*/{"v":&}/' >"$J/in.ndjson"
run_job
is "$RC" 0 "inline operators: exit 0"
is "$(cat "$J/map.txt")" "$(printf '%s\n' 10 20 40 50 70)" "inline map: returned values emitted, nil drops"
is "$(cat "$J/filter.txt")" "$(printf '%s\n' 5 6 7)" "inline filter: keeps events when truthy"
is "$(cat "$J/truthy.txt")" "$(printf '%s\n' 1 2)" "inline filter: 0 and \"\" keep, false and nil drop"
is "$(cat "$J/flat.txt")" "$(printf '%s\n' 1.1 2.1 2.2 4.1 5.1 5.2 7.1)" "inline flat_map: emits 0..n events per input, in order"

# ---- the same with script files -------------------------------------------

mkjob scripts <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "scripts" }
local nums = job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
nums:map(OPS .. "/double.lua"):sink(eddy.sink.file{ path = "map.ndjson" })
nums:filter(OPS .. "/even.lua"):sink(eddy.sink.file{ path = "filter.ndjson" })
nums:flat_map(OPS .. "/repeat.lua"):sink(eddy.sink.file{ path = "flat.ndjson" })
return job
EOF
printf '%s\n' '{"v":1}' '{"w":5}' '{"v":2}' '{"v":0}' '{"v":3}' >"$J/in.ndjson"
run_job
is "$RC" 0 "script operators: exit 0"
is "$(cat "$J/map.ndjson")" "$(printf '%s\n' '{"v":2}' '{"v":4}' '{"v":0}' '{"v":6}')" \
  "map script: returned values emitted, nil drops (file sink defaults to json)"
is "$(grep -c . "$J/filter.ndjson")" 2 "filter script: two even values kept"
is "$(cat "$J/filter.ndjson")" "$(printf '%s\n' '{"v":2}' '{"v":0}')" "filter script: the right events kept"
is "$(cat "$J/flat.ndjson" | tr -d '\n')" \
  '"1#1""2#1""2#2""3#1""3#2""3#3"' \
  "flat_map script: emits v copies of each event, in order"

# ---- keyed process: key_by field, per-key state, ctx.key, ctx:clear() --------

mkjob keyed <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "keyed" }
local events = job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
events:key_by("user")
  :process(OPS .. "/count.lua")
  :map(function(ev) return ev.reset and (ev.key .. " reset") or (ev.key .. " " .. ev.n .. " " .. ev.keytype) end)
  :sink(eddy.sink.file{ path = "byfield.txt", format = "lines" })
-- integer keys from a function
events:key_by(function(ev) return ev.id % 3 end)
  :process(OPS .. "/count.lua")
  :map(function(ev) return ev.key .. " " .. (ev.n or "reset") .. " " .. (ev.keytype or "") end)
  :sink(eddy.sink.file{ path = "byfn.txt", format = "lines" })
-- not keyed: one state for the operator, no ctx.key
events:process(OPS .. "/global.lua")
  :sink(eddy.sink.file{ path = "global.txt", format = "lines" })
return job
EOF
cat >"$J/in.ndjson" <<'EOF'
{"id":1,"user":"ann"}
{"id":2,"user":"bob"}
{"id":3,"user":"ann"}
{"id":4,"user":"ann"}
{"id":5,"user":"bob","action":"reset"}
{"id":6,"user":"bob"}
{"id":7,"user":"ann","action":"reset"}
{"id":8,"user":"ann"}
{"id":9,"user":"cid"}
EOF
run_job
is "$RC" 0 "keyed process: exit 0"
is "$(cat "$J/byfield.txt")" "$(printf '%s\n' 'ann 1 string' 'bob 1 string' 'ann 2 string' 'ann 3 string' \
  'bob reset' 'bob 1 string' 'ann reset' 'ann 1 string' 'cid 1 string')" \
  "key_by field: per-key counts, ctx.key is the field value, ctx:clear() restarts a key"
# id % 3: 1->1 2->2 3->0 4->1 5(reset)->2 6->0 7(reset)->1 8->2 9->0
is "$(cat "$J/byfn.txt")" "$(printf '%s\n' '1 1 integer' '2 1 integer' '0 1 integer' '1 2 integer' \
  '2 reset ' '0 2 integer' '1 reset ' '2 1 integer' '0 3 integer')" \
  "key_by function: integer keys stay integers, per-key counts and clear"
is "$(cat "$J/global.txt")" "$(for i in $(seq 1 9); do echo "$i nil"; done)" \
  "unkeyed process: one state per operator, ctx.key is nil"

# Many keys: the final count per key equals a count of the input.
awk 'BEGIN { for (i = 1; i <= 20000; i++) printf "{\"id\":%d,\"user\":\"u%d\"}\n", i, (i * 7919) % 613 }' >"$J/in.ndjson"
run_job
is "$RC" 0 "keyed process on 20000 events: exit 0"
is "$(awk '{ last[$1] = $2 } END { for (k in last) print k, last[k] }' "$J/byfield.txt" | sort)" \
   "$(grep -o '"u[0-9]*"' "$J/in.ndjson" | tr -d '"' | sort | uniq -c | awk '{ print $2, $1 }' | sort)" \
   "keyed process on 20000 events over 613 keys: final count per key is right"
is "$(tail -1 "$J/global.txt")" "20000 nil" "unkeyed process on 20000 events: count 20000"

# key_by(): each event is its own key; an integral float becomes an integer;
# an event that cannot be a key (a table, a fraction) goes to on_error
mkjob keyself <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "keyself" }
job:source("words", eddy.source.file{ path = "words.txt", format = "lines" })
  :key_by()
  :process(OPS .. "/count.lua")
  :map(function(ev) return ev.key .. " " .. ev.n .. " " .. ev.keytype end)
  :sink(eddy.sink.file{ path = "words.out", format = "lines" })
job:source("nums", eddy.source.file{ path = "nums.ndjson", format = "json" })
  :key_by()
  :process("count_any.lua", { on_error = "dead_letter" })
  :sink(eddy.sink.file{ path = "nums.out", format = "lines" })
-- a key_by function returning a fraction: an error too, not a truncated key
job:source("halves", eddy.source.file{ path = "nums.ndjson", format = "json" })
  :filter(function(ev) return type(ev) == "number" end)
  :key_by(function(ev) return ev / 2 end)
  :process("count_any.lua", { on_error = "dead_letter" })
  :sink(eddy.sink.file{ path = "halves.out", format = "lines" })
job:dead_letter(eddy.sink.file{ path = "dead.ndjson" })
return job
EOF
printf '%s\n' b a b c b >"$J/words.txt"
printf '%s\n' 7 7.0 '{"x":1}' 7.5 8 >"$J/nums.ndjson"
cat >"$J/count_any.lua" <<'EOF'
local M = {}
function M.process(ev, ctx)
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit(ctx.key .. " " .. ctx.state.n .. " " .. math.type(ctx.key))
end
return M
EOF
run_job
is "$RC" 0 "key_by(): exit 0"
is "$(cat "$J/words.out")" "$(printf '%s\n' 'b 1 string' 'a 1 string' 'b 2 string' 'c 1 string' 'b 3 string')" \
  "key_by(): string events are their own keys"
is "$(cat "$J/nums.out")" "$(printf '%s\n' '7 1 integer' '7 2 integer' '8 1 integer')" \
  "key_by(): integers are keys, 7.0 counts as 7"
is "$(grep -c 'key_by(): the event is a table, not a string or an integer' "$J/dead.ndjson")" 1 \
  "key_by(): a table event is a dead letter that says why"
is "$(grep -c '"error":"key_by: the key must be a string or an integer, got a fraction","event":7.5,"key":null,"operator":"count_any","position":14,"source":"nums"' "$J/dead.ndjson")" 1 \
  "key_by(): a fraction is a dead letter that says why"
# halves: 7/2 7.0/2 7.5/2 fail; 8/2 = 4.0 is the key 4
is "$(cat "$J/halves.out")" "4 1 integer" "key_by function: an integral float result is an integer key"
is "$(grep '"source":"halves"' "$J/dead.ndjson" | grep -c '"error":"key_by: the key must be a string or an integer, got a fraction"')" 3 \
  "key_by function: a fraction result is a dead letter (7/2, 7.0/2, 7.5/2), not a truncated key"

# key_by(nil) is most likely a typo: a job error, not the event as key
mkjob keynil <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "keynil" }
job:source("words", eddy.source.file{ path = "words.txt", format = "lines" })
  :key_by(undefined_field_name)
  :process(OPS .. "/count.lua")
  :sink(eddy.sink.stdout{})
return job
EOF
(cd "$J" && "$EDDY" check job.lua) >"$J/stdout" 2>"$J/stderr"
is "$?" 2 "key_by(nil): eddy check exits 2"
contains "$(cat "$J/stderr")" "job.lua:4: key_by expects a field name or a function (or no argument: the event is its own key), got nil" \
  "key_by(nil): the error names file:line and the forms key_by takes"

# ---- ctx:now() and ctx:timestamp() without event time ------------------------

mkjob now <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "now" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :map(function(ev, ctx)
    local now = ctx:now()
    return string.format("%s %s %s", math.type(now), now, tostring(ctx:timestamp()))
  end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
echo x >"$J/in.txt"
before=$(date +%s)
run_job
after=$(date +%s)
is "$RC" 0 "ctx:now: exit 0"
read -r ntype nms nts <"$J/out.txt"
is "$ntype" integer "ctx:now() is an integer"
[ "${nms:-0}" -ge $(((before - 1) * 1000)) ] && [ "${nms:-0}" -le $(((after + 1) * 1000)) ]
ok $? "ctx:now() is the processing time in ms (got ${nms:-none}, run between ${before}000 and ${after}000)"
is "${nts:-}" nil "ctx:timestamp() is nil without event_time"

# ---- union ---------------------------------------------------------------------

mkjob union <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "union" }
local a = job:source("a", eddy.source.file{ path = "a.ndjson", format = "json" })
local b = job:source("b", eddy.source.file{ path = "b.ndjson", format = "json" })
local c = job:source("c", eddy.source.file{ path = "c.txt", format = "lines" })
  :map(function(line) return { user = line } end)
a:union(b, c)
  :key_by("user")
  :process(OPS .. "/count.lua")
  :map(function(ev) return ev.key .. " " .. ev.n end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf '{"user":"x"}\n{"user":"y"}\n' >"$J/a.ndjson"
printf '{"user":"x"}\n{"user":"x"}\n' >"$J/b.ndjson"
printf 'y\nx\nz\n' >"$J/c.txt"
run_job
is "$RC" 0 "union of three streams: exit 0"
is "$(sort "$J/out.txt")" "$(printf '%s\n' 'x 1' 'x 2' 'x 3' 'x 4' 'y 1' 'y 2' 'z 1')" \
   "union: every event of every input arrives once; keyed state sees all inputs (x 4, y 2, z 1)"

# ---- side outputs ----------------------------------------------------------------

mkjob side <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "side" }
local routed = job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
  :process(OPS .. "/router.lua")
routed:sink(eddy.sink.file{ path = "main.ndjson" })
routed:side("big"):sink(eddy.sink.file{ path = "big.ndjson" })
routed:side("neg"):map(function(ev) return -ev.v end)
  :sink(eddy.sink.file{ path = "neg.txt", format = "lines" })
-- a side output nobody listens to is dropped quietly
job:source("in2", eddy.source.file{ path = "in.ndjson", format = "json" })
  :map(function(ev, ctx) ctx:emit(ev, "unused"); return ev end)
  :sink(eddy.sink.file{ path = "all.ndjson" })
return job
EOF
printf '%s\n' '{"v":1}' '{"v":150}' '{"v":-3}' '{"v":99}' '{"v":100}' '{"v":-1}' >"$J/in.ndjson"
run_job
is "$RC" 0 "side outputs: exit 0"
is "$(cat "$J/main.ndjson")" "$(printf '%s\n' '{"v":1}' '{"v":99}')" "side outputs: main output holds ctx:emit(ev) only"
is "$(cat "$J/big.ndjson")" "$(printf '%s\n' '{"big":150}' '{"big":100}')" "side outputs: side(\"big\") holds ctx:emit(ev, \"big\")"
is "$(cat "$J/neg.txt")" "$(printf '%s\n' 3 1)" "side outputs: side(\"neg\") feeds a further operator"
is "$(grep -c . "$J/all.ndjson")" 6 "side output without a consumer: main output unaffected"

# ---- a chain of operators -----------------------------------------------------

mkjob chain <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "chain" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :flat_map(function(line, ctx) for w in line:gmatch("%S+") do ctx:emit(w) end end)
  :filter(function(w) return #w > 2 end)
  :map(function(w) return { word = w:lower(), len = #w } end)
  :key_by("word")
  :process(OPS .. "/count.lua")
  :filter(function(ev) return ev.n >= 2 end)
  :map(function(ev) return ev.key .. "=" .. ev.n end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf '%s\n' 'The cat and the dog' 'a cat is not a DOG' 'THE END of the cat' >"$J/in.txt"
run_job
is "$RC" 0 "chain: exit 0"
is "$(cat "$J/out.txt")" "$(printf '%s\n' the=2 cat=2 dog=2 the=3 the=4 cat=3)" \
  "chain: flat_map -> filter -> map -> key_by -> process -> filter -> map"

# ---- operator names ---------------------------------------------------------------

mkjob names <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "names" }
job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
  :map(OPS .. "/explode.lua", { on_error = "dead_letter" })
  :map(OPS .. "/explode.lua", { on_error = "dead_letter" })
  :map(OPS .. "/explode.lua", { on_error = "dead_letter", name = "custom" })
  :sink(eddy.sink.file{ path = "out.ndjson" })
job:dead_letter(eddy.sink.file{ path = "dead.ndjson" })
return job
EOF
# the first explode dead-letters event 1; event 2 passes all three
cat >"$J/in.ndjson" <<'EOF'
{"id":1,"bad":true}
{"id":2,"ok":true}
EOF
run_job
is "$RC" 0 "names: exit 0"
ops_named=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line).get("operator"))' "$J/dead.ndjson" 2>&1)
is "$ops_named" "explode" "an operator's default name is its script file name without .lua"
is "$(cat "$J/out.ndjson")" '{"id":2,"ok":true}' "names: the good event passes all three"

mkjob names2 <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "names2" }
local s = job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
s:map(OPS .. "/explode.lua", { on_error = "dead_letter" }):sink(eddy.sink.file{ path = "o1.ndjson" })
s:map(OPS .. "/explode.lua", { on_error = "dead_letter" }):sink(eddy.sink.file{ path = "o2.ndjson" })
s:map(OPS .. "/explode.lua", { on_error = "dead_letter", name = "custom" }):sink(eddy.sink.file{ path = "o3.ndjson" })
job:dead_letter(eddy.sink.file{ path = "dead.ndjson" })
return job
EOF
echo '{"id":1,"bad":true}' >"$J/in.ndjson"
run_job
is "$RC" 0 "names2: exit 0"
names=$(python3 -c '
import json, sys
print(" ".join(json.loads(l)["operator"] for l in open(sys.argv[1])))' "$J/dead.ndjson" 2>&1)
set -- $names
is "$#" 3 "names2: three dead letters, one per operator"
is "${1:-}" "explode" "first use of a script is named after it"
[ -n "${2:-}" ] && [ "${2:-}" != "explode" ] && [ "${2:-}" != "custom" ] && [[ "${2:-}" == explode* ]]
ok $? "second use of the same script gets a unique name derived from it (got ${2:-})"
is "${3:-}" "custom" "opts.name names the operator"

# ---- open / close hooks -----------------------------------------------------------

mkjob hooks <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "hooks" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :process(OPS .. "/hooks.lua")
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf 'a\nb\nc\n' >"$J/in.txt"
export EDDY_TEST_MARKER=$J/marker.txt
run_job
is "$RC" 0 "hooks: exit 0"
contains "$(cat "$J/stderr")" "HOOK open ran" "open hook runs (its ctx:log reaches stderr)"
contains "$(cat "$J/stderr")" "HOOK close ran after 3 events" "close hook runs after the last event"
is "$(cat "$J/marker.txt" 2>/dev/null)" "closed 3 total 3" "close hook sees ctx.state and can write files"
is "$(cat "$J/out.txt")" "$(printf 'a\nb\nc')" "hooks: events pass through"
open_line=$(grep -n "HOOK open" "$J/stderr" | cut -d: -f1)
close_line=$(grep -n "HOOK close" "$J/stderr" | cut -d: -f1)
[ -n "$open_line" ] && [ -n "$close_line" ] && [ "$open_line" -lt "$close_line" ]
ok $? "open runs before close"

# close runs on clean shutdown only: not when the job fails
mkjob hooksfail <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "hooksfail", restart = { strategy = "none" } }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :process(OPS .. "/hooks.lua")
  :map(function(ev) error("downstream failure") end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf 'a\n' >"$J/in.txt"
export EDDY_TEST_MARKER=$J/marker.txt
run_job >/dev/null
is "$RC" 1 "a failing job exits 1"
contains "$(cat "$J/stderr")" "HOOK open ran" "open ran in the failing job"
[ ! -e "$J/marker.txt" ]
ok $? "close does not run when the job fails"

# on_error reads ctx.state: the next event, of a key never seen, gets its
# own state, not the failing key's
mkjob peekerr <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "peekerr" }
job:source("in", eddy.source.file{ path = "in.ndjson", format = "json" })
  :key_by("k")
  :process(OPS .. "/peek_on_error.lua")
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf '%s\n' '{"k":"a"}' '{"k":"a","fail":true}' '{"k":"b"}' '{"k":"a"}' >"$J/in.ndjson"
run_job
is "$RC" 0 "on_error reading ctx.state: exit 0"
contains "$(cat "$J/stderr")" "on_error sees n=2" "on_error sees the failing key's state"
is "$(cat "$J/out.txt")" "$(printf 'a 1\nb 1\na 3')" "the next key gets its own state after on_error read ctx.state"

# A Lua C module (lfs, installed with busted) loads into eddy's Lua: the
# executable exports the Lua API it links (make: -rdynamic)
mkjob cmodule <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "cmodule" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :map(function(ev) return ev .. " " .. require("lfs").attributes("in.txt", "mode") end)
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
printf 'x\n' >"$J/in.txt"
run_job
is "$RC" 0 "a job requiring a Lua C module: exit 0"
is "$(cat "$J/out.txt")" "x file" "the C module (lfs) works inside an operator"

[ "$T_FAILED" -eq 0 ]

# ---- print() goes to stderr: stdout carries only stdout sinks ---------------
mkjob printing <<'EOF'
local eddy = require("eddy")
print("job file", 1)
local job = eddy.job{ name = "printing" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :map(function(line) print("saw", line, nil, true) return line:upper() end)
  :sink(eddy.sink.stdout{ format = "lines" })
return job
EOF
printf 'a\nb\n' >"$J/in.txt"
run_job
is "$(cat "$J/stdout")" "$(printf 'A\nB')" "print() in a job file or an operator stays off stdout"
contains "$(cat "$J/stderr")" "$(printf 'saw\ta\tnil\ttrue')" "and goes to stderr, as print writes it"
contains "$(cat "$J/stderr")" "$(printf 'job file\t1')" "the job file's too"

# ---- an on_error hook that returns no policy: warned, the option applies ----
mkjob badhook <<'EOF'
local eddy = require("eddy")
local job = eddy.job{ name = "badhook" }
job:source("in", eddy.source.file{ path = "in.txt", format = "lines" })
  :map("hook.lua", { on_error = "skip" })
  :sink(eddy.sink.file{ path = "out.txt", format = "lines" })
return job
EOF
cat >"$J/hook.lua" <<'EOF'
local M = {}
function M.process(l) if l == "bad" then error("no") end return l end
function M.on_error(err, ev) if ev == "bad" then return "dead-letter" end end
return M
EOF
printf 'a\nbad\nb\n' >"$J/in.txt"
run_job
is "$(cat "$J/out.txt")" "$(printf 'a\nb')" "an on_error hook's unknown policy: the option (skip) applies"
contains "$(cat "$J/stderr")" 'on_error returned "dead-letter", not "fail", "skip", "dead_letter" or nil: its on_error option (skip) applies' \
  "and a warning names what it returned"
