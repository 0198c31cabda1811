-- eddy.testing: test operators and whole jobs with busted, on the real core.
--
-- testing.operator(script, opts) runs one operator script; testing.job(file,
-- opts) runs a whole job file. Both run the C core in this process with a
-- simulated clock (processing time moves only when the test says so), with
-- in-memory inputs in place of sources and in-memory outputs in place of
-- sinks, and with real checkpoints in a temporary state dir. The job runs
-- in its own Lua state: what goes in and comes out is copied, so a test
-- may change events and results freely. Everything is deterministic.

local core = require("eddy.core")

local testing = {}

-- The directory holding the eddy modules (…/eddy/testing.lua -> …).
local LUA_DIR = (debug.getinfo(1, "S").source:gsub("^@", "")
  :match("^(.*)/eddy/[^/]*$")) or "."

local function fail(msg, level) error(msg, (level or 1) + 1) end

local function abs_path(path, what)
  if type(path) ~= "string" then fail(what .. ": a path is needed", 3) end
  local p, err = core.realpath(path)
  if not p then fail(what .. ": " .. err, 3) end
  return p
end

-- ms as an integer, or a failure naming the method. (An integral float
-- such as 1e3 is taken.)
local function ms_arg(ms, what, level)
  local i = math.tointeger(ms)
  if i == nil then
    fail(string.format("%s: milliseconds must be an integer, got %s", what,
      tostring(ms)), level or 3)
  end
  return i
end

-- The time ms after now for advance(ms): ms must be >= 0 (the clock does
-- not go back); past the largest integer it stays there.
local function later(now, ms)
  local i = ms_arg(ms, "advance", 4)
  if i < 0 then
    fail("advance: milliseconds must be >= 0 (the clock does not go back), got "
      .. i, 3)
  end
  return i > math.maxinteger - now and math.maxinteger or now + i
end

local function basename(path)
  return (path:match("([^/]+)$") or path):gsub("%.[^.]*$", "")
end

