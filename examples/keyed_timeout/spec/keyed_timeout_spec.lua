-- Run from examples/keyed_timeout: eddy test spec
local testing = require("eddy.testing")

local function push(op, user, ts) op:push({ user = user, ts = ts }, { key = user, timestamp = ts }) end

describe("count with timeout", function()
  it("times a quiet user out a second after the last event", function()
    local op = testing.operator("ops/count_timeout.lua", { keyed = true })
    push(op, "ana", 1000)
    push(op, "ana", 1500)
    op:watermark(2499)
    assert.same({}, op:output())
    op:watermark(2500)
    assert.same({ { user = "ana", event = "timeout", at = 2500, count = 2 } },
      op:output())
    assert.is_nil(op:state("ana"))
    assert.same({}, op:timers())
  end)

  it("starts a cooldown at the 10th event and resets a second later", function()
    local op = testing.operator("ops/count_timeout.lua", { keyed = true })
    for i = 1, 12 do push(op, "bo", 1000 + i * 10) end
    assert.same({ { user = "bo", event = "limit", count = 10, at = 1100 } },
      op:output())
    assert.same({ cooldown = true, ignored = 2, due = 2100 }, op:state("bo"))
    op:watermark(5000)
    assert.same({ { user = "bo", event = "reset", at = 2100, ignored = 2 } },
      op:output())
  end)

  it("gives the same output after a crash as without one", function()
    local evs = {}
    for i = 1, 40 do evs[i] = { user = "u" .. (i % 3), ts = 1000 + i * 90 } end
    local opts = { inputs = { events = evs }, clock = { step_ms = 50 } }
    local want = testing.job("job.lua", opts):run():output("events")
    local run = testing.job("job.lua", opts)
    run:step(17)
    run:checkpoint()
    run:step(5)
    run:crash_and_restore()
    run:run()
    assert.emitted(want, run:output("events"))
  end)
end)
