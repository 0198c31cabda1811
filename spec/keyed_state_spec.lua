-- Keyed state (SPEC 3) on the first event of a key after a checkpoint,
-- when its state comes from memory rather than being hot: assignment,
-- deletion, ctx:clear(), emptied tables and untouched keys mean the same
-- as on any other event, and a restore sees exactly what they did.
local testing = require("eddy.testing")

local ACT = "spec/fixtures/keyed/act.lua"
local STEPS = { "a:inc", "b:inc", "c:inc", "e:inc", "f:inc", "a:set", "a:inc",
  "b:del", "b:inc", "c:clear", "c:inc", "d:inc", "d:peek", "a:peek",
  "e:empty", "e:inc", "f:empty", "f:peek", "g:peek" }
local WANT = { "a 1", "b 1", "c 1", "e 1", "f 1", "a 100", "a 101", "b nil",
  "b 1", "c nil", "c 1", "d 1", "d -", "a -", "e nil", "e 1", "f nil", "f -",
  "g -" }

local function run(every)
  local op = testing.operator(ACT, { keyed = true })
  for i, step in ipairs(STEPS) do
    local k, what = step:match("^(%w+):(%w+)$")
    op:push({ op = what }, { key = k })
    if every > 0 and i % every == 0 then op:checkpoint() end
  end
  return op
end

describe("keyed state across checkpoints", function()
  for _, every in ipairs({ 0, 1, 2, 3 }) do
    it("gives the same results with a checkpoint every " .. every .. " events", function()
      local op = run(every)
      assert.same(WANT, op:output())
      assert.same({ n = 101 }, op:state("a"))
      assert.same({ n = 1 }, op:state("b"))
      assert.same({ n = 1 }, op:state("c"))
      assert.same({ n = 1 }, op:state("d"))
      assert.same({ n = 1 }, op:state("e"))
      assert.is_nil(next(op:state("f") or {}))
      assert.is_nil(op:state("g"))
    end)
  end

  it("restores what the events after a checkpoint did", function()
    local op = run(1)
    local again = testing.operator(ACT, { keyed = true, restore = op:checkpoint() })
    assert.same({ n = 101 }, again:state("a"))
    assert.is_nil(again:state("f"))
    assert.is_nil(again:state("g"))
    again:push({ op = "inc" }, { key = "b" })
    again:push({ op = "inc" }, { key = "f" })
    assert.same({ "b 2", "f 1" }, again:output())
  end)
end)

describe("assigning ctx.state something other than a table", function()
  for _, path in ipairs({ "spec/fixtures/keyed/badstate.lua",
                          "spec/fixtures/keyed/badstate_arg.lua" }) do
    it("is the event's error and keeps the key's state (" .. path .. ")", function()
      local op = testing.operator(path, { keyed = true, on_error = "dead_letter" })
      op:push({}, { key = "a" })
      op:push({ set = 5 }, { key = "a" })
      op:push({ set = "hello" }, { key = "a" })
      op:push({}, { key = "a" })
      assert.same({ { k = "a", n = 1 }, { k = "a", n = 2 } }, op:output())
      local dead = op:dead_letters()
      assert.equal(2, #dead)
      assert.equal("a", dead[1].key)
      assert.matches("ctx.state must be a table %(or nil to drop the key's state%), not a number", dead[1].error)
      assert.matches("not a string", dead[2].error)
      assert.same({ n = 2 }, op:state("a"))
    end)
  end
end)
