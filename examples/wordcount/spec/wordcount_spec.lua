-- Run from examples/wordcount: eddy test spec
local testing = require("eddy.testing")

describe("wordcount", function()
  it("splits lines into lowercase words", function()
    local split = testing.operator("ops/split.lua", { kind = "flat_map" })
    split:push("The cat, the HAT.")
    assert.same({ "the", "cat", "the", "hat" }, split:output())
    split:push("  123 !! ")
    assert.same({}, split:output())
  end)

  it("counts each word and emits the running count", function()
    local count = testing.operator("ops/count.lua", { keyed = true })
    for _, w in ipairs({ "a", "b", "a" }) do count:push(w, { key = w }) end
    assert.same({ { word = "a", count = 1 }, { word = "b", count = 1 },
      { word = "a", count = 2 } }, count:output())
    assert.same({ n = 2 }, count:state("a"))
  end)

  it("counts words over the whole job, exactly once across a crash", function()
    local lines = {}
    for i = 1, 30 do lines[i] = (i % 2 == 0) and "the cat" or "The dog ran" end
    local opts = { inputs = { text = lines }, clock = { step_ms = 100 } }
    local want = testing.job("job.lua", opts):run():output("counts")
    assert.equal(75, #want)
    assert.same({ word = "the", count = 30 }, want[74])
    local run = testing.job("job.lua", opts)
    run:run_until(1200)
    run:crash_and_restore()
    run:run()
    assert.emitted(want, run:output("counts"))
  end)
end)
