-- The job DSL (lua/eddy/init.lua): what job:plan() hands the C core, and
-- the errors a job file author sees.
local eddy = require("eddy")

local function plan_of(build)
  local job = eddy.job{ name = "t" }
  build(job)
  return job:plan()
end

local function nodes_by_name(plan)
  local t = {}
  for _, n in ipairs(plan.nodes) do t[n.type .. ":" .. n.name] = n end
  return t
end

describe("the job DSL", function()
  it("lists nodes in creation order with their inputs", function()
    local plan = plan_of(function(job)
      job:source("in", eddy.source.file{ path = "x.txt", format = "lines" })
        :map("ops/upper.lua")
        :sink(eddy.sink.stdout{ format = "lines" })
    end)
    assert.equal("t", plan.name)
    assert.equal(3, #plan.nodes)
    local src, op, sink = plan.nodes[1], plan.nodes[2], plan.nodes[3]
    assert.same({ "source", "file", "x.txt", "lines" }, { src.type, src.kind, src.path, src.format })
    assert.same({ "operator", "map", "upper", "ops/upper.lua" }, { op.type, op.kind, op.name, op.script })
    assert.same({ { id = 1 } }, op.inputs)
    assert.same({ { id = 2 } }, sink.inputs)
  end)

  it("makes operator names unique and honours opts.name", function()
    local n = nodes_by_name(plan_of(function(job)
      job:source("s", eddy.source.stdin{})
        :map("a/count.lua"):map("b/count.lua"):map(function(x) return x end)
        :process("ops/p.lua", { name = "mine" })
    end))
    assert.truthy(n["operator:count"])
    assert.truthy(n["operator:count_2"])
    assert.truthy(n["operator:map"])
    assert.truthy(n["operator:mine"])
  end)

  it("never gives a sink a default name written explicitly later in the job", function()
    local names = {}
    for _, n in ipairs(plan_of(function(job)
      local s = job:source("s", eddy.source.stdin{})
      s:sink(eddy.sink.file{ path = "a/out.ndjson" })
      s:sink(eddy.sink.file{ path = "b/out.ndjson" })
      s:sink(eddy.sink.file{ path = "c.ndjson", name = "out_2" })
    end).nodes) do
      if n.type == "sink" then names[#names + 1] = n.name end
    end
    assert.same({ "out", "out_3", "out_2" }, names)
  end)

  it("never gives an operator a default name written explicitly later in the job", function()
    local function names(build)
      local t = {}
      for _, n in ipairs(plan_of(function(job)
        build(job:source("s", eddy.source.stdin{}))
      end).nodes) do
        if n.type == "operator" then t[#t + 1] = n.name end
      end
      return t
    end
    -- the order of the explicit name does not matter
    assert.same({ "ok", "ok_3", "ok_2" }, names(function(s)
      s:map("ops/ok.lua"):map("ops/ok.lua"):map("ops/ok.lua", { name = "ok_2" })
    end))
    assert.same({ "ok_2", "ok", "ok_3" }, names(function(s)
      s:map("ops/ok.lua", { name = "ok_2" }):map("ops/ok.lua"):map("ops/ok.lua")
    end))
    assert.same({ "ok_2", "ok" }, names(function(s)
      s:map("ops/ok.lua"):map(function(x) return x end, { name = "ok" })
    end))
    assert.same({ "map", "map_3", "map_2" }, names(function(s)
      local f = function(x) return x end
      s:map(f):map(f):map(f, { name = "map_2" })
    end))
    -- without explicit names: the names jobs always had (state is kept
    -- under them), in creation order
    assert.same({ "ok", "ok_2", "ok_3", "map", "other", "ok_4" }, names(function(s)
      s:map("ops/ok.lua"):map("a/ok.lua"):filter("b/ok.lua")
        :map(function(x) return x end):process("ops/other.lua")
        :flat_map("ops/ok.lua")
    end))
  end)

  it("leaves a job without a name to be named after its file", function()
    -- the core names it: jobA.lua is "jobA" (tests/e2e/cli.sh); there is no
    -- shared default such as "job" in the plan
    assert.is_nil(eddy.job{}:plan().name)
    assert.equal("mine", eddy.job{ name = "mine" }:plan().name)
  end)

  it("gives key_by's key to the next operator only", function()
    local keyfn = function(ev) return ev.id end
    local n = nodes_by_name(plan_of(function(job)
      job:source("s", eddy.source.stdin{})
        :key_by("user"):process("ops/a.lua")
        :key_by(keyfn):process("ops/b.lua")
        :map("ops/c.lua")
    end))
    assert.equal("user", n["operator:a"].key)
    assert.equal(keyfn, n["operator:b"].key)
    assert.is_nil(n["operator:c"].key)
  end)

  it("wires union and side outputs", function()
    local plan = plan_of(function(job)
      local a = job:source("a", eddy.source.stdin{})
      local b = job:source("b", eddy.source.tcp{ port = 9000 })
      local p = a:union(b):process("ops/p.lua")
      p:side("late"):sink(eddy.sink.file{ path = "late.ndjson" })
    end)
    local n = nodes_by_name(plan)
    assert.same({ { id = 1 }, { id = 2 } }, n["operator:p"].inputs)
    assert.same({ { id = 3, side = "late" } }, n["sink:late"].inputs)
  end)

  it("records the job file line of every node", function()
    local plan = plan_of(function(job)
      job:source("s", eddy.source.stdin{})
    end)
    assert.matches("dsl_spec%.lua:%d+$", plan.nodes[1].where)
  end)

  it("carries job options into the plan", function()
    local job = eddy.job{ name = "x", limits = { event_ms = 50, memory_mb = 64 } }
    assert.same({ event_ms = 50, memory_mb = 64 }, job:plan().limits)
    job:dead_letter(eddy.sink.file{ path = "dead.ndjson" })
    assert.equal("dead.ndjson", job:plan().dead_letter.path)
    -- its line, and how many nodes came before it (graph.c reports a file
    -- used twice at the later of the two declarations)
    assert.matches("dsl_spec%.lua:%d+$", job:plan().dead_letter.where)
    assert.equal(0, job:plan().dead_letter.after)
  end)

  describe("rejects mistakes with the caller's file and line", function()
    local function err_of(f)
      local ok, err = pcall(f)
      assert.is_false(ok)
      return err
    end

    it("unknown source options", function()
      local err = err_of(function() eddy.source.file{ path = "x", fromat = "json" } end)
      assert.matches("dsl_spec%.lua:%d+: eddy%.source%.file: unknown option 'fromat'", err)
    end)

    it("bad formats and policies", function()
      assert.matches("format must be", err_of(function() eddy.source.stdin{ format = "xml" } end))
      local s = eddy.job{}:source("s", eddy.source.stdin{})
      assert.matches("on_error must be", err_of(function() s:process("p.lua", { on_error = "ignore" }) end))
    end)

    it("operators that are neither paths nor functions", function()
      local s = eddy.job{}:source("s", eddy.source.stdin{})
      assert.matches("script path or a function", err_of(function() s:map(42) end))
    end)

    it("duplicate names", function()
      local job = eddy.job{}
      local s = job:source("s", eddy.source.stdin{})
      assert.matches("already a source named 's'", err_of(function() job:source("s", eddy.source.stdin{}) end))
      s:map("ops/ok.lua", { name = "twice" })
      assert.matches("dsl_spec%.lua:%d+: map: there is already an operator named 'twice'",
        err_of(function() s:map("ops/other.lua", { name = "twice" }) end))
      s:sink(eddy.sink.file{ path = "a.ndjson", name = "out" })
      assert.matches("dsl_spec%.lua:%d+: sink: there is already a sink named 'out'",
        err_of(function() s:sink(eddy.sink.file{ path = "b.ndjson", name = "out" }) end))
    end)

    it("job names that would put the state dir elsewhere", function()
      assert.matches("name cannot be '%.%.'", err_of(function() eddy.job{ name = ".." } end))
      assert.matches("name cannot be '%.'", err_of(function() eddy.job{ name = "." } end))
    end)

    it("side outputs of non-operators and unions across jobs", function()
      local s = eddy.job{}:source("s", eddy.source.stdin{})
      assert.matches("only an operator's stream", err_of(function() s:side("x") end))
      local other = eddy.job{}:source("o", eddy.source.stdin{})
      assert.matches("not a stream of this job", err_of(function() s:union(other) end))
    end)

    it("bad job names and unknown job options", function()
      assert.matches("name may hold", err_of(function() eddy.job{ name = "a b" } end))
      assert.matches("unknown option 'chekpoint'", err_of(function() eddy.job{ chekpoint = {} } end))
    end)

    it("a tcp source without an integer port", function()
      assert.matches("port must be an integer", err_of(function() eddy.source.tcp{} end))
      assert.matches("port must be a whole number from 0 to 65535, got 70000",
        err_of(function() eddy.source.tcp{ port = 70000 } end))
    end)

    it("numeric options that are not whole numbers in range, NaN included", function()
      local nan = 0 / 0
      local cases = {
        { function() eddy.job{ checkpoint = { interval_ms = 1.5 } } end,
          "eddy%.job: checkpoint%.interval_ms must be a whole number >= 0, got 1%.5" },
        { function() eddy.job{ checkpoint = { event_time_ms = -1 } } end,
          "checkpoint%.event_time_ms must be a whole number >= 0, got %-1" },
        { function() eddy.job{ checkpoint = { interval = 5 } } end,
          "eddy%.job: checkpoint: unknown option 'interval'" },
        { function() eddy.job{ limits = { event_ms = nan } } end,
          "limits%.event_ms must be a whole number >= 1, got NaN" },
        { function() eddy.job{ limits = { memory_mb = -1 } } end,
          "limits%.memory_mb must be a whole number >= 1, got %-1" },
        { function() eddy.job{ limits = { event_ms = "10" } } end,
          "limits%.event_ms must be a whole number >= 1, got string" },
        { function() eddy.job{ poison_after = nan } end,
          "poison_after must be a whole number >= 0, got NaN" },
        { function() eddy.job{ error_window_ms = 5 } end,
          "error_window_ms must be a whole number >= 10, got 5" },
        { function() eddy.job{ max_error_ratio = nan } end,
          "max_error_ratio must be a number from 0 to 1, got NaN" },
        { function() eddy.job{ max_error_ratio = 1.5 } end,
          "max_error_ratio must be a number from 0 to 1, got 1%.5" },
        { function() eddy.source.file{ path = "x", max_line_bytes = 0 } end,
          "max_line_bytes must be a whole number >= 1, got 0" },
        { function() eddy.source.file{ path = "x", max_out_of_orderness_ms = nan } end,
          "max_out_of_orderness_ms must be a whole number >= 0, got NaN" },
        { function() eddy.source.file{ path = "x", idle_timeout_ms = -5 } end,
          "idle_timeout_ms must be a whole number >= 0, got %-5" },
        { function() eddy.source.script{ path = "x", interval_ms = 0.5 } end,
          "interval_ms must be a whole number >= 0, got 0%.5" },
      }
      for _, c in ipairs(cases) do
        assert.matches("dsl_spec%.lua:%d+: .*" .. c[2], err_of(c[1]))
      end
    end)
  end)

  it("takes whole numbers written as floats as integers", function()
    local job = eddy.job{ name = "x", checkpoint = { interval_ms = 1e3 },
      limits = { event_ms = 50.0 } }
    local plan = job:plan()
    assert.equal(1000, plan.checkpoint.interval_ms)
    assert.equal("integer", math.type(plan.checkpoint.interval_ms))
    assert.equal("integer", math.type(plan.limits.event_ms))
    local src = eddy.source.file{ path = "x", max_line_bytes = 4096.0 }
    assert.equal("integer", math.type(src.max_line_bytes))
    assert.is_false(eddy.job{ checkpoint = false }:plan().checkpoint)
  end)
end)
