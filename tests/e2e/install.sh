#!/usr/bin/env bash
# make install PREFIX=DIR: the installed eddy finds its own modules (no
# environment), runs a job, and `eddy test` runs a user's specs from a
# directory outside the repo with eddy and eddy.core on the path.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P="$T_TMP/prefix"
make -s -C "$ROOT" install PREFIX="$P" B="${B:-build}" >"$T_TMP/install.log" 2>&1
ok $? "make install PREFIX=... succeeds"
for f in bin/eddy share/lua/5.4/eddy/init.lua lib/lua/5.4/eddy/core.so; do
  [ -f "$P/$f" ]; ok $? "installs $f"
done
cp -r "$ROOT/examples/clicks" "$T_TMP/clicks" && rm -rf "$T_TMP/clicks/out" "$T_TMP/clicks/eddy-state"
(cd "$T_TMP/clicks" && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u EDDY_LUA_DIR \
   "$P/bin/eddy" run job.lua 2>/dev/null)
ok $? "the installed eddy runs an example job"
is "$(wc -l < "$T_TMP/clicks/out/user_counts.ndjson" | tr -d ' ')" "7" "with the expected output"
mkdir -p "$T_TMP/user/spec"
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
contains "$out" "ok 1 - a user's spec sees eddy and eddy.core" "and the spec passes"
