-- Run from examples/anomaly: eddy test spec
local testing = require("eddy.testing")

local function reading(op, sensor, ts, temp)
  op:push({ sensor = sensor, ts = ts, temp = temp }, { key = sensor, timestamp = ts })
end

describe("hot share windows", function()
  it("alerts when more than half of a window is hot", function()
    local op = testing.operator("ops/hot_share.lua", { keyed = true })
    reading(op, "s1", 1000, 85.0)
    reading(op, "s1", 2000, 90.0)
    reading(op, "s1", 3000, 70.0)
    reading(op, "s2", 4000, 60.0)
    op:watermark(9999)
    assert.same({}, op:output())
    op:watermark(10000)
    local alerts = op:output()
    assert.equal(1, #alerts)
    assert.same({ sensor = "s1", start = 0, ["end"] = 10000, readings = 3, hot = 2 },
      { sensor = alerts[1].sensor, start = alerts[1].start, ["end"] = alerts[1]["end"],
        readings = alerts[1].readings, hot = alerts[1].hot })
    assert.equal(2, #op:output("windows"))
  end)

  it("sends readings behind the watermark to late", function()
    local op = testing.operator("ops/hot_share.lua", { keyed = true })
    op:watermark(20000)
    reading(op, "s1", 5000, 99.0)
    assert.same({ { sensor = "s1", ts = 5000, temp = 99.0 } }, op:output("late"))
  end)

  it("runs the example job to the same alerts as eddy run", function()
    local run = testing.job("job.lua"):run()
    assert.is_true(#run:output("alerts") >= 1)
    for _, a in ipairs(run:output("alerts")) do assert.is_true(a.share > 0.5) end
  end)
end)
