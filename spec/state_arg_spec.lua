-- process(ev, ctx, state): a keyed script that declares a third parameter
-- gets its key's state as that argument, the same table as ctx.state. eddy
-- then skips setting ctx.state on each call until the script touches
-- ctx.state itself; every case here checks that both ways agree.
local testing = require("eddy.testing")

local DIR = "spec/fixtures/statearg/"

local function op()
  return testing.operator(DIR .. "count.lua", { keyed = true })
end

describe("the state argument", function()
  it("is the key's state: kept per key, checkpointed and restored", function()
    local o = op()
    for _, k in ipairs({ "a", "b", "a", "a", "b" }) do o:push({}, { key = k }) end
    assert.same({ "a 1", "b 1", "a 2", "a 3", "b 2" }, o:output())
    assert.same({ n = 3 }, o:state("a"))
    local again = testing.operator(DIR .. "count.lua", { keyed = true, restore = o:checkpoint() })
    again:push({}, { key = "a" })
    again:push({}, { key = "c" })
    assert.same({ "a 4", "c 1" }, again:output())
  end)

  it("is the same table as ctx.state, before and after a script reads ctx.state", function()
    local o = op()
    o:push({}, { key = "a" })
    o:push({ op = "same" }, { key = "a" })
    o:push({ op = "same" }, { key = "b" })
    o:push({}, { key = "a" })
    o:push({}, { key = "b" })
    assert.same({ "a 1", "a same true", "a 2", "b same true", "b 1", "a 3", "b 2" }, o:output())
  end)

  it("follows an assignment to ctx.state, and a deletion", function()
    local o = op()
    o:push({}, { key = "a" })
    o:push({ op = "set" }, { key = "a" })
    o:push({}, { key = "a" })
    o:push({ op = "drop" }, { key = "b" })
    o:push({}, { key = "b" })
    local out = o:output()
    assert.same({ "a 1", "a 2", "a 101", "b 1", "b 1" }, out)
    assert.same({ n = 101 }, o:state("a"))
    assert.same({ n = 1 }, o:state("b"))
  end)

  it("starts afresh after ctx:clear()", function()
    local o = op()
    o:push({}, { key = "a" })
    o:push({ op = "clear" }, { key = "a" })
    o:push({}, { key = "a" })
    assert.same({ "a 1", "a 2", "a 1" }, o:output())
    assert.same({ n = 1 }, o:state("a"))
  end)

  it("leaves no key's state behind in ctx for the next call after a timer", function()
    local o = op()
    o:push({ op = "timer", at = 100 }, { key = "a" })
    o:advance(200)
    o:push({ op = "same" }, { key = "b" })
    o:push({}, { key = "a" })
    assert.same({ "a 1", "a timer 1", "b same true", "b 1", "a 2" }, o:output())
  end)

  it("is left alone by a timer of a script with no on_timer, and ctx is left clean", function()
    local o = testing.operator(DIR .. "notimer.lua", { keyed = true })
    o:push({ at = 100 }, { key = "a" })
    o:advance(200) -- fires a's timer: logged, nothing to call
    o:push({ same = true }, { key = "b" })
    o:push({}, { key = "a" })
    assert.same({ "a 1", "b same true", "b 1", "a 2" }, o:output())
    assert.same({ n = 2 }, o:state("a"))
  end)

  it("keeps what the call did to it when the call fails, and on_error sees it", function()
    local o = op()
    o:push({}, { key = "a" })
    o:push({ op = "fail" }, { key = "a" })
    o:push({}, { key = "a" })
    assert.same({ "a 1", "a error 2", "a 3" }, o:output())
  end)

  it("is given to keyed map operators too", function()
    local o = testing.operator(DIR .. "double.lua", { keyed = true, kind = "map" })
    o:push(21, { key = "x" })
    o:push(4, { key = "x" })
    assert.same({ 42, 8 }, o:output())
    assert.same({ n = 2 }, o:state("x"))
  end)

  it("is the operator's state, ctx.state, on a stream that is not keyed", function()
    local o = testing.operator(DIR .. "total.lua")
    o:push(2)
    o:push(5)
    assert.same({ "true 2", "true 7" }, o:output())
    assert.same({ total = 7 }, o:state())
  end)

  it("sends an event whose stored state is unreadable to the dead letters, either way the script takes its state", function()
    for _, script in ipairs({ "plain.lua", "two.lua" }) do
      local o = testing.operator(DIR .. script, { keyed = true })
      o:push({}, { key = "a" })
      o:push({}, { key = "b" })
      local snap = o:checkpoint()
      local hit = 0
      for _, rec in ipairs(snap.snapshot.records) do
        if rec[1]:find("\0sa$") then rec[2] = "\1\255not a state"; hit = hit + 1 end
      end
      assert.equal(1, hit, "the snapshot holds key a's state")
      local again = testing.operator(DIR .. script,
        { keyed = true, restore = snap, on_error = "dead_letter" })
      again:output()
      again:push({}, { key = "a" })
      again:push({}, { key = "b" })
      local dead = again:dead_letters()
      assert.equal(1, #dead, script)
      assert.matches("unreadable", dead[1].error, 1, true)
      assert.equal("a", dead[1].key)
      local out = again:output()
      assert.equal(1, #out, script)
      assert.matches("^b .*2$", out[1])
    end
  end)

  it("comes and goes with a reload that adds or drops the parameter", function()
    local o = testing.operator(DIR .. "two.lua", { keyed = true })
    o:push({}, { key = "a" })
    assert.is_true(o:reload(DIR .. "count.lua"))
    o:push({}, { key = "a" })
    o:push({}, { key = "b" })
    assert.is_true(o:reload(DIR .. "two.lua"))
    o:push({}, { key = "a" })
    assert.same({ "a two 1", "a 2", "b 1", "a two 3" }, o:output())
  end)
end)
