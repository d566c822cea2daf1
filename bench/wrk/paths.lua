-- wrk script: GET a random path from the file $PATHS_FILE (one a line),
-- with the key (or token) in $KEY. The paths are shuffled by a fixed seed,
-- so runs are comparable.
local paths = {}
for line in io.lines(os.getenv("PATHS_FILE")) do
  paths[#paths + 1] = line
end
math.randomseed(42)
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
