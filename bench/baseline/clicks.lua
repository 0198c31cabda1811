-- Bare lua5.4 per-user click count: decode each NDJSON line with a hand-written
-- JSON decoder (baseline/json.lua), count per user, and write
-- {"clicks":N,"user":"u"} for every event (keys sorted, as eddy does).
-- usage: lua5.4 baseline/clicks.lua IN OUT
package.path = arg[0]:match("^(.*)/[^/]*$") .. "/?.lua;" .. package.path
local json = require("json")

local in_path, out_path = assert(arg[1]), assert(arg[2])
local out = assert(io.open(out_path, "w"))
out:setvbuf("full", 1 << 16)

local fmt, decode, counts = string.format, json.decode, {}
local esc = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
              ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function quote(s)       -- JSON string body; plain strings pass unchanged
  if not s:find('[%c"\\]') then return s end
  return (s:gsub('[%c"\\]', function(c)
    return esc[c] or fmt("\\u%04x", c:byte())
  end))
end

for line in io.lines(in_path) do
  local ev = decode(line)
  local user = ev.user
  local n = (counts[user] or 0) + 1
  counts[user] = n
  out:write(fmt('{"clicks":%d,"user":"%s"}\n', n, quote(user)))
end
assert(out:close())
