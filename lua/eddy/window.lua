-- eddy.window: tumbling, sliding and session windows over keyed streams.
--
-- Each constructor returns a complete operator script (a table with
-- process and on_timer), so an operator file can be one line:
--
--   local window = require("eddy.window")
--   return window.tumbling{ size_ms = 60000, aggregate = "count" }
--
-- and the job keys the stream and names the script:
--
--   src:key_by("user"):process("ops/per_minute.lua")
--
-- Semantics (docs/windows.md has the long version):
--  * Windows are [start, end) in event time: the time ctx:timestamp() gives
--    (the source's event_time), or the `time` option's. Tumbling and sliding
--    windows are aligned to multiples of slide_ms (plus offset_ms) since the
--    epoch.
--  * A window's result is emitted when the watermark reaches its end (an
--    event-time timer at `end`): eddy calls an event late when its time is
--    below the watermark, so once the watermark is at `end` no on-time event
--    can fall into [start, end) any more. The result's timestamp is `end`.
--  * Then the window's state is dropped, unless allowed_lateness_ms = L > 0:
--    the window is then kept until the watermark reaches end + L, and an
--    event for it that arrives in that time updates it and emits the
--    updated result at once (with update = true). Events for windows past
--    end + L go to the side output `late`. (The runtime must hand late
--    events to the operator for this: the operator says so with
--    accepts_late = true.)
--  * Session windows: an event at t opens [t, t + gap_ms); sessions that
--    overlap merge, so events less than gap_ms apart share a session, which
--    ends gap_ms after its last event.
--
-- State (ctx.state of each key; plain values only, so it checkpoints):
--   tumbling/sliding: state[start] = accumulator, and state.f[start] = true
--   for windows that fired and are kept for allowed lateness;
--   session: state[start] = { e = end, a = accumulator, f = true once fired
--   and kept for allowed lateness, u = true when it fires as an update }.

local M = {}

local this_file = debug.getinfo(1, "S").source
local MIN = math.mininteger

-- "file:line: " of the first caller outside this module (the operator
-- script), or "" when it is gone: `return window.tumbling{...}` is a tail
-- call, and the runtime's message names the operator anyway.
local function caller()
  for level = 2, 50 do
    local info = debug.getinfo(level, "Slt")
    if not info then break end
    if info.source ~= this_file and info.what ~= "C" then
      return info.source:gsub("^@", "") .. ":" .. (info.currentline or 0) .. ": "
    end
    if info.istailcall then break end
  end
  return ""
end

local function fail(what, msg)
  error(caller() .. "eddy.window." .. what .. ": " .. msg, 0)
end

-- Options ---------------------------------------------------------------

local common = { aggregate = true, field = true, allowed_lateness_ms = true,
                 emit = true, late = true, time = true }
local allowed_opts = {
  tumbling = { size_ms = true, offset_ms = true },
  sliding = { size_ms = true, slide_ms = true, offset_ms = true },
  session = { gap_ms = true },
}

