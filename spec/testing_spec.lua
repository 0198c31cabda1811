-- The testing kit (eddy.testing) on the real core: every method of the
-- operator and job harnesses, crashes included.
local testing = require("eddy.testing")

local DIR = "spec/fixtures/testing/"
local COUNT = DIR .. "ops/count.lua"

local function clicks(n)
  local evs = {}
  for i = 1, n do
    evs[i] = { user = "u" .. (i % 4), ts = 1000 + 10 * i }
  end
  return evs
end

describe("testing.operator", function()
  it("delivers pushed events and returns what was emitted, in order, once", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({ user = "a" }, { key = "a" })
    op:push({ user = "b" }, { key = "b" })
    op:push({ user = "a" }, { key = "a" })
    assert.same({ user = "a", count = 1 }, op:peek()[1])
    assert.same({ { user = "a", count = 1 }, { user = "b", count = 1 },
      { user = "a", count = 2 } }, op:output())
    assert.same({}, op:output())
    op:push({ user = "b" }, { key = "b" })
    assert.same({ { user = "b", count = 2 } }, op:output())
  end)

  it("keeps integers integers and floats floats across the boundary", function()
    local op = testing.operator(DIR .. "ops/double.lua", { kind = "map" })
    op:push(21)
    op:push(1.5)
    local out = op:output()
    assert.equal("integer", math.type(out[1]))
    assert.equal(42, out[1])
    assert.equal("float", math.type(out[2]))
  end)

  it("gives a copy of a key's state, nil for a key without one", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({}, { key = "a" })
    op:push({}, { key = "a" })
    local st = op:state("a")
    assert.same({ count = 2 }, st)
    st.count = 99
    assert.same({ count = 2 }, op:state("a"))
    assert.is_nil(op:state("nobody"))
    op:push({}, { key = 7 })
    assert.same({ count = 1 }, op:state(7))
  end)

  it("fires processing timers only when time advances, in time order", function()
    local op = testing.operator(COUNT, { keyed = true })
    assert.equal(0, op:now())
    op:push({}, { key = "a" })
    op:advance(400)
    op:push({}, { key = "b" })
    op:output()
    assert.same({ { time = 1000, kind = "processing", key = "a" },
      { time = 1400, kind = "processing", key = "b" } }, op:timers())
    op:advance(599)
    assert.same({}, op:output("timers"))
    op:advance(1)
    assert.same({ { user = "a", fired = 1000, kind = "processing", now = 1000 } },
      op:output("timers"))
    op:advance(5000)
    assert.same({ { user = "b", fired = 1400, kind = "processing", now = 1400 } },
      op:output("timers"))
    assert.equal(6000, op:now())
    assert.same({}, op:timers())
  end)

  it("fires event timers when the watermark passes them", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({}, { key = "a", timestamp = 2000 })
    op:push({}, { key = "b", timestamp = 1000 })
    op:watermark(1499)
    assert.same({}, op:output("timers"))
    op:watermark(2500)
    local fired = op:output("timers")
    assert.same({ 1500, 2500 }, { fired[1].fired, fired[2].fired })
    assert.same({ "b", "a" }, { fired[1].user, fired[2].user })
  end)

  it("sends events older than the watermark to the late side output", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:watermark(5000)
    op:push({ user = "a", ts = 1000 }, { key = "a", timestamp = 1000 })
    op:push({ user = "a", ts = 6000 }, { key = "a", timestamp = 6000 })
    assert.same({ { user = "a", ts = 1000 } }, op:output("late"))
    assert.same({ { user = "a", count = 1 } }, op:output())
    assert.equal(1, op:stats().late)
  end)

  it("keeps the watermark set by hand across a checkpoint and restore", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:watermark(1500)
    local again = testing.operator(COUNT, { keyed = true, restore = op:checkpoint() })
    again:push({ user = "a", ts = 1200 }, { key = "a", timestamp = 1200 })
    assert.same({ { user = "a", ts = 1200 } }, again:output("late"))
    assert.same({}, again:output())
  end)

  it("keys by a field when the push gives no key", function()
    local op = testing.operator(COUNT, { key_by = "user" })
    op:push({ user = "z" })
    op:push({ user = "z" })
    assert.same({ count = 2 }, op:state("z"))
  end)

  it("runs map, filter and operator-wide state", function()
    local map = testing.operator(DIR .. "ops/double.lua", { kind = "map" })
    map:push(2); map:push("x"); map:push(5)
    assert.same({ 4, 10 }, map:output())
    local filter = testing.operator(DIR .. "ops/even.lua", { kind = "filter" })
    for i = 1, 6 do filter:push(i) end
    assert.same({ 2, 4, 6 }, filter:output())
    local total = testing.operator(DIR .. "ops/total.lua")
    total:push(3); total:push(4)
    assert.same({ 3, 7 }, total:output())
    assert.same({ total = 7 }, total:state())
  end)

  it("checkpoints and restores into a fresh harness, timers included", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({}, { key = "a", timestamp = 100 })
    op:push({}, { key = "a" })
    local snap = op:checkpoint()
    op:push({}, { key = "a" }) -- after the checkpoint: not in the snapshot
    local again = testing.operator(COUNT, { keyed = true, restore = snap })
    assert.same({ count = 2 }, again:state("a"))
    assert.equal(0, again:now())
    assert.same({ { time = 1000, kind = "processing", key = "a" },
      { time = 600, kind = "event", key = "a" } },
      { again:timers()[2], again:timers()[1] })
    again:push({}, { key = "a" })
    assert.same({ { user = "a", count = 3 } }, again:output())
    again:advance(1000)
    assert.equal(1, #again:output("timers"))
  end)

  it("reloads a new version, migrating state, and keeps the old one when the new one is broken", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({}, { key = "a" })
    local ok, err = op:reload(DIR .. "ops/broken.lua")
    assert.is_false(ok)
    assert.matches("broken.lua:4:", err)
    op:push({}, { key = "a" })
    assert.same({ user = "a", count = 2 }, op:output()[2])
    assert.is_true(op:reload(DIR .. "ops/count_v2.lua"))
    assert.same({ n = 2 }, op:state("a"))
    op:push({}, { key = "a" })
    assert.same({ { user = "a", n = 3, v = 2 } }, op:output())
  end)

  it("refuses a migrate that returns nothing or no table, and keeps the old version and state", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({}, { key = "a" })
    local ok, err = op:reload(DIR .. "ops/count_v2_noreturn.lua")
    assert.is_false(ok)
    assert.matches('count_v2_noreturn.lua:3: migrate returned nothing for key "a": it must return the new state', err)
    ok, err = op:reload(DIR .. "ops/count_v2_number.lua")
    assert.is_false(ok)
    assert.matches('migrate returned number for key "a"', err)
    assert.same({ count = 1 }, op:state("a"))
    op:push({}, { key = "a" })
    assert.same({ user = "a", count = 2 }, op:output()[2])
  end)

  it("drops the keys for which migrate returns nil", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({}, { key = "a" })
    op:push({}, { key = "b" })
    assert.is_true(op:reload(DIR .. "ops/count_v2_drop.lua"))
    assert.same({ n = 1 }, op:state("a"))
    assert.is_nil(op:state("b"))
  end)

  it("keeps the old version when the new one's open fails (the job goes on)", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({}, { key = "a" })
    local ok, err = op:reload(DIR .. "ops/badopen.lua")
    assert.is_false(ok)
    assert.matches("open failed: .*badopen.lua:2: cannot open", err)
    op:push({}, { key = "a" })
    assert.same({ user = "a", count = 2 }, op:output()[2])
  end)

  it("fails the test with the operator's error and traceback", function()
    local op = testing.operator(DIR .. "ops/strict.lua", { keyed = true })
    op:push({ n = 1 }, { key = "k" })
    local ok, err = pcall(op.push, op, { n = "x" }, { key = "k" })
    assert.is_false(ok)
    assert.matches("operator strict failed: key \"k\"", err)
    assert.matches("strict.lua:4:", err)
    assert.matches("stack traceback", err)
    assert.has_error(function() op:push({ n = 1 }, { key = "k" }) end,
      "the job is not running (it has ended)")
  end)

  it("applies on_error policies: dead letters and skips are counted", function()
    local dl = testing.operator(DIR .. "ops/strict.lua",
      { keyed = true, on_error = "dead_letter" })
    dl:push({ n = 1 }, { key = "k" })
    dl:push({ n = "x" }, { key = "k" })
    dl:push({ n = 2 }, { key = "k" })
    assert.same({ { sum = 1 }, { sum = 3 } }, dl:output())
    local dead = dl:dead_letters()
    assert.equal(1, #dead)
    assert.equal("strict", dead[1].operator)
    assert.equal("k", dead[1].key)
    assert.same({ n = "x" }, dead[1].event)
    assert.matches("strict.lua:4: attempt to add", dead[1].error)
    assert.equal(1, dl:stats().dead_letters)
    local skip = testing.operator(DIR .. "ops/strict.lua",
      { keyed = true, on_error = "skip" })
    skip:push({ n = "x" }, { key = "k" })
    assert.same({ in_ = 1, skipped = 1, errors = 1 },
      { in_ = skip:stats()["in"], skipped = skip:stats().skipped,
        errors = skip:stats().errors })
  end)

  it("is deterministic: the same pushes give the same outputs", function()
    local function run()
      local op = testing.operator(COUNT, { keyed = true })
      for i = 1, 20 do
        op:push({ i = i }, { key = "k" .. (i % 3), timestamp = i * 100 })
        if i % 5 == 0 then op:advance(700) end
      end
      op:watermark(10000)
      return { op:output(), op:output("timers") }
    end
    assert.same(run(), run())
  end)

  it("restores a snapshot into another version of the script, under the snapshot's name", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({}, { key = "a" })
    op:push({}, { key = "a" })
    local snap = op:checkpoint()
    -- count_v2.lua would be named "count_v2": the snapshot's name wins
    local v2 = testing.operator(DIR .. "ops/count_v2.lua", { keyed = true, restore = snap })
    v2:push({}, { key = "a" })
    assert.same({ { user = "a", n = 3, v = 2 } }, v2:output())
    local ok, err = pcall(testing.operator, COUNT, { keyed = true, restore = snap,
      name = "other" })
    assert.is_false(ok)
    assert.matches("the snapshot is of operator 'count', not 'other'", err, 1, true)
  end)

  it("refuses a malformed snapshot with an error (no crash)", function()
    for _, records in ipairs({ { "x" }, { { 1, "v" } }, { { "k" } } }) do
      local ok, err = pcall(testing.operator, COUNT, { keyed = true,
        restore = { snapshot = { records = records } } })
      assert.is_false(ok)
      assert.matches("record 1 of the snapshot is not a pair of strings", err, 1, true)
    end
  end)

  it("checks limits and millisecond arguments with plain messages", function()
    local function refuses(pattern, f, ...)
      local ok, err = pcall(f, ...)
      assert.is_false(ok)
      assert.matches(pattern, err, 1, true)
    end
    refuses("limits.memory_mb must be a positive integer, got 0.5",
      testing.operator, COUNT, { limits = { memory_mb = 0.5 } })
    refuses("limits.event_ms must be a positive integer, got 1.5",
      testing.operator, COUNT, { limits = { event_ms = 1.5 } })
    refuses("unknown option 'evnt_ms' (known: event_ms, memory_mb)",
      testing.operator, COUNT, { limits = { evnt_ms = 100 } })
    local op = testing.operator(COUNT, { keyed = true })
    refuses("advance: milliseconds must be an integer, got 1.5", op.advance, op, 1.5)
    refuses("watermark: milliseconds must be an integer, got nil", op.watermark, op)
    refuses("advance: milliseconds must be >= 0 (the clock does not go back), got -5",
      op.advance, op, -5)
    -- the message names the test's own line, here and for the job harness
    local ok, err = pcall(function() op:advance(-1) end)
    assert.is_false(ok)
    assert.matches("testing_spec%.lua:%d+: advance: milliseconds must be >= 0", err)
    ok, err = pcall(function() op:advance(0.5) end)
    assert.matches("testing_spec%.lua:%d+: advance: milliseconds must be an integer", err)
    -- a huge step stops at the largest time instead of wrapping around
    op:advance(1000)
    op:advance(math.maxinteger)
    assert.equal(math.maxinteger, op:now())
  end)

  it("refuses unknown options and missing scripts", function()
    assert.has_error(function() testing.operator(COUNT, { keyd = true }) end)
    local ok, err = pcall(testing.operator, DIR .. "ops/nope.lua")
    assert.is_false(ok)
    assert.matches("nope.lua", err)
  end)

  it("names the same unknown option and input whatever the table order", function()
    local names = { "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9" }
    for shift = 0, #names - 1 do
      local opts, inputs = {}, {}
      for i = 1, #names do
        local n = names[(i + shift - 1) % #names + 1]
        opts[n], inputs[n] = true, {}
      end
      local _, err = pcall(testing.operator, COUNT, opts)
      assert.matches("unknown option 'k1'", err, 1, true)
      _, err = pcall(testing.job, DIR .. "clicks.lua", { inputs = inputs })
      assert.matches("no source named 'k1'", err, 1, true)
    end
  end)

  it("closes: close hooks run and the harness is done", function()
    local op = testing.operator(COUNT, { keyed = true })
    op:push({}, { key = "a" })
    op:close()
    assert.has_error(function() op:push({}, { key = "a" }) end)
  end)
end)

describe("testing.job", function()
  local JOB = DIR .. "clicks.lua"

  it("runs a job over in-memory inputs and captures every sink", function()
    local run = testing.job(JOB, { inputs = { clicks = {
      { user = "a", ts = 1000 }, { user = "admin", ts = 1100 },
      { user = "a", ts = 1200 } } } })
    run:run()
    assert.same({ { user = "a", count = 1 }, { user = "admin", count = 1 },
      { user = "a", count = 2 } }, run:output("counts"))
    assert.same(run:output("counts"), run:output("out/counts.ndjson"))
    assert.same({ { user = "admin", ts = 1100 } }, run:output("admins"))
    -- the input ended: the watermark went to +infinity, event timers fired
    local fired = run:output("fired")
    assert.equal(3, #fired)
    assert.same({ 1500, 1600, 1700 }, { fired[1].fired, fired[2].fired, fired[3].fired })
    assert.same({ count = 2 }, run:state("count", "a"))
    assert.same({ ["in"] = 3, out = 6, errors = 0, skipped = 0, dead_letters = 0,
      late = 0 }, run:stats("count"))
    -- event timers all fired at the end; processing timers wait for time
    assert.same({ { time = 1000, kind = "processing", key = "a" },
      { time = 1000, kind = "processing", key = "admin" } }, run:timers("count"))
  end)

  it("reads file sources it has no inputs for", function()
    local run = testing.job(JOB):run()
    assert.same({ { user = "a", count = 1 }, { user = "b", count = 1 },
      { user = "a", count = 2 } }, run:output("counts"))
  end)

  it("names the operators when asked for one it does not have", function()
    local run = testing.job(JOB, { inputs = { clicks = clicks(2) } })
    for _, m in ipairs({ "state", "timers", "stats" }) do
      local ok, err = pcall(run[m], run, "cont", "u1")
      assert.is_false(ok)
      assert.matches("no operator named 'cont' (operators: count", err, 1, true)
    end
  end)

  it("runs several inputs into a union, one event from each per step, in source order", function()
    local run = testing.job(DIR .. "union.lua", { inputs = {
      b = { { y = 1 }, { y = 2 } }, a = { { x = 1 }, { x = 2 }, { x = 3 } } } })
    run:step()
    assert.same({ { x = 1 }, { y = 1 } }, run:output("all"))
    run:run()
    assert.same({ { x = 1 }, { y = 1 }, { x = 2 }, { y = 2 }, { x = 3 } }, run:output("all"))
  end)

  it("names the sinks when asked for one it does not have", function()
    local run = testing.job(JOB, { inputs = { clicks = {} } })
    local ok, err = pcall(run.output, run, "nope")
    assert.is_false(ok)
    assert.matches("no sink 'nope' %(sinks: counts, fired, admins", err)
    assert.has_error(function()
      testing.job(JOB, { inputs = { clickz = {} } })
    end, "inputs: the job has no source named 'clickz'")
  end)

  it("collects dead letters", function()
    local run = testing.job(DIR .. "strict.lua", { inputs = { nums = {
      { k = "a", n = 1 }, { k = "a", n = "oops" }, { k = "a", n = 2 } } } })
    run:run()
    assert.same({ { sum = 1 }, { sum = 3 } }, run:output("sums"))
    local dead = run:dead_letters()
    assert.equal(1, #dead)
    assert.same({ k = "a", n = "oops" }, dead[1].event)
    assert.equal("nums", dead[1].source)
    assert.equal(1, dead[1].position)
  end)

  it("decodes raw lines as the source's format would; bad ones are dead letters", function()
    local run = testing.job(DIR .. "strict.lua", { inputs = { nums = testing.raw{
      '{"k":"a","n":1}', '{"k":"a","n":', '{"k":"a","n":2}' } } })
    run:run()
    assert.same({ { sum = 1 }, { sum = 3 } }, run:output("sums"))
    local dead = run:dead_letters()
    assert.equal(1, #dead)
    assert.equal('{"k":"a","n":', dead[1].raw)
    assert.equal(1, dead[1].position)
    assert.matches("invalid JSON", dead[1].error)
  end)

  it("raises the job's failure when it fails for good", function()
    local run = testing.job(DIR .. "failing.lua", { inputs = { nums = {
      { k = "a", n = 1 }, { k = "a", n = "oops" } } } })
    local ok, err = pcall(run.run, run)
    assert.is_false(ok)
    assert.matches("operator strict failed: key \"a\", source nums at input 1:", err)
    assert.matches("stack traceback", err)
  end)

  it("crash_and_restore loses only what was not checkpointed and ends exactly once", function()
    local evs = clicks(60)
    local base = testing.job(JOB, { inputs = { clicks = evs }, clock = { step_ms = 100 } })
    base:run()
    local run = testing.job(JOB, { inputs = { clicks = evs }, clock = { step_ms = 100 } })
    run:run_until(2550) -- checkpoints every 1000 ms of processing time
    local before = #run:output("counts")
    assert.equal(26, before)
    run:crash_and_restore()
    -- the last checkpoint (at 2000 ms) held 20 events; the rest is replayed
    assert.equal(20, #run:output("counts"))
    run:run()
    assert.emitted(base:output("counts"), run:output("counts"))
    -- timers report processing time too, which a crash does not replay
    local function event_time(fired)
      local out = {}
      for i, f in ipairs(fired) do
        out[i] = { user = f.user, fired = f.fired, kind = f.kind }
      end
      return out
    end
    assert.emitted(event_time(base:output("fired")), event_time(run:output("fired")))
    assert.same(base:state("count", "u1"), run:state("count", "u1"))
  end)

  it("fires overdue processing-time timers right at crash_and_restore", function()
    local run = testing.job(DIR .. "later.lua", { inputs = { ["in"] = { { k = "a" }, { k = "b" } } } })
    run:step()
    run:checkpoint() -- holds the timer due at 1000
    run:advance(1500)
    assert.same({ { k = "a", at = 1000, now = 1000 } }, run:output("fired"))
    run:crash_and_restore() -- at 1500: the timer is overdue
    assert.same({ { k = "a", at = 1000, now = 1500 } }, run:output("fired"))
    assert.same({}, run:timers("later"))
  end)

  it("takes checkpoints when asked: a crash right after one loses nothing", function()
    local run = testing.job(JOB, { inputs = { clicks = clicks(10) } })
    run:step(4)
    local id = run:checkpoint()
    assert.equal(id + 1, run:checkpoint())
    run:crash_and_restore()
    assert.equal(4, #run:output("counts"))
    run:run()
    assert.equal(10, #run:output("counts"))
  end)

  it("restarts a failed job as its strategy says, in simulated time", function()
    local run = testing.job(DIR .. "flaky.lua", { inputs = { clicks = {
      { user = "a" }, { user = "b" }, { user = "a" } } } })
    run:run()
    assert.equal(1, run:restarts())
    assert.same({ { user = "a", count = 1 }, { user = "b", count = 1 },
      { user = "a", count = 2 } }, run:output("counts"))
    assert.is_true(run:now() >= 1000)
  end)

  it("moves processing time by step_ms per step and by advance", function()
    local run = testing.job(JOB, { inputs = { clicks = clicks(5) },
      clock = { start_ms = 500, step_ms = 250 } })
    assert.equal(500, run:now())
    run:step(2)
    assert.equal(1000, run:now())
    run:advance(30)
    assert.equal(1030, run:now())
    run:run_until(1200)
    assert.equal(1200, run:now())
    assert.equal(3, #run:output("counts"))
    run:run_until(5000) -- the inputs end first, and with them the job
    assert.equal(5, #run:output("counts"))
  end)

  it("jumps simulated time to the next poll of a script source", function()
    local run = testing.job(DIR .. "ticker.lua"):run()
    assert.same({ { tick = 1 }, { tick = 2 }, { tick = 3 } }, run:output("ticks"))
    assert.equal(200, run:now())
  end)

  it("says so when a job can never end", function()
    local run = testing.job(DIR .. "idle_job.lua")
    local ok, err = pcall(run.run, run)
    assert.is_false(ok)
    assert.matches("cannot make progress", err)
  end)

  it("reads a file source longer than one chunk to its end, long lines too", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local f = assert(io.open(dir .. "/big.ndjson", "w"))
    -- a line of 600 KB (under max_line_bytes) takes the source 3 turns
    f:write(string.format('{"n":0,"pad":"%s"}\n', string.rep("x", 600000)))
    for i = 1, 20000 do
      f:write(string.format('{"n":%d,"pad":"%s"}\n', i, string.rep("x", 40)))
    end
    f:close()
    f = assert(io.open(dir .. "/job.lua", "w"))
    f:write([[
local eddy = require("eddy")
local job = eddy.job{ name = "big" }
job:source("in", eddy.source.file{ path = "big.ndjson", format = "json" })
  :sink(eddy.sink.stdout{ name = "out" })
return job
]])
    f:close()
    local out = testing.job(dir .. "/job.lua"):run():output("out")
    os.execute("rm -rf " .. dir)
    assert.equal(20001, #out)
    assert.same(0, out[1].n)
    assert.same(20000, out[20001].n)
  end)

  it("says so when a job can never end, also when each step moves the clock", function()
    local run = testing.job(DIR .. "idle_job.lua", { clock = { step_ms = 50 } })
    local ok, err = pcall(run.run, run)
    assert.is_false(ok)
    assert.matches("cannot make progress", err)
    run = testing.job(DIR .. "idle_job.lua", { clock = { step_ms = 50 } })
    run:run_until(1000) -- nothing to run: the clock just moves
    assert.equal(1000, run:now())
  end)

  it("keeps the dead letters apart from a sink named dead_letters, across a crash", function()
    local nums = { { k = "a", n = 0 }, { k = "a", n = "x" }, { k = "a", n = 0 },
      { k = "a", n = "y" } }
    local run = testing.job(DIR .. "dl_named.lua", { inputs = { nums = nums } })
    run:step(2)
    run:checkpoint()
    run:step(1)
    run:crash_and_restore() -- back to 2 events in: one zero, one dead letter
    assert.same({ { k = "a", n = 0 } }, run:output("dead_letters"))
    assert.equal(1, #run:dead_letters())
    run:run()
    assert.same({ { k = "a", n = 0 }, { k = "a", n = 0 } }, run:output("out/zeros.ndjson"))
    assert.same({ { k = "a", n = 0 }, { k = "a", n = 0 } }, run:output("dead_letters"))
    local dead = run:dead_letters()
    assert.equal(2, #dead)
    assert.same({ k = "a", n = "x" }, dead[1].event)
    assert.same({ k = "a", n = "y" }, dead[2].event)
  end)

  it("does not let harnesses left for the collector pile up", function()
    local function fds()
      local n = 0
      local pid = io.open("/proc/self/stat"):read("a"):match("^%d+")
      for _ in io.popen("ls /proc/" .. pid .. "/fd"):lines() do n = n + 1 end
      return n
    end
    collectgarbage()
    local base, most = fds(), 0
    for _ = 1, 150 do
      local op = testing.operator(COUNT, { keyed = true })
      op:push({}, { key = "a" })
      most = math.max(most, fds() - base)
    end
    -- each harness holds a handful of descriptors (LevelDB, its lock, ...)
    assert.is_true(most < 300, "descriptors held at most: " .. most)
  end)

  it("is deterministic", function()
    local function go()
      local r = testing.job(JOB, { inputs = { clicks = clicks(30) },
        clock = { step_ms = 70 } })
      r:run_until(900)
      r:crash_and_restore()
      r:run()
      return { r:output("counts"), r:output("fired") }
    end
    assert.same(go(), go())
  end)
end)

describe("assert.emitted", function()
  it("passes on equal lists and shows a diff otherwise", function()
    assert.emitted({ { a = 1 } }, { { a = 1 } })
    local ok, err = pcall(assert.emitted, { { a = 1 }, { b = 2 } },
      { { a = 1 }, { b = 3 } })
    assert.is_false(ok)
    err = tostring(err)
    assert.matches("events differ from #2", err)
    assert.matches("%-   2  {\"b\":2}", err)
    assert.matches("%+   2  {\"b\":3}", err)
  end)

  it("tells integers from floats", function()
    assert.is_false(pcall(assert.emitted, { 1 }, { 1.0 }))
  end)
end)
