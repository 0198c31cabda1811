-- Run from examples/clicks: eddy test spec
local testing = require("eddy.testing")

describe("clicks", function()
  it("keeps clicks with a user and a url; anonymous ones go aside", function()
    local valid = testing.operator("ops/valid.lua", { kind = "filter" })
    valid:push({ user = "u1", url = "/a" })
    valid:push({ url = "/b" })
    valid:push({ user = "u2" })
    valid:push("not a table")
    assert.same({ { user = "u1", url = "/a" } }, valid:output())
    assert.same({ { url = "/b" } }, valid:output("anonymous"))
  end)

  it("counts clicks per user and remembers the last url", function()
    local count = testing.operator("ops/count.lua", { key_by = "user" })
    count:push({ user = "u1", url = "/a" })
    count:push({ user = "u1", url = "/b" })
    assert.same({ { user = "u1", clicks = 1 }, { user = "u1", clicks = 2 } },
      count:output())
    assert.same({ clicks = 2, last_url = "/b" }, count:state("u1"))
  end)

  it("runs the job over the example file", function()
    local run = testing.job("job.lua"):run()
    assert.equal(7, #run:output("user_counts"))
    assert.is_true(#run:output("anonymous") >= 1)
  end)

  it("runs the job over given clicks", function()
    local run = testing.job("job.lua", { inputs = { clicks = {
      { user = "a", url = "/" }, { url = "/x" }, { user = "a", url = "/y" } } } })
    run:run()
    assert.same({ { user = "a", clicks = 1 }, { user = "a", clicks = 2 } },
      run:output("user_counts"))
    assert.same({ { url = "/x" } }, run:output("out/anonymous.ndjson"))
  end)
end)
