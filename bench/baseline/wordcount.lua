-- Bare lua5.4 word count, the same work as examples/wordcount: split each line
-- with gmatch("%a+"), lower-case, count per word, and write the running count
-- of each word occurrence as {"count":N,"word":"w"} (keys sorted, as eddy does).
-- usage: lua5.4 baseline/wordcount.lua IN OUT
local in_path, out_path = assert(arg[1]), assert(arg[2])
local out = assert(io.open(out_path, "w"))
out:setvbuf("full", 1 << 16)
local fmt, counts = string.format, {}
for line in io.lines(in_path) do
  for word in line:gmatch("%a+") do
    word = word:lower()
    local n = (counts[word] or 0) + 1
    counts[word] = n
    out:write(fmt('{"count":%d,"word":"%s"}\n', n, word))
  end
end
assert(out:close())