-- Fails on the first unknown option in sorted order (not in table order,
-- which changes from run to run).
local function check_opts(what, opts, allowed)
  local unknown = {}
  for k in pairs(opts) do
    if not allowed[k] then unknown[#unknown + 1] = tostring(k) end
  end
  if #unknown == 0 then return end
  table.sort(unknown)
  local names = {}
  for n in pairs(allowed) do names[#names + 1] = n end
  table.sort(names)
  fail(string.format("%s: unknown option '%s' (known: %s)", what,
    unknown[1], table.concat(names, ", ")), 3)
end

local function set(...)
  local s = {}
  for _, k in ipairs({ ... }) do s[k] = true end
  return s
end

-- Timers as a list { {time, kind, key}, ... } in firing order.
local function timer_list(snap)
  local list = {}
  for _, kind in ipairs({ "processing", "event" }) do
    for time, keys in pairs(snap and snap[kind] or {}) do
      for _, key in ipairs(keys) do
        list[#list + 1] = { time = time, kind = kind, key = key }
      end
    end
  end
  table.sort(list, function(a, b)
    if a.time ~= b.time then return a.time < b.time end
    if a.kind ~= b.kind then return a.kind < b.kind end
    if type(a.key) ~= type(b.key) then return type(a.key) < type(b.key) end
    return a.key < b.key
  end)
  return list
end

-- A harness holds C resources the test's collector cannot see (a LevelDB
-- handle and its files, a watchdog thread, a temporary directory), for a
-- few hundred bytes of Lua memory: a spec file making many would run out
-- of file descriptors long before the collector ran. So at most MAX_LIVE
-- harnesses stay uncollected: past that, a full collection runs first.
local MAX_LIVE = 32
local live = setmetatable({}, { __mode = "k" })

local function new_harness(args)
  local n = 0
  for _ in pairs(live) do n = n + 1 end
  if n >= MAX_LIVE then collectgarbage() end
  local h = core.harness(args)
  live[h] = true
  return h
end

testing.log_level = core.log_level
core.log_level(os.getenv("EDDY_TEST_LOG_LEVEL") or "warn")

---------------------------------------------------------------------------
-- One operator
---------------------------------------------------------------------------

local Operator = {}
Operator.__index = Operator

local op_options = set("keyed", "key_by", "kind", "name", "on_error",
  "restore", "limits")
local kinds = set("map", "filter", "flat_map", "process")

-- The job file a harness for one operator runs.
local function operator_job(script, o, name)
  local lines = {
    'local eddy = require("eddy")',
    'local core = require("eddy.core")',
    string.format('package.path = %q .. "/?.lua;" .. package.path',
      (script:match("^(.*)/[^/]*$") or ".")),
    string.format('local job = eddy.job{ name = "test", checkpoint = false, '
      .. 'restart = { strategy = "none" }, limits = { event_ms = %d%s } }',
      o.limits and o.limits.event_ms or 10000,
      o.limits and o.limits.memory_mb
        and (", memory_mb = " .. o.limits.memory_mb) or ""),
    'local s = job:source("input", eddy.source.stdin{})',
  }
  if o.keyed or o.key_by then
    lines[#lines + 1] = string.format([[
local field = %s
s = s:key_by(function(ev)
  local k = core.test_key()
  if k == nil and field and type(ev) == "table" then k = ev[field] end
  return k
end)]], o.key_by and string.format("%q", o.key_by) or "nil")
  end
  lines[#lines + 1] = string.format(
    'local out = s:%s(%q, { name = %q%s })', o.kind or "process", script, name,
    o.on_error and string.format(", on_error = %q", o.on_error) or "")
  lines[#lines + 1] = 'out:sink(eddy.sink.stdout{ name = "output" })'
  lines[#lines + 1] = 'out:side("*"):sink(eddy.sink.stdout{ name = "sides" })'
  lines[#lines + 1] = 'return job'
  return table.concat(lines, "\n") .. "\n"
end

--- testing.operator(script, opts) -> harness for one operator script.
-- opts: keyed (ctx.key and per-key state; the key comes with push or from
-- key_by = field), kind ("process" by default, or "map", "filter",
-- "flat_map"), name, on_error, limits, restore (a snapshot from
-- op:checkpoint()).
function testing.operator(script, opts)
  opts = opts or {}
  check_opts("testing.operator", opts, op_options)
  if opts.kind and not kinds[opts.kind] then
    fail("testing.operator: kind must be map, filter, flat_map or process", 2)
  end
  if opts.key_by ~= nil and type(opts.key_by) ~= "string" then
    fail("testing.operator: key_by must be a field name (push a key to key "
      .. "otherwise)", 2)
  end
  local limits = opts.limits
  if limits ~= nil then
    if type(limits) ~= "table" then
      fail("testing.operator: limits must be a table { event_ms = ..., "
        .. "memory_mb = ... }", 2)
    end
    check_opts("testing.operator: limits", limits, set("event_ms", "memory_mb"))
    for _, k in ipairs({ "event_ms", "memory_mb" }) do
      local v = limits[k]
      if v ~= nil and (math.type(v) ~= "integer" or v <= 0) then
        fail(string.format("testing.operator: limits.%s must be a positive "
          .. "integer, got %s", k, tostring(v)), 2)
      end
    end
  end
  local restore = opts.restore
  if restore ~= nil and (type(restore) ~= "table"
      or type(restore.snapshot) ~= "table") then
    fail("testing.operator: restore takes what op:checkpoint() returned", 2)
  end
  local path = abs_path(script, "testing.operator")
  -- state and timers are stored under the operator's name: a restored
  -- harness takes the snapshot's name (its script may be another version)
  local name = opts.name or (restore and restore.operator) or basename(path)
  if restore and restore.operator and name ~= restore.operator then
    fail(string.format("testing.operator: the snapshot is of operator '%s', "
      .. "not '%s': its state would not be found (leave name out)",
      restore.operator, name), 2)
  end
  local h = new_harness{ lua_dir = LUA_DIR, live = "input" }
  local job_file = h:dir() .. "/job.lua"
  local f = assert(io.open(job_file, "w"))
  f:write(operator_job(path, opts, name))
  f:close()
  h:set_job(job_file)
  if restore then h:load_snapshot(restore.snapshot) end
  h:start()
  return setmetatable({ _h = h, _name = name, _keyed = opts.keyed or
    opts.key_by ~= nil, _read = {} }, Operator)
end

--- op:push(ev [, { key = k, timestamp = ms }]) delivers one event now.
function Operator:push(ev, meta)
  meta = meta or {}
  if self._keyed and meta.key == nil and type(ev) ~= "table" then
    fail("push: a keyed operator needs { key = ... }", 2)
  end
  self._h:push(ev, meta.key, meta.timestamp)
  return self
end

--- op:advance(ms) moves processing time forward; due timers fire in order.
function Operator:advance(ms)
  self._h:advance_to(later(self._h:now(), ms))
  return self
end

--- op:watermark(ms) moves the input's watermark; due event timers fire.
function Operator:watermark(ms)
  self._h:watermark("input", ms_arg(ms, "watermark"))
  return self
end

function Operator:now() return self._h:now() end

-- Records of side (nil: main output) not yet read; read marks them read.
local function take(self, side, read)
  local vals, sides = self._h:output(side and "sides" or "output")
  local out, seen = {}, 0
  for i, v in ipairs(vals) do
    if side == nil or sides[i] == side then
      seen = seen + 1
      if seen > (self._read[side or 1] or 0) then out[#out + 1] = v end
    end
  end
  if read then self._read[side or 1] = seen end
  return out
end

--- op:output([side]) -> events emitted since the last call, in order.
function Operator:output(side) return take(self, side, true) end

--- op:peek([side]) -> the same, without marking them read.
function Operator:peek(side) return take(self, side, false) end

--- op:state([key]) -> a copy of the key's state (operator-wide state when
-- the operator is not keyed), nil when there is none.
function Operator:state(key)
  if self._keyed and key == nil then fail("state: which key?", 2) end
  return self._h:state(self._name, self._keyed and key or nil)
end

--- op:timers() -> { {time = ms, kind = "processing"|"event", key = k} }
function Operator:timers()
  return timer_list(self._h:timers(self._name))
end

--- op:stats() -> { in, out, errors, skipped, dead_letters, late }
function Operator:stats() return self._h:stats(self._name) end

--- op:dead_letters() -> the dead-letter records so far.
function Operator:dead_letters() return self._h:dead_letters() end

--- op:checkpoint() -> a snapshot; testing.operator(script, { restore = it })
-- starts from it (the clock starts again at 0).
function Operator:checkpoint()
  self._h:checkpoint()
  return { snapshot = self._h:snapshot(), operator = self._name }
end

--- op:reload(path) -> true, or false and why (the old version stays).
function Operator:reload(path)
  return self._h:reload(self._name, abs_path(path, "reload"))
end

--- op:close() runs close hooks and frees the harness.
function Operator:close()
  local code, why = self._h:finish()
  if code ~= 0 then fail(why, 2) end
end

---------------------------------------------------------------------------
-- A whole job
---------------------------------------------------------------------------

--- testing.raw{ line, ... } -> an input of raw lines: the source decodes
-- them by its format, as it would a file's (bad ones go to the dead
-- letters with their position).
function testing.raw(lines)
  if type(lines) ~= "table" then fail("testing.raw expects a list of lines", 2) end
  for i, l in ipairs(lines) do
    if type(l) ~= "string" then fail("testing.raw: line " .. i .. " is not a string", 2) end
  end
  return { raw = lines }
end

local Job = {}
Job.__index = Job

local job_options = set("inputs", "clock")

--- testing.job(job_file, { inputs = { source = { ev, ... } }, clock =
-- { start_ms = 0, step_ms = 0 } }) -> harness for a whole job. Sources
-- named in inputs read those events instead (in order; each step takes one
-- event from every input); stdin and tcp sources without inputs are empty;
-- file sources read their file to its end. Every sink, and the dead
-- letters, keep what they receive in memory. Processing time starts at
-- start_ms and moves step_ms after each step (and when the test says so).
function testing.job(job_file, opts)
  opts = opts or {}
  check_opts("testing.job", opts, job_options)
  local clock = opts.clock or {}
  check_opts("testing.job: clock", clock, set("start_ms", "step_ms"))
  local path = abs_path(job_file, "testing.job")
  local h = new_harness{ lua_dir = LUA_DIR, job_file = path,
    inputs = opts.inputs or {}, start_ms = clock.start_ms or 0 }
  h:start()
  return setmetatable({ _h = h, _step = clock.step_ms or 0, _ended = false },
    Job)
end

-- Turns in a row without an event that a busy loop may take: far more
-- than the chunks of the longest line a file source accepts.
local MAX_BUSY_TURNS = 10000

-- One step and the clock after it. Returns false once the job is over,
-- or, with until_ms, when nothing moved (time is not jumped then).
local function job_step(self, until_ms)
  local h = self._h
  local n, running, busy = h:step()
  if not running then
    self._ended = true
    local code, why = h:finish()
    if code ~= 0 then fail(why, 4) end
    return false
  end
  -- nothing moved and nothing is due: moving time cannot help either
  -- busy: the loop still works without the clock (a file source reading a
  -- long line takes a turn per chunk); a script source polling in a loop
  -- is busy too, though, so only so many turns in a row count as moving
  self._busy = n == 0 and busy and (self._busy or 0) + 1 or 0
  busy = busy and self._busy <= MAX_BUSY_TURNS
  local stuck = n == 0 and not busy and h:next_alarm() == nil
  if stuck and until_ms then return false end
  if stuck then
    fail("the job cannot make progress: a source waits for input that "
      .. "never comes (give it inputs)", 4)
  end
  if self._step > 0 then
    h:advance_to(math.min(until_ms or math.maxinteger, h:now() + self._step))
  elseif n > 0 or busy then
    h:advance_to(h:now()) -- timers set for now fire
  elseif until_ms then
    return false
  else -- nothing moved: time has to
    h:advance_to(math.max(h:next_alarm(), h:now()))
  end
  return true
end

--- run:run() runs until every input is drained, then ends the job as
-- `eddy run` does (timers fire, final checkpoint, close hooks).
function Job:run()
  if self._ended then return self end
  while job_step(self) do end
  return self
end

--- run:step([n]) delivers n (default 1) events from each input.
function Job:step(n)
  for _ = 1, n or 1 do
    if self._ended or not job_step(self) then break end
  end
  return self
end

--- run:run_until(ms) runs while processing time is below ms, then moves
-- the clock to ms (timers due on the way fire).
function Job:run_until(ms)
  local h = self._h
  while not self._ended and h:now() < ms and job_step(self, ms) do end
  if not self._ended and h:now() < ms then h:advance_to(ms) end
  return self
end

--- run:advance(ms) moves processing time forward.
function Job:advance(ms)
  self._h:advance_to(later(self._h:now(), ms))
  return self
end

function Job:now() return self._h:now() end

--- run:output(sink) -> everything the sink (by name, or by its path in the
-- job file) holds now, as a file sink's file would.
function Job:output(sink)
  local vals = self._h:output(sink)
  if vals == nil then
    fail(string.format("output: the job has no sink '%s' (sinks: %s)",
      tostring(sink), table.concat(self._h:sinks(), ", ")), 2)
  end
  return vals
end

--- run:dead_letters() -> the dead-letter records.
function Job:dead_letters() return self._h:dead_letters() end

--- run:checkpoint() -> the id of a checkpoint taken now.
function Job:checkpoint() return self._h:checkpoint() end

--- run:crash_and_restore(): as SIGKILL and a restart with the same state
-- dir: what the last checkpoint did not hold is lost, then the job
-- recovers from it (sinks cut back, inputs rewound) and goes on.
function Job:crash_and_restore()
  self._h:restore()
  self._ended = false
  return self
end

--- run:restarts() -> how often the restart strategy restarted the job.
function Job:restarts() return self._h:restarts() end

function Job:state(op, key) return self._h:state(op, key) end
function Job:timers(op) return timer_list(self._h:timers(op)) end
function Job:stats(op) return self._h:stats(op) end

---------------------------------------------------------------------------
-- assert.emitted(expected, actual): lists of JSON-like values, compared
-- element by element (integers and floats apart, as JSON writes them); a
-- failure prints both lists one JSON line per event with the first
-- difference marked.
---------------------------------------------------------------------------

local function lines_of(list)
  local out = {}
  for i, v in ipairs(list) do
    local s = core.json_encode(v)
    out[i] = s or ("<" .. tostring(v) .. ">")
  end
  return out
end

--- testing.diff(expected, actual) -> nil when equal, else a readable diff.
function testing.diff(expected, actual)
  local e, a = lines_of(expected), lines_of(actual)
  local first
  for i = 1, math.max(#e, #a) do
    if e[i] ~= a[i] then first = i; break end
  end
  if not first then return nil end
  local out = { string.format("events differ from #%d (expected %d, got %d):",
    first, #e, #a) }
  for i = 1, math.max(#e, #a) do
    if e[i] == a[i] then
      out[#out + 1] = string.format("   %3d  %s", i, e[i])
    else
      if e[i] then out[#out + 1] = string.format(" - %3d  %s", i, e[i]) end
      if a[i] then out[#out + 1] = string.format(" + %3d  %s", i, a[i]) end
    end
  end
  return table.concat(out, "\n")
end

local ok_say, say = pcall(require, "say")
local ok_assert, luassert = pcall(require, "luassert")
if ok_say and ok_assert then
  local function emitted(state, arguments)
    local expected, actual = arguments[1], arguments[2]
    if type(expected) ~= "table" or type(actual) ~= "table" then
      return false
    end
    local d = testing.diff(expected, actual)
    arguments[1], arguments[2] = d or "", ""
    arguments.n = 2
    return d == nil
  end
  say:set("assertion.emitted.positive", "Expected the events to match:\n%s")
  say:set("assertion.emitted.negative", "Expected the events to differ")
  luassert:register("assertion", "emitted", emitted,
    "assertion.emitted.positive", "assertion.emitted.negative")
end

return testing
