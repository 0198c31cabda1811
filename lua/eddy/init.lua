-- eddy: the job DSL.
--
-- A job file builds a job with eddy.job{...}, adds sources, chains
-- operators on streams and ends them in sinks, then returns the job. Nothing
-- runs here: job:plan() hands the C core a plain table of nodes in creation
-- order (so every node's inputs come before it and the graph is acyclic).
-- Mistakes are reported with the job file's line.

local core = require("eddy.core")

local eddy = {
  null = core.null,
  version = core.version,
  array = core.array,
  json = { encode = core.json_encode, decode = core.json_decode },
  source = {},
  sink = {},
}

local this_file = debug.getinfo(1, "S").source

-- file:line of the first caller outside this module.
local function caller()
  for level = 2, 50 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source ~= this_file and info.what ~= "C" then
      local src = info.source:gsub("^@", "")
      return src .. ":" .. (info.currentline or 0)
    end
  end
  return "?"
end

local function fail(msg)
  error(caller() .. ": " .. msg, 0)
end

local function check_fields(what, t, allowed)
  if type(t) ~= "table" then fail(what .. " expects a table of options") end
  for k in pairs(t) do
    if not allowed[k] then
      local names = {}
      for name in pairs(allowed) do names[#names + 1] = name end
      table.sort(names)
      fail(string.format("%s: unknown option '%s' (known: %s)", what,
        tostring(k), table.concat(names, ", ")))
    end
  end
end

local function check_type(what, v, ty, optional)
  if v == nil and optional then return end
  if type(v) ~= ty then
    fail(string.format("%s must be a %s, got %s", what, ty, type(v)))
  end
end

-- whole(what, v, min [, max]): an optional whole number from min (to max),
-- returned as an integer (1e3 is taken as 1000). Anything else, NaN and
-- numeric strings included, is a job-definition error: the core would
-- otherwise fall back to its default without a word.
local function whole(what, v, min, max)
  if v == nil then return nil end
  local i = type(v) == "number" and math.tointeger(v) or nil
  if i == nil or i < min or (max ~= nil and i > max) then
    fail(string.format("%s must be a whole number %s, got %s", what,
      max and string.format("from %d to %d", min, max)
        or string.format(">= %d", min),
      v ~= v and "NaN" or type(v) == "number" and tostring(v) or type(v)))
  end
  return i
end

local function check_format(what, f)
  if f ~= nil and f ~= "json" and f ~= "lines" then
    fail(what .. ": format must be \"json\" or \"lines\", got " .. tostring(f))
  end
end

local function set(...)
  local s = {}
  for _, k in ipairs({ ... }) do s[k] = true end
  return s
end

-- Sources -----------------------------------------------------------------

local common_source = { "format", "event_time", "max_out_of_orderness_ms",
  "idle_timeout_ms", "max_line_bytes" }

local function source_spec(kind, opts, extra)
  local allowed = set(table.unpack(common_source))
  for _, k in ipairs(extra) do allowed[k] = true end
  local what = "eddy.source." .. kind
  check_fields(what, opts or {}, allowed)
  opts = opts or {}
  check_format(what, opts.format)
  local et = opts.event_time
  if et ~= nil and type(et) ~= "string" and type(et) ~= "function" then
    fail(what .. ": event_time must be a field name or a function")
  end
  local spec = { kind = kind }
  for k, v in pairs(opts) do spec[k] = v end
  spec.max_line_bytes = whole(what .. ": max_line_bytes", opts.max_line_bytes, 1)
  spec.max_out_of_orderness_ms = whole(what .. ": max_out_of_orderness_ms",
    opts.max_out_of_orderness_ms, 0)
  spec.idle_timeout_ms = whole(what .. ": idle_timeout_ms",
    opts.idle_timeout_ms, 0)
  return setmetatable(spec, { __name = "eddy.source" })
end

function eddy.source.file(opts)
  local s = source_spec("file", opts, { "path", "follow" })
  check_type("eddy.source.file: path", s.path, "string")
  return s
end

function eddy.source.stdin(opts)
  return source_spec("stdin", opts, {})
end

function eddy.source.tcp(opts)
  local s = source_spec("tcp", opts, { "host", "port" })
  if s.port == nil then fail("eddy.source.tcp: port must be an integer") end
  s.port = whole("eddy.source.tcp: port", s.port, 0, 65535)
  return s
end

function eddy.source.script(opts)
  local s = source_spec("script", opts, { "path", "interval_ms" })
  check_type("eddy.source.script: path", s.path, "string")
  s.interval_ms = whole("eddy.source.script: interval_ms", s.interval_ms, 0)
  return s
end

-- Sinks -------------------------------------------------------------------

function eddy.sink.file(opts)
  check_fields("eddy.sink.file", opts, set("path", "format", "name"))
  check_type("eddy.sink.file: path", opts.path, "string")
  check_format("eddy.sink.file", opts.format)
  return { kind = "file", path = opts.path, format = opts.format or "json",
           name = opts.name }
end

function eddy.sink.stdout(opts)
  opts = opts or {}
  check_fields("eddy.sink.stdout", opts, set("format", "name"))
  check_format("eddy.sink.stdout", opts.format)
  return { kind = "stdout", format = opts.format or "json", name = opts.name }
end

-- Streams -----------------------------------------------------------------

local Stream = {}
Stream.__index = Stream
Stream.__name = "eddy.stream"

local function stream(job, ports, key, op_id)
  return setmetatable({ _job = job, _ports = ports, _key = key,
                        _op_id = op_id }, Stream)
end

local function is_stream(s) return getmetatable(s) == Stream end

local function basename(path)
  return (path:match("([^/]+)$") or path):gsub("%.[^.]*$", "")
end

-- name, or name_2, name_3...: the first not in the set used (then added).
local function unique(used, name)
  if not used[name] then used[name] = true; return name end
  for i = 2, math.huge do
    local n = name .. "_" .. i
    if not used[n] then used[n] = true; return n end
  end
end

local function add_node(job, node)
  node.id = #job._nodes + 1
  node.where = caller()
  job._nodes[node.id] = node
  return node
end

local op_options = set("name", "on_error")
local policies = set("fail", "skip", "dead_letter")

local function add_operator(self, kind, op, opts)
  if not is_stream(self) then fail(kind .. ": call it as stream:" .. kind .. "(...)") end
  opts = opts or {}
  check_fields("stream:" .. kind, opts, op_options)
  if type(op) ~= "string" and type(op) ~= "function" then
    fail(kind .. ": the operator must be a script path or a function, got "
      .. type(op))
  end
  if opts.on_error ~= nil and not policies[opts.on_error] then
    fail(kind .. ": on_error must be \"fail\", \"skip\" or \"dead_letter\"")
  end
  check_type(kind .. ": name", opts.name, "string", true)
  local job = self._job
  local name = opts.name
  if name then
    if job._names.operator[name] then
      fail(kind .. ": there is already an operator named '" .. name .. "'")
    end
    job._names.operator[name] = true
  end
  -- without opts.name, job:plan() gives the node a name made from
  -- default_name, once every explicit name of the job is known
  local node = add_node(job, {
    type = "operator", kind = kind, name = name,
    default_name = not name and (type(op) == "string" and basename(op) or kind)
      or nil,
    script = type(op) == "string" and op or nil,
    fn = type(op) == "function" and op or nil,
    key = self._key, on_error = opts.on_error, inputs = self._ports,
  })
  return stream(job, { { id = node.id } }, nil, node.id)
end

function Stream:map(op, opts) return add_operator(self, "map", op, opts) end
function Stream:filter(op, opts) return add_operator(self, "filter", op, opts) end
function Stream:flat_map(op, opts) return add_operator(self, "flat_map", op, opts) end
function Stream:process(op, opts) return add_operator(self, "process", op, opts) end

-- key_by(field | fn), or key_by() with no argument: each event (a string
-- or an integer) is its own key, with no Lua call per event. An explicit
-- nil is an error, not the event as key: it is most likely a typo.
function Stream:key_by(...)
  local key = ...
  if select("#", ...) == 0 then
    key = true -- the event itself (operator.c: a boolean key)
  elseif type(key) ~= "string" and type(key) ~= "function" then
    fail("key_by expects a field name or a function (or no argument: the "
      .. "event is its own key), got " .. type(key))
  end
  return stream(self._job, self._ports, key, nil)
end

function Stream:union(...)
  local ports = {}
  for _, p in ipairs(self._ports) do ports[#ports + 1] = p end
  for i = 1, select("#", ...) do
    local other = select(i, ...)
    if not is_stream(other) or other._job ~= self._job then
      fail("union: argument " .. i .. " is not a stream of this job")
    end
    for _, p in ipairs(other._ports) do ports[#ports + 1] = p end
  end
  return stream(self._job, ports, nil, nil)
end

function Stream:side(name)
  check_type("side: name", name, "string")
  if not self._op_id then
    fail("side: only an operator's stream has side outputs")
  end
  return stream(self._job, { { id = self._op_id, side = name } }, nil, nil)
end

function Stream:sink(spec)
  if type(spec) ~= "table" or (spec.kind ~= "file" and spec.kind ~= "stdout") then
    fail("sink expects eddy.sink.file{...} or eddy.sink.stdout{...}")
  end
  local job = self._job
  local name = spec.name
  check_type("sink: name", name, "string", true)
  if name then -- names key the committed lengths in checkpoints
    if job._names.sink[name] then
      fail("sink: there is already a sink named '" .. name .. "'")
    end
    job._names.sink[name] = true
  end
  add_node(job, {
    type = "sink", kind = spec.kind, path = spec.path, format = spec.format,
    name = name, inputs = self._ports,
    -- as an operator's: job:plan() names it once every explicit name is known
    default_name = not name and (spec.path and basename(spec.path) or spec.kind)
      or nil,
  })
  return self
end

-- Jobs --------------------------------------------------------------------

local Job = {}
Job.__index = Job
Job.__name = "eddy.job"

local job_options = set("name", "checkpoint", "restart", "limits",
  "poison_after", "max_error_ratio", "error_window_ms")

function eddy.job(opts)
  opts = opts or {}
  check_fields("eddy.job", opts, job_options)
  -- without a name, the core names the job after its file (job_load.c):
  -- jobA.lua is "jobA", with its own state dir (eddy-state/jobA)
  local name = opts.name
  check_type("eddy.job: name", name, "string", true)
  if name and not name:match("^[%w_.%-]+$") then
    fail("eddy.job: name may hold letters, digits, '_', '.' and '-' only")
  end
  if name == "." or name == ".." then -- the state dir would be eddy-state/..
    fail("eddy.job: name cannot be '" .. name .. "'")
  end
  local o = { name = name, restart = opts.restart }
  if opts.limits ~= nil then
    check_fields("eddy.job: limits", opts.limits, set("event_ms", "memory_mb"))
    o.limits = {
      event_ms = whole("eddy.job: limits.event_ms", opts.limits.event_ms, 1),
      memory_mb = whole("eddy.job: limits.memory_mb", opts.limits.memory_mb, 1),
    }
  end
  local ck = opts.checkpoint
  if ck ~= nil and ck ~= false then
    check_fields("eddy.job: checkpoint", ck, set("interval_ms", "event_time_ms"))
    o.checkpoint = {
      interval_ms = whole("eddy.job: checkpoint.interval_ms", ck.interval_ms, 0),
      event_time_ms = whole("eddy.job: checkpoint.event_time_ms",
        ck.event_time_ms, 0),
    }
  else
    o.checkpoint = ck
  end
  o.poison_after = whole("eddy.job: poison_after", opts.poison_after, 0)
  o.error_window_ms = whole("eddy.job: error_window_ms", opts.error_window_ms, 10)
  local r = opts.max_error_ratio
  if r ~= nil and (type(r) ~= "number" or not (r >= 0 and r <= 1)) then
    fail("eddy.job: max_error_ratio must be a number from 0 to 1, got "
      .. (r ~= r and "NaN" or type(r) == "number" and tostring(r) or type(r)))
  end
  o.max_error_ratio = r
  return setmetatable({ _opts = o, _name = name, _nodes = {},
    _names = { source = {}, operator = {}, sink = {} } }, Job)
end

function Job:source(name, spec)
  check_type("source: name", name, "string")
  if getmetatable(spec) == nil or getmetatable(spec).__name ~= "eddy.source" then
    fail("source expects eddy.source.file{...}, .stdin, .tcp or .script")
  end
  if self._names.source[name] then
    fail("source: there is already a source named '" .. name .. "'")
  end
  self._names.source[name] = true
  local node = { type = "source", name = name }
  for k, v in pairs(spec) do node[k] = v end
  add_node(self, node)
  return stream(self, { { id = node.id } }, nil, nil)
end

function Job:dead_letter(spec)
  if type(spec) ~= "table" or spec.kind ~= "file" then
    fail("dead_letter expects eddy.sink.file{...}")
  end
  -- where: its job file line; after: how many nodes were declared before
  -- it (graph.c reports a file used twice at the later declaration)
  self._dead_letter = { kind = "file", path = spec.path, format = "json",
                        name = spec.name or "dead_letters", where = caller(),
                        after = #self._nodes }
  return self
end

-- The plain description the C core builds the dataflow from. Operators
-- without opts.name get their names here, in creation order, from the
-- script's base name (or the kind for a function) made unique, and sinks
-- without a name from their file's base name (or the kind): a default
-- never takes a name written anywhere in the job, and a job without
-- explicit names gets the names it always got (checkpoints keep state
-- under them).
function Job:plan()
  local used = { operator = {}, sink = {} }
  for kind, names in pairs(used) do
    for n in pairs(self._names[kind]) do names[n] = true end
  end
  for _, node in ipairs(self._nodes) do
    if node.default_name then
      node.name = unique(used[node.type], node.default_name)
    end
  end
  local o = self._opts
  return {
    name = self._name, nodes = self._nodes, dead_letter = self._dead_letter,
    limits = o.limits, checkpoint = o.checkpoint, restart = o.restart,
    poison_after = o.poison_after, max_error_ratio = o.max_error_ratio,
    error_window_ms = o.error_window_ms,
  }
end

return eddy
