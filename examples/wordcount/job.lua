-- Word count over a text file: split lines into words, count per word.
local eddy = require("eddy")

local job = eddy.job{ name = "wordcount" }

job:source("text", eddy.source.file{ path = "input.txt", format = "lines" })
  :flat_map("ops/split.lua")
  :key_by() -- each word is its own key
  :process("ops/count.lua")
  :sink(eddy.sink.file{ path = "out/counts.ndjson", format = "json" })

return job
