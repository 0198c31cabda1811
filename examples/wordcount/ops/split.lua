-- Splits a line into lowercase words.
local M = {}

function M.process(line, ctx)
  for word in line:gmatch("%a+") do
    ctx:emit(word:lower())
  end
end

return M
