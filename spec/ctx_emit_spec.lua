-- ctx:emit(ev [, side]) on the real core: a side that is not a string (nor
-- nil) is an error raised to the script, so on_error applies.
local testing = require("eddy.testing")

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local SCRIPT = dir .. "/side.lua"
local f = assert(io.open(SCRIPT, "w"))
f:write([[
local M = {}
function M.process(ev, ctx)
  ctx:emit(ev.v, ev.side)
end
return M
]])
f:close()

describe("ctx:emit's side", function()
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("goes to the side output it names, or the main output when nil", function()
    local op = testing.operator(SCRIPT)
    op:push({ v = 1, side = "odd" })
    op:push({ v = 2 })
    assert.same({ 2 }, op:output())
    assert.same({ 1 }, op:output("odd"))
  end)

  it("fails the operator when it is not a string, numbers included", function()
    for _, side in ipairs({ 5, 1.5, true, false, {} }) do
      local op = testing.operator(SCRIPT)
      local ok, err = pcall(op.push, op, { v = 1, side = side })
      assert.is_false(ok)
      assert.matches("side%.lua:3: ctx:emit: side must be a string, got "
        .. type(side), err)
      assert.same({}, op:output("5"))
    end
  end)

  it("follows on_error", function()
    local skip = testing.operator(SCRIPT, { on_error = "skip" })
    skip:push({ v = 1, side = 5 })
    skip:push({ v = 2 })
    assert.same({ 2 }, skip:output())
    assert.same({}, skip:output("5"))
    assert.equal(1, skip:stats().skipped)
    local dl = testing.operator(SCRIPT, { on_error = "dead_letter" })
    dl:push({ v = 1, side = 5 })
    local dead = dl:dead_letters()
    assert.equal(1, #dead)
    assert.matches("ctx:emit: side must be a string, got number", dead[1].error)
    assert.same({ v = 1, side = 5 }, dead[1].event)
  end)
end)
