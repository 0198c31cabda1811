-- eddy.core: the C core's codec as seen from Lua.
local core = require("eddy.core")

describe("eddy.core", function()
  it("runs under Lua 5.4", function()
    assert.equal("Lua 5.4", _VERSION)
  end)

  it("decodes JSON integers as Lua integers and floats as floats", function()
    local v = core.json_decode('{"a":3,"b":3.0,"c":-7,"d":1e2}')
    assert.equal("integer", math.type(v.a))
    assert.equal("float", math.type(v.b))
    assert.equal("integer", math.type(v.c))
    assert.equal("float", math.type(v.d))
  end)

  it("writes integers as integers and floats with a point", function()
    assert.equal('{"a":3,"b":3.0,"c":0.1}', core.json_encode({ a = 3, b = 3.0, c = 0.1 }))
  end)

  it("round-trips null as core.null", function()
    local v = core.json_decode('{"x":null}')
    assert.equal(core.null, v.x)
    assert.equal('{"x":null}', core.json_encode(v))
  end)

  it("keeps empty arrays and objects apart", function()
    assert.equal('{"a":[],"o":{}}', core.json_encode(core.json_decode('{"a":[],"o":{}}')))
    assert.equal("[]", core.json_encode(core.array({})))
  end)

  it("sorts object keys so equal values give equal bytes", function()
    local a, b = {}, {}
    for i = 1, 50 do a["k" .. i] = i end
    for i = 50, 1, -1 do b["k" .. i] = i end
    assert.equal(core.json_encode(a), core.json_encode(b))
  end)

  it("reports bad JSON with a byte position instead of raising", function()
    local v, err = core.json_decode('{"a":1,}')
    assert.is_nil(v)
    assert.matches("at byte %d+", err)
  end)

  it("refuses values JSON cannot hold", function()
    local v, err = core.json_encode({ f = print })
    assert.is_nil(v)
    assert.matches("function", err)
    local t = {}
    t.self = t
    v, err = core.json_encode(t)
    assert.is_nil(v)
    assert.matches("cycle", err)
  end)

  it("has a version", function()
    assert.matches("^%d+%.%d+%.%d+", core.version)
  end)
end)
