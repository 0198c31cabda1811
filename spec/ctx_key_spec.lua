-- ctx.key (SPEC 3) on the real core. The runtime hands the key to a
-- script only when it reads ctx.key (through ctx's __index, until the
-- first read makes the operator set it on every call): each case here
-- starts from a fresh operator, so its first read takes the lazy path.
local testing = require("eddy.testing")

local KEY = "spec/fixtures/ctxkey/key.lua"

local function fresh()
  return testing.operator(KEY, { keyed = true })
end

describe("ctx.key", function()
  it("is the key in hand on a first read after events that did not read it, and on every read after", function()
    local op = fresh()
    op:push({}, { key = "a" })
    op:push({}, { key = "b" })
    op:push({ op = "read" }, { key = "c" })
    op:push({ op = "read" }, { key = "a" })
    op:push({ op = "read" }, { key = 7 })
    op:push({}, { key = "b" })
    op:push({ op = "read" }, { key = "b" })
    assert.same({ "n 1", "n 1", "read c", "read a", "read 7", "n 2", "read b" },
      op:output())
  end)

  it("keeps an integer key an integer", function()
    local op = testing.operator("spec/fixtures/testing/ops/count.lua", { keyed = true })
    op:push({ user = 42 }, { key = 42 })
    local out = op:output()
    assert.equal(42, out[1].user)
    assert.equal("integer", math.type(out[1].user))
  end)

  it("is readable from a coroutine inside process", function()
    local op = fresh()
    op:push({ op = "co" }, { key = "a" })
    op:push({ op = "co" }, { key = "b" })
    assert.same({ "co a", "co b" }, op:output())
  end)

  it("can be assigned for the rest of a call; the next call has its own key", function()
    for _, first in ipairs({ "lazy", "eager" }) do
      local op = fresh()
      if first == "eager" then op:push({ op = "read" }, { key = "z" }) end
      op:push({ op = "set" }, { key = "a" })
      op:push({ op = "read" }, { key = "b" })
      op:push({}, { key = "c" })
      op:push({ op = "read" }, { key = "c" })
      local want = { "set forged", "read b", "n 1", "read c" }
      if first == "eager" then table.insert(want, 1, "read z") end
      assert.same(want, op:output(), first)
    end
  end)

  it("is the timer's key in on_timer, and timers and clear find the key without a read", function()
    local op = fresh()
    op:push({ op = "timer", at = 100 }, { key = "a" })
    op:push({ op = "timer", at = 200 }, { key = "b" })
    op:push({ op = "clear" }, { key = "b" })
    op:advance(300)
    assert.same({ "timer a 100" }, op:output())
    assert.is_nil(op:state("b"))
    assert.same({ n = 1 }, op:state("a"))
  end)

  it("is the failed event's key in on_error", function()
    local op = fresh()
    op:push({}, { key = "a" })
    op:push({ op = "fail" }, { key = "b" })
    op:push({ op = "fail" }, { key = "a" })
    assert.same({ "n 1", "error b", "error a" }, op:output())
  end)

  it("is each key's own in migrate on a reload", function()
    local op = fresh()
    op:push({}, { key = "a" })
    op:push({}, { key = "b" })
    op:checkpoint()
    op:push({}, { key = "b" })
    assert.is_true(op:reload("spec/fixtures/ctxkey/key_v2.lua"))
    assert.same({ n = 1, migrated_for = "a" }, op:state("a"))
    assert.same({ n = 2, migrated_for = "b" }, op:state("b"))
    op:output()
    op:push({}, { key = "a" })
    assert.same({ "v2 a 1" }, op:output())
  end)
end)
