-- A small generic recursive-descent JSON decoder, the kind a user without a
-- JSON library would write. Objects -> tables, arrays -> sequences,
-- integers -> Lua integers, other numbers -> floats, null -> json.null.
-- decode(s) returns the value, or raises "json: <what> at byte <pos>".
local M = {}

M.null = setmetatable({}, { __tostring = function() return "null" end })

local byte, sub, find, char = string.byte, string.sub, string.find, string.char
local tointeger, tonumber, concat = math.tointeger, tonumber, table.concat

local function fail(what, pos)
  error(string.format("json: %s at byte %d", what, pos), 0)
end

local function skip_ws(s, i)
  local _, e = find(s, "^[ \t\r\n]*", i)
  return e + 1
end

local function utf8_of(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then
    return char(0xC0 | (cp >> 6), 0x80 | (cp & 0x3F))
  end
  if cp < 0x10000 then
    return char(0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F))
  end
  return char(0xF0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3F),
              0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F))
end

local escapes = { [34] = '"', [92] = "\\", [47] = "/", [98] = "\b",
                  [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t" }

-- s:byte(i) is the opening quote; returns the string and the next position.
local function parse_string(s, i)
  local j = i + 1
  local parts, n = nil, 0
  while true do
    local k = find(s, '["\\%c]', j)
    if not k then fail("unterminated string", i) end
    local c = byte(s, k)
    if c == 34 then                                  -- closing quote
      if not parts then return sub(s, i + 1, k - 1), k + 1 end
      n = n + 1; parts[n] = sub(s, j, k - 1)
      return concat(parts, "", 1, n), k + 1
    elseif c == 92 then                              -- backslash
      parts = parts or {}
      n = n + 1; parts[n] = sub(s, j, k - 1)
      local e = byte(s, k + 1)
      if e == 117 then                               -- \uXXXX
        local hex = sub(s, k + 2, k + 5)
        if not find(hex, "^%x%x%x%x$") then fail("bad \\u escape", k) end
        local cp = tonumber(hex, 16)
        j = k + 6
        if cp >= 0xD800 and cp <= 0xDBFF then        -- surrogate pair
          local lo = find(s, "^\\u[dD][c-fC-F]%x%x", j) and tonumber(sub(s, j + 2, j + 5), 16)
          if lo then
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            j = j + 6
          end
        end
        n = n + 1; parts[n] = utf8_of(cp)
      else
        local r = escapes[e]
        if not r then fail("bad escape", k) end
        n = n + 1; parts[n] = r
        j = k + 2
      end
    else
      fail("control character in string", k)
    end
  end
end

local parse_value

local function parse_number(s, i)
  local _, e = find(s, "^-?%d+", i)
  if not e then fail("unexpected character", i) end
  local _, e2 = find(s, "^%.%d+", e + 1)
  local is_float = e2 ~= nil
  e = e2 or e
  local _, e3 = find(s, "^[eE][-+]?%d+", e + 1)
  if e3 then is_float, e = true, e3 end
  local text = sub(s, i, e)
  if find(text, "^-?0%d") then fail("leading zero", i) end
  local v = tonumber(text)
  if not is_float then
    v = tointeger(v) or tonumber(text .. ".0")       -- too big for an integer
  else
    v = v + 0.0
  end
  return v, e + 1
end

local function parse_object(s, i)
  local obj = {}
  i = skip_ws(s, i + 1)
  if byte(s, i) == 125 then return obj, i + 1 end    -- }
  while true do
    if byte(s, i) ~= 34 then fail("expected a string key", i) end
    local k
    k, i = parse_string(s, i)
    i = skip_ws(s, i)
    if byte(s, i) ~= 58 then fail("expected ':'", i) end
    local v
    v, i = parse_value(s, skip_ws(s, i + 1))
    obj[k] = v
    i = skip_ws(s, i)
    local c = byte(s, i)
    if c == 125 then return obj, i + 1 end
    if c ~= 44 then fail("expected ',' or '}'", i) end
    i = skip_ws(s, i + 1)
  end
end

local function parse_array(s, i)
  local arr, n = {}, 0
  i = skip_ws(s, i + 1)
  if byte(s, i) == 93 then return arr, i + 1 end     -- ]
  while true do
    local v
    v, i = parse_value(s, i)
    n = n + 1; arr[n] = v
    i = skip_ws(s, i)
    local c = byte(s, i)
    if c == 93 then return arr, i + 1 end
    if c ~= 44 then fail("expected ',' or ']'", i) end
    i = skip_ws(s, i + 1)
  end
end

function parse_value(s, i)
  local c = byte(s, i)
  if c == 123 then return parse_object(s, i)
  elseif c == 91 then return parse_array(s, i)
  elseif c == 34 then return parse_string(s, i)
  elseif c == 116 and sub(s, i, i + 3) == "true" then return true, i + 4
  elseif c == 102 and sub(s, i, i + 4) == "false" then return false, i + 5
  elseif c == 110 and sub(s, i, i + 3) == "null" then return M.null, i + 4
  elseif c == nil then fail("unexpected end of input", i)
  else return parse_number(s, i)
  end
end

function M.decode(s)
  local v, i = parse_value(s, skip_ws(s, 1))
  i = skip_ws(s, i)
  if i <= #s then fail("trailing characters", i) end
  return v
end

return M
