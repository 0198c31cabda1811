#!/usr/bin/env bash
# wordcount.sh - examples/wordcount end to end: its job and operators, copied
# into $T_TMP, run on the example's own input and on a generated
# 1,000,000-line text; the last count emitted per word must equal
# `tr -s ' ' '\n' | sort | uniq -c` on the input.
. "$(dirname "$0")/lib.sh"

EX=$(cd "$(dirname "$0")/../../examples/wordcount" && pwd)
export LC_ALL=C

# final_counts FILE: "word count" per word, from the last count emitted per
# word, sorted; fails (prints BAD) if a word's counts do not go 1, 2, 3, ...
final_counts() {
  awk '{
    w = ""; c = ""
    if (match($0, /"word":"[^"]*"/)) w = substr($0, RSTART + 8, RLENGTH - 9)
    if (match($0, /"count":[0-9]+/)) c = substr($0, RSTART + 8, RLENGTH - 8) + 0
    if (w == "" || c == "" || c != last[w] + 1) { print "BAD line " NR ": " $0; exit 1 }
    last[w] = c
  } END { for (w in last) print w, last[w] }' "$1" | sort
}

# expected_counts FILE: "word count" from the input, words split on spaces.
expected_counts() {
  tr -s ' ' '\n' <"$1" | grep -v '^$' | sort | uniq -c | awk '{ print $2, $1 }'
}

# copy_example DIR: the example's job and operators in DIR (no outputs, no state).
copy_example() {
  mkdir -p "$1"
  cp "$EX/job.lua" "$1/"
  cp -r "$EX/ops" "$1/"
}

# ---- the example as shipped, on its own input ---------------------------------

W=$T_TMP/example
copy_example "$W"
cp "$EX/input.txt" "$W/"
(cd "$W" && "$EDDY" check job.lua) >/dev/null 2>"$W/stderr"
is "$?" 0 "eddy check examples/wordcount/job.lua: exit 0"
(cd "$W" && "$EDDY" run job.lua --state-dir "$W/state") >"$W/stdout" 2>"$W/stderr"
is "$?" 0 "wordcount on the example's input: exit 0"
# the example splits on letters and lowercases
want=$(tr -cs 'A-Za-z' '\n' <"$W/input.txt" | tr 'A-Z' 'a-z' | grep -v '^$' | sort | uniq -c | awk '{ print $2, $1 }')
is "$(final_counts "$W/out/counts.ndjson")" "$want" "wordcount on the example's input: final counts"

# ---- 1,000,000 generated lines --------------------------------------------------

W=$T_TMP/big
copy_example "$W"
# A fixed vocabulary of 5000 lowercase words, 1 to 5 of them per line, chosen
# by a fixed linear congruential generator: the same file on every run.
awk 'BEGIN {
  split("abcdefghijklmnopqrstuvwxyz", L, "")
  for (i = 0; i < 5000; i++) {
    n = i; w = ""
    do { w = w L[n % 26 + 1]; n = int(n / 26) } while (n > 0)
    V[i] = w "x"
  }
  s = 12345
  for (l = 0; l < 1000000; l++) {
    s = (s * 69069 + 1) % 4294967296; k = 1 + int(s / 65536) % 5; line = ""
    for (j = 0; j < k; j++) {
      s = (s * 69069 + 1) % 4294967296
      line = line (j ? " " : "") V[int(s / 1024) % 5000]
    }
    print line
  }
}' >"$W/input.txt"
is "$(wc -l <"$W/input.txt" | tr -d ' ')" 1000000 "generated input has 1,000,000 lines"
nwords=$(wc -w <"$W/input.txt" | tr -d ' ')
vocab=$(tr -s ' ' '\n' <"$W/input.txt" | sort -u | wc -l | tr -d ' ')
[ "$vocab" -gt 4000 ] && [ "$nwords" -gt 2000000 ]
ok $? "generated input: $nwords words over $vocab distinct words"

(cd "$W" && "$EDDY" run job.lua --state-dir "$W/state") >"$W/stdout" 2>"$W/stderr"
RC=$?
is "$RC" 0 "wordcount on 1,000,000 lines: exit 0"
[ "$RC" -eq 0 ] || tail -5 "$W/stderr" | sed 's/^/#   /'
is "$(wc -l <"$W/out/counts.ndjson" | tr -d ' ')" "$nwords" "one count emitted per word occurrence"
got=$(final_counts "$W/out/counts.ndjson")
want=$(expected_counts "$W/input.txt")
[ "$(printf '%s\n' "$got" | md5sum)" = "$(printf '%s\n' "$want" | md5sum)" ]
ok $? "the last count per word equals tr | sort | uniq -c on the input"
[ "$(printf '%s\n' "$got" | md5sum)" = "$(printf '%s\n' "$want" | md5sum)" ] ||
  diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | head -10 | sed 's/^/#   /'
[ ! -s "$W/stdout" ]
ok $? "nothing on stdout (the job has only a file sink)"

[ "$T_FAILED" -eq 0 ]
