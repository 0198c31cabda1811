return require("eddy.window").tumbling{ size_ms = 60000, aggregate = "count" }
