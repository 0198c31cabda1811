# lib.sh - helpers for end-to-end tests of the eddy binary (TAP output).
# Source it from a test script: . "$(dirname "$0")/lib.sh"
set -u
EDDY=${EDDY_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin/eddy}
T_N=0
T_FAILED=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/eddy-e2e.XXXXXX")
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$T_TMP"; echo "1..$T_N"' EXIT

# ok COND_STATUS NAME: records a test result from the last command's status.
ok() {
  local status=$1; shift
  T_N=$((T_N + 1))
  if [ "$status" -eq 0 ]; then
    echo "ok $T_N - $*"
  else
    T_FAILED=$((T_FAILED + 1))
    echo "not ok $T_N - $*"
  fi
}

# is GOT WANT NAME: string equality, with a diff on failure.
is() {
  local got=$1 want=$2; shift 2
  if [ "$got" == "$want" ]; then
    ok 0 "$*"
  else
    ok 1 "$*"
    diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -20 | sed 's/^/#   /'
  fi
}

# contains HAYSTACK NEEDLE NAME
contains() {
  local hay=$1 needle=$2; shift 2
  if [[ "$hay" == *"$needle"* ]]; then
    ok 0 "$*"
  else
    ok 1 "$*"
    printf '%s\n' "# expected to find: $needle" "# in:" 
    printf '%s\n' "$hay" | head -20 | sed 's/^/#   /'
  fi
}

# wait_for CMD...: retries a command for up to 10 s.
wait_for() {
  local i
  for i in $(seq 1 200); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

# kill_runs JOB DIR KILLS MAX_CS [USR1]: runs `eddy run JOB --state-dir DIR`
# up to KILLS times, each killed with SIGKILL after 0.02..MAX_CS/100 s (with
# USR1 set, a SIGUSR1 first: a checkpoint in the middle of a read); stops
# early once a run finishes on its own. Logs go to crash.log; sets KILLED.
kill_runs() {
  local job=$1 dir=$2 kills=$3 max_cs=$4 usr1=${5:-} i pid
  KILLED=0
  for i in $(seq 1 "$kills"); do
    "$EDDY" run "$job" --state-dir "$dir" --log-level info 2>>crash.log &
    pid=$!
    sleep "$(printf "0.%02d" $(( (RANDOM % (max_cs - 2)) + 2 )))"
    if [ -n "$usr1" ]; then
      kill -USR1 "$pid" 2>/dev/null
      sleep "0.0$(( RANDOM % 5 ))"
    fi
    if ! kill -9 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null; return; fi
    KILLED=$((KILLED + 1))
    wait "$pid" 2>/dev/null
  done
}
