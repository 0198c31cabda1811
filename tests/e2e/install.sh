#!/usr/bin/env bash
# make install PREFIX=DIR: the installed eddy finds its own modules (no
# environment), runs a job, and `eddy test` runs a user's specs from a
# directory outside the repo with eddy and eddy.core on the path.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P="$T_TMP/prefix"
make -s -C "$ROOT" install PREFIX="$P" B="${B:-build}" >"$T_TMP/install.log" 2>&1
ok $? "make install PREFIX=... succeeds"
for f in bin/eddy share/lua/5.4/eddy/init.lua share/lua/5.4/eddy/testing.lua \
         share/lua/5.4/eddy/window.lua lib/lua/5.4/eddy/core.so; do
  [ -f "$P/$f" ]; ok $? "installs $f"
done
cp -r "$ROOT/examples/clicks" "$T_TMP/clicks" && rm -rf "$T_TMP/clicks/out" "$T_TMP/clicks/eddy-state"
(cd "$T_TMP/clicks" && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u EDDY_LUA_DIR \
   "$P/bin/eddy" run job.lua 2>/dev/null)
ok $? "the installed eddy runs an example job"
is "$(wc -l < "$T_TMP/clicks/out/user_counts.ndjson" | tr -d ' ')" "7" "with the expected output"
mkdir -p "$T_TMP/user/spec" "$T_TMP/user/ops"
cat > "$T_TMP/user/ops/count.lua" <<'LUA'
local M = {}
function M.process(ev, ctx)
  ctx.state.n = (ctx.state.n or 0) + 1
  ctx:emit({ user = ctx.key, n = ctx.state.n })
end
return M
LUA
cat > "$T_TMP/user/job.lua" <<'LUA'
local eddy = require("eddy")
local job = eddy.job{ name = "users", checkpoint = { interval_ms = 1000 } }
job:source("clicks", eddy.source.stdin{ format = "json" })
  :key_by("user"):process("ops/count.lua")
  :sink(eddy.sink.file{ path = "counts.ndjson" })
return job
LUA
cat > "$T_TMP/user/spec/kit_spec.lua" <<'LUA'
local testing = require("eddy.testing")
describe("the testing kit, installed", function()
  it("tests an operator", function()
    local op = testing.operator("ops/count.lua", { keyed = true })
    op:push({ user = "a" }, { key = "a" })
    op:push({ user = "a" }, { key = "a" })
    assert.same({ { user = "a", n = 1 }, { user = "a", n = 2 } }, op:output())
    assert.same({ n = 2 }, op:state("a"))
  end)
  it("crashes and restores a job, exactly once", function()
    local evs = {}
    for i = 1, 40 do evs[i] = { user = "u" .. i % 3 } end
    local opts = { inputs = { clicks = evs }, clock = { step_ms = 100 } }
    local want = testing.job("job.lua", opts):run():output("counts")
    local run = testing.job("job.lua", opts)
    run:run_until(1750)
    run:crash_and_restore()
    assert.equal(10, #run:output("counts"))
    run:run()
    assert.emitted(want, run:output("counts"))
  end)
end)
LUA
cat > "$T_TMP/user/spec/user_spec.lua" <<'LUA'
local eddy = require("eddy")
local core = require("eddy.core")
describe("a user's spec", function()
  it("sees eddy and eddy.core", function()
    assert.equal("integer", math.type(core.json_decode("3")))
    assert.is_table(eddy.job{ name = "x" }:plan())
  end)
end)
LUA
pre=""
if [ "${EDDY_SANITIZED:-0}" = 1 ]; then # lua5.4 loads an instrumented core.so
  pre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
fi
out=$(cd "$T_TMP/user" && LD_PRELOAD="$pre" env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u EDDY_LUA_DIR \
   "$P/bin/eddy" test -o TAP 2>&1)
ok $? "eddy test runs a spec dir outside the repo"
contains "$out" " - a user's spec sees eddy and eddy.core" "and the spec passes"
contains "$out" " - the testing kit, installed tests an operator" "eddy.testing runs an operator from the installed modules"
contains "$out" " - the testing kit, installed crashes and restores a job, exactly once" \
  "and crashes and restores a job exactly once"