local function check_options(kind, opts)
  if type(opts) ~= "table" then fail(kind, "expects a table of options") end
  for k in pairs(opts) do
    if not common[k] and not allowed_opts[kind][k] then
      local names = {}
      for n in pairs(common) do names[#names + 1] = n end
      for n in pairs(allowed_opts[kind]) do names[#names + 1] = n end
      table.sort(names)
      fail(kind, string.format("unknown option '%s' (known: %s)", tostring(k),
        table.concat(names, ", ")))
    end
  end
end

-- An integer number of milliseconds (integral floats accepted).
local function ms(kind, opts, name, default, min)
  local v = opts[name]
  if v == nil then
    if default == nil then fail(kind, name .. " is required") end
    return default
  end
  local i = type(v) == "number" and math.tointeger(v) or nil
  if i == nil then
    fail(kind, string.format("%s must be an integer number of milliseconds, got %s",
      name, type(v) == "number" and tostring(v) or type(v)))
  end
  if i < min then fail(kind, string.format("%s must be >= %d, got %d", name, min, i)) end
  return i
end

-- Aggregates ------------------------------------------------------------

-- The number an aggregate like sum reads from an event.
local function getter(kind, field)
  if field == nil then
    return function(ev)
      if type(ev) ~= "number" then
        error("eddy.window: the event is a " .. type(ev) ..
          ", not a number (give the window a field)", 0)
      end
      return ev
    end
  elseif type(field) == "string" then
    return function(ev)
      local v = type(ev) == "table" and ev[field] or nil
      if type(v) ~= "number" then
        error(string.format("eddy.window: field '%s' of the event is not a number (got %s)",
          field, type(ev) == "table" and type(v) or ("a " .. type(ev) .. " event")), 0)
      end
      return v
    end
  elseif type(field) == "function" then
    return function(ev)
      local v = field(ev)
      if type(v) ~= "number" then
        error("eddy.window: the field function returned " .. type(v) ..
          ", not a number", 0)
      end
      return v
    end
  end
  fail(kind, "field must be a field name or a function(ev) -> number")
end

local function builtin(kind, name, field)
  if name == "count" then
    return {
      init = function() return 0 end,
      add = function(acc) return acc + 1 end,
      merge = function(a, b) return a + b end,
    }
  end
  local get = getter(kind, field)
  if name == "sum" then
    return {
      init = function() return 0 end,
      add = function(acc, ev) return acc + get(ev) end,
      merge = function(a, b) return a + b end,
    }
  elseif name == "min" or name == "max" then
    local better = name == "min" and function(a, b) return a < b end
                                  or function(a, b) return a > b end
    return {
      init = function() return nil end,
      add = function(acc, ev)
        local v = get(ev)
        if acc == nil or better(v, acc) then return v end
        return acc
      end,
      merge = function(a, b)
        if a == nil then return b elseif b == nil then return a end
        return better(b, a) and b or a
      end,
    }
  elseif name == "avg" then
    return {
      init = function() return { n = 0, sum = 0 } end,
      add = function(acc, ev)
        acc.n = acc.n + 1
        acc.sum = acc.sum + get(ev)
        return acc
      end,
      merge = function(a, b) return { n = a.n + b.n, sum = a.sum + b.sum } end,
      result = function(acc) return acc.sum / acc.n end,
    }
  end
  fail(kind, "aggregate must be \"count\", \"sum\", \"min\", \"max\", \"avg\" " ..
    "or a table { init =, add =, result =, merge = }, got \"" .. tostring(name) .. "\"")
end

local function aggregate(kind, opts)
  local a = opts.aggregate
  if a == nil then a = "count" end
  if type(a) == "string" then return builtin(kind, a, opts.field) end
  if type(a) ~= "table" then
    fail(kind, "aggregate must be a name or a table { init =, add =, result =, merge = }")
  end
  if opts.field ~= nil then
    fail(kind, "field is for the built-in aggregates; a custom add reads the event itself")
  end
  for name in pairs(a) do
    if name ~= "init" and name ~= "add" and name ~= "result" and name ~= "merge" then
      fail(kind, "aggregate: unknown function '" .. tostring(name) ..
        "' (known: add, init, merge, result)")
    end
  end
  if type(a.add) ~= "function" then fail(kind, "aggregate.add must be a function(acc, ev, ts)") end
  for _, f in ipairs({ "init", "result", "merge" }) do
    if a[f] ~= nil and type(a[f]) ~= "function" then
      fail(kind, "aggregate." .. f .. " must be a function")
    end
  end
  if kind == "session" and a.merge == nil then
    fail(kind, "a custom aggregate needs merge(acc1, acc2) -> acc for session windows " ..
      "(two sessions merge when an event bridges them)")
  end
  local user_add = a.add
  return {
    init = a.init or function() return nil end,
    -- add may change acc in place and return nothing
    add = function(acc, ev, ts)
      local r = user_add(acc, ev, ts)
      if r == nil then r = acc end
      if r == nil then error("eddy.window: aggregate.add returned nil", 0) end
      return r
    end,
    merge = a.merge,
    result = a.result,
  }
end

-- Output ------------------------------------------------------------------

local function output(kind, opts, agg)
  local emit = opts.emit
  if emit ~= nil and type(emit) ~= "function" then
    fail(kind, "emit must be a function(key, start, stop, value, update, ctx) -> event")
  end
  local result = agg.result
  return function(ctx, start, stop, acc, update)
    local value = acc
    if result then value = result(acc) end
    local ev
    if emit then
      ev = emit(ctx.key, start, stop, value, update, ctx)
    else
      ev = { key = ctx.key, start = start, ["end"] = stop, value = value }
      if update then ev.update = true end
    end
    if ev ~= nil then ctx:emit(ev) end
  end
end

local function late_side(kind, opts)
  local late = opts.late
  if late == nil then return "late" end
  if late == false then return nil end
  if type(late) ~= "string" then fail(kind, "late must be a side output name or false") end
  return late
end

local NO_TIME = "eddy.window: the event has no timestamp: give its source " ..
  "event_time = field | function"

-- The event's time: function(ev, ctx) -> integer ms, or nil for
-- ctx:timestamp() (called directly: it is the hot path).
local function time_of(kind, opts)
  local t = opts.time
  if t == nil then return nil end
  local get
  if type(t) == "string" then
    get = function(ev) return type(ev) == "table" and ev[t] or nil end
  elseif type(t) == "function" then
    get = t
  else
    fail(kind, "time must be a field name or a function(ev, ctx) -> ms")
  end
  return function(ev, ctx)
    local v = get(ev, ctx)
    local ts = math.type(v) == "integer" and v or (type(v) == "number" and math.tointeger(v // 1))
    if not ts then
      error("eddy.window: the event's time (" .. (type(t) == "string" and "field '" .. t .. "'"
        or "the time function") .. ") is not a number of ms: got " .. type(v), 0)
    end
    return ts
  end
end

-- Tumbling and sliding windows ------------------------------------------
--
-- ctx.state[start] = accumulator of the window [start, start + size);
-- ctx.state.f[start] = true once it fired, while allowed lateness keeps it.

local function aligned(kind, opts, size, slide, offset)
  local agg = aggregate(kind, opts)
  local lateness = ms(kind, opts, "allowed_lateness_ms", 0, 0)
  local out = output(kind, opts, agg)
  local late = late_side(kind, opts)
  local init, add = agg.init, agg.add
  local time = time_of(kind, opts)
  local op = {}

  -- Adds ev (time ts) to the window starting at start; false when the
  -- window is past its allowed lateness.
  local function put(ctx, st, ev, ts, start)
    local acc = st[start]
    local f = st.f
    if acc ~= nil and not (f and f[start]) then
      st[start] = add(acc, ev, ts)           -- an open window: the usual case
      return true
    end
    local stop = start + size
    local wm = ctx:watermark()
    if stop + lateness <= wm then return false end
    if acc == nil then acc = init() end
    acc = add(acc, ev, ts)
    st[start] = acc
    if stop > wm then
      ctx:event_timer(stop)                  -- a new window
      if lateness > 0 then ctx:event_timer(stop + lateness) end
    else
      -- complete already (a late event within lateness): its result now,
      -- and the window stays until end + lateness
      if f == nil then f = {}; st.f = f end
      out(ctx, start, stop, acc, f[start] == true)
      f[start] = true
      ctx:event_timer(stop + lateness)
    end
    return true
  end

  if slide == size then
    function op.process(ev, ctx)
      local ts
      if time then ts = time(ev, ctx) else ts = ctx:timestamp() end
      if ts == nil then error(NO_TIME, 0) end
      if not put(ctx, ctx.state, ev, ts, ts - (ts - offset) % size) and late then
        ctx:emit(ev, late)
      end
    end
  else
    function op.process(ev, ctx)
      local ts
      if time then ts = time(ev, ctx) else ts = ctx:timestamp() end
      if ts == nil then error(NO_TIME, 0) end
      local st = ctx.state
      local used = false
      local last = ts - (ts - offset) % slide   -- the last window holding ts
      for start = last - ((size - 1 - (ts - last)) // slide) * slide, last, slide do
        if put(ctx, st, ev, ts, start) then used = true end
      end
      if not used and late then ctx:emit(ev, late) end
    end
  end

  -- Every window [s, s + size) has a timer at s + size (it fires) and, with
  -- allowed lateness, one at s + size + lateness (it goes): the windows a
  -- timer at t is for follow from t.
  function op.on_timer(t, ctx, kind_)
    if kind_ ~= "event" then return end
    local st = ctx.state
    local start = t - size
    local acc = st[start]
    if lateness == 0 then
      if acc ~= nil then
        out(ctx, start, t, acc, false)
        st[start] = nil
      end
      return
    end
    local f = st.f
    if acc ~= nil and not (f and f[start]) then
      out(ctx, start, t, acc, false)
      if f == nil then f = {}; st.f = f end
      f[start] = true
    end
    start = t - size - lateness
    if st[start] ~= nil then
      st[start] = nil
      if f then
        f[start] = nil
        if next(f) == nil then st.f = nil end
      end
    end
  end

  if lateness > 0 then op.accepts_late = true end
  return op
end

function M.tumbling(opts)
  check_options("tumbling", opts)
  local size = ms("tumbling", opts, "size_ms", nil, 1)
  local offset = ms("tumbling", opts, "offset_ms", 0, MIN + 1)
  return aligned("tumbling", opts, size, size, offset)
end

function M.sliding(opts)
  check_options("sliding", opts)
  local size = ms("sliding", opts, "size_ms", nil, 1)
  local slide = ms("sliding", opts, "slide_ms", nil, 1)
  if slide > size then
    fail("sliding", string.format("slide_ms (%d) must not exceed size_ms (%d)", slide, size))
  end
  local offset = ms("sliding", opts, "offset_ms", 0, MIN + 1)
  return aligned("sliding", opts, size, slide, offset)
end

-- Session windows ---------------------------------------------------------
--
-- ctx.state[start] = { e = end, a = accumulator, f = true once it fired
-- (kept for allowed lateness), u = true when it fires as an update }.
-- Sessions of a key never overlap.

function M.session(opts)
  check_options("session", opts)
  local gap = ms("session", opts, "gap_ms", nil, 1)
  local agg = aggregate("session", opts)
  local lateness = ms("session", opts, "allowed_lateness_ms", 0, 0)
  local out = output("session", opts, agg)
  local late = late_side("session", opts)
  local init, add, merge = agg.init, agg.add, agg.merge
  local time = time_of("session", opts)
  local op = {}

  -- Does a session still need an event timer at time t?
  local function needed(st, t)
    for _, sess in pairs(st) do
      if sess.e == t or (lateness > 0 and sess.e + lateness == t) then return true end
    end
    return false
  end

  function op.process(ev, ctx)
    local ts
    if time then ts = time(ev, ctx) else ts = ctx:timestamp() end
    if ts == nil then error(NO_TIME, 0) end
    local st = ctx.state
    local ms_, me = ts, ts + gap
    -- the sessions overlapping [ts, ts + gap): they and ev become one
    local parts
    for start, sess in pairs(st) do
      if start < ts + gap and sess.e > ts then
        parts = parts or {}
        parts[#parts + 1] = start
        if start < ms_ then ms_ = start end
        if sess.e > me then me = sess.e end
      end
    end
    -- the usual case: ev falls into an open session and does not move its end
    if parts and #parts == 1 and ms_ == parts[1] then
      local sess = st[ms_]
      if sess.e == me and not sess.f then
        sess.a = add(sess.a, ev, ts)
        return
      end
    end
    local wm = ctx:watermark()
    if me + lateness <= wm then
      if late then ctx:emit(ev, late) end
      return
    end
    local acc, fired, old = nil, false, {}
    if parts then
      table.sort(parts)
      for i, start in ipairs(parts) do
        local sess = st[start]
        if i == 1 then acc = sess.a else acc = merge(acc, sess.a) end
        if sess.f or sess.u then fired = true end
        old[#old + 1] = sess.e
        st[start] = nil
      end
    else
      acc = init()
    end
    acc = add(acc, ev, ts)
    local sess = { e = me, a = acc }
    st[ms_] = sess
    if me > wm then
      ctx:event_timer(me)
      if fired then sess.u = true end    -- it fires at me, as an update
    else
      out(ctx, ms_, me, acc, fired)      -- complete already: its result now
      sess.f = true
    end
    if lateness > 0 then ctx:event_timer(me + lateness) end
    -- the timers of the sessions merged away
    for _, e in ipairs(old) do
      if not needed(st, e) then ctx:cancel_timer(e, "event") end
      if lateness > 0 and not needed(st, e + lateness) then
        ctx:cancel_timer(e + lateness, "event")
      end
    end
  end

  function op.on_timer(t, ctx, kind_)
    if kind_ ~= "event" then return end
    local st = ctx.state
    local starts = {}
    for start in pairs(st) do starts[#starts + 1] = start end
    table.sort(starts)
    for _, start in ipairs(starts) do
      local sess = st[start]
      if sess.e <= t and not sess.f then
        out(ctx, start, sess.e, sess.a, sess.u == true)
        sess.u = nil
        if lateness > 0 then sess.f = true end
      end
      if sess.e + lateness <= t then st[start] = nil end
    end
  end

  if lateness > 0 then op.accepts_late = true end
  return op
end

return M
