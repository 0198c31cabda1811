-- eddy.core.state_encode / state_decode: the checkpoint codec for operator
-- state, as seen from Lua.
local core = require("eddy.core")

-- Deep, exact comparison: math types, -0.0, NaN and metatables count.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    if a ~= a then return b ~= b end
    if a == 0 and b == 0 then return 1 / a == 1 / b end
    return a == b
  end
  if type(a) ~= "table" then return a == b end
  if getmetatable(a) ~= getmetatable(b) then return false end
  for k, v in next, a do
    if not same(v, rawget(b, k)) then return false end
  end
  for k in next, b do
    if rawget(a, k) == nil then return false end
  end
  return true
end

local function roundtrip(v)
  local s, err = core.state_encode(v)
  assert.is_nil(err)
  assert.equal("string", type(s))
  local back, err2 = core.state_decode(s)
  assert.is_nil(err2)
  return back, s
end

local function assert_roundtrip(v)
  local back, s = roundtrip(v)
  assert.is_true(same(v, back))
  assert.equal(s, core.state_encode(back))
end

local function refused(v)
  local s, err = core.state_encode(v)
  assert.is_nil(s)
  return err
end

local function nest(n)
  local t = {}
  for _ = 2, n do t = { a = t } end
  return t
end

describe("core.state_encode and core.state_decode", function()
  it("round-trip scalars", function()
    for _, v in ipairs({ true, false, 0, 1, -1, 127, 128, 1700000000123,
                         math.maxinteger, math.mininteger, 0.1, 1 / 3, 5e-324,
                         1.7976931348623157e308, 2 ^ 63, "", "abc" }) do
      assert_roundtrip(v)
    end
    assert.is_nil(roundtrip(nil))
  end)

  it("keeps integers integers and floats floats", function()
    assert.equal("integer", math.type(roundtrip(3)))
    assert.equal("float", math.type(roundtrip(3.0)))
    local t = roundtrip({ a = 3, b = 3.0, c = { 1, 2.0 } })
    assert.equal("integer", math.type(t.a))
    assert.equal("float", math.type(t.b))
    assert.equal("integer", math.type(t.c[1]))
    assert.equal("float", math.type(t.c[2]))
    assert.equal(math.maxinteger, roundtrip(math.maxinteger))
    assert.equal(math.mininteger, roundtrip(math.mininteger))
  end)

  it("keeps NaN, infinities and negative zero", function()
    local nan = roundtrip(0 / 0)
    assert.is_true(nan ~= nan)
    assert.equal(math.huge, roundtrip(math.huge))
    assert.equal(-math.huge, roundtrip(-math.huge))
    local z = roundtrip(-0.0)
    assert.equal("float", math.type(z))
    assert.equal(-math.huge, 1 / z)
  end)

  it("keeps binary strings, long strings and eddy.null", function()
    assert_roundtrip("a\0b\0\255\n")
    local big = ("x\0yz"):rep(262144)
    assert.equal(big, roundtrip(big))
    assert_roundtrip({ [big] = big })
    assert.equal(core.null, roundtrip(core.null))
    assert.equal(core.null, roundtrip({ x = core.null }).x)
  end)

  it("keeps empty tables and the JSON array mark", function()
    assert_roundtrip({})
    assert_roundtrip({ {}, { {} }, x = {} })
    local arr = roundtrip(core.array({}))
    assert.equal(getmetatable(core.array({})), getmetatable(arr))
    assert.equal("[]", core.json_encode(arr))
    assert.equal('{"a":[],"o":{}}',
                 core.json_encode(roundtrip(core.json_decode('{"a":[],"o":{}}'))))
    assert.is_nil(getmetatable(roundtrip({})))
  end)

  it("round-trips sparse arrays and every kind of key", function()
    assert_roundtrip({ [1] = 1, [1000] = 2 })
    assert_roundtrip({ 1, 2, x = 3, [1.5] = 4, [true] = 5, [false] = 6,
                       [-7] = 7, [0] = 8, ["a b"] = 9, ["1"] = 10 })
    assert_roundtrip({ [1.5] = "a", [-0.5] = "b", [2 ^ 63] = "c",
                       [math.huge] = "d", [-math.huge] = "e" })
    assert_roundtrip({ ["a\0b"] = 1, ["a\0c"] = 2, a = 3, [""] = 4 })
    local t = roundtrip({ [1] = "int", ["1"] = "str" })
    assert.equal("int", t[1])
    assert.equal("str", t["1"])
  end)

  it("round-trips big and nested tables", function()
    local t = {}
    for i = 1, 5000 do t["k" .. i] = { i, tostring(i), i + 0.5 } end
    assert_roundtrip(t)
    assert_roundtrip(nest(64))
  end)

  it("writes a table shared in two branches twice", function()
    local s = { 1, { 2 } }
    local t = roundtrip({ s, s, { x = s } })
    assert.is_true(same(t[1], s))
    assert.is_true(same(t[2], s))
    assert.is_true(same(t[3].x, s))
  end)

  it("gives the same bytes whatever the insertion order", function()
    local a, b = {}, {}
    for i = 1, 300 do a["k" .. i] = i; a[i + 0.5] = i end
    for i = 300, 1, -1 do b[i + 0.5] = i; b["k" .. i] = i end
    a[true], b[false], a[false], b[true] = 1, 2, 2, 1
    assert.equal(core.state_encode({ x = a, y = { b } }),
                 core.state_encode({ y = { a }, x = b }))
  end)

  it("starts every record with the version byte", function()
    assert.equal(1, core.state_encode({}):byte(1))
  end)

  it("refuses what cannot be checkpointed, naming the path", function()
    assert.equal("state.cb: a function cannot be checkpointed",
                 refused({ cb = print }))
    assert.equal("state.items[3].f: a function cannot be checkpointed",
                 refused({ items = { 1, 2, { f = print } } }))
    assert.equal('state["a b"]: a function cannot be checkpointed',
                 refused({ ["a b"] = print }))
    assert.equal("state[true]: a function cannot be checkpointed",
                 refused({ [true] = print }))
    assert.equal("state[1.5]: a function cannot be checkpointed",
                 refused({ [1.5] = print }))
    assert.equal("state.co: a thread cannot be checkpointed",
                 refused({ co = coroutine.create(print) }))
    assert.equal("state.f: a userdata cannot be checkpointed",
                 refused({ f = io.stdout }))
    assert.equal("state: a function cannot be checkpointed", refused(print))
  end)

  it("refuses keys that are not strings, numbers or booleans", function()
    assert.equal("state: a table key cannot be checkpointed",
                 refused({ [{}] = 1 }))
    assert.equal("state.t: a function key cannot be checkpointed",
                 refused({ t = { [print] = 1 } }))
    assert.equal("state: eddy.null cannot be a key",
                 refused({ [core.null] = 1 }))
  end)

  it("refuses cycles", function()
    local t = {}
    t.self = t
    assert.equal("state.self: a cycle cannot be checkpointed", refused(t))
    local u = { a = { b = {} } }
    u.a.b.c = u.a
    assert.equal("state.a.b.c: a cycle cannot be checkpointed", refused(u))
  end)

  it("accepts 64 nested tables and refuses 65", function()
    assert.is_string(core.state_encode(nest(64)))
    local err = refused(nest(65))
    assert.equal("state" .. (".a"):rep(64) ..
                 ": nesting deeper than 64 cannot be checkpointed", err)
  end)

  it("refuses bad records without raising", function()
    local good = core.state_encode({ count = 3, last = "x" })
    for n = 0, #good - 1 do
      local v, err = core.state_decode(good:sub(1, n))
      assert.is_nil(v)
      assert.equal("truncated state record", err)
    end
    local v, err = core.state_decode("\2" .. good:sub(2))
    assert.is_nil(v)
    assert.equal("unknown state format version 2 (this eddy reads 1)", err)
    v, err = core.state_decode(good .. "\0")
    assert.is_nil(v)
    assert.equal("trailing bytes", err)
    v, err = core.state_decode("\1\0")
    assert.is_nil(v)
    assert.equal("bad tag 0x00 at byte 1", err)
    v, err = core.state_decode("\1\6\255\255\255\255\255\255\255\255\127")
    assert.is_nil(v)
    assert.equal("truncated state record", err)
  end)

  it("survives random corruption", function()
    local good = core.state_encode({ a = { 1, 2.5, "x", { b = true } },
                                     [1.5] = core.null, s = ("z"):rep(50) })
    math.randomseed(42)
    for _ = 1, 2000 do
      local bytes = { good:byte(1, -1) }
      for _ = 1, math.random(3) do
        bytes[math.random(2, #bytes)] = math.random(0, 255)
      end
      local ok, v, err = pcall(core.state_decode, string.char(table.unpack(bytes)))
      assert.is_true(ok)
      assert.is_true(v ~= nil or type(err) == "string")
    end
  end)
end)
